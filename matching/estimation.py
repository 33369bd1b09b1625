"""Fitting the model's parameters from the run's own data.

- u: level frequencies over random (shot, citizen) pairs; exact-value levels are further adjusted at
  scoring time by the registry's frequency of the value itself (term frequencies).
- m: level frequencies over the run's labelled pairs: ID-labelled (the shot's CCCD or old CMND equals
  the citizen's), plus any links reviewers accepted. Each comparison is estimated only on labelled pairs whose *other* identity fields agree
  (name, birth date, sex), so the selection never depends on the field being estimated and a relative's
  ID typed on a row does not pollute the estimate. The file's m values act as a Dirichlet prior.
- u_household: level frequencies over pairs of registry citizens sharing a phone (a household), for the
  person comparisons; this is what a relative's row looks like against the candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from matching.comparisons import NO_LEVEL
from matching.model import Comparison, MatchModel

if TYPE_CHECKING:
    from matching.engine import LinkageDatabase

# The identity comparisons whose agreement selects labelled pairs (at their agreement levels).
ANCHOR_LEVELS: dict[str, tuple[str, ...]] = {
    "given_name": ("exact_marked", "exact_plain"),
    "family_name": ("exact_marked", "exact_plain"),
    "birth_date": ("exact",),
    "sex": ("agree",),
}
HOUSEHOLD_PAIR_LIMIT = 200_000
LABELLED_PAIR_LIMIT = 100_000  # enough for every level's m; an even sample keeps the fit fast
MIN_HOUSEHOLD_PAIRS = 1_000  # fewer registry households than this: keep the file's u_household
MIN_COUNT_FOR_U = 5


def term_frequencies(registry: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
    """One `tf_<column>` per term-frequency column named in the model: the value's share of the registry."""
    columns = sorted({column for c in model.comparisons for column in c.term_frequency.values()})
    return (
        registry.lazy()
        .select(
            pl.when(pl.col(column).is_not_null())
            .then(pl.len().over(column) / pl.col(column).count())
            .cast(pl.Float32)
            .alias(f"tf_{column}")
            for column in columns
        )
        .collect()
    )


def level_counts(levels: pl.DataFrame, comparison: Comparison) -> np.ndarray:
    """Counts of each level (missing excluded), in the model's level order."""
    column = levels[f"level_{comparison.name}"]
    result = np.zeros(len(comparison.levels))
    for level, count in column.filter(column != NO_LEVEL).value_counts().iter_rows():
        result[int(level)] = count
    return result


def anchor_filter(model: MatchModel, excluded: str) -> pl.Expr:
    """Pairs whose identity fields other than `excluded` all agree (or are not recorded on either side,
    like sex in a source without it), with at least two of them agreeing: near-certain matches."""
    names = {c.name for c in model.comparisons}
    condition, count_agreeing = pl.lit(True), pl.lit(0)
    for name, labels in ANCHOR_LEVELS.items():
        if name == excluded or name not in names:
            continue
        comparison = model.comparison(name)
        indexes = [comparison.labels.index(label) for label in labels if label in comparison.labels]
        agrees = pl.col(f"level_{name}").is_in(indexes)
        condition &= agrees | (pl.col(f"level_{name}") == NO_LEVEL)
        count_agreeing += agrees.cast(pl.Int32)
    return condition & (count_agreeing >= 2)


def _dirichlet(counts: np.ndarray, prior: np.ndarray, pseudo_count: float) -> np.ndarray:
    """Posterior mean of level probabilities: counts plus the prior spread over pseudo_count pairs."""
    return (counts + pseudo_count * prior / prior.sum()) / (counts.sum() + pseudo_count)


def estimate_m(
    model: MatchModel, labelled: pl.DataFrame, history: dict[str, list[float]] | None = None
) -> dict[str, int]:
    """m of every level from the ID-labelled pairs' levels (each comparison on pairs anchored by the others),
    added to the level counts of earlier nights (`history`, see accumulated_m_counts): a row's outcome then
    rests on months of confirmed pairs, not on which other files landed tonight. Tonight's counts alone are
    kept in fitted["m_level_counts"], which the warehouse stores with the run's model."""
    used: dict[str, int] = {}
    tonight: dict[str, list[float]] = {}
    for comparison in model.comparisons:
        if not comparison.settings.get("estimate_m", True):
            continue
        counts = level_counts(labelled.filter(anchor_filter(model, comparison.name)), comparison)
        tonight[comparison.name] = counts.tolist()
        earlier = (history or {}).get(comparison.name)
        if earlier is not None and len(earlier) == len(counts):
            counts = counts + np.array(earlier)
        used[comparison.name] = int(counts.sum())
        prior = np.array([level.m for level in comparison.levels])
        for level, m in zip(
            comparison.levels, _dirichlet(counts, prior, model.prior.m_prior_pseudo_count), strict=True
        ):
            level.m = float(m)
    model.fitted["m_level_counts"] = tonight
    return used


