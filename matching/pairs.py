"""Registry records shaped like shot records, so registry-vs-registry pairs use the same comparisons."""

from __future__ import annotations

import polars as pl

from matching.features import COMMON_COLUMNS

SHOT_ONLY_DTYPES: dict[str, pl.DataType] = {
    "alt_family": pl.UInt32(),
    "alt_middle": pl.UInt32(),
    "alt_given": pl.UInt32(),
    "birth_date_alt": pl.Date(),
    "facility_province": pl.Int32(),
    "id_kind": pl.Int8(),
    "id_number": pl.Int64(),
    "cccd_sex": pl.Int8(),
    "cccd_birth_year": pl.Int32(),
    "vaccinated_date": pl.Date(),
}
SHOT_CONTEXT_DTYPES: dict[str, pl.DataType] = {
    "id_owner_index": pl.UInt32(),  # the citizen whose citizen_id/legacy_id the shot's ID is
    "id_owner_phone": pl.Int64(),
    "id_owner_ward": pl.Int32(),
    "id_owner_family": pl.UInt32(),
    "sibling_citizen_index": pl.UInt32(),  # the citizen a same-person row of this batch was linked to
}


def registry_as_shots(registry: pl.DataFrame) -> pl.DataFrame:
    missing = {**SHOT_ONLY_DTYPES, **SHOT_CONTEXT_DTYPES}
    return registry.select(
        pl.col("citizen_index").alias("shot_index"),
        *COMMON_COLUMNS,
        *(pl.lit(None, dtype).alias(name) for name, dtype in missing.items()),
    )
