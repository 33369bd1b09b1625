"""XLSX (and other calamine-readable workbooks) -> the same record grid as delimited text.

The first sheet is read with fastexcel (calamine), every cell as a string, which keeps what the
cell holds: a number stays its digits ("62097728627", so an ID that lost its leading zero keeps
the digits it has; the normalize stage restores zeros), an Excel date serial stored as a plain
number stays its number text ("44263"), a text cell stays its text ("1.09901E+11"). A cell
formatted as a date or datetime becomes ISO: "2021-08-18" at midnight, else "2021-08-18 07:05:15".
The grid also gives each date cell its kind (`cell_kinds`: the display order of its number format),
the evidence that normalize needs to undo a spreadsheet locale that turned d/m/y text into
month-first dates.

A workbook can kill the process that parses it: calamine allocates the whole <dimension> up front
(A1:XFD1048576 in a 2 KB file asks for 512 GB and aborts, which no `except` catches), and a small
zip can unpack to millions of rows. So every workbook is first checked against cheap bounds read
from the zip directory and the sheet's <dimension> (`check_workbook_bounds`), and then parsed in a
separate reader process with an address-space and time limit (`read_first_sheet_safely`,
`read_sheets_safely`): an abort or out-of-memory there becomes an exception here, and the file is
quarantined while the night goes on. The reader process is started once and reused for every file
until it dies, so the cost per file is one round trip over a pipe.
"""

from __future__ import annotations

import os
import pickle
import re
import resource
import select
import signal
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import polars as pl

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"

# Bounds a workbook must fit before it is parsed. A facility export is at most a few hundred
# thousand rows of ~20 columns: 20 MB of xlsx, a few hundred MB unpacked.
MEGABYTE = 1024 * 1024
MAX_WORKBOOK_BYTES = 100 * MEGABYTE
MAX_UNPACKED_BYTES = 1024 * MEGABYTE  # all zip members together, as the zip directory declares them
MAX_SHEET_ROWS = 500_000
MAX_SHEET_CELLS = 20_000_000  # rows x columns of the first sheet's <dimension>
DIMENSION_SEARCH_BYTES = 64 * 1024  # <dimension> sits near the start of the sheet XML
# Limits of the reader process: an allocation beyond the memory limit aborts it, not the night.
READER_MEMORY_BYTES = 3 * 1024 * MEGABYTE
READER_SECONDS_PER_FILE = 120

DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]{0,3})(\d*)(?::([A-Z]{1,3})(\d+))?\"")
SHEET_ENTRY = re.compile(rb"<(?:\w+:)?sheet\b[^>]*?\br:id=\"([^\"]+)\"")
RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
ATTRIBUTE = re.compile(rb"\b(Id|Target)=\"([^\"]*)\"")

DATE_CELL = "date"  # a date cell whose display order is unknown; else "date_<order>"


def named_as_workbook(source_file: str) -> bool:
    """Whether a landed file's name says workbook (its content decides how it is read; this only groups)."""
    return Path(source_file).suffix.lower() in WORKBOOK_SUFFIXES


class WorkbookUnreadableError(Exception):
    """calamine could not open the workbook or its first sheet (corrupt, encrypted, not a workbook)."""


class WorkbookTooLargeError(Exception):
    """The workbook exceeds a bound, or parsing it exhausted the reader's memory or time limit.

    `str(error)` is a one-line detail for the ledger that names no person."""


@dataclass(frozen=True)
class SheetCells:
    """One sheet as read: `text` holds every cell as a string (null when empty); `kinds`, for the
    first sheet, has the same shape: null, or the date cell's kind: "date", "date_month_first",
    "date_day_first", "date_year_first", "date_mixed" (see workbook_date_orders)."""

    text: pl.DataFrame
    kinds: pl.DataFrame


def looks_like_workbook(head: bytes) -> bool:
    return head.startswith((ZIP_MAGIC, OLE2_MAGIC))


