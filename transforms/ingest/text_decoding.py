"""Bytes of a text export -> Unicode text, with the encoding found, its score and any repair done.

1. A byte-order mark settles UTF-8 and UTF-16 (LE/BE); UTF-16 without one shows as NUL bytes in
   every other position. Bytes that decode strictly as UTF-8 are UTF-8; pure ASCII is `ascii`.
2. Any other file is single-byte (or broken UTF-8), and every Vietnamese encoding in use is a
   candidate: Windows-1258, TCVN3 (VN3), VNI, TCVN 5712 VN2 and VN1, VISCII, VPS and UTF-8 with
   the broken bytes replaced (tables: transforms.ingest.charmaps). Each decodes a sample of the
   file's marked words (words holding a non-ASCII or control byte, taken from anywhere in the file,
   at most SAMPLE_WORDS), and each reading is scored by the share of its marked words that are
   Vietnamese syllables (transforms.ingest.vietnamese_syllables). The best score wins, and a tie
   goes to the simpler, more common encoding (the order of SINGLE_BYTE_CANDIDATES: a file that
   uses only VN3's bytes is TCVN3, though VN2 and VN1 read it the same). Bytes with more than 1%
   of control bytes no text encoding uses (NUL, escape, ...) outside UTF-16 are binary junk (None).
3. A Unicode text (UTF-8, UTF-16, or a workbook's cells) is scored the same way against its
   repairs: UTF-8 read as Windows-1252 and saved again ("Nguyá»…n", undone with ftfy), UTF-8 read
   as Windows-1258 ("HoĂ  BĂ¬nh"), TCVN3 or VNI font text saved as Unicode ("NguyÔn", "Nguyeãn"),
   and a Windows-1258/VN1/VN2/VISCII/VPS file opened as Latin-1 or Windows-1252 and saved as
   Unicode (its bytes are recovered and read). A repair must beat the text as it is
   by REPAIR_MARGIN.
4. Only the chosen reading is applied to the whole file, then NFC (Windows-1258, VN1 and VN2
   spell some tones as combining marks).

The chosen reading's score goes to the ledger (`encoding_score`); a file whose best reading still
scores below MIN_ENCODING_SCORE, on at least MIN_JUDGED_WORDS marked words, is quarantined by staging
(`encoding_unrecognised`) with every candidate's score (`DecodedText.candidates_detail`).
"""

from __future__ import annotations

import codecs
import dataclasses
import itertools
import re
import unicodedata
from collections.abc import Callable
from functools import cache

import polars as pl

from transforms.ingest.charmaps import (
    all_bytes_but,
    combining_mark_bytes,
    decode_with_table,
    holds_any,
    letter_controls,
)
from transforms.ingest.legacy_fonts import (
    TONE_MARK,
    convert_legacy_text,
    convert_legacy_texts,
    vietnamese_letters,
)
from transforms.ingest.vietnamese_syllables import SyllableScore, syllable_scores
from transforms.normalize.text import repair_mojibake

