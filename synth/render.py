"""Every field of every export row, written as the facility's software and staff would, defects included.

Output columns are `out_<field>` strings (empty string = blank cell); the writer picks the ones its
template uses. Defects are planted and logged through the Spoiler (spoil.py): expressions refer to
columns only, because spoiled values are computed on the few candidate rows. Names are in
render_names.py; IDs, phones and addresses in render_contact.py.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from synth import vaccines as vx
from synth.catalogues import ETHNICITIES, EXTRA_COLUMNS, NOTES
from synth.layout import SEX_STYLES
from synth.registry import SEX_MALE
from synth.render_contact import add_person_constants, render_addresses, render_ids, render_phones
from synth.render_names import render_names
from synth.render_text import (
    MIXED_STYLES,
    can_swap,
    date_text,
    filled,
    impossible_date_text,
    lookup,
    pick,
    swapped_date,
)
from synth.spoil import Spoiler, hashed_digits, stable_hash
from vaxsync.core.settings import CAMPAIGN_START

BOOSTER_WORDING_STYLES = ("mui_booster", "mui_booster_long", "english", "english_digit")
ETHNICITY_COLUMN = next(i for i, (header, _, _) in enumerate(EXTRA_COLUMNS) if header == "Dân tộc")
ETHNICITY_BY_SCHEME = {"hmong": "H'Mông", "ede": "Ê Đê", "khmer": "Khmer", "foreign": ""}


def render_birth_dates(sp: Spoiler) -> None:
    sp.work = sp.work.with_columns(
        pl.col("birth_days").cast(pl.Int32).cast(pl.Date).alias("dob_value"),
        (~pl.col("is_birth_date_known")).alias("is_dob_year_only"),
    )
    value, year_only = pl.col("dob_value"), pl.col("is_dob_year_only")
    sp.spoil("dob_year_only", "is_dob_year_only", pl.lit(True), pl.col("is_birth_date_known"))
    sp.tag("dob_year_only", ~pl.col("is_birth_date_known"))
    sp.spoil("dob_day_month_swapped", "dob_value", swapped_date(value), can_swap(value) & ~year_only)
    later = sp.draw() < 0.5
    off_by_one = value.dt.offset_by(pl.when(later).then(pl.lit("1y")).otherwise(pl.lit("-1y")))
    sp.spoil("dob_year_off_by_one", "dob_value", off_by_one)
    style, us, no_time = pl.col("dob_style"), pl.col("is_us_dates"), pl.lit("00:00:00")
    sp.work = sp.work.with_columns(date_text(value, year_only, style, us, no_time).alias("out_date_of_birth"))
    mixed_style = pick(MIXED_STYLES, sp.draw_int(len(MIXED_STYLES)))
    mixed = date_text(value, year_only, mixed_style, pl.lit(False), no_time)
    sp.spoil("mixed_date_formats", "out_date_of_birth", mixed, ~year_only & (mixed_style != style))
    impossible = impossible_date_text(sp, value.dt.year(), style, us)
    sp.force("dob_impossible", "out_date_of_birth", impossible, pl.col("invalid_kind") == "dob_impossible")
    sp.drop_draws()


def render_vaccination_dates(sp: Spoiler, snapshot: dt.date) -> None:
    parts = [(sp.draw_int(10) + 7), sp.draw_int(60), sp.draw_int(60)]
    time = pl.concat_str([part.cast(pl.String).str.zfill(2) for part in parts], separator=":")
    sp.work = sp.work.with_columns(
        pl.col("vaccinated_days").cast(pl.Date).alias("vax_value"), time.alias("vax_time")
    )
    value = pl.col("vax_value")
    swapped = swapped_date(value)
    in_campaign = (swapped >= CAMPAIGN_START) & (swapped <= snapshot)
    eligible = can_swap(value) & in_campaign & (pl.col("invalid_kind") == "")
    sp.spoil("vax_date_day_month_swapped", "vax_value", swapped, eligible)
    typo_year = pl.when(sp.draw() < 0.5).then(2012).otherwise(2020)
    before_campaign = pl.date(typo_year, value.dt.month(), pl.min_horizontal(value.dt.day(), 28))
    future = (pl.lit(snapshot) + pl.duration(days=sp.draw_int(700) + 30)).cast(pl.Date)
    kind = pl.col("invalid_kind")
    sp.force("vax_date_out_of_range", "vax_value", before_campaign, kind == "vax_date_out_of_range")
    sp.force("vax_date_future", "vax_value", future, kind == "vax_date_future")
    style, us = pl.col("vax_style"), pl.col("is_us_dates")
    sp.work = sp.work.with_columns(
        date_text(value, pl.lit(False), style, us, pl.col("vax_time")).alias("out_vaccinated_on")
    )
    mixed_style = pick(MIXED_STYLES, sp.draw_int(len(MIXED_STYLES)))
    mixed = date_text(value, pl.lit(False), mixed_style, pl.lit(False), pl.col("vax_time"))
    sp.spoil("mixed_date_formats", "out_vaccinated_on", mixed, mixed_style != style)
    impossible = impossible_date_text(sp, value.dt.year(), style, us)
    sp.force("vax_date_impossible", "out_vaccinated_on", impossible, kind == "vax_date_impossible")
    sp.drop_draws()


# ---------------------------------------------------------------- sex


def render_sex(sp: Spoiler) -> None:
    style, male = pl.col("sex_style"), pl.col("sex") == SEX_MALE
    shown = pl.when(male).then(pl.lit("M")).otherwise(pl.lit("F"))
    flipped = pl.when(male).then(pl.lit("F")).otherwise(pl.lit("M"))
    text = {f"{name}|M": values[0] for name, values in SEX_STYLES.items()} | {
        f"{name}|F": values[1] for name, values in SEX_STYLES.items()
    }
    sp.work = sp.work.with_columns(lookup(style + "|" + shown, text).alias("out_sex"))
    sp.spoil("sex_wrong", "out_sex", lookup(style + "|" + flipped, text))
    sp.spoil("sex_missing", "out_sex", pl.lit(""))


# ---------------------------------------------------------------- vaccine, lot, dose, facility, extras


def render_vaccines(sp: Spoiler) -> None:
    noisy = {
        index: [text for text, weight in spec.variants if text != spec.canonical_text for _ in range(weight)]
        for index, spec in enumerate(vx.VACCINES)
    }
    width = max(len(texts) for texts in noisy.values())
    table = {f"{index}|{i}": texts[i % len(texts)] for index, texts in noisy.items() for i in range(width)}
    vaccine = pl.col("vaccine_idx").cast(pl.Int64)
    noise = lookup(vaccine.cast(pl.String) + "|" + sp.draw_int(width).cast(pl.String), table)
    canonical = pick([spec.canonical_text for spec in vx.VACCINES], vaccine)
    sp.work = sp.work.with_columns(canonical.alias("out_vaccine"))
    sp.spoil("vaccine_text_noise", "out_vaccine", noise, pl.col("invalid_kind") == "")
    unknown = pick(vx.UNKNOWN_VACCINE_TEXTS, sp.draw_int(len(vx.UNKNOWN_VACCINE_TEXTS)))
    sp.force("vaccine_unknown", "out_vaccine", unknown, pl.col("invalid_kind") == "vaccine_unknown")
    sp.drop_draws()


def render_lots(sp: Spoiler) -> None:
    """One lot per facility, product and month, in the product's lot-number pattern."""
    month = pl.col("vaccinated_days").cast(pl.Date).dt.strftime("%Y%m").cast(pl.Int64)
    key = (
        pl.col("facility_idx").cast(pl.Int64) * 10_000_000
        + pl.col("vaccine_idx").cast(pl.Int64) * 1_000_000
        + month
    )
    keys = sp.work.select(key).to_series().to_numpy()
    sp.work = sp.work.with_columns(
        hashed_digits(keys, 31, 12).alias("lot_digits"),
        pl.Series("lot_pattern", (stable_hash(keys, 37) % np.uint64(6)).astype(np.int64)),
        pl.Series("lot_letter", (stable_hash(keys, 41) % np.uint64(6)).astype(np.int64)),
    )
    digits, value = pl.col("lot_digits"), pl.col("vaccinated_days").cast(pl.Date)
    tokens = {
        "D1": digits.str.slice(0, 1),
        "D2": digits.str.slice(0, 2),
        "D4": digits.str.slice(0, 4),
        "D5": digits.str.slice(0, 5),
        "D6": digits.str.slice(0, 6),
        "L": pick(tuple("ABCDEF"), pl.col("lot_letter")),
        "MM": value.dt.strftime("%m"),
        "YY": value.dt.strftime("%y"),
        "Y4": value.dt.strftime("%Y"),
        "DD": ((digits.str.slice(6, 2).cast(pl.Int32) % 28) + 1).cast(pl.String).str.zfill(2),
    }
    lot = pl.lit(None, pl.String)
    for vaccine_idx, spec in enumerate(vx.VACCINES):
        for pattern_idx, pattern in enumerate(spec.lot_patterns):
            chosen = (pl.col("vaccine_idx") == vaccine_idx) & (
                pl.col("lot_pattern") % len(spec.lot_patterns) == pattern_idx
            )
            lot = pl.when(chosen).then(filled(pattern, tokens)).otherwise(lot)
    sp.work = sp.work.with_columns(lot.alias("out_lot"))
    sp.spoil("lot_missing", "out_lot", pl.lit(""))


