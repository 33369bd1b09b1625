"""A decision is about a row's content, not its file version. Night 1 lands three rows whose IDs are in no
registry entry and whose names fit two registered namesakes each: all wait in review. Night 2 a reviewer
corrects two of them to one namesake each and rejects the third's candidates. Night 3 the facility re-sends
the file at the same path with one of the corrected rows changed (its lot) and a row added: the unchanged
corrected row keeps its posting, the rejected row stays rejected, the changed row returns to review."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from correction_nights import Nights, Person, export_line

pytestmark = pytest.mark.integration

AN_1, AN_2 = (Person(f"00109000001{n}", "Nguyễn Văn An", dt.date(1990, 1, 1), "M") for n in (1, 2))
BAO_1, BAO_2 = (Person(f"00108500002{n}", "Trần Văn Bảo", dt.date(1985, 3, 2), "M") for n in (1, 2))
CUC_1, CUC_2 = (Person(f"00119200003{n}", "Lê Thị Cúc", dt.date(1992, 4, 5), "F") for n in (1, 2))
NEW = Person("001175000041", "Phạm Thị Dung", dt.date(1975, 6, 7), "F")
UNKNOWN_AN, UNKNOWN_BAO, UNKNOWN_CUC = "001090000099", "001085000099", "001192000099"


def export(bao_lot: str, *extra: str) -> list[str]:
    return [
        export_line(AN_1, "Pfizer", "10/11/2021", citizen_id=UNKNOWN_AN),
        export_line(BAO_1, "Pfizer", "12/11/2021", citizen_id=UNKNOWN_BAO, lot=bao_lot),
        export_line(CUC_1, "Pfizer", "14/11/2021", citizen_id=UNKNOWN_CUC),
        *extra,
    ]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    nights = Nights(
        tmp_path_factory.mktemp("decisions_follow"), [AN_1, AN_2, BAO_1, BAO_2, CUC_1, CUC_2, NEW]
    )
    nights.land("tiem_chung.csv", export("B1"))
    nights.night()
    in_review = nights.query("select reason_code from open_backlog")["reason_code"].to_list()
    nights.decide(
        "quyet_dinh.csv",
        [
            nights.decision_line(UNKNOWN_AN, "corrected", corrected_id=AN_2.citizen_id),
            nights.decision_line(UNKNOWN_BAO, "corrected", corrected_id=BAO_2.citizen_id),
            nights.decision_line(UNKNOWN_CUC, "reject"),
        ],
    )
    nights.night()
    decided = nights.query("select citizen_id, shot_id from synced_shots order by all")
    nights.land("tiem_chung.csv", export("B2", export_line(NEW, "Moderna", "20/11/2021")))
    nights.night()
    return {
        "in_review": in_review,
        "decided": decided,
        "resent": nights.query("select citizen_id, shot_id from synced_shots order by all"),
        "retracted": nights.query("select citizen_id, retraction_reason from retracted_shots"),
        "backlog": nights.query(
            """select r.raw_id_number, b.reason_code, b.resolution, b.resolved_shot_id is not null as has_shot
               from unposted_backlog b join backlog_records r using (file_hash, source_row)
               where b.superseded_by_file_hash is null order by all"""
        ),
        "audit": nights.query(
            "select decision, status, note from review_decisions order by run_id, decision"
        ),
    }


def test_the_reviewers_decisions_posted_and_held_the_rows_on_night_2(nights: dict[str, Any]) -> None:
    assert len(nights["in_review"]) == 3
    assert nights["decided"]["citizen_id"].to_list() == sorted([AN_2.citizen_id, BAO_2.citizen_id])


def test_an_unchanged_corrected_row_keeps_its_posting_after_the_resend(nights: dict[str, Any]) -> None:
    resent = nights["resent"]
    assert resent["citizen_id"].to_list() == sorted([AN_2.citizen_id, NEW.citizen_id])
    kept = nights["decided"].filter(nights["decided"]["citizen_id"] == AN_2.citizen_id)["shot_id"]
    assert resent.filter(resent["citizen_id"] == AN_2.citizen_id)["shot_id"].equals(kept)  # the same shot


def test_a_changed_row_loses_its_decision_and_an_unchanged_rejection_stands(nights: dict[str, Any]) -> None:
    assert nights["retracted"].rows() == [(BAO_2.citizen_id, "superseded_by_new_version")]
    backlog = {row[0]: row[1:] for row in nights["backlog"].rows()}
    assert backlog[UNKNOWN_CUC] == ("reviewer_rejected", None, False)  # not back in review
    assert backlog[UNKNOWN_BAO][1:] == (None, False) and backlog[UNKNOWN_BAO][0] != "reviewer_rejected"
    # the carried correction's new row is resolved by it, as the old row was: a later withdraw finds it
    assert backlog[UNKNOWN_AN] == ("no_confident_match", "corrected_id", True)


def test_the_audit_keeps_each_carried_decision(nights: dict[str, Any]) -> None:
    carried = nights["audit"].filter(nights["audit"]["note"].str.starts_with("carried from"))
    assert sorted(carried.select("decision", "status").rows()) == [
        ("corrected", "applied"),
        ("reject", "applied"),
    ]
