"""XLSX exports: first sheet, every cell as text that loses nothing, preamble rows, legacy fonts in cells."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from ingest_export_files import VN_HEADER, export_rows, to_tcvn3_surface

from transforms.ingest import stage_export, workbook
from vaxsync.core.contracts import raw_column

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
    assert staged.rows[raw_column(field)][0] == staged_text


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
    assert staged.rows["raw_full_name"].to_list() == [row[1] for row in ROWS]


def _write_month_sheets(path: Path, sheets: dict[str, list[list[Any]]]) -> None:
    book = xlsxwriter.Workbook(path)
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        sheet.write_string(0, 0, f"DANH SÁCH TIÊM {name.upper()}")  # each sheet has its own title
        for row_offset, row in enumerate(rows, start=2):
            for column, value in enumerate(row):
                if value:
                    sheet.write_string(row_offset, column, value)
    book.close()


def test_dose_rows_on_later_sheets_with_the_same_header_are_staged_after_the_first(tmp_path: Path) -> None:
    # A facility keeps a sheet per month. Found by h6 on an independent landing: only the first sheet
    # was read, and the later months' rows were in no table (the ledger counted the first sheet only).
    _write_month_sheets(
        tmp_path / "export.xlsx",
        {"Tháng 7": [VN_HEADER, *ROWS[:3]], "Tháng 8": [VN_HEADER, *ROWS[3:], ["Tổng cộng", "9"]]},
    )

    staged = stage_export(tmp_path, "export.xlsx")

    assert staged.rows is not None and staged.ledger["status"] == "loaded"
    assert staged.rows["source_row"].to_list() == list(range(1, len(ROWS) + 1))
    assert staged.rows["raw_full_name"].to_list() == [row[1] for row in ROWS]
    assert staged.ledger["rows_read"] == len(ROWS)


def test_dose_rows_behind_an_instructions_sheet_are_staged(tmp_path: Path) -> None:
    _write_month_sheets(
        tmp_path / "export.xlsx",
        {
            "Hướng dẫn": [["Điền mỗi mũi tiêm một dòng"], ["Họ và tên: chữ in hoa"]],
            "Tháng 7": [VN_HEADER, *ROWS],
        },
    )

    staged = stage_export(tmp_path, "export.xlsx")

    assert staged.rows is not None
    assert staged.rows["raw_full_name"].to_list() == [row[1] for row in ROWS]


def test_a_later_sheet_with_the_required_columns_in_another_layout_quarantines_the_file(
    tmp_path: Path,
) -> None:
    reordered = [VN_HEADER[:1] + VN_HEADER[2:] + VN_HEADER[1:2]] + [
        row[:1] + row[2:] + row[1:2] for row in ROWS[3:]
    ]
    _write_month_sheets(tmp_path / "export.xlsx", {"Tháng 7": [VN_HEADER, *ROWS[:3]], "Tháng 8": reordered})

    staged = stage_export(tmp_path, "export.xlsx")

    assert staged.rows is None
    assert staged.ledger["quarantine_reason"] == "sheets_differ"
    assert "sheet 2" in str(staged.ledger["quarantine_detail"])


def test_tcvn3_text_in_workbook_cells_is_converted(tmp_path: Path) -> None:
    legacy_rows = [[to_tcvn3_surface(cell) for cell in row] for row in [VN_HEADER, *ROWS]]
    _write_workbook(tmp_path / "vntime.xlsx", legacy_rows)

    staged = stage_export(tmp_path, "vntime.xlsx")

    assert staged.ledger["encoding_repair"] == "tcvn3"
    assert staged.rows is not None
    assert staged.rows["raw_full_name"][0] == "Nguyễn Thị Hồng"
    assert staged.rows["raw_id_number"].to_list() == [row[4] or None for row in ROWS]


# --- workbooks that would kill the process that parses them -----------------------------------------

WORKSHEET_HEAD = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def _write_raw_xlsx(path: Path, sheet_xml: str) -> None:
    """A minimal xlsx zip around one hand-written sheet (what a hostile or broken writer can make)."""
    package = "http://schemas.openxmlformats.org/package/2006"
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    main = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{package}/content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{main}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{main}.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}/relationships"><Relationship Id="rId1"'
            f' Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
            f' xmlns:r="{office}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{package}/relationships"><Relationship Id="rId1"'
            f' Type="{office}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)


def _two_far_cells(dimension: str) -> str:
    cells = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>y</t></is></c></row>'
    )
    return f"{WORKSHEET_HEAD}{dimension}<sheetData>{cells}</sheetData></worksheet>"


def _rows_of_ones(count: int, dimension: str = "") -> str:
    rows = "".join(f'<row r="{line}"><c r="A{line}"><v>1</v></c></row>' for line in range(1, count + 1))
    return f"{WORKSHEET_HEAD}{dimension}<sheetData>{rows}</sheetData></worksheet>"


def test_a_tiny_workbook_declaring_the_whole_sheet_is_refused_before_parsing(tmp_path: Path) -> None:
    _write_raw_xlsx(tmp_path / "huge.xlsx", _two_far_cells('<dimension ref="A1:XFD1048576"/>'))
    assert (tmp_path / "huge.xlsx").stat().st_size < 2048

    with pytest.raises(workbook.WorkbookTooLargeError, match="1048576 rows x 16384 columns"):
        workbook.check_workbook_bounds(tmp_path / "huge.xlsx")


def test_a_workbook_that_aborts_its_reader_is_quarantined_and_the_next_file_loads(tmp_path: Path) -> None:
    # No <dimension>: the bounds cannot see it, calamine sizes the grid from the far cell and aborts
    # (SIGABRT, which no except clause catches) - in the reader process, not in ours.
    _write_raw_xlsx(tmp_path / "far_cell.xlsx", _two_far_cells(""))
    _write_workbook(tmp_path / "good.xlsx", [VN_HEADER, *ROWS])

    refused = stage_export(tmp_path, "far_cell.xlsx")
    loaded = stage_export(tmp_path, "good.xlsx")

    assert (refused.ledger["status"], refused.ledger["quarantine_reason"]) == (
        "quarantined",
        "workbook_too_large",
    )
    assert "reader died" in str(refused.ledger["quarantine_detail"])
    assert loaded.ledger["status"] == "loaded"
    assert loaded.rows is not None
    assert loaded.rows["raw_full_name"].to_list() == [row[1] for row in ROWS]


def test_many_rows_are_refused_by_dimension_or_by_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workbook, "MAX_SHEET_ROWS", 1000)
    _write_raw_xlsx(tmp_path / "declared.xlsx", _rows_of_ones(1001, '<dimension ref="A1:A1001"/>'))
    _write_raw_xlsx(tmp_path / "undeclared.xlsx", _rows_of_ones(1001))
    _write_workbook(tmp_path / "good.xlsx", [VN_HEADER, *ROWS])

    declared = stage_export(tmp_path, "declared.xlsx").ledger
    undeclared = stage_export(tmp_path, "undeclared.xlsx").ledger

    assert (declared["quarantine_reason"], declared["quarantine_detail"]) == (
        "workbook_too_large",
        "the first sheet spans 1001 rows x 1 columns (limits 1000 rows, 20000000 cells)",
    )
    assert (undeclared["quarantine_reason"], undeclared["quarantine_detail"]) == (
        "workbook_too_large",
        "the first sheet has 1001 rows (limit 1000)",
    )
    assert stage_export(tmp_path, "good.xlsx").ledger["status"] == "loaded"


def test_a_file_over_the_size_or_unpacked_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_raw_xlsx(tmp_path / "big.xlsx", _rows_of_ones(200))
    monkeypatch.setattr(workbook, "MAX_UNPACKED_BYTES", 2000)
    with pytest.raises(workbook.WorkbookTooLargeError, match="unpacks to"):
        workbook.check_workbook_bounds(tmp_path / "big.xlsx")
    monkeypatch.setattr(workbook, "MAX_WORKBOOK_BYTES", 100)
    with pytest.raises(workbook.WorkbookTooLargeError, match="over the 0 MB limit"):
        workbook.check_workbook_bounds(tmp_path / "big.xlsx")


def test_a_reader_that_runs_out_of_time_is_stopped_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_workbook(tmp_path / "good.xlsx", [VN_HEADER, *ROWS])
    monkeypatch.setattr(workbook, "READER_SECONDS_PER_FILE", 0)

    timed_out = stage_export(tmp_path, "good.xlsx").ledger
    monkeypatch.setattr(workbook, "READER_SECONDS_PER_FILE", 60)
    loaded = stage_export(tmp_path, "good.xlsx").ledger

    assert timed_out["quarantine_reason"] == "workbook_too_large"
    assert "took over 0 s" in str(timed_out["quarantine_detail"])
    assert loaded["status"] == "loaded"


def test_all_sheets_are_read_safely_for_other_readers(tmp_path: Path) -> None:
    _write_workbook(tmp_path / "two_sheets.xlsx", [VN_HEADER, *ROWS])

    sheets = workbook.read_sheets_safely(tmp_path / "two_sheets.xlsx")

    assert list(sheets) == ["DS tiem", "Ghi chu"]
    assert sheets["DS tiem"].row(0)[1] == VN_HEADER[1]
    assert sheets["Ghi chu"].item(0, 0) == "Họ và tên"


# --- date cells and the order of their number formats -----------------------------------------------


@pytest.mark.parametrize(
    ("format_code", "order"),
    [
        ("mm/dd/yy", "month_first"),
        ("[$-409]m/d/yyyy", "month_first"),
        ("mm/dd/yy\\ hh:mm\\ AM/PM", "month_first"),  # LibreOffice en-US date-time
        ("dd/mm/yyyy", "day_first"),
        ("d/m/yy h:mm", "day_first"),
        ('dd"/"mm"/"yyyy', "day_first"),
        ("yyyy\\-mm\\-dd", "year_first"),
        ("mmm yyyy", "unknown"),
        ("hh:mm", "unknown"),
        ("General", None),
        ("0.00", None),
    ],
)
def test_the_order_of_a_date_number_format(format_code: str, order: str | None) -> None:
    assert workbook.date_format_order(format_code) == order


def test_each_date_cell_gets_the_order_of_its_own_format(tmp_path: Path) -> None:
    # Month-first cells (what en-US makes of d/m/y text) beside year-first ones (typed ISO).
    path = tmp_path / "formats.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    month_first = book.add_format({"num_format": "mm/dd/yy"})
    year_first = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_string(0, 0, "Ngày tiêm")
    sheet.write_datetime(1, 0, dt.datetime(2021, 5, 8), month_first)
    sheet.write_datetime(2, 0, dt.datetime(2021, 3, 4), year_first)
    sheet.write_string(3, 0, "25/08/2021")
    sheet.write_number(4, 0, 44263)
    sheet.write_datetime(5, 0, dt.datetime(2021, 6, 10), month_first)
    book.close()

    grid = workbook.read_first_sheet(path)

    assert grid["cells"].to_list() == [
        ["Ngày tiêm"],
        ["2021-05-08"],
        ["2021-03-04"],
        ["25/08/2021"],
        ["44263"],
        ["2021-06-10"],
    ]
    assert grid["cell_kinds"].to_list() == [
        [None],
        ["date_month_first"],
        ["date_year_first"],
        [None],
        [None],
        ["date_month_first"],
    ]


@pytest.mark.parametrize(
    ("orders", "combined"),
    [
        ({"month_first"}, "month_first"),
        ({"month_first", "year_first"}, "mixed"),
        ({"month_first", "unknown"}, "mixed"),
        ({"day_first", "year_first"}, "day_first"),
        ({"year_first"}, "year_first"),
        ({"unknown"}, "unknown"),
        (set(), None),
    ],
)
def test_one_order_for_a_workbook_whose_cells_cannot_be_told_apart(
    orders: set[str], combined: str | None
) -> None:
    assert workbook.combined_date_order(orders) == combined


OFFICE_DATES = Path(__file__).resolve().parents[2] / "fixtures" / "office_dates"


@pytest.mark.parametrize(
    ("file", "order"),
    [("with_iso_en-US.xls", "mixed"), ("mixed_en-US.xls", "month_first"), ("mixed_vi-VN.xls", "day_first")],
)
def test_an_xls_workbook_order_from_its_format_records(file: str, order: str) -> None:
    # LibreOffice en-US writes mm/dd/yy for the cells it swapped and yyyy-mm-dd for ISO text.
    assert workbook.xls_date_order(OFFICE_DATES / file) == order


def test_with_xlrd_each_xls_date_cell_gets_its_own_order() -> None:
    pytest.importorskip("xlrd")  # optional: without it an .xls has one order for the whole workbook
    order, per_cell = workbook.xls_date_orders(OFFICE_DATES / "with_iso_en-US.xls")
    assert order == "mixed"
    assert per_cell is not None
    assert set(per_cell) == {"month_first", "year_first"}
    assert per_cell.count("year_first") == 10  # every third of the 30 vaccination dates was typed ISO
