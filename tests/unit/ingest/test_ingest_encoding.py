"""Every text encoding a facility sends is read back to the same Unicode names, and the ledger says how."""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from ingest_export_files import (
    VN_HEADER,
    as_utf8_misread_as_cp1252,
    export_rows,
    render_delimited,
    to_cp1258_bytes,
    to_tcvn3_surface,
    to_vni_surface,
    write,
)
from viparse.normalize.tables import convert as viparse_convert

from transforms.ingest import stage_export, text_decoding
from transforms.ingest.legacy_fonts import LEGACY_CHARMAPS, convert_legacy_text
from transforms.ingest.text_decoding import decode_export_bytes, repair_text

ROWS = export_rows()
NAMES = [row[1] for row in ROWS]
TABLE = [VN_HEADER, *ROWS]


def _tcvn3_table_case_lost(name: str) -> str:
    """TCVN3 has no capital accented letters: they come back lowercase (viparse's documented limit)."""

    def has_own_tcvn3_form(ch: str) -> bool:
        return to_tcvn3_surface(ch) != to_tcvn3_surface(ch.lower())

    return "".join(ch if has_own_tcvn3_form(ch) else ch.lower() for ch in name)


ENCODING_CASES: list[tuple[str, str, Callable[[], bytes], str, str | None, str, Callable[[str], str]]] = [
    # id, file name, bytes, ledger encoding, ledger repair, file_format, expected name from the true one
    ("utf8", "a.csv", lambda: render_delimited(TABLE).encode("utf-8"), "utf-8", None, "csv", str),
    (
        "utf8_bom_semicolon",
        "a.csv",
        lambda: codecs.BOM_UTF8 + render_delimited(TABLE, ";").encode("utf-8"),
        "utf-8-sig",
        None,
        "csv",
        str,
    ),
    (
        "utf16_le_tab",
        "a.txt",
        lambda: render_delimited(TABLE, "\t").encode("utf-16"),  # Python writes the BOM, LE here
        "utf-16-le",
        None,
        "utf16_text",
        str,
    ),
    (
        "utf16_le_no_bom_tab",
        "a.txt",
        lambda: render_delimited(TABLE, "\t").encode("utf-16-le"),  # no BOM: NULs every other byte
        "utf-16-le",
        None,
        "utf16_text",
        str,
    ),
    (
        "utf16_be_tab",
        "a.txt",
        lambda: codecs.BOM_UTF16_BE + render_delimited(TABLE, "\t").encode("utf-16-be"),
        "utf-16-be",
        None,
        "utf16_text",
        str,
    ),
    ("cp1258", "a.csv", lambda: to_cp1258_bytes(render_delimited(TABLE)), "windows-1258", None, "csv", str),
    (
        "tcvn3_bytes",
        "a.csv",
        lambda: to_tcvn3_surface(render_delimited(TABLE)).encode("latin-1"),
        "tcvn3",
        "tcvn3",
        "csv",
        _tcvn3_table_case_lost,
    ),
    (
        "tcvn3_saved_as_utf8",
        "a.csv",
        lambda: to_tcvn3_surface(render_delimited(TABLE)).encode("utf-8"),
        "utf-8",
        "tcvn3",
        "csv",
        _tcvn3_table_case_lost,
    ),
    (
        "vni_bytes",
        "a.csv",
        lambda: to_vni_surface(render_delimited(TABLE)).encode("latin-1"),
        "vni",
        "vni",
        "csv",
        str,
    ),
    (
        "vni_saved_as_utf8_semicolon",
        "a.csv",
        lambda: to_vni_surface(render_delimited(TABLE, ";")).encode("utf-8"),
        "utf-8",
        "vni",
        "csv",
        str,
    ),
    (
        "utf8_misread_as_cp1252",
        "a.csv",
        lambda: as_utf8_misread_as_cp1252(render_delimited(TABLE)),
        "utf-8",
        "utf8_as_cp1252",
        "csv",
        str,
    ),
]


