"""Fixtures for the run report tests; the night they build is in run_report_night.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_report_night import AS_OF, Night, write_night

from vaxsync.core.settings import Settings


@pytest.fixture
def night_settings(tmp_path: Path) -> Settings:
    return Settings(
        registry_path=tmp_path / "registry.parquet",
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / "warehouse.duckdb",
        reports_dir=tmp_path / "reports",
        as_of=AS_OF,
    )


@pytest.fixture
def night(night_settings: Settings) -> Night:
    """A published night: warehouse rows and the work folder the stages left."""
    return write_night(night_settings)
