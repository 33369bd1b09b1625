"""Every run keeps its own report; the night's copy is its latest report that did something."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from vaxsync.core.settings import Settings
from vaxsync.reports import run_report
from vaxsync.reports.run_report import REPORT_HTML, REPORT_INDEX, REPORT_JSON, write_run_report

AS_OF = dt.date(2023, 1, 31)


def fake_report(run_id: str, started_at: str, files_read: int) -> dict[str, Any]:
    return {
        "run": {
            "run_id": run_id,
            "as_of": AS_OF.isoformat(),
            "outcome": "published",
            "started_at": started_at,
        },
        "stages": {
            "ingest": {"files_read": files_read, "rows_read": 10 * files_read},
            "publish": {"backlog_rows_resolved": 0},
        },
        "timings": {"stage_seconds": {}},
    }


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """write(report): write_run_report for a report built elsewhere (the report's content is tested in
    tests/unit/run_report; here only where its files go)."""
    settings = Settings(reports_dir=tmp_path / "reports", warehouse_path=tmp_path / "w.duckdb", as_of=AS_OF)
    monkeypatch.setattr(run_report, "save_stage_seconds", lambda *args: None)
    monkeypatch.setattr(
        run_report, "render_run_report_html", lambda report: f"<p>{report['run']['run_id']}</p>"
    )

    def write_one(report: dict[str, Any]) -> list[Path]:
        monkeypatch.setattr(run_report, "build_run_report", lambda settings, run_id, connection=None: report)
        return write_run_report(settings, report["run"]["run_id"])

    return write_one


def night_copy_run_id(reports: Path) -> str:
    return json.loads((reports / AS_OF.isoformat() / REPORT_JSON).read_text(encoding="utf-8"))["run"][
        "run_id"
    ]


def test_a_rerun_that_found_nothing_keeps_the_real_report(tmp_path: Path, write: Any) -> None:
    reports = tmp_path / "reports"
    write(fake_report("2023-01-31@T1", "2023-02-01 01:00:00", files_read=12))
    written = write(fake_report("2023-01-31@T2", "2023-02-01 03:00:00", files_read=0))
    night = reports / AS_OF.isoformat()
    assert sorted(path.name for path in (night / "runs").iterdir()) == ["2023-01-31@T1", "2023-01-31@T2"]
    assert written == [night / "runs" / "2023-01-31@T2" / name for name in (REPORT_JSON, REPORT_HTML)]
    assert night_copy_run_id(reports) == "2023-01-31@T1"
    assert (night / REPORT_HTML).read_text(encoding="utf-8") == "<p>2023-01-31@T1</p>"
    index = json.loads((reports / REPORT_INDEX).read_text(encoding="utf-8"))
    assert [run["run_id"] for run in index["runs"]] == ["2023-01-31@T2", "2023-01-31@T1"]
    assert index["latest_by_as_of"] == {"2023-01-31": "2023-01-31/runs/2023-01-31@T1/run_report.json"}
    assert all((reports / run["report_html"]).is_file() for run in index["runs"])


def test_a_rerun_that_did_something_becomes_the_nights_report(tmp_path: Path, write: Any) -> None:
    reports = tmp_path / "reports"
    write(fake_report("2023-01-31@T1", "2023-02-01 01:00:00", files_read=12))
    write(fake_report("2023-01-31@T2", "2023-02-01 03:00:00", files_read=3))
    assert night_copy_run_id(reports) == "2023-01-31@T2"
    write(fake_report("2023-01-31@T2", "2023-02-01 03:00:00", files_read=3))  # written again: one entry
    index = json.loads((reports / REPORT_INDEX).read_text(encoding="utf-8"))
    assert [run["run_id"] for run in index["runs"]] == ["2023-01-31@T2", "2023-01-31@T1"]


def test_the_first_report_of_a_night_is_its_copy_even_when_empty(tmp_path: Path, write: Any) -> None:
    write(fake_report("2023-01-31@T1", "2023-02-01 01:00:00", files_read=0))
    assert night_copy_run_id(tmp_path / "reports") == "2023-01-31@T1"
