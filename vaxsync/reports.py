"""Reports for people: the night's backlog summary by province and reason, and the run report
(vaxsync.run_report: counts, timings, conservation and validation, for the engineer on call).

Report files hold no full IDs, names or phones, and are written owner-only (0600).
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from vaxsync.reasons import BACKLOG_REASONS
from vaxsync.settings import Settings
from vaxsync.warehouse import connect

OWNER_ONLY = 0o600


def write_private(path: Path, content: bytes) -> Path:
    """Create or replace a file readable by its owner only (atomic rename of a 0600 temp file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.chmod(temporary, OWNER_ONLY)
    os.replace(temporary, path)
    return path


def backlog_summary(settings: Settings) -> pl.DataFrame:
    """Open backlog rows by province and reason, with the reason explained in English and Vietnamese."""
    with connect(settings.warehouse_path) as connection:
        summary = connection.sql(
            """
            select coalesce(province_code, '??') as province_code, reason_code, count(*) as count_rows,
                   count(distinct source_file) as count_files, min(first_seen_on) as oldest_seen_on
            from unposted_backlog where superseded_by_file_hash is null
            group by all order by province_code, count_rows desc
            """
        ).pl()
    reasons = pl.DataFrame(
        {
            "reason_code": list(BACKLOG_REASONS),
            "reason_english": [reason.english for reason in BACKLOG_REASONS.values()],
            "reason_vietnamese": [reason.vietnamese for reason in BACKLOG_REASONS.values()],
        }
    )
    return summary.join(reasons, on="reason_code", how="left")


def write_reports(settings: Settings, *, run_id: str) -> list[Path]:
    """The backlog summary by province, and the run report (vaxsync.run_report) with its conservation check."""
    from vaxsync.run_report import write_run_report

    folder = settings.reports_dir / settings.as_of.isoformat()
    summary = backlog_summary(settings)
    return [
        write_private(folder / "backlog_summary_by_province.csv", summary.write_csv().encode("utf-8")),
        *write_run_report(settings, run_id),
    ]
