"""Registry snapshots an operator may pass by mistake: one older than the last night's is refused in one
line (unless forced); the same snapshot under another name is the same snapshot."""

from __future__ import annotations

import shutil
from pathlib import Path

from operations_builders import assert_one_line_error, invoke, registry_frame, run_args, write_registry


def night(tmp_path: Path, registry: Path, as_of: str, *extra: str) -> object:
    return invoke(run_args(tmp_path, "--as-of", as_of, *extra, registry=registry))


def test_a_snapshot_older_than_the_last_nights_is_refused_unless_forced(tmp_path: Path) -> None:
    older = write_registry(tmp_path / "snapshots" / "2023-01.parquet", registry_frame(3))
    newer = write_registry(tmp_path / "snapshots" / "2023-02.parquet", registry_frame(4))
    assert night(tmp_path, older, "2023-01-30").exit_code == 0
    assert night(tmp_path, newer, "2023-01-31").exit_code == 0

    line = assert_one_line_error(
        night(tmp_path, older, "2023-02-01"), "older than the snapshot of the last night"
    )
    assert "2023-01-30" in line and "--force" in line
    renamed = shutil.copy(newer, tmp_path / "snapshots" / "latest.parquet")  # same content, new name
    assert night(tmp_path, Path(renamed), "2023-02-01").exit_code == 0
    assert night(tmp_path, older, "2023-02-02", "--force").exit_code == 0
