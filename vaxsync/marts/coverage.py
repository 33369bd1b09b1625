"""Coverage tables for analysts: how many people reached dose 1, a complete primary series, booster 1, booster 2.

Built in DuckDB, from the registry snapshot (the denominator, read straight from its Parquet) and
synced_shots (the numerator), as named SQL steps (vaxsync.core.sql_steps) run in one transaction; then
exported as Parquet partitioned by province. The tables hold counts only. docs/coverage.md states the grain and
every definition; the DDL below states each table's grain too.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb

from vaxsync.core.reference import REFERENCE_DIR
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import Form, SqlStep, run_steps
from vaxsync.marts.warehouse import connected

MILESTONES = ("dose_1", "primary_complete", "booster_1", "booster_2")  # in the order people reach them
AGE_BANDS = ("0-4", "5-11", "12-17", "18-49", "50-64", "65+", "unknown")
UNKNOWN_PRODUCT_PRIMARY_DOSES = 2  # a product missing from vaccines.csv counts as a two-dose product
EXPORTED_TABLES = ("coverage_by_area", "coverage_weekly")

COVERAGE_DDL = """
create or replace table coverage_by_area (      -- one row per (district, age band, sex, milestone) at as_of
    as_of date not null,
    province_code varchar,                      -- residence province, 63-province units (before 1 Jul 2025)
    province_name varchar,
    province_code_2025 varchar,                 -- the same province in 34-province units (from 1 Jul 2025)
    province_name_2025 varchar,
    district_code varchar,
    district_name varchar,
    age_band varchar not null,                  -- completed years at as_of: 0-4 5-11 12-17 18-49 50-64 65+ unknown
    sex varchar not null,                       -- registry sex (M, F), else 'unknown'
    milestone varchar not null,                 -- dose_1 | primary_complete | booster_1 | booster_2
    count_population bigint not null,           -- denominator: registry people of the cell (same for each milestone)
    count_reached bigint not null               -- of them, people who reached the milestone on or before as_of
);
create or replace table coverage_weekly (       -- one row per (ISO week, province, milestone), cumulative
    as_of date not null,
    week_start date not null,                   -- the ISO week's Monday
    week_end date not null,                     -- its Sunday, or as_of for the last, partial week
    iso_year integer not null,
    iso_week integer not null,
    province_code varchar,
    province_name varchar,
    province_code_2025 varchar,
    province_name_2025 varchar,
    milestone varchar not null,
    count_population bigint not null,           -- denominator: people of the population born by week_end
    count_reached bigint not null               -- of them, people who reached the milestone by week_end
);
"""


def _rollup_view(table: str, dimensions: str) -> str:
    """Sum a coverage table over every dimension not named, and state the percent reached."""
    return f"""
        select {dimensions}, milestone,
               sum(count_population)::bigint as count_population, sum(count_reached)::bigint as count_reached,
               round(100.0 * sum(count_reached) / nullif(sum(count_population), 0), 2) as percent_reached
        from {table} group by all"""


COVERAGE_VIEWS = {
    "v_coverage_province": _rollup_view("coverage_by_area", "as_of, province_code, province_name"),
    "v_coverage_province_2025": _rollup_view(
        "coverage_by_area", "as_of, province_code_2025, province_name_2025"
    ),
    "v_coverage_district": _rollup_view(
        "coverage_by_area", "as_of, province_code, province_name, district_code, district_name"
    ),
    "v_coverage_age_sex": _rollup_view("coverage_by_area", "as_of, age_band, sex"),
    "v_coverage_weekly_national": _rollup_view(
        "coverage_weekly", "as_of, week_start, week_end, iso_year, iso_week"
    ),
    "v_coverage_weekly_province_2025": _rollup_view(
        "coverage_weekly",
        "as_of, week_start, week_end, iso_year, iso_week, province_code_2025, province_name_2025",
    ),
}


def coverage_export_dir(settings: Settings) -> Path:
    """Where the Parquet exports go: <warehouse dir>/exports/coverage/<table>/province_code=XX/."""
    return settings.warehouse_path.parent / "exports" / "coverage"


def build_coverage(settings: Settings, connection: duckdb.DuckDBPyConnection | None = None) -> dict[str, Any]:
    """(Re)build the coverage tables and views as of settings.as_of, then export them by province.

    Replaces the previous build, so running it twice gives the same tables and files. Returns counts only.
    """
    started = time.perf_counter()
    with connected(settings.warehouse_path, connection, settings=settings) as connection:
        connection.begin()
        try:
            run_steps(connection, person_steps(settings))
            # The per-dose table is the largest; free it before the tables are built.
            connection.execute(f"drop table coverage_person_doses; {COVERAGE_DDL}")
            run_steps(connection, table_steps(settings))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        summary = connection.sql(
            """
            select (select sum(count_population) from coverage_by_area where milestone = 'dose_1'),
                   (select sum(count_reached) from coverage_by_area where milestone = 'dose_1'),
                   (select count(*) from coverage_by_area),
                   (select count(*) from coverage_weekly)
            """
        ).fetchall()[0]
        export_dir = coverage_export_dir(settings)
        for table in EXPORTED_TABLES:
            _export_by_province(connection, table, export_dir / table)
    return {
        "as_of": settings.as_of.isoformat(),
        "count_population": int(summary[0] or 0),
        "count_reached_dose_1": int(summary[1] or 0),
        "rows_coverage_by_area": int(summary[2]),
        "rows_coverage_weekly": int(summary[3]),
        "export_files": sum(1 for _ in export_dir.rglob("*.parquet")),
        "seconds": round(time.perf_counter() - started, 2),
    }


def person_steps(settings: Settings) -> list[SqlStep]:
    """The build's first half: reference data, the population and the date each person reached each milestone."""
    return [
        *_reference_steps(),
        SqlStep(
            "coverage__population_cells", _population_cells_sql(settings), target="coverage_population_cells"
        ),
        SqlStep(
            "coverage__vaccinated_people",
            _vaccinated_people_sql(settings),
            target="coverage_vaccinated_people",
        ),
        SqlStep("coverage__person_doses", _person_doses_sql(settings), target="coverage_person_doses"),
        *_person_milestones_steps(),
    ]


