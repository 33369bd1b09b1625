"""Shared fixtures. Tests are marked by folder: tests/unit -> unit, tests/integration -> integration."""

from __future__ import annotations

from pathlib import Path

import pytest

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
