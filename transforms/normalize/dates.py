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

from vaxsync.core.contracts import raw_column

# Texts are matched lower-cased and NFC: "T" of ISO datetimes is "t", "CH" is "ch".
# AM/PM words: English, and Vietnamese (SA/CH as LibreOffice vi-VN writes them, sáng/trưa/chiều/
# tối/đêm). Only the date is kept, so a clock time is recognised, not interpreted.
AM_PM_WORDS = r"(?:am|pm|a\.m\.|p\.m\.|sa|ch|sáng|trưa|chiều|tối|đêm)"
CLOCK = (
    r"[0-9]{1,2}(?:[:hg][0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?|[hg]|\s*giờ(?:\s*[0-9]{1,2}\s*(?:phút)?)?)"
    rf"(?:\s*{AM_PM_WORDS})?(?:z|[+-][0-9]{{2}}:?[0-9]{{2}})?"
)
TIME_SUFFIX = rf"(?:(?:[ t]|\s*,\s*|\s+lúc\s+)\s*{CLOCK})?"  # 26/10/21 02:26 chiều, 2021-10-26T14:26:00
TIME_PREFIX = rf"(?:{CLOCK}\s*,?\s+(?:ngày\s*)?)?"  # 14:26 26/10/2021, 9h05 sáng ngày 26/10/2021
DAY_WORD = r"(?:ngày\s*)?"  # ngày 26/10/2021
DAY_MONTH_YEAR = (
    rf"^{TIME_PREFIX}{DAY_WORD}([0-9]{{1,2}})[/.\-]([0-9]{{1,2}})[/.\-]([0-9]{{4}}|[0-9]{{2}}){TIME_SUFFIX}$"
)
YEAR_MONTH_DAY = rf"^{TIME_PREFIX}([0-9]{{4}})[/.\-]([0-9]{{1,2}})[/.\-]([0-9]{{1,2}}){TIME_SUFFIX}$"
# "ngày 26 tháng 10 năm 2021", "26 tháng 10, 2021": rewritten as 26/10/2021 before matching.
VIETNAMESE_LONG_DATE = (
    r"^(?:ngày\s*)?([0-9]{1,2})\s*tháng\s*([0-9]{1,2})\s*(?:năm\s*|,\s*)([0-9]{4}|[0-9]{2})"
)
# A month by name ("18 Jul 1997", "08-Mar-2021", "Jul 18, 1997", "29 Tháng Bảy 2021", "5 thg 7 2021"):
# unambiguous, so rewritten as ISO y-m-d, which no file order turns around. Day first, a two-digit year
# ("08-Mar-21", "08-Thg3-21") may also be read year first (2008-03-21): rewritten "named:d/m/yy" and read
# only when the year-first reading cannot be meant (`two_digit_named_month_read`).
VI_MONTH_WORDS = {
    "một": 1, "giêng": 1, "hai": 2, "ba": 3, "tư": 4, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7,
    "tám": 8, "chín": 9, "mười": 10, "mười một": 11, "mười hai": 12, "chạp": 12,
}  # fmt: skip
EN_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
EN_MONTH_WORD = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
VI_MONTH_WORD = (
    r"(?:tháng|thg)\.?\s*(?:mười\s+một|mười\s+hai|[0-9]{1,2}|"
    + "|".join(sorted(VI_MONTH_WORDS, key=len, reverse=True))
    + ")"
)
NAMED_MONTH_DAY_FIRST = rf"^(?:ngày\s*)?([0-9]{{1,2}})[\s\-/.,]*({EN_MONTH_WORD}|{VI_MONTH_WORD})\.?[\s\-/.,]*(?:năm\s*)?([0-9]{{4}}|[0-9]{{2}})((?:[^0-9].*)?)$"
NAMED_SHORT_YEAR = "named:"  # the prefix of a rewritten month by name with a two-digit year
NAMED_SHORT_YEAR_DATE = rf"^{NAMED_SHORT_YEAR}([0-9]{{1,2}})/([0-9]{{1,2}})/([0-9]{{2}}){TIME_SUFFIX}$"
NAMED_MONTH_MONTH_FIRST = (
    rf"^({EN_MONTH_WORD})\.?[\s\-/.]*([0-9]{{1,2}})(?:st|nd|rd|th)?,?\s*([0-9]{{4}})(.*)$"
)
YEAR_ONLY = r"^(?:[0-9]{1,2}[/.\-])?((?:18|19|20|21)[0-9]{2})$"  # 1977, or 05/1977 (the month is dropped)
EXCEL_SERIAL = r"^([0-9]{1,5})(?:[.,][0-9]+)?$"
EXCEL_EPOCH = dt.date(1899, 12, 30)
MAX_AGE_YEARS = 120
VACCINATION_LATEST_YEAR = 2099  # a two-digit vaccination year is 20yy: the campaign started in 2021
MONTH_FIRST, DAY_FIRST = "month_first", "day_first"
UNAMBIGUOUS_ORDER = (
    "unambiguous"  # vaccination_date_order of a text naming its order (2021-07-03, 03-Jul-2021)
)
FILE_ORDER_MAJORITY = 4  # proofs of one order must outnumber the other's this many times
CENTURIES = (1900, 2000)
# Repairs of dates damaged by a spreadsheet's locale (`date_repair`): "<verdict>:<field>" joined by ";".
LOCALE_SWAP_REPAIRED = (
    "day_month_swapped_by_locale"  # the evidence is conclusive: day and month exchanged back
)
LOCALE_SWAP_DOUBTFUL = "day_month_maybe_swapped"  # some evidence, not conclusive: both readings kept / held
# A shape of vaccination date (dmy_shape) reads its own way only on this many proofs: one value the other
# way is a row typed in that order (a slip), not a second system's export (synth medium, session 9's shapes
# without padding: 1 -> 17 wrong dates left, 2 -> 19, 3 -> 33). Fewer proofs in a file proving both orders:
# held (shape_unproven_in_mixed_file).
MIN_SHAPE_PROOFS = 2
MIN_DATE_CELLS_FOR_DAY_EVIDENCE = 5  # a day <= 12 in 5 cells of real dates happens about once in 100 files
DATE_FIELD_PREFIXES = (("date_of_birth", "_birth"), ("vaccinated_on", "_shot"))


