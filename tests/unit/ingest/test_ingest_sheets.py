"""Workbooks with several sheets: every sheet's rows are staged, skipped on the ledger, or quarantine the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xlsxwriter
from ingest_export_files import VN_HEADER, export_rows

from transforms.ingest import StagedExport, stage_export
from transforms.ingest.sheets import stack_data_sheets
from transforms.ingest.structure import find_header_row
from transforms.ingest.workbook import read_sheet_grids

ROWS = export_rows(20)
NAMES = [row[1] for row in ROWS]
NOTES = [["Hướng dẫn nhập liệu"], ["Mỗi mũi tiêm một dòng"], ["Ngày tiêm ghi dd/mm/yyyy, ví dụ 05/08/2021"]]
SUMMARY = [["Ngày", "Số mũi"], ["05/08/2021", "12"], ["06/08/2021", "8"], ["Tổng", "20"]]


def _write_sheets(path: Path, sheets: dict[str, list[list[str]]]) -> None:
    book = xlsxwriter.Workbook(path)
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for row_number, row in enumerate(rows):
            for column, value in enumerate(row):
                if value:
                    sheet.write_string(row_number, column, value)
    book.close()


def _stage(tmp_path: Path, sheets: dict[str, list[list[str]]]) -> StagedExport:
    _write_sheets(tmp_path / "export.xlsx", sheets)
    return stage_export(tmp_path, "export.xlsx")


def _loaded_names(staged: StagedExport) -> list[str]:
    assert staged.ledger["status"] == "loaded", staged.ledger["quarantine_detail"]
    assert staged.rows is not None
    assert staged.rows["source_row"].to_list() == list(range(1, staged.rows.height + 1))
    assert staged.ledger["rows_read"] == staged.rows.height
    return staged.rows["raw_full_name"].to_list()


def test_a_continuation_sheet_without_a_header_is_staged_with_the_first_sheet_s_header(
    tmp_path: Path,
) -> None:
    # Found by the last session: such a sheet was taken for instructions, its doses read nowhere.
    staged = _stage(tmp_path, {"DS tiêm": [VN_HEADER, *ROWS[:12]], "Trang 2": ROWS[12:]})

    assert _loaded_names(staged) == NAMES
    assert staged.ledger["skipped_sheets"] is None


def test_a_continuation_sheet_whose_header_is_spelt_otherwise_is_staged(tmp_path: Path) -> None:
    spelt_otherwise = ["TT", "Ho va ten", "NGAY_SINH", "Gioi tinh", "CCCD", "SĐT", "Địa chỉ thường trú",
                       "Vắc xin", "Số lô vắc xin", "Mũi", "Ngày tiêm chủng", "Điểm tiêm"]  # fmt: skip
    staged = _stage(tmp_path, {"Tháng 7": [VN_HEADER, *ROWS[:12]], "Tháng 8": [spelt_otherwise, *ROWS[12:]]})

    assert _loaded_names(staged) == NAMES


def test_a_continuation_sheet_under_a_partly_recognised_header_is_staged(tmp_path: Path) -> None:
    partial = ["STT", "Họ và tên", "Ngày sinh", "GT", "Số thẻ", "ĐT", "Đ/c", "VX", "Lô", "M", "Ngày", "Nơi"]
    staged = _stage(tmp_path, {"Tháng 7": [VN_HEADER, *ROWS[:12]], "Tháng 8": [partial, *ROWS[12:]]})

    assert _loaded_names(staged) == NAMES


def test_sheets_without_dose_rows_are_skipped_and_listed_on_the_ledger(tmp_path: Path) -> None:
    staged = _stage(
        tmp_path, {"Hướng dẫn": NOTES, "DS tiêm": [VN_HEADER, *ROWS], "Tổng hợp": SUMMARY, "Trống": []}
    )

    assert _loaded_names(staged) == NAMES
    assert json.loads(str(staged.ledger["skipped_sheets"])) == [
        {"sheet": "Hướng dẫn", "rows": 3},
        {"sheet": "Tổng hợp", "rows": 4},
    ]


@pytest.mark.parametrize(
    "other_layout",
    [
        [[row[0], row[2], row[1], *row[3:]] for row in ROWS[12:]],  # no header, name and birth date exchanged
        [[row[10], *row[:10], *row[11:]] for row in ROWS[12:]],  # no header, the vaccination date first
    ],
)
def test_doses_in_another_layout_on_a_later_sheet_quarantine_the_file(
    tmp_path: Path, other_layout: list[list[str]]
) -> None:
    staged = _stage(tmp_path, {"Tháng 7": [VN_HEADER, *ROWS[:12]], "Tháng 8": other_layout})

    assert staged.rows is None
    assert staged.ledger["quarantine_reason"] == "sheets_differ"
    assert staged.ledger["quarantine_detail"] == (
        "sheet 2 holds rows that look like doses in another layout than sheet 1"
    )
    assert staged.ledger["rows_estimated"] == len(ROWS)  # both sheets' rows, counted as in quarantine


@pytest.mark.parametrize(
    ("sheets", "header_known"),
    [
        ({"DS tiêm": [["Danh sách tiêm chủng"], VN_HEADER, *ROWS]}, True),  # one sheet: its header
        ({"Hướng dẫn": NOTES, "DS tiêm": [VN_HEADER, *ROWS]}, True),  # the lead alone is stacked
        ({"DS tiêm": [VN_HEADER, *ROWS[:12]], "Trang 2": ROWS[12:]}, False),  # two sheets stacked
    ],
)
def test_the_stacked_grid_carries_its_header_only_when_it_is_the_lead_sheet_alone(
    tmp_path: Path, sheets: dict[str, list[list[str]]], header_known: bool
) -> None:
    """staging reuses StackedSheets.header instead of finding the header again: it must be the same."""
    _write_sheets(tmp_path / "export.xlsx", sheets)

    stacked = stack_data_sheets(read_sheet_grids(tmp_path / "export.xlsx"))

    assert (stacked.header is not None) == header_known
    if stacked.header is not None:
        assert stacked.header == find_header_row(stacked.grid)
        assert stacked.header.cells[: len(VN_HEADER)] == VN_HEADER
