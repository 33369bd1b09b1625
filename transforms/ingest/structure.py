"""The structure of a record grid: header row, preamble, data rows, blank and total rows.

- The header is the row, among the first HEADER_SEARCH_ROWS non-blank rows, that names the most
  canonical fields (first on a tie); rows above it are preamble (facility name, report title).
- Below it, blank rows and total rows ("Tổng cộng", "Tổng số: 120", "Cộng", "Total: 35") are not
  data and are dropped. A total row's first non-blank, non-numeric cell is only a total label,
  optionally with a count, and the row fills at most three cells: a dose row fills at least its
  four required cells, so a person named Tống is kept. A signature footer ("Người lập biểu", "Thủ
  trưởng đơn vị", "..., ngày 11 tháng 12 năm 2022") is dropped as a total row, and a template's
  pre-numbered empty row (its only value the STT) as a blank one.
- A row repeating the header's name and birth-date headers (a header printed again on each page)
  is not data either.
- source_row numbers the remaining data rows 1, 2, 3... in file order (header, preamble, blank,
  total and repeated header rows excluded).
- A data row is malformed when it has fewer fields than the header spans, or values beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.ingest.header_mapping import HeaderMapping, fold_header_expr, header_scores

HEADER_SEARCH_ROWS = 30
MALFORMED_ROW = "malformed_row"
MAX_TOTAL_ROW_CELLS = 3  # a dose row fills at least its four required cells
# Folded (ascii, lowercase, no spaces) total labels: "Tổng cộng", "Tổng số: 120 mũi", "Total"...
_TOTAL_UNIT = "(muitiem|mui|nguoi|doituong|luot|shots|doses|rows)?"
TOTAL_LABEL = rf"^(tong(cong|so)?|cong|total|grandtotal|sum){_TOTAL_UNIT}\d*{_TOTAL_UNIT}$"
# Folded labels of a Vietnamese report's signature footer, below the list: who drew it up and who signs
# it ("Người lập biểu", "Thủ trưởng đơn vị", "Giám đốc"), and the place-and-date line ("Trà Vinh, ngày
# 11 tháng 12 năm 2022"; "ngày ... tháng ... năm ..."), "(Ký, ghi rõ họ tên)". Dropped like total rows (same sparseness rule).
FOOTER_LABEL = r"^(nguoilap(bieu|bang|danhsach)?|thutruong(donvi|coquan)?|giamdoc|truongtram|kyten|ky(va)?ghiro.*|.*ngay\d*thang\d*nam\d*)$"


@dataclass(frozen=True)
class HeaderRow:
    position: int  # index in the grid
    line_number: int
    score: int
    cells: list[str | None]


def has_any_value(cells: pl.Expr) -> pl.Expr:
    """Whether a list of cells holds any non-blank cell (blank cells are null by now)."""
    return cells.list.eval(pl.element().is_not_null()).list.any()


def find_header_row(grid: pl.DataFrame) -> HeaderRow | None:
    """The best-scoring row near the top; None when the grid has no non-blank row."""
    candidates = (
        grid.with_row_index("position").filter(has_any_value(pl.col("cells"))).head(HEADER_SEARCH_ROWS)
    )
    if candidates.height == 0:
        return None
    scored = candidates.with_columns(score=header_scores(candidates))
    best = scored.sort(["score", "position"], descending=[True, False]).row(0, named=True)
    return HeaderRow(
        position=int(best["position"]),
        line_number=int(best["line_number"]),
        score=int(best["score"]),
        cells=list(best["cells"]),
    )


def header_width(cells: list[str | None]) -> int:
    """How many fields the header spans: up to its last non-blank cell."""
    filled = [position for position, cell in enumerate(cells) if cell is not None]
    return filled[-1] + 1 if filled else 0


def cell(position: int) -> pl.Expr:
    return pl.col("cells").list.get(position, null_on_oob=True)


def field_value(mapping: HeaderMapping, field: str) -> pl.Expr:
    positions = mapping.field_columns.get(field, ())
    if not positions:
        return pl.lit(None, dtype=pl.String)
    return pl.coalesce([cell(position) for position in positions])


HEADER_REPEAT_FIELDS = ("full_name", "date_of_birth")


def header_repeat_cells(header: HeaderRow, mapping: HeaderMapping) -> list[tuple[int, str]]:
    """(position, header cell) of the fields by which a repeated header is recognised."""
    return [
        (positions[0], header_cell)
        for field in HEADER_REPEAT_FIELDS
        if (positions := mapping.field_columns.get(field))
        and (header_cell := header.cells[positions[0]]) is not None
    ]


def header_repeat(header: HeaderRow, mapping: HeaderMapping) -> pl.Expr:
    """A row whose name and birth-date cells repeat the header's (a header printed again per page)."""
    repeats = [
        cell(position) == header_cell for position, header_cell in header_repeat_cells(header, mapping)
    ]
    return pl.all_horizontal(repeats) if repeats else pl.lit(False)


