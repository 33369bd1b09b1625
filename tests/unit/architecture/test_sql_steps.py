"""The SQL step runner: debug mode materialises and counts every step without changing the result, and
DuckDB limits and the debug switch reach every connection from Settings."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import DuckDBConfig, Form, SqlStep, configure, in_memory, is_debug, run_steps
from vaxsync.marts.warehouse import connect

RUNNER_LOGGER = "vaxsync.core.sql_steps"

# Doses per person: a table read twice, a chain of two views, rows inserted into a table, a stored view.
STEPS = [
    SqlStep(
        "demo__doses",
        "select * from (values (1, 'a', 1), (2, 'a', 2), (3, 'b', 1), (4, 'c', 1), (5, 'c', 2), (6, 'c', 3)) "
        "as t(dose_id, person, dose_number) where dose_number <= $max_dose",
        params={"max_dose": 2},
    ),
    SqlStep("demo__second_doses", "select * from demo__doses where dose_number = 2", Form.VIEW),
    SqlStep(
        "demo__completed", "select person from demo__second_doses join demo__doses using (person)", Form.VIEW
    ),
    SqlStep(
        "demo__fill_people",
        "select person, count(*) as rows_joined from demo__completed group by person",
        Form.INSERT,
        target="demo_people",
    ),
    SqlStep("demo__people_view", "select * from demo_people", Form.SAVED_VIEW, target="v_demo_people"),
]
EXPECTED_ROWS = {
    "demo__doses": 5,
    "demo__second_doses": 2,
    "demo__completed": 4,
    "demo__fill_people": 2,
    "demo__people_view": 2,
}


def run_demo(connection: duckdb.DuckDBPyConnection, *, debug: bool | None = None) -> pl.DataFrame:
    connection.execute("create table demo_people (person varchar, rows_joined bigint)")
    run_steps(connection, STEPS, debug=debug)
    return connection.sql("select * from v_demo_people order by person").pl()


def logged_steps(caplog: pytest.LogCaptureFixture) -> dict[str, int]:
    """Step name -> rows, from the runner's debug lines (their arguments: name, rows, seconds)."""
    return {
        str(record.args[0]): int(record.args[1])  # type: ignore[index, call-overload]
        for record in caplog.records
        if record.name == RUNNER_LOGGER and record.levelno == logging.INFO
    }


def test_debug_mode_gives_the_normal_result_and_logs_each_steps_row_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with duckdb.connect() as connection:
        normal = run_demo(connection, debug=False)
    with duckdb.connect() as connection, caplog.at_level(logging.INFO, logger=RUNNER_LOGGER):
        debugged = run_demo(connection, debug=True)
    assert_frame_equal(debugged, normal)
    assert normal.rows() == [("a", 2), ("c", 2)]
    assert logged_steps(caplog) == EXPECTED_ROWS


def test_normal_mode_keeps_a_view_step_a_view_and_debug_mode_makes_it_a_table() -> None:
    kinds = {}
    for debug in (False, True):
        with duckdb.connect() as connection:
            run_demo(connection, debug=debug)
            kinds[debug] = dict(
                connection.sql(
                    "select table_name, table_type from information_schema.tables "
                    "where table_name like 'demo__%' escape '!'"
                ).fetchall()
            )
    assert kinds[False]["demo__second_doses"] == "VIEW"
    assert kinds[True]["demo__second_doses"] == "LOCAL TEMPORARY"
    assert kinds[False]["demo__doses"] == kinds[True]["demo__doses"] == "LOCAL TEMPORARY"


def test_debug_lines_name_steps_and_counts_never_values(caplog: pytest.LogCaptureFixture) -> None:
    secret = "001090123456"
    step = SqlStep("demo__ids", f"select '{secret}' as citizen_id")
    with duckdb.connect() as connection, caplog.at_level(logging.DEBUG, logger=RUNNER_LOGGER):
        run_steps(connection, [step], debug=True)
    assert caplog.records
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert logged_steps(caplog) == {"demo__ids": 1}


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda: SqlStep("pairs", "select 1"), "not <stage>__<step>"),
        (lambda: SqlStep("demo__v", "select $x", Form.VIEW, params={"x": 1}), "cannot take parameters"),
        (lambda: SqlStep("demo__fill", "select 1", Form.INSERT), "needs a target"),
    ],
    ids=["unprefixed name", "view with parameters", "insert without target"],
)
def test_a_malformed_step_is_refused_when_declared(step: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        step()  # type: ignore[operator]


def test_the_debug_switch_travels_with_the_connection(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAXSYNC_SQL_DEBUG", "1")
    assert Settings().sql_debug is True
    with in_memory(DuckDBConfig.of(Settings())) as connection, caplog.at_level(logging.INFO, RUNNER_LOGGER):
        assert is_debug(connection)
        run_demo(connection)  # no debug argument: the connection's switch decides
    assert logged_steps(caplog) == EXPECTED_ROWS
    with duckdb.connect() as unconfigured:
        assert not is_debug(unconfigured)


def current_settings(connection: duckdb.DuckDBPyConnection) -> tuple[str, int, str]:
    ((memory_limit, threads, temp_directory),) = connection.execute(
        "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
    ).fetchall()
    return str(memory_limit), int(threads), str(temp_directory)


def test_configure_applies_every_limit(tmp_path: Path) -> None:
    config = DuckDBConfig(memory_limit="1GiB", threads=1, temp_directory=tmp_path / "spill", sql_debug=True)
    with configure(duckdb.connect(), config) as connection:
        assert current_settings(connection) == ("1.0 GiB", 1, (tmp_path / "spill").as_posix())
        assert is_debug(connection)


def test_warehouse_limits_come_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        warehouse_path=tmp_path / "warehouse.duckdb",
        duckdb_memory_limit="1GiB",
        duckdb_threads=1,
        duckdb_temp_directory=tmp_path / "spill",
        sql_debug=True,
    )
    with connect(settings.warehouse_path, config=DuckDBConfig.of(settings)) as connection:
        assert current_settings(connection) == ("1.0 GiB", 1, (tmp_path / "spill").as_posix())
        assert is_debug(connection)


def test_warehouse_spills_beside_itself_unless_a_folder_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAXSYNC_DUCKDB_MEMORY_LIMIT", "2GiB")
    monkeypatch.setenv("VAXSYNC_DUCKDB_THREADS", "1")
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as connection:  # no config: the settings read from the environment
        assert current_settings(connection) == ("2.0 GiB", 1, (tmp_path / "duckdb_spill").as_posix())
        assert not is_debug(connection)
    with connect(warehouse, memory_limit="1GiB") as connection:  # a caller's override wins
        assert current_settings(connection)[0] == "1.0 GiB"


def test_matching_limits_come_from_their_own_setting() -> None:
    settings = Settings(duckdb_memory_limit="4GiB", match_duckdb_memory_limit="1GiB", duckdb_threads=1)
    with in_memory(DuckDBConfig.of_matching(settings)) as connection:
        assert current_settings(connection)[:2] == ("1.0 GiB", 1)


def test_matching_spills_inside_the_runs_owner_only_work_folder(tmp_path: Path) -> None:
    settings = Settings(warehouse_path=tmp_path / "wh" / "warehouse.duckdb")
    with in_memory(DuckDBConfig.of_matching(settings)) as connection:
        assert current_settings(connection)[2] == (settings.run_work_dir / "duckdb_spill").as_posix()
    chosen = Settings(
        warehouse_path=tmp_path / "wh" / "warehouse.duckdb", duckdb_temp_directory=tmp_path / "s"
    )
    assert DuckDBConfig.of_matching(chosen).temp_directory == tmp_path / "s"
