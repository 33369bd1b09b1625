"""A snapshot's caches built in the background (vaxsync run, beside ingest): the same files the stages
would build, a failed build raised where it is waited for (no cache file left), nothing rebuilt on a
later night, and run_nightly waiting for the surname statistics before normalize and for the rest
before match (a small snapshot's rest built beside normalize)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from operations_builders import registry_frame, write_registry
from polars.testing import assert_frame_equal

import vaxsync.marts.registry_cache as registry_cache
from matching.model import load_model
from transforms.ingest.landing import file_content_hash
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, write_json
from vaxsync.marts.registry_cache import (
    cache_dir,
    encoded_registry_files,
    prepare_snapshot,
    prepared_registry,
    prepared_registry_file,
    registry_surname_statistics,
    start_preparing_snapshot,
    surname_statistics_file,
)
from vaxsync.orchestration import pipeline

SNAPSHOT = "snapshot-hash"  # where no cache is built (a faked preparation)


def _snapshot(settings: Settings) -> str:
    """The registry's content hash, as discovery records it: a build checks the file still holds it."""
    return file_content_hash(settings.registry_path)


def _settings(folder: Path, citizens: int = 40) -> Settings:
    return Settings(
        registry_path=write_registry(folder / "registry.parquet", registry_frame(citizens)),
        warehouse_path=folder / "warehouse" / "warehouse.duckdb",
        as_of=dt.date(2023, 1, 31),
    )


def test_the_background_builds_the_files_the_stages_would_build(tmp_path: Path) -> None:
    background = _settings(tmp_path / "background")
    foreground = _settings(tmp_path / "foreground")

    start_preparing_snapshot(background, snapshot_hash=_snapshot(background)).wait()

    records, words = encoded_registry_files(
        background, snapshot_hash=_snapshot(background), model=load_model()
    )
    assert records.is_file() and words.is_file()
    assert registry_surname_statistics(
        background, snapshot_hash=_snapshot(background)
    ) == registry_surname_statistics(foreground, snapshot_hash=_snapshot(foreground))
    assert_frame_equal(
        prepared_registry(background, snapshot_hash=_snapshot(background)).collect(),
        prepared_registry(foreground, snapshot_hash=_snapshot(foreground)).collect(),
    )
    assert not list(cache_dir(background).glob(".*.tmp"))  # every temporary file was renamed


def test_the_registry_names_are_repaired_once_for_the_statistics_and_the_prepared_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    repaired_texts: list[int] = []
    repair = registry_cache.registry_name_repairs

    def counted(registry: pl.LazyFrame) -> pl.DataFrame:
        repaired = repair(registry)
        repaired_texts.append(repaired.height)
        return repaired

    monkeypatch.setattr(registry_cache, "registry_name_repairs", counted)
    monkeypatch.setattr("transforms.registry.registry_name_repairs", counted)
    monkeypatch.setattr("transforms.normalize.names.repaired_names", _never_called)

    assert prepare_snapshot(settings, snapshot_hash=_snapshot(settings)) is True

    assert len(repaired_texts) == 1
    assert prepared_registry(settings, snapshot_hash=_snapshot(settings)).collect().height == 40


def _never_called(*arguments: object, **options: object) -> pl.LazyFrame:
    raise AssertionError("the registry's names were repaired a second time")


def test_a_failed_build_is_raised_where_it_is_waited_for_and_leaves_no_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)

    def broken(frame: pl.LazyFrame, **options: object) -> pl.LazyFrame:
        raise OSError("disk full")

    monkeypatch.setattr(registry_cache, "prepare_registry", broken)
    preparation = start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings))

    with pytest.raises(OSError, match="disk full"):
        preparation.wait()
    assert not prepared_registry_file(settings, snapshot_hash=_snapshot(settings)).exists()
    assert not list(cache_dir(settings).glob(".*.tmp"))
    monkeypatch.undo()  # the night run again: the stage builds the file itself
    assert prepared_registry(settings, snapshot_hash=_snapshot(settings)).collect().height == 40


def test_a_later_night_of_the_snapshot_builds_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings)).wait()
    modified = {path: path.stat().st_mtime_ns for path in cache_dir(settings).iterdir()}

    start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings)).wait()

    assert prepare_snapshot(settings, snapshot_hash=_snapshot(settings)) is False
    assert {path: path.stat().st_mtime_ns for path in cache_dir(settings).iterdir()} == modified


