"""ID rules: clean, classify, restore lost leading zeros, decode the CCCD, and check it against the row.

CCCD `PPP G YY RRRRRR`: PPP = "0" + the 2-digit GSO province code of the birth registration; G is the
century and sex (even = male; 0/1 = 1900s, 2/3 = 2000s, ...); YY the birth year's last two digits.

A 12-digit CMND (TT 27/2012) was issued with the same structure and carries over to the CCCD unchanged,
so a 12-digit number that decodes (valid province prefix, a century up to now, a birth year not in the
future) is a `cccd` whichever card it came from; one that does not decode is `cmnd12`. Excel drops
leading zeros: 11 digits get "0" back, 10 digits "00", when the restored prefix is a real province;
8 digits are a 9-digit CMND that lost its "0". Scientific notation (1.09901E+11) or a decimal with
digits after the point has lost digits for good: `unrecoverable`, never repaired into an ID. So has a
number of ten digits or more with at most six significant ones (790123000000): the scientific text a
spreadsheet showed ("7.90123E+11", six digits at most) read back as a number when the file was opened
again (LibreOffice and Excel do this to a CSV, and the workbook or CSV they save holds the zeros).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from transforms.normalize.text import blank_to_null
from vaxsync.core.contracts import raw_column

ID_KINDS = ("cccd", "cmnd9", "cmnd12", "passport", "bhyt", "other", "missing", "unrecoverable")
SCIENTIFIC = r"^'?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+$"  # after Excel's text marker too
DECIMAL = r"^[0-9]+[.,][0-9]+$"
DOT_GROUPED = r"^[0-9]{1,3}(?:\.[0-9]{3})+$"  # 001.084.344.545: dots as digit-group separators
WHOLE_DECIMAL = r"^([0-9]+)[.,]0+$"  # 79012345678.0: a number cell exported with its zero decimals
# A number read back from the scientific text a spreadsheet showed: no leading zero (it was a number),
# ten digits or more, at most six significant ones (Excel's General format shows six, "7.90123E+11"),
# maybe zero decimals. A real ID ends in the zeros this needs about once in 10^4 (10 digits) to 10^6 (12).
ROUNDED_NUMBER = (
    r"^[1-9](?:[0-9]{5}0{4,}|[0-9]{4}0{5,}|[0-9]{3}0{6,}|[0-9]{2}0{7,}|[0-9]0{8,}|0{9,})(?:[.,]0+)?$"
)
BHYT = r"^[A-Z]{2}[1-5][0-9]{12}$"
PASSPORT = r"^[A-Z]{1,2}[0-9]{6,8}$"  # Vietnamese: one letter + 7 digits; foreign ones vary a little


def clean_id_text(raw: pl.Expr) -> pl.Expr:
    """Upper case without spaces, dots, dashes, a trailing '.0' or a leading apostrophe (Excel's text
    marker, kept by some exports); null when blank or a placeholder."""
    text = blank_to_null(raw).str.to_uppercase().str.replace(r"^'", "")
    return text.str.replace(WHOLE_DECIMAL, "${1}").str.replace_all(r"[\s.\-_/]", "")


def is_unrecoverable_id(raw: pl.Expr) -> pl.Expr:
    """Scientific notation, a decimal with real fraction digits, or a number rounded to the digits a
    spreadsheet showed (ROUNDED_NUMBER): the ID's digits are lost."""
    text = raw.str.strip_chars()  # Unicode white space, the no-break space included
    is_lossy_decimal = (
        text.str.contains(DECIMAL) & ~text.str.contains(DOT_GROUPED) & ~text.str.contains(WHOLE_DECIMAL)
    )
    is_rounded = text.str.contains(ROUNDED_NUMBER)
    return (text.str.contains(SCIENTIFIC) | is_lossy_decimal | is_rounded).fill_null(False)


def restore_leading_zeros(cleaned: pl.Expr) -> pl.Expr:
    """Digits padded back to the ID length Excel cut them from (11/10 -> 12, 8 -> 9)."""
    is_digits = cleaned.str.contains(r"^[0-9]+$")
    length = cleaned.str.len_chars()
    return (
        pl.when(is_digits & length.is_in([10, 11]))
        .then(cleaned.str.zfill(12))
        .when(is_digits & (length == 8))
        .then(cleaned.str.zfill(9))
        .otherwise(cleaned)
    )


def cccd_decodes(digits12: pl.Expr, *, as_of_year: int, province_codes: Collection[str]) -> pl.Expr:
    """A 12-digit number whose province prefix, century digit and birth year make sense."""
    birth_year = decode_cccd_birth_year(digits12)
    return (
        digits12.str.contains(r"^0[0-9]{2}[0-3][0-9]{8}$")
        & digits12.str.slice(1, 2).is_in(list(province_codes))
        & (birth_year <= as_of_year)
    ).fill_null(False)


