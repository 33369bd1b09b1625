"""A number setting outside what it can mean (a negative count, a zero bound, a typo'd minus) is one line
and exit 2 before any work, never a night run on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from operations_builders import assert_one_line_error, invoke, run_args


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        # each ran the night on main: every decision file quarantined file_too_large or too_many_lines,
        # one match partition per district, work folders of every published night removed
        ("VAXSYNC_DECISION_FILE_MAX_BYTES", "-1"),
        ("VAXSYNC_DECISION_MAX_LINES", "0"),
        ("VAXSYNC_DECISION_LINES_PER_OPEN_ROW", "0"),
        ("VAXSYNC_DECISION_PARSE_TIMEOUT_SECONDS", "0"),
        ("VAXSYNC_MATCH_PARTITION_ROWS", "0"),
        ("VAXSYNC_INGEST_PROCESSES", "-2"),
        ("VAXSYNC_WAREHOUSE_LOCK_WAIT_SECONDS", "-5"),
        ("VAXSYNC_WORK_RETENTION_DAYS", "-1"),
        ("VAXSYNC_LANDING_SETTLE_SECONDS", "-300"),
    ],
)
def test_a_number_setting_it_cannot_mean_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert_one_line_error(
        invoke(run_args(tmp_path, "--as-of", "2023-01-31")), f"{variable}='{value}' is not usable"
    )
    assert not (tmp_path / "wh").exists()
