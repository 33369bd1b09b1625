"""Which sheets of a workbook hold dose rows: every row of every sheet ends staged, skipped on the ledger,
or the file quarantined.

The lead sheet is the first whose header names the required columns (else the first sheet). Every other
sheet, in workbook order, is one of:

- the lead's layout under a header of its own (a sheet per month): its header maps every field to the
  same column as the lead's, however it is spelt; the rows below it are stacked after the lead's;
- the lead's layout without a header, or under a header that names some fields at the lead's columns and
  no field elsewhere (a continuation sheet): stacked when at least half of its non-blank rows look like
  doses at the lead's columns (a name with no digit, a birth date, a vaccination date of 2020 or later);
- dose rows in another layout: a header naming the required columns elsewhere, or rows that look like
  doses (a name and two dates, one of 2020 or later) at other columns: `SheetsDiffer` (the file is
  quarantined `sheets_differ`, never mapped by guess);
- anything else (instructions, catalogues, summaries): skipped, and listed with its non-blank rows
  (`SkippedSheet`) so that the ledger shows what was not read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

from transforms.ingest.header_mapping import HeaderMapping, map_header_row
from transforms.ingest.structure import HeaderRow, cell, find_header_row, has_any_value

MIN_HEADER_SCORE = 2  # a row naming fewer fields may be a data row (staging.MIN_HEADER_SCORE_TO_SHOW)
MIN_DOSE_LIKE_SHARE = 0.5  # of a sheet's non-blank rows
MAX_SHEET_NAME_CHARS = 31  # Excel's limit; a longer name (ODS) is cut in the ledger

NAME_LIKE = r"^[^\d]*\p{L}[^\d]*$"
# A date of 1900-2029 (d/m/y with a 2- or 4-digit year, ISO from a date cell), a year alone, or a date
# serial of a General-format cell (1 = 1900-01-01; 47484 = 2029-12-31).
DATE_LIKE = r"(?:^|\D)(?:19|20)\d{2}(?:\D|$)|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(?:\D|$)|^[1-4]\d{4}(?:\.\d+)?$"
# Of 2020 or later: a 4-digit year 2020-2029, a 2-digit year 20-29 after day and month, a serial from
# 43831 (2020-01-01).
RECENT_DATE_LIKE = (
    r"(?:^|\D)202\d(?:\D|$)|^\d{1,2}[/.-]\d{1,2}[/.-]2\d(?:\D|$)|^(?:43[89]|4[4-7]\d)\d{2}(?:\.\d+)?$"
)


class SheetsDiffer(Exception):  # noqa: N818 - a verdict on the workbook, raised to the stager
    """A sheet holds dose rows in another layout than the lead sheet's; str() is a one-line detail,
    `rows` the non-blank rows of the sheets that hold doses (the lead's below its header)."""

    rows: int | None = None


@dataclass(frozen=True)
class SkippedSheet:
    name: str
    rows: int  # non-blank rows


@dataclass(frozen=True)
class StackedSheets:
    grid: pl.DataFrame  # the lead's rows, then the rows of every sheet stacked after it
    skipped: tuple[SkippedSheet, ...]
    # find_header_row(grid) when the grid is one sheet, whose header was found here (else None: not known)
    header: HeaderRow | None = None

    def skipped_json(self) -> str | None:
        """The ledger's skipped_sheets: [{"sheet": name, "rows": non-blank rows}], null when none."""
        if not self.skipped:
            return None
        entries = [{"sheet": sheet.name[:MAX_SHEET_NAME_CHARS], "rows": sheet.rows} for sheet in self.skipped]
        return json.dumps(entries, ensure_ascii=False)


def stack_data_sheets(sheets: dict[str, pl.DataFrame]) -> StackedSheets:
    """The lead sheet's grid followed by the rows of every sheet in its layout (line numbers running on),
    and the sheets skipped. Raises SheetsDiffer (module docstring)."""
    names = list(sheets)
    headers = [find_header_row(sheets[name]) for name in names]
    mappings = [map_header_row(header.cells) if header else None for header in headers]
    lead = next((index for index, mapping in enumerate(mappings) if _names_required(mapping)), None)
    if lead is None:  # no sheet names the required columns: the first is read (and quarantined)
        return StackedSheets(sheets[names[0]], (), headers[0])
    lead_mapping, lead_header = mappings[lead], headers[lead]
    assert lead_mapping is not None and lead_header is not None
    stacked, skipped = [sheets[names[lead]]], []
    next_line = sheets[names[lead]].height + 1  # line numbers run 1..height
    for index, name in enumerate(names):
        header = headers[index]
        if index == lead or header is None:  # an empty sheet holds nothing to account for
            continue
        try:
            rows = _rows_in_lead_layout(
                sheets[name], header, mappings[index], lead_mapping, index + 1, lead + 1
            )
        except SheetsDiffer as verdict:
            verdict.rows = sum(map(_count_filled, stacked[1:]), _count_filled(sheets[name]))
            verdict.rows += _count_filled(stacked[0].slice(lead_header.position + 1))
            raise
        if rows is None:
            skipped.append(SkippedSheet(name, _count_filled(sheets[name])))
            continue
        lines = pl.int_range(next_line, next_line + rows.height, dtype=pl.Int32)
        stacked.append(rows.with_columns(lines.alias("line_number")))
        next_line += rows.height
    if len(stacked) == 1:  # the lead alone: its header is the grid's
        return StackedSheets(stacked[0], tuple(skipped), lead_header)
    return StackedSheets(pl.concat(stacked, how="vertical_relaxed"), tuple(skipped))


def _names_required(mapping: HeaderMapping | None) -> bool:
    return mapping is not None and not mapping.missing_required


def _rows_in_lead_layout(
    sheet: pl.DataFrame,
    header: HeaderRow,
    mapping: HeaderMapping | None,
    lead: HeaderMapping,
    number: int,
    lead_number: int,
) -> pl.DataFrame | None:
    """The rows of one sheet to stack after the lead's, or None to skip it; raises SheetsDiffer."""
    assert mapping is not None
    if mapping.field_columns == lead.field_columns and mapping.dose_columns == lead.dose_columns:
        return sheet.slice(header.position + 1)
    differ = f"sheet {number} holds the required columns under another header than sheet {lead_number}"
    if _names_required(mapping):
        raise SheetsDiffer(f"{differ} (line {header.line_number})")
    has_header = header.score >= MIN_HEADER_SCORE
    rows = sheet.slice(header.position + 1) if has_header else sheet
    filled = rows.filter(has_any_value(pl.col("cells")))
    if filled.height == 0:
        return None
    if not has_header or _agrees_with(mapping, lead):
        share = filled.select(_dose_like_at(lead).mean()).item()
        if share >= MIN_DOSE_LIKE_SHARE:
            return rows
    if filled.select(_dose_like_anywhere().mean()).item() >= MIN_DOSE_LIKE_SHARE:
        raise SheetsDiffer(
            f"sheet {number} holds rows that look like doses in another layout than sheet {lead_number}"
        )
    return None


def _agrees_with(mapping: HeaderMapping, lead: HeaderMapping) -> bool:
    """Every field a partial header names sits at the lead's columns for it."""
    return all(lead.field_columns.get(name) == positions for name, positions in mapping.field_columns.items())


def _lead_positions(lead: HeaderMapping, name: str) -> list[int]:
    plain = list(lead.field_columns.get(name, ()))
    return plain + [position for columns in lead.dose_columns.values() for position in columns.get(name, ())]


def _dose_like_at(lead: HeaderMapping) -> pl.Expr:
    """A row with a name, a birth date and a vaccination date of 2020 or later at the lead's columns."""

    def any_cell(name: str, pattern: str) -> pl.Expr:
        return pl.any_horizontal(
            [
                cell(position).str.contains(pattern).fill_null(False)
                for position in _lead_positions(lead, name)
            ]
        )

    return (
        any_cell("full_name", NAME_LIKE)
        & any_cell("date_of_birth", DATE_LIKE)
        & any_cell("vaccinated_on", RECENT_DATE_LIKE)
    )


def _dose_like_anywhere() -> pl.Expr:
    """A row with a name-like cell and two date-like cells, one of them of 2020 or later."""

    def count(pattern: str) -> pl.Expr:
        return (
            pl.col("cells").list.eval(pl.element().str.contains(pattern).fill_null(False).sum()).list.first()
        )

    return (count(NAME_LIKE) >= 1) & (count(DATE_LIKE) >= 2) & (count(RECENT_DATE_LIKE) >= 1)


def _count_filled(sheet: pl.DataFrame) -> int:
    return int(sheet.select(has_any_value(pl.col("cells")).sum()).item() or 0)
