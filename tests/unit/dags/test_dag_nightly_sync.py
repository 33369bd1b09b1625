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
    "vaxsync.orchestration.pipeline",
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
        ("ingest_exports", {"discover_new_exports"}),
        ("prepare_registry_snapshot", {"discover_new_exports"}),
        ("normalize_batch", {"ingest_exports", "prepare_registry_snapshot"}),
        ("plan_match_partitions", {"normalize_batch"}),
        ("match_partition", {"plan_match_partitions"}),
        ("combine_matches", {"match_partition"}),
        ("publish_batch", {"combine_matches"}),
        ("report_batch", {"publish_batch"}),
    ],
)
def test_each_stage_follows_the_previous_one(dag, task_id, upstream_task_ids):
    assert dag.get_task(task_id).upstream_task_ids == upstream_task_ids


def test_the_dag_has_exactly_the_pipeline_stages(dag):
    assert {task.task_id for task in dag.tasks} == {
        "discover_new_exports",
        "ingest_exports",
        "prepare_registry_snapshot",
        "normalize_batch",
        "plan_match_partitions",
        "match_partition",
        "combine_matches",
        "publish_batch",
        "report_batch",
    }


def test_ingestion_is_mapped_over_the_discovered_files_with_bounded_concurrency(dag):
    ingest = dag.get_task("ingest_exports")

    assert isinstance(ingest, MappedOperator)
    assert ingest.max_active_tis_per_dag is not None and ingest.max_active_tis_per_dag >= 1


def test_matching_is_mapped_over_the_planned_partitions_with_bounded_concurrency(dag):
    match_partition = dag.get_task("match_partition")

    assert isinstance(match_partition, MappedOperator)
    assert match_partition.max_active_tis_per_dag is not None and match_partition.max_active_tis_per_dag >= 1
    assert match_partition.pool == "default_pool"  # unless VAXSYNC_MATCH_POOL names a pool


def test_queues_come_from_the_environment_and_default_to_airflows(monkeypatch):
    monkeypatch.setenv("VAXSYNC_MATCH_QUEUE", "match")
    monkeypatch.setenv("VAXSYNC_WAREHOUSE_QUEUE", "warehouse")
    configured = DagBag(dag_folder=DAG_FILE).dags[DAG_ID]
    monkeypatch.delenv("VAXSYNC_MATCH_QUEUE")
    monkeypatch.delenv("VAXSYNC_WAREHOUSE_QUEUE")
    default = DagBag(dag_folder=DAG_FILE).dags[DAG_ID]

    assert configured.get_task("match_partition").queue == "match"
    assert {configured.get_task(task).queue for task in ("publish_batch", "report_batch")} == {"warehouse"}
    assert configured.get_task("normalize_batch").queue == default.get_task("match_partition").queue
    assert default.get_task("publish_batch").queue == default.get_task("normalize_batch").queue


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


def _parsed_failure_callbacks(monkeypatch, environment: dict[str, str]) -> list[Any]:
    for name in ("VAXSYNC_ALERT_EMAILS", "VAXSYNC_ALERT_NOTIFIER", "VAXSYNC_ALERT_NOTIFIER_KWARGS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    parsed = DagBag(dag_folder=DAG_FILE).dags[DAG_ID]
    return list(parsed.on_failure_callback or [])  # type: ignore[arg-type]


def test_any_airflow_notifier_is_configured_by_class_path_and_json_arguments(monkeypatch):
    """SmtpNotifier stands in for any provider's notifier (Slack, Teams, a webhook): none is installed."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    [notifier] = _parsed_failure_callbacks(
        monkeypatch,
        {
            "VAXSYNC_ALERT_NOTIFIER": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
            "VAXSYNC_ALERT_NOTIFIER_KWARGS": '{"to": "oncall@vaxsync.vn", "smtp_conn_id": "smtp_oncall"}',
        },
    )

    assert type(notifier) is SmtpNotifier
    assert (notifier.to, notifier.smtp_conn_id) == ("oncall@vaxsync.vn", "smtp_oncall")


def test_e_mail_and_a_configured_notifier_both_hear_of_a_failure(monkeypatch):
    callbacks = _parsed_failure_callbacks(
        monkeypatch,
        {
            "VAXSYNC_ALERT_EMAILS": "ops@vaxsync.vn",
            "VAXSYNC_ALERT_NOTIFIER": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
            "VAXSYNC_ALERT_NOTIFIER_KWARGS": '{"to": "oncall@vaxsync.vn"}',
        },
    )

    assert [notifier.to for notifier in callbacks] == [["ops@vaxsync.vn"], "oncall@vaxsync.vn"]


@pytest.mark.parametrize(
    ("class_path", "kwargs"),
    [
        ("airflow.providers.slack.notifications.slack.NoSuchNotifier", "{}"),  # provider not installed
        ("airflow.providers.smtp.notifications.smtp.SmtpNotifier", "{not json"),
        ("SmtpNotifier", "{}"),  # no module
    ],
)
def test_an_unusable_notifier_fails_the_dag_import_loudly(monkeypatch, class_path, kwargs):
    monkeypatch.delenv("VAXSYNC_ALERT_EMAILS", raising=False)
    monkeypatch.setenv("VAXSYNC_ALERT_NOTIFIER", class_path)
    monkeypatch.setenv("VAXSYNC_ALERT_NOTIFIER_KWARGS", kwargs)

    dagbag = DagBag(dag_folder=DAG_FILE)

    [error] = dagbag.import_errors.values()
    assert "VAXSYNC_ALERT_NOTIFIER" in error
    assert DAG_ID not in dagbag.dags