NAMED_PARTS = ("named_day", "named_month", "named_yy")


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


def date_text(raw: pl.Expr) -> pl.Expr:
    """A raw date text as the layouts are matched: trimmed, NFC, lowercase, a long date rewritten (a date
    with its month by name: named_month_as_iso, a step of its own in with_date_parts)."""
    return (
        raw.str.strip_chars()
        .str.normalize("NFC")
        .str.to_lowercase()
        .str.replace(VIETNAMESE_LONG_DATE, "$1/$2/$3")
    )


def month_number(word: pl.Expr) -> pl.Expr:
    """The month a name gives ("jul", "july", "tháng bảy", "thg 7", "tháng mười một"), as text."""
    bare = word.str.replace(r"^(?:tháng|thg)\.?\s*", "").str.replace_all(r"\s+", " ")
    names = VI_MONTH_WORDS | {str(n): n for n in range(1, 13)} | {f"0{n}": n for n in range(1, 10)}
    # An English month by its first three letters (each month's are its own): one lookup, where twelve
    # starts_with branches cost most of rewriting the dates by name (run on every distinct date text).
    english = bare.str.slice(0, 3).replace_strict(
        {prefix: number for number, prefix in enumerate(EN_MONTHS, 1)}, default=None, return_dtype=pl.Int32
    )
    return pl.coalesce(bare.replace_strict(names, default=None, return_dtype=pl.Int32), english).cast(
        pl.String
    )


def named_month_as_iso(text: pl.Expr) -> pl.Expr:
    """A date with its month by name, rewritten "yyyy-m-d<rest>" (a two-digit year day first:
    "named:d/m/yy<rest>"); any other text as it was."""
    day_first = text.str.extract_groups(NAMED_MONTH_DAY_FIRST)
    month_first = text.str.extract_groups(NAMED_MONTH_MONTH_FIRST)

    def iso(year: pl.Expr, month_word: pl.Expr, day: pl.Expr, rest: pl.Expr) -> pl.Expr:
        return pl.concat_str([year, pl.lit("-"), month_number(month_word), pl.lit("-"), day, rest])

    day, month_word, year, rest = (day_first.struct.field(str(index)) for index in (1, 2, 3, 4))
    short_year = pl.concat_str(
        [pl.lit(NAMED_SHORT_YEAR), day, pl.lit("/"), month_number(month_word), pl.lit("/"), year, rest]
    )
    return pl.coalesce(
        pl.when(year.str.len_chars() == 2).then(short_year).otherwise(iso(year, month_word, day, rest)),
        iso(*(month_first.struct.field(str(index)) for index in (3, 1, 2, 4))),
        text,
    )


def with_date_parts(frame: pl.LazyFrame, raw: pl.Expr) -> pl.LazyFrame:
    """Add the parts of a raw date text: d/m/y parts p1, p2, year_digits; the ISO date; the Excel
    serial date; a bare year; the day, month and two-digit year of a month by name (NAMED_PARTS). One
    step per column: an expression reading the text or a regex's groups
    several times would run the regex again for each (the ISO date's parts were read six times)."""
    text = pl.col("_date_text")
    dmy, ymd, named = pl.col("_dmy"), pl.col("_ymd"), pl.col("_named")

    def field(groups: pl.Expr, index: int) -> pl.Expr:
        return groups.struct.field(str(index)).cast(pl.Int32, strict=False)

    return (
        frame.with_columns(date_text(raw).alias("_date_text"))
        # a step of its own: inside one expression polars would clean the text again for each of its reads
        .with_columns(named_month_as_iso(text).alias("_date_text"))
        .with_columns(
            text.str.extract_groups(DAY_MONTH_YEAR).alias("_dmy"),
            text.str.extract_groups(YEAR_MONTH_DAY).alias("_ymd"),
            text.str.extract_groups(NAMED_SHORT_YEAR_DATE).alias("_named"),
        )
        .with_columns(
            field(dmy, 1).alias("p1"),
            field(dmy, 2).alias("p2"),
            dmy.struct.field("3").alias("year_digits"),
            *[field(ymd, index).alias(f"_ymd_{index}") for index in (1, 2, 3)],
            *[field(named, index).alias(name) for index, name in enumerate(NAMED_PARTS, 1)],
            excel_serial_date(text).alias("serial_date"),
            text.str.extract(YEAR_ONLY, 1).cast(pl.Int32, strict=False).alias("year_only"),
        )
        .with_columns(safe_date(pl.col("_ymd_1"), pl.col("_ymd_2"), pl.col("_ymd_3")).alias("iso_date"))
        .drop("_date_text", "_dmy", "_ymd", "_named", "_ymd_1", "_ymd_2", "_ymd_3")
    )


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


