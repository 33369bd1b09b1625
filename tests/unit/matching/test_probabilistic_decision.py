"""The decision rule: threshold and margin, twins to review, impossible links rejected, the error budget."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import polars as pl
import pytest

from matching.decision import auto_post_threshold, decide, impossible_link_sql
from matching.model import load_model

MODEL = load_model()
FIXED = dataclasses.replace(
    MODEL.thresholds, auto_post_probability=0.999, min_auto_post_probability=0.999, min_weight_margin_bits=8.0
)


def ranked(*shots: list[tuple[float, float, str | None]]) -> pl.DataFrame:
    """Each shot's candidates as (probability, weight, impossible reason), best first."""
    rows = [
        {
            "shot_index": shot_index,
            "citizen_index": 100 * shot_index + rank,
            "candidate_rank": rank,
            "match_probability": probability,
            "match_weight": weight,
            "impossible_reason": reason,
        }
        for shot_index, candidates in enumerate(shots)
        for rank, (probability, weight, reason) in enumerate(candidates, start=1)
    ]
    return pl.DataFrame(
        rows,
        schema={
            "shot_index": pl.UInt32,
            "citizen_index": pl.UInt32,
            "candidate_rank": pl.Int32,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
            "impossible_reason": pl.String,
        },
    )


@pytest.mark.parametrize(
    ("description", "candidates", "expected"),
    [
        ("one clear candidate", [(0.99999, 30.0, None)], "posted"),
        ("clear winner over a weak runner-up", [(0.9999, 25.0, None), (0.0001, 5.0, None)], "posted"),
        (
            "twins: top probable but the runner-up close behind",
            [(0.9995, 25.0, None), (0.0004, 20.0, None)],
            "review_required",
        ),
        ("namesakes: two equally good candidates", [(0.5, 20.0, None), (0.5, 20.0, None)], "review_required"),
        ("probable, under the auto-post threshold", [(0.95, 12.0, None)], "review_required"),
        ("too weak even to review", [(0.05, -5.0, None)], "no_confident_match"),
        (
            "the only candidate died before the shot",
            [(0.99999, 30.0, "shot_after_death")],
            "shot_after_death",
        ),
        (
            "the only candidate was born after the shot",
            [(0.99999, 30.0, "shot_before_birth")],
            "shot_before_birth",
        ),
        (
            "a child's row on an adult is never posted",
            [(0.99999, 30.0, "child_adult_mismatch")],
            "review_required",
        ),
        ("an impossible, weak candidate", [(0.1, 0.0, "too_young_for_vaccination")], "no_confident_match"),
    ],
)
def test_decision(description: str, candidates: list[tuple[float, float, str | None]], expected: str) -> None:
    model = dataclasses.replace(MODEL, thresholds=FIXED)
    decision = decide(ranked(candidates), model)
    assert decision["decision"].to_list() == [expected], description
    assert decision["citizen_index"].to_list() == [1], "only the top candidate is ever chosen"


def test_one_shot_goes_to_at_most_one_citizen() -> None:
    model = dataclasses.replace(MODEL, thresholds=FIXED)
    decisions = decide(ranked([(0.99999, 30.0, None), (1e-6, 2.0, None)], [(0.9999, 25.0, None)]), model)
    assert decisions.height == 2
    assert decisions["shot_index"].n_unique() == 2


@pytest.mark.parametrize(
    ("description", "probabilities", "posted_by_id", "budget", "expected_posted"),
    [
        ("sure candidates all post", [0.99999] * 10, 10_000, 0.2, 10),
        ("the budget stops before the doubtful ones", [0.99999] * 10 + [0.985] * 10, 1_000, 0.2, 10),
        ("a larger batch affords them all", [0.99999] * 10 + [0.985] * 10, 100_000, 0.2, 20),
        ("nothing under the floor, whatever the budget", [0.99999] * 5 + [0.95] * 5, 10_000_000, 0.5, 5),
    ],
)
def test_auto_post_threshold_follows_the_error_budget(
    description: str, probabilities: list[float], posted_by_id: int, budget: float, expected_posted: int
) -> None:
    thresholds = dataclasses.replace(
        MODEL.thresholds,
        auto_post_probability=0.99999,
        min_auto_post_probability=0.98,
        max_expected_wrong_per_10k=budget,
    )
    top = pl.DataFrame({"match_probability": probabilities}, schema={"match_probability": pl.Float64})
    threshold = auto_post_threshold(top, thresholds, posted_by_id)
    assert sum(p >= threshold for p in probabilities) == expected_posted, description


