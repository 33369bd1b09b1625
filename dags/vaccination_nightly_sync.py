"""vaccination_nightly_sync: reconcile the night's facility exports with the population registry.

This file only wires tasks: the first task resolves the night's Settings once (params, data interval,
environment) and hands them to every later task by XCom; each task calls one vaxsync.orchestration.pipeline
stage.
Nothing heavy happens at parse time: no data reads, no Variables or Connections, and polars, duckdb,
Great Expectations and the pipeline are imported when a task runs (`_pipeline`), not at parse time.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
from types import ModuleType
from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, TriggerRule, dag, get_current_context, task

from vaxsync.core.settings import Settings

LOCAL_TIMEZONE = pendulum.timezone("Asia/Ho_Chi_Minh")
NIGHTLY_AT_ONE = "0 1 * * *"  # after facilities' end-of-day uploads
INGEST_CONCURRENCY = 4  # files read at once: each holds one export in memory
# Match partitions run at once per DAG (each holds the registry's blocking keys and its own rows), and the
# Airflow pool they draw slots from: create it to cap them across DAGs and runs (docs/deployment.md).
MATCH_CONCURRENCY = int(os.environ.get("VAXSYNC_MATCH_CONCURRENCY", "4"))
MATCH_POOL = os.environ.get("VAXSYNC_MATCH_POOL", "default_pool")
# Celery queues (unset: Airflow's default queue). Match partitions need only the partition store, so they
# can run on workers that share nothing else; publish and report need the host holding the warehouse file.
MATCH_QUEUE_ENV = "VAXSYNC_MATCH_QUEUE"
WAREHOUSE_QUEUE_ENV = "VAXSYNC_WAREHOUSE_QUEUE"
# Retries absorb a lost worker or a locked file; `airflow dags test` on a laptop wants 0 (fail fast).
TASK_RETRIES = int(os.environ.get("VAXSYNC_TASK_RETRIES", "2"))
# Who hears of a failed run, read from the DAG processor's environment (docs/airflow.md, "Failure alerts").
ALERT_EMAILS_ENV = "VAXSYNC_ALERT_EMAILS"  # comma-separated; unset means no e-mail on failure
ALERT_SMTP_CONN_ENV = "VAXSYNC_ALERT_SMTP_CONN_ID"  # an Airflow connection id, default smtp_default
# Any other Airflow notifier (Slack, Teams, a webhook...): its class's dotted path, and its arguments as a
# JSON object. Secrets stay in the Airflow connection the arguments name, never in these variables.
ALERT_NOTIFIER_ENV = "VAXSYNC_ALERT_NOTIFIER"
ALERT_NOTIFIER_KWARGS_ENV = "VAXSYNC_ALERT_NOTIFIER_KWARGS"
ALERT_SUBJECT = "vaxsync nightly sync failed: {{ dag_run.run_id }}"
ALERT_MESSAGE = (
    "The nightly run {{ dag_run.run_id }} of {{ dag_run.dag_id }} failed: {{ reason }}. The failed task's log "
    "names the stage and, for a failed critical expectation, the suite, the expectation and a few masked rows."
)

# DAG param -> Settings field. A blank param falls back to the worker's VAXSYNC_* environment,
# then to the Settings default.
PATH_PARAMS: dict[str, str] = {
    "registry_path": "Registry snapshot (Parquet) from the National Population Database.",
    "landing_dir": "Folder of facility exports (CSV, TXT, XLSX) to reconcile.",
    "warehouse_path": "DuckDB warehouse file that receives synced shots, backlog and ledger.",
    "reports_dir": "Folder for the backlog and per-province summary reports.",
}


def as_of_for(run_moment: dt.datetime) -> dt.date:
    """The date a run stands on: its data interval's end, as a calendar date in Vietnam.

    01:00 in Hanoi is 18:00 UTC the day before, so the UTC date would be a day early.
    """
    return pendulum.instance(run_moment).in_timezone(LOCAL_TIMEZONE).date()


def midnight_in_vietnam(day: dt.date) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, tz=LOCAL_TIMEZONE)


# The first night a backfill can replay: the campaign start setting (as the tasks' Settings read it).
CAMPAIGN_START = midnight_in_vietnam(Settings().campaign_start)


def _pipeline() -> ModuleType:
    """The pipeline module, imported when a task runs: parsing the DAG must not import polars, DuckDB or
    the matcher (the only place the DAG imports a project module inside a function)."""
    from vaxsync.orchestration import pipeline

    return pipeline


# The XCom key under which discover_new_exports hands the night's resolved settings to every later task.
NIGHT_SETTINGS_KEY = "night_settings"
FIRST_TASK_ID = "discover_new_exports"


def _night_settings() -> Settings:
    """The night's settings, resolved once by its first task: paths from the DAG params, as_of from the
    run's data interval, everything else from that worker's VAXSYNC_* environment. Pushed to XCom (all
    but the decision secret, which never goes to Airflow's database), so that every later task, on any
    worker and after any change of environment, runs the same night's rules."""
    context = get_current_context()
    params = context["params"]
    # A manual run in Airflow 3 may have no data interval: it then stands on its run_after moment.
    run_moment = context.get("data_interval_end") or context["dag_run"].run_after
    paths = {field: params[field] for field in PATH_PARAMS if params.get(field)}
    settings = Settings(**paths, as_of=as_of_for(run_moment))
    context["ti"].xcom_push(key=NIGHT_SETTINGS_KEY, value=night_settings_values(settings))
    return settings


def night_settings_values(settings: Settings) -> dict[str, Any]:
    """The settings as JSON values, without the decision secret (it stays in the workers' environment)."""
    return settings.model_dump(mode="json", exclude={"decision_secret"})


def _run_settings() -> Settings:
    """Settings for a later task: those its night's first task resolved (values given to Settings win
    over the environment; only the decision secret is read from this worker's)."""
    context = get_current_context()
    values = context["ti"].xcom_pull(task_ids=FIRST_TASK_ID, key=NIGHT_SETTINGS_KEY)
    if not values:
        raise RuntimeError(
            f"no settings from {FIRST_TASK_ID} for this run: clear the whole run, not one task"
        )
    return Settings(**values)


def _queue(env_name: str) -> dict[str, str]:
    """The task's queue argument when the environment names one, else nothing (Airflow's default queue)."""
    queue = os.environ.get(env_name, "").strip()
    return {"queue": queue} if queue else {}


def _failure_notifiers() -> list[Any]:
    """The DAG's on_failure_callback: e-mail when VAXSYNC_ALERT_EMAILS is set, plus the notifier named in
    VAXSYNC_ALERT_NOTIFIER. A notifier that cannot be imported or built fails the DAG's import loudly,
    rather than leaving failures unheard."""
    return [*_email_notifiers(), *_configured_notifiers()]


def _email_notifiers() -> list[Any]:
    recipients = [
        address.strip() for address in os.environ.get(ALERT_EMAILS_ENV, "").split(",") if address.strip()
    ]
    if not recipients:
        return []
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return [
        SmtpNotifier(
            to=recipients,
            smtp_conn_id=os.environ.get(ALERT_SMTP_CONN_ENV, "smtp_default"),
            subject=ALERT_SUBJECT,
            html_content=ALERT_MESSAGE,
        )
    ]


def _configured_notifiers() -> list[Any]:
    class_path = os.environ.get(ALERT_NOTIFIER_ENV, "").strip()
    if not class_path:
        return []
    module_name, _, class_name = class_path.rpartition(".")
    try:
        notifier_class = getattr(importlib.import_module(module_name), class_name)
        kwargs = json.loads(os.environ.get(ALERT_NOTIFIER_KWARGS_ENV) or "{}")
    except (ImportError, AttributeError, ValueError) as error:
        raise RuntimeError(f"{ALERT_NOTIFIER_ENV}={class_path!r} is not usable: {error}") from error
    return [notifier_class(**kwargs)]


@dag(
    dag_id="vaccination_nightly_sync",
    # A run's logical date is the moment it fires; its data interval is the day before, ending then.
    schedule=CronTriggerTimetable(NIGHTLY_AT_ONE, timezone=LOCAL_TIMEZONE, interval=dt.timedelta(days=1)),
    start_date=CAMPAIGN_START,
    catchup=False,
    max_active_runs=1,  # nights share the warehouse: one publishes at a time
    dagrun_timeout=dt.timedelta(hours=6),
    default_args={
        "retries": TASK_RETRIES,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": dt.timedelta(hours=2),
    },
    params={
        field: Param(os.environ.get(f"VAXSYNC_{field.upper()}"), type=["null", "string"], description=text)
        for field, text in PATH_PARAMS.items()
    },
    on_failure_callback=_failure_notifiers(),
    tags=["vaxsync"],
)
def vaccination_nightly_sync() -> None:
    """Discover new exports, ingest them in batches (mapped), normalize, match, publish and report.

    Stages hand data to each other through the run's work folder; XCom carries only small counts.
    """

    @task
    def discover_new_exports() -> list[list[str]]:
        """The new files, in batches: one mapped ingest task per batch, not per file (a night can land
        thousands of small files; a task per file would spend more on scheduling than on reading)."""
        pipeline = _pipeline()
        return pipeline.ingest_batches(pipeline.discover_new_exports(_night_settings()))

    @task(
        max_active_tis_per_dag=INGEST_CONCURRENCY,
        map_index_template="{{ task.op_kwargs['source_files'] | length }} files from {{ task.op_kwargs['source_files'][0] }}",
    )
    def ingest_exports(source_files: list[str]) -> list[dict[str, object]]:
        return _pipeline().ingest_exports(_run_settings(), source_files)

    # Beside the ingest tasks: the registry snapshot's caches need no landed file (on a later night of
    # the snapshot it finds them built and returns at once).
    @task
    def prepare_registry_snapshot() -> dict[str, object]:
        return _pipeline().prepare_registry_snapshot(_run_settings())

    # Runs when ingestion was skipped (a night with no new files), never after a failed ingestion.
    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def normalize_batch() -> dict[str, object]:
        return _pipeline().normalize_batch(_run_settings())

    @task
    def plan_match_partitions() -> list[str]:
        return _pipeline().plan_match_partitions(_run_settings())

    @task(
        max_active_tis_per_dag=MATCH_CONCURRENCY,
        pool=MATCH_POOL,
        **_queue(MATCH_QUEUE_ENV),
        map_index_template="{{ task.op_kwargs['partition'] }}",
    )
    def match_partition(partition: str) -> dict[str, object]:
        return _pipeline().match_partition(_run_settings(), partition)

    @task
    def combine_matches() -> dict[str, object]:
        return _pipeline().combine_matches(_run_settings())

    @task(**_queue(WAREHOUSE_QUEUE_ENV))
    def publish_batch() -> dict[str, object]:
        return _pipeline().publish_batch(_run_settings())

    @task(**_queue(WAREHOUSE_QUEUE_ENV))
    def report_batch() -> dict[str, object]:
        return _pipeline().report_batch(_run_settings())

    discovered = discover_new_exports()
    ingested = ingest_exports.expand(source_files=discovered)
    prepared = prepare_registry_snapshot()
    discovered >> prepared
    partitions = plan_match_partitions()
    [ingested, prepared] >> normalize_batch() >> partitions
    matched = match_partition.expand(partition=partitions)
    matched >> combine_matches() >> publish_batch() >> report_batch()


vaccination_nightly_sync()
