"""Name rules: repairs, tone placement, keystrokes, titles, order, folded keys."""

from __future__ import annotations

import polars as pl
import pytest
from normalize_builders import apply_rule

from transforms.normalize.names import (
    SurnameStatistics,
    decode_telex,
    decode_vni,
    full_name_lookup,
    repair_name_series,
    strip_titles,
    swap_given_first,
    with_name_keys,
    word_forms,
)

SURNAMES = frozenset(
    {"nguyen", "tran", "le", "pham", "dang", "chu", "chau", "hoang", "dinh", "ly", "bui", "do"}
)


def clean(names: list[str | None], statistics: SurnameStatistics | None = None) -> list[str | None]:
    lookup = full_name_lookup(
        pl.LazyFrame({"full_name": names}, schema={"full_name": pl.String}),
        "full_name",
        surnames=SURNAMES,
        surname_statistics=statistics,
    ).collect()
    by_raw = dict(zip(lookup["full_name"].to_list(), lookup["full_name_clean"].to_list(), strict=True))
    return [by_raw[name] for name in names]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # tone placement: the registry's traditional style
        ("Hoà", "Hòa"),
        ("Nguyễn Thị Thuỷ", "Nguyễn Thị Thủy"),
        ("Trần Thuý Doan", "Trần Thúy Doan"),
        ("HỒ THUỲ HƯƠNG", "Hồ Thùy Hương"),
        ("Lê Văn Khoẻ", "Lê Văn Khỏe"),
        ("Phan Qúy", "Phan Quý"),
        ("Hoàng Văn Quỳnh", "Hoàng Văn Quỳnh"),  # a final consonant keeps the tone on the last vowel
        # look-alikes, Unicode forms, mojibake
        ("\u00d0ẶNG VĂN HẬU", "Đặng Văn Hậu"),
        ("Nguye\u0302\u0303n Va\u0306n An", "Nguyễn Văn An"),
        ("Nguyá»…n Thá»‹ Lan", "Nguyễn Thị Lan"),
        # leftover Telex / VNI keystrokes
        ("Nguyeenx Thij Hoaf", "Nguyễn Thị Hòa"),
        ("Traanf Vawn DDuwcs", "Trần Văn Đức"),
        ("Truwowngf Giang", "Trường Giang"),
        ("Nguye64n Va8n Hu2ng", "Nguyễn Văn Hùng"),
        ("Nguyeenx Vawn Hungf", "Nguyễn Văn Hùng"),
        ("Nguye64n Lo56c", "Nguyễn Lộc"),  # VNI tone key before the mark key (Lộc in NFD order)
        ("D9a58ng Thi5 Ho2a", "Đặng Thị Hòa"),
        ("Le6 Die56u Thu1y", "Lê Diệu Thúy"),
        ("Traanf Vawn Hngf", "Trần Văn Hng"),  # two words show Telex: the typo'd one loses its tone key
        ("Nguyeenx Thij Hoongff", "Nguyễn Thị Hông"),
        ("Bu2i Thu Ann", "Bui Thu Ann"),  # not decodable (Ann): the stray digit goes, the word stays whole
        ("Lee James", "Lee James"),  # not every word reads as Vietnamese: left alone
        ("Pierre Davis", "Pierre Davis"),
        # case, spacing, stray notes
        ("  NGUYỄN   thị  hồng nhung ", "Nguyễn Thị Hồng Nhung"),
        ("Lê Văn Tám (con)", "Lê Văn Tám"),
        ("H'Hen Niê", "H'Hen Niê"),
        # titles
        ("Bà Nguyễn Thị Lan", "Nguyễn Thị Lan"),
        ("Cháu Lê Văn Tèo", "Lê Văn Tèo"),
        ("Anh Trần Quốc Toản", "Trần Quốc Toản"),
        ("Anh Nguyễn Văn", "Anh Nguyễn Văn"),  # Anh is the given name here (typed first): kept
        ("Cháu Phong Bùi Đức", "Phong Bùi Đức"),  # a title before a given-name-first name
        ("Ông Văn Lộc", "Ông Văn Lộc"),  # Ông is also a surname: no known surname follows
        ("CHU HOÀNG PHÚC", "Chu Hoàng Phúc"),  # Chu, not Chú
        ("Bà Nguyễn", "Bà Nguyễn"),  # nothing would be left of the name
        ("Bà", None),  # a title alone
        (".", None),
        ("", None),
        (None, None),
    ],
)
def test_full_name_clean(raw: str | None, expected: str | None) -> None:
    assert clean([raw]) == [expected]


