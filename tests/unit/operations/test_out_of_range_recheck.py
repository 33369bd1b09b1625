"""Rows held as vaccination_date_out_of_range are matched again once a later as-of covers their date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from vaxsync.core.settings import Settings
from vaxsync.marts.backlog import open_rematchable_records
from vaxsync.marts.warehouse import BACKLOG_RECORD_SCHEMA, connect

SHOT_DATE = dt.date(2023, 1, 20)
DECIDED = pl.DataFrame(schema={"file_hash": pl.String(), "source_row": pl.Int32()})


def _held_rows(warehouse: Path) -> None:
    """Night 1 (as-of 2023-01-10): row 1 was shot on 2023-01-20, after the as-of; row 2 too, but its
    birth date is unreadable as well; row 3 is a no_confident_match matched that night."""
    records = pl.DataFrame(
        {
            "file_hash": ["h"] * 3,
            "source_row": [1, 2, 3],
            "source_file": ["01/f.csv"] * 3,
            "vaccinated_date": [SHOT_DATE, SHOT_DATE, dt.date(2022, 5, 1)],
            "birth_year": [1980, None, 1975],
            "reject_reason": ["vaccination_date_out_of_range", "vaccination_date_out_of_range", None],
            "reject_detail": ["20/01/2023 (read as 2023-01-20; campaign 2021-03-08 to 2023-01-10)"] * 2
            + [None],
        }
    )
    records = records.select(
        [
            records[name].cast(dtype) if name in records.columns else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in BACKLOG_RECORD_SCHEMA.items()
        ]
    )
    with connect(warehouse) as connection:
        connection.register("records", records.to_arrow())
        connection.execute("insert into backlog_records select * from records")
        connection.execute(
            """insert into pipeline_runs by name select 'night-1' as run_id, date '2023-01-10' as as_of,
               'snapshot-1' as registry_hash, 'l' as landing_hash, 1 as files_new, 0 as files_quarantined,
               3 as rows_in, 0 as rows_posted, 0 as rows_duplicate, 3 as rows_backlog,
               'published' as outcome, now() as started_at, now() as finished_at"""
        )
        connection.execute(
            """insert into unposted_backlog by name
               select '01/f.csv' as source_file, 'h' as file_hash, row as source_row, reason as reason_code,
                      date '2023-01-10' as first_seen_on, 'night-1' as run_id, 'night-1' as last_matched_run_id
               from (values (1, 'vaccination_date_out_of_range'), (2, 'vaccination_date_out_of_range'),
                            (3, 'no_confident_match')) t(row, reason)"""
        )


def _settings(tmp_path: Path, as_of: dt.date) -> Settings:
    return Settings(warehouse_path=tmp_path / "warehouse.duckdb", as_of=as_of)


def test_a_later_as_of_lifts_the_date_reject(tmp_path: Path) -> None:
    _held_rows(tmp_path / "warehouse.duckdb")
    rows = open_rematchable_records(_settings(tmp_path, dt.date(2023, 1, 31)), "snapshot-1", DECIDED)
    assert rows["source_row"].to_list() == [1]  # row 2 still has a bad birth date; row 3: same snapshot
    assert rows["reject_reason"].to_list() == [None]
    assert rows["reject_detail"].to_list() == [None]
    assert rows["prior_backlog_reason"].to_list() == ["vaccination_date_out_of_range"]
    assert rows["vaccinated_date"].to_list() == [SHOT_DATE]


def test_an_as_of_still_before_the_shot_changes_nothing(tmp_path: Path) -> None:
    _held_rows(tmp_path / "warehouse.duckdb")
    assert open_rematchable_records(
        _settings(tmp_path, dt.date(2023, 1, 15)), "snapshot-1", DECIDED
    ).is_empty()


def test_a_rematched_row_whose_reason_changed_follows_the_snapshot_rule(tmp_path: Path) -> None:
    """After its re-match the row is no_confident_match; its stored record still says out of range."""
    warehouse = tmp_path / "warehouse.duckdb"
    _held_rows(warehouse)
    with connect(warehouse) as connection:
        connection.execute(
            "update unposted_backlog set reason_code = 'no_confident_match' where source_row = 1"
        )
    later = _settings(tmp_path, dt.date(2023, 1, 31))
    assert open_rematchable_records(later, "snapshot-1", DECIDED).is_empty()  # same snapshot: nothing new
    rows = open_rematchable_records(later, "snapshot-2", DECIDED)
    assert sorted(rows["source_row"].to_list()) == [1, 3]
    assert rows["reject_reason"].to_list() == [None, None]
