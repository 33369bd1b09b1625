"""The catalogue of defects the generator plants, with default rates; config, docs and tests read it.

`unit` says what a rate is a probability of:
- row: an eligible export row gets the defect (eligibility in `applies_to`);
- invalid: an eligible row (a citizen's dose exported once) is made invalid so (expected backlog_invalid);
- person: an eligible person is affected (all of their rows are tagged);
- file: an export file (or the facility's export software, for styles shared by its files) has it;
- whole_file: share of extra junk files among export files, at least one of each kind;
- registry: share of registry citizens.
A row is tagged only when the defect really changed what the file shows.
"""

from __future__ import annotations

from typing import NamedTuple


class Defect(NamedTuple):
    unit: str
    default_rate: float
    applies_to: str
    example: str


DEFECTS: dict[str, Defect] = {
    # names
    "name_no_diacritics": Defect("row", 0.12, "names with diacritics", "Nguyen Thi Hong Nhung"),
    "name_nfd": Defect("row", 0.03, "names with diacritics, Unicode files", "NFD 'Nguyễn' (8 code points)"),
    "name_tone_style": Defect("row", 0.4, "names with a word-final oa/oe/uy tone, or Quý", "Hoà, Thuỷ, Qúy"),
    "name_lookalike_d": Defect("row", 0.08, "names with Đ, Unicode files", "Ðặng (U+00D0)"),
    "name_typo": Defect("row", 0.03, "all names", "Đứcc, Háng, Nguyn"),
    "name_all_caps": Defect("row", 0.10, "all names", "NGUYỄN VĂN AN"),
    "name_extra_spaces": Defect("row", 0.05, "all names", "Lâm  Bảo  Ninh"),
    "name_middle_dropped": Defect("row", 0.03, "names of 3+ words", "Nguyễn Khoa"),
    "name_given_first": Defect("row", 0.015, "all names", "Khang Minh Quốc Chu"),
    "name_title": Defect("row", 0.02, "people under 16 or over 60", "Bà Trần Thị Lan, Cháu Lê Minh"),
    "name_telex_keys": Defect("row", 0.008, "names with diacritics", "Nguyeenx Traanf"),
    "name_vni_keys": Defect("row", 0.004, "names with diacritics", "Nguye64n"),
    "name_mojibake": Defect("row", 0.004, "names with diacritics, Unicode files", "Nguyá»…n"),
    # IDs
    "id_missing": Defect("row", 0.18, "all rows", "(blank)"),
    "id_placeholder": Defect("row", 0.03, "all rows", "chưa có, 0, -, Không có"),
    "id_legacy_cmnd": Defect("row", 0.15, "citizens with an old 9-digit CMND", "012345678"),
    "id_leading_zeros_lost": Defect(
        "row", 0.04, "IDs starting with 0 (always in numeric XLSX)", "79182132426"
    ),
    "id_scientific": Defect("row", 0.004, "numeric IDs", "7.91821E+10"),
    "id_spaces": Defect("row", 0.02, "numeric IDs", "079 182 132 426, 079.182.132.426"),
    "id_typo_digit": Defect("row", 0.008, "citizen IDs", "one digit changed"),
    "id_transposed": Defect("row", 0.008, "citizen IDs", "two adjacent digits swapped"),
    "id_family_member": Defect(
        "row", 0.012, "people with a relative in the registry", "spouse's or parent's ID"
    ),
    "id_bhyt": Defect("row", 0.01, "all rows", "DN4791234567890 (health-insurance card)"),
    "id_passport": Defect("person", 0.85, "foreigners", "C1234567, M12345678"),
    # dates
    "dob_year_only": Defect("row", 0.04, "people with a full birth date (always when unknown)", "1948"),
    "dob_day_month_swapped": Defect(
        "row", 0.01, "birth days 1-12 that differ from the month", "03/04 -> 04/03"
    ),
    "dob_year_off_by_one": Defect("row", 0.01, "all birth dates", "1987 for 1988"),
    "mixed_date_formats": Defect("row", 0.05, "all dates", "one row in ISO in a dd/mm/yyyy file"),
    "vax_date_day_month_swapped": Defect("row", 0.003, "vaccination days 1-12", "06/09 -> 09/06"),
    "date_us_format": Defect("file", 0.03, "text files and text dates", "whole file month-first: 12/31/2021"),
    "date_two_digit_year": Defect("file", 0.05, "export software", "d/m/yy: 8/3/21, 5/6/45"),
    "date_excel_serial": Defect("file", 0.4, "XLSX files", "44263 for 2021-03-08"),
    "date_with_time": Defect("file", 0.1, "export software", "2021-08-28 13:01:58"),
    # sex
    "sex_missing": Defect("row", 0.03, "all rows", "(blank)"),
    "sex_wrong": Defect("row", 0.004, "all rows", "Nữ for a man"),
    # phones
    "phone_missing": Defect("row", 0.15, "people with a phone", "(blank)"),
    "phone_borrowed_from_family": Defect("row", 0.5, "people without a phone whose household has one", ""),
    "phone_family_member": Defect("row", 0.03, "people with a phone whose household has another", ""),
    "phone_country_code": Defect("row", 0.05, "phones", "+84912345678, 84912345678, 0084912345678"),
    "phone_leading_zero_lost": Defect("row", 0.03, "phones (always in numeric XLSX)", "912345678"),
    "phone_separators": Defect("row", 0.05, "phones", "0912.345.678, 0912 345 678"),
    "phone_old_11digit": Defect("row", 0.05, "mobiles whose prefix changed in 2018", "01662345678"),
    "phone_landline": Defect("row", 0.01, "all rows", "02438251234"),
    "phone_foreign": Defect("person", 0.6, "foreigners (else blank)", "+82 10 1234 5678"),
    # addresses
    "addr_missing": Defect("row", 0.03, "all rows", "(blank)"),
    "addr_no_diacritics": Defect("row", 0.2, "all addresses", "Phuong Ben Nghe, Quan 1"),
    "addr_abbreviated": Defect("row", 0.45, "all addresses", "P. Bến Nghé, Q.1, TP.HCM; F12, Q1"),
    "addr_ward_missing": Defect("row", 0.12, "all addresses", "Quận 1, TP.HCM"),
    "addr_ward_misspelled": Defect("row", 0.03, "addresses with a ward", "Háng Bạc"),
    "addr_temp_residence": Defect(
        "person", 0.03, "vaccinated citizens", "shot and address in another province"
    ),
    # vaccine, dose, lot
    "vaccine_text_noise": Defect("row", 0.35, "all rows", "Phizer, Astra Zecera, Verocell, Modena"),
    "dose_booster_text": Defect("file", 0.4, "export software; boosters only", "Nhắc lại 1, Booster 1"),
    "dose_additional_text": Defect("row", 0.05, "third doses written with booster wording", "bổ sung"),
    "dose_missing": Defect("row", 0.01, "all rows", "(blank)"),
    "dose_wrong": Defect("row", 0.01, "all rows", "2 for a first dose"),
    "lot_missing": Defect("row", 0.07, "all rows", "(blank)"),
    # invalid rows (expected backlog_invalid)
    "vaccine_unknown": Defect("invalid", 0.003, "citizens' single-copy doses", "Vaccine, Khác, Nanocovax"),
    "vax_date_out_of_range": Defect("invalid", 0.002, "citizens' single-copy doses", "22/08/2012"),
    "vax_date_future": Defect("invalid", 0.001, "citizens' single-copy doses", "a date after the snapshot"),
    "vax_date_impossible": Defect("invalid", 0.001, "citizens' single-copy doses", "31/02/2022"),
    "dob_impossible": Defect("invalid", 0.001, "citizens' single-copy doses", "30/02/1980, 00/00/1945"),
    "required_value_missing": Defect("invalid", 0.001, "citizens' single-copy doses", "blank vaccine"),
    "after_death": Defect("person", 0.3, "vaccinated citizens who died in the campaign", "shot after death"),
    "truncated_row": Defect("file", 0.03, "text files", "last line cut short"),
    # file structure
    "column_order_shuffled": Defect("file", 0.15, "export software", "columns in another order"),
    "extra_columns": Defect("file", 0.35, "export software", "Nhóm ưu tiên, Ghi chú"),
    "duplicate_header_names": Defect("file", 0.05, "export software", "Ghi chú twice"),
    "header_noise": Defect("file", 0.15, "export software", "HỌ VÀ TÊN, 'Ngày sinh ', Số CCCD (*)"),
    "preamble_rows": Defect("file", 0.2, "export files (XLSX three times as often)", "report title above"),
    "blank_rows": Defect("file", 0.08, "export files", "empty lines between rows"),
    "total_row": Defect("file", 0.08, "export files", "Tổng cộng: 57"),
    "ids_as_numbers": Defect("file", 0.6, "XLSX files", "ID and phone cells stored as numbers"),
    # duplicates and people absent from the registry
    "dup_reexport": Defect("row", 0.02, "doses", "re-exported in a later file by the same facility"),
    "dup_second_facility": Defect("row", 0.015, "doses", "also reported by a second facility"),
    "person_unregistered": Defect("row", 0.012, "rows", "child missing from the registry"),
    "person_foreigner": Defect("row", 0.01, "rows", "foreigner with a passport"),
    "person_absent_namesake": Defect(
        "row", 0.008, "rows", "absent person sharing a registered adult's name and birth date, own CCCD"
    ),
    # whole-file defects (quarantined)
    "empty_file": Defect("whole_file", 0.005, "", "0 bytes"),
    "binary_junk": Defect("whole_file", 0.005, "", "random bytes named .csv"),
    "office_lock_file": Defect("whole_file", 0.005, "", "~$DS_tiem.xlsx"),
    "header_only": Defect("whole_file", 0.005, "", "a header and no rows"),
    "other_template": Defect("whole_file", 0.01, "", "a staff list or a stock report"),
    "corrupt_xlsx": Defect("whole_file", 0.003, "", "an XLSX cut short"),
    "unsupported_format": Defect("whole_file", 0.003, "", "a PDF report"),
    # registry
    "registry_twins": Defect("registry", 0.012, "children", "twins: same birth date, household"),
    "registry_namesakes": Defect("registry", 0.004, "citizens", "same full name and sex in the same ward"),
    "registry_legacy_id_shared": Defect("registry", 0.002, "old CMNDs", "one CMND number on two citizens"),
    "registry_year_only_birth": Defect("registry", 0.3, "born before 1945", "date_of_birth null"),
    "registry_died": Defect("registry", 0.006, "citizens (mostly elderly)", "date_of_death set"),
}

