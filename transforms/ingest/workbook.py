"""XLSX (and other calamine-readable workbooks) -> the same record grid as delimited text.

The first sheet is read with fastexcel (calamine), every cell as a string, which keeps what the
cell holds: a number stays its digits ("62097728627", so an ID that lost its leading zero keeps
the digits it has; the normalize stage restores zeros), an Excel date serial stored as a plain
number stays its number text ("44263"), a text cell stays its text ("1.09901E+11"). A cell
formatted as a date or datetime becomes ISO: "2021-08-18" at midnight, else "2021-08-18 07:05:15".
The grid also says which cells were date cells (`date_cells`), and the file's date display order
(`date_cell_order`, from the number formats), the evidence that normalize needs to undo a
spreadsheet locale that turned d/m/y text into month-first dates.

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

DATE_CELL_ORDERS = ("month_first", "day_first", "mixed")  # values of `date_cell_order`


class WorkbookUnreadableError(Exception):
    """calamine could not open the workbook or its first sheet (corrupt, encrypted, not a workbook)."""


class WorkbookTooLargeError(Exception):
    """The workbook exceeds a bound, or parsing it exhausted the reader's memory or time limit.

    `str(error)` is a one-line detail for the ledger that names no person."""


@dataclass(frozen=True)
class SheetCells:
    """One sheet as read: `text` holds every cell as a string (null when empty); `date_cells` is
    the same shape, True where the cell was a date cell; `date_cell_order` is the display order of
    the workbook's date number formats (month_first | day_first | mixed), null when unknown."""

    text: pl.DataFrame
    date_cells: pl.DataFrame
    date_cell_order: str | None


def looks_like_workbook(head: bytes) -> bool:
    return head.startswith((ZIP_MAGIC, OLE2_MAGIC))


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
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, ValueError):
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

XLSX_NUMBER_FORMAT = re.compile(rb"<(?:\w+:)?numFmt\b[^>]*\bformatCode=\"([^\"]*)\"")
ODS_DATE_STYLE = re.compile(rb"<number:date-style\b.*?</number:date-style>", re.DOTALL)
ODS_DATE_PART = re.compile(rb"<number:(day|month)\b")
STYLE_SEARCH_BYTES = 1024 * 1024  # ODS automatic styles come before the body of content.xml


def date_format_order(format_code: str) -> str | None:
    """'month_first' or 'day_first' for a date number format that shows a day and a month before the
    year (M/D/YYYY, dd/mm/yy), else None. Quoted text, [colour] codes and escapes are ignored; m next to h
    or s is minutes."""
    code = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", format_code.lower())
    code = re.sub(r"(h+[^a-z]*)m+|m+([^a-z]*s)", r"\1\2", code)
    day, month, year = code.find("d"), code.find("m"), code.find("y")
    if day < 0 or month < 0 or year < 0 or year < min(day, month):
        return None  # no day or month shown, or year-first (yyyy-mm-dd): a swap cannot hide there
    return "month_first" if month < day else "day_first"


def workbook_date_order(path: Path) -> str | None:
    """The display order of the workbook's custom date formats: one order when every format that
    shows a day and a month agrees, 'mixed' when they disagree, None when there is none (or the
    file is not a zip: .xls formats are not read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/styles.xml" in names:
                codes = [
                    code.decode("utf-8", "replace")
                    for code in XLSX_NUMBER_FORMAT.findall(archive.read("xl/styles.xml"))
                ]
            elif "content.xml" in names:
                codes = _ods_date_codes(archive, names)
            else:
                return None
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, ValueError):
        return None
    orders = {order for code in codes if (order := date_format_order(code)) is not None}
    if not orders:
        return None
    return orders.pop() if len(orders) == 1 else "mixed"


def _ods_date_codes(archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    """ODS date styles as pseudo format codes ('d/m/y', 'm/d/y') from the order of their parts."""
    xml = b""
    for member in ("styles.xml", "content.xml"):
        if member in names:
            with archive.open(member) as stream:
                xml += stream.read(STYLE_SEARCH_BYTES)
    codes = []
    for style in ODS_DATE_STYLE.findall(xml):
        parts = [part.decode()[0] for part in ODS_DATE_PART.findall(style)]
        codes.append("/".join([*parts, "y"]))
    return codes


# --- the reader process ----------------------------------------------------------------------------

SheetChoice = Literal["first", "all"]
ISO_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)?$"


def _load_sheets(path: str, which: SheetChoice) -> dict[str, tuple[pl.DataFrame, pl.DataFrame, str | None]]:
    """In the reader process: every cell as text, plus which cells are date cells (a cell that
    calamine reads as a date AND whose text is ISO: a plain number that a date read would also turn
    into a date keeps its digits as text, so it is not a date cell). Plain tuples, not SheetCells:
    the reader runs this file as a script, whose classes the caller could not unpickle."""
    import fastexcel

    reader = fastexcel.read_excel(path)
    names = reader.sheet_names[:1] if which == "first" else reader.sheet_names
    order = workbook_date_order(Path(path)) if which == "first" else None
    sheets = {}
    for name in names:
        text = reader.load_sheet(name, header_row=None, dtypes="string").to_polars()
        date_cells = pl.DataFrame()
        if which == "first" and text.width:
            as_dates = reader.load_sheet(name, header_row=None, dtypes="date").to_polars()
            date_cells = pl.DataFrame(
                [
                    (as_dates[column].is_not_null() & text[column].str.contains(ISO_DATE_TEXT)).fill_null(
                        False
                    )
                    for column in text.columns
                ]
            )
        sheets[name] = (text, date_cells, order)
    return sheets


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
    sheets: dict[str, tuple[pl.DataFrame, pl.DataFrame, str | None]] = pickle.loads(payload)
    return {name: SheetCells(*parts) for name, parts in sheets.items()}


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


GRID_SCHEMA: dict[str, pl.DataType] = {
    "line_number": pl.Int32(),
    "cells": pl.List(pl.String),
    "cell_kinds": pl.List(pl.String),
    "field_count": pl.Int32(),
}
DATE_CELL = "date"  # a date cell whose display order is unknown; else "date_<order>"


def read_first_sheet(path: Path) -> pl.DataFrame:
    """The first sheet as a grid: `line_number` (1-based sheet row), `cells` (List[String], blank ->
    null), `cell_kinds` (List[String]: null for a text or number cell; for a date cell "date", or
    "date_month_first" / "date_day_first" / "date_mixed" after the workbook's date number formats),
    `field_count`."""
    sheet = read_first_sheet_safely(path)
    frame = sheet.text
    if frame.width == 0:
        return pl.DataFrame(schema=GRID_SCHEMA)
    kind = f"{DATE_CELL}_{sheet.date_cell_order}" if sheet.date_cell_order else DATE_CELL
    is_date = sheet.date_cells if sheet.date_cells.width == frame.width else None
    kinds = [
        pl.when(pl.lit(is_date.to_series(index) if is_date is not None else False)).then(pl.lit(kind))
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
