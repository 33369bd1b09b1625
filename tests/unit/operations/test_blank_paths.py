"""An empty or blank path is the current folder to pathlib: every path option and VAXSYNC_* path variable
refuses it in one line (exit 2), before anything is written where the operator stands."""

from __future__ import annotations

from pathlib import Path

import pytest
from operations_builders import assert_one_line_error, invoke, run_args


def with_option(args: list[str], option: str, value: str) -> list[str]:
    if option in args:
        args = list(args)
        args[args.index(option) + 1] = value
        return args
    return [*args, option, value]


@pytest.mark.parametrize(
    "option", ["--reports", "--landing", "--warehouse", "--registry", "--decisions", "--work-dir"]
)
@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_path_option_of_run_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str
) -> None:
    here = tmp_path / "where_the_operator_stands"
    here.mkdir()
    monkeypatch.chdir(here)
    args = with_option(run_args(tmp_path, "--as-of", "2023-01-31"), option, value)

    assert_one_line_error(invoke(args), f"{option} is empty")
    assert not list(here.iterdir())  # no report, work folder or warehouse in the current folder
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["runs", "--warehouse", ""], "--warehouse"),
        (["readmit", "--warehouse", " ", "--reason", "empty_file"], "--warehouse"),
        (["snapshot-warehouse", "--warehouse", "w.duckdb", "--out", ""], "--out"),
        (["snapshot-warehouse", "--warehouse", "", "--out", "copy.duckdb"], "--warehouse"),
        (["synth", "--out", ""], "--out"),
        (["evaluate", "--data", ""], "--data"),
    ],
)
def test_a_blank_path_option_of_any_command_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], option: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(command), f"{option} is empty")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "variable", ["VAXSYNC_DECISIONS_DIR", "VAXSYNC_WORK_DIR", "VAXSYNC_DUCKDB_TEMP_DIRECTORY"]
)
def test_a_blank_path_variable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, " ")
    result = invoke(run_args(tmp_path, "--as-of", "2023-01-31"))
    assert_one_line_error(result, f"{variable}=' ' is not usable", "is empty")
    assert not (tmp_path / "wh").exists()


def test_run_takes_the_decisions_folder_as_an_option(tmp_path: Path) -> None:
    args = run_args(tmp_path, "--as-of", "2023-01-31")
    inside = tmp_path / "landing" / "decisions"
    assert_one_line_error(
        invoke([*args, "--decisions", str(inside)]), "decisions folder is inside the landing"
    )


@pytest.mark.parametrize(("option", "folder"), [("--reports", "reports"), ("--decisions", "decisions")])
def test_a_landing_folder_inside_the_reports_or_decisions_is_refused(
    tmp_path: Path, option: str, folder: str
) -> None:
    # On main the night read the province reports (or the reviewers' filled copies) as facility exports.
    args = run_args(tmp_path, "--as-of", "2023-01-31")
    args = with_option(args, option, str(tmp_path / "landing" / ".."))  # the landing's parent, as typed
    line = assert_one_line_error(invoke(args), f"landing folder is inside the {folder} folder")
    assert str(tmp_path / "landing") in line
