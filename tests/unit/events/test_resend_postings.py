"""A new file version supersedes the old one's postings; a posting can be withdrawn; renamed re-sends are
recognised conservatively. Tiny hand-built nights in a warehouse in tmp_path (docs/backlog.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl
import pytest
from event_builders import ADULT, CHILD, post_night, row, table, write_registry

from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, write_json
from vaxsync.marts.events import facility_key_sql, held_rows_freed_by_retraction, retract_postings
from vaxsync.marts.resends import (
    TONIGHT_VERSION_SCHEMA,
    path_arrivals,
    read_tonight_versions,
    recognise_versions,
    record_arrivals,
    row_key_sql,
    stage_version_changes,
)
from vaxsync.marts.warehouse import connect

NOW = dt.datetime(2023, 2, 1, 2, 0)
ROW_KEY_SCHEMA = {"file_hash": pl.String(), "source_row": pl.Int32()}


@pytest.fixture
def warehouse(tmp_path: Path) -> Any:
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return write_registry(tmp_path / "registry.parquet")


def version(file: str, lineage: str, recognised_as: str, replaces: str | None = None) -> dict[str, Any]:
    return {
        "source_file": file, "file_hash": f"hash-{file}", "lineage": lineage, "recognised_as": recognised_as,
        "replaces_file_hash": replaces and f"hash-{replaces}",
    }  # fmt: skip


def post_version(
    connection: duckdb.DuckDBPyConnection,
    versions: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    registry: Path,
    run_id: str,
) -> pl.DataFrame:
    """Publish a night whose files are the given versions, as publish does: stage, post, record."""
    stage_version_changes(connection, pl.DataFrame(versions, schema=TONIGHT_VERSION_SCHEMA))
    routed = post_night(connection, rows, registry, run_id)
    record_arrivals(connection, run_id, NOW)
    return routed


def doses(connection: duckdb.DuckDBPyConnection, citizen: str = ADULT) -> list[tuple[str, str, int]]:
    return table(
        connection,
        f"""select cast(vaccinated_on as varchar), vaccine_code, dose_number from synced_shots
            where citizen_id = '{citizen}' order by vaccinated_on""",
    ).rows()


ORIGINAL = [
    row(1, "VERO_CELL", "2021-09-01", file="a.csv"),
    row(2, "VERO_CELL", "2021-10-06", lot="LOT2", file="a.csv"),
    row(3, "ASTRAZENECA", "2021-11-10", lot="AZ1", file="a.csv"),
    row(4, "MODERNA", "2022-03-01", lot="M1", file="a.csv"),  # deleted in the correction
    row(5, "PFIZER", "2022-06-01", lot="P9", file="a.csv"),  # deleted, but another facility's copy stays
    row(1, "PFIZER", "2022-06-01", lot="P9", facility="BV Quận 3", file="c.csv"),
]
CORRECTED = [
    row(1, "VERO_CELL", "2021-09-08", file="a.csv"),
    row(2, "VERO_CELL", "2021-10-06", lot="LOT2", file="a.csv"),
    row(3, "PFIZER", "2021-11-10", lot="PF1", file="a.csv"),
]


def corrected_rows() -> list[dict[str, Any]]:
    return [{**r, "file_hash": "hash-a-v2.csv"} for r in CORRECTED]


def test_a_corrected_version_replaces_the_old_versions_postings(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    first = [version("a.csv", "a.csv", "first_version"), version("c.csv", "c.csv", "first_version")]
    post_version(warehouse, first, ORIGINAL, registry, "night-1")
    assert len(doses(warehouse)) == 5
    corrected = [{**version("a.csv", "a.csv", "same_path", "a.csv"), "file_hash": "hash-a-v2.csv"}]
    routed = post_version(warehouse, corrected, corrected_rows(), registry, "night-2")
    # The Pfizer fix is not held against the AstraZeneca dose it replaces.
    assert routed["backlog_reason"].to_list() == [None, None, None]
    assert doses(warehouse) == [
        ("2021-09-08", "VERO_CELL", 1), ("2021-10-06", "VERO_CELL", 2), ("2021-11-10", "PFIZER", 3),
        ("2022-06-01", "PFIZER", 4),
    ]  # fmt: skip
    retracted = table(
        warehouse,
        """select cast(vaccinated_on as varchar), vaccine_code, retraction_reason, retracted_by_file_hash,
                  retracted_run_id from retracted_shots order by vaccinated_on""",
    ).rows()
    assert retracted == [
        ("2021-09-01", "VERO_CELL", "superseded_by_new_version", "hash-a-v2.csv", "night-2"),
        ("2021-11-10", "ASTRAZENECA", "superseded_by_new_version", "hash-a-v2.csv", "night-2"),
        ("2022-03-01", "MODERNA", "superseded_by_new_version", "hash-a-v2.csv", "night-2"),
    ]
    inactive = table(
        warehouse, "select file_hash, count(*) from shot_sources where inactive_reason is not null group by 1"
    )
    assert inactive.rows() == [("hash-a.csv", 5)]
    change = table(warehouse, "select * exclude (run_id) from file_version_changes").row(0, named=True)
    assert change == {
        "source_file": "a.csv", "file_hash": "hash-a-v2.csv", "replaced_file_hash": "hash-a.csv",
        "recognised_as": "same_path", "shots_kept": 1, "shots_added": 2, "shots_retracted": 3,
        "shots_replaced": 3, "shots_restored": 0,
    }  # fmt: skip


def test_the_old_version_again_restores_its_doses(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    first = [version("a.csv", "a.csv", "first_version"), version("c.csv", "c.csv", "first_version")]
    post_version(warehouse, first, ORIGINAL, registry, "night-1")
    original = doses(warehouse)
    corrected = [{**version("a.csv", "a.csv", "same_path", "a.csv"), "file_hash": "hash-a-v2.csv"}]
    post_version(warehouse, corrected, corrected_rows(), registry, "night-2")
    again = [{**version("a.csv", "a.csv", "rearrived"), "replaces_file_hash": "hash-a-v2.csv"}]
    post_version(warehouse, again, [], registry, "night-3")
    assert doses(warehouse) == original
    history = table(
        warehouse, "select vaccine_code, retracted_run_id, restored_run_id from retracted_shots order by all"
    ).rows()
    assert history == [
        ("ASTRAZENECA", "night-2", "night-3"), ("MODERNA", "night-2", "night-3"),
        ("PFIZER", "night-3", None), ("VERO_CELL", "night-2", "night-3"), ("VERO_CELL", "night-3", None),
    ]  # fmt: skip


def test_a_withdrawn_posting_is_retracted_unless_another_row_supports_it(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    post_night(warehouse, ORIGINAL, registry, "night-1")
    withdrawn = pl.DataFrame(
        {"file_hash": ["hash-a.csv", "hash-a.csv"], "source_row": [3, 5]},
        schema={"file_hash": pl.String(), "source_row": pl.Int32()},
    )
    warehouse.execute("begin transaction")
    retracted = retract_postings(warehouse, withdrawn, run_id="night-2", now=NOW, reason="posting_withdrawn")
    warehouse.execute("commit")
    assert retracted["citizen_id"].to_list() == [ADULT]  # only the AstraZeneca: the Pfizer has c.csv's copy
    assert doses(warehouse) == [
        ("2021-09-01", "VERO_CELL", 1), ("2021-10-06", "VERO_CELL", 2), ("2022-03-01", "MODERNA", 3),
        ("2022-06-01", "PFIZER", 4),
    ]  # fmt: skip
    reasons = table(warehouse, "select retraction_reason, retracted_by_file_hash from retracted_shots").rows()
    assert reasons == [("posting_withdrawn", None)]
    # The withdrawn rows keep their place in the ledger, marked inactive.
    assert table(warehouse, "select count(*) from shot_sources where inactive_reason is not null").item() == 2


def test_a_dose_below_the_approved_age_merges_and_counts_once(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    rows = [
        row(1, "PFIZER", "2023-01-10", citizen=CHILD),
        row(2, "PFIZER", "2023-01-10", citizen=CHILD, file="b.csv"),
    ]
    routed = post_night(warehouse, rows, registry, "night-1")
    assert routed["backlog_reason"].to_list() == [None, None]
    assert doses(warehouse, CHILD) == [("2023-01-10", "PFIZER", 1)]
    flags = table(warehouse, "select source_row, action, shot_id is not null from shot_conflicts order by 1")
    assert flags.rows() == [(1, "posted_flagged", True), (2, "posted_flagged", True)]


# --- recognising a renamed re-send ---------------------------------------------------------------------------


def export_rows(
    file: str, people: range, *, facility: str = "TYT Phường 1", on: str = "2021-10-01"
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "file_hash": f"hash-{file}", "source_file": file, "raw_facility_name": facility,
            "id_value": [f"0010900{n:05d}" for n in people], "name_key": [f"nguyen van {n}" for n in people],
            "vaccinated_date": dt.date.fromisoformat(on), "raw_vaccinated_on": on, "vaccine_code": "PFIZER",
            "raw_vaccine": "Pfizer",
        },
        schema={"file_hash": pl.String(), "source_file": pl.String(), "raw_facility_name": pl.String(),
                "id_value": pl.String(), "name_key": pl.String(), "vaccinated_date": pl.Date(),
                "raw_vaccinated_on": pl.String(), "vaccine_code": pl.String(), "raw_vaccine": pl.String()},
    )  # fmt: skip


def land_earlier_version(connection: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    """An earlier night's arrival: its file_versions row and row keys, as publish records them."""
    connection.register("earlier_rows", rows.to_arrow())
    connection.execute(
        f"""
        insert into file_versions
        select any_value(source_file), file_hash, any_value(source_file), null, 'first_version', null,
               mode({facility_key_sql("raw_facility_name")}), min(vaccinated_date), max(vaccinated_date), count(*),
               count(distinct {row_key_sql()}), 'night-1', timestamp '2023-01-31 02:00'
        from earlier_rows group by file_hash;
        insert into file_row_keys select distinct file_hash, {row_key_sql()} from earlier_rows;
        """
    )


