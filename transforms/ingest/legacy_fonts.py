"""Legacy Vietnamese font encodings (TCVN3/ABC and VNI): convert their text to Unicode NFC.

Text typed in a `.VnTime` (TCVN3) or `VNI-Times` (VNI) font comes out of any reader as mojibake:
"NguyÔn ThÞ Hång" (TCVN3), "Nguyeãn Thò Hoàng" (VNI). The conversion tables are viparse's own
(`viparse.normalize.tcvn3.TCVN3`, `viparse.normalize.vni.VNI`); we only apply them differently.
viparse converts with a per-character Python scan, so here each table becomes one polars
`str.replace_many` over the text's lines (longest sequence first, leftmost match: the same
semantics as viparse's greedy scan), then NFC.

Whether a file is in one of these fonts is decided per file by text_decoding, which scores every
reading against Vietnamese syllable structure (vietnamese_syllables). The defect count and the
character-frequency score below (`count_defects`, `vietnamese_score`) are the earlier measures,
kept as diagnostics.

Limits (viparse's, kept): TCVN3 has no capital accented letters, so "NGUYÔN" becomes "NGUYễN"
(the case is lost, the letters are right); VNI has no entry for ẳ/Ẳ, which pass through unchanged;
TCVN3's ư is byte 0xAD, a soft hyphen that some tools delete before the file reaches us.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import numpy as np
import polars as pl
from viparse.normalize.frequency import _model as vietnamese_unigram_model
from viparse.normalize.tables import Charmap
from viparse.normalize.tcvn3 import TCVN3
from viparse.normalize.viscii import VISCII
from viparse.normalize.vni import VNI

LEGACY_CHARMAPS: dict[str, Charmap] = {"tcvn3": TCVN3, "vni": VNI}

DETECTION_SAMPLE_CHARS = 50_000
LETTER_RUN = re.compile(r"[^\W\d_]+")
TONE_MARK = re.compile("[\u0300\u0301\u0303\u0309\u0323]")  # grave, acute, tilde, hook, dot below


def non_ascii_words(text: str) -> str:
    """The words of `text` that hold a non-ASCII character: where encodings differ."""
    return " ".join(word for word in text[:DETECTION_SAMPLE_CHARS].split() if not word.isascii())


def convert_legacy_text(text: str, encoding: str) -> str:
    """Convert a whole text from a legacy font encoding (`tcvn3` | `vni`) to Unicode NFC."""
    charmap = LEGACY_CHARMAPS[encoding]
    legacy = [source for source, _ in charmap.pairs]  # viparse keeps them longest first
    unicode = [target for _, target in charmap.pairs]
    lines = pl.Series([text]).str.split("\n").explode()  # line by line: polars converts them in parallel
    converted = lines.str.replace_many(legacy, unicode, leftmost=True).str.join("\n").item()
    # The tables' letters are precomposed: NFC's quick check passes and the slow full pass is skipped.
    return (
        converted if unicodedata.is_normalized("NFC", converted) else unicodedata.normalize("NFC", converted)
    )


@cache
def vietnamese_letters() -> frozenset[str]:
    """Every precomposed Vietnamese letter, both cases: the outputs of viparse's tables
    (VISCII encodes all 134, so their union is complete)."""
    letters = {out for charmap in (TCVN3, VNI, VISCII) for _, out in charmap.pairs}
    return frozenset(letters | {ch.upper() for ch in letters} | {ch.lower() for ch in letters})


@cache
def _legacy_code_chars() -> frozenset[str]:
    """Characters legacy tables use as codes that are not Vietnamese letters."""
    sources = {ch for charmap in LEGACY_CHARMAPS.values() for legacy, _ in charmap.pairs for ch in legacy}
    return frozenset(ch for ch in sources if not ch.isascii() and ch not in vietnamese_letters())


def is_alien(char: str) -> bool:
    """A legacy code character, or a non-ASCII letter Vietnamese does not have (Ň from a misread)."""
    if char.isascii() or char in vietnamese_letters():
        return False
    return char.isalpha() or char in _legacy_code_chars()


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@cache
def _char_traits(code: int) -> tuple[int, int, int]:
    """(is alien, is a letter of LETTER_RUN, tone marks in its NFD) of one character."""
    char = chr(code)
    tone_marks = len(TONE_MARK.findall(unicodedata.normalize("NFD", char)))
    return int(is_alien(char)), int(LETTER_RUN.fullmatch(char) is not None), tone_marks


def count_defects(words: str) -> int:
    """Alien characters plus syllables (LETTER_RUN runs) with two or more tone marks.

    Counted with numpy over the text's code points, each distinct character judged once: a
    syllable's tone marks are the sum of its characters' (NFD decomposes character by character)."""
    codes = _code_points(unicodedata.normalize("NFC", words))
    if codes.size == 0:
        return 0
    distinct, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    traits = np.array([_char_traits(int(code)) for code in distinct], dtype=np.int64).reshape(-1, 3)
    alien_count = int(counts[traits[:, 0] == 1].sum())
    is_letter = traits[inverse, 1] == 1
    syllable = np.cumsum(~is_letter)  # a non-letter ends a run; it adds no tone mark itself
    tone_marks = np.bincount(syllable, weights=traits[inverse, 2] * is_letter)
    return alien_count + int((tone_marks >= 2).sum())


def vietnamese_score(text: str) -> float:
    """viparse's `vietnamese_score` (mean per-character log-probability under its Vietnamese unigram
    model), summed per distinct character rather than per character: the same value, far faster."""
    logp, floor = vietnamese_unigram_model()
    codes = _code_points(unicodedata.normalize("NFC", text).lower())
    if codes.size == 0:
        return floor
    distinct, counts = np.unique(codes, return_counts=True)
    log_probabilities = np.array([logp.get(chr(code), floor) for code in distinct.tolist()])
    return float(counts @ log_probabilities) / codes.size
