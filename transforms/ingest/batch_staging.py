"""Stage many landed exports at once: the same ledger rows and staged rows as stage_export, file by file.

stage_export costs about thirty small polars queries per file, whatever its size. Here a batch's text
files are decoded together (text_decoding.decode_export_bytes_many), and their lines, separator, fields,
header row and data rows are columns of one frame keyed by `file`; the rows are staged in one query per
distinct header row. Header mapping stays per file (a dict from the header's cells), cached since files
share headers.

Anything else (a workbook, a quoted field spanning lines, a file that would be quarantined, a batch
query failing) goes through stage_export, which stays the reference: the unit tests stage landings both
ways and compare every ledger column and every staged row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from transforms.ingest.delimited import OPENS_QUOTE, _split_fields, lines_text, sniff_separators
from transforms.ingest.header_mapping import HeaderMapping, fold_headers, map_header_row, with_header_scores
from transforms.ingest.landing import landed_path, outside_landing
from transforms.ingest.staging import (
    LOCK_FILE_PREFIX,
    TEXT_SUFFIXES,
    Quarantine,
    ReadState,
    StagedExport,
    has_date_cells,
    ledger_row,
    raw_layer_metrics,
    read_text_bytes,
    refuse_oversized_file,
    stage_export,
    staged_row_columns,
    text_file_format,
)
from transforms.ingest.structure import (
    HEADER_REPEAT_FIELDS,
    HEADER_SEARCH_ROWS,
    HeaderRow,
    dropped_row_counts,
    header_repeat_cells,
    header_width,
    is_total_row,
    malformed_row_issue,
    row_kind,
)
from transforms.ingest.text_decoding import DecodedText, decode_export_bytes_many
from transforms.ingest.workbook import WORKBOOK_SUFFIXES, looks_like_workbook
from transforms.normalize.dates import count_locale_swap_repairs_by_file
from vaxsync.core.contracts import STAGED_ROW_SCHEMA
from vaxsync.core.setting_defaults import LANDING_FILE_MAX_BYTES

logger = logging.getLogger(__name__)

FILE = "file"  # a file's position in the batch


@dataclass(frozen=True)
class _TextFile:
    """A file the batch path reads: where it is in the batch, and its decoded text."""

    position: int
    source_file: str
    file_hash: str
    size: int
    decoded: DecodedText


@dataclass(frozen=True)
class _Layout:
    """What the batch found in one file: its separator and header row, and the mapping of that header."""

    separator: str
    header: HeaderRow
    mapping: HeaderMapping


def stage_exports(
    landing_dir: Path, files: Sequence[tuple[str, str]], *, max_file_bytes: int = LANDING_FILE_MAX_BYTES
) -> list[StagedExport]:
    """stage_export for each (source_file, file_hash), in order, reading the usual files as one batch."""
    staged: dict[int, StagedExport] = {}
    try:
        staged = _stage_text_batch(_plain_text_files(landing_dir, files, max_file_bytes))
    except Exception as error:  # the batch path is only a shortcut: each file is staged alone instead
        logger.warning("staging a batch file by file after %s", type(error).__name__)
        staged = {}
    exports = [
        staged.get(position)
        or stage_export(
            landing_dir, source_file, file_hash, count_date_repairs=False, max_file_bytes=max_file_bytes
        )
        for position, (source_file, file_hash) in enumerate(files)
    ]
    _count_date_repairs(exports)
    return exports


def _count_date_repairs(exports: list[StagedExport]) -> None:
    """The ledger's dates_repaired of the workbooks with date cells (stage_export's count), in one query
    for the batch: the query's plan costs ~50 ms a call, whatever its rows."""
    with_dates = {
        position: export.rows
        for position, export in enumerate(exports)
        if export.rows is not None and has_date_cells(export.rows)
    }
    if not with_dates:
        return
    rows = pl.concat(
        [
            frame.lazy().with_columns(pl.lit(position, dtype=pl.UInt32).alias(FILE))
            for position, frame in with_dates.items()
        ]
    )
    repaired = count_locale_swap_repairs_by_file(rows, FILE)
    for position in with_dates:
        exports[position].ledger["dates_repaired"] = repaired.get(position, 0)


