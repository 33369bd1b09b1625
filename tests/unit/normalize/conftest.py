"""Fixtures for the conformed-layer tests: the reference tables, loaded once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from transforms.normalize.reference import NormalizeReference, load_reference


@pytest.fixture(scope="session")
def reference() -> NormalizeReference:
    return load_reference()


@pytest.fixture(scope="session")
def sample_reference(samples_dir: Path) -> NormalizeReference:
    """The reference with the sample registry's surname statistics."""
    return load_reference(registry=pl.scan_parquet(samples_dir / "registry.parquet"))
