"""Shared fixtures. Tests are marked by folder: tests/unit -> unit, tests/integration -> integration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays a fixed set of examples, so a landing is judged on the code, not on a draw; local runs keep
# exploring new examples (and the .hypothesis database replays what they found).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "samples"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO_ROOT / "tests").parts
        if parts[0] == "unit":
            item.add_marker(pytest.mark.unit)
        elif parts[0] == "integration":
            item.add_marker(pytest.mark.integration)
        else:
            raise pytest.UsageError(f"test outside tests/unit or tests/integration: {item.nodeid}")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES_DIR.exists():
        pytest.skip("../shared/samples is not beside this checkout")
    return SAMPLES_DIR
