"""The reports' fast worksheet writes the bytes xlsxwriter's own worksheet writes, cell for cell."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
import xlsxwriter
from xlsxwriter.sharedstrings import SharedStrings
from xlsxwriter.workbook import Workbook

from vaxsync.reports import xlsx_columns
from vaxsync.reports.xlsx_columns import ColumnWorkbook, ColumnWorksheet

OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
CREATED = dt.datetime(2023, 1, 31)

# Every kind of token a report column holds, and the ones it may one day hold.
MIXED_COLUMN = [
    "Nguyễn Văn An", "", None, 12, 3.25, float("nan"), "=SUM(A1)", "a & <b> \"c\"", "x" * 20_000,
    "trailing ", "line\nbreak", dt.date(2023, 1, 2), True, "Nguyễn Văn An", 0, -1.5e300, "\x07bell",
]  # fmt: skip


def _workbook_bytes(workbook_class: type[Workbook], fill: Callable[[Workbook], None]) -> bytes:
    buffer = io.BytesIO()
    workbook = workbook_class(buffer, {**OPTIONS, "nan_inf_to_errors": True})
    workbook.set_properties({"created": CREATED})
    fill(workbook)
    workbook.close()
    return buffer.getvalue()


def _columns_sheet(workbook: Workbook) -> None:
    """Columns with and without a format, stacked tables, row heights, comments and a blank row between."""
    text = workbook.add_format({"text_wrap": True, "valign": "top"})
    unlocked = workbook.add_format({"num_format": "@", "locked": False})
    sheet = workbook.add_worksheet("rows")
    sheet.write_string(0, 0, "header", text)
    sheet.write_comment(0, 3, "a comment on a header")
    sheet.write_column(1, 0, MIXED_COLUMN, text)
    sheet.write_column(1, 1, [None, "", None], unlocked)
    sheet.write_column(1, 2, MIXED_COLUMN)  # no format: blanks are not written
    sheet.write_column(40, 5, list(reversed(MIXED_COLUMN)), unlocked)
    sheet.write_column(70, 2, [], text)
    sheet.set_row(3, 45)
    sheet.set_row(25, 30)  # a row with a height and no cell
    sheet.write_comment(30, 7, "a comment alone in its row")
    sheet.set_column(1, 1, 14, unlocked)
    sheet.write_number(100, 0, 7)  # a number without a format beside the formatted ones
    sheet.write_column("J2", ["in A1 notation", None], text)
    sheet.write_column(2, 10, ["by keyword", ""], cell_format=text)


def _cut_string_sheet(workbook: Workbook) -> None:
    """A string beyond xlsxwriter's limit is cut, and the column stops there, its earlier cells kept."""
    sheet = workbook.add_worksheet("cut")
    sheet.write_column(0, 0, ["before", "z" * 40_000, "after"], workbook.add_format({"locked": False}))


def _summary_sheet(workbook: Workbook) -> None:
    """The summary's shape: a table with a header row, then free lines."""
    sheet = workbook.add_worksheet("summary")
    sheet.write_string(0, 0, "title")
    sheet.add_table(2, 0, 4, 1, {"data": [["a", 1], ["b", 2]], "columns": [{"header": "x"}, {"header": "n"}]})


# Shared strings each of xlsxwriter's escapes changes: control characters, an escape's look-alike, XML's
# characters, edge whitespace (before and after the escapes), Unicode non-characters and spaces.
ESCAPED_STRINGS = [
    "\x00nul", "tab\tin", "\x0bvertical", "_x0041_ literal", "_x00zz_ not hex", "a & b < c > d", "\"quoted\"",
    " leading", "trailing\n", "\x1fend", "&", "\u00a0no-break", "\u2003em space\u2003", "\ufffe\uffff", "r>",
    "not rich</r>", "Nguyễn Thị Ánh", "line\r\nbreak", "\u3000",
]  # fmt: skip


def _escaped_strings_sheet(workbook: Workbook) -> None:
    workbook.add_worksheet("escapes").write_column(0, 0, ESCAPED_STRINGS, workbook.add_format())


def _rich_string_sheet(workbook: Workbook) -> None:
    """A rich string (never escaped) beside plain ones: xlsxwriter's own shared strings."""
    sheet = workbook.add_worksheet("rich")
    sheet.write_column(0, 0, [*ESCAPED_STRINGS, "<r>not rich"], workbook.add_format())
    sheet.write_rich_string(30, 0, "plain ", workbook.add_format({"bold": True}), "bold & <b>")


