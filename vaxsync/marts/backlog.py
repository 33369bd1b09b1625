"""The backlog's life after its first night: every night it is re-matched against the current registry.

A newborn registered later, or a corrected registry entry, turns old backlog rows into postings
without anyone re-sending files. The match stage reads `match_input.parquet`: tonight's normalized
rows plus the open backlog rows that a match can still resolve (`is_rematch`). Publish marks the
ones that post as resolved (`unposted_backlog.resolved_run_id`, `resolution`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from matching.probabilistic import POSTED_CITIZEN_COLUMN
from vaxsync.core.reasons import REMATCHABLE_REASONS
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import register_frame
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.marts.decisions import decided_rows, read_new_decisions, replacing_rows
from vaxsync.marts.events import held_rows_freed_by_retraction
from vaxsync.marts.registry_cache import prepared_registry
from vaxsync.marts.resends import recognise_versions
from vaxsync.marts.snapshot_changes import (
    CHECKS_FILE_NAME,
    POSTED_RECHECK,
    PROBABILISTIC_ROWS_SQL,
    posted_links_to_recheck,
)
from vaxsync.marts.warehouse import BACKLOG_RECORD_SCHEMA, connect

# Which backlog reasons a match can resolve is the catalogue's `rematchable` facet (REMATCHABLE_REASONS).
# reviewer_rejected is matched again only so that a corrected ID can arrive: a reviewer's rejection stands,
# so the same candidates are never auto-posted behind the reviewer's back. below_approved_age was held
# before it became a flag: matched again, it posts with the flag.
# Rejected on their night only because the vaccination date was after that night's as-of (or before the
# campaign start): matched once the date is inside tonight's range, when nothing else was wrong with them.
RECHECKED_DATE_REASON = "vaccination_date_out_of_range"


def open_rematchable_records(
    settings: Settings,
    registry_hash: str,
    decided: pl.DataFrame,
    replaced_file_hashes: Sequence[str] = (),
    replacing: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The open backlog rows worth matching tonight, with their stored values and their current reason.

    A row is matched again when the registry snapshot changed since its last match, or when a reviewer's
    decision names it; otherwise tonight's answer would be last night's, and a re-run must change nothing.
    A row held as vaccination_date_out_of_range whose date is inside tonight's range (a later as-of) is
    matched too, its reject lifted: then its reason changes, so a re-run does not pick it again.
    A row held against a posted shot that is retracted (or retires tonight: `replaced_file_hashes`) is
    matched again too (vaxsync.marts.events.held_rows_freed_by_retraction). So is a row an earlier decision
    posted whose reviewer decides it again tonight (`replacing`: vaxsync.marts.decisions.replacing_rows).
    """
    schema = {**BACKLOG_RECORD_SCHEMA, "prior_backlog_reason": pl.String()}
    if not settings.warehouse_path.exists():
        return pl.DataFrame(schema=schema)
    lifted = {"reject_reason": "null::varchar", "reject_detail": "null::varchar"}
    columns = ", ".join(
        f"case when date_now_in_range then {lifted[name]} else r.{name} end as {name}"
        if name in lifted
        else f"r.{name}"
        for name in BACKLOG_RECORD_SCHEMA
    )
    with connect(settings.warehouse_path, settings=settings) as connection:
        register_frame(connection, "decided_rows", decided)
        register_frame(
            connection,
            "tonight_replaced_files",
            pl.DataFrame({"file_hash": list(replaced_file_hashes)}, schema={"file_hash": pl.String()}),
        )
        keys = {"file_hash": pl.String(), "source_row": pl.Int32()}
        register_frame(
            connection, "replacing_rows", (replacing if replacing is not None else pl.DataFrame(schema=keys))
        )
        records = connection.sql(
            f"""
            with freed as ({held_rows_freed_by_retraction()}),
            candidates as (
                select * from open_backlog
                union all by name
                select * from unposted_backlog
                where resolved_run_id is not null and superseded_by_file_hash is null
                  and (file_hash, source_row) in (select file_hash, source_row from replacing_rows)
            ),
            dated as (
                select b.*, r.reject_reason = $date_reason
                            and r.vaccinated_date between $campaign_start and $as_of
                            and r.birth_year is not null as date_now_in_range
                from candidates b join backlog_records r using (file_hash, source_row)
            )
            select {columns}, b.reason_code as prior_backlog_reason
            from dated b
            join backlog_records r using (file_hash, source_row)
            left join pipeline_runs last_match on last_match.run_id = b.last_matched_run_id
            where (b.reason_code = $date_reason and b.date_now_in_range)
               or (b.reason_code in (select unnest($reasons::varchar[]))
                   and (r.reject_reason is null or b.date_now_in_range)
                   and (last_match.registry_hash is distinct from $registry_hash
                        or (b.file_hash, b.source_row) in (select file_hash, source_row from decided_rows)))
               or (b.file_hash, b.source_row) in (select file_hash, source_row from freed)
               or ((b.file_hash, b.source_row) in (select file_hash, source_row from replacing_rows)
                   and r.reject_reason is null)
            """,
            params={
                "reasons": list(REMATCHABLE_REASONS),
                "registry_hash": registry_hash,
                "date_reason": RECHECKED_DATE_REASON,
                "campaign_start": settings.campaign_start,
                "as_of": settings.as_of,
            },
        ).pl()
    return records.cast(schema)


