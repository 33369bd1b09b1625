"""The run report for the data engineer on call: what a night did, stage by stage, how long each stage
took, whether every row is accounted for, and what validation found.

`<reports_dir>/<as_of>/runs/<run_id>/run_report.json` (for machines) and `run_report.html` (for people),
owner-only; `<reports_dir>/<as_of>/run_report.*` is the night's latest non-empty one, `index.json` lists all.
Built from the run's work folder (run.json: stage counts and times; the ledger files: per-file times)
and the warehouse. Neither file holds an ID, a name or a phone: validation results never keep row
values, row keys are masked, and digit runs in free text are masked to their last 3 digits.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from vaxsync.core.masking import masked_digit_runs, masked_key
from vaxsync.core.reasons import (
    BACKLOG_REASONS,
    DECISION_FILE_REASONS,
    DECISION_REJECTIONS,
    QUARANTINE_REASONS,
)
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, read_json, write_private
from vaxsync.marts.decisions import review_decision_counts
from vaxsync.marts.resends import resend_counts, resent_file_changes
from vaxsync.marts.snapshot_changes import count_flagged_shots
from vaxsync.marts.warehouse import connect, conservation_violations
from vaxsync.reports.backlog_summary import backlog_summary

REPORT_JSON = "run_report.json"
REPORT_HTML = "run_report.html"
STAGES = ("discover", "ingest", "normalize", "match", "publish")
EXAMPLE_KEY_COUNT = 5
SLOWEST_FILE_COUNT = 5
LISTED_VIOLATION_COUNT = 20
# Non-personal row keys a validation result may name; anything else in a stored sample is dropped.
ROW_KEY_COLUMNS = ("file_hash", "source_row", "source_file", "shot_id")
# Breakdowns shown inside the stage boxes; the backlog's are in their own section.
_BREAKDOWNS_IN_STAGE_BOXES = {"files_quarantined_by_reason", "rows_rejected_by_reason"}


# --- the report as data ----------------------------------------------------------------------------------


def build_run_report(settings: Settings, run_id: str) -> dict[str, Any]:
    """Everything the report shows, JSON-serialisable. Works for a night that did not publish too
    (outcome 'not published'): then counts and validation come from the work folder alone."""
    work = RunWorkDir(settings)
    run = read_json(work.run_file) if work.run_file.exists() else {"run_id": run_id}
    work_ledgers = _work_ledgers(work)
    with connect(settings.warehouse_path) as connection:
        run_row = _run_row(connection, run_id)
        ledger = _night_ledger(connection, run_id, work_ledgers)
        source_files = dict(zip(ledger["file_hash"], ledger["source_file"], strict=True))
        report = {
            "report_version": 1,
            "generated_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "run": _run_header(run, run_row, run_id),
            "stages": _stage_counts(connection, run, run_id, ledger, is_published=run_row is not None),
            "conservation": _conservation(connection, run_id, ledger, source_files),
            "timings": _timings(run, run_row, work_ledgers),
            "quarantined_files": _quarantined_files(ledger),
            "resent_files": resent_file_changes(connection, run_id),  # vaxsync.marts.resends
            "validation": _validation(connection, run_id, work, source_files),
            "review_decisions": review_decision_counts(connection, run_id),
        }
    return report


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


def _run_header(run: dict[str, Any], run_row: dict[str, Any] | None, run_id: str) -> dict[str, Any]:
    started = run_row["started_at"] if run_row else run.get("started_at")
    finished = run_row["finished_at"] if run_row else None
    return {
        "run_id": run_id,
        "as_of": str(run_row["as_of"] if run_row else run.get("as_of")),
        "outcome": run_row["outcome"] if run_row else "not published",
        "started_at": str(started) if started else None,
        "finished_at": str(finished) if finished else None,
        "registry_hash": run.get("registry_hash") or (run_row or {}).get("registry_hash"),
        "landing_hash": run.get("landing_hash") or (run_row or {}).get("landing_hash"),
    }


def _stage_counts(
    connection: duckdb.DuckDBPyConnection,
    run: dict[str, Any],
    run_id: str,
    ledger: pl.DataFrame,
    *,
    is_published: bool,
) -> dict[str, dict[str, Any]]:
    recorded = run.get("stage_counts", {})
    read = ledger.filter(pl.col("status").fill_null("") != "duplicate_content")
    quarantined = read.filter(pl.col("status") == "quarantined")
    held_back = quarantined.filter(pl.col("quarantine_reason") == "validation_failed")
    ingest = {
        "files_read": read.height,
        "files_loaded": read.filter(pl.col("status") == "loaded").height,
        "files_quarantined": quarantined.height,
        "files_quarantined_by_reason": _count_by(quarantined, "quarantine_reason"),
        "rows_read": _sum(read, "rows_read"),
        "rows_staged": _sum(read.filter(pl.col("status") == "loaded"), "rows_read")
        + _sum(held_back, "rows_read"),
        "rows_held_back_by_validation": _sum(held_back, "rows_read"),
        "rows_in_quarantined_files": _sum(
            quarantined.select(pl.coalesce("rows_estimated", "rows_read").alias("rows")), "rows"
        ),
    }
    backlog_by_reason = connection.sql(
        "select reason_code, count(*) as rows from unposted_backlog where run_id = ? group by 1 order by 2 desc",
        params=[run_id],
    ).fetchall()
    open_by_reason = connection.sql(
        "select reason_code, count(*) as rows from open_backlog group by 1 order by 2 desc"
    ).fetchall()
    publish = {
        "rows_posted": _sum(ledger, "rows_posted"),
        "rows_duplicate_merged": _sum(ledger, "rows_duplicate"),
        "rows_backlog": _sum(ledger, "rows_backlog"),
        "backlog_by_reason": dict(backlog_by_reason),
        "shots_new": connection.sql(
            "select count(*) from synced_shots where run_id = ?", params=[run_id]
        ).fetchall()[0][0],
        "backlog_rows_resolved": connection.sql(
            "select count(*) from unposted_backlog where resolved_run_id = ?", params=[run_id]
        ).fetchall()[0][0],
        # posted shots whose citizen tonight's snapshot dropped (vaxsync.marts.snapshot_changes): not in coverage
        "shots_citizen_not_in_snapshot": count_flagged_shots(connection),
        **resend_counts(connection, run_id),  # re-sent files: shots retracted, replaced, added, restored
    }
    return {
        "discover": recorded.get("discover", {}),
        "ingest": ingest,
        "normalize": recorded.get("normalize", {}),
        "match": recorded.get("match", {}),
        "publish": publish if is_published else {},  # a night that did not publish placed no row
        "backlog_open": {
            "rows": sum(count for _, count in open_by_reason),
            "by_reason": dict(open_by_reason),
        },
    }


def _conservation(
    connection: duckdb.DuckDBPyConnection, run_id: str, ledger: pl.DataFrame, source_files: dict[str, str]
) -> dict[str, Any]:
    """The warehouse-wide proof (conservation_violations) and tonight's totals, which must add up."""
    violations = conservation_violations(connection)
    loaded = ledger.filter(pl.col("status") == "loaded")
    rows_read = _sum(loaded, "rows_read")
    rows_placed = _sum(loaded, "rows_posted") + _sum(loaded, "rows_duplicate") + _sum(loaded, "rows_backlog")
    return {
        "is_proven": not violations,
        "violations": len(violations),
        "problems": [
            {"file": masked_key(file_hash), "source_file": source_files.get(file_hash), "problem": problem}
            for file_hash, problem in violations[:LISTED_VIOLATION_COUNT]
        ],
        "tonight": {
            "rows_read_in_loaded_files": rows_read,
            "rows_posted_duplicate_or_backlog": rows_placed,
            "adds_up": rows_read == rows_placed,
        },
    }


