"""vaccination_nightly_sync: reconcile the night's facility exports with the population registry.

This file only wires tasks: each task builds the run's Settings and calls one vaxsync.pipeline stage.
Nothing heavy happens at parse time: no data reads, no Variables or Connections, and polars, duckdb,
Great Expectations and the pipeline are imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, TriggerRule, dag, get_current_context, task

if TYPE_CHECKING:
    from vaxsync.settings import Settings

LOCAL_TIMEZONE = pendulum.timezone("Asia/Ho_Chi_Minh")
NIGHTLY_AT_ONE = "0 1 * * *"  # after facilities' end-of-day uploads
CAMPAIGN_START = pendulum.datetime(2021, 3, 8, tz=LOCAL_TIMEZONE)  # first night a backfill can replay
INGEST_CONCURRENCY = 4  # files read at once: each holds one export in memory
# Retries absorb a lost worker or a locked file; `airflow dags test` on a laptop wants 0 (fail fast).
TASK_RETRIES = int(os.environ.get("VAXSYNC_TASK_RETRIES", "2"))
ALERT_EMAILS_ENV = "VAXSYNC_ALERT_EMAILS"  # comma-separated; unset means no e-mail on failure
ALERT_SMTP_CONN_ENV = "VAXSYNC_ALERT_SMTP_CONN_ID"  # an Airflow connection id, default smtp_default

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


def _run_settings() -> Settings:
    """Settings for this task: paths from the DAG params, as_of from the run's data interval."""
    from vaxsync.settings import Settings

    context = get_current_context()
    params = context["params"]
    # A manual run in Airflow 3 may have no data interval: it then stands on its run_after moment.
    run_moment = context.get("data_interval_end") or context["dag_run"].run_after
    paths = {field: params[field] for field in PATH_PARAMS if params.get(field)}
    return Settings(**paths, as_of=as_of_for(run_moment))


def _failure_notifiers() -> list[Any]:
    """E-mail on a failed run when VAXSYNC_ALERT_EMAILS is set; SMTP details live in an Airflow connection."""
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
            subject="vaxsync nightly sync failed: {{ dag_run.run_id }}",
            html_content=(
                "The nightly run {{ dag_run.run_id }} of {{ dag_run.dag_id }} failed: {{ reason }}. "
                "The task logs in the Airflow UI name the stage and the file."
            ),
        )
    ]


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
    """Discover new exports, ingest each (mapped), normalize, match, publish and report.

    Stages hand data to each other through the run's work folder; XCom carries only small counts.
    """

    @task
    def discover_new_exports() -> list[str]:
        from vaxsync import pipeline

        return pipeline.discover_new_exports(_run_settings())

    @task(max_active_tis_per_dag=INGEST_CONCURRENCY, map_index_template="{{ task.op_kwargs['source_file'] }}")
    def ingest_export(source_file: str) -> dict[str, object]:
        from vaxsync import pipeline

        return pipeline.ingest_export(_run_settings(), source_file)

    # Runs when ingestion was skipped (a night with no new files), never after a failed ingestion.
    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def normalize_batch() -> dict[str, object]:
        from vaxsync import pipeline

        return pipeline.normalize_batch(_run_settings())

    @task
    def match_batch() -> dict[str, object]:
        from vaxsync import pipeline

        return pipeline.match_batch(_run_settings())

    @task
    def publish_batch() -> dict[str, object]:
        from vaxsync import pipeline

        return pipeline.publish_batch(_run_settings())

    @task
    def report_batch() -> dict[str, object]:
        from vaxsync import pipeline

        return pipeline.report_batch(_run_settings())

    ingested = ingest_export.expand(source_file=discover_new_exports())
    ingested >> normalize_batch() >> match_batch() >> publish_batch() >> report_batch()


vaccination_nightly_sync()
