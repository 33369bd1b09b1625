"""Decision files: where they may be, what is opened, and how hostile or odd files are read or quarantined.

Fixtures under tests/fixtures/decisions were made by iconv and LibreOffice (scripts/make_decision_fixtures.sh).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir
from vaxsync.marts.decision_files import (
    DecisionFileRefusedError,
    check_workbook_bounds,
    list_decision_files,
    prepare_province_folders,
    province_of,
    read_grids,
)
from vaxsync.marts.decisions import read_new_decisions, sheet_lines

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "decisions"
KEY = "a" * 64


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "decisions"
    (folder / "01").mkdir(parents=True)
    return Settings(
        decisions_dir=folder, warehouse_path=tmp_path / "absent.duckdb", work_dir=tmp_path / "work"
    )


def night(settings: Settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Tonight's decision lines and file summaries, as the match stage reads them."""
    work = RunWorkDir(settings)
    work.root.mkdir(parents=True, exist_ok=True)
    lines = read_new_decisions(settings, work)
    return lines, pl.read_parquet(work.decision_files_file).sort("decision_file")


def workbook(path: Path, rows: list[list[str]], *, sheet: str = "review_required") -> Path:
    with xlsxwriter.Workbook(path) as book:
        worksheet = book.add_worksheet(sheet)
        for index, row in enumerate(rows):
            worksheet.write_row(index, 0, row)
    return path


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_only_regular_files_inside_the_folder_are_opened(settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_bytes(csv_bytes("row_key,decision,reviewer", f"{KEY}:1,accept 1,Mallory"))
    folder = settings.decisions_dir / "01"
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "outside.csv").symlink_to(outside)
    (settings.decisions_dir / "79").symlink_to(tmp_path, target_is_directory=True)
    lines, files = night(settings)
    assert lines.is_empty()
    assert files.select("decision_file", "status", "quarantine_reason").rows() == [
        ("01/outside.csv", "quarantined", "symlink"),
        ("01/passwd.csv", "quarantined", "symlink"),
        ("79", "quarantined", "symlink"),
    ]


def test_the_night_makes_an_owner_only_folder_per_province(tmp_path: Path) -> None:
    prepare_province_folders(tmp_path / "decisions", ["01", "79", "??"])
    folders = sorted(path.name for path in (tmp_path / "decisions").iterdir())
    assert folders == ["01", "79", "unknown"]
    for folder in [tmp_path / "decisions", *(tmp_path / "decisions").iterdir()]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    prepare_province_folders(tmp_path / "not" / "configured" / "decisions", ["01"])  # no tree grown
    assert not (tmp_path / "not").exists()


def test_the_province_is_the_folder_the_file_was_dropped_in() -> None:
    assert province_of(Path("01/mismatch_79_2023-01-31.xlsx")) == "01"
    assert province_of(Path("01/sub/any.csv")) == "01"
    assert province_of(Path("unknown/x.csv")) == "??"
    assert province_of(Path("mismatch_01_2023-01-31.xlsx")) is None  # the top level: no province
    assert province_of(Path("Hà Nội/x.csv")) is None


def test_identical_copies_in_one_folder_are_read_once(settings: Settings) -> None:
    content = csv_bytes("row_key,decision,reviewer", f"{KEY}:1,reject,Trần Thị B")
    for name in ("a.csv", "a (1).csv", "copy of a.csv"):
        (settings.decisions_dir / "01" / name).write_bytes(content)
    (settings.decisions_dir / "79").mkdir()
    (settings.decisions_dir / "79" / "a.csv").write_bytes(content)  # another folder: another statement
    listed = list_decision_files(settings.decisions_dir)
    assert [(item.relative, item.identical_copies) for item in listed] == [
        ("01/a (1).csv", 2),
        ("79/a.csv", 0),
    ]
    lines, _ = night(settings)
    assert lines.select("file_province_code", "sheet_row").rows() == [("01", 2), ("79", 2)]
    assert lines["decision_file_hash"].n_unique() == 2


