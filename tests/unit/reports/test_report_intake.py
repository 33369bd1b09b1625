"""The decision intake reads the reports as staff send them back: headers are the Vietnamese label above
the column's code, filled in a spreadsheet (openpyxl) or saved again by LibreOffice Calc (fixture made by
fixtures/make_office_fixtures.py)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pytest
from report_builders import AS_OF, HANOI_FILE_HASH, RUN_ID, build_warehouse

from vaxsync.core.decision_sheet import DECISION_COLUMN, INSTRUCTIONS_SHEET, header_code
from vaxsync.core.settings import Settings
from vaxsync.marts.decision_files import list_decision_files
from vaxsync.marts.decisions import read_decision_file
from vaxsync.reports.province_report_files import write_province_reports

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = build_warehouse(tmp_path_factory.mktemp("report_intake"))
    write_province_reports(settings, run_id=RUN_ID)
    return settings


def report_path(settings: Settings) -> Path:
    return settings.reports_dir / AS_OF.isoformat() / "provinces" / "01" / f"mismatch_01_{AS_OF}.xlsx"


def column_of(sheet: openpyxl.worksheet.worksheet.Worksheet, code: str) -> int:
    return [header_code(str(cell.value)) for cell in sheet[1]].index(code) + 1


def test_the_decision_intake_reads_a_report_filled_in_a_spreadsheet(
    settings: Settings, tmp_path: Path
) -> None:
    """The intake finds the columns by the codes beneath the Vietnamese labels."""
    workbook = openpyxl.load_workbook(report_path(settings))
    sheet = workbook["review_required"]
    sheet.cell(2, column_of(sheet, DECISION_COLUMN)).value = "accept 1"
    workbook[INSTRUCTIONS_SHEET]["B2"] = "Trần Thị B"
    folder = tmp_path / "decisions" / "01"
    folder.mkdir(parents=True)
    workbook.save(folder / "mismatch_01_reviewed.xlsx")
    [decision_file] = list_decision_files(tmp_path / "decisions")
    lines = read_decision_file(decision_file, settings, dt.datetime(2023, 2, 1, 8))
    assert lines.select("sheet_name", "sheet_row", "row_key", "decision", "reviewer").rows() == [
        ("review_required", 2, f"{HANOI_FILE_HASH}:1", "accept 1", "Trần Thị B")
    ]


def test_the_decision_intake_reads_a_report_saved_by_libreoffice(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "decisions" / "01"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "mismatch_01_libreoffice.xlsx", folder)
    [decision_file] = list_decision_files(tmp_path / "decisions")
    lines = read_decision_file(decision_file, settings, dt.datetime(2023, 2, 1, 8))
    assert lines.select("sheet_name", "sheet_row", "row_key", "decision", "reviewer").rows() == [
        ("review_required", 2, f"{HANOI_FILE_HASH}:1", "accept 1", "Trần Thị B")
    ]