SAMPLE_WORDS = 2_000  # marked words judged per file: enough to tell encodings apart, fast to score
SAMPLE_SEARCH_CHARS = 32_000  # where they are looked for first: most exports' head holds 2,000
# A repair must read this much better than the Unicode text as it is (a few odd cells prove nothing).
REPAIR_MARGIN = 0.02
MIN_ENCODING_SCORE = 0.75  # a best reading below this share of Vietnamese syllables is unrecognised...
MIN_JUDGED_WORDS = 20  # ...when judged on at least this many marked words (a few odd cells prove nothing)
# Encodings whose mojibake ftfy may undo here: the Windows-1252 family, the one in the contract.
CP1252_FAMILY = ("sloppy-windows-1252", "windows-1252", "latin-1", "iso-8859-1")
UTF8_AS_CP1252 = "utf8_as_cp1252"
UTF8_AS_CP1258 = "utf8_as_cp1258"  # UTF-8 opened as Windows-1258 (Excel on Vietnamese Windows), saved again
LEGACY_FONTS = ("tcvn3", "vni")  # font encodings, whose text survives as symbols in Unicode files
# Charsets whose files, read as Latin-1 or Windows-1252 and saved as Unicode, are read back from the bytes.
SURFACE_CHARSETS = ("windows-1258", "tcvn5712-2", "tcvn5712-1", "viscii", "vps")
# Single-byte candidates, simplest and most common first (ties go to the first).
SINGLE_BYTE_CANDIDATES = (
    "windows-1258",
    "tcvn3",
    "vni",
    "tcvn5712-2",
    "tcvn5712-1",
    "viscii",
    "vps",
    "utf-8",
)
# Encodings that spell some tones as combining marks (the others decode to precomposed letters).
COMBINING_ENCODINGS = ("windows-1258", "tcvn5712-2", "tcvn5712-1")
_CODECS = {"windows-1258": "cp1258"}  # Python's codec name, where it is not the ledger label
# Word characters: anything but ASCII whitespace, punctuation and digits; marked: not ASCII printable.
_WORD_CHAR = "[^\t\n\x0b\x0c\r !-@\\[-`{-~]"
_MARKED_CHAR = "[^\t\n\x0b\x0c\r -~]"
_MARKED_WORD = f"(?<!{_WORD_CHAR}){_WORD_CHAR}*{_MARKED_CHAR}{_WORD_CHAR}*"  # tried at word starts only
MARKED_WORD_TEXT = re.compile(_MARKED_WORD)  # the words' definition in Python's regex (the tests' reference)
# The same words for polars' regex, which has no look-behind and needs none: its leftmost match of a word
# holding a marked character starts at the word's start (the classes are the same).
MARKED_WORD_ANYWHERE = f"{_WORD_CHAR}*{_MARKED_CHAR}{_WORD_CHAR}*"
MARKED_WORD_BYTES = re.compile(_MARKED_WORD.encode("latin_1"))
LETTER_CONTROL_BYTES = letter_controls()
# Control bytes no text encoding here uses (NUL, bell, escape, ...): binary junk holds about 4% of them,
# a text at most a stray one (a NUL in a cell, a DOS end-of-file mark).
JUNK_CONTROL_BYTES = frozenset({*range(0x20), 0x7F}) - LETTER_CONTROL_BYTES - frozenset(b"\t\n\x0b\x0c\r")
MAX_JUNK_CONTROL_SHARE = 0.01
MAX_STRAY_CONTROLS = 2  # a small file is not binary for one or two of them
BINARY_CHECK_BYTES = 1_000_000
UTF16_NUL_SHARE = 0.3  # ASCII text in UTF-16 has a NUL in every other byte
# Below this length compose_nfc runs unicodedata's NFC alone (measured on the medium night's files: NFC
# 0.2 ms on a 12,000-character sample against compose_nfc's 1.8 ms; the two even at ~300,000 characters).
DIRECT_NFC_CHARS = 200_000


@dataclasses.dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # what the bytes are: utf-8, utf-16-le, windows-1258, tcvn3, viscii, tcvn5712-1, ...
    repair: str | None  # None | tcvn3 | vni | utf8_as_cp1252 | utf8_as_cp1258 | a SURFACE_CHARSETS label
    score: float = 1.0  # share of the sample's marked words that are Vietnamese syllables
    judged_words: int = 0  # marked words the score was computed on
    candidates: tuple[tuple[str, float], ...] = ()  # every reading tried, with its score
    # The score once normalize's per-cell mojibake repair has run; computed only for a low score.
    cell_repair_score: float | None = None

    @property
    def unrecognised(self) -> bool:
        """Even the best reading does not read as Vietnamese, on enough words to tell, nor do its cells
        once normalize has repaired the mis-read ones."""
        best = max(self.score, self.cell_repair_score or 0.0)
        return best < MIN_ENCODING_SCORE and self.judged_words >= MIN_JUDGED_WORDS

    def candidates_detail(self) -> str:
        tried = ", ".join(f"{label} {score:.2f}" for label, score in self.candidates)
        return (
            f"no encoding reads as Vietnamese: share of {self.judged_words} sampled words that are "
            f"Vietnamese syllables, by encoding tried: {tried} (at least {MIN_ENCODING_SCORE:.2f} needed)"
        )


