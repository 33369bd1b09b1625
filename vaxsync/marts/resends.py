"""File re-sends: which landed file is a new version of which, and what a new version replaces.

A facility corrects its data by sending the file again. The newest arrival of a *lineage* (the versions
of one file) is its active version; every older version's rows are superseded: its backlog rows leave the
open backlog, its posted rows stop supporting their shots, and a shot no active row supports is retracted
(vaxsync.marts.events.retract_unsupported_shots). docs/backlog.md ("File re-sends") states the rules.

A new version is recognised
- at the same path: new content at a path whose earlier content was loaded (the path's lineage), unless
  it is plainly another file under a reused name (no period in common and not one row in common);
- under a new name, conservatively: same main facility, overlapping vaccination period, and at least
  RESEND_MIN_ROW_OVERLAP of the rows identical in (ID, name, vaccination date, vaccine) on both sides,
  with exactly one such earlier version; otherwise the file is a new file and replaces nothing. A file
  under a new name sharing that many rows with a version a lineage already replaced, and more than with
  its active version, is that old version landed again (`old_version_renamed`): it must neither roll back
  the corrections nor post its old rows beside them, so it replaces nothing and its rows wait for review
  (older_version_resent). The same against the facility's versions taken together: an old export
  overlapping several replaced versions at once (its history re-sent split in two, each half corrected);
- again (flip-flop): an older version landing again at its path becomes the active version once more
  (discover lists it as `rearrived`; its rows are reinstated, the newer version's are superseded) — only
  where the lineage's active version lives; elsewhere (its own old path after a rename) it is a copy of the
  old version (`old_version_copy`) and replaces nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from transforms.normalize.addresses import facility_province_code
from transforms.normalize.reference import load_reference
from vaxsync.core.decision_sheet import UNKNOWN_PROVINCE
from vaxsync.core.reasons import REMATCHABLE_REASONS
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import DuckDBConfig, in_memory, register_frame
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.marts.events import facility_key_sql
from vaxsync.marts.warehouse import WAREHOUSE_DDL, connect

# Share of identical rows, over the larger of the two versions, that makes a renamed file a re-send.
# High on purpose: a new file that merely repeats some rows (a cumulative export) is not a re-send.
RESEND_MIN_ROW_OVERLAP = 0.8

VERSIONS_FILE_NAME = "file_versions.parquet"
OLD_VERSION_RENAMED = "old_version_renamed"
OLDER_VERSION_REASON = "older_version_resent"
# The held row's detail (the report shows it on the row; vaxsync.core.reasons.DETAIL_TEXTS translates it):
# a decision on such a row is refused (`older_version_row`, vaxsync.marts.decisions).
OLDER_VERSION_DETAIL = (
    "a newer version of this file already corrected it (this version landed again under a new name);"
    " a decision on this row is refused: it would post the old values beside the corrected ones"
)

# tonight's versions: one row per file version arriving tonight (new content, or an older one again)
TONIGHT_VERSION_SCHEMA = pl.Schema(
    {
        "source_file": pl.String(),
        "file_hash": pl.String(),
        "lineage": pl.String(),  # the path of the lineage's first version
        "replaces_file_hash": pl.String(),  # the lineage's active version before tonight, null for a new file
        # first_version | same_path | renamed | reused_name | rearrived | old_version_copy | old_version_renamed
        "recognised_as": pl.String(),
        "row_overlap": pl.Float64(),  # renamed, old_version_renamed: share of rows identical to the active version
        "facility_key": pl.String(),
        "first_vaccinated_on": pl.Date(),
        "last_vaccinated_on": pl.Date(),
        "rows": pl.Int64(),
        "distinct_keys": pl.Int64(),  # distinct row keys (rows told apart by ID, name, date and vaccine)
    }
)

# Every loaded version, first arrivals from before file_versions existed included (their lineage is
# their path). One row per arrival; the latest arrival of a lineage is its active version.
ARRIVALS_SQL = """
    select source_file, file_hash, lineage, arrived_at from file_versions
    where recognised_as <> 'old_version_copy'
    union all
    select l.source_file, l.file_hash, l.source_file, l.ingested_at from ingest_ledger l
    where l.status = 'loaded'
      and not exists (select 1 from file_versions v where v.file_hash = l.file_hash)
