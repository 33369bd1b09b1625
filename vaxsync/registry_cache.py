"""The registry's prepared form (normalized name keys), built once per snapshot and reused.

Keyed by the snapshot's content hash, so a changed snapshot is prepared again and an unchanged one
costs only a scan.
"""

from __future__ import annotations

import os

import polars as pl

from vaxsync.settings import Settings


def prepared_registry(settings: Settings, *, snapshot_hash: str) -> pl.LazyFrame:
    """The prepared registry for the snapshot with this content hash (computed once, at discovery)."""
    from transforms.registry import prepare_registry

    cache_dir = settings.warehouse_path.parent / "registry_cache"
    cached = cache_dir / f"{snapshot_hash}.parquet"
    if not cached.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(".parquet.tmp")
        prepare_registry(pl.scan_parquet(settings.registry_path)).sink_parquet(temporary)
        os.replace(temporary, cached)
    return pl.scan_parquet(cached)