def write_match_input(settings: Settings, work: RunWorkDir) -> dict[str, int]:
    """match_input.parquet = tonight's normalized rows + the open backlog rows to match again (is_rematch)
    + the posted probabilistic links a newer snapshot may explain better (is_rematch, posted_citizen_id:
    vaxsync.marts.snapshot_changes).

    Reads tonight's new review decisions first: the rows they name are matched whatever else holds.
    """

    lines = read_new_decisions(settings, work)
    decided = decided_rows(lines)
    registry_hash = read_json(work.run_file)["registry_hash"]
    tonight = pl.scan_parquet(work.normalized_file).with_columns(
        pl.lit(False).alias("is_rematch"),
        pl.lit(None, dtype=pl.String).alias("prior_backlog_reason"),
        pl.lit(None, dtype=pl.String).alias(POSTED_CITIZEN_COLUMN),
    )
    # A file sent again tonight in a new version replaces its old backlog rows: match only the new ones.
    resent_files = tonight.select("source_file").unique()
    replaced_hashes = recognise_versions(settings, work)
    replaced = pl.LazyFrame({"file_hash": replaced_hashes}, schema={"file_hash": pl.String()})
    registry = prepared_registry(settings, snapshot_hash=registry_hash)
    rechecks = posted_links_to_recheck(settings, registry, registry_hash, work.root / CHECKS_FILE_NAME)
    backlog = open_rematchable_records(
        settings, registry_hash, decided, replaced_hashes, replacing_rows(lines)
    ).with_columns(pl.lit(None, dtype=pl.String).alias(POSTED_CITIZEN_COLUMN))
    rematch = (
        pl.concat([backlog, rechecks], how="vertical")
        .lazy()
        .join(resent_files, on="source_file", how="anti")
        .join(replaced, on="file_hash", how="anti")
        .with_columns(is_rematch=pl.lit(True))
        .select(tonight.collect_schema().names())
    )
    # lz4: the match and publish stages read this file several times; zstd cost ~0.1 CPU s more to write
    # (medium night) and more to read, for a file that lives one night in the work folder
    pl.concat([tonight, rematch], how="vertical").sink_parquet(work.match_input_file, compression="lz4")
    counts = (
        pl.scan_parquet(work.match_input_file)
        .select(
            rows_tonight=(~pl.col("is_rematch")).sum(),
            rows_rematched_from_backlog=(
                pl.col("is_rematch") & (pl.col("prior_backlog_reason") != POSTED_RECHECK)
            ).sum(),
            rows_posted_rechecked=(pl.col("prior_backlog_reason") == POSTED_RECHECK).sum(),
        )
        .collect()
    )
    return {name: int(value) for name, value in counts.row(0, named=True).items()}


# --- publish: inside the night's transaction --------------------------------------------------------------


