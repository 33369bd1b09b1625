"""The clinical rules' one home: the impossible link (with its year-only fallback) gives the same answer in
DuckDB and in polars, ages fall back to the oldest possible age, and the minimum age is the catalogue's."""

from __future__ import annotations

import csv
import datetime as dt

import duckdb
import polars as pl
import pytest

from matching.decision import IMPOSSIBLE_REASONS
from matching.decision import impossible_link_sql as probabilistic_impossible_link_sql
from matching.deterministic import impossible_link_reason
from matching.model import load_model
from validation.suites import build_normalized_shots_suite
from vaxsync.core.clinical_rules import (
    IMPOSSIBLE_LINK_REASONS,
    REGISTRY_DATES,
    SHOT_AFTER_DEATH,
    SHOT_BEFORE_BIRTH,
    age_at_vaccination_sql,
    impossible_link,
    impossible_link_sql,
    is_impossible_link,
    latest_vaccinable_birth_year,
    min_vaccination_age_years,
)
from vaxsync.core.reasons import BACKLOG_REASONS
from vaxsync.core.reference import reference_path
from vaxsync.core.settings import CAMPAIGN_START

D = dt.date
MODEL = load_model()
SCHEMA = {
    "vaccinated_date": pl.Date,
    "registry_date_of_birth": pl.Date,
    "registry_birth_year": pl.Int16,
    "registry_date_of_death": pl.Date,
}
# The candidate's dates as matching.decision's scored pairs name them.
PAIR_SCHEMA = {
    "vaccinated_date": pl.Date,
    "registry_birth_date": pl.Date,
    "registry_birth_year": pl.Int16,
    "registry_date_of_death": pl.Date,
}
# (description, shot, birth date, birth year, death date, expected reason)
IMPOSSIBLE_LINK_CASES = [
    ("born before the shot, alive", D(2022, 3, 1), D(1990, 5, 5), 1990, None, None),
    ("shot the day after death", D(2022, 3, 1), D(1990, 5, 5), 1990, D(2022, 2, 28), SHOT_AFTER_DEATH),
    ("shot on the day of death", D(2022, 3, 1), D(1990, 5, 5), 1990, D(2022, 3, 1), None),
    ("shot the day before birth", D(2022, 3, 1), D(2022, 3, 2), 2022, None, SHOT_BEFORE_BIRTH),
    ("shot on the birth date", D(2022, 3, 2), D(2022, 3, 2), 2022, None, None),
    ("year only: shot the year before birth", D(2022, 12, 31), None, 2023, None, SHOT_BEFORE_BIRTH),
    ("year only: shot on the first day of the birth year", D(2023, 1, 1), None, 2023, None, None),
    ("year only: shot late in the birth year", D(2023, 11, 30), None, 2023, None, None),
    ("the birth date wins over the year", D(2023, 3, 1), D(2023, 6, 1), 2023, None, SHOT_BEFORE_BIRTH),
    ("after death and before birth: death first", D(2022, 3, 1), D(2023, 1, 1), 2023, D(2022, 1, 1), SHOT_AFTER_DEATH),
    ("nothing known about the person", D(2022, 3, 1), None, None, None, None),
    ("no vaccination date", None, D(1990, 5, 5), 1990, D(2021, 1, 1), None),
]  # fmt: skip


def run_sql(query: str, **frames: pl.DataFrame) -> list[tuple[object, ...]]:
    with duckdb.connect() as connection:
        for name, frame in frames.items():
            connection.register(name, frame.to_arrow())
        return connection.sql(query).fetchall()


def cases_frame() -> pl.DataFrame:
    rows = [case[1:5] for case in IMPOSSIBLE_LINK_CASES]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def test_the_impossible_link_gives_each_case_its_reason_in_duckdb_and_in_polars() -> None:
    cases = cases_frame()
    rule = impossible_link_sql("vaccinated_date", REGISTRY_DATES)
    in_duckdb = [row[0] for row in run_sql(f"select {rule} from cases", cases=cases)]
    in_polars = cases.select(impossible_link()).to_series().to_list()
    for (description, *_, expected), duck, polars_value in zip(
        IMPOSSIBLE_LINK_CASES, in_duckdb, in_polars, strict=True
    ):
        assert (duck, polars_value) == (expected, expected), description


def test_is_impossible_link_is_false_when_the_dates_are_unknown() -> None:
    flags = cases_frame().select(is_impossible_link()).to_series().to_list()
    assert flags == [case[5] is not None for case in IMPOSSIBLE_LINK_CASES]


