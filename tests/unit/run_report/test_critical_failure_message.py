"""A failed critical expectation fails its task with a message an engineer can act on: the suite, the
expectation, the column, the count and up to five failing rows by masked key, never a row's values."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest

from validation import CriticalValidationError, build_synced_shots_suite, mask_key_value, run_suite
from vaxsync.core.settings import CAMPAIGN_START

VACCINE_CODES = ["ASTRAZENECA", "PFIZER", "MODERNA", "VERO_CELL"]
GOOD_CITIZEN_ID = "001175012345"
# 11 digits: a CCCD that lost its leading zero in a spreadsheet
BAD_CITIZEN_IDS = [f"4608800451{row}" for row in range(6)]


def _synced_shots(citizen_ids: list[str]) -> pl.DataFrame:
    rows = len(citizen_ids)
    return pl.DataFrame(
        {
            "shot_id": [f"{row:02d}3f1e9a0c2b7d4e58a6c1f0e2d3b4a5" for row in range(rows)],
            "citizen_id": citizen_ids,
            "vaccine_code": ["PFIZER"] * rows,
            "dose_number": [1] * rows,
            "vaccinated_on": [dt.date(2021, 10, 4) + dt.timedelta(days=row) for row in range(rows)],
            "facility": ["TYT Phường Láng Hạ"] * rows,
            "lot": ["FK8891"] * rows,
            "match_method": ["id_exact"] * rows,
            "match_score": [1.0] * rows,
            "first_synced_at": [dt.datetime(2023, 1, 31, 1, 12, 5)] * rows,
        },
        schema_overrides={"dose_number": pl.Int16},
    )


@pytest.fixture(scope="module")
def failing_outcome():
    suite = build_synced_shots_suite(dt.date(2023, 1, 31), CAMPAIGN_START, VACCINE_CODES)
    frame = _synced_shots([GOOD_CITIZEN_ID, *BAD_CITIZEN_IDS])
    return frame, run_suite(frame, suite, id_columns=["shot_id"])


def test_message_names_suite_expectation_column_and_count(failing_outcome):
    _, outcome = failing_outcome

    with pytest.raises(CriticalValidationError) as raised:
        outcome.raise_on_critical()

    message = str(raised.value)
    assert message.splitlines()[0] == "suite synced_shots: 1 critical expectation(s) failed"
    assert "- expect_column_values_to_match_regex on citizen_id: 6 row(s), e.g. " in message


def test_message_shows_five_failing_rows_by_masked_key(failing_outcome):
    frame, outcome = failing_outcome
    failing_shot_ids = frame["shot_id"][1:].to_list()

    message = str(CriticalValidationError(outcome))

    shown = [shot_id for shot_id in failing_shot_ids if f"shot_id={mask_key_value(shot_id)}" in message]
    assert shown == failing_shot_ids[:5]
    assert not any(shot_id in message for shot_id in frame["shot_id"])  # keys are never whole


def test_message_holds_no_row_values(failing_outcome):
    _, outcome = failing_outcome

    message = str(CriticalValidationError(outcome))

    assert re.search(r"\d{11}", message) is None
    assert GOOD_CITIZEN_ID not in message
    assert "Láng Hạ" not in message