def typed_form(word: str) -> str:
    return word_forms(pl.Series([word])).select(pl.col("typed_form").str.normalize("NFC")).item()


@pytest.mark.parametrize(
    ("typed", "decoded"),
    [
        ("nguyeenx", "nguyễn"),
        ("traanf", "trần"),
        ("dduwcs", "đức"),
        ("hoaf", "hòa"),
        ("thij", "thị"),
        ("nguyen", "nguyen"),  # nothing typed
        ("james", "james"),  # not a syllable
        ("ksor", "ksor"),  # Jrai surname
    ],
)
def test_telex_keystrokes_are_decoded(typed: str, decoded: str) -> None:
    assert typed_form(typed) == decoded


@pytest.mark.parametrize(
    ("typed", "decoded"),
    [("nguye64n", "nguyễn"), ("d9u7c1", "đức"), ("tra62n", "trần"), ("nguyen", "nguyen")],
)
def test_vni_keystrokes_are_decoded(typed: str, decoded: str) -> None:
    assert typed_form(typed) == decoded


def test_decoders_refuse_words_that_are_not_keystrokes() -> None:
    assert apply_rule(decode_telex, ["nguyen", "james"]) == [None, None]
    assert apply_rule(decode_vni, ["nguyen", "2021"]) == [None, None]


def test_repair_name_series_decodes_only_all_vietnamese_names() -> None:
    names = pl.Series(["nguyeenx vaan an", "lee james", "max nguyen"])
    assert repair_name_series(names).to_list() == ["nguyễn vân an", "lee james", "mã nguyen"]


@pytest.mark.parametrize(
    ("name", "stripped"),
    [
        ("bà nguyễn thị lan", "nguyễn thị lan"),
        ("ba nguyen thi lan", "nguyen thi lan"),
        ("chu hoang phuc", "chu hoang phuc"),  # unaccented chu is the surname Chu
        ("chú hoàng văn phúc", "hoàng văn phúc"),
        ("anh thư nguyễn", "anh thư nguyễn"),  # Anh is a given name here: no surname follows
        ("anh nguyễn văn", "anh nguyễn văn"),  # the rest ends in a middle name: Anh is the given name
        ("anh đỗ quốc", "anh đỗ quốc"),  # Anh is also a name: two words left are not enough
        ("anh nguyễn văn hùng", "nguyễn văn hùng"),
        ("bà lê thị", "bà lê thị"),  # no given name would be left
        ("cháu phong bùi đức", "phong bùi đức"),  # the surname comes after a given name typed first
        ("ông văn lộc", "ông văn lộc"),  # Ông is a surname: no surname in either position
        ("chau le gia thao", "le gia thao"),  # unaccented Cháu before a full three-word name
        ("ong nguyen van tuan", "nguyen van tuan"),
        ("chau le thao", "chau le thao"),  # two words after: as likely the surname Châu
        ("châu tấn hoàng hải", "châu tấn hoàng hải"),  # Châu with its marks is the surname, not Cháu
        # Vân folds to "van" but is a given name, not the middle name Văn
        ("bà nguyễn thị vân", "nguyễn thị vân"),
        ("ba nguyen thi van", "nguyen thi van"),  # unmarked van after a middle word: Vân
        ("bà trần vân", "trần vân"),
        ("ông nguyễn văn", "ông nguyễn văn"),  # Văn with its mark: no given name would be left
        ("ong nguyen van", "ong nguyen van"),  # unmarked van right after the surname: the middle name
        ("mrs nguyễn thị vân", "nguyễn thị vân"),
        ("cụ hoàng thị tư", "hoàng thị tư"),
        ("bé nguyễn gia hân", "nguyễn gia hân"),
        ("bà vân", "bà vân"),  # one word would be left: not stripped
        ("bé thị nở", "bé thị nở"),  # no surname follows: Bé is part of the name
    ],
)
def test_strip_titles(name: str, stripped: str) -> None:
    assert apply_rule(lambda col: strip_titles(col, SURNAMES), [name]) == [stripped]


