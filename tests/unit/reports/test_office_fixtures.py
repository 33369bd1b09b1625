"""The reports as other tools left them (fixtures made by fixtures/make_office_fixtures.py): the workbook
filled and saved again by LibreOffice Calc, printed to PDF by LibreOffice, and the page printed by Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from vaxsync.core.decision_sheet import DECISION_COLUMN, SUMMARY_SHEET, header_code
from vaxsync.reports.province_report_model import KEY_COLUMNS

FIXTURES = Path(__file__).parent / "fixtures"
A4_LANDSCAPE = (841.9, 595.3)  # points


def pdf_pages(path: Path) -> list[tuple[float, float]]:
    """(width, height) of each page of an uncompressed-catalogue PDF (both tools write page objects plainly)."""
    content = path.read_bytes()
    pages = re.findall(
        rb"/Type\s*/Page(?![s\w]).{0,400}?/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)",
        content,
        re.S,
    )
    if not pages:  # the MediaBox may come before /Type in the page dictionary
        pages = re.findall(
            rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\][^>]{0,400}?/Type\s*/Page(?![s\w])",
            content,
            re.S,
        )
    return [(float(right) - float(left), float(top) - float(bottom)) for left, bottom, right, top in pages]


def is_a4_landscape(size: tuple[float, float]) -> bool:
    return all(abs(got - want) < 1.5 for got, want in zip(size, A4_LANDSCAPE, strict=True))


@pytest.mark.parametrize(
    ("fixture", "most_pages"), [("mismatch_01_libreoffice.pdf", 8), ("mismatch_01_chromium.pdf", 4)]
)
def test_printed_reports_are_a4_landscape_and_few_pages(fixture: str, most_pages: int) -> None:
    pages = pdf_pages(FIXTURES / fixture)
    assert 0 < len(pages) <= most_pages
    assert all(is_a4_landscape(page) for page in pages), pages


def test_a_libreoffice_copy_keeps_labels_protection_and_print_setup() -> None:
    workbook = openpyxl.load_workbook(FIXTURES / "mismatch_01_libreoffice.xlsx")
    sheet = workbook["review_required"]
    codes = [header_code(str(cell.value)) for cell in sheet[1] if cell.value is not None]
    assert codes[: len(KEY_COLUMNS)] == list(KEY_COLUMNS)
    assert sheet.cell(1, codes.index(DECISION_COLUMN) + 1).value == "Quyết định\n(decision)"
    assert sheet.protection.sheet and sheet.cell(2, 1).protection.locked
    assert not sheet.cell(2, codes.index(DECISION_COLUMN) + 1).protection.locked
    for name in workbook.sheetnames:
        setup = workbook[name].page_setup
        assert (setup.orientation, setup.paperSize, setup.fitToHeight) == ("landscape", 9, 0)
        assert name == SUMMARY_SHEET or workbook[name].print_title_rows == "$1:$1"
