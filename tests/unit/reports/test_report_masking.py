"""Masking of IDs and phones, and formula neutralisation of text cells: table-driven."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from vaxsync.core.masking import (
    masked_citizen_id,
    masked_phone,
    neutralised_text,
    with_text_neutralised,
)

ID_CASES = [
    ("a 12-digit CCCD keeps its last 4", "001090001234", "********1234"),
    ("a 9-digit CMND keeps its last 4 and its length", "012345678", "*****5678"),
    ("spaces are dropped before masking", "0010 9000 1234", "********1234"),
    ("Excel's scientific notation is masked like any text", "1.23457E+11", "*******E+11"),
    ("a value of 4 characters is wholly masked", "1234", "****"),
    ("a short value is wholly masked", "12", "**"),
    ("a blank value is null", "   ", None),
    ("null stays null", None, None),
]
PHONE_CASES = [
    ("a mobile keeps its last 3", "0912345678", "*******678"),
    ("an international form keeps its last 3", "+84 912 345 678", "*********678"),
    ("a value of 3 characters is wholly masked", "678", "***"),
    ("a blank value is null", "", None),
    ("null stays null", None, None),
]
FORMULA_CASES = [
    ("equals starts a formula", '=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
    ("plus starts a formula", "+84912", "'+84912"),
    ("minus starts a formula", "-2+3", "'-2+3"),
    ("at starts a formula", "@SUM(A1)", "'@SUM(A1)"),
    ("a leading tab can hide one", "\t=1", "'\t=1"),
    ("a leading carriage return can hide one", "\r=1", "'\r=1"),
    ("an equals sign inside the text is harmless", "a=b", "a=b"),
    ("plain Vietnamese text is unchanged", "Trạm Y tế", "Trạm Y tế"),
    ("empty text is unchanged", "", ""),
    ("a rich-text look-alike would be written as raw XML", "<r>&</r>", "'<r>&</r>"),
    ("a rich-text look-alike over lines", "<r><t>x\n</t></r>", "'<r><t>x\n</t></r>"),
    ("rich-text tags inside the text are harmless", "a <r>b</r>", "a <r>b</r>"),
    ("an opening tag alone is harmless", "<r>b", "<r>b"),
]


@pytest.mark.parametrize(("description", "value", "expected"), ID_CASES, ids=[case[0] for case in ID_CASES])
def test_citizen_ids_show_only_their_last_four_characters(
    description: str, value: str | None, expected: str | None
) -> None:
    frame = pl.DataFrame({"id": [value]}, schema={"id": pl.String})
    assert frame.select(masked_citizen_id(pl.col("id"))).item() == expected


@pytest.mark.parametrize(
    ("description", "value", "expected"), PHONE_CASES, ids=[case[0] for case in PHONE_CASES]
)
def test_phones_show_only_their_last_three_characters(
    description: str, value: str | None, expected: str | None
) -> None:
    frame = pl.DataFrame({"phone": [value]}, schema={"phone": pl.String})
    assert frame.select(masked_phone(pl.col("phone"))).item() == expected


@pytest.mark.parametrize(
    ("description", "value", "expected"), FORMULA_CASES, ids=[case[0] for case in FORMULA_CASES]
)
def test_text_that_would_start_a_formula_gets_a_leading_quote(
    description: str, value: str, expected: str
) -> None:
    frame = pl.LazyFrame({"text": [value], "also_text": [value], "number": [1]})
    neutralised = with_text_neutralised(frame).collect()
    assert neutralised.row(0) == (expected, expected, 1)
    assert neutralised_text(value) == expected


def test_a_cell_shaped_like_rich_text_leaves_the_workbook_readable(tmp_path: Path) -> None:
    """xlsxwriter writes '<r>...</r>' texts as raw XML: unguarded, '<r>&</r>' breaks the whole file."""
    path = tmp_path / "cells.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    values = ["<r>&</r>", "<r><t>injected</t></r>", "=1+1"]
    for row, value in enumerate(values):
        workbook.add_worksheet(f"s{row}").write_string(0, 0, neutralised_text(value))
    workbook.close()
    opened = openpyxl.load_workbook(path)
    assert [opened[f"s{row}"]["A1"].value for row in range(len(values))] == [f"'{value}" for value in values]
