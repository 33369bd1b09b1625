"""Header templates of facility exports: which columns, named how, in which order.

The ingest stage maps these through its synonym table; every header written here is listed in
docs/synth.md so that table can be checked against it.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from synth.catalogues import EXTRA_COLUMNS

# canonical field -> header; dict order is the column order. "stt" is the row-number column.
TEMPLATES: dict[str, dict[str, str]] = {
    "vn_diacritics": {
        "stt": "STT",
        "full_name": "Họ và tên",
        "date_of_birth": "Ngày sinh",
        "sex": "Giới tính",
        "id_number": "Số CCCD/CMND",
        "phone": "Số điện thoại",
        "address": "Địa chỉ",
        "vaccine": "Tên vắc xin",
        "lot": "Số lô",
        "dose": "Mũi tiêm",
        "vaccinated_on": "Ngày tiêm",
        "facility_name": "Cơ sở tiêm",
    },
    "vn_no_diacritics": {
        "stt": "STT",
        "full_name": "Ho va ten",
        "date_of_birth": "Ngay sinh",
        "sex": "Gioi tinh",
        "id_number": "So CMND/CCCD",
        "phone": "So dien thoai",
        "address": "Dia chi",
        "vaccine": "Ten vac xin",
        "lot": "So lo",
        "dose": "Mui tiem",
        "vaccinated_on": "Ngay tiem",
        "facility_name": "Co so tiem",
    },
    "upper_snake": {
        "stt": "STT",
        "full_name": "HO_TEN",
        "date_of_birth": "NGAY_SINH",
        "sex": "GIOI_TINH",
        "id_number": "SO_CCCD",
        "phone": "SO_DIEN_THOAI",
        "address": "DIA_CHI",
        "vaccine": "TEN_VAC_XIN",
        "lot": "SO_LO",
        "dose": "MUI_TIEM",
        "vaccinated_on": "NGAY_TIEM",
        "facility_name": "CO_SO_TIEM",
    },
    "english": {
        "stt": "No.",
        "full_name": "Full name",
        "date_of_birth": "Date of birth",
        "sex": "Sex",
        "id_number": "ID number",
        "phone": "Phone",
        "address": "Address",
        "vaccine": "Vaccine",
        "lot": "Lot",
        "dose": "Dose",
        "vaccinated_on": "Vaccination date",
        "facility_name": "Facility",
    },
    "vn_split_address": {
        "stt": "STT",
        "full_name": "Họ tên",
        "date_of_birth": "Ngày sinh",
        "sex": "Giới tính",
        "id_number": "CMND/CCCD",
        "phone": "SĐT",
        "address": "Địa chỉ",
        "ward": "Phường/Xã",
        "district": "Quận/Huyện",
        "province": "Tỉnh/Thành phố",
        "vaccine": "Loại vắc xin",
        "lot": "Lô vắc xin",
        "dose": "Mũi số",
        "vaccinated_on": "Ngày tiêm",
        "facility_name": "Đơn vị tiêm",
    },
    "national_platform": {
        "stt": "STT",
        "full_name": "Họ và tên",
        "date_of_birth": "Ngày tháng năm sinh",
        "sex": "Giới tính",
        "id_number": "Số CMND/CCCD",
        "phone": "Số điện thoại",
        "province": "Tỉnh/TP",
        "district": "Quận/Huyện",
        "ward": "Xã/Phường",
        "address": "Địa chỉ chi tiết",
        "vaccine": "Tên vắc xin",
        "lot": "Số lô vắc xin",
        "dose": "Mũi thứ",
        "vaccinated_on": "Ngày tiêm",
        "facility_name": "Cơ sở tiêm chủng",
    },
}
SPLIT_ADDRESS_TEMPLATES = frozenset(name for name, columns in TEMPLATES.items() if "province" in columns)

# The rendered column behind each canonical field (split templates put the street in "address").
OUTPUT_COLUMN = {
    "stt": "out_stt",
    "full_name": "out_full_name",
    "date_of_birth": "out_date_of_birth",
    "sex": "out_sex",
    "id_number": "out_id_number",
    "phone": "out_phone",
    "address": "out_address",
    "province": "out_province",
    "district": "out_district",
    "ward": "out_ward",
    "vaccine": "out_vaccine",
    "lot": "out_lot",
    "dose": "out_dose",
    "vaccinated_on": "out_vaccinated_on",
    "facility_name": "out_facility_name",
}


def _snake(header: str) -> str:
    folded = unicodedata.normalize("NFD", header.replace("Đ", "D").replace("đ", "d"))
    ascii_header = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"\W+", "_", ascii_header).strip("_").upper()


def _noisy(header: str, rng: np.random.Generator) -> str:
    """Case, spacing and punctuation a person adds to a header: 'HỌ VÀ TÊN', 'Ngày sinh ', 'Số lô (*)'."""
    kind = rng.integers(0, 6)
    if kind == 0:
        return header.upper()
    if kind == 1:
        return header.lower()
    if kind == 2:
        return header + " "
    if kind == 3:
        return header.replace(" ", "  ", 1)
    if kind == 4:
        return header + " (*)"
    return header + ":"


def file_columns(
    template: str,
    seed: int,
    is_shuffled: bool,
    count_extra: int,
    is_duplicate_headers: bool,
    is_header_noise: bool,
) -> list[tuple[str, str]]:
    """(header text, rendered column) in file order for one facility's export software."""
    rng = np.random.default_rng(seed)
    columns = [(header, OUTPUT_COLUMN[field]) for field, header in TEMPLATES[template].items()]
    if template in SPLIT_ADDRESS_TEMPLATES:
        columns = [(h, "out_address_detail" if c == "out_address" else c) for h, c in columns]
    if is_shuffled:
        keep_stt_first = rng.random() < 0.8
        head, tail = (columns[:1], columns[1:]) if keep_stt_first else ([], columns)
        columns = head + [tail[i] for i in rng.permutation(len(tail))]
    extras = rng.permutation(len(EXTRA_COLUMNS))[:count_extra]
    for index in extras:
        vietnamese, english, _ = EXTRA_COLUMNS[index]
        header = (
            english
            if template == "english"
            else _snake(vietnamese)
            if template == "upper_snake"
            else vietnamese
        )
        if template == "vn_no_diacritics":
            header = _snake(vietnamese).replace("_", " ").capitalize()
        position = len(columns) if rng.random() < 0.6 else int(rng.integers(1, len(columns) + 1))
        columns.insert(position, (header, f"out_extra_{index}"))
    if is_duplicate_headers and count_extra:
        duplicated = next(header for header, column in columns if column.startswith("out_extra_"))
        columns.append((duplicated, "out_extra_duplicate"))
    if is_header_noise:
        columns = [(_noisy(h, rng) if rng.random() < 0.5 else h, c) for h, c in columns]
    return columns
