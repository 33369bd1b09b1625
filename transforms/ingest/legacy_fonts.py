"""Legacy Vietnamese font encodings (TCVN3/ABC and VNI): detect them per file, convert to Unicode NFC.

Text typed in a `.VnTime` (TCVN3) or `VNI-Times` (VNI) font comes out of any reader as mojibake:
"NguyÔn ThÞ Hång" (TCVN3), "Nguyeãn Thò Hoàng" (VNI). The conversion tables are viparse's own
(`viparse.normalize.tcvn3.TCVN3`, `viparse.normalize.vni.VNI`); we only apply them differently.
viparse converts with a per-character Python scan, so here each table becomes one polars
`str.replace_many` over the text's lines (longest sequence first, leftmost match: the same
semantics as viparse's greedy scan), then NFC.

Detection compares readings of the same file: the plain decoded text, and its TCVN3 and VNI
conversions (for a single-byte file also its Windows-1258 reading). On the file's words that hold
non-ASCII characters (first 50k characters) each reading gets
1. defects, derived from the tables: "alien" characters, the ones legacy tables use as codes but
   that are no Vietnamese letter (µ ¸ ª « ® in TCVN3, ø ï û ö ñ in VNI) and other non-Vietnamese
   letters (Ň from a wrong code page); plus syllables carrying two or more tone marks, which
   Vietnamese never writes (TCVN3 applied to VNI text makes many). A first reading with no
   defect at all is kept as it is;
2. viparse's Vietnamese character-frequency score (`viparse.normalize.frequency.vietnamese_score`).
The readings with (about) the fewest defects compete on the score, and a legacy conversion must
beat a plain reading by MIN_SCORE_GAIN. viparse's own content detector is not used: its margins
are tuned for prose, and on a CSV of names it declines even clear TCVN3. The verdict is per file.

Limits (viparse's, kept): TCVN3 has no capital accented letters, so "NGUYÔN" becomes "NGUYễN"
(the case is lost, the letters are right); VNI has no entry for ẳ/Ẳ, which pass through unchanged;
TCVN3's ư is byte 0xAD, a soft hyphen that some tools delete before the file reaches us.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
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
MIN_SCORE_GAIN = 0.035  # a later (less preferred) reading must read this much more like Vietnamese
MIN_DEFECT_TOLERANCE = 3  # readings within this many defects of the fewest still compete...
DEFECT_TOLERANCE_SHARE = 0.05  # ...or within 5% of the syllables: a few odd cells prove nothing
MAX_LEGACY_DEFECT_SHARE = 0.05  # a legacy conversion leaving more defects is not the answer
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
    return unicodedata.normalize("NFC", converted)


@dataclass(frozen=True)
class Reading:
    """One way to read a file: a decoded text, and the legacy font to convert it from (if any)."""

    encoding: str  # ledger label of the bytes' encoding
    text: str  # decoded text, before any legacy conversion
    legacy: str | None = None  # tcvn3 | vni | None


@dataclass(frozen=True)
class _Scored:
    reading: Reading
    defects: int
    score: float


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


def choose_reading(readings: list[Reading]) -> Reading | None:
    """The reading that reads most like Vietnamese; readings come in order of preference (plain
    first). A first reading without defects stands: it is already sound Vietnamese. None only when
    the candidates are all legacy conversions and none makes sense of the text."""
    words_by_text: dict[str, str] = {}  # readings often share a text (plain and legacy of the same decode)

    def words_of(reading: Reading) -> str:
        if reading.text not in words_by_text:
            words_by_text[reading.text] = non_ascii_words(reading.text)
        return words_by_text[reading.text]

    if readings and readings[0].legacy is None and count_defects(words_of(readings[0])) == 0:
        return readings[0]
    scored = []
    for reading in readings:
        words = words_of(reading)
        if reading.legacy is not None:
            words = convert_legacy_text(words, reading.legacy)
        scored.append(_Scored(reading, count_defects(words), vietnamese_score(words)))
    if not scored:
        return None
    syllable_count = max(len(LETTER_RUN.findall(words)) for words in words_by_text.values())
    fewest = min(candidate.defects for candidate in scored)
    tolerance = max(MIN_DEFECT_TOLERANCE, DEFECT_TOLERANCE_SHARE * syllable_count)
    eligible = [candidate for candidate in scored if candidate.defects <= fewest + tolerance]
    chosen = eligible[0]
    for candidate in eligible[1:]:
        if candidate.score > chosen.score and (
            chosen.reading.legacy is not None or candidate.score >= chosen.score + MIN_SCORE_GAIN
        ):
            chosen = candidate
    if chosen.reading.legacy is not None and chosen.defects > MAX_LEGACY_DEFECT_SHARE * max(
        syllable_count, 1
    ):
        return readings[0] if readings[0].legacy is None else None  # no conversion makes sense of it
    return chosen.reading


def detect_legacy_font(text: str) -> str | None:
    """`tcvn3`, `vni` or None for a file's decoded Unicode text."""
    readings = [Reading("", text), *(Reading("", text, legacy) for legacy in LEGACY_CHARMAPS)]
    chosen = choose_reading(readings)
    return chosen.legacy if chosen is not None else None
