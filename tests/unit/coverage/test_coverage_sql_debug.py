"""The coverage build in SQL debug mode: the same tables as normal mode, and each step's row count logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal
from test_coverage_counts import make_settings, read_table

from vaxsync.marts.coverage import COVERAGE_VIEWS, EXPORTED_TABLES, build_coverage, person_steps, table_steps


def test_debug_mode_builds_the_same_tables_and_logs_every_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "normal").mkdir()
    (tmp_path / "debug").mkdir()
    normal = make_settings(tmp_path / "normal")
    build_coverage(normal)
    debug = make_settings(tmp_path / "debug").model_copy(update={"sql_debug": True})
    with caplog.at_level(logging.INFO, logger="vaxsync.core.sql_steps"):
        build_coverage(debug)
    for relation in (*EXPORTED_TABLES, *COVERAGE_VIEWS):
        sql = f"select * from {relation} order by all"
        assert_frame_equal(read_table(debug, sql), read_table(normal, sql))
    logged = {record.args[0]: record.args[1] for record in caplog.records}  # type: ignore[index]
    assert list(logged) == [step.name for step in (*person_steps(debug), *table_steps(debug))]
    for step, table in (("coverage__by_area", "coverage_by_area"), ("coverage__weekly", "coverage_weekly")):
        assert logged[step] == read_table(normal, f"select count(*) as n from {table}")["n"].item() > 0
