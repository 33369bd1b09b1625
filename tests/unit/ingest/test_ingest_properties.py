"""Property tests for the readers: any bytes under any name become one ledger row, never an exception.

A quarantine is a verdict with a reason; the catch-all "could not be parsed" (a reader failing on input
nobody foresaw) must never be needed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from landed_file_strategies import ANY_CONTENT, JUNK, damaged, file_name, intact_csv, valid_csv, workbook

from transforms.ingest import stage_export
from transforms.ingest.staging import ledger_frame
from vaxsync.core.contracts import LEDGER_SCHEMA, STAGED_ROW_SCHEMA
from vaxsync.core.reasons import QUARANTINE_REASONS

UNFORESEEN = "the file could not be parsed"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def stage(folder: Path, name: str, content: bytes) -> tuple[str, object]:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return name, stage_export(folder, name)


def assert_one_sound_ledger_row(staged: object) -> None:
    ledger, rows = staged.ledger, staged.rows  # type: ignore[attr-defined]
    assert list(ledger) == list(LEDGER_SCHEMA)
    assert ledger_frame([staged]).height == 1  # type: ignore[list-item]
    assert len(str(ledger["file_hash"])) == 64
    if ledger["status"] == "loaded":
        assert rows is not None and rows.schema == pl.Schema(STAGED_ROW_SCHEMA)
        assert rows.height == ledger["rows_read"] == ledger["rows_estimated"] > 0
        assert rows["source_row"].to_list() == list(range(1, rows.height + 1))
        assert ledger["quarantine_reason"] is None
    else:
        assert ledger["status"] == "quarantined"
        assert rows is None and ledger["rows_read"] == 0
        assert ledger["quarantine_reason"] in QUARANTINE_REASONS
        assert ledger["quarantine_detail"]
        assert not str(ledger["quarantine_detail"]).startswith(UNFORESEEN), ledger["quarantine_detail"]
        assert ledger["rows_estimated"] is None or ledger["rows_estimated"] >= 0


@FAST
@given(name=file_name(), content=ANY_CONTENT)
def test_any_file_under_any_name_gets_one_sound_ledger_row(
    tmp_path_factory, name: str, content: bytes
) -> None:
    _, staged = stage(tmp_path_factory.mktemp("landing"), name, content)
    assert_one_sound_ledger_row(staged)


@FAST
@given(content=st.one_of(valid_csv(), damaged(valid_csv())), suffix=st.sampled_from([".csv", ".txt", ".tsv"]))
def test_a_damaged_export_is_read_or_quarantined_for_a_reason(
    tmp_path_factory, content: bytes, suffix: str
) -> None:
    _, staged = stage(tmp_path_factory.mktemp("landing"), f"export{suffix}", content)
    assert_one_sound_ledger_row(staged)


@FAST
@given(content=st.one_of(workbook(), damaged(workbook()), JUNK))
def test_a_workbook_of_any_bytes_is_read_or_quarantined_for_a_reason(
    tmp_path_factory, content: bytes
) -> None:
    _, staged = stage(tmp_path_factory.mktemp("landing"), "DS_tiem.xlsx", content)
    assert_one_sound_ledger_row(staged)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(export=intact_csv())
def test_an_intact_export_loads_every_data_row(tmp_path_factory, export: tuple[bytes, int]) -> None:
    content, data_rows = export
    _, staged = stage(tmp_path_factory.mktemp("landing"), "export.csv", content)
    assert staged.ledger["status"] == "loaded", staged.ledger["quarantine_detail"]  # type: ignore[attr-defined]
    assert staged.ledger["rows_read"] == data_rows  # type: ignore[attr-defined]
    assert_one_sound_ledger_row(staged)


def test_a_workbook_whose_cells_a_legacy_font_repair_would_split_is_read_or_quarantined_for_a_reason(
    tmp_path: Path,
) -> None:
    """Found by the workbook property: cells holding control bytes that VISCII maps to letters made the
    whole-text repair split rows, and polars failed on the uneven columns (an unforeseen error)."""
    content = (FIXTURES / "encodings" / "viscii_control_characters.xlsx").read_bytes()
    _, staged = stage(tmp_path, "DS_tiem.xlsx", content)
    assert_one_sound_ledger_row(staged)


def test_a_workbook_member_needing_a_newer_zip_version_is_read_or_quarantined_for_a_reason(
    tmp_path: Path,
) -> None:
    """Found by the workbook property: a central-directory entry asking for zip version 6.4 made Python's
    zipfile raise NotImplementedError, which the workbook checks did not expect (an unforeseen error)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet().write_row(0, 0, ["Họ và tên", "Ngày tiêm"])
    book.close()
    intact = buffer.getvalue()
    entries = [found.start() for found in re.finditer(b"PK\x01\x02", intact)]
    assert len(entries) > 5
    for number, entry in enumerate(entries):  # each member in turn
        content = bytearray(intact)
        content[entry + 6 : entry + 8] = (64).to_bytes(2, "little")  # "version needed to extract": 6.4
        _, staged = stage(tmp_path / str(number), "DS_tiem.xlsx", bytes(content))
        assert_one_sound_ledger_row(staged)
