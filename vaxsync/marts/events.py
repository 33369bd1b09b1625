"""Vaccination events: which rows are one dose, which copy wins, and which conflicts stop a row posting.

Follows the immunization registries' vaccination-level de-duplication (CDC/AIRA, "Vaccination Level
De-duplication in Immunization Information Systems"); docs/events.md states every rule. Each rule is a
small function emitting DuckDB SQL over the night's matched rows and the same citizens' posted shots,
run as named temp-table steps (vaxsync.core.sql_steps) in the publish connection. Nothing here loops
over rows.

Publish calls, in order:
1. `hold_conflicting_rows` before registering `outcomes`: rows whose record is medically implausible go
   to the backlog with a reason (they then look like any other unposted row, so the ledger adds up);
2. `stage_postings`: groups the remaining rows into events and stages `night_postings` and `new_shots`;
3. `write_postings` inside the publish transaction: shots, sources, dose re-sequencing and conflicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from transforms.normalize.reference import load_reference
from vaxsync.core.clinical_rules import age_at_vaccination_sql
from vaxsync.core.reasons import HOLD_PRIORITY, SEQUENCE_FLAGS
from vaxsync.core.sql_steps import Form, SqlStep, is_debug, register_frame, run_steps

ROW_KEYS = ["file_hash", "source_row"]

# What a conflict does to the row: hold it in the backlog for review, or post it with a flag.
HELD_IN_BACKLOG = "held_in_backlog"
POSTED_FLAGGED = "posted_flagged"
# Which conflict holds a row (HOLD_PRIORITY: those that risk a wrong medical record, the first that applies
# is its backlog reason) and which post the dose flagged (RECORD_FLAGS: the dose happened, so it posts and
# counts in coverage, as immunization registries record invalid doses; SEQUENCE_FLAGS: recomputed when the
# person's sequence changes) is a facet of the code in the reason catalogue (vaxsync.core.reasons).


def shot_id_sql(
    citizen: str = "citizen_id", vaccine: str = "vaccine_code", on: str = "vaccinated_date"
) -> str:
    """A shot is one dose of one product on one day for one citizen: its id is a hash of that content."""
    return f"substr(sha256({citizen} || '|' || {vaccine} || '|' || cast({on} as varchar)), 1, 32)"


def facility_key_sql(facility: str) -> str:
    """Facility names compare without case or repeated spaces (the same facility types them alike)."""
    return f"lower(regexp_replace(trim({facility}), '\\s+', ' ', 'g'))"


def union_all(rules: tuple[Callable[[], str], ...]) -> str:
    """One relation of every rule's rows (each rule selects the same columns)."""
    return "\nunion all\n".join(f"select * from ({rule()})" for rule in rules)


def register_vaccine_catalogue(connection: duckdb.DuckDBPyConnection) -> None:
    """`event_vaccines`: family, approval date, minimum age and interval of each catalogue product."""

    catalogue = load_reference().vaccines.select(
        "vaccine_code", "family", "approved_in_vietnam_on", "min_age_years", "min_interval_days"
    )
    register_frame(connection, "event_vaccines", catalogue)


# --- 1. conflicts that hold a row in the backlog ------------------------------------------------------------


def given_before_approval() -> str:
    """A product recorded before its approval in Vietnam: the date or the product is wrong."""
    return """
    select n.file_hash, n.source_row, n.citizen_id, 'given_before_approval' as conflict_code,
           printf('%s given on %s, before its approval in Vietnam on %s',
                  n.vaccine_code, n.vaccinated_date, v.approved_in_vietnam_on) as detail,
           null::varchar as related_shot_id
    from event_night_rows n join event_vaccines v using (vaccine_code)
    where n.vaccinated_date < v.approved_in_vietnam_on
    """


def below_approved_age() -> str:
    """A product given below its approved age: posted, flagged (RECORD_FLAGS). With only a birth year
    known, the oldest possible age is used, so a row is flagged only when the person was certainly too young
    (vaxsync.core.clinical_rules.age_at_vaccination_sql)."""
    age_years = age_at_vaccination_sql("n.vaccinated_date", "b.date_of_birth", "b.birth_year")
    return f"""
    with aged as (
        select n.*, v.min_age_years, b.date_of_birth is null as is_year_only, {age_years} as age_years
        from event_night_rows n
        join event_vaccines v using (vaccine_code)
        join event_birth_dates b using (citizen_id)
    )
    select file_hash, source_row, citizen_id, 'below_approved_age' as conflict_code,
           printf('%s is approved from age %d; the person was %s%d on the vaccination date',
                  vaccine_code, min_age_years, case when is_year_only then 'at most ' else '' end,
                  age_years) as detail,
           null::varchar as related_shot_id
    from aged
    where age_years < min_age_years
    """


