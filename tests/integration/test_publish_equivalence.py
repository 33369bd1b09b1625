"""Publish's memory savings change nothing in the warehouse: a night published in normal mode (the event
steps' intermediate tables dropped) and in SQL debug mode (every step kept as a table) gives the same tables,
compared by scripts/compare_warehouses.py; publishing it again changes nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

import vaxsync.orchestration.pipeline as pipeline
from synth import SynthConfig, generate
from vaxsync.core.settings import Settings

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_warehouses.py"


def _compare_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_warehouses", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings(data: Path, run: Path, *, sql_debug: bool = False) -> Settings:
    return Settings(
        registry_path=data / "registry.parquet",
        landing_dir=data / "landing",
        warehouse_path=run / "warehouse.duckdb",
        reports_dir=run / "reports",
        decisions_dir=run / "decisions",
        as_of=dt.date(2023, 1, 31),
        sql_debug=sql_debug,
    )


def _matched_night(data: Path, run: Path) -> None:
    """Every stage before publish, as run_nightly runs them."""
    settings = _settings(data, run)
    files = pipeline.discover_new_exports(settings)
    for _ in pipeline._ingest_all(settings, files):
        pass
    pipeline.normalize_batch(settings)
    for partition in pipeline.plan_match_partitions(settings):
        pipeline.match_partition(settings, partition)
    pipeline.combine_matches(settings)


def test_normal_and_debug_publish_give_the_same_warehouse_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    generate(data, SynthConfig(citizens=3_000, shots=1_200, seed=23, snapshot_date=dt.date(2023, 1, 31)))
    _matched_night(data, tmp_path / "matched")
    shutil.copytree(tmp_path / "matched", tmp_path / "normal")
    shutil.copytree(tmp_path / "matched", tmp_path / "debug")
    pipeline.publish_batch(_settings(data, tmp_path / "normal"))
    pipeline.publish_batch(_settings(data, tmp_path / "debug", sql_debug=True))
    compare = _compare_script().compare
    normal = str(tmp_path / "normal" / "warehouse.duckdb")
    assert compare(normal, str(tmp_path / "debug" / "warehouse.duckdb"))
    shutil.copy(normal, tmp_path / "first.duckdb")
    pipeline.publish_batch(_settings(data, tmp_path / "normal"))  # the same night again
    assert compare(str(tmp_path / "first.duckdb"), normal)
