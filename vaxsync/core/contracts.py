"""Column contracts between stages: one place that names every intermediate table's columns.

Each stage reads and writes these names; tests and validation suites import them.
"""

from __future__ import annotations

import polars as pl

# The canonical export fields that header synonyms map to. Every staged row carries all of them as String,
# as sent, in the column raw_column(field) (null when the file has no such column); `address` OR the split
# province/district/ward columns.
EXPORT_FIELDS: tuple[str, ...] = (
    "facility_name",
    "full_name",
    "date_of_birth",
    "sex",
    "id_number",
    "phone",
    "address",
    "province",
    "district",
    "ward",
    "vaccine",
    "lot",
    "dose",
    "vaccinated_on",
)

RAW_PREFIX = "raw_"


def raw_column(field: str) -> str:
    """The column holding an export field's text as sent: prefixed, so that it never shares a name with a
    typed column of a later layer (raw `vaccinated_on` text vs synced_shots.vaccinated_on DATE)."""
    return f"{RAW_PREFIX}{field}"


# The export fields that hold dates: a workbook records which of them came from date cells.
DATE_FIELDS: tuple[str, ...] = ("date_of_birth", "vaccinated_on")

# A file lacking any of these is quarantined (`missing_required_columns`).
REQUIRED_FIELDS: tuple[str, ...] = ("full_name", "date_of_birth", "vaccine", "vaccinated_on")

# staged_rows: one row per data row of a loaded export file (grain: file version x data row).
STAGED_ROW_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),  # posix path relative to the landing folder
    "file_hash": pl.String(),  # sha256 of the file's bytes: identifies the file version
    "source_row": pl.Int32(),  # 1-based data row number, header excluded
    **{raw_column(field): pl.String() for field in EXPORT_FIELDS},  # raw_facility_name ... raw_vaccinated_on
    "extra_columns": pl.String(),  # JSON object of unmapped columns, null when none
    "row_issue": pl.String(),  # null, or a reason code found while reading (e.g. malformed_row)
    # Workbooks only: which DATE_FIELDS came from date cells, "<field>=<kind>" joined by ";", kind one
    # of date | date_month_first | date_day_first | date_mixed (the workbook's date number formats);
    # null for text files and when no date field came from a date cell. Normalize repairs locale swaps by it.
    "cell_kinds": pl.String(),
}

# ingest_ledger: one row per landed file version.
LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "file_hash": pl.String(),
    "file_size_bytes": pl.Int64(),
    "file_format": pl.String(),  # csv | xlsx | utf16_text | unknown
    "encoding": pl.String(),  # detected text encoding, null for xlsx
    # null | tcvn3 | vni | utf8_as_cp1252 | utf8_as_cp1258, or the charset (windows-1258, tcvn5712-1, tcvn5712-2,
    # viscii, vps) of a single-byte file read in a wrong code page and saved as Unicode
    "encoding_repair": pl.String(),
    # Share of the sampled words holding non-ASCII letters that read as Vietnamese syllables in the chosen
    # encoding (1.0 when there are none); null for workbooks and files not decoded.
    "encoding_score": pl.Float64(),
    "delimiter": pl.String(),
    "header_line": pl.Int32(),  # 1-based physical line/row of the header
    "column_mapping": pl.String(),  # JSON {source header: canonical field}
    "unknown_columns": pl.String(),  # JSON list of headers kept as raw extra data
    "status": pl.String(),  # loaded | quarantined
    "quarantine_reason": pl.String(),  # closed list, see vaxsync.core.reasons.QUARANTINE_REASONS
    "quarantine_detail": pl.String(),
    "rows_read": pl.Int64(),
    # The data rows the file holds: rows_read when loaded; for a quarantined file an estimate (its non-blank
    # lines or sheet rows below the header, all of them when no header was found); null when not countable.
    "rows_estimated": pl.Int64(),
    # Workbook date cells whose day/month swap by a spreadsheet locale was repaired (transforms.normalize.dates:
    # the same count normalize repairs); 0 for text files, null when quarantined.
    "dates_repaired": pl.Int64(),
    # Workbooks: JSON [{"sheet": name, "rows": non-blank rows}] of the sheets skipped as holding no dose rows
    # (instructions, catalogues, summaries: transforms/ingest/sheets.py); null when none, and for text files.
    "skipped_sheets": pl.String(),
}

