"""Text to the byte encodings Vietnamese facilities still produce, and the mojibake they cause.

- Windows-1258: Python's codec has the code page but not Windows' composition step, so letters that
  cp1258 lacks as one code point are written the way Windows writes them: base letter + combining tone.
- TCVN3 (ABC) and VNI: no codec can encode them (the standard library has none; viparse only decodes),
  so the encoding tables are built by inverting viparse's decoding tables. Round trips are tested.
  TCVN3 has no capital toned letters: they take the lowercase code, as the .VnTime font does.
  viparse's VNI table lacks ẳ/Ẳ; they get the standard VNI-Windows sequence "aú"/"AÚ".
- UTF-8 read as cp1252 ("Nguyá»…n"): each UTF-8 byte shown as its cp1252 character; the five bytes
  cp1252 leaves undefined become the C1 control characters Windows maps them to.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from viparse.normalize.tcvn3 import _ENTRIES as TCVN3_DECODING
from viparse.normalize.vni import _ENTRIES as VNI_DECODING

TONE_MARKS = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_VOWELS = "aăâeêioôơuưy"
_VNI_MISSING = {"ẳ": "aú", "Ẳ": "AÚ"}


@cache
def vietnamese_letters() -> tuple[str, ...]:
    """Every NFC letter with a Vietnamese diacritic, both cases (134 letters)."""
    letters = ["đ", "Đ"]
    for vowel in _VOWELS + _VOWELS.upper():
        for tone in ("", *TONE_MARKS):
            letter = unicodedata.normalize("NFC", vowel + tone)
            if not letter.isascii():
                letters.append(letter)
    return tuple(letters)


@cache
def _cp1258_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for letter in vietnamese_letters():
        try:
            letter.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", letter)
            tones = "".join(c for c in decomposed if c in TONE_MARKS)
            base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
            table[ord(letter)] = base + tones
    return table


@cache
def _tcvn3_table() -> dict[int, str]:
    table = {ord(letter): surface for surface, letter in TCVN3_DECODING}
    for letter in vietnamese_letters():
        if ord(letter) not in table and ord(letter.lower()) in table:
            table[ord(letter)] = table[ord(letter.lower())]
    return table


@cache
def _vni_table() -> dict[int, str]:
    table = {ord(letter): surface for surface, letter in VNI_DECODING}
    table.update({ord(letter): surface for letter, surface in _VNI_MISSING.items()})
    return table


def encode_cp1258(text: str) -> bytes:
    return unicodedata.normalize("NFC", text).translate(_cp1258_table()).encode("cp1258", errors="replace")


def encode_tcvn3(text: str) -> bytes:
    """TCVN3 bytes; characters outside Vietnamese and Latin-1 become "?" (as a legacy editor saves)."""
    return unicodedata.normalize("NFC", text).translate(_tcvn3_table()).encode("latin-1", errors="replace")


def encode_vni(text: str) -> bytes:
    return unicodedata.normalize("NFC", text).translate(_vni_table()).encode("latin-1", errors="replace")


@cache
def _cp1252_byte_chars() -> tuple[str, ...]:
    chars = []
    for byte in range(256):
        try:
            chars.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(byte))
    return tuple(chars)


def utf8_as_cp1252(text: str) -> str:
    """The mojibake of UTF-8 text opened as cp1252: "Nguyễn" -> "Nguyá»…n"."""
    byte_chars = _cp1252_byte_chars()
    return "".join(byte_chars[byte] for byte in text.encode("utf-8"))


def mojibake_mapping(chars: set[str]) -> dict[str, str]:
    """Per-character mojibake for the non-ASCII characters given (for polars str.replace_many)."""
    return {char: utf8_as_cp1252(char) for char in sorted(chars) if not char.isascii()}