class RenameCase(NamedTuple):
    tonight: pl.DataFrame
    recognised_as: str


OLD = export_rows("old.csv", range(10))
RENAME_CASES = {
    "nine of ten rows identical, one deleted": RenameCase(export_rows("new.csv", range(9)), "renamed"),
    "one row corrected of ten": RenameCase(
        pl.concat([export_rows("new.csv", range(9)), export_rows("new.csv", range(9, 10), on="2021-10-02")]),
        "renamed",
    ),
    "another facility": RenameCase(export_rows("new.csv", range(10), facility="BV Quận 3"), "first_version"),
    "another period": RenameCase(export_rows("new.csv", range(10), on="2022-01-05"), "first_version"),
    "half the rows repeated, half new (a cumulative export)": RenameCase(
        export_rows("new.csv", range(20)), "first_version"
    ),
    "a few rows shared": RenameCase(
        pl.concat([export_rows("new.csv", range(3)), export_rows("new.csv", range(100, 107))]),
        "first_version",
    ),
}


@pytest.mark.parametrize("case", RENAME_CASES.values(), ids=RENAME_CASES.keys())
def test_a_renamed_file_is_a_resend_only_on_strong_evidence(tmp_path: Path, case: RenameCase) -> None:
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb", work_dir=tmp_path / "work")
    work = RunWorkDir(settings)
    work.reset()
    case.tonight.write_parquet(work.normalized_file)
    write_json(
        work.discovered_file, [{"source_file": "new.csv", "file_hash": "hash-new.csv", "status": "new"}]
    )
    with connect(settings.warehouse_path) as connection:
        land_earlier_version(connection, OLD)
    replaced = recognise_versions(settings, work)
    versions = read_tonight_versions(work).row(0, named=True)
    assert versions["recognised_as"] == case.recognised_as
    if case.recognised_as == "renamed":
        assert (versions["lineage"], versions["replaces_file_hash"], replaced) == (
            "old.csv",
            "hash-old.csv",
            ["hash-old.csv"],
        )
        assert versions["row_overlap"] >= 0.8
    else:
        assert (versions["lineage"], versions["replaces_file_hash"], replaced) == ("new.csv", None, [])


