"""Files named .xls that are not workbooks, as web platforms' "Export to Excel" lands them (made by
LibreOffice Calc: tests/fixtures/not_workbooks/make_not_workbooks.py). Text is read as the text it is;
markup is quarantined saying what it is. On main all three were `unreadable_file` ("the workbook cannot
be opened (CalamineError)"): the tab-separated rows were lost to quarantine."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest

from transforms.ingest import stage_export
from vaxsync.core.contracts import raw_column

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SOURCE = FIXTURES / "office_dates" / "source_mixed.csv"


@pytest.mark.parametrize("suffix", [".xls", ".xlsx"])
def test_tab_separated_text_named_as_a_workbook_is_read_as_text(tmp_path: Path, suffix: str) -> None:
    shutil.copy(FIXTURES / "not_workbooks" / "text.xls", tmp_path / f"DS_tiem{suffix}")
    staged = stage_export(tmp_path, f"DS_tiem{suffix}")

    assert staged.ledger["status"] == "loaded", staged.ledger["quarantine_detail"]
    assert (staged.ledger["file_format"], staged.ledger["delimiter"]) == ("csv", "\t")
    assert staged.rows is not None
    sent = pl.read_csv(SOURCE, infer_schema=False).head(8)
    assert staged.rows[raw_column("full_name")].to_list() == sent["Họ và tên"].to_list()
    assert staged.rows["source_row"].to_list() == list(range(1, 9))


@pytest.mark.parametrize(
    ("fixture", "what"),
    [("html.xls", "an HTML page named .xls"), ("xml2003.xls", "an Excel 2003 XML spreadsheet named .xls")],
)
def test_markup_named_as_a_workbook_is_quarantined_saying_what_it_is(fixture: str, what: str) -> None:
    staged = stage_export(FIXTURES / "not_workbooks", fixture)

    assert staged.rows is None
    assert staged.ledger["status"] == "quarantined"
    assert staged.ledger["quarantine_reason"] == "unsupported_format"
    assert str(staged.ledger["quarantine_detail"]).startswith(what)
    assert "save it as .xlsx or CSV" in str(staged.ledger["quarantine_detail"])


@pytest.mark.parametrize("name", ["DS_tiem_T8.zip", "DS_tiem_T8.xlsx"])
def test_a_zip_of_exports_is_quarantined_saying_to_unpack_it(tmp_path: Path, name: str) -> None:
    # A facility zipping its month's exports. On main: unreadable_file, "the workbook cannot be opened
    # (CalamineError)", which says nothing the facility can act on.
    with zipfile.ZipFile(tmp_path / name, "w") as archive:
        archive.write(SOURCE, "DS_tiem_1.csv")
        archive.write(SOURCE, "DS_tiem_2.csv")
    staged = stage_export(tmp_path, name)

    assert staged.rows is None
    assert (staged.ledger["status"], staged.ledger["quarantine_reason"]) == (
        "quarantined",
        "unsupported_format",
    )
    assert staged.ledger["quarantine_detail"] == (
        "a zip archive of 2 files, not a workbook: unpack it and land the files themselves"
    )


def test_a_damaged_workbook_is_still_unreadable_not_an_archive(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "DS_tiem.xlsx", "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types>no workbook part</Types>")
    staged = stage_export(tmp_path, "DS_tiem.xlsx")

    assert staged.ledger["quarantine_reason"] == "unreadable_file"
