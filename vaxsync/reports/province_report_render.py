"""Render a ProvinceReport as an XLSX workbook (xlsxwriter) and a self-contained HTML page (Jinja2).

Both show the same content: the frames arrive masked and formula-neutralised. xlsxwriter is told never
to turn a string into a formula, URL or number, so the neutralising quote is a second line of defence.

Vietnamese comes first, English second: each XLSX header is the Vietnamese label with the column's code
beneath ("Quyết định\n(decision)", the code is what the decision intake reads), and each sheet is set up
for print (A4 landscape, one page wide, header rows repeated, title and page numbers). The key columns
come first and every sheet is protected except the cells staff fill.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from vaxsync.core.decision_sheet import (
    AS_OF_KEY,
    CANDIDATES_SHOWN,
    CORRECTED_DECISION,
    CORRECTED_ID_COLUMN,
    DECISION_CHOICES,
    DECISION_COLUMN,
    DECISION_COLUMNS,
    INSTRUCTION_KEY_COLUMN,
    INSTRUCTION_VALUE_COLUMN,
    INSTRUCTIONS_SHEET,
    PROVINCE_KEY,
    REJECT_DECISION,
    REJECTED_DECISIONS_SHEET,
    RESOLVED_SHEET,
    REVIEWER_KEY,
    ROW_KEY_COLUMN,
    RUN_ID_KEY,
    SUMMARY_SHEET,
)
from vaxsync.core.masking import neutralised_text
from vaxsync.core.reasons import BACKLOG_REASON_LABELS, BACKLOG_REASONS
from vaxsync.core.workdir import write_private
from vaxsync.reports.html_tables import candidate_cards, frame_rows, reason_table_rows
from vaxsync.reports.province_codes import PRE_2025_SYSTEM, province_label
from vaxsync.reports.province_report_model import (
    CANDIDATE_FIELDS,
    COLUMN_LABELS,
    KEY_COLUMNS,
    PRIVATE_FOLDER_MODE,
    RESENT_CHANGE_TEXTS,
    RESENT_SHOTS_SHEET,
    WHY_COLUMNS,
    ProvinceReport,
    candidate_column,
    header_text,
    sheet_name,
)
from vaxsync.reports.templating import report_environment
from vaxsync.reports.xlsx_columns import ColumnWorkbook

log = logging.getLogger(__name__)
MIN_COLUMN_WIDTH = 6
MAX_COLUMN_WIDTH = 48
DECISION_COLUMN_WIDTH = 14
ROW_KEY_WIDTH = 12  # the key is for the decision intake, not to be read; it stays whole in the cell
WRAPPED_COLUMN_WIDTH = 40  # long texts (the reason detail) wrap within this width
KEY_COLUMN_WIDTH = 24  # facility and name wrap within this width
CENTRED_COLUMNS = frozenset({"nights_waited", "source_row"})
PRINTED_UP_TO = WHY_COLUMNS[-1]  # a reason sheet prints its columns up to this one
CANDIDATES_PRINT_NOTE = " (ứng viên: in từ báo cáo HTML / candidates: print the HTML report)"
HEADER_WRAP_WIDTH = 16  # a header wraps to lines of about this width, so it does not widen its column
HEADER_HEIGHT = 45  # points: the instructions' two-line header
LINE_HEIGHT = 15  # points per line of wrapped text (the default font)
# Print setup: A4 landscape, one page wide, as many pages tall as needed.
PAPER_A4 = 9
PRINT_MARGINS = {"left": 0.4, "right": 0.4, "top": 0.7, "bottom": 0.6}  # inches
# Sheets are protected against edits (no password: it only guards against slips); staff may still filter,
# sort and resize. The cells they fill are unlocked.
SHEET_PROTECTION = {
    "autofilter": True,
    "sort": True,
    "format_columns": True,
    "format_rows": True,
    "select_locked_cells": True,
    "select_unlocked_cells": True,
}
WRAPPED_COLUMNS = frozenset({"reason", "reason_detail", "reason_vi", "reason_en", "previous_reason_vi",
                             "previous_reason_en", "resolution_vi", "resolution_en",
                             "rejection_vi", "rejection_en", "rejection_detail"})  # fmt: skip
HEADER_COMMENT = {"author": "vaxsync", "x_scale": 1.6}
CCCD_LENGTH = 12
DIFFERS_FILL = "#FFEB9C"  # Excel's "neutral" yellow; the HTML uses the same
HTML_COLUMN_CLASSES = {  # CSS class of a reason table's cells; the rest are "text"
    "source_file": "path",
    "source_row": "number",
    "nights_waited": "number",
    "first_seen_on": "date",
    "row_key": "key path",
}
TITLE_VI = "Báo cáo dòng tiêm chưa ghép được với CSDL dân cư"
TITLE_EN = "Vaccination rows not matched to the population registry"
PROVINCE_CODE_SYSTEM = (
    "Mã tỉnh theo danh mục trước 2025 (63 tỉnh, thành phố); mã của 34 tỉnh từ 2025 trùng số nhưng khác nghĩa. / "
    "Province code in the pre-2025 units (63 provinces); the 2025 codes (34 provinces) reuse numbers."
)

INSTRUCTIONS: tuple[tuple[str, str], ...] = (
    (
        "how_to_vi",
        "Trên mỗi trang lý do, điền cột 'decision' cho dòng đã kiểm tra: 'accept 1', 'accept 2' hoặc "
        "'accept 3' để chọn ứng viên tương ứng; 'reject' nếu không ứng viên nào đúng; 'corrected' và ghi số "
        "CCCD 12 chữ số đúng vào cột 'corrected_id'. Ghi chú (nếu có) vào cột 'note'. Không sửa cột "
        "'row_key', không đổi tên trang hay cột. Ghi họ tên người xem xét vào ô 'reviewer' ở trên, lưu tệp "
        "(giữ định dạng .xlsx) và đặt vào thư mục quyết định; lần chạy đêm sau sẽ kiểm tra và áp dụng.",
    ),
    (
        "how_to_en",
        "On each reason sheet, fill the 'decision' column of the rows you checked: 'accept 1', 'accept 2' "
        "or 'accept 3' to choose that candidate; 'reject' when no candidate is the person; 'corrected' with "
        "the right 12-digit CCCD in 'corrected_id'. Notes go in 'note'. Do not edit 'row_key' and do not "
        "rename sheets or columns. Write the reviewer's name in the 'reviewer' row above, save the file "
        "(keep .xlsx) and drop it in the decisions folder; the next nightly run checks and applies it.",
    ),
    (
        "data_errors",
        "Dòng có lỗi dữ liệu (ngày sai, vắc xin không rõ, thiếu thông tin) không sửa được bằng quyết định: "
        "đề nghị cơ sở tiêm gửi lại. / Rows with data errors (bad dates, unknown vaccine, missing values) "
        "cannot be fixed by a decision: ask the facility to send them again.",
    ),
    (
        "differs",
        "Ô tô vàng: thông tin ứng viên khác với dòng đã gửi. / Yellow cells: the candidate's value differs "
        "from the row as sent.",
    ),
    (
        "privacy",
        "Tệp chứa dữ liệu cá nhân (số định danh và điện thoại đã che bớt): không chuyển tiếp. / The file "
        "holds personal data (IDs and phones masked): do not forward it.",
    ),
)


# --- XLSX -------------------------------------------------------------------------------------------------


def render_xlsx(report: ProvinceReport) -> bytes:
    """The workbook: summary, instructions, one sheet per reason, then the rows resolved tonight."""
    buffer = io.BytesIO()
    workbook = ColumnWorkbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    # A fixed creation time keeps a re-run's file byte-identical.
    workbook.set_properties(
        {
            "title": f"{TITLE_VI} — {province_title(report)}",
            "created": dt.datetime.combine(report.as_of, dt.time()),
        }
    )
    formats = _Formats(workbook)
    if report.rejected_decisions is not None and not report.rejected_decisions.is_empty():
        # First: the decisions the night refused and why, so staff decide those rows again (vaxsync.marts.decisions).
        refused = workbook.add_worksheet(REJECTED_DECISIONS_SHEET)
        _write_table(refused, report.rejected_decisions, formats)
        refused.freeze_panes(1, 0)
        refused.protect("", SHEET_PROTECTION)
        _set_up_print(refused, report, "Quyết định không áp dụng / Decisions not applied", header_row=0)
    summary = workbook.add_worksheet(SUMMARY_SHEET)
    _write_summary_sheet(summary, report, formats)
    _set_up_print(summary, report, "Tóm tắt / Summary", header_row=None)
    instructions = workbook.add_worksheet(INSTRUCTIONS_SHEET)
    _write_instructions_sheet(instructions, report, formats)
    _set_up_print(instructions, report, "Hướng dẫn / Instructions", header_row=0)
    for reason_code in report.reason_codes():
        rows = report.reason_rows(reason_code)
        worksheet = workbook.add_worksheet(sheet_name(reason_code))
        _write_reason_sheet(worksheet, rows, formats)
        has_candidates = candidate_column(1, "id") in rows.columns
        title = reason_title(reason_code) + (CANDIDATES_PRINT_NOTE if has_candidates else "")
        _set_up_print(worksheet, report, title, header_row=0)
    if not report.resolved.is_empty():
        worksheet = workbook.add_worksheet(RESOLVED_SHEET)
        _write_table(worksheet, report.resolved, formats)
        worksheet.freeze_panes(1, 1)
        worksheet.autofilter(0, 0, report.resolved.height, report.resolved.width - 1)
        worksheet.protect("", SHEET_PROTECTION)
        _set_up_print(worksheet, report, "Đã xử lý / Resolved", header_row=0)
    if report.resent_shots is not None and not report.resent_shots.is_empty():
        _write_resent_sheet(workbook.add_worksheet(RESENT_SHOTS_SHEET), report, formats)
    workbook.close()
    return buffer.getvalue()


def _write_resent_sheet(worksheet: Worksheet, report: ProvinceReport, formats: _Formats) -> None:
    """What the province's re-sent files changed tonight, shot by shot (read-only, like `resolved`)."""
    assert report.resent_shots is not None
    _write_table(worksheet, report.resent_shots, formats)
    worksheet.freeze_panes(1, 1)
    worksheet.autofilter(0, 0, report.resent_shots.height, report.resent_shots.width - 1)
    worksheet.protect("", SHEET_PROTECTION)
    _set_up_print(worksheet, report, "Tệp gửi lại / Files sent again", header_row=0)