def accumulated_m_counts(model: MatchModel, stored_models: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Each comparison's labelled-pair level counts summed over earlier runs' stored models, counting only
    runs whose levels for it are this model's (a changed comparison starts its history again)."""
    labels = {c.name: [level.label for level in c.levels] for c in model.comparisons}
    total: dict[str, np.ndarray] = {}
    for stored in stored_models:
        counts = stored.get("fitted", {}).get("m_level_counts") or {}
        stored_labels = {
            c["name"]: [level["label"] for level in c["levels"]] for c in stored.get("comparisons", [])
        }
        for name, values in counts.items():
            if (
                name in labels
                and stored_labels.get(name) == labels[name]
                and len(values) == len(labels[name])
            ):
                total[name] = total.get(name, np.zeros(len(values))) + np.array(values, dtype=np.float64)
    return {name: values.tolist() for name, values in total.items()}


def random_pairs(model: MatchModel, shot_count: int, registry_size: int) -> pl.DataFrame:
    rng = np.random.default_rng(model.prior.random_seed)
    size = model.prior.random_pairs
    return pl.DataFrame(
        {
            "shot_index": rng.integers(0, max(shot_count, 1), size, dtype=np.uint32),
            "citizen_index": rng.integers(0, max(registry_size, 1), size, dtype=np.uint32),
        }
    )


def compared_citizens(
    model: MatchModel,
    labelled: pl.DataFrame,
    shot_count: int,
    registry_size: int,
    accepted: pl.DataFrame | None = None,
) -> pl.Series:
    """Every citizen_index that fit's pairs can name (labelled, accepted, random): the registry records
    its database needs, a fraction of the registry."""
    pairs = [labelled, random_pairs(model, shot_count, registry_size)]
    if accepted is not None:
        pairs.append(accepted)
    citizens = pl.concat([frame.select(pl.col("citizen_index").cast(pl.UInt32)) for frame in pairs])
    return citizens.to_series().unique()


def estimate_u(model: MatchModel, levels: pl.DataFrame) -> None:
    """u of every level from random pairs' levels; a level too rare to count keeps the file's u,
    capped by what the sample allows and floored a decade below one pair in the sample."""
    for comparison in model.comparisons:
        level_count = level_counts(levels, comparison)
        total = level_count.sum()
        if total == 0:
            continue
        for level, n in zip(comparison.levels, level_count, strict=True):
            if n >= MIN_COUNT_FOR_U:
                level.u = float(n / total)
            else:
                level.u = max(min(level.u, max(n, 1) / total), 0.1 / total)


def household_pairs(registry: pl.DataFrame) -> pl.DataFrame:
    """Pairs of distinct citizens sharing a phone: a household, as (shot_index, citizen_index)."""
    with_phone = registry.filter(pl.col("phone").is_not_null()).select("citizen_index", "phone")
    return (
        with_phone.join(with_phone, on="phone", suffix="_other")
        .filter(pl.col("citizen_index") < pl.col("citizen_index_other"))
        .head(HOUSEHOLD_PAIR_LIMIT)
        .select(
            pl.col("citizen_index").alias("shot_index"), pl.col("citizen_index_other").alias("citizen_index")
        )
    )


def estimate_u_household(model: MatchModel, levels: pl.DataFrame) -> None:
    """u_household of the person comparisons (ID excluded: the registry holds no typed IDs)."""
    for comparison in model.comparisons:
        if comparison.role != "person" or comparison.name == "id_number":
            continue
        prior = np.array([level.u_household or 0.0 for level in comparison.levels])
        posterior = _dirichlet(level_counts(levels, comparison), prior, model.prior.m_prior_pseudo_count)
        for level, value in zip(comparison.levels, posterior, strict=True):
            level.u_household = float(value)


def fit(
    model: MatchModel,
    database: LinkageDatabase,
    household_database: Callable[[pl.DataFrame], LinkageDatabase],
    labelled: pl.DataFrame,
    shot_count: int,
    registry: pl.DataFrame,
    *,
    accepted: pl.DataFrame | None = None,
    m_history: dict[str, list[float]] | None = None,
) -> None:
    """Fit u (random pairs), m (labelled pairs, plus earlier nights' counts) and u_household (registry
    households) in place.

    labelled: (shot_index, citizen_index) the ID pass labels (the row's ID is the citizen's), sampled
    evenly down to LABELLED_PAIR_LIMIT. accepted: further known matches, such as links reviewers
    accepted; all of them are added to the sample (a pair in both counts once).
    """
    step = max(1, labelled.height // LABELLED_PAIR_LIMIT)
    sample = labelled.select("shot_index", "citizen_index").gather_every(step)
    if accepted is not None and accepted.height:
        extra = accepted.select(pl.col("shot_index", "citizen_index").cast(pl.UInt32))
        sample = pl.concat([sample.cast(pl.UInt32), extra]).unique(maintain_order=True)
    model.fitted["accepted_pairs"] = 0 if accepted is None else accepted.height
    labelled_levels = database.levels(sample, model)
    model.fitted["labelled_pairs"] = labelled_levels.height
    model.fitted["m_pairs_by_comparison"] = estimate_m(model, labelled_levels, m_history)
    estimate_u(model, database.levels(random_pairs(model, shot_count, registry.height), model))
    model.fitted["random_pairs"] = model.prior.random_pairs
    households = household_pairs(registry)
    if households.height >= MIN_HOUSEHOLD_PAIRS:
        with household_database(households) as members:
            estimate_u_household(model, members.levels(households, model))
    model.fitted["household_pairs"] = households.height
    model.fitted["registry_size"] = registry.height
