"""The DuckDB warehouse: table definitions and the one transaction that publishes a night's batch."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from vaxsync.core.contracts import EXPORT_FIELDS, NORMALIZED_EXTRA_SCHEMA, STAGED_ROW_SCHEMA, raw_column
from vaxsync.core.errors import InputError, WarehouseLockedError
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import DuckDBConfig, configure

# Grain and columns of each published table; docs/data-contract.md explains them.
WAREHOUSE_DDL = """
create table if not exists ingest_ledger (      -- one row per landed file version
    source_file varchar not null,
    file_hash varchar not null,
    file_size_bytes bigint,
    file_format varchar,
    encoding varchar,
    encoding_repair varchar,
    delimiter varchar,
    header_line integer,
    column_mapping varchar,
    unknown_columns varchar,
    status varchar not null,                    -- loaded | quarantined | duplicate_content
    quarantine_reason varchar,
    quarantine_detail varchar,
    rows_read bigint not null,
    rows_posted bigint not null,
    rows_duplicate bigint not null,
    rows_backlog bigint not null,
    raw_validation varchar,                     -- JSON: the raw-layer expectations this file failed
    run_id varchar not null,
    ingested_at timestamp not null,
    primary key (source_file, file_hash)
);
create table if not exists synced_shots (       -- one row per real administered dose posted to a citizen
    shot_id varchar primary key,
    citizen_id varchar not null,
    vaccine_code varchar not null,
    dose_number smallint not null,              -- recomputed from the citizen's posted history by date
    dose_number_reported smallint,              -- what the winning source row said
    vaccinated_on date not null,
    facility varchar,
    lot varchar,
    match_method varchar not null,
    match_score double not null,
    first_synced_at timestamp not null,
    run_id varchar not null
);
create table if not exists shot_sources (       -- one row per input row posted or merged as a duplicate
    shot_id varchar not null,
    source_file varchar not null,
    file_hash varchar not null,
    source_row integer not null,
    is_duplicate boolean not null,
    run_id varchar not null,
    primary key (file_hash, source_row)
);
create table if not exists shot_conflicts (     -- one row per (posted shot or held source row, conflict code)
    file_hash varchar not null,                 -- the source row: the shot's winning row, or the held row
    source_row integer not null,
    conflict_code varchar not null,             -- vaxsync.core.reasons.SHOT_CONFLICTS; docs/events.md
    action varchar not null,                    -- posted_flagged | held_in_backlog
    shot_id varchar,                            -- the flagged shot; null for a held row
    citizen_id varchar not null,                -- the matched citizen
    related_shot_id varchar,                    -- the posted dose it conflicts with (previous dose, other product)
    detail varchar not null,
    run_id varchar not null,                    -- the run that last evaluated it
    primary key (file_hash, source_row, conflict_code)
);
create table if not exists unposted_backlog (   -- one row per input row not posted
    source_file varchar not null,
    file_hash varchar not null,
    source_row integer not null,
    reason_code varchar not null,
    reason_detail varchar,
    province_code varchar,                      -- best known: facility's province, else residence, else ID's
    facility varchar,
    candidate_citizen_id varchar,
    candidate_score double,
    first_seen_on date not null,
    run_id varchar not null,
    superseded_by_file_hash varchar,            -- set when a newer version of the file replaced this row
    primary key (file_hash, source_row)
);
create table if not exists review_candidates (  -- one row per (backlog row in review, candidate rank)
    file_hash varchar not null,
    source_row integer not null,
    candidate_rank integer not null,
    citizen_id varchar not null,
    match_probability double not null,
    match_weight double not null,
    impossible_reason varchar,
    comparison varchar not null,                -- JSON: per field, the comparison level and its weight
    run_id varchar not null,
    primary key (file_hash, source_row, candidate_rank)
);
create table if not exists match_models (       -- one row per run: the fitted, declarative model used
    run_id varchar primary key,
    model_version varchar,
    model_json varchar not null
);
create table if not exists validation_results ( -- one row per suite run
    run_id varchar not null,
    suite_name varchar not null,
    success boolean not null,
    critical_failures integer not null,
    warnings integer not null,
    results_json varchar not null,
    validated_at timestamp not null
);
create table if not exists pipeline_runs (      -- one row per nightly run that published
    run_id varchar primary key,
    as_of date not null,
    registry_hash varchar not null,
    landing_hash varchar not null,              -- hash of the sorted (path, file hash) list landed
    files_new integer not null,
    files_quarantined integer not null,
    rows_in bigint not null,
    rows_posted bigint not null,
    rows_duplicate bigint not null,
    rows_backlog bigint not null,
    outcome varchar not null,
    started_at timestamp not null,
    finished_at timestamp not null
);
create table if not exists review_decision_files ( -- one row per decision file read
    decision_file varchar not null,
    decision_file_hash varchar primary key,
    province_code varchar,
    reviewer varchar,
    decisions_read integer not null,
    decisions_applied integer not null,
    decisions_rejected integer not null,
    status varchar not null,                    -- read | quarantined (unreadable: before quarantine reasons)
    detail varchar,
    run_id varchar not null,
    read_at timestamp not null
);
create table if not exists review_decisions (   -- audit: one row per decision line read from a decision file
    decision_file_hash varchar not null,
    sheet_name varchar not null,
    sheet_row integer not null,
    reviewer varchar,
    decided_at timestamp,                       -- when the night read the file (before 2026-12: its mtime)
    file_hash varchar,                          -- the backlog row decided on
    source_row integer,
    province_code varchar,
    decision varchar,                           -- accept N | reject | corrected, as written
    corrected_id varchar,
    status varchar not null,                    -- applied | rejected
    rejection_reason varchar,                   -- vaxsync.core.reasons.DECISION_REJECTIONS
    before_reason_code varchar,
    before_candidate_citizen_id varchar,
    after_citizen_id varchar,
    after_shot_id varchar,
    run_id varchar not null,
    primary key (decision_file_hash, sheet_name, sheet_row)
);
-- Columns added after the first release, for warehouses created before them.
alter table unposted_backlog add column if not exists superseded_by_file_hash varchar;
alter table unposted_backlog add column if not exists resolved_run_id varchar;
alter table unposted_backlog add column if not exists resolution varchar;
alter table unposted_backlog add column if not exists resolved_shot_id varchar;
alter table unposted_backlog add column if not exists last_matched_run_id varchar;
alter table pipeline_runs add column if not exists rows_resolved_from_backlog bigint;
alter table pipeline_runs add column if not exists stage_seconds varchar;  -- JSON {stage: seconds}, set by report
alter table shot_sources add column if not exists win_reason varchar;  -- why the event's winner won
alter table shot_sources add column if not exists merge_rule varchar;  -- how a duplicate joined the winner
-- The data rows of a file: rows_read when loaded, an estimate for a quarantined file (contracts.LEDGER_SCHEMA).
alter table ingest_ledger add column if not exists rows_estimated bigint;
-- Workbook date cells swapped back after a spreadsheet locale swapped day and month (contracts.LEDGER_SCHEMA).
alter table ingest_ledger add column if not exists dates_repaired bigint;
-- The chosen text encoding's score: share of sampled words that are Vietnamese syllables (contracts.LEDGER_SCHEMA).
alter table ingest_ledger add column if not exists encoding_score double;
-- A workbook's sheets skipped as holding no dose rows, JSON [{sheet, rows}] (contracts.LEDGER_SCHEMA).
alter table ingest_ledger add column if not exists skipped_sheets varchar;
-- File re-sends (vaxsync/marts/resends.py, docs/backlog.md): a source row stops supporting its shot when a newer
-- version of its file replaces it (or its posting is withdrawn); a shot no active row supports is retracted.
alter table shot_sources add column if not exists superseded_by_file_hash varchar;
alter table shot_sources add column if not exists inactive_reason varchar;  -- null: the row supports its shot
alter table shot_sources add column if not exists inactive_run_id varchar;
create table if not exists retracted_shots (    -- one row per retraction of a posted shot (history)
    shot_id varchar not null,
    citizen_id varchar not null,
    vaccine_code varchar not null,
    dose_number smallint not null,
    dose_number_reported smallint,
    vaccinated_on date not null,
    facility varchar,
    lot varchar,
    match_method varchar not null,
    match_score double not null,
    first_synced_at timestamp not null,
    run_id varchar not null,                    -- the run that first posted it
    retracted_run_id varchar not null,
    retracted_at timestamp not null,
    retraction_reason varchar not null,         -- vaxsync.core.reasons.RETRACTION_REASONS
    retracted_by_file_hash varchar,             -- the file version that superseded its rows
    restored_run_id varchar,                    -- set when an older version sent again brought it back
    primary key (shot_id, retracted_run_id)
);
create table if not exists file_versions (      -- one row per arrival of a loaded file version
    source_file varchar not null,
    file_hash varchar not null,
    lineage varchar not null,                   -- path of the first version of the file
    replaces_file_hash varchar,
    recognised_as varchar not null,             -- first_version | same_path | renamed | reused_name | rearrived
    row_overlap double,
    facility_key varchar,
    first_vaccinated_on date,
    last_vaccinated_on date,
    rows bigint,
    distinct_keys bigint,
    run_id varchar not null,
    arrived_at timestamp not null,
    primary key (source_file, file_hash, run_id)
);
create table if not exists file_row_keys (      -- one row per distinct (file version, row key)
    file_hash varchar not null,
    row_key varchar not null                    -- hash of ID, name, vaccination date, vaccine
);
create table if not exists file_version_changes ( -- one row per version that replaced another: what changed
    run_id varchar not null,
    source_file varchar not null,
    file_hash varchar not null,
    replaced_file_hash varchar not null,
    recognised_as varchar not null,
    shots_kept bigint not null,
    shots_added bigint not null,
    shots_retracted bigint not null,
    shots_replaced bigint not null,             -- retracted, and the same citizen got a shot from the new version
    shots_restored bigint not null,
    primary key (run_id, file_hash)
);
-- Landed files a night left for a later one, still being written (transforms/ingest/landing.py): not in the
-- ingest ledger (nothing read), so the next night lists them as new; this says which night saw them and why.
create table if not exists deferred_files (     -- one row per (night, landed file it deferred)
    run_id varchar not null,
    source_file varchar not null,
    reason varchar not null,                    -- modified_recently | changed_during_discovery | gone_during_discovery
    file_size_bytes bigint,
    modified_at timestamp,                      -- UTC, as listed
    primary key (run_id, source_file)
);
-- What judged a validation_failed quarantine, and an operator's request to read a file again
-- (vaxsync/marts/readmission.py): a changed as-of or rules version, or a request, re-admits the file.
alter table ingest_ledger add column if not exists quarantined_as_of date;
alter table ingest_ledger add column if not exists rules_version varchar;
alter table ingest_ledger add column if not exists readmit_requested_at timestamp;
alter table review_decisions add column if not exists note varchar;  -- the reviewer's note, as written
alter table review_decisions add column if not exists stated_decided_on date;  -- a date the file states
alter table review_decisions add column if not exists rejection_detail varchar;
alter table review_decisions add column if not exists report_run_id varchar;  -- the report the line came from
-- the line replaced a decision that stood on its row (its reviewer's posted one, or a rejection)
alter table review_decisions add column if not exists replaces_earlier_decision boolean;
alter table review_decision_files add column if not exists quarantine_reason varchar;  -- DECISION_FILE_REASONS
alter table review_decision_files add column if not exists identical_copies integer;  -- copies skipped
create table if not exists probabilistic_postings ( -- one row per source row the probabilistic pass posted
    file_hash varchar not null,
    source_row integer not null,
    shot_id varchar not null,
    citizen_id varchar not null,
    match_score double not null,
    match_detail varchar,                       -- the explanation it was posted on, field by field
    namesakes integer not null,                 -- citizens of the snapshot with the row's folded name and birth year
    citizen_namesakes integer not null,         -- citizens of the snapshot with the posted citizen's (a typo'd row)
    registry_hash varchar not null,             -- the snapshot it was decided on
    checked_registry_hash varchar not null,     -- the last snapshot it was checked against
    run_id varchar not null,
    primary key (file_hash, source_row)
);
create table if not exists relinked_postings (  -- audit: one row per posting a newer snapshot changed
    run_id varchar not null,
    file_hash varchar not null,
    source_row integer not null,
    shot_id varchar not null,                   -- the shot it supported (retracted when nothing else supports it)
    citizen_id varchar not null,                -- the citizen it was posted to
    outcome varchar not null,                   -- moved_by_id | sent_to_backlog
    new_citizen_id varchar,                     -- moved_by_id: the citizen its own ID confirmed
    new_shot_id varchar,
    backlog_reason varchar,                     -- sent_to_backlog: review_required, or a hold reason
    candidate_citizen_id varchar,               -- sent_to_backlog: tonight's best candidate
    match_detail varchar,                       -- tonight's evidence
    registry_hash varchar not null,             -- the snapshot that changed it
    relinked_at timestamp not null,
    primary key (run_id, file_hash, source_row)
);
create table if not exists ledger_readmissions ( -- one row per quarantined file version read again
    source_file varchar not null,
    file_hash varchar not null,
    quarantine_reason varchar,
    quarantine_detail varchar,
    quarantined_run_id varchar not null,
    quarantined_as_of date,
    rules_version varchar,
    readmit_requested_at timestamp,             -- set when an operator asked (vaxsync readmit)
    readmitted_run_id varchar not null,
    readmitted_at timestamp not null
);
-- The backlog people still have to act on: neither replaced by a newer file version nor resolved.
create or replace view open_backlog as
select * from unposted_backlog where superseded_by_file_hash is null and resolved_run_id is null;
-- Run history for the on-call engineer, newest first: duration (discover to the publish commit),
-- seconds per stage, validation failures, then every pipeline_runs column.
create or replace view v_run_history as
select r.run_id, r.as_of, r.outcome,
       round(epoch(r.finished_at - r.started_at), 1) as duration_seconds,
       cast(json_extract(r.stage_seconds, '$.discover') as double) as discover_seconds,
       cast(json_extract(r.stage_seconds, '$.ingest') as double) as ingest_seconds,
       cast(json_extract(r.stage_seconds, '$.normalize') as double) as normalize_seconds,
       cast(json_extract(r.stage_seconds, '$.match') as double) as match_seconds,
       cast(json_extract(r.stage_seconds, '$.publish') as double) as publish_seconds,
       coalesce(v.suites_failed, 0) as validation_suites_failed,
       coalesce(v.critical_failures, 0) as validation_critical_failures,
       coalesce(v.warnings, 0) as validation_warnings,
       r.* exclude (run_id, as_of, outcome)
