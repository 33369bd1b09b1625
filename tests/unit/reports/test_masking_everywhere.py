"""Masking is one implementation (vaxsync.core.masking) used everywhere: each place that used to mask in
its own way is checked through its public function against the core rule on the same input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from report_builders import AS_OF, BACKLOG, RECORDS, RUN_ID, build_warehouse

from transforms.normalize.rejects import reject_reason_and_detail
from validation import ExpectationFailure, SuiteOutcome, describe_critical_failures
from vaxsync.core.masking import (
    FORMULA_TRIGGERS,
    LONG_NUMBER_MARKER,
    formula_neutralised,
    masked_citizen_id,
    masked_key,
    masked_phone,
    neutralised_text,
    without_long_numbers,
)
from vaxsync.marts.warehouse import connect
from vaxsync.reports.province_reports import ADMIN_UNITS_PATH, build_province_reports

KEY = ["source_file", "source_row"]


def core_masked(values: pl.DataFrame) -> pl.DataFrame:
    """The sent ID and phone of each row, masked by the core rules."""
    return values.select(
        *KEY,
        masked_citizen_id(pl.col("id_number")).alias("expected_id"),
        masked_phone(pl.col("phone")).alias("expected_phone"),
    )


def test_province_reports_mask_sent_ids_and_phones_by_the_core_rules(tmp_path: Path) -> None:
    settings = build_warehouse(tmp_path)
    with connect(settings.warehouse_path) as connection:
        reports = build_province_reports(
            connection,
            registry=pl.scan_parquet(settings.registry_path),
            admin_units=pl.scan_parquet(ADMIN_UNITS_PATH),
            as_of=AS_OF,
            run_id=RUN_ID,
        )
    shown = pl.concat([report.rows.select(*KEY, "sent_id_number", "sent_phone") for report in reports])
    source_files = {row["file_hash"]: row["source_file"] for row in BACKLOG}
    sent = pl.DataFrame(
        [
            (source_files[row["file_hash"]], row["source_row"], row.get("id_number"), row.get("phone"))
            for row in RECORDS
        ],
        schema={"source_file": pl.String, "source_row": pl.Int32, "id_number": pl.String, "phone": pl.String},
        orient="row",
    )
    compared = shown.join(core_masked(sent), on=KEY, how="inner")
    assert compared.height == shown.height > 0  # every shown row has its sent values
    assert compared["sent_id_number"].to_list() == compared["expected_id"].to_list()
    assert compared["sent_phone"].to_list() == compared["expected_phone"].to_list()
    assert compared["sent_id_number"].drop_nulls().len() >= 2  # real values were masked, not only nulls


def test_validation_messages_mask_row_keys_by_the_core_rule() -> None:
    file_hash, shot_id = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8", "001175012345"
    failure = ExpectationFailure(
        expectation_type="expect_column_values_to_not_be_null",
        column="vaccine_code",
        severity="critical",
        unexpected_count=1,
        sample_keys=[(file_hash, 7, shot_id)],
    )
    outcome = SuiteOutcome(
        suite_name="synced_shots",
        success=False,
        critical_failures=[failure],
        warnings=[],
        results_json="{}",
        id_columns=["file_hash", "source_row", "shot_id"],
        critical_row_keys=pl.DataFrame(
            schema={"file_hash": pl.String, "source_row": pl.Int64, "shot_id": pl.String}
        ),
    )

    message = describe_critical_failures(outcome)

    assert f"file_hash={masked_key(file_hash)} source_row=7 shot_id={masked_key(shot_id)}" in message
    assert file_hash not in message and shot_id not in message


def test_reject_details_hide_long_numbers_by_the_core_rule() -> None:
    vaccine_sent = ["Pfizer 0912 345 678", "AZ lô 001175012345", "Moderna"]
    frame = pl.DataFrame(
        {"vaccine": vaccine_sent, "vaccinated_on": ["2022-01-10"] * 3},
        schema={"vaccine": pl.String, "vaccinated_on": pl.String},
    )
    rejected = frame.select(
        reject_reason_and_detail(
            row_issue=pl.lit(None, dtype=pl.String),
            missing={"full_name": pl.lit(False)},
            vaccine_code=pl.lit(None, dtype=pl.String),
            vaccine_detail=pl.col("vaccine"),
            vaccinated_raw=pl.col("vaccinated_on"),
            vaccinated_date=pl.col("vaccinated_on").str.to_date(),
            birth_raw=pl.lit("1990"),
            birth_year=pl.lit(1990),
            campaign_start=dt.date(2021, 3, 8),
            as_of=dt.date(2023, 1, 31),
        )
    )
    expected = frame.select(without_long_numbers(pl.col("vaccine")))["vaccine"]
    assert rejected["reject_reason"].to_list() == ["vaccine_unknown"] * 3
    assert rejected["reject_detail"].to_list() == expected.to_list()
    assert expected.to_list() == [f"Pfizer {LONG_NUMBER_MARKER}", f"AZ lô {LONG_NUMBER_MARKER}", "Moderna"]


@pytest.mark.parametrize("first", [*FORMULA_TRIGGERS, "a", "1", " ", "'", "Đ"])
def test_frames_and_single_texts_are_neutralised_by_the_same_trigger_set(first: str) -> None:
    text = f"{first}SUM(A1)"
    in_frame = pl.DataFrame({"text": [text]}, schema={"text": pl.String}).select(
        formula_neutralised(pl.col("text"))
    )
    assert in_frame.item() == neutralised_text(text)
    assert (neutralised_text(text) != text) == (first in FORMULA_TRIGGERS)
