"""The match stage's DuckDB connections take their limits and SQL debug switch from Settings, and debug
mode (every blocking and comparison step materialised and counted) decides exactly as normal mode."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from matching.deterministic import match_by_id
from matching.probabilistic import link_probabilistically
from synth import SynthConfig, generate
from synth.evaluation import prepare_generated
from vaxsync.core import sql_steps
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import DuckDBConfig
from vaxsync.orchestration.match_partitions import combine_partitions, gather_partition, plan_partitions

AS_OF = dt.date(2023, 1, 31)
KEYS = ["file_hash", "source_row"]


def test_partitions_use_the_settings_limits_and_debug_decides_as_normal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    generate(tmp_path / "data", SynthConfig(citizens=1_500, shots=400, seed=5, snapshot_date=AS_OF))
    inputs = prepare_generated(tmp_path / "data")
    shots, registry = pl.scan_parquet(inputs.normalized), pl.scan_parquet(inputs.registry)
    settings = Settings(
        as_of=AS_OF,
        warehouse_path=tmp_path / "warehouse.duckdb",
        partition_store=f"memory://vaxsync-limits-{uuid.uuid4().hex}",
        match_partition_rows=100,
        match_duckdb_memory_limit="1GiB",
        duckdb_threads=1,
        sql_debug=True,
    )
    applied: list[tuple[str, str, bool]] = []
    configure = sql_steps.configure

    def recording_configure(
        connection: duckdb.DuckDBPyConnection, config: DuckDBConfig
    ) -> duckdb.DuckDBPyConnection:
        configure(connection, config)
        ((memory_limit, threads),) = connection.execute(
            "select current_setting('memory_limit'), current_setting('threads')"
        ).fetchall()
        applied.append((memory_limit, threads, sql_steps.is_debug(connection)))
        return connection

    monkeypatch.setattr(sql_steps, "configure", recording_configure)
    with caplog.at_level(logging.INFO, logger="vaxsync.core.sql_steps"):
        plan = plan_partitions(settings, shots, registry, input_counts={})
        for partition in plan["partitions"]:
            gather_partition(settings, partition)
        _, debugged, _ = combine_partitions(settings, tmp_path / "matching_model.json")
    monkeypatch.undo()

    assert len(plan["partitions"]) >= 2
    assert applied and set(applied) == {("1.0 GiB", 1, True)}
    logged = {str(record.args[0]) for record in caplog.records}  # type: ignore[index]
    assert {"blocking__candidate_pairs", "engine__pair_levels"} <= logged
    normal = link_probabilistically(
        shots, registry, match_by_id(shots, registry).collect(), duckdb_config=DuckDBConfig()
    )
    assert debugged.matches["citizen_id"].is_not_null().sum() > 0
    assert_frame_equal(debugged.matches.sort(KEYS), normal.matches.sort(KEYS))
    assert_frame_equal(debugged.review_candidates, normal.review_candidates)
