"""The event steps in SQL debug mode: the same postings, sources and conflicts as normal mode, and one
row count logged per step."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest
from event_builders import CHILD, post_night, row, table, write_registry
from polars.testing import assert_frame_equal

from vaxsync.core.settings import CAMPAIGN_START
from vaxsync.core.sql_steps import DuckDBConfig
from vaxsync.marts.events import POSTING_STEPS, conflict_steps
from vaxsync.marts.warehouse import connect

NIGHT_ONE = [
    row(1, "PFIZER", "2021-10-01", lot=None),
    row(2, "PFIZER", "2021-10-01", facility="BV Quận 3"),  # a copy of row 1
    row(3, "PFIZER", "2021-11-01", dose=3),  # dose number disagrees with the sequence
    row(4, "MODERNA", "2021-11-01"),  # another product the same day: held
    row(5, "PFIZER", "2020-06-01"),  # before approval: held
    row(6, "PFIZER", "2021-12-01", citizen=CHILD),  # below the approved age: posted, flagged
]
NIGHT_TWO = [
    row(1, "PFIZER", "2021-10-02", file="late.csv"),
    row(2, "ASTRAZENECA", "2021-08-01", file="late.csv"),
]
RESULT_TABLES = {
    "synced_shots": "select * from synced_shots order by shot_id",
    "shot_sources": "select * from shot_sources order by file_hash, source_row",
    "shot_conflicts": "select * from shot_conflicts order by file_hash, source_row, conflict_code",
}


def publish_two_nights(
    folder: Path, config: DuckDBConfig
) -> tuple[list[pl.DataFrame], dict[str, pl.DataFrame]]:
    registry = write_registry(folder / "registry.parquet")
    with connect(folder / "warehouse.duckdb", config=config) as connection:
        routed = [
            post_night(connection, night, registry, f"run-{i}")
            for i, night in enumerate((NIGHT_ONE, NIGHT_TWO))
        ]
        return routed, {name: table(connection, sql) for name, sql in RESULT_TABLES.items()}


def test_debug_mode_posts_the_same_and_counts_every_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "normal").mkdir()
    (tmp_path / "debug").mkdir()
    normal_routed, normal = publish_two_nights(tmp_path / "normal", DuckDBConfig())
    with caplog.at_level(logging.INFO, logger="vaxsync.core.sql_steps"):
        debug_routed, debugged = publish_two_nights(tmp_path / "debug", DuckDBConfig(sql_debug=True))
    for normal_frame, debug_frame in zip(normal_routed, debug_routed, strict=True):
        assert_frame_equal(debug_frame, normal_frame)
    for name, frame in normal.items():
        assert_frame_equal(debugged[name], frame, check_row_order=True)
    assert normal["shot_conflicts"].height > 0 and normal["synced_shots"].height > 0
    logged = [(record.args[0], record.args[1]) for record in caplog.records]  # type: ignore[index]
    step_names = [step.name for step in (*conflict_steps(None, CAMPAIGN_START), *POSTING_STEPS)]
    assert [name for name, _ in logged] == step_names * 2  # two nights
    first_night = dict(logged[: len(step_names)])
    assert first_night["events__night_rows"] == len(NIGHT_ONE)
    assert (
        first_night["events__new_shots"] == normal["synced_shots"].filter(pl.col("run_id") == "run-0").height
    )
    held_first_night = normal["shot_conflicts"].filter(
        (pl.col("run_id") == "run-0") & (pl.col("action") == "held_in_backlog")
    )
    assert first_night["events__held_conflicts"] == held_first_night.height
