"""Progress: sub-steps for normalize and match (no "0/1" for the whole stage), one line per stage off a
terminal."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, write_json
from vaxsync.orchestration import pipeline
from vaxsync.orchestration.cli import print_stage_line


class _Prepared:
    """The snapshot's caches, already built."""

    def wait_before_normalize(self) -> None:
        pass

    def wait(self) -> None:
        pass


def test_normalize_and_match_report_their_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb", as_of=dt.date(2023, 1, 31))

    def discover(settings: Settings, **options: object) -> list[str]:
        work = RunWorkDir(settings)
        work.reset()
        counts = {"files_landed": 2, "files_already_in_ledger": 1, "files_new": 1}
        write_json(
            work.run_file, {"registry_hash": "abc", "stage_seconds": {}, "stage_counts": {"discover": counts}}
        )
        return ["a.csv"]

    def normalize(settings: Settings, on_step: Any = None) -> dict[str, int]:
        for done in range(1, 5):
            on_step(done, 4)
        return {"rows_normalized": 7}

    monkeypatch.setattr(pipeline, "_check_inputs", lambda settings: None)
    monkeypatch.setattr(pipeline, "discover_new_exports", discover)
    monkeypatch.setattr(pipeline, "start_preparing_snapshot", lambda settings, snapshot_hash: _Prepared())
    monkeypatch.setattr(pipeline, "_ingest_all", lambda settings, files: iter([1]))
    monkeypatch.setattr(pipeline, "normalize_batch", normalize)
    monkeypatch.setattr(pipeline, "plan_match_partitions", lambda settings: ["north", "south"])
    monkeypatch.setattr(pipeline, "match_partition", lambda settings, partition: {})
    monkeypatch.setattr(pipeline, "combine_matches", lambda settings: {"rows_matched_by_id": 5})
    monkeypatch.setattr(pipeline, "publish_batch", lambda settings: {"rows_posted": 5})
    monkeypatch.setattr(pipeline, "report_batch", lambda settings: {"province_report_files": 2})
    monkeypatch.setattr(pipeline, "_shots_citizen_not_in_snapshot", lambda settings: 0)
    events: list[tuple[str, int, int]] = []
    finished: list[str] = []
    summary = pipeline.run_nightly(
        settings,
        on_progress=lambda stage, done, total: events.append((stage, done, total)),
        on_stage_done=lambda stage, seconds, counts: finished.append(stage),
    )
    assert [event for event in events if event[0] == "normalize"] == [("normalize", n, 4) for n in range(5)]
    assert [event for event in events if event[0] == "match"] == [
        ("match", 0, 1), ("match", 1, 4), ("match", 2, 4), ("match", 3, 4), ("match", 4, 4)
    ]  # fmt: skip
    assert finished == ["discover", "ingest", "normalize", "match", "publish", "report"]
    assert summary["files_already_processed"] == 1


def test_a_stage_line_has_its_time_seconds_and_whole_number_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_stage_line(
        "publish", 2.44, {"rows_posted": 812, "by_reason": {"x": 1}, "ok": True, "rows_backlog": 40}
    )
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(r"\d\d:\d\d:\d\d stage publish 2\.4 s: rows_posted=812 rows_backlog=40", line), line