def table_steps(settings: Settings) -> list[SqlStep]:
    """The build's second half: the coverage tables (created by COVERAGE_DDL) filled, and their views."""
    return [
        SqlStep("coverage__by_area", _coverage_by_area_sql(settings), Form.INSERT, target="coverage_by_area"),
        *_coverage_weekly_steps(settings),
        *(
            SqlStep(f"coverage__{name}", sql, Form.SAVED_VIEW, target=name)
            for name, sql in COVERAGE_VIEWS.items()
        ),
    ]


def _export_by_province(connection: duckdb.DuckDBPyConnection, table: str, folder: Path) -> None:
    """Replace the table's export with one Parquet file per province (the code kept inside each file).

    Written beside the old export and swapped in, so no stale province folder survives a rebuild.
    """
    staging = folder.with_name(folder.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    connection.execute(
        f"""
        copy (select * from {table} order by all) to {_quoted(staging)}
        (format parquet, partition_by (province_code), write_partition_columns true)
        """
    )
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def _quoted(path: Path) -> str:
    return "'" + path.as_posix().replace("'", "''") + "'"


def _reference_steps() -> list[SqlStep]:
    """Province names in both eras, district names, and each product's primary-series length."""
    return [
        SqlStep(
            "coverage__provinces",
            f"""
            select province_code, province_name, province_code_2025, province_name_2025
            from read_csv({_quoted(REFERENCE_DIR / "province_2025_map.csv")}, all_varchar = true)
            """,
            target="coverage_provinces",
        ),
        SqlStep(
            "coverage__districts",
            f"""
            select distinct district_code, district_name
            from read_parquet({_quoted(REFERENCE_DIR / "admin_units_2021.parquet")})
            """,
            target="coverage_districts",
        ),
        SqlStep(
            "coverage__products",
            f"""
            select vaccine_code, primary_doses::integer as primary_doses
            from read_csv({_quoted(REFERENCE_DIR / "vaccines.csv")}, all_varchar = true)
            """,
            target="coverage_products",
        ),
    ]


def _population_sql(settings: Settings) -> str:
    """The denominator: registry people born by as_of and alive when the campaign began.

    A birth date known only by its year is taken as 1 July of that year. Read straight from the snapshot's
    Parquet by the two steps below, so that no million-row copy of the registry is kept.
    """
    as_of = f"date '{settings.as_of.isoformat()}'"
    return f"""
        select citizen_id, province_code, district_code, born_on, coalesce(sex, 'unknown') as sex
        from (
            select citizen_id, sex, province_code, district_code, date_of_death,
                   coalesce(date_of_birth, make_date(birth_year, 7, 1)) as born_on
            from read_parquet({_quoted(settings.registry_path)})
            where citizen_id is not null
        )
        where (born_on is null or born_on <= {as_of})
          and (date_of_death is null or date_of_death >= date '{settings.campaign_start.isoformat()}')
    """


def _population_cells_sql(settings: Settings) -> str:
    """The population counted once per (district, age band, sex, week of birth): both tables' denominators.

    People born before the campaign's first week count from that week on.
    """
    return f"""
        select province_code, district_code, {_age_band_sql("born_on", settings.as_of)} as age_band, sex,
               {_week_from_campaign_sql("born_on", settings)} as born_week, count(*) as count_population
        from ({_population_sql(settings)})
        group by all
    """


def _vaccinated_people_sql(settings: Settings) -> str:
    """The population members with a posted dose by as_of: the only people a milestone can be reached by.

    An inner join from the distinct vaccinated ids, not a semi join: DuckDB then hashes the few vaccinated
    ids rather than the whole registry (the query alone: 0.26 -> 0.15 CPU s on the medium night).
    """
    return f"""
        select population.citizen_id, population.province_code, population.district_code,
               {_age_band_sql("population.born_on", settings.as_of)} as age_band, population.sex
        from (
            select distinct citizen_id from synced_shots where vaccinated_on <= date '{settings.as_of.isoformat()}'
        ) vaccinated
        join ({_population_sql(settings)}) population using (citizen_id)
    """


def _week_from_campaign_sql(day: str, settings: Settings) -> str:
    """The ISO week (its Monday) a day falls in, the campaign's first week for a day before it or unknown."""
    first_week = f"date_trunc('week', date '{settings.campaign_start.isoformat()}')::date"
    return f"greatest(coalesce(date_trunc('week', {day})::date, {first_week}), {first_week})"


def _age_band_sql(born_on: str, as_of: dt.date) -> str:
    """Completed years at as_of, in bands.

    Someone is at least N years old when (birth year + N, month, day) is on or before as_of's
    (year, month, day); both compared as year * 10000 + month * 100 + day, so no date is shifted by years
    (29 February needs no rule).
    """
    born_key = f"(year({born_on}) * 10000 + month({born_on}) * 100 + day({born_on}))"

    def at_least(years: int) -> str:
        return f"{born_key} <= {(as_of.year - years) * 10000 + as_of.month * 100 + as_of.day}"

    return f"""case when {born_on} is null then 'unknown'
                    when {at_least(65)} then '65+' when {at_least(50)} then '50-64'
                    when {at_least(18)} then '18-49' when {at_least(12)} then '12-17'
                    when {at_least(5)} then '5-11' else '0-4' end"""


def _person_doses_sql(settings: Settings) -> str:
    """Each population member's doses in date order, with the primary-series length the products so far need.

    A mixed primary series needs as many doses as the longest schedule among the products given so far.
    """
    return f"""
        select shots.citizen_id, shots.vaccinated_on,
               row_number() over by_date as dose_sequence,
               max(coalesce(products.primary_doses, {UNKNOWN_PRODUCT_PRIMARY_DOSES})) over (
                   by_date rows between unbounded preceding and current row
               ) as primary_doses_needed
        from synced_shots shots
        semi join coverage_vaccinated_people people on people.citizen_id = shots.citizen_id
        left join coverage_products products on products.vaccine_code = shots.vaccine_code
        where shots.vaccinated_on <= date '{settings.as_of.isoformat()}'
        window by_date as (partition by shots.citizen_id order by shots.vaccinated_on, shots.dose_number, shots.shot_id)
    """


def _person_milestones_steps() -> list[SqlStep]:
    """The date each person reached each milestone (null: not reached).

    The primary series completes at the first dose whose sequence number reaches the doses needed so far;
    booster 1 and booster 2 are the next two doses after it.
    """
    primary_completion = """
        select citizen_id, min(dose_sequence) filter (where dose_sequence >= primary_doses_needed) as completed_at_dose
        from coverage_person_doses group by citizen_id
    """
    person_milestones = """
        select doses.citizen_id,
               min(doses.vaccinated_on) filter (where doses.dose_sequence = 1) as dose_1_on,
               min(doses.vaccinated_on) filter (where doses.dose_sequence = completion.completed_at_dose)
                   as primary_complete_on,
               min(doses.vaccinated_on) filter (where doses.dose_sequence = completion.completed_at_dose + 1)
                   as booster_1_on,
               min(doses.vaccinated_on) filter (where doses.dose_sequence = completion.completed_at_dose + 2)
                   as booster_2_on
        from coverage_person_doses doses join coverage_primary_completion completion using (citizen_id)
        group by doses.citizen_id
    """
    return [
        SqlStep("coverage__primary_completion", primary_completion, target="coverage_primary_completion"),
        SqlStep("coverage__person_milestones", person_milestones, target="coverage_person_milestones"),
    ]


def _coverage_by_area_sql(settings: Settings) -> str:
    """Each cell's population (from the population cells) beside the people of it who reached each milestone.

    Only vaccinated people can reach one, so the reached counts come from them alone; every cell they fall
    in has population, so the population cells list every row.
    """
    cell = ("province_code", "district_code", "age_band", "sex")
    same_cell = " and ".join(f"reached.{column} is not distinct from population.{column}" for column in cell)
    return f"""
        with population as (
            select {", ".join(cell)}, sum(count_population) as count_population
            from coverage_population_cells group by all
        ),
        reached as (
            select {", ".join(f"people.{column}" for column in cell)},
                   {", ".join(f"count(milestones.{milestone}_on) as {milestone}" for milestone in MILESTONES)}
            from coverage_person_milestones milestones join coverage_vaccinated_people people using (citizen_id)
            group by all
        ),
        cells as (
            select {", ".join(f"population.{column}" for column in cell)}, population.count_population,
                   {", ".join(f"coalesce(reached.{milestone}, 0) as {milestone}" for milestone in MILESTONES)}
            from population left join reached on {same_cell}
        ),
        long_cells as (
            unpivot cells on {", ".join(MILESTONES)} into name milestone value count_reached
        )
        select date '{settings.as_of.isoformat()}', cells.province_code, provinces.province_name,
               provinces.province_code_2025, provinces.province_name_2025,
               cells.district_code, districts.district_name,
               cells.age_band, cells.sex, cells.milestone, cells.count_population, cells.count_reached
        from long_cells cells
        left join coverage_provinces provinces using (province_code)
        left join coverage_districts districts using (district_code)
    """


def _coverage_weekly_steps(settings: Settings) -> list[SqlStep]:
    """Cumulative people and people reached by each week's end, per province and milestone."""
    as_of = f"date '{settings.as_of.isoformat()}'"
    first_week = f"date_trunc('week', date '{settings.campaign_start.isoformat()}')::date"
    milestone_dates = ", ".join(f"{milestone}_on" for milestone in MILESTONES)
    weeks = f"""
        select week_start::date as week_start, least(week_start::date + 6, {as_of}) as week_end
        from generate_series({first_week}, date_trunc('week', {as_of})::date, interval 7 day) as weeks(week_start)
    """
    births_by_week = """
        select province_code, born_week as week_start, sum(count_population) as count_born
        from coverage_population_cells group by all
    """
    reached_by_week = f"""
        with reached as (
            unpivot (
                select people.province_code, {milestone_dates}
                from coverage_person_milestones milestones join coverage_vaccinated_people people using (citizen_id)
            ) on {milestone_dates} into name milestone_column value reached_on
        )
        select province_code, replace(milestone_column, '_on', '') as milestone,
               greatest(date_trunc('week', reached_on)::date, {first_week}) as week_start, count(*) as count_reached
        from reached group by all
    """
    weekly = f"""
        with grid as (
            select weeks.week_start, weeks.week_end, provinces.province_code, milestones.milestone
            from coverage_weeks weeks
            cross join (select distinct province_code from coverage_population_cells) provinces
            cross join (select unnest({list(MILESTONES)}) as milestone) milestones
        )
        select {as_of}, grid.week_start, grid.week_end, isoyear(grid.week_start), week(grid.week_start),
               grid.province_code, provinces.province_name, provinces.province_code_2025, provinces.province_name_2025,
               grid.milestone,
               sum(coalesce(births.count_born, 0)) over by_week as count_population,
               sum(coalesce(reached.count_reached, 0)) over by_week as count_reached
        from grid
        left join coverage_births_by_week births
            on births.province_code is not distinct from grid.province_code and births.week_start = grid.week_start
        left join coverage_reached_by_week reached
            on reached.province_code is not distinct from grid.province_code
           and reached.milestone = grid.milestone and reached.week_start = grid.week_start
        left join coverage_provinces provinces on provinces.province_code = grid.province_code
        window by_week as (partition by grid.province_code, grid.milestone order by grid.week_start)
    """
    return [
        SqlStep("coverage__weeks", weeks, target="coverage_weeks"),
        SqlStep("coverage__births_by_week", births_by_week, target="coverage_births_by_week"),
        SqlStep("coverage__reached_by_week", reached_by_week, target="coverage_reached_by_week"),
        SqlStep("coverage__weekly", weekly, Form.INSERT, target="coverage_weekly"),
    ]
