"""The nightly sync as stage functions. The CLI calls run_nightly(); the Airflow DAG calls each stage.

Stages exchange Parquet and JSON under settings.run_work_dir; only publish_batch writes the warehouse,
in one transaction, so a crashed night is simply run again. Every stage returns a small
JSON-serialisable dict of counts (never personal data), fit for XCom and logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from vaxsync.settings import Settings
from vaxsync.workdir import RunWorkDir, read_json, write_json

log = logging.getLogger(__name__)

StageResult = dict[str, Any]


# --- discover -------------------------------------------------------------------------------------------


def discover_new_exports(settings: Settings) -> list[str]:
    """Start the night: reset the work folder and list the landed files whose content is new.

    A (path, content) pair already in the ledger is a no-op. New content seen under a second path, in
    this landing or an earlier one, is recorded in the ledger as duplicate_content and not read again.
    """
    from transforms.ingest import file_content_hash, list_landed_files
    from vaxsync.warehouse import known_ledger_entries

    _check_inputs(settings)
    work = RunWorkDir(settings)
    work.reset()
    known_pairs, known_hashes = known_ledger_entries(settings.warehouse_path)
    entries: list[dict[str, str]] = []
    first_path_by_hash: dict[str, str] = {}
    for source_file in list_landed_files(settings.landing_dir):
        file_hash = file_content_hash(settings.landing_dir / source_file)
        if (source_file, file_hash) in known_pairs:
            continue
        if file_hash in known_hashes or file_hash in first_path_by_hash:
            entries.append(
                {"source_file": source_file, "file_hash": file_hash, "status": "duplicate_content"}
            )
            continue
        first_path_by_hash[file_hash] = source_file
        entries.append({"source_file": source_file, "file_hash": file_hash, "status": "new"})
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    write_json(
        work.run_file,
        {
            "run_id": f"{settings.as_of.isoformat()}@{started_at:%Y%m%dT%H%M%S}",
            "as_of": settings.as_of.isoformat(),
            "started_at": started_at.isoformat(),
            "registry_hash": file_content_hash(settings.registry_path),
            "landing_hash": _landing_hash(entries),
            "stage_seconds": {},
        },
    )
    write_json(work.discovered_file, entries)
    new_files = [entry["source_file"] for entry in entries if entry["status"] == "new"]
    log.info("discovered %d new files, %d duplicate copies", len(new_files), len(entries) - len(new_files))
    return new_files


def _check_inputs(settings: Settings) -> None:
    if not settings.registry_path.is_file():
        raise InputError(f"registry snapshot not found: {settings.registry_path}")
    if not settings.landing_dir.is_dir():
        raise InputError(f"landing folder not found: {settings.landing_dir}")
    _check_writable_folder(settings.warehouse_path.parent, "warehouse folder")
    _check_writable_folder(settings.reports_dir, "reports folder")
    if settings.warehouse_path.is_file() and not os.access(settings.warehouse_path, os.W_OK):
        raise InputError(f"warehouse is not writable: {settings.warehouse_path}")


def _check_writable_folder(folder: Path, what: str) -> None:
    """The folder, or the nearest existing folder above it (where it would be created), is writable."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise InputError(f"{what} is not writable: {folder}")


class InputError(Exception):
    """An argument the run cannot use (missing registry, unwritable warehouse); the CLI prints it as one line."""


def discovered_hashes(work: RunWorkDir) -> dict[str, str]:
    """source_file -> content hash, as discovery computed them for this night."""
    return {entry["source_file"]: entry["file_hash"] for entry in read_json(work.discovered_file)}


def _landing_hash(entries: list[dict[str, str]]) -> str:
    listing = "\n".join(f"{entry['source_file']}\t{entry['file_hash']}" for entry in entries)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


# --- ingest ---------------------------------------------------------------------------------------------


def ingest_export(settings: Settings, source_file: str) -> StageResult:
    """Stage one export file (or quarantine it) into the run's work folder; return its ledger summary."""
    from transforms.ingest import stage_export

    work = RunWorkDir(settings)
    file_hash = discovered_hashes(work)[source_file]  # hashed once, at discovery
    staged = stage_export(settings.landing_dir, source_file, file_hash)
    if staged.rows is not None:
        staged.rows.write_parquet(work.staged_file(file_hash))
    write_json(work.ledger_file(file_hash), staged.ledger)
    return {
        "file_hash": file_hash,
        "status": staged.ledger["status"],
        "quarantine_reason": staged.ledger["quarantine_reason"],
        "rows_read": staged.ledger["rows_read"],
    }


# --- normalize ------------------------------------------------------------------------------------------


