"""The name column: word-level slips (keystrokes, tone placement, typos, order) and text-level ones."""

from __future__ import annotations

import polars as pl

from synth import names
from synth.legacy_text import mojibake_mapping, vietnamese_letters
from synth.registry import SEX_MALE
from synth.render_text import MOJIBAKE_SAFE, NON_ASCII, UNICODE_SAFE, age_at_vaccination
from synth.spoil import Spoiler
from synth.text import fold_diacritics


def _word(kind: str, slot: int) -> pl.Expr:
    """The spelling `kind` of the word in slot 0-3 ('' for no word)."""
    variant = names.vocabulary().variant(kind)
    return pl.col(f"w{slot + 1}").replace_strict(dict(enumerate(variant)), return_dtype=pl.String)


def _name_from_slots(slots: list[pl.Expr], given_first: pl.Expr) -> pl.Expr:
    """Join the four slots; with given_first, the last word moves to the front."""
    present = [pl.when(slot != "").then(slot) for slot in slots]
    last = pl.col("last_slot")
    last_word = pl.coalesce([pl.when(last == i).then(present[i]) for i in range(4)])
    rest = [pl.when(last != i).then(present[i]) for i in range(4)]
    normal = pl.concat_str(present, separator=" ", ignore_nulls=True)
    swapped = pl.concat_str([last_word, *rest], separator=" ", ignore_nulls=True)
    return pl.when(given_first).then(swapped).otherwise(normal)


SLOTS = [pl.col(f"s{i}") for i in range(4)]


def _current_name(slots: list[pl.Expr] | None = None) -> pl.Expr:
    return _name_from_slots(SLOTS if slots is None else slots, pl.col("is_given_first"))


def _typo(word: pl.Expr, kind: pl.Expr, u: pl.Expr) -> pl.Expr:
    """Double a letter, drop one, or swap two neighbours, inside the word (never its capital)."""
    length = word.str.len_chars()
    position = (1 + u * (length - 1)).cast(pl.Int64).clip(1, pl.max_horizontal(length - 1, 1))
    swap_at = (1 + u * (length - 2)).cast(pl.Int64).clip(1, pl.max_horizontal(length - 2, 1))
    doubled = word.str.slice(0, position + 1) + word.str.slice(position)
    dropped = word.str.slice(0, position) + word.str.slice(position + 1)
    swapped = (
        word.str.slice(0, swap_at)
        + word.str.slice(swap_at + 1, 1)
        + word.str.slice(swap_at, 1)
        + word.str.slice(swap_at + 2)
    )
    return (
        pl.when((kind == 1) & (length >= 3))
        .then(dropped)
        .when((kind == 2) & (length >= 3))
        .then(swapped)
        .otherwise(doubled)
    )


def _spoil_slots(sp: Spoiler, tag: str, new_slots: list[pl.Expr], eligible: pl.Expr) -> pl.Series:
    """A word-level defect: the name rebuilt from `new_slots` on the rows it hits; slots follow."""
    sp.work = sp.work.with_columns(pl.lit(None, pl.String).alias(f"t{i}") for i in range(4))
    stash = [pl.concat_str([new_slots[i], pl.lit("")]).alias(f"t{i}") for i in range(4)]
    hit = sp.spoil(tag, "out_full_name", _current_name(new_slots), eligible)
    index = hit.arg_true()
    computed = sp.work[index].select(stash)
    sp.work = sp.work.with_columns(sp.work[f"s{i}"].scatter(index, computed[f"t{i}"]) for i in range(4)).drop(
        [f"t{i}" for i in range(4)]
    )
    return hit


