"""The one place that finds reference data (vaccines, header synonyms, admin units, the matching model).

In a checkout it is `data/reference/`; the wheel carries the same files as `vaxsync/core/reference_data/`
(pyproject's force-include), so an installed vaxsync needs no checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "reference_data"
_CHECKOUT = Path(__file__).resolve().parents[2] / "data" / "reference"
REFERENCE_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def reference_path(name: str) -> Path:
    """A reference file by its name, e.g. `reference_path("vaccines.csv")`."""
    return REFERENCE_DIR / name
