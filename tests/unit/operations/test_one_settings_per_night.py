"""A night runs on the one settings object it was started with: a VAXSYNC_* variable changed while it
runs (a deploy, an operator's shell) must not reach a stage halfway through."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from operations_builders import write_landing, write_registry

from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import connect
from vaxsync.orchestration import pipeline


def night_settings(tmp_path: Path, as_of: dt.date) -> Settings:
    return Settings(
        registry_path=write_registry(tmp_path / "registry.parquet"),
        landing_dir=write_landing(tmp_path / "landing"),
        warehouse_path=tmp_path / "wh" / "warehouse.duckdb",
        reports_dir=tmp_path / "reports",
        decisions_dir=tmp_path / "decisions",
        as_of=as_of,
    )


def test_no_stage_reads_the_environment_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = night_settings(tmp_path, dt.date(2023, 1, 30))
    second = first.model_copy(update={"as_of": dt.date(2023, 1, 31)})
    # Unusable values: any stage that built Settings() from the environment would fail the night.
    monkeypatch.setenv("VAXSYNC_DUCKDB_THREADS", "0")
    monkeypatch.setenv("VAXSYNC_WAREHOUSE_LOCK_WAIT_SECONDS", "never")
    pipeline.run_nightly(first)  # the first night: no warehouse yet
    extra = first.landing_dir / "01_Ha_Noi" / "01001001" / "DS_tiem_2.csv"
    extra.write_text(
        "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Tên vắc xin,Ngày tiêm,Mũi số\n"
        "Nguyễn Văn B,02/01/1980,Nam,001200000001,AstraZeneca,16/08/2021,1\n",
        encoding="utf-8",
    )
    summary = pipeline.run_nightly(second)  # a later night: every warehouse reader runs

    assert summary["rows_in"] == 1
    monkeypatch.delenv("VAXSYNC_DUCKDB_THREADS")
    monkeypatch.delenv("VAXSYNC_WAREHOUSE_LOCK_WAIT_SECONDS")
    with connect(first.warehouse_path) as connection:
        outcomes = connection.execute("select outcome from pipeline_runs order by as_of").fetchall()
    assert outcomes == [("published",), ("published",)]
