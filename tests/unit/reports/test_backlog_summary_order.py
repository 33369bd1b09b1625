"""The backlog summary's rows come in one order, whatever order the warehouse returns its groups in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from vaxsync.core.reasons import BACKLOG_REASONS
from vaxsync.core.settings import Settings
from vaxsync.reports.backlog_summary import backlog_summary


def test_reasons_with_as_many_rows_come_in_the_order_of_their_codes(tmp_path: Path) -> None:
    # One row per reason in one province: every group ties on its count; inserted in reverse code order.
    reasons = sorted(BACKLOG_REASONS, reverse=True)
    settings = Settings(
        registry_path=tmp_path / "registry.parquet",
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / "warehouse.duckdb",
        reports_dir=tmp_path / "reports",
        as_of=dt.date(2023, 1, 31),
    )
    with duckdb.connect() as connection:
        connection.execute(
            """
            create table unposted_backlog (province_code varchar, reason_code varchar, source_file varchar,
                                           first_seen_on date, superseded_by_file_hash varchar)
            """
        )
        connection.executemany(
            "insert into unposted_backlog values ('01', ?, 'a.csv', date '2023-01-31', null)",
            [[reason] for reason in reasons],
        )
        summary = backlog_summary(settings, connection)
    assert summary["reason_code"].to_list() == sorted(reasons)