# ftfy (~0.08 CPU s to import) is imported where it is used: only a text that is not sound Vietnamese as
# it is (the few misread files) is offered its repair, so an ingest worker rarely needs it.


@cache
def _in_some_single_byte_charset(char: str) -> bool:
    """Whether ftfy could read this character as a byte of one of the single-byte encodings it tries."""
    from ftfy.chardata import CHARMAP_ENCODINGS, ENCODING_REGEXES

    return any(ENCODING_REGEXES[encoding].match(char) for encoding in CHARMAP_ENCODINGS)


def _cannot_be_mojibake(sample: str) -> bool:
    """A character no single-byte encoding of ftfy's has ("ễ", "ơ") survives every ftfy fix (they only
    rewrite runs of such bytes' characters), so ftfy's plan for this text can never hold an `encode`
    step: nothing to repair, and ftfy (tens of milliseconds on a sample) need not run."""
    return not all(_in_some_single_byte_charset(char) for char in set(sample))


def _cp1252_plan(sample: str) -> list[tuple[str, str]] | None:
    """ftfy's plan for undoing UTF-8 read as Windows-1252 in `sample`, or None."""
    if _cannot_be_mojibake(sample):
        return None
    import ftfy

    plan = [(step, argument) for step, argument in ftfy.fix_encoding_and_explain(sample).explanation or []]
    encodes = [argument for step, argument in plan if step == "encode"]
    if not encodes or any(codec not in CP1252_FAMILY for codec in encodes):
        return None
    return plan


def _apply_cp1252_plan(text: str, plan: list[tuple[str, str]]) -> str | None:
    import ftfy

    try:
        return ftfy.apply_plan(text, plan)
    except (UnicodeError, ValueError):
        fixed = ftfy.fix_encoding(text)  # the sample's plan does not fit all of it: let ftfy work it out
        return fixed if fixed != text else None


def repair_utf8_as_cp1252(text: str) -> str | None:
    """The repaired text when the whole text is UTF-8 mis-read as Windows-1252, else None."""
    plan = _cp1252_plan(marked_words_sample(text))
    return _apply_cp1252_plan(text, plan) if plan is not None else None


@cache
def _tone_compositions() -> dict[str, str]:
    """Base letter + combining tone mark -> precomposed letter, for every Vietnamese letter."""
    compositions = {}
    for letter in vietnamese_letters():
        decomposed = unicodedata.normalize("NFD", letter)
        tones = [mark for mark in decomposed if TONE_MARK.fullmatch(mark)]
        if tones:
            base = unicodedata.normalize("NFC", "".join(mark for mark in decomposed if mark not in tones))
            compositions[base + tones[0]] = letter
    return compositions


def compose_nfc(text: str) -> str:
    """NFC for a whole text. Windows-1258 writes every tone as a combining mark, and NFC over
    millions of them is slow: the tones are composed with one polars replace_many over the text's
    lines (in parallel) first, and full NFC only runs when something is left to normalise. A text
    under DIRECT_NFC_CHARS (a sample, most files) is normalised directly: replace_many builds its
    automaton each call (~2 ms), longer than NFC takes on such a text. The result is the same: each
    replacement is its letter's canonical composition, so both are the NFC of the same text."""
    if len(text) < DIRECT_NFC_CHARS:
        return unicodedata.normalize("NFC", text)
    compositions = _tone_compositions()
    lines = pl.Series([text], dtype=pl.String).str.split("\n").explode()
    composed = lines.str.replace_many(list(compositions), list(compositions.values())).str.join("\n").item()
    return composed if unicodedata.is_normalized("NFC", composed) else unicodedata.normalize("NFC", composed)


def marked_words_sample(text: str) -> str:
    """The first SAMPLE_WORDS marked words of a text, one a line: where readings differ. Found by polars
    (a workbook's whole text: Python's regex and join took ~6 ms a file)."""
    return marked_words_samples([text])[0]