def two_products_same_day() -> str:
    """Two product families on one day for one person, in tonight's rows or against a posted shot."""
    return """
    select n.file_hash, n.source_row, n.citizen_id, 'two_products_same_day' as conflict_code,
           n.vaccine_code || ' and, the same day, ' || string_agg(distinct p.vaccine_code, ', ' order by p.vaccine_code)
               || case when bool_or(p.shot_id is not null) then ' (already posted)' else '' end as detail,
           min(p.shot_id) as related_shot_id
    from event_night_rows n
    join event_day_products p
      on p.citizen_id = n.citizen_id and p.vaccinated_date = n.vaccinated_date
     and p.vaccine_family <> n.vaccine_family
    group by n.file_hash, n.source_row, n.citizen_id, n.vaccine_code
    """


def vaccination_date_order_doubtful() -> str:
    """The citizen's birth date is the row's only read the other way (month first), and its vaccination date
    reads either way inside the campaign (from `$campaign_start`, the setting): the row was perhaps written
    month-first, so its vaccination date is in doubt (a file too small to prove its order). Not held: a row
    whose file proves the order its date was read in (`vaccination_date_order`, from normalize), and a
    reviewer's own link."""
    swapped = "make_date(year(n.vaccinated_date), day(n.vaccinated_date), month(n.vaccinated_date))"
    return f"""
    select n.file_hash, n.source_row, n.citizen_id, 'vaccination_date_order_doubtful' as conflict_code,
           printf('the birth date agrees only with day and month exchanged; the vaccination date %s may be %s',
                  n.vaccinated_date, {swapped}) as detail,
           null::varchar as related_shot_id
    from event_night_rows n join event_birth_dates b using (citizen_id)
    where n.birth_date_alt = b.date_of_birth and n.birth_date is distinct from b.date_of_birth
      and n.match_method is distinct from 'review_decision' and n.vaccination_date_order is null
      and day(n.vaccinated_date) <= 12 and day(n.vaccinated_date) <> month(n.vaccinated_date)
      and {swapped} >= $campaign_start
    """


HOLD_RULES: tuple[Callable[[], str], ...] = (
    given_before_approval,
    two_products_same_day,
    vaccination_date_order_doubtful,
)
RECORD_RULES: tuple[Callable[[], str], ...] = (below_approved_age,)


def posted_shots_with_a_second_product() -> str:
    """A posted shot that a later row contradicts with another product the same day stays posted, flagged."""
    return """
    select p.shot_id, src.file_hash, src.source_row, p.citizen_id, 'two_products_same_day' as conflict_code,
           'posted; a later row records, the same day, '
               || string_agg(distinct n.vaccine_code, ', ' order by n.vaccine_code) as detail,
           null::varchar as related_shot_id
    from event_day_products p
    join event_night_rows n
      on n.citizen_id = p.citizen_id and n.vaccinated_date = p.vaccinated_date
     and n.vaccine_family <> p.vaccine_family
    join shot_sources src on src.shot_id = p.shot_id and not src.is_duplicate
    where p.shot_id is not null
    group by p.shot_id, src.file_hash, src.source_row, p.citizen_id
    """


def held_rows_freed_by_retraction() -> str:
    """SQL: (file_hash, source_row) of open backlog rows held as `two_products_same_day` whose conflicting
    posted shot is gone: retracted since the row was last evaluated, or retiring tonight (only rows of the
    file versions replaced tonight, `tonight_replaced_files`, support it). They are matched again tonight,
    and the hold rules decide afresh: the row posts unless something else still holds it."""
    return f"""
    with held as (
        select b.file_hash, b.source_row, c.related_shot_id, last_match.started_at as last_matched_at
        from open_backlog b
        join shot_conflicts c using (file_hash, source_row)
        left join pipeline_runs last_match on last_match.run_id = b.last_matched_run_id
        where b.reason_code = 'two_products_same_day' and c.conflict_code = 'two_products_same_day'
          and c.action = '{HELD_IN_BACKLOG}' and c.related_shot_id is not null
    ), retiring as (
        select shot_id from shot_sources
        where inactive_reason is null and shot_id in (select related_shot_id from held)
        group by shot_id
        having bool_and(file_hash in (select file_hash from tonight_replaced_files))
    )
    select distinct h.file_hash, h.source_row from held h
    where h.related_shot_id in (select shot_id from retiring)
       or (h.related_shot_id not in (select shot_id from synced_shots)
           and exists (select 1 from retracted_shots r
                       where r.shot_id = h.related_shot_id
                         and r.retracted_at >= coalesce(h.last_matched_at, timestamp '-infinity')))
    """


