"""The declarative model (load, validate, save, fingerprint) and the linkage metrics against truth."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from matching.model import DEFAULT_MODEL_PATH, MatchModel, load_model
from synth.evaluation import format_evaluation, linkage_metrics


def test_model_file_loads_and_round_trips(tmp_path: Path) -> None:
    model = load_model()
    saved = MatchModel.load(model.save(tmp_path / "model.json"))
    assert saved.to_dict() == model.to_dict()
    assert [rule.name for rule in saved.blocking_rules] == [rule.name for rule in model.blocking_rules]


def test_fingerprint_changes_with_a_parameter_not_with_fit_statistics() -> None:
    model = load_model()
    refitted = model.copy()
    refitted.fitted["labelled_pairs"] = 12345
    assert refitted.fingerprint() == model.fingerprint()
    changed = model.copy()
    changed.comparison("sex").levels[0].m = 0.5
    assert changed.fingerprint() != model.fingerprint()


def _edited(edit: Any) -> dict[str, Any]:
    data = json.loads(DEFAULT_MODEL_PATH.read_text())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("description", "edit", "message"),
    [
        (
            "an unknown level",
            lambda d: d["comparisons"][0]["levels"].append(
                {"label": "soundex", "m": 0.1, "u": 0.1, "u_household": 0.1}
            ),
            "unknown levels",
        ),
        ("an m of zero", lambda d: d["comparisons"][0]["levels"][0].update(m=0.0), "must be in"),
        (
            "a person level without u_household",
            lambda d: d["comparisons"][0]["levels"][0].pop("u_household"),
            "u_household",
        ),
        (
            "review above the auto-post floor",
            lambda d: d["thresholds"].update(review_probability=0.99),
            "thresholds",
        ),
        (
            "an unknown comparison",
            lambda d: d["comparisons"].append({"name": "email", "role": "person", "levels": []}),
            "unknown comparison",
        ),
    ],
)
def test_invalid_model_is_rejected(description: str, edit: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MatchModel.from_dict(_edited(edit))


TRUTH = pl.DataFrame(
    {
        "source_file": ["f"] * 6,
        "source_row": [1, 2, 3, 4, 5, 6],
        "true_citizen_id": ["A", "B", "C", None, "E", "F"],
        "corruptions": [[], ["name_typo"], ["name_typo"], [], [], ["after_death"]],
        "expected": ["post", "post", "post", "backlog_not_in_registry", "post", "backlog_invalid"],
    },
    schema_overrides={"source_row": pl.Int32},
)


def test_linkage_metrics_count_wrong_postings_including_absent_people() -> None:
    outcome = pl.DataFrame(
        {
            "source_file": ["f"] * 6,
            "source_row": [1, 2, 3, 4, 5, 6],
            "citizen_id": ["A", "B", "X", "D", None, None],  # 3 on the wrong citizen, 4 is absent
            "match_method": ["id_exact", "probabilistic", "probabilistic", "probabilistic", None, None],
            "match_reason": [None, None, None, None, "review_required", "shot_after_death"],
        },
        schema_overrides={"source_row": pl.Int32},
    )
    evaluation = linkage_metrics(outcome, TRUTH)
    summary = evaluation.summary
    assert (summary["count_posted"], summary["count_correct"], summary["count_wrong"]) == (4, 2, 2)
    assert summary["count_wrong_absent_person"] == 1
    assert summary["count_in_registry"] == 4  # the after-death row is not one to post
    assert summary["wrong_per_10k_posted"] == pytest.approx(5000.0)
    assert summary["precision"] == pytest.approx(0.5) and summary["recall"] == pytest.approx(0.5)
    typo = evaluation.by_corruption.filter(pl.col("corruption") == "name_typo").row(0, named=True)
    assert (typo["count_rows"], typo["count_correct"], typo["count_wrong"]) == (2, 1, 1)
    methods = dict(
        zip(evaluation.by_method["match_method"], evaluation.by_method["count_wrong"], strict=True)
    )
    assert methods == {"id_exact": 0, "probabilistic": 2}
    assert "wrong 2" in format_evaluation(dataclasses.replace(evaluation, timings={"matching_seconds": 1.0}))
