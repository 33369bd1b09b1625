"""Compare two warehouses table by table: every table and view, rows sorted, clock columns masked.

    python scripts/compare_warehouses.py BEFORE.duckdb AFTER.duckdb

For proving that a change to publish (or any stage) leaves the warehouse's contents as they were: publish
the same night's work folder with the old code and the new, then compare. Clock values differ between two
runs by nature (when a row was written, how long a stage took, GX's validation time): they are compared as
present or absent only. Prints one line per relation and the counts of differing rows, never their values:
the warehouse holds personal data. Exit status 0 when identical, 1 otherwise.
"""

from __future__ import annotations

import sys

import duckdb

# Written from the clock, not from the data: compared as null / not null.
CLOCK_COLUMNS = {
    "first_synced_at",
    "ingested_at",
    "arrived_at",
    "retracted_at",
    "relinked_at",
    "readmitted_at",
    "read_at",
    "validated_at",
    "started_at",
    "finished_at",
    "stage_seconds",
    "decided_at",
}


def _relations(connection: duckdb.DuckDBPyConnection) -> list[str]:
    rows = connection.execute(
        "select table_name from information_schema.tables where table_schema = 'main' order by 1"
    ).fetchall()
    return [name for (name,) in rows]


def _column_sql(column: str) -> str:
    if column in CLOCK_COLUMNS or column.endswith("_seconds"):
        return f'("{column}" is null) as "{column}"'
    if column == "results_json":  # GX's report carries its own validation_time
        return f"""regexp_replace("{column}", '"validation_time": "[^"]*"', '') as "{column}\""""
    return f'"{column}"'


def _rows(connection: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[str], list[tuple[object, ...]]]:
    columns = [
        name
        for (name,) in connection.execute(
            "select column_name from information_schema.columns where table_schema = 'main' and table_name = ?"
            " order by ordinal_position",
            [relation],
        ).fetchall()
    ]
    select = ", ".join(_column_sql(column) for column in columns)
    return columns, connection.execute(f'select {select} from "{relation}" order by all').fetchall()


def compare(before_path: str, after_path: str) -> bool:
    before = duckdb.connect(before_path, read_only=True)
    after = duckdb.connect(after_path, read_only=True)
    names_before, names_after = _relations(before), _relations(after)
    identical = names_before == names_after
    if not identical:
        print(f"relations only in one warehouse: {sorted(set(names_before) ^ set(names_after))}")
    for relation in sorted(set(names_before) & set(names_after)):
        columns_before, rows_before = _rows(before, relation)
        columns_after, rows_after = _rows(after, relation)
        same = columns_before == columns_after and rows_before == rows_after
        identical &= same
        detail = ""
        if not same:
            only_before = len(set(rows_before) - set(rows_after))
            only_after = len(set(rows_after) - set(rows_before))
            detail = f" ({only_before} rows only before, {only_after} only after; columns equal: "
            detail += f"{columns_before == columns_after})"
        print(
            f"{'same' if same else 'DIFFERENT'} {relation}: {len(rows_before)} / {len(rows_after)} rows{detail}"
        )
    print("IDENTICAL" if identical else "DIFFERENT")
    return identical


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(0 if compare(sys.argv[1], sys.argv[2]) else 1)