def test_two_earlier_candidates_make_a_renamed_file_a_new_file(tmp_path: Path) -> None:
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb", work_dir=tmp_path / "work")
    work = RunWorkDir(settings)
    work.reset()
    export_rows("new.csv", range(10)).write_parquet(work.normalized_file)
    write_json(work.discovered_file, [])
    with connect(settings.warehouse_path) as connection:
        land_earlier_version(connection, OLD)
        land_earlier_version(connection, export_rows("old_copy.csv", range(10)))
    assert recognise_versions(settings, work) == []
    assert read_tonight_versions(work)["recognised_as"].to_list() == ["first_version"]


def test_the_active_version_landing_again_after_a_quarantined_one_is_listed_once(tmp_path: Path) -> None:
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb", work_dir=tmp_path / "work")
    with connect(settings.warehouse_path) as connection:
        connection.execute(
            """
            insert into ingest_ledger (source_file, file_hash, status, rows_read, rows_posted, rows_duplicate,
                                       rows_backlog, run_id, ingested_at)
            values ('a.csv', 'hash-a', 'loaded', 1, 1, 0, 0, 'night-1', timestamp '2023-01-31 02:00'),
                   ('a.csv', 'hash-bad', 'quarantined', 0, 0, 0, 0, 'night-2', timestamp '2023-02-01 02:00')
            """
        )
    last_seen, loaded = path_arrivals(settings)
    assert (last_seen, loaded) == ({"a.csv": "hash-bad"}, {("a.csv", "hash-a")})
    # Night 3: a.csv holds the old content again; discover lists it as rearrived, and its arrival is kept.
    work = RunWorkDir(settings)
    work.reset()
    export_rows("a.csv", range(0)).write_parquet(work.normalized_file)
    write_json(work.discovered_file, [{"source_file": "a.csv", "file_hash": "hash-a", "status": "rearrived"}])
    assert recognise_versions(settings, work) == []  # nothing to supersede
    arrival = read_tonight_versions(work).row(0, named=True)
    assert (arrival["recognised_as"], arrival["lineage"], arrival["replaces_file_hash"]) == (
        "rearrived",
        "a.csv",
        None,
    )
    with connect(settings.warehouse_path) as connection:
        stage_version_changes(connection, read_tonight_versions(work))
        connection.execute("create temp table new_shots (shot_id varchar, citizen_id varchar)")
        connection.execute("create temp table restored_tonight (shot_id varchar)")
        record_arrivals(connection, "night-3", NOW + dt.timedelta(days=1))  # after night 2
    assert path_arrivals(settings)[0] == {"a.csv": "hash-a"}  # the next night reads nothing


