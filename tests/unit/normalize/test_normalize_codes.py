"""Small code rules: sex, dose, lot, facility province."""

from __future__ import annotations

import pytest
from normalize_builders import apply_rule

from transforms.normalize.addresses import facility_province_code
from transforms.normalize.dose import dose_number
from transforms.normalize.reference import NormalizeReference
from transforms.normalize.sex import sex_code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Nam", "M"),
        ("nam", "M"),
        ("NAM", "M"),
        ("M", "M"),
        ("Male", "M"),
        ("1", "M"),
        ("Nữ", "F"),
        ("nữ", "F"),
        ("Nu", "F"),
        ("Nu\u0303", "F"),  # NFD
        ("F", "F"),
        ("Female", "F"),
        ("0", "F"),
        ("2", "F"),
        ("Khác", None),
        ("?", None),
        ("", None),
        (None, None),
    ],
)
def test_sex_code(raw: str | None, code: str | None) -> None:
    assert apply_rule(sex_code, [raw]) == [code]


@pytest.mark.parametrize(
    ("raw", "dose"),
    [
        ("1", 1),
        ("Mũi 1", 1),
        ("mui 2", 2),
        ("Mui 3", 3),
        ("M2", 2),
        ("Liều 2", 2),
        ("Dose 1", 1),
        ("Mũi thứ 2", 2),
        ("Mũi 3 (nhắc lại)", 3),
        ("Mũi 4 (nhắc lại)", 4),
        ("Nhắc lại 1", 3),
        ("Nhắc lại 2", 4),
        ("Booster 1", 3),
        ("Mũi nhắc lại lần 1", 3),
        ("nhắc lại", 3),
        ("bổ sung", 3),
        ("Mũi bổ sung", 3),
        ("1st", 1),  # ordinals in English and Vietnamese (found by h6 on an independent landing)
        ("2nd", 2),
        ("3rd", 3),
        ("Mũi thứ nhất", 1),
        ("Mũi thứ hai", 2),
        ("Lần thứ ba", 3),
        ("Mũi 12", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_dose_number(raw: str | None, dose: int | None) -> None:
    assert apply_rule(dose_number, [raw]) == [dose]


@pytest.mark.parametrize(
    ("source_file", "code"),
    [
        ("79_Ho_Chi_Minh/79776001/export_20211106_001.csv", "79"),
        ("01_Ha_Noi/01276001/Danh sách tiêm đợt 1 (29.10.2022).xlsx", "01"),
        ("landing/96964001/96964001_20220927_001.csv", "96"),  # from the facility code
        ("99_Nowhere/99000001/file.csv", None),
        ("file.csv", None),
    ],
)
def test_facility_province_code(source_file: str, code: str | None, reference: NormalizeReference) -> None:
    assert apply_rule(lambda path: facility_province_code(path, reference.province_codes), [source_file]) == [
        code
    ]
