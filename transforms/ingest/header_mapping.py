"""Header mapping through one synonym table (data/reference/header_synonyms.csv).

A header matches a synonym when both fold to the same key: bracketed notes dropped ("Ngày sinh
(dd/mm/yyyy)"), diacritics stripped, đ→d, lowercase, and everything but letters, digits and '#'
removed.
So "Họ và tên", "Ho va ten", "HO_TEN"... fold to "hovaten"/"hoten", both listed in the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import polars as pl

from vaxsync.core.contracts import EXPORT_FIELDS, REQUIRED_FIELDS
from vaxsync.core.reference import reference_path

SYNONYMS_PATH = reference_path("header_synonyms.csv")

# Canonical name for recognised columns that carry nothing to stage (the STT row counter).
IGNORED_FIELD = "_ignore"


def fold_header_expr(header: pl.Expr) -> pl.Expr:
    """The folded matching key of a header cell (see module docstring)."""
    return (
        header.str.replace_all(r"\([^)]*\)|\[[^\]]*\]", "")
        .str.normalize("NFD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_many(["đ", "Đ", "Ð"], ["d", "d", "d"])  # Ð (U+00D0) is a common look-alike of Đ
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9#]", "")  # '#' alone is a common row-number header
    )


def fold_headers(headers: list[str | None]) -> list[str]:
    """Fold a short list of header cells (one file's header row)."""
    folded = (
        pl.Series("header", headers, dtype=pl.String).to_frame().select(fold_header_expr(pl.col("header")))
    )
    return [key or "" for key in folded.to_series().to_list()]


@cache
def synonym_lookup() -> dict[str, str]:
    """Folded synonym -> canonical field, validated: every field is known and no key is ambiguous."""
    table = pl.read_csv(SYNONYMS_PATH, infer_schema=False)
    unknown_fields = set(table["canonical_field"]) - {*EXPORT_FIELDS, IGNORED_FIELD}
    if unknown_fields:
        raise ValueError(f"{SYNONYMS_PATH.name}: unknown canonical fields {sorted(unknown_fields)}")
    folded = table.with_columns(key=fold_header_expr(pl.col("synonym"))).unique(["key", "canonical_field"])
    clashes = folded.filter(pl.col("key").is_duplicated())
    if clashes.height or (folded["key"] == "").any():
        raise ValueError(f"{SYNONYMS_PATH.name}: synonyms folding to several fields: {clashes.rows()}")
    return dict(zip(folded["key"], folded["canonical_field"], strict=True))


@dataclass(frozen=True)
class HeaderMapping:
    """How one file's header row maps onto the canonical export fields.

    `names` are the header cells made unique ("Ghi chú", "Ghi chú (2)"; blank headers become
    "column_<n>"). A canonical field can be fed by several columns: the first non-blank value wins.
    """

    names: tuple[str, ...]
    field_columns: dict[str, tuple[int, ...]]  # canonical field -> column positions, in file order
    extra_columns: tuple[int, ...]  # positions of columns kept as raw JSON (unknown + repeats)
    unknown_columns: tuple[int, ...]  # positions of headers the synonym table does not know

    @property
    def missing_required(self) -> list[str]:
        return [field for field in REQUIRED_FIELDS if field not in self.field_columns]

    def column_mapping_json(self) -> str:
        mapping = {
            self.names[pos]: field for field, positions in self.field_columns.items() for pos in positions
        }
        ordered = dict(sorted(mapping.items(), key=lambda item: self.names.index(item[0])))
        return json.dumps(ordered, ensure_ascii=False)

    def unknown_columns_json(self) -> str:
        return json.dumps([self.names[pos] for pos in self.unknown_columns], ensure_ascii=False)


def unique_header_names(headers: list[str | None]) -> tuple[str, ...]:
    """Header cells as unique, non-blank column names, in file order. Linear in the header's width: a
    hostile header of 100k equal cells must not take cubic time."""
    names: list[str] = []
    taken: set[str] = set()
    next_copy: dict[str, int] = {}
    for position, header in enumerate(headers):
        base = (header or "").strip() or f"column_{position + 1}"
        name, copy = base, next_copy.get(base, 1)
        while name in taken:
            copy += 1
            name = f"{base} ({copy})"
        next_copy[base] = copy
        names.append(name)
        taken.add(name)
    return tuple(names)


def map_header_row(headers: list[str | None]) -> HeaderMapping:
    """Map one header row; blank header cells over empty columns are dropped by the caller."""
    lookup = synonym_lookup()
    field_columns: dict[str, list[int]] = {}
    extra: list[int] = []
    unknown: list[int] = []
    for position, key in enumerate(fold_headers(headers)):
        field = lookup.get(key) if key else None  # a blank header names nothing
        if field == IGNORED_FIELD:
            continue
        if field is None:
            unknown.append(position)
            extra.append(position)
            continue
        if field in field_columns:
            extra.append(position)  # a repeated field: coalesced, and kept raw so no value is lost
        field_columns.setdefault(field, []).append(position)
    return HeaderMapping(
        names=unique_header_names(headers),
        field_columns={field: tuple(positions) for field, positions in field_columns.items()},
        extra_columns=tuple(extra),
        unknown_columns=tuple(unknown),
    )


def header_score_expr(cells: pl.Expr) -> pl.Expr:
    """How many distinct canonical fields a list of cells names (unknown and ignored headers not counted).

    The header row is the best-scoring row near the top of a file; data rows score about zero."""
    lookup = synonym_lookup()
    fields = cells.list.eval(
        fold_header_expr(pl.element()).replace_strict(
            list(lookup), list(lookup.values()), default=None, return_dtype=pl.String
        )
    )
    return fields.list.eval(pl.element().filter(pl.element() != IGNORED_FIELD)).list.n_unique().fill_null(0)


def header_scores(candidate_rows: pl.DataFrame) -> pl.Series:
    """For each row of a `cells` (List[String]) frame: header_score_expr, as a UInt32 series `score`."""
    return candidate_rows.select(score=header_score_expr(pl.col("cells")).cast(pl.UInt32)).to_series()
