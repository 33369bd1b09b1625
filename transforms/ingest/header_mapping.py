"""Header mapping through one synonym table (data/reference/header_synonyms.csv).

A header matches a synonym when both fold to the same key: bracketed notes dropped ("Ngày sinh
(dd/mm/yyyy)"), diacritics stripped, đ→d, lowercase, and everything but letters, digits and '#'
removed.
So "Họ và tên", "Ho va ten", "HO_TEN"... fold to "hovaten"/"hoten", both listed in the table.

A wide template gives later doses columns of their own: "Ngày tiêm mũi 2", "Vắc xin (mũi 2)",
"NGAY_TIEM_MUI_3", "Mũi 2 - Ngày tiêm". A header that is a per-dose field's synonym with a dose number
(before or after it, in a bracket or not) is that field of that dose (`HeaderMapping.dose_columns`);
staging stages one row per dose (transforms/ingest/wide_doses.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache

import polars as pl

from vaxsync.core.contracts import EXPORT_FIELDS, REQUIRED_FIELDS
from vaxsync.core.reference import reference_path

SYNONYMS_PATH = reference_path("header_synonyms.csv")

# Canonical name for recognised columns that carry nothing to stage (the STT row counter).
IGNORED_FIELD = "_ignore"
# Fields a wide template repeats per dose. Without a dose number such a column is the first dose's; a
# vaccine or facility column is every dose's when no dose has its own (a lot is never shared).
PER_DOSE_FIELDS = ("vaccinated_on", "vaccine", "lot", "facility_name")
SHARED_DOSE_FIELDS = ("vaccine", "facility_name")
DOSE_FIELD = "dose"  # a wide file's dose number is its columns' (the dose column is kept raw)
# A folded header "<field><unit><n>" or "<unit><n><field>": "ngaytiemmui2", "vacxinlan2", "mui2ngaytiem".
_DOSE_UNIT = r"(?:muitiem|mui|lantiem|lan|dose)"
DOSE_AFTER = re.compile(rf"^(?P<base>[a-z#]+?){_DOSE_UNIT}?(?:so|thu)?(?P<dose>[1-9])$")
# In brackets a number needs its dose word: "Ngày tiêm (mũi 2)" is dose 2, "Ngày tiêm (7)" is column 7 of
# a form that numbers its columns (common in Vietnamese templates).
DOSE_AFTER_NAMED = re.compile(rf"^(?P<base>[a-z#]+?){_DOSE_UNIT}(?:so|thu)?(?P<dose>[1-9])$")
DOSE_BEFORE = re.compile(rf"^{_DOSE_UNIT}(?:so|thu)?(?P<dose>[1-9])(?P<base>[a-z#]+)$")
DOSE_GROUP = re.compile(rf"^{_DOSE_UNIT}(?:so|thu)?[1-9]$")  # "Mũi 2" over a dose's columns


BRACKETED_NOTES = r"\([^)]*\)|\[[^\]]*\]"


def fold_header_expr(header: pl.Expr, *, keep_notes: bool = False) -> pl.Expr:
    """The folded matching key of a header cell (see module docstring); with `keep_notes` the text in
    brackets is kept ("Ngày tiêm (mũi 2)" -> "ngaytiemmui2")."""
    if not keep_notes:
        header = header.str.replace_all(BRACKETED_NOTES, "")
    return (
        header.str.normalize("NFD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_many(["đ", "Đ", "Ð"], ["d", "d", "d"])  # Ð (U+00D0) is a common look-alike of Đ
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9#]", "")  # '#' alone is a common row-number header
    )


def fold_headers(headers: list[str | None], *, keep_notes: bool = False) -> list[str]:
    """Fold a short list of header cells (one file's header row). A cell is folded once per process
    (a query per header row cost ~1 ms, and a night's files share their templates' cells); a batch
    folds its files' header cells in one call first."""
    folded = _FOLDED_HEADERS[keep_notes]
    new_cells = [cell for cell in dict.fromkeys(headers) if cell not in folded]
    if new_cells:
        if len(folded) + len(new_cells) > MAX_FOLDED_HEADERS:
            folded.clear()  # bounded: only a hostile landing has this many distinct header cells
        keys = (
            pl.Series("header", new_cells, dtype=pl.String)
            .to_frame()
            .select(fold_header_expr(pl.col("header"), keep_notes=keep_notes))
            .to_series()
        )
        folded.update(zip(new_cells, (key or "" for key in keys), strict=True))
    return [folded[cell] for cell in headers]


MAX_FOLDED_HEADERS = 100_000
_FOLDED_HEADERS: dict[bool, dict[str | None, str]] = {False: {}, True: {}}  # by keep_notes


def dose_numbered_field(key: str, *, dose_word_required: bool = False) -> tuple[str, int] | None:
    """(per-dose field, dose number) of a folded header naming one dose's column, else None; with
    `dose_word_required` (a key folded with its bracketed notes) the number must follow a dose word."""
    lookup = synonym_lookup()
    for pattern in (DOSE_AFTER_NAMED if dose_word_required else DOSE_AFTER, DOSE_BEFORE):
        found = pattern.match(key)
        if found and lookup.get(found["base"]) in PER_DOSE_FIELDS:
            return lookup[found["base"]], int(found["dose"])
    return None


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


def with_dose_group_labels(header: list[str | None], above: list[str | None]) -> list[str | None]:
    """A two-row header ("Mũi 1" and "Mũi 2" over merged cells, the field names below them): each
    per-dose field name under a dose label prefixed with it ("Mũi 2 Ngày tiêm"). A merged cell's text sits
    in its first column: a label covers the columns to its right up to the next non-blank cell above."""
    above = (above + [None] * len(header))[: len(header)]
    keys, own_keys = fold_headers(above), fold_headers(header)
    lookup = synonym_lookup()
    fields = [lookup.get(key) for key in own_keys if lookup.get(key) in PER_DOSE_FIELDS]
    if len(fields) == len(set(fields)) or not any(DOSE_GROUP.match(key) for key in keys):
        return header  # labels only tell apart a per-dose field the header repeats (batch staging's test)
    labelled, label = [], None
    for cell, over, key, own_key in zip(header, above, keys, own_keys, strict=True):
        if over is not None and over.strip():
            label = over.strip() if DOSE_GROUP.match(key) else None
        per_dose = lookup.get(own_key) in PER_DOSE_FIELDS
        labelled.append(f"{label} {cell}" if label and cell and per_dose else cell)
    return labelled


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
    # A wide template's numbered columns: dose number -> per-dose field -> column positions.
    dose_columns: dict[int, dict[str, tuple[int, ...]]] = field(default_factory=dict)

    @property
    def missing_required(self) -> list[str]:
        numbered = {name for columns in self.dose_columns.values() for name in columns}
        return [name for name in REQUIRED_FIELDS if name not in self.field_columns and name not in numbered]

    @property
    def repeats_dose_fields(self) -> bool:
        """A per-dose field fed by several plain columns (a dose group row above may tell them apart)."""
        return any(len(self.field_columns.get(name, ())) > 1 for name in PER_DOSE_FIELDS)

    @property
    def dose_numbers(self) -> tuple[int, ...]:
        """The doses a wide template has columns for (1 also for its plain date column); () when narrow."""
        if not self.dose_columns:
            return ()
        plain_first = "vaccinated_on" in self.field_columns
        return tuple(sorted({*self.dose_columns, *((1,) if plain_first else ())}))

    def own_dose_columns(self, dose: int) -> tuple[int, ...]:
        """The columns that belong to one dose alone: a row holds that dose when one of them is filled."""
        own = [position for positions in self.dose_columns.get(dose, {}).values() for position in positions]
        if dose == 1:
            plain = [self.field_columns.get(name, ()) for name in PER_DOSE_FIELDS if not self._shared(name)]
            own += [position for positions in plain for position in positions]
        return tuple(sorted(own))

    def _shared(self, name: str) -> bool:
        """A plain column of `name` is every dose's: no dose has a column of its own for it."""
        return name in SHARED_DOSE_FIELDS and not any(
            name in columns for columns in self.dose_columns.values()
        )

    def for_dose(self, dose: int) -> HeaderMapping:
        """A wide template seen as the narrow one of one dose: its per-dose fields read from that dose's
        columns (a plain column is the first dose's, or every dose's when shared); other columns as they
        are; the dose column and the plain columns a numbered first dose repeats kept raw."""
        field_columns = {
            name: positions
            for name, positions in self.field_columns.items()
            if name not in PER_DOSE_FIELDS and name != DOSE_FIELD
        }
        numbered_first = self.dose_columns.get(1, {})
        kept_raw = [*self.field_columns.get(DOSE_FIELD, ())]
        for name in PER_DOSE_FIELDS:
            plain = self.field_columns.get(name, ())
            positions = self.dose_columns.get(dose, {}).get(name, ())
            if dose == 1 or self._shared(name):
                positions += plain
            if name in numbered_first:
                kept_raw += plain
            if positions:
                field_columns[name] = positions
        return HeaderMapping(
            names=self.names,
            field_columns=field_columns,
            extra_columns=tuple(sorted({*self.extra_columns, *kept_raw})),
            unknown_columns=self.unknown_columns,
        )

    def column_mapping_json(self) -> str:
        """{header: field}; a wide template's numbered columns as "<field>#<dose>"."""
        mapping = {
            self.names[pos]: name for name, positions in self.field_columns.items() for pos in positions
        }
        mapping |= {
            self.names[pos]: f"{name}#{dose}"
            for dose, columns in self.dose_columns.items()
            for name, positions in columns.items()
            for pos in positions
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
    dose_columns: dict[int, dict[str, list[int]]] = {}
    extra: list[int] = []
    unknown: list[int] = []
    keys = zip(fold_headers(headers), fold_headers(headers, keep_notes=True), strict=True)
    for position, (key, noted_key) in enumerate(keys):
        numbered = dose_numbered_field(key) or dose_numbered_field(noted_key, dose_word_required=True)
        if numbered is not None:
            dose_field, dose = numbered
            dose_columns.setdefault(dose, {}).setdefault(dose_field, []).append(position)
            continue
        name = lookup.get(key) if key else None  # a blank header names nothing
        if name == IGNORED_FIELD:
            continue
        if name is None:
            unknown.append(position)
            extra.append(position)
            continue
        if name in field_columns:
            extra.append(position)  # a repeated field: coalesced, and kept raw so no value is lost
        field_columns.setdefault(name, []).append(position)
    return HeaderMapping(
        names=unique_header_names(headers),
        field_columns={name: tuple(positions) for name, positions in field_columns.items()},
        extra_columns=tuple(extra),
        unknown_columns=tuple(unknown),
        dose_columns={
            dose: {name: tuple(positions) for name, positions in columns.items()}
            for dose, columns in sorted(dose_columns.items())
        },
    )


def with_header_scores(rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` with `score` (UInt32): how many distinct canonical fields its `cells` (List[String]) name
    (unknown and ignored headers not counted). The header row is the best-scoring row near the top of a
    file; data rows score about zero.

    Many rows (a batch's first records split three ways, its files sharing templates and values) repeat
    most of their cells: each distinct cell is folded once, folding being the costly part. A few rows (a
    sheet's header search) are scored cell by cell in one select, cheaper than the distinct cells' joins.
    The rows come materialised: the query reads them twice."""
    if rows.height < FOLD_DISTINCT_CELLS_FROM_ROWS:
        return rows.with_columns(score=_score_of_each_row(pl.col("cells")))
    indexed = rows.lazy().with_row_index(_ROW)
    cells = indexed.select(_ROW, cell=pl.col("cells")).explode("cell")
    fields = (
        cells.select("cell")
        .unique()
        .filter(_may_name_a_field(pl.col("cell")))
        .with_columns(field=_field_named_by(pl.col("cell")))
        .filter(pl.col("field").is_not_null() & (pl.col("field") != IGNORED_FIELD))
    )
    named = cells.join(fields, on="cell").group_by(_ROW).agg(score=pl.col("field").n_unique().cast(pl.UInt32))
    return (
        indexed.join(named, on=_ROW, how="left", maintain_order="left")
        .with_columns(pl.col("score").fill_null(0))
        .drop(_ROW)
        .collect()
    )


_ROW = "_scored_row"
FOLD_DISTINCT_CELLS_FROM_ROWS = 500


def _score_of_each_row(cells: pl.Expr) -> pl.Expr:
    """with_header_scores' score, reading every cell of each row."""
    fields = cells.list.eval(pl.when(_may_name_a_field(pl.element())).then(_field_named_by(pl.element())))
    named = fields.list.eval(pl.element().filter(pl.element() != IGNORED_FIELD))  # drops nulls too
    return named.list.n_unique().fill_null(0).cast(pl.UInt32)


def _field_named_by(cell: pl.Expr) -> pl.Expr:
    """The canonical field a header cell names, or null."""
    folded = fold_header_expr(cell.str.replace_all(BRACKETED_NOTES, ""), keep_notes=True)
    return folded.replace_strict(_synonym_keys(), _synonym_fields(), default=None, return_dtype=pl.String)


@cache
def _synonym_keys() -> pl.Series:
    """The synonym table's folded keys as a Series (a literal built once, not for each file's query)."""
    return pl.Series(list(synonym_lookup()), dtype=pl.String)


@cache
def _synonym_fields() -> pl.Series:
    return pl.Series(list(synonym_lookup().values()), dtype=pl.String)


@cache
def _synonyms_hold_digits() -> bool:
    return any(character.isdigit() for key in synonym_lookup() for character in key)


def _may_name_a_field(cell: pl.Expr) -> pl.Expr:
    """False for a cell that cannot fold to a synonym (null, or blank), and, while no synonym holds a
    digit, for a cell with one outside brackets: folding keeps every ASCII digit and makes none, and
    most data cells (a date, a phone, an ID) hold one. Only the others are folded."""
    if _synonyms_hold_digits():
        return cell.is_not_null()
    return cell.is_not_null() & (
        ~cell.str.contains("[0-9]") | ~cell.str.replace_all(BRACKETED_NOTES, "").str.contains("[0-9]")
    )


def header_scores(candidate_rows: pl.DataFrame) -> pl.Series:
    """For each row of a `cells` (List[String]) frame: its header score (with_header_scores), a UInt32
    series `score`."""
    return with_header_scores(candidate_rows.select("cells")).get_column("score")
