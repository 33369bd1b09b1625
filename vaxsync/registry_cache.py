"""The registry's prepared form (normalized name keys) and its surname statistics (for normalizing
names), each built once per snapshot and reused.

Keyed by the snapshot's content hash, so a changed snapshot is prepared again and an unchanged one
costs only a read: both read every registry name, which at 10 million citizens takes minutes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from vaxsync.settings import Settings

if TYPE_CHECKING:
    from transforms.normalize.names import SurnameStatistics


def prepared_registry(settings: Settings, *, snapshot_hash: str) -> pl.LazyFrame:
    """The prepared registry for the snapshot with this content hash (computed once, at discovery)."""
    from transforms.registry import prepare_registry

    cached = _cache_dir(settings) / f"{snapshot_hash}.parquet"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".parquet.tmp")
        prepare_registry(pl.scan_parquet(settings.registry_path)).sink_parquet(temporary)
        os.replace(temporary, cached)
    return pl.scan_parquet(cached)


def registry_surname_statistics(settings: Settings, *, snapshot_hash: str) -> SurnameStatistics:
    """transforms.normalize.names.surname_statistics of the snapshot with this content hash, from the
    cache (one row per table and word) or computed once and cached."""
    from transforms.normalize.names import SurnameStatistics, surname_statistics

    cached = _cache_dir(settings) / f"{snapshot_hash}.surname_statistics.parquet"
    if not cached.exists():
        statistics = surname_statistics(pl.scan_parquet(settings.registry_path).select("full_name"))
        tables = [
            pl.DataFrame(
                {"table": name, "word": list(table), "family_share": list(table.values())},
                schema={"table": pl.String, "word": pl.String, "family_share": pl.Float64},
            )
            for name, table in (("by_spelling", statistics.by_spelling), ("by_key", statistics.by_key))
        ]
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".parquet.tmp")
        pl.concat(tables).write_parquet(temporary)
        os.replace(temporary, cached)
    frame = pl.read_parquet(cached)

    def table(name: str) -> dict[str, float]:
        rows = frame.filter(pl.col("table") == name)
        return dict(zip(rows["word"].to_list(), rows["family_share"].to_list(), strict=True))

    return SurnameStatistics(by_spelling=table("by_spelling"), by_key=table("by_key"))


def _cache_dir(settings: Settings) -> Path:
    return settings.warehouse_path.parent / "registry_cache"