def test_a_file_larger_than_allowed_is_not_parsed(settings: Settings) -> None:
    (settings.decisions_dir / "01" / "big.csv").write_bytes(csv_bytes("row_key,decision") + b"x" * 2_000)
    small = settings.model_copy(update={"decision_file_max_bytes": 1_000})
    _, files = night(small)
    assert files.select("status", "quarantine_reason").row(0) == ("quarantined", "file_too_large")


def test_a_workbook_declaring_the_whole_sheet_is_refused_before_parsing(settings: Settings) -> None:
    path = settings.decisions_dir / "01" / "bomb.xlsx"
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet("review_required")
        sheet.write_string(0, 0, "decision")
        sheet.write_string(1048575, 16383, "x")  # A1 and XFD1048576: a 1.9 KB file, 512 GB to a naive reader
    assert path.stat().st_size < 10_000
    with pytest.raises(DecisionFileRefusedError) as refused:
        check_workbook_bounds(path, settings)
    assert refused.value.reason == "workbook_too_large"
    assert "1048576 rows x 16384 columns" in refused.value.detail


def _rewritten(path: Path, member_name: str, change: Callable[[bytes], bytes]) -> None:
    """Rewrite one member of a workbook's zip, as a hand-made (or hostile) file would have it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member)
            target.writestr(member.filename, change(data) if member.filename == member_name else data)
    path.write_bytes(buffer.getvalue())


def _with_declared_dimension(path: Path, ref: str) -> None:
    """Rewrite the sheet's <dimension ref> (a workbook may lie about its size)."""

    def change(data: bytes) -> bytes:
        start = data.index(b'<dimension ref="') + len(b'<dimension ref="')
        return data[:start] + ref.encode() + data[data.index(b'"', start) :]

    _rewritten(path, "xl/worksheets/sheet1.xml", change)


def test_sheet_rows_are_bounded_while_parsing_even_when_the_dimension_lies(settings: Settings) -> None:
    path = workbook(
        settings.decisions_dir / "01" / "long.xlsx",
        [["row_key", "decision", "reviewer"], *[[f"{KEY}:{n}", "reject", "B"] for n in range(1, 300)]],
    )
    _with_declared_dimension(path, "A1:C2")
    bounded = settings.model_copy(update={"decision_max_lines": 100})
    lines, files = night(bounded)
    assert lines.is_empty()
    assert files.select("status", "quarantine_reason").row(0) == ("quarantined", "too_many_lines")


def test_a_parse_that_runs_out_of_memory_quarantines_the_file_and_the_night_goes_on(
    settings: Settings,
) -> None:
    path = workbook(
        settings.decisions_dir / "01" / "heavy.xlsx", [["row_key", "decision"], [f"{KEY}:1", "PAD"]]
    )
    _rewritten(path, "xl/sharedStrings.xml", lambda xml: xml.replace(b"PAD", b"y" * 40_000_000))
    assert path.stat().st_size < 100_000  # 40 MB of text deflates to a few KB
    (settings.decisions_dir / "01" / "fine.csv").write_bytes(
        csv_bytes("row_key,decision,reviewer", f"{KEY}:2,reject,B")
    )
    starved = settings.model_copy(update={"decision_parse_memory_mb": 96})
    lines, files = night(starved)
    assert files.select("decision_file", "status", "quarantine_reason").rows() == [
        ("01/fine.csv", "read", None),
        ("01/heavy.xlsx", "quarantined", "workbook_too_large"),
    ]
    assert lines["row_key"].to_list() == [f"{KEY}:2"]


def test_more_lines_than_the_province_could_need_quarantine_the_file(settings: Settings) -> None:
    rows = [f"{KEY}:{n},reject,B" for n in range(1, 12)]
    (settings.decisions_dir / "01" / "many.csv").write_bytes(csv_bytes("row_key,decision,reviewer", *rows))
    # No warehouse: the province has no open rows, so only the slack is allowed.
    lines, files = night(settings.model_copy(update={"decision_lines_slack": 10}))
    assert files.select("status", "quarantine_reason").row(0) == ("quarantined", "too_many_lines")
    assert lines.is_empty()


