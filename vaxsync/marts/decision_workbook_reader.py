"""Child process that parses one decision workbook: `python -m vaxsync.marts.decision_workbook_reader PATH MAX_ROWS MAX_COLUMNS MEMORY_MB`.

Run by vaxsync.marts.decision_files with a timeout; it limits its own address space to MEMORY_MB first
(a preexec_fn in the threaded parent could deadlock), so a hostile workbook can only
kill this process, never the night. Imports only the standard library and openpyxl (no polars: its
allocator reserves address space the limit is meant for).

openpyxl with data_only=False returns formulas (not the cached values Excel saved beside them), so the
caller can refuse a formula cell such as `="reject"` whose cached value was `accept 1`.

Prints one JSON object: {"sheets": [{"name", "rows": [[cell text or null]], "formulas": [[row, column]]}]}.
Exit code 3 with {"error": "too_many_lines"} when the sheets hold more than MAX_ROWS rows in all.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
from typing import Any

TOO_MANY_LINES_EXIT = 3


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def read_workbook(path: str, max_rows: int, max_columns: int) -> dict[str, Any]:
    sys.modules["numpy"] = None  # type: ignore[assignment]  # openpyxl's optional numpy costs 60 MB of the limit
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    sheets, rows_seen = [], 0
    try:
        for worksheet in workbook.worksheets:
            worksheet.reset_dimensions()  # the declared dimension may lie: read what is there
            rows: list[list[str | None]] = []
            formulas: list[list[int]] = []
            for row_index, whole_row in enumerate(
                worksheet.iter_rows()
            ):  # unpadded: only the cells there are
                row = whole_row[:max_columns]
                rows_seen += 1
                if rows_seen > max_rows:
                    raise OverflowError
                cells: list[str | None] = []
                for column_index, cell in enumerate(row):
                    is_formula = getattr(cell, "data_type", None) == "f"
                    if is_formula:
                        formulas.append([row_index, column_index])
                    value = getattr(cell, "value", None)
                    cells.append(_text(value if isinstance(value, str) or not is_formula else "=?"))
                while cells and cells[-1] is None:  # trailing empty cells
                    cells.pop()
                rows.append(cells)
            sheets.append({"name": worksheet.title, "rows": rows, "formulas": formulas})
    finally:
        workbook.close()
    return {"sheets": sheets}


def main(argv: list[str]) -> int:
    path, max_rows, max_columns, memory_mb = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = read_workbook(path, max_rows, max_columns)
    except OverflowError:
        json.dump({"error": "too_many_lines"}, sys.stdout)
        return TOO_MANY_LINES_EXIT
    json.dump(result, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
