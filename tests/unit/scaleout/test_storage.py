"""vaxsync.orchestration.storage: the same calls write and read Parquet and JSON at a path, a file:// URL and memory://."""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from upath import UPath

from vaxsync.orchestration import storage

FRAME = pl.DataFrame(
    {"shot_index": pl.Series([0, 1, 2], dtype=pl.UInt32), "family": ["Nguyễn", "Trần", None]}
)


@pytest.fixture(params=["path", "file_url", "memory"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> UPath:
    if request.param == "path":
        return storage.location(tmp_path / "store")
    if request.param == "file_url":
        return storage.location(f"file://{tmp_path}/store")
    return storage.location(f"memory://vaxsync-test-{uuid.uuid4().hex}/store")


def test_parquet_round_trip_reads_back_the_same_frame(folder: UPath) -> None:
    path = storage.write_parquet(FRAME, folder / "part-000" / "shots.parquet")

    assert_frame_equal(storage.read_parquet(path), FRAME)
    scanned = storage.scan_parquet(path).filter(pl.col("shot_index") > 0).select("family").collect()
    assert scanned["family"].to_list() == ["Trần", None]


def test_a_copied_parquet_file_reads_back_the_same_frame(folder: UPath, tmp_path: Path) -> None:
    source = tmp_path / "cache.parquet"
    FRAME.write_parquet(source)

    path = storage.copy_file(source, folder / "registry.parquet")

    assert_frame_equal(storage.read_parquet(path), FRAME)


def test_json_round_trip_keeps_unicode(folder: UPath) -> None:
    payload = {"partitions": ["part-000", "part-001"], "note": "Hồ Chí Minh"}

    storage.write_json(folder / "plan.json", payload)

    assert storage.read_json(folder / "plan.json") == payload


def test_a_local_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    storage.write_parquet(FRAME, storage.location(tmp_path / "a.parquet"))
    storage.write_json(storage.location(tmp_path / "b.json"), {"x": 1})
    storage.copy_file(tmp_path / "a.parquet", storage.location(tmp_path / "c.parquet"))

    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.parquet", "b.json", "c.parquet"]


def test_remove_tree_removes_everything_below_and_accepts_a_missing_folder(folder: UPath) -> None:
    storage.write_parquet(FRAME, folder / "partitions" / "part-000" / "top.parquet")
    storage.write_json(folder / "plan.json", {})

    storage.remove_tree(folder)
    storage.remove_tree(folder)

    assert not (folder / "plan.json").exists()
    assert not (folder / "partitions" / "part-000" / "top.parquet").exists()


def test_only_plain_paths_and_file_urls_are_local(tmp_path: Path) -> None:
    assert storage.is_local(storage.location(tmp_path))
    assert storage.is_local(storage.location(f"file://{tmp_path}"))
    assert not storage.is_local(storage.location("memory://bucket/x"))
