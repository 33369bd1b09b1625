"""Every operator mistake is one line on stderr and exit code 2, before any work, never a traceback."""

from __future__ import annotations

import datetime as dt
import errno
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest
from operations_builders import (
    assert_one_line_error,
    hold_lock,
    invoke,
    registry_frame,
    run_args,
    write_registry,
)

from vaxsync.core.errors import no_space_left
from vaxsync.marts.warehouse import connect


def test_synth_with_no_citizens_or_shots_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(invoke(["synth", "--out", str(tmp_path), "--citizens", "0"]), "--citizens")
    assert_one_line_error(invoke(["synth", "--out", str(tmp_path), "--shots", "-5"]), "--shots", "-5")
    assert not list(tmp_path.iterdir())


def test_a_registry_that_is_not_parquet_stops_before_any_work(tmp_path: Path) -> None:
    registry = tmp_path / "registry.parquet"
    registry.write_text("citizen_id,full_name\n001200000001,Nguyễn Văn A\n", encoding="utf-8")
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31", registry=registry))
    assert_one_line_error(result, "not a Parquet file")
    assert not (tmp_path / "wh").exists()  # no work folder, no warehouse left behind


def test_ids_stored_as_integers_are_refused(tmp_path: Path) -> None:
    frame = registry_frame().with_columns(pl.col("citizen_id").cast(pl.Int64))
    registry = write_registry(tmp_path / "registry.parquet", frame)
    line = assert_one_line_error(invoke(run_args(tmp_path, registry=registry)), "citizen_id is Int64")
    assert "expected String" in line


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.parquet", registry_frame().drop("date_of_death", "sex"))
    assert_one_line_error(invoke(run_args(tmp_path, registry=registry)), "lacks columns sex, date_of_death")


def test_duplicate_citizen_ids_are_counted_never_shown(tmp_path: Path) -> None:
    frame = registry_frame(4)
    frame = pl.concat([frame, frame.head(2)])
    registry = write_registry(tmp_path / "registry.parquet", frame)
    line = assert_one_line_error(invoke(run_args(tmp_path, registry=registry)), "2 duplicate citizen_id")
    assert "001200000000" not in line


@pytest.mark.parametrize("cleanup", ["padded", "dashed"])
def test_citizen_ids_that_are_not_twelve_digits_are_counted_never_shown(tmp_path: Path, cleanup: str) -> None:
    # A CHAR(13) export pads every ID: on main the night ran, linkage posted to the padded IDs and the
    # synced layer's validation failed the whole night (exit 3, nothing published), every night.
    ids = pl.col("citizen_id")
    odd = ids + " " if cleanup == "padded" else ids.str.slice(0, 3) + "-" + ids.str.slice(3)
    frame = registry_frame().with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(odd).otherwise(ids).alias("citizen_id")
    )
    registry = write_registry(tmp_path / "registry.parquet", frame)

    line = assert_one_line_error(
        invoke(run_args(tmp_path, registry=registry)), "2 citizen_id values that are not 12 digits"
    )
    assert not any(citizen_id.strip() in line for citizen_id in frame["citizen_id"])


def test_an_empty_snapshot_is_refused(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.parquet", registry_frame().clear())
    assert_one_line_error(invoke(run_args(tmp_path, registry=registry)), "0 rows")


def test_an_as_of_before_the_campaign_is_refused_unless_forced(tmp_path: Path) -> None:
    from vaxsync.core.settings import Settings
    from vaxsync.orchestration.pipeline import _check_as_of

    assert_one_line_error(
        invoke(run_args(tmp_path, "--as-of", "2019-01-01")), "before the campaign start 2021-03-08", "--force"
    )
    forced = Settings(warehouse_path=tmp_path / "absent.duckdb", as_of=dt.date(2019, 1, 1), force_as_of=True)
    _check_as_of(forced)  # no error


def test_an_as_of_after_tomorrow_is_refused_unless_forced(tmp_path: Path) -> None:
    # A typo (2203 for 2023) ran on main: shots dated up to 2203 could post, and every correct night
    # after it was refused as earlier than the last published one.
    from vaxsync.core.settings import Settings
    from vaxsync.orchestration.pipeline import _check_as_of

    typo = dt.date.today() + dt.timedelta(days=2)
    result = invoke(run_args(tmp_path, "--as-of", typo.isoformat()))
    assert_one_line_error(result, f"--as-of {typo} is after today", "--force")
    assert not (tmp_path / "wh" / "warehouse.duckdb").exists()
    tomorrow = dt.date.today() + dt.timedelta(days=1)  # a night started just after midnight in UTC+7
    _check_as_of(Settings(warehouse_path=tmp_path / "absent.duckdb", as_of=tomorrow))  # no error
    _check_as_of(Settings(warehouse_path=tmp_path / "absent.duckdb", as_of=typo, force_as_of=True))


@pytest.mark.parametrize("kind", ["registry snapshot", "empty file", "folder"])
def test_a_warehouse_that_is_not_a_duckdb_file_is_one_line(tmp_path: Path, kind: str) -> None:
    # A traceback on main (DuckDB's IOException) for the first two.
    warehouse = tmp_path / "mistake"
    if kind == "registry snapshot":
        write_registry(warehouse)
    elif kind == "empty file":
        warehouse.touch()
    else:
        warehouse.mkdir()
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31", warehouse=warehouse))
    assert_one_line_error(result, "warehouse is", str(warehouse))


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["runs", "--limit", "3"],
        ["readmit", "--reason", "unreadable_file"],
        ["snapshot-warehouse", "--out", "copy.duckdb"],
    ],
)
def test_every_command_refuses_a_warehouse_that_is_not_a_duckdb_file_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    # DuckDB's IOException was a traceback on main for each command.
    warehouse = write_registry(tmp_path / "registry.parquet")
    args = [*command, "--warehouse", str(warehouse)]
    if "--out" in args:
        args[args.index("--out") + 1] = str(tmp_path / "copy.duckdb")

    assert_one_line_error(invoke(args), "warehouse is not a DuckDB database file")


