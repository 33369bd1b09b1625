"""Run history: the report keeps each night's stage times with its pipeline_runs row, v_run_history
shows them with durations and validation failures, and `vaxsync runs` lists the runs newest first."""

from __future__ import annotations

import datetime as dt
import json

from run_report_night import RUN_ID, STAGE_SECONDS, Night
from typer.testing import CliRunner

from vaxsync.marts.warehouse import connect
from vaxsync.orchestration.cli import app
from vaxsync.reports.run_report import run_history, write_run_report

LATER_RUN_ID = "2023-02-01@20230201T180000"


def _add_later_run(night: Night) -> None:
    with connect(night.settings.warehouse_path) as connection:
        connection.execute(
            """
            insert into pipeline_runs by name
            select ? as run_id, date '2023-02-01' as as_of, repeat('2', 64) as registry_hash,
                   repeat('3', 64) as landing_hash, 0 as files_new, 0 as files_quarantined, 0 as rows_in,
                   0 as rows_posted, 0 as rows_duplicate, 0 as rows_backlog, 'published' as outcome,
                   ?::timestamp as started_at, ?::timestamp as finished_at
            """,
            [LATER_RUN_ID, dt.datetime(2023, 2, 1, 18, 0, 0), dt.datetime(2023, 2, 1, 18, 0, 42)],
        )


def test_report_saves_stage_times_to_the_run_row(night: Night):
    write_run_report(night.settings, night.run_id)
    write_run_report(night.settings, night.run_id)  # a re-run of the report changes nothing

    with connect(night.settings.warehouse_path) as connection:
        [(stored,)] = connection.execute(
            "select stage_seconds from pipeline_runs where run_id = ?", [RUN_ID]
        ).fetchall()
    assert json.loads(stored) == STAGE_SECONDS


def test_run_history_has_duration_stage_seconds_and_validation_failures(night: Night):
    write_run_report(night.settings, night.run_id)

    [run] = run_history(night.settings.warehouse_path).to_dicts()

    assert run["run_id"] == RUN_ID
    assert run["duration_seconds"] == 150.0
    assert {stage: run[f"{stage}_seconds"] for stage in STAGE_SECONDS} == STAGE_SECONDS
    assert (
        run["validation_suites_failed"],
        run["validation_critical_failures"],
        run["validation_warnings"],
    ) == (
        1,
        1,
        1,
    )
    assert (run["rows_in"], run["rows_posted"], run["outcome"]) == (10, 3, "published")
    assert run["registry_hash"] == "0" * 64


def test_run_history_lists_newest_first_and_honours_the_limit(night: Night):
    _add_later_run(night)

    history = run_history(night.settings.warehouse_path)
    latest_only = run_history(night.settings.warehouse_path, limit=1)

    assert history["run_id"].to_list() == [LATER_RUN_ID, RUN_ID]
    assert history["ingest_seconds"].to_list() == [None, None]  # no report written yet
    assert latest_only["run_id"].to_list() == [LATER_RUN_ID]


def test_runs_command_prints_recent_runs(night: Night):
    write_run_report(night.settings, night.run_id)
    _add_later_run(night)

    result = CliRunner().invoke(
        app, ["runs", "--warehouse", str(night.settings.warehouse_path)], env={"COLUMNS": "250"}
    )

    assert result.exit_code == 0, result.output
    assert result.output.index(LATER_RUN_ID) < result.output.index(RUN_ID)
    assert "normalize 12.2" in result.output
    assert "150.0" in result.output


def test_runs_command_refuses_a_missing_warehouse_and_creates_none(tmp_path):
    warehouse = tmp_path / "nowhere.duckdb"

    result = CliRunner().invoke(app, ["runs", "--warehouse", str(warehouse)])

    assert result.exit_code == 2
    assert not warehouse.exists()