def resent_file_counts(report: ProvinceReport) -> pl.DataFrame:
    """Per re-sent file: how many shots each change concerns (the HTML section's first table)."""
    if report.resent_shots is None or report.resent_shots.is_empty():
        return pl.DataFrame()
    return report.resent_shots.group_by("source_file", "recognised_as", maintain_order=True).agg(
        *[
            (pl.col("change_en") == english).sum().alias(change)
            for change, (_, english) in RESENT_CHANGE_TEXTS.items()
        ]
    )


def reason_title(reason_code: str) -> str:
    labels = BACKLOG_REASON_LABELS.get(reason_code)
    return f"{labels.vietnamese} / {labels.english}" if labels else reason_code


def province_title(report: ProvinceReport) -> str:
    """The province's name and its code with the code's unit system (codes before 2025 and of 2025 collide)."""
    return province_label(report.province_code, report.province_name)


def _header_footer_text(text: str) -> str:
    return text.replace("&", "&&")  # `&` starts a header/footer control code


def _set_up_print(
    worksheet: Worksheet, report: ProvinceReport, title: str, *, header_row: int | None
) -> None:
    """A4 landscape, one page wide, the header row on every page, the report's title at the top of each
    page and the page number at the bottom."""
    worksheet.set_landscape()
    worksheet.set_paper(PAPER_A4)
    worksheet.fit_to_pages(1, 0)
    worksheet.set_margins(**PRINT_MARGINS)
    if header_row is not None:
        worksheet.repeat_rows(header_row)
    province = f"{report.province_name} — {_code_with_system(report.province_code)}"
    worksheet.set_header(
        f"&L&8{_header_footer_text(province)}&C&9&B{_header_footer_text(title)}&R&8Ngày / As of: {report.as_of.isoformat()}"
    )
    worksheet.set_footer(
        "&L&8Dữ liệu cá nhân, không chuyển tiếp / Personal data, do not forward&R&8Trang / Page &P / &N"
    )


