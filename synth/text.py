"""Polars expression helpers for building and spoiling text."""

from __future__ import annotations

import re

import polars as pl

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def template_expr(pattern: str) -> pl.Expr:
    """'Trạm Y tế {ward_name}' -> concat of literals and columns (placeholders name columns)."""
    parts: list[pl.Expr] = []
    position = 0
    for match in PLACEHOLDER.finditer(pattern):
        if match.start() > position:
            parts.append(pl.lit(pattern[position : match.start()]))
        parts.append(pl.col(match.group(1)).cast(pl.String))
        position = match.end()
    if position < len(pattern):
        parts.append(pl.lit(pattern[position:]))
    return pl.concat_str(parts) if parts else pl.lit("")


def fold_diacritics(text: pl.Expr) -> pl.Expr:
    """Nguyễn Đức -> Nguyen Duc (combining marks dropped, đ/Đ to d/D)."""
    return (
        text.str.normalize("NFD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all("đ", "d")
        .str.replace_all("Đ", "D")
    )


_TONE_CYCLE = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


def misspell(text: pl.Expr) -> pl.Expr:
    """A slip in a place name: a tone changed (Hàng -> Háng), else an 'a' toned, else a letter doubled."""
    decomposed = text.str.normalize("NFD")
    spoiled = (
        pl.when(text.str.contains("a", literal=True))
        .then(text.str.replace("a", "á", literal=True))
        .otherwise(text + text.str.slice(-1))
    )
    followers = (*_TONE_CYCLE[1:], _TONE_CYCLE[0])
    for tone, following in reversed(list(zip(_TONE_CYCLE, followers, strict=True))):
        changed = decomposed.str.replace(tone, following, literal=True).str.normalize("NFC")
        spoiled = pl.when(decomposed.str.contains(tone, literal=True)).then(changed).otherwise(spoiled)
    return spoiled
