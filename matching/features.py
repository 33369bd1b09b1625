"""Comparable records: the shot side and the registry side reduced to the same integer-coded columns.

Comparisons run over millions of candidate pairs, so every value they compare is a number: name parts
are codes into one shared vocabulary (strings are looked at only once per distinct pair of values, for
Jaro-Winkler), phones and IDs are parsed to integers, admin codes too. String work happens once per
record, on short tokens, never per pair.

Name parts per record: folded family / middle / given codes (from the normalizer's keys), the family and
given words *with their diacritics* (null when the word carries none), and on the shot side the
given-name-first reading of the raw name (family = 2nd word, given = 1st word) for rows typed that way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from transforms.normalize.names import FOLDED_TITLES, marked_name_key
from transforms.normalize.text import fold, fold_key
from vaxsync.core.contracts import raw_column

CITIZEN_ID_KINDS = ("cccd", "cmnd12")
LEGACY_ID_KINDS = ("cmnd9",)
ID_KIND_CODES = {"cccd": 1, "cmnd12": 2, "cmnd9": 3, "passport": 4, "bhyt": 5, "other": 6}
CITIZEN_KIND_CODES = [ID_KIND_CODES[kind] for kind in CITIZEN_ID_KINDS]
LEGACY_KIND_CODES = [ID_KIND_CODES[kind] for kind in LEGACY_ID_KINDS]
PASSPORT_KIND_CODE = ID_KIND_CODES["passport"]
SEX_CODES = {"M": 1, "F": 2}

NAME_PARTS = ("family", "middle", "given")
NAME_KEY_PARTS = ("family_name_key", "middle_name_key", "given_name_key")
# Record columns compared pairwise; the registry side appears as registry_<name> in a pair frame.
COMMON_COLUMNS = [
    "family",
    "middle",
    "given",
    "family_marked",
    "given_marked",
    "name_hash",
    "birth_date",
    "birth_year",
    "sex",
    "phone",
    "province",
    "district",
    "ward",
]
SHOT_ONLY_COLUMNS = [
    "alt_family",
    "alt_middle",
    "alt_given",
    "birth_date_alt",
    "facility_province",
    "id_kind",
    "id_number",
    "cccd_sex",
    "cccd_birth_year",
    "vaccinated_date",
]
REGISTRY_ONLY_COLUMNS = ["citizen_number", "legacy_number", "date_of_death"]


@dataclass
class Vocabulary:
    """Every name part and diacritic token of both sides; a word's code is its position."""

    words: pl.Series

    @classmethod
    def of(cls, *columns: pl.Series) -> Vocabulary:
        words = pl.concat([column.cast(pl.String) for column in columns]).drop_nulls().unique().sort()
        return cls(words=words)

    def extended_with(self, *columns: pl.Series) -> Vocabulary:
        """This vocabulary plus the columns' words it lacks, appended (sorted) after its own: every
        word already in it keeps its code."""
        words = pl.concat([column.cast(pl.String) for column in columns]).drop_nulls().unique()
        new_words = words.filter(~words.is_in(self.words.implode())).sort()
        return Vocabulary(words=pl.concat([self.words, new_words]))

    def encode(self, text: pl.Expr) -> pl.Expr:
        return text.cast(pl.Enum(self.words)).to_physical()

    def decode(self, codes: pl.Expr) -> pl.Expr:
        return pl.lit(self.words).gather(codes)

    def code_of(self, word: str) -> int:
        """The word's code, -1 when absent (then nothing compares equal to it)."""
        found = self.words.index_of(word)
        return -1 if found is None else int(found)


def _digits(text: pl.Expr, length: int) -> pl.Expr:
    """A string of exactly `length` digits as an integer, else null (leading zeros are implied by the length).

    `length` bytes that parse as an integer without a sign are `length` ASCII digits (the cast accepts a
    sign and digits only; any other digit is more than one byte): cheaper than a regex per value."""
    unsigned = ~text.str.starts_with("+") & ~text.str.starts_with("-")
    return pl.when((text.str.len_bytes() == length) & unsigned).then(text.cast(pl.Int64, strict=False))


def _code(text: pl.Expr) -> pl.Expr:
    return text.cast(pl.Int32, strict=False)


def _sex_code(sex: pl.Expr) -> pl.Expr:
    return sex.replace_strict(SEX_CODES, default=None, return_dtype=pl.Int8)


# --- name text (strings, once per record) ------------------------------------------------------------------


def name_text(
    full_name: pl.Expr, family_key: pl.Expr, middle_key: pl.Expr, given_key: pl.Expr
) -> list[pl.Expr]:
    """Folded parts plus the first/last words of the marked name when they carry diacritics.

    full_name: a marked name key (transforms.normalize.names.marked_name_key), lowercase already.

    A word without any mark ("Anh", or "Nguyen" typed plain) tells nothing about diacritics, so it is
    left null: only two marked words can agree, or differ, on their marks. Folding maps each letter to
    one letter, so the first/last words have the key parts' lengths (checked in verify_marked_tokens).
    """
    first = full_name.str.head(family_key.str.len_chars())
    last = full_name.str.tail(given_key.str.len_chars())

    def when_marked(word: pl.Expr) -> pl.Expr:
        # a character outside ASCII is the only one UTF-8 spells in more than one byte
        return pl.when(word.str.len_bytes() > word.str.len_chars()).then(word)

    return [
        family_key.alias("family"),
        middle_key.fill_null("").alias("middle"),
        given_key.alias("given"),
        when_marked(first).alias("family_marked"),
        when_marked(last).alias("given_marked"),
    ]


