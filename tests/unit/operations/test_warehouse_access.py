"""A warehouse held by another process: bounded retry, then a clear error; analysts read a copy."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import duckdb
import pytest
from operations_builders import assert_one_line_error, hold_lock, hold_night_lock, invoke, run_args
from typer.testing import CliRunner

from vaxsync.core.errors import WarehouseLockedError
from vaxsync.marts.warehouse import connect, night_lock
from vaxsync.orchestration.cli import app


def _warehouse_with_a_run(path: Path) -> Path:
    with connect(path) as connection:
        connection.execute(
            """insert into pipeline_runs by name select 'night-1' as run_id, date '2023-01-31' as as_of,
               'h' as registry_hash, 'l' as landing_hash, 3 as files_new, 0 as files_quarantined,
               10 as rows_in, 8 as rows_posted, 1 as rows_duplicate, 1 as rows_backlog,
               'published' as outcome, now() as started_at, now() as finished_at"""
        )
    return path


def test_opening_waits_for_the_holder_to_let_go(tmp_path: Path) -> None:
    warehouse = _warehouse_with_a_run(tmp_path / "warehouse.duckdb")
    holder = hold_lock(warehouse, 1.0)
    started = time.monotonic()
    try:
        with connect(warehouse, lock_wait_seconds=20) as connection:
            runs = connection.execute("select count(*) from pipeline_runs").fetchall()[0][0]
    finally:
        holder.wait()
    assert runs == 1
    assert time.monotonic() - started >= 0.3  # it did wait for the holder


def test_opening_gives_up_after_the_bounded_wait(tmp_path: Path) -> None:
    warehouse = _warehouse_with_a_run(tmp_path / "warehouse.duckdb")
    holder = hold_lock(warehouse, 30)
    started = time.monotonic()
    try:
        with (
            pytest.raises(WarehouseLockedError, match=f"PID {holder.pid}"),
            connect(warehouse, lock_wait_seconds=1),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert 0.8 <= time.monotonic() - started < 6


def test_a_second_night_on_the_warehouse_stops_in_one_line_before_any_work(tmp_path: Path) -> None:
    # Before the night lock, a second `vaxsync run` reset the first's work folder under it (a traceback
    # mid-match in the first) and both published.
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    holder = hold_night_lock(warehouse, 30)
    try:
        result = CliRunner().invoke(
            app,
            run_args(tmp_path, "--as-of", "2023-01-31", warehouse=warehouse),
            env={"VAXSYNC_WAREHOUSE_LOCK_WAIT_SECONDS": "1"},
        )
    finally:
        holder.kill()
        holder.wait()
    assert_one_line_error(result, "another night is running on this warehouse", f"PID {holder.pid}")
    assert not warehouse.exists()
    assert not (tmp_path / "wh" / "work").exists()


def test_the_night_lock_is_free_once_its_holder_is_gone(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_night_lock(warehouse, 30)
    holder.kill()  # killed, never released by its code: the system lets go of it
    holder.wait()
    started = time.monotonic()
    with night_lock(warehouse, lock_wait_seconds=5):
        assert time.monotonic() - started < 1
        with (
            pytest.raises(WarehouseLockedError, match="another night"),
            night_lock(warehouse, lock_wait_seconds=0),
        ):
            pass  # one process, two nights: flock locks per open file, so the second is refused too


def test_analysts_read_a_snapshot_while_the_night_writes(tmp_path: Path) -> None:
    warehouse = _warehouse_with_a_run(tmp_path / "warehouse.duckdb")
    copy = tmp_path / "analysts" / "warehouse_copy.duckdb"
    result = invoke(["snapshot-warehouse", "--warehouse", str(warehouse), "--out", str(copy)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    analyst = duckdb.connect(str(copy), read_only=True)
    try:
        # the night opens the warehouse for writing while the analyst's session is open on the copy
        with connect(warehouse, lock_wait_seconds=0) as night:
            night.execute("update pipeline_runs set rows_in = 11")
        assert analyst.execute("select rows_in from pipeline_runs").fetchall() == [(10,)]
    finally:
        analyst.close()


def test_runs_piped_is_one_tab_separated_line_per_run(tmp_path: Path) -> None:
    warehouse = _warehouse_with_a_run(tmp_path / "warehouse.duckdb")
    result = invoke(["runs", "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    header, run = (line.split("\t") for line in lines)
    assert header[:3] == ["as_of", "run_id", "outcome"]
    assert len(run) == len(header)
    assert run[:3] == ["2023-01-31", "night-1", "published"]
    assert run[header.index("posted")] == "8"
