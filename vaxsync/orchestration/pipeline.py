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
import select
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from matching.probabilistic import MODEL_FILE_NAME
from transforms.ingest import (
    changed_reason,
    file_content_hash,
    landed_file_stat,
    landed_path,
    list_landed_files,
    named_as_workbook,
    settling_reason,
    stop_workbook_reader,
    unreadable_file_key,
)
from transforms.normalize.reference import load_reference
from transforms.normalize.shots import normalize_shots
from validation import CriticalValidationError
from vaxsync.core.contracts import NORMALIZED_EXTRA_SCHEMA, STAGED_ROW_SCHEMA
from vaxsync.core.errors import InputError
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import memory_limit_accepted
from vaxsync.core.workdir import (
    RunWorkDir,
    expired_work_dirs,
    read_json,
    remove_work_dirs,
    write_json,
)
from vaxsync.marts import quality
from vaxsync.marts.backlog import write_match_input
from vaxsync.marts.coverage import build_coverage
from vaxsync.marts.decisions import apply_review_decisions, validate_tonight_decisions
from vaxsync.marts.publish import publish
from vaxsync.marts.quality import start_importing_validation
from vaxsync.marts.readmission import readmittable_files, validation_rules_version
from vaxsync.marts.registry_cache import (
    make_cache_private,
    prepare_snapshot,
    prepared_registry,
    reading_snapshot,
    registry_snapshot_problem,
    registry_surname_statistics,
    snapshot_changed,
    start_preparing_snapshot,
)
from vaxsync.marts.resends import path_arrivals
from vaxsync.marts.snapshot_changes import count_flagged_shots
from vaxsync.marts.warehouse import (
    connect,
    known_ledger_entries,
    night_lock,
    open_when_free,
    sibling_connection,
    warehouse_file_problem,
)
from vaxsync.orchestration import storage
from vaxsync.orchestration.ingest_worker import IngestWorker, ingest_exports
from vaxsync.orchestration.match_partitions import combine_partitions, gather_partition, plan_partitions
from vaxsync.reports.province_report_files import start_province_reports
from vaxsync.reports.run_report import write_reports, write_run_report

log = logging.getLogger(__name__)

StageResult = dict[str, Any]


# --- discover -------------------------------------------------------------------------------------------