def hold_conflicting_rows(
    connection: duckdb.DuckDBPyConnection,
    outcomes: pl.DataFrame,
    registry_path: Path | None,
    *,
    campaign_start: dt.date,
) -> pl.DataFrame:
    """The outcomes with every matched row that breaks a hold rule moved to the backlog.

    A held row keeps its citizen as `candidate_citizen_id` and gets the rule's code as `backlog_reason`.
    Leaves `event_held_conflicts` (every hold rule a row broke), `event_record_flags` (rules that flag a
    row, posted or held) and `event_posted_flags` for write_postings. Shots in `retiring_shots` (only
    superseded file versions support them: vaxsync.marts.resends) are not part of the person's history here.
    """
    register_vaccine_catalogue(connection)
    connection.execute("create temp table if not exists retiring_shots (shot_id varchar)")
    row_dates = [  # the row's date readings: outcomes built elsewhere may not carry them (then: unproven)
        pl.col(name) if name in outcomes.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in (
            ("birth_date", pl.Date()),
            ("birth_date_alt", pl.Date()),
            ("vaccination_date_order", pl.String()),
        )
    ]
    method = pl.col("match_method") if "match_method" in outcomes.columns else pl.lit(None, pl.String)
    matched = outcomes.filter(pl.col("citizen_id").is_not_null()).select(
        *ROW_KEYS, "citizen_id", "vaccine_code", "vaccinated_date", *row_dates, method.alias("match_method")
    )
    register_frame(connection, "event_candidates", matched)
    run_steps(connection, conflict_steps(registry_path, campaign_start))
    held = connection.sql(
        """
        select file_hash, source_row,
               arg_min(conflict_code, list_position($priority, conflict_code)) as held_reason,
               arg_min(detail, list_position($priority, conflict_code)) as held_detail
        from event_held_conflicts group by file_hash, source_row
        """,
        params={"priority": list(HOLD_PRIORITY)},
    ).pl()
    connection.unregister("event_candidates")  # copied into event_night_rows: the frame is free to go
    return route_held_rows_to_backlog(outcomes, held)


def conflict_steps(registry_path: Path | None, campaign_start: dt.date) -> list[SqlStep]:
    """The steps of hold_conflicting_rows, over `event_candidates` (tonight's matched rows)."""
    return [
        SqlStep(
            "events__night_rows",
            """
            select c.*, coalesce(v.family, c.vaccine_code) as vaccine_family
            from event_candidates c left join event_vaccines v using (vaccine_code)
            """,
            target="event_night_rows",
        ),
        _birth_dates_step(registry_path),
        SqlStep(
            "events__day_products",
            """
            select citizen_id, vaccinated_date, vaccine_family, vaccine_code, null::varchar as shot_id
            from event_night_rows
            union all
            select s.citizen_id, s.vaccinated_on, coalesce(v.family, s.vaccine_code), s.vaccine_code, s.shot_id
            from synced_shots s left join event_vaccines v using (vaccine_code)
            where s.citizen_id in (select citizen_id from event_night_rows)
              and s.shot_id not in (select shot_id from retiring_shots)
            """,
            target="event_day_products",
        ),
        SqlStep(
            "events__held_conflicts",
            union_all(HOLD_RULES),
            params={"campaign_start": campaign_start},
            target="event_held_conflicts",
        ),
        SqlStep("events__record_flags", union_all(RECORD_RULES), target="event_record_flags"),
        SqlStep("events__posted_flags", posted_shots_with_a_second_product(), target="event_posted_flags"),
    ]


def _birth_dates_step(registry_path: Path | None) -> SqlStep:
    """`event_birth_dates`: the registry birth date (or year) of tonight's matched citizens."""
    if registry_path is None:
        return SqlStep(
            "events__birth_dates",
            "select null::varchar as citizen_id, null::date as date_of_birth, null::integer as birth_year "
            "where false",
            target="event_birth_dates",
        )
    return SqlStep(
        "events__birth_dates",
        """
        select citizen_id, date_of_birth, birth_year from read_parquet($registry)
        where citizen_id in (select citizen_id from event_night_rows)
        """,
        params={"registry": str(registry_path)},
        target="event_birth_dates",
    )


