"""Dates damaged by office software: day/month swaps made by a spreadsheet's locale (repaired from the
file's own evidence, or kept doubtful), and the date-times a Vietnamese locale writes."""

from __future__ import annotations

import datetime as dt
import unicodedata

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.normalize.dates import (
    LOCALE_SWAP_DOUBTFUL,
    LOCALE_SWAP_REPAIRED,
    ORDER_UNPROVEN_MARKER,
    count_locale_swap_repairs,
    held_when_date_doubtful,
    with_dates,
)

AS_OF = dt.date(2023, 1, 31)
CAMPAIGN_START = dt.date(2021, 3, 8)
D = dt.date
US_CELL = "date_month_first"  # a date cell in a workbook whose date formats show month first


def dated(rows: list[tuple[str | None, str | None, str | None]], file: str = "f") -> pl.DataFrame:
    """rows: (date_of_birth, vaccinated_on, cell_kinds) of one file -> with_dates' output."""
    frame = pl.LazyFrame(
        [(file, *row) for row in rows],
        schema={
            "file_hash": pl.String,
            "raw_date_of_birth": pl.String,
            "raw_vaccinated_on": pl.String,
            "cell_kinds": pl.String,
        },
        orient="row",
    )
    return with_dates(
        frame, as_of=AS_OF, campaign_start=CAMPAIGN_START, min_age_years=5, file_key=pl.col("file_hash")
    ).collect()


def cells(shot_kind: str | None = None, birth_kind: str | None = None) -> str | None:
    parts = [f"date_of_birth={birth_kind}"] * bool(birth_kind) + [f"vaccinated_on={shot_kind}"] * bool(
        shot_kind
    )
    return ";".join(parts) or None


# --- Vietnamese and English date-times ------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "26/10/21 02:26 chiều",  # LibreOffice vi-VN: two-digit year, Vietnamese PM
        "26/10/21 02:26 CHIỀU",
        unicodedata.normalize("NFD", "26/10/21 02:26 chiều"),  # combining marks
        "26/10/2021 14:26:00",
        "26/10/21 2:26 CH",
        "26/10/21 9:05 SA",
        "26/10/21 9:05 sáng",
        "26/10/21 11:30 trưa",
        "26/10/21 8:00 tối",
        "26/10/2021 02:26 PM",
        "26/10/2021 9:05 a.m.",
        "2021-10-26T14:26:00",
        "2021-10-26 14:26",
        "26/10/2021 14h26",
        "26/10/2021 lúc 14:26",
        "26/10/2021, 14:26",
        "14:26 26/10/2021",
        "9h05 sáng ngày 26/10/2021",
        "Ngày 26 tháng 10 năm 2021",
        "26 tháng 10, 2021",
        "26/10/2021 14 giờ 26 phút",
    ],
)
def test_vietnamese_and_english_date_times(written: str) -> None:
    assert dated([("15/06/1985", written, None)])["vaccinated_date"].to_list() == [D(2021, 10, 26)]


@pytest.mark.parametrize(
    "written",
    [
        "26 Oct 2021",
        "26-Oct-2021",
        "26 October 2021 14:26",
        "Oct 26, 2021",
        "October 26th, 2021",
        "26 Tháng Mười 2021",
        "ngày 26 tháng mười năm 2021",
        "26 thg 10 2021",
        "26 tháng 10 2021",
    ],
)
def test_a_month_by_name_is_read(written: str) -> None:
    # Found by h6 on an independent landing: Excel's "dd mmm yyyy" and Vietnamese month words were
    # birth_date_invalid / vaccination_date_invalid.
    assert dated([("15 Jun 1985", written, None)]).select("birth_date", "vaccinated_date").rows() == [
        (D(1985, 6, 15), D(2021, 10, 26))
    ]


def test_a_month_by_name_is_never_turned_around_in_a_month_first_file() -> None:
    month_first = [("06/15/1985", "10/26/2021", None)] * 5
    result = dated(
        [*month_first, ("15 Jun 1985", "08 Mar 2021", None), ("1 tháng Hai 1990", "Mar 9, 2021", None)]
    )
    assert result.select("birth_date", "vaccinated_date").rows()[-2:] == [
        (D(1985, 6, 15), D(2021, 3, 8)),
        (D(1990, 2, 1), D(2021, 3, 9)),
    ]


