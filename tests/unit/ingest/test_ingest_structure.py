"""Structure of delimited exports: separators, preamble, blank and total rows, malformed rows, columns."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from ingest_export_files import VN_HEADER, export_rows, render_delimited, write

from transforms.ingest import StagedExport, stage_export
from vaxsync.core.contracts import LEDGER_SCHEMA, STAGED_ROW_SCHEMA

ROWS = export_rows()
NAMES = [row[1] for row in ROWS]
BLANK_ROW = [""] * len(VN_HEADER)


def _stage(tmp_path: Path, text: str, name: str = "export.csv") -> StagedExport:
    return stage_export(tmp_path, write(tmp_path, name, text))


def _loaded_rows(staged: StagedExport) -> pl.DataFrame:
    assert staged.ledger["status"] == "loaded", staged.ledger["quarantine_detail"]
    assert staged.rows is not None
    return staged.rows


@pytest.mark.parametrize(("separator", "line_end"), [(",", "\r\n"), (";", "\r\n"), ("\t", "\n"), (",", "\n")])
def test_the_separator_is_sniffed(tmp_path: Path, separator: str, line_end: str) -> None:
    staged = _stage(tmp_path, render_delimited([VN_HEADER, *ROWS], separator, line_end))

    rows = _loaded_rows(staged)
    assert staged.ledger["delimiter"] == separator
    assert rows["raw_full_name"].to_list() == NAMES
    assert rows["raw_address"].to_list() == [row[6] for row in ROWS]  # commas inside quoted addresses survive


def test_staged_rows_and_ledger_follow_the_contracts(tmp_path: Path) -> None:
    staged = _stage(tmp_path, render_delimited([VN_HEADER, *ROWS]))

    rows = _loaded_rows(staged)
    assert rows.schema == pl.Schema(STAGED_ROW_SCHEMA)
    assert list(staged.ledger) == list(LEDGER_SCHEMA)
    ledger = pl.DataFrame([staged.ledger], schema=LEDGER_SCHEMA)
    assert ledger.row(0, named=True)["rows_read"] == len(ROWS)
    assert rows["source_file"].unique().to_list() == ["export.csv"]
    assert staged.raw_metrics["rows_read"] == len(ROWS)
    assert staged.raw_metrics["share_blank_id"] == pytest.approx(6 / 12)


@pytest.mark.parametrize(
    ("preamble", "header_line"),
    [
        ([["DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG"], ["Đơn vị: Trạm Y tế Phường Bến Nghé"], []], 4),
        ([["DANH SÁCH NGƯỜI ĐÃ TIÊM VẮC XIN PHÒNG COVID-19", *[""] * 11], BLANK_ROW], 3),
        ([["Báo cáo ngày 12/08/2021"]], 2),
        ([], 1),
    ],
)
def test_preamble_rows_above_the_header_are_skipped(
    tmp_path: Path, preamble: list[list[str]], header_line: int
) -> None:
    staged = _stage(tmp_path, render_delimited([*preamble, VN_HEADER, *ROWS]))

    rows = _loaded_rows(staged)
    assert staged.ledger["header_line"] == header_line
    assert rows["source_row"].to_list() == list(range(1, len(ROWS) + 1))
    assert rows["raw_full_name"].to_list() == NAMES


@pytest.mark.parametrize(
    "total_row",
    [
        ["", "Tổng cộng", *[""] * 10],
        ["Tổng số: 12", *[""] * 11],
        ["", "TỔNG CỘNG: 12 mũi", *[""] * 10],
        ["Cộng", "", "", "", "", "", "", "", "", "12", "", ""],
        ["", "Total: 12", *[""] * 10],
        ["Tong so", "12"],
        ["13", "Tổng cộng: 12 người", *[""] * 10],
        ["", "Grand total", "12", *[""] * 9],  # the count lands in the birth-date column
    ],
)
def test_trailing_total_rows_are_dropped(tmp_path: Path, total_row: list[str]) -> None:
    staged = _stage(tmp_path, render_delimited([VN_HEADER, *ROWS, BLANK_ROW, total_row]))

    rows = _loaded_rows(staged)
    assert rows["raw_full_name"].to_list() == NAMES
    assert rows["row_issue"].null_count() == len(ROWS)
    assert staged.raw_metrics["count_total_rows_dropped"] == 1
    assert staged.raw_metrics["count_blank_rows_dropped"] == 1


def test_a_person_whose_name_looks_like_a_total_label_is_kept(tmp_path: Path) -> None:
    tong = ["13", "TONG", "1990", "", "", "", "", "Pfizer", "", "", "01/09/2021", ""]
    tong_thi = ["14", "Tống Thị Ngọc", "22/03/1990", "Nữ", "", "", "", "Pfizer", "", "2", "25/10/2021", ""]

    rows = _loaded_rows(_stage(tmp_path, render_delimited([VN_HEADER, *ROWS, tong, tong_thi])))

    assert rows["raw_full_name"].to_list()[-2:] == ["TONG", "Tống Thị Ngọc"]


def test_blank_rows_are_dropped_and_data_rows_numbered_without_them(tmp_path: Path) -> None:
    text = (
        render_delimited([VN_HEADER, *ROWS[:3], BLANK_ROW, *ROWS[3:6]])
        + "\r\n\r\n"
        + render_delimited(ROWS[6:])
    )

    staged = _stage(tmp_path, text)

    rows = _loaded_rows(staged)
    assert rows.select("source_row", "raw_full_name").rows() == list(enumerate(NAMES, start=1))
    assert staged.raw_metrics["count_blank_rows_dropped"] == 3


def test_a_header_printed_again_mid_file_is_dropped(tmp_path: Path) -> None:
    staged = _stage(tmp_path, render_delimited([VN_HEADER, *ROWS[:6], VN_HEADER, *ROWS[6:]]))

    rows = _loaded_rows(staged)
    assert rows.select("source_row", "raw_full_name").rows() == list(enumerate(NAMES, start=1))
    assert staged.raw_metrics["count_header_repeats_dropped"] == 1


def test_a_truncated_last_line_is_a_malformed_row_and_the_rest_loads(tmp_path: Path) -> None:
    text = render_delimited([VN_HEADER, *ROWS])
    truncated = text[: text.rindex(",", 0, len(text) - 30)]  # the file stops inside the last row

    staged = _stage(tmp_path, truncated)

    rows = _loaded_rows(staged)
    assert rows.height == len(ROWS)
    assert rows["row_issue"].to_list() == [None] * (len(ROWS) - 1) + ["malformed_row"]
    last = rows.row(-1, named=True)
    assert (last["source_row"], last["raw_full_name"], last["raw_date_of_birth"]) == (
        12,
        NAMES[-1],
        ROWS[-1][2],
    )
    assert last["raw_facility_name"] is None


def test_a_truncated_line_inside_a_quoted_field_is_malformed(tmp_path: Path) -> None:
    text = render_delimited([VN_HEADER, *ROWS])
    truncated = text[: text.rindex('"') - 5]  # stops inside the last row's quoted address

    rows = _loaded_rows(_stage(tmp_path, truncated))

    assert rows["row_issue"].to_list()[-1] == "malformed_row"
    assert rows["raw_full_name"].to_list() == NAMES


def test_a_row_with_too_many_fields_is_malformed_and_keeps_the_overflow(tmp_path: Path) -> None:
    # "Phường Bến Nghé, Quận 1" written without quotes: one field too many
    shifted = [*ROWS[0][:6], "Phường Bến Nghé", "Quận 1", *ROWS[0][7:]]
    text = render_delimited([VN_HEADER, *ROWS[1:]]) + ",".join(shifted) + "\r\n"

    staged = _stage(tmp_path, text)

    rows = _loaded_rows(staged)
    assert rows["row_issue"].to_list() == [None] * (len(ROWS) - 1) + ["malformed_row"]
    assert json.loads(rows["extra_columns"][-1]) == {"column_13": ROWS[0][11]}
    assert "column_13" in json.loads(str(staged.ledger["unknown_columns"]))


def test_a_quoted_field_may_span_lines(tmp_path: Path) -> None:
    multi_line = [*ROWS[0][:6], "Số 5 Nguyễn Văn Linh\nPhường Mỹ Xá", *ROWS[0][7:]]

    rows = _loaded_rows(_stage(tmp_path, render_delimited([VN_HEADER, multi_line, *ROWS[1:]])))

    assert rows["raw_address"][0] == "Số 5 Nguyễn Văn Linh\nPhường Mỹ Xá"
    assert rows["source_row"].to_list() == list(range(1, len(ROWS) + 1))
    assert rows["row_issue"].null_count() == len(ROWS)


def test_duplicate_headers_are_kept_apart_and_repeated_fields_coalesced(tmp_path: Path) -> None:
    header = [*VN_HEADER[:4], "Số CCCD", "Số CMND", *VN_HEADER[5:], "Ghi chú", "Ghi chú"]
    cccd_row = [*ROWS[0][:4], "001185012345", "", *ROWS[0][5:], "đã tiêm", "hẹn mũi 2"]
    cmnd_row = [*ROWS[1][:4], "", "023456789", *ROWS[1][5:], "", "sốt nhẹ"]

    staged = _stage(tmp_path, render_delimited([header, cccd_row, cmnd_row]))

    rows = _loaded_rows(staged)
    assert rows["raw_id_number"].to_list() == ["001185012345", "023456789"]
    assert json.loads(rows["extra_columns"][1]) == {
        "Số CMND": "023456789",
        "Ghi chú": None,
        "Ghi chú (2)": "sốt nhẹ",
    }
    assert json.loads(str(staged.ledger["unknown_columns"])) == ["Ghi chú", "Ghi chú (2)"]
    mapping = json.loads(str(staged.ledger["column_mapping"]))
    assert (mapping["Số CCCD"], mapping["Số CMND"]) == ("id_number", "id_number")


def test_extra_columns_are_kept_as_json_and_reported(tmp_path: Path) -> None:
    header = [*VN_HEADER, "Nhóm ưu tiên", "Nghề nghiệp"]
    rows_in = [[*row, str(number % 3 + 1), "Giáo viên"] for number, row in enumerate(ROWS)]

    staged = _stage(tmp_path, render_delimited([header, *rows_in]))

    rows = _loaded_rows(staged)
    assert json.loads(rows["extra_columns"][0]) == {"Nhóm ưu tiên": "1", "Nghề nghiệp": "Giáo viên"}
    assert json.loads(str(staged.ledger["unknown_columns"])) == ["Nhóm ưu tiên", "Nghề nghiệp"]
    assert "STT" not in json.loads(str(staged.ledger["column_mapping"]))


def test_no_extra_columns_means_null_json(tmp_path: Path) -> None:
    rows = _loaded_rows(_stage(tmp_path, render_delimited([VN_HEADER, *ROWS])))

    assert rows["extra_columns"].null_count() == len(ROWS)


HEADER_STYLES = {
    "vietnamese": VN_HEADER,
    "vietnamese_no_diacritics": [
        "STT", "Ho va ten", "Ngay sinh", "Gioi tinh", "So CCCD/CMND", "So dien thoai", "Dia chi",
        "Ten vac xin", "So lo", "Mui tiem", "Ngay tiem", "Co so tiem",
    ],
    "upper_snake": [
        "STT", "HO_TEN", "NGAY_SINH", "GIOI_TINH", "SO_CCCD", "SO_DIEN_THOAI", "DIA_CHI",
        "TEN_VAC_XIN", "SO_LO", "MUI_TIEM", "NGAY_TIEM", "CO_SO_TIEM",
    ],
    "english": [
        "No.", "Full name", "Date of birth", "Sex", "ID number", "Phone", "Address",
        "Vaccine", "Lot", "Dose", "Vaccination date", "Facility",
    ],
    "english_abbreviated": [
        "#", "Name", "DOB", "Gender", "National ID", "Mobile", "Home address",
        "Vaccine name", "Batch", "Dose number", "Date of vaccination", "Vaccination site",
    ],
    "messy_case_and_punctuation": [
        "stt", "HỌ VÀ TÊN (*)", "Ngày sinh (dd/mm/yyyy)", "giới-tính", "số cccd / cmnd", "SĐT", " Địa chỉ ",
        "Vắc xin", "Số lô", "Mũi", "Ngày tiêm (*)", "Đơn vị tiêm",
    ],
}  # fmt: skip


@pytest.mark.parametrize("style", list(HEADER_STYLES))
def test_each_header_style_maps_to_the_canonical_fields(tmp_path: Path, style: str) -> None:
    staged = _stage(tmp_path, render_delimited([HEADER_STYLES[style], *ROWS]))

    rows = _loaded_rows(staged)
    assert json.loads(str(staged.ledger["unknown_columns"])) == []
    assert rows["raw_full_name"].to_list() == NAMES
    assert rows["raw_date_of_birth"].to_list() == [row[2] for row in ROWS]
    assert rows["raw_id_number"].to_list() == [row[4] or None for row in ROWS]
    assert rows["raw_vaccine"].to_list() == [row[7] for row in ROWS]
    assert rows["raw_vaccinated_on"].to_list() == [row[10] for row in ROWS]
    assert rows["raw_facility_name"].to_list() == [row[11] for row in ROWS]


def test_split_address_columns_map_to_province_district_ward(tmp_path: Path) -> None:
    header = [
        "STT",
        "Họ tên",
        "Năm sinh",
        "Tỉnh/Thành phố",
        "Quận/Huyện",
        "Phường/Xã",
        "Vắc xin",
        "Ngày tiêm",
    ]
    rows_in = [
        [
            "1",
            "Nguyễn Thị Hồng",
            "1985",
            "TP. Hồ Chí Minh",
            "Quận 1",
            "Phường Bến Nghé",
            "Pfizer",
            "12/08/2021",
        ],
        [
            "2",
            "Trần Văn Đức",
            "1962",
            "Tây Ninh",
            "Huyện Tân Châu",
            "Xã Tân Hội",
            "AstraZeneca",
            "13/08/2021",
        ],
    ]

    rows = _loaded_rows(_stage(tmp_path, render_delimited([header, *rows_in])))

    assert rows.select("raw_province", "raw_district", "raw_ward").rows() == [
        tuple(row[3:6]) for row in rows_in
    ]
    assert rows["raw_address"].null_count() == 2


def test_many_blank_lines_above_the_header_are_skipped(tmp_path: Path) -> None:
    staged = _stage(tmp_path, "\r\n" * 200 + render_delimited([VN_HEADER, *ROWS]))

    assert staged.ledger["header_line"] == 201
    assert _loaded_rows(staged)["raw_full_name"].to_list() == NAMES


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ('0;"', "a quoted field holding a separator and a doubled quote at its end"),
        ("\n", "a quoted field holding only a line break: its line is a lone quote"),
        ('Tí "Tèo"', "quotes inside a field"),
        ('"', "a field that is one quote"),
        ("a,\nb", "a separator, then a line break"),
    ],
)
def test_a_quoted_field_never_joins_or_splits_rows(tmp_path: Path, cell: str, why: str) -> None:
    # Found by the property tests: two people's rows were read as one, or one row as two.
    rows = [[cell, *ROWS[0][1:]], *ROWS[1:4]]

    read = _loaded_rows(_stage(tmp_path, render_delimited([VN_HEADER, *rows])))

    assert read["raw_full_name"].to_list() == NAMES[:4], why
    assert read["row_issue"].null_count() == 4, why


def test_a_stray_quote_in_an_unquoted_field_opens_nothing(tmp_path: Path) -> None:
    text = render_delimited([VN_HEADER, *ROWS]).replace("Nguyễn Thị Hồng", 'Nguyễn Thị "Hồng')

    read = _loaded_rows(_stage(tmp_path, text))

    assert read.height == len(ROWS)
    assert read["raw_full_name"][0] == 'Nguyễn Thị "Hồng'


def test_a_header_of_many_wrapped_bilingual_labels_is_one_record(tmp_path: Path) -> None:
    # 'Họ và tên\n(Full name)' in each of 24 header cells: the header record spans 25 lines. On main any
    # record over 20 lines read the file line by line, and the file was quarantined as
    # missing_required_columns (found by h6 with an Excel "Unicode text" save of a report sheet).
    header = [f"{label}\n(column {index})" for index, label in enumerate([*VN_HEADER, *["Ghi chú"] * 12])]
    rows = [[*row, *[""] * 12] for row in ROWS]

    read = _loaded_rows(_stage(tmp_path, render_delimited([header, *rows])))

    assert read["raw_full_name"].to_list() == NAMES
    assert read["row_issue"].null_count() == len(ROWS)


def test_a_stray_opening_quote_does_not_swallow_the_rows_after_it(tmp_path: Path) -> None:
    rows = [[*ROWS[0][:1], '"' + ROWS[0][1], *ROWS[0][2:]], *export_rows(40)[1:]]
    text = render_delimited([VN_HEADER]) + "".join(",".join(row) + "\r\n" for row in rows)

    read = _loaded_rows(_stage(tmp_path, text))

    assert read.height == 40
    assert read["raw_full_name"][1:].to_list() == [row[1] for row in export_rows(40)[1:]]


def test_a_signature_footer_and_pre_numbered_empty_rows_are_not_doses(tmp_path: Path) -> None:
    # A Vietnamese template: rows numbered in advance down the sheet, and below the list the place and
    # date, who drew it up and who signs it. On main they went to the backlog, one row each.
    numbered = [[str(number), *[""] * 11] for number in range(len(ROWS) + 1, len(ROWS) + 6)]
    footer = [
        ["", "", "", "", "", "", "", "", "Trà Vinh, ngày 11 tháng 12 năm 2022", "", "", ""],
        ["", "Người lập biểu", "", "", "", "", "", "", "Thủ trưởng đơn vị", "", "", ""],
        ["", "", "", "", "", "", "", "", "(Ký, ghi rõ họ tên, đóng dấu)", "", "", ""],
        ["", "", "", "", "", "", "", "", "", "GIÁM ĐỐC", "", ""],
    ]
    staged = _stage(tmp_path, render_delimited([VN_HEADER, *ROWS, *numbered, BLANK_ROW, *footer]))

    rows = _loaded_rows(staged)
    assert rows["raw_full_name"].to_list() == NAMES
    assert rows["row_issue"].null_count() == len(ROWS)
    assert staged.raw_metrics["count_blank_rows_dropped"] == len(numbered) + 1
    assert staged.raw_metrics["count_total_rows_dropped"] == len(footer)


def test_a_lone_long_number_or_a_sparse_dose_is_still_a_row(tmp_path: Path) -> None:
    id_only = ["", "", "", "", "079190364536", "", "", "", "", "", "", ""]  # not a row number
    no_name = ["", "", "", "", "", "", "", "Pfizer", "", "1", "25/10/2021", ""]

    rows = _loaded_rows(_stage(tmp_path, render_delimited([VN_HEADER, *ROWS, id_only, no_name])))

    assert rows.height == len(ROWS) + 2
