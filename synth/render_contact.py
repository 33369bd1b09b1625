"""Identity and contact columns: ID number, phone and address, each with the ways they go wrong."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth.catalogues import (
    FOREIGN_PHONE_PATTERNS,
    ID_PLACEHOLDERS,
    LANDLINE_AREA_CODES,
    PASSPORT_PATTERNS,
)
from synth.render_text import NON_ASCII, age_at_vaccination, lookup, pick
from synth.spoil import Spoiler, hashed_digits, stable_hash
from synth.text import fold_diacritics

OLD_MOBILE_PREFIX = {
    **{f"03{d}": f"016{d}" for d in range(2, 10)},
    "070": "0120", "079": "0121", "077": "0122", "076": "0126", "078": "0128",
    "083": "0123", "084": "0124", "085": "0125", "081": "0127", "082": "0129",
    "056": "0186", "058": "0188", "059": "0199",
}  # fmt: skip

UNIT_TYPE_FULL = {
    "thành phố": "Thành phố", "tỉnh": "Tỉnh", "quận": "Quận", "huyện": "Huyện", "thị xã": "Thị xã",
    "phường": "Phường", "xã": "Xã", "thị trấn": "Thị trấn",
}  # fmt: skip
# Four ways to abbreviate each unit type; "F" (phường) is HCMC usage before a ward number only.
UNIT_TYPE_ABBREVIATIONS = {
    "thành phố": ("TP.", "TP. ", "Tp.", "TP "),
    "tỉnh": ("T.", "Tỉnh ", "", "T. "),
    "quận": ("Q.", "Q. ", "Q", "Q."),
    "huyện": ("H.", "H. ", "H.", "Huyện "),
    "thị xã": ("TX.", "TX. ", "Tx.", "TX "),
    "phường": ("P.", "P. ", "P", "F"),
    "xã": ("X.", "X. ", "X.", "Xã "),
    "thị trấn": ("TT.", "TT. ", "TT ", "Tt."),
}
PROVINCE_SHORT_NAMES = {
    "79": ("TP.HCM", "TP HCM", "HCM", "Tp. Hồ Chí Minh"),
    "01": ("HN", "TP. Hà Nội", "Hà Nội", "TP Hà Nội"),
    "77": ("BR-VT", "Bà Rịa - Vũng Tàu", "BRVT", "T. Bà Rịa - Vũng Tàu"),
    "46": ("TT Huế", "Thừa Thiên Huế", "T. Thừa Thiên Huế", "Huế"),
    "48": ("Tp. Đà Nẵng", "Đà Nẵng", "TP Đà Nẵng", "ĐN"),
    "66": ("Đăk Lăk", "Daklak", "Đắk Lắk", "T. Đắk Lắk"),
}

# ---------------------------------------------------------------- person-level constants


def add_person_constants(sp: Spoiler) -> None:
    """Numbers a person keeps on every row (passport, BHYT card, landline, foreign phone)."""
    person = sp.work["person_ref"].to_numpy()
    choice = lambda salt, size: (stable_hash(person, salt) % np.uint64(size)).astype(np.int64)  # noqa: E731
    sp.work = sp.work.with_columns(
        hashed_digits(person, 7, 9).alias("person_digits"),
        hashed_digits(person, 11, 10).alias("person_si_number"),
        pl.Series("passport_pattern", choice(5, len(PASSPORT_PATTERNS))),
        pl.Series("landline_area", choice(13, len(LANDLINE_AREA_CODES))),
        pl.Series("foreign_phone_pattern", choice(19, len(FOREIGN_PHONE_PATTERNS))),
        pl.Series("is_foreign_phone_shown", choice(29, 1000) < int(1000 * sp.config.rate("phone_foreign"))),
    )


def _bhyt_number(adult_group: pl.Expr) -> pl.Expr:
    """A 15-character health-insurance card: group, benefit level, province, 10-digit SI number."""
    age = age_at_vaccination()
    group = (
        pl.when(age < 6)
        .then(pl.lit("TE"))
        .when(age < 18)
        .then(pl.lit("HS"))
        .when(age >= 60)
        .then(pl.lit("HT"))
        .otherwise(adult_group)
    )
    level = pl.when(group.is_in(["TE", "HT"])).then(pl.lit("1")).otherwise(pl.lit("4"))
    return group + level + pl.col("home_province_code") + pl.col("person_si_number")


def _passport() -> pl.Expr:
    text = pl.lit(None, pl.String)
    for index, pattern in enumerate(PASSPORT_PATTERNS):
        prefix, _, count = pattern.partition("{D")
        digits = pl.col("person_digits").str.slice(0, int(count.rstrip("}")))
        text = pl.when(pl.col("passport_pattern") == index).then(pl.lit(prefix) + digits).otherwise(text)
    return text


# ---------------------------------------------------------------- IDs


def scientific(value: pl.Expr) -> pl.Expr:
    """How Excel's General format shows a long number: 79182132426 -> 7.91821E+10."""
    digits = value.str.strip_chars_start("0")
    exponent = digits.str.len_chars() - 1
    mantissa = (
        (digits.cast(pl.Float64, strict=False) / pl.lit(10.0).pow(exponent - 5)).round(0).cast(pl.Int64)
    )
    carry = mantissa >= 1_000_000
    mantissa_text = pl.when(carry).then(mantissa // 10).otherwise(mantissa).cast(pl.String)
    exponent = pl.when(carry).then(exponent + 1).otherwise(exponent)
    decimals = mantissa_text.str.slice(1).str.strip_chars_end("0")
    point = pl.when(decimals != "").then(pl.lit(".") + decimals).otherwise(pl.lit(""))
    return pl.concat_str(
        [mantissa_text.str.slice(0, 1), point, pl.lit("E+"), exponent.cast(pl.String).str.zfill(2)]
    )


def grouped(value: pl.Expr, style: pl.Expr) -> pl.Expr:
    """079182132426 -> '079 182 132 426', '079.182.132.426', ' 079182132426 ', '079-182-132-426'."""
    groups = pl.concat_str([value.str.slice(i, 3) for i in range(0, 12, 3)], separator="|").str.strip_chars(
        "|"
    )
    return (
        pl.when(style == 0)
        .then(groups.str.replace_all("|", " ", literal=True))
        .when(style == 1)
        .then(groups.str.replace_all("|", ".", literal=True))
        .when(style == 2)
        .then(" " + value + " ")
        .otherwise(groups.str.replace_all("|", "-", literal=True))
    )


def _digit_typo(value: pl.Expr, position: pl.Expr, step: pl.Expr) -> pl.Expr:
    digit = value.str.slice(position, 1).cast(pl.Int32, strict=False)
    return (
        value.str.slice(0, position) + ((digit + step) % 10).cast(pl.String) + value.str.slice(position + 1)
    )


def _transposed(value: pl.Expr, position: pl.Expr) -> pl.Expr:
    pair = value.str.slice(position + 1, 1) + value.str.slice(position, 1)
    return value.str.slice(0, position) + pair + value.str.slice(position + 2)


def render_ids(sp: Spoiler) -> None:
    kind = pl.col("person_kind")
    sp.work = sp.work.with_columns(
        pl.when(kind == "citizen").then(pl.col("citizen_id")).otherwise(pl.lit("")).alias("out_id_number"),
        pl.when(kind == "citizen").then(pl.lit("cccd")).otherwise(pl.lit("none")).alias("id_source"),
    )
    placeholder = pick(ID_PLACEHOLDERS, sp.draw_int(len(ID_PLACEHOLDERS)))
    bhyt = _bhyt_number(pick(("DN", "HC", "GD", "HN", "CN"), sp.draw_int(5)))
    relative = pl.col("relative_id")
    sources = (
        ("id_missing", pl.lit(""), pl.lit(True), "missing"),
        ("id_placeholder", placeholder, pl.lit(True), "placeholder"),
        ("id_legacy_cmnd", pl.col("legacy_id"), pl.col("legacy_id").is_not_null(), "legacy"),
        ("id_family_member", relative, relative.is_not_null() & (relative != pl.col("citizen_id")), "family"),
        ("id_bhyt", bhyt, pl.lit(True), "bhyt"),
    )
    for tag, value, allowed, source in sources:
        hit = sp.spoil(tag, "out_id_number", value, (pl.col("id_source") == "cccd") & allowed)
        sp.work = sp.work.with_columns(
            pl.when(hit).then(pl.lit(source)).otherwise(pl.col("id_source")).alias("id_source")
        )
    # Unregistered children: blank, a placeholder, a parent's ID or a BHYT card. Foreigners: a passport.
    u, child = sp.draw(), kind == "unregistered"
    sp.force("id_placeholder", "out_id_number", placeholder, child & (u >= 0.45) & (u < 0.65))
    parent = sp.force("id_family_member", "out_id_number", relative, child & (u >= 0.65) & (u < 0.9))
    card = sp.force("id_bhyt", "out_id_number", bhyt, child & (u >= 0.9))
    sp.spoil("id_passport", "out_id_number", _passport(), kind == "foreigner")
    # An absent namesake carries their own CCCD (the registry lacks it); it is mangled like any CCCD below.
    namesake = kind == "absent_namesake"
    sp.work = sp.work.with_columns(
        pl.when(namesake).then(pl.col("own_id")).otherwise(pl.col("out_id_number")).alias("out_id_number"),
        pl.when(namesake).then(pl.lit("cccd")).otherwise(pl.col("id_source")).alias("id_source"),
    )
    sp.work = sp.work.with_columns(
        pl.when(parent)
        .then(pl.lit("family"))
        .when(card)
        .then(pl.lit("bhyt"))
        .otherwise(pl.col("id_source"))
        .alias("id_source")
    )
    _id_representation(sp)
    sp.drop_draws()


def _id_representation(sp: Spoiler) -> None:
    """How a numeric ID is mangled: Excel, separators, a typing slip (at most one per row)."""
    value = pl.col("out_id_number")
    numeric = pl.col("id_source").is_in(["cccd", "legacy", "family"]) & value.str.contains(r"^\d+$")
    length = value.str.len_chars()
    significant = value.str.strip_chars_start("0").str.len_chars()
    sp.work = sp.work.with_columns(pl.lit(False).alias("is_id_mangled"))
    text_file = pl.col("file_format") != "xlsx"
    rules = (
        ("id_leading_zeros_lost", value.str.strip_chars_start("0"), text_file & value.str.starts_with("0")),
        ("id_scientific", scientific(value), significant >= 9),
        ("id_spaces", grouped(value, sp.draw_int(4)), pl.lit(True)),
        (
            "id_typo_digit",
            _digit_typo(value, (sp.draw() * length).cast(pl.Int64), sp.draw_int(9) + 1),
            pl.lit(True),
        ),
        ("id_transposed", _transposed(value, (sp.draw() * (length - 1)).cast(pl.Int64)), pl.lit(True)),
    )
    for tag, spoiled, allowed in rules:
        hit = sp.spoil(tag, "out_id_number", spoiled, numeric & ~pl.col("is_id_mangled") & allowed)
        sp.work = sp.work.with_columns((pl.col("is_id_mangled") | hit).alias("is_id_mangled"))
    as_number = pl.col("is_ids_as_numbers") & value.str.contains(r"^0\d*$")
    sp.force("id_leading_zeros_lost", "out_id_number", value.str.strip_chars_start("0"), as_number)


# ---------------------------------------------------------------- phones


def _landline() -> pl.Expr:
    code = pick(LANDLINE_AREA_CODES, pl.col("landline_area"))
    return code + pl.lit("3") + pl.col("person_digits").str.slice(0, 10 - code.str.len_chars())


def _foreign_phone() -> pl.Expr:
    digits = pl.col("person_digits")
    text = pl.lit(None, pl.String)
    for index, pattern in enumerate(FOREIGN_PHONE_PATTERNS):
        prefix = pattern.split("{")[0]
        if "{D4} {D4}" in pattern:
            number = pl.lit(prefix) + digits.str.slice(0, 4) + " " + digits.str.slice(4, 4)
        else:
            number = pl.lit(prefix) + digits.str.slice(0, 7)
        text = pl.when(pl.col("foreign_phone_pattern") == index).then(number).otherwise(text)
    return text


def render_phones(sp: Spoiler) -> None:
    own, family, kind = pl.col("phone"), pl.col("family_phone"), pl.col("person_kind")
    sp.work = sp.work.with_columns(
        pl.when(kind == "foreigner").then(pl.lit("")).otherwise(own.fill_null("")).alias("out_phone")
    )
    sp.force(
        "phone_foreign",
        "out_phone",
        _foreign_phone(),
        (kind == "foreigner") & pl.col("is_foreign_phone_shown"),
    )
    not_foreign = kind != "foreigner"
    sp.spoil(
        "phone_borrowed_from_family", "out_phone", family, own.is_null() & family.is_not_null() & not_foreign
    )
    sp.spoil("phone_missing", "out_phone", pl.lit(""), own.is_not_null())
    same = pl.col("out_phone") == own
    sp.spoil("phone_family_member", "out_phone", family, own.is_not_null() & family.is_not_null() & same)
    value = pl.col("out_phone")
    mobile = value.str.contains(r"^0\d{9}$")
    old_prefix = lookup(value.str.slice(0, 3), OLD_MOBILE_PREFIX)
    country = pick(("+84", "84", "0084", "+84 "), sp.draw_int(4)) + value.str.slice(1)
    separator = pick((".", " ", "-"), sp.draw_int(3))
    separated = pl.concat_str(
        [value.str.slice(0, 4), separator, value.str.slice(4, 3), separator, value.str.slice(7)]
    )
    rules = (
        ("phone_old_11digit", old_prefix + value.str.slice(3), old_prefix.is_not_null()),
        ("phone_country_code", country, pl.lit(True)),
        ("phone_leading_zero_lost", value.str.slice(1), pl.col("file_format") != "xlsx"),
        ("phone_separators", separated, pl.lit(True)),
    )
    sp.work = sp.work.with_columns(pl.lit(False).alias("is_phone_mangled"))
    for tag, spoiled, allowed in rules:
        hit = sp.spoil(tag, "out_phone", spoiled, mobile & ~pl.col("is_phone_mangled") & allowed)
        sp.work = sp.work.with_columns((pl.col("is_phone_mangled") | hit).alias("is_phone_mangled"))
    sp.spoil("phone_landline", "out_phone", _landline(), not_foreign)
    sp.force(
        "phone_leading_zero_lost",
        "out_phone",
        value.str.slice(1),
        pl.col("is_ids_as_numbers") & value.str.contains(r"^0\d+$"),
    )
    sp.drop_draws()


# ---------------------------------------------------------------- addresses


def _unit_text(prefix: str, abbreviated: pl.Expr, choice: pl.Expr, bare: pl.Expr) -> pl.Expr:
    """A unit with its type word, full ("Phường Bến Nghé") or abbreviated ("P. Bến Nghé", "F12", "Q1")."""
    unit_type = pl.col(f"{prefix}_type")
    full = lookup(unit_type, UNIT_TYPE_FULL).fill_null("")
    table = {
        f"{kind}|{i}": text
        for kind, options in UNIT_TYPE_ABBREVIATIONS.items()
        for i, text in enumerate(options)
    }
    short = lookup(unit_type + "|" + choice.cast(pl.String), table).fill_null("")
    numbered = bare.str.contains(r"^\d+$")
    hcm_ward = (pl.col("province_code_addr") == "79") & (unit_type == "phường") & numbered
    short = pl.when((short == "F") & ~hcm_ward).then(pl.lit("P.")).otherwise(short)
    glue = (
        pl.when(short.str.contains(r"[. ]$") | (short == "") | numbered)
        .then(pl.lit(""))
        .otherwise(pl.lit(" "))
    )
    number = pl.when(short == "F").then(bare.str.strip_chars_start("0")).otherwise(bare)
    abbreviated_text = short + glue + number
    full_text = pl.when(full != "").then(full + " " + bare).otherwise(bare)
    return pl.when(abbreviated).then(abbreviated_text).otherwise(full_text)


def _province_text(abbreviated: pl.Expr, choice: pl.Expr) -> pl.Expr:
    table = {
        f"{code}|{i}": text
        for code, options in PROVINCE_SHORT_NAMES.items()
        for i, text in enumerate(options)
    }
    short = lookup(pl.col("province_code_addr") + "|" + choice.cast(pl.String), table)
    generic = _unit_text("province", abbreviated, choice, pl.col("province_bare"))
    return pl.when(abbreviated & short.is_not_null()).then(short).otherwise(generic)


ADDRESS_MODES = pl.DataFrame(
    {"address_mode": ["full", "bare", "abbr", "abbr", "abbr", "abbr"], "address_choice": [0, 0, 0, 1, 2, 3]},
    schema={"address_mode": pl.String, "address_choice": pl.Int64},
)


def _unit_texts(sp: Spoiler) -> pl.DataFrame:
    """Ward, district and province as written, for every ward in use and every way of writing them.

    Computed once per (ward, style) rather than per row: a few thousand wards instead of millions of rows.
    """
    unit_columns = ["ward_type", "ward_bare", "ward_misspelled", "district_type", "district_bare"]
    units = sp.work.select("ward_idx", "province_code_addr", "province_type", "province_bare", *unit_columns)
    units = units.unique("ward_idx", keep="first", maintain_order=True)
    misspelled = pl.DataFrame({"is_ward_misspelled": [False, True]})
    table = units.join(ADDRESS_MODES, how="cross").join(misspelled, how="cross")
    abbreviated, bare = pl.col("address_mode") == "abbr", pl.col("address_mode") == "bare"
    choice = pl.col("address_choice")
    ward = (
        pl.when(pl.col("is_ward_misspelled")).then(pl.col("ward_misspelled")).otherwise(pl.col("ward_bare"))
    )
    return table.select(
        "ward_idx",
        "address_mode",
        "address_choice",
        "is_ward_misspelled",
        pl.when(bare).then(ward).otherwise(_unit_text("ward", abbreviated, choice, ward)).alias("ward_text"),
        pl.when(bare)
        .then(pl.col("district_bare"))
        .otherwise(_unit_text("district", abbreviated, choice, pl.col("district_bare")))
        .alias("district_text"),
        pl.when(bare)
        .then(pl.col("province_bare"))
        .otherwise(_province_text(abbreviated, choice))
        .alias("province_text"),
    )


def render_addresses(sp: Spoiler) -> None:
    sp.work = sp.work.with_columns(
        pl.lit(True).alias("has_ward"),
        pl.lit(False).alias("is_abbreviated"),
        pl.lit(False).alias("is_ward_misspelled"),
    )
    sp.spoil("addr_abbreviated", "is_abbreviated", pl.lit(True))
    sp.spoil("addr_ward_missing", "has_ward", pl.lit(False))
    sp.spoil("addr_ward_misspelled", "is_ward_misspelled", pl.lit(True), pl.col("has_ward"))
    sp.tag("addr_temp_residence", pl.col("is_temp_residence"))
    bare_names = sp.draw() < 0.3  # unit words left out: "Giang Tiên, Phú Lương"
    mode = pl.when(pl.col("is_abbreviated")).then(pl.lit("abbr")).when(bare_names).then(pl.lit("bare"))
    choice = pl.when(pl.col("is_abbreviated")).then(sp.draw_int(4)).otherwise(0)
    separator, street_shown, province_shown = (
        pick((", ", ", ", ",", " - "), sp.draw_int(4)),
        sp.draw(),
        sp.draw(),
    )
    sp.work = sp.work.with_columns(
        mode.otherwise(pl.lit("full")).alias("address_mode"), choice.cast(pl.Int64).alias("address_choice")
    ).join(
        _unit_texts(sp),
        on=["ward_idx", "address_mode", "address_choice", "is_ward_misspelled"],
        how="left",
        maintain_order="left",
    )
    ward = pl.when(pl.col("has_ward")).then(pl.col("ward_text"))
    parts = [pl.when(street_shown < 0.85).then(pl.col("street")), ward, pl.col("district_text")]
    parts.append(pl.when(province_shown >= 0.1).then(pl.col("province_text")))
    sp.work = sp.work.with_columns(
        pl.concat_list(parts).list.drop_nulls().list.join(separator).alias("out_address"),
        pl.col("street").fill_null("").alias("out_address_detail"),
        ward.fill_null("").alias("out_ward"),
        pl.col("district_text").alias("out_district"),
        pl.col("province_text").alias("out_province"),
    ).drop("ward_text", "district_text", "province_text")
    split_columns = ("out_address_detail", "out_ward", "out_district", "out_province")
    address = pl.col("out_address")
    folded = sp.spoil(
        "addr_no_diacritics", "out_address", fold_diacritics(address), address.str.contains(NON_ASCII)
    )
    missing = sp.spoil("addr_missing", "out_address", pl.lit(""), address != "")
    sp.work = sp.work.with_columns(
        pl.when(pl.lit(missing)).then(pl.lit("")).when(pl.lit(folded)).then(fold_diacritics(pl.col(column)))
        .otherwise(pl.col(column)).alias(column)
        for column in split_columns
    )  # fmt: skip
    sp.drop_draws()
