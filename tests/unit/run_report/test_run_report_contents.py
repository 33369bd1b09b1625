"""The run report: every stage's counts, the conservation check, the timings and the validation page,
with no ID, phone or name anywhere in it."""

from __future__ import annotations

import json
import re
import stat

import pytest
from run_report_night import (
    CITIZEN_ID,
    FILE_EMPTY,
    FILE_HELD,
    FILE_LOADED,
    HASH_HELD,
    HASH_LOADED,
    NAME,
    PHONE,
    STAGE_COUNTS,
    STAGE_SECONDS,
    Night,
)

from validation import mask_key_value
from vaxsync.core.masking import masked_digit_runs as mask_digit_runs
from vaxsync.core.workdir import RunWorkDir, write_json
from vaxsync.marts.warehouse import connect
from vaxsync.reports.run_report import (
    REPORT_HTML,
    REPORT_JSON,
    build_run_report,
    write_run_report,
)

TWELVE_DIGITS = re.compile(r"\d{12}")


@pytest.fixture
def written(night: Night) -> tuple[dict, str]:
    write_run_report(night.settings, night.run_id)
    report = json.loads((night.report_dir / REPORT_JSON).read_text(encoding="utf-8"))
    page = (night.report_dir / REPORT_HTML).read_text(encoding="utf-8")
    return report, page


def test_report_has_the_counts_of_every_stage(written):
    report, _ = written
    stages = report["stages"]

    assert stages["discover"] == STAGE_COUNTS["discover"]
    assert stages["ingest"] == {
        "files_read": 3,
        "files_loaded": 1,
        "files_quarantined": 2,
        "files_quarantined_by_reason": {"empty_file": 1, "validation_failed": 1},
        "rows_read": 10,
        "rows_staged": 10,
        "rows_held_back_by_validation": 4,
        "rows_in_quarantined_files": 4,  # the held-back file's rows; the empty file holds none
    }
    assert stages["normalize"] == STAGE_COUNTS["normalize"]
    assert stages["match"] == STAGE_COUNTS["match"]
    assert stages["publish"] == {
        "rows_posted": 3,
        "rows_duplicate_merged": 1,
        "rows_backlog": 2,
        "backlog_by_reason": {"vaccine_unknown": 1, "review_required": 1},
        "shots_new": 3,
        "backlog_rows_resolved": 0,
        "shots_citizen_not_in_snapshot": 0,
        "files_replacing_a_version": 0,
        "shots_retracted": 0,
        "shots_replaced": 0,
        "shots_added_by_new_versions": 0,
        "shots_restored": 0,
    }
    assert stages["backlog_open"]["rows"] == 2


def test_report_carries_the_conservation_check(written):
    report, page = written

    assert report["conservation"]["is_proven"] is True
    assert report["conservation"]["violations"] == 0
    assert report["conservation"]["tonight"] == {
        "rows_read_in_loaded_files": 6,
        "rows_posted_duplicate_or_backlog": 6,
        "adds_up": True,
    }
    assert "Proven." in page


def test_a_row_placed_twice_breaks_conservation_and_the_report_says_which_file(night: Night):
    with connect(night.settings.warehouse_path) as connection:
        connection.execute(
            """insert into unposted_backlog by name select ? as source_file, ? as file_hash, 4 as source_row,
               'no_confident_match' as reason_code, date '2023-01-31' as first_seen_on, 'r' as run_id""",
            [FILE_LOADED, HASH_LOADED],
        )

    report = build_run_report(night.settings, night.run_id)

    assert report["conservation"]["is_proven"] is False
    [problem] = report["conservation"]["problems"]
    assert problem["source_file"] == FILE_LOADED
    assert problem["file"] == mask_key_value(HASH_LOADED)
    assert problem["problem"] in {"rows placed differ from rows read", "a row placed twice"}


def test_timings_per_stage_and_slowest_files(written):
    report, page = written

    assert report["timings"]["stage_seconds"] == STAGE_SECONDS
    assert report["timings"]["duration_seconds"] == 150.0
    assert [item["source_file"] for item in report["timings"]["slowest_files"]] == [
        FILE_LOADED,
        FILE_HELD,
        FILE_EMPTY,
    ]
    assert "12.2" in page  # normalize, to one decimal


def test_workbook_sheets_skipped_as_holding_no_doses_are_listed(written):
    report, page = written

    assert report["skipped_sheets"] == [
        {"source_file": FILE_LOADED, "sheet": "Hướng dẫn", "rows": 3},
        {"source_file": FILE_LOADED, "sheet": "Gọi *******678", "rows": 1},
    ]
    assert "Workbook sheets not read (2)" in page
    assert "Hướng dẫn" in page


