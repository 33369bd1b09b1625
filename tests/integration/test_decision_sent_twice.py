"""The same decision sent twice: a reviewer's correction posts a row on night 2; on night 3 the same line
comes back in another file (re-saved with another note). The dose stays posted once on the same citizen and
nothing is retracted: the line is refused as `decision_in_effect`. On main it was taken as the reviewer
replacing their own decision: the posting was taken back and the same shot "posted again" under the id just
retracted, so the dose vanished from synced_shots (its shot_sources row left pointing at nothing)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from correction_nights import Nights, Person, export_line

pytestmark = pytest.mark.integration

AN_1, AN_2 = (Person(f"00109000001{n}", "Nguyễn Văn An", dt.date(1990, 1, 1), "M") for n in (1, 2))
UNKNOWN_AN = "001090000099"


def test_the_same_decision_sent_again_changes_nothing(tmp_path: Path) -> None:
    nights = Nights(tmp_path, [AN_1, AN_2])
    nights.land("tiem_chung.csv", [export_line(AN_1, "Pfizer", "10/11/2021", citizen_id=UNKNOWN_AN)])
    nights.night()
    line = nights.decision_line(UNKNOWN_AN, "corrected", corrected_id=AN_2.citizen_id)
    nights.decide("quyet_dinh.csv", [line])
    nights.night()
    posted = nights.query("select * exclude (run_id) from synced_shots")
    nights.decide("quyet_dinh_gui_lai.csv", [line.replace("night 1", "gửi lại")])
    nights.night()
    assert nights.query("select * exclude (run_id) from synced_shots").equals(posted)
    assert nights.query("select count(*) from retracted_shots").item() == 0
    audit = nights.query("select status, rejection_reason from review_decisions order by decided_at")
    assert audit.rows() == [("applied", None), ("rejected", "decision_in_effect")]