@pytest.mark.parametrize(
    ("file_name", "content", "encoding", "repair", "file_format", "expected_name"),
    [pytest.param(*case[1:], id=case[0]) for case in ENCODING_CASES],
)
def test_each_encoding_reads_back_the_unicode_names(
    tmp_path: Path,
    file_name: str,
    content: Callable[[], bytes],
    encoding: str,
    repair: str | None,
    file_format: str,
    expected_name: Callable[[str], str],
) -> None:
    staged = stage_export(tmp_path, write(tmp_path, file_name, content()))

    assert staged.ledger["status"] == "loaded"
    assert (staged.ledger["encoding"], staged.ledger["encoding_repair"]) == (encoding, repair)
    assert staged.ledger["file_format"] == file_format
    assert staged.rows is not None
    names = [unicodedata.normalize("NFC", name) for name in staged.rows["raw_full_name"].to_list()]
    assert names == [expected_name(name) for name in NAMES]
    assert staged.rows["raw_facility_name"].to_list() == [expected_name(row[11]) for row in ROWS]


@pytest.mark.parametrize(
    ("surface", "encoding", "unicode"),
    [
        ("NguyÔn ThÞ Hång", "tcvn3", "Nguyễn Thị Hồng"),
        ("Tr\xad¬ng V¨n TuÊn", "tcvn3", "Trương Văn Tuấn"),
        ("§Æng Quèc ViÖt", "tcvn3", "Đặng Quốc Việt"),
        ("Nguyeãn Thò Hoàng", "vni", "Nguyễn Thị Hồng"),
        ("Tröông Vaên Tuaán", "vni", "Trương Văn Tuấn"),
        ("Ñaëng Quoác Vieät", "vni", "Đặng Quốc Việt"),
    ],
)
def test_legacy_font_text_converts_to_nfc_unicode(surface: str, encoding: str, unicode: str) -> None:
    converted = convert_legacy_text(surface, encoding)

    assert converted == unicode
    assert unicodedata.is_normalized("NFC", converted)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("\n".join(NAMES), None, id="unicode_vietnamese"),
        pytest.param("\n".join(unicodedata.normalize("NFD", name) for name in NAMES), None, id="unicode_nfd"),
        pytest.param("Nguyen Van Nam\nTran Thi Lan\nAstraZeneca\nPfizer", None, id="ascii_only"),
        pytest.param("Hoàng Thị Hoà\nThuỷ Toàn Khoá\n" * 5, None, id="old_tone_placement_is_not_vni"),
        pytest.param(to_tcvn3_surface("\n".join(NAMES)), "tcvn3", id="tcvn3"),
        pytest.param(to_vni_surface("\n".join(NAMES)), "vni", id="vni"),
    ],
)
def test_legacy_font_detection_is_per_file_and_leaves_unicode_alone(text: str, expected: str | None) -> None:
    assert repair_text(text)[1] == expected


def test_binary_bytes_have_no_text_encoding() -> None:
    junk = bytes(range(256)) * 40 + b"\x00\xff\xfe\x00" * 100

    assert decode_export_bytes(junk) is None


def test_windows_1258_tones_are_composed_to_nfc() -> None:
    decoded = decode_export_bytes(to_cp1258_bytes(render_delimited(TABLE)))

    assert decoded is not None
    assert unicodedata.is_normalized("NFC", decoded.text)
    assert "Nguyễn Thị Hồng" in decoded.text


def test_the_encoding_is_judged_on_marked_words_wherever_they_are() -> None:
    ascii_rows = render_delimited([["1", "Nguyen Van Nam", "1980", "Pfizer"]] * 20_000).encode("ascii")
    whole = ascii_rows + to_cp1258_bytes(render_delimited(TABLE))  # Vietnamese bytes only after 600 kB

    decoded = decode_export_bytes(whole)

    assert decoded is not None
    assert decoded.encoding == "windows-1258"
    assert "Nguyễn Thị Hồng" in decoded.text


