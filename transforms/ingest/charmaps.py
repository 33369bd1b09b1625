"""Byte -> Unicode tables of the single-byte Vietnamese encodings, and decoding with them.

Every table keeps ASCII's printable characters; some reuse C0 control bytes for capital letters.

| ledger label  | standard                              | table                                        |
|---------------|---------------------------------------|----------------------------------------------|
| windows-1258  | Microsoft code page 1258 (combining)  | Python's `cp1258` codec                      |
| tcvn3         | TCVN 5712:1993 VN3 ("ABC", .VnTime)   | viparse `viparse.normalize.tcvn3.TCVN3`      |
| tcvn5712-2    | TCVN 5712:1993 VN2                    | VN1's assignments in 0xA0-0xFF (see below)   |
| tcvn5712-1    | TCVN 5712:1993 VN1 (glibc TCVN5712-1) | glibc `localedata/charmaps/TCVN5712-1`       |
| viscii        | VISCII (RFC 1456)                     | viparse `viparse.normalize.viscii.VISCII`    |
| vps           | VPS                                   | viparse `viparse.normalize.vps.VPS`          |
| vni           | VNI-Windows (VNI-Times font)          | viparse `viparse.normalize.vni.VNI`          |

VN1, VN2 and VN3 nest (Wikipedia, "VSCII"): VN3 (TCVN3) has the lowercase letters and the seven
unaccented capitals in 0xA1-0xFF; VN2 adds, in the same range, 16 capitals with marks and the five
combining tone marks 0xB0-0xB4 (the other capitals are written as base letter + combining mark);
VN1 adds the remaining capitals in C0 (0x01-0x17) and 0x80-0x9F. So VN2 is VN1 without its C0
and C1 assignments, and a file using only VN3's bytes reads the same in all three.

VNI spells a marked vowel as a base letter followed by a mark byte, so it is not a byte table:
it is converted from the Latin-1 reading with viparse's sequence table (legacy_fonts).
"""

from __future__ import annotations

import codecs
import unicodedata
from functools import cache

from viparse.normalize.tables import Charmap
from viparse.normalize.tcvn3 import TCVN3
from viparse.normalize.viscii import VISCII
from viparse.normalize.vps import VPS

# TCVN 5712:1993 VN1 as glibc's charmap TCVN5712-1 defines it (every byte run through
# `iconv -f TCVN5712-1 -t UTF-32BE`, glibc 2.36): (byte, code point) where it differs from Latin-1.
TCVN5712_1_BYTES: tuple[tuple[int, int], ...] = (
    (0x01, 0x00DA), (0x02, 0x1EE4), (0x04, 0x1EEA), (0x05, 0x1EEC), (0x06, 0x1EEE), (0x11, 0x1EE8),
    (0x12, 0x1EF0), (0x13, 0x1EF2), (0x14, 0x1EF6), (0x15, 0x1EF8), (0x16, 0x00DD), (0x17, 0x1EF4),
    (0x80, 0x00C0), (0x81, 0x1EA2), (0x82, 0x00C3), (0x83, 0x00C1), (0x84, 0x1EA0), (0x85, 0x1EB6),
    (0x86, 0x1EAC), (0x87, 0x00C8), (0x88, 0x1EBA), (0x89, 0x1EBC), (0x8A, 0x00C9), (0x8B, 0x1EB8),
    (0x8C, 0x1EC6), (0x8D, 0x00CC), (0x8E, 0x1EC8), (0x8F, 0x0128), (0x90, 0x00CD), (0x91, 0x1ECA),
    (0x92, 0x00D2), (0x93, 0x1ECE), (0x94, 0x00D5), (0x95, 0x00D3), (0x96, 0x1ECC), (0x97, 0x1ED8),
    (0x98, 0x1EDC), (0x99, 0x1EDE), (0x9A, 0x1EE0), (0x9B, 0x1EDA), (0x9C, 0x1EE2), (0x9D, 0x00D9),
    (0x9E, 0x1EE6), (0x9F, 0x0168), (0xA1, 0x0102), (0xA2, 0x00C2), (0xA3, 0x00CA), (0xA4, 0x00D4),
    (0xA5, 0x01A0), (0xA6, 0x01AF), (0xA7, 0x0110), (0xA8, 0x0103), (0xA9, 0x00E2), (0xAA, 0x00EA),
    (0xAB, 0x00F4), (0xAC, 0x01A1), (0xAD, 0x01B0), (0xAE, 0x0111), (0xAF, 0x1EB0), (0xB0, 0x0300),
    (0xB1, 0x0309), (0xB2, 0x0303), (0xB3, 0x0301), (0xB4, 0x0323), (0xB5, 0x00E0), (0xB6, 0x1EA3),
    (0xB7, 0x00E3), (0xB8, 0x00E1), (0xB9, 0x1EA1), (0xBA, 0x1EB2), (0xBB, 0x1EB1), (0xBC, 0x1EB3),
    (0xBD, 0x1EB5), (0xBE, 0x1EAF), (0xBF, 0x1EB4), (0xC0, 0x1EAE), (0xC1, 0x1EA6), (0xC2, 0x1EA8),
    (0xC3, 0x1EAA), (0xC4, 0x1EA4), (0xC5, 0x1EC0), (0xC6, 0x1EB7), (0xC7, 0x1EA7), (0xC8, 0x1EA9),
    (0xC9, 0x1EAB), (0xCA, 0x1EA5), (0xCB, 0x1EAD), (0xCC, 0x00E8), (0xCD, 0x1EC2), (0xCE, 0x1EBB),
    (0xCF, 0x1EBD), (0xD0, 0x00E9), (0xD1, 0x1EB9), (0xD2, 0x1EC1), (0xD3, 0x1EC3), (0xD4, 0x1EC5),
    (0xD5, 0x1EBF), (0xD6, 0x1EC7), (0xD7, 0x00EC), (0xD8, 0x1EC9), (0xD9, 0x1EC4), (0xDA, 0x1EBE),
    (0xDB, 0x1ED2), (0xDC, 0x0129), (0xDD, 0x00ED), (0xDE, 0x1ECB), (0xDF, 0x00F2), (0xE0, 0x1ED4),
    (0xE1, 0x1ECF), (0xE2, 0x00F5), (0xE3, 0x00F3), (0xE4, 0x1ECD), (0xE5, 0x1ED3), (0xE6, 0x1ED5),
    (0xE7, 0x1ED7), (0xE8, 0x1ED1), (0xE9, 0x1ED9), (0xEA, 0x1EDD), (0xEB, 0x1EDF), (0xEC, 0x1EE1),
    (0xED, 0x1EDB), (0xEE, 0x1EE3), (0xEF, 0x00F9), (0xF0, 0x1ED6), (0xF1, 0x1EE7), (0xF2, 0x0169),
    (0xF3, 0x00FA), (0xF4, 0x1EE5), (0xF5, 0x1EEB), (0xF6, 0x1EED), (0xF7, 0x1EEF), (0xF8, 0x1EE9),
    (0xF9, 0x1EF1), (0xFA, 0x1EF3), (0xFB, 0x1EF7), (0xFC, 0x1EF9), (0xFE, 0x1EF5), (0xFF, 0x1ED0),
)  # fmt: skip
TCVN5712_2_BYTES = tuple((byte, code) for byte, code in TCVN5712_1_BYTES if byte >= 0xA0)


