"""The one way SQL steps run on DuckDB, and the one place a DuckDB connection gets its limits.

A step is data: a name prefixed by its stage (`blocking__rule_pairs`), a SELECT, its parameters and the
form of the relation it leaves (`Form`). `run_steps` runs a list of them in order. A VIEW step costs
nothing in normal mode: DuckDB inlines a chain of views into the query that reads the last one, so the
chain is planned as one query, as a WITH clause would be.

Debug mode (`Settings.sql_debug`, env VAXSYNC_SQL_DEBUG) materialises every step as a table and logs its
name, row count and seconds: never row values, which are personal data. Each step can then be queried
under its name in the same connection. The switch travels with the connection (`configure`), so code
that runs steps on a connection it was given needs no extra argument. docs/sql-steps.md shows how to
debug a step.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import duckdb
import polars as pl

from vaxsync.core.settings import Settings

log = logging.getLogger(__name__)

STEP_NAME = re.compile(r"^[a-z][a-z0-9]*__[a-z0-9_]+$")  # <stage>__<step>
DEBUG_VARIABLE = "vaxsync_sql_debug"


class Form(StrEnum):
    """What a step leaves behind in normal mode (in debug mode a VIEW becomes a TABLE too)."""

    TABLE = "table"  # a temp table: read more than once, or handed to later code
    VIEW = "view"  # a temp view: inlined into the query that reads it
    INSERT = "insert"  # rows appended to an existing table
    SAVED_VIEW = "saved_view"  # a view stored in the database, which analysts query


@dataclass(frozen=True)
class SqlStep:
    """One named step. `target` names the relation when it is not the step's own name: an existing table
    the step inserts into, a stored view, or a temp table that other modules read by an older name."""

    name: str
    sql: str
    form: Form = Form.TABLE
    params: Mapping[str, object] = field(default_factory=dict)
    target: str | None = None

    def __post_init__(self) -> None:
        if not STEP_NAME.match(self.name):
            raise ValueError(f"SQL step name {self.name!r} is not <stage>__<step>")
        if self.params and self.form in (Form.VIEW, Form.SAVED_VIEW):
            raise ValueError(f"SQL step {self.name}: a view cannot take parameters")
        if self.form in (Form.INSERT, Form.SAVED_VIEW) and self.target is None:
            raise ValueError(f"SQL step {self.name}: a {self.form} step needs a target")

    @property
    def relation(self) -> str:
        return self.target or self.name


def run_steps(
    connection: duckdb.DuckDBPyConnection, steps: Sequence[SqlStep], *, debug: bool | None = None
) -> None:
    """Run the steps in order on the connection; debug None follows the connection's switch."""
    if debug is None:
        debug = is_debug(connection)
    for step in steps:
        started = time.perf_counter()
        result = connection.execute(_statement(step, debug), dict(step.params) or None)
        seconds = time.perf_counter() - started
        if debug:
            rows = _inserted_rows(result) if step.form is Form.INSERT else _row_count(connection, step)
            log.info("sql step %s: %d rows, %.3f s", step.name, rows, seconds)
        else:
            log.debug("sql step %s (%s): %.3f s", step.name, step.form, seconds)


def _statement(step: SqlStep, debug: bool) -> str:
    form = Form.TABLE if debug and step.form is Form.VIEW else step.form
    if form is Form.TABLE:
        return f"create or replace temp table {step.relation} as {step.sql}"
    if form is Form.VIEW:
        return f"create or replace temp view {step.relation} as {step.sql}"
    if form is Form.INSERT:
        return f"insert into {step.relation} {step.sql}"
    return f"create or replace view {step.relation} as {step.sql}"


# fetchall, not fetchone: a result left part-read blocks the connection's next statement.


def _row_count(connection: duckdb.DuckDBPyConnection, step: SqlStep) -> int:
    return _first_value(connection.execute(f"select count(*) from {step.relation}"))


def _inserted_rows(result: duckdb.DuckDBPyConnection) -> int:
    return _first_value(result)


def _first_value(result: duckdb.DuckDBPyConnection) -> int:
    rows = result.fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


# --- connections -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuckDBConfig:
    """Limits and the debug switch of one DuckDB connection; None leaves DuckDB's own default."""

    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: Path | None = None
    sql_debug: bool = False

    @classmethod
    def of(cls, settings: Settings) -> DuckDBConfig:
        """The warehouse's connections (and any other the marts open)."""
        return cls(
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
            temp_directory=settings.duckdb_temp_directory,
            sql_debug=settings.sql_debug,
        )

    @classmethod
    def of_matching(cls, settings: Settings) -> DuckDBConfig:
        """Matching's in-memory connections: a lower memory limit, since the linkage's frames share the process.
        They spill inside the run's owner-only work folder unless a folder is set: spilled pairs hold names."""
        return cls(
            memory_limit=settings.match_duckdb_memory_limit,
            threads=settings.duckdb_threads,
            temp_directory=settings.duckdb_temp_directory or settings.run_work_dir / "duckdb_spill",
            sql_debug=settings.sql_debug,
        )


def memory_limit_accepted(limit: str) -> bool:
    """Whether DuckDB's own parser takes the limit ('lots', '1500' and '0GB' it refuses, the last at the
    first query): checked before any work, since a refused limit would stop the night mid-way."""
    try:
        with duckdb.connect(":memory:") as connection:
            connection.execute(f"set memory_limit = {_literal(limit)}")
            connection.execute("select current_setting('memory_limit')")
    except duckdb.Error:
        return False
    return True


def configure(connection: duckdb.DuckDBPyConnection, config: DuckDBConfig) -> duckdb.DuckDBPyConnection:
    """Apply the config's limits and debug switch to an open connection: the one place that does."""
    if config.memory_limit is not None:
        connection.execute(f"set memory_limit = {_literal(config.memory_limit)}")
    if config.threads is not None:
        connection.execute(f"set threads = {int(config.threads)}")
    if config.temp_directory is not None:
        connection.execute(f"set temp_directory = {_literal(config.temp_directory.as_posix())}")
    connection.execute(f"set variable {DEBUG_VARIABLE} = {'true' if config.sql_debug else 'false'}")
    return connection


def in_memory(config: DuckDBConfig) -> duckdb.DuckDBPyConnection:
    """A new in-memory connection with the config applied."""
    return configure(duckdb.connect(), config)


def register_frame(connection: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Let the connection read the frame under this name, without a copy. polars' plain to_arrow() turns
    its string views into large strings, a copy of every text column (0.14 GiB of RSS for the medium
    night's 0.06 GiB of outcomes); DuckDB reads the views as they are."""
    connection.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))


def is_debug(connection: duckdb.DuckDBPyConnection) -> bool:
    rows = connection.execute(f"select getvariable('{DEBUG_VARIABLE}')").fetchall()
    return bool(rows and rows[0][0])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
