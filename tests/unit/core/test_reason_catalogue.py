"""The reason catalogue (data/reference/reasons.csv) is complete and consistent, and every list of codes
the code base uses is a projection of it, defined once in vaxsync.core.reasons.

The expectations are computed from the file read with the standard csv module, not with the loader
under test, so a list re-typed by hand or a loader that drops a facet fails here."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest

from synth.defects import WHOLE_FILE_REASONS
from transforms.ingest import landing
from transforms.ingest.structure import MALFORMED_ROW
from transforms.normalize import rejects
from vaxsync.core import reasons
from vaxsync.core.reasons import (
    CATALOGUE_PATH,
    CLOSED_LISTS,
    CONFLICT_ACTIONS,
    LAYERS,
    Reason,
    read_catalogue,
)
from vaxsync.core.settings import CAMPAIGN_START
from vaxsync.marts import backlog, decisions, events, readmission, snapshot_changes

with CATALOGUE_PATH.open(encoding="utf-8", newline="") as catalogue_file:
    ROWS: list[dict[str, str]] = list(csv.DictReader(catalogue_file))


def in_list(name: str) -> list[dict[str, str]]:
    return [row for row in ROWS if row["list"] == name]


def texts_of(rows: list[dict[str, str]]) -> dict[str, Reason]:
    # A text naming the campaign start shows the setting's value (its one home).
    return {
        row["code"]: Reason(
            row["text_en"].format(campaign_start=CAMPAIGN_START),
            row["text_vi"].format(campaign_start=CAMPAIGN_START),
        )
        for row in rows
    }


def by_priority(rows: list[dict[str, str]]) -> tuple[str, ...]:
    return tuple(row["code"] for row in sorted(rows, key=lambda row: int(row["priority"])))


def is_vietnamese(text: str) -> bool:
    """Vietnamese text carries diacritics: at least one letter outside ASCII."""
    return any(not character.isascii() for character in text)


def test_every_code_is_listed_once_per_list_with_known_facets() -> None:
    keys = [(row["list"], row["code"]) for row in ROWS]
    assert len(keys) == len(set(keys))
    assert all(row["code"].isidentifier() and row["code"].islower() for row in ROWS)
    assert {row["list"] for row in ROWS} == set(CLOSED_LISTS)
    assert {row["layer"] for row in ROWS} <= set(LAYERS)
    assert {row["conflict"] for row in ROWS} - {""} <= set(CONFLICT_ACTIONS)


def test_every_code_explains_itself_in_english_and_vietnamese() -> None:
    for row in ROWS:
        assert row["text_en"].strip() and row["text_en"].isascii(), row["code"]
        assert is_vietnamese(row["text_vi"]), row["code"]


def test_backlog_codes_and_only_they_have_labels_and_a_rematchable_facet() -> None:
    for row in ROWS:
        is_backlog = row["list"] == "backlog"
        assert bool(row["label_en"]) == bool(row["label_vi"]) == is_backlog, row["code"]
        assert (row["rematchable"] in {"true", "false"}) == is_backlog, row["code"]
        if is_backlog:
            assert is_vietnamese(row["label_vi"]) and row["label_en"].isascii(), row["code"]


def test_priorities_rank_the_codes_of_a_layer_one_to_n() -> None:
    ranked: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in ROWS:
        if row["priority"]:
            ranked[(row["list"], row["layer"])].append(int(row["priority"]))
    assert ranked  # the normalize rejects and the held conflicts are ranked
    for priorities in ranked.values():
        assert sorted(priorities) == list(range(1, len(priorities) + 1))


def test_every_held_conflict_is_a_backlog_reason_with_a_priority() -> None:
    held = [row for row in ROWS if row["conflict"] == "held"]
    assert held
    assert all(row["list"] == "backlog" and row["priority"] for row in held)
    # a shot_conflicts-only code (not a backlog reason) never holds a row
    assert all(row["conflict"] not in {"", "held"} for row in in_list("shot_conflict"))


def test_text_lists_are_the_catalogue_rows_in_file_order() -> None:
    assert texts_of(in_list("backlog")) == reasons.BACKLOG_REASONS
    assert list(reasons.BACKLOG_REASONS) == [row["code"] for row in in_list("backlog")]
    assert texts_of(in_list("quarantine")) == reasons.QUARANTINE_REASONS
    assert texts_of(in_list("decision_line")) == reasons.DECISION_REJECTIONS
    assert texts_of(in_list("decision_file")) == reasons.DECISION_FILE_REASONS
    assert texts_of(in_list("resolution")) == reasons.RESOLUTIONS
    assert texts_of(in_list("retraction")) == reasons.RETRACTION_REASONS
    assert texts_of(in_list("deferral")) == reasons.DEFERRAL_REASONS
    assert {
        row["code"]: Reason(row["label_en"], row["label_vi"]) for row in in_list("backlog")
    } == reasons.BACKLOG_REASON_LABELS


def test_facet_lists_are_projections_of_the_catalogue() -> None:
    backlog_rows = in_list("backlog")
    assert set(reasons.REMATCHABLE_REASONS) == {
        row["code"] for row in backlog_rows if row["rematchable"] == "true"
    }
    assert by_priority([row for row in ROWS if row["conflict"] == "held"]) == reasons.HOLD_PRIORITY
    assert reasons.HELD_CONFLICTS == reasons.HOLD_PRIORITY
    assert (
        by_priority([row for row in backlog_rows if row["layer"] == "normalize" and row["priority"]])
        == reasons.REJECT_PRIORITY
    )
    assert set(reasons.RECORD_FLAGS) == {row["code"] for row in ROWS if row["conflict"] == "record_flag"}
    assert set(reasons.SEQUENCE_FLAGS) == {row["code"] for row in ROWS if row["conflict"] == "sequence_flag"}
    event_conflicts = [row for row in ROWS if row["conflict"] in {"held", "record_flag", "sequence_flag"}]
    assert texts_of(event_conflicts) == reasons.SHOT_CONFLICTS
    assert texts_of([row for row in ROWS if row["conflict"] == "snapshot_flag"]) == reasons.SNAPSHOT_CONFLICTS
    assert set(reasons.DECISION_RESOLUTIONS) == {
        row["code"] for row in in_list("resolution") if row["layer"] == "review"
    }


def test_other_modules_use_the_catalogue_lists_not_copies() -> None:
    assert events.HOLD_PRIORITY is reasons.HOLD_PRIORITY
    assert events.SEQUENCE_FLAGS is reasons.SEQUENCE_FLAGS
    assert backlog.REMATCHABLE_REASONS is reasons.REMATCHABLE_REASONS
    assert rejects.REJECT_PRIORITY is reasons.REJECT_PRIORITY
    assert decisions.DECISION_RESOLUTIONS is reasons.DECISION_RESOLUTIONS


def test_codes_named_elsewhere_are_in_the_catalogue() -> None:
    backlog_codes = set(reasons.BACKLOG_REASONS)
    assert {MALFORMED_ROW, backlog.RECHECKED_DATE_REASON, decisions.REVIEWER_REJECTED} <= backlog_codes
    assert {readmission.VALIDATION_REASON, *WHOLE_FILE_REASONS.values()} <= set(reasons.QUARANTINE_REASONS)
    assert {events.SUPERSEDED, decisions.WITHDRAWN_POSTING} <= set(reasons.RETRACTION_REASONS)
    assert snapshot_changes.CODE in reasons.SNAPSHOT_CONFLICTS
    assert decisions.CARRY_REFUSED in reasons.DECISION_REJECTIONS
    assert {
        landing.MODIFIED_RECENTLY,
        landing.CHANGED_DURING_DISCOVERY,
        landing.GONE_DURING_DISCOVERY,
    } == set(reasons.DEFERRAL_REASONS)
    for detail_text in reasons.DETAIL_TEXTS:
        assert set(detail_text.reasons) <= backlog_codes


@pytest.mark.parametrize(
    ("column", "value"),
    [("list", "backlogg"), ("layer", "publish"), ("conflict", "hold"), ("rematchable", "maybe")],
)
def test_a_catalogue_with_an_unknown_facet_value_does_not_load(
    tmp_path: Path, column: str, value: str
) -> None:
    broken = [{**row, column: value} if row["code"] == "no_usable_id" else row for row in ROWS]
    path = tmp_path / "reasons.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(broken)
    with pytest.raises(pl.exceptions.ComputeError):
        read_catalogue(path)