def test_auto_post_threshold_is_the_ceiling_when_nothing_is_eligible() -> None:
    empty = pl.DataFrame({"match_probability": []}, schema={"match_probability": pl.Float64})
    assert auto_post_threshold(empty, MODEL.thresholds, 0) == MODEL.thresholds.auto_post_probability


@pytest.mark.parametrize(
    (
        "description",
        "vaccinated",
        "shot_birth_year",
        "registry_birth",
        "registry_birth_year",
        "registry_death",
        "expected",
    ),
    [
        ("alive and adult", dt.date(2021, 9, 1), 1990, dt.date(1990, 5, 4), 1990, None, None),
        (
            "vaccinated after death",
            dt.date(2021, 9, 1),
            1950,
            dt.date(1950, 1, 1),
            1950,
            dt.date(2021, 6, 1),
            1,
        ),
        ("vaccinated before birth", dt.date(2021, 9, 1), 2021, dt.date(2021, 12, 1), 2021, None, 2),
        ("year-only birth, vaccinated the year before", dt.date(2021, 9, 1), 2022, None, 2022, None, 2),
        ("a three-year-old", dt.date(2022, 9, 1), 2019, dt.date(2019, 3, 1), 2019, None, 3),
        ("a child's row on an adult", dt.date(2022, 5, 1), 2012, dt.date(1982, 3, 1), 1982, None, 4),
        ("an adult's row on a child", dt.date(2022, 5, 1), 1982, dt.date(2012, 3, 1), 2012, None, 4),
        (
            "17 or 18: a typo's distance, allowed",
            dt.date(2022, 5, 1),
            2004,
            dt.date(2005, 3, 1),
            2005,
            None,
            None,
        ),
    ],
)
def test_impossible_link(
    description: str,
    vaccinated: dt.date,
    shot_birth_year: int,
    registry_birth: dt.date | None,
    registry_birth_year: int,
    registry_death: dt.date | None,
    expected: int | None,
) -> None:
    with duckdb.connect() as con:
        row = con.execute(
            f"SELECT {impossible_link_sql(MODEL.age_rules)} FROM (SELECT ?::DATE AS vaccinated_date, "
            "?::INTEGER AS birth_year, ?::DATE AS registry_birth_date, ?::INTEGER AS registry_birth_year, "
            "?::DATE AS registry_date_of_death)",
            [vaccinated, shot_birth_year, registry_birth, registry_birth_year, registry_death],
        ).fetchone()
    assert row is not None
    assert row[0] == expected, description


def _with_levels(candidates: pl.DataFrame, **levels: str) -> pl.DataFrame:
    """Give the candidates one level per comparison (by label; 'missing' = -1) and name weights of 3 bits each."""
    columns = []
    for comparison in MODEL.comparisons:
        label = levels.get(comparison.name, "missing")
        code = -1 if label == "missing" else comparison.labels.index(label)
        columns += [
            pl.lit(code, pl.Int8).alias(f"level_{comparison.name}"),
            pl.lit(3.0 if comparison.name.endswith("_name") else 0.0).alias(f"weight_{comparison.name}"),
        ]
    return candidates.with_columns(columns)


COMMON_NAME_AND_BIRTH_DATE = {
    "given_name": "exact_marked",
    "family_name": "exact_marked",
    "middle_name": "exact",
    "birth_date": "exact",
}