from pipeline_runs r
left join (
    select run_id, count(*) filter (where not success) as suites_failed,
           sum(critical_failures) as critical_failures, sum(warnings) as warnings
    from validation_results group by run_id
) v using (run_id)
order by r.finished_at desc;
"""


@contextlib.contextmanager
def connect(
    warehouse_path: Path,
    *,
    settings: Settings | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    lock_wait_seconds: float | None = None,
    config: DuckDBConfig | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with bounded memory and a spill folder beside it, creating tables if needed.

    Limits and the SQL debug switch come from `config` (default: DuckDBConfig.of the settings);
    memory_limit and threads, when given, override it. The warehouse holds personal data: it is created
    owner-only. When another process holds it (an analyst's session), opening is retried for
    lock_wait_seconds (default: the setting), then WarehouseLockedError. A night passes its settings: one
    object for the whole night; without them (an analyst's or a test's connection) the environment's."""
    settings = settings if settings is not None else Settings()
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    config = _warehouse_config(warehouse_path, config or DuckDBConfig.of(settings), memory_limit, threads)
    wait = settings.warehouse_lock_wait_seconds if lock_wait_seconds is None else lock_wait_seconds
    connection = open_when_free(warehouse_path, lock_wait_seconds=wait)
    make_owner_only(warehouse_path)
    try:
        configure(connection, config)
        connection.execute(WAREHOUSE_DDL)
        rename_raw_backlog_columns(connection)
        connection.execute(backlog_records_ddl())
        yield connection
    finally:
        connection.close()


