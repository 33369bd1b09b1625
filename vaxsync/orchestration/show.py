"""Print what a night published: `python -m vaxsync.orchestration.show WAREHOUSE REPORTS_DIR` (used by `make demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vaxsync.marts.warehouse import connect, conservation_violations


def show(warehouse_path: Path, reports_dir: Path) -> None:
    console = Console()
    with connect(warehouse_path) as connection:
        runs = connection.execute(
            """select run_id, as_of, files_new, files_quarantined, rows_in, rows_posted, rows_duplicate,
                      rows_backlog, outcome from pipeline_runs order by finished_at"""
        ).fetchall()
        by_reason = connection.execute(
            "select reason_code, count(*) from open_backlog group by 1 order by 2 desc"
        ).fetchall()
        quarantined = connection.execute(
            """select quarantine_reason, count(*) from ingest_ledger where status = 'quarantined'
               group by 1 order by 2 desc"""
        ).fetchall()
        violations = conservation_violations(connection)
    labels = (
        "run_id",
        "as_of",
        "files new",
        "files quarantined",
        "rows in",
        "posted",
        "duplicates",
        "backlog",
        "outcome",
    )
    for run in runs:
        table = Table(title="pipeline_runs", show_header=False)
        for label, value in zip(labels, run, strict=True):
            table.add_row(label, str(value))
        console.print(table)
    reasons = Table(title="open unposted_backlog by reason")
    reasons.add_column("reason_code")
    reasons.add_column("rows", justify="right")
    for reason, count in by_reason:
        reasons.add_row(reason, str(count))
    console.print(reasons)
    for reason, count in quarantined:
        console.print(f"quarantined files, {reason}: {count}")
    console.print(f"conservation: {'proven' if not violations else f'{len(violations)} files violate it'}")
    console.print(
        f"warehouse: {warehouse_path.resolve()}  (coverage tables: coverage_by_area, coverage_weekly)"
    )
    console.print(f"reports:   {reports_dir.resolve()}")
    for night in sorted(path for path in reports_dir.glob("*") if path.is_dir()):
        provinces = sorted(night.glob("provinces/*/*.xlsx"))
        console.print(f"  {night.name}: run_report.html, {len(provinces)} province reports (XLSX + HTML)")
        for figure in sorted(night.glob("notebook/*.png")):
            console.print(f"    notebook plot: {figure.relative_to(reports_dir)}")


if __name__ == "__main__":
    show(Path(sys.argv[1]), Path(sys.argv[2]))
