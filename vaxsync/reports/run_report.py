"""The run report for the data engineer on call: what a night did, stage by stage, how long each stage
took, whether every row is accounted for, and what validation found.

`<reports_dir>/<as_of>/runs/<run_id>/run_report.json` (for machines) and `run_report.html` (for people),
owner-only; `<reports_dir>/<as_of>/run_report.*` is the night's latest non-empty one, `index.json` lists all.
Built from the run's work folder (run.json: stage counts and times; the ledger files: per-file times)
and the warehouse, as the typed `RunReport` (vaxsync.reports.run_report_contract: the JSON's shape);
the page is rendered from it by vaxsync.reports.run_report_page. Neither file holds an ID, a name or a
phone: validation results never keep row values, row keys are masked, and digit runs in free text are
masked to their last 3 digits.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, cast

import duckdb
import polars as pl

from vaxsync.core.masking import masked_digit_runs, masked_key
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, read_json, write_private
from vaxsync.marts.decisions import review_decision_counts
from vaxsync.marts.resends import resend_counts, resent_file_changes
from vaxsync.marts.snapshot_changes import count_flagged_shots, relinked_posting_counts
from vaxsync.marts.warehouse import connect, connected, conservation_violations
from vaxsync.reports.backlog_summary import backlog_summary
from vaxsync.reports.run_report_contract import (
    STAGES,
    Conservation,
    ConservationProblem,
    DeferredFile,
    ExpectationSummary,
    IngestCounts,
    NothingPublished,
    OpenBacklog,
    PublishCounts,
    QuarantinedFile,
    RelinkedPostings,
    ReportIndexEntry,
    ResentFile,
    ReviewDecisionCounts,
    RunHeader,
    RunReport,
    SkippedSheet,
    SlowFile,
    Stages,
    SuiteSummary,
    Timings,
    TonightTotals,
)
from vaxsync.reports.run_report_page import render_run_report_html

REPORT_JSON = "run_report.json"
REPORT_HTML = "run_report.html"
REPORT_VERSION = 1
EXAMPLE_KEY_COUNT = 5
SLOWEST_FILE_COUNT = 5
LISTED_VIOLATION_COUNT = 20
# Non-personal row keys a validation result may name; anything else in a stored sample is dropped.
ROW_KEY_COLUMNS = ("file_hash", "source_row", "source_file", "shot_id")


# --- the report as data ----------------------------------------------------------------------------------


def build_run_report(
    settings: Settings, run_id: str, connection: duckdb.DuckDBPyConnection | None = None
) -> RunReport:
    """Everything the report shows, JSON-serialisable. Works for a night that did not publish too
    (outcome 'not published'): then counts and validation come from the work folder alone."""
    work = RunWorkDir(settings)
    run = read_json(work.run_file) if work.run_file.exists() else {"run_id": run_id}
    work_ledgers = _work_ledgers(work)
    with connected(settings.warehouse_path, connection, settings=settings) as connection:
        run_row = _run_row(connection, run_id)
        ledger = _night_ledger(connection, run_id, work_ledgers)
        source_files = dict(zip(ledger["file_hash"], ledger["source_file"], strict=True))
        return RunReport(
            report_version=REPORT_VERSION,
            generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            run=_run_header(run, run_row, run_id),
            stages=_stages(connection, run, run_id, ledger, is_published=run_row is not None),
            conservation=_conservation(connection, ledger, source_files),
            timings=_timings(run, run_row, work_ledgers),
            quarantined_files=_quarantined_files(ledger),
            deferred_files=_deferred_files(run),
            skipped_sheets=_skipped_sheets(ledger),
            resent_files=_resent_files(connection, run_id),
            validation=_validation(connection, run_id, work, source_files),
            review_decisions=_review_decisions(connection, run_id),
            relinked_postings=_relinked_postings(connection, run_id),
        )


def _relinked_postings(connection: duckdb.DuckDBPyConnection, run_id: str) -> RelinkedPostings:
    counts = relinked_posting_counts(connection, run_id)
    return RelinkedPostings(moved_by_id=counts["moved_by_id"], sent_to_backlog=counts["sent_to_backlog"])


def _run_row(connection: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    rows = connection.sql("select * from pipeline_runs where run_id = ?", params=[run_id]).pl().to_dicts()
    return rows[0] if rows else None


_LEDGER_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "source_file": pl.String,
    "file_hash": pl.String,
    "status": pl.String,
    "quarantine_reason": pl.String,
    "quarantine_detail": pl.String,
    "rows_read": pl.Int64,
    "rows_posted": pl.Int64,
    "rows_duplicate": pl.Int64,
    "rows_backlog": pl.Int64,
    "rows_estimated": pl.Int64,  # a quarantined file's data rows, estimated (contracts.LEDGER_SCHEMA)
    "skipped_sheets": pl.String,  # JSON: a workbook's sheets holding no dose rows (contracts.LEDGER_SCHEMA)
}


def _work_ledgers(work: RunWorkDir) -> pl.DataFrame:
    """The night's ledger entries as the ingest tasks wrote them, with each file's ingest time."""
    schema = {**_LEDGER_COLUMNS, "ingest_seconds": pl.Float64}
    paths = sorted(work.ledger_dir.glob("*.json")) if work.ledger_dir.exists() else []
    entries = [read_json(path) for path in paths]
    return pl.DataFrame([{name: entry.get(name) for name in schema} for entry in entries], schema=schema)


def _night_ledger(
    connection: duckdb.DuckDBPyConnection, run_id: str, work_ledgers: pl.DataFrame
) -> pl.DataFrame:
    """This night's published ledger rows; for a night that did not publish, the work folder's entries
    (nothing posted yet)."""
    published = connection.sql(
        f"select {', '.join(_LEDGER_COLUMNS)} from ingest_ledger where run_id = ? order by source_file",
        params=[run_id],
    ).pl()
    if not published.is_empty():
        return published.cast(_LEDGER_COLUMNS)
    return work_ledgers.select(list(_LEDGER_COLUMNS)).sort("source_file")


def _run_header(run: dict[str, Any], run_row: dict[str, Any] | None, run_id: str) -> RunHeader:
    started = run_row["started_at"] if run_row else run.get("started_at")
    finished = run_row["finished_at"] if run_row else None
    return RunHeader(
        run_id=run_id,
        as_of=str(run_row["as_of"] if run_row else run.get("as_of")),
        outcome=run_row["outcome"] if run_row else "not published",
        started_at=str(started) if started else None,
        finished_at=str(finished) if finished else None,
        registry_hash=run.get("registry_hash") or (run_row or {}).get("registry_hash"),
        landing_hash=run.get("landing_hash") or (run_row or {}).get("landing_hash"),
    )


def _stages(
    connection: duckdb.DuckDBPyConnection,
    run: dict[str, Any],
    run_id: str,
    ledger: pl.DataFrame,
    *,
    is_published: bool,
) -> Stages:
    """Counts per stage: discover, normalize and match as they recorded them in run.json, ingest and
    publish from the ledger and the warehouse, and the open backlog of all nights."""
    recorded = run.get("stage_counts", {})
    return Stages(
        discover=recorded.get("discover", {}),
        ingest=_ingest_counts(ledger),
        normalize=recorded.get("normalize", {}),
        match=recorded.get("match", {}),
        # a night that did not publish placed no row
        publish=_publish_counts(connection, run_id, ledger) if is_published else NothingPublished(),
        backlog_open=_open_backlog(connection),
    )


def _ingest_counts(ledger: pl.DataFrame) -> IngestCounts:
    read = ledger.filter(pl.col("status").fill_null("") != "duplicate_content")
    loaded = read.filter(pl.col("status") == "loaded")
    quarantined = read.filter(pl.col("status") == "quarantined")
    held_back = quarantined.filter(pl.col("quarantine_reason") == "validation_failed")
    return IngestCounts(
        files_read=read.height,
        files_loaded=loaded.height,
        files_quarantined=quarantined.height,
        files_quarantined_by_reason=_count_by(quarantined, "quarantine_reason"),
        rows_read=_sum(read, "rows_read"),
        rows_staged=_sum(loaded, "rows_read") + _sum(held_back, "rows_read"),
        rows_held_back_by_validation=_sum(held_back, "rows_read"),
        rows_in_quarantined_files=_sum(
            quarantined.select(pl.coalesce("rows_estimated", "rows_read").alias("rows")), "rows"
        ),
    )


def _publish_counts(
    connection: duckdb.DuckDBPyConnection, run_id: str, ledger: pl.DataFrame
) -> PublishCounts:
    backlog_by_reason = connection.sql(
        "select reason_code, count(*) as rows from unposted_backlog where run_id = ? group by 1 order by 2 desc",
        params=[run_id],
    ).fetchall()
    resends = resend_counts(connection, run_id)  # re-sent files: shots retracted, replaced, added, restored
    return PublishCounts(
        rows_posted=_sum(ledger, "rows_posted"),
        rows_duplicate_merged=_sum(ledger, "rows_duplicate"),
        rows_backlog=_sum(ledger, "rows_backlog"),
        backlog_by_reason=dict(backlog_by_reason),
        shots_new=_count(connection, "select count(*) from synced_shots where run_id = ?", run_id),
        backlog_rows_resolved=_count(
            connection, "select count(*) from unposted_backlog where resolved_run_id = ?", run_id
        ),
        # posted shots whose citizen tonight's snapshot dropped (vaxsync.marts.snapshot_changes): not in coverage
        shots_citizen_not_in_snapshot=count_flagged_shots(connection),
        files_replacing_a_version=resends["files_replacing_a_version"],
        shots_retracted=resends["shots_retracted"],
        shots_replaced=resends["shots_replaced"],
        shots_added_by_new_versions=resends["shots_added_by_new_versions"],
        shots_restored=resends["shots_restored"],
    )


def _open_backlog(connection: duckdb.DuckDBPyConnection) -> OpenBacklog:
    open_by_reason = connection.sql(
        "select reason_code, count(*) as rows from open_backlog group by 1 order by 2 desc"
    ).fetchall()
    return OpenBacklog(rows=sum(count for _, count in open_by_reason), by_reason=dict(open_by_reason))


def _count(connection: duckdb.DuckDBPyConnection, sql: str, run_id: str) -> int:
    return int(connection.sql(sql, params=[run_id]).fetchall()[0][0])


def _conservation(
    connection: duckdb.DuckDBPyConnection, ledger: pl.DataFrame, source_files: dict[str, str]
) -> Conservation:
    """The warehouse-wide proof (conservation_violations) and tonight's totals, which must add up."""
    violations = conservation_violations(connection)
    loaded = ledger.filter(pl.col("status") == "loaded")
    rows_read = _sum(loaded, "rows_read")
    rows_placed = _sum(loaded, "rows_posted") + _sum(loaded, "rows_duplicate") + _sum(loaded, "rows_backlog")
    return Conservation(
        is_proven=not violations,
        violations=len(violations),
        problems=[
            ConservationProblem(
                file=masked_key(file_hash), source_file=source_files.get(file_hash), problem=problem
            )
            for file_hash, problem in violations[:LISTED_VIOLATION_COUNT]
        ],
        tonight=TonightTotals(
            rows_read_in_loaded_files=rows_read,
            rows_posted_duplicate_or_backlog=rows_placed,
            adds_up=rows_read == rows_placed,
        ),
    )


