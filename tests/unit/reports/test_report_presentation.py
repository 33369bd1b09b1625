"""How the province reports read and print: Vietnamese first and English second, the key columns first and
protected, each sheet set up for print, and province codes labelled with their unit system."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from report_builders import AS_OF, HANOI_FILE_HASH, RUN_ID, build_warehouse

from vaxsync.core.decision_sheet import (
    CONTROL_SHEETS,
    DECISION_COLUMN,
    DECISION_COLUMNS,
    INSTRUCTIONS_SHEET,
    RESOLVED_SHEET,
    ROW_KEY_COLUMN,
    SUMMARY_SHEET,
    header_code,
)
from vaxsync.core.reasons import BACKLOG_REASON_LABELS, BACKLOG_REASONS, RESOLUTIONS
from vaxsync.core.settings import Settings
from vaxsync.reports.backlog_summary import DETAIL_SEPARATOR, bilingual_detail
from vaxsync.reports.province_codes import province_label
from vaxsync.reports.province_report_files import write_province_reports
from vaxsync.reports.province_report_model import COLUMN_LABELS, KEY_COLUMNS, header_text
from vaxsync.reports.province_report_render import PRINTED_UP_TO, province_title
from vaxsync.reports.province_reports import ADMIN_UNITS_PATH


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = build_warehouse(tmp_path_factory.mktemp("report_presentation"))
    write_province_reports(settings, run_id=RUN_ID)
    return settings


def report_path(settings: Settings, folder: str, suffix: str) -> Path:
    return (
        settings.reports_dir
        / AS_OF.isoformat()
        / "provinces"
        / folder
        / f"mismatch_{folder}_{AS_OF}.{suffix}"
    )


@pytest.fixture(scope="module")
def hanoi(settings: Settings) -> openpyxl.Workbook:
    return openpyxl.load_workbook(report_path(settings, "01", "xlsx"))


def header_row(worksheet: Worksheet, row: int = 1) -> list[str]:
    return [str(cell.value) for cell in worksheet[row] if cell.value is not None]


def column_of(worksheet: Worksheet, code: str) -> int:
    """The 1-based column whose header carries the code."""
    return [header_code(header) for header in header_row(worksheet)].index(code) + 1


# --- Vietnamese first, English second --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "detail", "vietnamese", "english"),
    [
        (
            "review_required",
            "id_contradicted; best probabilistic candidate p=0.516209",
            "Số định danh không khớp người; ứng viên tốt nhất theo xác suất: 51,6%, chưa đủ ngưỡng để ghi nhận.",
            "ID contradicted; best probabilistic candidate: 51.6%, below the threshold to post.",
        ),
        (
            "no_confident_match",
            "no_usable_id; best probabilistic candidate p=2e-06 is impossible (child_adult_mismatch)",
            "Không có số định danh; ứng viên tốt nhất theo xác suất (< 0,1%) là không thể: một bên là trẻ em, "
            "một bên là người lớn.",
            "No usable ID; the best probabilistic candidate (< 0.1%) is impossible: one is a child and the other "
            "an adult.",
        ),
        (
            "required_value_missing",
            "missing: full_name, vaccinated_on",
            "Thiếu: họ tên, ngày tiêm.",
            "Missing: full name, vaccination date.",
        ),
        (
            "vaccination_date_out_of_range",
            "09/12/2020 (read as 2020-12-09; campaign 2021-03-08 to 2023-01-31)",
            "Đã gửi “09/12/2020”, đọc là 2020-12-09; chiến dịch từ 2021-03-08 đến 2023-01-31.",
            'Sent "09/12/2020", read as 2020-12-09; the campaign runs 2021-03-08 to 2023-01-31.',
        ),
        ("id_contradicted", "ID owner differs in name, birth date", "Chủ của số định danh khác ở: họ tên, "
         "ngày sinh.", "The ID's owner differs in: name, birth date."),
        ("vaccine_unknown", "Vắc xin Covid", "Đã gửi “Vắc xin Covid”.", 'Sent "Vắc xin Covid".'),
    ],
)  # fmt: skip
def test_a_reason_detail_reads_as_a_vietnamese_sentence_then_the_english_one(
    reason: str, detail: str, vietnamese: str, english: str
) -> None:
    frame = pl.DataFrame(
        {"reason": [reason], "detail": [detail]}, schema={"reason": pl.String, "detail": pl.String}
    )
    shown = frame.select(bilingual_detail(pl.col("reason"), pl.col("detail"))).item()
    assert shown == f"{vietnamese}{DETAIL_SEPARATOR}{english}"


def test_a_detail_no_pattern_reads_is_shown_as_sent_and_a_blank_one_stays_blank() -> None:
    frame = pl.DataFrame(
        {"reason": ["shot_after_death", "no_usable_id", "malformed_row"], "detail": ["died 2022", None, ""]},
        schema={"reason": pl.String, "detail": pl.String},
    )
    shown = frame.select(bilingual_detail(pl.col("reason"), pl.col("detail"))).to_series().to_list()
    assert shown == ["died 2022", None, None]


def test_every_xlsx_header_is_the_vietnamese_label_above_the_code(hanoi: openpyxl.Workbook) -> None:
    for name in hanoi.sheetnames:
        if name in (SUMMARY_SHEET, INSTRUCTIONS_SHEET):
            continue
        for header in header_row(hanoi[name]):
            code = header_code(header)
            if code in COLUMN_LABELS:
                assert header == f"{COLUMN_LABELS[code][0]}\n({code})"
    decision = hanoi["review_required"].cell(1, column_of(hanoi["review_required"], DECISION_COLUMN))
    assert decision.value == "Quyết định\n(decision)"
    assert decision.comment is not None and "decision" in decision.comment.text  # the English label


def test_the_facility_ranking_labels_its_reason_columns_in_vietnamese(hanoi: openpyxl.Workbook) -> None:
    cells = [str(cell.value) for row in hanoi[SUMMARY_SHEET].iter_rows() for cell in row if cell.value]
    assert header_text("vaccine_unknown") in cells
    assert header_text("vaccine_unknown").startswith(BACKLOG_REASON_LABELS["vaccine_unknown"].vietnamese)
    reason = BACKLOG_REASONS["vaccine_unknown"]
    assert f"{reason.vietnamese}\n{reason.english}" in cells  # by reason: Vietnamese, then English


def test_the_detail_column_is_vietnamese_then_english_in_both_files(
    settings: Settings, hanoi: openpyxl.Workbook
) -> None:
    sheet = hanoi["vaccine_unknown"]
    detail = sheet.cell(2, column_of(sheet, "reason_detail")).value
    assert detail == 'Đã gửi “Vắc xin Covid”.\nSent "Vắc xin Covid".'
    assert sheet.cell(2, column_of(sheet, "reason_detail")).alignment.wrap_text
    page = report_path(settings, "01", "html").read_text(encoding="utf-8")
    assert "Đã gửi “Vắc xin Covid”.\nSent &#34;Vắc xin Covid&#34;." in page


def test_the_resolved_section_says_how_in_vietnamese_then_english(
    settings: Settings, hanoi: openpyxl.Workbook
) -> None:
    headers = [header_code(header) for header in header_row(hanoi[RESOLVED_SHEET])]
    assert headers.index("resolution_vi") < headers.index("resolution_en")
    assert headers.index("previous_reason_vi") < headers.index("previous_reason_en")
    page = report_path(settings, "01", "html").read_text(encoding="utf-8")
    assert RESOLUTIONS["rematched"].vietnamese in page and "Cách xử lý" in page


# --- layout: key columns first, protected ----------------------------------------------------------------


def test_key_columns_come_first_and_stay_in_view(hanoi: openpyxl.Workbook) -> None:
    for name in set(hanoi.sheetnames) - CONTROL_SHEETS:
        sheet = hanoi[name]
        assert [header_code(header) for header in header_row(sheet)][: len(KEY_COLUMNS)] == list(KEY_COLUMNS)
        assert sheet.freeze_panes == "D2"  # the header row and row key, facility, name


def test_sheets_are_protected_except_the_cells_staff_fill(hanoi: openpyxl.Workbook) -> None:
    sheet = hanoi["review_required"]
    protection = sheet.protection
    assert protection.sheet
    # openpyxl's flags are "protected": False means staff may still filter, sort and resize columns.
    assert (protection.autoFilter, protection.sort, protection.formatColumns) == (False, False, False)
    for code in KEY_COLUMNS:
        assert sheet.cell(2, column_of(sheet, code)).protection.locked
        assert sheet.cell(1, column_of(sheet, code)).protection.locked
    for code in DECISION_COLUMNS[1:]:
        assert not sheet.cell(2, column_of(sheet, code)).protection.locked
    assert all(hanoi[name].protection.sheet for name in hanoi.sheetnames)
    assert not hanoi[INSTRUCTIONS_SHEET]["B2"].protection.locked  # the reviewer's name


# --- printing -------------------------------------------------------------------------------------------


def test_every_sheet_prints_on_a4_landscape_one_page_wide_with_titles(hanoi: openpyxl.Workbook) -> None:
    for name in hanoi.sheetnames:
        sheet = hanoi[name]
        setup = sheet.page_setup
        assert (setup.orientation, setup.paperSize) == ("landscape", 9), name
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, name
        assert (setup.fitToWidth or 1, setup.fitToHeight) == (1, 0), name
        assert "01 (trước 2025)" in sheet.oddHeader.left.text
        assert (
            sheet.oddHeader.center.text
            and "&P" in sheet.oddFooter.right.text
            and "&N" in sheet.oddFooter.right.text
        )
        if name != SUMMARY_SHEET:
            assert sheet.print_title_rows == "$1:$1", name  # the header row on every page
    review = hanoi["review_required"]
    assert review.print_area == f"'review_required'!$A$1:${chr(64 + column_of(review, PRINTED_UP_TO))}$2"
    assert "HTML" in review.oddHeader.center.text  # the candidates print from the HTML report


def test_the_html_page_has_a_print_stylesheet(settings: Settings) -> None:
    page = report_path(settings, "01", "html").read_text(encoding="utf-8")
    assert "@page { size: A4 landscape;" in page
    print_rules = page[page.index("@media print") :]
    assert "thead { display: table-header-group; }" in print_rules
    assert "break-inside: avoid" in print_rules
    assert 'class="key path "' in page  # the row key is printed; columns beyond the reason are not
    assert 'class="path wide"' in page


# --- province codes and their unit system ----------------------------------------------------------------


def test_colliding_province_codes_say_their_unit_system() -> None:
    long_an = province_label("80", "Tỉnh Long An")
    tay_ninh = province_label("72", "Tỉnh Tây Ninh")
    assert long_an.startswith("Tỉnh Long An — 80 (trước 2025)") and "Tây Ninh — 80 (mã 2025)" in long_an
    assert tay_ninh.startswith("Tỉnh Tây Ninh — 72 (trước 2025)") and "Tây Ninh — 80 (mã 2025)" in tay_ninh
    assert province_label("??", "Không rõ tỉnh / unknown province") == "Không rõ tỉnh / unknown province"


def test_every_place_showing_the_province_code_names_its_unit_system(
    settings: Settings, hanoi: openpyxl.Workbook
) -> None:
    summary = [str(cell.value) for row in hanoi[SUMMARY_SHEET].iter_rows() for cell in row if cell.value]
    assert any(line.startswith("Tỉnh / Province: ") and "01 (trước 2025)" in line for line in summary)
    instructions = {row[0]: row[1] for row in hanoi[INSTRUCTIONS_SHEET].iter_rows(values_only=True)}
    assert instructions["province_code"] == "01"  # the decision intake reads the bare code
    assert "trước 2025" in str(instructions["province_code_system"])
    assert "01 (trước 2025)" in str(instructions["province_name"])
    page = report_path(settings, "01", "html").read_text(encoding="utf-8")
    title = page[page.index("<title>") : page.index("</title>")]
    assert "01 (trước 2025)" in title and "(mã 2025)" in title
    assert "(01)" not in page  # no bare code in brackets left
    assert hanoi.properties.title is not None and "01 (trước 2025)" in hanoi.properties.title


def test_the_province_title_of_a_report_has_both_unit_systems(settings: Settings) -> None:
    from vaxsync.reports.province_report_model import ProvinceReport

    report = ProvinceReport(
        province_code="80",
        province_name="Tỉnh Long An",
        as_of=AS_OF,
        run_id=RUN_ID,
        rows=pl.DataFrame(),
        resolved=pl.DataFrame(),
        facilities=pl.DataFrame(),
        reasons=pl.DataFrame(),
    )
    assert (
        province_title(report)
        == "Tỉnh Long An — 80 (trước 2025); từ 2025 / since 2025: Tây Ninh — 80 (mã 2025)"
    )


def test_row_keys_in_the_report_are_unchanged_by_the_labels(hanoi: openpyxl.Workbook) -> None:
    sheet = hanoi["review_required"]
    assert sheet.cell(2, column_of(sheet, ROW_KEY_COLUMN)).value == f"{HANOI_FILE_HASH}:1"


def test_the_backlog_summary_names_the_unit_system_of_its_codes_and_puts_vietnamese_first(
    settings: Settings,
) -> None:
    from vaxsync.reports.backlog_summary import backlog_summary

    summary = backlog_summary(settings)
    assert summary.columns[:2] == ["province_code", "province_code_system"]
    assert summary.columns.index("reason_vietnamese") < summary.columns.index("reason_english")
    systems = dict(summary.select("province_code", "province_code_system").unique().iter_rows())
    assert systems == {"01": "pre-2025", "46": "pre-2025", "??": None}


def test_the_refused_decisions_sheet_is_protected_wrapped_and_set_up_for_print(settings: Settings) -> None:
    import dataclasses
    import io

    from vaxsync.core.decision_sheet import REJECTED_DECISION_COLUMNS, REJECTED_DECISIONS_SHEET
    from vaxsync.marts.warehouse import connect
    from vaxsync.reports.province_report_render import render_xlsx
    from vaxsync.reports.province_reports import build_province_reports

    with connect(settings.warehouse_path) as connection:
        [hanoi_report] = [
            report
            for report in build_province_reports(
                connection,
                registry=pl.scan_parquet(settings.registry_path),
                admin_units=pl.scan_parquet(ADMIN_UNITS_PATH),
                as_of=AS_OF,
                run_id=RUN_ID,
            )
            if report.province_code == "01"
        ]
    refused = pl.DataFrame(
        {name: ["x"] for name in REJECTED_DECISION_COLUMNS}
        | {"rejection_vi": ["Quyết định không hợp lệ. " * 6]},
        schema=dict.fromkeys(REJECTED_DECISION_COLUMNS, pl.String),
    )
    workbook = openpyxl.load_workbook(
        io.BytesIO(render_xlsx(dataclasses.replace(hanoi_report, rejected_decisions=refused)))
    )
    sheet = workbook[REJECTED_DECISIONS_SHEET]
    assert workbook.sheetnames[0] == REJECTED_DECISIONS_SHEET
    assert sheet.protection.sheet and sheet.page_setup.orientation == "landscape"
    assert sheet.cell(1, column_of(sheet, "rejection_vi")).value == header_text("rejection_vi")
    assert sheet.cell(2, column_of(sheet, "rejection_vi")).alignment.wrap_text
    assert sheet.row_dimensions[2].height > 15  # the long reason wraps onto more lines
