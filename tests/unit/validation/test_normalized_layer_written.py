"""normalized.parquet is written while the normalized layer is validated: it holds the rows of the files not
held back, and nothing (not even a temporary file) when validation fails."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from vaxsync.marts import quality


@pytest.fixture
def rows() -> pl.DataFrame:
    return pl.DataFrame(
        {"file_hash": ["a", "a", "b", "c", "c"], "source_row": [1, 2, 1, 1, 2]},
        schema_overrides={"source_row": pl.Int32},
    )


def _write(
    tmp_path: Path, rows: pl.DataFrame, monkeypatch: pytest.MonkeyPatch, verdict: Any
) -> tuple[set[str], pl.DataFrame, SimpleNamespace]:
    work = SimpleNamespace(normalized_file=tmp_path / "normalized.parquet")
    monkeypatch.setattr(quality, "validate_normalized_layer", verdict)
    held_back, kept = quality.validate_and_write_normalized_layer(None, work, rows, None)  # type: ignore[arg-type]
    return held_back, kept, work


def test_a_night_holding_nothing_back_writes_every_row(tmp_path, rows, monkeypatch):
    held_back, kept, work = _write(tmp_path, rows, monkeypatch, lambda *args: set())

    assert held_back == set()
    assert kept.equals(rows)
    assert pl.read_parquet(work.normalized_file).equals(rows)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["normalized.parquet"]


def test_a_held_back_file_leaves_none_of_its_rows_in_the_file(tmp_path, rows, monkeypatch):
    held_back, kept, work = _write(tmp_path, rows, monkeypatch, lambda *args: {"a", "c"})

    assert held_back == {"a", "c"}
    assert kept.rows() == [("b", 1)]
    assert pl.read_parquet(work.normalized_file).equals(kept)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["normalized.parquet"]


def test_a_validation_error_leaves_no_file(tmp_path, rows, monkeypatch):
    def failing(*args: Any) -> set[str]:
        raise RuntimeError("GX failed")

    with pytest.raises(RuntimeError, match="GX failed"):
        _write(tmp_path, rows, monkeypatch, failing)

    assert list(tmp_path.iterdir()) == []
