"""The landing folder: which files are there, and what each file's content is (its hash)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

# A byte of a file name that is not UTF-8, as the ledger writes it (Python's backslashreplace).
_ESCAPED_BYTE = re.compile(rb"\\x([0-9a-f]{2})")


def list_landed_files(landing_dir: Path) -> list[str]:
    """Every regular file under `landing_dir` as a sorted posix path relative to it.

    Junk, lock files and empty files are listed too: each must reach the ledger. A name that is not
    UTF-8 (a Windows client writing CP1258 or CP437 names) is listed with its odd bytes as `\\xe1`, a
    text the ledger can hold; `landed_path` finds the file again. A link to a folder outside the landing
    folder (`79 -> /srv/sftp/79`) is listed as one entry, which ingest quarantines unread: its files
    are not read (see `outside_landing`), and the ledger says so instead of leaving them unseen.
    """
    return sorted(
        _printable_name(path.relative_to(landing_dir).as_posix())
        for path in landing_dir.rglob("*")
        if path.is_file() or (path.is_dir() and outside_landing(landing_dir, path))
    )


def landed_path(landing_dir: Path, source_file: str) -> Path:
    """The file a listed name stands for (its escaped bytes restored when no file has the name as is)."""
    path = landing_dir / source_file
    if "\\x" not in source_file or path.exists():
        return path
    raw = _ESCAPED_BYTE.sub(lambda byte: bytes([int(byte[1], 16)]), source_file.encode("utf-8"))
    return landing_dir / os.fsdecode(raw)


def outside_landing(landing_dir: Path, path: Path) -> bool:
    """Whether a landed path is a link to a file or folder outside the landing folder. It is never read:
    a link dropped by an uploader would otherwise publish (and show in reports) whatever the night's
    account may read, e.g. another province's exports."""
    return path.is_symlink() and not path.resolve().is_relative_to(landing_dir.resolve())


def unreadable_file_key(source_file: str) -> str:
    """The ledger's file_hash for a landed file that cannot be read (permissions): the same for the
    path each night, so its quarantine is recorded once; the file's real content, once readable, has
    another hash and is read as new."""
    return hashlib.sha256(f"unreadable file\0{source_file}".encode()).hexdigest()


# Why a landed file is left for a later night (the deferred_files ledger's reason), by the rule that saw it.
MODIFIED_RECENTLY = "modified_recently"
CHANGED_DURING_DISCOVERY = "changed_during_discovery"
GONE_DURING_DISCOVERY = "gone_during_discovery"

LandedStat = tuple[int, int]  # (size in bytes, modification time in ns)


def landed_file_stat(landing_dir: Path, source_file: str) -> LandedStat | None:
    """Size and modification time of a listed file (of the link itself, for a link), or None if gone."""
    try:
        stat = landed_path(landing_dir, source_file).lstat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def settling_reason(stat: LandedStat | None, listed_at_ns: int, settle_seconds: float) -> str | None:
    """Why a file, as listed, may still be being written (an upload in progress): gone, or modified
    less than settle_seconds before the listing. None: it has settled and is read tonight. A time further
    ahead than the window is a wrong clock (a facility PC's, kept by the copy), not an upload: deferring
    it would defer it every night; a write under way is still caught by the discovery window."""
    if stat is None:
        return GONE_DURING_DISCOVERY
    window_ns = int(settle_seconds * 1e9)
    if listed_at_ns - window_ns < stat[1] < listed_at_ns + window_ns:
        return MODIFIED_RECENTLY
    return None


def changed_reason(before: LandedStat, after: LandedStat | None) -> str | None:
    """Why a file hashed during discovery cannot be trusted: it changed, or went, meanwhile."""
    if after is None:
        return GONE_DURING_DISCOVERY
    return CHANGED_DURING_DISCOVERY if after != before else None


def _printable_name(name: str) -> str:
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def file_content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (hex), read in chunks: identifies a file version."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
