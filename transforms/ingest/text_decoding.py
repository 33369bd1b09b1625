"""Bytes of a text export -> Unicode text, with the encoding found and any repair done.

1. charset-normalizer detects the byte encoding (UTF-8 with or without BOM, UTF-16 LE/BE with BOM,
   Windows-1258, ...) on the first 2 MB; the whole file is then decoded with it (or judged whole
   when the rest does not decode). Non-ASCII bytes that decode strictly as UTF-8 are UTF-8.
2. A Unicode text is repaired when the whole of it is UTF-8 once read as Windows-1252 ("Nguyá»…n",
   with ftfy: the plan found on a sample is applied to the whole text at once), or when it is
   TCVN3/VNI legacy font text (see legacy_fonts).
3. A single-byte file has several readings: the detected code page, Windows-1258 (charset-normalizer
   can confuse it with other Latin code pages) and the TCVN3/VNI conversions of its Latin-1 reading
   (the surface viparse's tables expect); legacy_fonts.choose_reading picks one. Windows-1258 spells
   tones as combining marks, so its reading is NFC-normalised. charset-normalizer finds no encoding
   in some TCVN3 files: bytes without control characters still get the legacy readings; otherwise
   the file is binary junk.
"""

from __future__ import annotations

import codecs
import contextlib
import unicodedata
from dataclasses import dataclass
from functools import cache

import charset_normalizer
import ftfy
import polars as pl
from ftfy.chardata import CHARMAP_ENCODINGS, ENCODING_REGEXES

from transforms.ingest.legacy_fonts import (
    DETECTION_SAMPLE_CHARS,
    LEGACY_CHARMAPS,
    TONE_MARK,
    Reading,
    choose_reading,
    convert_legacy_text,
    detect_legacy_font,
    vietnamese_letters,
)

DETECTION_PREFIX_BYTES = 2_000_000  # charset-normalizer tries many code pages: judge on a prefix
UNICODE_ENCODINGS = ("utf_8", "utf_16", "utf_32", "ascii")
# Encodings whose mojibake ftfy may undo here: the Windows-1252 family, the one in the contract.
CP1252_FAMILY = ("sloppy-windows-1252", "windows-1252", "latin-1", "iso-8859-1")
UTF8_AS_CP1252 = "utf8_as_cp1252"


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # what the bytes are: utf-8, utf-8-sig, utf-16-le, windows-1258, tcvn3, vni, ...
    repair: str | None  # None | tcvn3 | vni | utf8_as_cp1252


def encoding_label(codec: str) -> str:
    """A codec's common name for the ledger: utf_8 -> utf-8, cp1258 -> windows-1258."""
    name = codecs.lookup(codec).name
    return f"windows-{name[2:]}" if name.startswith("cp125") else name


