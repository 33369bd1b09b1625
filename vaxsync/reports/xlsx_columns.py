"""An xlsxwriter worksheet that writes the reports' columns of plain cells with less Python per cell.

A province's workbook holds ~20 cells per open row, and xlsxwriter spends most of the report stage's CPU
on them: each cell of `write_column` goes through a type dispatch, a dimension check and a shared-string
lookup, and each is written out through a generic attribute-escaping tag writer, after a span pass that
tests every column of every row. This worksheet does the same for the cells the reports write (non-empty
text, blanks, finite numbers, each with a format) with the checks made once per column and the `<c>`
element written in one step; anything else goes to xlsxwriter's own code. The workbook's bytes are those
xlsxwriter writes (tests/unit/reports/test_xlsx_columns.py compares them with the stock worksheet's): the
short path relies on xlsxwriter's cell tuples, `_write_rows` and `_calculate_spans` (xlsxwriter 3.3), and
that test fails first if a new version changes them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from xlsxwriter.comments import Comments, CommentType
from xlsxwriter.format import Format
from xlsxwriter.packager import Packager
from xlsxwriter.sharedstrings import SharedStrings
from xlsxwriter.utility import xl_rowcol_to_cell_fast
from xlsxwriter.vml import Vml
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import CellBlankTuple, CellNumberTuple, CellStringTuple, Worksheet
from xlsxwriter.xmlwriter import XMLwriter

# Joins the shared strings so that xlsxwriter's escapes run once over all of them (a private-use character:
# no escape matches or makes it; a string holding it takes xlsxwriter's path).
STRING_SEPARATOR = "\ue000"

# Formulas as xlsxwriter prepares them, by (formula, future functions expanded); bounded.
PREPARED_FORMULAS_KEPT = 4096
_PREPARED_FORMULAS: dict[tuple[str, bool], str] = {}
# A header comment's XML (its `<v:shape>` in the VML drawing, its `<comment>` in the comments file) by
# everything xlsxwriter writes it from; every province's workbook repeats the same sheets' header comments.
COMMENT_XML_KEPT = 4096
_COMMENT_SHAPES: dict[tuple[int, int, str], str] = {}
_COMMENTS: dict[tuple[int, str], str] = {}


def _written_once(cache: dict[Any, str], key: Any, writer: Any, write: Any) -> None:
    """What `write()` writes into `writer`'s file, taken from `cache` by `key` (and kept there)."""
    xml = cache.get(key)
    if xml is None:
        file, writer.fh = writer.fh, io.StringIO()
        try:
            write()
            xml = writer.fh.getvalue()
        finally:
            writer.fh = file
        if len(cache) < COMMENT_XML_KEPT:
            cache[key] = xml
    writer.fh.write(xml)


