"""A vaccination date written so that it cannot be read day-for-month (ISO 2021-07-05, 05-Jul-2021) is
not held as `vaccination_date_order_doubtful`, even when the person's birth date agrees only with day and
month exchanged; an ambiguous d/m/y vaccination date in the same small file still is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from correction_nights import Nights, Person, export_line

pytestmark = pytest.mark.integration

ISO, NAMED, AMBIGUOUS = (
    Person("001090000031", "Nguyễn Văn Tâm", dt.date(1990, 5, 3), "M"),
    Person("001191000032", "Trần Thị Lan", dt.date(1991, 6, 4), "F"),
    Person("001092000033", "Lê Văn Hòa", dt.date(1992, 8, 2), "M"),
)


def test_only_an_ambiguous_vaccination_date_is_held_for_its_order(tmp_path: Path) -> None:
    nights = Nights(tmp_path, [ISO, NAMED, AMBIGUOUS])
    # Each birth date written month-first (the registry's date only with day and month exchanged).
    nights.land(
        "tiem_chung.csv",
        [
            export_line(ISO, "Pfizer", "2021-07-05", born="05/03/1990"),
            export_line(NAMED, "Pfizer", "05-Jul-2021", born="06/04/1991"),
            export_line(AMBIGUOUS, "Pfizer", "07/09/2021", born="08/02/1992"),
        ],
    )
    nights.night()
    assert nights.doses() == [(ISO.citizen_id, "2021-07-05"), (NAMED.citizen_id, "2021-07-05")]
    held = nights.query("select reason_code from open_backlog")["reason_code"].to_list()
    assert held == ["vaccination_date_order_doubtful"]
