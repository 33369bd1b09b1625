"""The run's work folder: where stages hand Parquet and JSON to each other (one folder per as-of night).

Its files hold names, birth dates, IDs and phones: folders are 0700 and files 0600 (the stages run with
umask 077), and the folders of published nights are deleted after settings.work_retention_days.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from vaxsync.core.errors import InputError

OWNER_ONLY_UMASK = 0o077
RUN_FILE_NAME = "run.json"  # every night writes it first: a folder without it is no night's
# A staged batch file is written once and read whole once (by normalize): snappy and no column statistics
# write it in ~3/4 of the default's time.
STAGED_PARQUET_OPTIONS: dict[str, Any] = {"compression": "snappy", "statistics": False}


class WorkDirSettings(Protocol):
    """What the work folder needs of the settings: vaxsync.core.settings.Settings, or a plain object
    carrying its value (an ingest worker's, which then need not import pydantic)."""

    @property
    def run_work_dir(self) -> Path: ...


class RunWorkDir:
    """Named paths inside settings.run_work_dir; each stage overwrites its own outputs, so re-runs are safe."""

    def __init__(self, settings: WorkDirSettings) -> None:
        self.root = settings.run_work_dir
        # Every stage builds one of these before writing: what it creates from here on is owner-only
        # (Parquet writers, DuckDB spill and files, JSON). Stages run in their own processes.
        os.umask(OWNER_ONLY_UMASK)

    def reset(self) -> None:
        if self.root.exists():
            self._refuse_foreign_folder()
            shutil.rmtree(self.root)
        create_private_folder(self.root.parent)  # the work base may be the operator's --work-dir
        for folder in (self.root, self.staged_dir, self.ledger_dir, self.validation_dir):
            private_folder(folder)

    def _refuse_foreign_folder(self) -> None:
        """A night's folder is replaced only when it holds something a night writes (run.json, its staged,
        ledger or validation folder, normalized rows), or nothing: `--work-dir ~` must not delete
        someone's own `~/2023-01-31`."""
        written_by_a_night = {
            path.name
            for path in (self.run_file, self.discovered_file, self.staged_dir, self.ledger_dir,
                         self.validation_dir, self.normalized_file)
        }  # fmt: skip
        entries = {entry.name for entry in self.root.iterdir()}
        if not entries or entries & written_by_a_night:
            return
        raise InputError(
            f"work folder {self.root} exists and holds nothing a vaxsync night wrote (no run.json): "
            "give another --work-dir"
        )

    @property
    def run_file(self) -> Path:
        return self.root / RUN_FILE_NAME

    @property
    def discovered_file(self) -> Path:
        return self.root / "discovered.json"

    @property
    def staged_dir(self) -> Path:
        return self.root / "staged"

    @property
    def ledger_dir(self) -> Path:
        return self.root / "ledger"

    @property
    def validation_dir(self) -> Path:
        return self.root / "validation"

    @property
    def normalized_file(self) -> Path:
        return self.root / "normalized.parquet"

    @property
    def match_input_file(self) -> Path:
        """Tonight's normalized rows plus the open backlog rows re-matched against the current registry."""
        return self.root / "match_input.parquet"

    @property
    def decisions_file(self) -> Path:
        """The review decisions read tonight, validated: one row per decision line (the audit rows)."""
        return self.root / "review_decisions.parquet"

    @property
    def decision_lines_file(self) -> Path:
        """The filled decision lines of tonight's new decision files, as read (before validation)."""
        return self.root / "review_decision_lines.parquet"

    @property
    def decision_files_file(self) -> Path:
        return self.root / "review_decision_files.parquet"

    @property
    def matches_file(self) -> Path:
        return self.root / "matches.parquet"

    @property
    def review_candidates_file(self) -> Path:
        return self.root / "review_candidates.parquet"

    @property
    def published_file(self) -> Path:
        return self.root / "published.json"

    def staged_batch_file(self, file_hashes: list[str]) -> Path:
        """The staged rows of a batch of files (one parquet per batch: a file costs ~1 ms to write,
        whatever its size); each row's file_hash says which file it came from. Named by the batch's
        hashes, so a batch staged again replaces its own file."""
        batch = hashlib.sha256("\n".join(file_hashes).encode("ascii")).hexdigest()
        return self.staged_dir / f"{batch}.parquet"

    def staged_files(self) -> list[Path]:
        return sorted(self.staged_dir.glob("*.parquet")) if self.staged_dir.exists() else []

    def ledger_file(self, file_hash: str) -> Path:
        return self.ledger_dir / f"{file_hash}.json"


def write_json(path: Path, payload: Any) -> None:
    """Write atomically (temp file + rename), so a crashed task never leaves half a file behind."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def create_private_folder(folder: Path) -> Path:
    """Create the folder (and missing parents) owner-only; an existing one is left as it is.

    For folders the operator names (the warehouse's, --work-dir, --decisions, synth's --out): an existing
    one may be /tmp, /, a home or a shared upload folder, which tightening would break for everyone
    else (`--warehouse /tmp/wh.duckdb` made /tmp 0700). What vaxsync writes in it is owner-only anyway."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def private_folder(folder: Path) -> Path:
    """Create the folder (and missing parents) owner-only, and tighten it if it existed wider: for the
    folders vaxsync names itself (a night's work folders, the registry cache, a province's decisions)."""
    create_private_folder(folder)
    with contextlib.suppress(OSError):  # not ours to change: the files inside are still owner-only
        if folder.stat().st_mode & 0o077:
            folder.chmod(0o700)
    return folder


@contextlib.contextmanager
def owner_only_files() -> Iterator[None]:
    """Files created inside the block are 0600 and folders 0700, whatever the process umask was."""
    previous = os.umask(OWNER_ONLY_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def expired_work_dirs(
    base: Path, published_as_ofs: Iterable[dt.date], *, keep_days: int, now: float | None = None
) -> list[Path]:
    """Work folders of published nights untouched for more than keep_days days (their as-of was
    published, so the warehouse holds everything they fed it; a re-run would rebuild them)."""
    if not base.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - keep_days * 86_400
    published = {as_of.isoformat() for as_of in published_as_ofs}
    return sorted(
        folder
        for folder in base.iterdir()
        if folder.is_dir()
        and folder.name in published
        and (folder / RUN_FILE_NAME).is_file()  # a night's, not a folder of the operator's named by a date
        and (folder / RUN_FILE_NAME).stat().st_mtime < cutoff
    )


def remove_work_dirs(folders: Iterable[Path]) -> int:
    removed = 0
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


OWNER_ONLY = 0o600


def write_private(path: Path, content: bytes) -> Path:
    """Create or replace a file readable by its owner only (atomic rename of a 0600 temp file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.chmod(temporary, OWNER_ONLY)
    os.replace(temporary, path)
    return path
