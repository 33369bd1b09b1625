"""What a new registry snapshot changes for shots already posted.

1. A snapshot that drops citizens who already have posted shots: their shots are flagged. Each night,
   inside the publish transaction, every posted shot whose citizen is absent from tonight's snapshot gets a
   shot_conflicts row `citizen_not_in_snapshot` (posted_flagged, on the shot's winning source row), and the
   flag is lifted when a later snapshot has the citizen again. The shots stay posted (the registry may have
   merged or withdrawn an ID; a person decides), but coverage, which counts the snapshot's population,
   cannot place them: the run report and the CLI summary say how many.
2. A snapshot that adds citizens: the probabilistic postings a newcomer may explain better are matched
   again (below, "posted links a newer snapshot may explain better").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from matching.probabilistic import POSTED_CITIZEN_COLUMN
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import register_frame
from vaxsync.marts.events import retract_postings
from vaxsync.marts.warehouse import BACKLOG_RECORD_SCHEMA, connect

CODE = "citizen_not_in_snapshot"
POSTED_FLAGGED = "posted_flagged"


def flag_shots_of_missing_citizens(
    connection: duckdb.DuckDBPyConnection, registry_path: Path, run_id: str, registry_hash: str
) -> None:
    """Refresh the citizen_not_in_snapshot flags against tonight's snapshot (one anti-join)."""
    # Only the snapshot's citizens that have a posted shot or a flag matter: the snapshot is scanned once
    # against those, instead of copying every citizen (10M) and hashing them twice.
    connection.execute(
        """
        create or replace temp table snapshot_citizens as
        with concerned as (
            select citizen_id from synced_shots
            union
            select citizen_id from shot_conflicts where conflict_code = $code
        )
        select distinct citizen_id from read_parquet($path)
        where citizen_id in (select citizen_id from concerned)
        """,
        {"path": str(registry_path), "code": CODE},
    )
    connection.execute(
        """
        delete from shot_conflicts
        where conflict_code = $code and citizen_id in (select citizen_id from snapshot_citizens)
        """,
        {"code": CODE},
    )
    connection.execute(
        """
        insert or ignore into shot_conflicts
            (file_hash, source_row, conflict_code, action, shot_id, citizen_id, related_shot_id, detail, run_id)
        with missing as materialized (  -- few shots: their sources are looked up after the anti-join
            select shot_id, citizen_id from synced_shots s
            where not exists (select 1 from snapshot_citizens c where c.citizen_id = s.citizen_id)
        )
        select src.file_hash, src.source_row, $code, $action, s.shot_id, s.citizen_id, null,
               'citizen not in registry snapshot ' || $snapshot, $run_id
        from missing s
        join shot_sources src on src.shot_id = s.shot_id and not src.is_duplicate
        """,
        {"code": CODE, "action": POSTED_FLAGGED, "snapshot": registry_hash[:12], "run_id": run_id},
    )


RELINK_OUTCOMES = ("moved_by_id", "sent_to_backlog")


def count_flagged_shots(connection: duckdb.DuckDBPyConnection) -> int:
    """Posted shots whose citizen is not in the latest snapshot."""
    rows = connection.execute(
        "select count(distinct shot_id) from shot_conflicts where conflict_code = ?", [CODE]
    ).fetchall()
    return int(rows[0][0])


