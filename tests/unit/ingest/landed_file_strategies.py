"""Hypothesis strategies for what lands in a facility folder: good exports, damaged ones and junk.

Each strategy draws bytes (or a file name); `landing_mixes` draws a whole landing folder: files of every
kind in random order, nested folders, odd names and byte-for-byte copies under another path.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import xlsxwriter
from hypothesis import strategies as st
from ingest_export_files import VN_HEADER, export_rows, render_delimited, to_cp1258_bytes

TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".CSV", ".Txt")
OTHER_SUFFIXES = (".xlsx", ".xls", ".XLSX", ".pdf", ".json", "", ".csv.bak", ".")
# Cell text with what breaks naive readers: separators, quotes, line breaks, NUL, marks alone, RTL.
NASTY_CELLS = st.text(
    alphabet=st.sampled_from(
        list(",;\t\"'\r\n\x00 \u0300\u0301\u200b\ufeff=+-@0123456789aăâđêôơưÁỹZ\u202e€")
    ),
    max_size=12,
)
PREAMBLES = [[], [["SỞ Y TẾ TỈNH"]], [["DANH SÁCH TIÊM CHỦNG COVID-19"], ["Ngày xuất: 20/08/2021"], []]]


@st.composite
def export_text(draw: st.DrawFn, *, intact: bool = False) -> list[list[str]]:
    """An export as rows of cells: a preamble, the header, 1-25 data rows, some cells made nasty (in
    columns the reader does not need, when intact) and, unless intact, a row cut short or made long."""
    rows = [list(row) for row in export_rows(draw(st.integers(1, 25)))]
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.integers(0, len(rows) - 1))
        column = draw(st.sampled_from([0, 5, 6, 8, 11] if intact else range(len(VN_HEADER))))
        # render_delimited quotes a cell with a line feed but not a lone carriage return (an old Mac line end)
        rows[row][column] = draw(NASTY_CELLS).replace("\r", "") if intact else draw(NASTY_CELLS)
    if not intact and draw(st.booleans()):  # a short or a long row
        row = draw(st.integers(0, len(rows) - 1))
        rows[row] = rows[row][: draw(st.integers(0, len(VN_HEADER) + 3))] + [""] * draw(st.integers(0, 2))
    return [*draw(st.sampled_from(PREAMBLES)), VN_HEADER, *rows]


@st.composite
def intact_csv(draw: st.DrawFn) -> tuple[bytes, int]:
    """An undamaged delimited export, and how many data rows it holds. Its header's labels may be wrapped
    over two lines inside quotes, as Excel writes bilingual templates (found by h6: a header of more than
    20 such labels was read line by line and the file quarantined)."""
    rows = draw(export_text(intact=True))
    header_at = rows.index(VN_HEADER)
    if draw(st.booleans()):  # labels wrapped over two lines ('Họ và tên\n(1)'), maybe with note columns
        notes = draw(st.integers(0, 30))
        header = [f"{label}\n({index})" for index, label in enumerate([*VN_HEADER, *["Ghi chú"] * notes])]
        rows = [*rows[:header_at], header, *[[*row, *[""] * notes] for row in rows[header_at + 1 :]]]
    return draw(delimited(st.just(rows))), len(rows) - header_at - 1


@st.composite
def valid_csv(draw: st.DrawFn) -> bytes:
    """A delimited export in one of the encodings facilities use (a row may be short or long)."""
    return draw(delimited(export_text()))


@st.composite
def delimited(draw: st.DrawFn, rows: st.SearchStrategy[list[list[str]]]) -> bytes:
    separator = draw(st.sampled_from([",", ";", "\t"]))
    text = render_delimited(draw(rows), separator, draw(st.sampled_from(["\r\n", "\n"])))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1258"]))
    if encoding == "cp1258":  # the code page has no zero-width space, BOM or right-to-left mark
        return to_cp1258_bytes(text.translate(dict.fromkeys(map(ord, "\u200b\ufeff\u202e"))))
    return text.encode(encoding, errors="replace")


@st.composite
def damaged(draw: st.DrawFn, good: st.SearchStrategy[bytes]) -> bytes:
    """A good file cut short, with bytes flipped, or with bytes pushed in."""
    content = draw(good)
    if not content:
        return content
    where = draw(st.integers(0, len(content) - 1))
    damage = draw(st.sampled_from(["truncate", "flip", "insert"]))
    if damage == "truncate":
        return content[:where]
    noise = draw(st.binary(min_size=1, max_size=16))
    if damage == "flip":
        return content[:where] + noise + content[where + len(noise) :]
    return content[:where] + noise + content[where:]


@st.composite
def workbook(draw: st.DrawFn) -> bytes:
    """A real XLSX (xlsxwriter): an export's rows, or a sheet of nasty cells."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": draw(st.booleans())})
    book.set_properties({"created": dt.datetime(2021, 8, 20)})  # the same bytes for the same draw
    sheet = book.add_worksheet()
    rows = draw(st.one_of(export_text(), st.lists(st.lists(NASTY_CELLS, max_size=6), max_size=6)))
    for number, row in enumerate(rows):
        sheet.write_row(number, 0, [cell.replace("\x00", "") for cell in row])
    book.close()
    return buffer.getvalue()