def _timings(
    run: dict[str, Any], run_row: dict[str, Any] | None, work_ledgers: pl.DataFrame
) -> dict[str, Any]:
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
    return {
        "stage_seconds": {stage: stage_seconds[stage] for stage in STAGES if stage in stage_seconds},
        "duration_seconds": duration,
        "files_timed": timed_files.height,
        "slowest_files": slowest.select("source_file", "ingest_seconds").to_dicts(),
    }


def _quarantined_files(ledger: pl.DataFrame) -> list[dict[str, Any]]:
    quarantined = ledger.filter(pl.col("status") == "quarantined").sort("quarantine_reason", "source_file")
    return [
        {
            "source_file": row["source_file"],
            "reason": row["quarantine_reason"],
            "detail": masked_digit_runs(row["quarantine_detail"]),
            "rows_read": row["rows_read"],
            "rows_estimated": row["rows_estimated"],
        }
        for row in quarantined.iter_rows(named=True)
    ]


def _validation(
    connection: duckdb.DuckDBPyConnection, run_id: str, work: RunWorkDir, source_files: dict[str, str]
) -> list[dict[str, Any]]:
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


def _suite_summary(suite: dict[str, Any], source_files: dict[str, str]) -> dict[str, Any]:
    results = json.loads(suite["results_json"])
    expectations = [_expectation_summary(item, source_files) for item in results.get("expectations", [])]
    validated_at = suite.get("validated_at") or results.get("validation_time")
    return {
        "suite_name": suite["suite_name"],
        "success": bool(suite["success"]),
        "critical_failures": int(suite["critical_failures"]),
        "warnings": int(suite["warnings"]),
        "validated_at": str(validated_at) if validated_at else None,
        "statistics": results.get("statistics", {}),
        "expectations": sorted(
            expectations, key=lambda item: (item["success"], item["severity"] != "critical")
        ),
    }


