"""The deterministic pass: an ID that points at a registry citizen posts a shot only when the row confirms it.

An ID alone never posts: facilities often type a household member's ID (a spouse's, a parent's on a
child's row). A candidate found by ID is confirmed when the birth date (or year), the sex and the
folded name all agree with the row.
"""

from __future__ import annotations

import polars as pl

from matching.similarity import jaro_winkler, levenshtein_distance
from vaxsync.core.clinical_rules import REGISTRY_DATES, impossible_link

# id_kind values whose number is looked up as a citizen_id (a 12-digit CMND carried over to the CCCD).
CITIZEN_ID_KINDS = ("cccd", "cmnd12")
LEGACY_ID_KINDS = ("cmnd9",)
UNUSABLE_ID_KINDS = ("missing", "passport", "bhyt", "other")

FAMILY_NAME_TYPO_MIN_JARO_WINKLER = 0.85
GIVEN_NAME_TYPO_MIN_LENGTH = 4

MATCH_SCHEMA: dict[str, pl.DataType] = {
    "file_hash": pl.String(),
    "source_row": pl.Int32(),
    "citizen_id": pl.String(),  # the confirmed citizen, null when not matched
    "match_method": pl.String(),  # id_exact | legacy_id_exact | null
    "match_score": pl.Float64(),
    "candidate_citizen_id": pl.String(),  # best hint when not matched (e.g. the contradicted ID's owner)
    "match_reason": pl.String(),  # backlog reason code when not matched, else null
    "match_detail": pl.String(),
}

_SHOT_COLUMNS = [
    "file_hash",
    "source_row",
    "id_kind",
    "id_value",
    "name_key",
    "family_name_key",
    "given_name_key",
    "birth_date",
    "birth_date_alt",
    "birth_year",
    "sex_code",
    "vaccinated_date",
]
_REGISTRY_COLUMNS = [
    "citizen_id",
    "legacy_id",
    "name_key",
    "family_name_key",
    "given_name_key",
    "date_of_birth",
    "birth_year",
    "sex",
    "date_of_death",
]


