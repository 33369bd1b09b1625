"""Stage one landed export: read it, map its headers, and return its ledger row and staged rows.

stage_export never raises on bad input: every problem becomes a quarantined ledger row with a
reason from vaxsync.core.reasons.QUARANTINE_REASONS and a detail that names no person.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from transforms.ingest.delimited import sniff_separator, split_fields, split_records
from transforms.ingest.header_mapping import HeaderMapping, map_header_row, with_dose_group_labels
from transforms.ingest.landing import file_content_hash, landed_path, outside_landing
from transforms.ingest.sheets import SheetsDiffer, stack_data_sheets
from transforms.ingest.structure import (
    HeaderRow,
    classify_rows_below_header,
    count_dropped_rows,
    data_rows,
    field_value,
    find_header_row,
    has_any_value,
    header_width,
)
from transforms.ingest.text_decoding import DecodedText, decode_export_bytes, repair_text
from transforms.ingest.wide_doses import stage_doses
from transforms.ingest.workbook import (
    WORKBOOK_SUFFIXES,
    WorkbookTooLargeError,
    WorkbookUnreadableError,
    date_cell_marker,
    looks_like_workbook,
    markup_named_as_workbook,
    plain_zip_members,
    read_sheet_grids,
)
from transforms.normalize.dates import count_locale_swap_repairs
from vaxsync.core.contracts import DATE_FIELDS, EXPORT_FIELDS, LEDGER_SCHEMA, STAGED_ROW_SCHEMA, raw_column
from vaxsync.core.reasons import QUARANTINE_REASONS
from vaxsync.core.setting_defaults import LANDING_FILE_MAX_BYTES

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".tab")
MIN_NUL_TAIL = 16  # NUL bytes ending an otherwise readable text that name an interrupted copy
# A text file whose last 64 KiB are NUL bytes is a copy never filled (preallocated, or sparse: a 2 GB hole
# reads as 2 GB of NULs): quarantined from its tail, not read whole.
NUL_TAIL_PROBE_BYTES = 64 * 1024
# No export row comes near 64 KiB (the longest line of the shared samples is 2 KB): a longer run of bytes
# without a line end is not rows of text. The separator sniffer and the header search work on the head's
# whole lines, ~1 us per cell and candidate: at 1 MiB a line of 'a,a,...' cost ~1.5 CPU s, at 64 KiB ~0.1 s.
MAX_LINE_BYTES = 64 * 1024
LOCK_FILE_PREFIX = "~$"
MIN_HEADER_SCORE_TO_SHOW = 2  # below this the "header" may be a data row: never echo its cells
MAX_HEADER_CHARS_SHOWN = 40
# Cells of a repaired workbook are joined with these before the text repair, then split again.
UNIT_SEPARATOR, RECORD_SEPARATOR = "\t", "\n"  # joining a workbook's cells for a whole-text repair


class Quarantine(Exception):  # noqa: N818 - a verdict on the file, not an error in the code
    def __init__(self, reason: str, detail: str) -> None:
        if reason not in QUARANTINE_REASONS:
            raise ValueError(f"unknown quarantine reason {reason!r}")
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class StagedExport:
    ledger: dict[str, object]  # one row in LEDGER_SCHEMA, every key present
    rows: pl.DataFrame | None  # STAGED_ROW_SCHEMA exactly; None when quarantined
    # Raw-layer measures for validation: rows_read, share_blank_id, count_malformed_rows,
    # count_blank_rows_dropped, count_total_rows_dropped, count_header_repeats_dropped.
    # Empty when quarantined.
    raw_metrics: dict[str, float | int] = field(default_factory=dict)


@dataclass
class ReadState:
    """What is known about a file so far; becomes its ledger row."""

    file_format: str = "unknown"
    encoding: str | None = None
    encoding_repair: str | None = None
    encoding_score: float | None = None
    delimiter: str | None = None
    header_line: int | None = None
    column_mapping: str | None = None
    unknown_columns: str | None = None
    rows_estimated: int | None = None  # the data rows the file seems to hold, as far as it was read
    dates_repaired: int | None = None  # date cells swapped back (normalize repairs the same cells)
    skipped_sheets: str | None = None  # JSON: the workbook's sheets holding no dose rows (sheets.py)


def stage_export(
    landing_dir: Path,
    source_file: str,
    file_hash: str | None = None,
    *,
    count_date_repairs: bool = True,
    max_file_bytes: int = LANDING_FILE_MAX_BYTES,
) -> StagedExport:
    """Stage `landing_dir / source_file`, or quarantine it with a reason. Without count_date_repairs the
    ledger's dates_repaired is left at 0 for the caller to count (batch_staging, many files at once). A
    file over max_file_bytes (the landing_file_max_bytes setting) is quarantined unread."""
    path = landed_path(landing_dir, source_file)
    state = ReadState()
    size: int | None = None
    try:
        size = path.stat().st_size
        file_hash = file_hash or file_content_hash(path)
        if outside_landing(landing_dir, path):
            what = "folder" if path.is_dir() else "file"
            raise Quarantine(
                "unsupported_format", f"a link to a {what} outside the landing folder (not read)"
            )
        refuse_oversized_file(size, max_file_bytes)
        rows, metrics = _read_export(path, file_hash, source_file, state)
    except Quarantine as verdict:
        return _quarantined(path, source_file, file_hash, size, state, verdict.reason, verdict.detail)
    except OSError as error:
        detail = f"the file cannot be read ({type(error).__name__})"
        return _quarantined(path, source_file, file_hash, size, state, "unreadable_file", detail)
    except Exception as error:  # a reader failing on input we did not foresee: quarantine, go on
        logger.warning("quarantining %s after %s while reading it", source_file, type(error).__name__)
        detail = f"the file could not be parsed ({type(error).__name__})"
        return _quarantined(path, source_file, file_hash, size, state, "unreadable_file", detail)
    state.rows_estimated = rows.height
    state.dates_repaired = 0
    if count_date_repairs and has_date_cells(rows):
        state.dates_repaired = count_locale_swap_repairs(rows.lazy(), pl.col("file_hash"))
    ledger = ledger_row(source_file, file_hash, size, state, status="loaded", rows_read=rows.height)
    return StagedExport(ledger=ledger, rows=rows, raw_metrics=metrics)


def _read_export(
    path: Path, file_hash: str, source_file: str, state: ReadState
) -> tuple[pl.DataFrame, dict[str, float | int]]:
    if path.name.startswith(LOCK_FILE_PREFIX):
        raise Quarantine(
            "unsupported_format", "an Office lock file (~$ prefix), left by Excel while a workbook is open"
        )
    if path.stat().st_size == 0:
        raise Quarantine("empty_file", "the file is 0 bytes")
    grid, known_header = _read_grid(path, state)
    state.rows_estimated = count_filled_rows(grid)  # no header recognised yet: every non-blank row
    header = known_header or find_header_row(grid)
    if header is None:
        raise Quarantine("empty_file", "the file holds only blank lines or empty cells")
    state.header_line = header.line_number
    if header.score >= MIN_HEADER_SCORE_TO_SHOW:  # a real header: the rows below it
        state.rows_estimated = count_filled_rows(grid.slice(header.position + 1))
    mapping = _map_columns(grid, header)
    state.column_mapping = mapping.column_mapping_json()
    state.unknown_columns = mapping.unknown_columns_json()
    if mapping.missing_required:
        raise Quarantine("missing_required_columns", _missing_columns_detail(mapping, header))
    classified = classify_rows_below_header(grid, header, mapping)
    staged = data_rows(classified, header)
    if staged.height == 0:
        state.rows_estimated = 0
        raise Quarantine("no_data_rows", f"a header on line {header.line_number} and no data rows below it")
    rows = _staged_rows(staged, mapping, source_file, file_hash)
    return rows, raw_layer_metrics(rows, count_dropped_rows(classified))


def has_date_cells(rows: pl.DataFrame) -> bool:
    """Whether staged rows hold date cells, whose day and month a spreadsheet locale may have swapped
    (only workbooks have them)."""
    return bool(rows["cell_kinds"].is_not_null().any())


def raw_layer_metrics(rows: pl.DataFrame, dropped: dict[str, int]) -> dict[str, float | int]:
    """A loaded file's measures for the raw layer's validation (StagedExport.raw_metrics)."""
    return {
        "rows_read": rows.height,
        "share_blank_id": rows[raw_column("id_number")].null_count() / rows.height,
        "count_malformed_rows": int(rows["row_issue"].is_not_null().sum()),
        **dropped,
    }


def text_file_format(decoded: DecodedText) -> str:
    """The ledger's file_format of a text file, from the encoding it was read in."""
    return "utf16_text" if decoded.encoding.startswith("utf-16") else "csv"


