"""Ingest over several processes (this one staging batches beside a spawned pool) stages what one
process stages: the same ledger entries and staged rows, every file once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from ingest_export_files import VN_HEADER, export_rows, render_delimited, to_tcvn3_surface, write

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.orchestration import pipeline

FILES_PER_BATCH = 2


def _landing(folder: Path) -> None:
    """Seven files of different content (so that none is a copy), one of them quarantined."""
    for count in range(1, 5):
        write(folder, f"utf8_{count}.csv", render_delimited([VN_HEADER, *export_rows(count)]))
        tcvn3 = to_tcvn3_surface(render_delimited([VN_HEADER, *export_rows(count + 4)]))
        write(folder, f"tcvn3_{count}.txt", tcvn3.encode("latin-1"))
    write(folder, "broken.xlsx", b"not a workbook")


def _night(
    tmp_path: Path, run: str, processes: int
) -> tuple[list[int], list[dict[str, object]], pl.DataFrame]:
    """How many files each step reported done, the ledger entries and the staged rows of one ingest."""
    registry = tmp_path / "registry.parquet"
    one_citizen = {"citizen_id": "001280000001", "full_name": "Nguyễn Văn A", "birth_year": 1980, "sex": "M"}
    pl.DataFrame([one_citizen], schema=REGISTRY_SCHEMA).write_parquet(registry)
    settings = Settings(
        registry_path=registry,
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / run / "warehouse.duckdb",
        reports_dir=tmp_path / run / "reports",
        as_of=dt.date(2023, 1, 31),
        ingest_processes=processes,
    )
    done = list(pipeline._ingest_all(settings, pipeline.discover_new_exports(settings)))
    work = RunWorkDir(settings)
    ledgers = [
        {key: value for key, value in read_json(path).items() if key != "ingest_seconds"}
        for path in sorted(work.ledger_dir.glob("*.json"))
    ]
    staged = pl.read_parquet(sorted(work.staged_dir.glob("*.parquet"))).sort("file_hash", "source_row")
    return done, ledgers, staged


def test_this_process_and_a_pool_stage_what_one_process_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _landing(tmp_path / "landing")
    small_batches = pipeline.ingest_batches
    monkeypatch.setattr(pipeline, "ingest_batches", lambda files: small_batches(files, FILES_PER_BATCH))

    done_alone, ledgers_alone, staged_alone = _night(tmp_path, "alone", processes=1)
    done_shared, ledgers_shared, staged_shared = _night(tmp_path, "shared", processes=2)

    assert done_alone == [2, 4, 6, 8, 9]
    assert sorted(done_shared) == done_shared and done_shared[-1] == 9 and len(done_shared) == 5
    assert ledgers_shared == ledgers_alone
    assert [ledger["status"] for ledger in ledgers_alone].count("loaded") == 8
    assert staged_shared.equals(staged_alone)
    assert staged_alone.height == sum(range(1, 5)) + sum(range(5, 9))
