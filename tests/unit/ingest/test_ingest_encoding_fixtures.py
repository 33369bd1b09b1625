"""Files converted by real tools (glibc iconv) or from published tables decode to exactly the original
text, the ledger names the encoding and its score, and text in no Vietnamese encoding is quarantined."""

from __future__ import annotations

import csv
import random
import shutil
import unicodedata
from pathlib import Path

import pytest

from transforms.ingest import stage_export
from transforms.ingest.charmaps import BYTE_TABLES
from transforms.ingest.text_decoding import MIN_ENCODING_SCORE, SINGLE_BYTE_CANDIDATES, decode_export_bytes

FIXTURES = Path(__file__).parents[2] / "fixtures" / "encodings"
with (FIXTURES / "manifest.csv").open(encoding="utf-8") as handle:
    MANIFEST = list(csv.DictReader(handle))
CONVERTED = [entry for entry in MANIFEST if entry["encoding"] != "unrecognised"]
TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def _original(entry: dict[str, str]) -> str:
    return unicodedata.normalize("NFC", (FIXTURES / entry["original"]).read_text(encoding="utf-8-sig"))


def _tcvn3_case_lost(text: str) -> str:
    """TCVN3 (VN3) has no capitals with tone marks, nor Ă Â Ê Ô Ơ Ư Đ with one: they read back lowercase."""
    vn3_letters = {chr(code) for _, code in BYTE_TABLES["tcvn3"]}
    return "".join(char if char.isascii() or char in vn3_letters else char.lower() for char in text)


@pytest.mark.parametrize("entry", CONVERTED, ids=[entry["file"] for entry in CONVERTED])
def test_each_converted_file_decodes_to_the_original_text(entry: dict[str, str]) -> None:
    decoded = decode_export_bytes((FIXTURES / entry["file"]).read_bytes())

    assert decoded is not None
    assert decoded.encoding == entry["encoding"]
    expected = _original(entry)
    assert decoded.text == (_tcvn3_case_lost(expected) if entry["encoding"] == "tcvn3" else expected)
    assert decoded.score >= 0.95
    assert not decoded.unrecognised


@pytest.mark.parametrize("entry", CONVERTED, ids=[entry["file"] for entry in CONVERTED])
def test_the_ledger_names_the_encoding_and_its_score(tmp_path: Path, entry: dict[str, str]) -> None:
    shutil.copyfile(FIXTURES / entry["file"], tmp_path / "export.csv")
    original = tmp_path / "original.csv"
    shutil.copyfile(FIXTURES / entry["original"], original)

    staged = stage_export(tmp_path, "export.csv")
    truth = stage_export(tmp_path, "original.csv")

    assert staged.ledger["status"] == "loaded"
    assert staged.ledger["encoding"] == entry["encoding"]
    assert isinstance(staged.ledger["encoding_score"], float) and staged.ledger["encoding_score"] >= 0.95
    assert staged.rows is not None and truth.rows is not None
    assert staged.rows["raw_id_number"].to_list() == truth.rows["raw_id_number"].to_list()
    assert staged.rows["raw_vaccinated_on"].to_list() == truth.rows["raw_vaccinated_on"].to_list()
    names = staged.rows["raw_full_name"].str.normalize("NFC").to_list()
    expected = truth.rows["raw_full_name"].str.normalize("NFC").to_list()
    if entry["encoding"] == "tcvn3":
        expected = [_tcvn3_case_lost(name) if name else name for name in expected]
    assert names == expected


SINGLE_BYTE = [entry for entry in CONVERTED if not entry["encoding"].startswith("utf-")]


@pytest.mark.parametrize("entry", SINGLE_BYTE, ids=[entry["file"] for entry in SINGLE_BYTE])
@pytest.mark.parametrize(("reader", "saved_as"), [("latin_1", "utf-8"), ("sloppy-windows-1252", "utf-16")])
def test_a_file_read_in_the_wrong_code_page_and_saved_as_unicode_is_read_back(
    entry: dict[str, str], reader: str, saved_as: str
) -> None:
    """A tool that opened the file as Latin-1 or Windows-1252 and saved it as UTF-8 or UTF-16."""
    mistaken = (FIXTURES / entry["file"]).read_bytes().decode(reader)

    decoded = decode_export_bytes(mistaken.encode(saved_as))

    assert decoded is not None
    assert decoded.repair == entry["encoding"]
    expected = _original(entry)
    assert decoded.text == (_tcvn3_case_lost(expected) if entry["encoding"] == "tcvn3" else expected)


