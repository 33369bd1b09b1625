"""Pre-2025 administrative units for the generator: unit types split from proper names, and weights."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import polars as pl

# Population in thousands, GSO 2021 estimates rounded: spreads citizens over provinces realistically.
PROVINCE_POPULATION_THOUSANDS: dict[str, int] = {
    "01": 8330, "02": 880, "04": 540, "06": 320, "08": 790, "10": 750, "11": 610, "12": 470,
    "14": 1270, "15": 830, "17": 860, "19": 1320, "20": 790, "22": 1340, "24": 1860, "25": 1490,
    "26": 1170, "27": 1460, "30": 1930, "31": 2070, "33": 1270, "34": 1870, "35": 860, "36": 1780,
    "37": 990, "38": 3700, "40": 3400, "42": 1290, "44": 900, "45": 640, "46": 1140, "48": 1200,
    "49": 1500, "51": 1240, "52": 1490, "54": 870, "56": 1240, "58": 600, "60": 1240, "62": 560,
    "64": 1560, "66": 1900, "67": 660, "68": 1320, "70": 1010, "72": 1180, "74": 2680, "75": 3170,
    "77": 1170, "79": 9170, "80": 1730, "82": 1780, "83": 1290, "84": 1010, "86": 1020, "87": 1600,
    "89": 1910, "91": 1730, "92": 1240, "93": 730, "94": 1200, "95": 910, "96": 1190,
}  # fmt: skip

UNIT_TYPE_PATTERN = r"(?i)^(thành phố|tỉnh|quận|huyện|thị xã|phường|xã|thị trấn)\s+"
URBAN_WARD_WEIGHT = 2.5  # a phường holds more people than a rural xã


def province_region(province_code: pl.Expr) -> pl.Expr:
    """0 north, 1 central (Thanh Hóa to Lâm Đồng), 2 south."""
    code = province_code.cast(pl.Int32)
    return pl.when(code < 38).then(0).when(code < 70).then(1).otherwise(2).cast(pl.Int8)


def province_folder_name(province_code: str, province_name: str) -> str:
    """'79_Ho_Chi_Minh', '77_Ba_Ria___Vung_Tau': the landing folder of a province."""
    bare = re.sub(UNIT_TYPE_PATTERN, "", province_name)
    folded = unicodedata.normalize("NFD", bare.replace("Đ", "D").replace("đ", "d"))
    ascii_name = "".join(c for c in folded if not unicodedata.combining(c))
    return f"{province_code}_" + re.sub(r"[^A-Za-z0-9]", "_", ascii_name)


def _split_unit(name: str, prefix: str) -> list[pl.Expr]:
    column = pl.col(name)
    return [
        column.str.extract(UNIT_TYPE_PATTERN, 1).str.to_lowercase().fill_null("").alias(f"{prefix}_type"),
        column.str.replace(UNIT_TYPE_PATTERN, "").alias(f"{prefix}_bare"),
    ]


def load_wards(path: Path) -> pl.DataFrame:
    """One row per ward (ward_idx = row number) with unit types, bare names and a population weight.

    Island districts without communes (null ward) are left out: nobody can live in them here.
    """
    base_columns = [
        "province_code",
        "province_name",
        "district_code",
        "district_name",
        "ward_code",
        "ward_name",
    ]
    units = pl.read_parquet(path, columns=base_columns).drop_nulls("ward_code").sort("ward_code")
    population = pl.DataFrame(
        {
            "province_code": list(PROVINCE_POPULATION_THOUSANDS),
            "province_population": list(PROVINCE_POPULATION_THOUSANDS.values()),
        },
        schema={"province_code": pl.String, "province_population": pl.Float64},
    )
    return (
        units.join(population, on="province_code", how="left", maintain_order="left")
        .with_columns(
            *_split_unit("province_name", "province"),
            *_split_unit("district_name", "district"),
            *_split_unit("ward_name", "ward"),
            province_region(pl.col("province_code")).alias("region"),
        )
        .with_columns(
            (pl.when(pl.col("ward_type") == "xã").then(1.0).otherwise(URBAN_WARD_WEIGHT)).alias("ward_size")
        )
        .with_columns(
            (
                pl.col("province_population").fill_null(1000.0)
                * pl.col("ward_size")
                / pl.col("ward_size").sum().over("province_code")
            ).alias("weight")
        )
        .drop("ward_size", "province_population")
        .with_row_index("ward_idx")
        .with_columns(pl.col("ward_idx").cast(pl.Int32))
    )