# normalized_shots: one row per staged row (same grain), parsed and canonicalised.
NORMALIZED_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "full_name_clean": pl.String(),  # NFC, titles removed, title case, single spaces
    "name_key": pl.String(),  # folded: lowercase ascii, no diacritics, single spaces
    "family_name_key": pl.String(),
    "middle_name_key": pl.String(),  # may be empty string when no middle name
    "given_name_key": pl.String(),
    "birth_date": pl.Date(),  # null when only the year is known or unparsable
    "birth_date_alt": pl.Date(),  # the day/month-swapped reading of an ambiguous date, else null
    # Dates damaged by a spreadsheet's locale: "<verdict>:<field>" joined by ";", verdict
    # day_month_swapped_by_locale (repaired) or day_month_maybe_swapped (both readings kept / held); else null.
    "date_repair": pl.String(),
    # The order (day_first | month_first) the vaccination date's d/m/y text was read in, when its file proves
    # it (a value over 12, none the other way); unambiguous for a text naming its order (2021-07-03,
    # 03-Jul-2021); else null: the order is a guess (events hold such rows).
    "vaccination_date_order": pl.String(),
    "birth_year": pl.Int32(),
    "sex_code": pl.String(),  # M | F | null
    "id_kind": pl.String(),  # cccd | cmnd9 | cmnd12 | passport | bhyt | other | missing | unrecoverable
    "id_value": pl.String(),  # cleaned ID (leading zeros restored), null when missing/unrecoverable
    "cccd_province_code": pl.String(),  # decoded from a CCCD: 2-digit GSO province code
    "cccd_sex": pl.String(),  # decoded from a CCCD: M | F
    "cccd_birth_year": pl.Int32(),  # decoded from a CCCD: century + YY
    "phone_number": pl.String(),  # 10-digit normalised, null when missing/invalid
    "phone_kind": pl.String(),  # mobile | landline | invalid | missing
    "province_code": pl.String(),  # residence, pre-2025 GSO code, best effort
    "district_code": pl.String(),
    "ward_code": pl.String(),
    "admin_era": pl.String(),  # the era of the three codes above: "2021" (63 provinces), null when unknown
    "province_code_2025": pl.String(),  # the residence province in the 34-province units of 2025
    "facility_province_code": pl.String(),  # from the landing path / facility code
    "vaccine_code": pl.String(),  # canonical catalogue code, null when unknown
    "dose_number_reported": pl.Int8(),  # the facility's dose number, null when unreadable
    "vaccinated_date": pl.Date(),
    "lot_number": pl.String(),
    "reject_reason": pl.String(),  # null when matchable; else a code from vaxsync.core.reasons
    "reject_detail": pl.String(),
}

# The prepared registry: one row per citizen, with the same keys as normalized shots.
REGISTRY_SCHEMA: dict[str, pl.DataType] = {
    "citizen_id": pl.String(),
    "legacy_id": pl.String(),
    "full_name": pl.String(),
    "date_of_birth": pl.Date(),
    "birth_year": pl.Int32(),
    "sex": pl.String(),
    "phone": pl.String(),
    "province_code": pl.String(),
    "district_code": pl.String(),
    "ward_code": pl.String(),
    "date_of_death": pl.Date(),
}

# Closed value sets of contract columns, checked by the validation suites.
ID_KINDS: tuple[str, ...] = (
    "cccd",
    "cmnd9",
    "cmnd12",
    "passport",
    "bhyt",
    "other",
    "missing",
    "unrecoverable",
)
MATCH_METHODS: tuple[str, ...] = ("id_exact", "legacy_id_exact", "probabilistic", "review_decision")