def test_the_dag_task_builds_the_caches_of_the_night_s_snapshot(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    work = RunWorkDir(settings)
    work.reset()
    write_json(work.run_file, {"registry_hash": _snapshot(settings)})

    assert pipeline.prepare_registry_snapshot(settings) == {"registry_caches_built": True}
    assert prepared_registry_file(settings, snapshot_hash=_snapshot(settings)).is_file()
    assert pipeline.prepare_registry_snapshot(settings) == {"registry_caches_built": False}


def test_a_missing_file_of_the_encoding_is_built_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings)).wait()
    records, _ = encoded_registry_files(settings, snapshot_hash=_snapshot(settings), model=load_model())
    records.unlink()

    start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings)).wait()

    assert records.is_file()
    assert surname_statistics_file(settings, snapshot_hash=_snapshot(settings)).is_file()


def test_run_nightly_waits_for_the_statistics_before_normalize_and_the_rest_before_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    events: list[str] = []
    built = threading.Event()

    class Preparation:
        def wait_before_normalize(self) -> None:
            assert built.wait(5)
            events.append("statistics ready")

        def wait(self) -> None:
            events.append("caches ready")

    def start(settings: Settings, *, snapshot_hash: str) -> Preparation:
        events.append(f"preparing {snapshot_hash}")
        threading.Timer(0.1, built.set).start()
        return Preparation()

    def discover(settings: Settings, **options: object) -> list[str]:
        work = RunWorkDir(settings)
        work.reset()
        counts = {"files_landed": 0, "files_already_in_ledger": 0}
        write_json(work.run_file, {"registry_hash": SNAPSHOT, "stage_counts": {"discover": counts}})
        return []

    def stage(name: str, result: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            events.append(name)
            return result

        return run

    monkeypatch.setattr(pipeline, "_check_inputs", lambda settings: None)
    monkeypatch.setattr(pipeline, "start_preparing_snapshot", start)
    monkeypatch.setattr(pipeline, "discover_new_exports", discover)
    monkeypatch.setattr(pipeline, "_ingest_all", stage("ingest", iter([])))
    monkeypatch.setattr(pipeline, "_record_stage_time", lambda *args: None)
    monkeypatch.setattr(pipeline, "normalize_batch", stage("normalize", {}))
    monkeypatch.setattr(pipeline, "plan_match_partitions", stage("match", []))
    monkeypatch.setattr(pipeline, "combine_matches", stage("combine", {}))
    monkeypatch.setattr(pipeline, "publish_batch", stage("publish", {}))
    monkeypatch.setattr(pipeline, "report_batch", stage("report", {}))
    monkeypatch.setattr(pipeline, "_shots_citizen_not_in_snapshot", lambda settings: 0)

    pipeline.run_nightly(settings)

    assert events == [
        f"preparing {SNAPSHOT}", "ingest", "statistics ready", "normalize", "caches ready", "match", "combine",
        "publish", "report",
    ]  # fmt: skip


def test_a_small_snapshot_s_statistics_are_ready_before_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    statistics_file = surname_statistics_file(settings, snapshot_hash=_snapshot(settings))
    release = threading.Event()
    encode = registry_cache.encode_registry

    def held(*arguments: Any, **options: Any) -> Any:
        assert release.wait(5)
        return encode(*arguments, **options)

    monkeypatch.setattr(registry_cache, "encode_registry", held)
    monkeypatch.setattr(registry_cache, "OVERLAP_NORMALIZE_MAX_CITIZENS", 40)
    preparation = start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings))
    assert preparation.overlaps_normalize

    preparation.wait_before_normalize()  # returns while the encoding is still held

    assert statistics_file.is_file() and not preparation.built.done()
    release.set()
    preparation.wait()
    records, words = encoded_registry_files(settings, snapshot_hash=_snapshot(settings), model=load_model())
    assert records.is_file() and words.is_file()


def test_a_large_snapshot_is_built_whole_before_normalize(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    monkeypatch.setattr(registry_cache, "OVERLAP_NORMALIZE_MAX_CITIZENS", 39)

    preparation = start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings))
    preparation.wait_before_normalize()

    assert not preparation.overlaps_normalize
    assert preparation.built.done() and preparation.built.exception() is None


def test_a_build_failing_before_the_statistics_is_raised_before_normalize(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)

    def broken(registry: pl.LazyFrame) -> pl.DataFrame:
        raise OSError("disk full")

    monkeypatch.setattr(registry_cache, "registry_name_repairs", broken)
    preparation = start_preparing_snapshot(settings, snapshot_hash=_snapshot(settings))

    with pytest.raises(OSError, match="disk full"):
        preparation.wait_before_normalize()
    with pytest.raises(OSError, match="disk full"):
        preparation.wait()
