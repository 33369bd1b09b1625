"""The run report of a whole night through the CLI: every stage's counts and time, the conservation
check, the validation page, no ID, name or phone from the input; and the night in `vaxsync runs`."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from synth import SynthConfig, generate
from vaxsync.orchestration.cli import app

AS_OF = "2023-01-31"
STAGES = ("discover", "ingest", "normalize", "match", "publish")


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    data = tmp_path_factory.mktemp("synth")
    generate(data, SynthConfig(citizens=3_000, shots=1_000, seed=5, snapshot_date=dt.date(2023, 1, 31)))
    out = tmp_path_factory.mktemp("night")
    paths = {"data": data, "warehouse": out / "warehouse.duckdb", "reports": out / "reports"}
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--registry", str(data / "registry.parquet"),
            "--landing", str(data / "landing"),
            "--warehouse", str(paths["warehouse"]),
            "--reports", str(paths["reports"]),
            "--as-of", AS_OF,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return paths


def _report(night: dict[str, Path]) -> dict:
    return json.loads((night["reports"] / AS_OF / "run_report.json").read_text(encoding="utf-8"))


def _page(night: dict[str, Path]) -> str:
    return (night["reports"] / AS_OF / "run_report.html").read_text(encoding="utf-8")


def test_every_stage_has_counts_and_a_time(night):
    report = _report(night)

    for stage in STAGES:
        assert report["stages"][stage], f"no counts for {stage}"
        assert report["timings"]["stage_seconds"][stage] >= 0
    assert report["stages"]["discover"]["files_new"] == report["stages"]["ingest"]["files_read"]
    assert report["stages"]["normalize"]["rows_normalized"] == report["stages"]["ingest"]["rows_staged"]


def test_counts_agree_with_the_warehouse_and_conservation_is_proven(night):
    report = _report(night)
    with duckdb.connect(str(night["warehouse"]), read_only=True) as connection:
        [(posted, duplicates, backlog)] = connection.execute(
            "select sum(rows_posted), sum(rows_duplicate), sum(rows_backlog) from ingest_ledger"
        ).fetchall()
        suites = [
            row[0] for row in connection.execute("select suite_name from validation_results").fetchall()
        ]

    publish = report["stages"]["publish"]
    assert (publish["rows_posted"], publish["rows_duplicate_merged"], publish["rows_backlog"]) == (
        posted,
        duplicates,
        backlog,
    )
    assert sum(publish["backlog_by_reason"].values()) == backlog
    assert report["conservation"]["is_proven"] is True
    assert report["conservation"]["tonight"]["adds_up"] is True
    assert sorted(suite["suite_name"] for suite in report["validation"]) == sorted(suites)
    for suite_name in suites:
        assert f"Suite <code>{suite_name}</code>" in _page(night)


def test_the_page_shows_no_id_name_or_phone_from_the_input(night):
    page = _page(night)
    registry = pl.read_parquet(night["data"] / "registry.parquet")

    assert re.search(r"\d{12}", page) is None
    names = registry["full_name"].drop_nulls().unique().to_list()
    assert [name for name in names if name in page] == []
    phones = registry["phone"].drop_nulls().unique().to_list()
    assert [phone for phone in phones if phone in page] == []


def test_the_night_is_in_the_run_history(night):
    result = CliRunner().invoke(app, ["runs", "--warehouse", str(night["warehouse"])], env={"COLUMNS": "250"})

    assert result.exit_code == 0, result.output
    assert f"{AS_OF}@" in result.output
    assert "published" in result.output
    with duckdb.connect(str(night["warehouse"]), read_only=True) as connection:
        [(stage_seconds,)] = connection.execute("select stage_seconds from pipeline_runs").fetchall()
    assert set(json.loads(stage_seconds)) == set(STAGES)