def route_held_rows_to_backlog(outcomes: pl.DataFrame, held: pl.DataFrame) -> pl.DataFrame:
    is_held = pl.col("held_reason").is_not_null()
    return (
        outcomes.join(held, on=ROW_KEYS, how="left", maintain_order="left")
        .with_columns(
            citizen_id=pl.when(is_held).then(pl.lit(None, pl.String)).otherwise("citizen_id"),
            candidate_citizen_id=pl.when(is_held).then("citizen_id").otherwise("candidate_citizen_id"),
            backlog_reason=pl.when(is_held).then("held_reason").otherwise("backlog_reason"),
            backlog_detail=pl.when(is_held).then("held_detail").otherwise("backlog_detail"),
        )
        .drop("held_reason", "held_detail")
    )


# --- 2. events: which rows are one dose, and which wins -----------------------------------------------------


def night_rows_to_post() -> str:
    """Tonight's matched rows (after holds), with their product family and comparison keys. The facility key
    is a regular expression: computed once per facility name (thousands), not per row (hundreds of thousands)."""
    return f"""
    with facility_keys as (
        select raw_facility_name, {facility_key_sql("raw_facility_name")} as facility_key
        from (select distinct raw_facility_name from outcomes where citizen_id is not null)
    )
    select o.file_hash, o.source_row, o.source_file, o.citizen_id, o.vaccine_code,
           coalesce(v.family, o.vaccine_code) as vaccine_family, o.vaccinated_date,
           o.lot_number as lot_key, k.facility_key,
           {shot_id_sql("o.citizen_id", "o.vaccine_code", "o.vaccinated_date")} as own_shot_id,
           false as is_posted, null::timestamp as first_synced_at
    from outcomes o left join event_vaccines v using (vaccine_code)
    left join facility_keys k on k.raw_facility_name is not distinct from o.raw_facility_name
    where o.citizen_id is not null
    """


def event_members() -> str:
    """Tonight's rows plus the posted shots of the same citizens and product families."""
    return f"""
    select * from event_night_postings
    union all by name
    select s.citizen_id, s.vaccine_code, coalesce(v.family, s.vaccine_code) as vaccine_family,
           s.vaccinated_on as vaccinated_date, s.lot as lot_key, {facility_key_sql("s.facility")} as facility_key,
           s.shot_id as own_shot_id, true as is_posted, s.first_synced_at
    from synced_shots s left join event_vaccines v using (vaccine_code)
    where exists (
        select 1 from event_night_postings n
        where n.citizen_id = s.citizen_id and n.vaccine_family = coalesce(v.family, s.vaccine_code)
    ) and s.shot_id not in (select shot_id from retiring_shots)
    """


def adjacent_day_links() -> str:
    """A day joins the day before when a copy on each shares the lot (known) and the facility."""
    return """
    select distinct later.citizen_id, later.vaccine_family, later.vaccinated_date
    from event_members later
    join event_members earlier
      on earlier.citizen_id = later.citizen_id and earlier.vaccine_family = later.vaccine_family
     and earlier.vaccinated_date = later.vaccinated_date - 1
     and earlier.lot_key = later.lot_key and earlier.facility_key = later.facility_key
    """


def number_events() -> str:
    """Same citizen and family: each day not linked to the day before starts a new event (gaps and islands)."""
    return """
    select d.citizen_id, d.vaccine_family, d.vaccinated_date,
           sum(case when l.vaccinated_date is null then 1 else 0 end) over (
               partition by d.citizen_id, d.vaccine_family order by d.vaccinated_date
               rows between unbounded preceding and current row) as event_number
    from (select distinct citizen_id, vaccine_family, vaccinated_date from event_members) d
    left join event_day_links l using (citizen_id, vaccine_family, vaccinated_date)
    """


def rank_copies() -> str:
    """Within an event: a posted shot first (the earliest posted), then a copy with a lot, then file order."""
    return """
    select m.*, e.event_number,
           row_number() over (
               partition by m.citizen_id, m.vaccine_family, e.event_number
               order by m.is_posted desc, m.first_synced_at, m.lot_key is null, m.source_file, m.source_row,
                        m.own_shot_id
           ) as rank_in_event,
           count(*) filter (where not m.is_posted) over event as count_night_rows,
           bool_or(m.lot_key is null) over event as has_copy_without_lot
    from event_members m join event_days e using (citizen_id, vaccine_family, vaccinated_date)
    window event as (partition by m.citizen_id, m.vaccine_family, e.event_number)
    """


