"""A posted link checked again against a newer snapshot (posted_citizen_id): it stays only on its citizen."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from linkage_builders import citizen, shot_row, to_registry, to_shots
from test_probabilistic_linkage import confirmed_rows, filler_citizens

from matching.deterministic import match_by_id
from matching.probabilistic import POSTED_CITIZEN_COLUMN, LinkResult, link_probabilistically

D = dt.date
HUNG = citizen("001090000001", "Nguyễn Văn Hùng", D(1990, 5, 4), "M", phone="0912000001", ward_code="00101")
NAMESAKE = citizen("001088000010", "Lê Văn Tâm", D(1988, 1, 10), "M", ward_code="00110")
NEWCOMER = citizen("001088000011", "Lê Văn Tâm", D(1988, 1, 10), "M", phone="0912000011", ward_code="00110")

# The newcomer's CCCD with two digits swapped (a typo), three digits from the namesake's.
NEWCOMER_ID_TYPO = {"id_kind": "cccd", "id_value": "001088000101"}
# (source_row, the row, the citizen it was posted to on an earlier night or None)
ROWS = [
    (
        1,
        shot_row(1, "Nguyễn Văn Hùng", D(1990, 5, 4), "M", phone_number="0912000001", ward_code="00101"),
        HUNG,
    ),
    (2, shot_row(2, "Lê Văn Tâm", D(1988, 1, 10), "M", ward_code="00110"), NAMESAKE),
    (
        3,
        shot_row(3, "Lê Văn Tâm", D(1988, 1, 10), "M", ward_code="00110", **NEWCOMER_ID_TYPO),
        NAMESAKE,
    ),
    (4, shot_row(4, "Lê Văn Tâm", D(1988, 1, 10), "M", ward_code="00110", **NEWCOMER_ID_TYPO), None),
]


@pytest.fixture(scope="module")
def linked() -> LinkResult:
    fillers = filler_citizens(240)
    registry = to_registry([*fillers, HUNG, NAMESAKE, NEWCOMER])
    posted_to = pl.DataFrame(
        {
            "source_row": [number for number, _, _ in ROWS],
            POSTED_CITIZEN_COLUMN: [
                None if person is None else person["citizen_id"] for _, _, person in ROWS
            ],
        },
        schema={"source_row": pl.Int32, POSTED_CITIZEN_COLUMN: pl.String},
    )
    shots = to_shots([row for _, row, _ in ROWS] + confirmed_rows(fillers)).join(
        posted_to.lazy(), on="source_row", how="left", maintain_order="left"
    )
    deterministic = match_by_id(shots, registry).collect()
    return link_probabilistically(shots, registry, deterministic)


def outcome(linked: LinkResult, source_row: int) -> dict[str, object]:
    return linked.matches.filter(pl.col("source_row") == source_row).row(0, named=True)


def test_a_link_tonight_still_posts_to_its_citizen_stands(linked: LinkResult) -> None:
    assert outcome(linked, 1)["citizen_id"] == HUNG["citizen_id"]


def test_a_namesake_who_explains_the_row_as_well_sends_it_to_review_with_both(linked: LinkResult) -> None:
    row = outcome(linked, 2)
    assert row["citizen_id"] is None and row["match_reason"] == "review_required"
    candidates = linked.review_candidates.filter(pl.col("source_row") == 2)["citizen_id"].to_list()
    assert {NAMESAKE["citizen_id"], NEWCOMER["citizen_id"]} <= set(candidates)


def test_a_link_never_moves_on_probability(linked: LinkResult) -> None:
    """The row's ID is the newcomer's but for a typo: a fresh row posts to the newcomer, a posted one goes
    to review (only the row's own ID, confirmed by the ID pass, moves a posting)."""
    assert outcome(linked, 4)["citizen_id"] == NEWCOMER["citizen_id"]
    row = outcome(linked, 3)
    assert row["citizen_id"] is None and row["match_reason"] == "review_required"
    assert row["candidate_citizen_id"] == NEWCOMER["citizen_id"]