def marked_words_samples(texts: list[str]) -> list[str]:
    """marked_words_sample of each text, in one polars query (many files' texts at once). The words are
    looked for in each text's first SAMPLE_SEARCH_CHARS (cut after a line end, which no word spans), and
    in the whole text only when its head holds fewer than SAMPLE_WORDS: the first words are the same."""
    heads = [_head(text) for text in texts]
    found = pl.Series(heads, dtype=pl.String).str.extract_all(MARKED_WORD_ANYWHERE)
    samples = found.list.head(SAMPLE_WORDS).list.join("\n").to_list()
    counts = found.list.len().to_list()
    short = [
        index
        for index, (head, text, count) in enumerate(zip(heads, texts, counts, strict=True))
        if count < SAMPLE_WORDS and len(head) < len(text)
    ]
    if short:
        whole = pl.Series([texts[index] for index in short], dtype=pl.String).str.extract_all(
            MARKED_WORD_ANYWHERE
        )
        for index, sample in zip(short, whole.list.head(SAMPLE_WORDS).list.join("\n").to_list(), strict=True):
            samples[index] = sample
    return samples


def _head(text: str) -> str:
    """The text's first SAMPLE_SEARCH_CHARS, cut after its last line end there (the whole text when none).
    A CR alone ends a line too (old Mac files): their head is sampled, not the whole text."""
    if len(text) <= SAMPLE_SEARCH_CHARS:
        return text
    cut = max(text.rfind("\n", 0, SAMPLE_SEARCH_CHARS), text.rfind("\r", 0, SAMPLE_SEARCH_CHARS))
    return text[: cut + 1] if cut >= 0 else text


def _marked_words_of_bytes(raw: bytes) -> bytes:
    found = itertools.islice(MARKED_WORD_BYTES.finditer(raw), SAMPLE_WORDS)
    return b"\n".join(match.group() for match in found)


def _choose(readings: dict[str, str], first_margin: float = 0.0) -> tuple[str, dict[str, SyllableScore]]:
    """The best-scoring reading, and every score; ties go to the earliest reading. The first reading
    also wins when no other beats it by more than `first_margin`."""
    scores = syllable_scores(readings)
    return _best_reading(scores, first_margin), scores


def _best_reading(scores: dict[str, SyllableScore], first_margin: float = 0.0) -> str:
    """_choose's pick among scored readings, in the order they were tried."""
    best = max(score.share for score in scores.values())
    first = next(iter(scores))
    if scores[first].share >= best - first_margin - 1e-9:
        return first
    return next(label for label in scores if scores[label].share >= best - 1e-9)


def _candidate_scores(scores: dict[str, SyllableScore]) -> tuple[tuple[str, float], ...]:
    return tuple((label, round(score.share, 4)) for label, score in scores.items())


@cache
def _windows_1258_encoding_map() -> dict[int, int]:
    """Windows-1258 as Windows applies it: the bytes the code page leaves undefined read as U+0080-U+009F
    (Python's codec refuses them, and UTF-8's 0x90 of "Đ" is one)."""
    table = "".join(bytes([byte]).decode("cp1258", errors="ignore") or chr(byte) for byte in range(256))
    return {ord(char): byte for byte, char in enumerate(table)}


def undo_utf8_as_cp1258(text: str) -> str | None:
    """The text whose UTF-8 bytes, read as Windows-1258, gave `text` ("HoĂ  BĂ¬nh"); None when it is not that."""
    try:
        raw, _ = codecs.charmap_encode(text, "strict", _windows_1258_encoding_map())
        return raw.decode("utf_8") if not raw.isascii() else None
    except (UnicodeError, ValueError):
        return None


def _unicode_repairs(sample: str) -> dict[str, Callable[[str], str | None]]:
    """The repairs worth trying on a Unicode text, by name: each maps a text to its repaired text."""
    repairs: dict[str, Callable[[str], str | None]] = {}
    plan = _cp1252_plan(sample)
    if plan is not None:
        repairs[UTF8_AS_CP1252] = lambda text: _apply_cp1252_plan(text, plan)
    if undo_utf8_as_cp1258(sample) is not None:
        repairs[UTF8_AS_CP1258] = undo_utf8_as_cp1258
    for font in LEGACY_FONTS:
        repairs[font] = lambda text, font=font: convert_legacy_text(text, font)  # type: ignore[misc]
    surface = _single_byte_surface(sample)
    if surface is not None:
        for charset in SURFACE_CHARSETS:
            repairs[charset] = lambda text, charset=charset: _read_surface(text, surface, charset)  # type: ignore[misc]
    return repairs


