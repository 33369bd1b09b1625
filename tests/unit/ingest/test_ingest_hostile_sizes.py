"""Hostile sizes at the landing: a file of one huge line, a sparse (NUL-filled) file, a file over the
landing limit. Each is quarantined with a reason and a detail, without the minutes or gigabytes reading
it would cost (on main: a 10 MB line cost ~15 CPU s, a 2 GB sparse file 2.4 GB of memory)."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import polars as pl
import pytest
from ingest_export_files import VN_HEADER, export_rows, render_delimited, write

from transforms.ingest import stage_export, stage_exports
from transforms.ingest.staging import MAX_LINE_BYTES, NUL_TAIL_PROBE_BYTES
from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import LANDING_FILE_MAX_BYTES, Settings
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.orchestration import pipeline
from vaxsync.orchestration.ingest_worker import ingest_exports

EXPORT = render_delimited([VN_HEADER, *export_rows(12)])
# More rows than MAX_LINE_BYTES holds bytes: the files below are checked line by line, not skipped as small.
LONG_EXPORT = render_delimited([VN_HEADER, *export_rows(2 * MAX_LINE_BYTES // len(EXPORT) * 12)])


def _stage_both_ways(
    landing: Path, name: str, max_file_bytes: int = LANDING_FILE_MAX_BYTES
) -> list[dict[str, object]]:
    """The ledger row as stage_export and as the batch (stage_exports, beside an ordinary file) give it."""
    write(landing, "ordinary.csv", EXPORT)
    alone = stage_export(landing, name, "h", max_file_bytes=max_file_bytes)
    batch = stage_exports(landing, [("ordinary.csv", "o"), (name, "h")], max_file_bytes=max_file_bytes)
    assert batch[0].ledger["status"] == "loaded"
    return [alone.ledger, batch[1].ledger]


def test_a_file_of_one_huge_line_is_quarantined_naming_the_line(tmp_path: Path) -> None:
    # A separator every other byte: on main each cell cost the sniffer and the header mapping (~15 CPU s
    # for 10 MB), and the file was quarantined missing_required_columns.
    name = write(tmp_path, "one_line.csv", EXPORT + "a," * MAX_LINE_BYTES + "\r\n" + EXPORT)

    for ledger in _stage_both_ways(tmp_path, name):
        assert (ledger["status"], ledger["quarantine_reason"]) == ("quarantined", "unreadable_file")
        assert ledger["quarantine_detail"] == (
            f"line 14 runs {2 * MAX_LINE_BYTES} bytes without a line end (a line may be at most "
            f"{MAX_LINE_BYTES} bytes): not rows of an export"
        )


@pytest.mark.parametrize(
    ("line_end", "encoding"),
    [("\r", "utf-8"), ("\n", "utf-8"), ("\r\n", "utf-16"), ("\r", "utf-16-le")],
)
def test_long_files_of_ordinary_lines_still_load(tmp_path: Path, line_end: str, encoding: str) -> None:
    # Old Mac files end lines in CR alone; UTF-16 line ends hold NUL bytes beside CR and LF.
    text = LONG_EXPORT.replace("\r\n", line_end)
    name = write(tmp_path, "long.csv", text.encode(encoding))

    for ledger in _stage_both_ways(tmp_path, name):
        assert ledger["status"] == "loaded", ledger["quarantine_detail"]
        assert ledger["rows_read"] == LONG_EXPORT.count("\r\n") - 1


def test_a_quoted_cell_spanning_lines_in_a_long_file_still_loads(tmp_path: Path) -> None:
    rows = [VN_HEADER, *export_rows(len(LONG_EXPORT) // 100)]
    rows[1][6] = "Số 1\nđường Lê Lợi\nPhường Bến Nghé"  # an address typed on three lines in one cell
    name = write(tmp_path, "wrapped.csv", render_delimited(rows))

    for ledger in _stage_both_ways(tmp_path, name):
        assert ledger["status"] == "loaded", ledger["quarantine_detail"]
        assert ledger["rows_read"] == len(rows) - 1


def test_a_sparse_file_is_quarantined_from_its_tail_without_being_read(tmp_path: Path) -> None:
    # A copy preallocated and never filled: a header and rows, then a 128 MiB hole that reads as NULs.
    size = 128 * 1024 * 1024
    with (tmp_path / "sparse.csv").open("wb") as handle:
        handle.write(EXPORT.encode())
        handle.truncate(size)

    tracemalloc.start()
    try:
        ledgers = _stage_both_ways(tmp_path, "sparse.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (
        peak < size // 4
    )  # on main the file was read whole, by both ways (its rows are estimated from 4 MiB)
    for ledger in ledgers:
        assert (ledger["status"], ledger["quarantine_reason"]) == ("quarantined", "unreadable_file")
        assert ledger["quarantine_detail"] == (
            f"the file's last {NUL_TAIL_PROBE_BYTES} bytes (of {size}) are NUL bytes, not text (a copy cut "
            "short, preallocated or never filled): send it again"
        )
        assert ledger["file_size_bytes"] == size


@pytest.mark.parametrize("name", ["DS_tiem.csv", "DS_tiem.xlsx"])
def test_a_file_over_the_landing_limit_is_quarantined_unread(tmp_path: Path, name: str) -> None:
    limit = 2 * len(EXPORT.encode())  # the ordinary file is under it
    settings = Settings(landing_file_max_bytes=limit)
    write(tmp_path, name, LONG_EXPORT)
    size = len(LONG_EXPORT.encode())

    ledgers = _stage_both_ways(tmp_path, name, max_file_bytes=settings.landing_file_max_bytes)

    for ledger in ledgers:
        assert (ledger["status"], ledger["quarantine_reason"]) == ("quarantined", "file_too_large")
        assert ledger["quarantine_detail"] == (
            f"the file is {size} bytes, over the landing limit of {limit} bytes "
            "(landing_file_max_bytes): not read; send the export split into smaller files"
        )
        assert ledger["file_size_bytes"] == size
        # a text file's rows are estimated from its head (a workbook's cannot be told unread)
        assert ledger["rows_estimated"] == (None if name.endswith(".xlsx") else LONG_EXPORT.count("\r\n"))


def test_the_landing_limit_is_generous_for_real_exports() -> None:
    assert Settings().landing_file_max_bytes == LANDING_FILE_MAX_BYTES == 512 * 1024 * 1024


def test_the_landing_limit_set_for_a_night_quarantines_into_the_ledger(tmp_path: Path) -> None:
    registry = tmp_path / "registry.parquet"
    one_citizen = {"citizen_id": "001280000001", "full_name": "Nguyễn Văn A", "birth_year": 1980, "sex": "M"}
    pl.DataFrame([one_citizen], schema=REGISTRY_SCHEMA).write_parquet(registry)
    settings = Settings(
        registry_path=registry,
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / "night" / "warehouse.duckdb",
        as_of=dt.date(2023, 1, 31),
        landing_file_max_bytes=2 * len(EXPORT.encode()),
    )
    write(settings.landing_dir, "small.csv", EXPORT)
    write(settings.landing_dir, "large.csv", LONG_EXPORT)
    files = pipeline.discover_new_exports(settings)

    results = ingest_exports(settings, files)

    ledger = {
        entry["source_file"]: entry
        for entry in map(
            read_json, map(RunWorkDir(settings).ledger_file, [result["file_hash"] for result in results])
        )
    }
    assert {name: (row["status"], row["quarantine_reason"]) for name, row in ledger.items()} == {
        "large.csv": ("quarantined", "file_too_large"),
        "small.csv": ("loaded", None),
    }
