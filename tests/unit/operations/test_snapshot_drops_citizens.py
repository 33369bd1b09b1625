"""A snapshot that drops citizens who have posted shots flags those shots, and says how many."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from operations_builders import registry_frame, write_registry

from vaxsync.marts.snapshot_changes import CODE, count_flagged_shots, flag_shots_of_missing_citizens
from vaxsync.marts.warehouse import connect


def _posted(warehouse: Path, citizens: list[str]) -> None:
    with connect(warehouse) as connection:
        for index, citizen in enumerate(citizens):
            connection.execute(
                """insert into synced_shots by name select $shot as shot_id, $citizen as citizen_id,
                   'AZ' as vaccine_code, 1 as dose_number, date '2021-08-15' as vaccinated_on,
                   'id_exact' as match_method, 1.0 as match_score, now() as first_synced_at, 'n1' as run_id""",
                {"shot": f"shot-{index}", "citizen": citizen},
            )
            for row, duplicate in ((2 * index, False), (2 * index + 1, True)):
                connection.execute(
                    """insert into shot_sources by name select $shot as shot_id, 'f.csv' as source_file,
                       'h' as file_hash, $row as source_row, $duplicate as is_duplicate, 'n1' as run_id""",
                    {"shot": f"shot-{index}", "row": row, "duplicate": duplicate},
                )


def test_shots_of_dropped_citizens_are_flagged_and_the_flag_lifts_when_they_return(tmp_path: Path) -> None:
    everyone = registry_frame(3)
    citizens = everyone["citizen_id"].to_list()
    warehouse = tmp_path / "warehouse.duckdb"
    _posted(warehouse, citizens)
    smaller = write_registry(
        tmp_path / "smaller.parquet", everyone.filter(pl.col("citizen_id") != citizens[1])
    )
    with connect(warehouse) as connection:
        flag_shots_of_missing_citizens(connection, smaller, "n2", "a" * 64)
        flag_shots_of_missing_citizens(connection, smaller, "n2", "a" * 64)  # a re-run changes nothing
        flags = connection.execute(
            "select shot_id, citizen_id, source_row, action, detail from shot_conflicts where conflict_code = ?",
            [CODE],
        ).fetchall()
        assert count_flagged_shots(connection) == 1
    # flagged on the shot's winning row (not the merged duplicate); the detail names the snapshot, no ID
    assert flags == [
        ("shot-1", citizens[1], 2, "posted_flagged", "citizen not in registry snapshot aaaaaaaaaaaa")
    ]
    full = write_registry(tmp_path / "full.parquet", everyone)
    with connect(warehouse) as connection:
        flag_shots_of_missing_citizens(connection, full, "n3", "b" * 64)
        assert count_flagged_shots(connection) == 0
        assert connection.execute("select count(*) from synced_shots").fetchall() == [(3,)]  # still posted


def test_the_flag_lifts_when_the_citizen_returns_after_the_shot_left(tmp_path: Path) -> None:
    # the snapshot is read only for the citizens concerned: a flagged one whose shot was retracted since counts
    everyone = registry_frame(3)
    citizens = everyone["citizen_id"].to_list()
    warehouse = tmp_path / "warehouse.duckdb"
    _posted(warehouse, citizens)
    smaller = write_registry(
        tmp_path / "smaller.parquet", everyone.filter(pl.col("citizen_id") != citizens[1])
    )
    full = write_registry(tmp_path / "full.parquet", everyone)
    with connect(warehouse) as connection:
        flag_shots_of_missing_citizens(connection, smaller, "n2", "a" * 64)
        connection.execute("delete from synced_shots where citizen_id = ?", [citizens[1]])
        flag_shots_of_missing_citizens(connection, smaller, "n3", "a" * 64)
        assert count_flagged_shots(connection) == 1  # still not in the snapshot: the flag stays
        flag_shots_of_missing_citizens(connection, full, "n4", "b" * 64)
        assert count_flagged_shots(connection) == 0