STATISTICS = SurnameStatistics(
    by_spelling={
        "nguyễn": 0.99,
        "trần": 1.0,
        "đinh": 0.9,
        "minh": 0.0,
        "lý": 0.97,
        "ly": 0.0,
        "bình": 0.0,
        "bùi": 1.0,
        "văn": 0.0,
        "hùng": 0.0,
        "anh": 0.0,
        "phong": 0.0,
        "đức": 0.0,
        "hà": 0.24,
        "kim": 1.0,
        "tuyết": 0.0,
    },
    by_key={"nguyen": 0.99, "tran": 1.0, "dinh": 0.85, "minh": 0.0, "ly": 0.45, "binh": 0.0, "ha": 0.07},
)


@pytest.mark.parametrize(
    ("name", "ordered"),
    [
        ("minh văn đinh", "đinh văn minh"),
        ("bình khánh lý", "lý khánh bình"),  # Lý with its tone is a surname
        ("binh khanh ly", "binh khanh ly"),  # Ly without diacritics is as often a given name
        ("ha thi nguyen", "nguyen thi ha"),
        ("ngoc thi phuong tran", "tran thi phuong ngoc"),
        ("nguyễn văn minh", "nguyễn văn minh"),
        ("trần minh", "trần minh"),
        ("hùng nguyễn văn", "nguyễn văn hùng"),  # given name moved to the front
        ("anh nguyễn văn", "nguyễn văn anh"),
        ("phong bùi đức", "bùi đức phong"),
        ("minh nguyễn", "nguyễn minh"),
        ("hà kim tuyết", "hà kim tuyết"),  # Hà is a surname often enough (0.24): not moved
    ],
)
def test_swap_given_first(name: str, ordered: str) -> None:
    assert apply_rule(lambda col: swap_given_first(col, STATISTICS), [name]) == [ordered]


def test_full_name_clean_swaps_given_first_with_statistics() -> None:
    assert clean(["MINH VĂN ĐINH", "Nguyễn Văn Minh"], STATISTICS) == ["Đinh Văn Minh", "Nguyễn Văn Minh"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hungf Nguyeenx Vawn", "Nguyễn Văn Hùng"),  # Telex keystrokes, given name first
        ("Anh Nguyễn Văn", "Nguyễn Văn Anh"),  # Anh is the given name, not a title
        ("Cháu Phong Bùi Đức", "Bùi Đức Phong"),  # title, then given name first
        ("Bà Nguyễn Thị Lan", "Nguyễn Thị Lan"),
        ("Nguyễn Văn Anh", "Nguyễn Văn Anh"),
    ],
)
def test_full_name_clean_titles_keystrokes_and_order_together(raw: str, expected: str) -> None:
    assert clean([raw], STATISTICS) == [expected]


@pytest.mark.parametrize(
    ("clean_name", "keys"),
    [
        ("Nguyễn Thị Hồng Nhung", ("nguyen thi hong nhung", "nguyen", "thi hong", "nhung")),
        ("Đặng Văn Hậu", ("dang van hau", "dang", "van", "hau")),
        ("Lê Lan", ("le lan", "le", "", "lan")),
        ("Quý", ("quy", "quy", "", "quy")),
        (None, (None, None, None, None)),
    ],
)
def test_name_keys(clean_name: str | None, keys: tuple[str | None, ...]) -> None:
    frame = pl.LazyFrame({"clean": [clean_name]}, schema={"clean": pl.String})
    row = with_name_keys(frame, "clean").collect().row(0, named=True)
    assert (row["name_key"], row["family_name_key"], row["middle_name_key"], row["given_name_key"]) == keys


def test_old_and_new_tone_styles_share_one_key() -> None:
    assert clean(["Nguyễn Thị Hoà", "Nguyễn Thị Hòa", "NGUYEN THI HOA"])[:2] == ["Nguyễn Thị Hòa"] * 2


@pytest.mark.parametrize(
    "placeholder",
    ["chưa có", "chua co", "Không có", "khong co", "không rõ", "KXĐ", "kxđ", "-", "--", "0", "x", "X",
     "N/A", "n/a", "null", "none", "?", "(không có)", "Chưa có."],
)  # fmt: skip
def test_a_placeholder_in_the_name_field_is_no_name(placeholder: str) -> None:
    assert clean([placeholder]) == [None]