def test_a_negative_number_of_runs_is_one_line(tmp_path: Path) -> None:
    with connect(tmp_path / "warehouse.duckdb"):
        pass
    result = invoke(["runs", "--warehouse", str(tmp_path / "warehouse.duckdb"), "--limit", "-5"])
    assert_one_line_error(result, "--limit")  # DuckDB's BinderException (negative LIMIT) on main


@pytest.mark.parametrize("folder", ["warehouse", "work", "reports", "decisions"])
def test_outputs_inside_the_landing_folder_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    # On main the next night listed the night's own files as exports (162 quarantined on the sample's
    # second night: the registry cache, coverage exports, the decision secret) and a report workbook
    # inside the landing folder could be read as doses.
    inside = tmp_path / "landing" / "out"
    args = run_args(tmp_path, "--as-of", "2023-01-31")
    if folder == "warehouse":
        args[args.index("--warehouse") + 1] = str(inside / "warehouse.duckdb")
    elif folder == "decisions":
        monkeypatch.setenv("VAXSYNC_DECISIONS_DIR", str(inside))
    else:
        args += [f"--{folder.replace('work', 'work-dir')}", str(inside)]

    assert_one_line_error(invoke(args), f"{folder} folder is inside the landing folder")
    assert not inside.exists()


def test_a_decisions_folder_that_is_a_file_is_refused_before_any_work(tmp_path: Path) -> None:
    # On main: `error: File exists: …` at the match stage, after ingest and normalize had run.
    decisions = tmp_path / "decisions.xlsx"
    decisions.write_bytes(b"PK")
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31", "--decisions", str(decisions)))
    assert_one_line_error(result, "decisions folder is a file", str(decisions))
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize("named_by", ["option", "variable"])
def test_a_named_decisions_folder_under_a_missing_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named_by: str
) -> None:
    # On main the night ran (exit 0) and never read a decision: a typo hid the reviewers' work.
    typo = tmp_path / "decisons" / "provinces"
    args = run_args(tmp_path, "--as-of", "2023-01-31")
    if named_by == "option":
        args += ["--decisions", str(typo)]
    else:
        monkeypatch.setenv("VAXSYNC_DECISIONS_DIR", str(typo))
    assert_one_line_error(invoke(args), "decisions folder not found", str(typo))
    assert not (tmp_path / "wh").exists()
    assert not typo.parent.exists()


def test_a_named_decisions_folder_is_created_in_an_existing_folder(tmp_path: Path) -> None:
    decisions = tmp_path / "decisions"  # its first night: the night creates it (province folders inside)
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31", "--decisions", str(decisions)))
    assert result.exit_code == 0, result.output
    assert decisions.is_dir()


