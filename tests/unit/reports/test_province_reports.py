"""Per-province mismatch reports, read back: the province split, sheets, masking, formula safety,
the decision columns, the differing fields, permissions and re-runs."""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path

import fastexcel
import polars as pl
import pytest
from report_builders import (
    AS_OF,
    BACKLOG,
    CITIZENS,
    RECORDS,
    RUN_ID,
    build_warehouse,
    open_row_keys,
)

from vaxsync.core.decision_sheet import (
    CONTROL_SHEETS,
    DECISION_CHOICES,
    DECISION_COLUMNS,
    INSTRUCTIONS_SHEET,
    RESOLVED_SHEET,
    REVIEWER_KEY,
    ROW_KEY_COLUMN,
    SUMMARY_SHEET,
    header_code,
)
from vaxsync.core.reasons import RESOLUTIONS
from vaxsync.core.settings import Settings
from vaxsync.reports.province_report_files import write_province_reports
from vaxsync.reports.province_report_model import KEY_COLUMNS, candidate_column

PROVINCE_FOLDERS = {"01": "01", "46": "46", None: "unknown"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_warehouse(tmp_path_factory.mktemp("province_reports"))


@pytest.fixture(scope="module")
def written(settings: Settings) -> list[Path]:
    return write_province_reports(settings, run_id=RUN_ID)


def report_path(settings: Settings, province: str | None, suffix: str) -> Path:
    folder = PROVINCE_FOLDERS[province]
    return (
        settings.reports_dir
        / AS_OF.isoformat()
        / "provinces"
        / folder
        / f"mismatch_{folder}_{AS_OF}.{suffix}"
    )


def read_sheets(path: Path) -> dict[str, pl.DataFrame]:
    """Each sheet, its columns named by their codes (the headers are "Vietnamese label\n(code)")."""
    reader = fastexcel.read_excel(path)
    return {
        name: reader.load_sheet(name, header_row=None if name == INSTRUCTIONS_SHEET else 0, dtypes="string")
        .to_polars()
        .rename(header_code)
        for name in reader.sheet_names
    }


def reason_sheets(path: Path) -> dict[str, pl.DataFrame]:
    return {name: frame for name, frame in read_sheets(path).items() if name not in CONTROL_SHEETS}


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "".join(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"
        )


def test_one_xlsx_and_one_html_per_province_with_open_rows(settings: Settings, written: list[Path]) -> None:
    expected = {
        report_path(settings, province, suffix)
        for province in PROVINCE_FOLDERS
        for suffix in ("xlsx", "html")
    }
    assert set(written) == expected


@pytest.mark.parametrize("province", list(PROVINCE_FOLDERS))
def test_a_workbook_holds_exactly_its_provinces_open_rows(
    settings: Settings, written: list[Path], province: str | None
) -> None:
    sheets = reason_sheets(report_path(settings, province, "xlsx"))
    keys = [key for frame in sheets.values() for key in frame[ROW_KEY_COLUMN].to_list()]
    assert sorted(keys) == sorted(open_row_keys(province))


@pytest.mark.parametrize("province", list(PROVINCE_FOLDERS))
def test_a_page_holds_no_row_of_another_province(
    settings: Settings, written: list[Path], province: str | None
) -> None:
    page = report_path(settings, province, "html").read_text(encoding="utf-8")
    others = set().union(*(open_row_keys(other) for other in PROVINCE_FOLDERS if other != province))
    assert all(key in page for key in open_row_keys(province))
    assert not [key for key in others if key in page]


def test_sheets_come_summary_first_then_instructions_then_one_per_reason(
    settings: Settings, written: list[Path]
) -> None:
    names = fastexcel.read_excel(report_path(settings, "01", "xlsx")).sheet_names
    assert names == [SUMMARY_SHEET, INSTRUCTIONS_SHEET, "vaccine_unknown", "id_not_in_registry",
                     "review_required", RESOLVED_SHEET]  # fmt: skip
    for name, frame in reason_sheets(report_path(settings, "01", "xlsx")).items():
        assert set(frame["reason_en"].to_list()) == {name_reason_english(name)}


def name_reason_english(reason_code: str) -> str:
    from vaxsync.core.reasons import BACKLOG_REASONS

    return BACKLOG_REASONS[reason_code].english


def test_every_reason_sheet_starts_with_the_key_columns_then_the_columns_to_fill(
    settings: Settings, written: list[Path]
) -> None:
    fill_in = DECISION_COLUMNS[1:]
    for province in PROVINCE_FOLDERS:
        for frame in reason_sheets(report_path(settings, province, "xlsx")).values():
            assert tuple(frame.columns[: len(KEY_COLUMNS) + len(fill_in)]) == (*KEY_COLUMNS, *fill_in)
            assert frame.select(pl.col(list(fill_in)).is_null().all()).row(0) == (True,) * len(fill_in)


def test_the_decision_column_offers_the_choices_as_a_dropdown(
    settings: Settings, written: list[Path]
) -> None:
    xml = sheet_xml(report_path(settings, "01", "xlsx"))
    assert f'<formula1>"{",".join(DECISION_CHOICES)}"</formula1>' in xml


def test_instructions_name_the_province_and_leave_the_reviewer_to_fill(
    settings: Settings, written: list[Path]
) -> None:
    instructions = read_sheets(report_path(settings, "46", "xlsx"))[INSTRUCTIONS_SHEET]
    pairs = dict(instructions.rows())
    assert pairs["province_code"] == "46"
    assert pairs["as_of"] == AS_OF.isoformat()
    assert REVIEWER_KEY in pairs and pairs[REVIEWER_KEY] is None
    assert {"how_to_vi", "how_to_en"} <= set(pairs)


def test_ids_and_phones_never_appear_unmasked(settings: Settings, written: list[Path]) -> None:
    full_values = {row[field] for row in RECORDS for field in ("id_number", "phone") if row.get(field)}
    full_values |= {citizen["citizen_id"] for citizen in CITIZENS} | {
        citizen["phone"] for citizen in CITIZENS if citizen["phone"]
    }
    full_values = {value for value in full_values if len(value.replace(" ", "")) > 4}
    for path in written:
        text = sheet_xml(path) if path.suffix == ".xlsx" else path.read_text(encoding="utf-8")
        assert not [value for value in full_values if value in text or value.replace(" ", "") in text]
    review = reason_sheets(report_path(settings, "01", "xlsx"))["review_required"]
    assert review.select("sent_id_number", "sent_phone", candidate_column(1, "id")).row(0) == (
        "********1234",
        "*******678",
        "********1234",
    )
    short_id = reason_sheets(report_path(settings, "01", "xlsx"))["id_not_in_registry"]["sent_id_number"]
    assert short_id.to_list() == ["****"]


def test_text_cells_that_would_run_as_formulas_are_neutralised(
    settings: Settings, written: list[Path]
) -> None:
    path = report_path(settings, "01", "xlsx")
    sheets = reason_sheets(path)
    assert sheets["id_not_in_registry"].select("facility", "sent_full_name").row(0) == (
        '\'=HYPERLINK("http://x")',
        "'+Phạm C",
    )
    assert sheets["vaccine_unknown"]["sent_full_name"].to_list() == ["'@Trần Thị B"]
    assert "<f>" not in sheet_xml(path)  # no cell of the workbook is a formula


def test_html_escapes_what_the_facilities_sent(settings: Settings, written: list[Path]) -> None:
    page = report_path(settings, "46", "html").read_text(encoding="utf-8")
    assert "<b>Trạm Y tế Vỹ Dạ</b>" not in page
    assert "&lt;b&gt;Trạm Y tế Vỹ Dạ&lt;/b&gt;" in page


def test_candidates_sit_side_by_side_with_the_differing_fields_flagged(
    settings: Settings, written: list[Path]
) -> None:
    path = report_path(settings, "01", "xlsx")
    review = reason_sheets(path)["review_required"]
    first, second, third = (
        review.select(candidate_column(rank, field) for field in ("name", "probability", "differs")).row(0)
        for rank in (1, 2, 3)
    )
    assert first[:2] == ("Nguyễn Văn An", "0.93") and first[2] is None
    assert second[:2] == ("Nguyễn Văn Ân", "0.41")
    assert second[2] == "id, name, birth_date, sex, phone, ward_district"
    assert third == (None, None, None)  # the earlier run's candidate is not offered
    assert "ISNUMBER(SEARCH(" in sheet_xml(path)  # the colour follows the `differs` column
    page = report_path(settings, "01", "html").read_text(encoding="utf-8")
    assert len(re.findall(r'<td class="differs">', page)) == 6


def test_sheets_without_candidates_have_no_candidate_columns(settings: Settings, written: list[Path]) -> None:
    sheets = reason_sheets(report_path(settings, "01", "xlsx"))
    assert candidate_column(1, "id") not in sheets["vaccine_unknown"].columns


def test_the_summary_ranks_facilities_and_counts_nights_waited(
    settings: Settings, written: list[Path]
) -> None:
    summary = pl.read_excel(report_path(settings, "01", "xlsx"), sheet_name=SUMMARY_SHEET, has_header=False)
    cells = [value for row in summary.rows() for value in row if value is not None]
    assert "Trạm Y tế Phúc Xá" in cells and '\'=HYPERLINK("http://x")' in cells
    header = next([header_code(cell) for cell in row] for row in summary.rows() if row[0] == "Thứ tự\n(rank)")
    phuc_xa = next(row for row in summary.rows() if row[1] == "Trạm Y tế Phúc Xá")
    by_name = dict(zip(header, phuc_xa, strict=True))
    assert (by_name["rank"], by_name["open_rows"]) == ("1", "2")
    assert by_name["longest_wait_nights"] == str((AS_OF - BACKLOG[1]["first_seen_on"]).days)


def test_rows_resolved_tonight_are_listed_with_their_resolution(
    settings: Settings, written: list[Path]
) -> None:
    resolved = read_sheets(report_path(settings, "01", "xlsx"))[RESOLVED_SHEET]
    assert resolved.select("source_row", "resolution_vi", "resolution_en").rows() == [
        ("4", RESOLUTIONS["rematched"].vietnamese, RESOLUTIONS["rematched"].english)
    ]
    assert ROW_KEY_COLUMN not in resolved.columns  # information only: nothing to decide


def test_report_files_and_folders_are_private(written: list[Path]) -> None:
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_rerun_rewrites_the_same_bytes_and_drops_stale_reports(
    settings: Settings, written: list[Path]
) -> None:
    before = {path: path.read_bytes() for path in written}
    stale = report_path(settings, "01", "xlsx").parent.parent / "99" / f"mismatch_99_{AS_OF}.xlsx"
    stale.parent.mkdir()
    stale.write_bytes(b"from an earlier run of the same night")
    rewritten = write_province_reports(settings, run_id=RUN_ID)
    assert {path: path.read_bytes() for path in rewritten} == before
    assert not stale.exists()
