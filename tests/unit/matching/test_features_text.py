"""The encoding's cheap string checks equal the regular expressions they replace: a number field read
by its byte length and an unsigned cast, a diacritic word found by its byte length."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.features import _digits, name_text
from transforms.normalize.names import marked_name_key

NUMBER_TEXT = st.text(alphabet="0123456789+- .,_e١２x\x00", max_size=13)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), NUMBER_TEXT), max_size=40), length=st.sampled_from([9, 10, 12]))
def test_digits_equals_the_regex_and_cast(values: list[str | None], length: int) -> None:
    text = pl.Series("text", values, dtype=pl.String).to_frame()
    regex = pl.when(pl.col("text").str.contains(rf"^\d{{{length}}}$")).then(
        pl.col("text").cast(pl.Int64, strict=False)
    )
    assert (
        text.select(_digits(pl.col("text"), length)).to_series().to_list()
        == text.select(regex).to_series().to_list()
    )


def test_digits_on_named_edge_cases() -> None:
    values = ["012345678", "+12345678", "-12345678", " 12345678", "1234567.0", "٠١٢٣٤٥٦٧٨", "12345678", None]
    got = pl.DataFrame({"text": values}, schema={"text": pl.String}).select(_digits(pl.col("text"), 9))
    assert got.to_series().to_list() == [12345678, None, None, None, None, None, None, None]


def test_name_text_marks_words_as_the_lowercase_regex_did() -> None:
    names = pl.DataFrame(
        {
            "full_name": ["Nguyễn Văn An", "NGUYEN Thi Hoa", "Đỗ Quốc Anh", "Lê  Hòa", "Ánh", None],
            "family": ["nguyen", "nguyen", "do", "le", "anh", None],
            "middle": ["van", "thi", "quoc", "", "", None],
            "given": ["an", "hoa", "anh", "hoa", "anh", None],
        },
        schema={"full_name": pl.String, "family": pl.String, "middle": pl.String, "given": pl.String},
    ).with_columns(marked=marked_name_key(pl.col("full_name")))
    got = names.select(name_text(pl.col("marked"), pl.col("family"), pl.col("middle"), pl.col("given")))
    marked = pl.col("marked")
    first = marked.str.head(pl.col("family").str.len_chars()).str.to_lowercase()
    last = marked.str.tail(pl.col("given").str.len_chars()).str.to_lowercase()
    expected = names.select(
        family_marked=pl.when(first.str.contains(r"[^\x00-\x7f]")).then(first),
        given_marked=pl.when(last.str.contains(r"[^\x00-\x7f]")).then(last),
    )
    assert got.select("family_marked", "given_marked").equals(expected)
    assert got["family_marked"].to_list() == ["nguyễn", None, "đỗ", "lê", "ánh", None]
