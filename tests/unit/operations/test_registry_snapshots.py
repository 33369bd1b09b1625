"""Registry snapshots an operator may pass by mistake: one older than the last night's is refused in one
line (unless forced); the same snapshot under another name is the same snapshot; one rewritten while the
night reads it publishes nothing and leaves no cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from operations_builders import assert_one_line_error, invoke, registry_frame, run_args, write_registry

from transforms.ingest.landing import file_content_hash
from vaxsync.core.errors import InputError
from vaxsync.core.settings import Settings
from vaxsync.marts.registry_cache import cache_dir, prepare_snapshot
from vaxsync.marts.warehouse import connect
from vaxsync.orchestration import pipeline


def night(tmp_path: Path, registry: Path, as_of: str, *extra: str) -> object:
    return invoke(run_args(tmp_path, "--as-of", as_of, *extra, registry=registry))


def test_a_snapshot_older_than_the_last_nights_is_refused_unless_forced(tmp_path: Path) -> None:
    older = write_registry(tmp_path / "snapshots" / "2023-01.parquet", registry_frame(3))
    newer = write_registry(tmp_path / "snapshots" / "2023-02.parquet", registry_frame(4))
    assert night(tmp_path, older, "2023-01-30").exit_code == 0
    assert night(tmp_path, newer, "2023-01-31").exit_code == 0

    line = assert_one_line_error(
        night(tmp_path, older, "2023-02-01"), "older than the snapshot of the last night"
    )
    assert "2023-01-30" in line and "--force" in line
    renamed = shutil.copy(newer, tmp_path / "snapshots" / "latest.parquet")  # same content, new name
    assert night(tmp_path, Path(renamed), "2023-02-01").exit_code == 0
    assert night(tmp_path, older, "2023-02-02", "--force").exit_code == 0


def test_a_snapshot_rewritten_during_the_night_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An export job writing the next snapshot in place while the night runs. On main: matched against the
    # one, published against the other (exit 0), or a polars traceback when read half-written.
    registry = write_registry(tmp_path / "registry.parquet", registry_frame(3))
    combine = pipeline.combine_matches

    def combine_then_rewrite(settings: Settings) -> object:
        counts = combine(settings)
        registry.write_bytes(registry.read_bytes()[: registry.stat().st_size // 2])  # half written
        return counts

    monkeypatch.setattr(pipeline, "combine_matches", combine_then_rewrite)
    result = night(tmp_path, registry, "2023-01-31")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]  # after the stage lines that ran (stderr is not a terminal)
    assert last.startswith("error: registry snapshot changed while the night read it"), last
    with connect(tmp_path / "wh" / "warehouse.duckdb") as connection:
        assert connection.execute("select count(*) from pipeline_runs").fetchall() == [(0,)]
        assert connection.execute("select count(*) from synced_shots").fetchall() == [(0,)]


def test_caches_built_while_the_snapshot_changed_are_not_kept(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.parquet", registry_frame(3))
    settings = Settings(registry_path=registry, warehouse_path=tmp_path / "wh" / "warehouse.duckdb")
    hashed_at_discovery = file_content_hash(registry)
    write_registry(registry, registry_frame(4))  # replaced whole before the caches were built
    with pytest.raises(InputError, match="changed while the night read it"):
        prepare_snapshot(settings, snapshot_hash=hashed_at_discovery)
    assert not list(cache_dir(settings).glob(f"{hashed_at_discovery}*"))  # the 4 citizens, under the 3's hash
