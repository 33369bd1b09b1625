"""From evidence to probability: the prior of each explanation of a row, and the share of rows in the registry.

A row left unmatched by the ID pass is explained by one of:
- candidate i is its person: prior share / N each (share of such rows whose person is in the registry, N
  the registry size), likelihood ratio 2^evidence_i;
- an unregistered member of candidate j's household (a twin, a child never registered): prior
  (1 - share) * household_size / N each, likelihood ratio 2^(evidence_j - person_j);
- someone outside the candidates: a person absent from the registry, prior (1 - share), or a registered
  person the blocking missed, prior share * blocking_miss_rate; likelihood ratio 1.

So p_i = λ 2^e_i / (z + λ Σ_j 2^e_j + λ_H Σ_j 2^(e_j - v_j)), with z the outside prior. The registry
size enters through λ: the same evidence is worth less in a bigger registry, which keeps the thresholds
valid as it grows. The share is estimated from the rows themselves by EM (the mean posterior probability
that a row's person is among its candidates), within the model's bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from matching.model import Prior

EM_ITERATIONS = 50
EM_TOLERANCE = 1e-5


@dataclass(frozen=True)
class PriorOdds:
    log2_match: float  # log2 λ: this citizen is the row's person
    log2_household: float  # log2 λ_H: an unregistered member of this citizen's household
    log2_outside: float  # log2 z: nobody among the candidates

    @classmethod
    def of(cls, share: float, prior: Prior, registry_size: int) -> PriorOdds:
        size = max(registry_size, 1)
        outside = (1 - share) + share * prior.blocking_miss_rate
        return cls(
            log2_match=math.log2(share / size),
            log2_household=math.log2(max((1 - share) * prior.household_size / size, 1e-300)),
            log2_outside=math.log2(outside),
        )


def _log2_sum(*terms: pl.Expr) -> pl.Expr:
    """log2(Σ 2^t), stable for large |t|."""
    top = pl.max_horizontal(*terms)
    return top + pl.sum_horizontal([(2.0 ** (term - top)) for term in terms]).log(2)


def log2_denominator(odds: PriorOdds) -> pl.Expr:
    return _log2_sum(
        pl.lit(odds.log2_outside),
        odds.log2_match + pl.col("log2_match_mass"),
        odds.log2_household + pl.col("log2_household_mass"),
    )


def in_registry_probability(masses: pl.DataFrame, odds: PriorOdds) -> pl.Series:
    """Per shot: the probability that its person is one of its candidates."""
    return masses.select(
        2.0 ** (odds.log2_match + pl.col("log2_match_mass") - log2_denominator(odds))
    ).to_series()


def estimate_share(
    masses: pl.DataFrame, count_without_candidates: int, prior: Prior, registry_size: int
) -> float:
    """EM on the share of rows whose person is in the registry; rows with no candidate count as outside."""
    share = prior.share_in_registry
    # One chunk: a float sum adds chunk by chunk, so the share (and every probability after it) would
    # move in the last bits with the layout that partitions, scoring groups or DuckDB handed over.
    masses = masses.rechunk()
    total = masses.height + count_without_candidates
    if total == 0:
        return share
    for _ in range(EM_ITERATIONS):
        updated = (
            float(in_registry_probability(masses, PriorOdds.of(share, prior, registry_size)).sum()) / total
        )
        updated = min(prior.max_share_in_registry, max(prior.min_share_in_registry, updated))
        if abs(updated - share) < EM_TOLERANCE:
            return updated
        share = updated
    return share


def with_probabilities(candidates: pl.DataFrame, odds: PriorOdds) -> pl.DataFrame:
    """match_probability of each candidate, and match_weight: log2 odds of it against the outside alone."""
    return candidates.with_columns(
        match_probability=2.0 ** (odds.log2_match + pl.col("evidence_weight") - log2_denominator(odds)),
        match_weight=pl.col("evidence_weight") + (odds.log2_match - odds.log2_outside),
    )