def _timings(run: dict[str, Any], run_row: dict[str, Any] | None, work_ledgers: pl.DataFrame) -> Timings:
    """Seconds per stage. Airflow ingests files in parallel tasks that record only their own time:
    there 'ingest' is the sum of the per-file times (up to 4 run at once)."""
    stage_seconds = dict(run.get("stage_seconds", {}))
    timed_files = work_ledgers.drop_nulls("ingest_seconds")
    if "ingest" not in stage_seconds and not timed_files.is_empty():
        stage_seconds["ingest"] = round(float(timed_files["ingest_seconds"].sum()), 3)
    duration = None
    if run_row and run_row.get("finished_at") and run_row.get("started_at"):
        duration = round((run_row["finished_at"] - run_row["started_at"]).total_seconds(), 1)
    slowest = timed_files.sort("ingest_seconds", descending=True).head(SLOWEST_FILE_COUNT)
    return Timings(
        stage_seconds={stage: stage_seconds[stage] for stage in STAGES if stage in stage_seconds},
        duration_seconds=duration,
        files_timed=timed_files.height,
        slowest_files=[
            SlowFile(source_file=source_file, ingest_seconds=seconds)
            for source_file, seconds in slowest.select("source_file", "ingest_seconds").iter_rows()
        ],
    )


