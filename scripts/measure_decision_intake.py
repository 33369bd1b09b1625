"""Measure the decision intake on hostile files: `.venv/bin/python scripts/measure_decision_intake.py [--lines N]`.

Builds, in a temporary decisions folder (province 01): a 5M-line workbook whose <dimension> says A1 (the
sheet XML is streamed into the zip, ~1 MB on disk), the same with an honest dimension, a 2 KB workbook
declaring A1:XFD1048576, and a small good CSV; then runs the night's intake (read_new_decisions) and prints
each file's outcome, the intake's wall time and this process's peak memory (the parsing child is
limited to decision_parse_memory_mb).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import polars as pl
import xlsxwriter

from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir
from vaxsync.marts.decisions import read_new_decisions

ROWS_PER_CHUNK = 100_000
TEXT_ROW = b'<row><c t="inlineStr"><is><t>reject</t></is></c></row>'
NUMBER_ROW = b"<row><c><v>1</v></c></row>"


def many_line_workbook(path: Path, lines: int, dimension: str, row: bytes) -> None:
    """A workbook of `lines` rows (`decision` header, then `row`), its sheet XML streamed into the zip."""
    with xlsxwriter.Workbook(path) as book:
        book.add_worksheet("review_required").write_string(0, 0, "PLACEHOLDER")
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    head, tail = sheet.split("<sheetData>")[0], sheet.split("</sheetData>")[1]
    head = head.split('<dimension ref="')[0] + f'<dimension ref="{dimension}"/>' + head.split("/>", 1)[1]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            if name != "xl/worksheets/sheet1.xml":
                target.writestr(name, data)
        with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as stream:
            stream.write(
                head.encode() + b'<sheetData><row><c t="inlineStr"><is><t>decision</t></is></c></row>'
            )
            for start in range(0, lines, ROWS_PER_CHUNK):  # chunks of rows, not one write per row
                stream.write(row * min(ROWS_PER_CHUNK, lines - start))
            stream.write(b"</sheetData>" + tail.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        folder = root / "decisions" / "01"
        folder.mkdir(parents=True)
        # Number cells keep the sheet XML under the inflated-size bound: the child process meets the rows.
        many_line_workbook(folder / "lines_dimension_lies.xlsx", arguments.lines, "A1", NUMBER_ROW)
        honest = f"A1:A{arguments.lines + 1}"
        many_line_workbook(folder / "lines_dimension_honest.xlsx", arguments.lines, honest, TEXT_ROW)
        with xlsxwriter.Workbook(folder / "whole_sheet.xlsx") as bomb:
            sheet = bomb.add_worksheet("review_required")
            sheet.write_string(0, 0, "decision")
            sheet.write_string(1048575, 16383, "x")
        (folder / "good.csv").write_text("row_key,decision,reviewer\nabc:1,reject,B\n")
        sizes = {path.name: path.stat().st_size for path in folder.iterdir()}
        settings = Settings(
            decisions_dir=root / "decisions", warehouse_path=root / "absent.duckdb", work_dir=root / "work"
        )
        work = RunWorkDir(settings)
        work.root.mkdir(parents=True)
        started = time.perf_counter()
        lines = read_new_decisions(settings, work)
        seconds = time.perf_counter() - started
        files = pl.read_parquet(work.decision_files_file).sort("decision_file")
        for row in files.iter_rows(named=True):
            name = row["decision_file"].rsplit("/", 1)[-1]
            print(
                f"{name:30} {sizes[name]:>10,} B  {row['status']:12} {row['quarantine_reason'] or '':20} {row['detail'] or ''}"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # building the files included
        print(f"lines kept: {lines.height}; intake {seconds:.1f} s; peak RSS of this process {peak} MB")


if __name__ == "__main__":
    main()
