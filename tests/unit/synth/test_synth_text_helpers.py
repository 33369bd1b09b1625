"""The small text rules the generator spoils names, IDs and places with."""

from __future__ import annotations

import polars as pl
import pytest

from synth.admin import province_folder_name
from synth.config import SynthConfig
from synth.names import new_tone_style, swap_tone, telex_keys, vni_keys
from synth.render_contact import grouped, scientific
from synth.text import fold_diacritics, misspell


@pytest.mark.parametrize(
    ("word", "telex", "vni"),
    [
        ("Nguyễn", "Nguyeenx", "Nguye64n"),
        ("Trần", "Traanf", "Tra62n"),
        ("Đức", "DDuwcs", "D9u71c"),
        ("Hương", "Huwowng", "Hu7o7ng"),
        ("An", "An", "An"),
    ],
)
def test_keystrokes_left_in(word: str, telex: str, vni: str) -> None:
    assert telex_keys(word) == telex
    assert vni_keys(word) == vni


@pytest.mark.parametrize(
    ("old", "new"),
    [("Hòa", "Hoà"), ("Thủy", "Thuỷ"), ("Thúy", "Thuý"), ("Quý", "Qúy"), ("Hoàng", "Hoàng"), ("Lan", "Lan")],
)
def test_new_tone_placement(old: str, new: str) -> None:
    assert new_tone_style(old) == new


@pytest.mark.parametrize(("word", "slipped"), [("Hàng", "Háng"), ("Nguyễn", "Nguyện"), ("An", "Án")])
def test_tone_slip(word: str, slipped: str) -> None:
    assert swap_tone(word) == slipped


@pytest.mark.parametrize(
    ("cccd", "shown"),
    [
        ("079182132426", "7.91821E+10"),
        ("001076284656", "1.07628E+09"),
        ("038199999999", "3.82E+10"),
        ("010000000000", "1E+10"),
    ],
)
def test_scientific_notation_as_excel_shows_it(cccd: str, shown: str) -> None:
    assert pl.select(scientific(pl.lit(cccd))).item() == shown


@pytest.mark.parametrize(
    ("style", "shown"),
    [(0, "079 182 132 426"), (1, "079.182.132.426"), (2, " 079182132426 "), (3, "079-182-132-426")],
)
def test_grouped_ids(style: int, shown: str) -> None:
    assert pl.select(grouped(pl.lit("079182132426"), pl.lit(style))).item() == shown


@pytest.mark.parametrize(
    ("text", "folded", "misspelled"),
    [
        ("Phường Bến Nghé", "Phuong Ben Nghe", "Phướng Bến Nghé"),
        ("Hàng Bạc", "Hang Bac", "Háng Bạc"),
        ("Ea Pô", "Ea Po", "Eá Pô"),
    ],
)
def test_fold_and_misspell(text: str, folded: str, misspelled: str) -> None:
    assert pl.select(fold_diacritics(pl.lit(text))).item() == folded
    assert pl.select(misspell(pl.lit(text))).item() == misspelled


@pytest.mark.parametrize(
    ("code", "name", "folder"),
    [
        ("79", "Thành phố Hồ Chí Minh", "79_Ho_Chi_Minh"),
        ("77", "Tỉnh Bà Rịa - Vũng Tàu", "77_Ba_Ria___Vung_Tau"),
        ("66", "Tỉnh Đắk Lắk", "66_Dak_Lak"),
    ],
)
def test_province_folders(code: str, name: str, folder: str) -> None:
    assert province_folder_name(code, name) == folder


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rates": {"name_typoo": 0.1}}, "unknown defect"),
        ({"rates": {"name_typo": 1.5}}, "within"),
        ({"format_shares": {"pdf": 0.1}}, "unknown file format"),
        ({"citizens": 10}, "at least 100"),
    ],
)
def test_config_rejects_bad_settings(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SynthConfig(**overrides)  # type: ignore[arg-type]