@contextlib.contextmanager
def connected(
    warehouse_path: Path, connection: duckdb.DuckDBPyConnection | None = None, **options: Any
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The caller's open warehouse connection (a stage that reads the warehouse in several steps opens
    it once: each opening costs ~70 ms of CPU), or `connect(warehouse_path, **options)` for this use."""
    if connection is not None:
        yield connection
        return
    with connect(warehouse_path, **options) as opened:
        yield opened


@contextlib.contextmanager
def sibling_connection(
    connection: duckdb.DuckDBPyConnection, warehouse_path: Path, *, settings: Settings
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A second connection to an open warehouse, for another thread (a connection is not shared across
    threads; opening the file again costs ~70 ms and a lock of its own). Its own transactions and temp
    tables; configured as `connect` configures (the SQL debug switch is a connection's)."""
    sibling = connection.cursor()
    try:
        configure(sibling, _warehouse_config(warehouse_path, DuckDBConfig.of(settings), None, None))
        yield sibling
    finally:
        sibling.close()


def _warehouse_config(
    warehouse_path: Path, config: DuckDBConfig, memory_limit: str | None, threads: int | None
) -> DuckDBConfig:
    """The config with the caller's overrides, spilling beside the warehouse unless a folder is set."""
    return dataclasses.replace(
        config,
        memory_limit=memory_limit or config.memory_limit,
        threads=threads or config.threads,
        temp_directory=config.temp_directory or warehouse_path.parent / "duckdb_spill",
    )


