"""Splink 5 (DuckDB backend) on the same rows our probabilistic pass links, for a side-by-side.

A reasonably tuned model for this data: Jaro-Winkler on the given name with term frequencies, exact
family and middle names, Splink's date-of-birth comparison, sex, phone (term frequencies), residence
ward / district / province, and the ID within one edit. The same blocking rules as ours. u by random
sampling, m by EM on two rules, λ from a deterministic rule. Each row goes to its best candidate when
that candidate's probability clears the threshold (Splink's own one-to-one choice).
"""

from __future__ import annotations

import logging
from typing import Any

import polars as pl


def splink_frames(shots: pl.DataFrame, registry: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both sides with Splink's unique_id and the same column names (normalized keys, no re-cleaning)."""
    common = [
        "family",
        "middle",
        "given",
        "dob",
        "birth_year",
        "sex",
        "phone",
        "ward",
        "district",
        "province",
        "id",
    ]
    left = shots.select(
        pl.format("{}:{}", "file_hash", "source_row").alias("unique_id"),
        pl.col("family_name_key").alias("family"),
        pl.col("middle_name_key").alias("middle"),
        pl.col("given_name_key").alias("given"),
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
        pl.col("date_of_birth").cast(pl.String).alias("dob"),
        "birth_year",
        "sex",
        "phone",
        pl.col("ward_code").alias("ward"),
        pl.col("district_code").alias("district"),
        pl.col("province_code").alias("province"),
        pl.col("citizen_id").alias("id"),
    )
    return left.select("unique_id", *common), right.select("unique_id", *common)


def splink_settings() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

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
    return SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("given", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("family").configure(term_frequency_adjustments=True),
            cl.ExactMatch("middle"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            residence,
            cl.LevenshteinAtThresholds("id", 1),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("dob", "family"),
            block_on("dob", "given"),
            block_on("birth_year", "family", "given"),
            block_on("district", "birth_year", "family"),
            block_on("phone"),
            block_on("ward", "given"),
            block_on("id"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def run_splink(shots: pl.DataFrame, registry: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Link with Splink; one row per shot: the best candidate's citizen_id when p >= threshold, and p."""
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
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("family", "given", "birth_year")
    )
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
    return (
        left.select(pl.col("unique_id").alias("shot_id"))
        .join(best, on="shot_id", how="left")
        .with_columns(citizen_id=pl.when(pl.col("match_probability") >= threshold).then(pl.col("citizen_id")))
    )
