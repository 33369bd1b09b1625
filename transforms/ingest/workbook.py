"""XLSX (and other calamine-readable workbooks) -> the same record grid as delimited text.

The first sheet is read with fastexcel (calamine), every cell as a string, which keeps what the
cell holds: a number stays its digits ("62097728627", so an ID that lost its leading zero keeps
the digits it has; the normalize stage restores zeros), an Excel date serial stored as a plain
number stays its number text ("44263"), a text cell stays its text ("1.09901E+11"). A cell
formatted as a date or datetime becomes ISO: "2021-08-18" at midnight, else "2021-08-18 07:05:15".
"""

from __future__ import annotations

from pathlib import Path

import fastexcel
import polars as pl

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"


class WorkbookUnreadableError(Exception):
    """calamine could not open the workbook or its first sheet (corrupt, encrypted, not a workbook)."""


def looks_like_workbook(head: bytes) -> bool:
    return head.startswith((ZIP_MAGIC, OLE2_MAGIC))


def read_first_sheet(path: Path) -> pl.DataFrame:
    """`line_number` (1-based sheet row), `cells` (List[String], blank -> null), `field_count`."""
    try:
        reader = fastexcel.read_excel(path)
        sheet = reader.load_sheet(0, header_row=None, dtypes="string")
        frame = sheet.to_polars()
    except Exception as error:  # calamine raises its own error types, and more than one of them
        raise WorkbookUnreadableError(type(error).__name__) from error
    if frame.width == 0:
        return pl.DataFrame(
            schema={"line_number": pl.Int32, "cells": pl.List(pl.String), "field_count": pl.Int32}
        )
    cleaned = [
        pl.when(pl.col(name).str.strip_chars() != "").then(pl.col(name).str.replace(MIDNIGHT, "$1"))
        for name in frame.columns
    ]
    return frame.select(
        line_number=pl.int_range(1, frame.height + 1, dtype=pl.Int32),
        cells=pl.concat_list(cleaned),
        field_count=pl.lit(frame.width, dtype=pl.Int32),
    )
