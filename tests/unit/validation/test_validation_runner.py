"""run_suite's outcome: which rows fail, what a caller may log or store, and what it must never show."""

from __future__ import annotations

import datetime as dt
import gc
import json
import subprocess
import sys
import weakref
from pathlib import Path

import polars as pl
import pytest

from validation import CriticalValidationError, mask_key_value, run_suite, runner

NORMALIZED_KEYS = ["file_hash", "source_row"]


def test_failing_keys_names_rows_of_critical_failures_only(
    normalized_shots_suite, good_normalized_shots, with_value
):
    frame = with_value(good_normalized_shots, 0, "vaccine_code", "COVAXIN")  # critical, Hanoi file
    frame = with_value(frame, 5, "sex_code", "nữ")  # critical, Hue file
    frame = with_value(frame, 2, "birth_year", 2021)  # warning only, Hanoi file

    outcome = run_suite(frame, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert outcome.failing_keys() == [(frame[0, "file_hash"], 1), (frame[5, "file_hash"], 2)]
    assert outcome.failing_keys(["file_hash"]) == [(frame[0, "file_hash"],), (frame[5, "file_hash"],)]
    assert [failure.column for failure in outcome.warnings] == ["birth_year"]
    assert outcome.warnings[0].row_keys.rows() == [(frame[2, "file_hash"], 3)]


def test_failing_keys_lists_a_file_once_however_many_of_its_rows_fail(
    normalized_shots_suite, good_normalized_shots, with_value
):
    frame = good_normalized_shots
    for row in (0, 1, 2):
        frame = with_value(frame, row, "vaccine_code", "Astra")

    outcome = run_suite(frame, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert outcome.critical_failures[0].unexpected_count == 3
    assert len(outcome.failing_keys()) == 3
    assert outcome.critical_failures[0].row_keys.rows() == frame.select(NORMALIZED_KEYS).head(3).rows()
    assert outcome.failing_keys(["file_hash"]) == [(frame[0, "file_hash"],)]
    assert outcome.critical_row_keys.columns == ["file_hash", "source_row"]


def test_a_missing_column_fails_critically_and_holds_back_every_row(synced_shots_suite, good_synced_shots):
    frame = good_synced_shots.drop("match_score")

    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])

    failed_columns = {failure.column for failure in outcome.critical_failures}
    assert failed_columns == {"match_score"}
    assert all(failure.detail for failure in outcome.critical_failures)
    assert outcome.failing_keys() == good_synced_shots.select("shot_id").rows()


def test_sample_keys_carry_id_columns_only(synced_shots_suite, good_synced_shots, with_value):
    frame = with_value(good_synced_shots, 2, "citizen_id", "46088004512")

    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])

    assert outcome.critical_failures[0].sample_keys == [(frame[2, "shot_id"],)]


def test_critical_error_names_suite_expectation_and_masked_keys_but_no_full_id(
    synced_shots_suite, good_synced_shots, with_value
):
    bad_citizen_id = "46088004512"
    frame = with_value(good_synced_shots, 2, "citizen_id", bad_citizen_id)
    shot_id = frame[2, "shot_id"]
    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])

    with pytest.raises(CriticalValidationError) as raised:
        outcome.raise_on_critical()

    message = str(raised.value)
    assert "synced_shots" in message
    assert "expect_column_values_to_match_regex on citizen_id" in message
    assert mask_key_value(shot_id) in message
    assert shot_id not in message
    assert bad_citizen_id not in message
    assert raised.value.outcome is outcome


def test_results_json_keeps_counts_and_keys_but_no_row_values(
    synced_shots_suite, good_synced_shots, with_value
):
    bad_citizen_id = "0461 8800 4512"
    frame = with_value(good_synced_shots, 2, "citizen_id", bad_citizen_id)

    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])
    stored = json.loads(outcome.results_json)

    assert bad_citizen_id not in outcome.results_json
    assert "001175012345" not in outcome.results_json  # a good row's ID is not stored either
    assert stored["suite_name"] == "synced_shots"
    assert stored["statistics"]["unsuccessful_expectations"] == 1
    [failed] = [expectation for expectation in stored["expectations"] if not expectation["success"]]
    assert failed["severity"] == "critical"
    assert failed["result"]["unexpected_count"] == 1
    assert failed["sample_keys"] == [{"shot_id": frame[2, "shot_id"]}]


def test_run_suite_refuses_id_columns_the_frame_lacks(synced_shots_suite, good_synced_shots):
    with pytest.raises(ValueError, match="source_row"):
        run_suite(good_synced_shots, synced_shots_suite, id_columns=["source_row"])


def test_an_empty_frame_passes(normalized_shots_suite, good_normalized_shots):
    outcome = run_suite(good_normalized_shots.clear(), normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert outcome.critical_failures == []
    assert outcome.failing_keys() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("001175012345", "001…345"),  # a CCCD keeps 6 of 12 digits
        ("012345678", "01…78"),  # an old CMND
        ("9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8", "9f2c4e…c6d7e8"),
        ("a.csv", "a.csv"),
        (1250, "1250"),
        (None, "None"),
    ],
)
def test_mask_key_value(value, expected):
    assert mask_key_value(value) == expected