"""


def versions_file(work: RunWorkDir) -> Path:
    return work.root / VERSIONS_FILE_NAME


# --- discover ---------------------------------------------------------------------------------------------


def path_arrivals(settings: Settings) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """The content hash last seen at each path (any status), and the (path, hash) pairs that were loaded.

    Discover lists a known (path, hash) again as `rearrived` when the path last held other content and
    this one was loaded: an older version sent again."""

    if not settings.warehouse_path.exists():
        return {}, set()
    with connect(settings.warehouse_path, settings=settings) as connection:
        latest = connection.execute(
            """
            with seen as (
                select source_file, file_hash, ingested_at as seen_at from ingest_ledger
                union all
                select source_file, file_hash, arrived_at from file_versions
            )
            select source_file, arg_max(file_hash, seen_at) from seen group by source_file
            """
        ).fetchall()
        loaded = connection.execute(
            "select source_file, file_hash from ingest_ledger where status = 'loaded'"
        ).fetchall()
    return {path: file_hash for path, file_hash in latest}, {(path, file_hash) for path, file_hash in loaded}


# --- match stage: recognise tonight's versions -----------------------------------------------------------


def row_key_sql() -> str:
    """What makes two rows 'the same row' across versions: ID, name, vaccination date and vaccine."""
    return """substr(sha256(concat_ws('|', coalesce(id_value, ''), coalesce(name_key, ''),
                  coalesce(cast(vaccinated_date as varchar), raw_vaccinated_on, ''),
                  coalesce(vaccine_code, lower(trim(raw_vaccine)), ''))), 1, 24)"""


def tonight_row_keys(normalized_file: Path, config: DuckDBConfig) -> pl.LazyFrame:
    """file_hash, source_file, row_key, facility_key, vaccinated_date of tonight's loaded rows."""
    with in_memory(config) as connection:
        return (
            connection.sql(
                # the facility key (a regular expression) once per facility name, rows kept in file order
                f"""
            with tonight as (
                select file_row_number, file_hash, source_file, {row_key_sql()} as row_key,
                       raw_facility_name, vaccinated_date
                from read_parquet($path, file_row_number = true)
            ),
            facilities as (
                select raw_facility_name, {facility_key_sql("raw_facility_name")} as facility_key
                from (select distinct raw_facility_name from tonight)
            )
            select t.file_hash, t.source_file, t.row_key, f.facility_key, t.vaccinated_date
            from tonight t left join facilities f
                on f.raw_facility_name is not distinct from t.raw_facility_name
            order by t.file_row_number
            """,
                params={"path": normalized_file.as_posix()},
            )
            .pl()
            .lazy()
        )


def recognise_versions(settings: Settings, work: RunWorkDir) -> list[str]:
    """Tonight's file versions (TONIGHT_VERSION_SCHEMA), written to the work folder for publish; returns
    the hashes of the earlier versions they replace (their backlog rows are not matched again tonight)."""
    rows = tonight_row_keys(work.normalized_file, DuckDBConfig.of(settings)).collect()
    rearrived = pl.DataFrame(
        [entry for entry in read_json(work.discovered_file) if entry["status"] == "rearrived"],
        schema={"source_file": pl.String(), "file_hash": pl.String(), "status": pl.String()},
    ).select("source_file", "file_hash")
    with _warehouse_or_empty(settings) as connection:
        register_frame(connection, "tonight_rows", rows)
        register_frame(connection, "tonight_rearrived", rearrived)
        versions = connection.sql(_RECOGNISE_SQL, params={"min_overlap": RESEND_MIN_ROW_OVERLAP}).pl()
        versions = versions.cast(TONIGHT_VERSION_SCHEMA).select(list(TONIGHT_VERSION_SCHEMA))
        register_frame(connection, "tonight_versions", versions)
        replaced = connection.sql(f"select distinct old_file_hash from ({superseded_tonight()})").fetchall()
    versions.write_parquet(versions_file(work))
    return sorted(file_hash for (file_hash,) in replaced)