SAME_PATH_CASES = {
    "a correction in the same period": (export_rows("old.csv", range(3, 6)), "same_path", "old.csv"),
    "another period, one row in common": (
        pl.concat([export_rows("old.csv", range(1)), export_rows("old.csv", range(5), on="2022-03-01")]),
        "same_path",
        "old.csv",
    ),
    # Next month's export saved under last month's name: a new file, nothing of the old one retracted.
    "another period, no row in common": (
        export_rows("old.csv", range(10), on="2022-03-01"),
        "reused_name",
        "old.csv@hash-old.csv",
    ),
}


@pytest.mark.parametrize("case", SAME_PATH_CASES.values(), ids=SAME_PATH_CASES.keys())
def test_new_content_at_a_known_path_is_a_new_version_unless_plainly_another_file(
    tmp_path: Path, case: tuple[pl.DataFrame, str, str]
) -> None:
    tonight, recognised_as, lineage = case
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb", work_dir=tmp_path / "work")
    work = RunWorkDir(settings)
    work.reset()
    tonight.with_columns(file_hash=pl.lit("hash-old.csv-v2")).write_parquet(work.normalized_file)
    write_json(work.discovered_file, [])
    with connect(settings.warehouse_path) as connection:
        land_earlier_version(connection, OLD)
    replaced = recognise_versions(settings, work)
    versions = read_tonight_versions(work).row(0, named=True)
    assert (versions["recognised_as"], versions["lineage"]) == (recognised_as, lineage)
    assert replaced == (["hash-old.csv"] if recognised_as == "same_path" else [])


