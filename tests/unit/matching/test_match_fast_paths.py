"""The match plan's shortcuts give exactly what the plain forms give: the ID pass's per-shot summary taken
from the pair itself for a shot with one candidate, and the shots' name text computed once per distinct
name. The plain forms are kept here as references."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from matching.deterministic import _per_shot, impossible_link_reason
from matching.features import (
    given_first_reading,
    marked_name_key,
    name_text,
    shot_name_text,
    verify_marked_tokens,
)
from vaxsync.core.contracts import raw_column

KEYS = ["file_hash", "source_row"]


def per_shot_plain(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """The summary as every shot's group-wise aggregation (the form before the single-candidate path)."""
    is_confirmed = pl.col("is_confirmed")
    return pairs.group_by(KEYS).agg(
        count_confirmed=is_confirmed.sum().cast(pl.UInt32),
        confirmed_citizen_id=pl.col("citizen_id").filter(is_confirmed).first(),
        confirmed_method=pl.col("match_method").filter(is_confirmed).first(),
        confirmed_score=pl.col("name_similarity").filter(is_confirmed).first(),
        impossible_reason=impossible_link_reason().filter(is_confirmed).first(),
        hint_citizen_id=pl.col("citizen_id").sort_by("name_similarity", descending=True).first(),
        hint_score=pl.col("name_similarity").max(),
        hint_contradiction=pl.col("contradiction").sort_by("name_similarity", descending=True).first(),
    )


DAY = st.one_of(st.none(), st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2023, 1, 1)))
PAIR = st.fixed_dictionaries(
    {
        "source_row": st.integers(0, 5),
        "is_confirmed": st.booleans(),
        "citizen_id": st.sampled_from(["c1", "c2", "c3"]),
        "match_method": st.sampled_from(["id_exact", "legacy_id_exact"]),
        "name_similarity": st.one_of(st.none(), st.sampled_from([0.5, 0.9, 1.0])),
        "contradiction": st.sampled_from(["", "name", "birth date, sex"]),
        "vaccinated_date": DAY,
        "registry_date_of_birth": DAY,
        "registry_birth_year": st.one_of(st.none(), st.integers(2018, 2022)),
        "registry_date_of_death": DAY,
    }
)
SCHEMA = {
    "source_row": pl.Int32,
    "is_confirmed": pl.Boolean,
    "citizen_id": pl.String,
    "match_method": pl.String,
    "name_similarity": pl.Float64,
    "contradiction": pl.String,
    "vaccinated_date": pl.Date,
    "registry_date_of_birth": pl.Date,
    "registry_birth_year": pl.Int32,
    "registry_date_of_death": pl.Date,
}


@settings(max_examples=60, deadline=None)
@given(st.lists(PAIR, max_size=12))
def test_per_shot_summary_equals_the_group_wise_one(rows: list[dict[str, object]]) -> None:
    # distinct name similarities within a shot of several candidates: the plain form's sort is not
    # stable, so tied hints would be arbitrary in both forms
    pairs = pl.DataFrame(rows, schema=SCHEMA).with_columns(file_hash=pl.lit("f"))
    several = pl.len().over(KEYS) > 1
    pairs = pairs.with_columns(
        name_similarity=pl.when(several)
        .then(pl.int_range(pl.len()).cast(pl.Float64) / 100)
        .otherwise(pl.col("name_similarity"))
    )
    expected = per_shot_plain(pairs.lazy()).collect().sort(KEYS)
    assert_frame_equal(_per_shot(pairs.lazy()).collect().sort(KEYS), expected, check_exact=True)


def shot_name_text_plain(shots: pl.LazyFrame) -> pl.DataFrame:
    """Every row's name text computed on the row (the form before once-per-distinct-name)."""
    clean = marked_name_key(pl.col("full_name_clean"))
    return verify_marked_tokens(
        shots.select(
            *name_text(clean, pl.col("family_name_key"), pl.col("middle_name_key"), pl.col("given_name_key")),
            *given_first_reading(pl.col(raw_column("full_name"))),
            name_hash=pl.col("name_key").hash(),
        ).collect()
    )


def test_shot_name_text_once_per_distinct_name_equals_every_row() -> None:
    names = [
        ("Nguyễn Văn Hùng", "nguyen", "van", "hung", "nguyen van hung", "Nguyễn Văn Hùng"),
        ("Trần Thị Lan", "tran", "thi", "lan", "tran thi lan", "Lan Trần Thị"),
        ("Lê Anh", "le", None, "anh", "le anh", "Chị Lê Anh"),
        ("Le Anh", "le", None, "anh", "le anh", None),
        ("Ðỗ Quốc Anh", "do", "quoc", "anh", "do quoc anh", "Anh Đỗ Quốc"),
    ]
    rows = [names[index % len(names)] for index in (0, 1, 2, 0, 3, 4, 2, 1, 0, 3)]
    columns = ["full_name_clean", "family_name_key", "middle_name_key", "given_name_key", "name_key"]
    shots = pl.DataFrame(rows, schema=[*columns, raw_column("full_name")], orient="row").lazy()
    assert_frame_equal(shot_name_text(shots), shot_name_text_plain(shots), check_exact=True)
