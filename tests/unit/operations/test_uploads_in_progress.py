"""A file still being written when the night lists the landing (a facility's upload in progress) is left
for the next night, with a deferred_files entry saying so; the next night reads it whole. Nothing lost."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest
from operations_builders import write_landing, write_registry

from transforms.ingest import landing
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.marts.warehouse import connect
from vaxsync.orchestration import pipeline

HEADER = "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Tên vắc xin,Ngày tiêm,Mũi số\n"
ROW = "Nguyễn Văn B,02/01/1980,Nam,001200000001,AstraZeneca,16/08/2021,1\n"
AN_HOUR_AGO = time.time() - 3600


def settings_for(tmp_path: Path, as_of: dt.date = dt.date(2023, 1, 31)) -> Settings:
    landing_dir = write_landing(tmp_path / "landing")
    for path in landing_dir.rglob("*.csv"):
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))  # uploaded an hour before the night
    return Settings(
        registry_path=write_registry(tmp_path / "registry.parquet"),
        landing_dir=landing_dir,
        warehouse_path=tmp_path / "wh" / "warehouse.duckdb",
        reports_dir=tmp_path / "reports",
        decisions_dir=tmp_path / "decisions",
        as_of=as_of,
        landing_settle_seconds=300,
    )


def upload(settings: Settings, name: str = "DS_tiem_dang_gui.csv") -> Path:
    """An export the facility is sending right now: its last bytes have just been written."""
    path = settings.landing_dir / "01_Ha_Noi" / "01001001" / name
    path.write_text(HEADER + ROW, encoding="utf-8")
    return path


def test_a_file_written_minutes_ago_is_read_the_next_night(tmp_path: Path) -> None:
    first = settings_for(tmp_path)
    in_progress = upload(first)
    summary = pipeline.run_nightly(first)

    assert summary["files_deferred"] == 1
    assert summary["rows_in"] == 1  # the settled file only
    with connect(first.warehouse_path) as connection:
        deferred = connection.execute("select source_file, reason from deferred_files").fetchall()
        ledger = connection.execute("select source_file from ingest_ledger").fetchall()
    assert deferred == [("01_Ha_Noi/01001001/DS_tiem_dang_gui.csv", "modified_recently")]
    assert ("01_Ha_Noi/01001001/DS_tiem_dang_gui.csv",) not in ledger

    os.utime(in_progress, (AN_HOUR_AGO, AN_HOUR_AGO))  # the upload finished; the next night
    summary = pipeline.run_nightly(first.model_copy(update={"as_of": dt.date(2023, 2, 1)}))

    assert (summary["files_deferred"], summary["files_new"], summary["rows_in"]) == (0, 1, 1)
    with connect(first.warehouse_path) as connection:
        status = connection.execute(
            "select status, rows_read from ingest_ledger where source_file like '%dang_gui.csv'"
        ).fetchall()
    assert status == [("loaded", 1)]


def test_a_file_that_changes_while_the_landing_is_hashed_is_deferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    growing = upload(settings, "DS_tiem_lon.csv")
    os.utime(growing, (AN_HOUR_AGO, AN_HOUR_AGO))  # a stalled upload that resumes during discovery
    real_hash = landing.file_content_hash

    def hash_while_the_upload_goes_on(path: Path) -> str:
        digest = real_hash(path)
        if path == growing:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(ROW)
        return digest

    # a file dated a year ahead by a facility PC's wrong clock is read (deferred, it would be every night)
    next_year = time.time() + 365 * 86400
    os.utime(upload(settings, "DS_tiem_sai_gio.csv"), (next_year, next_year))
    monkeypatch.setattr(pipeline, "file_content_hash", hash_while_the_upload_goes_on)
    new_files = pipeline.discover_new_exports(settings)

    assert new_files == ["01_Ha_Noi/01001001/DS_tiem.csv", "01_Ha_Noi/01001001/DS_tiem_sai_gio.csv"]
    [deferred] = read_json(RunWorkDir(settings).run_file)["deferred_files"]
    assert (deferred["source_file"], deferred["reason"]) == (
        "01_Ha_Noi/01001001/DS_tiem_lon.csv",
        "changed_during_discovery",
    )


def test_a_file_renamed_away_during_discovery_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    part = upload(settings, "DS_tiem.csv.filepart")
    os.utime(part, (AN_HOUR_AGO, AN_HOUR_AGO))
    real_hash = landing.file_content_hash

    def rename_when_hashed(path: Path) -> str:
        digest = real_hash(path)
        if path == part:
            part.rename(part.with_name("DS_tiem_2.csv"))  # the upload tool renames it when done
        return digest

    monkeypatch.setattr(pipeline, "file_content_hash", rename_when_hashed)
    assert pipeline.discover_new_exports(settings) == ["01_Ha_Noi/01001001/DS_tiem.csv"]
    [deferred] = read_json(RunWorkDir(settings).run_file)["deferred_files"]
    assert deferred["reason"] == "gone_during_discovery"


def test_by_default_a_file_copied_in_just_before_the_night_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first try, or a night re-run by hand: files copied into the landing folder a moment ago are read;
    the settle window is a deployment's choice (docs/deployment.md)."""
    monkeypatch.delenv("VAXSYNC_LANDING_SETTLE_SECONDS", raising=False)
    settings = settings_for(tmp_path).model_copy(
        update={"landing_settle_seconds": Settings().landing_settle_seconds}
    )
    upload(settings)
    summary = pipeline.run_nightly(settings)

    assert (summary["files_deferred"], summary["rows_in"]) == (0, 2)
