"""The landing folder: which files are there, and what each file's content is (its hash)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def list_landed_files(landing_dir: Path) -> list[str]:
    """Every regular file under `landing_dir` as a sorted posix path relative to it.

    Junk, lock files and empty files are listed too: each must reach the ledger.
    """
    return sorted(
        path.relative_to(landing_dir).as_posix() for path in landing_dir.rglob("*") if path.is_file()
    )


def file_content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (hex), read in chunks: identifies a file version."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
