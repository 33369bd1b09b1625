"""Staging a batch of export files, and the worker processes `vaxsync run` stages batches in.

This module imports only what staging needs (transforms.ingest and vaxsync.core): a worker is a light
process (vaxsync.core.light_process: a fresh interpreter, not a multiprocessing child re-importing the
CLI) that imports it alone, ~0.3 CPU s, and stages the (settings, batch) requests it is sent. The settings
travel as a plain StagingSettings (the three values staging reads), so the worker never imports pydantic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from transforms.ingest import stage_exports, stop_workbook_reader
from vaxsync.core.light_process import LightProcess
from vaxsync.core.light_process import serve as serve_requests
from vaxsync.core.workdir import STAGED_PARQUET_OPTIONS, RunWorkDir, WorkDirSettings, read_json, write_json

if TYPE_CHECKING:  # the worker process never imports it (pydantic, ~0.15 CPU s)
    from vaxsync.core.settings import Settings

StageResult = dict[str, Any]


class IngestSettings(WorkDirSettings, Protocol):
    """What staging reads of the settings: Settings in the caller's process, StagingSettings in a worker's."""

    @property
    def landing_dir(self) -> Path: ...

    @property
    def landing_file_max_bytes(self) -> int: ...


@dataclass(frozen=True)
class StagingSettings:
    """The settings' values staging reads, as sent to a worker (a plain object: no pydantic to import)."""

    landing_dir: Path
    run_work_dir: Path
    landing_file_max_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> StagingSettings:
        return cls(settings.landing_dir, settings.run_work_dir, settings.landing_file_max_bytes)


def discovered_hashes(work: RunWorkDir) -> dict[str, str]:
    """source_file -> content hash, as discovery computed them for this night."""
    return {entry["source_file"]: entry["file_hash"] for entry in read_json(work.discovered_file)}


def ingest_exports(settings: IngestSettings, source_files: list[str]) -> list[StageResult]:
    """Stage a batch of export files in this process; one ledger summary per file.

    A batch per task spares a task (and a process start) per file, and the usual text files of a batch
    are read together (transforms.ingest.batch_staging); the files' outputs are independent, so any
    split into batches stages the same rows."""

    work = RunWorkDir(settings)
    hashes = discovered_hashes(work)  # hashed once, at discovery
    started = time.perf_counter()
    staged_files = stage_exports(
        settings.landing_dir,
        [(name, hashes[name]) for name in source_files],
        max_file_bytes=settings.landing_file_max_bytes,
    )
    # files are staged together: each gets an equal share of the batch's time (run.json has one writer
    # per stage, and ingest runs in parallel tasks)
    ingest_seconds = round((time.perf_counter() - started) / max(len(source_files), 1), 3)
    # One parquet file for the batch's rows (each file's ~1 ms of fixed writing cost, 739 times a night)
    loaded_rows = [staged.rows for staged in staged_files if staged.rows is not None]
    if loaded_rows:
        batch_file = work.staged_batch_file([hashes[name] for name in source_files])
        pl.concat(loaded_rows).write_parquet(batch_file, **STAGED_PARQUET_OPTIONS)
    results = []
    for source_file, staged in zip(source_files, staged_files, strict=True):
        file_hash = hashes[source_file]
        write_json(work.ledger_file(file_hash), {**staged.ledger, "ingest_seconds": ingest_seconds})
        results.append(
            {
                "file_hash": file_hash,
                "status": staged.ledger["status"],
                "quarantine_reason": staged.ledger["quarantine_reason"],
                "rows_read": staged.ledger["rows_read"],
            }
        )
    return results


class IngestWorker:
    """One worker process (vaxsync.core.light_process); requests are answered in the order they were sent."""

    def __init__(self) -> None:
        self.helper = LightProcess(__name__)  # its serve() stops the workbook reader on the way out
        self.process = self.helper.process

    @property
    def pending(self) -> int:
        return self.helper.pending

    def fileno(self) -> int:
        """Its answers' pipe (for select)."""
        return self.helper.fileno()

    def submit(self, settings: Settings, source_files: list[str]) -> None:
        self.helper.submit(ingest_exports, StagingSettings.of(settings), source_files)

    def result(self) -> list[StageResult]:
        """The answer to the oldest request (waits for it); re-raises the error the worker met."""
        return list(self.helper.result())

    def close(self) -> None:
        """Let it finish (its stdin closed, it stops its workbook reader and exits); kill it if stuck."""
        self.helper.close()


def serve() -> None:
    """The worker's loop: stage each requested batch until stdin closes."""
    try:
        serve_requests()
    finally:
        stop_workbook_reader()
