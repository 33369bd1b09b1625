"""Address rules: free text or split columns -> pre-2025 (2021-era) province, district and ward codes.

1. Split the address at commas, semicolons, bars and spaced dashes ("Bà Rịa - Vũng Tàu" kept whole);
   leading street segments (house number, Tổ 9, Thôn 3, Ấp 5...) are cut first, so rows that differ
   only there are resolved once. Split province/district/ward columns join as extra segments on the
   right, marked with their level.
2. Each distinct segment is folded (no diacritics, đ -> d, lowercase) and its abbreviations written
   out: TP. -> thanh pho, TX. -> thi xa, TT. -> thi tran, Q./Q1 -> quan, P./P3/F12 -> phuong,
   H. -> huyen, X. -> xa, T. -> tinh. A leading unit word gives the level and the unit type and is
   dropped from the key (tinh = province; thanh pho = province or district; quan/huyen/thi xa =
   district; phuong/xa/thi tran = ward); because "Quản Bạ" or "Tĩnh Gia" fold to a unit word too, the
   whole text is also tried as a key of any level. Doubled letters are single ("Xãã" -> xa).
3. Match right to left, each level inside its parent: the province (exact key, alias table, else
   fuzzy), then a district of that province among the segments to its left, then a ward of that
   district (or, with no district, a ward whose name is unique in the province). With no province in
   the text, the facility's province is tried as the parent. Two units of one parent with the same
   name (Thành phố Cao Lãnh, Huyện Cao Lãnh) are told apart by the unit word, else left unmatched.

Fuzzy matching runs rapidfuzz `process.cdist` over the DISTINCT segment keys of each parent against
that parent's children only, one call per parent, never one per row: the ratio for provinces and
districts, the token-set ratio for wards inside a known district (it forgives a garbled unit word:
"Phlờng Bàu Sen"). A best score must reach the cut-off and be unique. Names with digits (Quận 8,
Phường 12) match exactly only. The address step runs eagerly on the distinct address texts, collected
before the rows' plan runs (each level feeds the next; no query runs inside another query's callback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from transforms.normalize.text import EAGER_ENGINE, collapse_spaces, fold, repair_mojibake
from vaxsync.core.contracts import raw_column

UNIT_WORDS = r"thanh pho|tinh|quan|huyen|thi xa|phuong|xa|thi tran"
LEVEL_OF_UNIT_WORD = {
    "tinh": "province",
    "thanh pho": "city",  # a province-level or a district-level city
    "quan": "district",
    "huyen": "district",
    "thi xa": "district",
    "phuong": "ward",
    "xa": "ward",
    "thi tran": "ward",
}
LEVEL_MARKER = r"^@(province|district|ward) "
# Street parts and units below the ward (house number, tổ 9, thôn 3, ấp 5...), folded. Folding makes
# some street words look like names (đường/Dương, ngõ/Ngô, làng/Lạng), so those count only before a
# number.
STREET_WORDS = (
    "so|to|thon|ap|xom|khom|khu pho|kp|ban|buon|lang|doi|khu|lo|ngo|ngach|hem|kiet|duong|can ho|nha"
)
NOT_A_UNIT = rf"^(?:[0-9]|(?:{STREET_WORDS})\s*[0-9]|(?:ngach|hem|kiet|khu pho|thon|xom)\s)"
# The same leading street segments in raw text (either spelling, a number after the word).
LEADING_STREET_SEGMENTS = (
    r"(?i)^(?:\s*(?:[0-9]|(?:số|so|tổ|to|thôn|thon|ấp|ap|xóm|xom|khóm|khom|khu phố|khu pho|kp|bản|ban|buôn|"
    r"buon|làng|lang|đội|doi|khu|lô|lo|ngõ|ngo|ngách|ngach|hẻm|hem|kiệt|kiet|đường|duong|căn hộ|can ho|nhà|nha)"
    r"\s*[0-9])[^,]*(?:,|$))+"
)
# The one unit name with a dash, as it is written (its dash is not a separator).
HYPHENATED_PROVINCE = [
    f"{ba_ria}{dash}{vung_tau}"
    for ba_ria, vung_tau in (
        ("Bà Rịa", "Vũng Tàu"),
        ("BÀ RỊA", "VŨNG TÀU"),
        ("bà rịa", "vũng tàu"),
        ("Ba Ria", "Vung Tau"),
        ("BA RIA", "VUNG TAU"),
        ("ba ria", "vung tau"),
        ("BR", "VT"),
    )
    for dash in (" - ", " – ", "-", "–")
]
ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"\btp\.?\s*hcm\b", "thanh pho ho chi minh"),
    (r"\btp\b\.?\s*", "thanh pho "),
    (r"\btx\b\.?\s*", "thi xa "),
    (r"\btt\b\.?\s*", "thi tran "),
    (r"\bq\.?\s*([0-9])", "quan ${1}"),
    (r"\bq\.\s*", "quan "),
    (r"\b[pf]\.?\s*([0-9])", "phuong ${1}"),
    (r"\bp\.\s*", "phuong "),
    (r"\bh\.\s*", "huyen "),
    (r"\bx\.+\s*", "xa "),
    (r"\bt\.\s*", "tinh "),
)
DOUBLED_LETTERS = [letter * 2 for letter in "abcdefghijklmnopqrstuvwxyz"]
SEGMENT_SEPARATORS = [";", "|", " - ", " – ", "\n"]
SPLIT_COLUMN_POSITION = 1_000  # split ward/district/province columns sit right of any address segment
PIECES_MARKER = "@pieces "
PIECES_PER_SEGMENT = 64  # a segment typed without commas is read in pieces: positions pos * 64 + piece
EVERYTHING_LEFT = 1_000_000
UNIT_LEVELS = ("ward", "district", "province")  # the split columns, innermost first
RAW_ADDRESS = raw_column("address")
# The residence as sent (free text and the split columns), and the facility's province.
ADDRESS_COLUMNS = (
    RAW_ADDRESS,
    *(raw_column(level) for level in reversed(UNIT_LEVELS)),
    "facility_province_code",
)
CODE_COLUMNS = ("province_code", "district_code", "ward_code")
MIN_FUZZY_SCORE = 85.0
MIN_FUZZY_KEY_LENGTH = 4
ADDRESS_SCHEMA = {name: pl.String() for name in ADDRESS_COLUMNS}
MATCH_SCHEMA = {
    "parent_code": pl.String,
    "segment_key": pl.String,
    "segment_type": pl.String,
    "unit_code": pl.String,
}


def unit_part(raw: pl.Expr) -> pl.Expr:
    """The address with one separator (",") and its leading street segments cut off. One
    Aho-Corasick pass: the spellings of "Bà Rịa - Vũng Tàu" come first, so their dash is kept."""
    patterns = [*HYPHENATED_PROVINCE, *SEGMENT_SEPARATORS]
    replacements = [name.replace(" - ", " ").replace(" – ", " ") for name in HYPHENATED_PROVINCE]
    separated = raw.str.replace_many(
        patterns, [*replacements, *[","] * len(SEGMENT_SEPARATORS)], leftmost=True
    )
    return separated.str.replace(LEADING_STREET_SEGMENTS, "")


def expand_abbreviations(segment: pl.Expr) -> pl.Expr:
    """A folded segment with unit abbreviations written out ("q.1" -> "quan 1", "tx." -> "thi xa")."""
    text = segment
    for pattern, replacement in ABBREVIATIONS:
        text = text.str.replace_all(pattern, replacement)
    return collapse_spaces(text.str.replace_all(r"\s+", " ").str.strip_chars(" .,"))


def single_letters(text: pl.Expr) -> pl.Expr:
    """Doubled letters made single: typing slips ("xãã", "trấnn"); no unit name needs a double."""
    return text.str.replace_many(DOUBLED_LETTERS, [pair[0] for pair in DOUBLED_LETTERS])


def unit_word(text: pl.Expr) -> pl.Expr:
    """The leading unit word of a folded, expanded segment (thanh pho, quan, xa...), else null."""
    return text.str.extract(rf"^({UNIT_WORDS})\s", 1)


def segment_level(text: pl.Expr) -> pl.Expr:
    """province | city | district | ward from the unit word; 'any' without one; null for street parts."""
    word = unit_word(text)
    level = word.replace_strict(list(LEVEL_OF_UNIT_WORD), list(LEVEL_OF_UNIT_WORD.values()), default=None)
    return (
        pl.when(word.is_not_null())
        .then(level)
        .when(text.str.contains(NOT_A_UNIT))
        .then(None)
        .otherwise(pl.lit("any"))
    )


def unit_key(text: pl.Expr, *, strip_unit_word: bool = True) -> pl.Expr:
    """A folded unit name as a key: unit word dropped, leading zeros of numbers dropped ('phuong 09' ->
    '9'), letters and digits only."""
    bare = text.str.replace(rf"^(?:{UNIT_WORDS})\s+", "") if strip_unit_word else text
    return bare.str.replace_all(r"\b0+([0-9])", "${1}").str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()


def _compact(key: pl.Expr) -> pl.Expr:
    return key.str.replace_all(" ", "")


@dataclass(frozen=True)
class AdminUnitIndex:
    """Match candidates per parent: (parent_code, unit_key, unit_compact, unit_type, unit_code)."""

    provinces: pl.DataFrame
    districts: pl.DataFrame
    wards_by_district: pl.DataFrame
    wards_by_province: pl.DataFrame
    province_codes: frozenset[str]
    # Parent: a 2021 province; children: the wards of every 2021 province merged with it in 2025.
    wards_by_merged_province: pl.DataFrame
    ward_parents: pl.DataFrame  # ward_code -> its 2021 province_code and district_code

    @classmethod
    def build(
        cls, units: pl.DataFrame, aliases: pl.DataFrame, province_2025_map: pl.DataFrame | None = None
    ) -> AdminUnitIndex:
        provinces = units.select("province_code", "province_name").unique()
        districts = units.select("province_code", "district_code", "district_name").unique()
        wards = units.filter(pl.col("ward_code").is_not_null())
        alias_rows = aliases.select(
            pl.lit("").alias("parent_code"),
            unit_key(single_letters(fold(pl.col("alias")))).alias("unit_key"),
            pl.lit(None, dtype=pl.String).alias("unit_type"),
            pl.col("province_code").alias("unit_code"),
        )
        ward_candidates = _candidates(wards, "district_code", "ward_name", "ward_code")
        by_province = _candidates(wards, "province_code", "ward_name", "ward_code")
        # Across a whole province only a ward name that is unique there can be trusted.
        unique_in_province = by_province.filter(
            pl.col("unit_code").n_unique().over("parent_code", "unit_compact") == 1
        )
        return cls(
            provinces=_candidates(provinces, "", "province_name", "province_code", extra=alias_rows),
            districts=_candidates(districts, "province_code", "district_name", "district_code"),
            wards_by_district=ward_candidates,
            wards_by_province=unique_in_province,
            province_codes=frozenset(provinces["province_code"].to_list()),
            wards_by_merged_province=_merged_province_wards(wards, province_2025_map),
            ward_parents=wards.select("ward_code", "province_code", "district_code").unique("ward_code"),
        )


def _merged_province_wards(wards: pl.DataFrame, province_2025_map: pl.DataFrame | None) -> pl.DataFrame:
    """Ward candidates whose parent is a 2021 province and whose children are the wards of the 2021
    provinces merged with it in 2025 (a post-2025 address names the merged province by the name of one
    of them: Bình Định's communes under "Tỉnh Gia Lai"), names unique across the merged province."""
    empty = _candidates(wards.clear(), "province_code", "ward_name", "ward_code")
    if province_2025_map is None:
        return empty
    groups = province_2025_map.select("province_code", "province_code_2025").filter(
        pl.col("province_code").n_unique().over("province_code_2025") > 1
    )
    in_group = wards.join(groups, on="province_code").rename({"province_code": "ward_province"})
    expanded = in_group.join(groups, on="province_code_2025").filter(
        pl.col("province_code") != pl.col("ward_province")
    )
    candidates = _candidates(expanded, "province_code", "ward_name", "ward_code")
    return candidates.filter(pl.col("unit_code").n_unique().over("parent_code", "unit_compact") == 1)


def _candidates(
    units: pl.DataFrame, parent: str, name: str, code: str, *, extra: pl.DataFrame | None = None
) -> pl.DataFrame:
    folded = single_letters(fold(pl.col(name)))
    rows = units.select(
        (pl.col(parent) if parent else pl.lit("")).alias("parent_code"),
        unit_key(folded).alias("unit_key"),
        unit_word(folded).alias("unit_type"),
        pl.col(code).alias("unit_code"),
    )
    if extra is not None:
        rows = pl.concat([rows, extra])
    return rows.unique().with_columns(_compact(pl.col("unit_key")).alias("unit_compact"))


def match_unit_names(
    queries: pl.DataFrame, candidates: pl.DataFrame, *, scorer: Callable[..., Any] = fuzz.ratio
) -> pl.DataFrame:
    """(parent_code, segment_key, segment_type) -> unit_code. Exact on the space-less key, with the unit
    word breaking a tie between same-named units; else the single best fuzzy score >= MIN_FUZZY_SCORE
    among the parent's children whose names are unique. Unmatched queries are dropped."""
    queries = (
        queries.select("parent_code", "segment_key", "segment_type")
        .unique()
        .drop_nulls(["parent_code", "segment_key"])
    )
    queries = queries.with_columns(_compact(pl.col("segment_key")).alias("unit_compact"))
    exact = queries.join(
        candidates.select("parent_code", "unit_compact", "unit_type", "unit_code"),
        on=["parent_code", "unit_compact"],
    )
    keys = ["parent_code", "segment_key", "segment_type"]
    count_codes = pl.col("unit_code").n_unique().over(keys)
    single = exact.filter(count_codes == 1)
    by_type = exact.filter((count_codes > 1) & (pl.col("unit_type") == pl.col("segment_type")))
    exact = pl.concat([single, by_type.filter(count_codes == 1)]).unique(keys)
    fuzzy_queries = queries.join(exact, on=keys, how="anti", nulls_equal=True).filter(
        (pl.col("unit_compact").str.len_chars() >= MIN_FUZZY_KEY_LENGTH)
        & ~pl.col("segment_key").str.contains("[0-9]")
    )
    unique_children = candidates.filter(
        pl.col("unit_code").n_unique().over("parent_code", "unit_compact") == 1
    )
    children_by_parent = unique_children.partition_by("parent_code", as_dict=True)
    fuzzy_frames = []
    for (parent,), group in fuzzy_queries.partition_by("parent_code", as_dict=True).items():
        children = children_by_parent.get((parent,))
        if children is not None:
            codes = _best_fuzzy_codes(group["segment_key"].to_list(), children, scorer)
            fuzzy_frames.append(group.with_columns(pl.Series("unit_code", codes, dtype=pl.String)))
    matched = pl.concat(
        [exact.select(*keys, "unit_code"), *[f.select(*keys, "unit_code") for f in fuzzy_frames]]
    )
    return matched.filter(pl.col("unit_code").is_not_null()).cast(MATCH_SCHEMA)  # type: ignore[arg-type]


def _best_fuzzy_codes(
    keys: list[str], children: pl.DataFrame, scorer: Callable[..., Any]
) -> list[str | None]:
    """Per key, the child with the single highest score at or above the cut-off; None on a tie or miss."""
    scores = process.cdist(keys, children["unit_key"].to_list(), scorer=scorer, dtype=np.uint8, workers=1)
    best = scores.max(axis=1)
    is_unique_best = (scores == best[:, None]).sum(axis=1) == 1
    codes = children["unit_code"].to_numpy()[scores.argmax(axis=1)]
    accepted = (best >= MIN_FUZZY_SCORE) & is_unique_best
    return [str(code) if ok else None for code, ok in zip(codes, accepted, strict=True)]


def segment_rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    """(row_nr, segment_pos, segment): the address's raw segments left to right, then the split ward,
    district and province columns (marked with their level) to their right."""
    segments = pl.col(RAW_ADDRESS).str.split(",")
    # An address typed without any separator is read piece by piece too (see segment_pieces).
    single = pl.when(segments.list.len() == 1).then(
        pl.concat_list(pl.lit(PIECES_MARKER) + segments.list.first())
    )
    from_address = (
        frame.select("row_nr", pl.coalesce(single, segments).alias("segment"))
        .with_columns(pl.int_ranges(0, pl.col("segment").list.len(), dtype=pl.Int64).alias("segment_pos"))
        .explode("segment", "segment_pos")
    )
    split_columns = [
        frame.filter(pl.col(raw_column(level)).str.strip_chars() != "").select(
            "row_nr",
            pl.lit(SPLIT_COLUMN_POSITION + offset, dtype=pl.Int64).alias("segment_pos"),
            pl.format("@{} {}", pl.lit(level), pl.col(raw_column(level))).alias("segment"),
        )
        for offset, level in enumerate(UNIT_LEVELS)
    ]
    return pl.concat([from_address.select("row_nr", "segment_pos", "segment"), *split_columns])


def segment_pieces(body: pl.Expr) -> pl.Expr:
    """A folded address typed without separators, cut before each inner unit word that follows a
    name ("phuong ben nghe quan 1 thanh pho ho chi minh" -> three pieces; "huyen quan ba" stays)."""
    kept_pairs = body.str.replace_all(rf"(^| )({UNIT_WORDS}) ({UNIT_WORDS}) ", "${1}${2}_${3} ")
    cut = kept_pairs.str.replace_all(rf" ({UNIT_WORDS}) ", ",${1} ").str.replace_all("_", " ")
    return cut.str.split(",")


def segment_readings(segments: pl.LazyFrame) -> pl.LazyFrame:
    """Each distinct raw segment -> its readings (segment_level, segment_type, segment_key), placed at
    segment_pos * PIECES_PER_SEGMENT + piece: one reading from the unit word and, when the text starts
    with one, one of the whole text; a segment with inner unit words is read whole and piece by piece.
    Street parts and blanks are left out."""
    text = single_letters(expand_abbreviations(fold(repair_mojibake(pl.col("segment")))))
    distinct = (
        segments.select("segment")
        .unique()
        .with_columns(text.alias("text"))
        .with_columns(
            pl.col("text").str.extract(LEVEL_MARKER, 1).alias("marker"),
            pl.col("text").str.starts_with(PIECES_MARKER).alias("in_pieces"),
            pl.col("text").str.replace(LEVEL_MARKER, "").str.strip_prefix(PIECES_MARKER).alias("body"),
        )
        .with_columns(segment_pieces(pl.col("body")).alias("piece"))
    )
    pieces = (
        distinct.filter(pl.col("in_pieces") & (pl.col("piece").list.len() > 1))
        .with_columns(pl.int_ranges(0, pl.col("piece").list.len()).alias("piece_pos"))
        .explode("piece", "piece_pos")
        .select("segment", "marker", "piece_pos", pl.col("piece").str.strip_chars().alias("body"))
    )
    bodies = pl.concat(
        [distinct.select("segment", "marker", pl.lit(0, dtype=pl.Int64).alias("piece_pos"), "body"), pieces]
    )
    word = unit_word(pl.col("body"))
    by_unit_word = bodies.select(
        "segment",
        "piece_pos",
        pl.coalesce(
            pl.when(word.is_not_null()).then(segment_level(pl.col("body"))),
            "marker",
            segment_level(pl.col("body")),
        ).alias("segment_level"),
        word.alias("segment_type"),
        unit_key(pl.col("body")).alias("segment_key"),
    )
    whole_text = bodies.filter(word.is_not_null()).select(
        "segment",
        "piece_pos",
        pl.coalesce("marker", pl.lit("any")).alias("segment_level"),
        pl.lit(None, dtype=pl.String).alias("segment_type"),
        unit_key(pl.col("body"), strip_unit_word=False).alias("segment_key"),
    )
    readings = pl.concat([by_unit_word, whole_text]).filter(
        pl.col("segment_level").is_not_null() & (pl.col("segment_key") != "")
    )
    placed = pl.col("segment_pos") * PIECES_PER_SEGMENT + pl.col("piece_pos")
    return segments.join(readings, on="segment").select(
        "row_nr", placed.alias("segment_pos"), pl.exclude("row_nr", "segment_pos", "segment", "piece_pos")
    )


def _rightmost_match(
    segments: pl.DataFrame,
    parents: pl.DataFrame,
    candidates: pl.DataFrame,
    levels: list[str],
    prefix: str,
    scorer: Callable[..., Any] = fuzz.ratio,
) -> pl.DataFrame:
    """Per row, the rightmost segment (left of the parent's segment) that names a child of the parent."""
    queries = segments.filter(pl.col("segment_level").is_in(levels)).join(parents, on="row_nr")
    queries = queries.filter(pl.col("segment_pos") < pl.col("parent_pos"))
    matches = match_unit_names(queries, candidates, scorer=scorer)
    return (
        queries.join(matches, on=["parent_code", "segment_key", "segment_type"], nulls_equal=True)
        .group_by("row_nr")
        .agg(
            pl.col("unit_code").sort_by("segment_pos").last().alias(f"{prefix}_code"),
            pl.col("segment_pos").max().alias(f"{prefix}_pos"),
        )
    )


def resolve_address_frame(addresses: pl.DataFrame, index: AdminUnitIndex) -> pl.DataFrame:
    """The codes of each distinct address (eager: the levels feed each other). Input columns:
    ADDRESS_COLUMNS, the address already cut by `unit_part`; output adds CODE_COLUMNS."""
    rows = addresses.with_row_index("row_nr")
    segments = segment_readings(segment_rows(rows.lazy())).collect(engine=EAGER_ENGINE)
    everything_left = pl.lit(EVERYTHING_LEFT, dtype=pl.Int64)
    country = rows.select("row_nr", pl.lit("").alias("parent_code"), everything_left.alias("parent_pos"))
    provinces = _rightmost_match(segments, country, index.provinces, ["province", "city", "any"], "province")
    with_province = rows.select("row_nr", "facility_province_code").join(provinces, on="row_nr", how="left")
    province_parent = with_province.select(
        "row_nr",
        pl.coalesce("province_code", "facility_province_code").alias("parent_code"),
        pl.col("province_pos").fill_null(everything_left).alias("parent_pos"),
    ).filter(pl.col("parent_code").is_not_null())
    districts = _rightmost_match(
        segments, province_parent, index.districts, ["district", "city", "any"], "district"
    )
    district_parent = province_parent.join(districts, on="row_nr", how="left").select(
        "row_nr",
        pl.coalesce("district_code", "parent_code").alias("parent_code"),
        pl.coalesce("district_pos", "parent_pos").alias("parent_pos"),
        pl.col("district_code").is_not_null().alias("has_district"),
    )
    in_district = district_parent.filter("has_district").drop("has_district")
    in_province = district_parent.filter(~pl.col("has_district")).drop("has_district")
    ward_levels = ["ward", "any"]
    wards = pl.concat(
        [
            _rightmost_match(
                segments, in_district, index.wards_by_district, ward_levels, "ward", fuzz.token_set_ratio
            ),
            _rightmost_match(segments, in_province, index.wards_by_province, ward_levels, "ward"),
        ]
    )
    # No ward of that name in the province the text names (not the facility's): a province merged with
    # it in 2025 may hold it.
    unplaced = in_province.join(provinces, on="row_nr", how="semi").join(wards, on="row_nr", how="anti")
    merged = _rightmost_match(
        segments, unplaced, index.wards_by_merged_province, ward_levels, "merged_ward"
    ).join(
        index.ward_parents.rename(
            {
                "ward_code": "merged_ward_code",
                "province_code": "merged_province",
                "district_code": "merged_district",
            }
        ),
        on="merged_ward_code",
    )
    found_any = pl.any_horizontal(pl.col(*CODE_COLUMNS).is_not_null())
    codes = (
        with_province.join(districts, on="row_nr", how="left")
        .join(wards, on="row_nr", how="left")
        .join(merged, on="row_nr", how="left")
        .select(
            "row_nr",
            pl.when(found_any)
            .then(pl.coalesce("merged_province", "province_code", "facility_province_code"))
            .alias("province_code"),
            pl.coalesce("merged_district", "district_code").alias("district_code"),
            pl.coalesce("merged_ward_code", "ward_code").alias("ward_code"),
        )
    )
    return rows.join(codes, on="row_nr", how="left").select(*ADDRESS_COLUMNS, *CODE_COLUMNS)


def resolve_admin_codes(
    frame: pl.LazyFrame, index: AdminUnitIndex, *, lookup_source: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Add province_code, district_code, ward_code to a frame with ADDRESS_COLUMNS (raw_address,
    raw_province, raw_district, raw_ward as sent, and facility_province_code). Each distinct combination, street part cut off (taken from
    `lookup_source`, by default the frame itself), is resolved once.

    The distinct combinations are collected here, before the plan that joins them back runs: resolving
    runs queries of its own, and a query run inside another query's callback (map_batches) panicked the
    streaming engine one night in two."""
    units = unit_part(pl.col(RAW_ADDRESS)).alias("_units")
    source = frame if lookup_source is None else lookup_source
    distinct = (
        source.select(units.alias(RAW_ADDRESS), *ADDRESS_COLUMNS[1:]).unique().collect(engine=EAGER_ENGINE)
    )
    typed = distinct.cast(ADDRESS_SCHEMA)  # type: ignore[arg-type]
    resolved = resolve_address_frame(typed, index).rename({RAW_ADDRESS: "_units"})
    keys = ["_units", *ADDRESS_COLUMNS[1:]]
    return (
        frame.with_columns(units)
        .join(resolved.lazy(), on=keys, how="left", nulls_equal=True, maintain_order="left")
        .drop("_units")
    )


def facility_province_code(source_file: pl.Expr, province_codes: frozenset[str]) -> pl.Expr:
    """From the landing path <NN_Province>/<facility code>/<file>: the folder's NN, else the facility
    code's first two digits, when that is a real province code."""
    parts = source_file.str.split("/")
    from_folder = parts.list.first().str.extract(r"^([0-9]{2})_", 1)
    from_facility = parts.list.get(1, null_on_oob=True).str.extract(r"^([0-9]{2})[0-9]", 1)
    codes = list(province_codes)
    return pl.coalesce(
        pl.when(from_folder.is_in(codes)).then(from_folder),
        pl.when((parts.list.len() >= 3) & from_facility.is_in(codes)).then(from_facility),
    )