_LOCK_HOLDER = re.compile(r"PID (\d+)")


def open_when_free(
    warehouse_path: Path, *, read_only: bool = False, lock_wait_seconds: float | None = None
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried while another process holds the file's lock (DuckDB allows one writer
    process, and a reader only when no writer), then WarehouseLockedError naming the holder's PID."""

    problem = warehouse_file_problem(warehouse_path)
    if problem:
        raise InputError(problem)
    wait = Settings().warehouse_lock_wait_seconds if lock_wait_seconds is None else lock_wait_seconds
    deadline = time.monotonic() + wait
    pause = 0.2
    while True:
        try:
            return duckdb.connect(str(warehouse_path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            next_pause = _paused_before_retry(deadline, pause)
            if next_pause is None:
                holder = _LOCK_HOLDER.search(str(error))
                by = f" (PID {holder.group(1)})" if holder else ""
                raise WarehouseLockedError(
                    f"warehouse is in use by another process{by}, still after {wait:.0f} s: {warehouse_path}"
                    " (close that session, or let analysts read a copy: see README)"
                ) from None
            pause = next_pause


def _paused_before_retry(deadline: float, pause: float) -> float | None:
    """Sleep before the next try at a held lock and return the pause after that (doubling, at most 2 s);
    None, without sleeping, once `deadline` (time.monotonic) has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    time.sleep(min(pause, remaining))
    return min(pause * 2, 2.0)


NIGHT_LOCK_SUFFIX = ".night.lock"


def night_lock_path(warehouse_path: Path) -> Path:
    """The file a night holds locked beside its warehouse (kept: removing it would let a waiting
    night and a new one each lock a different file)."""
    return warehouse_path.with_name(warehouse_path.name + NIGHT_LOCK_SUFFIX)


@contextlib.contextmanager
def night_lock(warehouse_path: Path, *, lock_wait_seconds: float) -> Iterator[None]:
    """One night at a time on a warehouse. DuckDB's own lock covers one connection, not the night: a
    second `vaxsync run` reset the first's work folder under it (a traceback mid-match) or read its
    half-written files. Retried for lock_wait_seconds, then WarehouseLockedError naming the holder's
    PID. An advisory lock (flock): the system releases it when the holder exits, killed or not."""

    problem = warehouse_file_problem(warehouse_path)
    if problem:
        raise InputError(problem)
    path = night_lock_path(warehouse_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock_when_free(descriptor, path, warehouse_path, lock_wait_seconds)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, str(os.getpid()).encode())
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _lock_when_free(descriptor: int, path: Path, warehouse_path: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    pause = 0.2
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            next_pause = _paused_before_retry(deadline, pause)
            if next_pause is None:
                holder = path.read_text(encoding="ascii", errors="replace").strip()
                by = f" (PID {holder})" if holder.isdigit() else ""
                raise WarehouseLockedError(
                    f"another night is running on this warehouse{by}, still after {wait:.0f} s:"
                    f" {warehouse_path} (let it finish, then run again)"
                ) from None
            pause = next_pause


def warehouse_file_problem(warehouse_path: Path) -> str | None:
    """Why an existing warehouse path cannot be the warehouse, or None: a folder, or a file that is not
    DuckDB's (its header carries DUCK at byte 8), such as the registry snapshot or an empty file passed
    by mistake. DuckDB's own refusal is a traceback."""
    if warehouse_path.is_dir():
        return f"warehouse is a folder, expected a DuckDB file: {warehouse_path}"
    if not warehouse_path.is_file():
        return None
    with warehouse_path.open("rb") as handle:
        header = handle.read(12)
    if header[8:12] != b"DUCK":
        return f"warehouse is not a DuckDB database file: {warehouse_path}"
    return None


def make_owner_only(warehouse_path: Path) -> None:
    """Tighten a warehouse (and its write-ahead log) created before files were owner-only."""
    for path in (warehouse_path, warehouse_path.with_name(warehouse_path.name + ".wal")):
        with contextlib.suppress(OSError):  # gone, or not ours to change: opening still works
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)


def snapshot(warehouse_path: Path, copy_path: Path) -> Path:
    """A consistent, owner-only copy of the warehouse for analysts: checkpointed, copied while this
    process holds the lock (no writer can run), then renamed into place. Readers of the copy never
    hold the warehouse's lock, so the night is never blocked by them."""
    copy_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = copy_path.with_name(f".{copy_path.name}.tmp")
    connection = open_when_free(warehouse_path)
    try:
        connection.execute("checkpoint")
        shutil.copyfile(warehouse_path, temporary)
    finally:
        connection.close()
    temporary.chmod(0o600)
    os.replace(temporary, copy_path)
    return copy_path


# Every column of a staged + normalized row: what a backlog row needs to be shown as sent and re-matched.
BACKLOG_RECORD_SCHEMA: dict[str, pl.DataType] = {**STAGED_ROW_SCHEMA, **NORMALIZED_EXTRA_SCHEMA}
_DUCKDB_TYPES = {pl.String: "varchar", pl.Int32: "integer", pl.Int8: "tinyint", pl.Date: "date"}


def rename_raw_backlog_columns(connection: duckdb.DuckDBPyConnection) -> None:
    """A warehouse made before the raw export fields were prefixed keeps them under their field names
    (`vaccinated_on` text beside synced_shots.vaccinated_on DATE): rename them to raw_<field>, values kept.
    Runs before backlog_records_ddl, which would otherwise add empty raw_<field> columns beside them."""
    present = {
        name
        for (name,) in connection.execute(
            "select column_name from duckdb_columns() where table_name = 'backlog_records'"
            " and schema_name = current_schema() and database_name = current_database()"
        ).fetchall()
    }
    for field in EXPORT_FIELDS:
        if field in present and raw_column(field) not in present:
            connection.execute(f"alter table backlog_records rename column {field} to {raw_column(field)}")


def backlog_records_ddl() -> str:
    """backlog_records: one row per unposted_backlog row (file_hash, source_row), as sent and normalized."""
    columns = ",\n    ".join(
        f"{name} {_DUCKDB_TYPES[type(dtype)]}" for name, dtype in BACKLOG_RECORD_SCHEMA.items()
    )
    # A warehouse made before a column joined the contracts gets it added (null for its old rows).
    added = "".join(
        f"alter table backlog_records add column if not exists {name} {_DUCKDB_TYPES[type(dtype)]};\n"
        for name, dtype in BACKLOG_RECORD_SCHEMA.items()
    )
    return f"""create table if not exists backlog_records (
    {columns},
    primary key (file_hash, source_row)
);
{added}"""


def stored_match_models(settings: Settings) -> list[dict[str, Any]]:
    """The fitted models of every published run (match_models), oldest first: their labelled-pair level
    counts are the accumulated ID-confirmed pairs the next fit of m adds to its own."""
    if not settings.warehouse_path.exists():
        return []
    with connect(settings.warehouse_path, settings=settings) as connection:
        rows = connection.execute("select model_json from match_models order by run_id").fetchall()
    return [json.loads(row[0]) for row in rows]


def known_ledger_entries(settings: Settings) -> tuple[set[tuple[str, str]], set[str]]:
    """The (source_file, file_hash) pairs and the content hashes already in the ledger."""
    if not settings.warehouse_path.exists():
        return set(), set()
    with connect(settings.warehouse_path, settings=settings) as connection:
        rows = connection.execute("select source_file, file_hash from ingest_ledger").fetchall()
    return {(row[0], row[1]) for row in rows}, {row[1] for row in rows}


def conservation_violations(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Files breaking 'nothing lost': a loaded file whose rows are not each in exactly one place.

    Returns (file_hash, problem) pairs; an empty list proves conservation for the whole warehouse.
    """
    rows = connection.execute(
        """
        with placed as (
            select file_hash, source_row from shot_sources
            union all
            select file_hash, source_row from unposted_backlog where resolved_run_id is null
        ), per_file as (
            select file_hash, count(*) as rows_placed, count(distinct source_row) as rows_distinct,
                   min(source_row) as first_row, max(source_row) as last_row
            from placed group by file_hash
        )
        select l.file_hash,
               case
                   -- a copy (duplicate_content) shares its hash with the loaded version, whose rows these are
                   when l.status <> 'loaded' and coalesce(p.rows_placed, 0) > 0
                        and not exists (select 1 from ingest_ledger v where v.file_hash = l.file_hash and v.status = 'loaded')
                       then 'rows placed from a file not loaded'
                   when l.status = 'loaded' and coalesce(p.rows_placed, 0) <> l.rows_read then 'rows placed differ from rows read'
                   when p.rows_placed <> p.rows_distinct then 'a row placed twice'
                   when l.rows_read <> l.rows_posted + l.rows_duplicate + l.rows_backlog and l.status = 'loaded'
                       then 'ledger counts do not add up'
               end as problem
        from ingest_ledger l left join per_file p using (file_hash)
        where problem is not null
        """
    ).fetchall()
    return [(row[0], row[1]) for row in rows]