@contextlib.contextmanager
def _warehouse_or_empty(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse; before the first night, an empty one in memory (the match stage creates no file)."""

    if settings.warehouse_path.exists():
        with connect(settings.warehouse_path, settings=settings) as connection:
            yield connection
        return
    connection = in_memory(DuckDBConfig.of(settings))
    try:
        connection.execute(WAREHOUSE_DDL)
        yield connection
    finally:
        connection.close()


_RECOGNISE_SQL = f"""
with arrivals as ({ARRIVALS_SQL}),
active as (
    select lineage, arg_max(file_hash, arrived_at) as active_file_hash from arrivals group by lineage
),
version_facts as (
    select file_hash, any_value(facility_key) as facility_key, any_value(first_vaccinated_on) as first_vaccinated_on,
           any_value(last_vaccinated_on) as last_vaccinated_on, any_value(rows) as rows,
           any_value(distinct_keys) as distinct_keys
    from file_versions where recognised_as not in ('rearrived', 'old_version_copy', 'old_version_renamed')
    group by file_hash
),
path_lineage as (
    select source_file, arg_max(lineage, arrived_at) as lineage from arrivals group by source_file
),
files as (
    select file_hash, any_value(source_file) as source_file, mode(facility_key) as facility_key,
           min(vaccinated_date) as first_vaccinated_on, max(vaccinated_date) as last_vaccinated_on,
           count(*) as rows, count(distinct row_key) as distinct_keys
    from tonight_rows group by file_hash
),
reused_path as (
    select f.file_hash, p.lineage, a.active_file_hash, v.file_hash is null as has_no_facts,
           v.first_vaccinated_on <= f.last_vaccinated_on
               and f.first_vaccinated_on <= v.last_vaccinated_on as periods_overlap
    from files f join path_lineage p using (source_file)
    join active a using (lineage)
    left join version_facts v on v.file_hash = a.active_file_hash
),
-- New content at a known path is a new version of the path's file, unless it is plainly another file
-- under a reused name (next month's export): a period apart and not one row in common.
same_path as (
    select u.file_hash, u.lineage from reused_path u
    where u.has_no_facts or u.periods_overlap
       or exists (select 1 from tonight_rows t join file_row_keys k on k.row_key = t.row_key
                  where t.file_hash = u.file_hash and k.file_hash = u.active_file_hash)
),
-- A renamed re-send: an active version of another lineage, same facility, overlapping period,
-- most rows identical on both sides.
renamed_candidates as (
    select f.file_hash, a.lineage, count(*) as shared_keys,
           count(*) / greatest(f.distinct_keys, v.distinct_keys) as row_overlap
    from files f
    join (select distinct file_hash, row_key from tonight_rows) t on t.file_hash = f.file_hash
    join file_row_keys k on k.row_key = t.row_key
    join active a on a.active_file_hash = k.file_hash
    join version_facts v on v.file_hash = a.active_file_hash
    where f.file_hash not in (select file_hash from same_path)
      and v.facility_key = f.facility_key
      and v.first_vaccinated_on <= f.last_vaccinated_on and f.first_vaccinated_on <= v.last_vaccinated_on
      and a.lineage not in (select lineage from same_path)
    group by f.file_hash, a.lineage, f.distinct_keys, v.distinct_keys
    having count(*) / greatest(f.distinct_keys, v.distinct_keys) >= $min_overlap
),
-- An older version landing again where the lineage's active version lives (or the active version itself,
-- after a newer one was quarantined) is a flip-flop: it becomes the active version again. Landing at a path
-- where the active version does not live (its own old path, after the file was renamed), it is a copy of
-- that old version: recorded (so the next night does not list it again), it replaces nothing.
rearrivals as (
    select t.source_file, t.file_hash, l.lineage, a.active_file_hash,
           bool_or(a.active_file_hash = t.file_hash or x.source_file = t.source_file) as is_flip_flop
    from tonight_rearrived t
    join (select file_hash, source_file, arg_max(lineage, arrived_at) as lineage from arrivals
          group by file_hash, source_file) l using (file_hash, source_file)
    join active a on a.lineage = l.lineage
    join arrivals x on x.lineage = a.lineage and x.file_hash = a.active_file_hash
    group by all
),
-- Conservative: one candidate for the file, and no other file of tonight claiming that lineage.
renamed_or_old as (
    select file_hash, lineage, row_overlap from renamed_candidates
    qualify count(*) over (partition by file_hash) = 1 and count(*) over (partition by lineage) = 1
),
-- Every loaded version (active or replaced) that a new file overlaps, from the same facility and period.
version_overlaps as (
    select f.file_hash, x.lineage, x.file_hash = a.active_file_hash as is_active,
           count(*) / greatest(f.distinct_keys, v.distinct_keys) as row_overlap
    from files f
    join (select distinct file_hash, row_key from tonight_rows) t on t.file_hash = f.file_hash
    join file_row_keys k on k.row_key = t.row_key
    join (select distinct lineage, file_hash from arrivals) x on x.file_hash = k.file_hash
    join active a on a.lineage = x.lineage
    join version_facts v on v.file_hash = x.file_hash
    where f.file_hash not in (select file_hash from same_path)
      and v.facility_key = f.facility_key
      and v.first_vaccinated_on <= f.last_vaccinated_on and f.first_vaccinated_on <= v.last_vaccinated_on
    group by f.file_hash, x.lineage, x.file_hash, a.active_file_hash, f.distinct_keys, v.distinct_keys
),
-- An older version of a lineage landed again under a new name (byte-different, so not known by its hash):
-- it shares at least the renamed share of rows with a version the lineage already replaced, and more than
-- with the active version. Replacing the active version would roll back its corrections, and posting it as
-- a new file would add its old rows beside them: it replaces nothing and its rows wait for review.
old_renamed as (
    select o.file_hash, max(coalesce(c.row_overlap, 0)) as row_overlap
    from version_overlaps o
    left join version_overlaps c on c.file_hash = o.file_hash and c.lineage = o.lineage and c.is_active
    where not o.is_active and o.row_overlap >= $min_overlap and o.row_overlap > coalesce(c.row_overlap, 0)
    group by o.file_hash
),
-- The same, against the facility's versions taken together: an old export overlapping several replaced
-- versions at once (a history the facility later re-sent split in two, each half corrected) shares under the
-- renamed share with each, yet most of its rows are rows the re-sends replaced, and fewer are current.
old_renamed_across as (
    select file_hash, replaced_share as row_overlap from (
        select f.file_hash,
               count(distinct t.row_key) filter (where not x.is_active) / f.distinct_keys as replaced_share,
               count(distinct t.row_key) filter (where x.is_active) / f.distinct_keys as active_share
        from files f
        join (select distinct file_hash, row_key from tonight_rows) t on t.file_hash = f.file_hash
        join file_row_keys k on k.row_key = t.row_key
        join (select distinct x.file_hash, x.file_hash = a.active_file_hash as is_active
              from arrivals x join active a using (lineage)) x on x.file_hash = k.file_hash
        join version_facts v on v.file_hash = x.file_hash
        where f.file_hash not in (select file_hash from same_path)
          and v.facility_key = f.facility_key
          and v.first_vaccinated_on <= f.last_vaccinated_on and f.first_vaccinated_on <= v.last_vaccinated_on
        group by f.file_hash, f.distinct_keys
    )
    where replaced_share >= $min_overlap and replaced_share > active_share
),
older_versions as (
    select file_hash, max(row_overlap) as row_overlap
    from (select * from old_renamed union all select * from old_renamed_across) group by file_hash
),
renamed as (select * from renamed_or_old where file_hash not in (select file_hash from older_versions))
select f.source_file, f.file_hash,
       coalesce(s.lineage, r.lineage,
                case when u.file_hash is not null then f.source_file || '@' || left(f.file_hash, 12) end,
                f.source_file) as lineage,
       a.active_file_hash as replaces_file_hash,
       case when s.lineage is not null then 'same_path' when r.lineage is not null then 'renamed'
            when o.file_hash is not null then '{OLD_VERSION_RENAMED}'
            when u.file_hash is not null then 'reused_name' else 'first_version' end as recognised_as,
       coalesce(r.row_overlap, o.row_overlap) as row_overlap, f.facility_key, f.first_vaccinated_on, f.last_vaccinated_on,
       f.rows, f.distinct_keys
from files f
left join same_path s using (file_hash)
left join renamed r using (file_hash)
left join older_versions o using (file_hash)
left join reused_path u using (file_hash)
left join active a on a.lineage = coalesce(s.lineage, r.lineage)
union all
select r.source_file, r.file_hash, r.lineage,
       case when r.is_flip_flop then nullif(r.active_file_hash, r.file_hash) end,
       case when r.is_flip_flop then 'rearrived' else 'old_version_copy' end, null,
       v.facility_key, v.first_vaccinated_on, v.last_vaccinated_on, v.rows, v.distinct_keys
from rearrivals r
left join version_facts v on v.file_hash = r.file_hash
"""


def read_tonight_versions(work: RunWorkDir) -> pl.DataFrame:
    path = versions_file(work)
    if not path.exists():
        return pl.DataFrame(schema=TONIGHT_VERSION_SCHEMA)
    return pl.read_parquet(path).cast(TONIGHT_VERSION_SCHEMA)


def superseded_tonight() -> str:
    """SQL: (old_file_hash, new_file_hash) of every loaded version a version of tonight replaces."""
    return f"""
    select distinct a.file_hash as old_file_hash, t.file_hash as new_file_hash
    from ({ARRIVALS_SQL}) a join tonight_versions t using (lineage)
    where a.file_hash <> t.file_hash and t.replaces_file_hash is not null
    """


# --- publish ----------------------------------------------------------------------------------------------


def stage_version_changes(connection: duckdb.DuckDBPyConnection, versions: pl.DataFrame) -> None:
    """Temp tables `tonight_versions` (TONIGHT_VERSION_SCHEMA), `version_changes` (old -> new file hash) and
    `retiring_shots` (posted shots that only superseded rows support: the event rules must not see them as
    the person's history)."""
    register_frame(connection, "tonight_versions_frame", versions.cast(TONIGHT_VERSION_SCHEMA))
    connection.execute(
        "create or replace temp table tonight_versions as select * from tonight_versions_frame"
    )
    connection.execute(f"create or replace temp table version_changes as {superseded_tonight()}")
    connection.execute(
        """
        create or replace temp table retiring_shots as
        select s.shot_id from shot_sources s
        left join (select distinct old_file_hash from version_changes) c on c.old_file_hash = s.file_hash
        where s.inactive_reason is null
          and s.shot_id in (select shot_id from shot_sources
                            where file_hash in (select old_file_hash from version_changes))
        group by s.shot_id
        having bool_and(c.old_file_hash is not null)
        """
    )


def supersede_replaced_backlog(connection: duckdb.DuckDBPyConnection) -> None:
    """The replaced versions' backlog rows leave the open backlog (kept: the ledger still accounts for
    them); an older version landing again gets its own rows back."""
    connection.execute(
        """
        update unposted_backlog set superseded_by_file_hash = c.new_file_hash
        from version_changes c
        where unposted_backlog.file_hash = c.old_file_hash and unposted_backlog.superseded_by_file_hash is null
        """
    )
    connection.execute(
        """
        update unposted_backlog set superseded_by_file_hash = null
        where file_hash in (select file_hash from tonight_versions where recognised_as = 'rearrived')
        """
    )


def record_file_versions(
    connection: duckdb.DuckDBPyConnection, work: RunWorkDir, run_id: str, now: dt.datetime
) -> None:
    """Inside the publish transaction: tonight's arrivals, their row keys (to recognise a renamed re-send
    later), and for each version that replaced another, what changed (`file_version_changes`)."""
    record_arrivals(connection, run_id, now)
    connection.execute(
        f"""
        insert into file_row_keys
        select distinct file_hash, {row_key_sql()} from read_parquet($path)
        where not is_rematch
          and file_hash in (select file_hash from tonight_versions
                            where recognised_as not in ('rearrived', 'old_version_copy', $old_renamed))
          and file_hash not in (select file_hash from file_row_keys)
        """,
        {"path": work.match_input_file.as_posix(), "old_renamed": OLD_VERSION_RENAMED},
    )


def hold_rows_of_old_versions(outcomes: pl.DataFrame, versions: pl.DataFrame) -> pl.DataFrame:
    """The outcomes with every row of tonight's old_version_renamed files in the backlog as
    older_version_resent (its matched citizen kept as the candidate): posting them would put back what a
    newer version corrected. A row already unposted keeps its reason unless the nightly re-match could
    post it later."""
    old_versions = versions.filter(pl.col("recognised_as") == OLD_VERSION_RENAMED)["file_hash"]
    reason = pl.col("backlog_reason")
    is_held = pl.col("file_hash").is_in(old_versions.implode()) & (
        pl.col("citizen_id").is_not_null() | reason.is_in(list(REMATCHABLE_REASONS)).fill_null(False)
    )
    detail = OLDER_VERSION_DETAIL
    return outcomes.with_columns(
        citizen_id=pl.when(is_held).then(pl.lit(None, pl.String)).otherwise("citizen_id"),
        candidate_citizen_id=pl.when(is_held)
        .then(pl.coalesce("citizen_id", "candidate_citizen_id"))
        .otherwise("candidate_citizen_id"),
        backlog_reason=pl.when(is_held).then(pl.lit(OLDER_VERSION_REASON)).otherwise(reason),
        backlog_detail=pl.when(is_held).then(pl.lit(detail)).otherwise("backlog_detail"),
    )


def record_arrivals(connection: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime) -> None:
    """`file_versions` rows of tonight's arrivals and `file_version_changes` of those replacing a version."""
    connection.execute(
        "insert into file_versions select *, $run_id, $now from tonight_versions",
        {"run_id": run_id, "now": now},
    )
    connection.execute(
        """
        insert into file_version_changes
        with new_from_version as (
            select n.shot_id, n.citizen_id, src.file_hash
            from new_shots n join shot_sources src on src.shot_id = n.shot_id and src.run_id = $run_id
            where not src.is_duplicate
        ), retracted as (
            select shot_id, citizen_id, retracted_by_file_hash as file_hash
            from retracted_shots where retracted_run_id = $run_id
        ), kept as (
            select distinct src.file_hash, src.shot_id from shot_sources src
            where src.file_hash in (select file_hash from tonight_versions where replaces_file_hash is not null)
              and src.inactive_reason is null and src.shot_id in (select shot_id from synced_shots)
              and src.shot_id not in (select shot_id from new_shots)
              and src.shot_id not in (select shot_id from restored_tonight)
        )
        select $run_id, t.source_file, t.file_hash, t.replaces_file_hash, t.recognised_as,
               (select count(*) from kept k where k.file_hash = t.file_hash),
               (select count(*) from new_from_version a where a.file_hash = t.file_hash),
               (select count(*) from retracted r where r.file_hash = t.file_hash),
               (select count(*) from retracted r where r.file_hash = t.file_hash
                  and r.citizen_id in (select citizen_id from new_from_version a where a.file_hash = t.file_hash)),
               (select count(distinct s.shot_id) from restored_tonight s
                  join shot_sources src on src.shot_id = s.shot_id
                  where src.file_hash = t.file_hash and src.inactive_reason is null)
        from tonight_versions t
        where t.replaces_file_hash is not null
        """,
        {"run_id": run_id},
    )


def resend_counts(connection: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """The night's re-send figures for the run report (no personal data)."""
    row = connection.execute(
        """
        select count(*), coalesce(sum(shots_retracted), 0), coalesce(sum(shots_replaced), 0),
               coalesce(sum(shots_added), 0), coalesce(sum(shots_restored), 0)
        from file_version_changes where run_id = ?
        """,
        [run_id],
    ).fetchall()[0]
    names = ("files_replacing_a_version", "shots_retracted", "shots_replaced", "shots_added_by_new_versions",
             "shots_restored")  # fmt: skip
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def resent_file_changes(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, object]]:
    """What each of the night's replacing versions changed, for the run report (paths and counts only)."""
    rows = connection.execute(
        """
        select source_file, recognised_as, shots_kept, shots_added, shots_retracted, shots_replaced,
               shots_restored
        from file_version_changes where run_id = ? order by source_file
        """,
        [run_id],
    ).fetchall()
    names = ("source_file", "recognised_as", "shots_kept", "shots_added", "shots_retracted", "shots_replaced",
             "shots_restored")  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]


# --- the facility's province report: what each re-sent file changed -------------------------------------------

RESENT_SHOT_CHANGES = ("added", "replaced", "retracted", "restored", "kept")  # the report's order
RESENT_SHOT_SCHEMA = pl.Schema(
    {
        "province_code": pl.String(),  # the re-sent file's facility province (from its landing path), or ??
        "source_file": pl.String(),  # the version that landed (its path)
        "recognised_as": pl.String(),
        "change": pl.String(),  # RESENT_SHOT_CHANGES
        "citizen_id": pl.String(),  # unmasked: the report masks it
        "vaccine_code": pl.String(),
        "vaccinated_on": pl.Date(),
        "facility": pl.String(),
        "lot": pl.String(),
    }
)

# One row per shot a night's replacing version kept, added, retracted (replaced: retracted where the same
# citizen got a shot from the new version) or restored: the same definitions as file_version_changes' counts.
_RESENT_SHOTS_SQL = """
with versions as (
    select run_id, source_file, file_hash, recognised_as from file_version_changes
    where run_id in (select run_id from pipeline_runs where as_of = $as_of)
),
added as (
    select v.run_id, v.source_file, v.file_hash, v.recognised_as, s.*
    from versions v
    join shot_sources src on src.file_hash = v.file_hash and src.run_id = v.run_id and not src.is_duplicate
    join synced_shots s on s.shot_id = src.shot_id and s.run_id = v.run_id
),
retracted as (
    select v.run_id, v.source_file, v.file_hash, v.recognised_as, r.* exclude (run_id)
    from versions v join retracted_shots r on r.retracted_run_id = v.run_id and r.retracted_by_file_hash = v.file_hash
),
restored as (
    select distinct v.run_id, v.source_file, v.file_hash, v.recognised_as, r.shot_id
    from versions v join retracted_shots r on r.restored_run_id = v.run_id
    join shot_sources src on src.shot_id = r.shot_id and src.file_hash = v.file_hash and src.inactive_reason is null
)
select source_file, recognised_as, 'added' as change, citizen_id, vaccine_code, vaccinated_on, facility, lot
from added
union all
select r.source_file, r.recognised_as,
       case when exists (select 1 from added a where a.file_hash = r.file_hash and a.run_id = r.run_id
                                                 and a.citizen_id = r.citizen_id)
            then 'replaced' else 'retracted' end,
       r.citizen_id, r.vaccine_code, r.vaccinated_on, r.facility, r.lot
from retracted r
union all
select v.source_file, v.recognised_as, 'restored', s.citizen_id, s.vaccine_code, s.vaccinated_on, s.facility, s.lot
from restored v join synced_shots s using (shot_id)
union all
select distinct v.source_file, v.recognised_as, 'kept', s.citizen_id, s.vaccine_code, s.vaccinated_on, s.facility,
       s.lot
from versions v
join shot_sources src on src.file_hash = v.file_hash and src.inactive_reason is null
join synced_shots s on s.shot_id = src.shot_id
where s.run_id <> v.run_id
  and s.shot_id not in (select shot_id from restored r where r.run_id = v.run_id and r.file_hash = v.file_hash)
"""


def resent_shot_changes(connection: duckdb.DuckDBPyConnection, *, as_of: dt.date) -> pl.DataFrame:
    """What the night's re-sent file versions changed, shot by shot (RESENT_SHOT_SCHEMA), for the province
    reports; each file goes to its facility's province. By the night's as-of, so a re-run writes the same
    report."""
    changes = connection.sql(_RESENT_SHOTS_SQL, params={"as_of": as_of}).pl()
    province = facility_province_code(pl.col("source_file"), load_reference().province_codes)
    order = {change: position for position, change in enumerate(RESENT_SHOT_CHANGES)}
    return (
        changes.with_columns(province_code=province.fill_null(UNKNOWN_PROVINCE))
        .select(list(RESENT_SHOT_SCHEMA))
        .cast(RESENT_SHOT_SCHEMA)
        .sort(
            "province_code",
            "source_file",
            pl.col("change").replace_strict(order, return_dtype=pl.Int8),
            "vaccinated_on",
            "citizen_id",
            "vaccine_code",
        )
    )
