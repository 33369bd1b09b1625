"""The prepared registry carries the same name keys and phone form as the shots."""

from __future__ import annotations

import datetime as dt

import polars as pl
from normalize_builders import staged_frame

from transforms.normalize import normalize_shots
from transforms.normalize.reference import NormalizeReference
from transforms.registry import MARKED_NAME_KEY, NAME_KEY_COLUMNS, prepare_registry
from vaxsync.contracts import REGISTRY_SCHEMA

CITIZENS = [
    ("079085001234", None, "Nguyễn Văn An", dt.date(1985, 6, 15), 1985, "M", "0912345678"),
    ("001170123456", "012345678", "Trần Thị Thủy", dt.date(1970, 3, 2), 1970, "F", "01214153716"),
    ("046190123456", None, "Hồ Thị Hòa", None, 1990, "F", "+84 35 299 6235"),
]


def registry_frame() -> pl.LazyFrame:
    rows = [(*citizen, "79", "760", "26740", None) for citizen in CITIZENS]
    return pl.LazyFrame(rows, schema=REGISTRY_SCHEMA, orient="row")


def test_prepare_registry_adds_keys_and_normalises_phones(reference: NormalizeReference) -> None:
    prepared = prepare_registry(registry_frame(), reference=reference).collect()
    assert prepared.columns == [*REGISTRY_SCHEMA, *NAME_KEY_COLUMNS, MARKED_NAME_KEY]
    assert prepared.select(*NAME_KEY_COLUMNS).rows() == [
        ("nguyen van an", "nguyen", "van", "an"),
        ("tran thi thuy", "tran", "thi", "thuy"),
        ("ho thi hoa", "ho", "thi", "hoa"),
    ]
    assert prepared["phone"].to_list() == ["0912345678", "0794153716", "0352996235"]
    assert prepared["full_name"].to_list() == [citizen[2] for citizen in CITIZENS]


def test_shot_keys_compare_with_registry_keys(reference: NormalizeReference) -> None:
    shots = staged_frame(
        [{"full_name": "NGUYEN VAN AN"}, {"full_name": "Trần Thị Thuỷ"}, {"full_name": "Bà Hồ  Thị Hoà"}]
    )
    shot_keys = normalize_shots(shots, as_of=dt.date(2023, 1, 31), reference=reference).collect()
    registry_keys = prepare_registry(registry_frame(), reference=reference).collect()
    assert shot_keys.select(*NAME_KEY_COLUMNS).equals(registry_keys.select(*NAME_KEY_COLUMNS))


def test_marked_name_key_keeps_diacritics_in_one_tone_style(reference: NormalizeReference) -> None:
    """The registry's name with its marks, lowercase, tone placed the traditional way (Thuỷ -> thủy), so a
    shot typed in the new style still agrees on the marks."""
    registry = registry_frame().with_columns(
        pl.Series("full_name", ["NGUYỄN  VĂN AN", "Trần Thị Thuỷ", "Ho Thi Hoa"])
    )
    prepared = prepare_registry(registry, reference=reference).collect()
    assert prepared[MARKED_NAME_KEY].to_list() == ["nguyễn văn an", "trần thị thủy", "ho thi hoa"]
    assert prepared["name_key"].to_list() == ["nguyen van an", "tran thi thuy", "ho thi hoa"]
