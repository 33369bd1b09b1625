"""`vaxsync run` stands on --as-of, else VAXSYNC_AS_OF (as the DAG and the stages read it), else today;
a VAXSYNC_AS_OF it cannot read is one line and exit 2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from operations_builders import assert_one_line_error, invoke, run_args

from vaxsync.core.settings import Settings


@pytest.fixture
def nights(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings each `vaxsync run` hands to the pipeline (the night itself is not run)."""
    seen: list[Settings] = []

    def record(settings: Settings, **_: Any) -> dict[str, Any]:
        seen.append(settings)
        return {}

    monkeypatch.setattr("vaxsync.orchestration.pipeline.run_nightly", record)
    return seen


def test_run_without_as_of_stands_on_vaxsync_as_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nights: list[Settings]
) -> None:
    monkeypatch.setenv("VAXSYNC_AS_OF", "2023-01-31")
    result = invoke(run_args(tmp_path))
    assert result.exit_code == 0, result.output
    assert [night.as_of for night in nights] == [dt.date(2023, 1, 31)]


def test_the_as_of_option_wins_over_vaxsync_as_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nights: list[Settings]
) -> None:
    monkeypatch.setenv("VAXSYNC_AS_OF", "2023-01-30")
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31"))
    assert result.exit_code == 0, result.output
    assert [night.as_of for night in nights] == [dt.date(2023, 1, 31)]


def test_without_either_the_night_is_today(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nights: list[Settings]
) -> None:
    monkeypatch.delenv("VAXSYNC_AS_OF", raising=False)
    assert invoke(run_args(tmp_path)).exit_code == 0
    assert [night.as_of for night in nights] == [dt.date.today()]


def test_a_vaxsync_as_of_that_is_not_a_date_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nights: list[Settings]
) -> None:
    monkeypatch.setenv("VAXSYNC_AS_OF", "31/01/2023")
    assert_one_line_error(invoke(run_args(tmp_path)), "VAXSYNC_AS_OF='31/01/2023' is not usable")
    assert nights == []