def discover_new_exports(settings: Settings, *, inputs_checked: bool = False) -> list[str]:
    """Start the night: reset the work folder and list the landed files whose content is new.

    A (path, content) pair already in the ledger is a no-op. New content seen under a second path, in
    this landing or an earlier one, is recorded in the ledger as duplicate_content and not read again.
    inputs_checked: run_nightly checked them before waiting for the night lock; only the as-of is
    checked again (the night it waited for may have published a later one).
    """

    started = time.perf_counter()
    if inputs_checked:
        _check_as_of(settings)
    else:
        _check_inputs(settings)
    registry_hash = file_content_hash(settings.registry_path)
    _check_snapshot_not_older(settings, registry_hash)
    work = RunWorkDir(settings)
    work.reset()
    _protect_personal_data(settings)
    rules_version = validation_rules_version(settings.campaign_start)
    known_pairs, known_hashes = known_ledger_entries(settings)
    # Quarantined files to read again (changed as-of or rules, or an operator's request): as if new.
    readmitted = _readmitted_files(settings, rules_version)
    known_pairs -= readmitted
    known_hashes -= {file_hash for _, file_hash in readmitted}
    entries: list[dict[str, str]] = []
    first_path_by_hash: dict[str, str] = {}
    landed_files = list_landed_files(settings.landing_dir)
    hashes, deferred = _settled_file_hashes(settings, landed_files)
    last_seen_at_path, loaded_pairs = path_arrivals(settings)  # vaxsync.marts.resends
    for source_file, file_hash in hashes.items():
        if (source_file, file_hash) in known_pairs:
            # An older version landing again where other content was last seen: it is the current one again.
            if (
                last_seen_at_path.get(source_file, file_hash) != file_hash
                and (source_file, file_hash) in loaded_pairs
            ):
                entries.append({"source_file": source_file, "file_hash": file_hash, "status": "rearrived"})
            continue
        if file_hash in known_hashes or file_hash in first_path_by_hash:
            entries.append(
                {"source_file": source_file, "file_hash": file_hash, "status": "duplicate_content"}
            )
            continue
        first_path_by_hash[file_hash] = source_file
        entries.append({"source_file": source_file, "file_hash": file_hash, "status": "new"})
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    new_files = [entry["source_file"] for entry in entries if entry["status"] == "new"]
    write_json(
        work.run_file,
        {
            "run_id": f"{settings.as_of.isoformat()}@{started_at:%Y%m%dT%H%M%S}",
            "as_of": settings.as_of.isoformat(),
            "started_at": started_at.isoformat(),
            "registry_hash": registry_hash,
            "rules_version": rules_version,
            "landing_hash": _landing_hash(entries),
            "deferred_files": deferred,
            "stage_seconds": {"discover": round(time.perf_counter() - started, 3)},
            "stage_counts": {
                "discover": {
                    "files_landed": len(landed_files),
                    "files_already_in_ledger": len(landed_files) - len(entries),
                    "files_readmitted": sum(
                        (entry["source_file"], entry["file_hash"]) in readmitted for entry in entries
                    ),
                    "files_new": len(new_files),
                    "files_duplicate_content": sum(
                        entry["status"] == "duplicate_content" for entry in entries
                    ),
                    "files_rearrived": sum(entry["status"] == "rearrived" for entry in entries),
                    "files_deferred": len(deferred),
                }
            },
        },
    )
    write_json(work.discovered_file, entries)
    log.info("discovered %d new files, %d duplicate copies", len(new_files), len(entries) - len(new_files))
    return new_files


