"""A warehouse made before the raw export fields were prefixed: its backlog rows keep their values as sent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from vaxsync.core.contracts import EXPORT_FIELDS, NORMALIZED_EXTRA_SCHEMA, raw_column
from vaxsync.core.settings import Settings
from vaxsync.marts.backlog import open_rematchable_records
from vaxsync.marts.warehouse import BACKLOG_RECORD_SCHEMA, connect
from vaxsync.reports.province_reports import open_backlog_rows

AS_OF = dt.date(2023, 1, 31)
SENT = {
    "facility_name": "Trạm Y tế Phúc Xá",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "01/05/1990",
    "sex": "Nam",
    "phone": "0912 345 678",
    "vaccine": "Pfizer",
    "vaccinated_on": "10/01/2022",
}


def old_warehouse(path: Path) -> None:
    """backlog_records as the warehouse made it before: the raw fields under their bare names (text
    `vaccinated_on`, `date_of_birth`), one stored row."""
    columns = ", ".join(f"{field} varchar" for field in EXPORT_FIELDS)
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            f"""create table backlog_records (
                source_file varchar, file_hash varchar, source_row integer, {columns},
                extra_columns varchar, row_issue varchar, cell_kinds varchar,
                full_name_clean varchar, birth_date date, birth_year integer, id_kind varchar,
                primary key (file_hash, source_row))"""
        )
        connection.execute(
            f"""insert into backlog_records (source_file, file_hash, source_row, {", ".join(SENT)},
                    full_name_clean, birth_date, birth_year, id_kind)
                values ('01_Ha_Noi/01001001/a.csv', 'hash-a', 1, {", ".join("?" for _ in SENT)},
                        'Nguyễn Văn An', date '1990-05-01', 1990, 'missing')""",
            list(SENT.values()),
        )


def test_opening_an_old_warehouse_renames_the_raw_columns_and_keeps_their_values(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    old_warehouse(warehouse)

    for _ in range(2):  # a second opening finds nothing left to rename
        with connect(warehouse) as connection:
            columns = [name for name, *_ in connection.execute("describe backlog_records").fetchall()]
            stored = connection.execute(
                f"select {', '.join(raw_column(field) for field in SENT)} from backlog_records"
            ).fetchall()

    assert sorted(columns) == sorted(BACKLOG_RECORD_SCHEMA)
    assert not set(EXPORT_FIELDS) & set(columns)
    assert stored == [tuple(SENT.values())]


def test_an_old_warehouse_still_shows_and_rematches_its_backlog_rows(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    old_warehouse(warehouse)
    with connect(warehouse) as connection:
        connection.execute(
            """insert into unposted_backlog (source_file, file_hash, source_row, reason_code, province_code,
                   first_seen_on, run_id)
               values ('01_Ha_Noi/01001001/a.csv', 'hash-a', 1, 'no_usable_id', '01', date '2023-01-30', 'r1')"""
        )
        report_rows = open_backlog_rows(connection, as_of=AS_OF)
    settings = Settings(warehouse_path=warehouse, as_of=AS_OF)
    decided = pl.DataFrame(schema={"file_hash": pl.String(), "source_row": pl.Int32()})

    rematch = open_rematchable_records(settings, "registry-hash", decided)

    sent = report_rows.row(0, named=True)
    assert (sent["facility"], sent["sent_full_name"], sent["sent_vaccinated_on"]) == (
        SENT["facility_name"],
        SENT["full_name"],
        SENT["vaccinated_on"],
    )
    assert rematch.select(raw_column("full_name"), raw_column("date_of_birth"), "birth_date").rows() == [
        (SENT["full_name"], SENT["date_of_birth"], dt.date(1990, 5, 1))
    ]
    assert set(NORMALIZED_EXTRA_SCHEMA) <= set(rematch.columns)
