"""Legacy encodings are real legacy bytes: a legacy decoder reads them back to the Unicode text."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import polars as pl
import pytest
import viparse
from synth_landed_files import decode, truth_of

from synth.legacy_text import (
    encode_cp1258,
    encode_tcvn3,
    encode_vni,
    utf8_as_cp1252,
    vietnamese_letters,
)
from synth.templates import TEMPLATES

WORDS = [
    "Nguyễn Thị Hồng Nhung",
    "Trần Văn Đức",
    "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
    "Huỳnh Ngọc Thủy",
    "Đặng Quốc Khánh",
    "Thôn 5, Xã Ea Kiết, Huyện Cư M'gar",
    "Mũi nhắc lại lần 1",
]


@pytest.mark.parametrize("text", WORDS)
def test_tcvn3_bytes_decode_back(text: str) -> None:
    data = encode_tcvn3(text)
    assert any(byte >= 0x80 for byte in data)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    # TCVN3 has no capital toned letters: they come back lowercase, as from a .VnTime document.
    assert viparse.fix(data.decode("latin-1"), encoding="tcvn3").lower() == text.lower()


@pytest.mark.parametrize("text", WORDS)
def test_vni_bytes_decode_back(text: str) -> None:
    data = encode_vni(text)
    assert viparse.fix(data.decode("latin-1"), encoding="vni") == text


@pytest.mark.parametrize("text", WORDS)
def test_windows_1258_composes_tones_like_windows(text: str) -> None:
    data = encode_cp1258(text)
    assert unicodedata.normalize("NFC", data.decode("cp1258")) == text
    assert len(data) > len(text.encode("cp1258", errors="ignore"))  # tones written as combining marks


@pytest.mark.parametrize(("text", "mojibake"), [("Nguyễn", "Nguyá»…n"), ("Thị", "Thá»‹"), ("An", "An")])
def test_utf8_read_as_cp1252(text: str, mojibake: str) -> None:
    assert utf8_as_cp1252(text) == mojibake


def test_every_vietnamese_letter_round_trips_except_the_documented_vni_gap() -> None:
    letters = "".join(vietnamese_letters())
    assert viparse.fix(encode_tcvn3(letters).decode("latin-1"), encoding="tcvn3").lower() == letters.lower()
    vni = viparse.fix(encode_vni(letters).decode("latin-1"), encoding="vni")
    assert vni.replace("aú", "ẳ").replace("AÚ", "Ẳ") == letters
    assert unicodedata.normalize("NFC", encode_cp1258(letters).decode("cp1258")) == letters


@pytest.mark.parametrize(
    "file_format",
    ["csv_tcvn3", "csv_vni", "csv_cp1258", "utf16_tab", "utf16be_tab", "csv_utf8_double_encoded"],
)
def test_landed_files_decode_to_the_registry_names(boosted_dir: Path, file_format: str) -> None:
    """Rows whose name was not spoiled show the registry name once the file is decoded properly."""
    files = pl.read_parquet(boosted_dir / "files.parquet").filter(
        (pl.col("file_format") == file_format) & ~pl.col("is_header_noise")
    )
    assert len(files) > 0, f"no {file_format} file generated"
    truth = pl.read_parquet(boosted_dir / "truth.parquet")
    registry = pl.read_parquet(boosted_dir / "registry.parquet").select(
        pl.col("citizen_id").alias("true_citizen_id"), "full_name"
    )
    checked = 0
    for row in files.iter_rows(named=True):  # one iteration per file
        data = (boosted_dir / "landing" / row["source_file"]).read_bytes()
        if file_format.startswith("utf16"):
            assert data[:2] == (b"\xff\xfe" if file_format == "utf16_tab" else b"\xfe\xff")
        if file_format == "csv_utf8_double_encoded":
            assert "á»" in data.decode("utf-8") or "Ã" in data.decode("utf-8")
        text = unicodedata.normalize("NFC", decode(data, file_format)).lower()
        assert TEMPLATES[row["template"]]["full_name"].lower() in text
        clean = truth_of(truth, row["source_file"]).filter(
            ~pl.col("corruptions").list.eval(pl.element().str.starts_with("name_")).list.any()
            & (pl.col("invalid_kind") != "required_value_missing")
            & (pl.col("person_kind") == "citizen")
        )
        names = clean.join(registry, on="true_citizen_id")["full_name"]
        assert all(name.lower() in text for name in names), row["source_file"]
        checked += len(names)
    assert checked > 0