def _settled_file_hashes(
    settings: Settings, landed_files: list[str]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The content hash of each landed file that has settled, and the files left for a later night (an
    upload in progress: modified within settings.landing_settle_seconds of the listing, or changed or gone
    while the landing was hashed). A deferred file is not in the ingest ledger: the next night lists it
    as new; the deferred_files ledger records each night that left it (transforms.ingest.landing)."""
    listed_at_ns = time.time_ns()
    stats = {source_file: landed_file_stat(settings.landing_dir, source_file) for source_file in landed_files}
    reasons = {
        source_file: settling_reason(stat, listed_at_ns, settings.landing_settle_seconds)
        for source_file, stat in stats.items()
    }
    hashes: dict[str, str] = {}
    for source_file in landed_files:
        if reasons[source_file]:
            continue
        try:
            hashes[source_file] = file_content_hash(landed_path(settings.landing_dir, source_file))
        except OSError:  # not ours to read (permissions): ingest quarantines it, the night goes on
            hashes[source_file] = unreadable_file_key(source_file)
    for source_file in hashes:  # the discovery window: a file written meanwhile was hashed half-written
        before = stats[source_file]
        if before is not None:
            reasons[source_file] = changed_reason(before, landed_file_stat(settings.landing_dir, source_file))
    deferred = [
        {"source_file": source_file, "reason": reason, **_listed_size_and_time(stats[source_file])}
        for source_file, reason in reasons.items()
        if reason
    ]
    if deferred:
        log.warning("%d landed files are still being written: left for the next night", len(deferred))
    return {file: file_hash for file, file_hash in hashes.items() if not reasons[file]}, deferred


def _listed_size_and_time(stat: tuple[int, int] | None) -> dict[str, int | None]:
    size, modified_at_ns = stat or (None, None)
    return {"file_size_bytes": size, "modified_at_ns": modified_at_ns}


def _check_inputs(settings: Settings) -> None:
    """Everything an operator can get wrong, checked before any work (each an InputError, one line)."""

    if not settings.registry_path.is_file():
        raise InputError(f"registry snapshot not found: {settings.registry_path}")
    if not settings.landing_dir.is_dir():
        raise InputError(f"landing folder not found: {settings.landing_dir}")
    _check_writable_folder(settings.warehouse_path.parent, "warehouse folder")
    _check_writable_folder(settings.reports_dir, "reports folder")
    _check_writable_folder(settings.work_base_dir, "work folder")
    if settings.warehouse_path.is_file() and not os.access(settings.warehouse_path, os.W_OK):
        raise InputError(f"warehouse is not writable: {settings.warehouse_path}")
    problem = warehouse_file_problem(settings.warehouse_path)
    if problem:
        raise InputError(problem)
    _check_outputs_outside_landing(settings)
    _check_decisions_folder(settings)
    problem = registry_snapshot_problem(settings.registry_path)
    if problem:
        raise InputError(problem)
    if settings.partition_store:
        _check_partition_store(settings.partition_store)
    for variable, limit in [
        ("VAXSYNC_DUCKDB_MEMORY_LIMIT", settings.duckdb_memory_limit),
        ("VAXSYNC_MATCH_DUCKDB_MEMORY_LIMIT", settings.match_duckdb_memory_limit),
    ]:
        if not memory_limit_accepted(limit):
            raise InputError(
                f"{variable}={limit!r} is not usable: not a memory size DuckDB accepts, e.g. 4GB"
            )
    _check_as_of(settings)


def _check_outputs_outside_landing(settings: Settings) -> None:
    """What the night writes (the warehouse's folder with its cache and exports, the work folder, the
    reports) and the reviewers' decisions must not lie inside the landing folder: the next night would
    list them as facility exports, and a report workbook's rows could be read as doses."""
    landing = settings.landing_dir.resolve()
    for what, folder in [
        ("warehouse folder", settings.warehouse_path.parent),
        ("work folder", settings.work_base_dir),
        ("reports folder", settings.reports_dir),
        ("decisions folder", settings.decisions_dir),
    ]:
        if folder.resolve().is_relative_to(landing):
            raise InputError(f"{what} is inside the landing folder {settings.landing_dir}: {folder}")
    # The other way round: a landing folder inside what the night writes or reviewers send back would
    # read the province reports (backlog rows, candidates) and filled decision files as exports.
    for what, folder in [
        ("work folder", settings.work_base_dir),
        ("reports folder", settings.reports_dir),
        ("decisions folder", settings.decisions_dir),
    ]:
        if landing.is_relative_to(folder.resolve()):
            raise InputError(f"landing folder is inside the {what} {folder}: {settings.landing_dir}")


def _check_decisions_folder(settings: Settings) -> None:
    """A decisions folder that is a file stopped the night at match with `File exists`, after ingest; one
    named (--decisions, VAXSYNC_DECISIONS_DIR) under a folder that does not exist is a typo whose
    reviewers' decisions would be ignored night after night without a word. (The unnamed default is only
    created, like any named folder, when its parent exists.) A parent the night itself creates (a new
    deployment's folder that will hold the warehouse or the reports) is no typo."""
    folder = settings.decisions_dir
    if folder.exists() and not folder.is_dir():
        raise InputError(f"decisions folder is a file, expected a folder: {folder}")
    created_tonight = (settings.warehouse_path.parent, settings.reports_dir)
    parent_created_tonight = any(
        folder.parent == created or folder.parent in created.parents for created in created_tonight
    )
    if (
        "decisions_dir" in settings.model_fields_set
        and not folder.parent.is_dir()
        and not parent_created_tonight
    ):
        raise InputError(
            f"decisions folder not found, nor the folder above it (the night creates only the last): {folder}"
        )


def _check_partition_store(url: str) -> None:
    """An object store whose file system is not installed (s3fs) or not known would stop the night at
    the match stage, after ingest and normalize."""
    try:
        storage.location(url).fs  # noqa: B018 - loads the protocol's file system
    except (ImportError, ValueError) as error:
        raise InputError(f"partition store {url} cannot be used: {error}") from None


def _check_as_of(settings: Settings) -> None:
    """A wrong as-of quarantines every file as validation_failed or posts nothing: refuse the likely
    mistakes (before the campaign, or before a night already published) unless forced."""
    if settings.force_as_of:
        return
    if settings.as_of < settings.campaign_start:
        raise InputError(
            f"--as-of {settings.as_of} is before the campaign start {settings.campaign_start}"
            " (pass --force if that is really meant)"
        )
    latest = dt.date.today() + dt.timedelta(days=1)  # a night run just after midnight in UTC+7 is a day ahead
    if settings.as_of > latest:
        raise InputError(
            f"--as-of {settings.as_of} is after today {dt.date.today()}: shots dated up to it would post, and"
            " every later night would stand before it (pass --force if that is really meant)"
        )
    last = _last_published_as_of(settings)
    if last is not None and settings.as_of < last:
        raise InputError(
            f"--as-of {settings.as_of} is earlier than the last published night {last}"
            " (pass --force if that is really meant)"
        )


def _check_snapshot_not_older(settings: Settings, registry_hash: str) -> None:
    """A snapshot an earlier night used, after a newer one was published, is most likely an old file
    passed by mistake: its missing citizens would send their rows to namesakes or the backlog, and flag
    their posted shots. Refused unless forced (the same content under another name is the same snapshot)."""
    if settings.force_as_of or not settings.warehouse_path.is_file():
        return
    with connect(settings.warehouse_path, settings=settings) as connection:
        nights = connection.execute(
            """select registry_hash, max(as_of) from pipeline_runs where outcome = 'published'
               group by registry_hash order by max(as_of) desc"""
        ).fetchall()
    if not nights or nights[0][0] == registry_hash:
        return
    last_used = next((as_of for snapshot, as_of in nights if snapshot == registry_hash), None)
    if last_used is not None:
        raise InputError(
            f"registry snapshot {settings.registry_path} is the one nights up to {last_used} used, older than"
            f" the snapshot of the last night {nights[0][1]} (pass --force if going back is really meant)"
        )


def _last_published_as_of(settings: Settings) -> dt.date | None:

    if not settings.warehouse_path.is_file():
        return None
    connection = open_when_free(
        settings.warehouse_path, read_only=True, lock_wait_seconds=settings.warehouse_lock_wait_seconds
    )
    try:
        has_runs = connection.execute(
            "select count(*) from information_schema.tables where table_name = 'pipeline_runs'"
        ).fetchall()[0][0]
        if not has_runs:
            return None
        last = connection.execute(
            "select max(as_of) from pipeline_runs where outcome = 'published'"
        ).fetchall()[0][0]
    finally:
        connection.close()
    return last if isinstance(last, dt.date) else None


def _protect_personal_data(settings: Settings) -> None:
    """Owner-only caches (also those written by older versions), and no work folder of a published
    night kept longer than settings.work_retention_days."""

    make_cache_private(settings)
    if not settings.warehouse_path.is_file():
        return
    with connect(settings.warehouse_path, settings=settings) as connection:
        rows = connection.execute("select distinct as_of from pipeline_runs where outcome = 'published'")
        published = [row[0] for row in rows.fetchall() if row[0] != settings.as_of]
    expired = expired_work_dirs(settings.work_base_dir, published, keep_days=settings.work_retention_days)
    if expired:
        log.info(
            "removed %d work folders of nights published over %d days ago",
            remove_work_dirs(expired),
            settings.work_retention_days,
        )


def _readmitted_files(settings: Settings, rules_version: str) -> set[tuple[str, str]]:

    if not settings.warehouse_path.is_file():
        return set()
    with connect(settings.warehouse_path, settings=settings) as connection:
        return readmittable_files(connection, as_of=settings.as_of, rules_version=rules_version)


def _check_writable_folder(folder: Path, what: str) -> None:
    """The folder, or the nearest existing folder above it (where it would be created), is writable."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{what} cannot be created, {existing} is a file: {folder}")
    if not os.access(existing, os.W_OK):
        raise InputError(f"{what} is not writable: {folder}")


def _landing_hash(entries: list[dict[str, str]]) -> str:
    listing = "\n".join(f"{entry['source_file']}\t{entry['file_hash']}" for entry in entries)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


# --- ingest ---------------------------------------------------------------------------------------------


INGEST_BATCH_FILES = 64  # files per batch (one Airflow task, or one job of the local process pool)


def ingest_export(settings: Settings, source_file: str) -> StageResult:
    """Stage one export file (or quarantine it) into the run's work folder; return its ledger summary."""
    return ingest_exports(settings, [source_file])[0]


def ingest_batches(source_files: list[str], files_per_batch: int = INGEST_BATCH_FILES) -> list[list[str]]:
    """The new files in batches of files_per_batch (what the DAG maps ingest_exports over): in order, but
    workbooks last. A process staging a workbook starts a reader process for it (~0.35 CPU s); gathered
    in the last batches, workbooks spare that start to the other tasks, and in `vaxsync run` (whose
    workers take batches from the back) to the run's own process."""
    ordered = sorted(source_files, key=named_as_workbook)  # stable: each group keeps its order
    return [ordered[start : start + files_per_batch] for start in range(0, len(ordered), files_per_batch)]


def _ingest_all(settings: Settings, source_files: list[str]) -> Iterator[int]:
    """Stage every new file; yields how many are done after each batch. With settings.ingest_processes
    above one (and more than one batch), this process stages batches from the front of the list while
    the others, worker processes (ingest_worker.IngestWorker: ~0.5 CPU s of imports each), take them
    from the back."""
    batches = deque(ingest_batches(source_files))
    processes = min(settings.ingest_processes or os.cpu_count() or 1, len(batches))
    workers = [IngestWorker() for _ in range(processes - 1)]
    done = 0
    try:
        while batches or any(worker.pending for worker in workers):
            # each worker has a batch queued behind the one it stages, so it never waits for this process
            for worker in workers:
                while batches and worker.pending < 2:
                    worker.submit(settings, batches.pop())
            if batches:
                done += len(ingest_exports(settings, batches.popleft()))
                yield done
            waiting = [worker for worker in workers if worker.pending]
            if not waiting:
                continue
            answered, _, _ = select.select(waiting, [], [], 0 if batches else None)
            for worker in answered:
                done += len(worker.result())
                yield done
    except BaseException:
        for worker in workers:
            worker.process.kill()  # its batches are of no use now
        raise
    finally:
        for worker in workers:
            worker.close()
        stop_workbook_reader()  # this process's reader: its memory is not needed after ingest


# --- the registry snapshot's caches ---------------------------------------------------------------------


def prepare_registry_snapshot(settings: Settings) -> StageResult:
    """On a snapshot's first night, build its caches (surname statistics, prepared form, encoding for
    matching); later nights find them. They need no landed file: the DAG runs this beside the ingest
    tasks and `vaxsync run` in a thread while ingest runs, instead of normalize and match building them
    on the critical path (which they still do when run without it)."""
    work = RunWorkDir(settings)
    built = prepare_snapshot(settings, snapshot_hash=read_json(work.run_file)["registry_hash"])
    return {"registry_caches_built": built}


# --- normalize ------------------------------------------------------------------------------------------


def normalize_batch(settings: Settings, on_step: Callable[[int, int], None] | None = None) -> StageResult:
    """Normalize all staged rows of this run, then validate the raw and normalized layers.

    A file whose normalized rows fail a critical expectation is quarantined whole (validation_failed):
    its rows are held back, never half-published. on_step(done, 4) follows its four steps.
    """

    start_importing_validation()  # loads while normalize_shots runs (a DAG task's own process)
    work = RunWorkDir(settings)
    started = time.perf_counter()
    staged_files = work.staged_files()
    statistics = registry_surname_statistics(
        settings, snapshot_hash=read_json(work.run_file)["registry_hash"]
    )
    reference = load_reference().with_surname_statistics(statistics)
    step = on_step or (lambda done, total: None)
    step(1, 4)
    if staged_files:
        # in file-hash order, as when each file had its own staged parquet (a batch file holds several)
        staged = pl.scan_parquet(staged_files).sort("file_hash", maintain_order=True)
        normalized = normalize_shots(
            staged, as_of=settings.as_of, campaign_start=settings.campaign_start, reference=reference
        ).collect()
    else:
        normalized = _empty_normalized()
    step(2, 4)
    # normalized.parquet is written while GX validates (on the core GX leaves idle)
    held_back, normalized = quality.validate_and_write_normalized_layer(settings, work, normalized, reference)
    step(3, 4)
    step(4, 4)
    _record_stage_time(work, "normalize", started)
    rejected_by_reason = normalized.group_by("reject_reason").len().drop_nulls("reject_reason")
    counts = {
        "rows_normalized": normalized.height,
        "rows_rejected": normalized.filter(pl.col("reject_reason").is_not_null()).height,
        "rows_rejected_by_reason": dict(rejected_by_reason.sort("len", descending=True).iter_rows()),
        "files_held_back": len(held_back),
    }
    _record_stage_counts(work, "normalize", counts)
    return counts


def _empty_normalized() -> pl.DataFrame:

    return pl.DataFrame(schema={**STAGED_ROW_SCHEMA, **NORMALIZED_EXTRA_SCHEMA})


# --- match ----------------------------------------------------------------------------------------------


def match_batch(settings: Settings) -> StageResult:
    """Match the night's rows to registry citizens, every partition in this process: the ID pass, then
    probabilistic linkage of the rows it left unmatched (the DAG maps the partitions over workers)."""
    for partition in plan_match_partitions(settings):
        match_partition(settings, partition)
    return combine_matches(settings)


def plan_match_partitions(settings: Settings) -> list[str]:
    """First step of the match stage: tonight's match input, the ID pass, the model fitted once on the
    whole night, and the rows to link split into partitions by province. Returns the partition names."""

    work = RunWorkDir(settings)
    snapshot_hash = read_json(work.run_file)["registry_hash"]
    registry = prepared_registry(settings, snapshot_hash=snapshot_hash)
    input_counts = write_match_input(settings, work)
    # Tonight's review decisions, validated now: the accepted links are labelled pairs for the fit.
    accepted_pairs = validate_tonight_decisions(settings, work)
    shots = pl.scan_parquet(work.match_input_file)
    plan = plan_partitions(
        settings,
        shots,
        registry,
        input_counts=input_counts,
        accepted_pairs=accepted_pairs,
        snapshot_hash=snapshot_hash,  # the registry's encoding is cached per snapshot
    )
    return list(plan["partitions"])


def match_partition(settings: Settings, partition: str) -> StageResult:
    """Candidates of one partition's rows (blocking against the whole registry, comparisons), written to
    the partition store. Partitions are independent: run them in any order, on any worker."""

    return gather_partition(settings, partition)


def combine_matches(settings: Settings) -> StageResult:
    """Last step of the match stage: decide every partition's rows with the night's prior and threshold,
    apply review decisions, and write matches, review candidates, blocking report and the model used."""

    work = RunWorkDir(settings)
    deterministic, linked, plan = combine_partitions(settings, work.root / MODEL_FILE_NAME)
    keys = ["file_hash", "source_row"]
    matches = pl.concat([deterministic.join(linked.matches, on=keys, how="anti"), linked.matches])
    matches = apply_review_decisions(settings, work, matches)
    matches.write_parquet(work.matches_file)
    linked.review_candidates.write_parquet(work.review_candidates_file)
    linked.blocking_report.write_parquet(work.root / "blocking_report.parquet")
    # the stage spans several tasks: its time runs from the plan's start
    _record_stage_time(work, "match", time.perf_counter() - (time.time() - plan["started_at_epoch"]))
    counts = {
        **plan["input_counts"],
        "match_partitions": len(plan["partitions"]),
        "rows_matched_by_id": deterministic.filter(pl.col("citizen_id").is_not_null()).height,
        "rows_matched_probabilistically": linked.matches.filter(pl.col("citizen_id").is_not_null()).height,
        "rows_in_review": linked.matches.filter(pl.col("match_reason") == "review_required").height,
        "rows_unmatched": matches.filter(pl.col("citizen_id").is_null()).height,
    }
    _record_stage_counts(work, "match", counts)
    return counts


# --- publish --------------------------------------------------------------------------------------------


def publish_batch(settings: Settings) -> StageResult:
    """Validate the night's new synced shots, then merge everything into the warehouse in one transaction.

    When a critical expectation stops the publish, the run report (outcome 'not published', with the
    validation page) is still written, then the error is raised to fail the task."""

    start_importing_validation()  # a DAG task's own process: GX loads while publish reads its inputs
    work = RunWorkDir(settings)
    started = time.perf_counter()
    snapshot_hash = read_json(work.run_file)["registry_hash"]
    try:
        # checked before the transaction (a change found after the commit would be too late to refuse)
        changed = snapshot_changed(settings, snapshot_hash=snapshot_hash)
        if changed is not None:
            raise changed
        with reading_snapshot(settings, snapshot_hash=snapshot_hash, check_after=False):
            summary = publish(settings, work)
    except CriticalValidationError:
        write_run_report(settings, read_json(work.run_file)["run_id"])
        raise
    _record_stage_time(work, "publish", started)
    write_json(work.published_file, summary)
    return summary


# --- report ---------------------------------------------------------------------------------------------


def report_batch(settings: Settings) -> StageResult:
    """Write the night's reports: backlog summary, run report, province reports; rebuild coverage."""

    work = RunWorkDir(settings)
    run = read_json(work.run_file)
    # One warehouse opening for the stage (each costs ~70 ms). The coverage build (DuckDB, which releases
    # the GIL) runs in a thread on a sibling connection, the province reports render in a thread (and the
    # helper process), while this thread writes the run report: coverage writes only its own tables, which
    # no report reads, and the reports write none.
    with (
        connect(settings.warehouse_path, settings=settings) as connection,
        sibling_connection(connection, settings.warehouse_path, settings=settings) as coverage_connection,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="coverage") as background,
    ):
        building = background.submit(build_coverage, settings, coverage_connection)
        provinces = start_province_reports(settings, run_id=run["run_id"], connection=connection)
        try:
            paths = write_reports(settings, run_id=run["run_id"], connection=connection)
        except BaseException:
            provinces.discard()
            raise
        province_paths = provinces.finish()
        coverage = building.result()
    # Two files per province: XCom gets the count, the folder holds the files.
    return {
        "reports": [str(path) for path in paths],
        "province_report_files": len(province_paths),
        "coverage": coverage,
    }