def id_kind(
    cleaned: pl.Expr,
    restored: pl.Expr,
    is_unrecoverable: pl.Expr,
    *,
    as_of_year: int,
    province_codes: Collection[str],
) -> pl.Expr:
    """cccd | cmnd9 | cmnd12 | passport | bhyt | other | missing | unrecoverable, from the cleaned
    text, its zero-restored form and the unrecoverable flag."""
    length = cleaned.str.len_chars()
    is_digits = cleaned.str.contains(r"^[0-9]+$")
    decodes = cccd_decodes(restored, as_of_year=as_of_year, province_codes=province_codes)
    return (
        pl.when(is_unrecoverable)
        .then(pl.lit("unrecoverable"))
        .when(cleaned.is_null() | cleaned.str.contains(r"^0*$"))
        .then(pl.lit("missing"))
        .when(is_digits & length.is_in([10, 11, 12]) & decodes)
        .then(pl.lit("cccd"))
        .when(is_digits & (length == 12))
        .then(pl.lit("cmnd12"))
        .when(is_digits & length.is_in([8, 9]))
        .then(pl.lit("cmnd9"))
        .when(cleaned.str.contains(BHYT))
        .then(pl.lit("bhyt"))
        .when(cleaned.str.contains(PASSPORT))
        .then(pl.lit("passport"))
        .otherwise(pl.lit("other"))
    )


def id_value(kind: pl.Expr, cleaned: pl.Expr, restored: pl.Expr) -> pl.Expr:
    """The cleaned ID, leading zeros restored for CCCD/CMND; null when missing or unrecoverable."""
    return (
        pl.when(kind.is_in(["cccd", "cmnd9"]))
        .then(restored)
        .when(kind.is_in(["missing", "unrecoverable"]))
        .then(None)
        .otherwise(cleaned)
    )


def _century_digit(digits12: pl.Expr) -> pl.Expr:
    return digits12.str.slice(3, 1).cast(pl.Int32, strict=False)


def decode_cccd_birth_year(digits12: pl.Expr) -> pl.Expr:
    """Century from G (0/1 -> 1900s, 2/3 -> 2000s, ...) plus YY."""
    yy = digits12.str.slice(4, 2).cast(pl.Int32, strict=False)
    return 1900 + (_century_digit(digits12) // 2) * 100 + yy


def cccd_province_code(value: pl.Expr, kind: pl.Expr) -> pl.Expr:
    return pl.when(kind == "cccd").then(value.str.slice(1, 2))


def cccd_sex(value: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """Even G = male."""
    is_even = _century_digit(value) % 2 == 0
    return pl.when(kind == "cccd").then(pl.when(is_even).then(pl.lit("M")).otherwise(pl.lit("F")))


def cccd_birth_year(value: pl.Expr, kind: pl.Expr) -> pl.Expr:
    return pl.when(kind == "cccd").then(decode_cccd_birth_year(value)).cast(pl.Int32)


def with_ids(frame: pl.LazyFrame, *, as_of_year: int, province_codes: Collection[str]) -> pl.LazyFrame:
    """Add id_kind, id_value and the decoded CCCD fields from the raw_id_number column (as sent)."""
    cleaned, restored = pl.col("_id_cleaned"), pl.col("_id_restored")
    kind, value = pl.col("id_kind"), pl.col("id_value")
    return (
        frame.with_columns(
            clean_id_text(pl.col(raw_column("id_number"))).alias("_id_cleaned"),
            is_unrecoverable_id(pl.col(raw_column("id_number"))).alias("_id_unrecoverable"),
        )
        .with_columns(restore_leading_zeros(cleaned).alias("_id_restored"))
        .with_columns(
            id_kind(
                cleaned,
                restored,
                pl.col("_id_unrecoverable"),
                as_of_year=as_of_year,
                province_codes=province_codes,
            ).alias("id_kind")
        )
        .with_columns(id_value(kind, cleaned, restored).alias("id_value"))
        .with_columns(
            cccd_province_code(value, kind).alias("cccd_province_code"),
            cccd_sex(value, kind).alias("cccd_sex"),
            cccd_birth_year(value, kind).alias("cccd_birth_year"),
        )
        .drop("_id_cleaned", "_id_restored", "_id_unrecoverable")
    )


def id_sex_contradicts_row() -> pl.Expr:
    """The CCCD's sex digit disagrees with the row's sex (false when either is unknown)."""
    return (pl.col("cccd_sex") != pl.col("sex_code")).fill_null(False)


def id_birth_year_gap() -> pl.Expr:
    """Years between the CCCD's birth year and the row's (null when either is unknown)."""
    return (pl.col("cccd_birth_year") - pl.col("birth_year")).abs()


def id_contradicts_row(max_year_gap: int = 1) -> pl.Expr:
    """The row's CCCD cannot be this person's: its sex differs, or its birth year is more than
    `max_year_gap` away (a parent's ID on a child's record, a spouse's ID). Reads normalized columns."""
    return id_sex_contradicts_row() | (id_birth_year_gap() > max_year_gap).fill_null(False)
