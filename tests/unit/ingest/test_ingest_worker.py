"""Ingest's worker processes: light to start, and their errors are raised in the run's process."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from ingest_export_files import VN_HEADER, export_rows, render_delimited, write

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.orchestration import pipeline
from vaxsync.orchestration.ingest_worker import IngestWorker, StagingSettings

# What staging never needs: a worker importing any of these pays for the whole application.
HEAVY_MODULES = (
    "duckdb",
    "great_expectations",
    "matching",
    "validation",
    "vaxsync.marts",
    "vaxsync.reports",
    "vaxsync.orchestration.pipeline",
    "vaxsync.orchestration.cli",
    # the normalize stage (staging reads two of its rule modules, text and dates) and what it loads
    "transforms.normalize.shots",
    "transforms.normalize.reference",
    "numpy",
    # the settings' model (the worker is sent a plain StagingSettings), and ftfy (only the few misread
    # files need it: imported where it is used)
    "pydantic",
    "pydantic_settings",
    "vaxsync.core.settings",
    "ftfy",
)


def _settings(tmp_path: Path) -> Settings:
    registry = tmp_path / "registry.parquet"
    one_citizen = {"citizen_id": "001280000001", "full_name": "Nguyễn Văn A", "birth_year": 1980, "sex": "M"}
    pl.DataFrame([one_citizen], schema=REGISTRY_SCHEMA).write_parquet(registry)
    return Settings(
        registry_path=registry,
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / "night" / "warehouse.duckdb",
        reports_dir=tmp_path / "night" / "reports",
        as_of=dt.date(2023, 1, 31),
        ingest_processes=2,
    )


def test_the_worker_module_imports_only_what_staging_needs() -> None:
    probe = (
        "import json, sys; import vaxsync.orchestration.ingest_worker; "
        f"print(json.dumps(sorted(m for m in {list(HEAVY_MODULES)!r} if m in sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert json.loads(loaded.stdout) == []


def test_a_worker_stages_a_batch_and_stops_when_told(tmp_path: Path) -> None:
    write(tmp_path / "landing", "a.csv", render_delimited([VN_HEADER, *export_rows(3)]))
    settings = _settings(tmp_path)
    files = pipeline.discover_new_exports(settings)

    worker = IngestWorker()
    worker.submit(settings, files)
    results = worker.result()
    worker.close()

    assert [(result["status"], result["rows_read"]) for result in results] == [("loaded", 3)]
    assert worker.pending == 0 and worker.process.returncode == 0


def test_a_workers_error_is_raised_here_and_stops_the_workers(tmp_path: Path) -> None:
    for count in range(1, 4):
        write(tmp_path / "landing", f"export_{count}.csv", render_delimited([VN_HEADER, *export_rows(count)]))
    settings = _settings(tmp_path)
    files = pipeline.discover_new_exports(settings)
    started: list[IngestWorker] = []

    class RecordedWorker(IngestWorker):
        def __init__(self) -> None:
            super().__init__()
            started.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "IngestWorker", RecordedWorker)
        # the last batch (a worker's) names a file discovery never saw
        patch.setattr(pipeline, "ingest_batches", lambda names: [[name] for name in [*names, "unknown.csv"]])
        with pytest.raises(KeyError):
            list(pipeline._ingest_all(settings, files))

    assert len(started) == 1
    assert started[0].process.poll() is not None  # not left running


def test_a_worker_is_sent_the_three_values_staging_reads(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    sent = StagingSettings.of(settings)

    assert sent == StagingSettings(
        landing_dir=tmp_path / "landing",
        run_work_dir=tmp_path / "night" / "work" / "2023-01-31",
        landing_file_max_bytes=settings.landing_file_max_bytes,
    )
