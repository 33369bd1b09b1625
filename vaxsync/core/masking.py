"""Personal data shown to people: the one home of every masking rule and of formula neutralisation.

- Citizen IDs keep their last 4 characters and phones their last 3, the rest becomes `*` (the length is
  kept, so a 9-digit CMND still looks different from a 12-digit CCCD): report cells.
- Free text (an error message, a quarantine detail) keeps only the last 3 digits of each run of 7 or
  more digits (an ID or a phone typed inside it): the run report.
- A reject detail never shows a long number at all (9 or more digits, spaces or dots between allowed):
  it replaces it with a marker (normalize's reject details, stored in the backlog).
- A row key (a hash, a source row, a shot id) in a log or an error message shows only its two ends.
- Text beginning with a character a spreadsheet reads as a formula gets a leading single quote (OWASP
  "CSV injection").
"""

from __future__ import annotations

import re

import polars as pl

ID_VISIBLE_CHARACTERS = 4
PHONE_VISIBLE_CHARACTERS = 3
MASK_CHARACTER = "*"
# An ID or a phone inside free text.
DIGIT_RUN = re.compile(r"\d{7,}")
# Nine or more digits (spaces or dots between allowed) could be an ID or a phone typed in the wrong
# column; reject details never show them. Dates have at most eight digits.
LONG_NUMBER = r"[0-9](?:[ .]?[0-9]){8,}"
LONG_NUMBER_MARKER = "[number hidden]"
# A key no longer than this is shown whole (a source row, a short code); a longer one by its two ends.
KEY_SHOWN_WHOLE_UP_TO = 8
KEY_END_CHARACTERS = 6
# = + - @ start a formula in Excel, LibreOffice and Google Sheets; tab and CR can hide one.
FORMULA_TRIGGERS = "=+-@\t\r"
FORMULA_GUARD = "'"
# xlsxwriter writes a text shaped "<r>...</r>" as raw rich-text XML: a facility's cell "<r>&</r>" would
# make the whole workbook unreadable, and other such cells would inject markup. Guarded like a formula.
RICH_TEXT_START, RICH_TEXT_END = "<r>", "</r>"
_STARTS_A_FORMULA = (
    "^(["
    + "".join(f"\\x{ord(trigger):02x}" for trigger in FORMULA_TRIGGERS)
    + f"]|(?s:{RICH_TEXT_START}.*{RICH_TEXT_END})$)"
)


def masked_tail(value: pl.Expr, *, visible: int) -> pl.Expr:
    """All but the last `visible` characters (spaces dropped) as `*`; a value no longer than that is all
    `*`, and a blank value is null."""
    compact = value.str.replace_all(r"\s+", "")
    length = compact.str.len_chars()
    return (
        pl.when(length > visible)
        .then(compact.str.slice(-visible).str.pad_start(length, MASK_CHARACTER))
        .when(length > 0)
        .then(compact.str.replace_all(".", MASK_CHARACTER))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def masked_citizen_id(value: pl.Expr) -> pl.Expr:
    return masked_tail(value, visible=ID_VISIBLE_CHARACTERS)


def masked_phone(value: pl.Expr) -> pl.Expr:
    return masked_tail(value, visible=PHONE_VISIBLE_CHARACTERS)


def masked_text(value: str, *, visible: int) -> str | None:
    """One value outside a frame, masked by `masked_tail`."""
    masked: str | None = pl.select(masked_tail(pl.lit(value, dtype=pl.String), visible=visible)).item()
    return masked


def masked_digit_runs(text: str | None) -> str | None:
    """Free text with every run of 7 or more digits (an ID, a phone) cut to its last 3 digits."""
    if text is None:
        return None
    return DIGIT_RUN.sub(
        lambda found: masked_text(found.group(), visible=PHONE_VISIBLE_CHARACTERS) or "", text
    )


def without_long_numbers(text: pl.Expr) -> pl.Expr:
    """The text with every long number (LONG_NUMBER) replaced by LONG_NUMBER_MARKER."""
    return text.str.replace_all(LONG_NUMBER, LONG_NUMBER_MARKER)


def masked_key(value: object) -> str:
    """Show enough of a key to find it, never a whole long value (an ID, a hash, a name)."""
    text = str(value)
    if isinstance(value, int | float) or len(text) <= KEY_SHOWN_WHOLE_UP_TO:
        return text
    shown = min(len(text) // 4, KEY_END_CHARACTERS)
    return f"{text[:shown]}…{text[-shown:]}"


def formula_neutralised(value: pl.Expr) -> pl.Expr:
    """The text, with a leading quote when it would otherwise start a formula (or be read as rich text)."""
    return value.str.replace(_STARTS_A_FORMULA, f"{FORMULA_GUARD}$1").name.keep()


def with_text_neutralised(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Every String column of the frame, formula-neutralised."""
    return frame.with_columns(formula_neutralised(pl.col(pl.String)))


def neutralised_text(value: str) -> str:
    """One piece of text (a title, a sheet cell written outside a frame), formula-neutralised."""
    starts_formula = value[:1] != "" and value[0] in FORMULA_TRIGGERS
    rich_text = value.startswith(RICH_TEXT_START) and value.endswith(RICH_TEXT_END)
    return FORMULA_GUARD + value if starts_formula or rich_text else value
