"""A number setting outside what it can mean (a negative count, a zero bound, a typo'd minus) is one line
and exit 2 before any work, never a night run on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from operations_builders import assert_one_line_error, invoke, run_args
from pydantic import ValidationError

from vaxsync.core.settings import Settings


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


@pytest.mark.parametrize("secret", ["abc", "0123456789abcde", "mật khẩu"])  # 3, 15, 12 bytes
def test_a_decision_secret_too_short_to_sign_decisions_is_one_line_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    """A short key that signs the reviewers' decision tokens can be guessed from one report: refused
    before any work, and the line names the variable, never its value."""
    monkeypatch.setenv("VAXSYNC_DECISION_SECRET", secret)
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31"))
    line = assert_one_line_error(
        result, "VAXSYNC_DECISION_SECRET=(hidden) is not usable", f"is {len(secret.encode())} bytes", "16"
    )
    assert secret not in result.output and secret not in line
    assert not (tmp_path / "wh").exists()


def test_a_decision_secret_of_16_bytes_or_none_is_accepted() -> None:
    assert Settings(decision_secret="0123456789abcdef").decision_secret == "0123456789abcdef"
    assert Settings(decision_secret="").decision_secret == ""  # empty is unset: the generated file's
    with pytest.raises(ValidationError) as refused:
        Settings(decision_secret="0123456789abcde")
    assert "0123456789abcde" not in str(refused.value)  # not in a traceback either (Airflow's task log)
