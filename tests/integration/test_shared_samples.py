"""The shared sample exports run end to end: no file crashes the run, every row is accounted for,
and nothing is posted to the wrong citizen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from vaxsync.core.settings import Settings
from vaxsync.orchestration.pipeline import run_nightly

SNAPSHOT_DATE = dt.date(2023, 1, 31)  # summary.json: run the samples with their snapshot date


@pytest.fixture(scope="module")
def sample_night(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    out = tmp_path_factory.mktemp("samples")
    settings = Settings(
        registry_path=samples_dir / "registry.parquet",
        landing_dir=samples_dir / "exports",
        warehouse_path=out / "warehouse.duckdb",
        reports_dir=out / "reports",
        as_of=SNAPSHOT_DATE,
    )
    run_nightly(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return {
            "ledger": connection.sql("select * from ingest_ledger").pl(),
            "posted": connection.sql(
                "select source_file, source_row, is_duplicate, citizen_id from shot_sources join synced_shots using (shot_id)"
            ).pl(),
            "backlog": connection.sql(
                "select source_file, source_row, reason_code from unposted_backlog"
            ).pl(),
            "truth": pl.read_parquet(samples_dir / "truth.parquet"),
        }


def test_every_sample_row_is_placed_exactly_once(sample_night: dict[str, pl.DataFrame]) -> None:
    placed = pl.concat(
        [
            sample_night["posted"].select("source_file", "source_row"),
            sample_night["backlog"].select("source_file", "source_row"),
        ]
    )
    truth = sample_night["truth"].select("source_file", "source_row")
    assert placed.is_duplicated().sum() == 0
    assert placed.sort(pl.all()).equals(truth.sort(pl.all()))


def test_files_without_truth_rows_are_quarantined_and_the_rest_loaded(
    sample_night: dict[str, pl.DataFrame],
) -> None:
    ledger = sample_night["ledger"]
    files_with_rows = set(sample_night["truth"]["source_file"])
    loaded = set(ledger.filter(pl.col("status") == "loaded")["source_file"])
    assert loaded == files_with_rows
    quarantined = ledger.filter(pl.col("status") == "quarantined")
    assert quarantined["quarantine_reason"].is_not_null().all()
    assert quarantined.height == ledger.height - len(files_with_rows)


def test_no_sample_row_is_posted_wrongly(sample_night: dict[str, pl.DataFrame]) -> None:
    posted = sample_night["posted"].join(sample_night["truth"], on=["source_file", "source_row"])
    assert posted.filter((pl.col("citizen_id") != pl.col("true_citizen_id")).fill_null(True)).height == 0
    assert posted.filter(pl.col("expected").str.starts_with("backlog")).height == 0


def test_invalid_sample_rows_are_in_the_backlog(sample_night: dict[str, pl.DataFrame]) -> None:
    invalid = sample_night["truth"].filter(pl.col("expected") == "backlog_invalid")
    in_backlog = invalid.join(sample_night["backlog"], on=["source_file", "source_row"], how="inner")
    assert in_backlog.height == invalid.height
