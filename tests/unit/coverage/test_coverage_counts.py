"""Coverage numbers equal a direct count of hand-labelled people: one-dose product, mixed schedules, boosters,
a death before and during the campaign, a birth after as_of, a dose after as_of, provinces in both eras."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.marts.coverage import EXPORTED_TABLES, MILESTONES, build_coverage, coverage_export_dir
from vaxsync.marts.warehouse import connect

AS_OF = dt.date(2023, 1, 31)
D = dt.date.fromisoformat


@dataclass(frozen=True)
class Person:
    description: str
    province_code: str
    district_code: str
    sex: str
    date_of_birth: dt.date | None
    birth_year: int | None
    shots: list[tuple[str, dt.date]]
    reached: dict[str, dt.date]  # hand-labelled: milestone -> the date it was reached
    age_band: str = ""  # at AS_OF; empty for people outside the population
    date_of_death: dt.date | None = None
    in_population: bool = True
    citizen_id: str = field(default="")


PEOPLE = [
    Person(
        "two doses of a two-dose product: primary complete, no booster",
        "01",
        "001",
        "F",
        D("1980-05-01"),
        1980,
        [("PFIZER", D("2021-07-01")), ("PFIZER", D("2021-08-01")), ("PFIZER", D("2023-02-10"))],
        {"dose_1": D("2021-07-01"), "primary_complete": D("2021-08-01")},
        age_band="18-49",
    ),
    Person(
        "one dose of a one-dose product completes the primary series",
        "01",
        "001",
        "M",
        D("1950-03-03"),
        1950,
        [("JANSSEN", D("2021-09-01"))],
        {"dose_1": D("2021-09-01"), "primary_complete": D("2021-09-01")},
        age_band="65+",
    ),
    Person(
        "one-dose product then another product: the second dose is booster 1",
        "01",
        "002",
        "M",
        D("1990-12-31"),
        1990,
        [("JANSSEN", D("2021-09-10")), ("PFIZER", D("2022-03-01"))],
        {"dose_1": D("2021-09-10"), "primary_complete": D("2021-09-10"), "booster_1": D("2022-03-01")},
        age_band="18-49",
    ),
    Person(
        "two-dose product then a one-dose product: the mixed series needs two doses",
        "01",
        "002",
        "F",
        D("1973-01-31"),
        1973,
        [("PFIZER", D("2021-10-01")), ("JANSSEN", D("2021-11-01"))],
        {"dose_1": D("2021-10-01"), "primary_complete": D("2021-11-01")},
        age_band="50-64",
    ),
    Person(
        "mixed two-dose products, then two boosters (a fifth dose is past booster 2)",
        "79",
        "760",
        "F",
        D("1960-06-15"),
        1960,
        [
            ("ASTRAZENECA", D("2021-06-01")),
            ("PFIZER", D("2021-08-15")),
            ("PFIZER", D("2022-01-10")),
            ("MODERNA", D("2022-07-01")),
            ("MODERNA", D("2022-12-01")),
        ],
        {
            "dose_1": D("2021-06-01"),
            "primary_complete": D("2021-08-15"),
            "booster_1": D("2022-01-10"),
            "booster_2": D("2022-07-01"),
        },
        age_band="50-64",
    ),
    Person(
        "a three-dose product mixed in: the series needs three doses",
        "79",
        "760",
        "F",
        D("1985-02-01"),
        1985,
        [("ABDALA", D("2021-09-01")), ("ABDALA", D("2021-09-15")), ("PFIZER", D("2021-10-20"))],
        {"dose_1": D("2021-09-01"), "primary_complete": D("2021-10-20")},
        age_band="18-49",
    ),
    Person(
        "a child aged 12 at as_of, mixed mRNA products",
        "79",
        "761",
        "M",
        D("2010-02-01"),
        2010,
        [("PFIZER", D("2022-05-01")), ("MODERNA", D("2022-06-01"))],
        {"dose_1": D("2022-05-01"), "primary_complete": D("2022-06-01")},
        age_band="12-17",
    ),
    Person(
        "died during the campaign: stays in numerator and denominator",
        "79",
        "761",
        "M",
        D("1940-01-01"),
        1940,
        [("ASTRAZENECA", D("2021-07-01"))],
        {"dose_1": D("2021-07-01")},
        age_band="65+",
        date_of_death=D("2022-06-01"),
    ),
    Person(
        "died before the campaign: outside the population",
        "79",
        "761",
        "M",
        D("1970-01-01"),
        1970,
        [],
        {},
        date_of_death=D("2021-01-01"),
        in_population=False,
    ),
    Person(
        "birth year only, one dose: aged 17 at as_of (taken as born 1 July)",
        "01",
        "001",
        "F",
        None,
        2005,
        [("VERO_CELL", D("2022-08-01"))],
        {"dose_1": D("2022-08-01")},
        age_band="12-17",
    ),
    Person(
        "no dose, a province merged in 2025 (Hà Giang -> Tuyên Quang)",
        "02",
        "024",
        "F",
        D("2019-06-01"),
        2019,
        [],
        {},
        age_band="0-4",
    ),
    Person(
        "born during the campaign, no dose",
        "02",
        "024",
        "M",
        D("2022-03-15"),
        2022,
        [],
        {},
        age_band="0-4",
    ),
    Person(
        "born after as_of: outside the population",
        "02",
        "024",
        "M",
        D("2023-03-01"),
        2023,
        [],
        {},
        in_population=False,
    ),
]
PEOPLE = [
    Person(**{**person.__dict__, "citizen_id": f"0010{index:08d}"}) for index, person in enumerate(PEOPLE)
]  # fmt: skip


def registry_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "citizen_id": [person.citizen_id for person in PEOPLE],
            "legacy_id": [None for _ in PEOPLE],
            "full_name": [f"Người {index}" for index, _ in enumerate(PEOPLE)],
            "date_of_birth": [person.date_of_birth for person in PEOPLE],
            "birth_year": [person.birth_year for person in PEOPLE],
            "sex": [person.sex for person in PEOPLE],
            "phone": [None for _ in PEOPLE],
            "province_code": [person.province_code for person in PEOPLE],
            "district_code": [person.district_code for person in PEOPLE],
            "ward_code": [None for _ in PEOPLE],
            "date_of_death": [person.date_of_death for person in PEOPLE],
        },
        schema=REGISTRY_SCHEMA,
    )


def synced_shots_frame() -> pl.DataFrame:
    rows = [
        {
            "shot_id": f"{person.citizen_id}-{dose_number}",
            "citizen_id": person.citizen_id,
            "vaccine_code": vaccine_code,
            "dose_number": dose_number,
            "dose_number_reported": dose_number,
            "vaccinated_on": vaccinated_on,
            "facility": "Trạm y tế",
            "lot": None,
            "match_method": "id_confirmed",
            "match_score": 1.0,
            "first_synced_at": dt.datetime(2023, 1, 31, 23),
            "run_id": "test",
        }
        for person in PEOPLE
        for dose_number, (vaccine_code, vaccinated_on) in enumerate(person.shots, start=1)
    ]
    return pl.DataFrame(rows, schema_overrides={"dose_number": pl.Int16, "dose_number_reported": pl.Int16})


def make_settings(folder: Path) -> Settings:
    """A registry snapshot of PEOPLE and a warehouse whose synced_shots hold their doses."""
    registry_path = folder / "registry.parquet"
    registry_frame().write_parquet(registry_path)
    settings = Settings(
        registry_path=registry_path,
        warehouse_path=folder / "warehouse" / "warehouse.duckdb",
        reports_dir=folder / "reports",
        as_of=AS_OF,
        duckdb_memory_limit="256MB",
    )
    with connect(settings.warehouse_path) as connection:
        connection.register("shots", synced_shots_frame())
        connection.execute("insert into synced_shots by name select * from shots")
    return settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Built once for the tests that only read; tests that change inputs use `settings`."""
    settings = make_settings(tmp_path_factory.mktemp("coverage"))
    build_coverage(settings)
    return settings


