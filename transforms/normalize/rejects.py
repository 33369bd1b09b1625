"""Reject rule: the first reason, in priority order, that makes a row unmatchable; null otherwise.

malformed_row (the reader flagged the row) > required_value_missing > vaccine_unknown >
vaccination_date_invalid > vaccination_date_out_of_range > birth_date_invalid. The detail says what
was wrong: the missing fields, the raw vaccine text, the offending date text. Never an ID or phone.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from vaxsync.core.masking import without_long_numbers
from vaxsync.core.reasons import BACKLOG_REASONS, REJECT_PRIORITY


def is_blank(raw: pl.Expr) -> pl.Expr:
    return raw.is_null() | (raw.str.strip_chars() == "")


def missing_fields(missing: dict[str, pl.Expr]) -> pl.Expr:
    """'full_name, vaccine' for the fields whose flag is true; null when none is."""
    parts = [pl.when(flag).then(pl.lit(field)) for field, flag in missing.items()]
    joined = pl.concat_str(parts, separator=", ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def row_issue_reason(row_issue: pl.Expr) -> pl.Expr:
    """The reader's code when it is a backlog reason, else malformed_row."""
    return pl.when(row_issue.is_in(list(BACKLOG_REASONS))).then(row_issue).otherwise(pl.lit("malformed_row"))


def reject_reason_and_detail(
    *,
    row_issue: pl.Expr,
    missing: dict[str, pl.Expr],
    vaccine_code: pl.Expr,
    vaccine_detail: pl.Expr,
    vaccinated_raw: pl.Expr,
    vaccinated_date: pl.Expr,
    birth_raw: pl.Expr,
    birth_year: pl.Expr,
    campaign_start: dt.date,
    as_of: dt.date,
) -> list[pl.Expr]:
    missing_text = missing_fields(missing)
    vaccinated_text = vaccinated_raw.str.strip_chars()
    out_of_range = ~vaccinated_date.is_between(campaign_start, as_of)
    range_text = f"campaign {campaign_start} to {as_of}"
    # One rule per code of REJECT_PRIORITY (the reason catalogue ranks them): (applies, detail).
    rules: dict[str, tuple[pl.Expr, pl.Expr]] = {
        "malformed_row": (row_issue.is_not_null(), row_issue),
        "required_value_missing": (missing_text.is_not_null(), pl.format("missing: {}", missing_text)),
        "vaccine_unknown": (vaccine_code.is_null(), vaccine_detail),
        "vaccination_date_invalid": (vaccinated_date.is_null(), vaccinated_text),
        "vaccination_date_out_of_range": (
            out_of_range,
            pl.format("{} (read as {}; {})", vaccinated_text, vaccinated_date, pl.lit(range_text)),
        ),
        "birth_date_invalid": (birth_year.is_null(), birth_raw.str.strip_chars()),
    }
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    detail: pl.Expr = pl.lit(None, dtype=pl.String)
    for code in reversed(REJECT_PRIORITY):
        applies, code_detail = rules[code]
        code_expr = row_issue_reason(row_issue) if code == "malformed_row" else pl.lit(code)
        reason = pl.when(applies.fill_null(False)).then(code_expr).otherwise(reason)
        detail = pl.when(applies.fill_null(False)).then(code_detail).otherwise(detail)
    return [reason.alias("reject_reason"), without_long_numbers(detail).alias("reject_detail")]