class ColumnWorksheet(Worksheet):
    """Worksheet whose `write_column` and `<c>` writing take a short path for plain formatted cells."""

    def write_column(self, *args: Any, **kwargs: Any) -> int:
        """xlsxwriter's `write_column(row, col, data, cell_format=None)`; a cell in A1 notation or keyword
        arguments go to xlsxwriter's own."""
        if kwargs or isinstance(args[0], str):
            return int(super().write_column(*args, **kwargs))
        row, col, data, cell_format = (*args, None) if len(args) == 3 else args
        if not self._fast_path_applies(row, col, len(data), cell_format):
            return int(super().write_column(row, col, data, cell_format))
        return self._write_plain_column(row, col, data, cell_format)

    def _write_plain_column(self, row: int, col: int, data: Sequence[Any], cell_format: Format) -> int:
        table, shared_string_index = self.table, self.str_table._get_shared_string_index
        half_limit = self.xls_strmax // 2  # longer strings take xlsxwriter's path (its UTF-16 limit)
        # The cell tuples made as their namedtuple constructors make them, without its Python-level __new__.
        make = tuple.__new__
        for current, token in enumerate(data, start=row):
            token_type = token.__class__
            if token_type is str and token and len(token) <= half_limit:
                table[current][col] = make(CellStringTuple, (shared_string_index(token), cell_format))
            elif token is None or (token_type is str and not token):
                table[current][col] = make(CellBlankTuple, (cell_format,))
            elif token_type is int or (token_type is float and math.isfinite(token)):
                table[current][col] = make(CellNumberTuple, (token, cell_format))
            else:
                error = self._write(current, col, token, cell_format)
                if error:  # xlsxwriter stops the column there too (a string cut to its limit: -2)
                    if current > row:
                        self._check_dimensions(row, col)
                        self._check_dimensions(current - 1, col)
                    return int(error)
        # What xlsxwriter's check records per cell: every cell above is written with a format.
        if data:
            self._check_dimensions(row, col)
            self._check_dimensions(row + len(data) - 1, col)
        return 0

    def _fast_path_applies(self, row: int, col: int, rows: int, cell_format: Format | None) -> bool:
        """The short path stores cells as xlsxwriter would only with a format (a blank without one is not
        written), no type handlers, no string conversions, and every row within the sheet."""
        return (
            cell_format is not None
            and not self.write_handlers
            and not self.constant_memory
            and not (self.strings_to_formulas or self.strings_to_urls or self.strings_to_numbers)
            and row >= 0
            and row + rows <= self.xls_rowmax
            and 0 <= col < self.xls_colmax
        )

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        """xlsxwriter's formula preparation (~90 regular-expression substitutions per formula), once per
        distinct formula: the reason sheets' conditional formats repeat the same few formulas in every
        workbook. Its result depends on the formula and whether future functions are expanded only."""
        expanded = bool(expand_future_functions or self.use_future_functions)
        key = (formula, expanded)
        prepared = _PREPARED_FORMULAS.get(key)
        if prepared is None:
            prepared = str(super()._prepare_formula(formula, expanded))
            if len(_PREPARED_FORMULAS) < PREPARED_FORMULAS_KEPT:
                _PREPARED_FORMULAS[key] = prepared
        return prepared

    def _calculate_spans(self) -> None:
        """xlsxwriter's `<row spans>`: per block of 16 rows, the first and last column holding a cell or a
        comment, taken from each row's own cells instead of testing every column of the sheet."""
        spans: dict[int, str] = {}
        first: int | None = None
        last: int | None = None
        lowest, highest = self.dim_colmin, self.dim_colmax
        for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
            columns = [
                column
                for used in (self.table.get(row_num), self.comments.get(row_num))
                if used
                for column in used
                if lowest <= column <= highest
            ]
            if columns and (first is None or last is None):
                first, last = min(columns), max(columns)
            elif columns:
                first, last = min(first, *columns), max(last, *columns)
            block_ends = (row_num + 1) % 16 == 0 or row_num == self.dim_rowmax
            if block_ends and first is not None and last is not None:
                spans[int(row_num / 16)] = f"{first + 1}:{last + 1}"
                first = None
        self.row_spans = spans

    def _write_rows(self) -> None:
        """xlsxwriter's `<sheetData>` rows, with the formatted string, number and blank cells written inline."""
        if self.constant_memory:
            super()._write_rows()
            return
        self._calculate_spans()
        write = self.fh.write
        for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
            cells = self.table[row_num]
            info = self.row_info.get(row_num)
            if not (info is not None or row_num in self.comments or cells):
                continue
            span = self.row_spans.get(int(row_num / 16))
            if not cells:  # row attributes or comments only
                self._write_empty_row(row_num, span, info)
                continue
            self._write_row(row_num, span, info)
            lowest, highest = self.dim_colmin, self.dim_colmax
            for col_num in sorted(column for column in cells if lowest <= column <= highest):
                cell = cells[col_num]
                cell_type = cell.__class__
                if cell_type is CellStringTuple and cell.format:
                    reference = xl_rowcol_to_cell_fast(row_num, col_num)
                    write(
                        f'<c r="{reference}" s="{cell.format._get_xf_index()}" t="s"><v>{cell.string}</v></c>'
                    )
                elif cell_type is CellNumberTuple and cell.format:
                    reference = xl_rowcol_to_cell_fast(row_num, col_num)
                    write(
                        f'<c r="{reference}" s="{cell.format._get_xf_index()}"><v>{cell.number:.16G}</v></c>'
                    )
                elif cell_type is CellBlankTuple and cell.format:
                    reference = xl_rowcol_to_cell_fast(row_num, col_num)
                    write(f'<c r="{reference}" s="{cell.format._get_xf_index()}"/>')
                else:
                    self._write_cell(row_num, col_num, cell)
            self._xml_end_tag("row")


