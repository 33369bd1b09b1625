"""From scored candidates to one decision per shot: post, review, or backlog.

- One shot goes to at most one citizen: its top candidate, and only when that candidate's probability
  clears the auto-post threshold AND its weight beats the runner-up's by the model's margin (twins and
  namesakes in one ward go to review, never to a coin toss).
- A candidate the shot cannot belong to (vaccinated after death or before birth, too young to be
  vaccinated, a child's row on an adult or the reverse) is never posted; it still counts as an
  alternative, so the runner-up does not inherit its probability.
- Below auto-post and above the review threshold: review_required, with the top candidates kept.
- Below that: no_confident_match.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from matching.model import AgeRules, MatchModel, Thresholds
from vaxsync.core.clinical_rules import (
    SHOT_AFTER_DEATH,
    SHOT_BEFORE_BIRTH,
    PersonDates,
    min_vaccination_age_years,
    oldest_possible_age_sql,
    shot_after_death_sql,
    shot_before_birth_sql,
)

IMPOSSIBLE_DEATH = SHOT_AFTER_DEATH
IMPOSSIBLE_BIRTH = SHOT_BEFORE_BIRTH
IMPOSSIBLE_TOO_YOUNG = "too_young_for_vaccination"
IMPOSSIBLE_CHILD_ADULT = "child_adult_mismatch"
# Codes carried through SQL (small integers), in the order the checks are made.
IMPOSSIBLE_REASONS = {
    1: IMPOSSIBLE_DEATH,
    2: IMPOSSIBLE_BIRTH,
    3: IMPOSSIBLE_TOO_YOUNG,
    4: IMPOSSIBLE_CHILD_ADULT,
}
REVIEW_CANDIDATES = 3
# The candidate's dates as the scored pairs carry them.
CANDIDATE_DATES = PersonDates("registry_birth_date", "registry_birth_year", "registry_date_of_death")


def impossible_link_sql(rules: AgeRules) -> str:
    """SQL code of why the shot cannot be this candidate's (see IMPOSSIBLE_REASONS), or NULL.

    Death and birth are vaxsync.core.clinical_rules' impossible link (with its year-only fallback). Ages
    are in whole calendar years, rounded in the candidate's favour, so only clear cases are rejected;
    the youngest vaccinable age is the vaccine catalogue's.
    """
    vaccinated = "vaccinated_date"
    candidate_age = oldest_possible_age_sql(vaccinated, "registry_birth_year")
    shot_is_child = f"({oldest_possible_age_sql(vaccinated, 'birth_year')} < {rules.adult_age_years})"
    candidate_is_child = f"({candidate_age} < {rules.adult_age_years})"
    return f"""(CASE
        WHEN {shot_after_death_sql(vaccinated, CANDIDATE_DATES)} THEN 1
        WHEN {shot_before_birth_sql(vaccinated, CANDIDATE_DATES)} THEN 2
        WHEN {candidate_age} < {min_vaccination_age_years()} THEN 3
        WHEN {shot_is_child} <> {candidate_is_child}
             AND abs(birth_year - registry_birth_year) > {rules.child_adult_birth_year_tolerance} THEN 4
    END)::TINYINT"""


def impossible_reason(code: pl.Expr) -> pl.Expr:
    return code.replace_strict(IMPOSSIBLE_REASONS, default=None, return_dtype=pl.String).alias(
        "impossible_reason"
    )


def auto_post_threshold(top: pl.DataFrame, thresholds: Thresholds, count_posted_by_id: int) -> float:
    """The lowest probability this run may auto-post at, from its own expected errors.

    Candidates that pass every other check are taken by decreasing probability while the expected count of
    wrong postings, the sum of (1 - p), stays within the budget (max_expected_wrong_per_10k of everything
    posted, ID-pass postings included). The result is clamped to [min_auto_post_probability,
    auto_post_probability]: a run never posts below the floor, and never needs more than the ceiling.
    """
    probabilities = top["match_probability"].sort(descending=True)
    if probabilities.len() == 0:
        return thresholds.auto_post_probability
    expected_wrong = (1.0 - probabilities).cum_sum()
    count_posted = count_posted_by_id + pl.int_range(1, probabilities.len() + 1, eager=True)
    within_budget = expected_wrong <= thresholds.max_expected_wrong_per_10k / 10_000 * count_posted
    count_within = int(within_budget.cast(pl.Int8).cum_min().sum())  # the longest prefix within budget
    if count_within == 0:
        threshold = thresholds.auto_post_probability
    else:
        threshold = float(probabilities[count_within - 1])
        if count_within < probabilities.len() and probabilities[count_within] == threshold:
            threshold = float(np.nextafter(threshold, 1.0))  # a tie just past the budget stays out
    return min(thresholds.auto_post_probability, max(thresholds.min_auto_post_probability, threshold))


def decide(ranked: pl.DataFrame, model: MatchModel, count_posted_by_id: int = 0) -> pl.DataFrame:
    """One row per shot with candidates: the top candidate, its probability, margin and the decision."""
    thresholds = model.thresholds
    top = ranked.filter(pl.col("candidate_rank") == 1).select(
        "shot_index",
        "citizen_index",
        "match_probability",
        "match_weight",
        "impossible_reason",
        is_thin=is_thin_evidence(model, ranked.columns),
    )
    runner_up = ranked.filter(pl.col("candidate_rank") == 2).select(
        "shot_index", pl.col("match_weight").alias("runner_up_weight")
    )
    with_margin = top.join(runner_up, on="shot_index", how="left").with_columns(
        weight_margin=(pl.col("match_weight") - pl.col("runner_up_weight")).fill_null(float("inf"))
    )
    is_clear = pl.col("weight_margin") >= thresholds.min_weight_margin_bits
    is_possible = pl.col("impossible_reason").is_null() & ~pl.col("is_thin")
    eligible = with_margin.filter(is_clear & is_possible)
    threshold = auto_post_threshold(eligible, thresholds, count_posted_by_id)
    model.fitted["auto_post_probability_used"] = threshold
    is_confident = pl.col("match_probability") >= threshold
    decision = (
        pl.when(is_confident & is_clear & is_possible)
        .then(pl.lit("posted"))
        .when(is_confident & pl.col("impossible_reason").is_in([IMPOSSIBLE_DEATH, IMPOSSIBLE_BIRTH]))
        .then(pl.col("impossible_reason"))
        .when(pl.col("match_probability") >= thresholds.review_probability)
        .then(pl.lit("review_required"))
        .otherwise(pl.lit("no_confident_match"))
    )
    return with_margin.with_columns(decision=decision)


# Levels that tie a row to one person beyond name and birth date (a namesake rarely shares them).
CORROBORATING_LEVELS = {
    "phone": ("exact", "last_eight_digits"),
    "residence": ("ward", "district"),
    "id_number": ("exact", "one_edit", "household"),
}
# Corroboration that names the person, not the place: a namesake in the same district shares the ward or
# district, never the phone or the ID.
IDENTIFYING_COMPARISONS = ("phone", "id_number")
# The row's own well-formed CCCD, which the registry lacks: the person may be absent from the registry, and
# an absent person's namesake (same name, birth date, district) shares the place. Only an identifier posts.
# (A contradicting ID the registry holds is someone else's, mostly the family's: the place still counts.)
ABSENT_ID_LEVELS = ("cccd_absent",)
# Birth-date levels that pin the day (a known slip of the same date included). The others (same year and
# month, a year apart, the year alone) are shared by a namesake born the same year, the domain's hard case
# of a person absent from the registry whose namesake (same name, birth year and district) is in it: the
# district does not tell them apart; the ward (a namesake of that year there is far rarer) or an identifier does.
FULL_BIRTH_DATE_LEVELS = ("exact", "alternative_reading", "day_month_swapped")
NAME_COMPARISONS = ("given_name", "family_name", "middle_name")
# ID levels that say the row's own ID is not the candidate's: with nothing else corroborating, name and
# birth date do not post, however rare the name (an absent person's namesake shares both).
CONTRADICTING_ID_LEVELS = ("cccd_absent", "cccd_contradicts")
# Nor when the row's residence and facility lie in another province than the candidate's: a namesake
# living there explains it as well. A batch sibling is corroboration only when the candidate's own dose,
# confirmed by ID tonight, was given in this row's province (SIBLING_HERE_COLUMN): the candidate is
# vaccinated here (a sibling that was itself linked on probability never counts).
CONTRADICTING_RESIDENCE_LEVELS = ("different",)
# The row gives another ward of the candidate's district. A registered person who moved a ward away
# explains it, and so does a person absent from the registry whose namesake lives in that district (the
# generator's and life's hard case): the place cannot tell them apart, so only an identifier posts.
OTHER_WARD_LEVELS = ("other_ward",)
SIBLING_HERE_COLUMN = "sibling_confirmed_here"
# A same-person row of the batch (same folded name and birth date) carries a well-formed CCCD that no citizen
# holds, nor one edit from it: a person absent from the registry has this name and birth date, and this row,
# which gives no ID, may be theirs as well as the candidate's. The place (ward, district) and a batch sibling
# are shared by both: only the phone or the ID posts (matching.probabilistic computes the column).
ABSENT_NAMESAKE_COLUMN = "absent_namesake_tonight"


def is_thin_evidence(model: MatchModel, columns: list[str]) -> pl.Expr:
    """A link resting on a common name and a birth date (or year) alone: no phone, ward or district, or ID
    agrees, and the name parts are worth fewer bits than the model's floor. A namesake, or a person absent
    from the registry who shares the name and birth date, explains it as well: never posted (review).
    A batch sibling is no corroboration (siblings support a link, they never create one), unless the
    candidate's own dose, confirmed by ID tonight, was given in this row's province. Nor does a rare
    name outweigh the row's own ID contradicting the candidate's (CONTRADICTING_ID_LEVELS); with an ID
    absent from the registry (ABSENT_ID_LEVELS) only an identifier (phone, ID, the candidate's dose confirmed
    here) corroborates, and with a birth date agreeing only in part an identifier or the ward: a namesake
    lives in the same district. Nor does the district when the row gives another ward of it
    (OTHER_WARD_LEVELS): only an identifier posts. When tonight's rows show a person absent from the
    registry with this row's name and birth date (ABSENT_NAMESAKE_COLUMN), only the phone or the ID posts.
    False when the candidates carry no levels (scores from elsewhere)."""
    names = {c.name for c in model.comparisons if f"level_{c.name}" in columns}
    if not names.intersection(NAME_COMPARISONS):
        return pl.lit(False)
    agreeing = {
        name: pl.col(f"level_{name}").is_in([model.comparison(name).labels.index(label) for label in labels])
        for name, wanted in CORROBORATING_LEVELS.items()
        if name in names
        for labels in [[label for label in wanted if label in model.comparison(name).labels]]
    }
    identifying = [agrees for name, agrees in agreeing.items() if name in IDENTIFYING_COMPARISONS]
    # The phone or the ID alone (the candidate's dose confirmed here is added below).
    is_identified_by_number = (
        pl.any_horizontal(identifying).fill_null(False) if identifying else pl.lit(False)
    )
    corroborated = list(agreeing.values())
    name_bits = pl.sum_horizontal(
        [pl.col(f"weight_{name}").fill_null(0.0) for name in NAME_COMPARISONS if name in names]
    )
    id_labels = model.comparison("id_number").labels if "id_number" in names else []
    if SIBLING_HERE_COLUMN in columns and "batch_sibling" in id_labels:
        # The candidate's own dose, confirmed by ID tonight, was given in this row's province.
        sibling = id_labels.index("batch_sibling")
        here = pl.col("level_id_number").eq(sibling) & pl.col(SIBLING_HERE_COLUMN)
        corroborated.append(here)
        identifying.append(here)
    is_corroborated = pl.any_horizontal(corroborated).fill_null(False) if corroborated else pl.lit(False)
    is_identified = pl.any_horizontal(identifying).fill_null(False) if identifying else pl.lit(False)
    is_id_contradicted = _has_level(model, names, "id_number", CONTRADICTING_ID_LEVELS)
    is_elsewhere = _has_level(model, names, "residence", CONTRADICTING_RESIDENCE_LEVELS)
    is_common_name = name_bits < model.thresholds.min_name_bits_without_corroboration
    weak = ~is_corroborated & (is_common_name | is_id_contradicted | is_elsewhere)
    is_id_absent = _has_level(model, names, "id_number", ABSENT_ID_LEVELS)
    is_other_ward = _has_level(model, names, "residence", OTHER_WARD_LEVELS)
    has_absent_namesake = (
        pl.col(ABSENT_NAMESAKE_COLUMN).fill_null(False)
        if ABSENT_NAMESAKE_COLUMN in columns
        else pl.lit(False)
    )
    return (
        weak
        | (~is_identified & (is_id_absent | is_other_ward | _namesake_of_the_year(model, names)))
        | (~is_identified_by_number & has_absent_namesake)
    )


def _has_level(model: MatchModel, names: set[str], comparison: str, wanted: tuple[str, ...]) -> pl.Expr:
    """The pair's level of this comparison is one of these labels (false when the comparison is absent)."""
    if comparison not in names:
        return pl.lit(False)
    labels = model.comparison(comparison).labels
    return (
        pl.col(f"level_{comparison}")
        .is_in([labels.index(label) for label in wanted if label in labels])
        .fill_null(False)
    )


