"""Staging a batch of export files, and the worker processes `vaxsync run` stages batches in.

This module imports only what staging needs (transforms.ingest and vaxsync.core): a worker is a fresh
interpreter that imports it alone, ~0.5 CPU s. A multiprocessing "spawn" worker imports the parent's
main module before its job (under `vaxsync run` the console script: the whole CLI and pipeline, ~1.3
CPU s), and "fork" is unsafe once polars' thread pool runs. A worker takes (settings, batch) requests
on its stdin and answers each, in order, on its stdout.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from typing import IO, Any

import polars as pl

from transforms.ingest import stage_exports, stop_workbook_reader
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import STAGED_PARQUET_OPTIONS, RunWorkDir, read_json, write_json

StageResult = dict[str, Any]
# The worker's interpreter takes the parent's import path (as multiprocessing's spawn does), then this module.
_WORKER_MAIN = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from vaxsync.orchestration.ingest_worker import serve; serve()"
)
LENGTH_BYTES = 8


def discovered_hashes(work: RunWorkDir) -> dict[str, str]:
    """source_file -> content hash, as discovery computed them for this night."""
    return {entry["source_file"]: entry["file_hash"] for entry in read_json(work.discovered_file)}


def ingest_exports(settings: Settings, source_files: list[str]) -> list[StageResult]:
    """Stage a batch of export files in this process; one ledger summary per file.

    A batch per task spares a task (and a process start) per file, and the usual text files of a batch
    are read together (transforms.ingest.batch_staging); the files' outputs are independent, so any
    split into batches stages the same rows."""

    work = RunWorkDir(settings)
    hashes = discovered_hashes(work)  # hashed once, at discovery
    started = time.perf_counter()
    staged_files = stage_exports(settings.landing_dir, [(name, hashes[name]) for name in source_files])
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
    """One worker process; requests are answered in the order they were sent."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_MAIN, json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # unbuffered: an answer select() saw is never left waiting in a buffer
        )
        self.pending = 0

    def fileno(self) -> int:
        """Its answers' pipe (for select)."""
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def submit(self, settings: Settings, source_files: list[str]) -> None:
        assert self.process.stdin is not None
        _write_message(self.process.stdin, pickle.dumps((settings, source_files)))
        self.pending += 1

    def result(self) -> list[StageResult]:
        """The answer to the oldest request (waits for it); re-raises the error the worker met."""
        assert self.process.stdout is not None
        message = _read_message(self.process.stdout)
        if message is None:
            raise RuntimeError(f"an ingest worker process stopped (exit code {self.process.wait()})")
        self.pending -= 1
        outcome, value = pickle.loads(message)
        if outcome == "error":
            raise value
        return list(value)

    def close(self) -> None:
        """Let it finish (its stdin closed, it stops its workbook reader and exits); kill it if stuck."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def serve() -> None:
    """The worker's loop: stage each requested batch until stdin closes."""
    # Ctrl-C reaches the whole process group: the run's process stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    # Answers go to a copy of stdout; what else writes to stdout (a library's print) goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        while (message := _read_message(requests)) is not None:
            settings, source_files = pickle.loads(message)
            try:
                reply: tuple[str, Any] = ("ok", ingest_exports(settings, source_files))
            except Exception as error:  # the parent raises it, as it would have in its own process
                reply = ("error", error)
            try:
                answer = pickle.dumps(reply)
            except Exception:  # an error that cannot be pickled: its type is enough
                answer = pickle.dumps(("error", RuntimeError(f"ingest worker: {type(reply[1]).__name__}")))
            _write_message(answers, answer)
    finally:
        stop_workbook_reader()


def _write_message(stream: IO[bytes], payload: bytes) -> None:
    message = memoryview(len(payload).to_bytes(LENGTH_BYTES, "big") + payload)
    while message:  # an unbuffered pipe may take part of it
        message = message[stream.write(message) or 0 :]
    stream.flush()


def _read_message(stream: IO[bytes]) -> bytes | None:
    """One length-prefixed message; None at the end of the stream."""
    header = _read_exactly(stream, LENGTH_BYTES)
    return None if header is None else _read_exactly(stream, int.from_bytes(header, "big"))


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)  # an unbuffered pipe may give less
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
