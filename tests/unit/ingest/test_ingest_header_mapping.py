"""The one synonym table: complete, unambiguous, and folding away diacritics, case and punctuation."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.ingest.header_mapping import (
    IGNORED_FIELD,
    SYNONYMS_PATH,
    fold_headers,
    map_header_row,
    synonym_lookup,
    unique_header_names,
    with_header_scores,
)
from vaxsync.core.contracts import EXPORT_FIELDS


def test_every_canonical_field_has_synonyms_and_no_synonym_is_ambiguous() -> None:
    table = pl.read_csv(SYNONYMS_PATH, infer_schema=False)

    assert table.columns == ["canonical_field", "synonym"]
    assert set(table["canonical_field"]) == {*EXPORT_FIELDS, IGNORED_FIELD}
    assert set(synonym_lookup().values()) == {*EXPORT_FIELDS, IGNORED_FIELD}


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Họ và tên", "full_name"),
        ("HỌ VÀ TÊN", "full_name"),
        ("Ho va ten", "full_name"),
        ("HO_TEN", "full_name"),
        ("ho-ten", "full_name"),
        ("Full name", "full_name"),
        ("Ngày sinh (dd/mm/yyyy)", "date_of_birth"),
        ("NGAY_SINH", "date_of_birth"),
        ("DOB", "date_of_birth"),
        ("Năm sinh", "date_of_birth"),
        ("Số CCCD/CMND", "id_number"),
        ("SO_CCCD", "id_number"),
        ("ID number", "id_number"),
        ("SĐT", "phone"),
        ("Số điện thoại", "phone"),
        ("Tỉnh/Thành phố", "province"),
        ("Quận/Huyện", "district"),
        ("Phường/Xã", "ward"),
        ("Tên vắc xin", "vaccine"),
        ("Vaccine", "vaccine"),
        ("Số lô", "lot"),
        ("Mũi tiêm", "dose"),
        ("Ngày tiêm", "vaccinated_on"),
        ("Vaccination date", "vaccinated_on"),
        ("Cơ sở tiêm", "facility_name"),
        ("Facility", "facility_name"),
        ("ÐỊA CHỈ", "address"),  # Ð U+00D0, the look-alike of Đ
        ("Địa chỉ chi tiết", "address"),
        ("Ngày tháng năm sinh", "date_of_birth"),
        ("Xã/Phường", "ward"),
        ("Tỉnh/TP", "province"),
        ("Loại vắc xin", "vaccine"),
        ("Số lô vắc xin", "lot"),
        ("Mũi thứ", "dose"),
        ("Cơ sở tiêm chủng", "facility_name"),
        ("Đơn vị tiêm", "facility_name"),
        ("Ngày tiêm:", "vaccinated_on"),
        # other templates (found by h6: each alone quarantined a file as missing_required_columns or lost its IDs)
        ("Họ và tên người được tiêm chủng", "full_name"),
        ("Số CMND/CCCD/Hộ chiếu", "id_number"),
        ("Số định danh công dân", "id_number"),
        ("Số điện thoại di động", "phone"),
        ("Loại vắc xin đã tiêm", "vaccine"),
        ("Ngày tháng tiêm", "vaccinated_on"),
        ("Thời gian tiêm chủng", "vaccinated_on"),
        ("STT", IGNORED_FIELD),
        ("No.", IGNORED_FIELD),
        ("#", IGNORED_FIELD),
    ],
)
def test_headers_fold_onto_their_canonical_field(header: str, field: str) -> None:
    assert synonym_lookup()[fold_headers([header])[0]] == field


def test_unknown_and_blank_headers_are_extra_columns() -> None:
    mapping = map_header_row(["STT", "Họ và tên", "Nhóm ưu tiên", None, "Ngày sinh"])

    assert mapping.names == ("STT", "Họ và tên", "Nhóm ưu tiên", "column_4", "Ngày sinh")
    assert mapping.field_columns == {"full_name": (1,), "date_of_birth": (4,)}
    assert mapping.unknown_columns == mapping.extra_columns == (2, 3)
    assert mapping.missing_required == ["vaccine", "vaccinated_on"]


def test_duplicate_header_names_are_made_unique_in_file_order() -> None:
    assert unique_header_names(["Ghi chú", "Ghi chú", "", "Ghi chú"]) == (
        "Ghi chú",
        "Ghi chú (2)",
        "column_3",
        "Ghi chú (3)",
    )


# (cells, score): named fields counted once each; STT (ignored), unknown, blank and digit cells not at all.
SCORED_ROWS: list[tuple[list[str | None], int]] = [
    (["STT", "Họ và tên", "Ngày sinh (dd/mm/yyyy)", "Giới tính", "Số CCCD", "Ngày tiêm", None], 5),
    (["HO_TEN", "Ho va ten", "Ghi chú", "", "Vắc xin (mũi 2)"], 2),  # a repeated field counts once
    (["1", "Nguyễn Văn An", "01/02/1990", "Nam", "079190000001", "Pfizer"], 0),
    (["Tổng cộng", "120"], 0),
    ([None, None], 0),
    ([], 0),
]


def test_header_scores_are_the_same_read_cell_by_cell_or_by_distinct_cells() -> None:
    """A few rows are scored cell by cell, many by their distinct cells: the same scores."""
    rows = pl.DataFrame({"cells": [cells for cells, _ in SCORED_ROWS]}, schema={"cells": pl.List(pl.String)})
    expected = [score for _, score in SCORED_ROWS]
    copies = 1000 // len(SCORED_ROWS) + 1  # more rows than the cell-by-cell reading takes

    few = with_header_scores(rows)
    many = with_header_scores(pl.concat([rows] * copies))

    assert few["score"].to_list() == expected
    assert many["score"].to_list() == expected * copies
    assert few["score"].dtype == many["score"].dtype == pl.UInt32
