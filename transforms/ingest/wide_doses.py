"""A wide template (one row per person, a date and vaccine column per dose) staged long: one row per dose.

`HeaderMapping.dose_columns` says which columns are which dose's (header_mapping.py). Each data row gives
a staged row for every dose one of whose own columns is filled (a row with none gives its first dose's,
so that it is never lost: normalize sends it to the backlog for its missing date). The dose's row reads
the narrow mapping of that dose (`HeaderMapping.for_dose`), its `raw_dose` is the dose number of its
columns, and its `source_row` is the data row's number plus (dose - 1) x DOSE_ROW_OFFSET: unique in the
file, and the same whenever the same file is read again, so a re-sent file keys its doses alike.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from transforms.ingest.header_mapping import HeaderMapping
from transforms.ingest.structure import has_any_value
from vaxsync.core.contracts import raw_column

# Above any sheet's row count (workbook.MAX_SHEET_ROWS 500,000; a text file of more rows than this is
# not a facility export), and nine doses stay within Int32.
DOSE_ROW_OFFSET = 1_000_000


def dose_source_row(dose: int) -> pl.Expr:
    """The staged source_row of one dose of the data row numbered `source_row`."""
    return pl.col("source_row") + (dose - 1) * DOSE_ROW_OFFSET


def row_holds_dose(mapping: HeaderMapping, dose: int) -> pl.Expr:
    """One of the dose's own columns is filled; for the first dose of the template, also a row that
    holds no dose at all."""

    def filled(columns: tuple[int, ...]) -> pl.Expr:
        cells = [pl.col("cells").list.get(position, null_on_oob=True) for position in columns]
        return has_any_value(pl.concat_list(cells))

    own = mapping.own_dose_columns(dose)
    holds = filled(own) if own else pl.lit(False)
    if dose != mapping.dose_numbers[0]:
        return holds
    every_own = tuple(p for number in mapping.dose_numbers for p in mapping.own_dose_columns(number))
    return holds | ~filled(every_own) if every_own else pl.lit(True)


def stage_doses(
    data_rows: pl.LazyFrame,
    mapping: HeaderMapping,
    staged_columns: Callable[[HeaderMapping], dict[str, pl.Expr]],
) -> pl.LazyFrame:
    """The staged rows of a wide template's data rows: `staged_columns(narrow mapping)` per dose, with the
    dose's source_row and dose number, in file order (a row's doses in dose order)."""
    per_dose = [
        data_rows.filter(row_holds_dose(mapping, dose)).select(
            **staged_columns(mapping.for_dose(dose))
            | {"source_row": dose_source_row(dose), raw_column("dose"): pl.lit(str(dose), dtype=pl.String)}
        )
        for dose in mapping.dose_numbers
    ]
    return pl.concat(per_dose, how="vertical").sort(pl.col("source_row") % DOSE_ROW_OFFSET, "source_row")
