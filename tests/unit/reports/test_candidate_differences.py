"""A candidate's differing fields follow the comparison levels the matcher stored, and fall back to the
values only where a level is missing or does not tell."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl
import pytest
from report_builders import AS_OF, HANOI_FILE_HASH, RUN_ID, build_warehouse

from matching.model import load_model
from vaxsync.core.decision_sheet import header_code
from vaxsync.marts.warehouse import connect
from vaxsync.reports.candidate_differences import (
    LEVEL_READINGS,
    field_differences,
    value_differences,
)
from vaxsync.reports.province_report_files import write_province_reports
from vaxsync.reports.province_report_model import CANDIDATE_FIELDS, candidate_column

AGREEING_LEVELS = {
    "id_number": "exact",
    "given_name": "exact_plain",  # the row is written without diacritics
    "family_name": "exact_plain",
    "middle_name": "exact",
    "name_order": "same_order",
    "birth_date": "exact",
    "sex": "agree",
    "phone": "exact",
    "residence": "ward",
}
ROW_AND_CANDIDATE_SCHEMA = {
    "comparison": pl.String,
    "_id": pl.String,
    "citizen_id": pl.String,
    "legacy_id": pl.String,
    "_full_name": pl.String,
    "name": pl.String,
    "_birth_date": pl.Date,
    "registry_birth_date": pl.Date,
    "_birth_year": pl.Int32,
    "registry_birth_year": pl.Int32,
    "_sex": pl.String,
    "registry_sex": pl.String,
    "_phone": pl.String,
    "registry_phone": pl.String,
    "_ward_code": pl.String,
    "registry_ward_code": pl.String,
    "_district_code": pl.String,
    "registry_district_code": pl.String,
}


def comparison_json(levels: dict[str, str]) -> str:
    """`review_candidates.comparison` as vaxsync.marts.publish writes it: per comparison, level and weight."""
    return json.dumps({name: {"level": level, "weight": 1.0} for name, level in levels.items()})


def row_and_candidate(comparison: str | None, **values: Any) -> dict[str, Any]:
    """A row written without diacritics, and its candidate: the same person in every field."""
    same = {
        "_id": "001090001234",
        "citizen_id": "001090001234",
        "legacy_id": None,
        "_full_name": "Nguyen Van An",
        "name": "Nguyễn Văn An",
        "_birth_date": dt.date(1990, 5, 1),
        "registry_birth_date": dt.date(1990, 5, 1),
        "_birth_year": 1990,
        "registry_birth_year": 1990,
        "_sex": "M",
        "registry_sex": "M",
        "_phone": "0912345678",
        "registry_phone": "0912345678",
        "_ward_code": "00001",
        "registry_ward_code": "00001",
        "_district_code": "001",
        "registry_district_code": "001",
    }
    return {**same, "comparison": comparison, **values}


def differing(rows: list[dict[str, Any]], differences: dict[str, pl.Expr]) -> list[list[str]]:
    frame = pl.DataFrame(rows, schema=ROW_AND_CANDIDATE_SCHEMA)
    flags = frame.select(**differences)
    return [[field for field, flag in row.items() if flag] for row in flags.iter_rows(named=True)]


def test_a_name_without_diacritics_that_the_matcher_reads_as_the_same_name_does_not_differ() -> None:
    rows = [row_and_candidate(comparison_json(AGREEING_LEVELS))]

    assert differing(rows, value_differences()) == [["name"]]  # the strings differ
    assert differing(rows, field_differences()) == [[]]  # the matcher: exact_plain, the same name


@pytest.mark.parametrize(
    ("levels", "values", "expected"),
    [
        # A level short of agreement differs, even when the shown values compare equal.
        ({"given_name": "typo"}, {}, ["name"]),
        ({"middle_name": "one_empty"}, {}, ["name"]),
        ({"birth_date": "year_off_by_one"}, {}, ["birth_date"]),
        ({"phone": "last_eight_digits"}, {}, ["phone"]),
        ({"id_number": "cccd_contradicts"}, {}, ["id"]),
        # Agreement as far as both sides know: a birth year against a full date.
        ({"birth_date": "year_only"}, {"_birth_date": None, "registry_birth_year": 1991}, []),
        # No evidence for the matcher (a value it could not read): the values decide.
        ({"sex": "missing"}, {"_sex": "F"}, ["sex"]),
        ({"sex": "missing"}, {"_sex": None}, []),
        # ... unless another comparison of the field had evidence: the name by given and family name.
        ({"middle_name": "missing"}, {"_full_name": "Nguyen An"}, []),
        ({"middle_name": "missing", "given_name": "different"}, {}, ["name"]),
        # Levels that do not tell: the values decide.
        ({"residence": "district"}, {"_ward_code": "00004"}, ["ward_district"]),
        ({"residence": "district"}, {"_ward_code": None}, []),
        ({"residence": "facility_in_province"}, {"_ward_code": None, "_district_code": None}, []),
        ({"residence": "province"}, {"_ward_code": None, "_district_code": "002"}, ["ward_district"]),
        ({"residence": "different"}, {"_ward_code": None, "_district_code": None}, ["ward_district"]),
        ({"id_number": "batch_sibling"}, {"_id": None}, []),
        ({"id_number": "batch_sibling"}, {"_id": "001090009999"}, ["id"]),
    ],
)
def test_each_field_reads_its_levels(
    levels: dict[str, str], values: dict[str, Any], expected: list[str]
) -> None:
    rows = [row_and_candidate(comparison_json({**AGREEING_LEVELS, **levels}), **values)]

    assert differing(rows, field_differences()) == [expected]


@pytest.mark.parametrize("comparison", [None, "{}"])
def test_a_row_scored_before_levels_were_stored_compares_the_values(comparison: str | None) -> None:
    rows = [row_and_candidate(comparison, _sex="F")]

    assert differing(rows, field_differences()) == [["name", "sex"]]


def test_the_readings_name_the_shipped_models_levels() -> None:
    """A misspelt level would never match: every level read is one of its comparison's levels."""
    model = load_model()
    labels = {comparison.name: set(comparison.labels) for comparison in model.comparisons}
    for name, reading in LEVEL_READINGS.items():
        assert set(reading.agree) | set(reading.by_value) <= labels[name], name
    assert {reading.field for reading in LEVEL_READINGS.values()} == set(CANDIDATE_FIELDS)


