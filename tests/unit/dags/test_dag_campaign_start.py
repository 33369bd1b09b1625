"""The campaign start is one setting: the DAG's first night, the pipeline's as-of check and the backlog
reason's text all take it from vaxsync.core.settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from unittest import mock

import pendulum
from airflow.dag_processing.dagbag import DagBag

from vaxsync.core.reasons import BACKLOG_REASONS
from vaxsync.core.settings import CAMPAIGN_START, Settings

DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "vaccination_nightly_sync.py"
DAG_ID = "vaccination_nightly_sync"
VIETNAM = pendulum.timezone("Asia/Ho_Chi_Minh")


def dag_start_date() -> dt.datetime:
    dagbag = DagBag(dag_folder=DAG_FILE)
    assert dagbag.import_errors == {}
    start_date = dagbag.dags[DAG_ID].start_date
    assert start_date is not None
    return start_date


def test_the_dag_starts_on_the_campaign_start_at_midnight_in_vietnam() -> None:
    assert Settings().campaign_start == CAMPAIGN_START == dt.date(2021, 3, 8)
    start = pendulum.instance(dag_start_date()).in_timezone(VIETNAM)
    assert (start.date(), start.time()) == (CAMPAIGN_START, dt.time(0, 0))


def test_the_dag_follows_the_setting_when_the_environment_overrides_it() -> None:
    with mock.patch.dict("os.environ", {"VAXSYNC_CAMPAIGN_START": "2021-04-01"}):
        start = pendulum.instance(dag_start_date()).in_timezone(VIETNAM)
    assert start.date() == dt.date(2021, 4, 1)


def test_the_out_of_range_reason_names_the_campaign_start_in_both_languages() -> None:
    reason = BACKLOG_REASONS["vaccination_date_out_of_range"]
    assert f"({CAMPAIGN_START.isoformat()})" in reason.english
    assert f"({CAMPAIGN_START:%d/%m/%Y})" in reason.vietnamese