@pytest.mark.parametrize(
    ("description", "levels", "expected"),
    [
        ("a common name and a birth date, nothing else", {}, "review_required"),
        (
            "a common name, a birth date and a batch sibling",
            {"id_number": "batch_sibling"},
            "review_required",
        ),
        ("the absent person's own CCCD", {"id_number": "cccd_absent"}, "review_required"),
        ("... and the phone agrees", {"phone": "exact"}, "posted"),
        ("... and the ward agrees", {"residence": "ward"}, "posted"),
        ("... and the ID is one edit away", {"id_number": "one_edit"}, "posted"),
    ],
)
def test_a_common_name_and_a_birth_date_alone_never_post(
    description: str, levels: dict[str, str], expected: str
) -> None:
    """9 bits of name (under the model's floor), however probable: only another field agreeing posts it."""
    model = load_model()
    model.thresholds = FIXED
    candidates = _with_levels(ranked([(0.99999, 30.0, None)]), **COMMON_NAME_AND_BIRTH_DATE, **levels)
    assert decide(candidates, model)["decision"].item() == expected, description


@pytest.mark.parametrize(
    ("id_level", "expected"),
    [("missing", "posted"), ("other", "posted"), ("cccd_absent", "review_required")],
)
def test_a_rare_name_and_a_birth_date_post_unless_the_rows_own_id_contradicts(
    id_level: str, expected: str
) -> None:
    model = load_model()
    model.thresholds = FIXED
    candidates = _with_levels(
        ranked([(0.99999, 30.0, None)]), **COMMON_NAME_AND_BIRTH_DATE, id_number=id_level
    ).with_columns(weight_given_name=pl.lit(9.0))
    assert decide(candidates, model)["decision"].item() == expected


@pytest.mark.parametrize(
    ("description", "id_level", "sibling_here", "expected"),
    [
        ("living in another province, nothing else", "missing", False, "review_required"),
        ("... a sibling confirmed by ID elsewhere", "batch_sibling", False, "review_required"),
        ("... a sibling confirmed by ID in this row's province", "batch_sibling", True, "posted"),
        ("... that flag, but the sibling is another candidate's", "missing", True, "review_required"),
    ],
)
def test_a_residence_in_another_province_posts_only_when_the_candidate_is_vaccinated_here(
    description: str, id_level: str, sibling_here: bool, expected: str
) -> None:
    """A rare name (9 bits each part), the birth date, the row's residence in another province than the
    candidate's: a namesake living there explains it as well, unless the candidate's own dose, confirmed
    by ID tonight, was given in this row's province."""
    model = load_model()
    model.thresholds = FIXED
    candidates = (
        _with_levels(
            ranked([(0.99999, 30.0, None)]),
            **COMMON_NAME_AND_BIRTH_DATE,
            residence="different",
            id_number=id_level,
        )
        .with_columns(weight_given_name=pl.lit(9.0), weight_family_name=pl.lit(9.0))
        .with_columns(sibling_confirmed_here=pl.lit(sibling_here))
    )
    assert decide(candidates, model)["decision"].item() == expected, description


@pytest.mark.parametrize(("sibling_here", "expected"), [(False, "review_required"), (True, "posted")])
def test_a_common_name_posts_when_the_candidates_dose_confirmed_by_id_was_given_here(
    sibling_here: bool, expected: str
) -> None:
    model = load_model()
    model.thresholds = FIXED
    candidates = _with_levels(
        ranked([(0.99999, 30.0, None)]),
        **COMMON_NAME_AND_BIRTH_DATE,
        residence="facility_in_province",
        id_number="batch_sibling",
    ).with_columns(sibling_confirmed_here=pl.lit(sibling_here))
    assert decide(candidates, model)["decision"].item() == expected