def _plain_text_files(
    landing_dir: Path, files: Sequence[tuple[str, str]], max_file_bytes: int = LANDING_FILE_MAX_BYTES
) -> list[_TextFile]:
    """The text files of the batch whose reading and decoding does not quarantine them, decoded."""
    candidates: list[tuple[int, str, str, bytes]] = []
    for position, (source_file, file_hash) in enumerate(files):
        path = landed_path(landing_dir, source_file)
        suffix = path.suffix.lower()
        if (
            path.name.startswith(LOCK_FILE_PREFIX)
            or outside_landing(landing_dir, path)
            or suffix not in TEXT_SUFFIXES
            or suffix in WORKBOOK_SUFFIXES
        ):
            continue
        try:
            refuse_oversized_file(path.stat().st_size, max_file_bytes)
            raw = read_text_bytes(path)
        except (OSError, Quarantine):  # stage_export says why
            continue
        if raw and not looks_like_workbook(raw[:8]):
            candidates.append((position, source_file, file_hash, raw))
    decoded = decode_export_bytes_many([raw for *_, raw in candidates])
    return [
        _TextFile(position, source_file, file_hash, len(raw), text)
        for (position, source_file, file_hash, raw), text in zip(candidates, decoded, strict=True)
        if text is not None and not text.unrecognised and text.text.strip()
    ]


def _stage_text_batch(files: list[_TextFile]) -> dict[int, StagedExport]:
    if not files:
        return {}
    records = _single_line_records(files)
    sniffed = sniff_separators(records.lazy(), FILE)
    separators = dict(sniffed.select(FILE, "separator").iter_rows())
    grid = _grid(records.filter(pl.col(FILE).is_in(list(separators))), separators)
    sniffed_scores = sniffed.select(FILE, "header_scores").explode("header_scores").unnest("header_scores")
    layouts = _layouts(grid, separators, sniffed_scores)
    if not layouts:
        return {}
    staged_files = [file for file in files if file.position in layouts]
    classified = _classified(grid, layouts, staged_files)
    rows_by_file = _staged_rows_by_file(classified, layouts)
    dropped_by_file = _dropped_rows_by_file(classified)
    return {
        file.position: _loaded(file, layouts[file.position], rows, dropped_by_file[file.position])
        for file in staged_files
        if (rows := rows_by_file.get(file.position)) is not None  # no data rows: stage_export quarantines
    }


def _single_line_records(files: list[_TextFile]) -> pl.DataFrame:
    """`file`, `line_number`, `record`: every line of the files in which no quoted field spans lines
    (split_records reads those files line by line too; the others are left to stage_export)."""
    texts = pl.DataFrame(
        {
            FILE: [file.position for file in files],
            "text": [lines_text(file.decoded.text) for file in files],
        },
        schema={FILE: pl.UInt32, "text": pl.String},
    )
    lines = (
        texts.lazy()
        .select(FILE, record=pl.col("text").str.split("\n"))
        .explode("record")
        .with_columns(line_number=(pl.int_range(pl.len()).over(FILE) + 1).cast(pl.Int32))
        .collect()
    )
    # A line that leaves a quote open is the only way a record spans lines (delimited._group_quoted_lines).
    # The costly regex runs on the lines holding a quote only (`&` would run it on every line).
    with_quote = lines.filter(pl.col("record").str.contains('"', literal=True))
    opening = with_quote.filter(pl.col("record").str.contains(OPENS_QUOTE))[FILE].unique()
    return lines.filter(~pl.col(FILE).is_in(opening.implode())).select(FILE, "line_number", "record")


def _grid(records: pl.DataFrame, separators: dict[int, str]) -> pl.DataFrame:
    """split_fields of each file with its separator: `file`, `line_number`, `cells`, `field_count`, and
    `last_filled` (the position of a row's last non-blank cell)."""
    file_separator = pl.col(FILE).replace_strict(separators, return_dtype=pl.String)
    by_separator = records.lazy().with_columns(separator=file_separator)
    grids = [  # each in its own order: sorted once, all together
        _split_fields(
            by_separator.filter(pl.col("separator") == separator), separator, (FILE,), in_line_order=False
        )
        for separator in sorted(set(separators.values()))
    ]
    return pl.concat(grids).sort(FILE, "line_number").with_columns(last_filled=_last_filled()).collect()