@pytest.mark.parametrize(
    "written", ["26/10/21 02:26 chiềux", "26/10/21 SA", "26/10/21 02:26:61:00", "26/10/21 lúc"]
)
def test_a_date_time_with_a_broken_time_is_not_read(written: str) -> None:
    assert dated([("15/06/1985", written, None)])["vaccinated_date"].to_list() == [None]


def test_two_digit_years_from_a_vietnamese_round_trip() -> None:
    # Vaccination years are 20yy; a birth year takes the century that makes the person 0-120 years
    # old (and at least the minimum age) on the vaccination date, else the birth date is invalid.
    result = dated(
        [
            ("12/03/85", "05/08/21", None),
            ("04/05/00", "25/08/21", None),
            ("21/02/03", "03/09/21 09:05 sáng", None),
            ("15/06/15", "20/08/22", None),  # 2015: a 7-year-old
            ("30/07/19", "20/08/22", None),  # 2019 is too young, so 1919
        ]
    )
    assert result.select("birth_date", "vaccinated_date").rows() == [
        (D(1985, 3, 12), D(2021, 8, 5)),
        (D(2000, 5, 4), D(2021, 8, 25)),
        (D(2003, 2, 21), D(2021, 9, 3)),
        (D(2015, 6, 15), D(2022, 8, 20)),
        (D(1919, 7, 30), D(2022, 8, 20)),
    ]


# --- swaps made by a month-first locale -----------------------------------------------------------


def test_month_first_date_cells_beside_day_first_text_are_swapped_back() -> None:
    # What LibreOffice en-US makes of d/m/y text: days <= 12 become swapped date cells in M/D/YY
    # format, the rest stay text.
    result = dated(
        [
            ("1985-12-03", "2021-05-08", cells(US_CELL, US_CELL)),  # sent 12/03/1985, 05/08/2021
            ("30/07/1991", "25/08/2021", None),
            ("1978-05-11", "26/10/2021 14:26", cells(birth_kind=US_CELL)),  # sent 05/11/1978
            ("21/02/2003", "2021-03-09 09:05:00", cells(US_CELL)),  # sent 03/09/2021 09:05
            ("2000-04-04", "2021-10-26", cells(birth_kind=US_CELL)),  # day = month; ISO text: unchanged
        ]
    )
    assert result.select("birth_date", "vaccinated_date", "date_repair").rows() == [
        (
            D(1985, 3, 12),
            D(2021, 8, 5),
            f"{LOCALE_SWAP_REPAIRED}:date_of_birth;{LOCALE_SWAP_REPAIRED}:vaccinated_on",
        ),
        (D(1991, 7, 30), D(2021, 8, 25), None),
        (D(1978, 11, 5), D(2021, 10, 26), f"{LOCALE_SWAP_REPAIRED}:date_of_birth"),
        (D(2003, 2, 21), D(2021, 9, 3), f"{LOCALE_SWAP_REPAIRED}:vaccinated_on"),
        (D(2000, 4, 4), D(2021, 10, 26), None),
    ]
    # The repaired birth date keeps the date as the cell showed it as the other reading.
    assert result["birth_date_alt"][0] == D(1985, 12, 3)


