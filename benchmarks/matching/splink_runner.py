"""Splink 5 (DuckDB backend) on the same rows our probabilistic pass links, for a side-by-side.

A model tuned for this data, comparison for comparison like ours:
- given name: exact with diacritics, exact folded (term frequencies), family and given reversed,
  one edit (Damerau-Levenshtein), Jaro-Winkler >= 0.88;
- family name: exact (term frequencies), one edit; middle name: exact (TF), one side empty, similar;
- birth date: exact (TF), day and month swapped, same year and month, year off by one with the same
  day and month, year only (one side has no full date) and that year off by one;
- sex; phone (TF); residence ward / district / province; the ID exact or within one edit.
Blocking rules like ours: birth date + family / given / district, the names reversed, birth year +
both names, district + birth year + family, phone, ward + given, and each half of the ID (which finds
every ID one edit away). u by random sampling, the prior from a deterministic rule, m by EM over four
blocking rules. Each row goes to its best candidate; the caller applies thresholds.
"""

from __future__ import annotations

import logging
from typing import Any

import polars as pl

COMMON_COLUMNS = [
    "family",
    "middle",
    "given",
    "given_marked",
    "dob",
    "birth_year",
    "sex",
    "phone",
    "ward",
    "district",
    "province",
    "id",
    "id_head",
    "id_tail",
]


def _last_word(text: pl.Expr) -> pl.Expr:
    """The given name with its diacritics; null when it carries none (as in our engine)."""
    word = text.str.to_lowercase().str.normalize("NFC").str.extract(r"(\S+)$", 1)
    return pl.when(word.str.contains(r"[^\x00-\x7f]")).then(word)


def _id_halves(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(id_head=pl.col("id").str.slice(0, 6), id_tail=pl.col("id").str.slice(6))


def splink_frames(shots: pl.DataFrame, registry: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both sides with Splink's unique_id and the same column names (normalized keys, no re-cleaning)."""
    registry_marked = (
        pl.col("name_key_marked") if "name_key_marked" in registry.columns else pl.col("full_name")
    )
    left = shots.select(
        pl.format("{}:{}", "file_hash", "source_row").alias("unique_id"),
        pl.col("family_name_key").alias("family"),
        pl.col("middle_name_key").alias("middle"),
        pl.col("given_name_key").alias("given"),
        _last_word(pl.col("full_name_clean")).alias("given_marked"),
        pl.col("birth_date").cast(pl.String).alias("dob"),
        "birth_year",
        pl.col("sex_code").alias("sex"),
        pl.col("phone_number").alias("phone"),
        pl.col("ward_code").alias("ward"),
        pl.col("district_code").alias("district"),
        pl.col("province_code").alias("province"),
        pl.when(pl.col("id_kind").is_in(["cccd", "cmnd12"])).then(pl.col("id_value")).alias("id"),
    )
    right = registry.select(
        pl.col("citizen_id").alias("unique_id"),
        pl.col("family_name_key").alias("family"),
        pl.col("middle_name_key").alias("middle"),
        pl.col("given_name_key").alias("given"),
        _last_word(registry_marked).alias("given_marked"),
        pl.col("date_of_birth").cast(pl.String).alias("dob"),
        "birth_year",
        "sex",
        "phone",
        pl.col("ward_code").alias("ward"),
        pl.col("district_code").alias("district"),
        pl.col("province_code").alias("province"),
        pl.col("citizen_id").alias("id"),
    )
    return _id_halves(left).select("unique_id", *COMMON_COLUMNS), _id_halves(right).select(
        "unique_id", *COMMON_COLUMNS
    )


def _comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    given = cl.CustomComparison(
        output_column_name="given",
        comparison_levels=[
            cll.NullLevel("given"),
            cll.CustomLevel("given_marked_l = given_marked_r", "exact with diacritics").configure(
                tf_adjustment_column="given_marked"
            ),
            cll.ExactMatchLevel("given").configure(tf_adjustment_column="given"),
            cll.ColumnsReversedLevel("family", "given", symmetrical=True),
            cll.DamerauLevenshteinLevel("given", 1),
            cll.JaroWinklerLevel("given", 0.88),
            cll.ElseLevel(),
        ],
    )
    family = cl.CustomComparison(
        output_column_name="family",
        comparison_levels=[
            cll.NullLevel("family"),
            cll.ExactMatchLevel("family").configure(tf_adjustment_column="family"),
            cll.DamerauLevenshteinLevel("family", 1),
            cll.ElseLevel(),
        ],
    )
    middle = cl.CustomComparison(
        output_column_name="middle",
        comparison_levels=[
            cll.NullLevel("middle"),
            cll.CustomLevel("middle_l = '' AND middle_r = ''", "both empty"),
            cll.ExactMatchLevel("middle").configure(tf_adjustment_column="middle"),
            cll.CustomLevel("middle_l = '' OR middle_r = ''", "one empty"),
            cll.JaroWinklerLevel("middle", 0.9),
            cll.ElseLevel(),
        ],
    )
    day_month = "substr({side}, 6, 2)", "substr({side}, 9, 2)"
    month_l, day_l = (part.format(side="dob_l") for part in day_month)
    month_r, day_r = (part.format(side="dob_r") for part in day_month)
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_year"),
            cll.ExactMatchLevel("dob").configure(tf_adjustment_column="dob"),
            cll.CustomLevel(
                f"birth_year_l = birth_year_r AND {month_l} = {day_r} AND {day_l} = {month_r}",
                "day and month swapped",
            ),
            cll.CustomLevel(f"birth_year_l = birth_year_r AND {month_l} = {month_r}", "year and month"),
            cll.CustomLevel(
                f"abs(birth_year_l - birth_year_r) = 1 AND {month_l} = {month_r} AND {day_l} = {day_r}",
                "year off by one",
            ),
            cll.CustomLevel("(dob_l IS NULL OR dob_r IS NULL) AND birth_year_l = birth_year_r", "year only"),
            cll.CustomLevel(
                "(dob_l IS NULL OR dob_r IS NULL) AND abs(birth_year_l - birth_year_r) = 1",
                "year only, off by one",
            ),
            cll.ElseLevel(),
        ],
    )
    residence = cl.CustomComparison(
        output_column_name="residence",
        comparison_levels=[
            cll.NullLevel("province"),
            cll.ExactMatchLevel("ward"),
            cll.ExactMatchLevel("district"),
            cll.ExactMatchLevel("province"),
            cll.ElseLevel(),
        ],
    )
    identity = cl.CustomComparison(
        output_column_name="id",
        comparison_levels=[
            cll.NullLevel("id"),
            cll.ExactMatchLevel("id"),
            cll.DamerauLevenshteinLevel("id", 1),
            cll.ElseLevel(),
        ],
    )
    return [
        given,
        family,
        middle,
        birth,
        cl.ExactMatch("sex"),
        cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
        residence,
        identity,
    ]