@pytest.mark.parametrize(
    ("description", "levels", "expected"),
    [
        (
            "the row's own CCCD, absent from the registry, and the ward agrees",
            {"id_number": "cccd_absent", "residence": "ward"},
            "review_required",
        ),
        (
            "... and the district agrees",
            {"id_number": "cccd_absent", "residence": "district"},
            "review_required",
        ),
        ("... and the phone agrees", {"id_number": "cccd_absent", "phone": "exact"}, "posted"),
        (
            "same year and month, another day, the district agrees",
            {"birth_date": "year_month", "residence": "district"},
            "review_required",
        ),
        (
            "the year alone, the ward agrees",
            {"birth_date": "year_only", "residence": "ward"},
            "posted",
        ),
        (
            "the year alone, only the facility's province",
            {"birth_date": "year_only", "residence": "facility_in_province"},
            "review_required",
        ),
        (
            "a family member's ID the registry holds, the ward agrees",
            {"id_number": "cccd_contradicts", "residence": "ward"},
            "posted",
        ),
        ("a year apart, nothing else", {"birth_date": "year_off_by_one"}, "review_required"),
        ("the year alone, the phone agrees", {"birth_date": "year_only", "phone": "exact"}, "posted"),
        (
            "same year and month, the ID one edit away",
            {"birth_date": "year_month", "id_number": "one_edit"},
            "posted",
        ),
        ("the full birth date, the district agrees", {"residence": "district"}, "posted"),
        (
            "the full birth date, another ward of the candidate's district",
            {"residence": "other_ward"},
            "review_required",
        ),
        (
            "... and the phone agrees (a move within the district)",
            {"residence": "other_ward", "phone": "exact"},
            "posted",
        ),
        (
            "... and the ID is one edit away",
            {"residence": "other_ward", "id_number": "one_edit"},
            "posted",
        ),
        (
            "day and month exchanged, the ward agrees",
            {"birth_date": "day_month_swapped", "residence": "ward"},
            "posted",
        ),
    ],
)
def test_a_namesake_in_the_same_district_is_told_apart_only_by_an_identifier(
    description: str, levels: dict[str, str], expected: str
) -> None:
    """A rare name (9 bits each part). A person absent from the registry whose namesake (same name, birth
    year and district) is in it shares the district, often the ward: with the row's own CCCD absent from the
    registry only the phone or the ID posts the link; with a birth date agreeing only in part, those or the ward."""
    model = load_model()
    model.thresholds = FIXED
    candidates = _with_levels(
        ranked([(0.99999, 30.0, None)]), **{**COMMON_NAME_AND_BIRTH_DATE, **levels}
    ).with_columns(weight_given_name=pl.lit(9.0), weight_family_name=pl.lit(9.0))
    assert decide(candidates, model)["decision"].item() == expected, description


@pytest.mark.parametrize(
    ("description", "levels", "absent_namesake", "sibling_here", "expected"),
    [
        ("the ward agrees", {"residence": "ward"}, False, False, "posted"),
        (
            "... an absent person with this name and birth date tonight",
            {"residence": "ward"},
            True,
            False,
            "review_required",
        ),
        (
            "... only the facility's province",
            {"residence": "facility_in_province"},
            True,
            False,
            "review_required",
        ),
        (
            "... the candidate's dose confirmed by ID here (the registered namesake's own)",
            {"residence": "ward", "id_number": "batch_sibling"},
            True,
            True,
            "review_required",
        ),
        ("... the phone agrees", {"residence": "ward", "phone": "exact"}, True, False, "posted"),
        ("... the last 8 digits of the phone", {"phone": "last_eight_digits"}, True, False, "posted"),
        (
            "... the ID is one edit away",
            {"residence": "ward", "id_number": "one_edit"},
            True,
            False,
            "posted",
        ),
    ],
)
def test_an_absent_namesake_tonight_leaves_only_an_identifier_to_post(
    description: str, levels: dict[str, str], absent_namesake: bool, sibling_here: bool, expected: str
) -> None:
    """A rare name (9 bits each part) and the full birth date. A same-person row of the batch carries a
    well-formed CCCD the registry lacks (absent_namesake_tonight): a person absent from the registry bears
    this name and birth date, and lives where the registered namesake does. A row without an ID is either's:
    the place and the batch sibling are shared, the phone or the ID is not."""
    model = load_model()
    model.thresholds = FIXED
    candidates = (
        _with_levels(ranked([(0.99999, 30.0, None)]), **{**COMMON_NAME_AND_BIRTH_DATE, **levels})
        .with_columns(weight_given_name=pl.lit(9.0), weight_family_name=pl.lit(9.0))
        .with_columns(
            sibling_confirmed_here=pl.lit(sibling_here), absent_namesake_tonight=pl.lit(absent_namesake)
        )
    )
    assert decide(candidates, model)["decision"].item() == expected, description
