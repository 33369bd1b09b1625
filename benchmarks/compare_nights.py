"""Compare two runs of the same night, made with two versions of the code: a speed-up must not change them.

    uv run python benchmarks/compare_nights.py <warehouse dir of run A> <warehouse dir of run B>

Each argument is the folder holding a night's `wh.duckdb`, `work/` and `reports/` (as `vaxsync run
--warehouse <dir>/wh.duckdb --reports <dir>/reports` leaves them). Compared: every parquet file of the
work folder (values and row order; when only the order differs it says so; the staged rows as one frame by file
and row, whatever their split into staged files), every warehouse table
(rows as a sorted set) and every report file (bytes). Columns that record when or in which run
something happened are left out. Prints file and table names, shapes and the names of the columns
that differ: never a value (the tables hold personal data). Exits 1 when anything differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import polars as pl

# Columns naming a time or a run: they differ between any two runs.
VOLATILE_PARTS = (
    "run_id", "_at", "seconds", "validation_time",
)  # fmt: skip
VALIDATION_TIME = r'"validation_time": "[^"]*"'


def comparable_columns(frame: pl.DataFrame) -> list[str]:
    return [
        name
        for name, dtype in frame.schema.items()
        if not any(part in name for part in VOLATILE_PARTS) and dtype != pl.Object
    ]


def as_comparable(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The columns, nested types as text (sortable), the run's validation time cut out of GX results."""
    nested = [name for name in columns if isinstance(frame.schema[name], pl.List | pl.Struct | pl.Array)]
    selected = frame.select(columns).cast(dict.fromkeys(nested, pl.String))
    if "results_json" in columns:
        selected = selected.with_columns(pl.col("results_json").str.replace(VALIDATION_TIME, ""))
    return selected


def compare_work_files(a: Path, b: Path) -> int:
    differences = compare_staged_rows(a, b)
    for path_a in sorted((a / "work").rglob("*.parquet")):
        if path_a.parent.name == "staged":
            continue
        path_b = b / path_a.relative_to(a)
        if not path_b.exists():
            print("MISSING", path_b.relative_to(b))
            differences += 1
            continue
        frame_a, frame_b = pl.read_parquet(path_a), pl.read_parquet(path_b)
        columns = comparable_columns(frame_a)
        same = frame_a.schema == frame_b.schema and frame_a.select(columns).equals(frame_b.select(columns))
        note = ""
        if not same and frame_a.shape == frame_b.shape and frame_a.schema == frame_b.schema:
            sorted_a, sorted_b = (frame.select(columns).sort(pl.all()) for frame in (frame_a, frame_b))
            note = " (same rows, another order)" if sorted_a.equals(sorted_b) else ""
        differences += not same
        print("ok  " if same else "DIFF", path_a.relative_to(a), frame_a.shape, note)
    return differences


def compare_staged_rows(a: Path, b: Path) -> int:
    """Each night's staged rows as one frame in (file_hash, source_row) order: how the rows are split
    into staged files (one per file, or one per ingest batch) is not compared."""
    differences = 0
    for folder_a in sorted((a / "work").rglob("staged")):
        folder_b = b / folder_a.relative_to(a)
        frames = [
            pl.read_parquet(sorted(folder.glob("*.parquet"))).sort(
                "file_hash", "source_row", maintain_order=True
            )
            if list(folder.glob("*.parquet"))
            else None
            for folder in (folder_a, folder_b)
        ]
        frame_a, frame_b = frames
        same = (frame_a is None and frame_b is None) or (
            frame_a is not None and frame_b is not None and frame_a.equals(frame_b)
        )
        differences += not same
        shape = frame_a.shape if frame_a is not None else (0, 0)
        print("ok  " if same else "DIFF", folder_a.relative_to(a), "(staged rows by file_hash)", shape)
    return differences


def compare_tables(a: Path, b: Path) -> int:
    differences = 0
    with (
        duckdb.connect(str(a / "wh.duckdb"), read_only=True) as warehouse_a,
        duckdb.connect(str(b / "wh.duckdb"), read_only=True) as warehouse_b,
    ):
        names = warehouse_a.sql(
            "select table_name from information_schema.tables where table_type = 'BASE TABLE' order by 1"
        ).fetchall()
        for (table,) in names:
            frame_a = warehouse_a.sql(f'select * from "{table}"').pl()
            frame_b = warehouse_b.sql(f'select * from "{table}"').pl()
            columns = comparable_columns(frame_a)
            sorted_a, sorted_b = (
                as_comparable(frame, columns).sort(pl.all(), nulls_last=True) for frame in (frame_a, frame_b)
            )
            same = sorted_a.equals(sorted_b)
            differing = []
            if not same and sorted_a.shape == sorted_b.shape:
                differing = [name for name in columns if not sorted_a[name].equals(sorted_b[name])]
            differences += not same
            print("ok  " if same else "DIFF", "table", table, frame_a.shape, differing or "")
    return differences


def compare_reports(a: Path, b: Path) -> int:
    differences = 0
    for path_a in sorted(path for path in (a / "reports").rglob("*") if path.is_file()):
        path_b = b / path_a.relative_to(a)
        same = path_b.exists() and path_a.read_bytes() == path_b.read_bytes()
        differences += not same
        print("ok  " if same else "diff", "report", path_a.relative_to(a))
    return differences


def main() -> int:
    a, b = Path(sys.argv[1]), Path(sys.argv[2])
    differences = compare_work_files(a, b) + compare_tables(a, b) + compare_reports(a, b)
    print("differences:", differences)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