def test_quarantined_files_are_listed_with_reason_and_masked_detail(written):
    report, _ = written

    by_file = {item["source_file"]: item for item in report["quarantined_files"]}
    assert set(by_file) == {FILE_EMPTY, FILE_HELD}
    assert by_file[FILE_EMPTY]["reason"] == "empty_file"
    assert PHONE not in by_file[FILE_HELD]["detail"]
    assert by_file[FILE_HELD]["detail"].endswith("ID *********345")


def test_validation_page_lists_each_suite_and_its_failures_with_masked_keys(written):
    report, page = written

    assert [suite["suite_name"] for suite in report["validation"]] == ["normalized_shots", "synced_shots"]
    for suite_name in ("normalized_shots", "synced_shots"):
        assert f"Suite <code>{suite_name}</code>" in page
    normalized = report["validation"][0]
    assert normalized["critical_failures"] == 1 and normalized["warnings"] == 1
    failed_first = normalized["expectations"][0]
    assert (failed_first["expectation"], failed_first["column"], failed_first["success"]) == (
        "expect_column_values_to_be_in_set",
        "vaccine_code",
        False,
    )
    assert failed_first["unexpected_count"] == 2
    assert failed_first["rule"] == "one of: ASTRAZENECA, PFIZER"
    assert failed_first["examples"] == [
        f"file_hash={mask_key_value(HASH_HELD)} source_row=2 ({FILE_HELD})",
        f"file_hash={mask_key_value(HASH_HELD)} source_row=5 ({FILE_HELD})",
    ]
    assert HASH_HELD not in page
    assert "between 2021-03-08 and 2023-01-31" in page


def test_html_shows_no_id_phone_or_name(written):
    _, page = written

    assert TWELVE_DIGITS.search(page) is None
    for personal in (CITIZEN_ID, PHONE, NAME):
        assert personal not in page


def test_json_shows_no_id_phone_or_name_besides_the_input_hashes(written):
    """The JSON keeps the registry and landing SHA-256 hashes whole (to compare with pipeline_runs); a
    hex hash can hold 12 digits in a row by chance, so they are set aside before the digit check."""
    report, _ = written
    for input_hash in ("registry_hash", "landing_hash"):
        assert len(report["run"].pop(input_hash)) == 64
    text = json.dumps(report, ensure_ascii=False)

    assert TWELVE_DIGITS.search(text) is None
    for personal in (CITIZEN_ID, PHONE, NAME):
        assert personal not in text


def test_report_files_are_owner_only(night: Night, written):
    for name in (REPORT_HTML, REPORT_JSON):
        mode = stat.S_IMODE((night.report_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name}: {oct(mode)}"


def test_html_escapes_file_names(night: Night):
    with connect(night.settings.warehouse_path) as connection:
        connection.execute(
            "update ingest_ledger set source_file = '<script>x</script>.csv' where quarantine_reason = 'empty_file'"
        )

    write_run_report(night.settings, night.run_id)

    page = (night.report_dir / REPORT_HTML).read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;.csv" in page


def test_a_night_that_did_not_publish_reports_from_the_work_folder(night_settings):
    work = RunWorkDir(night_settings)
    work.reset()
    write_json(work.run_file, {"run_id": "n@1", "as_of": "2023-01-31", "stage_seconds": {"normalize": 2.0}})
    write_json(
        work.ledger_file(HASH_LOADED),
        {"source_file": FILE_LOADED, "file_hash": HASH_LOADED, "status": "loaded", "rows_read": 6},
    )
    results = {
        "suite_name": "synced_shots",
        "expectations": [
            {
                "expectation_type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "citizen_id", "regex": r"^\d{12}$"},
                "severity": "critical",
                "success": False,
                "result": {"element_count": 9, "unexpected_count": 1},
                "sample_keys": [{"shot_id": "3f1e9a0c2b7d4e58a6c1f0e2d3b4a596"}],
            }
        ],
    }
    write_json(
        work.validation_dir / "synced_shots.json",
        {
            "suite_name": "synced_shots",
            "success": False,
            "critical_failures": 1,
            "warnings": 0,
            "results_json": json.dumps(results),
        },
    )

    report = build_run_report(night_settings, "n@1")

    assert report["run"]["outcome"] == "not published"
    assert report["stages"]["ingest"]["rows_read"] == 6
    [suite] = report["validation"]
    assert suite["critical_failures"] == 1
    assert suite["expectations"][0]["examples"] == ["shot_id=3f1e9a…b4a596"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 0912345678 about 001175012345", "call *******678 about *********345"),
        ("line 12, 2023-01-31, CMND 123456", "line 12, 2023-01-31, CMND 123456"),
        (None, None),
    ],
)
def test_mask_digit_runs(text, expected):
    assert mask_digit_runs(text) == expected