def verify_marked_tokens(names: pl.DataFrame) -> pl.DataFrame:
    """Null a diacritic token whose folded form is not the key part (an odd full name); fold once per token."""
    tokens = pl.concat([names["family_marked"], names["given_marked"]]).drop_nulls().unique()
    folding = pl.DataFrame({"token": tokens}).with_columns(folded=fold(pl.col("token")))
    mapping = dict(zip(folding["token"].to_list(), folding["folded"].to_list(), strict=True))
    return names.with_columns(
        pl.when(pl.col(f"{part}_marked").replace_strict(mapping, default=None) == pl.col(part))
        .then(pl.col(f"{part}_marked"))
        .alias(f"{part}_marked")
        for part in ("family", "given")
    )


def given_first_reading(raw_name: pl.Expr) -> list[pl.Expr]:
    """The folded parts when the row was typed given-name-first: "Hùng Nguyễn Văn" -> nguyen / van / hung.

    Read from the raw name as typed, so a given name the cleaner took for a title is kept ("Anh Đỗ
    Quốc" is Đỗ Quốc Anh); a leading title is dropped only when three words follow ("Cháu Phong Bùi Đức").
    """
    typed = fold_key(raw_name).str.split(" ")
    has_title = typed.list.first().is_in(FOLDED_TITLES) & (typed.list.len() >= 4)
    words = pl.when(has_title).then(typed.list.slice(1)).otherwise(typed)
    has_two = words.list.len() >= 2
    return [
        pl.when(has_two).then(words.list.get(1, null_on_oob=True)).alias("alt_family"),
        pl.when(has_two).then(words.list.slice(2).list.join(" ")).alias("alt_middle"),
        pl.when(has_two).then(words.list.first()).alias("alt_given"),
    ]


# --- records ---------------------------------------------------------------------------------------------


def registry_name_text(registry: pl.LazyFrame) -> pl.DataFrame:
    """The registry's name parts; diacritic tokens from its marked name key (transforms.registry), or
    from the full name in a registry prepared before that key existed."""
    has_marked_key = "name_key_marked" in registry.collect_schema().names()
    marked = pl.col("name_key_marked") if has_marked_key else marked_name_key(pl.col("full_name"))
    return verify_marked_tokens(
        registry.select(
            *name_text(
                marked,
                pl.col("family_name_key"),
                pl.col("middle_name_key"),
                pl.col("given_name_key"),
            ),
            name_hash=pl.col("name_key").hash(),
        ).collect()
    )


def shot_name_text(shots: pl.LazyFrame) -> pl.DataFrame:
    clean = marked_name_key(pl.col("full_name_clean"))
    texts = shots.select("full_name_clean", *NAME_KEY_PARTS, "name_key", raw_column("full_name"))
    return once_per_distinct(
        texts,
        lambda distinct: verify_marked_tokens(
            distinct.select(
                *name_text(
                    clean, pl.col("family_name_key"), pl.col("middle_name_key"), pl.col("given_name_key")
                ),
                *given_first_reading(pl.col(raw_column("full_name"))),
                name_hash=pl.col("name_key").hash(),
            ).collect()
        ),
    )


def once_per_distinct(texts: pl.LazyFrame, derive: Callable[[pl.LazyFrame], pl.DataFrame]) -> pl.DataFrame:
    """derive(texts) row for row, computed once per distinct row of texts: a night's names repeat (200k
    rows, ~68k distinct) and their string work (folding, splitting) is most of encoding them."""
    rows = texts.collect()
    distinct = rows.unique(maintain_order=True)
    derived = derive(distinct.lazy())
    keyed = pl.concat([distinct, derived.rename(lambda name: f"derived_{name}")], how="horizontal")
    return rows.join(keyed, on=rows.columns, how="left", nulls_equal=True, maintain_order="left").select(
        pl.col(f"derived_{name}").alias(name) for name in derived.columns
    )


def encode_names(names: pl.DataFrame, vocabulary: Vocabulary) -> pl.DataFrame:
    text_columns = [c for c in names.columns if c != "name_hash"]
    return names.with_columns(vocabulary.encode(pl.col(column)).alias(column) for column in text_columns)


def registry_records(registry: pl.LazyFrame, names: pl.DataFrame) -> pl.DataFrame:
    """One row per citizen, citizen_index 0..N-1, the columns the comparisons and blocking read."""
    others = registry.select(
        "citizen_id",
        citizen_number=_digits(pl.col("citizen_id"), 12),
        legacy_number=_digits(pl.col("legacy_id"), 9),
        birth_date=pl.col("date_of_birth"),
        birth_year=pl.col("birth_year").cast(pl.Int32),
        sex=_sex_code(pl.col("sex")),
        phone=_digits(pl.col("phone"), 10),
        province=_code(pl.col("province_code")),
        district=_code(pl.col("district_code")),
        ward=_code(pl.col("ward_code")),
        date_of_death=pl.col("date_of_death"),
    ).collect()
    index = pl.Series("citizen_index", range(others.height), dtype=pl.UInt32)
    return pl.concat([index.to_frame(), names, others], how="horizontal")


