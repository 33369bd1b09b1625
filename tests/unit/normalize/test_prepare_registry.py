"""The prepared registry carries the same name keys and phone form as the shots."""

from __future__ import annotations

import datetime as dt

import polars as pl
from normalize_builders import staged_frame

from transforms.normalize.reference import NormalizeReference
from transforms.normalize.shots import normalize_shots
from transforms.registry import MARKED_NAME_KEY, NAME_KEY_COLUMNS, prepare_registry
from vaxsync.core.contracts import REGISTRY_SCHEMA

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


def test_a_registry_writing_sex_in_words_is_read_by_the_shots_rule(reference: NormalizeReference) -> None:
    # Found by h6 with a snapshot writing Nam/Nữ: no row's sex agreed, so the ID pass confirmed almost
    # nothing and every row went to linkage without its sex.
    worded = registry_frame().with_columns(pl.Series("sex", ["Nam", "Nữ", "female"]))
    prepared = prepare_registry(worded, reference=reference).collect()
    assert prepared["sex"].to_list() == ["M", "F", "F"]


def test_a_registry_without_any_sex_leaves_it_unknown(reference: NormalizeReference) -> None:
    unknown = registry_frame().with_columns(pl.lit(None, dtype=pl.String).alias("sex"))
    prepared = prepare_registry(unknown, reference=reference).collect()
    assert prepared["sex"].to_list() == [None, None, None]


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


def test_a_titled_name_with_an_exact_id_birth_date_and_sex_is_confirmed(
    reference: NormalizeReference,
) -> None:
    # "Bà Nguyễn Thị Vân" went to review: the title stayed, because Vân folds to "van", read as Văn.
    from matching.deterministic import match_by_id

    citizens = [
        (
            "001185004321",
            None,
            "Nguyễn Thị Vân",
            dt.date(1985, 4, 2),
            1985,
            "F",
            None,
            "01",
            "001",
            "00001",
            None,
        ),
        (
            "079060004322",
            None,
            "Trần Văn Nam",
            dt.date(1960, 9, 9),
            1960,
            "M",
            None,
            "79",
            "760",
            "26740",
            None,
        ),
        (
            "079199004323",
            None,
            "Lê Thị Hoa",
            dt.date(1999, 1, 5),
            1999,
            "F",
            None,
            "79",
            "760",
            "26740",
            None,
        ),
    ]
    registry = prepare_registry(
        pl.LazyFrame(citizens, schema=REGISTRY_SCHEMA, orient="row"), reference=reference
    )
    rows = [
        {
            "full_name": "Bà Nguyễn Thị Vân",
            "id_number": "001185004321",
            "date_of_birth": "02/04/1985",
            "sex": "Nữ",
        },
        {
            "full_name": "BA NGUYEN THI VAN",
            "id_number": "001185004321",
            "date_of_birth": "02/04/1985",
            "sex": "Nữ",
        },
        {
            "full_name": "Ông Trần Văn Nam",
            "id_number": "079060004322",
            "date_of_birth": "09/09/1960",
            "sex": "Nam",
        },
        {
            "full_name": "Mrs. Lê Thị Hoa",
            "id_number": "079199004323",
            "date_of_birth": "05/01/1999",
            "sex": "Nữ",
        },
    ]
    shots = normalize_shots(
        staged_frame([{**row, "source_row": n} for n, row in enumerate(rows, start=1)]),
        as_of=dt.date(2023, 1, 31),
        reference=reference,
    )

    matches = match_by_id(shots, registry).collect().sort("source_row")

    assert matches["citizen_id"].to_list() == ["001185004321", "001185004321", "079060004322", "079199004323"]
    assert matches["match_method"].to_list() == ["id_exact"] * 4
    assert matches["match_reason"].to_list() == [None] * 4
