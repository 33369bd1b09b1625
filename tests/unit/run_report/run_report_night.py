"""Builders for the run report tests: a small published night, written straight into a warehouse and a work folder: three files (one loaded
with posted, duplicate and backlog rows, one quarantined at ingest, one held back by validation), the
stored validation results of two suites, and run.json with the stage counts and times."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir, write_json
from vaxsync.marts.warehouse import connect

AS_OF = dt.date(2023, 1, 31)
RUN_ID = "2023-01-31@20230131T180000"
HASH_LOADED = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
HASH_EMPTY = "0a1b2c3d4e5f60718293a4b5c6d7e8f9f2c4e7a1b3d5f60718293a4b5c6d7e8"
HASH_HELD = "5e5e5e5e1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
FILE_LOADED = "01_Ha_Noi/01279002/DS_tiem_01279002_01-01-2022_1.csv"
FILE_EMPTY = "72_Tay_Ninh/72712001/export_rong.csv"
FILE_HELD = "46_Thua_Thien_Hue/46190001/tiem_chung_003.xlsx"
# The loaded file's notes sheet, and a sheet named after a person's phone (the report masks it).
SKIPPED_SHEETS = '[{"sheet": "Hướng dẫn", "rows": 3}, {"sheet": "Gọi 0912345678", "rows": 1}]'
# Personal values a careless result or detail could carry; the report must not show them.
CITIZEN_ID = "001175012345"
PHONE = "0912345678"
NAME = "Nguyễn Thị Bình"
STAGE_SECONDS = {"discover": 0.2, "ingest": 3.5, "normalize": 12.25, "match": 4.0, "publish": 1.5}
STAGE_COUNTS = {
    "discover": {
        "files_landed": 4,
        "files_already_in_ledger": 1,
        "files_new": 3,
        "files_duplicate_content": 0,
    },
    "normalize": {
        "rows_normalized": 6,
        "rows_rejected": 1,
        "rows_rejected_by_reason": {"vaccine_unknown": 1},
        "files_held_back": 1,
    },
    "match": {
        "rows_matched_by_id": 3,
        "rows_matched_probabilistically": 1,
        "rows_in_review": 1,
        "rows_unmatched": 1,
    },
}


@dataclass(frozen=True)
class Night:
    settings: Settings
    run_id: str

    @property
    def report_dir(self) -> Path:
        return self.settings.reports_dir / self.settings.as_of.isoformat()


def _expectation(
    expectation_type: str,
    column: str,
    *,
    severity: str,
    success: bool,
    unexpected_count: int = 0,
    sample_keys: list[dict[str, object]] | None = None,
    result_extra: dict[str, object] | None = None,
    **kwargs: object,
) -> dict[str, object]:
    """One expectation as validation.runner stores it in results_json."""
    return {
        "expectation_type": expectation_type,
        "kwargs": {"column": column, **kwargs},
        "severity": severity,
        "description": None,
        "success": success,
        "result": {
            "element_count": 6,
            "unexpected_count": unexpected_count,
            "unexpected_percent": 100 * unexpected_count / 6,
            **(result_extra or {}),
        },
        "exception_message": None,
        "sample_keys": sample_keys or [],
    }


def _results_json(suite_name: str, expectations: list[dict[str, object]]) -> str:
    failed = sum(not item["success"] for item in expectations)
    return json.dumps(
        {
            "suite_name": suite_name,
            "success": failed == 0,
            "statistics": {
                "evaluated_expectations": len(expectations),
                "successful_expectations": len(expectations) - failed,
                "unsuccessful_expectations": failed,
            },
            "expectations": expectations,
        }
    )


NORMALIZED_EXPECTATIONS = [
    _expectation(
        "expect_column_values_to_be_in_set",
        "vaccine_code",
        severity="critical",
        success=False,
        unexpected_count=2,
        # A key column that is personal, and GX's raw values: neither may reach the report.
        sample_keys=[
            {"file_hash": HASH_HELD, "source_row": 2, "citizen_id": CITIZEN_ID},
            {"file_hash": HASH_HELD, "source_row": 5, "full_name": NAME},
        ],
        result_extra={"partial_unexpected_list": [NAME, PHONE]},
        value_set=["ASTRAZENECA", "PFIZER"],
    ),
    _expectation(
        "expect_column_values_to_be_between",
        "vaccinated_date",
        severity="critical",
        success=True,
        min_value="2021-03-08T00:00:00",
        max_value="2023-01-31T00:00:00",
    ),
    _expectation(
        "expect_column_most_common_value_to_be_in_set",
        "full_name",
        severity="warning",
        success=False,
        result_extra={"observed_value": NAME},
        value_set=["x"],
    ),
]
SYNCED_EXPECTATIONS = [
    _expectation(
        "expect_column_values_to_match_regex",
        "citizen_id",
        severity="critical",
        success=True,
        regex=r"^\d{12}$",
    ),
]


def _write_warehouse(settings: Settings) -> None:
    now = dt.datetime(2023, 1, 31, 18, 2, 30)
    with connect(settings.warehouse_path) as connection:
        connection.execute(
            """
            insert into ingest_ledger by name
            select * from (values
                (?, ?, 'loaded', null, null, 6, 3, 1, 2, ?),
                (?, ?, 'quarantined', 'empty_file', 'the file is 0 bytes', 0, 0, 0, 0, null),
                (?, ?, 'quarantined', 'validation_failed', ?, 4, 0, 0, 0, null)
            ) as t(source_file, file_hash, status, quarantine_reason, quarantine_detail, rows_read,
                   rows_posted, rows_duplicate, rows_backlog, skipped_sheets)
            cross join (select ? as run_id, ?::timestamp as ingested_at)
            """,
            [
                FILE_LOADED, HASH_LOADED, SKIPPED_SHEETS, FILE_EMPTY, HASH_EMPTY, FILE_HELD, HASH_HELD,
                f"normalized_shots: expect_column_values_to_be_in_set; caller {PHONE} ID {CITIZEN_ID}",
                RUN_ID, now,
            ],
        )  # fmt: skip
        connection.execute(
            """
            insert into synced_shots by name
            select 'shot' || i as shot_id, ? as citizen_id, 'PFIZER' as vaccine_code, i::smallint as dose_number,
                   date '2022-01-01' + i::integer as vaccinated_on, 'id_exact' as match_method, 1.0 as match_score,
                   ?::timestamp as first_synced_at, ? as run_id
            from range(1, 4) as r(i)
            """,
            [CITIZEN_ID, now, RUN_ID],
        )
        connection.execute(
            """
            insert into shot_sources by name
            select * from (values ('shot1', 1, false), ('shot2', 2, false), ('shot3', 3, false), ('shot3', 4, true))
                as t(shot_id, source_row, is_duplicate)
            cross join (select ? as source_file, ? as file_hash, ? as run_id)
            """,
            [FILE_LOADED, HASH_LOADED, RUN_ID],
        )
        connection.execute(
            """
            insert into unposted_backlog by name
            select * from (values (5, 'vaccine_unknown'), (6, 'review_required')) as t(source_row, reason_code)
            cross join (select ? as source_file, ? as file_hash, ?::date as first_seen_on, ? as run_id)
            """,
            [FILE_LOADED, HASH_LOADED, AS_OF, RUN_ID],
        )
        for suite_name, expectations in (
            ("normalized_shots", NORMALIZED_EXPECTATIONS),
            ("synced_shots", SYNCED_EXPECTATIONS),
        ):
            failed = [item for item in expectations if not item["success"]]
            connection.execute(
                "insert into validation_results values (?, ?, ?, ?, ?, ?, ?)",
                [
                    RUN_ID,
                    suite_name,
                    not failed,
                    sum(item["severity"] == "critical" for item in failed),
                    sum(item["severity"] == "warning" for item in failed),
                    _results_json(suite_name, expectations),
                    now,
                ],
            )
        connection.execute(
            """
            insert into pipeline_runs by name
            select ? as run_id, ?::date as as_of, repeat('0', 64) as registry_hash,
                   repeat('1', 64) as landing_hash, 3 as files_new, 2 as files_quarantined, 10 as rows_in,
                   3 as rows_posted, 1 as rows_duplicate, 2 as rows_backlog, 'published' as outcome,
                   ?::timestamp as started_at, ?::timestamp as finished_at
            """,
            [RUN_ID, AS_OF, dt.datetime(2023, 1, 31, 18, 0, 0), now],
        )


def _write_work_folder(settings: Settings) -> None:
    work = RunWorkDir(settings)
    work.reset()
    write_json(
        work.run_file,
        {
            "run_id": RUN_ID,
            "as_of": AS_OF.isoformat(),
            "started_at": "2023-01-31T18:00:00",
            "registry_hash": "0" * 64,
            "landing_hash": "1" * 64,
            "stage_seconds": STAGE_SECONDS,
            "stage_counts": STAGE_COUNTS,
        },
    )
    for source_file, file_hash, seconds in (
        (FILE_LOADED, HASH_LOADED, 2.5),
        (FILE_EMPTY, HASH_EMPTY, 0.01),
        (FILE_HELD, HASH_HELD, 0.99),
    ):
        write_json(
            work.ledger_file(file_hash),
            {
                "source_file": source_file,
                "file_hash": file_hash,
                "status": "loaded",
                "ingest_seconds": seconds,
            },
        )


def write_night(settings: Settings) -> Night:
    """Write the warehouse rows and the work folder of the published night."""
    _write_warehouse(settings)
    _write_work_folder(settings)
    return Night(settings, RUN_ID)