def is_blank_row() -> pl.Expr:
    return ~has_any_value(pl.col("cells"))


def filled_cells() -> pl.Expr:
    """How many cells of `cells` are not blank (null) (counting the nulls is the cheap way)."""
    return pl.col("cells").list.len() - pl.col("cells").list.eval(pl.element().null_count()).list.first()


def first_filled_cell() -> pl.Expr:
    """The first non-blank cell of `cells` (null when none is)."""
    first = pl.col("cells").list.eval(pl.element().is_not_null()).list.arg_max()
    return pl.col("cells").list.get(first, null_on_oob=True)


def could_be_total_row() -> pl.Expr:
    """Non-blank and sparse enough to be a total row (its label is checked on these rows only)."""
    return ~is_blank_row() & (filled_cells() <= MAX_TOTAL_ROW_CELLS)


def has_total_label() -> pl.Expr:
    """The row's label, its first cell that is not just a number (a total row may still carry an STT),
    is a total label."""
    not_a_number = ~pl.element().str.contains(r"^\s*\d+\s*$")
    label = pl.col("cells").list.eval(pl.element().filter(not_a_number)).list.first()
    footer = fold_header_expr(label, keep_notes=True)  # "(Ký, ghi rõ họ tên)" is all in brackets
    return fold_header_expr(label).str.contains(TOTAL_LABEL) | footer.str.contains(FOOTER_LABEL)


def is_numbered_blank_row() -> pl.Expr:
    """A template's pre-numbered empty row: its one value a short number (the STT), no dose in it."""
    return (filled_cells() == 1) & first_filled_cell().str.contains(r"^\s*\d{1,5}\.?\s*$")


def row_kind(is_total: pl.Expr, is_header_repeat: pl.Expr) -> pl.Expr:
    """data | blank | total | header_repeat, for a row below the header."""
    return (
        pl.when(is_blank_row() | is_numbered_blank_row())
        .then(pl.lit("blank"))
        .when(is_total)
        .then(pl.lit("total"))
        .when(is_header_repeat.fill_null(False))
        .then(pl.lit("header_repeat"))
        .otherwise(pl.lit("data"))
    )


def classify_rows_below_header(grid: pl.DataFrame, header: HeaderRow, mapping: HeaderMapping) -> pl.DataFrame:
    """The rows under the header with `row_kind`: data | blank | total | header_repeat."""
    below = grid.slice(header.position + 1).with_row_index("grid_index")
    return below.with_columns(row_kind=row_kind(is_total_row(below), header_repeat(header, mapping)))


def is_total_row(below: pl.DataFrame) -> pl.Expr:
    """Whether each row of `below` (rows with `cells` and a unique `grid_index`) is a total row. The
    label (folded twice, read with regexes) is read on the sparse rows alone: they are selected first,
    eagerly, since a lazy plan fuses the two filters and reads every row's label."""
    sparse = below.filter(could_be_total_row())
    totals = sparse.filter(has_total_label())["grid_index"]
    return pl.col("grid_index").is_in(totals.implode())


def malformed_row_issue(width: int | pl.Expr) -> pl.Expr:
    """MALFORMED_ROW when a row has fewer fields than the header spans (`width`), or values beyond it."""
    overflow = has_any_value(pl.col("cells").list.slice(width))
    return pl.when((pl.col("field_count") < width) | overflow).then(pl.lit(MALFORMED_ROW))


def data_rows(classified: pl.DataFrame, header: HeaderRow) -> pl.DataFrame:
    """The data rows, numbered (source_row), with `row_issue` set on malformed ones."""
    return classified.filter(pl.col("row_kind") == "data").with_columns(
        source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int32),
        row_issue=malformed_row_issue(header_width(header.cells)),
    )


def dropped_row_counts() -> dict[str, pl.Expr]:
    """How many blank, total and repeated header rows below the header were dropped, as expressions."""
    kind = pl.col("row_kind")
    return {
        "count_blank_rows_dropped": (kind == "blank").sum(),
        "count_total_rows_dropped": (kind == "total").sum(),
        "count_header_repeats_dropped": (kind == "header_repeat").sum(),
    }


def count_dropped_rows(classified: pl.DataFrame) -> dict[str, int]:
    """dropped_row_counts of one file's classified rows."""
    return {
        name: int(count)
        for name, count in classified.select(**dropped_row_counts()).row(0, named=True).items()
    }