def _blocking_rules() -> list[Any]:
    from splink import block_on

    return [
        block_on("dob", "family"),
        block_on("dob", "given"),
        block_on("dob", "district"),
        "l.dob = r.dob AND l.family = r.given",
        "l.dob = r.dob AND l.given = r.family",
        block_on("birth_year", "family", "given"),
        block_on("district", "birth_year", "family"),
        block_on("phone"),
        block_on("ward", "given"),
        block_on("id_head"),
        block_on("id_tail"),
    ]


def splink_settings() -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="link_only",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=_blocking_rules(),
        retain_intermediate_calculation_columns=False,
    )


def run_splink(shots: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """Link with Splink; one row per shot: its best candidate's citizen_id and match_probability
    (null when Splink found no candidate above p = 0.01)."""
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    left, right = splink_frames(shots, registry)
    api = DuckDBAPI()
    linker = Linker(
        [
            api.register(left.to_arrow(), table_name="shots"),
            api.register(right.to_arrow(), table_name="registry"),
        ],
        splink_settings(),
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("family", "given", "dob")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in (
        block_on("dob"),
        block_on("family", "given", "birth_year"),
        block_on("phone"),
        block_on("ward", "given"),
    ):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = pl.from_arrow(
        linker.inference.predict(threshold_match_probability=0.01).as_duckdbpyrelation().arrow()
    )
    assert isinstance(predictions, pl.DataFrame)
    left_id = (
        "unique_id_l"
        if predictions["source_dataset_l"][0] == "shots"
        else "unique_id_r"
        if predictions.height
        else "unique_id_l"
    )
    right_id = "unique_id_r" if left_id == "unique_id_l" else "unique_id_l"
    best = (
        predictions.select(
            pl.col(left_id).alias("shot_id"), pl.col(right_id).alias("citizen_id"), "match_probability"
        )
        .sort("match_probability", descending=True)
        .group_by("shot_id", maintain_order=True)
        .first()
    )
    return left.select(pl.col("unique_id").alias("shot_id")).join(best, on="shot_id", how="left")


def operating_threshold(
    best: pl.DataFrame, true_citizen: pl.DataFrame, max_wrong_per_10k: float, count_posted_before: int = 0
) -> float:
    """The lowest threshold whose postings (plus count_posted_before correct ones) hold at most
    max_wrong_per_10k wrong postings, chosen WITH the truth: Splink at its best operating point.

    best: shot_id, citizen_id, match_probability; true_citizen: shot_id, true_citizen_id."""
    ranked = (
        best.filter(pl.col("citizen_id").is_not_null())
        .join(true_citizen, on="shot_id", how="left")
        .with_columns(is_wrong=(pl.col("citizen_id") != pl.col("true_citizen_id")).fill_null(True))
        .sort("match_probability", descending=True)
        .with_columns(
            count_posted=pl.int_range(1, pl.len() + 1) + count_posted_before,
            count_wrong=pl.col("is_wrong").cum_sum(),
        )
        # a threshold can only fall between distinct probabilities
        .group_by("match_probability", maintain_order=True)
        .last()
        .filter(10_000 * pl.col("count_wrong") / pl.col("count_posted") <= max_wrong_per_10k)
    )
    return float(ranked["match_probability"].min()) if ranked.height else 1.0
