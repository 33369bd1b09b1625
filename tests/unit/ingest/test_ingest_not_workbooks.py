"""Files named .xls that are not workbooks, as web platforms' "Export to Excel" lands them (made by
LibreOffice Calc: tests/fixtures/not_workbooks/make_not_workbooks.py). Text is read as the text it is;
markup is quarantined saying what it is. On main all three were `unreadable_file` ("the workbook cannot
be opened (CalamineError)"): the tab-separated rows were lost to quarantine."""

from __future__ import annotations

import shutil
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