def render_names(sp: Spoiler) -> None:
    sp.work = sp.work.with_columns(
        *(_word("base", i).alias(f"s{i}") for i in range(4)),
        pl.lit(False).alias("is_given_first"),
        pl.lit("base").alias("word_variant"),
        pl.max_horizontal([pl.when(pl.col(f"w{i + 1}") > 0).then(i) for i in range(4)])
        .fill_null(0)
        .alias("last_slot"),
    )
    sp.work = sp.work.with_columns(_current_name().alias("out_full_name"))
    has_marks = pl.col("out_full_name").str.contains(NON_ASCII)
    for kind, tag, eligible in (
        ("telex", "name_telex_keys", has_marks),
        ("vni", "name_vni_keys", has_marks),
        (
            "lookalike",
            "name_lookalike_d",
            UNICODE_SAFE & pl.col("out_full_name").str.contains("Đ", literal=True),
        ),
        (
            "new_tone",
            "name_tone_style",
            pl.col("out_full_name").str.contains("òa|óa|ỏa|õa|ọa|ùy|úy|ủy|ũy|ụy|òe|óe|Quý"),
        ),
    ):
        hit = _spoil_slots(
            sp, tag, [_word(kind, i) for i in range(4)], eligible & (pl.col("word_variant") == "base")
        )
        sp.work = sp.work.with_columns(
            pl.when(hit).then(pl.lit(kind)).otherwise(pl.col("word_variant")).alias("word_variant")
        )
    slip_kind, u = sp.draw_int(4), sp.draw()
    typo_slots = []
    for i in range(4):
        slipped = pl.when(pl.col("word_variant") == "base").then(_word("tone_slip", i)).otherwise(SLOTS[i])
        spoiled_word = pl.when(slip_kind == 3).then(slipped).otherwise(_typo(SLOTS[i], slip_kind, u))
        typo_slots.append(pl.when(pl.col("last_slot") == i).then(spoiled_word).otherwise(SLOTS[i]))
    _spoil_slots(sp, "name_typo", typo_slots, pl.lit(True))
    drop_second = (pl.col("w3") > 0) & (sp.draw() < 0.5)
    dropped = [
        SLOTS[0],
        pl.when(drop_second).then(SLOTS[1]).otherwise(pl.lit("")),
        pl.when(drop_second).then(pl.lit("")).otherwise(SLOTS[2]),
        SLOTS[3],
    ]
    _spoil_slots(
        sp,
        "name_middle_dropped",
        dropped,
        pl.col("is_standard_name") & (pl.col("w2") > 0) & (pl.col("last_slot") == 3),
    )
    given_first = sp.spoil(
        "name_given_first", "out_full_name", _name_from_slots(SLOTS, pl.lit(True)), pl.col("last_slot") > 0
    )
    sp.work = sp.work.with_columns((pl.col("is_given_first") | given_first).alias("is_given_first"))
    _name_text_defects(sp)
    sp.drop_draws()


def _name_text_defects(sp: Spoiler) -> None:
    name = pl.col("out_full_name")
    age = age_at_vaccination()
    title = (
        pl.when(age < 6)
        .then(pl.lit("Bé"))
        .when(age < 16)
        .then(pl.lit("Cháu"))
        .when((age >= 60) & (pl.col("sex") == SEX_MALE))
        .then(pl.lit("Ông"))
        .when(age >= 60)
        .then(pl.lit("Bà"))
    )
    sp.spoil("name_title", "out_full_name", title + " " + name, title.is_not_null())
    has_marks = name.str.contains(NON_ASCII)
    sp.spoil("name_no_diacritics", "out_full_name", fold_diacritics(name), has_marks)
    sp.spoil("name_all_caps", "out_full_name", name.str.to_uppercase(), name != name.str.to_uppercase())
    style = sp.draw_int(4)
    spaced = (
        pl.when(style == 0)
        .then(name.str.replace_all(" ", "  ", literal=True))
        .when(style == 1)
        .then(name + " ")
        .when(style == 2)
        .then(" " + name + " ")
        .otherwise(name.str.replace(" ", "  ", literal=True))
    )
    sp.spoil("name_extra_spaces", "out_full_name", spaced)
    has_marks = name.str.contains(NON_ASCII)
    nfd = sp.spoil("name_nfd", "out_full_name", name.str.normalize("NFD"), UNICODE_SAFE & has_marks)
    characters = set("".join(names.vocabulary().words)) | set(vietnamese_letters())
    mojibake = name.str.replace_many(mojibake_mapping(characters))
    sp.spoil("name_mojibake", "out_full_name", mojibake, MOJIBAKE_SAFE & has_marks & ~pl.lit(nfd))