def choose_winners() -> str:
    """One winner per event with tonight's rows, and why it won; its content hash is the event's shot_id."""
    return """
    select citizen_id, vaccine_family, event_number, own_shot_id as shot_id,
           vaccine_code as winner_vaccine_code, vaccinated_date as winner_vaccinated_date,
           is_posted or own_shot_id in (select shot_id from synced_shots) as is_known_shot,
           case when is_posted then 'already_posted'
                when count_night_rows = 1 then 'only_copy'
                when lot_key is not null and has_copy_without_lot then 'has_lot'
                else 'earliest_file' end as win_reason
    from event_ranked
    where rank_in_event = 1 and count_night_rows > 0
    """


def night_postings() -> str:
    """Every matched row of the night with its event's shot_id, and how it joined the winner."""
    return """
    select o.*, w.shot_id, r.rank_in_event = 1 as is_batch_winner, w.is_known_shot, w.win_reason,
           case when r.rank_in_event = 1 then null
                when r.vaccinated_date = w.winner_vaccinated_date and r.vaccine_code = w.winner_vaccine_code
                    then 'same_vaccine_same_day'
                when r.vaccinated_date = w.winner_vaccinated_date then 'same_family_same_day'
                else 'adjacent_day_same_lot_facility' end as merge_rule
    from outcomes o
    join event_ranked r on r.file_hash = o.file_hash and r.source_row = o.source_row and not r.is_posted
    join event_winners w
      on w.citizen_id = r.citizen_id and w.vaccine_family = r.vaccine_family and w.event_number = r.event_number
    """


def new_shots() -> str:
    """The winners new to the warehouse; dose numbers are provisional until re-sequenced on write."""
    return """
    select shot_id, citizen_id, vaccine_code,
           cast(coalesce(dose_number_reported, 0) as smallint) as dose_number,
           cast(dose_number_reported as smallint) as dose_number_reported,
           vaccinated_date as vaccinated_on, raw_facility_name as facility, lot_number as lot,
           match_method, coalesce(match_score, 1.0) as match_score
    from night_postings where is_batch_winner and not is_known_shot
    """


# A step read by one later step only is a view, inlined into the query that reads it (no table held).
POSTING_STEPS: tuple[SqlStep, ...] = (
    SqlStep("events__rows_to_post", night_rows_to_post(), Form.VIEW, target="event_night_postings"),
    SqlStep("events__members", event_members(), target="event_members"),
    SqlStep("events__day_links", adjacent_day_links(), Form.VIEW, target="event_day_links"),
    SqlStep("events__days", number_events(), Form.VIEW, target="event_days"),
    SqlStep("events__ranked", rank_copies(), target="event_ranked"),
    SqlStep("events__winners", choose_winners(), Form.VIEW, target="event_winners"),
    SqlStep("events__night_postings", night_postings(), target="night_postings"),
    SqlStep("events__new_shots", new_shots(), target="new_shots"),
)


def stage_postings(connection: duckdb.DuckDBPyConnection) -> None:
    """Temp tables `night_postings` (one row per matched row of `outcomes`) and `new_shots`."""
    register_vaccine_catalogue(connection)
    connection.execute("create temp table if not exists retiring_shots (shot_id varchar)")
    run_steps(connection, POSTING_STEPS)
    drop_intermediate_tables(connection)


# What write_postings reads of the steps above; the other steps' tables are only steps on the way.
STAGED_FOR_WRITING = (
    "event_held_conflicts",
    "event_record_flags",
    "event_posted_flags",
    "night_postings",
    "new_shots",
)


