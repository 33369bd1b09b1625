"""One staged parquet file per ingest batch: normalize reads the rows in file-hash order (as when each
file had its own staged file), and validation's hold-back takes a file's rows out of its batch file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from ingest_export_files import VN_HEADER, export_rows, render_delimited, write

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.marts import quality
from vaxsync.orchestration import pipeline

FILES_PER_BATCH = 2


def _staged_night(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, RunWorkDir]:
    """Five text files of 1..5 rows staged in batches of two, in this process."""
    for count in range(1, 6):
        write(tmp_path / "landing", f"export_{count}.csv", render_delimited([VN_HEADER, *export_rows(count)]))
    registry = tmp_path / "registry.parquet"
    one_citizen = {"citizen_id": "001280000001", "full_name": "Nguyễn Văn A", "birth_year": 1980, "sex": "M"}
    pl.DataFrame([one_citizen], schema=REGISTRY_SCHEMA).write_parquet(registry)
    settings = Settings(
        registry_path=registry,
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / "night" / "warehouse.duckdb",
        reports_dir=tmp_path / "night" / "reports",
        as_of=dt.date(2023, 1, 31),
        ingest_processes=1,
    )
    small_batches = pipeline.ingest_batches
    monkeypatch.setattr(pipeline, "ingest_batches", lambda files: small_batches(files, FILES_PER_BATCH))
    list(pipeline._ingest_all(settings, pipeline.discover_new_exports(settings)))
    return settings, RunWorkDir(settings)


def _rows_by_file(work: RunWorkDir) -> dict[str, int]:
    staged = pl.read_parquet(work.staged_files()).group_by("file_hash").len()
    return dict(staged.iter_rows())


def test_a_batch_stages_its_files_rows_in_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, work = _staged_night(tmp_path, monkeypatch)

    ledgers = [read_json(path) for path in sorted(work.ledger_dir.glob("*.json"))]
    assert len(work.staged_files()) == 3  # batches [1, 2], [3, 4], [5]
    assert _rows_by_file(work) == {ledger["file_hash"]: ledger["rows_read"] for ledger in ledgers}
    assert sorted(ledger["rows_read"] for ledger in ledgers) == [1, 2, 3, 4, 5]


def test_normalize_reads_the_batches_rows_in_file_hash_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, work = _staged_night(tmp_path, monkeypatch)
    by_file = pl.read_parquet(work.staged_files()).sort("file_hash", "source_row")
    assert not pl.read_parquet(work.staged_files()).equals(by_file)  # the batch files are in another order

    pipeline.normalize_batch(settings)

    normalized = pl.read_parquet(work.normalized_file)
    assert normalized.select(by_file.columns).equals(by_file)


def test_holding_files_back_takes_their_rows_out_of_the_batch_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, work = _staged_night(tmp_path, monkeypatch)
    rows_by_file = _rows_by_file(work)
    files_of_batch = {
        path: pl.read_parquet(path)["file_hash"].unique().to_list() for path in work.staged_files()
    }
    whole_batch = next(hashes for hashes in files_of_batch.values() if len(hashes) == 2)
    partner = next(hashes for hashes in files_of_batch.values() if len(hashes) == 2 and hashes != whole_batch)
    held = {*whole_batch, partner[0]}

    quality._drop_staged_rows(work, held)

    assert len(work.staged_files()) == 2  # the batch whose files were all held back is gone
    assert _rows_by_file(work) == {key: rows for key, rows in rows_by_file.items() if key not in held}
    assert not list(work.staged_dir.glob("*.tmp"))
