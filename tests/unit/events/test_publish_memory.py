"""What publish keeps and how it reads, for memory: the event steps' intermediate tables are dropped once the
postings are staged (debug mode keeps them), and the probabilistic postings' row values are read by DuckDB
straight from the match input (with the new backlog rows', in one read), equal to what polars read before, on
any values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from event_builders import ADULT, post_night, row, write_registry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from vaxsync.core.settings import CAMPAIGN_START
from vaxsync.core.sql_steps import DuckDBConfig
from vaxsync.marts.backlog import store_backlog_records
from vaxsync.marts.events import POSTING_STEPS, STAGED_FOR_WRITING, conflict_steps
from vaxsync.marts.snapshot_changes import PROBABILISTIC, record_probabilistic_postings
from vaxsync.marts.warehouse import BACKLOG_RECORD_SCHEMA, connect

STEP_TABLES = {step.relation for step in (*conflict_steps(None, CAMPAIGN_START), *POSTING_STEPS)}
NIGHT = [
    row(1, "PFIZER", "2021-10-01"),
    row(2, "PFIZER", "2021-10-01", facility="BV 3"),
    row(3, "MODERNA", "2021-11-01"),
]


def _temp_tables(tmp_path: Path, config: DuckDBConfig) -> set[str]:
    registry = write_registry(tmp_path / "registry.parquet")
    with connect(tmp_path / "warehouse.duckdb", config=config) as connection:
        post_night(connection, NIGHT, registry, "run-1")
        names = connection.execute(
            "select table_name from duckdb_tables() where temporary"
            " union all select view_name from duckdb_views() where temporary and not internal"
        ).fetchall()
    return {name for (name,) in names}


def test_only_the_tables_write_postings_reads_stay_after_staging(tmp_path: Path) -> None:
    tables = _temp_tables(tmp_path, DuckDBConfig())
    assert set(STAGED_FOR_WRITING) <= tables
    assert not (STEP_TABLES - set(STAGED_FOR_WRITING)) & tables


def test_the_matched_rows_frame_is_let_go_once_the_hold_rules_copied_it(tmp_path: Path) -> None:
    # registered, the frame (every matched row of the night) stayed alive until the connection closed
    assert "event_candidates" not in _temp_tables(tmp_path, DuckDBConfig())


def test_debug_mode_keeps_every_step_to_be_queried(tmp_path: Path) -> None:
    assert _temp_tables(tmp_path, DuckDBConfig(sql_debug=True)) >= STEP_TABLES


_TEXT = st.one_of(st.none(), st.text(max_size=12))
_VALUES = {
    pl.String: _TEXT,
    pl.Int32: st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
    pl.Int8: st.one_of(st.none(), st.integers(-128, 127)),
    pl.Date: st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))),
}


@st.composite
def _match_input(draw: st.DrawFn) -> tuple[pl.DataFrame, list[bool]]:
    """Rows of the match input with any values (keys unique), and which of them posted probabilistically."""
    count = draw(st.integers(1, 8))
    columns: dict[str, list[object]] = {
        name: [draw(_VALUES[type(dtype)]) for _ in range(count)]
        for name, dtype in BACKLOG_RECORD_SCHEMA.items()
        if name not in ("file_hash", "source_row")
    }
    columns["file_hash"] = [draw(st.sampled_from(["a", "b"])) for _ in range(count)]
    columns["source_row"] = list(range(count))
    frame = pl.DataFrame(columns, schema=BACKLOG_RECORD_SCHEMA)
    return frame, [draw(st.booleans()) for _ in range(count)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=_match_input())
def test_probabilistic_rows_are_stored_as_the_match_input_holds_them(
    tmp_path_factory: object, drawn: tuple[pl.DataFrame, list[bool]]
) -> None:
    match_input, is_probabilistic = drawn
    folder: Path = tmp_path_factory.mktemp("night")  # type: ignore[attr-defined]
    match_input.with_columns(is_rematch=pl.lit(False)).write_parquet(folder / "match_input.parquet")
    postings = match_input.select("file_hash", "source_row").with_columns(
        shot_id=pl.format("shot-{}-{}", "file_hash", "source_row"),
        citizen_id=pl.lit(ADULT),
        match_score=pl.lit(0.99),
        match_detail=pl.lit("p=0.99"),
        match_method=pl.Series([PROBABILISTIC if chosen else "id_exact" for chosen in is_probabilistic]),
    )
    registry = pl.LazyFrame(
        {"citizen_id": [ADULT], "name_key": ["nguyen van a"], "birth_year": [1990]},
        schema={"citizen_id": pl.String(), "name_key": pl.String(), "birth_year": pl.Int32()},
    )
    with connect(folder / "warehouse.duckdb") as connection:
        connection.register("night_postings", postings.to_arrow())
        record_probabilistic_postings(
            connection,
            registry,
            run_id="run-1",
            registry_hash="h" * 64,
            match_input_path=folder / "match_input.parquet",
            checks_path=folder / "absent.parquet",
        )
        store_backlog_records(connection, folder / "match_input.parquet")
        stored = connection.sql(f"select {', '.join(BACKLOG_RECORD_SCHEMA)} from backlog_records").pl()
    keys = ["file_hash", "source_row"]
    expected = match_input.filter(pl.Series(is_probabilistic))  # what polars' semi join kept
    assert_frame_equal(stored.sort(keys), expected.sort(keys), check_dtypes=True)
