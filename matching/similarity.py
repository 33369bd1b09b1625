"""String similarity over whole columns: rapidfuzz's cpdist on Arrow-backed arrays, no Python loop per pair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import distance, process

Scorer = Callable[..., Any]


def _pairwise(scorer: Scorer, left: str, right: str) -> pl.Expr:
    def score(columns: pl.Series) -> pl.Series:
        frame = columns.struct.unnest()
        lefts = frame[left].fill_null("").to_list()
        rights = frame[right].fill_null("").to_list()
        if not lefts:
            return pl.Series(values=[], dtype=pl.Float64)
        scores = process.cpdist(lefts, rights, scorer=scorer, workers=-1, dtype=np.float32)
        is_missing = (frame[left].is_null() | frame[right].is_null()).to_numpy()
        return pl.Series(np.where(is_missing, np.nan, scores.astype(np.float64))).fill_nan(None)

    return pl.struct(pl.col(left).alias(left), pl.col(right).alias(right)).map_batches(
        score, return_dtype=pl.Float64
    )


def jaro_winkler(left: str, right: str) -> pl.Expr:
    """Jaro-Winkler similarity in [0, 1] of two string columns; null when either side is null."""
    return _pairwise(distance.JaroWinkler.normalized_similarity, left, right)


def levenshtein_distance(left: str, right: str) -> pl.Expr:
    """Levenshtein edit distance of two string columns; null when either side is null."""
    return _pairwise(distance.Levenshtein.distance, left, right)
