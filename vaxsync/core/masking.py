"""Personal data in report cells: masked identifiers and text that a spreadsheet will not run.

Citizen IDs keep their last 4 characters and phones their last 3, the rest becomes `*` (the length is
kept, so a 9-digit CMND still looks different from a 12-digit CCCD). Text beginning with a character a
spreadsheet reads as a formula gets a leading single quote (OWASP "CSV injection").
"""

from __future__ import annotations

import polars as pl

ID_VISIBLE_CHARACTERS = 4
PHONE_VISIBLE_CHARACTERS = 3
# = + - @ start a formula in Excel, LibreOffice and Google Sheets; tab and CR can hide one.
FORMULA_TRIGGERS = "=+-@\t\r"
FORMULA_GUARD = "'"


def masked_tail(value: pl.Expr, *, visible: int) -> pl.Expr:
    """All but the last `visible` characters (spaces dropped) as `*`; a value no longer than that is all
    `*`, and a blank value is null."""
    compact = value.str.replace_all(r"\s+", "")
    length = compact.str.len_chars()
    return (
        pl.when(length > visible)
        .then(compact.str.slice(-visible).str.pad_start(length, "*"))
        .when(length > 0)
        .then(compact.str.replace_all(".", "*"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def masked_citizen_id(value: pl.Expr) -> pl.Expr:
    return masked_tail(value, visible=ID_VISIBLE_CHARACTERS)


def masked_phone(value: pl.Expr) -> pl.Expr:
    return masked_tail(value, visible=PHONE_VISIBLE_CHARACTERS)


def formula_neutralised(value: pl.Expr) -> pl.Expr:
    """The text, with a leading quote when it would otherwise start a formula."""
    return value.str.replace(r"^([=+\-@\t\r])", f"{FORMULA_GUARD}$1").name.keep()


def with_text_neutralised(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Every String column of the frame, formula-neutralised."""
    return frame.with_columns(formula_neutralised(pl.col(pl.String)))


def neutralised_text(value: str) -> str:
    """One piece of text (a title, a sheet cell written outside a frame), formula-neutralised."""
    return FORMULA_GUARD + value if value[:1] and value[0] in FORMULA_TRIGGERS else value