def test_a_kept_shot_takes_the_corrected_lot_and_dose_number(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    post_version(
        warehouse,
        [version("a.csv", "a.csv", "first_version")],
        [row(1, "PFIZER", "2021-10-01", lot="L0", dose=2, file="a.csv")],
        registry,
        "night-1",
    )
    shot_id = table(warehouse, "select shot_id from synced_shots").item()
    assert table(warehouse, "select conflict_code from shot_conflicts").rows() == [("dose_number_mismatch",)]
    corrected = [
        {**row(1, "PFIZER", "2021-10-01", lot="L1", dose=1, file="a.csv"), "file_hash": "hash-a-v2.csv"}
    ]
    versions = [{**version("a.csv", "a.csv", "same_path", "a.csv"), "file_hash": "hash-a-v2.csv"}]
    post_version(warehouse, versions, corrected, registry, "night-2")
    kept = table(warehouse, "select shot_id, lot, dose_number_reported from synced_shots").rows()
    assert kept == [(shot_id, "L1", 1)]  # same dose, corrected values
    assert table(warehouse, "select count(*) from retracted_shots").item() == 0
    assert table(warehouse, "select conflict_code from shot_conflicts").rows() == []  # dose 1 of 1 now


def test_an_old_version_landing_again_away_from_the_active_version_is_a_copy_not_a_flip_flop(
    tmp_path: Path, registry: Path
) -> None:
    """a.csv is renamed b.csv in its corrected version; later a.csv holds other content, then the old
    content again. The lineage's active version (b.csv) stays: the old content is a copy of the old version."""
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb", work_dir=tmp_path / "work")
    renamed = [
        {**version("b.csv", "a.csv", "renamed", "a.csv")},
    ]
    with connect(settings.warehouse_path) as connection:
        first = [version("a.csv", "a.csv", "first_version"), version("c.csv", "c.csv", "first_version")]
        stage_version_changes(connection, pl.DataFrame(first, schema=TONIGHT_VERSION_SCHEMA))
        post_night(connection, ORIGINAL, registry, "night-1")
        record_arrivals(connection, "night-1", NOW)
        stage_version_changes(connection, pl.DataFrame(renamed, schema=TONIGHT_VERSION_SCHEMA))
        post_night(connection, [{**r, "file_hash": "hash-b.csv", "source_file": "b.csv"} for r in CORRECTED],
                   registry, "night-2")  # fmt: skip
        record_arrivals(connection, "night-2", NOW + dt.timedelta(days=1))
        corrected_doses = doses(connection)
        connection.execute(
            """
            insert into ingest_ledger (source_file, file_hash, status, rows_read, rows_posted, rows_duplicate,
                                       rows_backlog, run_id, ingested_at)
            values ('a.csv', 'hash-a.csv', 'loaded', 5, 5, 0, 0, 'night-1', timestamp '2023-02-01 02:00'),
                   ('b.csv', 'hash-b.csv', 'loaded', 3, 3, 0, 0, 'night-2', timestamp '2023-02-02 02:00'),
                   ('a.csv', 'hash-other', 'quarantined', 0, 0, 0, 0, 'night-3', timestamp '2023-02-03 02:00')
            """
        )
    last_seen, loaded = path_arrivals(settings)
    # What discover sees: a.csv's old content, loaded there before, after other content: listed as rearrived.
    assert last_seen["a.csv"] == "hash-other" and ("a.csv", "hash-a.csv") in loaded
    work = RunWorkDir(settings)
    work.reset()
    export_rows("a.csv", range(0)).write_parquet(work.normalized_file)
    write_json(
        work.discovered_file, [{"source_file": "a.csv", "file_hash": "hash-a.csv", "status": "rearrived"}]
    )
    assert recognise_versions(settings, work) == []  # it replaces nothing
    arrival = read_tonight_versions(work).row(0, named=True)
    assert (arrival["recognised_as"], arrival["lineage"], arrival["replaces_file_hash"]) == (
        "old_version_copy",
        "a.csv",
        None,
    )
    with connect(settings.warehouse_path) as connection:
        stage_version_changes(connection, read_tonight_versions(work))
        post_night(connection, [], registry, "night-4")
        record_arrivals(connection, "night-4", NOW + dt.timedelta(days=3))
        assert doses(connection) == corrected_doses  # the retracted AstraZeneca and Moderna stay retracted
        assert (
            table(connection, "select count(*) from retracted_shots where restored_run_id is not null").item()
            == 0
        )
    assert path_arrivals(settings)[0]["a.csv"] == "hash-a.csv"  # the next night reads nothing
    # The next night, b.csv's version is still the lineage's active one: a.csv landing again is still a copy.
    work.reset()
    export_rows("a.csv", range(0)).write_parquet(work.normalized_file)
    write_json(
        work.discovered_file, [{"source_file": "b.csv", "file_hash": "hash-b.csv", "status": "rearrived"}]
    )
    recognise_versions(settings, work)
    assert read_tonight_versions(work)["recognised_as"].to_list() == [
        "rearrived"
    ]  # the active version itself


def test_a_row_held_against_a_withdrawn_posting_is_matched_again_once(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    """Night 1 posts a.csv's AstraZeneca; night 2 holds b.csv's Pfizer the same day against it; night 3
    withdraws the AstraZeneca's posting. From then on b.csv's row is freed (matched again) until it is
    evaluated again."""
    post_night(warehouse, [row(3, "ASTRAZENECA", "2021-11-10", lot="AZ1", file="a.csv")], registry, "night-1")
    routed = post_night(
        warehouse, [row(1, "PFIZER", "2021-11-10", lot="P1", file="b.csv")], registry, "night-2"
    )
    assert routed["backlog_reason"].to_list() == ["two_products_same_day"]
    warehouse.execute(
        """
        insert into unposted_backlog (source_file, file_hash, source_row, reason_code, first_seen_on, run_id,
                                      last_matched_run_id)
        values ('b.csv', 'hash-b.csv', 1, 'two_products_same_day', date '2023-02-01', 'night-2', 'night-2');
        insert into pipeline_runs (run_id, as_of, registry_hash, landing_hash, files_new, files_quarantined,
            rows_in, rows_posted, rows_duplicate, rows_backlog, outcome, started_at, finished_at)
        values ('night-2', date '2023-02-01', 'r', 'l', 1, 0, 1, 0, 0, 1, 'published',
                timestamp '2023-02-01 01:00', timestamp '2023-02-01 01:30');
        create temp table tonight_replaced_files (file_hash varchar);
        """
    )

    def freed() -> list[tuple[str, int]]:
        return warehouse.sql(held_rows_freed_by_retraction()).fetchall()

    assert freed() == []  # the AstraZeneca is still posted
    # A re-send replacing a.csv tonight retires the AstraZeneca: the row is freed the same night.
    warehouse.execute("insert into tonight_replaced_files values ('hash-a.csv')")
    assert freed() == [("hash-b.csv", 1)]
    warehouse.execute("delete from tonight_replaced_files")
    withdrawn = pl.DataFrame({"file_hash": ["hash-a.csv"], "source_row": [3]}, schema=ROW_KEY_SCHEMA)
    warehouse.execute("begin transaction")
    retract_postings(warehouse, withdrawn, run_id="night-3", now=NOW, reason="posting_withdrawn")
    warehouse.execute("commit")
    assert freed() == [("hash-b.csv", 1)]  # retracted since the row was last evaluated
    # Evaluated again on a night after the retraction (and still held, say): not picked again.
    warehouse.execute(
        """
        insert into pipeline_runs (run_id, as_of, registry_hash, landing_hash, files_new, files_quarantined,
            rows_in, rows_posted, rows_duplicate, rows_backlog, outcome, started_at, finished_at)
        values ('night-4', date '2023-02-03', 'r', 'l', 0, 0, 0, 0, 0, 0, 'published',
                timestamp '2023-02-03 01:00', timestamp '2023-02-03 01:30');
        update unposted_backlog set last_matched_run_id = 'night-4';
        """
    )
    assert freed() == []
