"""The decision files of a night: which files to read, and reading them without trusting them.

- Where: `<decisions>/<province code>/...` (folders made owner-only). The province of a file is its
  folder's, never a cell or the file name; a file elsewhere is read, and its lines rejected.
- What: regular files only. A symlink (to a file or a folder) is refused unread; nothing outside the
  folder is opened.
- Once: a file is keyed by its province folder and its content hash; identical copies in one folder
  are read once (the copies are counted), and a key read on an earlier night is skipped.
- Bounded: the size is checked first; a workbook's declared dimensions and uncompressed size are
  checked from the zip before parsing (the landing's `check_workbook_bounds`, then tighter bounds on every
  sheet); the workbook is parsed in a child process with an address-space limit and a timeout
  (`vaxsync.marts.decision_workbook_reader`), so a file that aborts or exhausts memory is quarantined and the
  night goes on. The number of sheet rows is bounded while parsing. (The landing's reader process reads
  cached values with calamine; a decision needs the formulas themselves, hence openpyxl here.)
- CSV and text: the landing's readers (encoding detection incl. CP1258, delimiter sniffing, ragged
  lines kept, `transforms.ingest`).

Every sheet becomes a grid: `line_number` (1-based), `cells` (List[String]) and `formula_columns`
(List[Int32]: positions of the cells holding a formula; a CSV cell beginning with `=` counts as one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.ingest.delimited import sniff_separator, split_fields, split_records
from transforms.ingest.landing import file_content_hash
from transforms.ingest.text_decoding import decode_export_bytes
from transforms.ingest.workbook import WorkbookTooLargeError, looks_like_workbook
from transforms.ingest.workbook import check_workbook_bounds as landing_workbook_bounds
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import create_private_folder, private_folder
from vaxsync.marts.decision_workbook_reader import TOO_MANY_LINES_EXIT

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".txt")
DECISION_FILE_SUFFIXES = WORKBOOK_SUFFIXES + TEXT_SUFFIXES
LOCK_FILE_PREFIX = "~$"  # Office's lock files, left while a workbook is open
MAX_COLUMNS = 256  # a report has about 60 columns; cells beyond are not read
UNCOMPRESSED_PER_ALLOWED_BYTE = 10  # a workbook may inflate to 10x the allowed file size
DIMENSION_PROBE_BYTES = 4096  # <dimension ref=...> sits at the start of a sheet's XML
PROVINCE_FOLDER = re.compile(r"^\d{2}$")
UNKNOWN_PROVINCE_FOLDER, UNKNOWN_PROVINCE = "unknown", "??"

GRID_SCHEMA: dict[str, pl.DataType] = {
    "line_number": pl.Int32(),
    "cells": pl.List(pl.String()),
    "formula_columns": pl.List(pl.Int32()),  # positions of the cells holding a formula
}


@dataclass(frozen=True)
class DecisionFile:
    path: Path
    relative: str  # its path inside the decisions folder: what the audit and the report show
    province_code: str | None  # from the folder; None when not in a province's folder
    intake_key: str  # sha256 of (folder, content hash): the file is read once per key
    refusal: str | None = None  # DECISION_FILE_REASONS code when refused unread
    identical_copies: int = 0  # other files with the same key in the same night, skipped


class DecisionFileRefusedError(Exception):
    """The file is quarantined: `reason` is a DECISION_FILE_REASONS code, `detail` one line for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


# --- which files --------------------------------------------------------------------------------------------


def prepare_province_folders(decisions_dir: Path, province_codes: list[str]) -> None:
    """The decisions folder and one owner-only folder per province (unknown province: `unknown`).

    Only below an existing parent folder: a misconfigured path does not grow a tree of folders."""
    if not decisions_dir.parent.is_dir():
        return
    create_private_folder(decisions_dir)  # the operator's (an upload folder others write into): not tightened
    for code in province_codes:
        private_folder(decisions_dir / (UNKNOWN_PROVINCE_FOLDER if code == UNKNOWN_PROVINCE else code))


def list_decision_files(decisions_dir: Path) -> list[DecisionFile]:
    """Every decision file under the folder (not following links), identical copies folded into one."""
    if not decisions_dir.is_dir() or decisions_dir.is_symlink():
        return []
    found: list[DecisionFile] = []
    for folder, subfolders, names in os.walk(decisions_dir, followlinks=False):
        base = Path(folder)
        for name in sorted(subfolders):  # os.walk lists a linked folder but does not enter it
            if (base / name).is_symlink():
                found.append(_refused_link(decisions_dir, base / name))
        for name in sorted(names):
            path = base / name
            if name.startswith(LOCK_FILE_PREFIX) or path.suffix.lower() not in DECISION_FILE_SUFFIXES:
                continue
            found.append(_listed(decisions_dir, path))
    return _fold_identical_copies(found)