# Parts every Office Open XML (xlsx, xlsm, xlsb) or OpenDocument (ods) workbook holds at its root.
_WORKBOOK_PACKAGE_PARTS = frozenset({"[Content_Types].xml", "mimetype", "META-INF/manifest.xml"})


def plain_zip_members(path: Path) -> int | None:
    """How many files a zip archive holds when it is not a workbook package (a facility zipping its
    exports, `DS_tiem.zip`), else None (a workbook, damaged or not, or no readable zip at all)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return None
    return None if _WORKBOOK_PACKAGE_PARTS.intersection(names) else len(names)


def markup_named_as_workbook(head: bytes) -> str | None:
    """What a file named .xls (or .xlsx) holds when it is markup, not a workbook: web platforms'
    "Export to Excel" writes an HTML table or an Excel 2003 XML spreadsheet under that name (Excel
    opens both with a warning; calamine reads neither). None when `head` (the first KiB) is not markup."""
    text = head.replace(b"\x00", b"").removeprefix(b"\xef\xbb\xbf").removeprefix(b"\xff\xfe")
    text = text.removeprefix(b"\xfe\xff").lstrip().lower()
    if not text.startswith(b"<"):
        return None
    if b"urn:schemas-microsoft-com:office:spreadsheet" in text or b"<workbook" in text:
        return "an Excel 2003 XML spreadsheet"
    if any(tag in text for tag in (b"<html", b"<table", b"<!doctype html", b"<meta")):
        return "an HTML page"
    return "an XML or HTML document"


# --- bounds ----------------------------------------------------------------------------------------


def check_workbook_bounds(path: Path) -> None:
    """Raise WorkbookTooLargeError when the workbook is too big to parse safely.

    Reads only the file size, the zip directory and the first kilobytes of the first sheet's XML,
    so it costs milliseconds whatever the workbook holds. A file that is not a zip (.xls) is checked
    by its size only; a broken zip is left for the reader to report as unreadable."""
    size = path.stat().st_size
    if size > MAX_WORKBOOK_BYTES:
        raise WorkbookTooLargeError(
            f"the workbook is {size / MEGABYTE:.0f} MB, over the {MAX_WORKBOOK_BYTES // MEGABYTE} MB limit"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            _check_zip_bounds(archive)
    # zlib: a damaged member; NotImplementedError: a member's zip version or compression zipfile lacks
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, ValueError, zlib.error, NotImplementedError):
        return


def _check_zip_bounds(archive: zipfile.ZipFile) -> None:
    unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > MAX_UNPACKED_BYTES:
        raise WorkbookTooLargeError(
            f"the workbook unpacks to {unpacked / MEGABYTE:.0f} MB,"
            f" over the {MAX_UNPACKED_BYTES // MEGABYTE} MB limit"
        )
    sheet = _first_sheet_member(archive)
    if sheet is None:
        return
    with archive.open(sheet) as stream:
        head = stream.read(DIMENSION_SEARCH_BYTES)
    found = DIMENSION.search(head)
    if found is None:
        return
    first_column, first_row, last_column, last_row = found.groups()
    if last_row is None:  # a single cell: ref="A1"
        last_column, last_row = first_column, first_row
    rows = int(last_row) - int(first_row or b"1") + 1
    columns = _column_number(last_column) - _column_number(first_column or b"A") + 1
    if rows > MAX_SHEET_ROWS or rows * columns > MAX_SHEET_CELLS:
        raise WorkbookTooLargeError(
            f"the first sheet spans {rows} rows x {columns} columns"
            f" (limits {MAX_SHEET_ROWS} rows, {MAX_SHEET_CELLS} cells)"
        )


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


def _first_sheet_member(archive: zipfile.ZipFile) -> str | None:
    """The zip member of the first sheet: xlsx through workbook.xml and its relationships; the
    fallback is the lowest-numbered worksheet part. ODS keeps every sheet in content.xml."""
    names = set(archive.namelist())
    if "content.xml" in names and "xl/workbook.xml" not in names:
        return None  # ODS: no <dimension>; the reader's limits guard it
    try:
        entry = SHEET_ENTRY.search(archive.read("xl/workbook.xml"))
        relationships = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        entry, relationships = None, b""
    if entry is not None:
        for tag in RELATIONSHIP.findall(relationships):
            attributes = dict(ATTRIBUTE.findall(tag))
            if attributes.get(b"Id") == entry.group(1):
                target = attributes.get(b"Target", b"").decode("utf-8", "replace")
                member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                if member in names:
                    return member
    worksheets = sorted(
        (name for name in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name)),
        key=lambda name: int(re.sub(r"\D", "", name)),
    )
    return worksheets[0] if worksheets else None


# --- date display order from number formats --------------------------------------------------------
# A swap hides only in a date cell shown day-and-month before the year. The order of each date cell's
# format is read per cell where it matters (a workbook whose date formats differ: LibreOffice en-US
# shows swapped cells as mm/dd/yy and cells it made from ISO text as yyyy-mm-dd), else per workbook.

MONTH_FIRST, DAY_FIRST, YEAR_FIRST, UNKNOWN_ORDER = "month_first", "day_first", "year_first", "unknown"
XLSX_NUMBER_FORMAT = re.compile(
    rb"<(?:\w+:)?numFmt\b[^>]*?\bnumFmtId=\"(\d+)\"[^>]*?\bformatCode=\"([^\"]*)\""
)
XLSX_CELL_XFS = re.compile(rb"<(?:\w+:)?cellXfs\b.*?</(?:\w+:)?cellXfs>", re.DOTALL)
XLSX_XF = re.compile(rb"<(?:\w+:)?xf\b[^>]*?>")
XLSX_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
XML_ATTRIBUTE = re.compile(rb"([\w:.-]+)=\"([^\"]*)\"")
BUILTIN_DATE_FORMATS = {14, 15, 16, 17, 22, 27, 30, 36, 50, 57}  # shown in the reader's locale: order unknown
ODS_DATE_STYLE = re.compile(rb"<number:date-style\b([^>]*)>(.*?)</number:date-style>", re.DOTALL)
ODS_DATE_PART = re.compile(rb"<number:(day|month|year)\b")
ODS_CELL_STYLE = re.compile(rb"<style:style\b([^>]*)>")
ODS_FIRST_TABLE = re.compile(rb"<table:table\b.*?</table:table>", re.DOTALL)
ODS_ROW = re.compile(rb"<table:table-row\b([^>]*?)(?:/>|>(.*?)</table:table-row>)", re.DOTALL)
ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell\b([^>]*?)(?:/>|>)")
ODS_COLUMN = re.compile(rb"<table:table-column\b([^>]*?)/?>")
# BIFF8 FORMAT records of an .xls workbook stream (record 0x041E: length, format index, then the
# format string: char count, a flag byte 0 = 8-bit or 1 = UTF-16, the chars). Found by their bytes:
# no reader of .xls formats is installed, and only the codes are needed, not which cell uses them.
XLS_FORMAT_RECORD = re.compile(rb"\x1e\x04(..)(..)(..)([\x00\x01])", re.DOTALL)
MAX_ODS_COLUMNS = 1024  # column styles beyond this are not tracked (repeated to the sheet's edge)


def date_format_order(format_code: str) -> str | None:
    """month_first / day_first for a date number format that shows a day and a month before the year
    (M/D/YYYY, dd/mm/yy); year_first when the year comes first (yyyy-mm-dd); unknown for a date or
    time format without both; None when it is not a date format. Quoted text, [colour] codes and
    escapes are ignored; m next to h or s is minutes."""
    code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", format_code.lower())
    code = re.sub(r"(h+[^a-z]*)m+|m+([^a-z]*s)", r"\1\2", code)
    day, month, year = code.find("d"), code.find("m"), code.find("y")
    if day < 0 and month < 0 and year < 0:
        return UNKNOWN_ORDER if "h" in code or "s" in code else None
    if day < 0 or month < 0 or year < 0:
        return UNKNOWN_ORDER
    if year < min(day, month):
        return YEAR_FIRST
    return MONTH_FIRST if month < day else DAY_FIRST


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    return dict(XML_ATTRIBUTE.findall(tag))


def combined_date_order(orders: set[str]) -> str | None:
    """The kind of every date cell of a workbook, when they cannot be told apart one by one: its one
    order; "day_first" when the day/month formats are all day-first (a day-first locale swaps
    nothing; year-first cells were typed ISO); "mixed" when month-first formats sit beside others
    (a cell may be swapped or typed ISO: nothing is sure); None when there is no date format."""
    shown = orders - {YEAR_FIRST, UNKNOWN_ORDER}
    if MONTH_FIRST in shown:
        return MONTH_FIRST if orders == {MONTH_FIRST} else "mixed"
    if shown == {DAY_FIRST}:
        return DAY_FIRST
    if orders == {YEAR_FIRST}:
        return YEAR_FIRST
    return UNKNOWN_ORDER if orders else None


def xlsx_date_orders(archive: zipfile.ZipFile, sheet: str) -> tuple[str | None, list[str] | None]:
    """(the workbook's order, the order of each date-valued cell of `sheet` in document order).

    The per-cell list is read only when the date formats disagree (None otherwise: the workbook's
    order is every cell's)."""
    styles = archive.read("xl/styles.xml") if "xl/styles.xml" in archive.namelist() else b""
    codes = {
        int(number): code.decode("utf-8", "replace") for number, code in XLSX_NUMBER_FORMAT.findall(styles)
    }
    cell_xfs = XLSX_CELL_XFS.search(styles)
    style_orders: list[str | None] = []
    for xf in XLSX_XF.findall(cell_xfs.group(0)) if cell_xfs else []:
        number = int(_attributes(xf).get(b"numFmtId", b"0"))
        if number in codes:
            style_orders.append(date_format_order(codes[number]))
        else:
            style_orders.append(UNKNOWN_ORDER if number in BUILTIN_DATE_FORMATS else None)
    orders = {order for order in style_orders if order is not None}
    if len(orders) <= 1:
        return combined_date_order(orders), None
    per_cell = []
    for attributes, content in XLSX_CELL.findall(archive.read(sheet)):
        cell = _attributes(attributes)
        style = int(cell.get(b"s", b"0"))
        order = style_orders[style] if style < len(style_orders) else None
        if order is not None and cell.get(b"t", b"n") == b"n" and b"<v>" in (content or b""):
            per_cell.append(order)
    return combined_date_order(orders), per_cell


def ods_date_orders(archive: zipfile.ZipFile) -> tuple[str | None, list[str] | None]:
    """The same for an ODS workbook's first table: date cells are office:value-type="date", their
    order that of the date style behind their cell style; repeated rows and cells counted."""
    names = set(archive.namelist())
    content = archive.read("content.xml")
    xml = (archive.read("styles.xml") if "styles.xml" in names else b"") + content
    date_styles = {}
    for attributes, parts in ODS_DATE_STYLE.findall(xml):
        shown = [part.decode() for part in ODS_DATE_PART.findall(parts)]
        code = "/".join(part[0] for part in shown)  # "m/d/y", "y/m/d", ...
        date_styles[_attributes(attributes).get(b"style:name")] = date_format_order(code.replace("y", "yy"))
    cell_styles = {
        attributes.get(b"style:name"): date_styles.get(attributes.get(b"style:data-style-name"))
        for attributes in map(_attributes, ODS_CELL_STYLE.findall(xml))
    }
    orders = {order for order in date_styles.values() if order is not None}
    table = ODS_FIRST_TABLE.search(content)
    if len(orders) <= 1 or table is None:
        return combined_date_order(orders), None
    column_styles: list[bytes | None] = []  # a cell without a style takes its column's default
    for column in map(_attributes, ODS_COLUMN.findall(table.group(0))):
        repeats = min(int(column.get(b"table:number-columns-repeated", b"1")), MAX_ODS_COLUMNS)
        column_styles += [column.get(b"table:default-cell-style-name")] * repeats
    per_cell = []
    for row_attributes, row in ODS_ROW.findall(table.group(0)):
        row_repeats = int(_attributes(row_attributes).get(b"table:number-rows-repeated", b"1"))
        cells, position = [], 0
        for cell in map(_attributes, ODS_CELL.findall(row or b"")):
            repeats = int(cell.get(b"table:number-columns-repeated", b"1"))
            if cell.get(b"office:value-type") == b"date":
                column_style = column_styles[position] if position < len(column_styles) else None
                style = cell.get(b"table:style-name", column_style)
                cells += [cell_styles.get(style) or UNKNOWN_ORDER] * repeats
            position += repeats
        per_cell += cells * row_repeats
    return combined_date_order(orders), per_cell


def xls_date_order(path: Path) -> str | None:
    """The combined order of an .xls workbook's custom date formats (no per-cell orders: which cell
    uses which format is not read, so a workbook with two kinds of date format is "mixed")."""
    data = path.read_bytes()
    codes = []
    for found in XLS_FORMAT_RECORD.finditer(data):
        length, count, wide = (
            int.from_bytes(found.group(1), "little"),
            int.from_bytes(found.group(3), "little"),
            found.group(4) == b"\x01",
        )
        raw = data[found.end() : found.end() + count * (2 if wide else 1)]
        if length == 5 + len(raw):  # a real FORMAT record: its length is the index, count, flag and chars
            codes.append(raw.decode("utf-16-le" if wide else "latin-1", "replace"))
    return combined_date_order({order for code in codes if (order := date_format_order(code)) is not None})


def xls_date_orders(path: Path) -> tuple[str | None, list[str] | None]:
    """.xls: with xlrd installed, the order of each date cell's format, as for xlsx; without it,
    only the workbook's combined order from its FORMAT records (xls_date_order)."""
    try:
        import xlrd  # type: ignore[import-not-found,unused-ignore]  # optional: not a locked dependency
    except ImportError:
        return xls_date_order(path), None
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except Exception:  # xlrd raises its own errors on damaged files; calamine judges the file
        return xls_date_order(path), None
    codes = {
        key: UNKNOWN_ORDER if key in BUILTIN_DATE_FORMATS else date_format_order(found.format_str or "")
        for key, found in book.format_map.items()
    }
    style_orders = [codes.get(xf.format_key) for xf in book.xf_list]
    orders = {order for order in style_orders if order is not None}
    if len(orders) <= 1 or book.nsheets == 0:
        return combined_date_order(orders), None
    sheet = book.sheet_by_index(0)
    per_cell = [  # row-major, as calamine's date cells are matched
        style_orders[sheet.cell_xf_index(row, column)] or UNKNOWN_ORDER
        for row in range(sheet.nrows)
        for column in range(sheet.ncols)
        if sheet.cell_type(row, column) == xlrd.XL_CELL_DATE
    ]
    return combined_date_order(orders), per_cell


def workbook_date_orders(path: Path) -> tuple[str | None, list[str] | None]:
    """(the workbook's date display order, per date cell of the first sheet when they differ).

    The order is month_first, day_first, year_first, mixed (formats disagree) or unknown (built-in
    formats that follow the reader's locale); None when there is no date format or the file is not
    a zip (.xls formats are not read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                sheet = _first_sheet_member(archive)
                return xlsx_date_orders(archive, sheet) if sheet else (None, None)
            if "content.xml" in names:
                return ods_date_orders(archive)
    except zipfile.BadZipFile:
        with path.open("rb") as handle:
            is_xls = handle.read(len(OLE2_MAGIC)) == OLE2_MAGIC
        return xls_date_orders(path) if is_xls else (None, None)
    except (OSError, KeyError, EOFError, ValueError, zlib.error, NotImplementedError):  # as above
        pass
    return None, None


# --- the reader process ----------------------------------------------------------------------------

SheetChoice = Literal["first", "all", "data"]  # "data": every sheet, each with its date-cell kinds


def _load_sheets(path: str, which: SheetChoice) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """In the reader process: every cell as text, and for the first sheet the kind of each cell:
    null, or for a date cell "date_<order>" (see workbook_date_orders; "date" when the order is not
    known). A date cell is one that calamine reads as a date AND whose text is ISO: a plain number
    that a date read would also turn into a date keeps its digits as text. Plain tuples, not
    SheetCells: the reader runs this file as a script, whose classes the caller cannot unpickle."""
    import fastexcel

    reader = fastexcel.read_excel(path)
    names = reader.sheet_names[:1] if which == "first" else reader.sheet_names
    sheets = {}
    orders: tuple[str | None, list[str] | None] | None = None
    for name in names:
        text = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        kinds = pl.DataFrame()
        if which != "all" and text.width:
            as_dates = reader.load_sheet(name, header_row=None, dtypes="date").to_polars()
            # A number cell that the date read also converts keeps its digits in `text`: no "-" at 4.
            read_as_date = as_dates.select(pl.all().is_not_null().name.suffix("_is_date"))
            is_date = pl.concat([text, read_as_date], how="horizontal").select(
                (pl.col(f"{column}_is_date") & (pl.col(column).str.slice(4, 1) == "-"))
                .fill_null(False)
                .alias(column)
                for column in text.columns
            )
            if orders is None:
                orders = workbook_date_orders(Path(path))
                kinds = date_cell_kinds(is_date, *orders)
            else:  # the per-cell orders are the first sheet's: later sheets get the workbook's order
                kinds = date_cell_kinds(is_date, orders[0], None)
        sheets[name] = (text, kinds)
    return sheets


def date_cell_kinds(is_date: pl.DataFrame, order: str | None, per_cell: list[str] | None) -> pl.DataFrame:
    """The kind of every cell (same shape as `is_date`): the per-cell orders, matched to the date
    cells in row-major order when their counts agree; else the workbook's order for every date cell
    ("mixed" when the formats disagree: no cell is trusted to be unswapped or swapped)."""
    column_kind = pl.lit(f"{DATE_CELL}_{order}" if order and order != UNKNOWN_ORDER else DATE_CELL)
    uniform = is_date.select(pl.when(pl.col(name)).then(column_kind).alias(name) for name in is_date.columns)
    if per_cell is None:
        return uniform
    width = is_date.width
    positions = is_date.select(pl.concat_list(pl.all()).alias("cells")).with_row_index("row").explode("cells")
    positions = positions.with_columns(column=pl.int_range(pl.len()).over("row"))
    dated = positions.filter(pl.col("cells"))
    if dated.height != len(per_cell):
        return uniform.select(
            pl.when(pl.col(name).is_not_null()).then(pl.lit(f"{DATE_CELL}_mixed")).alias(name)
            for name in uniform.columns
        )
    kinds = pl.Series(
        "kind",
        [f"{DATE_CELL}_{cell}" if cell != UNKNOWN_ORDER else DATE_CELL for cell in per_cell],
        dtype=pl.String,
    )
    dated = dated.with_columns(kind=kinds)
    grid = positions.join(
        dated.select("row", "column", "kind"), on=["row", "column"], how="left", maintain_order="left"
    )
    return (
        grid.group_by("row", maintain_order=True)
        .agg("kind")
        .select(pl.col("kind").list.get(index).alias(is_date.columns[index]) for index in range(width))
    )


def serve_sheet_requests(memory_bytes: int = READER_MEMORY_BYTES) -> None:
    """The reader process's loop: a pickled (path, which) in, a status byte and a pickled answer out.

    Runs until its input closes. Status b"O": {sheet name: SheetCells}; b"E": the error's type name."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        request = _read_message(requests)
        if request is None:
            return
        path, which = pickle.loads(request)
        try:
            status, payload = b"O", pickle.dumps(_load_sheets(path, which), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # calamine raises its own error types, and more than one of them
            status, payload = b"E", pickle.dumps(type(error).__name__)
        answers.write(status + len(payload).to_bytes(8, "big") + payload)
        answers.flush()


def _read_message(stream: IO[bytes]) -> bytes | None:
    size = stream.read(8)
    if len(size) < 8:
        return None
    return stream.read(int.from_bytes(size, "big"))


class _ReaderProcess:
    """One long-lived reader process; a new one is started after one dies or times out."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve())],  # this file alone: no package imports
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # calamine's panic text may quote cell contents
        )
        self.owner = os.getpid()

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def ask(self, path: Path, which: SheetChoice, seconds: float) -> tuple[bytes, bytes]:
        assert self.process.stdin is not None and self.process.stdout is not None
        request = pickle.dumps((str(path), which))
        self.process.stdin.write(len(request).to_bytes(8, "big") + request)
        self.process.stdin.flush()
        answer = self.process.stdout
        header = self._read_exactly(answer, 9, time.monotonic() + seconds)
        return header[:1], self._read_exactly(
            answer, int.from_bytes(header[1:], "big"), time.monotonic() + seconds
        )

    def _read_exactly(self, stream: IO[bytes], size: int, deadline: float) -> bytes:
        chunks, received = [], 0
        descriptor = stream.fileno()
        while received < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([descriptor], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(descriptor, min(size - received, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            received += len(chunk)
        return b"".join(chunks)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


_reader: _ReaderProcess | None = None
_reader_lock = threading.Lock()


def _read_in_reader_process(path: Path, which: SheetChoice) -> dict[str, SheetCells]:
    global _reader
    with _reader_lock:
        if _reader is None or not _reader.alive():
            _reader = _ReaderProcess()
        reader = _reader
        try:
            status, payload = reader.ask(path, which, READER_SECONDS_PER_FILE)
        except TimeoutError as error:
            reader.stop()
            raise WorkbookTooLargeError(
                f"parsing the workbook took over {READER_SECONDS_PER_FILE} s, the reader was stopped"
            ) from error
        except (EOFError, BrokenPipeError) as error:
            reader.stop()
            raise WorkbookTooLargeError(_death_detail(reader.process.returncode)) from error
    if status == b"E":
        raise WorkbookUnreadableError(pickle.loads(payload))
    sheets: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = pickle.loads(payload)
    return {name: SheetCells(*parts) for name, parts in sheets.items()}


def stop_workbook_reader() -> None:
    """Stop this process's reader process, if one runs (the next workbook read starts another)."""
    global _reader
    with _reader_lock:
        if _reader is not None and _reader.alive():
            _reader.stop()
        _reader = None


def _death_detail(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            cause = signal.Signals(-returncode).name
        except ValueError:
            cause = f"signal {-returncode}"
    else:
        cause = f"exit code {returncode}"
    return (
        f"the workbook reader died while parsing ({cause}): it needed more than"
        f" {READER_MEMORY_BYTES // MEGABYTE} MB of memory, or the file is malformed"
    )


def read_sheets_safely(path: Path) -> dict[str, pl.DataFrame]:
    """Every sheet of a workbook, by name, every cell a string (no header row: row 1 is row 0).

    Raises WorkbookTooLargeError (over a bound, or the reader died or ran out of time) or
    WorkbookUnreadableError (calamine cannot open it). Never kills the calling process."""
    check_workbook_bounds(path)
    return {name: sheet.text for name, sheet in _read_in_reader_process(path, "all").items()}


def read_first_sheet_safely(path: Path) -> SheetCells:
    """The first sheet with its date-cell evidence; the same errors as read_sheets_safely."""
    check_workbook_bounds(path)
    sheets = _read_in_reader_process(path, "first")
    if not sheets:
        raise WorkbookUnreadableError("NoSheet")
    sheet = next(iter(sheets.values()))
    if sheet.text.height > MAX_SHEET_ROWS:  # a sheet without <dimension> is only measured once read
        raise WorkbookTooLargeError(f"the first sheet has {sheet.text.height} rows (limit {MAX_SHEET_ROWS})")
    return sheet


def read_data_sheets_safely(path: Path) -> dict[str, SheetCells]:
    """Every sheet by name, in workbook order, each with its date-cell evidence; the same errors as
    read_sheets_safely."""
    check_workbook_bounds(path)
    sheets = _read_in_reader_process(path, "data")
    if not sheets:
        raise WorkbookUnreadableError("NoSheet")
    for number, sheet in enumerate(sheets.values(), start=1):
        if sheet.text.height > MAX_SHEET_ROWS:  # a sheet without <dimension> is only measured once read
            which = "the first sheet" if number == 1 else f"sheet {number}"
            raise WorkbookTooLargeError(f"{which} has {sheet.text.height} rows (limit {MAX_SHEET_ROWS})")
    return sheets


GRID_SCHEMA: dict[str, pl.DataType] = {
    "line_number": pl.Int32(),
    "cells": pl.List(pl.String),
    "cell_kinds": pl.List(pl.String),
    "field_count": pl.Int32(),
}


def read_first_sheet(path: Path) -> pl.DataFrame:
    """The first sheet as a grid: `line_number` (1-based sheet row), `cells` (List[String], blank ->
    null), `cell_kinds` (List[String]: null for a text or number cell, else the date cell's kind, see
    SheetCells), `field_count`."""
    return sheet_grid(read_first_sheet_safely(path))


def read_sheet_grids(path: Path) -> dict[str, pl.DataFrame]:
    """Every sheet as a grid (read_first_sheet's columns), by name in workbook order."""
    return {name: sheet_grid(sheet) for name, sheet in read_data_sheets_safely(path).items()}


def sheet_grid(sheet: SheetCells) -> pl.DataFrame:
    frame = sheet.text
    if frame.width == 0:
        return pl.DataFrame(schema=GRID_SCHEMA)
    kinds = [
        pl.lit(sheet.kinds.to_series(index)) if sheet.kinds.width == frame.width else pl.lit(None, pl.String)
        for index in range(frame.width)
    ]
    cleaned = [
        pl.when(pl.col(name).str.strip_chars() != "").then(pl.col(name).str.replace(MIDNIGHT, "$1"))
        for name in frame.columns
    ]
    return frame.select(
        line_number=pl.int_range(1, frame.height + 1, dtype=pl.Int32),
        cells=pl.concat_list(cleaned),
        cell_kinds=pl.concat_list(kinds).cast(pl.List(pl.String)),
        field_count=pl.lit(frame.width, dtype=pl.Int32),
    )


def date_cell_marker(field_columns: dict[str, tuple[int, ...]], fields: tuple[str, ...]) -> pl.Expr:
    """The staged `cell_kinds` of a grid row: "<field>=<kind>" joined by ";" for each of `fields`
    whose value came from a date cell (the cell field_value picks: the first filled of its
    columns), null when none did."""
    parts = []
    for field in fields:
        positions = field_columns.get(field, ())
        if not positions:
            continue
        kind: pl.Expr = pl.lit(None, dtype=pl.String)
        for position in reversed(positions):
            filled = pl.col("cells").list.get(position, null_on_oob=True).is_not_null()
            kind = (
                pl.when(filled)
                .then(pl.col("cell_kinds").list.get(position, null_on_oob=True))
                .otherwise(kind)
            )
        parts.append(pl.lit(f"{field}=") + kind)
    if not parts:
        return pl.lit(None, dtype=pl.String)
    joined = pl.concat_str(parts, separator=";", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


if __name__ == "__main__":
    serve_sheet_requests()