def test_a_formula_is_seen_not_its_cached_value(settings: Settings) -> None:
    path = settings.decisions_dir / "01" / "formula.xlsx"
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet("review_required")
        sheet.write_row(0, 0, ["row_key", "decision", "reviewer"])
        sheet.write_row(1, 0, [f"{KEY}:1"])
        sheet.write_formula(1, 1, '="reject"', None, "accept 1")  # Excel shows the cached "accept 1"
        sheet.write_string(1, 2, "B")
        sheet.write_row(2, 0, [f"{KEY}:2", "accept 1", "B"])
    lines, _ = night(settings)
    assert lines.select("sheet_row", "decision", "has_formula").rows() == [
        (2, '="reject"', True),
        (3, "accept 1", False),
    ]


def test_a_libreoffice_formula_cell_is_refused_too(settings: Settings) -> None:
    grids = read_grids(
        next(iter(list_decision_files(_dropped(settings, FIXTURES / "libreoffice_formula.xlsx")))), settings
    )
    lines = sheet_lines(grids["libreoffice_formula"], "libreoffice_formula")
    assert lines is not None
    assert lines.select("decision", "has_formula").rows() == [('="rej"&"ect"', True), ("accept 1", False)]


def _dropped(settings: Settings, fixture: Path) -> Path:
    (settings.decisions_dir / "01" / fixture.name).write_bytes(fixture.read_bytes())
    return settings.decisions_dir


def test_a_semicolon_cp1258_csv_with_a_ragged_line_is_read_whole(settings: Settings) -> None:
    _dropped(settings, FIXTURES / "semicolon_cp1258.csv")
    lines, files = night(settings)
    assert files.select("status", "reviewer").row(0) == ("read", "Trần Thị Bích")
    assert lines.select("sheet_row", "decision", "corrected_id", "note").rows() == [
        (2, "accept 2", None, "đã gọi điện xác nhận"),
        (3, "reject", None, None),
        (4, "corrected", "001090000009", "sai số CCCD"),
    ]


def test_a_report_sheet_saved_as_excels_unicode_text_is_read(settings: Settings) -> None:
    # Excel's "Unicode Text": UTF-16 with a BOM, tabs, CRLF, and the report's labels wrapped over two
    # lines inside quotes ('Quyết định\n(decision)'), 50 columns. On main the header record spanned more
    # than 20 lines, the text was read line by line and the file refused as no_decision_column.
    labels = {"row_key": "Mã dòng (không sửa)", "decision": "Quyết định", "reviewer": "Người xem xét"}
    codes = ["row_key", "decision", "reviewer", *[f"candidate_{index}_detail" for index in range(47)]]
    header = [f'"{labels.get(code, "Thông tin")}\n({code})"' for code in codes]
    lines = [
        header,
        [f"{KEY}:1", "accept 1", "Trần Thị Bích", *[""] * 47],
        [f"{KEY}:2", "reject", "Trần Thị Bích"],
    ]
    text = "".join("\t".join(line) + "\r\n" for line in lines)
    (settings.decisions_dir / "01" / "review_required.txt").write_bytes(
        b"\xff\xfe" + text.encode("utf-16-le")
    )

    lines_read, files = night(settings)

    assert files.select("status", "reviewer").row(0) == ("read", "Trần Thị Bích")
    assert lines_read["decision"].to_list() == ["accept 1", "reject"]


