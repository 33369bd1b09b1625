"""Date rules: read every common layout, detect month-first files, keep ambiguous readings, resolve
two-digit years by plausibility, and tell impossible dates apart.

Layouts: d/m/y with / . or - (2- or 4-digit year, optional time), ISO y-m-d (never read day-first),
ISO datetimes, Excel serials (origin 1899-12-30), a year alone, month/year, and 00/00/yyyy (the
year is known, the day is not). A file saved by Excel with US settings writes month-first: values
whose second part is over 12 prove it, and a file with such proof and no value proving day-first is
read month-first throughout.

Every reading a text can have (day-first or month-first, 19yy or 20yy) is computed once per DISTINCT
text (`date_readings`); each row then picks one by its file's order and its plausible century.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import polars.selectors as cs

TIME_SUFFIX = (
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:\s?[AaPp][Mm])?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
DAY_MONTH_YEAR = rf"^([0-9]{{1,2}})[/.\-]([0-9]{{1,2}})[/.\-]([0-9]{{4}}|[0-9]{{2}}){TIME_SUFFIX}$"
YEAR_MONTH_DAY = rf"^([0-9]{{4}})[/.\-]([0-9]{{1,2}})[/.\-]([0-9]{{1,2}}){TIME_SUFFIX}$"
YEAR_ONLY = r"^(?:[0-9]{1,2}[/.\-])?((?:18|19|20|21)[0-9]{2})$"  # 1977, or 05/1977 (the month is dropped)
EXCEL_SERIAL = r"^([0-9]{1,5})(?:[.,][0-9]+)?$"
EXCEL_EPOCH = dt.date(1899, 12, 30)
MAX_AGE_YEARS = 120
VACCINATION_LATEST_YEAR = 2099  # a two-digit vaccination year is 20yy: the campaign started in 2021
MONTH_FIRST, DAY_FIRST = "month_first", "day_first"
FILE_ORDER_MAJORITY = 4  # proofs of one order must outnumber the other's this many times
CENTURIES = (1900, 2000)


def safe_date(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """pl.date that gives null for impossible components (31/02, month 13, day 0) instead of raising."""
    is_plausible = year.is_between(1800, 2200) & month.is_between(1, 12) & (day >= 1)
    first_of_month = pl.date(
        pl.when(is_plausible).then(year).otherwise(2000),
        pl.when(is_plausible).then(month).otherwise(1),
        1,
    )
    is_valid = is_plausible & (day <= first_of_month.dt.month_end().dt.day())
    return pl.when(is_valid).then(first_of_month + pl.duration(days=day - 1))


def excel_serial_date(text: pl.Expr) -> pl.Expr:
    """A whole or fractional day count from 1899-12-30 (Excel's origin); not a 4-digit year."""
    days = text.str.extract(EXCEL_SERIAL, 1).cast(pl.Int32, strict=False)
    is_serial = ~text.str.contains(YEAR_ONLY) & (days > 0)
    return pl.when(is_serial).then(pl.lit(EXCEL_EPOCH) + pl.duration(days=days))


def date_parts(raw: pl.Expr) -> list[pl.Expr]:
    """The parts of a raw date text: d/m/y parts p1, p2, year_digits; the ISO date; the Excel serial
    date; a bare year."""
    text = raw.str.strip_chars()
    dmy = text.str.extract_groups(DAY_MONTH_YEAR)
    ymd = text.str.extract_groups(YEAR_MONTH_DAY)

    def field(groups: pl.Expr, index: int) -> pl.Expr:
        return groups.struct.field(str(index)).cast(pl.Int32, strict=False)

    return [
        field(dmy, 1).alias("p1"),
        field(dmy, 2).alias("p2"),
        dmy.struct.field("3").alias("year_digits"),
        safe_date(field(ymd, 1), field(ymd, 2), field(ymd, 3)).alias("iso_date"),
        excel_serial_date(text).alias("serial_date"),
        text.str.extract(YEAR_ONLY, 1).cast(pl.Int32, strict=False).alias("year_only"),
    ]


def day_first_proof(p1: pl.Expr, p2: pl.Expr) -> pl.Expr:
    """A d/m/y value that can only be read day-first (first part over 12, second part a month)."""
    return ((p1 > 12) & p2.is_between(1, 12)).fill_null(False)


def month_first_proof(p1: pl.Expr, p2: pl.Expr) -> pl.Expr:
    """A d/m/y value that can only be read month-first (second part over 12, first part a month)."""
    return ((p2 > 12) & p1.is_between(1, 12)).fill_null(False)


def year_in_century(year_digits: pl.Expr, century: int) -> pl.Expr:
    """A 4-digit year as written; a 2-digit one placed in `century`."""
    year = year_digits.cast(pl.Int32, strict=False)
    return pl.when(year_digits.str.len_chars() == 2).then(century + year).otherwise(year)


def dmy_readings(p1: pl.Expr, p2: pl.Expr, year: pl.Expr, other: pl.Expr) -> list[pl.Expr]:
    """(day-first-preferred, month-first-preferred, swapped) readings of a d/m/y value in `year`.

    Each order falls back to the other when only that one is a real date; `other` (the ISO or serial
    date) is used when the value is not d/m/y. `swapped` is the month-first reading of an ambiguous
    value (both parts 1-12 and different)."""
    day_first, month_first = safe_date(year, p2, p1), safe_date(year, p1, p2)
    is_dmy = p1.is_not_null()
    is_ambiguous = p1.is_between(1, 12) & p2.is_between(1, 12) & (p1 != p2)
    return [
        pl.when(is_dmy).then(pl.coalesce(day_first, month_first)).otherwise(other),
        pl.when(is_dmy).then(pl.coalesce(month_first, day_first)).otherwise(other),
        pl.when(is_ambiguous).then(month_first),
    ]


def year_without_day(p1: pl.Expr, p2: pl.Expr, year: pl.Expr, year_only: pl.Expr) -> pl.Expr:
    """The year of a value that gives no day: 1977, 05/1977, or 00/00/1977 (a zero day or month)."""
    zero_day = ((p1 == 0) | (p2 == 0)) & (p1 <= 12) & (p2 <= 12)
    return pl.coalesce(year_only, pl.when(zero_day).then(year)).cast(pl.Int32)


def reading_columns(prefix: str, century: int) -> list[str]:
    return [f"{prefix}_{kind}_{century}" for kind in ("day_first", "month_first", "swapped", "year")]


def date_readings(frame: pl.LazyFrame, column: str, prefix: str) -> pl.LazyFrame:
    """Per distinct value of `column`: its order proofs, the two-digit year (null for 4 digits) and
    every reading: for each century, day-first, month-first, swapped, and the year without a day."""
    p1, p2, year_digits = pl.col("p1"), pl.col("p2"), pl.col("year_digits")
    other = pl.coalesce("iso_date", "serial_date")
    readings = []
    for century in CENTURIES:
        year = year_in_century(year_digits, century)
        names = reading_columns(prefix, century)
        dmy = dmy_readings(p1, p2, year, other)
        readings += [reading.alias(name) for reading, name in zip(dmy, names[:3], strict=True)]
        readings.append(year_without_day(p1, p2, year, pl.col("year_only")).alias(names[3]))
    two_digit_year = pl.when(year_digits.str.len_chars() == 2).then(year_digits.cast(pl.Int32, strict=False))
    return (
        frame.select(column)
        .unique()
        .with_columns(date_parts(pl.col(column)))
        .with_columns(
            *readings,
            day_first_proof(p1, p2).alias(f"{prefix}_proves_day_first"),
            month_first_proof(p1, p2).alias(f"{prefix}_proves_month_first"),
            two_digit_year.alias(f"{prefix}_yy"),
        )
        .drop("p1", "p2", "year_digits", "iso_date", "serial_date", "year_only")
    )


def file_date_order(prefixes: tuple[str, ...], file_key: pl.Expr) -> pl.Expr:
    """'month_first' or 'day_first' when a file's date values prove one order by a clear majority;
    null when the file proves neither, or both about equally (a mixed file).

    A majority, not unanimity: in a month-first file a row typed with day and month exchanged is a
    lone day-first proof, and must not flip the whole file back to day-first."""
    day_first = pl.sum_horizontal(f"{p}_proves_day_first" for p in prefixes).sum().over(file_key)
    month_first = pl.sum_horizontal(f"{p}_proves_month_first" for p in prefixes).sum().over(file_key)
    return (
        pl.when(month_first > FILE_ORDER_MAJORITY * day_first)
        .then(pl.lit(MONTH_FIRST))
        .when(day_first > FILE_ORDER_MAJORITY * month_first)
        .then(pl.lit(DAY_FIRST))
    )


def pick_reading(prefix: str, kind: str, *, latest_year: pl.Expr | int) -> pl.Expr:
    """A reading of the row's text in the most recent century that keeps its year <= latest_year
    (a two-digit 45 is 1945 when 2045 is too late; four-digit years are the same in both)."""
    use_2000 = (2000 + pl.col(f"{prefix}_yy") <= latest_year).fill_null(True)
    return pl.when(use_2000).then(pl.col(f"{prefix}_{kind}_2000")).otherwise(pl.col(f"{prefix}_{kind}_1900"))


def ordered_reading(prefix: str, order: pl.Expr, *, latest_year: pl.Expr | int) -> pl.Expr:
    """The reading the file's order calls for: month-first in a month-first file, else day-first."""
    month_first = pick_reading(prefix, "month_first", latest_year=latest_year)
    day_first = pick_reading(prefix, "day_first", latest_year=latest_year)
    return pl.when(order == MONTH_FIRST).then(month_first).otherwise(day_first)


def day_month_swapped(date: pl.Expr) -> pl.Expr:
    """The same date with day and month exchanged, when both could be a month and they differ."""
    day, month = date.dt.day(), date.dt.month()
    can_swap = (day <= 12) & (day != month)
    return pl.when(can_swap).then(pl.date(date.dt.year(), pl.when(can_swap).then(day).otherwise(1), month))


def plausible_birth(date: pl.Expr, as_of: dt.date) -> pl.Expr:
    """The date when a living person could be born on it (not after as_of, age at most 120)."""
    return pl.when(date.is_between(dt.date(as_of.year - MAX_AGE_YEARS, 1, 1), as_of)).then(date)


def plausible_birth_year(year: pl.Expr, as_of: dt.date) -> pl.Expr:
    return pl.when(year.is_between(as_of.year - MAX_AGE_YEARS, as_of.year)).then(year)


def in_campaign_or_swapped(
    date: pl.Expr, swapped: pl.Expr, *, campaign_start: dt.date, as_of: dt.date
) -> pl.Expr:
    """An ambiguous vaccination date whose day-first reading falls outside the campaign while the
    month-first one falls inside is read month-first."""
    is_outside = ~date.is_between(campaign_start, as_of)
    return pl.when(is_outside & swapped.is_between(campaign_start, as_of)).then(swapped).otherwise(date)


def with_dates(
    frame: pl.LazyFrame,
    *,
    as_of: dt.date,
    campaign_start: dt.date,
    min_age_years: int,
    file_key: pl.Expr,
    lookup_source: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Add vaccinated_date, birth_date, birth_date_alt, birth_year from date_of_birth/vaccinated_on.

    Two-digit birth years take the latest century that leaves the person at least `min_age_years`
    old on the vaccination date; two-digit vaccination years are 20yy. birth_date follows the file's
    proven order (day-first when unproven); birth_date_alt is the day/month swap of any birth date
    that has one (day <= 12, day != month): the other reading of an ambiguous value, and a weaker
    candidate for a row typed with day and month exchanged. The readings come from `lookup_source`
    (default: the frame itself; pass the plain input to keep plans small)."""
    source = frame if lookup_source is None else lookup_source
    order = pl.col("_date_order")
    latest_birth_year = pl.col("vaccinated_date").dt.year().fill_null(as_of.year) - min_age_years
    shot_swapped = pick_reading("_shot", "swapped", latest_year=VACCINATION_LATEST_YEAR)
    frame = (
        frame.join(
            date_readings(source, "date_of_birth", "_birth"),
            on="date_of_birth",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .join(
            date_readings(source, "vaccinated_on", "_shot"),
            on="vaccinated_on",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .with_columns(file_date_order(("_birth", "_shot"), file_key).alias("_date_order"))
        .with_columns(
            in_campaign_or_swapped(
                ordered_reading("_shot", order, latest_year=VACCINATION_LATEST_YEAR),
                pl.when(order.is_null()).then(shot_swapped),
                campaign_start=campaign_start,
                as_of=as_of,
            ).alias("vaccinated_date")
        )
        .with_columns(
            plausible_birth(ordered_reading("_birth", order, latest_year=latest_birth_year), as_of).alias(
                "birth_date"
            ),
            pick_reading("_birth", "year", latest_year=latest_birth_year).alias("_birth_year_only"),
        )
        .with_columns(
            plausible_birth(day_month_swapped(pl.col("birth_date")), as_of).alias("birth_date_alt"),
            plausible_birth_year(
                pl.coalesce(pl.col("birth_date").dt.year().cast(pl.Int32), pl.col("_birth_year_only")), as_of
            ).alias("birth_year"),
        )
    )
    return frame.drop(cs.starts_with("_birth_", "_shot_"), "_date_order")