def _expectation_summary(item: dict[str, Any], source_files: dict[str, str]) -> dict[str, Any]:
    kwargs = dict(item.get("kwargs") or {})
    result = item.get("result") or {}
    columns = kwargs.pop("column", None) or ", ".join(kwargs.pop("column_list", None) or []) or None
    condition = kwargs.pop("row_condition", None)
    kwargs.pop("condition_parser", None)
    observed = result.get("observed_value")
    return {
        "expectation": item["expectation_type"],
        "column": columns,
        "severity": item.get("severity") or "critical",
        "success": bool(item.get("success")),
        "rule": _describe_rule(kwargs),
        "rows": _describe_condition(condition),
        "description": item.get("description"),
        "element_count": result.get("element_count"),
        "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": _rounded(result.get("unexpected_percent")),
        # an aggregate (a share, a count) is safe to show; a value from a row (a most common name) is not
        "observed_value": observed if isinstance(observed, int | float) else None,
        "error": masked_digit_runs(item.get("exception_message")),
        "examples": [
            _example_key(key, source_files) for key in item.get("sample_keys", [])[:EXAMPLE_KEY_COUNT]
        ],
    }


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


def save_stage_seconds(settings: Settings, run_id: str, stage_seconds: dict[str, float]) -> None:
    """Keep the night's stage times with its pipeline_runs row, for v_run_history. Idempotent."""
    with connect(settings.warehouse_path) as connection:
        connection.execute(
            "update pipeline_runs set stage_seconds = ? where run_id = ?",
            [json.dumps(stage_seconds), run_id],
        )


def run_history(warehouse_path: Path, limit: int = 20) -> pl.DataFrame:
    """The most recent runs from v_run_history, newest first."""
    with connect(warehouse_path) as connection:
        return connection.sql("select * from v_run_history limit ?", params=[limit]).pl()


# --- files ----------------------------------------------------------------------------------------------


def write_run_report(settings: Settings, run_id: str) -> list[Path]:
    """Write the run's report, run_report.json and .html (0600), after saving its stage times.

    One pair per run, under `<as-of>/runs/<run id>/`, so a re-run never replaces an earlier run's
    report; `<as-of>/run_report.*` is a copy of the night's latest report that did something (a re-run
    that found nothing new leaves it alone), and `<reports>/index.json` lists every run's report."""
    report = build_run_report(settings, run_id)
    if report["run"]["outcome"] != "not published":
        save_stage_seconds(settings, run_id, report["timings"]["stage_seconds"])
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