def test_an_as_of_earlier_than_the_last_published_night_is_refused(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    with connect(warehouse) as connection:
        connection.execute(
            """insert into pipeline_runs by name select 'r1' as run_id, date '2023-01-31' as as_of,
               'h' as registry_hash, 'l' as landing_hash, 0 as files_new, 0 as files_quarantined,
               0 as rows_in, 0 as rows_posted, 0 as rows_duplicate, 0 as rows_backlog,
               'published' as outcome, now() as started_at, now() as finished_at"""
        )
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-15"))
    assert_one_line_error(result, "earlier than the last published night 2023-01-31")


def test_a_date_that_is_not_iso_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(invoke(run_args(tmp_path, "--as-of", "31/01/2023")), "not an ISO date")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        # Each a traceback on main: pydantic's ValidationError, or DuckDB's parser at the first query.
        (
            "VAXSYNC_WAREHOUSE_LOCK_WAIT_SECONDS",
            "abc",
            "VAXSYNC_WAREHOUSE_LOCK_WAIT_SECONDS='abc' is not usable",
        ),
        ("VAXSYNC_DUCKDB_MEMORY_LIMIT", "lots", "VAXSYNC_DUCKDB_MEMORY_LIMIT='lots' is not usable"),
        ("VAXSYNC_DUCKDB_MEMORY_LIMIT", "0GB", "not a memory size DuckDB accepts"),
        ("VAXSYNC_MATCH_DUCKDB_MEMORY_LIMIT", "1500", "VAXSYNC_MATCH_DUCKDB_MEMORY_LIMIT='1500'"),
        ("VAXSYNC_DUCKDB_THREADS", "0", "greater than or equal to 1"),
        (
            "VAXSYNC_PARTITION_STORE",
            "s3://bucket/vaxsync",
            "partition store s3://bucket/vaxsync cannot be used",
        ),
        ("VAXSYNC_PARTITION_STORE", "sftp2://host/x", "Unsupported filesystem"),
        # Values of settings the options override: still read by the stages (on main, after normalize).
        ("VAXSYNC_FORCE_AS_OF", "maybe", "VAXSYNC_FORCE_AS_OF='maybe' is not usable"),
        ("VAXSYNC_AS_OF", "31/01/2023", "VAXSYNC_AS_OF='31/01/2023' is not usable"),
    ],
)
def test_an_unusable_environment_setting_is_one_line_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    assert_one_line_error(invoke(run_args(tmp_path, "--as-of", "2023-01-31")), expected)
    assert not (tmp_path / "wh" / "warehouse.duckdb").exists()


def test_a_work_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31", "--work-dir", str(blocker / "work")))
    assert_one_line_error(result, "work folder", "a_file")


def test_an_unwritable_work_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o500)
    real_access = os.access
    # root may write anywhere: tell the check what an ordinary service account would be told
    monkeypatch.setattr(
        os, "access", lambda path, mode: (Path(path) != work or mode != os.W_OK) and real_access(path, mode)
    )
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31", "--work-dir", str(work)))
    assert_one_line_error(result, "work folder is not writable")


def test_a_full_disk_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's failed commit, then the rollback that fails because no transaction is left."""

    def full_disk(*args: object, **kwargs: object) -> None:
        try:
            raise duckdb.IOException('Could not write file "w.duckdb.wal": No space left on device')
        except duckdb.IOException:
            raise duckdb.TransactionException("cannot rollback - no transaction is active") from None

    monkeypatch.setattr("vaxsync.orchestration.pipeline.run_nightly", full_disk)
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31"))
    line = assert_one_line_error(result, "no space left on device")
    assert "rollback" not in line


def test_no_space_left_is_found_in_the_chain_of_errors() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("cannot rollback - no transaction is active")  # noqa: B904
    except RuntimeError as error:
        assert no_space_left(error)
    assert not no_space_left(RuntimeError("cannot rollback - no transaction is active"))
    assert not no_space_left(OSError(errno.EACCES, "Permission denied"))


def test_runs_while_the_warehouse_is_locked_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse):
        pass
    monkeypatch.setenv("VAXSYNC_WAREHOUSE_LOCK_WAIT_SECONDS", "0.5")
    holder = hold_lock(warehouse, 30)
    try:
        runs = invoke(["runs", "--warehouse", str(warehouse)])
        night = invoke(run_args(tmp_path, "--as-of", "2023-01-31", warehouse=warehouse))
    finally:
        holder.kill()
        holder.wait()
    assert_one_line_error(runs, "in use by another process", f"PID {holder.pid}")
    assert_one_line_error(night, "in use by another process")


def test_a_named_decisions_folder_in_the_folder_the_night_creates_for_its_warehouse_is_accepted(
    tmp_path: Path,
) -> None:
    # A new deployment: one folder, created by its first night, holds the warehouse and the decisions.
    deployment = tmp_path / "vaxsync"
    decisions = deployment / "decisions"
    args = run_args(tmp_path, "--as-of", "2023-01-31", warehouse=deployment / "warehouse.duckdb")
    result = invoke([*args, "--decisions", str(decisions)])
    assert result.exit_code == 0, result.output
    assert decisions.is_dir()
