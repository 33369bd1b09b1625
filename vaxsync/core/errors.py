"""Errors an operator can act on: the CLI prints each as one line and exits 2, never a traceback."""

from __future__ import annotations

import errno


class OperatorError(Exception):
    """Something the person running the night can fix (an argument, a file, a lock, the disk)."""


class InputError(OperatorError):
    """An argument the run cannot use (missing registry, unwritable warehouse, wrong as-of)."""


class WarehouseLockedError(OperatorError):
    """Another process holds the warehouse open for writing and did not let go in time."""


def no_space_left(error: BaseException) -> bool:
    """Whether the error, or any error it was raised from or during, is a full disk.

    DuckDB reports it as an IOException whose text carries the OS message; the rollback that follows a
    failed commit then raises "no transaction is active", with the real cause in its __context__."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        if "no space left on device" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False