def render_doses(sp: Spoiler) -> None:
    """The dose column: booster wording counts boosters after the primary series of the first product."""
    sp.work = sp.work.with_columns(pl.col("dose_number").cast(pl.Int64).alias("dose_reported"))
    shift = pl.when((sp.draw() < 0.5) & (pl.col("dose_reported") > 1)).then(-1).otherwise(1)
    sp.spoil("dose_wrong", "dose_reported", pl.col("dose_reported") + shift)
    number = pl.col("dose_reported")
    booster = number - pl.col("primary_doses")
    values = {"n": number.cast(pl.String), "b": booster.cast(pl.String)}
    style = pl.col("dose_style")
    text = pl.lit(None, pl.String)
    for name, (primary_text, booster_text) in vx.DOSE_STYLES.items():
        chosen = (
            pl.when(booster >= 1).then(filled(booster_text, values)).otherwise(filled(primary_text, values))
        )
        text = pl.when(style == name).then(chosen).otherwise(text)
    sp.work = sp.work.with_columns(text.alias("out_dose"))
    booster_words = style.is_in(list(BOOSTER_WORDING_STYLES)) | (style == "mui_booster_paren")
    sp.tag("dose_booster_text", style.is_in(list(BOOSTER_WORDING_STYLES)) & (booster >= 1))
    additional = pick(("bổ sung", "Mũi bổ sung", "Bổ sung"), sp.draw_int(3))
    sp.spoil("dose_additional_text", "out_dose", additional, booster_words & (booster == 1))
    sp.spoil("dose_missing", "out_dose", pl.lit(""))
    sp.drop_draws()