def test_every_candidate_is_scored_and_the_right_one_reads_best() -> None:
    decoded = decode_export_bytes(to_cp1258_bytes(render_delimited(TABLE)))

    assert decoded is not None
    scores = dict(decoded.candidates)
    assert set(scores) == set(text_decoding.SINGLE_BYTE_CANDIDATES)
    assert scores["windows-1258"] == decoded.score == 1.0
    assert max(score for label, score in scores.items() if label != "windows-1258") < 0.5


@pytest.mark.parametrize(("encoding", "encoder"), [("tcvn3", to_tcvn3_surface), ("vni", to_vni_surface)])
def test_the_vectorised_conversion_matches_viparse_scan(encoding: str, encoder: Callable[[str], str]) -> None:
    surface = encoder(render_delimited(TABLE))

    assert convert_legacy_text(surface, encoding) == viparse_convert(surface, LEGACY_CHARMAPS[encoding])


def test_legacy_bytes_are_read_and_nul_bytes_are_binary() -> None:
    tcvn3_bytes = to_tcvn3_surface(render_delimited(TABLE)).encode("latin-1")
    binary = bytes(range(256)) * 8

    decoded = decode_export_bytes(tcvn3_bytes)

    assert decoded is not None
    assert (decoded.encoding, decoded.repair) == ("tcvn3", "tcvn3")
    assert "Nguyễn Thị Hồng" in decoded.text
    assert decode_export_bytes(binary) is None


def test_a_stray_control_byte_does_not_make_a_text_binary() -> None:
    text = render_delimited(TABLE).replace("\r\n", "\r\n\x00", 1)  # a NUL in one cell

    decoded = decode_export_bytes(text.encode("utf-8"))

    assert decoded is not None
    assert (decoded.encoding, decoded.text) == ("utf-8", text)


def test_a_few_misread_cells_do_not_make_a_file_legacy() -> None:
    text = render_delimited(TABLE) + render_delimited([["13", "TrÆ°Æ¡ng VÄƒn Quang", "1990", *[""] * 9]])

    assert repair_text(text)[1] is None


@pytest.mark.parametrize(
    "text",
    [
        "Nguyễn Thị Hồng, Trương Văn Tuấn, Đặng Quốc Việt, HUỲNH THỊ MỸ MẬN",
        "Café résumé Ångström",  # not Vietnamese: full NFC still runs
        "Thuỷ Hoà Khoá",
    ],
)
@pytest.mark.parametrize("long_text", [False, True])  # unicodedata's NFC alone; replace_many first
def test_whole_text_nfc_matches_unicodedata(text: str, long_text: bool) -> None:
    lines = "\n".join([text] * (text_decoding.DIRECT_NFC_CHARS // len(text) + 1 if long_text else 1))
    decomposed = unicodedata.normalize("NFD", lines)

    assert text_decoding.compose_nfc(decomposed) == unicodedata.normalize("NFC", lines)
    assert (len(decomposed) >= text_decoding.DIRECT_NFC_CHARS) == long_text


@pytest.mark.parametrize("unicode_codec", ["utf-8", "utf-16"])
def test_utf8_opened_as_windows_1258_and_saved_again_is_repaired(unicode_codec: str) -> None:
    """Excel on a Vietnamese Windows opens a UTF-8 CSV without BOM as Windows-1258 ("HoĂ  BĂ¬nh"; the bytes
    the code page leaves undefined, such as 0x90 of "Đ", become U+0080-U+009F) and saves it as Unicode."""
    text = render_delimited(TABLE)
    windows_1258 = "".join(
        bytes([byte]).decode("cp1258", errors="ignore") or chr(byte) for byte in range(256)
    )
    misread = codecs.charmap_decode(text.encode("utf-8"), "strict", windows_1258)[0]

    decoded = decode_export_bytes(misread.encode(unicode_codec))

    assert decoded is not None
    assert (decoded.repair, decoded.text) == ("utf8_as_cp1258", text)
    untouched = decode_export_bytes(text.encode("utf-8"))
    assert untouched is not None and (untouched.repair, untouched.text) == (None, text)
