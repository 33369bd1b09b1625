"""Bytes on disk: each export file in its format and encoding, and the junk files facilities also drop.

Row numbering (truth.source_row): the 1-based position of a data row among the file's data rows.
Preamble lines, the header, blank rows and the trailing total row are not data rows and are not
counted; a truncated last line is a data row. When the file has an STT/No. column it equals source_row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xlsxwriter

from synth.catalogues import (
    STAFF_LIST_HEADER,
    STAFF_ROLES,
    STAFF_SHIFTS,
    STOCK_REPORT_HEADER,
    TOTAL_ROW_LABELS,
    TOTAL_ROW_LABELS_EN,
)
from synth.defects import FILE_FORMATS
from synth.legacy_text import encode_cp1258, encode_tcvn3, encode_vni, utf8_as_cp1252
from synth.templates import TEMPLATES, file_columns

CRLF_FORMATS = frozenset(
    {"csv_cp1258", "csv_utf8_bom_semicolon", "tsv_utf8", "utf16_tab", "utf16be_tab", "csv_tcvn3", "csv_vni"}
)
XLSX_CREATED = dt.datetime(2022, 1, 1)  # fixed document date: the same seed gives the same bytes
SHEET_NAMES = ("Danh sách", "Sheet1", "DS tiem", "Data", "Danh sach tiem")


@dataclass(frozen=True)
class WrittenFile:
    is_truncated: bool  # the last data row was cut short
    header_line: int  # 1-based physical line (CSV) or row (XLSX) of the header


def encode_text(text: str, file_format: str) -> bytes:
    if file_format == "csv_utf8_bom_semicolon":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if file_format == "csv_cp1258":
        return encode_cp1258(text)
    if file_format == "csv_tcvn3":
        return encode_tcvn3(text)
    if file_format == "csv_vni":
        return encode_vni(text)
    if file_format == "csv_utf8_double_encoded":
        return utf8_as_cp1252(text).encode("utf-8")
    if file_format == "utf16_tab":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if file_format == "utf16be_tab":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode("utf-8")


def _quoted(cell: str, delimiter: str) -> str:
    if delimiter in cell or '"' in cell or "\n" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _preamble_lines(file_row: dict[str, Any]) -> list[str]:
    """Report title lines above the header: province health department, facility, title, date."""
    count = int(file_row["count_preamble_rows"])
    if count == 0:
        return []
    exported = file_row["exported_on"]
    assert isinstance(exported, dt.date)
    candidates = [
        f"SỞ Y TẾ {str(file_row['province_name']).upper()}",
        str(file_row["facility_name"]).upper(),
        "DANH SÁCH NGƯỜI ĐÃ TIÊM VẮC XIN PHÒNG COVID-19",
        f"Đơn vị: {file_row['facility_name']}",
        f"Ngày xuất báo cáo: {exported:%d/%m/%Y}",
    ]
    lines = candidates[:count] if count < len(candidates) else candidates
    return [*lines, ""] if count >= 3 else lines


def _cut_last_line(line: str, delimiter: str, rng: np.random.Generator) -> str:
    """The last line as a crashed export leaves it: cut after a field boundary, outside quotes."""
    boundaries, inside = [], False
    for position, char in enumerate(line):  # one line per truncated file
        if char == '"':
            inside = not inside
        elif char == delimiter and not inside:
            boundaries.append(position)
    if len(boundaries) < 2:
        return line[: max(1, len(line) // 2)]
    cut = boundaries[int(rng.integers(len(boundaries) // 3, len(boundaries) - 1))]
    extra = 0 if line[cut + 1 : cut + 2] == '"' else int(rng.integers(0, 4))  # no half-open quote
    next_boundary = boundaries[boundaries.index(cut) + 1]
    return line[: min(cut + 1 + extra, next_boundary)]


def write_text_file(
    path: Path,
    rows: pl.DataFrame,
    file_row: dict[str, Any],
    columns: list[tuple[str, str]],
    rng: np.random.Generator,
) -> WrittenFile:
    file_format = str(file_row["file_format"])
    delimiter = FILE_FORMATS[file_format][2] or ","
    newline = "\r\n" if file_format in CRLF_FORMATS else "\n"
    width = len(columns)
    # Blank cells as nothing between delimiters (null), as spreadsheet exports write them, not as "".
    body = rows.select(
        pl.when(pl.col(column) != "").then(pl.col(column)).alias(f"c{i}")
        for i, (_, column) in enumerate(columns)
    )
    data_lines = body.write_csv(include_header=False, separator=delimiter, line_terminator="\n").split("\n")[
        :-1
    ]
    lines: list[str] = []
    for text in _preamble_lines(file_row):
        lines.append(_quoted(text, delimiter) + (delimiter * (width - 1) if rng.random() < 0.5 else ""))
    header_line = len(lines) + 1
    lines.append(delimiter.join(_quoted(header, delimiter) for header, _ in columns))
    truncated = bool(file_row["is_truncated"]) and len(data_lines) > 0
    blank_count = int(file_row["count_blank_rows"])
    blank_after = (
        set(rng.integers(0, max(len(data_lines) - 1, 1), blank_count).tolist()) if data_lines else set()
    )
    for index, line in enumerate(data_lines):
        is_last = index == len(data_lines) - 1
        lines.append(_cut_last_line(line, delimiter, rng) if truncated and is_last else line)
        if index in blank_after and not is_last:
            lines.append("" if rng.random() < 0.5 else delimiter * (width - 1))
    if file_row["has_total_row"] and not truncated:
        labels = TOTAL_ROW_LABELS_EN if file_row["template"] == "english" else TOTAL_ROW_LABELS
        label = labels[int(rng.integers(0, len(labels)))]
        cells = [""] * width
        cells[min(1, width - 1)] = f"{label}: {len(data_lines)}"
        lines.append(delimiter.join(cells))
    text = newline.join(lines) + ("" if truncated else newline)
    path.write_bytes(encode_text(text, file_format))
    return WrittenFile(is_truncated=truncated, header_line=header_line)


def write_xlsx_file(
    path: Path,
    rows: pl.DataFrame,
    file_row: dict[str, Any],
    columns: list[tuple[str, str]],
    rng: np.random.Generator,
) -> WrittenFile:
    """XLSX through xlsxwriter: IDs and phones as numbers when the software does so, dates as serials."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_urls": False})
    workbook.set_properties({"created": XLSX_CREATED, "author": "TYT"})
    sheet = workbook.add_worksheet(SHEET_NAMES[int(rng.integers(0, len(SHEET_NAMES)))])
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    numeric_columns = {"out_stt"}
    if file_row["is_ids_as_numbers"]:
        numeric_columns |= {"out_id_number", "out_phone"}
    date_columns = {
        column: str(file_row[style])
        for column, style in (("out_date_of_birth", "dob_style"), ("out_vaccinated_on", "vax_style"))
        if str(file_row[style]).startswith("excel")
    }
    row_index = 0
    for text in _preamble_lines(file_row):
        if text:
            sheet.write_string(row_index, 0, text)
        row_index += 1
    header_line = row_index + 1
    for position, (header, _) in enumerate(columns):
        sheet.write_string(row_index, position, header)
    row_index += 1
    blank_count = int(file_row["count_blank_rows"])
    blank_after = set(rng.integers(0, max(len(rows) - 1, 1), blank_count).tolist()) if len(rows) else set()
    names = [column for _, column in columns]
    for index, (*values, is_year_only) in enumerate(
        rows.select(*names, "is_dob_year_only").iter_rows()
    ):  # cell by cell
        for position, (column, value) in enumerate(zip(names, values, strict=True)):
            if not value:
                continue
            is_digits = value.isdigit() and len(value) <= 15
            is_date_cell = date_columns.get(column) == "excel_date"
            if is_date_cell and is_digits and not (column == "out_date_of_birth" and is_year_only):
                sheet.write_number(row_index, position, int(value), date_format)
            elif (column in numeric_columns or column in date_columns) and is_digits:
                sheet.write_number(row_index, position, int(value))
            else:
                sheet.write_string(row_index, position, value)
        row_index += 1
        if index in blank_after and index < len(rows) - 1:
            row_index += 1
    if file_row["has_total_row"]:
        labels = TOTAL_ROW_LABELS_EN if file_row["template"] == "english" else TOTAL_ROW_LABELS
        sheet.write_string(row_index, min(1, len(columns) - 1), labels[int(rng.integers(0, len(labels)))])
        sheet.write_number(row_index, min(2, len(columns) - 1), len(rows))
    workbook.close()
    return WrittenFile(is_truncated=False, header_line=header_line)