def huge_single_line(size: int) -> bytes:
    return b"Ho va ten," + b"Nguyen Van A," * (size // 13)


JUNK = st.one_of(
    st.binary(max_size=3000),
    st.just(b""),
    st.sampled_from(
        [b"\r\n \r\n\t\r\n", b",,,,\r\n,,,,\r\n", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\xef\xbb\xbf"]
    ),
    st.integers(20_000, 200_000).map(huge_single_line),
    st.binary(max_size=200).map(lambda tail: b"PK\x03\x04" + tail),  # an "XLSX" that is not a zip
    st.binary(max_size=200).map(lambda tail: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + tail),  # a broken .xls
)
ANY_CONTENT = st.one_of(valid_csv(), damaged(valid_csv()), workbook(), damaged(workbook()), JUNK)

NAME_STEMS = st.one_of(
    st.sampled_from(
        ["export_20210820_001", "Danh sách tiêm đợt 1 (24.01.2022)", "~$DS_tiem", ".hidden", "a b  c"]
    ),
    st.text(alphabet=st.sampled_from(list("abcđêơ_- .()0123456789")), min_size=1, max_size=15).filter(
        lambda stem: stem.strip(" .") != ""
    ),
)
FOLDERS = st.sampled_from(["", "79_Ho_Chi_Minh/79760001/", "01_Ha_Noi/", "x1/y2/z3/w4/", "Sở Y tế/"])


@st.composite
def file_name(draw: st.DrawFn) -> str:
    suffix = draw(st.one_of(st.sampled_from(TEXT_SUFFIXES), st.sampled_from(OTHER_SUFFIXES)))
    return draw(FOLDERS) + draw(NAME_STEMS).strip() + suffix


@dataclass(frozen=True)
class LandedFile:
    path: str
    content: bytes

    def __repr__(self) -> str:  # a failing example names the file and its first bytes, not all of them
        return f"LandedFile({self.path!r}, {len(self.content)} bytes: {self.content[:40]!r}...)"


@st.composite
def landing_mixes(draw: st.DrawFn, max_files: int = 8) -> list[LandedFile]:
    """Files of every kind under unique paths, in random order; some are byte copies of others."""
    paths = draw(st.lists(file_name(), min_size=1, max_size=max_files, unique_by=str.lower))
    files = [LandedFile(path, draw(ANY_CONTENT)) for path in paths]
    for _ in range(draw(st.integers(0, 2))):  # the same content landed again under another name
        copied = draw(st.sampled_from(files))
        copy_path = f"copies/{len(files)}_{copied.path.rsplit('/', 1)[-1]}"
        if copy_path.lower() not in {file.path.lower() for file in files}:
            files.append(LandedFile(copy_path, copied.content))
    return draw(st.permutations(files))
