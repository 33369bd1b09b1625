"""A registry cache written by older preparation code is not read: the cache files carry
REGISTRY_PREPARATION_VERSION, so a snapshot whose sex reads 'Nam'/'Nữ' (unmapped by older code) is
prepared again rather than kept with its stale columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from operations_builders import registry_frame, write_registry

from vaxsync.core.settings import Settings
from vaxsync.marts.registry_cache import cache_dir, prepared_registry, prepared_registry_file

SNAPSHOT = "abc"


def test_a_cache_file_of_older_preparation_code_is_prepared_again(tmp_path: Path) -> None:
    registry = registry_frame(4).with_columns(sex=pl.Series(["Nam", "Nữ", "Nam", "Nữ"]))
    settings = Settings(
        registry_path=write_registry(tmp_path / "registry.parquet", registry),
        warehouse_path=tmp_path / "warehouse.duckdb",
    )
    stale = cache_dir(settings) / f"{SNAPSHOT}.parquet"  # the name older code wrote and read
    stale.parent.mkdir(parents=True)
    registry.with_columns(full_name=pl.lit("stale")).write_parquet(stale)

    prepared = prepared_registry(settings, snapshot_hash=SNAPSHOT).collect()

    assert prepared["full_name"].to_list() == registry["full_name"].to_list()
    assert prepared["sex"].to_list() == ["M", "F", "M", "F"]
    assert prepared_registry_file(settings, snapshot_hash=SNAPSHOT) != stale