def test_importing_validation_does_not_import_great_expectations():
    probe = "import sys, validation; print('great_expectations' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )

    assert completed.stdout.strip() == "False"


def test_run_suite_leaves_nothing_holding_its_callers_rows(normalized_shots_suite, good_normalized_shots):
    # GX leaves reference cycles whose frames reach up to run_suite's callers: the night's normalized rows
    # stayed resident until Python's next full collection, through match and publish.
    class Rows:
        """Stands for a caller's frame of rows; only its lifetime matters."""

    survivors: list[weakref.ref[Rows]] = []

    def caller() -> None:
        rows = Rows()
        survivors.append(weakref.ref(rows))
        run_suite(good_normalized_shots, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    gc.collect()
    gc.disable()  # only reference counting frees now, as between Python's occasional full collections
    try:
        caller()
        assert survivors[0]() is None
    finally:
        gc.enable()


def test_run_suite_gives_back_the_pages_arrow_kept_from_the_pandas_copy(
    normalized_shots_suite, good_normalized_shots, monkeypatch
):
    # Arrow's allocator keeps what the pandas copy freed, for its own reuse; the stages after a validation
    # allocate in DuckDB and polars, which never reuse it: publish's peak carried it.
    import pyarrow

    pool = pyarrow.default_memory_pool()
    released = []

    class Pool:
        def __getattr__(self, name):
            return getattr(pool, name)

        def release_unused(self):
            released.append(pool.bytes_allocated())
            pool.release_unused()

    monkeypatch.setattr(pyarrow, "default_memory_pool", Pool)

    run_suite(good_normalized_shots, normalized_shots_suite, id_columns=NORMALIZED_KEYS)

    assert len(released) == 1


def _comparable(outcome):
    """Everything of an outcome a caller reads, but the time GX stamped on its result."""
    results = json.loads(outcome.results_json)
    del results["validation_time"]
    failures = [
        (
            f.expectation_type,
            f.column,
            f.severity,
            f.unexpected_count,
            f.sample_keys,
            f.detail,
            f.row_keys.rows(),
        )
        for f in [*outcome.critical_failures, *outcome.warnings]
    ]
    return results, outcome.success, failures, outcome.critical_row_keys.rows()


@pytest.mark.parametrize(
    ("layer", "changes"),
    [
        ("normalized", []),
        ("normalized", [(0, "vaccine_code", "COVAXIN"), (2, "birth_year", 2021), (1, "sex_code", None)]),
        ("normalized", [(1, "source_row", 1), (0, "vaccinated_date", dt.date(2030, 1, 1))]),
        ("synced", [(2, "citizen_id", "46088004512"), (3, "dose_number", 7), (1, "shot_id", None)]),
    ],
)
def test_screening_at_basic_first_gives_the_outcome_of_a_complete_run(
    request, monkeypatch, with_value, layer, changes
):
    suite = request.getfixturevalue(f"{layer}_shots_suite")
    frame = request.getfixturevalue(f"good_{layer}_shots")
    for row, column, value in changes:
        frame = with_value(frame, row, column, value)
    keys = NORMALIZED_KEYS if layer == "normalized" else ["shot_id"]
    runs: list[tuple[str, int]] = []
    validate = runner._validate

    def counted(pandas_frame, run_suite_of, result_format):
        runs.append((result_format, len(run_suite_of.expectations)))
        return validate(pandas_frame, run_suite_of, result_format)

    monkeypatch.setattr(runner, "_validate", counted)
    monkeypatch.setattr(runner, "SCREEN_FROM_ROWS", 10**9)
    complete = run_suite(frame, suite, id_columns=keys)
    monkeypatch.setattr(runner, "SCREEN_FROM_ROWS", 0)
    screened = run_suite(frame, suite, id_columns=keys)

    assert _comparable(screened) == _comparable(complete)
    failed = json.loads(complete.results_json)["statistics"]["unsuccessful_expectations"]
    rerun = [("COMPLETE", failed)] if failed else []
    assert runs == [("COMPLETE", len(suite.expectations)), ("BASIC", len(suite.expectations)), *rerun]


def test_screening_keeps_a_missing_column_failing_on_every_row(
    synced_shots_suite, good_synced_shots, monkeypatch
):
    monkeypatch.setattr(runner, "SCREEN_FROM_ROWS", 0)
    frame = good_synced_shots.drop("match_score")

    outcome = run_suite(frame, synced_shots_suite, id_columns=["shot_id"])

    assert {failure.column for failure in outcome.critical_failures} == {"match_score"}
    assert all(failure.detail for failure in outcome.critical_failures)
    assert outcome.failing_keys() == good_synced_shots.select("shot_id").rows()


@pytest.mark.parametrize(
    "values",
    [
        [f"id{index}" for index in range(50)],  # near-unique: settled on its first rows
        [f"id{index % 9}" for index in range(50)],  # repetitive
        [f"id{index}" for index in range(10)] + ["same"] * 40,  # unique at first, repetitive in all
        [None] * 50,
        [],
    ],
)
@pytest.mark.parametrize("most", [1, 5, 10, 11, 24, 25, 60])
def test_distinct_at_most_agrees_with_counting_every_value(values, most):
    column = pl.Series("code", values, dtype=pl.String)

    assert runner._distinct_at_most(column, most) == (column.n_unique() <= most)