def test_month_first_date_cells_with_a_day_over_12_are_not_swapped_back() -> None:
    # Imported with the column typed D/M/Y (LibreOffice en-US): real dates shown M/D/YY, days over 12
    # among them, which a swap never makes; an impossible date stays day-first text. Not proof of a
    # swap: the cells a swap could change are doubtful, never moved.
    result = dated(
        [
            ("1985-03-12", "2021-08-05", cells(US_CELL, US_CELL)),  # sent 12/03/1985, 05/08/2021
            ("1991-07-30", "2021-08-25", cells(US_CELL, US_CELL)),
            ("1978-11-05", "30/02/2021", cells(birth_kind=US_CELL)),
        ]
    )
    assert result.select("birth_date", "vaccinated_date", "date_repair").rows() == [
        (D(1985, 3, 12), D(2021, 8, 5), f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on"),
        (D(1991, 7, 30), D(2021, 8, 25), None),
        (D(1978, 11, 5), None, None),  # birth cells: no day-first text beside them, real dates
    ]


def test_date_cells_of_unknown_format_whose_day_never_passes_12_are_swapped_back() -> None:
    # .xls: no number formats are read; five cells all with a day <= 12 beside day-first text.
    swapped_cells = [
        ("15/06/1985", f"2021-{day:02d}-0{day % 9 + 1}", cells("date")) for day in (3, 5, 7, 9, 11)
    ]
    result = dated([*swapped_cells, ("15/06/1985", "25/08/2021", None)])
    assert result["vaccinated_date"].to_list()[:5] == [D(2021, day % 9 + 1, day) for day in (3, 5, 7, 9, 11)]
    assert result["date_repair"].to_list()[:5] == [f"{LOCALE_SWAP_REPAIRED}:vaccinated_on"] * 5


def test_too_few_date_cells_of_unknown_format_stay_doubtful() -> None:
    result = dated([("15/06/1985", "2021-05-08", cells("date")), ("15/06/1985", "25/08/2021", None)])
    assert result["vaccinated_date"].to_list() == [D(2021, 5, 8), D(2021, 8, 25)]
    assert result["date_repair"].to_list() == [f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on", None]


def test_date_cells_that_show_days_past_12_beside_day_first_text_stay_doubtful() -> None:
    result = dated(
        [
            ("15/06/1985", "2021-05-08", cells("date")),
            ("15/06/1985", "2021-08-20", cells("date")),  # a real date cell: day 20
            ("15/06/1985", "25/08/2021", None),
        ]
    )
    assert result["date_repair"].to_list() == [f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on", None, None]


def test_month_first_cells_without_text_evidence_stay_doubtful() -> None:
    result = dated(
        [("15/06/1985", "2021-05-08", cells(US_CELL)), ("15/06/1985", "2021-06-10", cells(US_CELL))]
    )
    assert result["date_repair"].to_list() == [f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on"] * 2
    assert result["vaccinated_date"].to_list() == [D(2021, 5, 8), D(2021, 6, 10)]


def test_a_doubtful_cell_whose_one_reading_is_outside_the_campaign_takes_the_other() -> None:
    # 2022-12-02 read, 2022-02-12 swapped: both inside -> doubtful; 2021-02-04 read is before the
    # campaign, swapped 2021-04-02 is inside -> settled.
    result = dated(
        [
            ("15/06/1985", "2022-12-02", cells("date")),
            ("15/06/1985", "2021-02-04", cells("date")),
            ("15/06/1985", "25/08/2021", None),
        ]
    )
    assert result["vaccinated_date"].to_list() == [D(2022, 12, 2), D(2021, 4, 2), D(2021, 8, 25)]
    assert result["date_repair"].to_list() == [f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on", None, None]


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        (
            [("15/06/1985", "2021-05-08", cells("date_day_first")), ("15/06/1985", "25/08/2021", None)],
            "d/m format",
        ),
        ([("15/06/1985", "2021-05-08", cells(US_CELL)), ("15/06/1985", "08/25/2021", None)], "text is M/D"),
        (
            [("15/06/1985", "2021-05-08", cells(US_CELL)), ("15/06/1985", "2021-08-25", cells(US_CELL))],
            "day 25",
        ),
        ([("15/06/1985", "2021-05-08", None), ("15/06/1985", "25/08/2021", None)], "ISO text, not a cell"),
    ],
)
def test_date_cells_that_show_no_sign_of_a_swap_are_kept(
    rows: list[tuple[str, str, str | None]], why: str
) -> None:
    result = dated(rows)
    assert result["vaccinated_date"][0] == D(2021, 5, 8), why
    assert result["date_repair"].null_count() == len(rows), why


def test_evidence_is_per_file() -> None:
    swapped = pl.concat(
        [
            dated(
                [("15/06/1985", "2021-05-08", cells(US_CELL)), ("15/06/1985", "25/08/2021", None)], "en-US"
            ),
            dated([("15/06/1985", "2021-05-08", cells("date_day_first"))], "vi-VN"),
        ]
    )
    assert swapped["vaccinated_date"].to_list() == [D(2021, 8, 5), D(2021, 8, 25), D(2021, 5, 8)]


def test_a_doubtful_vaccination_date_holds_the_row_with_both_readings() -> None:
    frame = pl.DataFrame(
        {
            "raw_vaccinated_on": ["2021-05-08", "2021-05-08", "2021-05-08"],
            "vaccinated_date": [D(2021, 5, 8)] * 3,
            "date_repair": [
                f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on",
                f"{LOCALE_SWAP_DOUBTFUL}:date_of_birth",
                None,
            ],
            "reject_reason": [None, None, None],
            "reject_detail": [None, None, None],
            ORDER_UNPROVEN_MARKER: [False, False, False],
        },
        schema_overrides={"reject_reason": pl.String, "reject_detail": pl.String},
    )
    held = frame.with_columns(held_when_date_doubtful())
    assert held["reject_reason"].to_list() == ["vaccination_date_maybe_swapped", None, None]
    assert (
        held["reject_detail"][0]
        == "2021-05-08 (a date cell read as 2021-05-08; day and month may be swapped: 2021-08-05)"
    )


def test_the_ledger_count_of_repairs() -> None:
    staged = pl.LazyFrame(
        {
            "file_hash": ["a", "a", "a", "b"],
            "raw_date_of_birth": ["1985-12-03", "30/07/1991", "1978-05-11", "1985-12-03"],
            "raw_vaccinated_on": ["2021-05-08", "25/08/2021", "26/10/2021", "2021-05-08"],
            "cell_kinds": [
                cells(US_CELL, US_CELL),
                None,
                cells(birth_kind=US_CELL),
                cells("date_day_first"),
            ],
        }
    )
    assert count_locale_swap_repairs(staged, pl.col("file_hash")) == 3  # 2 births, 1 shot (day 26 stays text)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.dates(D(2021, 3, 8), D(2022, 12, 31)), min_size=1, max_size=30),
    st.dates(D(2021, 3, 8), D(2022, 12, 31)).filter(lambda day: day.day > 12),
)
def test_a_libreoffice_en_us_column_reads_back_the_dates_sent(sent: list[dt.date], late: dt.date) -> None:
    """Any column of d/m/y dates with at least one day past 12, damaged as LibreOffice en-US damages
    it, reads back exactly the dates sent."""
    rows = []
    for day in [*sent, late]:
        if day.day <= 12:  # en-US reads dd/mm as mm/dd: a date cell with day and month exchanged
            rows.append(("15/06/1985", D(day.year, day.day, day.month).isoformat(), cells(US_CELL)))
        else:
            rows.append(("15/06/1985", day.strftime("%d/%m/%Y"), None))
    result = dated(rows)
    assert result["vaccinated_date"].to_list() == [*sent, late]


def test_cells_of_unknown_format_whose_day_never_passes_12_stay_doubtful_even_without_text() -> None:
    # An .xls whose every date had a day <= 12: en-US swapped them all and left no text beside.
    doubtful = dated(
        [("15/06/1985", "2021-05-08", cells("date")), ("15/06/1985", "2021-06-10", cells("date"))]
    )
    kept = dated([("15/06/1985", "2021-05-08", cells("date")), ("15/06/1985", "2021-06-20", cells("date"))])
    assert doubtful["date_repair"].to_list() == [f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on"] * 2
    assert kept["date_repair"].to_list() == [None, None]
    assert kept["vaccinated_date"].to_list() == [D(2021, 5, 8), D(2021, 6, 20)]


def test_cells_shown_year_first_were_typed_iso_and_are_never_swapped() -> None:
    result = dated(
        [
            ("15/06/1985", "2021-05-08", cells(US_CELL)),
            ("15/06/1985", "2021-03-04", cells("date_year_first")),  # typed 2021-03-04
            ("15/06/1985", "2021-10-26", cells("date_year_first")),  # a day past 12 that proves nothing
            ("15/06/1985", "25/08/2021", None),
        ]
    )
    assert result["vaccinated_date"].to_list() == [
        D(2021, 8, 5),
        D(2021, 3, 4),
        D(2021, 10, 26),
        D(2021, 8, 25),
    ]
    assert result["date_repair"].to_list() == [f"{LOCALE_SWAP_REPAIRED}:vaccinated_on", None, None, None]


def test_cells_of_a_workbook_with_mixed_date_formats_are_never_swapped_for_sure() -> None:
    # An .xls shows mm/dd/yy and yyyy-mm-dd and which cell uses which is not read: any cell with a
    # day <= 12 may be swapped or typed ISO.
    result = dated(
        [
            ("15/06/1985", "2021-05-08", cells("date_mixed")),
            ("15/06/1985", "2021-10-26", cells("date_mixed")),
            ("15/06/1985", "25/08/2021", None),
        ]
    )
    assert result["vaccinated_date"].to_list() == [D(2021, 5, 8), D(2021, 10, 26), D(2021, 8, 25)]
    assert result["date_repair"].to_list() == [f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on", None, None]


# --- a month by name with a two-digit year ------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("08-Mar-21", D(2021, 3, 8)),  # 2008-03-21, year first, is before the campaign
        ("8/Mar/21", D(2021, 3, 8)),
        ("08-Thg3-21", D(2021, 3, 8)),
        ("08 thg 3 21", D(2021, 3, 8)),
        ("26-Oct-21 14:26", D(2021, 10, 26)),  # 2026-10-21 is after the as-of
        ("12-Oct-22", D(2022, 10, 12)),  # 2012-10-22: before the campaign
    ],
)
def test_a_month_by_name_with_a_two_digit_year_is_read_when_only_day_first_fits(
    written: str, read: dt.date
) -> None:
    # Found on hurried exports (Excel's dd-mmm-yy): these were vaccination_date_invalid.
    assert dated([("15/06/1985", written, None)])["vaccinated_date"].to_list() == [read]


@pytest.mark.parametrize(
    "written",
    [
        "21-Mar-22",  # 2022-03-21 or 2021-03-22: both in the campaign
        "22-Jan-21",  # 2021-01-22 is before the campaign, 2022-01-21 inside: never read year first
        "08-Mar-19",  # neither reading is in the campaign
        "08-Mar-2",
    ],
)
def test_a_month_by_name_with_a_two_digit_year_is_not_guessed(written: str) -> None:
    assert dated([("15/06/1985", written, None)])["vaccinated_date"].to_list() == [None]


def test_a_birth_date_with_a_month_by_name_and_a_two_digit_year() -> None:
    # 15-Jun-85 can only be 1985 (no month has 85 days); 15-Jun-21 may be 2015-06-21.
    result = dated([("15-Jun-85", "08-Mar-21", None), ("15-Jun-21", "08-Mar-21", None)])
    assert result.select("birth_date", "birth_year").rows() == [(D(1985, 6, 15), 1985), (None, None)]


# --- whether a row's vaccination date was read in a proven order ------------------------------------------


def test_the_vaccination_date_order_is_passed_on_only_when_the_file_proves_it() -> None:
    # A day over 12 elsewhere in the file proves its order; a file proving neither, or both, proves nothing;
    # a value naming its order (ISO, a month by name) is unambiguous; a date cell was not read by any order.
    day_first = dated([("15/06/1985", "25/10/2021", None), ("05/06/1985", "08/10/2021", None)], "a")
    month_first = dated([("06/15/1985", "10/25/2021 8:55 PM", None), ("2002-03-02", "12/06/2021", None)], "b")
    unproven = dated([("05/06/1985", "08/10/2021", None)], "c")
    mixed = dated(
        [("15/06/1985", "08/10/2021", None), ("06/15/1985", "08/10/2021", None)]
        + [("25/06/1985", "", None)] * 5,
        "d",
    )
    not_dmy = dated(
        [("15/06/1985", "2021-10-08", None), ("15/06/1985", "08 Oct 2021", None),
         ("15/06/1985", "2021-10-08", cells("date")), ("15/06/1985", "25/10/2021", None)],
        "e",
    )  # fmt: skip
    order = "vaccination_date_order"
    assert day_first[order].to_list() == ["day_first", "day_first"]
    assert month_first[order].to_list() == ["month_first", "month_first"]
    assert month_first["vaccinated_date"].to_list() == [D(2021, 10, 25), D(2021, 12, 6)]
    assert unproven[order].to_list() == [None]
    assert mixed[order].to_list()[:2] == [None, None]
    assert not_dmy[order].to_list() == ["unambiguous", "unambiguous", None, "day_first"]