def _read_grid(path: Path, state: ReadState) -> tuple[pl.DataFrame, HeaderRow | None]:
    """The file's grid, and its header row when reading found it already (a workbook's only data sheet,
    unrepaired: find_header_row's answer on the same grid), else None."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES and not looks_like_workbook(head):
        # Not a workbook whatever its name: markup is refused with what it is; text (a "Unicode text"
        # or tab-separated export saved as .xls, which Excel opens) is read as the text it is.
        markup = markup_named_as_workbook(head)
        if markup is not None:
            raise Quarantine(
                "unsupported_format",
                f"{markup} named {suffix}, not a workbook: open it in Excel and save it as .xlsx or CSV",
            )
    elif looks_like_workbook(head):
        archived = plain_zip_members(path)
        if archived is not None:  # calamine's refusal said only "CalamineError"
            raise Quarantine(
                "unsupported_format",
                f"a zip archive of {archived} files, not a workbook: unpack it and land the files themselves",
            )
        state.file_format = "xlsx"
        try:
            stacked = stack_data_sheets(read_sheet_grids(path))
        except SheetsDiffer as error:
            state.rows_estimated = error.rows
            raise Quarantine("sheets_differ", str(error)) from error
        except WorkbookUnreadableError as error:
            raise Quarantine("unreadable_file", f"the workbook cannot be opened ({error})") from error
        except WorkbookTooLargeError as error:
            raise Quarantine("workbook_too_large", str(error)) from error
        state.skipped_sheets = stacked.skipped_json()
        repaired = _repair_workbook_text(stacked.grid, state)
        return repaired, stacked.header if repaired is stacked.grid else None
    if suffix not in TEXT_SUFFIXES + WORKBOOK_SUFFIXES:
        raise Quarantine(
            "unsupported_format", f"the file type {suffix or '(none)'!r} is not CSV, TXT or XLSX"
        )
    raw = read_text_bytes(path)
    decoded = decode_export_bytes(raw)
    if decoded is None:
        raise Quarantine("unreadable_file", _undecodable_detail(raw))
    state.file_format = text_file_format(decoded)
    state.encoding, state.encoding_repair = decoded.encoding, decoded.repair
    state.encoding_score = round(decoded.score, 4)
    if decoded.unrecognised:
        raise Quarantine("encoding_unrecognised", decoded.candidates_detail())
    if not decoded.text.strip():
        raise Quarantine("empty_file", "the file holds only blank lines")
    records = split_records(decoded.text)
    state.delimiter = sniff_separator(records)
    return split_fields(records, state.delimiter), None


def refuse_oversized_file(size: int, max_file_bytes: int) -> None:
    """Quarantine a landed file over the landing limit before anything of it is read."""
    if size > max_file_bytes:
        raise Quarantine(
            "file_too_large",
            f"the file is {size} bytes, over the landing limit of {max_file_bytes} bytes "
            "(landing_file_max_bytes): not read; send the export split into smaller files",
        )


def read_text_bytes(path: Path) -> bytes:
    """The bytes of a file to be read as text, or a Quarantine when they cannot be rows of text: a tail of
    NUL bytes (checked before the file is read whole) or a line of over MAX_LINE_BYTES."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size > NUL_TAIL_PROBE_BYTES:
            handle.seek(size - NUL_TAIL_PROBE_BYTES)
            if not handle.read(NUL_TAIL_PROBE_BYTES).strip(b"\x00"):
                raise Quarantine(
                    "unreadable_file",
                    f"the file's last {NUL_TAIL_PROBE_BYTES} bytes (of {size}) are NUL bytes, not text (a copy "
                    "cut short, preallocated or never filled): send it again",
                )
        handle.seek(0)
        raw = handle.read()
    longest = _longest_line(raw)
    if longest is not None:
        line_number, length = longest
        raise Quarantine(
            "unreadable_file",
            f"line {line_number} runs {length} bytes without a line end (a line may be at most "
            f"{MAX_LINE_BYTES} bytes): not rows of an export",
        )
    return raw