def _listed(decisions_dir: Path, path: Path) -> DecisionFile:
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
        return _refused_link(decisions_dir, path)
    relative = path.relative_to(decisions_dir)
    province = province_of(relative)
    try:
        content_hash = file_content_hash(path)
    except OSError:  # not ours to read (saved owner-only by a reviewer's account), or gone since listed
        key = hashlib.sha256(f"unreadable\x1f{relative.as_posix()}".encode()).hexdigest()  # once per path
        return DecisionFile(path, relative.as_posix(), province, key, refusal="unreadable_file")
    return DecisionFile(path, relative.as_posix(), province, _intake_key(relative, content_hash))


def _refused_link(decisions_dir: Path, path: Path) -> DecisionFile:
    relative = path.relative_to(decisions_dir)
    target = os.readlink(path) if path.is_symlink() else "(not a regular file)"
    key = hashlib.sha256(f"link\x1f{relative.as_posix()}\x1f{target}".encode()).hexdigest()
    return DecisionFile(path, relative.as_posix(), province_of(relative), key, refusal="symlink")


def province_of(relative: Path) -> str | None:
    """The province whose folder holds the file: `<code>/file` or deeper; None at the top or elsewhere."""
    if len(relative.parts) < 2:
        return None
    folder = relative.parts[0]
    if folder == UNKNOWN_PROVINCE_FOLDER:
        return UNKNOWN_PROVINCE
    return folder if PROVINCE_FOLDER.match(folder) else None


def _intake_key(relative: Path, content_hash: str) -> str:
    folder = relative.parts[0] if len(relative.parts) > 1 else ""
    return hashlib.sha256(f"{folder}\x1f{content_hash}".encode()).hexdigest()


def _fold_identical_copies(files: list[DecisionFile]) -> list[DecisionFile]:
    """The first file (by path) of each key, with the number of copies skipped."""
    by_key: dict[str, list[DecisionFile]] = {}
    for listed in sorted(files, key=lambda item: item.relative):  # one entry per file, not per row
        by_key.setdefault(listed.intake_key, []).append(listed)
    return [
        DecisionFile(
            same[0].path, same[0].relative, same[0].province_code, key, same[0].refusal, len(same) - 1
        )
        for key, same in by_key.items()
    ]


# --- reading one file -----------------------------------------------------------------------------------


_REFUSED_UNOPENED = {
    "symlink": "a link, not a regular file: not opened",
    "unreadable_file": "the night's account may not read it (its permissions): not opened",
}