def _single_byte_surface(text: str) -> str | None:
    """The reader's code page when `text` is what a single-byte file shows once read as Latin-1 or
    Windows-1252 (undefined bytes as C1 controls) and saved as Unicode: the bytes come back whole."""
    for surface in ("latin_1", "sloppy-windows-1252"):
        try:
            text.encode(surface)
        except UnicodeEncodeError:
            continue
        return surface
    return None


def _read_surface(text: str, surface: str, charset: str) -> str | None:
    """A single-byte file's text, read back from the Unicode its bytes were mistaken for."""
    try:
        raw = text.encode(surface)
    except UnicodeEncodeError:
        return None
    return compose_nfc(_decode_as(raw, charset))


def _read_unicode(text: str, encoding: str) -> DecodedText:
    """A Unicode text as it is, or repaired (mis-read UTF-8, legacy font text), whichever reads best."""
    sample = marked_words_sample(text)
    plain = syllable_scores({encoding: sample})[encoding]
    if plain.share >= 1 - REPAIR_MARGIN:  # the usual case: sound Vietnamese, nothing can beat it
        return DecodedText(
            text, encoding, None, plain.share, plain.words, ((encoding, round(plain.share, 4)),)
        )
    repairs = _unicode_repairs(sample)
    readings = {encoding: sample}
    for name, repair in repairs.items():
        repaired = repair(sample)
        if repaired is not None:
            readings[f"{encoding}+{name}"] = repaired
    chosen, scores = _choose(readings, REPAIR_MARGIN)
    score = scores[chosen]
    if chosen == encoding:
        return DecodedText(text, encoding, None, score.share, score.words, _candidate_scores(scores))
    name = chosen.removeprefix(f"{encoding}+")
    repaired_text = repairs[name](text)
    if repaired_text is None:  # the sample's ftfy plan does not fit the whole text: keep it as it is
        plain = scores[encoding]
        return DecodedText(text, encoding, None, plain.share, plain.words, _candidate_scores(scores))
    return DecodedText(repaired_text, encoding, name, score.share, score.words, _candidate_scores(scores))


def repair_text(text: str) -> tuple[str, str | None]:
    """Undo a whole-text mis-decoding: UTF-8 read as cp1252, or a legacy Vietnamese font."""
    decoded = _read_unicode(text, "unicode")
    return decoded.text, decoded.repair


def _decode_as(raw: bytes, encoding: str) -> str:
    """Bytes read as one single-byte candidate (or lenient UTF-8), before NFC."""
    if encoding == "windows-1258":
        return raw.decode("cp1258", errors="replace")
    if encoding == "utf-8":
        return raw.decode("utf_8", errors="replace")
    if encoding == "vni":
        return convert_legacy_text(raw.decode("latin_1"), "vni")
    return decode_with_table(raw, encoding)


def score_single_byte_candidates(raw: bytes) -> tuple[str, dict[str, SyllableScore]]:
    """The single-byte candidate whose reading of the file's marked words is most Vietnamese, and
    every candidate's score: the whole of detection, on at most SAMPLE_WORDS words."""
    return _choose(_single_byte_readings(raw))


def _single_byte_readings(raw: bytes) -> dict[str, str]:
    """Each single-byte candidate's reading of the file's marked words, in SINGLE_BYTE_CANDIDATES order."""
    sample = _marked_words_of_bytes(raw)
    return {encoding: _decode_as(sample, encoding) for encoding in SINGLE_BYTE_CANDIDATES}


def _single_byte_readings_many(raws: list[bytes]) -> list[dict[str, str]]:
    """_single_byte_readings of several files, the same readings: their marked words found in one polars
    query (the bytes read as Latin-1, one character per byte, cut into the same words) and read as VNI in
    one (the others are single-byte tables)."""
    if not raws:
        return []
    samples = marked_words_samples([raw.decode("latin_1") for raw in raws])
    as_vni = convert_legacy_texts(samples, "vni")  # _decode_as(sample, "vni") of each
    return [
        {
            encoding: vni if encoding == "vni" else _decode_as(sample.encode("latin_1"), encoding)
            for encoding in SINGLE_BYTE_CANDIDATES
        }
        for sample, vni in zip(samples, as_vni, strict=True)
    ]