def render_facility_and_extras(sp: Spoiler) -> None:
    name = pl.col("facility_name")
    kinh = (
        pl.when(sp.draw() < 0.97)
        .then(pl.lit("Kinh"))
        .otherwise(pick(ETHNICITIES, sp.draw_int(len(ETHNICITIES))))
    )
    ethnicity = lookup(pl.col("scheme"), ETHNICITY_BY_SCHEME).fill_null(kinh)
    extras = [
        (ethnicity if index == ETHNICITY_COLUMN else pick(values, sp.draw_int(len(values)))).alias(
            f"out_extra_{index}"
        )
        for index, (_, _, values) in enumerate(EXTRA_COLUMNS)
    ]
    second_notes = pick(NOTES, sp.draw_int(len(NOTES))).alias("out_extra_duplicate")
    # (draws add columns to sp.work, so every expression is built before with_columns is called)
    coded = pl.col("facility_code") + " - " + name
    sp.work = sp.work.with_columns(
        pl.when(pl.col("is_code_in_facility_name")).then(coded).otherwise(name).alias("out_facility_name"),
        pl.col("source_row").cast(pl.String).alias("out_stt"),
        *extras,
        second_notes,
    )  # fmt: skip
    sp.drop_draws()


def blank_required_values(sp: Spoiler) -> None:
    """Rows with a required value left blank (invalid: required_value_missing)."""
    field = sp.draw_int(4)
    missing = pl.col("invalid_kind") == "required_value_missing"
    columns = ("out_full_name", "out_date_of_birth", "out_vaccine", "out_vaccinated_on")
    sp.work = sp.work.with_columns(
        pl.when(missing & (field == index)).then(pl.lit("")).otherwise(pl.col(column)).alias(column)
        for index, column in enumerate(columns)
    )
    sp.tag("required_value_missing", missing)
    sp.tag("after_death", pl.col("invalid_kind") == "after_death")
    sp.drop_draws()


def tag_file_styles(sp: Spoiler) -> None:
    """Defects that come from the facility's software or the file, tagged on every row they touch."""
    sp.tag("column_order_shuffled", pl.col("is_columns_shuffled"))
    sp.tag("extra_columns", pl.col("count_extra_columns") > 0)
    sp.tag("duplicate_header_names", pl.col("is_duplicate_headers"))
    sp.tag("header_noise", pl.col("is_header_noise"))
    sp.tag("preamble_rows", pl.col("count_preamble_rows") > 0)
    sp.tag("ids_as_numbers", pl.col("is_ids_as_numbers"))
    sp.tag("date_us_format", pl.col("is_us_dates"))
    sp.tag("date_two_digit_year", (pl.col("dob_style") == "dmy_2y") | (pl.col("vax_style") == "dmy_2y"))
    sp.tag("date_excel_serial", pl.col("dob_style") == "excel_serial")
    sp.tag("date_with_time", pl.col("vax_style").is_in(["iso_time", "dmy_time"]))


def render_all(sp: Spoiler, snapshot: dt.date) -> None:
    add_person_constants(sp)
    render_names(sp)
    render_birth_dates(sp)
    render_vaccination_dates(sp, snapshot)
    render_sex(sp)
    render_ids(sp)
    render_phones(sp)
    render_addresses(sp)
    render_vaccines(sp)
    render_lots(sp)
    render_doses(sp)
    render_facility_and_extras(sp)
    blank_required_values(sp)
    tag_file_styles(sp)
