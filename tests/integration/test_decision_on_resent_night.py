"""A reviewer's decision arriving the night the facility re-sends the row's file: the line names a row of the
version replaced tonight. It is refused with a reason that says so (`row_file_resent`: decide on the next
report), not as `row_not_matchable` ("a data error a match cannot fix; the facility must resend", which it
just did), and the row waits in review under its new key, in the next report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from correction_nights import Nights, Person, export_line

pytestmark = pytest.mark.integration

AN_1, AN_2 = (Person(f"00109000001{n}", "Nguyễn Văn An", dt.date(1990, 1, 1), "M") for n in (1, 2))
NEW = Person("001175000041", "Phạm Thị Dung", dt.date(1975, 6, 7), "F")
UNKNOWN_AN = "001090000099"


def test_a_decision_on_a_row_whose_file_is_resent_that_night_is_refused_as_such(tmp_path: Path) -> None:
    nights = Nights(tmp_path, [AN_1, AN_2, NEW])
    first = [export_line(AN_1, "Pfizer", "10/11/2021", citizen_id=UNKNOWN_AN)]
    nights.land("tiem_chung.csv", first)
    nights.night()
    nights.decide(
        "quyet_dinh.csv", [nights.decision_line(UNKNOWN_AN, "corrected", corrected_id=AN_2.citizen_id)]
    )
    nights.land("tiem_chung.csv", [*first, export_line(NEW, "Moderna", "20/11/2021")])
    nights.night()
    audit = nights.query("select status, rejection_reason from review_decisions")
    assert audit.rows() == [("rejected", "row_file_resent")]
    waiting = nights.backlog_row(UNKNOWN_AN)
    assert (
        waiting["reason_code"] != "reviewer_rejected"
        and waiting["file_hash"]
        in nights.query("select file_hash from file_versions where replaces_file_hash is not null")[
            "file_hash"
        ].to_list()
    )