def _longest_line(raw: bytes) -> tuple[int, int] | None:
    """(line number, length in bytes) of the longest line when it is over MAX_LINE_BYTES, else None. CR,
    LF and CR LF end lines (old Mac files end lines in CR alone; a UTF-16 line end holds the same bytes).
    The whole file is checked: a huge row below the header costs the column mapping as much as one in the
    head."""
    if len(raw) <= MAX_LINE_BYTES:
        return None
    lengths = list(map(len, raw.splitlines()))
    longest = max(lengths)
    if longest <= MAX_LINE_BYTES:
        return None
    return lengths.index(longest) + 1, longest


def _undecodable_detail(raw: bytes) -> str:
    """Why no encoding fits: a text cut off by a run of NUL bytes (a copy interrupted, a file
    preallocated and never filled) is named as such, so that the facility sends it again."""
    text_end = len(raw.rstrip(b"\x00"))
    if len(raw) - text_end >= MIN_NUL_TAIL and decode_export_bytes(raw[:text_end]) is not None:
        return (
            f"the file's {text_end} bytes of text end in {len(raw) - text_end} NUL bytes "
            "(a copy cut short or never finished): send it again"
        )
    return "no text encoding fits the bytes (binary or corrupt)"


def _repair_workbook_text(grid: pl.DataFrame, state: ReadState) -> pl.DataFrame:
    """Apply the whole-file text repairs (legacy fonts, mis-read UTF-8) to a workbook's cells."""
    # Tab and newline: no legacy font maps them (VISCII and TCVN3 use other control bytes), so a repair
    # cannot move a cell; a line break inside a cell becomes a space, as normalize would make it anyway.
    cell_text = pl.element().fill_null("").str.replace_all(f"[{UNIT_SEPARATOR}{RECORD_SEPARATOR}]", " ")
    rows_as_text = pl.col("cells").list.eval(cell_text).list.join(UNIT_SEPARATOR)
    text = grid.select(rows_as_text.str.join(RECORD_SEPARATOR)).item() if grid.height else ""
    repaired, repair = repair_text(text)
    if repair is None:
        return grid
    records = repaired.split(RECORD_SEPARATOR)
    if len(records) != grid.height:  # a repair must never move a cell to another row
        raise Quarantine("encoding_unrecognised", f"the {repair} text repair would change the rows")
    state.encoding_repair = repair
    cells = pl.Series("cells", records, dtype=pl.String).str.split(UNIT_SEPARATOR)
    return grid.with_columns(cells=cells.list.eval(pl.when(pl.element() != "").then(pl.element())))


