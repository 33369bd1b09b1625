"""Stability: m rests on every published night's ID-confirmed pairs plus tonight's, so a row's outcome
depends on its own evidence and the registry, not on which other files landed tonight."""

from __future__ import annotations

import polars as pl
import pytest
from linkage_builders import to_registry, to_shots
from test_probabilistic_linkage import CASES, SPECIAL, confirmed_rows, filler_citizens

from matching.deterministic import match_by_id
from matching.estimation import accumulated_m_counts
from matching.model import load_model
from matching.probabilistic import LinkResult, link_probabilistically

FILLERS = filler_citizens(240)
REGISTRY = to_registry(FILLERS + SPECIAL)
TARGETS = [row for _, row, _, _ in CASES]


def _night(confirmed: list[dict], history: dict[str, list[float]] | None) -> LinkResult:
    shots = to_shots(TARGETS + confirmed)
    deterministic = match_by_id(shots, REGISTRY).collect()
    return link_probabilistically(shots, REGISTRY, deterministic, m_history=history)


def _m(result: LinkResult, comparison: str) -> list[float]:
    return next(
        [level["m"] for level in c["levels"]]
        for c in result.model_used["comparisons"]
        if c["name"] == comparison
    )


@pytest.fixture(scope="module")
def history() -> dict[str, list[float]]:
    """Many earlier nights: the stored models' counts, as the warehouse keeps them (x 50)."""
    earlier = _night(confirmed_rows(FILLERS), None).model_used
    return accumulated_m_counts(load_model(), [earlier] * 50)


def test_tonights_counts_are_kept_with_the_model_and_add_up_over_nights() -> None:
    first = _night(confirmed_rows(FILLERS), None).model_used
    counts = first["fitted"]["m_level_counts"]
    assert sum(counts["given_name"]) >= 200
    twice = accumulated_m_counts(load_model(), [first, first])
    assert twice["given_name"] == [2 * value for value in counts["given_name"]]
    changed = {**first, "comparisons": [c for c in first["comparisons"] if c["name"] != "given_name"]}
    assert "given_name" not in accumulated_m_counts(load_model(), [changed]), "other levels: history restarts"


def test_other_files_barely_move_m_once_history_is_kept(history: dict[str, list[float]]) -> None:
    """Two nights with the same target rows and different other files (every other confirmed row)."""
    rows = confirmed_rows(FILLERS)
    odd, even = rows[1::2], rows[0::2]
    without = [_m(_night(part, None), "given_name") for part in (odd, even)]
    with_history = [_m(_night(part, history), "given_name") for part in (odd, even)]
    drift_without = max(abs(a - b) for a, b in zip(*without, strict=True))
    drift_with = max(abs(a - b) for a, b in zip(*with_history, strict=True))
    assert drift_with < drift_without / 5


def test_the_same_row_gets_the_same_outcome_whatever_else_lands(history: dict[str, list[float]]) -> None:
    *rows, dose_one = confirmed_rows(FILLERS)
    outcomes = []
    # Row 8's own first dose (confirmed by ID) is evidence about row 8, so it lands both times; the
    # other files differ.
    for part in ([*rows[1::2], dose_one], [*rows[0::2], dose_one]):
        matches = _night(part, history).matches
        targets = matches.filter(pl.col("source_row") < 99).sort("source_row")
        outcomes.append(targets.select("source_row", "citizen_id", "match_reason"))
    assert outcomes[0].equals(outcomes[1])
