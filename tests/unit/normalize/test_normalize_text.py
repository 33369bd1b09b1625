"""Shared text rules: folding, mojibake repair, placeholders."""

from __future__ import annotations

import pytest
from normalize_builders import apply_rule

from transforms.normalize.text import blank_to_null, clean_unicode, fold, fold_key, repair_mojibake


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Nguyễn Đức Trực", "nguyen duc truc"),
        ("Nguye\u0302\u0303n", "nguyen"),  # NFD input
        ("\u00d0ÀO THỊ HƯƠNG", "dao thi huong"),  # Icelandic eth typed for Đ
        ("Hòa", "hoa"),
        ("Hoà", "hoa"),
        ("Thành phố Hồ Chí Minh", "thanh pho ho chi minh"),
        (None, None),
    ],
)
def test_fold_drops_diacritics(text: str | None, folded: str | None) -> None:
    assert apply_rule(fold, [text]) == [folded]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("  Lê   Thị  Hồng-Nhung ", "le thi hong nhung"),
        ("H'Hen Niê", "hhen nie"),
        ("Tp. Hồ Chí Minh", "tp ho chi minh"),
    ],
)
def test_fold_key_keeps_letters_and_digits_in_single_spaced_words(text: str, key: str) -> None:
    assert apply_rule(fold_key, [text]) == [key]


@pytest.mark.parametrize(
    ("garbled", "repaired"),
    [
        ("Nguyá»…n Thá»‹ Lan", "Nguyễn Thị Lan"),
        ("Ä\x90á»— VÄƒn HÃ¹ng", "Đỗ Văn Hùng"),
        ("Tráº§n Thá»‹ Thu HÆ°Æ¡ng", "Trần Thị Thu Hương"),
        ("Pháº¡m Ä\x90á»©c Tháº¯ng", "Phạm Đức Thắng"),
        ("Nguyễn Thị Lan", "Nguyễn Thị Lan"),  # clean text is left alone
    ],
)
def test_repair_mojibake_undoes_utf8_read_as_cp1252(garbled: str, repaired: str) -> None:
    assert apply_rule(repair_mojibake, [garbled]) == [repaired]


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("Nguye\u0302\u0303n  Va\u0306n\u00a0An", "Nguyễn Văn An"),
        ("\u00d0ặng Văn Hậu", "Đặng Văn Hậu"),
        ("\ufeffLê Lan\t", "Lê Lan"),
    ],
)
def test_clean_unicode_composes_and_fixes_look_alikes(text: str, cleaned: str) -> None:
    assert apply_rule(clean_unicode, [text]) == [cleaned]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("chưa có", None),
        ("Chưa có", None),
        ("chu\u031ba co\u0301", None),  # "chưa có" typed in NFD
        ("Không có", None),
        ("KHÔNG", None),
        ("-", None),
        ("0", None),
        ("000", None),
        ("   ", None),
        ("N/A", None),
        ("0912345678", "0912345678"),
        (" Nguyễn ", "Nguyễn"),
    ],
)
def test_blank_to_null_recognises_placeholders(text: str, kept: str | None) -> None:
    assert apply_rule(blank_to_null, [text]) == [kept]