def _code_with_system(province_code: str) -> str:
    return f"{province_code} ({PRE_2025_SYSTEM[0]})" if province_code.isdigit() else province_code


class _Formats:
    def __init__(self, workbook: Workbook) -> None:
        header = {"bold": True, "border": 1, "valign": "top", "text_wrap": True}
        self.header = workbook.add_format({**header, "bg_color": "#D9E1F2"})
        self.key_header = workbook.add_format({**header, "bg_color": "#BDD7EE"})
        self.decision_header = workbook.add_format({**header, "bg_color": "#C6EFCE"})
        # The cells staff fill: unlocked on a protected sheet, text (a CCCD keeps its leading zero).
        self.decision_cell = workbook.add_format(
            {"bg_color": "#F2FBF4", "border": 1, "num_format": "@", "locked": False}
        )
        self.key = workbook.add_format({"bg_color": "#F3F6FA", "valign": "top", "text_wrap": True})
        self.row_key = workbook.add_format({"bg_color": "#F3F6FA", "valign": "top", "font_color": "#57606A"})
        self.differs = workbook.add_format({"bg_color": DIFFERS_FILL, "font_color": "#9C5700", "bold": True})
        self.percent = workbook.add_format({"num_format": "0.0%", "valign": "top"})
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.section = workbook.add_format({"bold": True, "font_size": 12})
        self.fill_in = workbook.add_format(
            {"bg_color": "#FFF2CC", "border": 2, "num_format": "@", "locked": False}
        )
        self.wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        self.top = workbook.add_format({"valign": "top"})
        self.centred = workbook.add_format({"valign": "top", "align": "center"})  # counts beside a date

    def cell(self, column: str) -> Format:
        if column in DECISION_COLUMNS[1:]:
            return self.decision_cell
        if column == ROW_KEY_COLUMN:
            return self.row_key
        if column in KEY_COLUMNS:
            return self.key
        if column.endswith("_probability"):
            return self.percent
        if column in CENTRED_COLUMNS:
            return self.centred
        return self.wrap if column in WRAPPED_COLUMNS else self.top

    def column_header(self, column: str) -> Format:
        if column in DECISION_COLUMNS[1:]:
            return self.decision_header
        return self.key_header if column in KEY_COLUMNS else self.header


