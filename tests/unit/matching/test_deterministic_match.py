"""Table-driven cases for the deterministic ID pass: an ID posts only when the row confirms it."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from matching.deterministic import MATCH_SCHEMA, match_by_id

REGISTRY = pl.DataFrame(
    {
        "citizen_id": ["001090000001", "001090000002", "001092000003", "036185000004", "001060000005"],
        "legacy_id": ["012345678", "099999999", "099999999", None, None],
        "name_key": [
            "nguyen van hung",
            "nguyen thi lan",
            "tran thi lan",
            "le minh anh",
            "pham van ba",
        ],
        "family_name_key": ["nguyen", "nguyen", "tran", "le", "pham"],
        "given_name_key": ["hung", "lan", "lan", "anh", "ba"],
        "date_of_birth": [
            dt.date(1990, 5, 4),
            dt.date(1990, 3, 4),
            dt.date(1992, 1, 2),
            dt.date(2018, 7, 9),
            None,
        ],
        "birth_year": [1990, 1990, 1992, 2018, 1960],
        "sex": ["M", "F", "F", "F", "M"],
        "date_of_death": [None, None, None, None, dt.date(2021, 6, 1)],
    }
)


SHOT_SCHEMA = {
    "file_hash": pl.String,
    "source_row": pl.Int32,
    "id_kind": pl.String,
    "id_value": pl.String,
    "name_key": pl.String,
    "family_name_key": pl.String,
    "given_name_key": pl.String,
    "birth_date": pl.Date,
    "birth_date_alt": pl.Date,
    "birth_year": pl.Int32,
    "sex_code": pl.String,
    "vaccinated_date": pl.Date,
    "reject_reason": pl.String,
}


def shot(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "file_hash": "f",
        "source_row": 1,
        "id_kind": "cccd",
        "id_value": "001090000001",
        "name_key": "nguyen van hung",
        "family_name_key": "nguyen",
        "given_name_key": "hung",
        "birth_date": dt.date(1990, 5, 4),
        "birth_date_alt": None,
        "birth_year": 1990,
        "sex_code": "M",
        "vaccinated_date": dt.date(2021, 8, 1),
        "reject_reason": None,
    }
    row.update(overrides)
    return row


CASES = [
    ("all fields agree", shot(), "001090000001", None),
    ("name without middle name still agrees", shot(name_key="nguyen hung"), "001090000001", None),
    (
        "one-letter typo in a long given name",
        shot(
            id_value="001090000002",
            name_key="nguyen thi lanh",
            family_name_key="nguyen",
            given_name_key="lanh",
            birth_date=dt.date(1990, 3, 4),
            sex_code="F",
        ),
        None,
        "id_contradicted",
    ),
    (
        "one-letter typo in a given name of four letters or more",
        shot(given_name_key="hungg"),
        "001090000001",
        None,
    ),
    ("birth year only on the row", shot(birth_date=None), "001090000001", None),
    (
        "ambiguous day/month: the swapped reading agrees",
        shot(birth_date=dt.date(1990, 4, 5), birth_date_alt=dt.date(1990, 5, 4)),
        "001090000001",
        None,
    ),
    ("given name first", shot(family_name_key="hung", given_name_key="nguyen"), "001090000001", None),
    ("spouse's ID: other name and date", shot(id_value="001090000002"), None, "id_contradicted"),
    (
        "parent's ID on a child's row",
        shot(id_value="001090000001", given_name_key="nam", birth_date=dt.date(2015, 2, 2), birth_year=2015),
        None,
        "id_contradicted",
    ),
    ("sex differs", shot(sex_code="F"), None, "id_contradicted"),
    ("sex missing but full date agrees", shot(sex_code=None), "001090000001", None),
    ("sex missing and year only", shot(sex_code=None, birth_date=None), None, "id_contradicted"),
    ("given name differs by one letter but short", shot(given_name_key="hun"), None, "id_contradicted"),
    ("unknown CCCD", shot(id_value="001090999999"), None, "id_not_in_registry"),
    ("no ID", shot(id_kind="missing", id_value=None), None, "no_usable_id"),
    ("passport", shot(id_kind="passport", id_value="C1234567"), None, "no_usable_id"),
    ("scientific notation", shot(id_kind="unrecoverable", id_value=None), None, "id_unrecoverable"),
    (
        "legacy CMND confirmed",
        shot(id_kind="cmnd9", id_value="012345678"),
        "001090000001",
        None,
    ),
    (
        "legacy CMND shared by two citizens: the one that agrees wins",
        shot(
            id_kind="cmnd9",
            id_value="099999999",
            name_key="tran thi lan",
            family_name_key="tran",
            given_name_key="lan",
            birth_date=dt.date(1992, 1, 2),
            birth_year=1992,
            sex_code="F",
        ),
        "001092000003",
        None,
    ),
    (
        "shot after the citizen's death",
        shot(
            id_value="001060000005",
            name_key="pham van ba",
            family_name_key="pham",
            given_name_key="ba",
            birth_date=None,
            birth_year=1960,
        ),
        None,
        "shot_after_death",
    ),
    (
        "shot before birth",
        shot(
            id_value="036185000004",
            name_key="le minh anh",
            family_name_key="le",
            given_name_key="anh",
            birth_date=dt.date(2018, 7, 9),
            birth_year=2018,
            sex_code="F",
            vaccinated_date=dt.date(2018, 1, 1),
        ),
        None,
        "shot_before_birth",
    ),
]


@pytest.mark.parametrize(("description", "row", "expected_citizen", "expected_reason"), CASES)
def test_match_by_id(
    description: str, row: dict[str, object], expected_citizen: str | None, expected_reason: str | None
) -> None:
    shots = pl.DataFrame([row], schema=SHOT_SCHEMA)
    result = match_by_id(shots.lazy(), REGISTRY.lazy()).collect()
    assert result.height == 1, description
    assert result["citizen_id"][0] == expected_citizen, description
    assert result["match_reason"][0] == expected_reason, description
    if expected_citizen is not None:
        assert result["match_method"][0] in {"id_exact", "legacy_id_exact"}
        assert 0.0 <= result["match_score"][0] <= 1.0
    if expected_reason == "id_contradicted":
        assert result["candidate_citizen_id"][0] is not None


def test_rejected_rows_are_not_matched_and_schema_is_stable() -> None:
    shots = pl.DataFrame([shot(), shot(source_row=2, reject_reason="vaccine_unknown")], schema=SHOT_SCHEMA)
    result = match_by_id(shots.lazy(), REGISTRY.lazy()).collect()
    assert result["source_row"].to_list() == [1]
    assert dict(result.schema) == MATCH_SCHEMA
