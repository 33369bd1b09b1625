"""The run report masks free text by the core rule (vaxsync.core.masking), not by a copy of its own."""

from __future__ import annotations

import json

from run_report_night import FILE_HELD, Night

from vaxsync.core.masking import masked_digit_runs
from vaxsync.marts.warehouse import connect
from vaxsync.reports.run_report import REPORT_JSON, write_run_report


def test_quarantine_details_are_masked_by_the_core_rule(night: Night) -> None:
    with connect(night.settings.warehouse_path) as connection:
        stored = dict(connection.sql("select source_file, quarantine_detail from ingest_ledger").fetchall())
    write_run_report(night.settings, night.run_id)
    report = json.loads((night.report_dir / REPORT_JSON).read_text(encoding="utf-8"))
    shown = {item["source_file"]: item["detail"] for item in report["quarantined_files"]}

    assert shown[FILE_HELD] == masked_digit_runs(stored[FILE_HELD])
    assert shown[FILE_HELD] != stored[FILE_HELD]  # the stored detail holds an ID and a phone
