"""The prepared registry: one row per citizen, with the same name keys and phone form as normalized shots."""

from __future__ import annotations

import polars as pl

from transforms.normalize.names import marked_name_key, repaired_names, title_case, with_name_keys
from transforms.normalize.phones import with_phones
from transforms.normalize.reference import NormalizeReference, load_reference
from transforms.normalize.sex import sex_code
from vaxsync.core.contracts import REGISTRY_SCHEMA

NAME_KEY_COLUMNS = ("name_key", "family_name_key", "middle_name_key", "given_name_key")
# The same name with its diacritics (lowercase NFC): an exact match with marks counts more than one without.
MARKED_NAME_KEY = "name_key_marked"


def prepare_registry(registry: pl.LazyFrame, *, reference: NormalizeReference | None = None) -> pl.LazyFrame:
    """REGISTRY_SCHEMA + name_key, family_name_key, middle_name_key, given_name_key (the same name
    rules as the shots, so keys compare) + name_key_marked (the repaired name with its diacritics, in
    lowercase), with `phone` normalised (null when not a valid number) and `sex` read by the shots' rule.

    Registry names are authoritative: no title stripping and no reordering, only the text repairs."""
    reference = reference or load_reference()
    citizens = registry.select(list(REGISTRY_SCHEMA))
    cleaned = repaired_names(citizens.select("full_name"), "full_name", "_name_clean").with_columns(
        title_case(pl.col("_name_clean")).alias("_name_clean")
    )
    cleaned = (
        with_name_keys(cleaned, "_name_clean")
        .with_columns(marked_name_key(pl.col("_name_clean")).alias(MARKED_NAME_KEY))
        .drop("_name_clean")
    )
    prepared = citizens.join(cleaned, on="full_name", how="left", nulls_equal=True, maintain_order="left")
    prepared = with_phones(prepared, reference.phone_prefixes, source="phone")
    # The contract says M/F; a snapshot writing Nam/Nữ (or Male, 1/0) would otherwise agree with no row.
    prepared = prepared.with_columns(
        pl.col("phone_number").alias("phone"), sex_code(pl.col("sex")).alias("sex")
    )
    return prepared.select(
        *[pl.col(name).cast(dtype) for name, dtype in REGISTRY_SCHEMA.items()],
        *NAME_KEY_COLUMNS,
        MARKED_NAME_KEY,
    )
