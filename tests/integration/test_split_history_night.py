"""A facility whose history came in two files (a.csv, b.csv), each corrected by a re-send at its path, then
sends its old whole-history export again under a new name: the old export overlaps the two replaced
versions at once (half of its rows each), so no single earlier version shares 80 % of its rows with it.
It must still be recognised as an older version: its wrong dates must not post beside the corrected ones
(the same dose twice). Night 4 a reviewer decides on its held rows: the report row says a newer version
exists, and a decision that would post the old values is refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from correction_nights import Nights, Person, export_line

pytestmark = pytest.mark.integration

NAMES = ["Đỗ Văn An", "Bùi Văn Bình", "Vũ Văn Cường", "Đặng Văn Dũng", "Ngô Văn Giang",
         "Dương Văn Hải", "Lý Văn Khánh", "Hồ Văn Lâm", "Mai Văn Long", "Tạ Văn Minh"]  # fmt: skip
PEOPLE = [
    Person(f"0010{70 + n}0007{n:02d}", name, dt.date(1970 + n, 2, 13 + n), "M")
    for n, name in enumerate(NAMES)
]
FIRST_HALF, SECOND_HALF = PEOPLE[:5], PEOPLE[5:]
WRONG, RIGHT = (
    {PEOPLE[0]: "01/08/2021", PEOPLE[5]: "01/11/2021"},
    {PEOPLE[0]: "16/08/2021", PEOPLE[5]: "16/11/2021"},
)


def rows(people: list[Person], dates: dict[Person, str], default: str) -> list[str]:
    return [export_line(person, "Pfizer", dates.get(person, default)) for person in people]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    nights = Nights(tmp_path_factory.mktemp("split_history"), PEOPLE)
    old_first, old_second = rows(FIRST_HALF, WRONG, "15/08/2021"), rows(SECOND_HALF, WRONG, "15/11/2021")
    nights.land("a.csv", old_first)
    nights.land("b.csv", old_second)
    nights.night()
    nights.land("a.csv", rows(FIRST_HALF, RIGHT, "15/08/2021"))
    nights.land("b.csv", rows(SECOND_HALF, RIGHT, "15/11/2021"))
    nights.night()
    corrected = nights.doses()
    nights.land("lich_su_tiem.csv", old_first + old_second)
    nights.night()
    after_old = nights.doses()
    versions = nights.query(
        "select source_file, recognised_as from file_versions order by arrived_at, source_file"
    )
    held = nights.query("select reason_code, reason_detail from open_backlog")
    if held.height:  # a corrected ID and an accept, as a hurried reviewer gives them (main held nothing)
        nights.decide(
            "quyet_dinh.csv",
            [
                nights.decision_line(PEOPLE[0].citizen_id, "corrected", corrected_id=PEOPLE[0].citizen_id),
                nights.decision_line(PEOPLE[5].citizen_id, "accept 1"),
            ],
        )
    nights.night()
    return {"corrected": corrected, "after_old": after_old, "versions": versions, "held": held,
            "after_decisions": nights.doses(), "nights": nights}  # fmt: skip


def test_the_old_export_is_recognised_as_older_and_posts_nothing(nights: dict[str, Any]) -> None:
    assert len(nights["corrected"]) == 10
    assert (PEOPLE[0].citizen_id, "2021-08-16") in nights["corrected"]
    assert nights["after_old"] == nights["corrected"]  # no old date beside a corrected one
    recognised = nights["versions"].filter(pl.col("source_file").str.ends_with("lich_su_tiem.csv"))
    assert recognised["recognised_as"].to_list() == ["old_version_renamed"]
    assert nights["held"].height == 10 and set(nights["held"]["reason_code"]) == {"older_version_resent"}


def test_a_decision_on_a_row_of_the_older_version_is_refused_and_posts_nothing(
    nights: dict[str, Any],
) -> None:
    audit = nights["nights"].query(
        "select decision, status, rejection_reason from review_decisions order by all"
    )
    assert audit.rows() == [
        ("accept 1", "rejected", "older_version_row"),
        ("corrected", "rejected", "older_version_row"),
    ]
    assert nights["after_decisions"] == nights["corrected"]


def test_the_report_row_says_a_newer_version_exists_and_what_a_decision_does(nights: dict[str, Any]) -> None:
    pages = [page.read_text(encoding="utf-8") for page in (nights["nights"].root / "reports").rglob("*.html")]
    assert any("Accepting or correcting it is refused" in page for page in pages)
