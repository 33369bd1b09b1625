"""The nightly DAG imports cleanly, parses without connections, queries or heavy imports, and is wired
as intended."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import BaseHook, TriggerRule, Variable
from airflow.sdk.definitions.mappedoperator import MappedOperator
from sqlalchemy import event
from sqlalchemy.engine import Engine

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "vaccination_nightly_sync.py"
DAG_ID = "vaccination_nightly_sync"
HEAVY_MODULES = (
    "polars",
    "duckdb",
    "pandas",
    "great_expectations",
    "vaxsync.pipeline",
    "transforms",
    "matching",
)


@pytest.fixture(scope="module")
def dag():
    dagbag = DagBag(dag_folder=DAG_FILE)
    return dagbag.dags[DAG_ID]


def test_dag_file_imports_without_errors():
    dagbag = DagBag(dag_folder=DAG_FILE)

    assert dagbag.import_errors == {}
    assert dagbag.dag_ids == [DAG_ID]


def test_parsing_opens_no_connection_and_makes_no_query():
    queries: list[str] = []

    def count_query(conn, cursor, statement, *args):
        queries.append(statement)

    event.listen(Engine, "before_cursor_execute", count_query)
    try:
        with (
            mock.patch.object(
                socket.socket, "connect", side_effect=AssertionError("socket opened")
            ) as connect,
            mock.patch.object(BaseHook, "get_connection") as get_connection,
            mock.patch.object(Variable, "get") as get_variable,
        ):
            dagbag = DagBag(dag_folder=DAG_FILE)
    finally:
        event.remove(Engine, "before_cursor_execute", count_query)

    assert dagbag.import_errors == {}
    assert queries == []
    assert connect.call_count == 0
    assert get_connection.call_count == 0
    assert get_variable.call_count == 0


def test_parsing_imports_no_heavy_library():
    """In a fresh interpreter: the test process itself has polars and friends loaded already."""
    probe = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAG_FILE)!r})\n"
        "assert bag.import_errors == {}, bag.import_errors\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert completed.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("task_id", "upstream_task_ids"),
    [
        ("discover_new_exports", set()),
        ("ingest_export", {"discover_new_exports"}),
        ("normalize_batch", {"ingest_export"}),
        ("match_batch", {"normalize_batch"}),
        ("publish_batch", {"match_batch"}),
        ("report_batch", {"publish_batch"}),
    ],
)
def test_each_stage_follows_the_previous_one(dag, task_id, upstream_task_ids):
    assert dag.get_task(task_id).upstream_task_ids == upstream_task_ids


def test_the_dag_has_exactly_the_pipeline_stages(dag):
    assert {task.task_id for task in dag.tasks} == {
        "discover_new_exports",
        "ingest_export",
        "normalize_batch",
        "match_batch",
        "publish_batch",
        "report_batch",
    }


def test_ingestion_is_mapped_over_the_discovered_files_with_bounded_concurrency(dag):
    ingest = dag.get_task("ingest_export")

    assert isinstance(ingest, MappedOperator)
    assert ingest.max_active_tis_per_dag is not None and ingest.max_active_tis_per_dag >= 1


def test_normalize_runs_on_a_night_with_no_new_files_but_not_after_a_failed_ingest(dag):
    assert dag.get_task("normalize_batch").trigger_rule == TriggerRule.NONE_FAILED


def test_schedule_is_nightly_in_vietnam_without_catchup_and_one_run_at_a_time(dag):
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.interval == dt.timedelta(days=1)  # runs have a data interval ending when they fire
    assert dag.timetable.expression == "0 1 * * *"
    assert dag.timetable.timezone.name == "Asia/Ho_Chi_Minh"
    assert dag.catchup is False
    assert dag.max_active_runs == 1


@pytest.mark.parametrize(("configured", "expected_retries"), [(None, 2), ("0", 0), ("3", 3)])
def test_tasks_retry_with_a_delay_unless_configured_otherwise(monkeypatch, configured, expected_retries):
    if configured is None:
        monkeypatch.delenv("VAXSYNC_TASK_RETRIES", raising=False)
    else:
        monkeypatch.setenv("VAXSYNC_TASK_RETRIES", configured)

    parsed = DagBag(dag_folder=DAG_FILE).dags[DAG_ID]

    assert {task.retries for task in parsed.tasks} == {expected_retries}
    assert parsed.get_task("publish_batch").retry_delay > dt.timedelta(0)


def test_params_are_the_settings_paths(dag):
    assert set(dag.params) == {"registry_path", "landing_dir", "warehouse_path", "reports_dir"}


@pytest.mark.parametrize(
    ("run_moment", "expected_as_of"),
    [
        # 01:00 in Hanoi on 1 Feb is 18:00 UTC on 31 Jan: the night stands on 1 Feb.
        (dt.datetime(2023, 1, 31, 18, 0, tzinfo=dt.UTC), dt.date(2023, 2, 1)),
        (dt.datetime(2023, 1, 31, 16, 59, tzinfo=dt.UTC), dt.date(2023, 1, 31)),
        (dt.datetime(2021, 3, 8, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))), dt.date(2021, 3, 8)),
        (dt.datetime(2022, 12, 31, 23, 30, tzinfo=dt.UTC), dt.date(2023, 1, 1)),
    ],
)
def test_as_of_is_the_vietnamese_date_of_the_data_interval_end(dag_module, run_moment, expected_as_of):
    assert dag_module.as_of_for(run_moment) == expected_as_of


@pytest.mark.parametrize(
    ("alert_emails", "expected_recipients"),
    [
        (None, None),
        ("", None),
        ("ops@vaxsync.vn", ["ops@vaxsync.vn"]),
        ("ops@vaxsync.vn, oncall@vaxsync.vn", ["ops@vaxsync.vn", "oncall@vaxsync.vn"]),
    ],
)
def test_failure_e_mail_is_configured_from_the_environment(monkeypatch, alert_emails, expected_recipients):
    if alert_emails is None:
        monkeypatch.delenv("VAXSYNC_ALERT_EMAILS", raising=False)
    else:
        monkeypatch.setenv("VAXSYNC_ALERT_EMAILS", alert_emails)
    monkeypatch.setenv("VAXSYNC_ALERT_SMTP_CONN_ID", "smtp_health_department")

    parsed = DagBag(dag_folder=DAG_FILE).dags[DAG_ID]

    callbacks: list[Any] = list(parsed.on_failure_callback or [])  # type: ignore[arg-type]
    if expected_recipients is None:
        assert callbacks == []
    else:
        [notifier] = callbacks
        assert notifier.to == expected_recipients
        assert notifier.smtp_conn_id == "smtp_health_department"
