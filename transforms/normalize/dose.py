"""Dose rule: the facility's dose text -> dose_number_reported (1-9), null when unreadable (not a reject).

"1", "Mũi 1", "mui 2", "M2", "Liều 2", "Dose 2", "2nd", "Mũi 3 (nhắc lại)" -> the number written;
"Mũi thứ nhất", "Lần thứ hai" -> the ordinal word's number.
A booster counted on its own ("Nhắc lại 1", "Booster 2", "Mũi nhắc lại lần 1") comes after the
two-dose primary series: booster k -> dose 2 + k. "Bổ sung" (the additional dose after a primary
series) and a bare "nhắc lại"/"booster" -> dose 3.
"""

from __future__ import annotations

import polars as pl

from transforms.normalize.text import fold_key

BOOSTER = r"(?:nhac lai|nhac|booster|tang cuong)"
NUMBERED = r"^(?:mui|m|lieu|dose|d|lan|mui thu|mui so|so)? ?([1-9])(?:st|nd|rd|th)?\b"
ORDINAL = r"^(?:mui|lieu|lan)? ?thu (nhat|hai|ba|tu)\b"
ORDINAL_NUMBERS = {"nhat": 1, "hai": 2, "ba": 3, "tu": 4}
BOOSTER_NUMBERED = rf"{BOOSTER}(?: lan| thu| so)? ?([1-9])\b"


def dose_number(raw: pl.Expr) -> pl.Expr:
    key = fold_key(raw)
    written = key.str.extract(NUMBERED, 1).cast(pl.Int8, strict=False)
    ordinal = key.str.extract(ORDINAL, 1).replace_strict(ORDINAL_NUMBERS, default=None, return_dtype=pl.Int8)
    booster = key.str.extract(BOOSTER_NUMBERED, 1).cast(pl.Int8, strict=False)
    is_extra_dose = key.str.contains(rf"{BOOSTER}|bo sung")
    return (
        pl.when(written.is_not_null())
        .then(written)
        .when(ordinal.is_not_null())
        .then(ordinal)
        .when(booster.is_not_null())
        .then(booster + 2)
        .when(is_extra_dose)
        .then(pl.lit(3, dtype=pl.Int8))
        .cast(pl.Int8)
    )
