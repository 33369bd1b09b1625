"""A decision carried to an unchanged row of a re-sent file is checked again against tonight's registry
snapshot, as a decision read tonight is. Night 1 lands four rows that wait in review. Night 2 a reviewer
corrects An's to a namesake, accepts Dung's one candidate, corrects Cúc's, and accepts Hải's candidate
although its birth date differs from the row's. Night 3 a newer snapshot no longer has An's corrected
citizen and gives Dung another birth date, and the facility re-sends the file unchanged but for a new row:
An's and Dung's rows go back to review saying why; Cúc's and Hải's keep their postings (Hải's birth date
differed when the reviewer accepted it, and the snapshot did not change it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from correction_nights import Nights, Person, export_line

from vaxsync.marts.decisions import CARRY_REFUSED

pytestmark = pytest.mark.integration

AN_1, AN_2 = (Person(f"00109000001{n}", "Nguyễn Văn An", dt.date(1990, 1, 1), "M") for n in (1, 2))
CUC_1, CUC_2 = (Person(f"00119200003{n}", "Lê Thị Cúc", dt.date(1992, 4, 5), "F") for n in (1, 2))
HAI_1, HAI_2 = (Person(f"00108000005{n}", "Hoàng Văn Hải", dt.date(1980, 5, 6), "M") for n in (1, 2))
DUNG = Person("001175000041", "Phạm Thị Dung", dt.date(1975, 6, 7), "F")
GIANG = Person("001168000061", "Võ Thị Giang", dt.date(1968, 9, 10), "F")
UNKNOWN_AN, UNKNOWN_CUC = "001090000099", "001192000099"
PEOPLE = [AN_1, AN_2, CUC_1, CUC_2, HAI_1, HAI_2, DUNG, GIANG]


def export(*extra: str) -> list[str]:
    return [
        export_line(AN_1, "Pfizer", "10/11/2021", citizen_id=UNKNOWN_AN),
        export_line(DUNG, "Pfizer", "12/11/2021", citizen_id=""),
        export_line(CUC_1, "Pfizer", "14/11/2021", citizen_id=UNKNOWN_CUC),
        # Hải's row with his namesake's ID and a birth year off by one: his candidate's birth date differs
        export_line(HAI_1, "Pfizer", "16/11/2021", citizen_id=HAI_2.citizen_id, born="06/05/1981"),
        *extra,
    ]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    nights = Nights(tmp_path_factory.mktemp("carried_recheck"), PEOPLE)
    nights.land("tiem_chung.csv", export())
    nights.night()
    in_review = nights.query("select candidate_citizen_id, reason_code from open_backlog order by all").rows()
    nights.decide(
        "quyet_dinh.csv",
        [
            nights.decision_line(UNKNOWN_AN, "corrected", corrected_id=AN_2.citizen_id),
            nights.decision_line(DUNG.name, "accept 1", by_name=True),
            nights.decision_line(UNKNOWN_CUC, "corrected", corrected_id=CUC_2.citizen_id),
            nights.decision_line(HAI_2.citizen_id, "accept 1"),
        ],
    )
    nights.night()
    decided = nights.query("select citizen_id, shot_id from synced_shots order by all")
    # A newer snapshot: An's corrected citizen is gone, Dung was registered with a wrong birth date.
    nights.register(
        [dataclasses.replace(p, born=dt.date(1976, 8, 9)) if p == DUNG else p for p in PEOPLE if p != AN_2]
    )
    nights.land("tiem_chung.csv", export(export_line(GIANG, "Moderna", "20/11/2021")))
    nights.night()
    return {
        "in_review": in_review,
        "decided": decided,
        "resent": nights.query("select citizen_id, shot_id from synced_shots order by all"),
        "retracted": nights.query("select citizen_id, retraction_reason from retracted_shots order by all"),
        "backlog": nights.query(
            """select r.raw_full_name, b.reason_code, b.reason_detail, b.resolved_shot_id is not null
               from unposted_backlog b join backlog_records r using (file_hash, source_row)
               where b.superseded_by_file_hash is null order by all"""
        ),
        "carried": nights.query(
            """select decision, status, rejection_reason, rejection_detail, after_citizen_id, corrected_id
               from review_decisions where note like 'carried from%' order by all"""
        ),
    }


def test_the_four_rows_waited_in_review_and_the_decisions_posted_them(nights: dict[str, Any]) -> None:
    assert [row[0] for row in nights["in_review"]] == sorted(
        [AN_1.citizen_id, CUC_1.citizen_id, DUNG.citizen_id, HAI_1.citizen_id]
    )
    assert nights["decided"]["citizen_id"].to_list() == sorted(
        [AN_2.citizen_id, CUC_2.citizen_id, DUNG.citizen_id, HAI_1.citizen_id]
    )


def test_only_decisions_the_new_snapshot_still_supports_keep_their_postings(nights: dict[str, Any]) -> None:
    resent, decided = nights["resent"], nights["decided"]
    assert resent["citizen_id"].to_list() == sorted([CUC_2.citizen_id, GIANG.citizen_id, HAI_1.citizen_id])
    kept = resent.join(decided, on=["citizen_id", "shot_id"])["citizen_id"].to_list()
    assert kept == sorted([CUC_2.citizen_id, HAI_1.citizen_id])  # the same shots, not posted again
    assert nights["retracted"].rows() == sorted(
        [(AN_2.citizen_id, "superseded_by_new_version"), (DUNG.citizen_id, "superseded_by_new_version")]
    )


def test_the_rows_it_no_longer_supports_go_back_to_review_saying_why(nights: dict[str, Any]) -> None:
    backlog = {row[0]: row[1:] for row in nights["backlog"].rows()}
    an_reason, an_detail, an_posted = backlog[AN_1.name]
    dung_reason, dung_detail, dung_posted = backlog[DUNG.name]
    assert (an_reason, dung_reason, an_posted, dung_posted) == (
        "review_required", "review_required", False, False,
    )  # fmt: skip
    assert "no longer holds" in an_detail and "not in tonight's registry" in an_detail
    assert "no longer holds" in dung_detail and "differs now: birth date" in dung_detail
    assert backlog[CUC_1.name][2] and backlog[HAI_1.name][2]  # resolved by the carried decision, posted


def test_the_audit_refuses_two_carries_and_applies_two(nights: dict[str, Any]) -> None:
    refused_birth_date = "the accepted citizen's record changed: differs now: birth date"
    refused_gone = "id_not_in_registry: the citizen is not in tonight's registry snapshot"
    # decision, status, rejection reason and detail, citizen posted on, corrected ID
    assert set(nights["carried"].rows()) == {
        ("accept 1", "rejected", CARRY_REFUSED, refused_birth_date, None, None),
        ("accept 1", "applied", None, None, HAI_1.citizen_id, None),
        ("corrected", "rejected", CARRY_REFUSED, refused_gone, None, AN_2.citizen_id),
        ("corrected", "applied", None, None, CUC_2.citizen_id, CUC_2.citizen_id),
    }
