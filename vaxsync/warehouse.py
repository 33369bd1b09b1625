"""The DuckDB warehouse: table definitions and the one transaction that publishes a night's batch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

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
-- Columns added after the first release, for warehouses created before them.
alter table unposted_backlog add column if not exists superseded_by_file_hash varchar;
"""


@contextlib.contextmanager
def connect(
    warehouse_path: Path, *, memory_limit: str = "4GB", threads: int = 2
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with bounded memory and a spill folder beside it, creating tables if needed."""
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(warehouse_path))
    try:
        spill_dir = warehouse_path.parent / "duckdb_spill"
        connection.execute(f"set memory_limit = '{memory_limit}'")
        connection.execute(f"set threads = {int(threads)}")
        connection.execute(f"set temp_directory = '{spill_dir.as_posix()}'")
        connection.execute(WAREHOUSE_DDL)
        yield connection
    finally:
        connection.close()


def known_ledger_entries(warehouse_path: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """The (source_file, file_hash) pairs and the content hashes already in the ledger."""
    if not warehouse_path.exists():
        return set(), set()
    with connect(warehouse_path) as connection:
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
            select file_hash, source_row from unposted_backlog
        ), per_file as (
            select file_hash, count(*) as rows_placed, count(distinct source_row) as rows_distinct,
                   min(source_row) as first_row, max(source_row) as last_row
            from placed group by file_hash
        )
        select l.file_hash,
               case
                   when l.status <> 'loaded' and coalesce(p.rows_placed, 0) > 0 then 'rows placed from a file not loaded'
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