def write_export_file(landing: Path, rows: pl.DataFrame, file_row: dict[str, Any]) -> WrittenFile:
    path = landing / str(file_row["source_file"])
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(int(file_row["layout_seed"]) + int(file_row["file_no"]))
    columns = file_columns(
        str(file_row["template"]),
        int(file_row["layout_seed"]),
        bool(file_row["is_columns_shuffled"]),
        int(file_row["count_extra_columns"]),
        bool(file_row["is_duplicate_headers"]),
        bool(file_row["is_header_noise"]),
    )
    if file_row["file_format"] == "xlsx":
        return write_xlsx_file(path, rows, file_row, columns, rng)
    return write_text_file(path, rows, file_row, columns, rng)


# ---------------------------------------------------------------- junk files


def _xlsx_bytes(header: tuple[str, ...], rows: list[list[str]]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"created": XLSX_CREATED})
    sheet = workbook.add_worksheet("Ton kho")
    for column, text in enumerate(header):
        sheet.write_string(0, column, text)
    for row_index, row in enumerate(rows, start=1):
        for column, text in enumerate(row):
            sheet.write_string(row_index, column, text)
    workbook.close()
    return buffer.getvalue()


def junk_file(kind: str, rng: np.random.Generator, facility_name: str) -> tuple[str, bytes, str]:
    """(file name, bytes, format label) of a whole-file defect."""
    if kind == "empty_file":
        return "export_rong.csv", b"", "csv_utf8"
    if kind == "binary_junk":
        size = int(rng.integers(2000, 8000))
        return "export_loi.csv", b"\x00\xe8" + rng.integers(0, 256, size, dtype=np.uint8).tobytes(), "unknown"
    if kind == "office_lock_file":
        owner = b"TYT"
        return "~$DS_tiem.xlsx", bytes([len(owner)]) + owner.ljust(54, b" ") + b"\x00" * 108, "unknown"
    if kind == "header_only":
        header = ",".join(TEMPLATES["vn_diacritics"].values())
        return "DS_tiem_chua_co_du_lieu.csv", (header + "\n").encode("utf-8"), "csv_utf8"
    if kind == "other_template":
        if rng.random() < 0.5:
            lines = [",".join(STAFF_LIST_HEADER)]
            for number in range(1, int(rng.integers(5, 15))):
                role = STAFF_ROLES[int(rng.integers(0, len(STAFF_ROLES)))]
                shift = STAFF_SHIFTS[int(rng.integers(0, len(STAFF_SHIFTS)))]
                phone = f"09{int(rng.integers(0, 10**8)):08d}"
                lines.append(f"{number},Nhân viên {number},{role},{phone},{shift}")
            return "danh_sach_can_bo_tiem.csv", ("\n".join(lines) + "\n").encode("utf-8"), "csv_utf8"
        stock = [
            [
                str(n),
                name,
                f"L{int(rng.integers(1000, 9999))}",
                "31/12/2022",
                str(int(rng.integers(100, 5000))),
                "0",
                "0",
            ]
            for n, name in enumerate(("Pfizer", "Moderna", "Vero Cell", "AstraZeneca", "Abdala"), start=1)
        ]
        return "BaoCao_TonKho_VacXin.xlsx", _xlsx_bytes(STOCK_REPORT_HEADER, stock), "xlsx"
    if kind == "corrupt_xlsx":
        data = _xlsx_bytes(("STT", "Họ và tên", "Ngày sinh"), [["1", facility_name, "01/01/1980"]])
        return "DS_tiem_bi_loi.xlsx", data[: len(data) // 3], "xlsx"
    if kind == "unsupported_format":
        return (
            "BaoCao_TiemChung.pdf",
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
            "unknown",
        )
    raise ValueError(f"unknown whole-file defect: {kind}")


def file_digest(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def is_valid_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.testzip() is None
    except zipfile.BadZipFile:
        return False
