"""Date rules: layouts, month-first files, ambiguous day/month, two-digit years, impossible dates."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from transforms.normalize.dates import with_dates

AS_OF = dt.date(2023, 1, 31)
CAMPAIGN_START = dt.date(2021, 3, 8)
D = dt.date


def read_dates(rows: list[tuple[str, str | None, str | None]]) -> list[tuple[object, ...]]:
    """rows: (file, date_of_birth, vaccinated_on) -> (birth_date, birth_date_alt, birth_year, vaccinated_date)."""
    frame = pl.LazyFrame(
        rows,
        schema={"file_hash": pl.String, "raw_date_of_birth": pl.String, "raw_vaccinated_on": pl.String},
        orient="row",
    )
    result = with_dates(
        frame, as_of=AS_OF, campaign_start=CAMPAIGN_START, min_age_years=5, file_key=pl.col("file_hash")
    ).collect()
    return list(result.select("birth_date", "birth_date_alt", "birth_year", "vaccinated_date").iter_rows())


@pytest.mark.parametrize(
    ("date_of_birth", "vaccinated_on", "expected"),
    [
        ("15/06/1985", "20/08/2021", (D(1985, 6, 15), None, 1985, D(2021, 8, 20))),
        ("15-06-1985", "20-08-2021", (D(1985, 6, 15), None, 1985, D(2021, 8, 20))),
        ("15.06.1985", "2021-08-20", (D(1985, 6, 15), None, 1985, D(2021, 8, 20))),
        ("5/8/88", "14/5/2021", (D(1988, 8, 5), D(1988, 5, 8), 1988, D(2021, 5, 14))),
        (
            "03/04/1980",
            "2021-03-08",
            (D(1980, 4, 3), D(1980, 3, 4), 1980, D(2021, 3, 8)),
        ),  # ambiguous: both kept
        ("1985-06-15", "20/08/2021", (D(1985, 6, 15), None, 1985, D(2021, 8, 20))),  # ISO is never day-first
        ("2000-05-04 00:00:00", "2021-09-23 11:10:45", (D(2000, 5, 4), D(2000, 4, 5), 2000, D(2021, 9, 23))),
        ("1990-12-25T00:00:00", "11/01/2022 17:08", (D(1990, 12, 25), None, 1990, D(2022, 1, 11))),
        ("21323", "44333", (D(1958, 5, 18), None, 1958, D(2021, 5, 17))),  # Excel serials
        ("21323.0", "44333.25", (D(1958, 5, 18), None, 1958, D(2021, 5, 17))),
        ("1954", "20/08/2021", (None, None, 1954, D(2021, 8, 20))),  # year only
        ("05/1954", "20/08/2021", (None, None, 1954, D(2021, 8, 20))),
        ("00/00/1945", "20/08/2021", (None, None, 1945, D(2021, 8, 20))),
        ("15.06.45", "20/08/2021", (D(1945, 6, 15), None, 1945, D(2021, 8, 20))),  # 45 is 1945, never 2045
        ("15/06/15", "20/08/2022", (D(2015, 6, 15), None, 2015, D(2022, 8, 20))),  # a 7-year-old
        ("15/06/19", "20/08/2022", (D(1919, 6, 15), None, 1919, D(2022, 8, 20))),  # 2019 is too young
        ("20/08/2021", "03/11/21", (D(2021, 8, 20), None, 2021, D(2021, 11, 3))),
        ("31/02/1990", "20/08/2021", (None, None, None, D(2021, 8, 20))),  # impossible
        ("00/00/0000", "20/08/2021", (None, None, None, D(2021, 8, 20))),
        ("2030", "20/08/2021", (None, None, None, D(2021, 8, 20))),  # in the future
        ("01/01/1890", "20/08/2021", (None, None, None, D(2021, 8, 20))),  # older than 120
        ("chưa rõ", "32/13/2021", (None, None, None, None)),
        (None, None, (None, None, None, None)),
    ],
)
def test_date_layouts(
    date_of_birth: str | None, vaccinated_on: str | None, expected: tuple[object, ...]
) -> None:
    assert read_dates([("one-file", date_of_birth, vaccinated_on)]) == [expected]


def test_month_first_file_is_read_month_first_throughout() -> None:
    rows = [
        ("us-file", "10/15/1967", "06/10/2021"),  # second part 15 proves month-first
        ("us-file", "01/23/1971", "08/20/2021"),
        ("us-file", "03/04/1980", "07/09/2021"),  # ambiguous alone, month-first in this file
    ]
    assert read_dates(rows) == [
        (D(1967, 10, 15), None, 1967, D(2021, 6, 10)),
        (D(1971, 1, 23), None, 1971, D(2021, 8, 20)),
        (D(1980, 3, 4), D(1980, 4, 3), 1980, D(2021, 7, 9)),
    ]


def test_day_first_file_reads_ambiguous_values_day_first() -> None:
    rows = [("vn-file", "25/12/1990", "12/10/2021"), ("vn-file", "03/04/1980", "13/10/2021")]
    assert read_dates(rows) == [
        (D(1990, 12, 25), None, 1990, D(2021, 10, 12)),
        (D(1980, 4, 3), D(1980, 3, 4), 1980, D(2021, 10, 13)),
    ]


def test_a_file_with_both_proofs_is_not_read_month_first() -> None:
    rows = [("mixed", "25/12/1990", "06/10/2021"), ("mixed", "10/15/1967", "07/10/2021")]
    assert [row[3] for row in read_dates(rows)] == [D(2021, 10, 6), D(2021, 10, 7)]


def test_a_file_proof_does_not_leak_into_another_file() -> None:
    rows = [("us-file", "10/15/1967", "06/10/2021"), ("other-file", "03/04/1980", "06/10/2021")]
    assert [row[3] for row in read_dates(rows)] == [D(2021, 6, 10), D(2021, 10, 6)]


def test_ambiguous_vaccination_date_outside_the_campaign_is_read_the_other_way() -> None:
    # 12/01/2023 day-first is 12 Jan 2023 (inside); 01/12/2021 stays 1 Dec 2021.
    # 03/02/2023 day-first is 3 Feb 2023, after the run date; month-first 2 Mar 2023 is too: kept.
    rows = [
        ("a", "15/06/1985", "12/01/2023"),
        ("b", "15/06/1985", "01/12/2021"),
        ("c", "15/06/1985", "03/02/2023"),
    ]
    assert [row[3] for row in read_dates(rows)] == [D(2023, 1, 12), D(2021, 12, 1), D(2023, 2, 3)]


def test_rows_keep_their_order() -> None:
    rows = [(f"file-{n % 3}", f"{n % 28 + 1:02d}/06/1985", "20/08/2021") for n in range(60)]
    births = [row[0] for row in read_dates(rows)]
    assert births == [D(1985, 6, n % 28 + 1) for n in range(60)]


def test_each_way_of_writing_the_vaccination_date_proves_its_own_order() -> None:
    """A file joined from two systems' exports: one writes month-first with a time, the other day-first
    without. The file as a whole proves both orders and its majority is month-first; the day-first
    system's ambiguous 07/09/2021 is 7 September (its own padded values, 24/09 and 13/08, prove
    day-first; 31/10/2021 could be padded or not and counts for neither), and the other's ambiguous
    05/06/2021 10:00 is 6 May."""
    us = [
        ("joined", "15/06/1985", f"{m:02d}/{d}/2021 10:00")
        for m, d in [(5, 18), (6, 20), (7, 21), (8, 25), (9, 28)]
    ]
    vn = [("joined", "15/06/1985", value) for value in ("24/09/2021", "13/08/2021", "31/10/2021")]
    ambiguous = [("joined", "15/06/1985", "07/09/2021"), ("joined", "15/06/1985", "05/06/2021 10:00")]
    assert [row[3] for row in read_dates(us + vn + ambiguous)][-2:] == [D(2021, 9, 7), D(2021, 5, 6)]


def test_a_slip_in_a_way_of_writing_does_not_turn_its_order() -> None:
    """Birth dates prove month-first; one vaccination date typed day-first is a slip, not a system: the
    ambiguous vaccination date follows the file's majority (month-first)."""
    rows = [("us", f"{m}/{m + 13}/1980", "06/10/2021") for m in range(1, 11)]
    rows += [("us", "01/23/1971", "13/10/2021")]
    assert read_dates(rows)[0][3] == D(2021, 6, 10)
