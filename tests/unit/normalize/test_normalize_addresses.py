"""Address rule: free text or split columns -> 2021-era province, district and ward."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.normalize.addresses import ADDRESS_COLUMNS, resolve_admin_codes
from transforms.normalize.reference import NormalizeReference

Names = tuple[str | None, str | None, str | None]


def resolved_names(
    reference: NormalizeReference,
    address: str | None,
    *,
    province: str | None = None,
    district: str | None = None,
    ward: str | None = None,
    facility_province_code: str | None = None,
) -> Names:
    """The names of the units an address resolves to, read back from the reference table."""
    frame = pl.LazyFrame(
        [(address, province, district, ward, facility_province_code)],
        schema={column: pl.String for column in ADDRESS_COLUMNS},
        orient="row",
    )
    codes = resolve_admin_codes(frame, reference.admin_index).collect().row(0, named=True)
    units = reference.admin_units

    def name(level: str) -> str | None:
        code = codes[f"{level}_code"]
        if code is None:
            return None
        return units.filter(pl.col(f"{level}_code") == code)[f"{level}_name"].unique().item()

    return name("province"), name("district"), name("ward")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("P. Bến Nghé, Q.1, TP.HCM", ("Thành phố Hồ Chí Minh", "Quận 1", "Phường Bến Nghé")),
        ("Phuong Ben Nghe Quan 1 TP Ho Chi Minh", ("Thành phố Hồ Chí Minh", "Quận 1", "Phường Bến Nghé")),
        ("19/43 Phan Dinh Phung, P.09, Q.11, TP.HCM", ("Thành phố Hồ Chí Minh", "Quận 11", "Phường 09")),
        ("To 9, Hoan Kiem, Ha Noi", ("Thành phố Hà Nội", "Quận Hoàn Kiếm", None)),
        (
            "Ngõ 11 Nguyễn Trãi, Phường Hàng Bạc, Quận Hoàn Kiếm, HN",
            ("Thành phố Hà Nội", "Quận Hoàn Kiếm", "Phường Hàng Bạc"),
        ),
        ("Xom 15, X.Nghi Phu, TP.Vinh, Nghe An", ("Tỉnh Nghệ An", "Thành phố Vinh", "Xã Nghi Phú")),
        ("Thôn 8 - X. Ea Pô - H. Cư Jút - Đắk Nông", ("Tỉnh Đắk Nông", "Huyện Cư Jút", "Xã Ea Pô")),
        (
            "Phường Trung Minh, Thành phố Hòa Bình, Hoà Bình",
            ("Tỉnh Hoà Bình", "Thành phố Hòa Bình", "Phường Trung Minh"),
        ),
        (
            "158/14 Le Van Sy, P9, Vung Tau, Ba Ria - Vung Tau",
            ("Tỉnh Bà Rịa - Vũng Tàu", "Thành phố Vũng Tàu", "Phường 9"),
        ),
        (
            "Tổ 15, X.Nguyệt Đức, TX.Thuận Thành, T. Bắc Ninh",
            ("Tỉnh Bắc Ninh", "Huyện Thuận Thành", "Xã Nguyệt Đức"),
        ),
        ("Thôn 9, Quản Bạ, Hà Giang", ("Tỉnh Hà Giang", "Huyện Quản Bạ", None)),  # Quản folds to quan
        ("Xã Tùng Vài, Huyện Quản Bạ, Hà Giang", ("Tỉnh Hà Giang", "Huyện Quản Bạ", "Xã Tùng Vài")),
        (
            "Xóm 5, Tịnh Thiện, Quảng Ngãi, Tỉnh Quảng Ngãi",
            ("Tỉnh Quảng Ngãi", "Thành phố Quảng Ngãi", "Xã Tịnh Thiện"),
        ),
        (
            "Ấp 8, Dương Hòa, Kiên Lương, Tỉnh Kiên Giang",
            ("Tỉnh Kiên Giang", "Huyện Kiên Lương", "Xã Dương Hòa"),
        ),
        # misspellings
        (
            "Tổ 1, Xãã Bằng Phúc, Huyện Chợ Đồn, Tỉnh Bắc Kạn",
            ("Tỉnh Bắc Kạn", "Huyện Chợ Đồn", "Xã Bằng Phúc"),
        ),
        (
            "Tổ 3, Phưxng Thị Nại, Thành phố Quy Nhơn, Bình Định",
            ("Tỉnh Bình Định", "Thành phố Quy Nhơn", "Phường Thị Nại"),
        ),
        ("X. Yên Trạeh, H. Cao Lộc, Lạng Sơn", ("Tỉnh Lạng Sơn", "Huyện Cao Lộc", "Xã Yên Trạch")),
        # two units of one name: the unit word decides, or nothing does
        ("TP. Cao Lãnh, Đồng Tháp", ("Tỉnh Đồng Tháp", "Thành phố Cao Lãnh", None)),
        ("Huyện Cao Lãnh, Đồng Tháp", ("Tỉnh Đồng Tháp", "Huyện Cao Lãnh", None)),
        ("P3, Cao Lãnh, Đồng Tháp", ("Tỉnh Đồng Tháp", None, None)),
        # nothing to find
        ("Số 5 Lê Lợi", (None, None, None)),
        ("", (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_free_text_address(address: str | None, expected: Names, reference: NormalizeReference) -> None:
    assert resolved_names(reference, address) == expected


@pytest.mark.parametrize(
    ("province", "district", "ward", "expected"),
    [
        ("Hà Nội", "Ba Đình", "Phúc Xá", ("Thành phố Hà Nội", "Quận Ba Đình", "Phường Phúc Xá")),
        (
            "TP Hà Nội",
            "Quận Ba Đình",
            "Phường Phúc Xá",
            ("Thành phố Hà Nội", "Quận Ba Đình", "Phường Phúc Xá"),
        ),
        ("Ha Giang", "Quan Ba", None, ("Tỉnh Hà Giang", "Huyện Quản Bạ", None)),
        ("Đắk Nông", None, None, ("Tỉnh Đắk Nông", None, None)),
    ],
)
def test_split_columns(
    province: str | None,
    district: str | None,
    ward: str | None,
    expected: Names,
    reference: NormalizeReference,
) -> None:
    assert resolved_names(reference, None, province=province, district=district, ward=ward) == expected


def test_facility_province_is_the_parent_when_the_text_names_none(reference: NormalizeReference) -> None:
    address = "Tổ 5, Xã Nhựt Ninh, Huyện Tân Trụ"
    assert resolved_names(reference, address, facility_province_code="80") == (
        "Tỉnh Long An",
        "Huyện Tân Trụ",
        "Xã Nhựt Ninh",
    )
    assert resolved_names(reference, "Tổ 5", facility_province_code="80") == (None, None, None)


@pytest.mark.parametrize(
    ("address", "province", "ward", "expected"),
    [
        # After 1 July 2025 Bình Định is part of Gia Lai: its commune under the merged province's name.
        ("Xã Nhơn Khánh, Tỉnh Gia Lai", None, None, ("Tỉnh Bình Định", "Thị xã An Nhơn", "Xã Nhơn Khánh")),
        (None, "Tỉnh Gia Lai", "Xã Nhơn Khánh", ("Tỉnh Bình Định", "Thị xã An Nhơn", "Xã Nhơn Khánh")),
        (
            "68 Trần Hưng Đạo, Xã Ngọc Chấn, Tỉnh Lào Cai",
            None,
            None,
            ("Tỉnh Yên Bái", "Huyện Yên Bình", "Xã Ngọc Chấn"),
        ),
        # A ward the named province holds stays there.
        ("Phường Yên Đỗ, Tỉnh Gia Lai", None, None, ("Tỉnh Gia Lai", None, "Phường Yên Đỗ")),
        # Unmerged provinces and unknown wards are untouched.
        ("Xã Không Có, Tỉnh Gia Lai", None, None, ("Tỉnh Gia Lai", None, None)),
    ],
)
def test_a_commune_under_the_name_of_the_province_it_was_merged_into(
    address: str | None,
    province: str | None,
    ward: str | None,
    expected: Names,
    reference: NormalizeReference,
) -> None:
    assert resolved_names(reference, address, province=province, ward=ward) == expected


def test_a_merged_province_is_searched_only_when_the_text_names_a_province(
    reference: NormalizeReference,
) -> None:
    """With no province in the text the facility's province is the parent, and its 2025 partners are not."""
    assert resolved_names(reference, "Xã Nhơn Khánh", facility_province_code="64") == (None, None, None)