def _quarantined_files(ledger: pl.DataFrame) -> list[QuarantinedFile]:
    quarantined = ledger.filter(pl.col("status") == "quarantined").sort("quarantine_reason", "source_file")
    return [
        QuarantinedFile(
            source_file=row["source_file"],
            reason=row["quarantine_reason"],
            detail=masked_digit_runs(row["quarantine_detail"]),
            rows_read=row["rows_read"],
            rows_estimated=row["rows_estimated"],
        )
        for row in quarantined.iter_rows(named=True)
    ]


def _deferred_files(run: dict[str, Any]) -> list[DeferredFile]:
    """The landed files discover left for the next night, by path (run.json: a night that did not publish
    has them too; the warehouse's deferred_files holds the same rows once published)."""
    return [
        DeferredFile(
            source_file=item["source_file"],
            reason=item["reason"],
            file_size_bytes=item.get("file_size_bytes"),
        )
        for item in sorted(run.get("deferred_files", []), key=lambda item: item["source_file"])
    ]


def _skipped_sheets(ledger: pl.DataFrame) -> list[SkippedSheet]:
    """The sheets the night's workbooks held besides their dose rows, so that a reader can check none
    held doses (a loop over files, not rows)."""
    skipped = ledger.filter(pl.col("skipped_sheets").is_not_null()).sort("source_file")
    return [
        SkippedSheet(
            source_file=source_file, sheet=masked_digit_runs(entry["sheet"]) or "", rows=entry["rows"]
        )
        for source_file, sheets in skipped.select("source_file", "skipped_sheets").iter_rows()
        for entry in json.loads(sheets)
    ]