# --- the whole night ------------------------------------------------------------------------------------

ProgressCallback = Callable[[str, int, int], None]  # (stage, steps done, steps in all)
StageDoneCallback = Callable[[str, float, StageResult], None]  # (stage, seconds, its counts)


def run_nightly(
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    on_stage_done: StageDoneCallback | None = None,
) -> StageResult:
    """Run every stage in order, as the DAG does, in this process, holding the warehouse's night lock."""
    _check_inputs(settings)  # a refused night creates nothing, not even the lock file beside the warehouse
    with night_lock(settings.warehouse_path, lock_wait_seconds=settings.warehouse_lock_wait_seconds):
        return _run_stages(settings, on_progress, on_stage_done)


def _run_stages(
    settings: Settings,
    on_progress: ProgressCallback | None,
    on_stage_done: StageDoneCallback | None,
) -> StageResult:
    started = time.perf_counter()
    progress = on_progress or (lambda stage, done, total: None)
    stage_done = on_stage_done or (lambda stage, seconds, counts: None)
    new_files = discover_new_exports(settings, inputs_checked=True)
    # GX takes seconds of CPU to import (validation.gx_import), in a thread that holds the GIL for long spans (started before
    # discover it made discover's 0.2 s of Python take 5 s): it starts once discover is done, while ingest
    # runs in worker processes or in polars, which release the GIL.
    start_importing_validation()
    work = RunWorkDir(settings)
    run = read_json(work.run_file)
    # The snapshot's caches depend on no landed file: on its first night they are built in a thread
    # while ingest runs, instead of inside normalize and match (vaxsync.marts.registry_cache).
    snapshot = start_preparing_snapshot(settings, snapshot_hash=run["registry_hash"])
    stage_done("discover", time.perf_counter() - started, run["stage_counts"]["discover"])
    ingest_started = time.perf_counter()
    progress("ingest", 0, len(new_files))
    for done in _ingest_all(settings, new_files):
        progress("ingest", done, len(new_files))
    _record_stage_time(work, "ingest", ingest_started)
    stage_done("ingest", time.perf_counter() - ingest_started, {"files": len(new_files)})
    stage_started = time.perf_counter()
    progress("normalize", 0, 4)
    snapshot.wait_before_normalize()  # normalize reads only the surname statistics; match waits for the rest
    counts = normalize_batch(settings, on_step=lambda done, total: progress("normalize", done, total))
    stage_done("normalize", time.perf_counter() - stage_started, counts)
    stage_started = time.perf_counter()
    progress("match", 0, 1)
    snapshot.wait()
    partitions = plan_match_partitions(settings)
    steps = len(partitions) + 2  # the plan, each partition, the decision
    progress("match", 1, steps)
    for done, partition in enumerate(partitions, start=2):
        match_partition(settings, partition)
        progress("match", done, steps)
    counts = combine_matches(settings)
    progress("match", steps, steps)
    stage_done("match", time.perf_counter() - stage_started, counts)
    stage_started = time.perf_counter()
    progress("publish", 0, 1)
    summary = publish_batch(settings)
    progress("publish", 1, 1)
    stage_done("publish", time.perf_counter() - stage_started, summary)
    stage_started = time.perf_counter()
    progress("report", 0, 1)
    reported = report_batch(settings)
    progress("report", 1, 1)
    stage_done("report", time.perf_counter() - stage_started, reported)
    summary["wall_seconds"] = round(time.perf_counter() - started, 2)
    summary["files_already_processed"] = read_json(work.run_file)["stage_counts"]["discover"][
        "files_already_in_ledger"
    ]
    # absent from a run.json an older version's discover wrote (a night spanning a deploy)
    summary["files_deferred"] = read_json(work.run_file)["stage_counts"]["discover"].get("files_deferred", 0)
    summary["shots_citizen_not_in_snapshot"] = _shots_citizen_not_in_snapshot(settings)
    return summary


def _shots_citizen_not_in_snapshot(settings: Settings) -> int:

    with connect(settings.warehouse_path, settings=settings) as connection:
        return count_flagged_shots(connection)


def _record_stage_time(work: RunWorkDir, stage_name: str, started: float) -> None:
    run = read_json(work.run_file)
    run["stage_seconds"][stage_name] = round(time.perf_counter() - started, 3)
    write_json(work.run_file, run)


def _record_stage_counts(work: RunWorkDir, stage_name: str, counts: StageResult) -> None:
    """Keep a stage's counts in run.json beside its time, for the run report (XCom is not kept)."""
    run = read_json(work.run_file)
    run.setdefault("stage_counts", {})[stage_name] = counts
    write_json(work.run_file, run)