def dmy_readings(
    p1: pl.Expr, p2: pl.Expr, day_first: pl.Expr, month_first: pl.Expr, other: pl.Expr
) -> list[pl.Expr]:
    """(day-first-preferred, month-first-preferred, swapped) readings of a d/m/y value, from its
    day-first and month-first dates (safe_date(year, p2, p1) and safe_date(year, p1, p2)).

    Each order falls back to the other when only that one is a real date; `other` (the ISO or serial
    date) is used when the value is not d/m/y. `swapped` is the month-first reading of an ambiguous
    value (both parts 1-12 and different)."""
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
    every reading: for each century, day-first, month-first, swapped, and the year without a day. A
    month by name with a two-digit year also has `<prefix>_named_year_first`, its reading year first
    (20dd-m-yy: null when no date), and `<prefix>_named_short_year`."""
    p1, p2, year_digits = pl.col("p1"), pl.col("p2"), pl.col("year_digits")
    named_day, named_month, named_yy = (pl.col(name) for name in NAMED_PARTS)
    # Each century's year, then its two dates, in columns of their own: the readings read each date
    # three times, and polars evaluates an expression again for each read.
    years = [year_in_century(year_digits, century).alias(f"_year_{century}") for century in CENTURIES]
    orders = []
    readings = []
    for century in CENTURIES:
        year = pl.col(f"_year_{century}")
        day_first, month_first = pl.col(f"_day_first_{century}"), pl.col(f"_month_first_{century}")
        orders += [
            safe_date(year, p2, p1).alias(f"_day_first_{century}"),
            safe_date(year, p1, p2).alias(f"_month_first_{century}"),
        ]
        named = safe_date(century + named_yy, named_month, named_day)
        names = reading_columns(prefix, century)
        dmy = dmy_readings(p1, p2, day_first, month_first, pl.coalesce("iso_date", "serial_date", named))
        readings += [reading.alias(name) for reading, name in zip(dmy, names[:3], strict=True)]
        readings.append(year_without_day(p1, p2, year, pl.col("year_only")).alias(names[3]))
    two_digit_year = pl.when(year_digits.str.len_chars() == 2).then(year_digits.cast(pl.Int32, strict=False))
    temporary = [
        f"_{part}_{century}" for century in CENTURIES for part in ("year", "day_first", "month_first")
    ]
    return (
        with_date_parts(frame.select(column).unique(), pl.col(column))
        .with_columns(years)
        .with_columns(orders)
        .with_columns(
            *readings,
            day_first_proof(p1, p2).alias(f"{prefix}_proves_day_first"),
            month_first_proof(p1, p2).alias(f"{prefix}_proves_month_first"),
            pl.coalesce(two_digit_year, named_yy).alias(f"{prefix}_yy"),
            safe_date(2000 + named_day, named_month, named_yy).alias(f"{prefix}_named_year_first"),
            named_yy.is_not_null().alias(f"{prefix}_named_short_year"),
            p1.is_not_null().alias(f"{prefix}_is_dmy"),
            dmy_shape(pl.col(column)).alias(f"{prefix}_shape"),
            # year first (ISO, or a month by name rewritten so) or a month by name: day and month cannot swap
            (p1.is_null() & (pl.col("iso_date").is_not_null() | named_day.is_not_null())).alias(
                f"{prefix}_names_its_order"
            ),
        )
        .drop("p1", "p2", "year_digits", "iso_date", "serial_date", "year_only", *NAMED_PARTS, *temporary)
    )


def dmy_shape(raw: pl.Expr) -> pl.Expr:
    """The way a d/m/y text is written: its separator, its year's width, whether a time follows, and
    whether its day and month are written with one digit or padded with a zero ('/4', '/2 time',
    '-4 padded', '/4 one digit'; neither when both are 10-12 and could be either). Null for other texts.

    A system writes its dates one way: a US export's '09/07/2021' and another system's '9/7/2021' in
    the same file are two systems (synth medium: 16 of the 19 dates read the wrong way were padded
    otherwise than the month-first majority of their file, beside it in one shape without padding)."""
    parts = raw.str.extract_groups(r"^\s*(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*[/.\-]\s*(\d{2,4})")
    first, second = parts.struct.field("1"), parts.struct.field("3")
    year_width = parts.struct.field("4").str.len_chars().cast(pl.String)
    time = pl.when(raw.str.contains(r"\d:\d")).then(pl.lit(" time")).otherwise(pl.lit(""))
    padding = (
        pl.when((first.str.len_chars() == 1) | (second.str.len_chars() == 1))
        .then(pl.lit(" one digit"))
        .when(first.str.starts_with("0") | second.str.starts_with("0"))
        .then(pl.lit(" padded"))
        .otherwise(pl.lit(""))
    )
    return parts.struct.field("2") + year_width + time + padding


def shape_order(shape_proofs: tuple[pl.Expr, pl.Expr]) -> pl.Expr:
    """The order a file's vaccination dates of one shape (dmy_shape) prove, with not one of them proving
    the other; else null. A file joined from two systems' exports ('05/18/2021 16:10' from one, '24/09/2021'
    from the other) proves both orders as a whole, and its majority would read the minority's ambiguous
    values ('07/09/2021') the wrong way; each shape proves its own. shape_proofs: the row's
    (day-first, month-first) shape_proofs."""
    order = one_sided_order(*shape_proofs, at_least=MIN_SHAPE_PROOFS)
    return pl.when(pl.col("_shot_shape").is_not_null()).then(order)


def shape_proofs(file_key: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """How many of a file's vaccination dates of the row's shape (dmy_shape) prove day-first, and how
    many month-first."""
    within = [file_key, pl.col("_shot_shape")]
    day_first = pl.col("_shot_proves_day_first").fill_null(False).sum().over(within)
    month_first = pl.col("_shot_proves_month_first").fill_null(False).sum().over(within)
    return day_first, month_first


def shape_unproven_in_mixed_file(
    shape_proofs: tuple[pl.Expr, pl.Expr], file_proofs: tuple[pl.Expr, pl.Expr]
) -> pl.Expr:
    """A d/m/y vaccination date whose shape (dmy_shape) has fewer than MIN_SHAPE_PROOFS proofs either
    way, in a file whose date values prove both orders: the file was joined from exports written in
    both orders, and nothing says which one this way of writing came from. (A shape proving both ways
    is one system's writing with a slip, read in the file's order: synth medium, 22 of 24 right.)
    The proofs: the row's shape_proofs and file_order_proofs."""
    shape_day_first, shape_month_first = shape_proofs
    file_day_first, file_month_first = file_proofs
    return (
        pl.col("_shot_shape").is_not_null()
        & (shape_day_first + shape_month_first < MIN_SHAPE_PROOFS)
        & (file_day_first > 0)
        & (file_month_first > 0)
    )