def drop_intermediate_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Free the event steps' tables that nothing reads after stage_postings (a third of a GiB on a 200k-row
    night, held until the publish connection closes). Debug mode keeps them, to be queried by name."""
    if is_debug(connection):
        return
    for step in (*conflict_steps(None, dt.date.min), *POSTING_STEPS):  # the names only
        if step.relation not in STAGED_FOR_WRITING:
            kind = "view" if step.form is Form.VIEW else "table"
            connection.execute(f"drop {kind} if exists {step.relation}")


# --- 3. writing: shots, sources, dose sequence, conflicts ---------------------------------------------------


def write_postings(connection: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime) -> None:
    """Inside the publish transaction: new shots, every row's source, dose numbers, conflicts."""
    connection.execute(
        """
        insert into synced_shots
        select shot_id, citizen_id, vaccine_code, dose_number, dose_number_reported, vaccinated_on,
               facility, lot, match_method, match_score, $now, $run_id
        from new_shots
        """,
        {"run_id": run_id, "now": now},
    )
    connection.execute(
        """
        insert into shot_sources (shot_id, source_file, file_hash, source_row, is_duplicate, run_id,
                                  win_reason, merge_rule)
        select shot_id, source_file, file_hash, source_row, not is_batch_winner or is_known_shot, $run_id,
               win_reason, merge_rule
        from night_postings
        """,
        {"run_id": run_id},
    )
    supersede_replaced_versions(connection, run_id)
    retract_unsupported_shots(connection, run_id, now)
    take_corrected_values(connection)
    restore_supported_shots(connection, run_id)
    resequence_doses(connection)
    write_conflicts(connection, run_id)


# --- 4. retractions: postings that no active source row supports any more ----------------------------------

SUPERSEDED = "superseded_by_new_version"