def update_rematched_backlog(connection: duckdb.DuckDBPyConnection, run_id: str, work: RunWorkDir) -> None:
    """Re-matched backlog rows that posted tonight are resolved; the others get tonight's reason and candidate."""
    register_frame(connection, "tonight_decided_rows", _applied_decision_rows(work))
    connection.execute(
        """
        update unposted_backlog set resolved_run_id = $run_id, resolved_shot_id = posted.shot_id,
            resolution = case when posted.match_method <> 'review_decision' then 'rematched'
                              when posted.is_corrected then 'corrected_id' else 'review_accepted' end
        from (
            select p.file_hash, p.source_row, p.shot_id, p.match_method,
                   coalesce(d.is_corrected, false) as is_corrected
            from night_postings p left join tonight_decided_rows d using (file_hash, source_row)
            where p.is_rematch
        ) as posted
        where unposted_backlog.file_hash = posted.file_hash and unposted_backlog.source_row = posted.source_row
          and unposted_backlog.resolved_run_id is null
        """,
        {"run_id": run_id},
    )
    connection.execute(
        """
        update unposted_backlog set reason_code = still.backlog_reason, reason_detail = still.backlog_detail,
            candidate_citizen_id = still.candidate_citizen_id,
            candidate_score = case when still.candidate_citizen_id is not null then still.match_score end,
            last_matched_run_id = $run_id
        from (select * from outcomes where is_rematch and citizen_id is null) as still
        where unposted_backlog.file_hash = still.file_hash and unposted_backlog.source_row = still.source_row
        """,
        {"run_id": run_id},
    )


def _applied_decision_rows(work: RunWorkDir) -> pl.DataFrame:
    """file_hash, source_row, is_corrected of tonight's applied review decisions."""
    if not work.decisions_file.exists():
        schema = {"file_hash": pl.String(), "source_row": pl.Int32(), "is_corrected": pl.Boolean()}
        return pl.DataFrame(schema=schema)
    return (
        pl.read_parquet(work.decisions_file)
        .filter(pl.col("status") == "applied")
        .select("file_hash", "source_row", is_corrected=pl.col("decision") == "corrected")
        .unique()
    )


def count_resolved_rows_in_ledger(connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """The ledger tells where each file's rows are now: resolved rows move from backlog to posted/duplicate."""
    connection.execute(
        """
        update ingest_ledger set rows_posted = ingest_ledger.rows_posted + moved.posted,
            rows_duplicate = ingest_ledger.rows_duplicate + moved.duplicate,
            rows_backlog = ingest_ledger.rows_backlog - moved.posted - moved.duplicate
        from (
            select s.file_hash, count(*) filter (where not s.is_duplicate) as posted,
                   count(*) filter (where s.is_duplicate) as duplicate
            from shot_sources s join unposted_backlog b using (file_hash, source_row)
            where b.resolved_run_id = $run_id group by s.file_hash
        ) as moved
        where ingest_ledger.file_hash = moved.file_hash and ingest_ledger.status = 'loaded'
        """,
        {"run_id": run_id},
    )


def store_backlog_records(connection: duckdb.DuckDBPyConnection, match_input_path: Path) -> None:
    """Keep the as-sent and normalized values of tonight's new backlog rows, for reports and re-matching,
    and of tonight's probabilistic postings, for a newer snapshot's check (vaxsync.marts.snapshot_changes):
    one read of the match input for both."""
    columns = ", ".join(BACKLOG_RECORD_SCHEMA)
    connection.execute(
        f"""
        insert into backlog_records ({columns})
        select {columns} from read_parquet($path) m
        where ((not m.is_rematch
                and exists (select 1 from unposted_backlog b
                            where b.file_hash = m.file_hash and b.source_row = m.source_row))
               or exists (select 1 from ({PROBABILISTIC_ROWS_SQL}) p
                          where p.file_hash = m.file_hash and p.source_row = m.source_row))
          and not exists (select 1 from backlog_records r
                          where r.file_hash = m.file_hash and r.source_row = m.source_row)
        """,
        {"path": match_input_path.as_posix()},
    )