def _bom_encoding(raw: bytes, detected: str) -> str:
    """Name the exact codec when a byte-order mark settles it, for the ledger."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf_8_sig"
    if detected.startswith("utf_16"):
        if raw.startswith(b"\xff\xfe"):
            return "utf_16_le"
        if raw.startswith(b"\xfe\xff"):
            return "utf_16_be"
    return detected


def _is_single_byte(encoding: str) -> bool:
    return not encoding.startswith(UNICODE_ENCODINGS)


@cache
def _in_some_single_byte_charset(char: str) -> bool:
    """Whether ftfy could read this character as a byte of one of the single-byte encodings it tries."""
    return any(ENCODING_REGEXES[encoding].match(char) for encoding in CHARMAP_ENCODINGS)


def _cannot_be_mojibake(sample: str) -> bool:
    """A character no single-byte encoding of ftfy's has ("ễ", "ơ") survives every ftfy fix (they only
    rewrite runs of such bytes' characters), so ftfy's plan for this text can never hold an `encode`
    step: nothing to repair, and ftfy (tens of milliseconds on a sample) need not run."""
    return not all(_in_some_single_byte_charset(char) for char in set(sample))


def repair_utf8_as_cp1252(text: str) -> str | None:
    """The repaired text when the whole text is UTF-8 mis-read as Windows-1252, else None."""
    sample = text[:DETECTION_SAMPLE_CHARS].rsplit("\n", 1)[0]  # never cut a mis-read sequence in half
    if _cannot_be_mojibake(sample):
        return None
    plan = [(step, argument) for step, argument in ftfy.fix_encoding_and_explain(sample).explanation or []]
    encodes = [argument for step, argument in plan if step == "encode"]
    if not encodes or any(codec not in CP1252_FAMILY for codec in encodes):
        return None
    try:
        return ftfy.apply_plan(text, plan)
    except (UnicodeError, ValueError):
        fixed = ftfy.fix_encoding(text)  # the sample's plan does not fit all of it: let ftfy work it out
        return fixed if fixed != text else None


def repair_text(text: str) -> tuple[str, str | None]:
    """Undo a whole-text mis-decoding: UTF-8 read as cp1252, or a legacy Vietnamese font."""
    repaired = repair_utf8_as_cp1252(text)
    if repaired is not None:
        return repaired, UTF8_AS_CP1252
    legacy = detect_legacy_font(text)
    if legacy is not None:
        return convert_legacy_text(text, legacy), legacy
    return text, None


def _detection_prefix(raw: bytes) -> bytes:
    """The first DETECTION_PREFIX_BYTES, cut after a line end (and at an even length for UTF-16)."""
    if len(raw) <= DETECTION_PREFIX_BYTES:
        return raw
    prefix = raw[:DETECTION_PREFIX_BYTES]
    cut = prefix.rfind(b"\n") + 1 or len(prefix)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and cut % 2:
        cut += 1
    return prefix[:cut]


def _strict_utf8(raw: bytes) -> str | None:
    if b"\x00" in raw or raw.isascii():
        return None
    try:
        return raw.decode("utf_8")
    except UnicodeDecodeError:
        return None


def _detect_and_decode(raw: bytes) -> tuple[str, str] | None:
    """(charset-normalizer's encoding, text). Detected on a prefix, then the whole file is decoded
    with it; if the rest does not decode, charset-normalizer judges the whole file instead.

    charset-normalizer can prefer a Latin code page for valid UTF-8 full of symbols (TCVN3 text
    saved as UTF-8 is exactly that); non-ASCII bytes that decode strictly as UTF-8 are UTF-8, so
    for them charset-normalizer (milliseconds per file) is not asked at all."""
    if (utf8_text := _strict_utf8(raw)) is not None:
        return "utf_8", utf8_text
    best = charset_normalizer.from_bytes(_detection_prefix(raw)).best()
    if best is not None:
        try:
            codec = "utf_8_sig" if best.encoding == "utf_8" and best.bom else best.encoding
            return best.encoding, raw.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    whole = charset_normalizer.from_bytes(raw).best()
    return (whole.encoding, str(whole)) if whole is not None else None


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
    millions of them is slow: the tones are composed with one polars replace_many first, and full
    NFC only runs when something is left to normalise."""
    compositions = _tone_compositions()
    composed = pl.Series([text]).str.replace_many(list(compositions), list(compositions.values())).item()
    return composed if unicodedata.is_normalized("NFC", composed) else unicodedata.normalize("NFC", composed)


def _has_binary_bytes(raw: bytes) -> bool:
    """Control bytes other than tab, line feed, form feed and carriage return: not text."""
    return any(byte < 0x20 and byte not in b"\t\n\x0c\r" for byte in raw[:DETECTION_PREFIX_BYTES])


def _decode_single_byte(raw: bytes, detected: tuple[str, str] | None) -> DecodedText | None:
    """A single-byte file: the detected code page, Windows-1258, TCVN3 or VNI, whichever reads most
    like Vietnamese (legacy_fonts.choose_reading), judged on the detection prefix; only the chosen
    reading is then applied to the whole file. charset-normalizer finds no encoding in some TCVN3
    files (their bytes look chaotic to it): without control bytes, only the legacy readings compete."""
    sample = _detection_prefix(raw)
    codecs_by_label = {}
    readings = []
    if detected is not None:
        detected_codecs = [detected[0]] if detected[0] == "cp1258" else [detected[0], "cp1258"]
        for codec in detected_codecs:
            with contextlib.suppress(UnicodeDecodeError):  # a few bytes are undefined in Windows-1258
                readings.append(Reading(encoding_label(codec), sample.decode(codec)))
                codecs_by_label[encoding_label(codec)] = codec
    elif _has_binary_bytes(raw):
        return None
    readings += [Reading(legacy, sample.decode("latin_1"), legacy) for legacy in LEGACY_CHARMAPS]
    chosen = choose_reading(readings)
    if chosen is None:
        return None
    if chosen.legacy is not None:
        return DecodedText(
            convert_legacy_text(raw.decode("latin_1"), chosen.legacy), chosen.encoding, chosen.legacy
        )
    codec = codecs_by_label[chosen.encoding]
    reused = detected is not None and codec == detected[0]
    text = detected[1] if detected is not None and reused else raw.decode(codec, errors="replace")
    return DecodedText(compose_nfc(text), chosen.encoding, None)


def decode_export_bytes(raw: bytes) -> DecodedText | None:
    """Decode a text export; None when no text encoding fits (binary junk)."""
    detected = _detect_and_decode(raw)
    if detected is not None and not _is_single_byte(_bom_encoding(raw, detected[0])):
        repaired, repair = repair_text(detected[1].removeprefix("\ufeff"))
        return DecodedText(repaired, encoding_label(_bom_encoding(raw, detected[0])), repair)
    return _decode_single_byte(raw, detected)
