"""A reviewer's correction never posts a dose on a citizen it cannot belong to: the impossible-link rule of
vaxsync.core.clinical_rules, with its year-only fallback, applies to review decisions as to matching.

Before the rule had one home, the decisions' own copy compared the shot with the registry birth date only:
a correction to a citizen the registry knows by birth year alone, born the year after the shot, was applied
(a wrong posting)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from vaxsync.marts.decision_tokens import row_token
from vaxsync.marts.decisions import DECISION_LINE_SCHEMA, validate_decisions

HASH = "e" * 64
PROVINCE = "01"
RUN = "2023-01-31@20230131T020000"
SECRET = b"unit-test-secret"
SHOT_ON = dt.date(2022, 6, 1)
BORN_2023_YEAR_ONLY, BORN_2023, BORN_2022_YEAR_ONLY, DIED_2022 = (
    "001223000001",
    "001223000002",
    "001222000003",
    "001222000004",
)
CHILD = {"name_key": "tran van binh", "family_name_key": "tran", "given_name_key": "binh", "sex": "M"}
REGISTRY = pl.LazyFrame(
    {
        "citizen_id": [BORN_2023_YEAR_ONLY, BORN_2023, BORN_2022_YEAR_ONLY, DIED_2022],
        **{name: [value] * 4 for name, value in CHILD.items()},
        "date_of_birth": [None, dt.date(2023, 1, 5), None, None],
        "birth_year": [2023, 2023, 2022, 2022],
        "date_of_death": [None, None, None, dt.date(2022, 5, 31)],
    },
    schema_overrides={"date_of_birth": pl.Date, "date_of_death": pl.Date},
)
OPEN_BACKLOG = pl.DataFrame(
    {
        "file_hash": [HASH] * 2,
        "source_row": [1, 2],
        "province_code": [PROVINCE] * 2,
        "reason_code": ["no_confident_match"] * 2,
        "candidate_citizen_id": [None, None],
        "is_posted_by_decision": [False] * 2,
        "decided_by": [None, None],  # no earlier decision posted these rows
        "decided_citizen_id": [None, None],
    },
    schema_overrides={
        "source_row": pl.Int32,
        "candidate_citizen_id": pl.String,
        "decided_by": pl.String,
        "decided_citizen_id": pl.String,
    },
)
NO_CANDIDATES = pl.DataFrame(
    schema={
        "file_hash": pl.String,
        "source_row": pl.Int32,
        "candidate_rank": pl.Int32,
        "citizen_id": pl.String,
        "match_probability": pl.Float64,
        "impossible_reason": pl.String,
    }
)
# Row 1 states the birth year only (2023), row 2 only 2022: each agrees with the citizens born that year.
MATCHABLE = pl.DataFrame(
    {
        "file_hash": [HASH] * 2,
        "source_row": [1, 2],
        "vaccinated_date": [SHOT_ON] * 2,
        "name_key": [CHILD["name_key"]] * 2,
        "family_name_key": [CHILD["family_name_key"]] * 2,
        "given_name_key": [CHILD["given_name_key"]] * 2,
        "birth_date": [None, None],
        "birth_date_alt": [None, None],
        "birth_year": [2023, 2022],
        "sex_code": ["M"] * 2,
    },
    schema_overrides={"source_row": pl.Int32, "birth_date": pl.Date, "birth_date_alt": pl.Date},
)


def correction(source_row: int, corrected_id: str) -> pl.DataFrame:
    row_key = f"{HASH}:{source_row}"
    line = {
        "decision_file": "01/mismatch_01_2023-01-31.xlsx",
        "decision_file_hash": "d" * 64,
        "sheet_name": "no_confident_match",
        "sheet_row": 2,
        "reviewer": "Trần Thị B",
        "decided_at": dt.datetime(2023, 2, 1, 9),
        "stated_decided_on": None,
        "file_province_code": PROVINCE,
        "stated_source_row": None,
        "note": None,
        "has_formula": False,
        "row_key": row_key,
        "row_token": row_token(RUN, row_key, PROVINCE, SECRET),
        "candidate_tokens": [None, None, None],
        "decision": "corrected",
        "corrected_id": corrected_id,
    }
    return pl.DataFrame([line], schema=DECISION_LINE_SCHEMA)


def outcome(source_row: int, corrected_id: str) -> tuple[object, ...]:
    audit = validate_decisions(
        correction(source_row, corrected_id), OPEN_BACKLOG, NO_CANDIDATES, REGISTRY, MATCHABLE, secret=SECRET
    )
    return audit.select("status", "rejection_reason", "after_citizen_id").row(0)


@pytest.mark.parametrize(
    ("description", "source_row", "corrected_id", "expected"),
    [
        (
            "born in 2023, date known: the 2022 shot is before birth",
            1,
            BORN_2023,
            ("rejected", "impossible_link", None),
        ),
        (
            "born in 2023, only the year known: the 2022 shot is still before birth (year-only fallback)",
            1,
            BORN_2023_YEAR_ONLY,
            ("rejected", "impossible_link", None),
        ),
        (
            "born in 2022, only the year known: the birth may precede the shot, so the correction applies",
            2,
            BORN_2022_YEAR_ONLY,
            ("applied", None, BORN_2022_YEAR_ONLY),
        ),
        ("died the day before the shot", 2, DIED_2022, ("rejected", "impossible_link", None)),
    ],
)
def test_a_correction_to_a_citizen_the_shot_cannot_belong_to_is_rejected(
    description: str, source_row: int, corrected_id: str, expected: tuple[object, ...]
) -> None:
    assert outcome(source_row, corrected_id) == expected, description
