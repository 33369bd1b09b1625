"""Expression helpers shared by the renderers: catalogue lookups, and dates written in a file's style."""

from __future__ import annotations

import polars as pl

from synth.defects import UNICODE_FORMATS
from synth.spoil import Spoiler

UNICODE_SAFE = pl.col("file_format").is_in([*UNICODE_FORMATS, "csv_utf8_double_encoded"])
MOJIBAKE_SAFE = pl.col("file_format").is_in(list(UNICODE_FORMATS))
EXCEL_SERIAL_OFFSET = 25569  # days from 1899-12-30 (Excel's day 0) to 1970-01-01
NON_ASCII = r"[^\x00-\x7F]"

# 2018 prefix change, new -> old (domain sheet §3).
MIXED_STYLES = ("dmy_slash", "iso", "dmy_dash", "dmy_slash_short")


def pick(options: tuple[str, ...] | list[str], index: pl.Expr) -> pl.Expr:
    """options[index] for an integer column (a small catalogue)."""
    return index.replace_strict(dict(enumerate(options)), return_dtype=pl.String)


def lookup(key: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    return key.replace_strict(mapping, default=None, return_dtype=pl.String)


def filled(pattern: str, values: dict[str, pl.Expr]) -> pl.Expr:
    """'Mũi {n}' with each {key} taken from an expression."""
    parts: list[pl.Expr] = []
    rest = pattern
    while "{" in rest:
        before, _, after = rest.partition("{")
        key, _, rest = after.partition("}")
        parts += [pl.lit(before), values[key]]
    parts.append(pl.lit(rest))
    return pl.concat_str(parts)


def age_at_vaccination() -> pl.Expr:
    return (pl.col("vaccinated_days") - pl.col("birth_days")) // 365


def parts_text(
    day: pl.Expr, month: pl.Expr, year: pl.Expr, style: pl.Expr, us: pl.Expr, time: pl.Expr
) -> pl.Expr:
    """A date written from its parts in a date style (month first when `us`); no validity check."""
    d2, m2 = day.cast(pl.String).str.zfill(2), month.cast(pl.String).str.zfill(2)
    d1, m1 = day.cast(pl.String), month.cast(pl.String)
    y4, y2 = year.cast(pl.String), (year % 100).cast(pl.String).str.zfill(2)
    first, second = {}, {}
    for width, (d, m) in {"2": (d2, m2), "1": (d1, m1)}.items():
        first[width] = pl.when(us).then(m).otherwise(d)
        second[width] = pl.when(us).then(d).otherwise(m)
    iso = pl.concat_str([y4, m2, d2], separator="-")
    return (
        pl.when(style == "dmy_slash_short")
        .then(pl.concat_str([first["1"], second["1"], y4], separator="/"))
        .when(style == "dmy_dash")
        .then(pl.concat_str([first["2"], second["2"], y4], separator="-"))
        .when(style == "iso")
        .then(iso)
        .when(style == "dmy_2y")
        .then(pl.concat_str([first["1"], second["1"], y2], separator="/"))
        .when(style == "iso_time")
        .then(iso + " " + time)
        .when(style == "dmy_time")
        .then(pl.concat_str([first["2"], second["2"], y4], separator="/") + " " + time.str.slice(0, 5))
        .otherwise(pl.concat_str([first["2"], second["2"], y4], separator="/"))
    )


def date_text(value: pl.Expr, is_year_only: pl.Expr, style: pl.Expr, us: pl.Expr, time: pl.Expr) -> pl.Expr:
    serial = (value.cast(pl.Int32) + EXCEL_SERIAL_OFFSET).cast(pl.String)
    text = parts_text(value.dt.day(), value.dt.month(), value.dt.year(), style, us, time)
    year = value.dt.year().cast(pl.String)
    return pl.when(is_year_only).then(year).when(style.str.starts_with("excel")).then(serial).otherwise(text)


def swapped_date(value: pl.Expr) -> pl.Expr:
    """Day and month exchanged when the day is 1-12 (the date itself otherwise)."""
    day, month = value.dt.day(), value.dt.month()
    swappable = day <= 12
    return pl.date(
        value.dt.year(),
        pl.when(swappable).then(day).otherwise(month),
        pl.when(swappable).then(month).otherwise(day),
    )


def can_swap(value: pl.Expr) -> pl.Expr:
    return (value.dt.day() <= 12) & (value.dt.day() != value.dt.month())


def impossible_date_text(sp: Spoiler, year: pl.Expr, style: pl.Expr, us: pl.Expr) -> pl.Expr:
    """31/02, 30/02, 31/04, 31/06, 31/09, 31/11 or 00/00 in the file's style (text even in XLSX)."""
    pick = sp.draw_int(7)
    month = pick.replace_strict(dict(enumerate((2, 2, 4, 6, 9, 11, 0))), return_dtype=pl.Int32)
    day = pl.when(pick == 1).then(30).when(pick == 6).then(0).otherwise(31)
    text_style = pl.when(style.str.starts_with("excel")).then(pl.lit("dmy_slash")).otherwise(style)
    return parts_text(day, month, year, text_style, us, pl.lit("08:00:00"))