def normalize_batch(settings: Settings) -> StageResult:
    """Normalize all staged rows of this run, then validate the raw and normalized layers.

    A file whose normalized rows fail a critical expectation is quarantined whole (validation_failed):
    its rows are held back, never half-published.
    """
    from transforms.normalize.reference import load_reference
    from transforms.normalize.shots import normalize_shots
    from vaxsync import quality

    work = RunWorkDir(settings)
    started = time.perf_counter()
    staged_files = sorted(work.staged_dir.glob("*.parquet"))
    reference = load_reference().with_registry(pl.scan_parquet(settings.registry_path))
    if staged_files:
        staged = pl.scan_parquet(staged_files)
        normalized = normalize_shots(
            staged, as_of=settings.as_of, campaign_start=settings.campaign_start, reference=reference
        ).collect()
    else:
        normalized = _empty_normalized()
    held_back = quality.validate_normalized_layer(settings, work, normalized, reference)
    if held_back:
        normalized = normalized.filter(~pl.col("file_hash").is_in(list(held_back)))
    normalized.write_parquet(work.normalized_file)
    _record_stage_time(work, "normalize", started)
    return {
        "rows_normalized": normalized.height,
        "rows_rejected": normalized.filter(pl.col("reject_reason").is_not_null()).height,
        "files_held_back": len(held_back),
    }


def _empty_normalized() -> pl.DataFrame:
    from vaxsync.contracts import NORMALIZED_EXTRA_SCHEMA, STAGED_ROW_SCHEMA

    return pl.DataFrame(schema={**STAGED_ROW_SCHEMA, **NORMALIZED_EXTRA_SCHEMA})


# --- match ----------------------------------------------------------------------------------------------


def match_batch(settings: Settings) -> StageResult:
    """Match normalized shots to registry citizens: the deterministic ID pass, then probabilistic linkage
    of the rows it left unmatched. The fitted model is saved with the run."""
    from matching.deterministic import match_by_id
    from matching.probabilistic import link_probabilistically
    from vaxsync.registry_cache import prepared_registry

    work = RunWorkDir(settings)
    started = time.perf_counter()
    registry = prepared_registry(settings, snapshot_hash=read_json(work.run_file)["registry_hash"])
    normalized = pl.scan_parquet(work.normalized_file)
    deterministic = match_by_id(normalized, registry).collect()
    linked = link_probabilistically(normalized, registry, deterministic, workdir=work.root)
    keys = ["file_hash", "source_row"]
    matches = pl.concat([deterministic.join(linked.matches, on=keys, how="anti"), linked.matches])
    matches.write_parquet(work.matches_file)
    linked.review_candidates.write_parquet(work.review_candidates_file)
    linked.blocking_report.write_parquet(work.root / "blocking_report.parquet")
    _record_stage_time(work, "match", started)
    return {
        "rows_matched_by_id": deterministic.filter(pl.col("citizen_id").is_not_null()).height,
        "rows_matched_probabilistically": linked.matches.filter(pl.col("citizen_id").is_not_null()).height,
        "rows_in_review": linked.matches.filter(pl.col("match_reason") == "review_required").height,
        "rows_unmatched": matches.filter(pl.col("citizen_id").is_null()).height,
    }


# --- publish --------------------------------------------------------------------------------------------


def publish_batch(settings: Settings) -> StageResult:
    """Validate the night's new synced shots, then merge everything into the warehouse in one transaction."""
    from vaxsync.publish import publish

    work = RunWorkDir(settings)
    started = time.perf_counter()
    summary = publish(settings, work)
    _record_stage_time(work, "publish", started)
    write_json(work.published_file, summary)
    return summary


# --- report ---------------------------------------------------------------------------------------------


def report_batch(settings: Settings) -> StageResult:
    """Write the night's backlog summary reports."""
    from vaxsync.reports import write_reports

    work = RunWorkDir(settings)
    run = read_json(work.run_file)
    paths = write_reports(settings, run_id=run["run_id"])
    return {"reports": [str(path) for path in paths]}


# --- the whole night ------------------------------------------------------------------------------------

ProgressCallback = Callable[[str, int, int], None]


def run_nightly(settings: Settings, on_progress: ProgressCallback | None = None) -> StageResult:
    """Run every stage in order, as the DAG does, in this process."""
    started = time.perf_counter()
    new_files = discover_new_exports(settings)
    work = RunWorkDir(settings)
    ingest_started = time.perf_counter()
    for index, source_file in enumerate(new_files, start=1):
        ingest_export(settings, source_file)
        if on_progress:
            on_progress("ingest", index, len(new_files))
    _record_stage_time(work, "ingest", ingest_started)
    for stage_name, stage in (("normalize", normalize_batch), ("match", match_batch)):
        if on_progress:
            on_progress(stage_name, 0, 1)
        stage(settings)
    if on_progress:
        on_progress("publish", 0, 1)
    summary = publish_batch(settings)
    report_batch(settings)
    summary["wall_seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _record_stage_time(work: RunWorkDir, stage_name: str, started: float) -> None:
    run = read_json(work.run_file)
    run["stage_seconds"][stage_name] = round(time.perf_counter() - started, 3)
    write_json(work.run_file, run)
