"""The lines a wrapped cell takes (the rows' heights): each line of n characters in a column fitting w
takes ceil(n / w) lines, an empty line one."""

from __future__ import annotations

import polars as pl

from vaxsync.core.decision_sheet import ROW_KEY_COLUMN
from vaxsync.reports.province_report_model import KEY_COLUMNS
from vaxsync.reports.province_report_render import WRAPPED_COLUMNS, wrapped_lines

CELLS = [
    "", "a", "\n", "a\n", "\nab", "abcdefghij\n\nxyz", None, "ặăâ" * 5, "x" * 9 + "\r\n" + "y" * 10,
    "line one is longer than the column\nshort\n\n", "\n\n\n", "Nguyễn Thị Ánh",
]  # fmt: skip


def _lines_per_line_of_text(cells: list[str | None], width: int) -> list[int]:
    fit = max(width - 2, 1)
    return [
        1 if cell is None else sum(max(-(-len(line) // fit), 1) for line in cell.split("\n"))
        for cell in cells
    ]


def test_a_rows_lines_are_its_tallest_wrapped_cells_lines_of_text_at_every_width() -> None:
    wrapped, key = (
        sorted(WRAPPED_COLUMNS)[0],
        sorted(set(KEY_COLUMNS) - {ROW_KEY_COLUMN} - WRAPPED_COLUMNS)[0],
    )
    frame = pl.DataFrame(
        {wrapped: CELLS, key: list(reversed(CELLS)), "not_wrapped": ["x" * 500] * len(CELLS)},
        schema={wrapped: pl.String, key: pl.String, "not_wrapped": pl.String},
    )
    for wrapped_width in (1, 3, 5, 7, 12, 40):
        for key_width in (2, 9):
            expected = [
                max(pair)
                for pair in zip(
                    _lines_per_line_of_text(CELLS, wrapped_width),
                    _lines_per_line_of_text(list(reversed(CELLS)), key_width),
                    strict=True,
                )
            ]
            lines = wrapped_lines(frame, [wrapped_width, key_width, 10])
            assert lines.dtype == pl.Int64
            assert lines.to_list() == expected


def test_a_frame_without_wrapped_columns_takes_one_line_a_row() -> None:
    frame = pl.DataFrame({"not_wrapped": ["a\nb\nc", None]}, schema={"not_wrapped": pl.String})
    assert wrapped_lines(frame, [3]).to_list() == [1, 1]