def is_empty_report(report: dict[str, Any]) -> bool:
    """A run that read no file and resolved no backlog row: a re-run of a night already processed."""
    stages = report["stages"]
    return not stages["ingest"].get("files_read") and not stages["publish"].get("backlog_rows_resolved")


def _replaces_night_copy(night_copy: Path, report: dict[str, Any]) -> bool:
    if not night_copy.exists() or not is_empty_report(report):
        return True
    try:
        current = json.loads(night_copy.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return bool(current.get("run", {}).get("run_id") == report["run"]["run_id"] or is_empty_report(current))


def _update_report_index(reports_dir: Path, report: dict[str, Any], run_folder: Path) -> None:
    """`<reports>/index.json`: one entry per run report, newest first, and each night's latest."""
    path = reports_dir / REPORT_INDEX
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else []
    except (OSError, ValueError, KeyError, TypeError):
        runs = []  # a damaged index is rebuilt from here on; the reports themselves are intact
    run = report["run"]
    entry = {
        "run_id": run["run_id"],
        "as_of": run["as_of"],
        "outcome": run["outcome"],
        "started_at": run["started_at"],
        "files_read": report["stages"]["ingest"].get("files_read", 0),
        "rows_read": report["stages"]["ingest"].get("rows_read", 0),
        "is_empty": is_empty_report(report),
        "report_json": (run_folder / REPORT_JSON).relative_to(reports_dir).as_posix(),
        "report_html": (run_folder / REPORT_HTML).relative_to(reports_dir).as_posix(),
    }
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


# --- the page -------------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1f2933; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #e4e7eb;
     padding-bottom: .3rem; font-size: 1.25rem; } h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.meta { color: #52606d; font-size: .9rem; } .meta code { font-size: .85rem; }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1.2rem 0; }
.card { border: 1px solid #d9e2ec; border-radius: 8px; padding: .6rem .9rem; min-width: 8.5rem; background: #f8fafc; }
.card .value { font-size: 1.4rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { font-size: .8rem; color: #52606d; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .4rem 0 1rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
th { background: #f0f4f8; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.indent { padding-left: 2rem; color: #3e4c59; }
.ok { color: #0b7a3e; font-weight: 600; } .bad { color: #b42318; font-weight: 600; }
.warn { color: #a15c00; font-weight: 600; } .muted { color: #7b8794; }
tr.failed-critical td { background: #fdecea; } tr.failed-warning td { background: #fff6e5; }
.bar { background: #4c8bf5; height: .7rem; border-radius: 3px; display: inline-block; vertical-align: middle; }
code, .key { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .82rem; }
ul.examples { margin: 0; padding-left: 1rem; } details summary { cursor: pointer; color: #2457c5; margin: .4rem 0; }
.banner { background: #fdecea; border-left: 4px solid #b42318; padding: .6rem .9rem; }
.stages { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .9rem; }
.stage { border: 1px solid #d9e2ec; border-radius: 8px; padding: .2rem .8rem .4rem; }
.stage h3 { margin: .5rem 0 .2rem; text-transform: capitalize; } .stage table { margin: 0; }
.stage td { padding: .2rem .3rem; } tr.sub td { padding-left: 1.4rem; font-size: .82rem; color: #52606d; }
tr.sub td.num { padding-left: .3rem; } .scroll { overflow-x: auto; }
table.expectations td:nth-child(2) { width: 34%; } table.expectations td:nth-child(4) { width: 24%; }
table.expectations code { word-break: break-all; } tr.examples td { border-top: none; padding-top: 0; }
ul.examples { font-size: .8rem; } li.key { overflow-wrap: anywhere; }
tr.failed-critical:not(.examples) td, tr.failed-warning:not(.examples) td { border-bottom: none; }
"""


def render_run_report_html(report: dict[str, Any]) -> str:
    run = report["run"]
    sections = [
        _header_html(report),
        _summary_cards_html(report),
        _row_flow_html(report["stages"]),
        _conservation_html(report),
        _timings_html(report["timings"]),
        _backlog_html(report["stages"]),
        _quarantined_html(report["quarantined_files"]),
        _resent_files_html(report.get("resent_files")),
        _review_decisions_html(report.get("review_decisions")),
        _validation_html(report["validation"]),
    ]
    title = f"vaxsync run report {run['as_of']}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )


def _header_html(report: dict[str, Any]) -> str:
    run = report["run"]
    published = run["outcome"] == "published"
    banner = (
        ""
        if published
        else '<p class="banner">This night did not publish: the warehouse is as it was before it. Counts '
        "after matching are not known; the failed task's log names the stage and the reason.</p>"
    )
    return (
        f"<h1>Nightly sync, night of {_e(run['as_of'])}: "
        f'<span class="{"ok" if published else "bad"}">{_e(run["outcome"])}</span></h1>\n'
        f'<p class="meta">run <code>{_e(run["run_id"])}</code> · started {_e(_seconds(run["started_at"]))} UTC'
        f" · published {_e(_seconds(run['finished_at']) + ' UTC' if run['finished_at'] else 'never')}"
        f" · registry snapshot <code>{_short(run['registry_hash'])}</code>"
        f" · landing <code>{_short(run['landing_hash'])}</code> · report made {_e(report['generated_at'])} UTC</p>"
        + banner
    )


def _summary_cards_html(report: dict[str, Any]) -> str:
    stages, conservation = report["stages"], report["conservation"]
    published = report["run"]["outcome"] == "published"
    critical = sum(suite["critical_failures"] for suite in report["validation"])
    warnings = sum(suite["warnings"] for suite in report["validation"])
    quarantined = stages["ingest"]["files_quarantined"]

    def placed(count_name: str) -> str:
        return f"{stages['publish'][count_name]:,}" if published else "—"

    cards = [
        (f"{stages['ingest']['rows_read']:,}", "rows read", ""),
        (placed("rows_posted"), "posted", ""),
        (placed("rows_duplicate_merged"), "duplicates merged", ""),
        (placed("rows_backlog"), "to the backlog", ""),
        (f"{stages['ingest']['files_read']:,}", "files read", ""),
        (f"{quarantined:,}", "files quarantined", "warn" if quarantined else ""),
        (
            "proven" if conservation["is_proven"] else f"{conservation['violations']} violations",
            "nothing lost (conservation)",
            "ok" if conservation["is_proven"] else "bad",
        ),
        (f"{critical} / {warnings}", "validation: critical / warnings", "bad" if critical else ""),
    ]
    items = "".join(
        f'<div class="card"><div class="value {css}">{_e(value)}</div><div class="label">{_e(label)}</div></div>'
        for value, label, css in cards
    )
    return f'<div class="cards">{items}</div>'


def _row_flow_html(stages: dict[str, dict[str, Any]]) -> str:
    """One box per stage: its counts, and the breakdowns shown nowhere else on the page."""
    boxes = []
    for stage in STAGES:
        rows: list[str] = []
        for name, value in stages.get(stage, {}).items():
            if isinstance(value, dict):
                if name in _BREAKDOWNS_IN_STAGE_BOXES:
                    rows.extend(
                        f'<tr class="sub"><td>{_e(code)}</td><td class="num">{_number(count)}</td></tr>'
                        for code, count in value.items()
                    )
                continue
            rows.append(f'<tr><td>{_e(_label(name))}</td><td class="num">{_number(value)}</td></tr>')
        body = "".join(rows) or '<tr><td class="muted">not reached or not recorded</td><td></td></tr>'
        boxes.append(f'<div class="stage"><h3>{_e(stage)}</h3><table>{body}</table></div>')
    return "<h2>Rows and files at every stage</h2>" + f'<div class="stages">{"".join(boxes)}</div>'


def _conservation_html(report: dict[str, Any]) -> str:
    conservation = report["conservation"]
    tonight = conservation["tonight"]
    if conservation["is_proven"]:
        verdict = (
            '<p><span class="ok">✔ Proven.</span> Every row of every loaded file in the warehouse is in exactly '
            "one place: posted, merged as a duplicate, or in the backlog with a reason.</p>"
        )
    else:
        problems = "".join(
            f"<tr><td class='key'>{_e(item['file'])}</td><td>{_e(item['source_file'] or '')}</td>"
            f"<td>{_e(item['problem'])}</td></tr>"
            for item in conservation["problems"]
        )
        verdict = (
            f'<p><span class="bad">✘ {conservation["violations"]} file(s) break it.</span> '
            "<code>vaxsync.marts.warehouse.conservation_violations()</code> lists all of them.</p>"
            "<table><thead><tr><th>file hash</th><th>source file</th><th>problem</th></tr></thead>"
            f"<tbody>{problems}</tbody></table>"
        )
    if report["run"]["outcome"] != "published":
        return "<h2>Nothing lost (conservation check)</h2>" + verdict
    adds_up = "ok" if tonight["adds_up"] else "bad"
    return (
        "<h2>Nothing lost (conservation check)</h2>"
        + verdict
        + f"<p>Tonight: {_number(tonight['rows_read_in_loaded_files'])} rows read in loaded files, "
        f"{_number(tonight['rows_posted_duplicate_or_backlog'])} posted, merged or in the backlog: "
        f'<span class="{adds_up}">{"adds up" if tonight["adds_up"] else "does not add up"}</span>.</p>'
    )


def _timings_html(timings: dict[str, Any]) -> str:
    seconds = timings["stage_seconds"]
    longest = max(seconds.values(), default=0) or 1
    rows = "".join(
        f'<tr><td>{_e(stage)}</td><td class="num">{value:,.1f}</td>'
        f'<td><span class="bar" style="width:{max(1, round(300 * value / longest))}px"></span></td></tr>'
        for stage, value in seconds.items()
    )
    duration = timings["duration_seconds"]
    slowest = "".join(
        f'<tr><td>{_e(item["source_file"])}</td><td class="num">{item["ingest_seconds"]:,.2f}</td></tr>'
        for item in timings["slowest_files"]
    )
    slowest_table = (
        f"<h3>Slowest files to ingest (of {timings['files_timed']})</h3>"
        '<table><thead><tr><th>source file</th><th class="num">seconds</th></tr></thead>'
        f"<tbody>{slowest}</tbody></table>"
        if slowest
        else ""
    )
    return (
        "<h2>Time per stage</h2>"
        + (f"<p>Discover to publish: {duration:,.1f} s.</p>" if duration is not None else "")
        + '<table><thead><tr><th>stage</th><th class="num">seconds</th><th></th></tr></thead>'
        f"<tbody>{rows}</tbody></table>" + slowest_table
    )


def _backlog_html(stages: dict[str, dict[str, Any]]) -> str:
    tonight = stages["publish"].get("backlog_by_reason", {})
    still_open = stages["backlog_open"]["by_reason"]
    reasons = sorted(set(tonight) | set(still_open), key=lambda code: -still_open.get(code, 0))
    if not reasons:
        return "<h2>Backlog by reason</h2><p>The backlog is empty.</p>"
    rows = "".join(
        f"<tr><td><code>{_e(code)}</code></td><td>{_e(_explain(BACKLOG_REASONS, code))}</td>"
        f'<td class="num">{_number(tonight.get(code, 0))}</td><td class="num">{_number(still_open.get(code, 0))}</td></tr>'
        for code in reasons
    )
    return (
        "<h2>Backlog by reason</h2>"
        '<table><thead><tr><th>reason</th><th>meaning</th><th class="num">new tonight</th>'
        f'<th class="num">open, all nights</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _quarantined_html(files: list[dict[str, Any]]) -> str:
    if not files:
        return "<h2>Quarantined files</h2><p>None tonight.</p>"
    rows = "".join(
        f"<tr><td>{_e(item['source_file'])}</td><td><code>{_e(item['reason'])}</code><br>"
        f'<span class="muted">{_e(_explain(QUARANTINE_REASONS, item["reason"]))}</span></td>'
        f"<td>{_e(item['detail'] or '')}</td><td class='num'>{_number(item['rows_read'])}</td>"
        f"<td class='num'>{_number(item.get('rows_estimated'))}</td></tr>"
        for item in files
    )
    return (
        f"<h2>Quarantined files ({len(files)})</h2>"
        "<p>Nothing from these files was posted; their rows wait for a corrected file.</p>"
        '<table><thead><tr><th>source file</th><th>reason</th><th>detail</th><th class="num">rows read</th>'
        '<th class="num">rows in the file (estimated)</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _resent_files_html(files: list[dict[str, Any]] | None) -> str:
    """New versions of files landed tonight: what each changed in the posted doses (docs/backlog.md)."""
    if not files:
        return ""
    columns = ("shots_kept", "shots_added", "shots_retracted", "shots_replaced", "shots_restored")
    rows = "".join(
        f"<tr><td>{_e(item['source_file'])}</td><td><code>{_e(item['recognised_as'])}</code></td>"
        + "".join(f'<td class="num">{_number(item[name])}</td>' for name in columns)
        + "</tr>"
        for item in files
    )
    header = "".join(f'<th class="num">{_e(_label(name))}</th>' for name in columns)
    return (
        f"<h2>Files sent again ({len(files)})</h2>"
        "<p>A new version replaces the old one: doses only the old version recorded are retracted "
        "(kept in retracted_shots), corrected doses posted.</p>"
        f"<table><thead><tr><th>source file</th><th>recognised as</th>{header}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _review_decisions_html(counts: dict[str, Any] | None) -> str:
    """Decision files and lines read tonight (vaxsync.marts.decisions.review_decision_counts)."""
    if not counts or not (counts["files_read"] or counts["files_quarantined"]):
        return "<h2>Review decisions</h2><p>No new decision file tonight.</p>"
    reasons = {**counts["files_quarantined_by_reason"], **counts["lines_rejected_by_reason"]}
    explained = "".join(
        f"<li><code>{_e(code)}</code> {count}: "
        f'<span class="muted">{_e(_explain({**DECISION_FILE_REASONS, **DECISION_REJECTIONS}, code))}</span></li>'
        for code, count in reasons.items()
    )
    return (
        "<h2>Review decisions</h2>"
        f"<p>Files: {counts['files_read']} read, {counts['files_quarantined']} quarantined, "
        f"{counts['identical_copies_skipped']} identical copies skipped. Lines: {counts['lines_read']} read, "
        f"{counts['lines_applied']} applied, {counts['lines_rejected']} rejected (listed first in each province's "
        f"report).</p><ul>{explained}</ul>"
    )


def _validation_html(suites: list[dict[str, Any]]) -> str:
    if not suites:
        return "<h2>Validation</h2><p>No validation results stored for this run.</p>"
    parts = [
        "<h2>Validation results</h2>"
        "<p>Great Expectations suites run on this night's data, from the stored results (table "
        "<code>validation_results</code>). A failed <b>critical</b> expectation holds back the rows or files it "
        "names (or stops the publish, for synced shots); a <b>warning</b> is only reported. Row keys are masked.</p>"
    ]
    for suite in suites:
        parts.append(_suite_html(suite))
    return "\n".join(parts)


def _suite_html(suite: dict[str, Any]) -> str:
    statistics = suite["statistics"]
    if suite["critical_failures"]:
        verdict = f'<span class="bad">{suite["critical_failures"]} critical failure(s)</span>'
    elif suite["warnings"]:
        verdict = f'<span class="warn">{suite["warnings"]} warning(s)</span>'
    else:
        verdict = '<span class="ok">all passed</span>'
    failed = [item for item in suite["expectations"] if not item["success"]]
    passed = [item for item in suite["expectations"] if item["success"]]
    evaluated = statistics.get("evaluated_expectations", len(suite["expectations"]))
    passed_table = (
        f"<details><summary>{len(passed)} expectation(s) met</summary>{_expectations_table(passed)}</details>"
        if passed
        else ""
    )
    return (
        f'<h3 id="suite-{_e(suite["suite_name"])}">Suite <code>{_e(suite["suite_name"])}</code>: {verdict}</h3>'
        f'<p class="meta">{_number(statistics.get("successful_expectations", len(passed)))} of '
        f"{_number(evaluated)} expectations met · validated {_e(_seconds(suite['validated_at']))}</p>"
        + (_expectations_table(failed) if failed else "")
        + passed_table
    )


def _expectations_table(items: list[dict[str, Any]]) -> str:
    rows = "".join(_expectation_rows_html(item) for item in items)
    return (
        '<div class="scroll"><table class="expectations"><thead><tr><th>result</th><th>expectation</th>'
        '<th>column</th><th>rule</th><th class="num">rows checked</th><th class="num">failing</th>'
        f'<th class="num">% failing</th></tr></thead><tbody>{rows}</tbody></table></div>'
    )


def _expectation_rows_html(item: dict[str, Any]) -> str:
    """The expectation's row, then (when it names failing rows) a full-width row of masked examples."""
    if item["success"]:
        css, verdict = "", '<span class="ok">pass</span>'
    elif item["severity"] == "critical":
        css, verdict = "failed-critical", '<span class="bad">FAIL</span>'
    else:
        css, verdict = "failed-warning", '<span class="warn">FAIL</span>'
    rule = " · ".join(
        part for part in (item["rule"], item["rows"] if item["rows"] != "all rows" else "") if part
    )
    notes = [text for text in (item["description"], item["error"]) if text]
    if item["observed_value"] is not None:
        notes.append(f"observed: {_number(item['observed_value'])}")
    details = "".join(f'<br><span class="muted">{_e(text)}</span>' for text in notes)
    examples = "".join(f'<li class="key">{_e(key)}</li>' for key in item["examples"])
    example_row = (
        f'<tr class="{css} examples"><td></td><td colspan="6">e.g. (masked keys)'
        f'<ul class="examples">{examples}</ul></td></tr>'
        if examples
        else ""
    )
    return (
        f'<tr class="{css}"><td>{verdict}<br><span class="muted">{_e(item["severity"])}</span></td>'
        f"<td><code>{_e(item['expectation'])}</code>{details}</td><td>{_e(item['column'] or '(table)')}</td>"
        f"<td>{_e(rule)}</td><td class='num'>{_number(item['element_count'])}</td>"
        f"<td class='num'>{_number(item['unexpected_count'])}</td>"
        f"<td class='num'>{_number(item['unexpected_percent'])}</td></tr>" + example_row
    )


def _explain(reasons: dict[str, Any], code: str | None) -> str:
    reason = reasons.get(code or "")
    return reason.english if reason else ""


def _label(name: str) -> str:
    return name.replace("_", " ")


def _seconds(timestamp: str | None) -> str:
    """An ISO timestamp to the second ('2026-11-22 03:04:24'); '—' when there is none."""
    return timestamp.replace("T", " ")[:19] if timestamp else "—"


def _short(value: str | None) -> str:
    """A hash's first 10 characters, as git shows commits (the JSON has the full hash)."""
    return _e(value[:10]) if value else "?"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return _e(str(value))


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def write_reports(settings: Settings, *, run_id: str) -> list[Path]:
    """The backlog summary by province, and the run report (vaxsync.reports.run_report) with its conservation check."""

    folder = settings.reports_dir / settings.as_of.isoformat()
    summary = backlog_summary(settings)
    return [
        write_private(folder / "backlog_summary_by_province.csv", summary.write_csv().encode("utf-8")),
        *write_run_report(settings, run_id),
    ]
