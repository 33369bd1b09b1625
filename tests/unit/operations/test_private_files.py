"""Personal data on disk is owner-only; work folders of published nights do not stay forever."""

from __future__ import annotations

import datetime as dt
import os
import stat
import time
from pathlib import Path

import pytest
from operations_builders import write_registry

from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, expired_work_dirs, remove_work_dirs, write_json
from vaxsync.marts.warehouse import connect


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def wide_umask() -> object:
    previous = os.umask(0o022)  # what a service account usually has: 0644 files, 0755 folders
    yield
    os.umask(previous)


def test_the_work_folder_and_its_files_are_owner_only(tmp_path: Path, wide_umask: object) -> None:
    settings = Settings(warehouse_path=tmp_path / "wh" / "warehouse.duckdb", as_of=dt.date(2023, 1, 31))
    work = RunWorkDir(settings)
    work.reset()
    write_json(work.run_file, {"run_id": "r"})
    (work.staged_dir / "x.parquet").write_bytes(b"PAR1")
    for folder in (settings.work_base_dir, work.root, work.staged_dir, work.ledger_dir):
        assert mode(folder) == 0o700, folder
    assert mode(work.run_file) == 0o600
    assert mode(work.staged_dir / "x.parquet") == 0o600


def test_the_warehouse_is_created_owner_only_and_an_old_one_is_tightened(
    tmp_path: Path, wide_umask: object
) -> None:
    created = tmp_path / "new.duckdb"
    with connect(created):
        pass
    assert mode(created) == 0o600
    old = tmp_path / "old.duckdb"
    with connect(old):
        pass
    old.chmod(0o644)
    with connect(old):
        pass
    assert mode(old) == 0o600


def test_the_registry_cache_is_owner_only(tmp_path: Path, wide_umask: object) -> None:
    from vaxsync.marts.registry_cache import cache_dir, make_cache_private, prepared_registry

    settings = Settings(
        registry_path=write_registry(tmp_path / "registry.parquet"),
        warehouse_path=tmp_path / "warehouse.duckdb",
    )
    prepared_registry(settings, snapshot_hash="abc").collect()
    folder = cache_dir(settings)
    assert mode(folder) == 0o700
    assert [mode(path) for path in folder.iterdir()] == [0o600]
    legacy = folder / "old.parquet"
    legacy.write_bytes(b"PAR1")
    legacy.chmod(0o644)
    folder.chmod(0o755)
    make_cache_private(settings)
    assert (mode(folder), mode(legacy)) == (0o700, 0o600)


def test_work_folders_of_published_nights_are_removed_after_the_retention(tmp_path: Path) -> None:
    base = tmp_path / "work"
    now = time.time()
    ages_in_days = {"2023-01-01": 30, "2023-01-20": 2, "2023-01-02": 30, "notes": 30}
    for name, age in ages_in_days.items():
        folder = base / name
        folder.mkdir(parents=True)
        (folder / "run.json").write_text("{}", encoding="utf-8")
        os.utime(folder / "run.json", (now - age * 86_400, now - age * 86_400))
    published = [dt.date(2023, 1, 1), dt.date(2023, 1, 20)]  # 2023-01-02 never published: kept
    expired = expired_work_dirs(base, published, keep_days=7, now=now)
    assert [folder.name for folder in expired] == ["2023-01-01"]
    assert remove_work_dirs(expired) == 1
    assert sorted(path.name for path in base.iterdir()) == ["2023-01-02", "2023-01-20", "notes"]
    assert expired_work_dirs(base, published, keep_days=60, now=now) == []


def test_match_partition_files_are_owner_only(tmp_path: Path, wide_umask: object) -> None:
    import polars as pl

    from vaxsync.orchestration.storage import location, write_json, write_parquet

    folder = tmp_path / "match" / "p1"
    write_parquet(pl.DataFrame({"citizen_id": ["001200000001"]}), location(folder / "rows.parquet"))
    write_json(location(folder / "plan.json"), {"partitions": ["p1"]})
    assert (mode(folder), mode(folder / "rows.parquet"), mode(folder / "plan.json")) == (0o700, 0o600, 0o600)
    assert mode(tmp_path / "match") == 0o700


@pytest.fixture
def shared_folder(tmp_path: Path) -> Path:
    """A folder others use too, as /tmp is (sticky, world-writable)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def test_folders_the_operator_names_are_never_tightened(
    tmp_path: Path, shared_folder: Path, wide_umask: object
) -> None:
    """`--warehouse /tmp/wh.duckdb` made /tmp 0700 (and `--decisions` a shared upload folder): only what
    vaxsync creates is made owner-only."""
    from vaxsync.marts.decision_files import prepare_province_folders
    from vaxsync.marts.decision_tokens import decision_secret

    settings = Settings(warehouse_path=shared_folder / "warehouse.duckdb", as_of=dt.date(2023, 1, 31))
    decision_secret(settings)
    RunWorkDir(settings).reset()
    RunWorkDir(settings.model_copy(update={"work_dir": shared_folder})).reset()
    prepare_province_folders(shared_folder, ["01"])
    assert mode(shared_folder) == 0o1777
    assert mode(shared_folder / "decision_secret") == 0o600
    created = [
        shared_folder / "work",
        settings.run_work_dir,
        shared_folder / "2023-01-31",
        shared_folder / "01",
    ]
    assert [mode(folder) for folder in created] == [0o700] * len(created)


def test_folders_vaxsync_names_are_tightened(tmp_path: Path, wide_umask: object) -> None:
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb", as_of=dt.date(2023, 1, 31))
    work = RunWorkDir(settings)
    work.reset()
    work.staged_dir.chmod(0o755)  # left wider by an older version
    work.reset()
    assert mode(work.staged_dir) == 0o700


def test_a_dated_folder_no_night_made_is_never_deleted(tmp_path: Path) -> None:
    """`--work-dir ~` beside the operator's own `~/2023-01-31`: the night refuses, and retention skips it."""
    from vaxsync.core.errors import InputError

    settings = Settings(warehouse_path=tmp_path / "wh.duckdb", work_dir=tmp_path, as_of=dt.date(2023, 1, 31))
    own = tmp_path / "2023-01-31" / "photos.txt"
    own.parent.mkdir()
    own.write_text("mine")
    with pytest.raises(InputError, match="nothing a vaxsync night wrote"):
        RunWorkDir(settings).reset()
    old = time.time() - 90 * 86_400
    os.utime(own.parent, (old, old))
    assert expired_work_dirs(tmp_path, [dt.date(2023, 1, 31)], keep_days=7) == []
    assert own.read_text() == "mine"


def test_a_nights_own_folder_is_replaced_even_after_a_crash(tmp_path: Path) -> None:
    settings = Settings(warehouse_path=tmp_path / "wh.duckdb", as_of=dt.date(2023, 1, 31))
    work = RunWorkDir(settings)
    work.reset()  # a night that crashed before writing run.json left this skeleton
    work.reset()
    write_json(work.run_file, {"run_id": "r"})
    (work.staged_dir / "x.parquet").write_bytes(b"PAR1")
    work.reset()
    assert not (work.staged_dir / "x.parquet").exists()
