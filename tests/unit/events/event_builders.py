"""Tiny nights for the event rules: hand-built outcome rows, a registry of birth dates, a warehouse in tmp_path.

`post_night` makes the same calls, in the same order, as vaxsync.marts.publish.publish: hold, register, stage,
write in one transaction.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from vaxsync.core.settings import CAMPAIGN_START
from vaxsync.marts.events import hold_conflicting_rows, stage_postings, write_postings

OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "file_hash": pl.String(),
    "source_file": pl.String(),
    "source_row": pl.Int32(),
    "raw_facility_name": pl.String(),
    "vaccine_code": pl.String(),
    "vaccinated_date": pl.Date(),
    "birth_date": pl.Date(),
    "birth_date_alt": pl.Date(),
    "vaccination_date_order": pl.String(),
    "lot_number": pl.String(),
    "dose_number_reported": pl.Int8(),
    "citizen_id": pl.String(),
    "match_method": pl.String(),
    "match_score": pl.Float64(),
    "candidate_citizen_id": pl.String(),
    "backlog_reason": pl.String(),
    "backlog_detail": pl.String(),
}
ADULT = "001090000001"  # born 1990-05-01
CHILD = "001218000002"  # born 2018-01-15
YEAR_ONLY_CHILD = "001217000003"  # only the birth year (2017) is known
BIRTHS = {
    ADULT: (dt.date(1990, 5, 1), 1990),
    CHILD: (dt.date(2018, 1, 15), 2018),
    YEAR_ONLY_CHILD: (None, 2017),
}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def row(
    source_row: int,
    vaccine: str,
    on: str,
    *,
    citizen: str = ADULT,
    facility: str = "TYT Phường 1",
    lot: str | None = "LOT1",
    dose: int | None = None,
    file: str = "night.csv",
    born: str | None = None,
    born_alt: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """One matched input row; the file name stands for the file version (its hash)."""
    return {
        "file_hash": f"hash-{file}",
        "source_file": file,
        "source_row": source_row,
        "raw_facility_name": facility,
        "vaccine_code": vaccine,
        "vaccinated_date": day(on),
        "birth_date": day(born) if born else None,
        "birth_date_alt": day(born_alt) if born_alt else None,
        "vaccination_date_order": order,
        "lot_number": lot,
        "dose_number_reported": dose,
        "citizen_id": citizen,
        "match_method": "id_exact",
        "match_score": 1.0,
        "candidate_citizen_id": None,
        "backlog_reason": None,
        "backlog_detail": None,
    }


def outcomes(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=OUTCOME_SCHEMA)


def write_registry(path: Path) -> Path:
    pl.DataFrame(
        {
            "citizen_id": list(BIRTHS),
            "date_of_birth": [birth for birth, _ in BIRTHS.values()],
            "birth_year": [year for _, year in BIRTHS.values()],
        },
        schema={"citizen_id": pl.String(), "date_of_birth": pl.Date(), "birth_year": pl.Int32()},
    ).write_parquet(path)
    return path


def post_night(
    connection: duckdb.DuckDBPyConnection,
    rows: list[dict[str, Any]],
    registry: Path,
    run_id: str,
    *,
    campaign_start: dt.date = CAMPAIGN_START,
) -> pl.DataFrame:
    """Publish the rows' events; returns the outcomes with held rows moved to the backlog."""
    routed = hold_conflicting_rows(connection, outcomes(rows), registry, campaign_start=campaign_start)
    connection.register("outcomes", routed.to_arrow())
    stage_postings(connection)
    connection.execute("begin transaction")
    write_postings(connection, run_id, dt.datetime(2023, 1, 31, 2, 0))
    connection.execute("commit")
    return routed


def table(connection: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return connection.sql(sql).pl()
