"""Small, realistic frames for each validated layer; suites built once per session (GX imports slowly)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from vaxsync.core.settings import CAMPAIGN_START

AS_OF = dt.date(2023, 1, 31)
VACCINE_CODES = ["ASTRAZENECA", "PFIZER", "MODERNA", "VERO_CELL", "SPUTNIK_V", "ABDALA", "HAYAT_VAX"]
HASH_HANOI = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
HASH_HUE = "0a1b2c3d4e5f60718293a4b5c6d7e8f9f2c4e7a1b3d5f60718293a4b5c6d7e8"


@pytest.fixture(scope="session")
def raw_file_metrics_suite() -> Any:
    from validation import build_raw_file_metrics_suite

    return build_raw_file_metrics_suite()


@pytest.fixture(scope="session")
def normalized_shots_suite() -> Any:
    from validation import build_normalized_shots_suite

    return build_normalized_shots_suite(AS_OF, CAMPAIGN_START, VACCINE_CODES)


@pytest.fixture(scope="session")
def synced_shots_suite() -> Any:
    from validation import build_synced_shots_suite

    return build_synced_shots_suite(AS_OF, CAMPAIGN_START, VACCINE_CODES)


@pytest.fixture
def good_raw_file_metrics() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source_file": [
                "01_ha_noi/tyt_phuong_lang_ha_2021-07.csv",
                "46_thua_thien_hue/bv_trung_uong_hue.xlsx",
                "79_ho_chi_minh/tyt_quan_3_dot_5.txt",
            ],
            "is_required_columns_present": [True, True, True],
            "rows_read": [412, 1_250, 37],
            "share_blank_id": [0.02, 0.11, 0.0],
            "share_unparsable_dates": [0.0, 0.004, 0.027],
        },
        schema_overrides={"rows_read": pl.Int64},
    )


@pytest.fixture
def good_normalized_shots() -> pl.DataFrame:
    """Three matchable rows and three rejected ones whose values are out of range for their stated reason."""
    return pl.DataFrame(
        {
            "source_file": ["01_ha_noi/tyt_phuong_lang_ha_2021-07.csv"] * 4
            + ["46_thua_thien_hue/bv_trung_uong_hue.xlsx"] * 2,
            "file_hash": [HASH_HANOI] * 4 + [HASH_HUE] * 2,
            "source_row": [1, 2, 3, 4, 1, 2],
            "id_kind": ["cccd", "cmnd9", "bhyt", "cccd", "missing", "unrecoverable"],
            "sex_code": ["F", "M", "F", None, "M", "F"],
            "vaccine_code": ["ASTRAZENECA", "PFIZER", "MODERNA", None, "PFIZER", "VERO_CELL"],
            "vaccinated_date": [
                dt.date(2021, 7, 12),
                dt.date(2021, 11, 3),
                dt.date(2022, 4, 20),
                dt.date(2021, 8, 1),
                dt.date(2024, 2, 1),
                dt.date(2021, 9, 9),
            ],
            "birth_year": [1975, 1988, 2010, 1960, 1990, None],
            "reject_reason": [
                None,
                None,
                None,
                "vaccine_unknown",
                "vaccination_date_out_of_range",
                "birth_date_invalid",
            ],
        },
        schema_overrides={"source_row": pl.Int32, "birth_year": pl.Int32},
    )


@pytest.fixture
def good_synced_shots() -> pl.DataFrame:
    synced_at = dt.datetime(2023, 1, 31, 1, 12, 5)
    return pl.DataFrame(
        {
            "shot_id": [
                "3f1e9a0c2b7d4e58a6c1f0e2d3b4a596",
                "7c2d8e1f0a3b4c5d6e7f8091a2b3c4d5",
                "e4a1b2c3d4e5f60718293a4b5c6d7e8f",
                "0b9a8c7d6e5f40312233445566778899",
            ],
            "citizen_id": ["001175012345", "001175012345", "046088004512", "079210000731"],
            "vaccine_code": ["ASTRAZENECA", "PFIZER", "VERO_CELL", "PFIZER"],
            "dose_number": [1, 2, 1, 1],
            "vaccinated_on": [
                dt.date(2021, 7, 12),
                dt.date(2021, 10, 4),
                dt.date(2021, 9, 9),
                dt.date(2022, 4, 20),
            ],
            "facility": ["TYT Phường Láng Hạ", "TYT Phường Láng Hạ", "BV Trung ương Huế", "TYT Quận 3"],
            "lot": ["A1234", None, "202107B", "FK8891"],
            "match_method": ["id_exact", "id_exact", "legacy_id_exact", "review_decision"],
            "match_score": [1.0, 1.0, 0.97, 0.88],
            "first_synced_at": [synced_at] * 4,
        },
        schema_overrides={"dose_number": pl.Int16},
    )


def _with_value(frame: pl.DataFrame, row: int, column: str, value: object) -> pl.DataFrame:
    return (
        frame.with_row_index("position")
        .with_columns(
            pl.when(pl.col("position") == row)
            .then(pl.lit(value, dtype=frame.schema[column]))
            .otherwise(pl.col(column))
            .alias(column)
        )
        .drop("position")
    )


@pytest.fixture
def with_value() -> Callable[[pl.DataFrame, int, str, object], pl.DataFrame]:
    """with_value(frame, row, column, value): the frame with one cell replaced, keeping the column's dtype."""
    return _with_value
