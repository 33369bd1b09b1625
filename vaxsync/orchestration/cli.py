"""The `vaxsync` command: local runs, demo data, tests and benchmarks use the same pipeline as Airflow."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from validation import CriticalValidationError
from vaxsync.core.errors import InputError, OperatorError, no_space_left
from vaxsync.core.reasons import QUARANTINE_REASONS
from vaxsync.core.settings import SECRET_SETTINGS, Settings, blank_path_problem
from vaxsync.marts.readmission import request_readmission
from vaxsync.marts.warehouse import connect, snapshot
from vaxsync.orchestration import pipeline
from vaxsync.reports.run_report import REPORT_HTML, REPORT_INDEX

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned Exit (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """What an operator can fix is one line on stderr and exit code 2, never a traceback: a bad
    argument or input, a locked warehouse, a full disk, a folder we may not write."""

    @functools.wraps(command)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            # The environment alone, checked before any work: options override its values in the
            # command's settings, but the stages read the environment again (a bad value failed mid-night).
            Settings()
            return command(*args, **kwargs)
        except OperatorError as error:
            raise fail(str(error)) from None
        except ValidationError as error:  # a VAXSYNC_* variable the settings cannot use
            raise fail(settings_problem(error)) from None
        except Exception as error:
            if no_space_left(error):
                raise fail(
                    "no space left on device: free space where the warehouse, work folder or reports"
                    " live, then run the night again (a night is published whole or not at all;"
                    " `vaxsync runs` shows whether it was)"
                ) from None
            if isinstance(error, OSError) and error.filename:  # a file or folder the system refused
                raise fail(f"{error.strerror or error}: {error.filename}") from None
            raise

    return guarded


def settings_problem(error: ValidationError) -> str:
    """The first unusable setting as one line, named as its environment variable."""
    first = error.errors()[0]
    field = "_".join(str(part) for part in first["loc"])
    value = "(hidden)" if field in SECRET_SETTINGS else repr(first["input"])
    message = first["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's refusal
    return f"VAXSYNC_{field.upper()}={value} is not usable: {message}"


def _path(value: str, option: str) -> Path:
    """A path option as given (typer would turn "" into ".", the current folder, before we saw it)."""
    problem = blank_path_problem(value)
    if problem:
        raise InputError(f"{option} {problem}")
    return Path(value)


def _parse_date(value: str | None, option: str = "--as-of") -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} is not an ISO date (YYYY-MM-DD): {value}") from None


@app.command()
@one_line_errors
def run(
    registry: Annotated[str, typer.Option(help="Registry snapshot (Parquet).")],
    landing: Annotated[str, typer.Option(help="Landing folder of facility exports.")],
    warehouse: Annotated[str, typer.Option(help="DuckDB warehouse file (created if absent).")],
    reports: Annotated[str, typer.Option(help="Folder for the night's reports.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="The date the run stands on (YYYY-MM-DD); default VAXSYNC_AS_OF, else today."
        ),
    ] = None,
    work_dir: Annotated[str | None, typer.Option(help="Stage outputs; default beside the warehouse.")] = None,
    decisions: Annotated[
        str | None,
        typer.Option(help="Folder of review reports sent back by provinces; default VAXSYNC_DECISIONS_DIR."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Accept an as-of before the campaign start or before the last published night, or a"
            " registry snapshot older than the last night's.",
        ),
    ] = False,
) -> None:
    """Run the whole nightly sync once: ingest, normalize, match, validate, publish, report."""

    settings = Settings(
        registry_path=_path(registry, "--registry"),
        landing_dir=_path(landing, "--landing"),
        warehouse_path=_path(warehouse, "--warehouse"),
        reports_dir=_path(reports, "--reports"),
        work_dir=None if work_dir is None else _path(work_dir, "--work-dir"),
        force_as_of=force,
    )
    if as_of is not None:  # else the setting's (VAXSYNC_AS_OF, else today), as the other entry points
        settings = settings.model_copy(update={"as_of": _parse_date(as_of)})
    if decisions is not None:  # else the setting's (VAXSYNC_DECISIONS_DIR)
        settings = settings.model_copy(update={"decisions_dir": _path(decisions, "--decisions")})
    try:
        if console.is_terminal:
            with _progress() as progress:
                tasks: dict[str, Any] = {}

                def on_progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = progress.add_task(stage, total=total)
                    progress.update(tasks[stage], completed=done, total=total)

                summary = pipeline.run_nightly(settings, on_progress=on_progress)
        else:  # cron, Airflow, a pipe: one line per stage instead of a live bar
            summary = pipeline.run_nightly(settings, on_stage_done=print_stage_line)
    except CriticalValidationError as error:
        typer.echo(f"validation failed, nothing published: {error}", err=True)
        _print_run_report_path(settings)
        raise typer.Exit(3) from None
    _print_summary(summary, settings)


def print_stage_line(stage: str, seconds: float, counts: dict[str, Any]) -> None:
    """`stage publish 2.4 s: rows_posted=812 rows_backlog=40` on stderr: whole-number counts only."""
    figures = " ".join(
        f"{name}={value}"
        for name, value in counts.items()
        if isinstance(value, int) and not isinstance(value, bool)
    )
    typer.echo(f"{time.strftime('%H:%M:%S')} stage {stage} {seconds:.1f} s: {figures}".rstrip(": "), err=True)


def _print_run_report_path(settings: Any) -> None:
    """Where publish_batch left the run report of the night it stopped, if it got that far."""

    index = settings.reports_dir / REPORT_INDEX
    if index.is_file():
        import json

        runs = json.loads(index.read_text(encoding="utf-8"))["runs"]
        for entry in runs:
            if entry["as_of"] == settings.as_of.isoformat():
                typer.echo(f"run report: {settings.reports_dir / entry['report_html']}", err=True)
                return
    report = settings.reports_dir / settings.as_of.isoformat() / REPORT_HTML
    if report.is_file():
        typer.echo(f"run report: {report}", err=True)


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
        ("posted shots whose citizen left the snapshot", "shots_citizen_not_in_snapshot"),
        ("files new", "files_new"),
        ("files already processed (skipped)", "files_already_processed"),
        ("files already landed elsewhere", "files_duplicate_content"),
        ("files still being written (read next night)", "files_deferred"),
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
@one_line_errors
def runs(
    warehouse_option: Annotated[str, typer.Option("--warehouse", help="DuckDB warehouse file.")],
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
) -> None:
    """List recent runs: outcome, duration, row counts, validation failures and seconds per stage."""

    warehouse = _path(warehouse_option, "--warehouse")
    if limit < 1:
        raise InputError(f"--limit must be at least 1: {limit}")
    if not warehouse.is_file():
        raise InputError(f"warehouse not found: {warehouse}")
    with connect(warehouse) as connection:
        history = connection.sql("select * from v_run_history limit ?", params=[limit]).pl()
    stages = [  # the view's per-stage columns, in stage order
        name.removesuffix("_seconds")
        for name, dtype in history.schema.items()
        if name.endswith("_seconds") and dtype.is_numeric() and name != "duration_seconds"
    ]
    columns = {
        "as of": lambda run: str(run["as_of"]),
        "run id": lambda run: run["run_id"],
        "outcome": lambda run: run["outcome"],
        "took (s)": lambda run: f"{run['duration_seconds']:.1f}",
        "rows in": lambda run: f"{run['rows_in']:,}",
        "posted": lambda run: f"{run['rows_posted']:,}",
        "duplicates": lambda run: f"{run['rows_duplicate']:,}",
        "backlog": lambda run: f"{run['rows_backlog']:,}",
        "files new / quar.": lambda run: f"{run['files_new']} / {run['files_quarantined']}",
        "valid. crit / warn": lambda run: (
            f"{run['validation_critical_failures']} / {run['validation_warnings']}"
        ),
        "seconds per stage": lambda run: (
            " · ".join(
                f"{stage} {run[f'{stage}_seconds']:.1f}"
                for stage in stages
                if run[f"{stage}_seconds"] is not None
            )
            or "—"
        ),
    }
    rows = [[cell(run) for cell in columns.values()] for run in history.iter_rows(named=True)]
    out = Console()
    if not out.is_terminal:  # piped or redirected: one tab-separated line per run, never wrapped
        typer.echo("\t".join(name.replace(" ", "_") for name in columns))
        for row in rows:
            typer.echo("\t".join(cell.replace("\t", " ") for cell in row))
        return
    table = Table(title=f"vaxsync runs ({history.height} most recent, newest first; view v_run_history)")
    for column in columns:
        table.add_column(column, justify="left" if column in {"as of", "run id", "outcome"} else "right")
    for row in rows:
        outcome = row[2]
        row[2] = f"[green]{outcome}[/green]" if outcome == "published" else f"[red]{outcome}[/red]"
        table.add_row(*row)
    out.print(table)


@app.command()
@one_line_errors
def readmit(
    warehouse_option: Annotated[str, typer.Option("--warehouse", help="DuckDB warehouse file.")],
    file: Annotated[
        list[str] | None,
        typer.Option(
            "--file", help="A quarantined file, as landed (path in the landing folder); repeatable."
        ),
    ] = None,
    reason: Annotated[
        list[str] | None,
        typer.Option("--reason", help="Every file quarantined for this reason code; repeatable."),
    ] = None,
) -> None:
    """Read quarantined files again on the next run (after fixing what quarantined them)."""

    warehouse = _path(warehouse_option, "--warehouse")
    files, reasons = list(file or []), list(reason or [])
    if not files and not reasons:
        raise InputError("name the files to read again: --file PATH ... or --reason CODE ...")
    unknown = sorted(set(reasons) - set(QUARANTINE_REASONS))
    if unknown:
        raise InputError(
            f"unknown quarantine reason {', '.join(unknown)} (one of: {', '.join(QUARANTINE_REASONS)})"
        )
    if not warehouse.is_file():
        raise InputError(f"warehouse not found: {warehouse}")
    with connect(warehouse) as connection:
        marked = request_readmission(connection, files=files, reasons=reasons)
    if not marked:
        raise InputError("no quarantined file matches; `vaxsync runs` and the run report list them")
    typer.echo(f"{marked} quarantined file(s) will be read again by the next `vaxsync run`")


@app.command("snapshot-warehouse")
@one_line_errors
def snapshot_warehouse(
    warehouse_option: Annotated[str, typer.Option("--warehouse", help="DuckDB warehouse file.")],
    out_option: Annotated[str, typer.Option("--out", help="The copy analysts open (replaced atomically).")],
) -> None:
    """Write a consistent copy of the warehouse for analysts to read without blocking the night."""
    warehouse, out = _path(warehouse_option, "--warehouse"), _path(out_option, "--out")

    if not warehouse.is_file():
        raise InputError(f"warehouse not found: {warehouse}")
    if out.resolve() == warehouse.resolve():
        raise InputError("--out must differ from --warehouse")
    snapshot(warehouse, out)
    typer.echo(f"analyst copy: {out}  (open it with duckdb.connect(path, read_only=True))")


@app.command()
@one_line_errors
def synth(
    out_option: Annotated[
        str, typer.Option("--out", help="Output folder (registry.parquet, landing/, truth.parquet).")
    ],
    citizens: Annotated[int, typer.Option(help="Registry size.")] = 20_000,
    shots: Annotated[int, typer.Option(help="Approximate number of export rows.")] = 4_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 7,
    snapshot_date: Annotated[str, typer.Option(help="Registry snapshot date (YYYY-MM-DD).")] = "2023-01-31",
) -> None:
    """Write a realistic synthetic registry and facility exports, with ground truth."""
    from synth import SynthConfig, generate

    out = _path(out_option, "--out")
    for option, count in (("--citizens", citizens), ("--shots", shots)):
        if count <= 0:
            raise InputError(f"{option} must be a positive number, got {count}")
    config = SynthConfig(
        citizens=citizens, shots=shots, seed=seed, snapshot_date=_parse_date(snapshot_date, "--snapshot-date")
    )
    with console.status("generating"):
        summary = generate(out, config)
    headline = {
        key: value for key, value in summary.items() if not key.startswith(("configured_", "realised_"))
    }
    Console().print_json(data=headline)
    Console().print(f"defect rates: {out / 'summary.json'}")


@app.command()
@one_line_errors
def evaluate(
    data_option: Annotated[
        str, typer.Option("--data", help="A `vaxsync synth` output folder (registry, landing, truth).")
    ],
) -> None:
    """Score matching against the ground truth: precision, recall, F1, wrong postings, recall per defect."""
    from synth.evaluation import evaluate_generated, format_evaluation

    data = _path(data_option, "--data")
    if not (data / "truth.parquet").is_file():
        raise InputError(f"no truth.parquet in {data} (make one with `vaxsync synth`)")
    with console.status("ingesting, normalizing and matching"):
        evaluation = evaluate_generated(data)
    Console().print(format_evaluation(evaluation))


def main() -> None:
    # typer vendors click; its usage errors are only reachable here (typer re-exports none of them)
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # it announces every temp folder
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError:  # typer has printed the help
        code = 0
    except UsageError as error:  # a mistyped option: one line, like every other mistake
        command = error.ctx.command_path if error.ctx else "vaxsync"
        typer.echo(f"error: {error.format_message()} (see {command} --help)", err=True)
        code = 2
    except typer.Abort:
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