def test_header_labels_above_codes_and_reordered_columns_are_read(settings: Settings) -> None:
    grid = pl.DataFrame(
        {
            "line_number": [1, 2, 3],
            "cells": [
                ["Ghi chú\n(note)", "Quyết định\n(decision)", "Mã dòng (không sửa)\n(row_key)"],
                ["ok", "reject", f"{KEY}:1"],
                [None, None, f"{KEY}:2"],  # not decided: not a line
            ],
            "formula_columns": [[], [], []],
        },
        schema={"line_number": pl.Int32, "cells": pl.List(pl.String), "formula_columns": pl.List(pl.Int32)},
    )
    lines = sheet_lines(grid, "review_required")
    assert lines is not None
    assert lines.select("row_key", "decision", "note").rows() == [(f"{KEY}:1", "reject", "ok")]


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("001.090.000.009", "001090000009"),
        (" 001 090 000 009 ", "001090000009"),
        ("'001090000009", "001090000009"),
        ("1090000009", "001090000009"),  # a number cell: Excel dropped the leading zeros
        ("79090000009", "079090000009"),
        ("79090000009.0", "079090000009"),  # the number cell exported with its decimals
        ("1.0909E+11", "10909E+11"),  # digits lost for good: stays malformed
    ],
)
def test_a_corrected_id_is_cleaned_as_an_id_column_is(typed: str, read: str) -> None:
    # One rule for IDs (transforms.normalize.ids): found by h6 with a hurried reviewer's file, where
    # "79090000009.0" became 13 digits and an 11-digit number cell was refused as malformed_id.
    grid = pl.DataFrame(
        {
            "line_number": [1, 2],
            "cells": [["(row_key)", "(decision)", "(corrected_id)"], [f"{KEY}:1", "corrected", typed]],
            "formula_columns": [[], []],
        },
        schema={"line_number": pl.Int32, "cells": pl.List(pl.String), "formula_columns": pl.List(pl.Int32)},
    )
    lines = sheet_lines(grid, "review_required")
    assert lines is not None
    assert lines["corrected_id"].to_list() == [read]


def test_decided_at_is_the_intake_time_never_the_files_dates(settings: Settings) -> None:
    for name, year in (("old.csv", 2000), ("future.csv", 2099)):
        path = settings.decisions_dir / "01" / name
        path.write_bytes(
            csv_bytes("row_key,decision,reviewer,decided_on", f"{KEY}:{year},reject,B,{year}-06-01")
        )
        stamp = dt.datetime(year, 6, 1, tzinfo=dt.UTC).timestamp()
        os.utime(path, (stamp, stamp))
    (settings.decisions_dir / "01" / "dated.csv").write_bytes(
        csv_bytes("row_key,decision,reviewer,decided_on", f"{KEY}:5,reject,B,2023-02-01")
    )
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    lines, _ = night(settings)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert all(before <= value <= after for value in lines["decided_at"].to_list())
    stated = dict(zip(lines["row_key"].to_list(), lines["stated_decided_on"].to_list(), strict=True))
    assert stated == {f"{KEY}:2000": None, f"{KEY}:2099": None, f"{KEY}:5": dt.date(2023, 2, 1)}


def test_a_file_read_on_an_earlier_night_is_not_read_again_and_a_broken_one_is_recorded(
    settings: Settings,
) -> None:
    (settings.decisions_dir / "01" / "not-a-workbook.xlsx").write_bytes(b"not a workbook")
    (settings.decisions_dir / "01" / "~$lock.xlsx").write_bytes(b"an Office lock file")
    (settings.decisions_dir / "01" / "summary.csv").write_bytes(csv_bytes("a,b", "1,2"))
    _, files = night(settings)
    assert files.select("decision_file", "status", "quarantine_reason").rows() == [
        ("01/not-a-workbook.xlsx", "quarantined", "unreadable_file"),
        ("01/summary.csv", "quarantined", "no_decision_column"),
    ]


def test_a_file_the_night_may_not_read_is_quarantined_and_the_night_goes_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Saved owner-only by a reviewer's account: on main PermissionError stopped the night at the match
    # stage, every night until someone changed the file. Root reads anything, so the refusal is simulated.
    locked = settings.decisions_dir / "01" / "locked.csv"
    locked.write_bytes(csv_bytes("row_key,decision,reviewer", f"{KEY}:1,accept 1,Lan"))
    (settings.decisions_dir / "01" / "summary.csv").write_bytes(csv_bytes("a,b", "1,2"))
    real_open = Path.open

    def refusing(path: Path, *args: object, **kwargs: object) -> object:
        if path == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refusing)
    lines, files = night(settings)

    assert lines.is_empty()
    assert files.select("decision_file", "status", "quarantine_reason").rows() == [
        ("01/locked.csv", "quarantined", "unreadable_file"),
        ("01/summary.csv", "quarantined", "no_decision_column"),
    ]