def read_grids(decision_file: DecisionFile, settings: Settings) -> dict[str, pl.DataFrame]:
    """Sheet name -> grid (GRID_SCHEMA); raises DecisionFileRefusedError when the file is quarantined."""
    if decision_file.refusal is not None:
        raise DecisionFileRefusedError(decision_file.refusal, _REFUSED_UNOPENED[decision_file.refusal])
    path = decision_file.path
    size = path.stat().st_size
    if size > settings.decision_file_max_bytes:
        raise DecisionFileRefusedError(
            "file_too_large", f"{size} bytes, more than the {settings.decision_file_max_bytes} allowed"
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    if looks_like_workbook(head):
        try:  # the landing's bounds for any workbook, then the tighter ones of a decision file
            landing_workbook_bounds(path)
        except WorkbookTooLargeError as error:
            raise DecisionFileRefusedError("workbook_too_large", str(error)) from error
        check_workbook_bounds(path, settings)
        return _parse_workbook(path, settings)
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        raise DecisionFileRefusedError("unreadable_file", "named .xlsx but not a workbook")
    return {path.stem: _text_grid(path.read_bytes(), settings)}


def check_workbook_bounds(path: Path, settings: Settings) -> None:
    """Refuse, before any parsing, a workbook whose zip inflates too far or whose sheets declare
    more rows or columns than a decision file can have (the dimension spanning A1:XFD1048576)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            inflated = sum(member.file_size for member in members)
            allowed = settings.decision_file_max_bytes * UNCOMPRESSED_PER_ALLOWED_BYTE
            if inflated > allowed:
                raise DecisionFileRefusedError(
                    "workbook_too_large", f"inflates to {inflated} bytes, more than {allowed}"
                )
            for member in members:
                if member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml"):
                    with archive.open(member) as sheet:
                        rows, columns = declared_dimension(sheet.read(DIMENSION_PROBE_BYTES))
                    if rows > settings.decision_max_lines or columns > MAX_COLUMNS:
                        raise DecisionFileRefusedError(
                            "workbook_too_large",
                            f"{member.filename} declares {rows} rows x {columns} columns",
                        )
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DecisionFileRefusedError(
            "unreadable_file", f"not a readable zip ({type(error).__name__})"
        ) from error


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]*)(\d*)(?::([A-Z]+)(\d+))?"')


def declared_dimension(sheet_head: bytes) -> tuple[int, int]:
    """(last row, last column) of a sheet's <dimension ref>, (0, 0) when it declares none."""
    found = _DIMENSION.search(sheet_head)
    if found is None:
        return 0, 0
    column = found.group(3) or found.group(1)
    row = found.group(4) or found.group(2)
    number = 0
    for letter in column.decode():  # at most 3 letters
        number = number * 26 + ord(letter) - ord("A") + 1
    return int(row or 0), number


def _parse_workbook(path: Path, settings: Settings) -> dict[str, pl.DataFrame]:
    command = [
        sys.executable, "-m", "vaxsync.marts.decision_workbook_reader", str(path),
        str(settings.decision_max_lines), str(MAX_COLUMNS), str(settings.decision_parse_memory_mb),
    ]  # fmt: skip
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            timeout=settings.decision_parse_timeout_seconds,
            check=False,
            cwd=Path(__file__).resolve().parents[2],  # the folder holding the vaxsync package
        )
    except subprocess.TimeoutExpired as error:
        raise DecisionFileRefusedError(
            "workbook_too_large", f"parsing took over {settings.decision_parse_timeout_seconds:.0f} s"
        ) from error
    if completed.returncode == TOO_MANY_LINES_EXIT:
        raise DecisionFileRefusedError(
            "too_many_lines", f"more than {settings.decision_max_lines} sheet rows"
        )
    if completed.returncode != 0:
        failure = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["killed"]
        if completed.returncode < 0 or "memory" in completed.stderr.decode("utf-8", "replace").lower():
            raise DecisionFileRefusedError(
                "workbook_too_large",
                f"parsing exceeded {settings.decision_parse_memory_mb} MB or was killed ({completed.returncode})",
            )
        raise DecisionFileRefusedError(
            "unreadable_file", f"the workbook cannot be opened ({failure[0][:200]})"
        )
    parsed = json.loads(completed.stdout)
    return {sheet["name"]: _workbook_grid(sheet["rows"], sheet["formulas"]) for sheet in parsed["sheets"]}


def _workbook_grid(rows: list[list[str | None]], formulas: list[list[int]]) -> pl.DataFrame:
    grid = pl.DataFrame({"cells": rows}, schema={"cells": pl.List(pl.String)}).with_row_index("row", offset=0)
    flagged = (
        pl.DataFrame(formulas, schema={"row": pl.UInt32, "column": pl.Int32}, orient="row")
        .group_by("row")
        .agg(formula_columns="column")
    )
    return (
        grid.join(flagged, on="row", how="left")
        .sort("row")
        .select(
            line_number=pl.col("row") + 1,
            cells=pl.col("cells").list.eval(pl.when(pl.element().str.strip_chars() != "").then(pl.element())),
            formula_columns=pl.col("formula_columns").fill_null([]),
        )
        .cast(GRID_SCHEMA)  # type: ignore[arg-type]
    )


def _text_grid(raw: bytes, settings: Settings) -> pl.DataFrame:
    decoded = decode_export_bytes(raw)
    if decoded is None:
        raise DecisionFileRefusedError(
            "unreadable_file", "no text encoding fits the bytes (binary or corrupt)"
        )
    if not decoded.text.strip():
        return pl.DataFrame(schema=GRID_SCHEMA)
    records = split_records(decoded.text)
    if records.height > settings.decision_max_lines:
        raise DecisionFileRefusedError(
            "too_many_lines", f"{records.height} lines, more than {settings.decision_max_lines}"
        )
    grid = split_fields(records, sniff_separator(records))
    # Opened in a spreadsheet, a cell beginning with "=" is a formula: refused like one.
    return grid.select(
        "line_number",
        "cells",
        formula_columns=pl.col("cells")
        .list.eval(pl.when(pl.element().str.starts_with("=")).then(pl.int_range(pl.len(), dtype=pl.Int32)))
        .list.drop_nulls(),
    ).cast(GRID_SCHEMA)  # type: ignore[arg-type]
