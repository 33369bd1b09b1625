"""Vaccination-event rules, table-driven: which rows are one dose, who wins, and what is flagged or held.

Each case publishes one or two tiny nights into a warehouse in tmp_path (docs/events.md states the rules).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl
import pytest
from event_builders import ADULT, CHILD, YEAR_ONLY_CHILD, post_night, row, table, write_registry

from vaxsync.core.reasons import BACKLOG_REASONS, HELD_CONFLICTS, RECORD_FLAGS, SHOT_CONFLICTS
from vaxsync.marts.events import HOLD_PRIORITY, SEQUENCE_FLAGS
from vaxsync.marts.warehouse import connect


@pytest.fixture
def warehouse(tmp_path: Path) -> Any:
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return write_registry(tmp_path / "registry.parquet")


def sources(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return table(
        connection,
        "select source_row, shot_id, is_duplicate, win_reason, merge_rule from shot_sources order by source_row",
    )


def conflicts(connection: duckdb.DuckDBPyConnection) -> set[tuple[int, str, str]]:
    rows = table(connection, "select source_row, conflict_code, action from shot_conflicts")
    return set(rows.iter_rows())


class EventCase(NamedTuple):
    rows: list[dict[str, Any]]
    count_shots: int
    merge_rules: list[str | None]  # per source row, in order
    win_reasons: list[str]


EVENT_CASES = {
    "same family, same day, two facilities": EventCase(
        [row(1, "VERO_CELL", "2021-10-01", facility="TYT Phường 1"),
         row(2, "HAYAT_VAX", "2021-10-01", facility="BV Quận 3", lot="HV9")],
        1, [None, "same_family_same_day"], ["earliest_file", "earliest_file"],
    ),
    "same vaccine, same day, the copy without a lot loses": EventCase(
        [row(1, "PFIZER", "2021-10-01", lot=None), row(2, "PFIZER", "2021-10-01", facility="BV Quận 3")],
        1, ["same_vaccine_same_day", None], ["has_lot", "has_lot"],
    ),
    "a day later, same lot and facility": EventCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-02", file="night_2.csv")],
        1, [None, "adjacent_day_same_lot_facility"], ["earliest_file", "earliest_file"],
    ),
    "a day earlier, same lot and facility": EventCase(
        [row(1, "PFIZER", "2021-10-02"), row(2, "PFIZER", "2021-10-01")],
        1, [None, "adjacent_day_same_lot_facility"], ["earliest_file", "earliest_file"],
    ),
    "a day apart, different lot": EventCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-02", lot="LOT2")],
        2, [None, None], ["only_copy", "only_copy"],
    ),
    "a day apart, same lot, different facility": EventCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-02", facility="BV Quận 3")],
        2, [None, None], ["only_copy", "only_copy"],
    ),
    "a day apart, lot unknown on both": EventCase(
        [row(1, "PFIZER", "2021-10-01", lot=None), row(2, "PFIZER", "2021-10-02", lot=None)],
        2, [None, None], ["only_copy", "only_copy"],
    ),
    "two days apart, same lot and facility": EventCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-03")],
        2, [None, None], ["only_copy", "only_copy"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", EVENT_CASES.values(), ids=EVENT_CASES.keys())
def test_copies_of_one_dose_are_one_event(
    warehouse: duckdb.DuckDBPyConnection, registry: Path, case: EventCase
) -> None:
    post_night(warehouse, case.rows, registry, "night-1")
    assert table(warehouse, "select * from synced_shots").height == case.count_shots
    placed = sources(warehouse)
    assert placed["merge_rule"].to_list() == case.merge_rules
    assert placed["win_reason"].to_list() == case.win_reasons
    # Every row points at a posted shot; exactly one winner per shot.
    assert placed.filter(~pl.col("is_duplicate"))["shot_id"].sort().to_list() == sorted(
        table(warehouse, "select shot_id from synced_shots")["shot_id"].to_list()
    )


def test_the_shot_id_is_the_winners_content_hash(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    rows = [row(1, "VERO_CELL", "2021-10-01", lot=None), row(2, "HAYAT_VAX", "2021-10-01", lot="HV9")]
    post_night(warehouse, rows, registry, "night-1")
    # Row 2 wins (it has a lot): its (citizen, vaccine, date) names the shot, whatever the copies say.
    expected = warehouse.sql(f"select substr(sha256('{ADULT}' || '|HAYAT_VAX|2021-10-01'), 1, 32)").fetchall()
    assert table(warehouse, "select shot_id from synced_shots").rows() == expected
    assert table(warehouse, "select shot_id from shot_sources").rows() == expected * 2


class PostedCase(NamedTuple):
    night_1: list[dict[str, Any]]
    night_2: list[dict[str, Any]]
    count_shots: int
    night_2_outcome: tuple[bool, str | None]  # (is_duplicate, win_reason) of night 2's row


POSTED_CASES = {
    "the same dose again": PostedCase(
        [row(1, "PFIZER", "2021-10-01")], [row(1, "PFIZER", "2021-10-01", file="b.csv")],
        1, (True, "already_posted"),
    ),
    "a day later, same lot and facility": PostedCase(
        [row(1, "PFIZER", "2021-10-01")], [row(1, "PFIZER", "2021-10-02", file="b.csv")],
        1, (True, "already_posted"),
    ),
    "same family, same day, another facility": PostedCase(
        [row(1, "VERO_CELL", "2021-10-01")], [row(1, "HAYAT_VAX", "2021-10-01", facility="BV", file="b.csv")],
        1, (True, "already_posted"),
    ),
    "a day later, another lot": PostedCase(
        [row(1, "PFIZER", "2021-10-01")], [row(1, "PFIZER", "2021-10-02", lot="LOT2", file="b.csv")],
        2, (False, "only_copy"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", POSTED_CASES.values(), ids=POSTED_CASES.keys())
def test_a_later_batch_merges_into_the_posted_shot(
    warehouse: duckdb.DuckDBPyConnection, registry: Path, case: PostedCase
) -> None:
    post_night(warehouse, case.night_1, registry, "night-1")
    posted = table(warehouse, "select * from synced_shots")
    post_night(warehouse, case.night_2, registry, "night-2")
    assert table(warehouse, "select * from synced_shots").height == case.count_shots
    later = table(warehouse, "select * from shot_sources where run_id = 'night-2'")
    assert (later["is_duplicate"][0], later["win_reason"][0]) == case.night_2_outcome
    if case.night_2_outcome[0]:
        assert later["shot_id"].to_list() == posted["shot_id"].to_list()
        assert table(warehouse, "select * from synced_shots").equals(posted)


class ConflictCase(NamedTuple):
    rows: list[dict[str, Any]]
    held: dict[int, str]  # source_row -> backlog reason
    flags: set[tuple[int, str, str]]  # (source_row, conflict_code, action)


CONFLICT_CASES = {
    "two products the same day": ConflictCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "MODERNA", "2021-10-01", facility="BV")],
        {1: "two_products_same_day", 2: "two_products_same_day"},
        {(1, "two_products_same_day", "held_in_backlog"), (2, "two_products_same_day", "held_in_backlog")},
    ),
    "a copy of one of two products the same day is held too": ConflictCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-01", facility="BV"),
         row(3, "ASTRAZENECA", "2021-10-01")],
        {1: "two_products_same_day", 2: "two_products_same_day", 3: "two_products_same_day"},
        {(n, "two_products_same_day", "held_in_backlog") for n in (1, 2, 3)},
    ),
    "two products a day apart post, the second flagged for its interval": ConflictCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "MODERNA", "2021-10-02")],
        {},
        {(2, "interval_too_short", "posted_flagged")},
    ),
    "same product a day apart, different lot: two doses, interval flagged": ConflictCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-02", lot="LOT2")],
        {},
        {(2, "interval_too_short", "posted_flagged")},
    ),
    "interval shorter than the product's minimum": ConflictCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-20")],
        {},
        {(2, "interval_too_short", "posted_flagged")},
    ),
    "interval at the minimum": ConflictCase(
        [row(1, "PFIZER", "2021-10-01"), row(2, "PFIZER", "2021-10-22")], {}, set(),
    ),
    "the previous product's minimum applies (AstraZeneca 28 days, then Pfizer)": ConflictCase(
        [row(1, "ASTRAZENECA", "2021-10-01"), row(2, "PFIZER", "2021-10-26")],
        {},
        {(2, "interval_too_short", "posted_flagged")},
    ),
    "reported dose numbers that contradict the sequence": ConflictCase(
        [row(1, "PFIZER", "2021-10-01", dose=1), row(2, "PFIZER", "2021-11-01", dose=3)],
        {},
        {(2, "dose_number_mismatch", "posted_flagged")},
    ),
    "reported dose numbers that agree": ConflictCase(
        [row(1, "PFIZER", "2021-10-01", dose=1), row(2, "PFIZER", "2021-11-01", dose=2)], {}, set(),
    ),
    "before approval in Vietnam": ConflictCase(
        [row(1, "MODERNA", "2021-06-28")],
        {1: "given_before_approval"},
        {(1, "given_before_approval", "held_in_backlog")},
    ),
    "on the approval date": ConflictCase([row(1, "MODERNA", "2021-06-29")], {}, set()),
    "below the approved age: the dose happened, posted and flagged": ConflictCase(
        [row(1, "PFIZER", "2023-01-14", citizen=CHILD)],
        {},
        {(1, "below_approved_age", "posted_flagged")},
    ),
    "on the birthday that reaches the approved age": ConflictCase(
        [row(1, "PFIZER", "2023-01-15", citizen=CHILD)], {}, set(),
    ),
    "birth year only: flagged only when certainly too young": ConflictCase(
        [row(1, "PFIZER", "2022-06-01", citizen=YEAR_ONLY_CHILD),
         row(2, "MODERNA", "2022-09-01", citizen=YEAR_ONLY_CHILD)],
        {},
        {(2, "below_approved_age", "posted_flagged")},
    ),
    "below age and before approval: approval is the backlog reason, both recorded": ConflictCase(
        [row(1, "MODERNA", "2021-06-01", citizen=CHILD)],
        {1: "given_before_approval"},
        {(1, "given_before_approval", "held_in_backlog"), (1, "below_approved_age", "held_in_backlog")},
    ),
    # Found by h6: a small file written month-first (nothing in it over 12) whose birth dates agreed only read
    # the other way; its vaccination dates were posted read day-first, on the wrong day.
    "birth date agrees only read the other way, vaccination date readable both ways": ConflictCase(
        [row(1, "PFIZER", "2021-10-08", born="1990-01-05", born_alt="1990-05-01")],
        {1: "vaccination_date_order_doubtful"},
        {(1, "vaccination_date_order_doubtful", "held_in_backlog")},
    ),
    "birth date agrees only read the other way, vaccination date readable one way": ConflictCase(
        [row(1, "PFIZER", "2021-10-25", born="1990-01-05", born_alt="1990-05-01"),
         row(2, "PFIZER", "2021-12-12", born="1990-01-05", born_alt="1990-05-01")],
        {},
        set(),
    ),
    # ... but not when the file proves its order (a day over 12 elsewhere in it, nothing the other way): the
    # vaccination date was read in that order (h6's independent landing held 5 correct rows).
    "birth date agrees only read the other way, in a file proven day-first": ConflictCase(
        [row(1, "PFIZER", "2021-10-08", born="1990-01-05", born_alt="1990-05-01", order="day_first")],
        {},
        set(),
    ),
    "birth date agrees as read": ConflictCase(
        [row(1, "PFIZER", "2021-10-08", born="1990-05-01", born_alt="1990-01-05")], {}, set(),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CONFLICT_CASES.values(), ids=CONFLICT_CASES.keys())
def test_conflicts_are_flagged_or_held(
    warehouse: duckdb.DuckDBPyConnection, registry: Path, case: ConflictCase
) -> None:
    routed = post_night(warehouse, case.rows, registry, "night-1")
    held = routed.filter(pl.col("citizen_id").is_null())
    assert dict(zip(held["source_row"], held["backlog_reason"], strict=True)) == case.held
    # A held row keeps its citizen as the candidate, and is not posted.
    citizen_by_row = {r["source_row"]: r["citizen_id"] for r in case.rows}
    assert held["candidate_citizen_id"].to_list() == [citizen_by_row[n] for n in held["source_row"]]
    posted_rows = set(sources(warehouse)["source_row"])
    assert posted_rows == {r["source_row"] for r in case.rows} - set(case.held)
    assert conflicts(warehouse) == case.flags


def test_a_doubtful_order_is_judged_by_the_configured_campaign_start(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    # 2021-10-08 read the other way is 2021-08-10: before a campaign that started 2021-09-01 (the setting,
    # VAXSYNC_CAMPAIGN_START), so it cannot be meant; 2021-10-09 read the other way is inside.
    rows = [
        row(1, "PFIZER", "2021-10-08", born="1990-01-05", born_alt="1990-05-01"),
        row(2, "MODERNA", "2021-11-10", born="1990-01-05", born_alt="1990-05-01"),
    ]
    routed = post_night(warehouse, rows, registry, "night-1", campaign_start=dt.date(2021, 9, 1))
    held = routed.filter(pl.col("citizen_id").is_null())
    assert held.select("source_row", "backlog_reason").rows() == [(2, "vaccination_date_order_doubtful")]


def test_a_second_product_after_posting_is_held_and_the_posted_shot_flagged(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    post_night(warehouse, [row(1, "PFIZER", "2021-10-01")], registry, "night-1")
    posted = table(warehouse, "select * from synced_shots")
    routed = post_night(warehouse, [row(1, "MODERNA", "2021-10-01", file="b.csv")], registry, "night-2")
    assert routed["backlog_reason"].to_list() == ["two_products_same_day"]
    assert table(warehouse, "select * from synced_shots").equals(posted)
    flags = table(
        warehouse, "select file_hash, conflict_code, action, shot_id, related_shot_id from shot_conflicts"
    )
    assert flags.sort("file_hash").rows() == [
        ("hash-b.csv", "two_products_same_day", "held_in_backlog", None, posted["shot_id"][0]),
        ("hash-night.csv", "two_products_same_day", "posted_flagged", posted["shot_id"][0], None),
    ]


def test_every_matched_row_is_posted_merged_or_held_exactly_once(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    rows = [case_row for case in CONFLICT_CASES.values() for case_row in case.rows]
    rows = [{**case_row, "source_row": number} for number, case_row in enumerate(rows, start=1)]
    routed = post_night(warehouse, rows, registry, "night-1")
    placed = table(warehouse, "select source_row from shot_sources")["source_row"].to_list()
    held = routed.filter(pl.col("backlog_reason").is_not_null())["source_row"].to_list()
    assert sorted(placed + held) == list(range(1, len(rows) + 1))


def test_a_late_earlier_dose_re_sequences_idempotently(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    def doses() -> list[tuple[str, int, int]]:
        return table(
            warehouse, "select cast(vaccinated_on as varchar), dose_number, dose_number_reported from synced_shots "
            "order by vaccinated_on",
        ).rows()  # fmt: skip

    second_and_third = [row(1, "PFIZER", "2021-11-01", dose=2), row(2, "PFIZER", "2022-03-01", dose=3)]
    post_night(warehouse, second_and_third, registry, "night-1")
    assert doses() == [("2021-11-01", 1, 2), ("2022-03-01", 2, 3)]
    assert conflicts(warehouse) == {
        (1, "dose_number_mismatch", "posted_flagged"),
        (2, "dose_number_mismatch", "posted_flagged"),
    }

    first = [row(1, "PFIZER", "2021-10-01", dose=1, lot="LOT0", file="late.csv")]
    post_night(warehouse, first, registry, "night-2")
    assert doses() == [("2021-10-01", 1, 1), ("2021-11-01", 2, 2), ("2022-03-01", 3, 3)]
    assert conflicts(warehouse) == set()

    before = {
        name: table(warehouse, f"select * from {name} order by all")
        for name in ("synced_shots", "shot_conflicts")
    }
    # The same night's file sent again as a new version: every row merges, nothing changes.
    post_night(warehouse, [{**first[0], "file_hash": "hash-late-v2"}], registry, "night-2-again")
    for name, frame in before.items():
        assert table(warehouse, f"select * from {name} order by all").equals(frame), name
    assert table(warehouse, "select win_reason from shot_sources where run_id = 'night-2-again'").rows() == [
        ("already_posted",)
    ]


def test_every_conflict_code_has_english_and_vietnamese_text() -> None:
    assert set(SHOT_CONFLICTS) == set(HOLD_PRIORITY) | set(RECORD_FLAGS) | set(SEQUENCE_FLAGS)
    assert HOLD_PRIORITY == HELD_CONFLICTS  # one home for the held list
    assert set(HOLD_PRIORITY) <= set(BACKLOG_REASONS)
    for reason in SHOT_CONFLICTS.values():
        assert reason.english and reason.vietnamese and reason.english != reason.vietnamese


def test_a_row_of_an_unknown_citizen_in_the_registry_is_not_age_checked(
    warehouse: duckdb.DuckDBPyConnection, registry: Path
) -> None:
    routed = post_night(warehouse, [row(1, "PFIZER", "2021-10-01", citizen="079000000009")], registry, "n")
    assert routed["backlog_reason"].to_list() == [None]
    assert sources(warehouse).height == 1