def _last_filled() -> pl.Expr:
    """The position of the last non-blank cell of `cells` (Int64), null when none is: counted back from the
    end with list operations (an int_range inside list.eval would run once per row)."""
    filled = pl.col("cells").list.eval(pl.element().is_not_null())
    from_the_end = filled.list.reverse().list.arg_max().cast(pl.Int64)
    return pl.when(filled.list.any()).then(pl.col("cells").list.len().cast(pl.Int64) - 1 - from_the_end)


def _layouts(
    grid: pl.DataFrame, separators: dict[int, str], sniffed_scores: pl.DataFrame
) -> dict[int, _Layout]:
    """Each file's header row (find_header_row) and its mapping (as stage_export's _map_columns), for
    the files whose header maps every required field. sniffed_scores (file, line_number, score): the
    header scores the separator sniffing computed, on the same cells; only the other rows are scored."""
    candidates = (
        grid.filter(pl.col("last_filled").is_not_null())  # has_any_value, already known
        .filter(pl.int_range(pl.len()).over(FILE) < HEADER_SEARCH_ROWS)
        .join(sniffed_scores, on=[FILE, "line_number"], how="left")
    )
    not_sniffed = candidates.filter(pl.col("score").is_null())
    scored = pl.concat(
        [
            candidates.filter(pl.col("score").is_not_null()),
            with_header_scores(not_sniffed.drop("score")),
        ]
    )
    headers = (
        scored.sort(FILE, "score", "line_number", descending=[False, True, False])
        .group_by(FILE, maintain_order=True)
        .first()
        .select(FILE, "line_number", "score", "cells")
    )
    widest_below = (
        grid.join(headers.select(FILE, header_line="line_number"), on=FILE)
        .filter(pl.col("line_number") > pl.col("header_line"))
        .group_by(FILE)
        .agg(widest_filled=pl.col("last_filled").max())
    )
    header_rows = headers.join(widest_below, on=FILE, how="left").sort(FILE).rows()
    _fold_header_cells([cells for _, _, _, cells, _ in header_rows])
    layouts = {}
    for file, line_number, score, cells, widest_filled in header_rows:
        header = HeaderRow(position=line_number - 1, line_number=line_number, score=score, cells=list(cells))
        width = max(header_width(header.cells), (widest_filled if widest_filled is not None else -1) + 1)
        mapping = _mapping(tuple((header.cells + [None] * width)[:width]))
        wide = mapping.dose_columns or mapping.repeats_dose_fields  # wide templates: stage_export
        if not mapping.missing_required and not wide:
            layouts[file] = _Layout(separators[file], header, mapping)
    return layouts


def _fold_header_cells(header_rows: list[list[str | None]]) -> None:
    """Fold the cells of every file's header in two queries, for the mappings to find folded."""
    cells = list(dict.fromkeys(cell for row in header_rows for cell in row))
    fold_headers(cells)
    fold_headers(cells, keep_notes=True)


@lru_cache(maxsize=1024)
def _mapping(padded_header: tuple[str | None, ...]) -> HeaderMapping:
    return map_header_row(list(padded_header))


def _classified(grid: pl.DataFrame, layouts: dict[int, _Layout], files: list[_TextFile]) -> pl.DataFrame:
    """The rows below each file's header with `row_kind` (classify_rows_below_header, for every file at
    once: each row carries its file's header line, header width and header-repeat cells)."""
    repeat_cells = [
        header_repeat_cells(layouts[file.position].header, layouts[file.position].mapping) for file in files
    ]
    by_file = pl.DataFrame(
        {
            FILE: [file.position for file in files],
            "header_line": [layouts[file.position].header.line_number for file in files],
            "header_width": [header_width(layouts[file.position].header.cells) for file in files],
            "source_file": [file.source_file for file in files],
            "file_hash": [file.file_hash for file in files],
            **{
                f"repeat_position_{slot}": [
                    cells[slot][0] if slot < len(cells) else None for cells in repeat_cells
                ]
                for slot in range(len(HEADER_REPEAT_FIELDS))
            },
            **{
                f"repeat_cell_{slot}": [
                    cells[slot][1] if slot < len(cells) else None for cells in repeat_cells
                ]
                for slot in range(len(HEADER_REPEAT_FIELDS))
            },
        },
        schema={
            FILE: pl.UInt32,
            "header_line": pl.Int32,
            "header_width": pl.Int32,
            "source_file": pl.String,
            "file_hash": pl.String,
            **{f"repeat_position_{slot}": pl.Int64 for slot in range(len(HEADER_REPEAT_FIELDS))},
            **{f"repeat_cell_{slot}": pl.String for slot in range(len(HEADER_REPEAT_FIELDS))},
        },
    )
    below = (
        grid.lazy()
        .join(by_file.lazy(), on=FILE, maintain_order="left")
        .filter(pl.col("line_number") > pl.col("header_line"))
        .with_row_index("grid_index")
        .collect()
    )
    return below.with_columns(row_kind=row_kind(is_total_row(below), _repeats_its_header()))