def _separator_sheet(workbook: Workbook) -> None:
    """A string holding the separator the shared strings are joined with: xlsxwriter's own shared strings."""
    workbook.add_worksheet("separator").write_column(0, 0, ["a\ue000b", "c & d"], workbook.add_format())


def _comments_and_formats_sheets(workbook: Workbook) -> None:
    """Header comments and formula conditional formats repeated on several sheets (their XML is reused
    by comment and by formula), comments differing in author, visibility, size and position, and a
    formula with a future function."""
    differs = workbook.add_format({"bg_color": "#FFEB9C"})
    for name in ("first", "second", "third"):
        sheet = workbook.add_worksheet(name)
        for column in range(4):
            sheet.write_string(0, column, f"h{column}")
            sheet.write_comment(0, column, f"label {column} / nhãn & <{column}>", {"author": "vaxsync"})
        sheet.write_comment(5, 1, "another author", {"author": "staff", "visible": True, "x_scale": 2})
        sheet.write_comment(6, 2, "no author", {"font_size": 10, "width": 300})
        sheet.write_column(1, 0, ["a", "b, c", None], workbook.add_format())
        for column in range(1, 3):
            sheet.conditional_format(
                1, column, 3, column,
                {"type": "formula", "criteria": '=ISNUMBER(SEARCH(", x,", ", "&$A2&","))', "format": differs},
            )  # fmt: skip
        sheet.conditional_format(1, 3, 3, 3, {"type": "formula", "criteria": "=XLOOKUP(1,A:A,B:B)=1"})


def _button_sheet(workbook: Workbook) -> None:
    """A button beside a comment: xlsxwriter's own VML drawing."""
    sheet = workbook.add_worksheet("button")
    sheet.write_comment(0, 0, "a comment")
    sheet.insert_button(2, 2, {"caption": "press"})


@pytest.mark.parametrize(
    "fill",
    [
        _comments_and_formats_sheets,
        _button_sheet,
        _columns_sheet,
        _cut_string_sheet,
        _summary_sheet,
        _escaped_strings_sheet,
        _rich_string_sheet,
        _separator_sheet,
    ],
)
def test_the_fast_worksheet_writes_the_bytes_of_xlsxwriters_own(fill: Callable[[Workbook], None]) -> None:
    assert _workbook_bytes(ColumnWorkbook, fill) == _workbook_bytes(xlsxwriter.Workbook, fill)


def test_a_workbook_written_again_reuses_the_comments_and_formulas_xml_and_keeps_the_bytes() -> None:
    expected = _workbook_bytes(xlsxwriter.Workbook, _comments_and_formats_sheets)
    first = _workbook_bytes(ColumnWorkbook, _comments_and_formats_sheets)
    assert xlsx_columns._COMMENT_SHAPES and xlsx_columns._COMMENTS and xlsx_columns._PREPARED_FORMULAS
    assert first == expected
    assert _workbook_bytes(ColumnWorkbook, _comments_and_formats_sheets) == expected


def test_the_shared_strings_are_escaped_joined_not_by_xlsxwriters_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = _workbook_bytes(xlsxwriter.Workbook, _escaped_strings_sheet)
    monkeypatch.setattr(SharedStrings, "_write_si", _refused)
    assert _workbook_bytes(ColumnWorkbook, _escaped_strings_sheet) == expected


def _refused(*args: object) -> None:
    raise AssertionError("xlsxwriter's own path was taken")


def test_the_fast_workbook_makes_fast_worksheets() -> None:
    workbook = ColumnWorkbook(io.BytesIO(), OPTIONS)
    assert isinstance(workbook.add_worksheet("rows"), ColumnWorksheet)
    workbook.close()


def test_a_column_written_beyond_the_last_row_is_refused_as_xlsxwriter_refuses_it() -> None:
    for workbook_class in (ColumnWorkbook, xlsxwriter.Workbook):
        workbook = workbook_class(io.BytesIO(), OPTIONS)
        sheet = workbook.add_worksheet("rows")
        assert sheet.write_column(1_048_575, 0, ["last", "beyond"], workbook.add_format()) == -1
        workbook.close()