def two_digit_named_month_read(
    prefix: str, date: pl.Expr, *, window: tuple[dt.date, dt.date] | None = None
) -> pl.Expr:
    """`date`, unless the text is a month by name with a two-digit year that could be meant year first
    ("21-Mar-22": 2022-03-21 or 2021-03-22): then null, never a guess. With a `window` (a vaccination
    date: the campaign), the day-first reading must fall inside it and the year-first one outside; without
    (a birth date), the year-first reading must be no date at all ("15-Jun-85")."""
    year_first = pl.col(f"{prefix}_named_year_first")
    if window is None:
        is_read = year_first.is_null()
    else:
        inside = date.is_between(*window).fill_null(False)
        is_read = inside & ~year_first.is_between(*window).fill_null(False)
    return pl.when(pl.col(f"{prefix}_named_short_year") & ~is_read).then(None).otherwise(date)


# with_dates' working columns of the proof counts (day-first, month-first): the file's, and its shape's
FILE_PROOFS = ("_file_proves_day_first", "_file_proves_month_first")
SHAPE_PROOFS = ("_shot_shape_proves_day_first", "_shot_shape_proves_month_first")


def file_order_proofs(prefixes: tuple[str, ...], file_key: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """How many of a file's date values prove day-first, and how many month-first."""
    day_first = pl.sum_horizontal(f"{p}_proves_day_first" for p in prefixes).sum().over(file_key)
    month_first = pl.sum_horizontal(f"{p}_proves_month_first" for p in prefixes).sum().over(file_key)
    return day_first, month_first


def file_date_order(file_proofs: tuple[pl.Expr, pl.Expr]) -> pl.Expr:
    """'month_first' or 'day_first' when a file's date values prove one order by a clear majority;
    null when the file proves neither, or both about equally (a mixed file).

    A majority, not unanimity: in a month-first file a row typed with day and month exchanged is a
    lone day-first proof, and must not flip the whole file back to day-first. file_proofs: the
    row's file_order_proofs."""
    day_first, month_first = file_proofs
    return (
        pl.when(month_first > FILE_ORDER_MAJORITY * day_first)
        .then(pl.lit(MONTH_FIRST))
        .when(day_first > FILE_ORDER_MAJORITY * month_first)
        .then(pl.lit(DAY_FIRST))
    )


def proven_file_order(file_proofs: tuple[pl.Expr, pl.Expr]) -> pl.Expr:
    """The order a file's date values prove with not one value proving the other; else null. Stricter
    than file_date_order: a lone value the other way may be a row typed in that order."""
    return one_sided_order(*file_proofs, at_least=1)


def one_sided_order(day_first: pl.Expr, month_first: pl.Expr, *, at_least: int) -> pl.Expr:
    """The order proved by at least `at_least` values with not one proving the other; else null."""
    return (
        pl.when((month_first >= at_least) & (day_first == 0))
        .then(pl.lit(MONTH_FIRST))
        .when((day_first >= at_least) & (month_first == 0))
        .then(pl.lit(DAY_FIRST))
    )


def vaccination_date_order(proven_order: pl.Expr, shot_cell_kind: pl.Expr) -> pl.Expr:
    """`vaccination_date_order`: the file's proven order, for a vaccination date read from d/m/y text in
    that order; `unambiguous` for a text that names its order (year first, or a month by name); else null
    (a date cell, a value damaged by a locale, an unproven d/m/y). Read by the event rule
    vaccination_date_order_doubtful: a row whose date cannot be read the other way is not held."""
    is_text_read = read_from_text(shot_cell_kind)
    return (
        pl.when((is_text_read & pl.col("_shot_names_its_order")).fill_null(False))
        .then(pl.lit(UNAMBIGUOUS_ORDER))
        .when((is_text_read & pl.col("_shot_is_dmy")).fill_null(False))
        .then(proven_order)
    )


def read_from_text(shot_cell_kind: pl.Expr) -> pl.Expr:
    """The vaccination date was read from text: not a date cell, no locale verdict."""
    return (
        shot_cell_kind.is_null()
        & pl.col("_shot_swap_verdict").is_null()
        & pl.col("vaccinated_date").is_not_null()
    )


def order_unproven(shot_cell_kind: pl.Expr, *, campaign_start: dt.date, as_of: dt.date) -> pl.Expr:
    """The marker ORDER_UNPROVEN_MARKER: an ambiguous vaccination date read from text whose way of
    writing proves no order in a file that proves both (shape_unproven_in_mixed_file), with both of its
    readings inside the campaign (when one falls outside, in_campaign_or_swapped settled it)."""
    date = pl.col("vaccinated_date")
    return (
        read_from_text(shot_cell_kind)
        & pl.col("_shot_shape_unproven")
        & date.is_between(campaign_start, as_of)
        & day_month_swapped(date).is_between(campaign_start, as_of)
    ).fill_null(False)


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


def date_cell_kind(cell_kinds: pl.Expr, field: str) -> pl.Expr:
    """The kind of `field`'s cell in the staged `cell_kinds` marker: date | date_month_first |
    date_day_first | date_year_first | date_mixed for a workbook date cell (the order of its number
    format; date and date_mixed: unknown); null for text (and for text files)."""
    return cell_kinds.str.extract(rf"(?:^|;){field}=(date[a-z_]*)", 1)


def _is_swappable_cell(kind: pl.Expr) -> pl.Expr:
    """A workbook date cell. A cell shown year-first (yyyy-mm-dd) was typed as ISO: a swap never makes one."""
    return kind.is_not_null() & (kind != "date_year_first")


def _cell_date(prefix: str, kind: pl.Expr) -> pl.Expr:
    return pl.when(_is_swappable_cell(kind)).then(pl.col(f"{prefix}_day_first_2000"))


def locale_swap_evidence(prefix: str, kind: pl.Expr) -> dict[str, pl.Expr]:
    """What a file shows in one date column, by name: aggregations over the file's rows, for
    locale_swap_verdict."""
    cell_date, is_text = _cell_date(prefix, kind), ~_is_swappable_cell(kind)
    return {
        "text_day_first": (is_text & pl.col(f"{prefix}_proves_day_first").fill_null(False)).sum(),
        "text_month_first": (is_text & pl.col(f"{prefix}_proves_month_first").fill_null(False)).sum(),
        "cells": cell_date.is_not_null().sum(),
        "cells_past_12": (cell_date.dt.day() > 12).fill_null(False).sum(),
        "shown_month_first": (kind == "date_month_first").fill_null(False).any(),
        "shown_day_first": (kind == "date_day_first").fill_null(False).any(),
        # "date_mixed": the workbook shows dates month-first and in another order (mm/dd/yy and
        # yyyy-mm-dd) and which cell uses which is not known: any cell may be swapped, or typed ISO.
        "formats_unsure": (kind == "date_mixed").fill_null(False).any(),
    }


def locale_swap_verdict(
    prefix: str, kind: pl.Expr, evidence: dict[str, pl.Expr]
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(cell date, its day/month swap, verdict) for one date field; verdict is LOCALE_SWAP_REPAIRED,
    LOCALE_SWAP_DOUBTFUL or null, per row, from what the row's file shows in that column.

    A spreadsheet whose locale reads month-first (LibreOffice en-US) turns d/m/y text whose day is
    12 or less into date cells with day and month exchanged, and leaves the other values as text. So,
    per file and column, the evidence that its date cells are swapped is: text values that can only
    be day-first beside date cells (no text proving month-first, no day-first number format); plus
    date cells that never show a day over 12, with either month-first number formats or at least
    MIN_DATE_CELLS_FOR_DAY_EVIDENCE cells. With all of it the swap is repaired. With only part of it
    (day-first text beside date cells that do show days over 12, whatever their format; or date cells
    whose day never passes 12 but no text: a file whose every date had a day <= 12 leaves no other
    trace) the cells are doubtful: both readings are kept. Cells that a swap
    cannot change (day over 12, or day = month) keep their date.
    `prefix` names the date_readings columns of the field; `evidence`: locale_swap_evidence's columns
    for the field."""
    cell_date = _cell_date(prefix, kind)
    swapped = day_month_swapped(cell_date)
    text_day_first, text_month_first = evidence["text_day_first"], evidence["text_month_first"]
    cells, cells_past_12 = evidence["cells"], evidence["cells_past_12"]
    shown_month_first, shown_day_first = evidence["shown_month_first"], evidence["shown_day_first"]
    formats_unsure = evidence["formats_unsure"]
    days_never_past_12 = cells_past_12 == 0
    could_be_swapped = ~shown_day_first & (text_month_first == 0)
    # A month-first reading of d/m text makes cells whose day is the sent month (<= 12): a cell with
    # a day over 12 was typed or imported as a real date (LibreOffice's D/M/Y column type shows it
    # mm/dd/yy), so with one the month-first format proves nothing.
    conclusive = (
        could_be_swapped
        & ~formats_unsure
        & (text_day_first > 0)
        & days_never_past_12
        & (shown_month_first | (cells >= MIN_DATE_CELLS_FOR_DAY_EVIDENCE))
    )
    doubtful = could_be_swapped & ~conclusive & ((text_day_first > 0) | days_never_past_12 | formats_unsure)
    verdict = (
        pl.when(swapped.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(conclusive)
        .then(pl.lit(LOCALE_SWAP_REPAIRED))
        .when(doubtful)
        .then(pl.lit(LOCALE_SWAP_DOUBTFUL))
    )
    return cell_date, swapped, verdict


def with_locale_swap_verdicts(frame: pl.LazyFrame, file_key: pl.Expr) -> pl.LazyFrame:
    """Add `_<prefix>_cell_swapped` and `_<prefix>_swap_verdict` per date field (frame holds the
    date_readings columns and, from workbooks, `cell_kinds`)."""
    has_kinds = "cell_kinds" in frame.collect_schema().names()
    cell_kinds = pl.col("cell_kinds") if has_kinds else pl.lit(None, dtype=pl.String)
    # Each field's cell kind in a column, and the files' evidence in one group-by joined back: the
    # verdict reads them many times, and polars evaluates an expression (a window, a regex) again for
    # each read (with_dates on the medium night, one thread: 0.67 -> 0.58 CPU s).
    kind_columns = [
        date_cell_kind(cell_kinds, field).alias(f"{prefix}_cell_kind")
        for field, prefix in DATE_FIELD_PREFIXES
    ]
    frame = frame.with_columns(*kind_columns, file_key.alias("_evidence_file"))
    evidence_columns, verdict_columns, temporary = [], [], ["_evidence_file"]
    for _, prefix in DATE_FIELD_PREFIXES:
        kind = pl.col(f"{prefix}_cell_kind")
        evidence = locale_swap_evidence(prefix, kind)
        names = {name: f"{prefix}_evidence_{name}" for name in evidence}
        evidence_columns += [expression.alias(names[name]) for name, expression in evidence.items()]
        _, swapped, verdict = locale_swap_verdict(
            prefix, kind, {name: pl.col(column) for name, column in names.items()}
        )
        verdict_columns += [swapped.alias(f"{prefix}_cell_swapped"), verdict.alias(f"{prefix}_swap_verdict")]
        temporary += [f"{prefix}_cell_kind", *names.values()]
    by_file = frame.group_by("_evidence_file").agg(evidence_columns)
    return (
        frame.join(by_file, on="_evidence_file", how="left", nulls_equal=True, maintain_order="left")
        .with_columns(verdict_columns)
        .drop(temporary)
    )


def date_repair_marker() -> pl.Expr:
    """`date_repair`: "<verdict>:<field>" for each date field with a verdict, joined by ";"."""
    parts = [
        pl.concat_str(pl.col(f"{prefix}_swap_verdict"), pl.lit(f":{field}"))
        for field, prefix in DATE_FIELD_PREFIXES
    ]
    joined = pl.concat_str(parts, separator=";", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def count_locale_swap_repairs(staged: pl.LazyFrame, file_key: pl.Expr) -> int:
    """How many date cells of the staged rows the locale-swap evidence repairs (for the ledger)."""
    return int(
        _with_repaired_cells(staged, file_key).select(pl.col(REPAIRED_CELLS).sum()).collect().item() or 0
    )


def count_locale_swap_repairs_by_file(staged: pl.LazyFrame, file_key: str) -> dict[object, int]:
    """count_locale_swap_repairs of each file of the staged rows (`file_key` tells them apart), in one
    query: its plan costs ~50 ms whatever the rows."""
    counts = (
        _with_repaired_cells(staged, pl.col(file_key)).group_by(file_key).agg(pl.col(REPAIRED_CELLS).sum())
    )
    return {key: int(count or 0) for key, count in counts.collect().iter_rows()}


REPAIRED_CELLS = "_locale_swap_repaired_cells"


def _with_repaired_cells(staged: pl.LazyFrame, file_key: pl.Expr) -> pl.LazyFrame:
    """The staged rows with REPAIRED_CELLS: how many of the row's date cells the evidence repairs."""
    frame = staged
    for field, prefix in DATE_FIELD_PREFIXES:
        frame = frame.join(
            date_readings(staged, raw_column(field), prefix),
            on=raw_column(field),
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
    verdicts = with_locale_swap_verdicts(frame, file_key)
    repaired = pl.sum_horizontal(
        (pl.col(f"{prefix}_swap_verdict") == LOCALE_SWAP_REPAIRED).fill_null(False)
        for _, prefix in DATE_FIELD_PREFIXES
    )
    return verdicts.with_columns(repaired.alias(REPAIRED_CELLS))


def with_dates(
    frame: pl.LazyFrame,
    *,
    as_of: dt.date,
    campaign_start: dt.date,
    min_age_years: int,
    file_key: pl.Expr,
    lookup_source: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Add vaccinated_date, birth_date, birth_date_alt, birth_year from raw_date_of_birth/raw_vaccinated_on.

    Two-digit birth years take the latest century that leaves the person at least `min_age_years`
    old on the vaccination date; two-digit vaccination years are 20yy. birth_date follows the file's
    proven order (day-first when unproven); birth_date_alt is the day/month swap of any birth date
    that has one (day <= 12, day != month): the other reading of an ambiguous value, and a weaker
    candidate for a row typed with day and month exchanged. The readings come from `lookup_source`
    (default: the frame itself; pass the plain input to keep plans small). vaccination_date_order: see
    `vaccination_date_order`."""
    source = frame if lookup_source is None else lookup_source
    # The file's windows below (about twenty) group by a small integer instead of hashing the file's key
    # text (a 64-character hash) for each: ~0.1 CPU s of a 200k-row night.
    frame = frame.with_columns(file_key.rank("dense").alias("_file_number"))
    file_key = pl.col("_file_number")
    file_proofs = (pl.col(FILE_PROOFS[0]), pl.col(FILE_PROOFS[1]))
    shape_proof_counts = (pl.col(SHAPE_PROOFS[0]), pl.col(SHAPE_PROOFS[1]))
    has_kinds = "cell_kinds" in frame.collect_schema().names()
    cell_kinds = pl.col("cell_kinds") if has_kinds else pl.lit(None, dtype=pl.String)
    order = pl.col("_date_order")
    latest_birth_year = pl.col("vaccinated_date").dt.year().fill_null(as_of.year) - min_age_years
    shot_swapped = pick_reading("_shot", "swapped", latest_year=VACCINATION_LATEST_YEAR)
    frame = (
        frame.join(
            date_readings(source, raw_column("date_of_birth"), "_birth"),
            on=raw_column("date_of_birth"),
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .join(
            date_readings(source, raw_column("vaccinated_on"), "_shot"),
            on=raw_column("vaccinated_on"),
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        # each window once, in a column: the order rules read each proof count several times, and
        # polars evaluates a window again for each read
        .with_columns(
            *[
                proofs.alias(name)
                for proofs, name in zip(
                    file_order_proofs(("_birth", "_shot"), file_key), FILE_PROOFS, strict=True
                )
            ],
            *[proofs.alias(name) for proofs, name in zip(shape_proofs(file_key), SHAPE_PROOFS, strict=True)],
        )
        .with_columns(
            file_date_order(file_proofs).alias("_date_order"),
            proven_file_order(file_proofs).alias("_proven_date_order"),
            shape_order(shape_proof_counts).alias("_shot_shape_order"),
            shape_unproven_in_mixed_file(shape_proof_counts, file_proofs).alias("_shot_shape_unproven"),
        )
    )
    shot_order = pl.coalesce(pl.col("_shot_shape_order"), order)
    shot_read = ordered_reading("_shot", shot_order, latest_year=VACCINATION_LATEST_YEAR)
    # The other reading, when nothing proves the order this value is written in: the file proves none,
    # or its way of writing proves none in a file written both ways (the file's order is no evidence).
    other_reading = (
        pl.when(shot_order.is_null())
        .then(shot_swapped)
        .when(pl.col("_shot_shape_unproven"))
        .then(day_month_swapped(shot_read))
    )
    frame = with_locale_swap_verdicts(frame, file_key).with_columns(
        in_campaign_or_swapped(
            two_digit_named_month_read("_shot", shot_read, window=(campaign_start, as_of)),
            other_reading,
            campaign_start=campaign_start,
            as_of=as_of,
        ).alias("_shot_as_read")
    )
    frame = (
        frame.with_columns(
            *repaired_vaccination_date(pl.col("_shot_as_read"), campaign_start=campaign_start, as_of=as_of)
        )
        .with_columns(
            plausible_birth(
                pl.when(pl.col("_birth_swap_verdict") == LOCALE_SWAP_REPAIRED)
                .then(pl.col("_birth_cell_swapped"))
                .otherwise(
                    two_digit_named_month_read(
                        "_birth", ordered_reading("_birth", order, latest_year=latest_birth_year)
                    )
                ),
                as_of,
            ).alias("birth_date"),
            pick_reading("_birth", "year", latest_year=latest_birth_year).alias("_birth_year_only"),
        )
        .with_columns(
            plausible_birth(day_month_swapped(pl.col("birth_date")), as_of).alias("birth_date_alt"),
            plausible_birth_year(
                pl.coalesce(pl.col("birth_date").dt.year().cast(pl.Int32), pl.col("_birth_year_only")), as_of
            ).alias("birth_year"),
            date_repair_marker().alias("date_repair"),
            vaccination_date_order(
                pl.coalesce(pl.col("_shot_shape_order"), pl.col("_proven_date_order")),
                date_cell_kind(cell_kinds, "vaccinated_on"),
            ).alias("vaccination_date_order"),
            order_unproven(
                date_cell_kind(cell_kinds, "vaccinated_on"), campaign_start=campaign_start, as_of=as_of
            ).alias(ORDER_UNPROVEN_MARKER),
        )
    )
    return frame.drop(
        cs.starts_with("_birth_", "_shot_"), "_date_order", "_proven_date_order", "_file_number", *FILE_PROOFS
    )


def repaired_vaccination_date(as_read: pl.Expr, *, campaign_start: dt.date, as_of: dt.date) -> list[pl.Expr]:
    """`vaccinated_date` after the locale-swap verdict, and the verdict left standing.

    Repaired cells take their swap. A doubtful cell whose one reading falls in the campaign and the
    other not takes the one inside (as for ambiguous text), and is no longer doubtful; otherwise it
    keeps its reading as read and stays doubtful (the row is held: never a possibly swapped date
    posted silently)."""
    verdict, swapped = pl.col("_shot_swap_verdict"), pl.col("_shot_cell_swapped")
    read_inside = as_read.is_between(campaign_start, as_of).fill_null(False)
    swapped_inside = swapped.is_between(campaign_start, as_of).fill_null(False)
    settled_by_campaign = (verdict == LOCALE_SWAP_DOUBTFUL) & (read_inside != swapped_inside)
    date = (
        pl.when(verdict == LOCALE_SWAP_REPAIRED)
        .then(swapped)
        .when(settled_by_campaign & swapped_inside)
        .then(swapped)
        .otherwise(as_read)
    )
    return [
        date.alias("vaccinated_date"),
        pl.when(settled_by_campaign.fill_null(False))
        .then(None)
        .otherwise(verdict)
        .alias("_shot_swap_verdict"),
    ]


MAYBE_SWAPPED_VACCINATION = f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on"
# with_dates' boolean column for held_when_date_doubtful (dropped with the other working columns when
# the normalized schema is selected): the vaccination date's order is unproven (order_unproven).
ORDER_UNPROVEN_MARKER = "_vaccination_date_order_unproven"


def held_when_date_doubtful() -> list[pl.Expr]:
    """reject_reason / reject_detail of a row otherwise matchable whose vaccination date may be read with
    day and month exchanged, both readings in the detail:
    - vaccination_date_maybe_swapped: a doubtful date cell (`date_repair`);
    - vaccination_date_order_unproven: ambiguous text whose way of writing proves no order in a file whose
      dates prove both (ORDER_UNPROVEN_MARKER, from with_dates).
    Runs after the reject rules, so an earlier reason (a missing name, an unknown vaccine) stays."""
    date, raw = pl.col("vaccinated_date"), pl.col(raw_column("vaccinated_on")).str.strip_chars()
    unheld = pl.col("reject_reason").is_null()
    is_cell_held = unheld & pl.col("date_repair").str.contains(
        MAYBE_SWAPPED_VACCINATION, literal=True
    ).fill_null(False)
    is_order_held = unheld & ~is_cell_held & pl.col(ORDER_UNPROVEN_MARKER)
    cell_detail = pl.format(
        "{} (a date cell read as {}; day and month may be swapped: {})", raw, date, day_month_swapped(date)
    )
    order_detail = pl.format(
        "{} (read as {} or {}: this way of writing proves neither order, in a file whose dates are written"
        " both day-first and month-first)",
        raw,
        date,
        day_month_swapped(date),
    )
    return [
        pl.when(is_cell_held)
        .then(pl.lit("vaccination_date_maybe_swapped"))
        .when(is_order_held)
        .then(pl.lit("vaccination_date_order_unproven"))
        .otherwise("reject_reason")
        .alias("reject_reason"),
        pl.when(is_cell_held)
        .then(cell_detail)
        .when(is_order_held)
        .then(order_detail)
        .otherwise("reject_detail")
        .alias("reject_detail"),
    ]
