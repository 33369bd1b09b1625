"""Text rules shared by every column: Unicode clean-up, mojibake repair, spacing and the folded key."""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Final

import polars as pl

# Look-alike letters typed for Đ/đ: Icelandic eth (U+00D0/U+00F0) and African D (U+0189/U+0256).
LOOK_ALIKES: dict[str, str] = {"\u00d0": "Đ", "\u00f0": "đ", "\u0189": "Đ", "\u0256": "đ"}
# Invisible or odd spaces left by copy-paste from web forms and Word.
# The eager lookups over distinct values (addresses, names) run on the in-memory engine: under load the
# streaming engine panicked in a string function on them (polars 2.1, `i < self.len()`), killing nights.
EAGER_ENGINE: Final = "in-memory"
ODD_SPACES = r"[\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff\t\r\n]"
# Placeholders a facility types for "none" or "unknown", folded (lowercase ASCII, no diacritics: "chưa
# có", "CHUA CO" and an NFD "chưa có" all fold to "chua co"). The one list for every field: an ID, a phone,
# a name, a date or a vaccine cell holding one of these is empty, never a value.
PLACEHOLDERS: tuple[str, ...] = (
    "x", "n/a", "na", "n.a", "none", "null", "nan", "nil", "k", "kco", "k/c", "kcc", "ko",
    "khong", "khong co", "chua co", "chua cap", "chua co so", "khong ro", "chua ro", "kxd",
    "khong xac dinh", "chua xac dinh", "khong biet", "chua cap nhat", "chua biet",
)  # fmt: skip
# Cells of symbols only: "-", "--", "...", "___", "?", "0", "000", "xxx", "/".
SYMBOLS_ONLY = r"^(?:[-_.?/ ]*|0+|x+)$"
# Brackets and a final full stop around a placeholder: "(không có)", "Chưa có.".
PLACEHOLDER_WRAPPING = " ()[]."
# A folded cell that is SYMBOLS_ONLY, or a placeholder (or nothing) in brackets and stops: one regex,
# the same as stripping PLACEHOLDER_WRAPPING and looking the rest up (no placeholder starts or ends
# with a wrapping character).
_WRAPPING_CLASS = "[" + "".join(f"\\{char}" if char in "[]" else char for char in PLACEHOLDER_WRAPPING) + "]"
PLACEHOLDER_KEY = (
    f"(?:{SYMBOLS_ONLY})"
    f"|(?:^{_WRAPPING_CLASS}*(?:{'|'.join(pl.escape_regex(word) for word in PLACEHOLDERS)})?{_WRAPPING_CLASS}*$)"
)
MAX_PLACEHOLDER_CHARS = 24  # "(không xác định)" is 16

_VIETNAMESE_BASES = "aăâeêioôơuưy"
_TONE_MARKS = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_COMBINING_MARKS = "\u0300\u0301\u0302\u0303\u0306\u0309\u031b\u0323"


def vietnamese_letters() -> list[str]:
    """Every precomposed Vietnamese letter (both cases), plus đ/Đ and the bare combining marks."""
    letters = {"đ", "Đ", *_COMBINING_MARKS}
    for base in _VIETNAMESE_BASES:
        for tone in _TONE_MARKS:
            composed = unicodedata.normalize("NFC", base + tone)
            letters.update({composed, composed.upper()})
    return sorted(letters)


def _read_utf8_as_cp1252(text: str) -> str:
    """What a reader shows for UTF-8 bytes decoded as Windows-1252 (undefined bytes pass as Latin-1)."""
    out = []
    for byte in text.encode("utf-8"):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


@cache
def mojibake_table() -> dict[str, str]:
    """Mojibake sequence -> the letter it garbles, for UTF-8 read as cp1252 or Latin-1 ("Nguyá»…n")."""
    table: dict[str, str] = {}
    for letter in vietnamese_letters():
        for garbled in (_read_utf8_as_cp1252(letter), letter.encode("utf-8").decode("latin-1")):
            if garbled != letter:
                table[garbled] = letter
    return table


def repair_mojibake(text: pl.Expr) -> pl.Expr:
    """Undo UTF-8 read as cp1252: every garbled letter is a fixed 2-3 character sequence."""
    table = mojibake_table()
    return text.str.replace_many(list(table), list(table.values()), leftmost=True)


def clean_unicode(text: pl.Expr) -> pl.Expr:
    """NFC, look-alike letters replaced, odd spaces made plain, spacing collapsed."""
    composed = text.str.normalize("NFC").str.replace_many(list(LOOK_ALIKES), list(LOOK_ALIKES.values()))
    return collapse_spaces(composed.str.replace_all(ODD_SPACES, " "))


def collapse_spaces(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(r" {2,}", " ").str.strip_chars()


@cache
def ascii_fold_table() -> dict[str, str]:
    """Latin letter with diacritics -> its ASCII base letter (the NFD base), đ/Đ -> d/D."""
    table = {"đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "Ɖ": "D", "ɖ": "d"}
    for code_point in [*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)]:
        letter = chr(code_point)
        base = unicodedata.normalize("NFD", letter)[0]
        if base != letter and base.isascii() and base.isalpha():
            table[letter] = base
    return table


def fold(text: pl.Expr) -> pl.Expr:
    """Lowercase ASCII without diacritics, spacing kept. Equivalent to NFD + dropping combining marks
    + đ -> d, but as one table lookup (Unicode normalisation is the slow part on millions of rows);
    decomposed input loses its combining marks the same way."""
    table = ascii_fold_table()
    return (
        text.str.replace_many(list(table), list(table.values()))
        .str.replace_all("[\u0300-\u036f]", "")
        .str.to_lowercase()
    )


def fold_key(text: pl.Expr) -> pl.Expr:
    """The folded text reduced to letters and digits in single-spaced words."""
    return collapse_spaces(fold(text).str.replace_all(r"['’ʼ`]", "").str.replace_all(r"[^a-z0-9]+", " "))


def is_placeholder(text: pl.Expr) -> pl.Expr:
    """Whether a cell is blank or a placeholder meaning 'none' (PLACEHOLDERS, SYMBOLS_ONLY); false for null.

    Only short cells without a digit other than 0 can be one: the others (IDs, phones: most cells) are
    left null before the costly fold, so it runs on a few cells per million."""
    trimmed = text.str.strip_chars()
    could_be = (trimmed.str.len_chars() <= MAX_PLACEHOLDER_CHARS) & ~trimmed.str.contains_any(
        list("123456789")
    )
    key = fold(pl.when(could_be).then(trimmed)).str.replace_all(r"\s+", " ")
    is_one = key.str.contains(PLACEHOLDER_KEY)  # the key once: each use of it would fold again
    return pl.when(trimmed.is_null()).then(None).otherwise(is_one.fill_null(False))


def blank_to_null(text: pl.Expr) -> pl.Expr:
    """Trimmed text, null when empty or a placeholder meaning 'none' ("-", "chưa có", "KXĐ", "0")."""
    trimmed = text.str.strip_chars()
    return pl.when(trimmed.is_null() | is_placeholder(trimmed)).then(None).otherwise(trimmed)