def id_candidates(shots: pl.LazyFrame, registry: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (shot, registry citizen) pair found by citizen_id or legacy_id equality."""
    shot_side = shots.select(_SHOT_COLUMNS)
    registry_side = registry.select(_REGISTRY_COLUMNS).rename(
        {c: f"registry_{c}" for c in _REGISTRY_COLUMNS if c not in ("citizen_id", "legacy_id")}
    )
    by_citizen_id = (
        shot_side.filter(pl.col("id_kind").is_in(CITIZEN_ID_KINDS))
        .join(
            registry_side.drop("legacy_id"),
            left_on="id_value",
            right_on="citizen_id",
            how="inner",
            coalesce=False,
        )
        .with_columns(pl.lit("id_exact").alias("match_method"))
    )
    by_legacy_id = _join_legacy(shot_side, registry_side)
    return pl.concat([by_citizen_id, by_legacy_id], how="diagonal_relaxed")


def _join_legacy(shot_side: pl.LazyFrame, registry_side: pl.LazyFrame) -> pl.LazyFrame:
    legacy = registry_side.filter(pl.col("legacy_id").is_not_null())
    return (
        shot_side.filter(pl.col("id_kind").is_in(LEGACY_ID_KINDS))
        .join(legacy, left_on="id_value", right_on="legacy_id", how="inner")
        .with_columns(pl.lit("legacy_id_exact").alias("match_method"))
    )


def birth_date_agrees() -> pl.Expr:
    """Full date equal (either reading of an ambiguous day/month), or the year when one side has only it."""
    registry_date = pl.col("registry_date_of_birth")
    full_date_equal = (pl.col("birth_date") == registry_date) | (pl.col("birth_date_alt") == registry_date)
    year_only = pl.col("birth_date").is_null() | registry_date.is_null()
    return (
        full_date_equal | (year_only & (pl.col("birth_year") == pl.col("registry_birth_year")))
    ).fill_null(False)


def birth_date_exact() -> pl.Expr:
    return (pl.col("birth_date") == pl.col("registry_date_of_birth")).fill_null(False)


def sex_agrees() -> pl.Expr:
    """Sex equal; a row without sex is accepted only when the full birth date agrees exactly."""
    return (
        pl.when(pl.col("sex_code").is_null())
        .then(birth_date_exact())
        .otherwise(pl.col("sex_code") == pl.col("registry_sex"))
        .fill_null(False)
    )


def name_agrees() -> pl.Expr:
    """Family and given name agree on the folded keys, allowing one small typo or given-name-first order.

    The given name is the discriminating part (twins share family name, birth date and often middle
    name), so it may differ by one edit only when both sides are long (Lan and Lanh are two names).
    """
    family_equal = pl.col("family_name_key") == pl.col("registry_family_name_key")
    given_equal = pl.col("given_name_key") == pl.col("registry_given_name_key")
    family_typo = pl.col("family_similarity") >= FAMILY_NAME_TYPO_MIN_JARO_WINKLER
    given_typo = (pl.col("given_edit_distance") <= 1) & (
        pl.min_horizontal(
            pl.col("given_name_key").str.len_chars(), pl.col("registry_given_name_key").str.len_chars()
        )
        >= GIVEN_NAME_TYPO_MIN_LENGTH
    )
    order_swapped = (pl.col("family_name_key") == pl.col("registry_given_name_key")) & (
        pl.col("given_name_key") == pl.col("registry_family_name_key")
    )
    return (
        (family_equal & given_equal)
        | (given_equal & family_typo)
        | (family_equal & given_typo)
        | order_swapped
    ).fill_null(False)


def confirm_candidates(candidates: pl.LazyFrame) -> pl.LazyFrame:
    """Add the confirmation flags and a name similarity score to each ID candidate pair."""
    return (
        candidates.with_columns(
            family_similarity=jaro_winkler("family_name_key", "registry_family_name_key"),
            given_edit_distance=levenshtein_distance("given_name_key", "registry_given_name_key"),
            name_similarity=jaro_winkler("name_key", "registry_name_key"),
        )
        .with_columns(
            is_birth_date_agreed=birth_date_agrees(),
            is_sex_agreed=sex_agrees(),
            is_name_agreed=name_agrees(),
        )
        .with_columns(
            is_confirmed=pl.col("is_birth_date_agreed") & pl.col("is_sex_agreed") & pl.col("is_name_agreed"),
            contradiction=pl.concat_str(
                pl.when(~pl.col("is_name_agreed")).then(pl.lit("name")),
                pl.when(~pl.col("is_birth_date_agreed")).then(pl.lit("birth date")),
                pl.when(~pl.col("is_sex_agreed")).then(pl.lit("sex")),
                separator=", ",
                ignore_nulls=True,
            ),
        )
    )


def impossible_link_reason() -> pl.Expr:
    """A confirmed link is still impossible when the shot falls after death or before birth."""
    return impossible_link("vaccinated_date", REGISTRY_DATES)


def _per_shot(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """One row per shot with ID candidates: how many confirm, the confirmed one, the best hint.

    Nearly every shot has one candidate (an ID names one citizen): those take their pair's values as
    they are, and only shots with several go through the group-wise filters and sorts (which cost
    ~5x more on the medium night's 150k pairs), with the same results."""
    is_confirmed = pl.col("is_confirmed")
    keys = ["file_hash", "source_row"]
    counted = pairs.with_columns(_candidates=pl.len().over(keys))
    single = counted.filter(pl.col("_candidates") == 1).select(
        *keys,
        count_confirmed=is_confirmed.cast(pl.UInt32),
        confirmed_citizen_id=pl.when(is_confirmed).then(pl.col("citizen_id")),
        confirmed_method=pl.when(is_confirmed).then(pl.col("match_method")),
        confirmed_score=pl.when(is_confirmed).then(pl.col("name_similarity")),
        impossible_reason=pl.when(is_confirmed).then(impossible_link_reason()),
        hint_citizen_id=pl.col("citizen_id"),
        hint_score=pl.col("name_similarity"),
        hint_contradiction=pl.col("contradiction"),
    )
    several = (
        counted.filter(pl.col("_candidates") > 1)
        .group_by(keys)
        .agg(
            count_confirmed=is_confirmed.sum().cast(pl.UInt32),
            confirmed_citizen_id=pl.col("citizen_id").filter(is_confirmed).first(),
            confirmed_method=pl.col("match_method").filter(is_confirmed).first(),
            confirmed_score=pl.col("name_similarity").filter(is_confirmed).first(),
            impossible_reason=impossible_link_reason().filter(is_confirmed).first(),
            hint_citizen_id=pl.col("citizen_id").sort_by("name_similarity", descending=True).first(),
            hint_score=pl.col("name_similarity").max(),
            hint_contradiction=pl.col("contradiction").sort_by("name_similarity", descending=True).first(),
        )
    )
    return pl.concat([single, several], how="vertical")


def match_by_id(shots: pl.LazyFrame, registry: pl.LazyFrame) -> pl.LazyFrame:
    """Resolve every matchable shot (reject_reason is null) by its ID: one MATCH_SCHEMA row per shot."""
    matchable = shots.filter(pl.col("reject_reason").is_null())
    pairs = confirm_candidates(id_candidates(matchable, registry))
    per_shot = _per_shot(pairs)
    resolved = matchable.select("file_hash", "source_row", "id_kind").join(
        per_shot, on=["file_hash", "source_row"], how="left"
    )
    is_posted = (pl.col("count_confirmed") == 1) & pl.col("impossible_reason").is_null()
    reason = (
        pl.when(is_posted)
        .then(None)
        .when(pl.col("count_confirmed") > 1)
        .then(pl.lit("id_ambiguous"))
        .when(pl.col("count_confirmed") == 1)
        .then(pl.col("impossible_reason"))
        .when(pl.col("hint_citizen_id").is_not_null())
        .then(pl.lit("id_contradicted"))
        .when(pl.col("id_kind") == "unrecoverable")
        .then(pl.lit("id_unrecoverable"))
        .when(pl.col("id_kind").is_in(UNUSABLE_ID_KINDS))
        .then(pl.lit("no_usable_id"))
        .otherwise(pl.lit("id_not_in_registry"))
    )
    detail = (
        pl.when(pl.col("match_reason") == "id_contradicted")
        .then(pl.format("ID owner differs in {}", pl.col("hint_contradiction")))
        .when(pl.col("match_reason") == "id_ambiguous")
        .then(pl.format("{} citizens share this old ID and agree with the row", pl.col("count_confirmed")))
        .when(pl.col("match_reason") == "no_usable_id")
        .then(pl.format("ID kind: {}", pl.col("id_kind")))
    )
    return (
        resolved.with_columns(match_reason=reason)
        .with_columns(
            citizen_id=pl.when(is_posted).then(pl.col("confirmed_citizen_id")),
            match_method=pl.when(is_posted).then(pl.col("confirmed_method")),
            match_score=pl.when(is_posted).then(pl.col("confirmed_score")),
            candidate_citizen_id=pl.when(~is_posted.fill_null(False)).then(
                pl.coalesce(pl.col("confirmed_citizen_id"), pl.col("hint_citizen_id"))
            ),
            match_detail=detail,
        )
        .select(list(MATCH_SCHEMA))
        .cast(MATCH_SCHEMA)  # type: ignore[arg-type]
    )