def test_the_fixtures_exercise_what_tells_the_encodings_apart() -> None:
    """VN1 files use its C0/C1 capitals, VN2 files its combining tones, Windows-1258 combining tones."""
    for entry in CONVERTED:
        raw = (FIXTURES / entry["file"]).read_bytes()
        if entry["encoding"] == "tcvn5712-1":
            assert any((byte < 0x20 and byte not in b"\t\n\r") or 0x80 <= byte < 0xA0 for byte in raw)
        if entry["encoding"] == "tcvn5712-2":
            assert any(0xB0 <= byte <= 0xB4 for byte in raw)
            assert not any(0x80 <= byte < 0xA0 for byte in raw)
        if entry["encoding"] == "windows-1258":
            assert any(mark.encode("cp1258") in raw for mark in TONE_MARKS)
    assert {entry["encoding"] for entry in CONVERTED} >= {*BYTE_TABLES, "vni", "windows-1258", "utf-16-le"}


def test_text_in_no_vietnamese_encoding_is_quarantined_with_the_candidates(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "russian.koi8-r.csv", tmp_path / "export.csv")

    staged = stage_export(tmp_path, "export.csv")

    assert staged.ledger["status"] == "quarantined"
    assert staged.ledger["quarantine_reason"] == "encoding_unrecognised"
    detail = str(staged.ledger["quarantine_detail"])
    assert all(f"{encoding} " in detail for encoding in SINGLE_BYTE_CANDIDATES)
    assert isinstance(staged.ledger["encoding_score"], float)
    assert staged.ledger["encoding_score"] < MIN_ENCODING_SCORE


def test_valid_utf8_that_is_not_vietnamese_is_unrecognised_after_every_reading() -> None:
    decoded = decode_export_bytes((FIXTURES / "russian.utf8.txt").read_bytes())

    assert decoded is not None and decoded.unrecognised
    tried = [label for label, _ in decoded.candidates]
    assert tried[:3] == ["utf-8", "utf-8+tcvn3", "utf-8+vni"]
    assert set(tried[3:]) == set(SINGLE_BYTE_CANDIDATES) - {"utf-8"}


def test_random_high_bytes_are_unrecognised() -> None:
    generator = random.Random(10)
    junk = bytes(generator.choice([*range(0x80, 0x100), *b"abcdefghij ,\r\n"]) for _ in range(20_000))

    decoded = decode_export_bytes(junk)

    assert decoded is not None and decoded.unrecognised
    assert len(decoded.candidates) == len(SINGLE_BYTE_CANDIDATES)
    assert max(score for _, score in decoded.candidates) == pytest.approx(decoded.score, abs=1e-4)
    assert decoded.score < MIN_ENCODING_SCORE


def test_cells_normalize_repairs_do_not_make_a_file_unrecognised() -> None:
    """Half the rows hold UTF-8 read as Windows-1252 ("Nguyá»…n"): the text scores low as it is, but
    normalize repairs those cells, so the file loads."""
    original = (FIXTURES / "thanh_hoa_ds_tiem.utf8.csv").read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    half = len(lines) // 2
    misread = "".join(lines[:half]) + "".join(
        line.encode("utf-8").decode("sloppy-windows-1252") for line in lines[half:]
    )

    decoded = decode_export_bytes(misread.encode("utf-8"))

    assert decoded is not None and decoded.score < MIN_ENCODING_SCORE
    assert decoded.cell_repair_score is not None and decoded.cell_repair_score >= 0.95
    assert not decoded.unrecognised


def test_a_few_odd_words_do_not_quarantine_a_file() -> None:
    """Below MIN_JUDGED_WORDS marked words, even a low score proves nothing: the file is read."""
    raw = "id,name\r\n1,Nguyen Van Nam\r\n2,Ñôçø Ëñgłish\r\n".encode()

    decoded = decode_export_bytes(raw)

    assert decoded is not None
    assert decoded.judged_words < 20
    assert not decoded.unrecognised