def _read_single_byte(raw: bytes) -> DecodedText:
    chosen, scores = score_single_byte_candidates(raw)
    return _single_byte_text(raw, chosen, scores)


def _single_byte_text(raw: bytes, chosen: str, scores: dict[str, SyllableScore]) -> DecodedText:
    """The file read whole in the chosen single-byte encoding."""
    score = scores[chosen]
    repair = chosen if chosen in LEGACY_FONTS else None
    text = _decode_as(raw, chosen)
    if chosen in COMBINING_ENCODINGS and holds_any(raw, combining_mark_bytes(_CODECS.get(chosen, chosen))):
        text = compose_nfc(text)
    return DecodedText(text, chosen, repair, score.share, score.words, _candidate_scores(scores))


def _utf16_without_bom(raw: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when NUL bytes fill every other position (ASCII text in UTF-16)."""
    head = raw[:4096]
    if len(head) < 4:
        return None
    odd, even = head[1::2].count(0) / (len(head) // 2), head[0::2].count(0) / ((len(head) + 1) // 2)
    if odd >= UTF16_NUL_SHARE and even < UTF16_NUL_SHARE / 10:
        return "utf-16-le"
    if even >= UTF16_NUL_SHARE and odd < UTF16_NUL_SHARE / 10:
        return "utf-16-be"
    return None


def _unicode_encoding(raw: bytes) -> tuple[str, str] | None:
    """(ledger label, codec) when the bytes are UTF-8 or UTF-16 (by BOM, NULs or strict decoding)."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "utf_8_sig"
    if raw.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", "utf_16"
    if raw.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", "utf_16"
    utf16 = _utf16_without_bom(raw)
    if utf16 is not None:
        return utf16, utf16.replace("-", "_")
    return None


def decode_export_bytes(raw: bytes) -> DecodedText | None:
    """Decode a text export; None when no text encoding fits (binary junk)."""
    decoded = _decode(raw)
    return _with_cell_repair_score(decoded) if decoded is not None else None


def _with_cell_repair_score(decoded: DecodedText) -> DecodedText:
    """A low score can come from some cells holding UTF-8 read as Windows-1252 ("Nguyá»…n") in an
    otherwise sound file: normalize repairs those cells (transforms.normalize.text.repair_mojibake),
    so the file is unrecognised only when its words still do not read as Vietnamese once repaired."""
    if decoded.score >= MIN_ENCODING_SCORE:
        return decoded
    sample = pl.DataFrame({"words": [marked_words_sample(decoded.text)]}, schema={"words": pl.String})
    repaired = sample.select(repair_mojibake(pl.col("words"))).item()
    return dataclasses.replace(decoded, cell_repair_score=syllable_scores({"cells": repaired})["cells"].share)


def _decode(raw: bytes) -> DecodedText | None:
    unicode = _unicode_encoding(raw)
    if unicode is not None:
        label, codec = unicode
        try:
            return _read_unicode(raw.decode(codec), label)
        except UnicodeDecodeError:
            if label.startswith("utf-16"):
                return None  # NULs every other byte that are not UTF-16: binary
            without_bom = raw.removeprefix(codecs.BOM_UTF8)
            return None if _looks_binary(without_bom) else _read_single_byte(without_bom)
    if _looks_binary(raw):
        return None
    if raw.isascii() and not _has_letter_controls(raw):
        return DecodedText(raw.decode("ascii"), "ascii", None)
    try:
        text = raw.decode("utf_8")
    except UnicodeDecodeError:
        return _read_single_byte(raw)
    as_utf8 = _read_unicode(text, "utf-8")
    if as_utf8.score >= MIN_ENCODING_SCORE and not _has_letter_controls(raw):
        return as_utf8
    # Valid UTF-8 that does not read as Vietnamese, or holds control bytes VISCII, VPS or VN1 use as
    # letters: a single-byte text can happen to be valid UTF-8 too.
    single_byte = _read_single_byte(raw)
    tried = as_utf8.candidates + tuple(item for item in single_byte.candidates if item[0] != "utf-8")
    best = single_byte if single_byte.score > as_utf8.score + REPAIR_MARGIN else as_utf8
    return dataclasses.replace(best, candidates=tried)


def _has_letter_controls(raw: bytes) -> bool:
    """Control bytes that VISCII, VPS or VN1 use as letters."""
    return holds_any(raw, LETTER_CONTROL_BYTES)


def _looks_binary(raw: bytes) -> bool:
    """More than MAX_JUNK_CONTROL_SHARE of the first megabyte (and more than two bytes) are control
    bytes no text encoding uses."""
    head = raw[:BINARY_CHECK_BYTES]
    junk = len(head.translate(None, all_bytes_but(JUNK_CONTROL_BYTES)))
    return junk > max(MAX_JUNK_CONTROL_SHARE * len(head), MAX_STRAY_CONTROLS)


def decode_export_bytes_many(raws: list[bytes]) -> list[DecodedText | None]:
    """decode_export_bytes for several files, the same answers, the usual files scored in one query for
    all: ASCII, sound Vietnamese in UTF-8 or UTF-16 (nothing to repair), and single-byte files (every
    candidate reading of every file at once). The others are decoded one by one."""
    plain = {index: found for index, raw in enumerate(raws) if (found := _plain_unicode(raw)) is not None}
    single_byte = [index for index, raw in enumerate(raws) if index not in plain and _only_single_byte(raw)]
    unicode_texts = {index: text for index, (label, text) in plain.items() if label != "ascii"}
    samples = marked_words_samples(list(unicode_texts.values())) if unicode_texts else []
    readings = {f"{index}": sample for index, sample in zip(unicode_texts, samples, strict=True)}
    single_byte_readings = dict(
        zip(single_byte, _single_byte_readings_many([raws[index] for index in single_byte]), strict=True)
    )
    for index, by_encoding in single_byte_readings.items():
        readings |= {f"{index}\t{encoding}": reading for encoding, reading in by_encoding.items()}
    scores = syllable_scores(readings) if readings else {}
    decoded: dict[int, DecodedText | None] = {}
    for index, (label, text) in plain.items():
        score = scores.get(f"{index}")
        if score is None:  # ASCII: nothing to judge
            decoded[index] = DecodedText(text, label, None)
        elif score.share >= 1 - REPAIR_MARGIN:  # as _read_unicode: nothing can beat it
            candidates = ((label, round(score.share, 4)),)
            decoded[index] = DecodedText(text, label, None, score.share, score.words, candidates)
    for index, by_encoding in single_byte_readings.items():
        file_scores = {encoding: scores[f"{index}\t{encoding}"] for encoding in by_encoding}
        chosen = _best_reading(file_scores)
        decoded[index] = _with_cell_repair_score(_single_byte_text(raws[index], chosen, file_scores))
    return [
        decoded[index] if index in decoded else decode_export_bytes(raw) for index, raw in enumerate(raws)
    ]


def _plain_unicode(raw: bytes) -> tuple[str, str] | None:
    """(encoding, text) when `_decode` reads the bytes as ASCII, or as Unicode (a BOM, UTF-16's NULs,
    valid UTF-8) that it keeps as it is when the text reads as Vietnamese; None for every other path."""
    unicode = _unicode_encoding(raw)
    if unicode is not None:
        label, codec = unicode
        try:
            return label, raw.decode(codec)
        except UnicodeDecodeError:
            return None
    if _looks_binary(raw) or _has_letter_controls(raw):
        return None
    if raw.isascii():
        return "ascii", raw.decode("ascii")
    try:
        return "utf-8", raw.decode("utf_8")
    except UnicodeDecodeError:
        return None


def _only_single_byte(raw: bytes) -> bool:
    """Whether `_decode` reads the bytes with the single-byte candidates alone: no BOM, no UTF-16, not
    binary, and not UTF-8."""
    if _unicode_encoding(raw) is not None or _looks_binary(raw):
        return False
    try:
        raw.decode("utf_8")
    except UnicodeDecodeError:
        return True
    return False
