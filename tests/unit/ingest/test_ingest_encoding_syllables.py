"""The syllable recogniser that scores encodings: Vietnamese words pass, mis-decoded ones do not; and
the decoder never raises, whatever the bytes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.ingest.text_decoding import MIN_ENCODING_SCORE, MIN_JUDGED_WORDS, decode_export_bytes
from transforms.ingest.vietnamese_syllables import is_vietnamese_syllable, marked_words, syllable_scores

ADMIN_UNITS = Path(__file__).parents[3] / "data" / "reference" / "admin_units_2021.parquet"


def _valid(words: list[str]) -> list[bool]:
    return pl.DataFrame({"word": words}).select(is_vietnamese_syllable(pl.col("word")))["word"].to_list()


@pytest.mark.parametrize(
    "word",
    ["Nguyễn", "THỊ", "Trương", "khuỷu", "Huỳnh", "quyết", "giếng", "Phường", "Hoà", "Hòa", "SĐT", "Krông"],
)
def test_vietnamese_words_are_syllables(word: str) -> None:
    assert _valid([word]) == [True]


@pytest.mark.parametrize(
    ("word", "why"),
    [
        ("NguyÔn", "TCVN3 read as Latin-1: 'uyôn' is no rhyme"),
        ("ThÞ", "Þ is no Vietnamese letter"),
        ("Nguyeãn", "VNI read as Latin-1: two vowels then a tilde, 'eãn' is no rhyme"),
        ("Nguyá»…n", "UTF-8 read as Windows-1252"),
        ("Tuât", "a syllable closed by t carries the acute or the dot below"),
        ("Mạt̀", "two tone marks"),
        ("ń", "a tone on a consonant"),
        ("Café", "not Vietnamese: 'afe' is no rhyme after c"),
    ],
)
def test_misdecoded_words_are_not_syllables(word: str, why: str) -> None:
    assert _valid([word]) == [False], why


def test_real_place_names_read_as_vietnamese() -> None:
    """Every ward, district and province name of the 2021 administrative units (Central Highlands names
    included): at least 99.9% of their marked words are syllables."""
    units = pl.read_parquet(ADMIN_UNITS, columns=["province_name", "district_name", "ward_name"])
    names = pl.concat([units[column] for column in units.columns]).drop_nulls()
    words = (
        pl.DataFrame({"name": names}).select(word=marked_words(pl.col("name"))).explode("word").drop_nulls()
    )

    valid = words.select(is_vietnamese_syllable(pl.col("word")).mean()).item()

    assert words.height > 10_000
    assert valid >= 0.999


def test_only_marked_words_are_judged_and_a_reading_without_them_scores_one() -> None:
    scores = syllable_scores(
        {"vietnamese": "Nguyễn Thị Hồng, Pfizer, 1980", "ascii": "Nguyen Van Nam, CCCD 0123"}
    )

    assert scores["vietnamese"].share == 1.0 and scores["vietnamese"].words == 3
    assert scores["ascii"].share == 1.0 and scores["ascii"].words == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.one_of(
        st.binary(max_size=3_000),
        st.text(max_size=500).map(lambda text: text.encode("utf-8")),
        st.text(alphabet=st.characters(max_codepoint=0x1EFF), max_size=500).map(
            lambda text: text.encode("utf-16")
        ),
        st.binary(max_size=1_000).map(lambda noise: b"\xef\xbb\xbf" + noise),
        st.lists(
            st.sampled_from([b"Nguy", b"\xd4n", b"\xb8", b"\x14", b"a\xf8", b",", b"\r\n", b"\x85"])
        ).map(b"".join),
    )
)
def test_any_bytes_decode_or_are_binary_never_raise(raw: bytes) -> None:
    decoded = decode_export_bytes(raw)

    if decoded is not None:
        assert 0.0 <= decoded.score <= 1.0
        assert decoded.judged_words >= 0
        assert all(0.0 <= score <= 1.0 for _, score in decoded.candidates)
        assert decoded.unrecognised == (
            decoded.score < MIN_ENCODING_SCORE and decoded.judged_words >= MIN_JUDGED_WORDS
        )
