"""Legacy Vietnamese font encodings (TCVN3/ABC and VNI): convert their text to Unicode NFC.

Text typed in a `.VnTime` (TCVN3) or `VNI-Times` (VNI) font comes out of any reader as mojibake:
"NguyÔn ThÞ Hång" (TCVN3), "Nguyeãn Thò Hoàng" (VNI). The conversion tables are viparse's own
(`viparse.normalize.tcvn3.TCVN3`, `viparse.normalize.vni.VNI`); we only apply them differently.
viparse converts with a per-character Python scan, so here each table becomes one polars
`str.replace_many` over the text's lines (longest sequence first, leftmost match: the same
semantics as viparse's greedy scan), then NFC.

Whether a file is in one of these fonts is decided per file by text_decoding, which scores every
reading against Vietnamese syllable structure (vietnamese_syllables).

Limits (viparse's, kept): TCVN3 has no capital accented letters, so "NGUYÔN" becomes "NGUYễN"
(the case is lost, the letters are right); VNI has no entry for ẳ/Ẳ, which pass through unchanged;
TCVN3's ư is byte 0xAD, a soft hyphen that some tools delete before the file reaches us.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import polars as pl
from viparse.normalize.tables import Charmap
from viparse.normalize.tcvn3 import TCVN3
from viparse.normalize.viscii import VISCII
from viparse.normalize.vni import VNI

LEGACY_CHARMAPS: dict[str, Charmap] = {"tcvn3": TCVN3, "vni": VNI}

TONE_MARK = re.compile("[\u0300\u0301\u0303\u0309\u0323]")  # grave, acute, tilde, hook, dot below


def convert_legacy_text(text: str, encoding: str) -> str:
    """Convert a whole text from a legacy font encoding (`tcvn3` | `vni`) to Unicode NFC."""
    return convert_legacy_texts([text], encoding)[0]


def convert_legacy_texts(texts: list[str], encoding: str) -> list[str]:
    """convert_legacy_text of each text, in one polars query (the table's matcher built once)."""
    charmap = LEGACY_CHARMAPS[encoding]
    legacy = [source for source, _ in charmap.pairs]  # viparse keeps them longest first
    unicode = [target for _, target in charmap.pairs]
    lines = pl.Series(texts, dtype=pl.String).str.split(
        "\n"
    )  # line by line: polars converts them in parallel
    converted = lines.list.eval(pl.element().str.replace_many(legacy, unicode, leftmost=True)).list.join("\n")
    # The tables' letters are precomposed: NFC's quick check passes and the slow full pass is skipped.
    return [
        text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)
        for text in converted.to_list()
    ]


@cache
def vietnamese_letters() -> frozenset[str]:
    """Every precomposed Vietnamese letter, both cases: the outputs of viparse's tables
    (VISCII encodes all 134, so their union is complete)."""
    letters = {out for charmap in (TCVN3, VNI, VISCII) for _, out in charmap.pairs}
    return frozenset(letters | {ch.upper() for ch in letters} | {ch.lower() for ch in letters})
