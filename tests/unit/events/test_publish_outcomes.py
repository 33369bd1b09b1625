"""After the postings are staged, publish keeps only the unposted rows in memory: `outcomes` still reads as
every row of the night, with the same values, its posted rows now coming from `night_postings`."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from event_builders import ADULT, outcomes, row, write_registry
from polars.testing import assert_frame_equal

from vaxsync.core.settings import CAMPAIGN_START
from vaxsync.marts.events import hold_conflicting_rows, stage_postings
from vaxsync.marts.publish import keep_unposted_outcomes
from vaxsync.marts.warehouse import connect

KEYS = ["file_hash", "source_row"]


def _night() -> pl.DataFrame:
    unmatched = row(4, "PFIZER", "2021-10-02") | {
        "citizen_id": None,
        "match_method": None,
        "candidate_citizen_id": ADULT,
        "backlog_reason": "no_confident_match",
        "backlog_detail": "p=0.40",
    }
    return outcomes(
        [
            row(1, "PFIZER", "2021-10-01"),
            row(2, "PFIZER", "2021-10-01", facility="BV 3"),  # a copy, merged into row 1's shot
            row(3, "MODERNA", "2021-06-28"),  # before approval: held in the backlog
            unmatched,
        ]
    )


def test_outcomes_read_the_same_rows_once_only_the_unposted_are_kept(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.parquet")
    with connect(tmp_path / "warehouse.duckdb") as connection:
        routed = hold_conflicting_rows(connection, _night(), registry, campaign_start=CAMPAIGN_START)
        connection.register("outcomes", routed.to_arrow())
        stage_postings(connection)

        kept = keep_unposted_outcomes(connection, routed)
        read_back = connection.sql("select * from outcomes").pl()

    assert sorted(kept["source_row"]) == [3, 4]
    assert_frame_equal(kept.sort(KEYS), routed.filter(pl.col("citizen_id").is_null()).sort(KEYS))
    assert read_back.columns == routed.columns
    assert_frame_equal(read_back.sort(KEYS), routed.sort(KEYS))