def _resent_files(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[ResentFile]:
    """New versions of files landed tonight and what each changed (vaxsync.marts.resends, which names
    these keys)."""
    return cast(list[ResentFile], resent_file_changes(connection, run_id))


def _review_decisions(connection: duckdb.DuckDBPyConnection, run_id: str) -> ReviewDecisionCounts:
    """Decision files and lines read tonight (vaxsync.marts.decisions, which names these keys)."""
    return cast(ReviewDecisionCounts, review_decision_counts(connection, run_id))


def _validation(
    connection: duckdb.DuckDBPyConnection, run_id: str, work: RunWorkDir, source_files: dict[str, str]
) -> list[SuiteSummary]:
    """Per suite, per expectation, from the stored results (validation_results, else the work folder)."""
    stored = connection.sql(
        """
        select suite_name, success, critical_failures, warnings, results_json, validated_at
        from validation_results where run_id = ? order by suite_name
        """,
        params=[run_id],
    ).pl()
    suites = stored.to_dicts()
    if not suites and work.validation_dir.exists():
        suites = [read_json(path) for path in sorted(work.validation_dir.glob("*.json"))]
    return [_suite_summary(suite, source_files) for suite in suites]


def _suite_summary(suite: dict[str, Any], source_files: dict[str, str]) -> SuiteSummary:
    results = json.loads(suite["results_json"])
    expectations = [_expectation_summary(item, source_files) for item in results.get("expectations", [])]
    validated_at = suite.get("validated_at") or results.get("validation_time")
    return SuiteSummary(
        suite_name=suite["suite_name"],
        success=bool(suite["success"]),
        critical_failures=int(suite["critical_failures"]),
        warnings=int(suite["warnings"]),
        validated_at=str(validated_at) if validated_at else None,
        statistics=results.get("statistics", {}),
        # failures first, critical before warnings
        expectations=sorted(expectations, key=lambda item: (item["success"], item["severity"] != "critical")),
    )


def _expectation_summary(item: dict[str, Any], source_files: dict[str, str]) -> ExpectationSummary:
    kwargs = dict(item.get("kwargs") or {})
    result = item.get("result") or {}
    columns = kwargs.pop("column", None) or ", ".join(kwargs.pop("column_list", None) or []) or None
    condition = kwargs.pop("row_condition", None)
    kwargs.pop("condition_parser", None)
    observed = result.get("observed_value")
    return ExpectationSummary(
        expectation=item["expectation_type"],
        column=columns,
        severity=item.get("severity") or "critical",
        success=bool(item.get("success")),
        rule=_describe_rule(kwargs),
        rows=_describe_condition(condition),
        description=item.get("description"),
        element_count=result.get("element_count"),
        unexpected_count=result.get("unexpected_count"),
        unexpected_percent=_rounded(result.get("unexpected_percent")),
        # an aggregate (a share, a count) is safe to show; a value from a row (a most common name) is not
        observed_value=observed if isinstance(observed, int | float) else None,
        error=masked_digit_runs(item.get("exception_message")),
        examples=[_example_key(key, source_files) for key in item.get("sample_keys", [])[:EXAMPLE_KEY_COUNT]],
    )


def _describe_rule(kwargs: dict[str, Any]) -> str:
    """The expectation's parameters in words: 'between 2021-03-08 and 2023-01-31', 'one of: M, F'."""
    rule = dict(kwargs)
    parts = []
    low, high = _plain(rule.pop("min_value", None)), _plain(rule.pop("max_value", None))
    if low is not None and high is not None:
        parts.append(f"between {low} and {high}")
    elif low is not None:
        parts.append(f"at least {low}")
    elif high is not None:
        parts.append(f"at most {high}")
    if "value_set" in rule:
        values = [str(_plain(value)) for value in rule.pop("value_set") or []]
        more = f" (+{len(values) - 8} more)" if len(values) > 8 else ""
        parts.append(f"one of: {', '.join(values[:8])}{more}")
    if "regex" in rule:
        parts.append(f"matches {rule.pop('regex')}")
    mostly = rule.pop("mostly", None)
    parts.extend(f"{name}={_plain(value)}" for name, value in rule.items())
    if mostly is not None:
        parts.append(f"on at least {float(mostly):.0%} of rows")
    return "; ".join(parts)


def _plain(value: Any) -> Any:
    """A bound as people write it: GX gets dates as midnight datetimes, shown here as dates."""
    if isinstance(value, str) and value.endswith("T00:00:00"):
        return value.removesuffix("T00:00:00")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _describe_condition(condition: Any) -> str:
    """Which rows the expectation looked at: 'all rows', or a readable form of GX's row condition."""
    if not condition:
        return "all rows"
    if isinstance(condition, dict) and condition.get("type") == "nullity":
        name = (condition.get("column") or {}).get("name")
        return f"rows where {name} is {'null' if condition.get('is_null') else 'not null'}"
    return f"rows where {json.dumps(condition, ensure_ascii=False)}"


def _example_key(key: dict[str, Any], source_files: dict[str, str]) -> str:
    """A failing row by its non-personal key, masked, with its file's name when the key has a file hash."""
    shown = " ".join(f"{name}={masked_key(value)}" for name, value in key.items() if name in ROW_KEY_COLUMNS)
    source_file = source_files.get(str(key.get("file_hash")))
    return f"{shown} ({source_file})" if source_file else shown


def _count_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    counts = frame.group_by(column).len().sort("len", column, descending=[True, False])
    return dict(counts.iter_rows())


def _sum(frame: pl.DataFrame, column: str) -> int:
    return int(frame[column].sum() or 0) if not frame.is_empty() else 0


def _rounded(value: Any) -> float | None:
    return round(float(value), 2) if isinstance(value, int | float) else None


# --- run history ----------------------------------------------------------------------------------------


def save_stage_seconds(
    settings: Settings,
    run_id: str,
    stage_seconds: dict[str, float],
    connection: duckdb.DuckDBPyConnection | None = None,
) -> None:
    """Keep the night's stage times with its pipeline_runs row, for v_run_history. Idempotent."""
    with connected(settings.warehouse_path, connection, settings=settings) as connection:
        connection.execute(
            "update pipeline_runs set stage_seconds = ? where run_id = ?",
            [json.dumps(stage_seconds), run_id],
        )


def run_history(warehouse_path: Path, limit: int = 20) -> pl.DataFrame:
    """The most recent runs from v_run_history, newest first."""
    with connect(warehouse_path) as connection:
        return connection.sql("select * from v_run_history limit ?", params=[limit]).pl()


# --- files ----------------------------------------------------------------------------------------------


def write_run_report(
    settings: Settings, run_id: str, connection: duckdb.DuckDBPyConnection | None = None
) -> list[Path]:
    """Write the run's report, run_report.json and .html (0600), after saving its stage times.

    One pair per run, under `<as-of>/runs/<run id>/`, so a re-run never replaces an earlier run's
    report; `<as-of>/run_report.*` is a copy of the night's latest report that did something (a re-run
    that found nothing new leaves it alone), and `<reports>/index.json` lists every run's report."""
    report = build_run_report(settings, run_id, connection)
    if report["run"]["outcome"] != "not published":
        save_stage_seconds(settings, run_id, report["timings"]["stage_seconds"], connection)
    night = settings.reports_dir / settings.as_of.isoformat()
    run_folder = run_report_folder(settings, run_id)
    contents = {
        REPORT_JSON: json.dumps(report, ensure_ascii=False, indent=1, default=str).encode("utf-8"),
        REPORT_HTML: render_run_report_html(report).encode("utf-8"),
    }
    written = [write_private(run_folder / name, content) for name, content in contents.items()]
    if _replaces_night_copy(night / REPORT_JSON, report):
        written += [write_private(night / name, content) for name, content in contents.items()]
    _update_report_index(settings.reports_dir, report, run_folder)
    return written


RUNS_FOLDER = "runs"
REPORT_INDEX = "index.json"


def run_report_folder(settings: Settings, run_id: str) -> Path:
    """`<reports>/<as-of>/runs/<run id>/`: the run id is `<as-of>@<start time>`, safe as a folder name."""
    return settings.reports_dir / settings.as_of.isoformat() / RUNS_FOLDER / run_id.replace("/", "_")


def is_empty_report(report: RunReport) -> bool:
    """A run that read no file and resolved no backlog row: a re-run of a night already processed."""
    stages = report["stages"]
    return not stages["ingest"].get("files_read") and not stages["publish"].get("backlog_rows_resolved")


def _replaces_night_copy(night_copy: Path, report: RunReport) -> bool:
    if not night_copy.exists() or not is_empty_report(report):
        return True
    try:
        current = json.loads(night_copy.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return bool(current.get("run", {}).get("run_id") == report["run"]["run_id"] or is_empty_report(current))


def _update_report_index(reports_dir: Path, report: RunReport, run_folder: Path) -> None:
    """`<reports>/index.json`: one entry per run report, newest first, and each night's latest."""
    path = reports_dir / REPORT_INDEX
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else []
    except (OSError, ValueError, KeyError, TypeError):
        runs = []  # a damaged index is rebuilt from here on; the reports themselves are intact
    run = report["run"]
    entry = ReportIndexEntry(
        run_id=run["run_id"],
        as_of=run["as_of"],
        outcome=run["outcome"],
        started_at=run["started_at"],
        files_read=report["stages"]["ingest"].get("files_read", 0),
        rows_read=report["stages"]["ingest"].get("rows_read", 0),
        is_empty=is_empty_report(report),
        report_json=(run_folder / REPORT_JSON).relative_to(reports_dir).as_posix(),
        report_html=(run_folder / REPORT_HTML).relative_to(reports_dir).as_posix(),
    )
    runs = [entry, *(other for other in runs if other.get("run_id") != run["run_id"])]
    runs.sort(key=lambda other: str(other.get("started_at") or ""), reverse=True)
    latest: dict[str, dict[str, Any]] = {}
    for other in runs:
        if other["as_of"] not in latest or (latest[other["as_of"]]["is_empty"] and not other["is_empty"]):
            latest[other["as_of"]] = other
    index = {
        "latest_by_as_of": {as_of: other["report_json"] for as_of, other in sorted(latest.items())},
        "runs": runs,
    }
    write_private(path, json.dumps(index, ensure_ascii=False, indent=1).encode("utf-8"))


def write_reports(
    settings: Settings, *, run_id: str, connection: duckdb.DuckDBPyConnection | None = None
) -> list[Path]:
    """The backlog summary by province, and the run report (vaxsync.reports.run_report) with its conservation check."""

    folder = settings.reports_dir / settings.as_of.isoformat()
    summary = backlog_summary(settings, connection)
    return [
        write_private(folder / "backlog_summary_by_province.csv", summary.write_csv().encode("utf-8")),
        *write_run_report(settings, run_id, connection),
    ]
