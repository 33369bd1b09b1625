"""The coverage age band: completed years at as_of, on the days around a birthday and for 29 February."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from vaxsync.marts.coverage import _age_band_sql

BANDS = ((65, "65+"), (50, "50-64"), (18, "18-49"), (12, "12-17"), (5, "5-11"), (0, "0-4"))


def completed_years(born_on: dt.date, as_of: dt.date) -> int:
    return as_of.year - born_on.year - ((as_of.month, as_of.day) < (born_on.month, born_on.day))


def expected_band(born_on: dt.date, as_of: dt.date) -> str:
    age = completed_years(born_on, as_of)
    return next(band for lowest, band in BANDS if age >= lowest)


def births_around_band_edges(as_of: dt.date) -> list[dt.date]:
    """For each band's lowest age: births a day either side of that birthday, and every 29 February near it."""
    births = []
    for years, _ in BANDS:
        year = as_of.year - years
        births += [dt.date(year, 2, 28), dt.date(year, 3, 1), dt.date(year, 12, 31), dt.date(year, 1, 1)]
        births += [dt.date(y, 2, 29) for y in range(year - 4, year + 5) if y % 4 == 0 and y <= as_of.year]
        anniversary = (
            as_of.replace(year=year) if (as_of.month, as_of.day) != (2, 29) or year % 4 == 0 else None
        )
        if anniversary is not None:
            births += [anniversary - dt.timedelta(days=1), anniversary, anniversary + dt.timedelta(days=1)]
    return sorted({born for born in births if born <= as_of})


@pytest.mark.parametrize(
    "as_of",
    [
        dt.date(2023, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2023, 2, 28),
        dt.date(2023, 3, 1),
        dt.date(2022, 12, 31),
    ],
)
def test_age_band_is_the_band_of_completed_years(as_of: dt.date) -> None:
    births = births_around_band_edges(as_of)
    rows = (
        duckdb.connect()
        .execute(
            f"select born_on, {_age_band_sql('born_on', as_of)} as band from (select unnest($births) as born_on)",
            {"births": births},
        )
        .fetchall()
    )
    assert {born: band for born, band in rows} == {born: expected_band(born, as_of) for born in births}


def test_an_unknown_birth_date_is_the_unknown_band() -> None:
    sql = f"select {_age_band_sql('born_on', dt.date(2023, 1, 31))} from (select null::date as born_on)"
    assert duckdb.connect().execute(sql).fetchall() == [("unknown",)]
