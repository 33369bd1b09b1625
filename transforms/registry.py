"""The prepared registry: one row per citizen, with the same name keys and phone form as normalized shots."""

from __future__ import annotations

import polars as pl

from transforms.normalize.lookups import aligned_by_hash
from transforms.normalize.names import marked_name_key, repaired_names, title_case, with_name_keys
from transforms.normalize.phones import with_phones
from transforms.normalize.reference import NormalizeReference, load_reference
from transforms.normalize.sex import sex_code
from transforms.normalize.text import EAGER_ENGINE
from vaxsync.core.contracts import REGISTRY_SCHEMA

NAME_KEY_COLUMNS = ("name_key", "family_name_key", "middle_name_key", "given_name_key")
# The same name with its diacritics (lowercase NFC): an exact match with marks counts more than one without.
MARKED_NAME_KEY = "name_key_marked"


def registry_name_repairs(registry: pl.LazyFrame) -> pl.DataFrame:
    """(full_name, name_clean) per distinct registry name: repaired_names of the registry, in memory.
    Both prepare_registry and names.surname_statistics start from it: built once, it is read by both
    instead of repairing every distinct name twice."""
    return repaired_names(registry.select("full_name"), "full_name", "name_clean").collect(
        engine=EAGER_ENGINE
    )


def registry_name_keys(name_repairs: pl.DataFrame) -> pl.DataFrame:
    """(full_name, *NAME_KEY_COLUMNS, MARKED_NAME_KEY) per distinct registry name, from
    registry_name_repairs: the prepared registry's name columns, once per name. Registry names are
    authoritative: no title stripping and no reordering, only the text repairs."""
    titled = name_repairs.lazy().select("full_name", title_case(pl.col("name_clean")).alias("_name_clean"))
    return (
        with_name_keys(titled, "_name_clean")
        .with_columns(marked_name_key(pl.col("_name_clean")).alias(MARKED_NAME_KEY))
        .drop("_name_clean")
        .collect(engine=EAGER_ENGINE)
    )


def prepare_registry(
    registry: pl.LazyFrame,
    *,
    reference: NormalizeReference | None = None,
    name_keys: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """REGISTRY_SCHEMA + name_key, family_name_key, middle_name_key, given_name_key (the same name
    rules as the shots, so keys compare) + name_key_marked (the repaired name with its diacritics, in
    lowercase), with `phone` normalised (null when not a valid number) and `sex` read by the shots' rule.
    name_keys: registry_name_keys(registry_name_repairs(registry)), when already built.

    Registry names are authoritative: no title stripping and no reordering, only the text repairs."""
    reference = reference or load_reference()
    citizens = registry.select(list(REGISTRY_SCHEMA))
    if name_keys is None:
        name_keys = registry_name_keys(registry_name_repairs(citizens))
    # The keys hold every distinct name of the registry (registry_name_repairs): joined by hash.
    prepared = pl.concat([citizens, aligned_by_hash(citizens, "full_name", name_keys)], how="horizontal")
    prepared = with_phones(prepared, reference.phone_prefixes, source="phone")
    prepared = prepared.with_columns(pl.col("phone_number").alias("phone"), _sex_codes(citizens))
    return prepared.select(
        *[pl.col(name).cast(dtype) for name, dtype in REGISTRY_SCHEMA.items()],
        *NAME_KEY_COLUMNS,
        MARKED_NAME_KEY,
    )


def _sex_codes(citizens: pl.LazyFrame) -> pl.Expr:
    """`sex` read by the shots' rule, once per distinct spelling (a registry writes two or three).
    The contract says M/F; a snapshot writing Nam/Nữ (or Male, 1/0) would otherwise agree with no row."""
    spellings = (
        citizens.select(pl.col("sex").unique().drop_nulls())
        .with_columns(sex_code(pl.col("sex")).alias("code"))
        .collect(engine=EAGER_ENGINE)
    )
    return pl.col("sex").replace_strict(
        spellings["sex"], spellings["code"], default=None, return_dtype=pl.String
    )
