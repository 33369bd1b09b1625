"""Phone rules: strip the country code, restore the leading 0, convert the 2018 11-digit mobile
prefixes (data/reference/phone_prefix_2018.csv, the full table), validate.

From 15 Sep 2018 the 11-digit mobile numbers moved to 10 digits: the 4-digit prefix became a 3-digit
one and the last 7 digits stayed. Landlines (area codes 02x, 11 digits) are left as they are.
A number with another country code (+1, +33, +82...) is `invalid` for this register.
"""

from __future__ import annotations

import polars as pl

from transforms.normalize.text import blank_to_null
from vaxsync.core.contracts import raw_column

MOBILE = r"^0(?:3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-46-9])[0-9]{7}$"
LANDLINE = r"^02[0-9]{9}$"
PHONE_KINDS = ("mobile", "landline", "invalid", "missing")


def phone_digits(raw: pl.Expr) -> pl.Expr:
    """Digits, with a leading '+' kept; null when blank or a placeholder."""
    return blank_to_null(raw).str.replace_all(r"[^0-9+]", "").str.replace(r"(.)\+", "${1}")


def national_number(digits: pl.Expr) -> pl.Expr:
    """The number as dialled inside Vietnam: +84/0084/84 stripped, the lost leading 0 put back."""
    length = digits.str.len_chars()
    return (
        pl.when(digits.str.contains(r"^(?:\+|00)84"))
        .then("0" + digits.str.replace(r"^(?:\+|00)84", ""))
        .when(digits.str.contains(r"^(?:\+|00)"))
        .then(None)  # another country
        .when(digits.str.starts_with("84") & length.is_in([11, 12]))
        .then("0" + digits.str.slice(2))
        .when(~digits.str.starts_with("0") & length.is_in([9, 10]))
        .then("0" + digits)
        .otherwise(digits)
    )


def convert_old_mobile(number: pl.Expr, prefixes: pl.DataFrame) -> pl.Expr:
    """0162 xxx xxxx -> 032 xxx xxxx, for every old prefix in the table."""
    new_prefix = number.str.slice(0, 4).replace_strict(
        prefixes["old_prefix"].to_list(),
        prefixes["new_prefix"].to_list(),
        default=None,
        return_dtype=pl.String,
    )
    is_old = (number.str.len_chars() == 11) & new_prefix.is_not_null()
    return pl.when(is_old).then(new_prefix + number.str.slice(4)).otherwise(number)


def phone_kind(digits: pl.Expr, number: pl.Expr) -> pl.Expr:
    """From the raw digits and the normalised number: mobile | landline | invalid | missing."""
    return (
        pl.when(digits.is_null() | (digits == ""))
        .then(pl.lit("missing"))
        .when(number.str.contains(MOBILE))
        .then(pl.lit("mobile"))
        .when(number.str.contains(LANDLINE))
        .then(pl.lit("landline"))
        .otherwise(pl.lit("invalid"))
    )


def phone_number(number: pl.Expr) -> pl.Expr:
    """The normalised number of a mobile (10 digits) or a landline (11 digits); null otherwise."""
    return pl.when(number.str.contains(MOBILE) | number.str.contains(LANDLINE)).then(number)


# A number already written in its normalised form (a 10-digit mobile, an 11-digit landline): the rules
# above return it unchanged (no old mobile prefix starts with 02, and none is 10 digits long), so they run
# on the other numbers only. Every phone of the registry and most of a night's are written so.
NORMALISED_PHONE = f"(?:{MOBILE})|(?:{LANDLINE})"
MOBILE_LENGTH = 10


def with_phones(
    frame: pl.LazyFrame, prefixes: pl.DataFrame, source: str = raw_column("phone")
) -> pl.LazyFrame:
    """Add phone_number and phone_kind from the phone as written in `source` (a shot's raw_phone as sent)."""
    raw, is_normalised = pl.col(source), pl.col("_phone_is_normalised")
    digits, number = pl.col("_phone_digits"), pl.col("_phone_number")
    normalised_kind = (
        pl.when(raw.str.len_chars() == MOBILE_LENGTH).then(pl.lit("mobile")).otherwise(pl.lit("landline"))
    )
    return (
        frame.with_columns(raw.str.contains(NORMALISED_PHONE).fill_null(False).alias("_phone_is_normalised"))
        .with_columns(phone_digits(pl.when(~is_normalised).then(raw)).alias("_phone_digits"))
        .with_columns(national_number(digits).alias("_phone_number"))
        .with_columns(convert_old_mobile(number, prefixes).alias("_phone_number"))
        .with_columns(
            pl.when(is_normalised).then(raw).otherwise(phone_number(number)).alias("phone_number"),
            pl.when(is_normalised)
            .then(normalised_kind)
            .otherwise(phone_kind(digits, number))
            .alias("phone_kind"),
        )
        .drop("_phone_is_normalised", "_phone_digits", "_phone_number")
    )
