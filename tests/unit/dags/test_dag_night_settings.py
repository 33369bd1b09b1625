"""A night runs on one settings object: the first task resolves it, every later task (another worker,
another environment) receives it, rather than reading its own worker's environment again."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "vaccination_nightly_sync.py"
LATER_TASKS = [
    "prepare_registry_snapshot",
    "normalize_batch",
    "combine_matches",
    "publish_batch",
    "report_batch",
]


class FakeTaskInstance:
    """XCom kept in a dict, as Airflow keeps it between the tasks of one run."""

    def __init__(self) -> None:
        self.xcom: dict[tuple[str, str], Any] = {}
        self.task_id = "discover_new_exports"

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[(self.task_id, key)] = value

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return self.xcom.get((task_ids, key))


class RecordingPipeline:
    """Stands for vaxsync.orchestration.pipeline: records the settings each stage is given."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def __getattr__(self, stage: str) -> Any:
        def record(settings: Any, *args: Any) -> Any:
            self.seen[stage] = settings
            return []

        return record


@pytest.fixture
def dag_with_fake_runtime(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, RecordingPipeline, FakeTaskInstance]:
    dag = DagBag(dag_folder=DAG_FILE).dags["vaccination_nightly_sync"]
    module = sys.modules[dag.get_task("normalize_batch").python_callable.__module__]
    pipeline, ti = RecordingPipeline(), FakeTaskInstance()
    context = {
        "params": {"registry_path": "/data/registry.parquet", "landing_dir": None},
        "data_interval_end": dt.datetime(2023, 1, 31, 18, 0, tzinfo=dt.UTC),
        "ti": ti,
    }
    monkeypatch.setattr(module, "get_current_context", lambda: context)
    monkeypatch.setattr(module, "_pipeline", lambda: pipeline)
    return dag, pipeline, ti


def test_later_tasks_keep_the_settings_the_night_started_with(
    dag_with_fake_runtime: tuple[Any, RecordingPipeline, FakeTaskInstance], monkeypatch: pytest.MonkeyPatch
) -> None:
    dag, pipeline, _ = dag_with_fake_runtime
    monkeypatch.setenv("VAXSYNC_DUCKDB_THREADS", "3")
    monkeypatch.setenv("VAXSYNC_CAMPAIGN_START", "2021-03-08")
    dag.get_task("discover_new_exports").python_callable()
    # the environment changes (a deploy mid-night, or a worker configured otherwise)
    monkeypatch.setenv("VAXSYNC_DUCKDB_THREADS", "8")
    monkeypatch.setenv("VAXSYNC_CAMPAIGN_START", "2021-06-01")
    monkeypatch.setenv("VAXSYNC_LANDING_DIR", "/elsewhere/landing")
    for task_id in LATER_TASKS:
        dag.get_task(task_id).python_callable()

    started = pipeline.seen["discover_new_exports"]
    assert (started.duckdb_threads, started.campaign_start) == (3, dt.date(2021, 3, 8))
    assert started.as_of == dt.date(2023, 2, 1)
    for stage in LATER_TASKS:
        assert pipeline.seen[stage] == started, stage


def test_the_decision_secret_never_goes_to_xcom(
    dag_with_fake_runtime: tuple[Any, RecordingPipeline, FakeTaskInstance], monkeypatch: pytest.MonkeyPatch
) -> None:
    dag, pipeline, ti = dag_with_fake_runtime
    monkeypatch.setenv("VAXSYNC_DECISION_SECRET", "s3cret-value-of-the-vault")
    dag.get_task("discover_new_exports").python_callable()
    dag.get_task("publish_batch").python_callable()
    assert "s3cret-value-of-the-vault" not in repr(ti.xcom)
    assert ti.xcom  # the settings were handed over
    assert pipeline.seen["publish_batch"].decision_secret == "s3cret-value-of-the-vault"


def test_a_task_without_its_nights_settings_fails_rather_than_guess(
    dag_with_fake_runtime: tuple[Any, RecordingPipeline, FakeTaskInstance],
) -> None:
    dag, _, _ = dag_with_fake_runtime
    with pytest.raises(RuntimeError, match="discover_new_exports"):
        dag.get_task("normalize_batch").python_callable()
