"""Builders for tiny hand-made registries and normalized shot frames, shaped like the stage contracts."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import polars as pl

from vaxsync.core.contracts import NORMALIZED_EXTRA_SCHEMA, REGISTRY_SCHEMA

NAME_KEY_SCHEMA = {
    "name_key": pl.String(),
    "family_name_key": pl.String(),
    "middle_name_key": pl.String(),
    "given_name_key": pl.String(),
}
SHOT_SCHEMA = {
    "source_file": pl.String(),
    "file_hash": pl.String(),
    "source_row": pl.Int32(),
    "raw_full_name": pl.String(),  # the name as typed (staged), before cleaning
    **NORMALIZED_EXTRA_SCHEMA,
}


def folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().split())


def name_keys(full_name: str | None) -> dict[str, str | None]:
    if not full_name:
        return dict.fromkeys(NAME_KEY_SCHEMA)
    words = folded(full_name).split()
    return {
        "name_key": " ".join(words),
        "family_name_key": words[0],
        "middle_name_key": " ".join(words[1:-1]),
        "given_name_key": words[-1],
    }


def citizen(citizen_id: str, full_name: str, born: dt.date | int, sex: str, **fields: Any) -> dict[str, Any]:
    """A registry row; `born` is a date, or a year when only the year is known."""
    row: dict[str, Any] = {
        "citizen_id": citizen_id,
        "legacy_id": None,
        "full_name": full_name,
        "date_of_birth": born if isinstance(born, dt.date) else None,
        "birth_year": born.year if isinstance(born, dt.date) else born,
        "sex": sex,
        "phone": None,
        "province_code": "01",
        "district_code": "001",
        "ward_code": "00001",
        "date_of_death": None,
    }
    row.update(fields)
    return {**row, **name_keys(row["full_name"])}


def shot_row(
    source_row: int, full_name: str, born: dt.date | int | None, sex: str | None, **fields: Any
) -> dict[str, Any]:
    """A normalized, matchable shot row; IDs default to missing; CCCD fields decoded from a CCCD."""
    row: dict[str, Any] = {
        "source_file": "01_Ha_Noi/01001001/export.csv",
        "file_hash": "batch",
        "source_row": source_row,
        "raw_full_name": full_name,
        "full_name_clean": full_name,
        "birth_date": born if isinstance(born, dt.date) else None,
        "birth_date_alt": None,
        "birth_year": born.year if isinstance(born, dt.date) else born,
        "sex_code": sex,
        "id_kind": "missing",
        "id_value": None,
        "phone_number": None,
        "phone_kind": "missing",
        "province_code": "01",
        "district_code": "001",
        "ward_code": "00001",
        "facility_province_code": "01",
        "vaccine_code": "PFIZER",
        "dose_number_reported": 1,
        "vaccinated_date": dt.date(2021, 9, 1),
    }
    row.update(fields)
    if row["id_kind"] in ("cccd", "cmnd12") and row["id_value"] and "cccd_sex" not in fields:
        century_sex = int(row["id_value"][3])
        row["cccd_sex"] = "M" if century_sex % 2 == 0 else "F"
        row["cccd_birth_year"] = 1900 + 100 * (century_sex // 2) + int(row["id_value"][4:6])
        row["cccd_province_code"] = row["id_value"][1:3]
    return {**row, **name_keys(row["full_name_clean"])}


def to_registry(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema={**REGISTRY_SCHEMA, **NAME_KEY_SCHEMA}).lazy()


def to_shots(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=SHOT_SCHEMA).lazy()