def supersede_replaced_versions(connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Rows of a file version replaced tonight (`version_changes`, vaxsync.marts.resends) stop supporting their
    shots; the rows of an older version landing again (`tonight_versions` rearrived) support them again."""
    connection.execute(
        """
        create temp table if not exists version_changes (old_file_hash varchar, new_file_hash varchar);
        create temp table if not exists tonight_versions (file_hash varchar, recognised_as varchar,
                                                         replaces_file_hash varchar);
        """
    )
    connection.execute(
        """
        update shot_sources set superseded_by_file_hash = c.new_file_hash, inactive_reason = $reason,
            inactive_run_id = $run_id
        from version_changes c
        where shot_sources.file_hash = c.old_file_hash and shot_sources.inactive_reason is null
        """,
        {"run_id": run_id, "reason": SUPERSEDED},
    )
    connection.execute(
        """
        update shot_sources set superseded_by_file_hash = null, inactive_reason = null, inactive_run_id = null
        where inactive_reason = $reason
          and file_hash in (select file_hash from tonight_versions where recognised_as = 'rearrived')
        """,
        {"reason": SUPERSEDED},
    )


def retract_unsupported_shots(connection: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime) -> None:
    """Posted shots whose every source row became inactive tonight move to `retracted_shots`, with the
    reason and the file version that retracted them; `retracted_tonight` lists them."""
    connection.execute(
        """
        create or replace temp table retracted_tonight as
        select s.shot_id, any_value(s.inactive_reason) as reason,
               any_value(s.superseded_by_file_hash) as by_file_hash
        from shot_sources s
        where s.shot_id in (select shot_id from shot_sources where inactive_run_id = $run_id)
          and s.shot_id in (select shot_id from synced_shots)
        group by s.shot_id
        having bool_and(s.inactive_reason is not null)
        """,
        {"run_id": run_id},
    )
    connection.execute(
        """
        insert into retracted_shots
        select s.*, $run_id, $now, r.reason, r.by_file_hash, null
        from synced_shots s join retracted_tonight r using (shot_id)
        """,
        {"run_id": run_id, "now": now},
    )
    connection.execute("delete from synced_shots where shot_id in (select shot_id from retracted_tonight)")


def take_corrected_values(connection: duckdb.DuckDBPyConnection) -> None:
    """A shot kept through a new version (same citizen, product and date) whose posting row was replaced
    takes the new version's facility, lot and reported dose number; `refreshed_tonight` lists them."""
    connection.execute(
        """
        create or replace temp table refreshed_tonight as
        with replacing as materialized (  -- the rows of tonight's new versions: their shots' sources only
            select shot_id, raw_facility_name, lot_number, dose_number_reported, source_file, source_row
            from night_postings
            where file_hash in (select file_hash from tonight_versions where replaces_file_hash is not null)
        )
        select p.shot_id, p.raw_facility_name as facility, p.lot_number as lot,
               cast(p.dose_number_reported as smallint) as dose_number_reported
        from replacing p
        where p.shot_id in (
              select shot_id from shot_sources
              where shot_id in (select shot_id from replacing)
              group by shot_id
              having bool_or(not is_duplicate and inactive_reason is not null)
                 and not bool_or(not is_duplicate and inactive_reason is null))
        qualify row_number() over (partition by p.shot_id order by p.lot_number is null, p.source_file, p.source_row) = 1
        """
    )
    connection.execute(
        """
        update synced_shots set facility = r.facility, lot = r.lot, dose_number_reported = r.dose_number_reported
        from refreshed_tonight r
        where synced_shots.shot_id = r.shot_id
          and (synced_shots.facility, synced_shots.lot, synced_shots.dose_number_reported)
              is distinct from (r.facility, r.lot, r.dose_number_reported)
        """
    )


def restore_supported_shots(connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Retracted shots that an active source row supports again (an older version sent again) are posted
    again as they were; `restored_tonight` lists them."""
    connection.execute(
        """
        create or replace temp table restored_tonight as
        select r.shot_id, arg_max(r.retracted_run_id, r.retracted_at) as retracted_run_id
        from retracted_shots r
        where r.restored_run_id is null
          and r.shot_id in (
              select shot_id from shot_sources
              where inactive_reason is null
                and file_hash in (select file_hash from tonight_versions where recognised_as = 'rearrived'))
          and r.shot_id not in (select shot_id from synced_shots)
          and r.retracted_run_id <> $run_id
        group by r.shot_id
        """,
        {"run_id": run_id},
    )
    connection.execute(
        """
        insert into synced_shots
        select r.shot_id, r.citizen_id, r.vaccine_code, r.dose_number, r.dose_number_reported, r.vaccinated_on,
               r.facility, r.lot, r.match_method, r.match_score, r.first_synced_at, r.run_id
        from retracted_shots r join restored_tonight t using (shot_id, retracted_run_id)
        """
    )
    connection.execute(
        """
        update retracted_shots set restored_run_id = $run_id
        where restored_run_id is null and shot_id in (select shot_id from restored_tonight)
        """,
        {"run_id": run_id},
    )
    connection.execute(
        """
        create or replace temp table touched_citizens as
        select citizen_id from new_shots
        union select citizen_id from retracted_shots where retracted_run_id = $run_id
        union select citizen_id from synced_shots where shot_id in (select shot_id from restored_tonight)
        union select citizen_id from synced_shots where shot_id in (select shot_id from refreshed_tonight)
        """,
        {"run_id": run_id},
    )


def retract_postings(
    connection: duckdb.DuckDBPyConnection,
    source_rows: pl.DataFrame,
    *,
    run_id: str,
    now: dt.datetime,
    reason: str,
) -> pl.DataFrame:
    """Withdraw the postings of the given source rows (columns file_hash, source_row), for example a
    reviewer's withdrawn accept: the rows stop supporting their shots, every shot no other active row
    supports is retracted (kept in `retracted_shots` with `reason`, a vaxsync.core.reasons.RETRACTION_REASONS
    code), and the touched citizens' dose numbers and sequence flags are recomputed.

    Run it inside the caller's transaction. The rows keep their `shot_sources` row (their place in the
    ledger), marked inactive; returns the retracted shots (shot_id, citizen_id)."""
    register_frame(connection, "withdrawn_rows", source_rows.select(ROW_KEYS))
    connection.execute(
        """
        update shot_sources set inactive_reason = $reason, inactive_run_id = $run_id
        where inactive_reason is null and (file_hash, source_row) in (select file_hash, source_row from withdrawn_rows)
        """,
        {"run_id": run_id, "reason": reason},
    )
    retract_unsupported_shots(connection, run_id, now)
    connection.execute(
        """
        create or replace temp table touched_citizens as
        select citizen_id from retracted_shots where retracted_run_id = $run_id
        """,
        {"run_id": run_id},
    )
    resequence_doses(connection)
    register_vaccine_catalogue(connection)
    refresh_sequence_flags(connection, run_id)
    return connection.sql(
        "select shot_id, citizen_id from retracted_shots where retracted_run_id = ? order by shot_id",
        params=[run_id],
    ).pl()


def resequence_doses(connection: duckdb.DuckDBPyConnection) -> None:
    """Dose numbers follow each touched citizen's posted history by date, so a late earlier dose re-sequences.
    Leaves `event_sequence`: that history, each shot with its dose number and the dose before it (what
    refresh_sequence_flags reads; one sort of the history for both)."""
    connection.execute(
        """
        create or replace temp table event_sequence as
        select shot_id, citizen_id, vaccine_code, vaccinated_on,
               cast(row_number() over history as smallint) as dose_number, dose_number_reported,
               lag(shot_id) over history as previous_shot_id,
               lag(vaccine_code) over history as previous_vaccine_code,
               lag(vaccinated_on) over history as previous_on
        from synced_shots
        where citizen_id in (select citizen_id from touched_citizens)
        window history as (partition by citizen_id order by vaccinated_on, shot_id)
        """
    )
    connection.execute(
        """
        update synced_shots set dose_number = sequenced.dose_number
        from event_sequence as sequenced
        where synced_shots.shot_id = sequenced.shot_id
          and synced_shots.dose_number <> sequenced.dose_number
        """
    )


def dose_number_disagreements() -> str:
    """The facility's dose number differs from the person's sequence by date: posted, flagged."""
    return """
    select shot_id, citizen_id, 'dose_number_mismatch' as conflict_code,
           printf('reported as dose %d; dose %d of the person by date', dose_number_reported, dose_number)
               as detail,
           null::varchar as related_shot_id
    from event_sequence
    where dose_number_reported is not null and dose_number_reported <> dose_number
    """


def intervals_too_short() -> str:
    """Sooner after the previous dose than that product's minimum interval: posted, flagged."""
    return """
    select q.shot_id, q.citizen_id, 'interval_too_short' as conflict_code,
           printf('%d days after the previous dose (%s on %s); the minimum after %s is %d days',
                  date_diff('day', q.previous_on, q.vaccinated_on), q.previous_vaccine_code, q.previous_on,
                  q.previous_vaccine_code, v.min_interval_days) as detail,
           q.previous_shot_id as related_shot_id
    from event_sequence q join event_vaccines v on v.vaccine_code = q.previous_vaccine_code
    where date_diff('day', q.previous_on, q.vaccinated_on) < v.min_interval_days
    """


SEQUENCE_RULES: tuple[Callable[[], str], ...] = (dose_number_disagreements, intervals_too_short)


def write_conflicts(connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """shot_conflicts: the held rows' conflicts, posted shots contradicted tonight, and the sequence flags
    of every touched citizen, recomputed from the whole posted history (so a re-run changes nothing)."""
    parameters = {"run_id": run_id, "held": HELD_IN_BACKLOG, "flagged": POSTED_FLAGGED}
    connection.execute(
        """
        insert or ignore into shot_conflicts
            (file_hash, source_row, conflict_code, action, shot_id, citizen_id, related_shot_id, detail, run_id)
        select file_hash, source_row, conflict_code, $held, null, citizen_id, related_shot_id, detail, $run_id
        from event_held_conflicts
        union all
        select file_hash, source_row, conflict_code, $flagged, shot_id, citizen_id, related_shot_id, detail,
               $run_id
        from event_posted_flags
        union all
        select f.file_hash, f.source_row, f.conflict_code,
               case when p.shot_id is null then $held else $flagged end, p.shot_id, f.citizen_id,
               f.related_shot_id, f.detail, $run_id
        from event_record_flags f left join night_postings p using (file_hash, source_row)
        """,
        parameters,
    )
    refresh_sequence_flags(connection, run_id)


def refresh_sequence_flags(connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """The touched citizens' sequence flags, deleted and recomputed from their current posted history
    (`event_sequence`, left by resequence_doses, which runs first); each flag is keyed by the shot's winning
    source row (an active one first)."""
    connection.execute(
        """
        delete from shot_conflicts
        where conflict_code in (select unnest($codes::varchar[]))
          and citizen_id in (select citizen_id from touched_citizens)
        """,
        {"codes": list(SEQUENCE_FLAGS)},
    )
    flags = union_all(SEQUENCE_RULES)
    # The winning source row is ranked for the flagged shots only (a few thousand of a night's 200k rows).
    connection.execute(
        f"""
        insert into shot_conflicts
            (file_hash, source_row, conflict_code, action, shot_id, citizen_id, related_shot_id, detail, run_id)
        with f as materialized ({flags})
        select src.file_hash, src.source_row, f.conflict_code, $flagged, f.shot_id, f.citizen_id,
               f.related_shot_id, f.detail, $run_id
        from f
        join (
            select shot_id, file_hash, source_row from shot_sources
            where shot_id in (select shot_id from f)
            qualify row_number() over (
                partition by shot_id order by inactive_reason is not null, is_duplicate, file_hash, source_row) = 1
        ) src on src.shot_id = f.shot_id
        """,
        {"run_id": run_id, "flagged": POSTED_FLAGGED},
    )
