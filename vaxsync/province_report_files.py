"""Render a ProvinceReport as an XLSX workbook (xlsxwriter) and a self-contained HTML page (Jinja2).

Both show the same content: the frames arrive masked and formula-neutralised. xlsxwriter is told never
to turn a string into a formula, URL or number, so the neutralising quote is a second line of defence.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from pathlib import Path

import jinja2
import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from vaxsync.masking import neutralised_text
from vaxsync.province_reports import (
    AS_OF_KEY,
    CANDIDATE_FIELD_LABELS,
    CANDIDATE_FIELDS,
    CANDIDATES_SHOWN,
    COLUMN_LABELS,
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
    RESOLVED_SHEET,
    REVIEWER_KEY,
    RUN_ID_KEY,
    SUMMARY_SHEET,
    ProvinceReport,
    candidate_column,
    sheet_name,
)
from vaxsync.reasons import BACKLOG_REASONS

TEMPLATE_DIR = Path(__file__).parent / "templates"
MIN_COLUMN_WIDTH = 6
MAX_COLUMN_WIDTH = 48
DECISION_COLUMN_WIDTH = 14
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
    workbook = xlsxwriter.Workbook(
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
            "title": f"{TITLE_EN} — {report.province_code}",
            "created": dt.datetime.combine(report.as_of, dt.time()),
        }
    )
    formats = _Formats(workbook)
    _write_summary_sheet(workbook.add_worksheet(SUMMARY_SHEET), report, formats)
    _write_instructions_sheet(workbook.add_worksheet(INSTRUCTIONS_SHEET), report, formats)
    for reason_code in report.reason_codes():
        rows = report.reason_rows(reason_code)
        _write_reason_sheet(workbook.add_worksheet(sheet_name(reason_code)), rows, formats)
    if not report.resolved.is_empty():
        worksheet = workbook.add_worksheet(RESOLVED_SHEET)
        _write_frame(worksheet, report.resolved, formats, first_row=0)
        _set_widths(worksheet, [report.resolved])
        worksheet.freeze_panes(1, 1)
        worksheet.autofilter(0, 0, report.resolved.height, report.resolved.width - 1)
    workbook.close()
    return buffer.getvalue()


class _Formats:
    def __init__(self, workbook: Workbook) -> None:
        self.header = workbook.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "valign": "top"})
        self.decision_header = workbook.add_format(
            {"bold": True, "bg_color": "#C6EFCE", "border": 1, "valign": "top"}
        )
        self.decision_cell = workbook.add_format({"bg_color": "#F2FBF4", "border": 1, "num_format": "@"})
        self.differs = workbook.add_format({"bg_color": DIFFERS_FILL, "font_color": "#9C5700", "bold": True})
        self.percent = workbook.add_format({"num_format": "0.0%"})
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.section = workbook.add_format({"bold": True, "font_size": 12})
        self.fill_in = workbook.add_format({"bg_color": "#FFF2CC", "border": 2, "num_format": "@"})
        self.wrap = workbook.add_format({"text_wrap": True, "valign": "top"})


def _write_frame(worksheet: Worksheet, frame: pl.DataFrame, formats: _Formats, *, first_row: int) -> None:
    """The header row (each header's Vietnamese and English label as its comment) and each column
    written whole (xlsxwriter writes the cells)."""
    for index, column in enumerate(frame.columns):
        is_decision = column in DECISION_COLUMNS
        worksheet.write_string(
            first_row, index, column, formats.decision_header if is_decision else formats.header
        )
        if column in COLUMN_LABELS:
            worksheet.write_comment(first_row, index, " / ".join(COLUMN_LABELS[column]), HEADER_COMMENT)
        cell_format = formats.percent if column.endswith("_probability") else None
        worksheet.write_column(first_row + 1, index, frame[column].to_list(), cell_format)


def column_widths(frame: pl.DataFrame) -> list[int]:
    """A width per column from its header and its longest value, within sensible bounds."""
    longest = frame.select(pl.all().cast(pl.String).str.len_chars().max().fill_null(0)).row(0)
    return [
        min(max(len(name), length) + 2, MAX_COLUMN_WIDTH)
        for name, length in zip(frame.columns, longest, strict=True)
    ]


def _set_widths(worksheet: Worksheet, frames: list[pl.DataFrame]) -> None:
    """Widths of the columns shared by stacked tables: the widest of each column index."""
    widths: dict[int, int] = {}
    for frame in frames:
        for index, width in enumerate(column_widths(frame)):
            widths[index] = max(widths.get(index, MIN_COLUMN_WIDTH), width)
    for index, width in widths.items():
        worksheet.set_column(index, index, width)


def _write_reason_sheet(worksheet: Worksheet, rows: pl.DataFrame, formats: _Formats) -> None:
    last_row, last_column = rows.height, rows.width - 1
    _write_frame(worksheet, rows, formats, first_row=0)
    _set_widths(worksheet, [rows])
    # The columns staff fill: wide enough to type in, and text, so a typed CCCD keeps its leading zero.
    widths = column_widths(rows)
    for index in range(rows.columns.index(DECISION_COLUMN), rows.width):
        worksheet.set_column(index, index, max(widths[index], DECISION_COLUMN_WIDTH), formats.decision_cell)
    worksheet.freeze_panes(1, 1)
    worksheet.autofilter(0, 0, last_row, last_column)
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
    for row, line in enumerate(summary_lines(report), start=1):
        worksheet.write_string(row, 0, line)
    tables = [
        (
            "Cơ sở tiêm xếp theo số dòng chưa ghép (gọi cơ sở đầu bảng trước) / "
            "Facilities ranked by open rows (call the top ones first)",
            report.facilities,
        ),
        ("Theo lý do và số đêm đã chờ / By reason and nights waited", report.reasons),
    ]
    row = len(summary_lines(report)) + 2
    for title, frame in tables:
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
                "data": [list(values) for values in frame.iter_rows()],
                "columns": [{"header": name, "header_format": formats.header} for name in frame.columns],
                "style": "Table Style Light 1",
            },
        )
        row += frame.height + 4
    _set_widths(worksheet, [frame for _, frame in tables])


def summary_lines(report: ProvinceReport) -> list[str]:
    """The key figures, one line each, Vietnamese / English."""
    longest_wait = int(report.rows.select(pl.col("nights_waited").max().fill_null(0)).item())
    return [
        neutralised_text(f"Tỉnh / Province: {report.province_name} ({report.province_code})"),
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
        ("province_name", neutralised_text(report.province_name)),
        (AS_OF_KEY, report.as_of.isoformat()),
        (RUN_ID_KEY, report.run_id),
        ("decision_choices", ", ".join(DECISION_CHOICES)),
        ("decision_reject", f"'{REJECT_DECISION}': không ứng viên nào đúng / no candidate is the person"),
        *INSTRUCTIONS,
        *glossary,
    ]


def _write_instructions_sheet(worksheet: Worksheet, report: ProvinceReport, formats: _Formats) -> None:
    worksheet.write_string(0, 0, INSTRUCTION_KEY_COLUMN, formats.header)
    worksheet.write_string(0, 1, INSTRUCTION_VALUE_COLUMN, formats.header)
    for row, (key, value) in enumerate(instruction_rows(report), start=1):
        worksheet.write_string(row, 0, key)
        if key == REVIEWER_KEY:
            worksheet.write_blank(row, 1, None, formats.fill_in)
        else:
            worksheet.write_string(row, 1, value, formats.wrap)
    worksheet.set_column(0, 0, 32)
    worksheet.set_column(1, 1, 110)
    worksheet.freeze_panes(1, 0)


# --- HTML -------------------------------------------------------------------------------------------------


@functools.cache
def _html_template() -> jinja2.Template:
    """Compiled once per process: compiling costs far more than rendering."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("province_report.html.jinja")


def render_html(report: ProvinceReport) -> str:
    """One self-contained page: inline CSS, the summary first, then a section per reason."""
    sections = [
        {
            "code": code,
            "sheet": sheet_name(code),
            "reason": BACKLOG_REASONS.get(code),
            "columns": (rows := report.reason_rows(code)).columns,
            "rows": rows.to_dicts(),
            "has_candidates": candidate_column(1, "id") in rows.columns,
        }
        for code in report.reason_codes()
    ]
    return _html_template().render(
        report=report,
        title_vi=TITLE_VI,
        title_en=TITLE_EN,
        summary_lines=summary_lines(report),
        facilities=report.facilities,
        reasons=report.reasons,
        sections=sections,
        resolved=report.resolved,
        labels=COLUMN_LABELS,
        candidate_ranks=range(1, CANDIDATES_SHOWN + 1),
        candidate_fields=CANDIDATE_FIELDS,
        field_labels=CANDIDATE_FIELD_LABELS,
        decision_columns=DECISION_COLUMNS,
        differs_fill=DIFFERS_FILL,
        column_classes=HTML_COLUMN_CLASSES,
    )
