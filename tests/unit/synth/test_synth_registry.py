"""The registry snapshot: CCCD structure, names, households, and the traps planted for matching."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from synth.config import SynthConfig
from vaxsync.core.contracts import REGISTRY_SCHEMA

MOBILE = r"^0(3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-46-9])\d{7}$"


@pytest.fixture(scope="module")
def registry(default_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(default_dir / "registry.parquet")


def test_schema_is_the_contract(registry: pl.DataFrame) -> None:
    assert dict(registry.schema) == REGISTRY_SCHEMA


def test_citizen_ids_are_unique_twelve_digits(registry: pl.DataFrame) -> None:
    assert registry["citizen_id"].str.contains(r"^\d{12}$").all()
    assert registry["citizen_id"].n_unique() == len(registry)


def test_cccd_encodes_sex_century_and_birth_year(registry: pl.DataFrame) -> None:
    decoded = registry.select(
        (pl.col("citizen_id").str.slice(3, 1).cast(pl.Int32) % 2 == 0).alias("is_male_digit"),
        (
            1900
            + pl.col("citizen_id").str.slice(3, 1).cast(pl.Int32) // 2 * 100
            + pl.col("citizen_id").str.slice(4, 2).cast(pl.Int32)
        ).alias("decoded_year"),
        (pl.col("sex") == "M").alias("is_male"),
        "birth_year",
    )
    assert (decoded["is_male_digit"] == decoded["is_male"]).all()
    assert (decoded["decoded_year"] == decoded["birth_year"]).all()


def test_cccd_province_is_a_real_province_mostly_of_residence(registry: pl.DataFrame) -> None:
    admin = pl.read_parquet(SynthConfig().resolved_admin_units_path(), columns=["province_code"])
    codes = set(admin["province_code"])
    birth_province = registry["citizen_id"].str.slice(0, 3)
    assert (birth_province.str.slice(0, 1) == "0").all()
    assert set(birth_province.str.slice(1, 2)) <= codes
    assert (birth_province == "0" + registry["province_code"]).mean() > 0.8  # type: ignore[operator]


def test_birth_dates_agree_with_birth_years(registry: pl.DataFrame) -> None:
    known = registry.filter(pl.col("date_of_birth").is_not_null())
    assert (known["date_of_birth"].dt.year() == known["birth_year"]).all()
    year_only = registry.filter(pl.col("date_of_birth").is_null())
    assert len(year_only) > 0 and year_only["birth_year"].max() < 1960  # type: ignore[operator]


@pytest.mark.parametrize(
    ("column", "pattern", "min_share", "max_share"),
    [
        ("legacy_id", r"^\d{9}$", 0.3, 0.8),
        ("phone", MOBILE, 0.4, 0.9),
        ("date_of_death", None, 0.001, 0.03),
    ],
)
def test_optional_columns_are_well_formed_and_partly_filled(
    registry: pl.DataFrame, column: str, pattern: str | None, min_share: float, max_share: float
) -> None:
    values = registry[column].drop_nulls()
    assert min_share <= len(values) / len(registry) <= max_share
    if pattern:
        assert values.str.contains(pattern).all()


def test_names_are_nfc_with_realistic_family_names(registry: pl.DataFrame) -> None:
    names = registry["full_name"]
    assert all(unicodedata.is_normalized("NFC", name) for name in names.head(2000))
    assert names.str.contains(r"^\S+( \S+){1,3}$").all()
    family = names.str.split(" ").list.first()
    assert 0.25 < (family == "Nguyễn").mean() < 0.40  # type: ignore[operator]
    assert {"Trần", "Lê", "Phạm", "Huỳnh", "Võ"} <= set(family.value_counts(sort=True).head(12)["full_name"])


def test_middle_names_follow_cohorts(registry: pl.DataFrame) -> None:
    words = registry.with_columns(
        pl.col("full_name").str.split(" ").list.get(1, null_on_oob=True).alias("middle")
    )
    older = words.filter((pl.col("birth_year") < 1960) & (pl.col("sex") == "F"))
    younger = words.filter((pl.col("birth_year") >= 2010) & (pl.col("sex") == "F"))
    assert (older["middle"] == "Thị").mean() > 2 * (younger["middle"] == "Thị").mean()  # type: ignore[operator]


def test_minority_names_appear_where_they_live(registry: pl.DataFrame) -> None:
    highlands = registry.filter(pl.col("province_code").is_in(["62", "64", "66", "67"]))
    assert highlands["full_name"].str.contains(r"^(Y |H')").any()


def test_households_share_wards_and_family_names_twins_and_namesakes_exist(registry: pl.DataFrame) -> None:
    with_family = registry.with_columns(pl.col("full_name").str.split(" ").list.first().alias("family"))
    twins = (
        with_family.filter(pl.col("date_of_birth").is_not_null())
        .group_by("ward_code", "date_of_birth", "family")
        .len()
    )
    assert (twins["len"] >= 2).any()
    namesakes = registry.group_by("ward_code", "full_name", "sex").len()
    assert (namesakes["len"] >= 2).any()
    assert registry["legacy_id"].drop_nulls().is_duplicated().any()


def test_phones_are_ten_digit_mobiles(registry: pl.DataFrame) -> None:
    phones = registry["phone"].drop_nulls()
    assert all(re.match(MOBILE, phone) for phone in phones.head(500))
