"""Runs the validation suites at each layer and acts on the outcome.

Raw layer: one metrics row per file; failures are stored with the file's ledger row.
Normalized layer: a file with a critical failure is held back (quarantined as validation_failed).
Synced layer: a critical failure stops the publish (CriticalValidationError).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl

from validation import (
    build_normalized_shots_suite,
    build_raw_file_metrics_suite,
    import_great_expectations,
    run_suite,
)
from vaxsync.core.contracts import LEDGER_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import STAGED_PARQUET_OPTIONS, RunWorkDir, read_json, write_json

log = logging.getLogger(__name__)
_importing_validation: threading.Thread | None = None


def _warnings_and_above(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


# GX sets this logger to INFO when imported and announces every temporary folder it makes, in the CLI's
# output and in every Airflow task log: a filter (which GX's setLevel does not undo) keeps warnings only.
for _name in ("great_expectations", "great_expectations.data_context.types.base"):
    logging.getLogger(_name).addFilter(_warnings_and_above)


def start_importing_validation() -> None:
    """Import Great Expectations (seconds of CPU) in a background thread, so that it loads while the
    stages before validation run (polars and DuckDB release the GIL). Started once per process; the
    suites' first import of it simply waits for it (validation.gx_import's lock)."""
    global _importing_validation
    if _importing_validation is None:
        _importing_validation = threading.Thread(target=_import_quietly, name="import-gx", daemon=True)
        _importing_validation.start()


background_import_seconds: dict[str, float] = {}  # wall and CPU of the background import, for benchmarks


def _import_quietly() -> None:
    started, started_cpu = time.perf_counter(), time.thread_time()
    try:
        import_great_expectations()
    except Exception as error:  # the real import, where validation needs it, raises it properly
        log.debug("background import of great_expectations failed: %s", type(error).__name__)
    background_import_seconds.update(wall=time.perf_counter() - started, cpu=time.thread_time() - started_cpu)


def work_ledger_frame(work: RunWorkDir) -> pl.DataFrame:
    """The night's ledger JSONs as one frame in LEDGER_SCHEMA. The schema is declared, never inferred:
    inferred from the first entries, a later file's value in a column null until then (encoding_repair
    "vni" after 100 files without a repair) crashed the night."""
    paths = sorted(work.ledger_dir.glob("*.json")) if work.ledger_dir.exists() else []
    entries = [read_json(path) for path in paths]
    rows = [{column: entry.get(column) for column in LEDGER_SCHEMA} for entry in entries]
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA)


def raw_file_metrics(work: RunWorkDir, normalized: pl.DataFrame) -> pl.DataFrame:
    """One row per ledger entry of this run, with the raw-layer metrics the raw suite checks."""
    ledgers = work_ledger_frame(work)
    if ledgers.is_empty():
        return pl.DataFrame()
    per_file = normalized.group_by("file_hash").agg(
        share_blank_id=(pl.col("id_kind") == "missing").mean(),
        share_unparsable_dates=pl.col("reject_reason")
        .is_in(["birth_date_invalid", "vaccination_date_invalid"])
        .mean(),
    )
    return (
        ledgers.select(
            "source_file",
            "file_hash",
            pl.col("rows_read").cast(pl.Int64),
            is_required_columns_present=pl.col("quarantine_reason").fill_null("")
            != "missing_required_columns",
        )
        .join(per_file, on="file_hash", how="left")
        .with_columns(pl.col("share_blank_id", "share_unparsable_dates").fill_null(0.0))
    )


def validate_normalized_layer(
    settings: Settings, work: RunWorkDir, normalized: pl.DataFrame, reference: Any
) -> set[str]:
    """Validate raw metrics and normalized rows; quarantine files with critical failures. Returns their hashes."""

    metrics = raw_file_metrics(work, normalized)
    if not metrics.is_empty():
        raw_outcome = run_suite(metrics, build_raw_file_metrics_suite(), id_columns=["file_hash"])
        store_outcome(work, raw_outcome)
        _attach_raw_failures(work, raw_outcome)
    if normalized.is_empty():
        return set()
    suite = build_normalized_shots_suite(
        settings.as_of, settings.campaign_start, reference.vaccines["vaccine_code"].to_list()
    )
    outcome = run_suite(normalized, suite, id_columns=["file_hash", "source_row"])
    store_outcome(work, outcome)
    held_back = {str(key[0]) for key in outcome.failing_keys()}
    for file_hash in held_back:
        _quarantine_after_validation(work, file_hash, outcome)
    _drop_staged_rows(work, held_back)
    return held_back


def validate_and_write_normalized_layer(
    settings: Settings, work: RunWorkDir, normalized: pl.DataFrame, reference: Any
) -> tuple[set[str], pl.DataFrame]:
    """validate_normalized_layer, then normalized.parquet holding the rows of the files not held back.
    Returns the held-back files' hashes and the rows written.

    The file is written while the layers are validated: GX runs single-threaded Python, and polars writes
    without the GIL, on the core GX leaves idle (medium night: 0.6-0.8 CPU s of writing off the stage's
    wall). It is written under a temporary name, renamed once the suites have held no file back; a night
    that holds one back (rare) writes the remaining rows instead."""
    temporary = work.normalized_file.with_suffix(".parquet.tmp")  # not a *.parquet until validated
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-normalized") as writing:
            written = writing.submit(normalized.write_parquet, temporary)
            held_back = validate_normalized_layer(settings, work, normalized, reference)
            written.result()
    except BaseException:
        temporary.unlink(missing_ok=True)  # leaving the block waited for the writer
        raise
    if not held_back:
        temporary.replace(work.normalized_file)
        return held_back, normalized
    temporary.unlink()
    kept = normalized.filter(~pl.col("file_hash").is_in(sorted(held_back)))
    kept.write_parquet(work.normalized_file)
    return held_back, kept


def _attach_raw_failures(work: RunWorkDir, outcome: Any) -> None:
    """Store, with each file's ledger entry, the raw-layer expectations the file failed."""
    failures_by_file: dict[str, list[str]] = {}
    for failure in [*outcome.critical_failures, *outcome.warnings]:
        for file_hash in failure.row_keys["file_hash"].to_list():
            failures_by_file.setdefault(file_hash, []).append(f"{failure.expectation_type}({failure.column})")
    for file_hash, failures in failures_by_file.items():
        path = work.ledger_file(file_hash)
        if path.exists():
            ledger = read_json(path)
            ledger["raw_validation"] = json.dumps(sorted(set(failures)))
            write_json(path, ledger)