class JoinedSharedStrings(SharedStrings):
    """xlsxwriter's `sharedStrings.xml`, each escape (control characters, then `& < >`) applied once to all
    the strings joined instead of string by string; the `<si>` elements are those `_write_si` writes."""

    def _write_sst_strings(self) -> None:
        strings = self.string_table.string_array
        joined = STRING_SEPARATOR.join(strings)
        # A rich string (`<r>...</r>`, never escaped) or one holding the separator: xlsxwriter's own path.
        if "<r>" in joined or joined.count(STRING_SEPARATOR) != len(strings) - 1:
            super()._write_sst_strings()
            return
        escaped = XMLwriter._escape_control_characters(joined)
        # Whether a string keeps its edge whitespace is read before the XML escapes, as `_write_si` does
        # (`\s` is str.isspace; `&`, `<` and `>` are not whitespace, so reading after them is the same).
        data = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.fh.write(
            "".join(
                f'<si><t xml:space="preserve">{string}</t></si>'
                if string[:1].isspace() or string[-1:].isspace()
                else f"<si><t>{string}</t></si>"
                for string in data.split(STRING_SEPARATOR)
            )
        )


class ReusedShapesVml(Vml):
    """xlsxwriter's VML drawing, each comment's `<v:shape>` written once per shape id, z-index and comment
    (all its attributes: the text, author, colour, size, position, font and anchor vertices)."""

    def _write_comment_shape(self, shape_id: int, z_index: int, comment: CommentType) -> None:
        key = (shape_id, z_index, repr(vars(comment)))
        _written_once(
            _COMMENT_SHAPES,
            key,
            self,
            lambda: super(ReusedShapesVml, self)._write_comment_shape(shape_id, z_index, comment),
        )


class ReusedComments(Comments):
    """xlsxwriter's comments file, each `<comment>` written once per author id and comment."""

    def _write_comment(self, comment: CommentType, author_id: int) -> None:
        key = (author_id, repr(vars(comment)))
        _written_once(
            _COMMENTS, key, self, lambda: super(ReusedComments, self)._write_comment(comment, author_id)
        )


class ColumnPackager(Packager):
    """xlsxwriter's packager writing the shared strings with JoinedSharedStrings, and the header comments'
    VML drawings and comments files with ReusedShapesVml and ReusedComments."""

    def _write_vml_files(self) -> None:
        worksheets = self.workbook.worksheets()
        if any(sheet.has_header_vml or sheet.buttons_list for sheet in worksheets):
            super()._write_vml_files()  # header images or buttons: xlsxwriter's own
            return
        index = 1
        for worksheet in worksheets:
            if not worksheet.has_vml:
                continue
            vml = ReusedShapesVml()
            vml._set_xml_writer(self._filename("xl/drawings/vmlDrawing" + str(index) + ".vml"))
            vml._assemble_xml_file(
                worksheet.vml_data_id, worksheet.vml_shape_id, worksheet.comments_list, worksheet.buttons_list
            )
            index += 1

    def _write_comment_files(self) -> None:
        index = 1
        for worksheet in self.workbook.worksheets():
            if not worksheet.has_comments:
                continue
            comment = ReusedComments()
            comment._set_xml_writer(self._filename("xl/comments" + str(index) + ".xml"))
            comment._assemble_xml_file(worksheet.comments_list)
            index += 1

    def _write_shared_strings_file(self) -> None:
        if not self.workbook.str_table.count:
            return
        strings = JoinedSharedStrings()
        strings.string_table = self.workbook.str_table
        strings._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        strings._assemble_xml_file()


class ColumnWorkbook(Workbook):
    """A workbook whose sheets are ColumnWorksheets, packaged by ColumnPackager."""

    worksheet_class = ColumnWorksheet

    def _get_packager(self) -> Packager:
        return ColumnPackager()