# --- the report follows the matcher ---------------------------------------------------------------------


def store_unmarked_row_with_levels(folder: Path, *, levels: dict[str, str] | None) -> Any:
    """The tiny warehouse, its review row written without diacritics; candidate 1 scored with `levels`."""
    settings = build_warehouse(folder)
    with connect(settings.warehouse_path) as connection:
        connection.execute(
            "update backlog_records set full_name_clean = 'Nguyen Van An' where file_hash = ? and source_row = 1",
            [HANOI_FILE_HASH],
        )
        if levels is not None:
            connection.execute(
                "update review_candidates set comparison = ? where candidate_rank = 1",
                [comparison_json(levels)],
            )
    return settings


def review_sheet(settings: Any) -> pl.DataFrame:
    folder = settings.reports_dir / AS_OF.isoformat() / "provinces" / "01"
    reader = fastexcel.read_excel(folder / f"mismatch_01_{AS_OF}.xlsx")
    return reader.load_sheet("review_required", dtypes="string").to_polars().rename(header_code)


@pytest.mark.parametrize(
    ("levels", "candidate_1_differs", "highlighted_cells"),
    [
        (AGREEING_LEVELS, None, 6),  # the matcher read the unmarked name as the same name
        (None, "name", 7),  # no stored levels: the strings are compared, and they differ
    ],
)
def test_the_report_highlights_what_the_matcher_judged(
    tmp_path: Path, levels: dict[str, str] | None, candidate_1_differs: str | None, highlighted_cells: int
) -> None:
    settings = store_unmarked_row_with_levels(tmp_path, levels=levels)

    write_province_reports(settings, run_id=RUN_ID)

    review = review_sheet(settings)
    assert review[candidate_column(1, "differs")].to_list() == [candidate_1_differs]
    assert review[candidate_column(2, "differs")].to_list() == [
        "id, name, birth_date, sex, phone, ward_district"
    ]
    folder = settings.reports_dir / AS_OF.isoformat() / "provinces" / "01"
    page = (folder / f"mismatch_01_{AS_OF}.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<td class="differs">', page)) == highlighted_cells
