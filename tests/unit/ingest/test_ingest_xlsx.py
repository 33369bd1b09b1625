"""XLSX exports: first sheet, every cell as text that loses nothing, preamble rows, legacy fonts in cells."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from ingest_export_files import VN_HEADER, export_rows, to_tcvn3_surface

from transforms.ingest import stage_export

ROWS = export_rows()


def _write_workbook(
    path: Path, rows: list[list[Any]], *, start_row: int = 0, title: str | None = None
) -> None:
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet("DS tiem")
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    datetime_format = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    if title:
        sheet.write_string(0, 0, title)
    for row_offset, row in enumerate(rows):
        for column, value in enumerate(row):
            if isinstance(value, dt.datetime):
                cell_format = date_format if value.time() == dt.time() else datetime_format
                sheet.write_datetime(start_row + row_offset, column, value, cell_format)
            elif isinstance(value, int | float):
                sheet.write_number(start_row + row_offset, column, value)
            elif value:
                sheet.write_string(start_row + row_offset, column, value)
    workbook.add_worksheet("Ghi chu").write_string(0, 0, "Họ và tên")  # a second sheet, never read
    workbook.close()


EXCEL_CELLS = [
    # id, cell written in the "Số CCCD/CMND" / "Ngày sinh" / "Ngày tiêm" columns, what is staged
    ("id_number_lost_leading_zero", "id_number", 1185012345, "1185012345"),
    ("id_number_12_digits_as_number", "id_number", 79078123456, "79078123456"),
    ("id_number_scientific_text", "id_number", "1.09901E+11", "1.09901E+11"),
    ("id_number_as_text", "id_number", "001185012345", "001185012345"),
    ("birth_date_cell", "date_of_birth", dt.datetime(1985, 3, 12), "1985-03-12"),
    ("birth_date_serial_number", "date_of_birth", 31118, "31118"),
    ("birth_year_number", "date_of_birth", 1962, "1962"),
    ("birth_date_text", "date_of_birth", "12/03/1985", "12/03/1985"),
    ("vaccination_datetime_cell", "vaccinated_on", dt.datetime(2021, 8, 18, 7, 5, 15), "2021-08-18 07:05:15"),
    ("vaccination_date_cell", "vaccinated_on", dt.datetime(2021, 8, 18), "2021-08-18"),
    ("vaccination_serial_number", "vaccinated_on", 44263, "44263"),
]
COLUMN_OF = {"id_number": 4, "date_of_birth": 2, "vaccinated_on": 10}


@pytest.mark.parametrize(
    ("field", "cell", "staged_text"), [pytest.param(*case[1:], id=case[0]) for case in EXCEL_CELLS]
)
def test_excel_cells_become_text_without_losing_information(
    tmp_path: Path, field: str, cell: object, staged_text: str
) -> None:
    row: list[Any] = list(ROWS[0])
    row[COLUMN_OF[field]] = cell
    _write_workbook(tmp_path / "export.xlsx", [VN_HEADER, row, *ROWS[1:]])

    staged = stage_export(tmp_path, "export.xlsx")

    assert staged.rows is not None
    assert staged.rows[field][0] == staged_text


def test_title_rows_above_the_header_and_the_first_sheet_only(tmp_path: Path) -> None:
    title = "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG"
    _write_workbook(tmp_path / "Danh sách tiêm đợt 1.xlsx", [VN_HEADER, *ROWS], start_row=3, title=title)

    staged = stage_export(tmp_path, "Danh sách tiêm đợt 1.xlsx")

    assert staged.rows is not None
    ledger = staged.ledger
    assert (ledger["status"], ledger["file_format"], ledger["encoding"], ledger["delimiter"]) == (
        "loaded",
        "xlsx",
        None,
        None,
    )
    assert ledger["header_line"] == 4
    assert staged.rows["source_row"].to_list() == list(range(1, len(ROWS) + 1))
    assert staged.rows["full_name"].to_list() == [row[1] for row in ROWS]


def test_tcvn3_text_in_workbook_cells_is_converted(tmp_path: Path) -> None:
    legacy_rows = [[to_tcvn3_surface(cell) for cell in row] for row in [VN_HEADER, *ROWS]]
    _write_workbook(tmp_path / "vntime.xlsx", legacy_rows)

    staged = stage_export(tmp_path, "vntime.xlsx")

    assert staged.ledger["encoding_repair"] == "tcvn3"
    assert staged.rows is not None
    assert staged.rows["full_name"][0] == "Nguyễn Thị Hồng"
    assert staged.rows["id_number"].to_list() == [row[4] or None for row in ROWS]