def _repeats_its_header() -> pl.Expr:
    """structure.header_repeat, with each file's header-repeat cells read from the row's columns."""
    slots = range(len(HEADER_REPEAT_FIELDS))
    same_cell = [
        pl.when(pl.col(f"repeat_position_{slot}").is_null())
        .then(True)
        .otherwise(
            pl.col("cells").list.get(pl.col(f"repeat_position_{slot}"), null_on_oob=True)
            == pl.col(f"repeat_cell_{slot}")
        )
        for slot in slots
    ]
    any_cell = pl.any_horizontal([pl.col(f"repeat_position_{slot}").is_not_null() for slot in slots])
    return any_cell & pl.all_horizontal(same_cell)


def _staged_rows_by_file(classified: pl.DataFrame, layouts: dict[int, _Layout]) -> dict[int, pl.DataFrame]:
    """Each file's staged rows (data_rows and _staged_rows): numbered and checked for every file at once,
    then selected once per distinct mapping (the columns fields and extra columns are read from)."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for position, layout in layouts.items():
        groups.setdefault(_staging_key(layout.mapping), []).append(position)
    group_of_file = {
        position: group for group, positions in enumerate(groups.values()) for position in positions
    }
    rows = (
        classified.lazy()
        .filter(pl.col("row_kind") == "data")
        .with_columns(
            source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(FILE),
            row_issue=malformed_row_issue(pl.col("header_width")),
            staging_group=pl.col(FILE).replace_strict(group_of_file, return_dtype=pl.UInt32),
        )
        .collect()
    )
    mappings = [layouts[positions[0]].mapping for positions in groups.values()]
    plans = [
        group_rows.lazy()
        .select(
            FILE,
            **staged_row_columns(
                mappings[group], pl.col("source_file"), pl.col("file_hash"), with_cell_kinds=False
            ),
        )
        .cast(STAGED_ROW_SCHEMA)  # type: ignore[arg-type]
        for (group,), group_rows in rows.partition_by("staging_group", as_dict=True).items()
    ]
    by_file: dict[int, pl.DataFrame] = {}
    for staged in pl.collect_all(plans):
        by_file |= {
            key[0]: frame for key, frame in staged.partition_by(FILE, as_dict=True, include_key=False).items()
        }
    return by_file


def _staging_key(mapping: HeaderMapping) -> tuple[object, ...]:
    """What staged_row_columns reads from a mapping: mappings with equal keys stage the same columns."""
    extras = tuple((position, mapping.names[position]) for position in mapping.extra_columns)
    return (tuple(mapping.field_columns.items()), extras)


def _dropped_rows_by_file(classified: pl.DataFrame) -> dict[int, dict[str, int]]:
    """count_dropped_rows for each file."""
    dropped = classified.group_by(FILE).agg(**dropped_row_counts())
    return {
        row.pop(FILE): {name: int(count) for name, count in row.items()}
        for row in dropped.iter_rows(named=True)
    }


def _loaded(file: _TextFile, layout: _Layout, rows: pl.DataFrame, dropped: dict[str, int]) -> StagedExport:
    """The StagedExport stage_export returns for a loaded text file."""
    decoded = file.decoded
    state = ReadState(
        file_format=text_file_format(decoded),
        encoding=decoded.encoding,
        encoding_repair=decoded.repair,
        encoding_score=round(decoded.score, 4),
        delimiter=layout.separator,
        header_line=layout.header.line_number,
        column_mapping=layout.mapping.column_mapping_json(),
        unknown_columns=layout.mapping.unknown_columns_json(),
        rows_estimated=rows.height,
        dates_repaired=0,
    )
    metrics = raw_layer_metrics(rows, dropped)
    ledger = ledger_row(
        file.source_file, file.file_hash, file.size, state, status="loaded", rows_read=rows.height
    )
    return StagedExport(ledger=ledger, rows=rows, raw_metrics=metrics)
