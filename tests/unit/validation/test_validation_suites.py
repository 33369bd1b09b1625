"""Each suite passes on a good frame and names the right expectation for each defect."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from validation import run_suite

NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
UNIQUE = "expect_column_values_to_be_unique"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
REGEX = "expect_column_values_to_match_regex"

NORMALIZED_KEYS = ["file_hash", "source_row"]


def _named(failures: list) -> set[tuple[str, str | None]]:
    return {(failure.expectation_type, failure.column) for failure in failures}


def test_raw_file_metrics_suite_passes_good_files(raw_file_metrics_suite, good_raw_file_metrics):
    outcome = run_suite(good_raw_file_metrics, raw_file_metrics_suite, id_columns=["source_file"])

    assert outcome.success, outcome.results_json
    assert outcome.critical_failures == [] and outcome.warnings == []
    assert outcome.failing_keys() == []


@pytest.mark.parametrize(
    ("defect", "row", "column", "value", "expected_critical", "expected_warnings"),
    [
        (
            "no recognisable name column",
            1,
            "is_required_columns_present",
            False,
            {(IN_SET, "is_required_columns_present")},
            set(),
        ),
        ("header only, no data rows", 2, "rows_read", 0, {(BETWEEN, "rows_read")}, set()),
        ("row count not measured", 0, "rows_read", None, {(NOT_NULL, "rows_read")}, set()),
        ("path lost", 0, "source_file", None, {(NOT_NULL, "source_file")}, set()),
        (
            "ID column mapped to the phone column",
            0,
            "share_blank_id",
            0.64,
            set(),
            {(BETWEEN, "share_blank_id")},
        ),
        (
            "a month-first date file",
            2,
            "share_unparsable_dates",
            0.41,
            set(),
            {(BETWEEN, "share_unparsable_dates")},
        ),
        (
            "share computed as a percentage",
            1,
            "share_blank_id",
            11.0,
            {(BETWEEN, "share_blank_id")},
            {(BETWEEN, "share_blank_id")},
        ),
    ],
)
def test_raw_file_metrics_suite_names_each_defect(
    raw_file_metrics_suite,
    good_raw_file_metrics,
    with_value,
    defect,
    row,
    column,
    value,
    expected_critical,
    expected_warnings,
):
    frame = with_value(good_raw_file_metrics, row, column, value)

    outcome = run_suite(frame, raw_file_metrics_suite, id_columns=["source_file"])

    assert not outcome.success, defect
    assert _named(outcome.critical_failures) == expected_critical, defect
    assert _named(outcome.warnings) == expected_warnings, defect
    expected_keys = frame[row, "source_file"] if expected_critical else None
    assert outcome.failing_keys() == ([(expected_keys,)] if expected_critical else [])


def test_normalized_shots_suite_passes_good_rows_and_ignores_ranges_of_rejected_rows(
    normalized_shots_suite, good_normalized_shots
):
    outcome = run_suite(good_normalized_shots, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert outcome.success, outcome.results_json
    assert outcome.failing_keys() == []


@pytest.mark.parametrize(
    ("defect", "row", "column", "value", "expected_critical"),
    [
        ("vaccine code outside the catalogue", 0, "vaccine_code", "COVAXIN", {(IN_SET, "vaccine_code")}),
        ("vaccine code lost on a matchable row", 1, "vaccine_code", None, {(NOT_NULL, "vaccine_code")}),
        (
            "unknown code kept on a rejected row",
            3,
            "vaccine_code",
            "SINOPHARM_TYPO",
            {(IN_SET, "vaccine_code")},
        ),
        (
            "shot the day before the campaign",
            1,
            "vaccinated_date",
            dt.date(2021, 3, 7),
            {(BETWEEN, "vaccinated_date")},
        ),
        (
            "shot the day after the run date",
            2,
            "vaccinated_date",
            dt.date(2023, 2, 1),
            {(BETWEEN, "vaccinated_date")},
        ),
        ("year typed 9999", 0, "vaccinated_date", dt.date(9999, 7, 12), {(BETWEEN, "vaccinated_date")}),
        ("vaccination date lost", 0, "vaccinated_date", None, {(NOT_NULL, "vaccinated_date")}),
        ("born 1850", 1, "birth_year", 1850, {(BETWEEN, "birth_year")}),
        ("birth year typed with three digits", 0, "birth_year", 198, {(BETWEEN, "birth_year")}),
        ("birth year typed with two digits", 2, "birth_year", 75, {(BETWEEN, "birth_year")}),
        ("birth year lost on a matchable row", 2, "birth_year", None, {(NOT_NULL, "birth_year")}),
        ("sex left as Vietnamese text", 1, "sex_code", "Nam", {(IN_SET, "sex_code")}),
        ("id kind outside the closed list", 0, "id_kind", "cmnd", {(IN_SET, "id_kind")}),
        ("id kind not classified", 4, "id_kind", None, {(NOT_NULL, "id_kind")}),
        (
            "reject reason outside the closed list",
            3,
            "reject_reason",
            "bad_vaccine",
            {(IN_SET, "reject_reason")},
        ),
        ("source file lost", 2, "source_file", None, {(NOT_NULL, "source_file")}),
        ("source row lost", 5, "source_row", None, {(NOT_NULL, "source_row")}),
        ("same staged row twice", 1, "source_row", 1, {(COMPOUND_UNIQUE, "file_hash,source_row")}),
    ],
)
def test_normalized_shots_suite_names_each_critical_defect(
    normalized_shots_suite, good_normalized_shots, with_value, defect, row, column, value, expected_critical
):
    frame = with_value(good_normalized_shots, row, column, value)

    outcome = run_suite(frame, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert _named(outcome.critical_failures) == expected_critical, defect
    assert outcome.warnings == [], defect
    assert outcome.failing_keys() == frame.select(NORMALIZED_KEYS).slice(row, 1).rows(), defect


@pytest.mark.parametrize(
    ("defect", "changes", "expected_warnings"),
    [
        ("a three-year-old vaccinated", [(2, "birth_year", 2020)], {(BETWEEN, "birth_year")}),
        (
            "sex missing on most matchable rows",
            [(0, "sex_code", None), (1, "sex_code", None)],
            {(NOT_NULL, "sex_code")},
        ),
    ],
)
def test_normalized_shots_suite_warns_without_holding_rows_back(
    normalized_shots_suite, good_normalized_shots, with_value, defect, changes, expected_warnings
):
    frame = good_normalized_shots
    for row, column, value in changes:
        frame = with_value(frame, row, column, value)

    outcome = run_suite(frame, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert not outcome.success, defect
    assert outcome.critical_failures == [], defect
    assert _named(outcome.warnings) == expected_warnings, defect
    assert outcome.failing_keys() == [], defect


def test_synced_shots_suite_passes_good_shots(synced_shots_suite, good_synced_shots):
    outcome = run_suite(good_synced_shots, synced_shots_suite, id_columns=["shot_id"])

    assert outcome.success, outcome.results_json


@pytest.mark.parametrize(
    ("defect", "row", "column", "value", "expected_critical"),
    [
        ("shot id lost", 1, "shot_id", None, {(NOT_NULL, "shot_id")}),
        ("CCCD with its leading zero lost", 2, "citizen_id", "46088004512", {(REGEX, "citizen_id")}),
        ("CCCD typed with spaces", 3, "citizen_id", "079 210 000731", {(REGEX, "citizen_id")}),
        ("old 9-digit CMND posted as citizen", 0, "citizen_id", "012345678", {(REGEX, "citizen_id")}),
        ("citizen lost", 0, "citizen_id", None, {(NOT_NULL, "citizen_id")}),
        ("vaccine code not canonical", 2, "vaccine_code", "Vero Cell", {(IN_SET, "vaccine_code")}),
        ("shot before the campaign", 0, "vaccinated_on", dt.date(2020, 12, 31), {(BETWEEN, "vaccinated_on")}),
        ("shot after the run date", 3, "vaccinated_on", dt.date(2023, 3, 1), {(BETWEEN, "vaccinated_on")}),
        ("unknown match method", 3, "match_method", "fuzzy", {(IN_SET, "match_method")}),
        ("score as a percentage", 2, "match_score", 97.0, {(BETWEEN, "match_score")}),
        ("score lost", 2, "match_score", None, {(NOT_NULL, "match_score")}),
        ("dose zero", 1, "dose_number", 0, {(BETWEEN, "dose_number")}),
        ("dose lost", 1, "dose_number", None, {(NOT_NULL, "dose_number")}),
        ("sync time lost", 0, "first_synced_at", None, {(NOT_NULL, "first_synced_at")}),
        ("method lost", 0, "match_method", None, {(NOT_NULL, "match_method")}),
    ],
)
def test_synced_shots_suite_names_each_critical_defect(
    synced_shots_suite, good_synced_shots, with_value, defect, row, column, value, expected_critical
):
    frame = with_value(good_synced_shots, row, column, value)

    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])

    assert _named(outcome.critical_failures) == expected_critical, defect
    assert outcome.warnings == [], defect
    assert outcome.failing_keys() == frame.select("shot_id").slice(row, 1).rows(), defect


@pytest.mark.parametrize(
    ("defect", "row", "column", "value", "expected"),
    [
        ("shot id reused", 1, "shot_id", "3f1e9a0c2b7d4e58a6c1f0e2d3b4a596", {(UNIQUE, "shot_id")}),
        (
            "same dose posted twice",
            1,
            "vaccine_code",
            "ASTRAZENECA",
            {(COMPOUND_UNIQUE, "citizen_id,vaccine_code,vaccinated_on")},
        ),
    ],
)
def test_synced_shots_suite_flags_both_rows_of_a_duplicate(
    synced_shots_suite, good_synced_shots, with_value, defect, row, column, value, expected
):
    frame = with_value(good_synced_shots, row, column, value)
    if column == "vaccine_code":  # same citizen, vaccine and day as row 0
        frame = with_value(frame, row, "vaccinated_on", frame[0, "vaccinated_on"])

    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])

    assert _named(outcome.critical_failures) == expected, defect
    assert outcome.critical_failures[0].unexpected_count == 2
    assert set(outcome.failing_keys()) == {(frame[0, "shot_id"],), (frame[1, "shot_id"],)}


def test_synced_shots_suite_warns_on_an_implausible_dose_number(
    synced_shots_suite, good_synced_shots, with_value
):
    frame = with_value(good_synced_shots, 1, "dose_number", 6)

    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])

    assert outcome.critical_failures == []
    assert _named(outcome.warnings) == {(BETWEEN, "dose_number")}
    assert outcome.warnings[0].sample_keys == [(frame[1, "shot_id"],)]


def test_suites_accept_frames_with_extra_columns(normalized_shots_suite, good_normalized_shots):
    frame = good_normalized_shots.with_columns(
        pl.lit("Nguyễn Thị Hồng").alias("full_name_clean"), pl.lit("0912345678").alias("phone_number")
    )

    outcome = run_suite(frame, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert outcome.success
