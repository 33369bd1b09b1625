"""Files that cannot be staged are quarantined with a specific reason and a detail, never an exception."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from ingest_export_files import VN_HEADER, export_rows, render_delimited, write

from transforms.ingest import stage_export
from vaxsync.core.contracts import LEDGER_SCHEMA
from vaxsync.core.reasons import QUARANTINE_REASONS

ROWS = export_rows()


def _corrupt_xlsx(folder: Path, name: str) -> str:
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types>not a workbook</Types>")
    return name


def _lock_file(folder: Path, name: str) -> str:
    # What Excel leaves while a workbook is open: the owner's name padded, 165 bytes.
    return write(folder, name, b"\x0bNguyen Van A" + b"\x00" * 40 + b" " * 112)


def _staff_list(folder: Path, name: str) -> str:
    staff = [
        ["STT", "Họ và tên", "Chức vụ", "Số điện thoại", "Ca trực"],
        ["1", "Vũ Thị Hạnh", "Điều dưỡng", "0998789597", "Chiều"],
    ]
    return write(folder, name, render_delimited(staff))


def _stock_report(folder: Path, name: str) -> str:
    workbook = xlsxwriter.Workbook(folder / name)
    sheet = workbook.add_worksheet("Ton kho")
    for row_number, row in enumerate(
        [
            ["STT", "Tên vắc xin", "Số lô", "Hạn dùng", "Tồn kho"],
            ["1", "Sputnik V", "L4221", "31/12/2022", "9"],
        ]
    ):
        sheet.write_row(row_number, 0, row)
    workbook.close()
    return name


QUARANTINE_CASES: list[tuple[str, str, Callable[[Path, str], str], str, list[str]]] = [
    # id, file name, writer, reason, words the detail must hold
    ("zero_bytes", "export_rong.csv", lambda d, n: write(d, n, b""), "empty_file", ["0 bytes"]),
    ("only_blank_lines", "blank.csv", lambda d, n: write(d, n, "\r\n  \r\n\t\r\n"), "empty_file", ["blank"]),
    ("only_empty_cells", "commas.csv", lambda d, n: write(d, n, ",,,,\r\n,,,,\r\n"), "empty_file", ["blank"]),
    (
        "binary_junk",
        "export_loi.csv",
        lambda d, n: write(d, n, bytes(range(256)) * 30 + b"\x00\x9d\xfe\xff" * 200),
        "unreadable_file",
        ["binary"],
    ),
    ("corrupt_workbook", "DS_tiem.xlsx", _corrupt_xlsx, "unreadable_file", ["workbook"]),
    (
        "truncated_workbook",
        "half.xlsx",
        lambda d, n: write(d, n, b"PK\x03\x04" + b"\x00" * 64),
        "unreadable_file",
        [],
    ),
    ("office_lock_file", "~$DS_tiem.xlsx", _lock_file, "unsupported_format", ["lock file"]),
    (
        "pdf_report",
        "bao_cao.pdf",
        lambda d, n: write(d, n, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
        "unsupported_format",
        [".pdf"],
    ),
    (
        "staff_list",
        "danh_sach_can_bo_tiem.csv",
        _staff_list,
        "missing_required_columns",
        ["date_of_birth", "vaccine", "vaccinated_on", "Họ và tên", "Chức vụ", "Ca trực"],
    ),
    (
        "stock_report",
        "BaoCao_TonKho_VacXin.xlsx",
        _stock_report,
        "missing_required_columns",
        ["full_name", "date_of_birth", "vaccinated_on", "Tên vắc xin", "Tồn kho"],
    ),
    (
        "header_only",
        "DS_tiem_chua_co_du_lieu.csv",
        lambda d, n: write(d, n, render_delimited([VN_HEADER, [""] * 12])),
        "no_data_rows",
        ["line 1"],
    ),
    (
        "header_and_total_only",
        "DS_tiem_0_mui.csv",
        lambda d, n: write(d, n, render_delimited([["DANH SÁCH TIÊM"], VN_HEADER, ["", "Tổng cộng: 0"]])),
        "no_data_rows",
        ["line 2"],
    ),
]


@pytest.mark.parametrize(
    ("file_name", "writer", "reason", "detail_words"),
    [pytest.param(*case[1:], id=case[0]) for case in QUARANTINE_CASES],
)
def test_each_bad_file_is_quarantined_with_its_reason(
    tmp_path: Path, file_name: str, writer: Callable[[Path, str], str], reason: str, detail_words: list[str]
) -> None:
    staged = stage_export(tmp_path, writer(tmp_path, file_name))

    assert staged.rows is None
    assert list(staged.ledger) == list(LEDGER_SCHEMA)
    assert (staged.ledger["status"], staged.ledger["quarantine_reason"]) == ("quarantined", reason)
    assert reason in QUARANTINE_REASONS
    assert staged.ledger["rows_read"] == 0
    assert len(str(staged.ledger["file_hash"])) == 64
    detail = str(staged.ledger["quarantine_detail"])
    for word in detail_words:
        assert word in detail


def test_a_file_without_a_recognisable_header_does_not_echo_its_data(tmp_path: Path) -> None:
    headerless = render_delimited(ROWS)  # data rows straight away: the first "header" would be a person

    staged = stage_export(tmp_path, write(tmp_path, "no_header.csv", headerless))

    assert staged.ledger["quarantine_reason"] == "missing_required_columns"
    detail = str(staged.ledger["quarantine_detail"])
    assert "full_name, date_of_birth, vaccine, vaccinated_on" in detail
    assert all(row[1] not in detail and row[4] not in detail for row in ROWS if row[4])


def test_a_missing_file_is_quarantined_not_raised(tmp_path: Path) -> None:
    staged = stage_export(tmp_path, "gone/export.csv")

    assert (staged.ledger["status"], staged.ledger["quarantine_reason"]) == ("quarantined", "unreadable_file")
    assert staged.ledger["file_hash"] is None


def test_a_quarantined_file_keeps_what_was_learnt_about_it(tmp_path: Path) -> None:
    staged = stage_export(tmp_path, _staff_list(tmp_path, "staff.csv"))

    assert (staged.ledger["file_format"], staged.ledger["encoding"], staged.ledger["delimiter"]) == (
        "csv",
        "utf-8",
        ",",
    )
    assert staged.ledger["header_line"] == 1
    assert staged.ledger["column_mapping"] == '{"Họ và tên": "full_name", "Số điện thoại": "phone"}'


def test_the_nights_ledger_frame_keeps_its_schema_past_the_first_hundred_files(tmp_path: Path) -> None:
    # 600-file night: encoding_repair "vni" on file 150, null before; an inferred schema crashed here.
    from vaxsync.core.settings import Settings
    from vaxsync.core.workdir import RunWorkDir, write_json
    from vaxsync.marts.quality import raw_file_metrics, work_ledger_frame

    work = RunWorkDir(Settings(warehouse_path=tmp_path / "warehouse.duckdb"))
    work.reset()
    staged = stage_export(tmp_path, _staff_list(tmp_path, "staff.csv"))
    for number in range(150):
        repair = "vni" if number == 149 else None
        entry = {**staged.ledger, "file_hash": f"{number:064d}", "encoding_repair": repair}
        write_json(
            work.ledger_file(f"{number:064d}"), {**entry, "raw_validation": None, "ingest_seconds": 0.1}
        )

    ledger = work_ledger_frame(work)
    metrics = raw_file_metrics(
        work, pl.DataFrame(schema={"file_hash": pl.String, "id_kind": pl.String, "reject_reason": pl.String})
    )

    assert ledger.schema == pl.Schema(LEDGER_SCHEMA)
    assert ledger.height == 150
    assert ledger["encoding_repair"].to_list() == [None] * 149 + ["vni"]
    assert metrics.height == 150
    assert metrics["is_required_columns_present"].sum() == 0


# What each quarantined file is estimated to hold: its non-blank rows below a recognised header, 0 when it
# has none, None when it cannot be read as lines or a sheet at all.
ESTIMATED_ROWS = {
    "zero_bytes": 0,
    "only_blank_lines": 0,
    "only_empty_cells": 0,
    "binary_junk": None,
    "corrupt_workbook": None,
    "truncated_workbook": None,
    "office_lock_file": 0,
    "pdf_report": None,
    "staff_list": 1,
    "stock_report": 1,
    "header_only": 0,
    "header_and_total_only": 0,
}


@pytest.mark.parametrize(
    ("file_name", "writer", "case_id"), [(case[1], case[2], case[0]) for case in QUARANTINE_CASES]
)
def test_each_quarantined_file_reports_an_estimate_of_its_rows(
    tmp_path: Path, file_name: str, writer: Callable[[Path, str], str], case_id: str
) -> None:
    staged = stage_export(tmp_path, writer(tmp_path, file_name))

    assert staged.ledger["rows_estimated"] == ESTIMATED_ROWS[case_id]


def test_rows_of_a_file_missing_columns_are_counted_below_its_header(tmp_path: Path) -> None:
    # The night whose summary said 0 rows in quarantined files while 351 sat in them.
    header = [cell for cell in VN_HEADER if cell not in ("Ngày sinh", "Ngày tiêm")]
    rows = [
        [cell for position, cell in enumerate(row) if position not in (2, 10)] for row in export_rows(351)
    ]
    text = render_delimited([["SỞ Y TẾ"], header, *rows[:200], [""] * 10, *rows[200:], ["Tổng cộng: 351"]])

    staged = stage_export(tmp_path, write(tmp_path, "thieu_cot.csv", text))

    assert staged.ledger["quarantine_reason"] == "missing_required_columns"
    assert staged.ledger["rows_estimated"] == 351 + 1  # the total row is a non-blank line too
    assert staged.ledger["rows_read"] == 0


def test_a_file_without_a_header_counts_every_non_blank_row(tmp_path: Path) -> None:
    staged = stage_export(tmp_path, write(tmp_path, "no_header.csv", render_delimited(ROWS) + "\r\n\r\n"))

    assert staged.ledger["quarantine_reason"] == "missing_required_columns"
    assert staged.ledger["rows_estimated"] == len(ROWS)


def test_a_workbook_missing_columns_counts_its_sheet_rows(tmp_path: Path) -> None:
    workbook = xlsxwriter.Workbook(tmp_path / "thieu_cot.xlsx")
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["STT", "Họ và tên", "Số CCCD/CMND", "Số điện thoại"])
    for number in range(40):
        sheet.write_row(number + 1, 0, [str(number + 1), f"Nguyễn Văn {number}", "", "0912345678"])
    workbook.close()

    staged = stage_export(tmp_path, "thieu_cot.xlsx")

    assert staged.ledger["quarantine_reason"] == "missing_required_columns"
    assert staged.ledger["rows_estimated"] == 40


def test_a_loaded_file_estimates_exactly_its_rows_read(tmp_path: Path) -> None:
    staged = stage_export(tmp_path, write(tmp_path, "ok.csv", render_delimited([VN_HEADER, *ROWS])))

    assert staged.ledger["status"] == "loaded"
    assert staged.ledger["rows_estimated"] == staged.ledger["rows_read"] == len(ROWS)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le"])
def test_lines_of_an_unreadable_text_file_are_counted_from_its_bytes(tmp_path: Path, encoding: str) -> None:
    from transforms.ingest.staging import estimate_rows_from_bytes

    lines = ["Họ và tên;Ngày sinh", *[f"Nguyễn Văn {n};01/01/1990" for n in range(25)], "", " ; ;", ""]
    path = tmp_path / "lines.csv"
    path.write_bytes("\r\n".join(lines).encode(encoding))

    assert estimate_rows_from_bytes(path, path.stat().st_size, "unreadable_file") == 26


def test_a_huge_file_is_estimated_from_a_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transforms.ingest import staging

    monkeypatch.setattr(staging, "ESTIMATE_SAMPLE_BYTES", 4096)
    path = tmp_path / "huge.csv"
    path.write_bytes(b"".join(b"%06d,Nguyen Van A,01/01/1990,Pfizer\n" % n for n in range(5000)))

    estimate = staging.estimate_rows_from_bytes(path, path.stat().st_size, "unreadable_file")

    assert estimate is not None
    assert abs(estimate - 5000) <= 50


def test_a_text_cut_off_by_nul_bytes_is_quarantined_saying_so(tmp_path: Path) -> None:
    # An interrupted copy: the file's size was written, its tail never filled (NUL bytes). Named as
    # such, not "binary or corrupt", so that the facility sends it again.
    text = render_delimited([VN_HEADER, *export_rows(5)]).encode("utf-8")
    staged = stage_export(tmp_path, write(tmp_path, "export.csv", text + b"\x00" * 4096))

    assert (staged.ledger["status"], staged.ledger["quarantine_reason"]) == ("quarantined", "unreadable_file")
    assert staged.ledger["quarantine_detail"] == (
        f"the file's {len(text)} bytes of text end in 4096 NUL bytes (a copy cut short or never finished): "
        "send it again"
    )


def test_random_bytes_ending_in_nul_bytes_are_still_binary(tmp_path: Path) -> None:
    staged = stage_export(tmp_path, write(tmp_path, "export.csv", bytes(range(256)) * 4 + b"\x00" * 64))

    assert staged.ledger["quarantine_detail"] == "no text encoding fits the bytes (binary or corrupt)"
