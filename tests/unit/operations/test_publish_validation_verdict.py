"""The synced-layer suite runs beside the night's writes: a critical failure still publishes nothing.

Publish validates tonight's new shots in a thread while DuckDB writes the night; the commit waits for the
suite's verdict. A failed critical expectation must leave the warehouse as it was (no run, no shot, no
ledger row), write the run report as 'not published', and fail the night; the same night run again once
the cause is gone publishes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.operations.operations_builders import write_landing, write_registry
from validation import CriticalValidationError
from vaxsync.core.settings import Settings
from vaxsync.marts import publish as publish_module
from vaxsync.marts.warehouse import connect
from vaxsync.orchestration import pipeline
from vaxsync.orchestration.pipeline import run_nightly
from vaxsync.reports.province_report_files import STAGING_FOLDER_NAME


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        registry_path=write_registry(tmp_path / "registry.parquet"),
        landing_dir=write_landing(tmp_path / "landing"),
        warehouse_path=tmp_path / "wh" / "warehouse.duckdb",
        reports_dir=tmp_path / "reports",
        decisions_dir=tmp_path / "decisions",
        as_of=dt.date(2023, 1, 31),
    )


def _table_rows(settings: Settings) -> dict[str, int]:
    with connect(settings.warehouse_path, settings=settings) as connection:
        return {
            table: connection.execute(f"select count(*) from {table}").fetchall()[0][0]
            for table in (
                "pipeline_runs",
                "synced_shots",
                "shot_sources",
                "ingest_ledger",
                "validation_results",
            )
        }


def test_a_critical_failure_of_the_synced_suite_publishes_nothing_and_a_rerun_publishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    real_suite = publish_module.build_synced_shots_suite

    def suite_knowing_no_vaccine(as_of: dt.date, campaign_start: dt.date, vaccine_codes: list[str]) -> Any:
        return real_suite(as_of, campaign_start, [])  # every new shot's vaccine_code fails, critically

    monkeypatch.setattr(publish_module, "build_synced_shots_suite", suite_knowing_no_vaccine)
    with pytest.raises(CriticalValidationError):
        run_nightly(settings)

    assert _table_rows(settings) == {
        "pipeline_runs": 0, "synced_shots": 0, "shot_sources": 0, "ingest_ledger": 0, "validation_results": 0
    }  # fmt: skip
    [report_path] = (settings.reports_dir / "2023-01-31" / "runs").glob("*/run_report.json")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["run"]["outcome"] == "not published"
    synced = [suite for suite in report["validation"] if suite["suite_name"] == "synced_shots"]
    assert synced and synced[0]["critical_failures"] >= 1
    assert not (settings.reports_dir / "2023-01-31" / "provinces").exists()

    monkeypatch.setattr(publish_module, "build_synced_shots_suite", real_suite)
    run_nightly(settings)

    rows = _table_rows(settings)
    assert rows["pipeline_runs"] == 1
    assert rows["synced_shots"] == 1
    assert rows["ingest_ledger"] == 1
    assert rows["validation_results"] >= 1


def test_a_report_stage_that_fails_puts_no_province_report_in_place_and_a_rerun_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The province reports render into a staging folder beside the run report: when the report stage fails
    (a full disk while the run report is written), the night stays published, no province report is put in
    place and the staging is removed; the rerun of the night writes them."""
    settings = _settings(tmp_path)
    (settings.landing_dir / "01_Ha_Noi" / "01001001" / "DS_tiem.csv").write_text(
        "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Tên vắc xin,Ngày tiêm,Mũi số\n"
        "Nguyễn Văn A,01/01/1980,Nam,001200000000,AstraZeneca,15/08/2021,1\n"
        "Nguyễn Văn Z,02/02/1990,Nữ,,AstraZeneca,15/08/2021,1\n",  # no ID, no such citizen: the backlog
        encoding="utf-8",
    )
    real_write_reports = pipeline.write_reports

    def disk_full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "write_reports", disk_full)
    with pytest.raises(OSError, match="No space left"):
        run_nightly(settings)

    assert _table_rows(settings)["pipeline_runs"] == 1, "the publish committed before the reports"
    night = settings.reports_dir / "2023-01-31"
    assert not list(night.rglob("mismatch_*")), "a province report put in place by a failed report stage"
    assert not (night / STAGING_FOLDER_NAME).exists()

    published = _table_rows(settings)
    monkeypatch.setattr(pipeline, "write_reports", real_write_reports)
    run_nightly(settings)

    assert _table_rows(settings)["synced_shots"] == published["synced_shots"]
    assert sorted(path.suffix for path in (night / "provinces").rglob("mismatch_*")) == [".html", ".xlsx"]
    assert not (night / STAGING_FOLDER_NAME).exists()
