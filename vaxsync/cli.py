"""The `vaxsync` command: local runs, demo data, tests and benchmarks use the same pipeline as Airflow."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)


def _parse_date(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO date (YYYY-MM-DD): {value}") from error


@app.command()
def run(
    registry: Annotated[Path, typer.Option(help="Registry snapshot (Parquet).")],
    landing: Annotated[Path, typer.Option(help="Landing folder of facility exports.")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file (created if absent).")],
    reports: Annotated[Path, typer.Option(help="Folder for the night's reports.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The date the run stands on (YYYY-MM-DD); default today.")
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Stage outputs; default beside the warehouse.")
    ] = None,
) -> None:
    """Run the whole nightly sync once: ingest, normalize, match, validate, publish, report."""
    from validation import CriticalValidationError
    from vaxsync.pipeline import InputError, run_nightly
    from vaxsync.settings import Settings

    settings = Settings(
        registry_path=registry,
        landing_dir=landing,
        warehouse_path=warehouse,
        reports_dir=reports,
        as_of=_parse_date(as_of),
        work_dir=work_dir,
    )
    try:
        with _progress() as progress:
            tasks: dict[str, Any] = {}

            def on_progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            summary = run_nightly(settings, on_progress=on_progress)
    except InputError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    except CriticalValidationError as error:
        console.print(f"[red]validation failed, nothing published:[/red] {error}")
        _print_run_report_path(settings)
        raise typer.Exit(3) from None
    _print_summary(summary, settings)


def _print_run_report_path(settings: Any) -> None:
    """Where publish_batch left the run report of the night it stopped, if it got that far."""
    from vaxsync.run_report import REPORT_HTML

    report = settings.reports_dir / settings.as_of.isoformat() / REPORT_HTML
    if report.is_file():
        console.print(f"run report: {report}")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _print_summary(summary: dict[str, Any], settings: Any) -> None:
    table = Table(title=f"vaxsync night {settings.as_of.isoformat()}", show_header=False)
    for label, key in (
        ("rows in", "rows_in"),
        ("posted", "rows_posted"),
        ("duplicates merged", "rows_duplicate"),
        ("backlog", "rows_backlog"),
        ("rows in quarantined files (estimated)", "rows_in_quarantined_files"),
        ("older backlog rows resolved tonight", "rows_resolved_from_backlog"),
        ("files new", "files_new"),
        ("files already landed elsewhere", "files_duplicate_content"),
        ("wall time (s)", "wall_seconds"),
    ):
        table.add_row(label, str(summary.get(key, "")))
    for reason, count in summary.get("backlog_by_reason", {}).items():
        table.add_row(f"  backlog: {reason}", str(count))
    for reason, count in summary.get("files_quarantined_by_reason", {}).items():
        table.add_row(f"  quarantined files: {reason}", str(count))
    Console().print(table)
    Console().print(f"warehouse: {settings.warehouse_path}\nreports:   {settings.reports_dir}")


@app.command()
def runs(
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file.")],
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
) -> None:
    """List recent runs: outcome, duration, row counts, validation failures and seconds per stage."""
    from vaxsync.run_report import STAGES, run_history

    if not warehouse.is_file():
        console.print(f"[red]error:[/red] warehouse not found: {warehouse}")
        raise typer.Exit(2)
    history = run_history(warehouse, limit=limit)
    table = Table(title=f"vaxsync runs ({history.height} most recent, newest first; view v_run_history)")
    numeric = (
        "took (s)",
        "rows in",
        "posted",
        "duplicates",
        "backlog",
        "files new / quar.",
        "valid. crit / warn",
    )
    for column in ("as of", "run id", "outcome", *numeric, "seconds per stage"):
        table.add_column(column, justify="right" if column in numeric else "left")
    for run in history.iter_rows(named=True):
        stage_seconds = " · ".join(
            f"{stage} {run[f'{stage}_seconds']:.1f}"
            for stage in STAGES
            if run[f"{stage}_seconds"] is not None
        )
        table.add_row(
            str(run["as_of"]),
            run["run_id"],
            f"[green]{run['outcome']}[/green]"
            if run["outcome"] == "published"
            else f"[red]{run['outcome']}[/red]",
            f"{run['duration_seconds']:.1f}",
            f"{run['rows_in']:,}",
            f"{run['rows_posted']:,}",
            f"{run['rows_duplicate']:,}",
            f"{run['rows_backlog']:,}",
            f"{run['files_new']} / {run['files_quarantined']}",
            f"{run['validation_critical_failures']} / {run['validation_warnings']}",
            stage_seconds or "—",
        )
    Console().print(table)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Output folder (registry.parquet, landing/, truth.parquet).")],
    citizens: Annotated[int, typer.Option(help="Registry size.")] = 20_000,
    shots: Annotated[int, typer.Option(help="Approximate number of export rows.")] = 4_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 7,
    snapshot_date: Annotated[str, typer.Option(help="Registry snapshot date (YYYY-MM-DD).")] = "2023-01-31",
) -> None:
    """Write a realistic synthetic registry and facility exports, with ground truth."""
    from vaxsync.synth import SynthConfig, generate

    config = SynthConfig(citizens=citizens, shots=shots, seed=seed, snapshot_date=_parse_date(snapshot_date))
    with console.status("generating"):
        summary = generate(out, config)
    headline = {
        key: value for key, value in summary.items() if not key.startswith(("configured_", "realised_"))
    }
    Console().print_json(data=headline)
    Console().print(f"defect rates: {out / 'summary.json'}")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="A `vaxsync synth` output folder (registry, landing, truth).")],
) -> None:
    """Score matching against the ground truth: precision, recall, F1, wrong postings, recall per defect."""
    from matching.evaluation import evaluate_generated, format_evaluation

    if not (data / "truth.parquet").is_file():
        console.print(f"[red]error:[/red] no truth.parquet in {data} (make one with `vaxsync synth`)")
        raise typer.Exit(2)
    with console.status("ingesting, normalizing and matching"):
        evaluation = evaluate_generated(data)
    Console().print(format_evaluation(evaluation))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # it announces every temp folder
    app()


if __name__ == "__main__":
    main()