def _from_viparse(charmap: Charmap) -> tuple[tuple[int, int], ...]:
    """viparse keys its single-byte tables on the Latin-1 surface (byte 0xNN read as chr(0xNN))."""
    return tuple(
        (ord(surface), ord(letter))
        for surface, letter in charmap.pairs
        if len(surface) == 1 and ord(surface) < 0x100 and len(letter) == 1
    )


BYTE_TABLES: dict[str, tuple[tuple[int, int], ...]] = {
    "tcvn3": _from_viparse(TCVN3),
    "tcvn5712-2": TCVN5712_2_BYTES,
    "tcvn5712-1": TCVN5712_1_BYTES,
    "viscii": _from_viparse(VISCII),
    "vps": _from_viparse(VPS),
}


@cache
def decoding_table(encoding: str) -> str:
    """The 256-character table codecs.charmap_decode takes: the encoding's letters, Latin-1 elsewhere."""
    table = [chr(byte) for byte in range(256)]
    for byte, code in BYTE_TABLES[encoding]:
        table[byte] = chr(code)
    return "".join(table)


def decode_with_table(raw: bytes, encoding: str) -> str:
    """Bytes of a table encoding -> Unicode (not yet NFC: VN1/VN2 may hold combining tone marks)."""
    return codecs.charmap_decode(raw, "strict", decoding_table(encoding))[0]


@cache
def combining_mark_bytes(encoding: str) -> frozenset[int]:
    """The bytes an encoding reads as combining marks (Windows-1258's tones, VN1/VN2's 0xB0-0xB4):
    a file without any decodes straight to NFC."""
    if encoding in BYTE_TABLES:
        table = decoding_table(encoding)
    else:
        table = bytes(range(256)).decode(encoding, errors="replace")
    return frozenset(byte for byte, char in enumerate(table) if unicodedata.combining(char))


@cache
def all_bytes_but(wanted: frozenset[int]) -> bytes:
    return bytes(byte for byte in range(256) if byte not in wanted)


def holds_any(raw: bytes, wanted: frozenset[int]) -> bool:
    """Whether `raw` holds any of the `wanted` bytes: one C pass deleting every other byte (a regex
    character class scans megabytes about twenty times slower)."""
    return bool(raw.translate(None, all_bytes_but(wanted)))


@cache
def letter_controls() -> frozenset[int]:
    """The C0 control bytes some encoding uses as letters (VISCII, VPS and VN1 reuse a few)."""
    return frozenset(byte for table in BYTE_TABLES.values() for byte, _ in table if byte < 0x20)