def _quarantine_after_validation(work: RunWorkDir, file_hash: str, outcome: Any) -> None:
    path = work.ledger_file(file_hash)
    ledger = read_json(path)
    failed = sorted({failure.expectation_type for failure in outcome.critical_failures})
    ledger.update(
        status="quarantined",
        quarantine_reason="validation_failed",
        quarantine_detail=f"{outcome.suite_name}: {', '.join(failed)}",
    )
    write_json(path, ledger)


def _drop_staged_rows(work: RunWorkDir, file_hashes: set[str]) -> None:
    """Take the held-back files' rows out of the staged batch files, so that normalize run again never
    reads them (a batch file holds the rows of the batch's other files too)."""
    if not file_hashes:
        return
    for path in work.staged_files():
        staged = pl.read_parquet(path)
        kept = staged.filter(~pl.col("file_hash").is_in(sorted(file_hashes)))
        if kept.height == staged.height:
            continue
        if kept.is_empty():
            path.unlink()
            continue
        temporary = path.with_suffix(".parquet.tmp")  # not a *.parquet until complete
        kept.write_parquet(temporary, **STAGED_PARQUET_OPTIONS)
        temporary.replace(path)


def store_outcome(work: RunWorkDir, outcome: Any) -> None:
    write_json(
        work.validation_dir / f"{outcome.suite_name}.json",
        {
            "suite_name": outcome.suite_name,
            "success": outcome.success,
            "critical_failures": len(outcome.critical_failures),
            "warnings": len(outcome.warnings),
            "results_json": outcome.results_json,
        },
    )
