"""Wide templates (a date and vaccine column per dose) are staged one row per dose, none left in extra_columns."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from ingest_export_files import render_delimited, write
from staging_comparison import assert_same_staging

from transforms.ingest import StagedExport, stage_export
from transforms.ingest.header_mapping import map_header_row, with_dose_group_labels
from transforms.ingest.wide_doses import DOSE_ROW_OFFSET

WIDE_HEADER = ["STT", "Họ và tên", "Ngày sinh", "Số CCCD", "Vắc xin", "Ngày tiêm", "Số lô",
               "Vắc xin mũi 2", "Ngày tiêm mũi 2", "Số lô mũi 2", "Ngày tiêm (mũi 3)", "Vắc xin (mũi 3)"]  # fmt: skip
WIDE_ROWS = [
    ["1", "Nguyễn Văn An", "01/02/1990", "079090000123", "AstraZeneca", "05/08/2021", "AB1",
     "Pfizer", "05/10/2021", "PF2", "", ""],
    ["2", "Trần Thị Bình", "03/04/1985", "079185000456", "Pfizer", "06/08/2021", "PF1",
     "Pfizer", "06/09/2021", "PF3", "06/03/2022", "Moderna"],
    ["3", "Lê Văn Cường", "05/06/1970", "", "Vero Cell", "07/08/2021", "", "", "", "", "", ""],
    ["4", "Phạm Thị Dung", "01/01/1960", "", "", "", "", "", "", "", "", ""],  # no dose at all: kept once
    ["5", "Hồ Văn Em", "02/02/1972", "", "", "", "", "Pfizer", "09/09/2021", "", "", ""],  # dose 2 only
]  # fmt: skip


def _rows(staged: StagedExport) -> pl.DataFrame:
    assert staged.ledger["status"] == "loaded", staged.ledger["quarantine_detail"]
    assert staged.rows is not None
    return staged.rows


@pytest.mark.parametrize(
    ("header", "field", "dose"),
    [
        ("Ngày tiêm mũi 2", "vaccinated_on", 2),
        ("Ngày tiêm (mũi 3)", "vaccinated_on", 3),
        ("NGAY_TIEM_MUI_2", "vaccinated_on", 2),
        ("Ngày tiêm lần 2 (dd/mm/yyyy)", "vaccinated_on", 2),
        ("Mũi 2 - Ngày tiêm", "vaccinated_on", 2),
        ("Ngày tiêm mũi thứ 4", "vaccinated_on", 4),
        ("Tên vắc xin mũi 2", "vaccine", 2),
        ("Số lô mũi 1", "lot", 1),
        ("Vaccination date dose 2", "vaccinated_on", 2),
    ],
)
def test_a_header_with_a_dose_number_is_that_dose_s_column(header: str, field: str, dose: int) -> None:
    mapping = map_header_row(["Họ và tên", header])

    assert mapping.dose_columns == {dose: {field: (1,)}}
    assert mapping.extra_columns == mapping.unknown_columns == ()


def test_headers_with_numbers_that_name_no_dose_stay_as_they_were() -> None:
    mapping = map_header_row(["Họ và tên", "Địa chỉ 2", "Ngày sinh (dd/mm/yyyy)", "Ngày tiêm"])

    assert mapping.dose_columns == {}
    assert mapping.unknown_columns == (1,)
    assert mapping.field_columns == {"full_name": (0,), "date_of_birth": (2,), "vaccinated_on": (3,)}


def test_a_form_s_column_numbers_in_brackets_name_no_dose() -> None:
    header = [
        "STT\n(0)",
        "Họ và tên\n(1)",
        "Tên vắc xin\n(7)",
        "Số lô\n(8)",
        "Mũi tiêm\n(9)",
        "Ngày tiêm\n(10)",
    ]

    mapping = map_header_row(header)

    assert mapping.dose_columns == {}
    assert mapping.field_columns["vaccine"] == (2,)
    assert mapping.field_columns["lot"] == (3,)
    assert mapping.field_columns["vaccinated_on"] == (5,)


def test_a_wide_template_is_staged_one_row_per_dose(tmp_path: Path) -> None:
    staged = stage_export(tmp_path, write(tmp_path, "wide.csv", render_delimited([WIDE_HEADER, *WIDE_ROWS])))

    rows = _rows(staged)
    doses = rows.select(
        "source_row", "raw_full_name", "raw_dose", "raw_vaccine", "raw_vaccinated_on", "raw_lot"
    )
    assert doses.rows() == [
        (1, "Nguyễn Văn An", "1", "AstraZeneca", "05/08/2021", "AB1"),
        (1 + DOSE_ROW_OFFSET, "Nguyễn Văn An", "2", "Pfizer", "05/10/2021", "PF2"),
        (2, "Trần Thị Bình", "1", "Pfizer", "06/08/2021", "PF1"),
        (2 + DOSE_ROW_OFFSET, "Trần Thị Bình", "2", "Pfizer", "06/09/2021", "PF3"),
        (2 + 2 * DOSE_ROW_OFFSET, "Trần Thị Bình", "3", "Moderna", "06/03/2022", None),
        (3, "Lê Văn Cường", "1", "Vero Cell", "07/08/2021", None),
        (4, "Phạm Thị Dung", "1", None, None, None),
        (5 + DOSE_ROW_OFFSET, "Hồ Văn Em", "2", "Pfizer", "09/09/2021", None),
    ]
    assert rows["extra_columns"].is_null().all()  # every dose column is staged as a dose, none kept aside
    assert staged.ledger["rows_read"] == staged.ledger["rows_estimated"] == rows.height == 8
    mapping = json.loads(str(staged.ledger["column_mapping"]))
    assert mapping["Ngày tiêm mũi 2"] == "vaccinated_on#2"
    assert mapping["Vắc xin (mũi 3)"] == "vaccine#3"
    assert mapping["Ngày tiêm"] == "vaccinated_on"


def test_a_wide_file_is_staged_alike_in_a_batch_and_again(tmp_path: Path) -> None:
    write(tmp_path, "wide.csv", render_delimited([WIDE_HEADER, *WIDE_ROWS]))
    write(tmp_path, "wide_again.csv", render_delimited([WIDE_HEADER, *WIDE_ROWS]))

    first, second = assert_same_staging(tmp_path, ["wide.csv", "wide_again.csv"])

    assert first.rows is not None and second.rows is not None
    assert first.rows["source_row"].to_list() == second.rows["source_row"].to_list()  # keys stable per dose
    assert first.rows["source_row"].is_unique().all()


def test_a_wide_template_without_a_plain_date_column_is_staged(tmp_path: Path) -> None:
    header = [
        "Họ và tên",
        "Ngày sinh",
        "Ngày tiêm mũi 1",
        "Vắc xin mũi 1",
        "Ngày tiêm mũi 2",
        "Vắc xin mũi 2",
    ]
    rows = [["Nguyễn Văn An", "01/02/1990", "05/08/2021", "AstraZeneca", "05/10/2021", "Pfizer"]]

    staged = stage_export(tmp_path, write(tmp_path, "wide.csv", render_delimited([header, *rows])))

    assert _rows(staged).select("source_row", "raw_dose", "raw_vaccine", "raw_vaccinated_on").rows() == [
        (1, "1", "AstraZeneca", "05/08/2021"),
        (1 + DOSE_ROW_OFFSET, "2", "Pfizer", "05/10/2021"),
    ]


def test_one_vaccine_column_is_every_dose_s_when_no_dose_has_its_own(tmp_path: Path) -> None:
    header = ["Họ và tên", "Ngày sinh", "Vắc xin", "Ngày tiêm mũi 1", "Ngày tiêm mũi 2"]
    rows = [["Nguyễn Văn An", "01/02/1990", "Pfizer", "05/08/2021", "05/10/2021"]]

    staged = stage_export(tmp_path, write(tmp_path, "wide.csv", render_delimited([header, *rows])))

    assert _rows(staged)["raw_vaccine"].to_list() == ["Pfizer", "Pfizer"]


def test_dose_labels_over_a_two_row_header_tell_the_doses_apart(tmp_path: Path) -> None:
    group = ["", "", "", "Mũi 1", "", "Mũi 2", "", ""]
    header = [
        "STT",
        "Họ và tên",
        "Ngày sinh",
        "Ngày tiêm",
        "Tên vắc xin",
        "Ngày tiêm",
        "Tên vắc xin",
        "Ghi chú",
    ]
    rows = [
        ["1", "Nguyễn Văn An", "01/02/1990", "05/08/2021", "AstraZeneca", "05/10/2021", "Pfizer", "x"],
        ["2", "Trần Thị Bình", "03/04/1985", "06/08/2021", "Pfizer", "", "", ""],
    ]
    write(tmp_path, "group.csv", render_delimited([group, header, *rows]))

    (staged,) = assert_same_staging(tmp_path, ["group.csv"])

    assert _rows(staged).select("source_row", "raw_dose", "raw_vaccine", "raw_vaccinated_on").rows() == [
        (1, "1", "AstraZeneca", "05/08/2021"),
        (1 + DOSE_ROW_OFFSET, "2", "Pfizer", "05/10/2021"),
        (2, "1", "Pfizer", "06/08/2021"),
    ]
    assert _rows(staged)["extra_columns"].to_list() == ['{"Ghi chú":"x"}'] * 2 + ['{"Ghi chú":null}']


def test_a_group_row_without_dose_labels_changes_nothing() -> None:
    header = ["Họ và tên", "Ngày sinh", "Ngày tiêm", "Ngày tiêm"]

    assert with_dose_group_labels(header, ["Thông tin cá nhân", None, "Tiêm chủng"]) == header


def test_a_dose_label_over_columns_the_header_does_not_repeat_changes_nothing(tmp_path: Path) -> None:
    # A title "Mũi 1" over a list of first doses: read as before, the same in a batch and alone.
    header = ["Họ và tên", "Ngày sinh", "Vắc xin", "Mũi tiêm", "Ngày tiêm"]
    assert with_dose_group_labels(header, ["", "", "Mũi 1"]) == header
    write(
        tmp_path,
        "first_doses.csv",
        render_delimited([["", "", "Mũi 1"], header, ["An", "1990", "Pfizer", "1", "05/08/2021"]]),
    )

    (staged,) = assert_same_staging(tmp_path, ["first_doses.csv"])

    assert _rows(staged).select("source_row", "raw_dose").rows() == [(1, "1")]
