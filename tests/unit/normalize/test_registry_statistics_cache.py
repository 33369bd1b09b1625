"""The registry's surname statistics are computed once per snapshot and read back unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from transforms.normalize.names import surname_statistics
from transforms.normalize.reference import load_reference
from vaxsync.core.settings import Settings
from vaxsync.marts.registry_cache import registry_surname_statistics

NAMES = ["Nguyễn Văn Nam", "Nguyễn Thị Hồng", "Trần Văn Lý", "Lý Thị Mai", "Lê Văn Nguyễn", "Nguyen Van An"]


def _settings(tmp_path: Path) -> Settings:
    registry = tmp_path / "registry.parquet"
    pl.DataFrame({"full_name": NAMES * 5}).write_parquet(registry)
    return Settings(
        registry_path=registry,
        warehouse_path=tmp_path / "warehouse.duckdb",
        reports_dir=tmp_path / "reports",
        as_of=dt.date(2023, 1, 31),
    )


def test_cached_statistics_equal_the_registry_statistics(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    expected = surname_statistics(pl.scan_parquet(settings.registry_path))

    first = registry_surname_statistics(settings, snapshot_hash="abc")
    settings.registry_path.unlink()  # a second night of the same snapshot reads only the cache
    second = registry_surname_statistics(settings, snapshot_hash="abc")

    assert first == expected
    assert second == expected
    assert expected.by_spelling["nguyễn"] > 0.5


def test_the_reference_from_cached_statistics_equals_the_one_from_the_registry(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    from_registry = load_reference().with_registry(pl.scan_parquet(settings.registry_path))

    from_cache = load_reference().with_surname_statistics(
        registry_surname_statistics(settings, snapshot_hash="abc")
    )

    assert from_cache.surnames == from_registry.surnames
    assert from_cache.surname_statistics == from_registry.surname_statistics
