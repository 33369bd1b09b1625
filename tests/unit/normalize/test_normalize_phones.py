"""Phone rules: country code, lost 0, the 2018 renumbering, mobile vs landline."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.normalize.phones import MOBILE, NORMALISED_PHONE, with_phones
from transforms.normalize.reference import NormalizeReference


def normalized_phones(raws: list[str | None], reference: NormalizeReference) -> list[tuple[str | None, str]]:
    frame = pl.LazyFrame({"raw_phone": raws}, schema={"raw_phone": pl.String})
    result = with_phones(frame, reference.phone_prefixes).collect()
    return list(zip(result["phone_number"].to_list(), result["phone_kind"].to_list(), strict=True))


@pytest.mark.parametrize(
    ("raw", "number", "kind"),
    [
        ("0912345678", "0912345678", "mobile"),
        ("0912.345.678", "0912345678", "mobile"),
        ("0389-473-115", "0389473115", "mobile"),
        ("+84 912 345 678", "0912345678", "mobile"),
        ("84912345678", "0912345678", "mobile"),
        ("0084912345678", "0912345678", "mobile"),
        ("+84323-565-751", "0323565751", "mobile"),
        ("912345678", "0912345678", "mobile"),  # leading 0 lost
        ("01214153716", "0794153716", "mobile"),  # MobiFone 0121 -> 079
        ("01639.715.103", "0339715103", "mobile"),  # Viettel 0163 -> 033
        ("841688835287", "0388835287", "mobile"),  # 84 + old 11-digit number without its 0
        ("+841270438663", "0810438663", "mobile"),  # VinaPhone 0127 -> 081
        ("1997654321", "0597654321", "mobile"),  # Gmobile 0199 -> 059, 0 lost
        ("024 3825 1234", "02438251234", "landline"),
        ("(028) 3829 1234", "02838291234", "landline"),
        ("2438251234", "02438251234", "landline"),
        ("+1 408 51134567", None, "invalid"),  # another country
        ("+33 6 53587330", None, "invalid"),
        ("0123", None, "invalid"),
        ("0112345678", None, "invalid"),  # no such mobile range
        ("", None, "missing"),
        ("không có", None, "missing"),
        (None, None, "missing"),
    ],
)
def test_phone_normalization(
    raw: str | None, number: str | None, kind: str, reference: NormalizeReference
) -> None:
    assert normalized_phones([raw], reference) == [(number, kind)]


def test_every_2018_prefix_converts_to_a_current_mobile(reference: NormalizeReference) -> None:
    prefixes = reference.phone_prefixes
    assert prefixes.height == 21
    old_numbers = [f"{old}4567890" for old in prefixes["old_prefix"]]
    converted = normalized_phones(old_numbers, reference)
    expected = [(f"{new}4567890", "mobile") for new in prefixes["new_prefix"]]
    assert converted == expected
    assert all(pl.Series([number for number, _ in converted]).str.contains(MOBILE))


def test_no_old_number_is_taken_for_a_number_already_normalised(reference: NormalizeReference) -> None:
    """Numbers in their normalised form skip the phone rules: sound only while no old 11-digit number
    (an old prefix and 7 digits) reads as one, which a new row in the prefix table could break."""
    old_numbers = pl.Series([f"{old}4567890" for old in reference.phone_prefixes["old_prefix"]])
    assert not old_numbers.str.contains(NORMALISED_PHONE).any()
    assert normalized_phones(["0912345678", "02438251234", None], reference) == [
        ("0912345678", "mobile"),
        ("02438251234", "landline"),
        (None, "missing"),
    ]