# Which whole-file defect the ingest stage must quarantine, and with which reason.
WHOLE_FILE_REASONS = {
    "empty_file": "empty_file",
    "binary_junk": "unreadable_file",
    "office_lock_file": "unsupported_format",
    "header_only": "no_data_rows",
    "other_template": "missing_required_columns",
    "corrupt_xlsx": "unreadable_file",
    "unsupported_format": "unsupported_format",
}

# Export file formats: (share of files, encoding label, delimiter, extension).
FILE_FORMATS: dict[str, tuple[float, str | None, str | None, str]] = {
    "csv_utf8": (0.52, "utf-8", ",", ".csv"),
    "csv_utf8_bom_semicolon": (0.08, "utf-8-sig", ";", ".csv"),
    "csv_cp1258": (0.05, "windows-1258", ",", ".csv"),
    "csv_tcvn3": (0.03, "tcvn3", ",", ".csv"),
    "csv_vni": (0.03, "vni", ",", ".csv"),
    "csv_utf8_double_encoded": (0.01, "utf-8", ",", ".csv"),
    "tsv_utf8": (0.02, "utf-8", "\t", ".txt"),
    "utf16_tab": (0.08, "utf-16-le", "\t", ".txt"),
    "utf16be_tab": (0.01, "utf-16-be", "\t", ".txt"),
    "xlsx": (0.17, None, None, ".xlsx"),
}
# Formats whose text can carry any Unicode character (others lose NFD, look-alikes, mojibake).
UNICODE_FORMATS = frozenset(
    {"csv_utf8", "csv_utf8_bom_semicolon", "tsv_utf8", "utf16_tab", "utf16be_tab", "xlsx"}
)
TEXT_FORMATS = frozenset(FILE_FORMATS) - {"xlsx"}

TEMPLATE_SHARES: dict[str, float] = {
    "vn_diacritics": 0.35,
    "vn_no_diacritics": 0.12,
    "upper_snake": 0.12,
    "english": 0.13,
    "vn_split_address": 0.14,
    "national_platform": 0.14,
}
