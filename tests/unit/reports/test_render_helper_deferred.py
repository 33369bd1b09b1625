"""Province reports started inside publish's transaction render in this process alone until the helper
may start: a second process then would add its memory to publish's peak."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from vaxsync.reports import province_report_files


def _jobs(tmp_path: Path) -> list[tuple[Any, Path]]:
    sizes = {"01": 30, "79": 900, "48": 400}
    return [
        (SimpleNamespace(province_code=code, rows=pl.DataFrame({"row": range(rows)})), tmp_path / code)
        for code, rows in sizes.items()
    ]


def test_no_helper_process_before_it_may_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[str] = []

    def render_here(report: Any, folder: Path) -> list[Path]:
        rendered.append(report.province_code)
        return [folder / f"mismatch_{report.province_code}.xlsx"]

    class NoHelper:
        def __init__(self, *arguments: Any) -> None:
            raise AssertionError("a helper process started while publish holds its memory")

    monkeypatch.setattr(province_report_files, "render_files", render_here)
    monkeypatch.setattr(province_report_files, "LightProcess", NoHelper)
    monkeypatch.setattr(province_report_files, "RENDER_HELPER_MIN_ROWS", 0)  # large enough for a helper

    files = province_report_files._render_all(_jobs(tmp_path), threading.Event())

    assert rendered == ["79", "48", "01"]  # the largest first, all here
    assert files == {code: [tmp_path / code / f"mismatch_{code}.xlsx"] for code in ("01", "79", "48")}


def test_once_allowed_the_helper_takes_the_smallest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Allowed from the start, a night large enough renders its smallest provinces in the helper."""
    rendered_here: list[str] = []
    submitted: list[str] = []

    def render_here(report: Any, folder: Path) -> list[Path]:
        rendered_here.append(report.province_code)
        return [folder / "here"]

    class FakeHelper:
        def __init__(self, *arguments: Any) -> None:
            self.pending = 0
            self.answers: list[list[Path]] = []

        def __enter__(self) -> FakeHelper:
            return self

        def __exit__(self, *exc_info: object) -> None:
            pass

        def submit(self, function: Any, report: Any, folder: Path) -> None:
            submitted.append(report.province_code)
            self.answers.append([folder / "helper"])
            self.pending += 1

        def answer_waiting(self) -> bool:
            return False

        def result(self) -> list[Path]:
            self.pending -= 1
            return self.answers.pop(0)

    monkeypatch.setattr(province_report_files, "render_files", render_here)
    monkeypatch.setattr(province_report_files, "LightProcess", FakeHelper)
    monkeypatch.setattr(province_report_files, "RENDER_HELPER_MIN_ROWS", 0)
    monkeypatch.setattr(province_report_files.os, "cpu_count", lambda: 2)
    allowed = threading.Event()
    allowed.set()

    files = province_report_files._render_all(_jobs(tmp_path), allowed)

    assert submitted == ["01", "48"] and rendered_here == ["79"]
    assert files["01"] == [tmp_path / "01" / "helper"] and files["79"] == [tmp_path / "79" / "here"]
