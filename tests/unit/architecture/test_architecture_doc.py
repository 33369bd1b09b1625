"""docs/architecture.md is the map a newcomer reads first: every path it names exists, and every module of
the layer packages appears on it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAP = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
LAYER_PACKAGES = ("vaxsync/core", "vaxsync/marts", "vaxsync/reports", "vaxsync/orchestration")


def test_every_file_the_map_names_exists() -> None:
    named = set(
        re.findall(r"`((?:vaxsync|transforms|matching|validation|synth|data|docs|dags)/[\w./-]+)", MAP)
    )
    missing = sorted(path for path in named if not (ROOT / path.rstrip("/")).exists())
    assert named and not missing, missing


def test_every_module_of_the_layer_packages_is_on_the_map() -> None:
    modules = {
        path.stem
        for package in LAYER_PACKAGES
        for path in (ROOT / package).glob("*.py")
        if path.stem != "__init__"
    }
    absent = sorted(name for name in modules if not re.search(rf"\b{name}\b", MAP))
    assert not absent, absent