def relinked_posting_counts(connection: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """Tonight's posted links that a newer snapshot changed, by outcome (relinked_postings)."""
    counts = dict(
        connection.execute(
            "select outcome, count(*) from relinked_postings where run_id = ? group by 1", [run_id]
        ).fetchall()
    )
    return {outcome: int(counts.get(outcome, 0)) for outcome in RELINK_OUTCOMES}


# --- posted links a newer snapshot may explain better -------------------------------------------------------
#
# A probabilistic posting is a judgement against one snapshot: the person's namesake was the best
# explanation among the citizens that snapshot held. When a later snapshot adds citizens (newborns,
# people registered late), the true person may be among them. Each probabilistic posting keeps what it
# was decided on (`probabilistic_postings`: the citizen, the probability and its field-by-field
# explanation, the snapshot, and how many of that snapshot's citizens shared the row's folded name and
# birth year); its row's values go to `backlog_records`, as an unposted row's do. On a night with a new
# snapshot, a posting is checked again when a newcomer could explain it better: more citizens now share
# its name and birth year, or the row's own CCCD now belongs to a registered citizen other than the
# posted one. Those rows are matched again with the night's rows (`prior_backlog_reason` POSTED_RECHECK,
# `posted_citizen_id` the citizen they were posted to):
#   - tonight's evidence posts them to the same citizen: nothing changes;
#   - the ID pass confirms them to the citizen their own ID names: the posting moves (conclusive);
#   - otherwise: the posting is withdrawn and the row goes to review with its candidates, the citizen it
#     was posted to and the newcomer among them (matching.probabilistic never moves a link on probability).
# Every change is audited in `relinked_postings`; the retracted shot is kept in `retracted_shots`
# (both tables, and probabilistic_postings, are created with the warehouse: vaxsync.marts.warehouse).

PROBABILISTIC = "probabilistic"
# Tonight's probabilistic postings (of the staged `night_postings`): their rows' values go to backlog_records.
PROBABILISTIC_ROWS_SQL = (
    f"select file_hash, source_row from night_postings where match_method = '{PROBABILISTIC}'"
)
POSTED_RECHECK = "posted_link_recheck"  # prior_backlog_reason of a posted row matched again
RELINKED = "relinked_after_new_snapshot"  # vaxsync.core.reasons.RETRACTION_REASONS
ID_METHODS = ("id_exact", "legacy_id_exact")  # matching.deterministic: the row's own ID confirmed it
CHECKS_FILE_NAME = "posted_link_checks.parquet"

_CHECK_SCHEMA = {
    "file_hash": pl.String(),
    "source_row": pl.Int32(),
    "namesakes": pl.Int32(),
    "citizen_namesakes": pl.Int32(),
    "is_rechecked": pl.Boolean(),
}


def namesake_counts(registry: pl.LazyFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """name_key, birth_year, namesakes: how many registry citizens share each of these folded names and
    birth years (0 when none)."""
    wanted = keys.select("name_key", pl.col("birth_year").cast(pl.Int32)).unique()
    counts = (
        registry.select("name_key", pl.col("birth_year").cast(pl.Int32))
        .join(wanted.lazy(), on=["name_key", "birth_year"], how="semi")
        .group_by("name_key", "birth_year")
        .agg(namesakes=pl.len().cast(pl.Int32))
        .collect()
    )
    return wanted.join(counts, on=["name_key", "birth_year"], how="left").with_columns(
        pl.col("namesakes").fill_null(0)
    )


def link_namesakes(registry: pl.LazyFrame, links: pl.DataFrame) -> pl.DataFrame:
    """links (file_hash, source_row, name_key, birth_year, citizen_id) + namesakes (the registry citizens
    sharing the row's folded name and birth year) and citizen_namesakes (sharing the posted citizen's:
    a row with a typo'd name or year has its own key, but its person is the posted citizen's namesake)."""
    key = ["name_key", "birth_year"]
    citizens = (
        registry.select("citizen_id", *key)
        .join(links.select("citizen_id").unique().lazy(), on="citizen_id", how="semi")
        .collect()
    )
    citizen_keys = links.select("file_hash", "source_row", "citizen_id").join(
        citizens, on="citizen_id", how="left", maintain_order="left"
    )
    counts = namesake_counts(registry, pl.concat([links.select(key), citizens.select(key)]))
    rows = links.join(counts, on=key, how="left", nulls_equal=True, maintain_order="left")
    of_citizen = citizen_keys.join(counts, on=key, how="left", nulls_equal=True, maintain_order="left")
    return rows.with_columns(
        pl.col("namesakes").fill_null(0), citizen_namesakes=of_citizen["namesakes"].fill_null(0)
    )


def posted_links_to_recheck(
    settings: Settings, registry: pl.LazyFrame, registry_hash: str, checks_path: Path
) -> pl.DataFrame:
    """The stored records (BACKLOG_RECORD_SCHEMA + prior_backlog_reason, posted_citizen_id) of the posted
    probabilistic links to match again tonight. Every active posting not yet checked against this snapshot
    is checked; the verdicts go to checks_path, which publish reads to record the check."""
    schema = {
        **BACKLOG_RECORD_SCHEMA,
        "prior_backlog_reason": pl.String(),
        POSTED_CITIZEN_COLUMN: pl.String(),
    }
    stored = _unchecked_postings(settings, registry_hash)
    if stored.is_empty():
        pl.DataFrame(schema=_CHECK_SCHEMA).write_parquet(checks_path)
        return pl.DataFrame(schema=schema)
    own_ids = stored.select(pl.col("id_value").drop_nulls().unique()).lazy()
    own_id_owner = registry.select(
        pl.col("citizen_id").alias("id_value"), id_owner=pl.col("citizen_id")
    ).join(own_ids, on="id_value", how="semi")
    stored = stored.rename({"namesakes": "namesakes_before", "citizen_namesakes": "citizen_namesakes_before"})
    tonight = link_namesakes(registry, stored.with_columns(citizen_id=pl.col(POSTED_CITIZEN_COLUMN)))
    checked = tonight.join(
        own_id_owner.collect(), on="id_value", how="left", maintain_order="left"
    ).with_columns(
        is_rechecked=(pl.col("namesakes") > pl.col("namesakes_before"))
        | (pl.col("citizen_namesakes") > pl.col("citizen_namesakes_before"))
        | (
            (pl.col("id_kind") == "cccd")
            & pl.col("id_owner").is_not_null()
            & (pl.col("id_owner") != pl.col(POSTED_CITIZEN_COLUMN))
        )
    )
    checked.select(list(_CHECK_SCHEMA)).cast(_CHECK_SCHEMA).write_parquet(checks_path)  # type: ignore[arg-type]
    return (
        checked.filter(pl.col("is_rechecked"))
        .with_columns(prior_backlog_reason=pl.lit(POSTED_RECHECK))
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )


def _unchecked_postings(settings: Settings, registry_hash: str) -> pl.DataFrame:
    """Records of the active probabilistic postings not yet checked against this snapshot."""
    if not settings.warehouse_path.exists():
        return pl.DataFrame()
    columns = ", ".join(f"r.{name}" for name in BACKLOG_RECORD_SCHEMA)
    with connect(settings.warehouse_path, settings=settings) as connection:
        return connection.sql(
            f"""
            select {columns}, p.citizen_id as {POSTED_CITIZEN_COLUMN}, p.namesakes, p.citizen_namesakes
            from probabilistic_postings p
            join backlog_records r using (file_hash, source_row)
            join shot_sources s using (file_hash, source_row)
            where p.checked_registry_hash <> $registry_hash and s.inactive_reason is null
              and s.shot_id in (select shot_id from synced_shots)
            """,
            params={"registry_hash": registry_hash},
        ).pl()


def settle_rechecked_links(connection: duckdb.DuckDBPyConnection, outcomes: pl.DataFrame) -> pl.DataFrame:
    """Before the event rules: rechecked rows that stay on their citizen leave tonight's outcomes (their
    posting stands); the others are listed in the temp table `relinking` for publish to withdraw."""
    rechecked = outcomes.filter(pl.col("prior_backlog_reason") == POSTED_RECHECK).select(
        "file_hash", "source_row", "citizen_id"
    )
    register_frame(connection, "rechecked_rows", rechecked)
    relinking = connection.sql(
        """
        select p.file_hash, p.source_row, p.shot_id, p.citizen_id
        from probabilistic_postings p join rechecked_rows r using (file_hash, source_row)
        where r.citizen_id is distinct from p.citizen_id
        """
    ).pl()
    register_frame(connection, "relinking_frame", relinking)
    connection.execute("create or replace temp table relinking as select * from relinking_frame")
    keys = ["file_hash", "source_row"]
    unchanged = rechecked.join(relinking.select(keys), on=keys, how="anti")
    if unchanged.is_empty():  # most nights: no copy of the night's rows
        return outcomes
    return outcomes.join(unchanged, on=keys, how="anti")


def withdraw_relinked_postings(connection: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime) -> None:
    """Inside the publish transaction, before tonight's postings: the rechecked postings that do not stand
    are withdrawn. Their rows leave shot_sources (a shot nothing else supports is retracted, kept in
    retracted_shots) and their files' ledger counts them in the backlog until tonight places them again."""
    rows = connection.sql("select file_hash, source_row from relinking").pl()
    if rows.is_empty():
        return
    retract_postings(connection, rows, run_id=run_id, now=now, reason=RELINKED)
    _move_in_ledger(connection, to_backlog=True)
    connection.execute(
        "delete from shot_sources where (file_hash, source_row) in (select file_hash, source_row from relinking)"
    )


def place_relinked_rows(
    connection: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime, as_of: dt.date, registry_hash: str
) -> None:
    """After tonight's postings: a row its own ID moved is posted again (its file's ledger says so); a row
    tonight did not post goes to the backlog (its old backlog row reopened, if it had one); both audited."""
    if not connection.sql("select count(*) from relinking").fetchall()[0][0]:
        return
    _move_in_ledger(connection, to_backlog=False)
    unposted = """select o.* from outcomes o join relinking r using (file_hash, source_row)
                  where o.citizen_id is null"""
    connection.execute(
        f"""
        update unposted_backlog set resolved_run_id = null, resolution = null, resolved_shot_id = null,
            reason_code = o.backlog_reason, reason_detail = o.backlog_detail,
            candidate_citizen_id = o.candidate_citizen_id,
            candidate_score = case when o.candidate_citizen_id is not null then o.match_score end,
            last_matched_run_id = $run_id
        from ({unposted}) as o
        where unposted_backlog.file_hash = o.file_hash and unposted_backlog.source_row = o.source_row
        """,
        {"run_id": run_id},
    )
    connection.execute(
        f"""
        insert into unposted_backlog (source_file, file_hash, source_row, reason_code, reason_detail,
            province_code, facility, candidate_citizen_id, candidate_score, first_seen_on, run_id,
            last_matched_run_id)
        select o.source_file, o.file_hash, o.source_row, o.backlog_reason, o.backlog_detail,
               o.best_province_code, o.raw_facility_name, o.candidate_citizen_id,
               case when o.candidate_citizen_id is not null then o.match_score end, $as_of, $run_id, $run_id
        from ({unposted}) as o
        where not exists (select 1 from unposted_backlog b
                          where b.file_hash = o.file_hash and b.source_row = o.source_row)
        """,
        {"run_id": run_id, "as_of": as_of},
    )
    connection.execute(
        """
        insert into relinked_postings
        select $run_id, r.file_hash, r.source_row, r.shot_id, r.citizen_id,
               case when s.shot_id is null then 'sent_to_backlog' else 'moved_by_id' end,
               o.citizen_id, s.shot_id, o.backlog_reason, o.candidate_citizen_id, o.match_detail,
               $registry_hash, $now
        from relinking r
        join outcomes o using (file_hash, source_row)
        left join shot_sources s using (file_hash, source_row)
        """,
        {"run_id": run_id, "registry_hash": registry_hash, "now": now},
    )
    connection.execute(
        """delete from probabilistic_postings
           where (file_hash, source_row) in (select file_hash, source_row from relinking)"""
    )


def _move_in_ledger(connection: duckdb.DuckDBPyConnection, *, to_backlog: bool) -> None:
    """The relinked rows' files: their rows in shot_sources move from posted (or duplicate) to the backlog,
    or back (after tonight's postings, for the rows that posted again)."""
    sign = -1 if to_backlog else 1
    connection.execute(
        f"""
        update ingest_ledger set rows_posted = ingest_ledger.rows_posted + {sign} * moved.posted,
            rows_duplicate = ingest_ledger.rows_duplicate + {sign} * moved.duplicate,
            rows_backlog = ingest_ledger.rows_backlog - {sign} * (moved.posted + moved.duplicate)
        from (
            select s.file_hash, count(*) filter (where not s.is_duplicate) as posted,
                   count(*) filter (where s.is_duplicate) as duplicate
            from shot_sources s join relinking r using (file_hash, source_row) group by s.file_hash
        ) as moved
        where ingest_ledger.file_hash = moved.file_hash and ingest_ledger.status = 'loaded'
        """
    )


def record_probabilistic_postings(
    connection: duckdb.DuckDBPyConnection,
    registry: pl.LazyFrame,
    *,
    run_id: str,
    registry_hash: str,
    match_input_path: Path,
    checks_path: Path,
) -> None:
    """Keep what tonight's probabilistic postings were decided on, and record that the postings checked
    tonight were checked against this snapshot. Their rows' values (for a later check) are kept by
    vaxsync.marts.backlog.store_backlog_records, with the new backlog rows': one read of the match input."""
    if checks_path.exists():
        register_frame(connection, "posted_link_checks", pl.read_parquet(checks_path))
        connection.execute(
            """
            update probabilistic_postings set namesakes = c.namesakes, citizen_namesakes = c.citizen_namesakes,
                checked_registry_hash = $hash
            from posted_link_checks c
            where probabilistic_postings.file_hash = c.file_hash
              and probabilistic_postings.source_row = c.source_row
            """,
            {"hash": registry_hash},
        )
    posted = connection.sql(
        """select file_hash, source_row, shot_id, citizen_id, match_score, match_detail
           from night_postings where match_method = $method""",
        params={"method": PROBABILISTIC},
    ).pl()
    if posted.is_empty():
        return
    keys = ["file_hash", "source_row"]
    records = pl.scan_parquet(match_input_path).join(posted.lazy().select(keys), on=keys, how="semi")
    names = records.select(*keys, "name_key", pl.col("birth_year").cast(pl.Int32)).collect()
    counted = link_namesakes(registry, names.join(posted.select(*keys, "citizen_id"), on=keys))
    evidence = posted.join(
        counted.select(*keys, "namesakes", "citizen_namesakes"), on=keys, how="left"
    ).with_columns(pl.col("namesakes", "citizen_namesakes").fill_null(0))
    register_frame(connection, "tonight_probabilistic", evidence)
    connection.execute(
        """
        insert or replace into probabilistic_postings
        select file_hash, source_row, shot_id, citizen_id, match_score, match_detail, namesakes,
               citizen_namesakes, $hash, $hash, $run_id
        from tonight_probabilistic
        """,
        {"hash": registry_hash, "run_id": run_id},
    )