def _map_columns(grid: pl.DataFrame, header: HeaderRow) -> HeaderMapping:
    """Map the header; data beyond the header's last cell gets columns named column_<n>."""
    below = grid.slice(header.position + 1)
    width = header_width(header.cells)
    widest = int(below.select(pl.col("field_count").max()).item() or 0)
    filled_beyond = [
        position
        for position in range(width, widest)
        if below.select(pl.col("cells").list.get(position, null_on_oob=True).is_not_null().any()).item()
    ]
    width = max([width, *(position + 1 for position in filled_beyond)])
    cells = (header.cells + [None] * width)[:width]
    if header.position > 0:  # "Mũi 1" / "Mũi 2" over a wide template's columns
        above = grid["cells"][header.position - 1]
        cells = with_dose_group_labels(cells, above.to_list() if above is not None else [])
    return map_header_row(cells)


def _missing_columns_detail(mapping: HeaderMapping, header: HeaderRow) -> str:
    missing = ", ".join(mapping.missing_required)
    if header.score < MIN_HEADER_SCORE_TO_SHOW:
        return f"missing: {missing}; no header row recognised in the first rows"
    seen = " | ".join((cell or "")[:MAX_HEADER_CHARS_SHOWN] for cell in header.cells if cell is not None)
    return f"missing: {missing}; headers seen on line {header.line_number}: {seen}"


def _staged_rows(
    staged: pl.DataFrame, mapping: HeaderMapping, source_file: str, file_hash: str
) -> pl.DataFrame:
    def columns(mapping: HeaderMapping) -> dict[str, pl.Expr]:
        file, version = pl.lit(source_file, dtype=pl.String), pl.lit(file_hash, dtype=pl.String)
        return staged_row_columns(mapping, file, version, with_cell_kinds="cell_kinds" in staged.columns)

    if mapping.dose_columns:  # a wide template: one row per dose
        return stage_doses(staged.lazy(), mapping, columns).collect().cast(STAGED_ROW_SCHEMA)  # type: ignore[arg-type]
    return staged.select(**columns(mapping)).cast(STAGED_ROW_SCHEMA)  # type: ignore[arg-type]


def staged_row_columns(
    mapping: HeaderMapping, source_file: pl.Expr, file_hash: pl.Expr, *, with_cell_kinds: bool
) -> dict[str, pl.Expr]:
    """The STAGED_ROW_SCHEMA columns of a file's data rows (cast to the schema by the caller)."""
    extras = [
        pl.col("cells").list.get(position, null_on_oob=True).alias(mapping.names[position])
        for position in mapping.extra_columns
    ]
    extra_json = pl.struct(extras).struct.json_encode() if extras else pl.lit(None, dtype=pl.String)
    return {
        "source_file": source_file,
        "file_hash": file_hash,
        "source_row": pl.col("source_row"),
        **{raw_column(name): field_value(mapping, name) for name in EXPORT_FIELDS},
        "extra_columns": extra_json,
        "row_issue": pl.col("row_issue"),
        "cell_kinds": date_cell_marker(mapping.field_columns, DATE_FIELDS)
        if with_cell_kinds
        else pl.lit(None, dtype=pl.String),
    }