def test_impossible_link_reasons_are_backlog_reasons() -> None:
    assert IMPOSSIBLE_LINK_REASONS == (SHOT_AFTER_DEATH, SHOT_BEFORE_BIRTH)
    assert set(IMPOSSIBLE_LINK_REASONS) <= set(BACKLOG_REASONS)


@pytest.mark.parametrize(
    ("description", "vaccinated", "born", "birth_year", "expected"),
    [
        ("the day before the fifth birthday", D(2022, 4, 30), D(2017, 5, 1), 2017, 4),
        ("on the fifth birthday", D(2022, 5, 1), D(2017, 5, 1), 2017, 5),
        ("year only: the oldest possible age", D(2022, 1, 2), None, 2017, 5),
        ("nothing known", D(2022, 1, 2), None, None, None),
    ],
)
def test_age_at_vaccination_is_exact_or_the_oldest_possible(
    description: str, vaccinated: dt.date, born: dt.date | None, birth_year: int | None, expected: int | None
) -> None:
    with duckdb.connect() as connection:
        row = connection.execute(
            f"select {age_at_vaccination_sql('v', 'b', 'y')} "
            "from (select ?::date as v, ?::date as b, ?::integer as y)",
            [vaccinated, born, birth_year],
        ).fetchone()
    assert row is not None
    assert row[0] == expected, description


def test_the_minimum_vaccination_age_is_the_youngest_approved_age_in_the_catalogue() -> None:
    with reference_path("vaccines.csv").open(newline="", encoding="utf-8") as catalogue:
        approved_ages = [int(product["min_age_years"]) for product in csv.DictReader(catalogue)]
    assert min_vaccination_age_years() == min(approved_ages) == 5  # Comirnaty, paediatric dose
    assert latest_vaccinable_birth_year(D(2023, 1, 31)) == 2023 - min(approved_ages)


# --- every user applies the same rule -------------------------------------------------------------------


def test_the_id_pass_and_the_probabilistic_decision_apply_the_same_impossible_link() -> None:
    cases = cases_frame()
    in_id_pass = cases.select(impossible_link_reason()).to_series().to_list()
    scored_pairs = cases.rename({"registry_date_of_birth": "registry_birth_date"}).with_columns(
        birth_year=pl.col("registry_birth_year")  # the row agrees with the candidate: no child/adult rule
    )
    rule = probabilistic_impossible_link_sql(MODEL.age_rules)
    codes = run_sql(f"select {rule} from scored_pairs", scored_pairs=scored_pairs)
    # Codes 1 and 2 are death and birth; the age rules (3, 4) come after them and are not this rule.
    in_decision = [IMPOSSIBLE_REASONS[code] if code in (1, 2) else None for (code,) in codes]
    expected = [case[5] for case in IMPOSSIBLE_LINK_CASES]
    assert in_id_pass == expected
    assert in_decision == expected


@pytest.mark.parametrize("youngest", [5, 12])
def test_the_probabilistic_too_young_rule_takes_the_catalogues_minimum_age(
    monkeypatch: pytest.MonkeyPatch, youngest: int
) -> None:
    monkeypatch.setattr("matching.decision.min_vaccination_age_years", lambda: youngest)
    shot_year = 2022
    pairs = pl.DataFrame(
        {
            "vaccinated_date": [D(shot_year, 6, 1)] * 2,
            "registry_birth_date": [None, None],
            "registry_birth_year": [shot_year - youngest + 1, shot_year - youngest],
            "registry_date_of_death": [None, None],
        },
        schema=PAIR_SCHEMA,
    ).with_columns(birth_year=pl.col("registry_birth_year"))
    codes = run_sql(f"select {probabilistic_impossible_link_sql(MODEL.age_rules)} from pairs", pairs=pairs)
    assert [code for (code,) in codes] == [3, None]  # one year short of the minimum age; at it


def test_the_normalized_shots_suite_warns_on_birth_years_after_the_latest_vaccinable_one() -> None:
    as_of = D(2023, 1, 31)
    suite = build_normalized_shots_suite(as_of, CAMPAIGN_START, ["PFIZER"])
    birth_year_ceilings = [
        expectation.max_value
        for expectation in suite.expectations
        if getattr(expectation, "column", None) == "birth_year" and expectation.severity == "warning"
    ]
    assert birth_year_ceilings == [latest_vaccinable_birth_year(as_of)]
