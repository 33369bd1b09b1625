"""Reading generated export files back, independently of the ingest stage, to check the generator."""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import fastexcel
import polars as pl
import viparse

TEXT_DECODINGS = {
    "csv_utf8": "utf-8",
    "csv_utf8_bom_semicolon": "utf-8-sig",
    "csv_cp1258": "cp1258",
    "csv_utf8_double_encoded": "utf-8",
    "tsv_utf8": "utf-8",
    "utf16_tab": "utf-16",
    "utf16be_tab": "utf-16",
}
DELIMITERS = {"csv_utf8_bom_semicolon": ";", "tsv_utf8": "\t", "utf16_tab": "\t", "utf16be_tab": "\t"}
TOTAL_ROW = re.compile(r"^(Tổng cộng|Tổng số|Cộng|Total|Grand total):", re.IGNORECASE)


def decode(data: bytes, file_format: str) -> str:
    """The file's text as written (not normalised); legacy fonts converted with viparse.

    viparse returns NFC; TCVN3 capitals with tones come back lowercase (the font has none).
    """
    if file_format in ("csv_tcvn3", "csv_vni"):
        return viparse.fix(data.decode("latin-1"), encoding=file_format.removeprefix("csv_"))
    if file_format == "csv_utf8_double_encoded":
        return undo_double_encoding(data.decode("utf-8"))
    return data.decode(TEXT_DECODINGS[file_format])


def undo_double_encoding(text: str) -> str:
    """UTF-8 text that was read as cp1252 and saved again, back to the original."""
    byte_of = {}
    for byte in range(256):
        try:
            byte_of[bytes([byte]).decode("cp1252")] = byte
        except UnicodeDecodeError:
            byte_of[chr(byte)] = byte
    return bytes(byte_of[char] for char in text).decode("utf-8")


def data_lines(path: Path, file_format: str, header_line: int) -> list[list[str]]:
    """Cells of the rows after the first `header_line` lines, without blank and total rows."""
    text = decode(path.read_bytes(), file_format)
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for cells in csv.reader(lines[header_line:], delimiter=DELIMITERS.get(file_format, ",")):
        if all(cell.strip() == "" for cell in cells):
            continue
        # Windows-1258 spells tones with combining marks: compare in NFC.
        if any(TOTAL_ROW.match(unicodedata.normalize("NFC", cell)) for cell in cells[:3]):
            continue
        rows.append(cells)
    return rows


def xlsx_data_rows(path: Path, header_line: int) -> list[list[object]]:
    sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None).to_polars()
    rows = []
    for values in sheet.slice(header_line).iter_rows():
        if all(value in (None, "") for value in values):
            continue
        if any(isinstance(value, str) and TOTAL_ROW.match(value + ":") for value in values[:3]):
            continue
        rows.append(list(values))
    return rows


def first_column_numbers(rows: list[list[str]]) -> list[int]:
    return [int(float(str(row[0]))) for row in rows if re.fullmatch(r"\d+(\.0)?", str(row[0]).strip())]


def truth_of(truth: pl.DataFrame, source_file: str) -> pl.DataFrame:
    return truth.filter(pl.col("source_file") == source_file).sort("source_row")