def _write_table(worksheet: Worksheet, frame: pl.DataFrame, formats: _Formats) -> list[int]:
    """The frame from the sheet's first row, its columns' widths and its rows' heights set; returns the
    widths (measured once: each measure reads every value)."""
    widths = column_widths(frame)
    _write_frame(worksheet, frame, formats, first_row=0, widths=widths)
    _set_widths(worksheet, [widths])
    _set_row_heights(worksheet, frame, first_row=1, widths=widths)
    return widths


def _write_frame(
    worksheet: Worksheet, frame: pl.DataFrame, formats: _Formats, *, first_row: int, widths: list[int]
) -> None:
    """The header row (each header the Vietnamese label above the column's code, with the Vietnamese and
    English labels as its comment) and each column written whole (xlsxwriter writes the cells)."""
    worksheet.set_row(first_row, header_height(frame, widths))
    for index, column in enumerate(frame.columns):
        worksheet.write_string(first_row, index, header_text(column), formats.column_header(column))
        if column in COLUMN_LABELS:
            worksheet.write_comment(first_row, index, " / ".join(COLUMN_LABELS[column]), HEADER_COMMENT)
        worksheet.write_column(first_row + 1, index, frame[column].to_list(), formats.cell(column))


def header_height(frame: pl.DataFrame, widths: list[int]) -> int:
    """Points for the frame's header row: its tallest header (label and code) wrapped in its column
    (`widths`: column_widths of the frame)."""
    lines = [
        sum(-(-len(line) // max(width - 1, 1)) for line in header_text(name).splitlines())
        for name, width in zip(frame.columns, widths, strict=True)
    ]
    return LINE_HEIGHT * max([2, *lines])


def column_widths(frame: pl.DataFrame) -> list[int]:
    """A width per column from its header's lines and its longest value, within sensible bounds."""
    longest = frame.select(pl.all().cast(pl.String).str.len_chars().max().fill_null(0)).row(0)
    widths = []
    for name, length in zip(frame.columns, longest, strict=True):
        header = max(len(line) for line in header_text(name).splitlines())
        header = min(header, HEADER_WRAP_WIDTH)
        limit = (
            WRAPPED_COLUMN_WIDTH
            if name in WRAPPED_COLUMNS
            else KEY_COLUMN_WIDTH
            if name in KEY_COLUMNS
            else MAX_COLUMN_WIDTH
        )
        widths.append(ROW_KEY_WIDTH if name == ROW_KEY_COLUMN else min(max(header, length) + 2, limit))
    return widths


def wrapped_lines(frame: pl.DataFrame, widths: list[int]) -> pl.Series:
    """Per row, the lines its tallest wrapped cell takes (xlsxwriter cannot fit row heights, and LibreOffice
    does not when it converts a file, so wrapped text would overlap the next row)."""
    wrapped = [
        (name, width)
        for name, width in zip(frame.columns, widths, strict=True)
        if name in WRAPPED_COLUMNS or (name in KEY_COLUMNS and name != ROW_KEY_COLUMN)
    ]
    if not wrapped:
        return pl.Series("lines", [1] * frame.height, dtype=pl.Int64)
    # A line of n characters in a column fitting w takes ceil(n / w) lines, an empty line one: the count of
    # runs of at most w characters other than a line break, plus the empty lines (`^$` in multi-line mode).
    per_column = [
        pl.col(name).cast(pl.String).str.count_matches(f"(?m)[^\\n]{{1,{max(width - 2, 1)}}}|^$").fill_null(1)
        for name, width in wrapped
    ]
    return frame.select(pl.max_horizontal(per_column).cast(pl.Int64).alias("lines")).to_series()


def _set_row_heights(worksheet: Worksheet, frame: pl.DataFrame, *, first_row: int, widths: list[int]) -> None:
    lines = wrapped_lines(frame, widths)
    taller = (lines > 1).arg_true()
    for offset, count in zip(taller.to_list(), lines.gather(taller).to_list(), strict=True):
        worksheet.set_row(first_row + offset, LINE_HEIGHT * count)


def _set_widths(worksheet: Worksheet, tables: list[list[int]]) -> None:
    """Widths of the columns shared by stacked tables (each its column_widths): the widest of each column
    index."""
    widths: dict[int, int] = {}
    for table in tables:
        for index, width in enumerate(table):
            widths[index] = max(widths.get(index, MIN_COLUMN_WIDTH), width)
    for index, width in widths.items():
        worksheet.set_column(index, index, width)


def _write_reason_sheet(worksheet: Worksheet, rows: pl.DataFrame, formats: _Formats) -> None:
    last_row, last_column = rows.height, rows.width - 1
    widths = _write_table(worksheet, rows, formats)
    # The columns staff fill: wide enough to type in, and unlocked text beyond the written rows too.
    for column in DECISION_COLUMNS[1:]:
        index = rows.columns.index(column)
        worksheet.set_column(index, index, max(widths[index], DECISION_COLUMN_WIDTH), formats.decision_cell)
    # The row key, facility and name stay in view while scrolling right.
    worksheet.freeze_panes(1, rows.columns.index("sent_full_name") + 1)
    worksheet.autofilter(0, 0, last_row, last_column)
    worksheet.protect("", SHEET_PROTECTION)
    # Paper holds the key columns, the columns to fill and why the row waits; the candidates side by side
    # print from the HTML report.
    worksheet.print_area(0, 0, max(last_row, 1), rows.columns.index(PRINTED_UP_TO))
    has_candidates = candidate_column(1, "id") in rows.columns
    _add_decision_validation(worksheet, rows, last_row=last_row, has_candidates=has_candidates)
    if has_candidates:
        _highlight_differing_fields(worksheet, rows, last_row=last_row, formats=formats)


def _add_decision_validation(
    worksheet: Worksheet, rows: pl.DataFrame, *, last_row: int, has_candidates: bool
) -> None:
    # Without candidates, only a corrected ID can resolve a row.
    choices = DECISION_CHOICES if has_candidates else (CORRECTED_DECISION,)
    decision = rows.columns.index(DECISION_COLUMN)
    worksheet.data_validation(
        1,
        decision,
        max(last_row, 1),
        decision,
        {
            "validate": "list",
            "source": list(choices),
            "input_title": "Quyết định / Decision",
            "input_message": " | ".join(choices),
            "error_title": "Sai quyết định / Invalid value",
            "error_message": "Chọn một giá trị trong danh sách. / Pick a value from the list.",
        },
    )
    corrected_id = rows.columns.index(CORRECTED_ID_COLUMN)
    worksheet.data_validation(
        1,
        corrected_id,
        max(last_row, 1),
        corrected_id,
        {
            "validate": "length",
            "criteria": "==",
            "value": CCCD_LENGTH,
            "input_title": "CCCD",
            "input_message": "12 chữ số / 12 digits",
            "error_title": "CCCD sai / Invalid CCCD",
            "error_message": "Số CCCD có đúng 12 chữ số. / A CCCD has exactly 12 digits.",
        },
    )


def _highlight_differing_fields(
    worksheet: Worksheet, rows: pl.DataFrame, *, last_row: int, formats: _Formats
) -> None:
    """A candidate's cell turns yellow when its `differs` column names that field (so the colour follows
    the row through sorting and filtering)."""
    for rank in range(1, CANDIDATES_SHOWN + 1):
        differs_letter = xl_col_to_name(rows.columns.index(candidate_column(rank, "differs")))
        for field in CANDIDATE_FIELDS:
            index = rows.columns.index(candidate_column(rank, field))
            worksheet.conditional_format(
                1,
                index,
                last_row,
                index,
                {
                    "type": "formula",
                    "criteria": f'=ISNUMBER(SEARCH(", {field},", ", "&${differs_letter}2&","))',
                    "format": formats.differs,
                },
            )


def _write_summary_sheet(worksheet: Worksheet, report: ProvinceReport, formats: _Formats) -> None:
    worksheet.write_string(0, 0, f"{TITLE_VI} / {TITLE_EN}", formats.title)
    lines = summary_lines(report)
    for row, line in enumerate(lines, start=1):
        worksheet.write_string(row, 0, line)
    tables = [
        (
            "Cơ sở tiêm xếp theo số dòng chưa ghép (gọi cơ sở đầu bảng trước) / "
            "Facilities ranked by open rows (call the top ones first)",
            report.facilities,
        ),
        ("Theo lý do và số đêm đã chờ / By reason and nights waited", reasons_display(report)),
    ]
    row = len(lines) + 2
    widths: list[list[int]] = []
    for title, frame in tables:
        widths.append(column_widths(frame))
        worksheet.write_string(row, 0, title, formats.section)
        if frame.is_empty():
            worksheet.write_string(row + 1, 0, "(không có / none)")
            row += 4
            continue
        worksheet.add_table(
            row + 1,
            0,
            row + 1 + frame.height,
            frame.width - 1,
            {
                "data": [list(values) for values in frame.rows()],
                "columns": [
                    {
                        "header": header_text(name),
                        "header_format": formats.header,
                        "format": formats.cell(name),
                    }
                    for name in frame.columns
                ],
                "style": "Table Style Light 1",
            },
        )
        worksheet.set_row(row + 1, header_height(frame, widths[-1]))
        _set_row_heights(worksheet, frame, first_row=row + 2, widths=widths[-1])
        row += frame.height + 4
    _set_widths(worksheet, widths)
    worksheet.protect("", SHEET_PROTECTION)


def reasons_display(report: ProvinceReport) -> pl.DataFrame:
    """Open rows per reason: the reason in Vietnamese then English in one cell, its code last (the columns
    line up with the facility ranking's above: rank/count, name/reason, then the counts)."""
    return report.reasons.select(
        "open_rows",
        pl.concat_str("reason_vi", pl.lit("\n"), "reason_en").alias("reason"),
        pl.exclude("open_rows", "reason_vi", "reason_en", "reason_code"),
        "reason_code",
    )


def summary_lines(report: ProvinceReport) -> list[str]:
    """The key figures, one line each, Vietnamese / English."""
    longest_wait = int(report.rows.select(pl.col("nights_waited").max().fill_null(0)).item())
    return [
        neutralised_text(f"Tỉnh / Province: {province_title(report)}"),
        f"Ngày báo cáo / As of: {report.as_of.isoformat()}",
        f"Dòng chưa ghép / Open rows: {report.rows.height}",
        f"Cơ sở có dòng chưa ghép / Facilities with open rows: {report.facilities.height}",
        f"Chờ lâu nhất / Longest wait: {longest_wait} đêm / nights",
        f"Đã xử lý trong lần chạy này / Resolved by this run: {report.resolved.height}",
    ]


def instruction_rows(report: ProvinceReport) -> list[tuple[str, str]]:
    """The instructions sheet's key/value rows: the report's identity, the reviewer to fill, how to
    decide, and a glossary of the columns."""
    glossary = [
        (f"column {name}", f"{vietnamese} / {english}")
        for name, (vietnamese, english) in COLUMN_LABELS.items()
    ]
    return [
        (REVIEWER_KEY, ""),
        (PROVINCE_KEY, report.province_code),
        ("province_code_system", PROVINCE_CODE_SYSTEM if report.province_code.isdigit() else ""),
        ("province_name", neutralised_text(province_title(report))),
        (AS_OF_KEY, report.as_of.isoformat()),
        (RUN_ID_KEY, report.run_id),
        ("decision_choices", ", ".join(DECISION_CHOICES)),
        ("decision_reject", f"'{REJECT_DECISION}': không ứng viên nào đúng / no candidate is the person"),
        *INSTRUCTIONS,
        *glossary,
    ]


def _write_instructions_sheet(worksheet: Worksheet, report: ProvinceReport, formats: _Formats) -> None:
    worksheet.set_row(0, HEADER_HEIGHT)
    worksheet.write_string(0, 0, f"Mục\n({INSTRUCTION_KEY_COLUMN})", formats.header)
    worksheet.write_string(0, 1, f"Nội dung\n({INSTRUCTION_VALUE_COLUMN})", formats.header)
    for row, (key, value) in enumerate(instruction_rows(report), start=1):
        worksheet.write_string(row, 0, key)
        if key == REVIEWER_KEY:
            worksheet.write_blank(row, 1, None, formats.fill_in)
        else:
            worksheet.write_string(row, 1, value, formats.wrap)
    worksheet.set_column(0, 0, 32)
    worksheet.set_column(1, 1, 110)
    worksheet.freeze_panes(1, 0)
    worksheet.protect("", SHEET_PROTECTION)  # only the reviewer cell is left to fill


# --- HTML -------------------------------------------------------------------------------------------------


def render_html(report: ProvinceReport) -> str:
    """One self-contained page: inline CSS, the summary first, then a section per reason."""
    sections = [
        {
            "code": code,
            "sheet": sheet_name(code),
            "reason": BACKLOG_REASONS.get(code),
            "shown_columns": (shown := html_table_columns((rows := report.reason_rows(code)).columns)),
            "cell_classes": {name: html_cell_class(name) for name in shown},
            "rows": rows,
            "has_candidates": candidate_column(1, "id") in rows.columns,
        }
        for code in report.reason_codes()
    ]
    return (
        report_environment()
        .get_template("province_report.html.jinja")
        .render(
            report=report,
            title_vi=TITLE_VI,
            title_en=TITLE_EN,
            province_title=province_title(report),
            summary_lines=summary_lines(report),
            facilities=report.facilities,
            reasons=reasons_display(report),
            sections=sections,
            resolved=report.resolved,
            rejected_decisions=report.rejected_decisions,
            resent_shots=report.resent_shots if report.resent_shots is not None else pl.DataFrame(),
            resent_files=resent_file_counts(report),
            labels=COLUMN_LABELS,
            candidate_ranks=range(1, CANDIDATES_SHOWN + 1),
            differs_fill=DIFFERS_FILL,
            column_print_class=html_print_class,
            frame_rows=frame_rows,
            reason_table_rows=reason_table_rows,
            candidate_cards=candidate_cards,
        )
    )


def html_table_columns(columns: list[str]) -> list[str]:
    """A reason table's columns on the page: the labelled ones (machine columns such as signed codes have no
    label), without the columns staff fill in the XLSX and without the reason the section title gives."""
    hidden = {*DECISION_COLUMNS[1:], "reason_vi", "reason_en"}
    return [name for name in columns if name in COLUMN_LABELS and name not in hidden]


def html_cell_class(column: str) -> str:
    """A reason table cell's classes: what the column holds, then whether it prints."""
    return f"{HTML_COLUMN_CLASSES.get(column, 'text')} {html_print_class(column)}"


def html_print_class(column: str) -> str:
    """Printed pages keep the key columns and why the row waits; the others are for the screen."""
    return "" if column in KEY_COLUMNS or column in WHY_COLUMNS else "wide"


def render_files(report: ProvinceReport, folder: Path) -> list[Path]:
    folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    with collector_paused():
        workbook, page = render_xlsx(report), render_html(report).encode("utf-8")
    return [
        write_private(folder / f"{report.file_stem}.xlsx", workbook),
        write_private(folder / f"{report.file_stem}.html", page),
    ]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a province renders. A workbook holds a few hundred thousand
    cell tuples until it is written, and each of them counts towards a collection: a medium night's report
    stage ran ~400 collections in the night's process, 3 of them full (~0.1 CPU s each, walking every
    tracked object made since GX's import froze the rest); 13 with rendering paused. What the rendering
    leaves is freed by reference counting as usual; a cycle waits for the next collection. Process-wide:
    the report stage's other threads are not collected meanwhile either, which only defers their
    collections by a province's rendering."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