def read_table(settings: Settings, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.sql(sql).pl()


def expected_reached(by: list[str], reached_by: dt.date = AS_OF) -> pl.DataFrame:
    """The direct count: population members per cell, and of them those labelled as reaching each milestone."""
    population = [person for person in PEOPLE if person.in_population]
    people = pl.DataFrame(
        {
            "province_code": [person.province_code for person in population],
            "district_code": [person.district_code for person in population],
            "age_band": [person.age_band for person in population],
            "sex": [person.sex for person in population],
            **{
                milestone: [
                    milestone in person.reached and person.reached[milestone] <= reached_by
                    for person in population
                ]
                for milestone in MILESTONES
            },
        }
    )
    return (
        people.unpivot(index=by, on=list(MILESTONES), variable_name="milestone", value_name="is_reached")
        .group_by([*by, "milestone"])
        .agg(
            pl.len().cast(pl.Int64).alias("count_population"),
            pl.col("is_reached").sum().cast(pl.Int64).alias("count_reached"),
        )
        .sort(pl.all())
    )


@pytest.mark.parametrize(
    "dimensions",
    [
        ["province_code"],
        ["province_code", "district_code"],
        ["age_band"],
        ["sex"],
        ["province_code", "age_band", "sex"],
    ],
    ids=lambda dimensions: "+".join(dimensions),
)
def test_coverage_by_area_equals_a_direct_count(built: Settings, dimensions: list[str]) -> None:
    columns = ", ".join(dimensions)
    actual = read_table(
        built,
        f"select {columns}, milestone, sum(count_population)::bigint as count_population, "
        f"sum(count_reached)::bigint as count_reached from coverage_by_area group by all order by all",
    )
    assert_frame_equal(actual, expected_reached(dimensions))


@pytest.mark.parametrize(
    "person", [person for person in PEOPLE if person.in_population], ids=lambda p: p.description
)
def test_each_person_counts_for_exactly_the_milestones_labelled(settings: Settings, person: Person) -> None:
    """Build on a registry of this one person, so a wrong rule names the case that broke it."""
    registry_frame().filter(pl.col("citizen_id") == person.citizen_id).write_parquet(settings.registry_path)
    build_coverage(settings)
    reached = read_table(
        settings, "select milestone from coverage_by_area where count_reached = 1 order by milestone"
    )
    assert set(reached["milestone"]) == set(person.reached)


def test_population_excludes_deaths_before_the_campaign_and_births_after_as_of(built: Settings) -> None:
    counted = read_table(
        built, "select sum(count_population)::bigint from coverage_by_area where milestone = 'dose_1'"
    ).item()
    assert counted == sum(person.in_population for person in PEOPLE)
    assert counted < len(PEOPLE)


def test_provinces_carry_names_in_both_eras(built: Settings) -> None:
    provinces = read_table(
        built,
        "select province_code_2025, province_name_2025, count_population from v_coverage_province_2025 "
        "where milestone = 'dose_1' order by all",
    )
    assert provinces.rows() == [
        ("01", "Thành phố Hà Nội", 5),
        ("08", "Tuyên Quang", 2),
        ("79", "Thành phố Hồ Chí Minh", 4),
    ]
    names = read_table(
        built, "select distinct province_code, province_name from coverage_by_area order by all"
    )
    assert names.rows() == [
        ("01", "Thành phố Hà Nội"),
        ("02", "Tỉnh Hà Giang"),
        ("79", "Thành phố Hồ Chí Minh"),
    ]


@pytest.mark.parametrize(
    "week_start", [D("2021-06-28"), D("2021-08-09"), D("2022-03-14"), D("2022-06-27"), D("2023-01-30")]
)
def test_weekly_counts_are_cumulative_to_the_week_end(built: Settings, week_start: dt.date) -> None:
    actual = read_table(
        built,
        "select province_code, milestone, count_population, count_reached, week_end from coverage_weekly "
        f"where week_start = date '{week_start.isoformat()}' order by all",
    )
    week_end = min(week_start + dt.timedelta(days=6), AS_OF)
    assert actual["week_end"].unique().to_list() == [week_end]
    expected = expected_reached(["province_code"], reached_by=week_end)
    born_after_week = pl.DataFrame(
        {
            "province_code": [
                person.province_code
                for person in PEOPLE
                if person.in_population and person.date_of_birth and person.date_of_birth > week_end
            ]
        },
        schema={"province_code": pl.String},
    )
    unborn = born_after_week.group_by("province_code").agg(pl.len().cast(pl.Int64).alias("count_unborn"))
    expected = (
        expected.join(unborn, on="province_code", how="left")
        .with_columns(pl.col("count_population") - pl.col("count_unborn").fill_null(0))
        .drop("count_unborn")
    )
    assert_frame_equal(actual.drop("week_end"), expected)


def test_weekly_series_ends_at_the_as_of_totals(built: Settings) -> None:
    last_week = read_table(
        built,
        "select milestone, count_population, count_reached from v_coverage_weekly_national "
        "where week_end = (select max(week_end) from coverage_weekly) order by all",
    )
    totals = read_table(
        built,
        "select milestone, sum(count_population)::bigint as count_population, "
        "sum(count_reached)::bigint as count_reached from coverage_by_area group by all order by all",
    )
    assert_frame_equal(last_week, totals)


def export_frames(settings: Settings) -> dict[str, pl.DataFrame]:
    root = coverage_export_dir(settings)
    return {
        table: pl.read_parquet(root / table / "*" / "*.parquet").sort(pl.all()) for table in EXPORTED_TABLES
    }


def test_exports_hold_one_folder_per_province_with_only_its_rows(built: Settings) -> None:
    root = coverage_export_dir(built)
    for table in EXPORTED_TABLES:
        folders = sorted(path.name for path in (root / table).iterdir())
        assert folders == ["province_code=01", "province_code=02", "province_code=79"]
        for folder in folders:
            rows = pl.read_parquet(root / table / folder / "*.parquet")
            assert rows["province_code"].unique().to_list() == [folder.removeprefix("province_code=")]
        in_warehouse = read_table(built, f"select * from {table}").sort(pl.all())
        assert_frame_equal(export_frames(built)[table], in_warehouse)


def test_rebuilding_gives_the_same_tables_and_files(settings: Settings) -> None:
    build_coverage(settings)
    built = settings
    tables_sql = {table: f"select * from {table} order by all" for table in EXPORTED_TABLES}
    first_tables = {table: read_table(built, sql) for table, sql in tables_sql.items()}
    first_files = sorted(
        path.relative_to(built.warehouse_path.parent) for path in coverage_export_dir(built).rglob("*")
    )
    first_exports = export_frames(built)
    build_coverage(built)
    for table, sql in tables_sql.items():
        assert_frame_equal(read_table(built, sql), first_tables[table])
    assert (
        sorted(
            path.relative_to(built.warehouse_path.parent) for path in coverage_export_dir(built).rglob("*")
        )
        == first_files
    )
    for table, frame in export_frames(built).items():
        assert_frame_equal(frame, first_exports[table])


def test_a_rebuild_reflects_new_shots_and_drops_stale_province_folders(settings: Settings) -> None:
    build_coverage(settings)
    built = settings
    registry_frame().filter(pl.col("province_code") != "02").write_parquet(built.registry_path)
    with connect(built.warehouse_path) as connection:
        connection.execute("delete from synced_shots where vaccine_code = 'JANSSEN'")
    summary = build_coverage(built)
    folders = sorted(path.name for path in (coverage_export_dir(built) / "coverage_by_area").iterdir())
    assert folders == ["province_code=01", "province_code=79"]
    only_janssen = [
        person for person in PEOPLE if person.shots and {code for code, _ in person.shots} == {"JANSSEN"}
    ]
    assert only_janssen
    assert summary["count_reached_dose_1"] == sum("dose_1" in person.reached for person in PEOPLE) - len(
        only_janssen
    )