def shot_records(shots: pl.LazyFrame, names: pl.DataFrame) -> pl.DataFrame:
    """One row per shot, shot_index 0..S-1 in the input order."""
    kind_code = pl.col("id_kind").replace_strict(ID_KIND_CODES, default=None, return_dtype=pl.Int8)
    id_number = (
        pl.when(kind_code.is_in(CITIZEN_KIND_CODES))
        .then(_digits(pl.col("id_value"), 12))
        .when(kind_code.is_in(LEGACY_KIND_CODES))
        .then(_digits(pl.col("id_value"), 9))
    )
    others = shots.select(
        "file_hash",
        "source_row",
        "birth_date",
        "birth_date_alt",
        birth_year=pl.col("birth_year").cast(pl.Int32),
        sex=_sex_code(pl.col("sex_code")),
        phone=_digits(pl.col("phone_number"), 10),
        province=_code(pl.col("province_code")),
        district=_code(pl.col("district_code")),
        ward=_code(pl.col("ward_code")),
        facility_province=_code(pl.col("facility_province_code")),
        id_kind=kind_code,
        id_number=id_number,
        cccd_sex=_sex_code(pl.col("cccd_sex")),
        cccd_birth_year=pl.col("cccd_birth_year").cast(pl.Int32),
        vaccinated_date=pl.col("vaccinated_date"),
    ).collect()
    index = pl.Series("shot_index", range(others.height), dtype=pl.UInt32)
    return pl.concat([index.to_frame(), names, others], how="horizontal")


# --- blocking keys -------------------------------------------------------------------------------------------


def family_given_hash(family: str, given: str) -> pl.Expr:
    return pl.struct(pl.col(family).alias("family"), pl.col(given).alias("given")).hash()


def registry_blocking_keys(records: pl.DataFrame) -> pl.DataFrame:
    return records.with_columns(family_given=family_given_hash("family", "given"))


def shot_blocking_keys(records: pl.DataFrame) -> pl.DataFrame:
    """List-typed keys the blocking unnests: both date readings, both name orders, the years either side,
    every one-edit variant of the ID."""
    keyed = records.with_columns(
        birth_dates=pl.concat_list("birth_date", "birth_date_alt").list.drop_nulls().list.unique(),
        birth_years_near=pl.concat_list(pl.col("birth_year") - 1, pl.col("birth_year") + 1).list.drop_nulls(),
        family_given_readings=pl.concat_list(
            family_given_hash("family", "given"), family_given_hash("alt_family", "alt_given")
        )
        .list.drop_nulls()
        .list.unique(),
    )
    citizen_ids = keyed.select(
        pl.when(pl.col("id_kind").is_in(CITIZEN_KIND_CODES)).then("id_number")
    ).to_series()
    legacy_ids = keyed.select(
        pl.when(pl.col("id_kind").is_in(LEGACY_KIND_CODES)).then("id_number")
    ).to_series()
    return keyed.with_columns(
        cccd_variants=one_edit_variants(citizen_ids, 12), legacy_variants=one_edit_variants(legacy_ids, 9)
    )


def one_edit_variants(numbers: pl.Series, length: int) -> pl.Series:
    """Per number (null stays null): itself and every `length`-digit number one substitution or one adjacent
    transposition away. Vectorised in numpy, rows x variants; no loop over rows."""
    present = numbers.is_not_null()
    every_row = pl.DataFrame({"row": pl.int_range(numbers.len(), eager=True, dtype=pl.UInt32)})
    if not present.any():
        return pl.repeat(None, numbers.len(), dtype=pl.List(pl.Int64), eager=True).alias("variants")
    values = numbers.filter(present).to_numpy().astype(np.int64)[:, None]
    powers = 10 ** np.arange(length, dtype=np.int64)
    digits = (values // powers) % 10  # rows x positions
    replacements = np.arange(10)[None, None, :]
    substituted = values[:, :, None] + (replacements - digits[:, :, None]) * powers[None, :, None]
    substituted = np.where(
        replacements == digits[:, :, None], -1, substituted
    )  # the number itself, once below
    low, high = digits[:, :-1], digits[:, 1:]
    transposed = np.where(low == high, -1, values + (high - low) * powers[:-1] + (low - high) * powers[1:])
    variants = np.concatenate([values, substituted.reshape(len(values), -1), transposed], axis=1)
    found = pl.DataFrame(
        {"row": present.arg_true(), "variants": pl.Series(variants).cast(pl.List(pl.Int64))}
    ).with_columns(pl.col("variants").list.eval(pl.element().filter(pl.element() >= 0)))
    return every_row.join(found, on="row", how="left", maintain_order="left")["variants"]