def ledger_row(
    source_file: str,
    file_hash: str | None,
    size: int | None,
    state: ReadState,
    *,
    status: str,
    rows_read: int,
    reason: str | None = None,
    detail: str | None = None,
) -> dict[str, object]:
    row: dict[str, object] = {
        "source_file": source_file,
        "file_hash": file_hash,
        "file_size_bytes": size,
        "file_format": state.file_format,
        "encoding": state.encoding,
        "encoding_repair": state.encoding_repair,
        "encoding_score": state.encoding_score,
        "delimiter": state.delimiter,
        "header_line": state.header_line,
        "column_mapping": state.column_mapping,
        "unknown_columns": state.unknown_columns,
        "status": status,
        "quarantine_reason": reason,
        "quarantine_detail": detail,
        "rows_read": rows_read,
        "rows_estimated": state.rows_estimated,
        "dates_repaired": state.dates_repaired,
        "skipped_sheets": state.skipped_sheets,
    }
    assert list(row) == list(LEDGER_SCHEMA), "ledger row out of step with LEDGER_SCHEMA"
    return row


def _quarantined(
    path: Path,
    source_file: str,
    file_hash: str | None,
    size: int | None,
    state: ReadState,
    reason: str,
    detail: str,
) -> StagedExport:
    if state.rows_estimated is None:  # never read into rows: count the lines of a text file
        state.rows_estimated = estimate_rows_from_bytes(path, size, reason)
    ledger = ledger_row(
        source_file,
        file_hash,
        size,
        state,
        status="quarantined",
        rows_read=0,
        reason=reason,
        detail=detail,
    )
    return StagedExport(ledger=ledger, rows=None)


def count_filled_rows(grid: pl.DataFrame) -> int:
    """Rows of a grid with at least one non-blank cell."""
    return int(grid.select(has_any_value(pl.col("cells")).sum()).item() or 0)


ESTIMATE_SAMPLE_BYTES = 4 * 1024 * 1024  # a huge unreadable file is estimated from its first 4 MiB
# Control characters other than tab, line ends and the DOS end-of-file mark: text (VISCII puts six rare
# capitals there too) has next to none, binary about one byte in ten.
CONTROL_BYTES = re.compile("[\x01-\x08\x0b\x0c\x0e-\x19\x1b-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.05


def estimate_rows_from_bytes(path: Path, size: int | None, reason: str) -> int | None:
    """The non-blank lines of a text file that could not be read into rows (no encoding fits, or a
    reader failed): an estimate of its data rows, header included. A huge file is sampled and the count
    scaled to its size. 0 for an empty file or a lock file; None when the file is neither text nor
    readable (a corrupt workbook, a PDF): its rows cannot be told."""
    if reason == "empty_file" or path.name.startswith(LOCK_FILE_PREFIX) or size == 0:
        return 0
    if path.suffix.lower() not in TEXT_SUFFIXES or size is None:
        return None
    try:
        with path.open("rb") as handle:
            sample = handle.read(ESTIMATE_SAMPLE_BYTES)
    except OSError:
        return None
    text = _sample_text(sample)
    if len(CONTROL_BYTES.findall(text)) > MAX_CONTROL_SHARE * max(len(text), 1):
        return None  # binary, not lines of text: its rows cannot be told
    lines = pl.Series("line", [text], dtype=pl.String).str.split("\n").explode()
    if len(sample) < size:
        lines = lines.head(-1)  # the sample's last line is cut
    separators_only = lines.str.strip_chars(" \t\r,;\"'\xef\xbb\xbf\xff\xfe")  # BOMs as Latin-1
    filled = int((separators_only.str.len_bytes() > 0).sum())
    if len(sample) >= size:
        return filled
    return round(filled * size / len(sample))


def _sample_text(sample: bytes) -> str:
    """UTF-16 (a BOM, or a NUL beside most ASCII bytes) as UTF-16; anything else byte for byte as
    Latin-1, so that any bytes split into lines."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")) or sample.count(b"\x00") > len(sample) // 4:
        even = sample[: len(sample) // 2 * 2]
        return even.decode("utf-16" if sample[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le", "replace")
    return sample.decode("latin-1")


def ledger_frame(staged: list[StagedExport]) -> pl.DataFrame:
    """The ledger rows of several staged exports as one frame in LEDGER_SCHEMA."""
    return pl.DataFrame([export.ledger for export in staged], schema=LEDGER_SCHEMA)