def _namesake_of_the_year(model: MatchModel, names: set[str]) -> pl.Expr:
    """The birth date agrees only in part (FULL_BIRTH_DATE_LEVELS) and the ward does not agree."""
    if "birth_date" not in names:
        return pl.lit(False)
    return ~_has_level(model, names, "birth_date", FULL_BIRTH_DATE_LEVELS) & ~_has_level(
        model, names, "residence", ("ward",)
    )


def explanation(model: MatchModel) -> pl.Expr:
    """Field-by-field account of a pair's weight: "given_name=exact_marked(+6.1) birth_date=exact(+14.2) ..."."""
    parts = []
    for comparison in model.comparisons:
        labels = {-1: "missing", **dict(enumerate(comparison.labels))}
        label = pl.col(f"level_{comparison.name}").replace_strict(labels, return_dtype=pl.String)
        weight = pl.col(f"weight_{comparison.name}").round(1) + 0.0  # no "-0.0"
        sign = pl.when(weight >= 0).then(pl.lit("+")).otherwise(pl.lit(""))
        parts.append(pl.format(f"{comparison.name}={{}}({{}}{{}})", label, sign, weight))
    return pl.concat_str(parts, separator=" ")


def level_labels(model: MatchModel) -> list[pl.Expr]:
    """Each comparison's level as its label, for the review queue."""
    return [
        pl.col(f"level_{c.name}")
        .replace_strict({-1: "missing", **dict(enumerate(c.labels))}, return_dtype=pl.String)
        .alias(f"level_{c.name}")
        for c in model.comparisons
    ]
