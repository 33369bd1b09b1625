"""Review decisions coming back from provincial staff: read, validate, apply, audit.

Staff fill the `decision` column of their province's mismatch report (accept N / reject / corrected,
with `corrected_id`, or withdraw) and drop the file in their province's folder of settings.decisions_dir.
The next night's match stage reads each new file once (vaxsync.marts.decision_files: regular files only, bounded,
parsed in a child process, formulas seen), validates every line against the open backlog, the signed
tokens of the report it came from (vaxsync.marts.decision_tokens), the candidates offered now and the registry,
and turns the valid ones into matches (`review_decision`). Every line, applied or rejected with a reason,
becomes a `review_decisions` audit row at publish; every file a `review_decision_files` row; the refused
lines are listed first in the province's next report.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import duckdb
import polars as pl

from matching.deterministic import confirm_candidates
from transforms.normalize.ids import clean_id_text, restore_leading_zeros
from vaxsync.core.clinical_rules import impossible_link, is_impossible_link
from vaxsync.core.contracts import EXPORT_FIELDS, raw_column
from vaxsync.core.decision_sheet import (
    CANDIDATE_TOKEN_COLUMNS,
    CANDIDATES_SHOWN,
    CONTROL_SHEETS,
    CORRECTED_DECISION,
    CORRECTED_ID_COLUMN,
    DECIDED_ON_KEY,
    DECISION_COLUMN,
    INSTRUCTIONS_SHEET,
    NOTE_COLUMN,
    REJECT_DECISION,
    REJECTED_DECISION_COLUMNS,
    REVIEWER_KEY,
    ROW_KEY_COLUMN,
    ROW_TOKEN_COLUMN,
    SOURCE_ROW_COLUMN,
    WITHDRAW_DECISION,
    header_code,
)
from vaxsync.core.reasons import DECISION_FILE_REASONS, DECISION_REJECTIONS, DECISION_RESOLUTIONS
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import register_frame
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.marts.decision_files import (
    DecisionFile,
    DecisionFileRefusedError,
    list_decision_files,
    prepare_province_folders,
    read_grids,
)
from vaxsync.marts.decision_tokens import candidate_message, decision_secret, macs, row_message, token_parts
from vaxsync.marts.events import retract_postings
from vaxsync.marts.registry_cache import prepared_registry, prepared_registry_file
from vaxsync.marts.resends import OLDER_VERSION_REASON, read_tonight_versions
from vaxsync.marts.warehouse import connect

log = logging.getLogger(__name__)

HEADER_SEARCH_LINES = 10  # the header row (with a `decision` cell) is among a sheet's first lines
EARLIEST_DECISION_DATE = dt.date(2021, 1, 1)  # a stated decision date before the campaign is not kept
REVIEWER_REJECTED = "reviewer_rejected"
WITHDRAWN_POSTING = "posting_withdrawn"  # vaxsync.core.reasons.RETRACTION_REASONS
REPLACED_POSTING = "posting_replaced"  # vaxsync.core.reasons.RETRACTION_REASONS: the reviewer decided again

# The cells a decision line is read from (header code -> line column); a formula in any of them refuses the line.
LINE_FIELDS: dict[str, str] = {
    ROW_KEY_COLUMN: "row_key",
    ROW_TOKEN_COLUMN: "row_token",
    **{column: column for column in CANDIDATE_TOKEN_COLUMNS},
    SOURCE_ROW_COLUMN: "stated_source_row",
    REVIEWER_KEY: "line_reviewer",
    DECISION_COLUMN: "decision",
    CORRECTED_ID_COLUMN: "corrected_id",
    NOTE_COLUMN: "note",
    DECIDED_ON_KEY: "line_decided_on",
}

# One row per decision line read: the audit row's columns before validation fills the outcome.
DECISION_LINE_SCHEMA: dict[str, pl.DataType] = {
    "decision_file": pl.String(),  # its path inside the decisions folder
    "decision_file_hash": pl.String(),  # the file's intake key: (province folder, content hash)
    "sheet_name": pl.String(),
    "sheet_row": pl.Int32(),  # the spreadsheet's row number, so staff can find the line
    "reviewer": pl.String(),
    "decided_at": pl.Datetime(),  # when the night read the file (never the file's own dates)
    "stated_decided_on": pl.Date(),  # the decision date the file states, when plausible
    "file_province_code": pl.String(),  # from the folder the file was dropped in
    "row_key": pl.String(),
    "row_token": pl.String(),
    "candidate_tokens": pl.List(pl.String()),  # candidate 1..N tokens, as on the line
    "stated_source_row": pl.String(),
    "decision": pl.String(),
    "corrected_id": pl.String(),
    "note": pl.String(),
    "has_formula": pl.Boolean(),
    "is_decidable": pl.Boolean(),  # passes the checks that need no matching (set once all files are read)
    # a decidable line replacing its reviewer's own decision that posted the row (set with is_decidable)
    "replaces_own_decision": pl.Boolean(),
}

AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "decision_file_hash": pl.String(),
    "sheet_name": pl.String(),
    "sheet_row": pl.Int32(),
    "reviewer": pl.String(),
    "decided_at": pl.Datetime(),
    "stated_decided_on": pl.Date(),
    "file_hash": pl.String(),
    "source_row": pl.Int32(),
    "province_code": pl.String(),
    "decision": pl.String(),
    "corrected_id": pl.String(),
    "note": pl.String(),
    "report_run_id": pl.String(),  # the run whose report the line's tokens were signed for
    "status": pl.String(),
    "rejection_reason": pl.String(),
    "rejection_detail": pl.String(),
    "before_reason_code": pl.String(),
    "before_candidate_citizen_id": pl.String(),
    "after_citizen_id": pl.String(),
    "match_probability": pl.Float64(),
    # the line replaces a decision that stood on the row (`replaces_earlier_decision`)
    "replaces_earlier_decision": pl.Boolean(),
}

FILE_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "decision_file": pl.String(),
    "decision_file_hash": pl.String(),
    "status": pl.String(),  # read | quarantined
    "detail": pl.String(),
    "quarantine_reason": pl.String(),  # DECISION_FILE_REASONS
    "read_at": pl.Datetime(),
    "province_code": pl.String(),
    "reviewer": pl.String(),
    "identical_copies": pl.Int32(),
}


# --- reading --------------------------------------------------------------------------------------------


def new_decision_files(settings: Settings) -> list[DecisionFile]:
    """Decision files in the folder whose (province folder, content) no earlier run has read."""
    listed = list_decision_files(settings.decisions_dir)
    if not listed or not settings.warehouse_path.exists():
        return listed
    with connect(settings.warehouse_path, settings=settings) as connection:
        seen = {
            row[0]
            for row in connection.execute("select decision_file_hash from review_decision_files").fetchall()
        }
    return [listed_file for listed_file in listed if listed_file.intake_key not in seen]


def read_decision_file(decision_file: DecisionFile, settings: Settings, read_at: dt.datetime) -> pl.DataFrame:
    """Every filled decision line of one file (DECISION_LINE_SCHEMA); raises DecisionFileRefusedError."""
    grids = read_grids(decision_file, settings)
    metadata = _instructions(grids.pop(INSTRUCTIONS_SHEET, None))
    sheets = [
        lines
        for name, grid in grids.items()
        if name not in CONTROL_SHEETS and (lines := sheet_lines(grid, name)) is not None
    ]
    if not sheets:
        raise DecisionFileRefusedError("no_decision_column", "no sheet has a 'decision' column")
    reviewer, reviewer_is_formula = metadata.get(REVIEWER_KEY, (None, False))
    stated_on, stated_on_is_formula = metadata.get(DECIDED_ON_KEY, (None, False))
    lines = pl.concat(sheets).with_columns(
        decision_file=pl.lit(decision_file.relative),
        decision_file_hash=pl.lit(decision_file.intake_key),
        # A CSV has no instructions sheet: its lines may name their reviewer and date.
        reviewer=pl.coalesce("line_reviewer", pl.lit(reviewer, dtype=pl.String)),
        decided_at=pl.lit(read_at),
        stated_decided_on=_plausible_date(
            pl.coalesce("line_decided_on", pl.lit(stated_on, dtype=pl.String)), read_at.date()
        ),
        file_province_code=pl.lit(decision_file.province_code, dtype=pl.String),
        has_formula=pl.col("has_formula") | reviewer_is_formula | stated_on_is_formula,
        is_decidable=pl.lit(None, dtype=pl.Boolean),
        replaces_own_decision=pl.lit(None, dtype=pl.Boolean),
    )
    return lines.select(list(DECISION_LINE_SCHEMA)).cast(DECISION_LINE_SCHEMA)  # type: ignore[arg-type]


def _plausible_date(text: pl.Expr, today: dt.date) -> pl.Expr:
    parsed = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return pl.when(parsed.is_between(pl.lit(EARLIEST_DECISION_DATE), pl.lit(today))).then(parsed)


def _header_line(grid: pl.DataFrame) -> tuple[int, list[str]] | None:
    """(line number, column codes) of the first of the sheet's first lines holding a `decision` header."""
    for line_number, cells in grid.head(HEADER_SEARCH_LINES).select("line_number", "cells").iter_rows():
        codes = [header_code(cell).lower() if cell else "" for cell in cells]
        if DECISION_COLUMN in codes:
            return line_number, codes
    return None


def sheet_lines(grid: pl.DataFrame, sheet_name: str) -> pl.DataFrame | None:
    """The filled decision lines of one sheet's grid (GRID_SCHEMA); None when it has no decision column.

    Cells are found by header code, so reordered, relabelled or ragged lines read the same."""
    header = _header_line(grid)
    if header is None:
        return None
    header_line, codes = header
    positions = {field: codes.index(field) for field in LINE_FIELDS if field in codes}

    def cell(field: str) -> pl.Expr:
        if field not in positions:
            return pl.lit(None, dtype=pl.String)
        return pl.col("cells").list.get(positions[field], null_on_oob=True).str.strip_chars()

    is_formula = pl.any_horizontal(
        pl.lit(False), *[pl.col("formula_columns").list.contains(position) for position in positions.values()]
    )
    return (
        grid.filter(pl.col("line_number") > header_line)
        .select(
            sheet_name=pl.lit(sheet_name),
            sheet_row=pl.col("line_number").cast(pl.Int32),
            **{
                name: cell(field)
                for field, name in LINE_FIELDS.items()
                if name not in CANDIDATE_TOKEN_COLUMNS
            },
            candidate_tokens=pl.concat_list([cell(column) for column in CANDIDATE_TOKEN_COLUMNS]),
            has_formula=is_formula,
        )
        .with_columns(restore_leading_zeros(clean_id_text(pl.col("corrected_id"))).alias("corrected_id"))
        .filter(pl.col("decision").is_not_null() & (pl.col("decision") != ""))
    )


def _instructions(grid: pl.DataFrame | None) -> dict[str, tuple[str | None, bool]]:
    """key -> (value, is a formula) of the instructions sheet (column A: key, column B: value)."""
    if grid is None:
        return {}
    pairs = (
        grid.select(
            key=pl.col("cells").list.get(0, null_on_oob=True).str.strip_chars().str.to_lowercase(),
            value=pl.col("cells").list.get(1, null_on_oob=True).str.strip_chars(),
            is_formula=pl.col("formula_columns").list.contains(1),
        )
        .filter(pl.col("key").is_in([REVIEWER_KEY, DECIDED_ON_KEY]))
        .unique("key", keep="first", maintain_order=True)
    )
    return {key: (value or None, is_formula) for key, value, is_formula in pairs.iter_rows()}


def read_new_decisions(settings: Settings, work: RunWorkDir) -> pl.DataFrame:
    """Read the decision files no earlier run has read; keep their lines and a summary per file in the work dir."""
    read_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    open_rows = _open_rows_by_province(settings)
    prepare_province_folders(settings.decisions_dir, sorted(open_rows))
    lines, summaries = [], []
    for decision_file in new_decision_files(settings):  # one iteration per decision file, not per row
        try:
            file_lines = read_decision_file(decision_file, settings, read_at)
            _check_line_count(
                file_lines.height, open_rows.get(decision_file.province_code or "", 0), settings
            )
            status, reason, detail = "read", None, None
        except DecisionFileRefusedError as refused:  # a bad file must not stop the night: it is recorded
            file_lines = pl.DataFrame(schema=DECISION_LINE_SCHEMA)
            status, reason, detail = "quarantined", refused.reason, refused.detail
        lines.append(file_lines)
        summaries.append(
            {"decision_file": decision_file.relative, "decision_file_hash": decision_file.intake_key,
             "status": status, "quarantine_reason": reason, "detail": detail, "read_at": read_at,
             "province_code": decision_file.province_code, "identical_copies": decision_file.identical_copies,
             "reviewer": file_lines["reviewer"].drop_nulls().first() if file_lines.height else None}
        )  # fmt: skip
        if status == "quarantined":
            log.warning("decision file quarantined (%s): %s", reason, decision_file.relative)
    all_lines = pl.concat(lines) if lines else pl.DataFrame(schema=DECISION_LINE_SCHEMA)
    all_lines = _with_decidable_flag(all_lines, settings)
    all_lines.write_parquet(work.decision_lines_file)
    pl.DataFrame(summaries, schema=FILE_SUMMARY_SCHEMA).write_parquet(work.decision_files_file)
    return all_lines


def _check_line_count(lines: int, open_rows: int, settings: Settings) -> None:
    allowed = open_rows * settings.decision_lines_per_open_row + settings.decision_lines_slack
    if lines > allowed:
        raise DecisionFileRefusedError(
            "too_many_lines", f"{lines} decision lines for {open_rows} open rows in the province"
        )


def _open_rows_by_province(settings: Settings) -> dict[str, int]:
    if not settings.warehouse_path.exists():
        return {}
    with connect(settings.warehouse_path, settings=settings) as connection:
        counts = connection.execute(
            "select coalesce(province_code, '??'), count(*) from open_backlog group by all"
        ).fetchall()
    return {str(code): int(rows) for code, rows in counts}


def decided_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """file_hash, source_row named by decision lines that may apply: these rows are matched tonight whatever
    else holds. A line already known to be refused (unsigned, stale, a formula, no reviewer) does not make
    its row matched again."""
    return (
        lines.filter(pl.col("is_decidable").fill_null(True)).select(*_row_key_parts()).drop_nulls().unique()
    )


def replacing_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """file_hash, source_row of rows an earlier decision posted that their own reviewer decides again tonight:
    matched again (like an open row) so that the new decision replaces the old posting in one night."""
    return (
        lines.filter(
            pl.col("is_decidable").fill_null(False) & pl.col("replaces_own_decision").fill_null(False)
        )
        .select(*_row_key_parts())
        .drop_nulls()
        .unique()
        .sort("file_hash", "source_row")
    )


def _with_decidable_flag(lines: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """`is_decidable`: the line passes the checks that need no matching (folder, formula, reviewer, decision,
    the row's token, and for an accept a candidate offered now that its token signs)."""

    if lines.is_empty() or not settings.warehouse_path.exists():
        return lines.with_columns(is_decidable=pl.lit(True), replaces_own_decision=pl.lit(False))
    secret = decision_secret(settings)
    backlog, candidates = _backlog_and_candidates(settings)
    parsed = _parsed_lines(lines, secret)
    chosen = _chosen_candidates(parsed, candidates, secret)
    flagged = (
        parsed.join(chosen, on="line_id", how="left")
        .join(backlog, on=["file_hash", "source_row"], how="left")
        .select(
            "line_id",
            is_decidable=pl.col("file_province_code").is_not_null()
            & ~pl.col("has_formula")
            & (pl.col("reviewer").fill_null("").str.strip_chars() != "")
            & pl.col("kind").is_not_null()
            & pl.col("is_row_token_valid")
            & ((pl.col("kind") != "accept") | pl.col("offered_citizen_id").is_not_null()),
            replaces_own_decision=_replaces_own_decision().fill_null(False),
        )
    )
    return (
        lines.with_row_index("line_id")
        .drop("is_decidable", "replaces_own_decision")
        .join(flagged, on="line_id", how="left")
        .sort("line_id")
        .drop("line_id")
        .select(list(DECISION_LINE_SCHEMA))
    )


def _row_key_parts() -> tuple[pl.Expr, pl.Expr]:
    """file_hash and source_row from a report's row_key (f"{file_hash}:{source_row}"); null when malformed."""
    key = pl.col("row_key").str.split_exact(":", 1)
    return (
        key.struct.field("field_0").alias("file_hash"),
        key.struct.field("field_1").cast(pl.Int32, strict=False).alias("source_row"),
    )


# --- validating -----------------------------------------------------------------------------------------

# The row's fields the confirmation rule of matching.deterministic compares with the registry.
CONFIRMATION_ROW_COLUMNS = (
    "name_key", "family_name_key", "given_name_key", "birth_date", "birth_date_alt", "birth_year", "sex_code",
)  # fmt: skip
CONFIRMATION_REGISTRY_COLUMNS = (
    "name_key", "family_name_key", "given_name_key", "date_of_birth", "birth_year", "sex", "date_of_death",
)  # fmt: skip


def validate_decisions(
    lines: pl.DataFrame,
    open_backlog: pl.DataFrame,
    candidates: pl.DataFrame,
    registry: pl.LazyFrame,
    matchable_rows: pl.DataFrame,
    *,
    secret: bytes,
    resent_file_hashes: Sequence[str] = (),
) -> pl.DataFrame:
    """Audit rows (AUDIT_SCHEMA): each line applied, or rejected with a DECISION_REJECTIONS code.

    resent_file_hashes: the file versions a version landing tonight replaces (a line on their rows is
      refused as `row_file_resent`: the row is replaced tonight; an unchanged one keeps an earlier decision).

    open_backlog: file_hash, source_row, province_code, reason_code, candidate_citizen_id, is_posted_by_decision,
      decided_by (the open rows, and the rows an earlier decision posted, with that decision's reviewer).
    candidates (offered now, every rank): file_hash, source_row, candidate_rank, citizen_id, match_probability,
      impossible_reason.
    registry: citizen_id + CONFIRMATION_REGISTRY_COLUMNS. matchable_rows: file_hash, source_row, vaccinated_date
      + CONFIRMATION_ROW_COLUMNS.
    """
    parsed = _parsed_lines(lines, secret)
    chosen = _chosen_candidates(parsed, candidates, secret)
    joined = (
        parsed.join(
            open_backlog.rename(
                {"reason_code": "before_reason_code", "candidate_citizen_id": "before_candidate_citizen_id"}
            ),
            on=["file_hash", "source_row"],
            how="left",
        )
        .join(chosen, on="line_id", how="left")
        .join(
            matchable_rows.with_columns(is_matchable=pl.lit(True)), on=["file_hash", "source_row"], how="left"
        )
        .with_columns(
            is_file_resent=pl.col("file_hash").is_in(list(resent_file_hashes)).fill_null(False),
            after_citizen_id=_decided_citizen(),
        )
    )
    return (
        against_registry(joined.lazy(), registry)
        .with_columns(rejection_reason=_rejection_reason())
        .with_columns(rejection_reason=_conflicting_decisions())
        .with_columns(
            status=pl.when(pl.col("rejection_reason").is_null())
            .then(pl.lit("applied"))
            .otherwise(pl.lit("rejected")),
            rejection_detail=pl.when(pl.col("rejection_reason") == "correction_not_confirmed").then(
                pl.concat_str(pl.lit("differs: "), pl.col("contradiction"))
            ),
            province_code=pl.col("file_province_code"),
            match_probability=pl.when(pl.col("kind") == "accept").then(pl.col("match_probability")),
        )
        .with_columns(replaces_earlier_decision=replaces_earlier_decision())
        .with_columns(
            after_citizen_id=pl.when(pl.col("status") == "applied").then(pl.col("after_citizen_id"))
        )
        .sort("line_id")
        .select(list(AUDIT_SCHEMA))
        .collect()
        .cast(AUDIT_SCHEMA)  # type: ignore[arg-type]
    )


def against_registry(lines: pl.LazyFrame, registry: pl.LazyFrame) -> pl.LazyFrame:
    """Lines (with after_citizen_id and the row's CONFIRMATION_ROW_COLUMNS, vaccinated_date) joined to the
    registry's record of the citizen each posts its row on: is_registered, and the confirmation flags of
    matching.deterministic (is_confirmed, is_birth_date_agreed, is_sex_agreed, contradiction). What
    _registry_rejection judges, for a line read tonight and for a decision carried to a re-sent row."""
    registered = registry.select("citizen_id", *CONFIRMATION_REGISTRY_COLUMNS).rename(
        {name: f"registry_{name}" for name in CONFIRMATION_REGISTRY_COLUMNS}
    )
    return confirm_candidates(
        lines.join(registered, left_on="after_citizen_id", right_on="citizen_id", how="left")
    ).with_columns(
        is_registered=pl.col("registry_name_key").is_not_null() | pl.col("registry_birth_year").is_not_null()
    )


def _registry_rejection() -> pl.Expr:
    """The registry's rules for a line that posts its row on a citizen (after against_registry): the citizen
    is in the snapshot, a correction confirms (name, birth date, sex), the shot can be theirs."""
    is_impossible = pl.col("impossible_reason").is_not_null() | is_impossible_link()
    return (
        pl.when(~pl.col("is_registered"))
        .then(pl.lit("id_not_in_registry"))
        .when((pl.col("kind") == CORRECTED_DECISION) & ~pl.col("is_confirmed").fill_null(False))
        .then(pl.lit("correction_not_confirmed"))
        .when(is_impossible)
        .then(pl.lit("impossible_link"))
    )


def replaces_earlier_decision() -> pl.Expr:
    """A line (not a withdrawal) that replaces a decision standing on its row: its reviewer's own decision
    that posted the row (that posting is taken back whatever the new line's outcome: replacing_rows), or,
    applied, an earlier rejection (the row waits as reviewer_rejected)."""
    replaces_own = pl.col("is_decidable").fill_null(False) & pl.col("replaces_own_decision").fill_null(False)
    replaces_rejection = (pl.col("status") == "applied") & (pl.col("before_reason_code") == REVIEWER_REJECTED)
    is_new_decision = pl.col("kind").is_in(["accept", REJECT_DECISION, CORRECTED_DECISION]).fill_null(False)
    return is_new_decision & (replaces_own | replaces_rejection.fill_null(False))


def _parsed_lines(lines: pl.DataFrame, secret: bytes) -> pl.DataFrame:
    """Lines with their decision kind, row key parts, report run and whether the row token verifies."""
    row_run, row_mac = token_parts(pl.col("row_token"))
    parsed = (
        lines.with_row_index("line_id")
        .with_columns(
            decision=pl.col("decision").str.strip_chars().str.to_lowercase().str.replace_all(r"\s+", " ")
        )
        .with_columns(
            *_row_key_parts(),
            accepted_rank=pl.col("decision").str.extract(r"^accept (\d+)$").cast(pl.Int32, strict=False),
            kind=pl.when(pl.col("decision").str.contains(r"^accept \d+$"))
            .then(pl.lit("accept"))
            .when(pl.col("decision").is_in([REJECT_DECISION, CORRECTED_DECISION, WITHDRAW_DECISION]))
            .then(pl.col("decision")),
            report_run_id=row_run,
            row_mac=row_mac,
        )
    )
    messages = parsed.select(
        row_message(pl.col("report_run_id"), pl.col("row_key"), pl.col("file_province_code"))
    ).to_series()
    return parsed.with_columns(
        is_row_token_valid=(macs(messages, secret) == pl.col("row_mac")).fill_null(False)
    )


def _chosen_candidates(parsed: pl.DataFrame, candidates: pl.DataFrame, secret: bytes) -> pl.DataFrame:
    """Per accept line (line_id): whether its candidate token is usable, and the candidate offered now
    whose signature it carries (any rank: a shown citizen who moved rank is still the one shown)."""
    run, mac = token_parts(pl.col("candidate_token"))
    accepts = parsed.filter(pl.col("kind") == "accept").select(
        "line_id",
        "file_hash",
        "source_row",
        "row_key",
        "report_run_id",
        candidate_token=pl.col("candidate_tokens").list.get(pl.col("accepted_rank") - 1, null_on_oob=True),
        is_rank_shown=pl.col("accepted_rank").is_between(1, CANDIDATES_SHOWN),
    )
    accepts = accepts.with_columns(candidate_run=run, candidate_mac=mac).with_columns(
        has_candidate_token=pl.col("candidate_token").is_not_null() & pl.col("is_rank_shown"),
        is_candidate_token_sound=(pl.col("candidate_run") == pl.col("report_run_id")).fill_null(False),
    )
    pairs = accepts.join(candidates, on=["file_hash", "source_row"], how="inner")
    messages = pairs.select(
        candidate_message(pl.col("candidate_run"), pl.col("row_key"), pl.col("citizen_id"))
    ).to_series()
    signed = (
        pairs.filter((macs(messages, secret) == pairs["candidate_mac"]).fill_null(False))
        .sort("candidate_rank")
        .unique("line_id", keep="first")
        .select(
            "line_id",
            offered_citizen_id="citizen_id",
            match_probability="match_probability",
            impossible_reason="impossible_reason",
        )
    )
    return accepts.select("line_id", "has_candidate_token", "is_candidate_token_sound").join(
        signed, on="line_id", how="left"
    )


def _rejection_reason() -> pl.Expr:
    """The first rule a decision line breaks, in the order a reviewer would want to hear it."""
    is_row_key_mismatch = pl.col("stated_source_row").is_not_null() & (
        pl.col("stated_source_row").cast(pl.Int32, strict=False) != pl.col("source_row")
    ).fill_null(True)
    kind = pl.col("kind")
    return (
        pl.when(pl.col("file_province_code").is_null())
        .then(pl.lit("not_in_province_folder"))
        .when(pl.col("has_formula"))
        .then(pl.lit("formula_cell"))
        .when(pl.col("reviewer").fill_null("").str.strip_chars() == "")
        .then(pl.lit("reviewer_missing"))
        .when(kind.is_null())
        .then(pl.lit("unknown_decision"))
        .when(pl.col("source_row").is_null() | is_row_key_mismatch)
        .then(pl.lit("row_key_mismatch"))
        .when(pl.col("before_reason_code").is_null())
        .then(pl.lit("unknown_row"))
        .when(pl.col("province_code") != pl.col("file_province_code"))
        .then(pl.lit("wrong_province"))
        .when(~pl.col("is_row_token_valid"))
        .then(pl.lit("token_invalid"))
        .when(pl.col("is_file_resent"))
        .then(pl.lit("row_file_resent"))
        # A row of an older version landed again: posting it would put back what a newer version corrected.
        .when(pl.col("before_reason_code") == OLDER_VERSION_REASON)
        .then(pl.lit("older_version_row"))
        .when(
            (kind == WITHDRAW_DECISION)
            & (pl.col("before_reason_code") != REVIEWER_REJECTED)
            & ~pl.col("is_posted_by_decision")
        )
        .then(pl.lit("nothing_to_withdraw"))
        .when(kind == WITHDRAW_DECISION)
        .then(None)
        .when(_is_decision_in_effect())
        .then(pl.lit("decision_in_effect"))
        .when(pl.col("is_posted_by_decision") & ~_replaces_own_decision().fill_null(False))
        .then(pl.lit("already_decided"))
        # An accept's own checks come first: a stale or forged accept does not make its row matched tonight.
        .when((kind == "accept") & ~pl.col("has_candidate_token").fill_null(False))
        .then(pl.lit("candidate_not_offered"))
        .when((kind == "accept") & ~pl.col("is_candidate_token_sound").fill_null(False))
        .then(pl.lit("token_invalid"))
        .when((kind == "accept") & pl.col("offered_citizen_id").is_null())
        .then(pl.lit("decision_stale"))
        .when(pl.col("is_matchable").is_null())
        .then(pl.lit("row_not_matchable"))
        .when(kind == REJECT_DECISION)
        .then(None)
        .when((kind == CORRECTED_DECISION) & ~pl.col("corrected_id").fill_null("").str.contains(r"^\d{12}$"))
        .then(pl.lit("malformed_id"))
        .otherwise(_registry_rejection())
    )


def _reviewer_key(reviewer: pl.Expr) -> pl.Expr:
    """A reviewer's name compared without case, Unicode form or repeated spaces."""
    return reviewer.str.normalize("NFC").str.strip_chars().str.to_lowercase().str.replace_all(r"\s+", " ")


def _replaces_own_decision() -> pl.Expr:
    """A new decision (not a withdrawal) on a row that the same reviewer's earlier decision posted: it
    replaces that decision in one night. Another reviewer's posted decision must be withdrawn first. The
    same decision again (the row's citizen once more) replaces nothing: it is in effect already."""
    return (
        pl.col("is_posted_by_decision")
        & pl.col("kind").is_in(["accept", REJECT_DECISION, CORRECTED_DECISION])
        & (_reviewer_key(pl.col("reviewer")) == _reviewer_key(pl.col("decided_by")))
        & ~_is_decision_in_effect()
    )


def _is_decision_in_effect() -> pl.Expr:
    """The line posts the row on the citizen an earlier decision already posted it on (sent twice: taking
    the posting back to post the same shot again would lose it)."""
    return (pl.col("is_posted_by_decision") & (_decided_citizen() == pl.col("decided_citizen_id"))).fill_null(
        False
    )


def _decided_citizen() -> pl.Expr:
    """The citizen a line posts its row on: the offered candidate of an accept, the stated ID of a correction."""
    return (
        pl.when(pl.col("kind") == "accept")
        .then(pl.col("offered_citizen_id"))
        .when(pl.col("kind") == CORRECTED_DECISION)
        .then(pl.col("corrected_id"))
    )


def _conflicting_decisions() -> pl.Expr:
    """Two valid lines disagreeing on one row in one night cancel each other: a person must settle it.
    (Across nights the later decision is the one that counts: a rejection can be withdrawn or replaced.)"""
    valid = pl.col("rejection_reason").is_null()
    outcome = pl.concat_str([pl.col("kind"), pl.col("after_citizen_id").fill_null("")], separator="|")
    valid_outcomes = pl.when(valid).then(outcome).drop_nulls().n_unique().over("file_hash", "source_row")
    return (
        pl.when(valid & (valid_outcomes > 1))
        .then(pl.lit("conflicting_decisions"))
        .otherwise("rejection_reason")
    )


# --- applying -------------------------------------------------------------------------------------------


def apply_review_decisions(settings: Settings, work: RunWorkDir, matches: pl.DataFrame) -> pl.DataFrame:
    """Read tonight's new decision files, write the audit rows, and return the matches they override.

    A reviewer's rejection keeps holding its row back on later nights, until a corrected ID arrives or
    the reviewer withdraws it. A correction that did not confirm holds its row tonight (the report shows why).
    """
    if not work.decisions_file.exists():
        validate_tonight_decisions(settings, work)
    audit = pl.read_parquet(work.decisions_file)
    applied = audit.filter(pl.col("status") == "applied").unique(["file_hash", "source_row"])
    if applied.height:
        log.info("applying %d review decisions (%d rejected)", applied.height, audit.height - applied.height)
    still_rejected = (
        pl.scan_parquet(work.match_input_file)
        .filter(pl.col("prior_backlog_reason") == REVIEWER_REJECTED)
        .select("file_hash", "source_row")
        .collect()
    )
    unconfirmed = audit.filter(pl.col("rejection_reason") == "correction_not_confirmed").select(
        "file_hash", "source_row", "rejection_detail"
    )
    replaced = replacing_rows(pl.read_parquet(work.decision_lines_file))
    refused_carries = read_carried(work).filter(pl.col("refused_detail").is_not_null())
    return _override_matches(matches, applied, still_rejected, unconfirmed, replaced, refused_carries)


def _override_matches(
    matches: pl.DataFrame,
    applied: pl.DataFrame,
    still_rejected: pl.DataFrame,
    unconfirmed: pl.DataFrame | None = None,
    replaced: pl.DataFrame | None = None,
    refused_carries: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`replaced`: rows whose posting by an earlier decision is replaced tonight (replacing_rows). Their old
    posting is taken back at publish whatever happens: without an applied decision tonight they never keep
    the automatic match (that would post the dose a second time), they wait in review.
    `refused_carries`: rows of a re-sent file whose carried decision tonight's registry no longer supports
    (file_hash, source_row, refused_detail): a reviewer decided them, so they wait in review, never on
    tonight's automatic match."""
    keys = ["file_hash", "source_row"]
    withdrawn = applied.filter(pl.col("decision") == WITHDRAW_DECISION).select(keys)
    decisive = applied.filter(pl.col("decision") != WITHDRAW_DECISION)
    decided = decisive.select(
        *keys,
        decided_citizen_id=pl.col("after_citizen_id"),
        decided_probability=pl.col("match_probability"),
        is_decided=pl.lit(True),
    )
    held = (
        still_rejected.join(applied, on=keys, how="anti")
        .join(withdrawn, on=keys, how="anti")
        .with_columns(is_held=pl.lit(True))
    )
    unconfirmed_rows = (
        (
            unconfirmed
            if unconfirmed is not None
            else pl.DataFrame(schema={**dict.fromkeys(keys), "rejection_detail": pl.String()})
        )
        .cast({"file_hash": pl.String, "source_row": pl.Int32, "rejection_detail": pl.String})
        .join(decisive, on=keys, how="anti")
        .unique(keys)
        .select(*keys, unconfirmed_detail="rejection_detail")
    )
    replaced_rows = (
        (
            replaced
            if replaced is not None
            else pl.DataFrame(schema={"file_hash": pl.String(), "source_row": pl.Int32()})
        )
        .select(keys)
        .cast({"file_hash": pl.String, "source_row": pl.Int32})
        .join(decisive, on=keys, how="anti")
        .unique(keys)
        .with_columns(is_replacement_refused=pl.lit(True))
    )
    refused_carry_rows = (
        (refused_carries if refused_carries is not None else pl.DataFrame(schema=CARRIED_SCHEMA))
        .select(*keys, carry_refused_detail="refused_detail")
        .cast({"file_hash": pl.String, "source_row": pl.Int32, "carry_refused_detail": pl.String})
        .join(decisive, on=keys, how="anti")
        .unique(keys)
    )
    is_decided = pl.col("is_decided").fill_null(False)
    is_rejected_now = is_decided & pl.col("decided_citizen_id").is_null()
    is_held = pl.col("is_held").fill_null(False) | is_rejected_now
    is_carry_refused = pl.col("carry_refused_detail").is_not_null()
    is_unconfirmed = (
        pl.col("unconfirmed_detail").is_not_null()
        | pl.col("is_replacement_refused").fill_null(False)
        | is_carry_refused
    ) & ~is_held
    return (
        matches.join(decided, on=keys, how="left")
        .join(held, on=keys, how="left")
        .join(unconfirmed_rows, on=keys, how="left")
        .join(replaced_rows, on=keys, how="left")
        .join(refused_carry_rows, on=keys, how="left")
        .with_columns(
            citizen_id=pl.when(is_held | is_unconfirmed)
            .then(None)
            .when(is_decided)
            .then("decided_citizen_id")
            .otherwise("citizen_id"),
            match_method=pl.when(is_held | is_unconfirmed)
            .then(None)
            .when(is_decided)
            .then(pl.lit("review_decision"))
            .otherwise("match_method"),
            match_score=pl.when(is_held | is_unconfirmed)
            .then(None)
            .when(is_decided)
            .then(pl.col("decided_probability").fill_null(1.0))
            .otherwise("match_score"),
            match_reason=pl.when(is_held)
            .then(pl.lit(REVIEWER_REJECTED))
            .when(is_unconfirmed)
            .then(pl.lit("review_required"))
            .when(is_decided)
            .then(None)
            .otherwise("match_reason"),
            match_detail=pl.when(is_held)
            .then(pl.lit("a reviewer rejected the offered candidates"))
            .when(is_unconfirmed & pl.col("unconfirmed_detail").is_not_null())
            .then(
                pl.concat_str(
                    pl.lit("a reviewer's corrected ID did not confirm ("), "unconfirmed_detail", pl.lit(")")
                )
            )
            .when(is_unconfirmed & is_carry_refused)
            .then(
                pl.concat_str(
                    pl.lit("a reviewer's decision on this row's earlier version no longer holds ("),
                    "carry_refused_detail",
                    pl.lit(")"),
                )
            )
            .when(is_unconfirmed)
            .then(pl.lit("a reviewer's new decision replacing their posted one was refused"))
            .when(is_decided)
            .then(pl.lit("decided by a reviewer"))
            .otherwise("match_detail"),
        )
        .select(matches.columns)
    )


def validate_tonight_decisions(settings: Settings, work: RunWorkDir) -> pl.DataFrame:
    """Validate tonight's decision lines once the match input is written; keep the audit rows in the work dir.

    Returns the applied links (file_hash, source_row, citizen_id): labelled pairs for fitting the model.
    """
    audit, files = _validate_tonight(settings, work)
    audit.write_parquet(work.decisions_file)
    files.write_parquet(work.decision_files_file)
    return audit.filter((pl.col("status") == "applied") & pl.col("after_citizen_id").is_not_null()).select(
        "file_hash", "source_row", citizen_id="after_citizen_id"
    )


def _validate_tonight(settings: Settings, work: RunWorkDir) -> tuple[pl.DataFrame, pl.DataFrame]:

    if work.decision_lines_file.exists():
        all_lines = pl.read_parquet(work.decision_lines_file)
    else:
        all_lines = read_new_decisions(settings, work)
    summaries = pl.read_parquet(work.decision_files_file)
    versions = read_tonight_versions(work)
    carried = carried_decisions(settings, work, versions)
    if all_lines.is_empty():
        return carried, _file_summaries(summaries, pl.DataFrame(schema=AUDIT_SCHEMA))
    open_backlog, candidates = _backlog_and_candidates(settings)
    matchable = (
        pl.scan_parquet(work.match_input_file)
        .filter(pl.col("is_rematch") & pl.col("reject_reason").is_null())
        .select("file_hash", "source_row", "vaccinated_date", *CONFIRMATION_ROW_COLUMNS)
        .collect()
    )
    wanted = pl.concat([candidates["citizen_id"], all_lines["corrected_id"].drop_nulls()]).unique()
    registry = prepared_registry(settings, snapshot_hash=read_json(work.run_file)["registry_hash"]).filter(
        pl.col("citizen_id").is_in(wanted.implode())
    )
    resent = versions["replaces_file_hash"].drop_nulls().to_list()
    audit = validate_decisions(
        all_lines, open_backlog, candidates, registry, matchable, secret=decision_secret(settings),
        resent_file_hashes=resent,
    )  # fmt: skip
    return pl.concat([audit, carried]), _file_summaries(summaries, audit)


# --- a re-sent file: decisions follow the rows that did not change -----------------------------------------

CARRIED_FILE_NAME = "carried_decisions.parquet"  # in the run's work folder: old row key -> new row key
CARRIED_SCHEMA: dict[str, pl.DataType] = {
    "old_file_hash": pl.String(), "old_source_row": pl.Int32(), "file_hash": pl.String(), "source_row": pl.Int32(),
    # null: carried; else why tonight's registry no longer supports the decision (the row goes to review)
    "refused_detail": pl.String(),
}  # fmt: skip
# A carried decision tonight's registry snapshot no longer supports (vaxsync.core.reasons.DECISION_REJECTIONS).
CARRY_REFUSED = "registry_no_longer_confirms"
# A carried line: the row of tonight's version and the row of the replaced one it was decided on.
CARRIED_KEYS = ["file_hash", "source_row", "old_file_hash", "old_source_row"]
# What makes a row of a new file version "the row the reviewer decided on": every field as sent.
ROW_CONTENT_COLUMNS: tuple[str, ...] = tuple(raw_column(field) for field in EXPORT_FIELDS)


def carried_decisions(settings: Settings, work: RunWorkDir, tonight_versions: pl.DataFrame) -> pl.DataFrame:
    """Audit rows (AUDIT_SCHEMA, applied) carrying each decision standing on a row of a file version that a
    version of tonight replaces to the new version's row with the same content, every field as sent.

    A decision is about a row's content, not its file version: an unchanged row of a re-send keeps its
    reviewer's accept, correction or rejection (it neither returns to review nor loses its posting), a
    changed row does not (it is matched afresh). A standing decision is the row's last applied line, unless
    a withdrawal; carried lines keep their reviewer, file and report run, so the reviewer can withdraw or
    replace them on the new row. Writes the old -> new row keys for publish (record_carried_postings)."""
    mapping = pl.DataFrame(schema=CARRIED_SCHEMA)
    carried = pl.DataFrame(schema=AUDIT_SCHEMA)
    versions = tonight_versions.filter(pl.col("replaces_file_hash").is_not_null())
    standing = (
        _standing_decisions(settings, versions["replaces_file_hash"].unique().to_list())
        if not versions.is_empty() and settings.warehouse_path.exists()
        else pl.DataFrame()
    )
    if not standing.is_empty():  # most re-sends replace no decided row: their rows are not read again
        new_rows = (
            pl.scan_parquet(work.match_input_file)
            .filter(~pl.col("is_rematch") & pl.col("file_hash").is_in(versions["file_hash"].implode()))
            .select(
                "file_hash", "source_row", "vaccinated_date", *CONFIRMATION_ROW_COLUMNS, *ROW_CONTENT_COLUMNS
            )
            .collect()
            .join(versions.select("file_hash", old_file_hash="replaces_file_hash"), on="file_hash")
        )
        matched = _checked_again(
            settings,
            work,
            new_rows.join(
                standing, on=["old_file_hash", *ROW_CONTENT_COLUMNS], how="inner", nulls_equal=True
            ),
        )
        mapping = matched.select(list(CARRIED_SCHEMA)).cast(CARRIED_SCHEMA)  # type: ignore[arg-type]
        is_refused = pl.col("refused_detail").is_not_null()
        carried = matched.with_columns(
            status=pl.when(is_refused).then(pl.lit("rejected")).otherwise(pl.lit("applied")),
            rejection_reason=pl.when(is_refused).then(pl.lit(CARRY_REFUSED)),
            rejection_detail="refused_detail",
            after_citizen_id=pl.when(~is_refused).then("after_citizen_id"),
        ).with_columns(
            note=pl.concat_str(
                pl.lit("carried from the replaced version's identical row "),
                pl.col("old_file_hash"), pl.lit(":"), pl.col("old_source_row").cast(pl.String),
                pl.lit("; "), pl.col("note").fill_null(""),
            ),
            # the audit's key (file, sheet, line) names the original line; the carry is one more row of it
            sheet_name=pl.concat_str(
                pl.col("sheet_name"), pl.lit(" (carried to "), pl.col("file_hash").str.slice(0, 16), pl.lit(")")
            ),
            match_probability=pl.lit(None, dtype=pl.Float64),
            replaces_earlier_decision=pl.lit(False),
        ).select(list(AUDIT_SCHEMA)).cast(AUDIT_SCHEMA)  # type: ignore[arg-type]  # fmt: skip
    mapping.write_parquet(work.root / CARRIED_FILE_NAME)
    if carried.height:
        refused = int((carried["status"] == "rejected").sum())
        log.info(
            "carried %d review decisions to unchanged rows of re-sent files (%d no longer hold: back to review)",
            carried.height - refused,
            refused,
        )
    return carried


def _checked_again(settings: Settings, work: RunWorkDir, carried: pl.DataFrame) -> pl.DataFrame:
    """refused_detail: why tonight's registry snapshot no longer supports a carried decision that posts its row
    (null: it does). The rules a line read tonight meets (_registry_rejection: the citizen is registered, a
    correction confirms, the shot can be theirs), and for an accept, which needs no confirmation, what the
    reviewer decided on: a birth date or sex that agreed with the row in the snapshot the decision was applied
    with and no longer does. That snapshot's prepared form gone, it counts as having agreed (doubt: review)."""
    keys = CARRIED_KEYS
    lines = carried.with_columns(
        kind=pl.when(pl.col("decision").str.starts_with("accept"))
        .then(pl.lit("accept"))
        .otherwise("decision"),
        impossible_reason=pl.lit(None, dtype=pl.String),
    )
    citizens = lines["after_citizen_id"].drop_nulls().unique()
    if citizens.is_empty():  # rejections only: nothing to post, nothing to check
        return carried.with_columns(refused_detail=pl.lit(None, dtype=pl.String))
    tonight = read_json(work.run_file)["registry_hash"]
    now = against_registry(
        lines.lazy(),
        prepared_registry(settings, snapshot_hash=tonight).filter(
            pl.col("citizen_id").is_in(citizens.implode())
        ),
    ).collect()
    agreed_then = _agreement_when_decided(settings, lines, citizens, tonight)
    checked = now.join(agreed_then, on=keys, how="left").with_columns(
        then_birth_date=pl.col("then_birth_date").fill_null(
            pl.when(pl.col("decided_registry_hash") == tonight).then("is_birth_date_agreed").otherwise(True)
        ),
        then_sex=pl.col("then_sex").fill_null(
            pl.when(pl.col("decided_registry_hash") == tonight).then("is_sex_agreed").otherwise(True)
        ),
    )
    code = _registry_rejection()
    no_longer_agreed = pl.concat_str(
        pl.when(pl.col("then_birth_date") & ~pl.col("is_birth_date_agreed")).then(pl.lit("birth date")),
        pl.when(pl.col("then_sex") & ~pl.col("is_sex_agreed")).then(pl.lit("sex")),
        separator=", ",
        ignore_nulls=True,
    )
    refused_detail = (
        pl.when(pl.col("after_citizen_id").is_null())
        .then(None)
        .when(code == "id_not_in_registry")
        .then(pl.lit("id_not_in_registry: the citizen is not in tonight's registry snapshot"))
        .when(code == "correction_not_confirmed")
        .then(pl.concat_str(pl.lit("correction_not_confirmed: differs now: "), pl.col("contradiction")))
        .when(code.is_not_null())
        .then(pl.concat_str(code, pl.lit(": "), impossible_link().fill_null("")))
        .when((pl.col("kind") == "accept") & (no_longer_agreed != ""))
        .then(pl.concat_str(pl.lit("the accepted citizen's record changed: differs now: "), no_longer_agreed))
    )
    return carried.join(
        checked.select(*keys, refused_detail=refused_detail), on=keys, how="left", nulls_equal=True
    )


def _agreement_when_decided(
    settings: Settings, lines: pl.DataFrame, citizens: pl.Series, tonight: str
) -> pl.DataFrame:
    """Per carried line decided with another snapshot than tonight's, whether the row's birth date and sex
    agreed with the citizen's record in that snapshot (its prepared form in the registry cache)."""
    keys = CARRIED_KEYS
    frames = [
        pl.DataFrame(
            schema={**lines.select(keys).schema, "then_birth_date": pl.Boolean, "then_sex": pl.Boolean}
        )
    ]
    for snapshot_hash in (
        lines["decided_registry_hash"].drop_nulls().unique().sort()
    ):  # a few snapshots, not rows
        path = prepared_registry_file(settings, snapshot_hash=snapshot_hash)
        if snapshot_hash == tonight or not path.exists():
            continue
        registry = pl.scan_parquet(path).filter(pl.col("citizen_id").is_in(citizens.implode()))
        decided = lines.filter(pl.col("decided_registry_hash") == snapshot_hash).lazy()
        frames.append(
            against_registry(decided, registry)
            .select(*keys, then_birth_date="is_birth_date_agreed", then_sex="is_sex_agreed")
            .collect()
        )
    return pl.concat(frames)


def _standing_decisions(settings: Settings, old_file_hashes: list[str]) -> pl.DataFrame:
    """The standing decision of each decided row of the given file versions, with the row's content."""
    content = ", ".join(f"r.{name}" for name in ROW_CONTENT_COLUMNS)
    with connect(settings.warehouse_path) as connection:
        standing = connection.sql(
            f"""
            select d.* exclude (file_hash, source_row, after_shot_id, run_id), d.file_hash as old_file_hash,
                   d.source_row as old_source_row, p.registry_hash as decided_registry_hash, {content}
            from review_decisions d
            join backlog_records r using (file_hash, source_row)
            left join pipeline_runs p on p.run_id = d.run_id  -- the snapshot the decision was applied with
            where d.status = 'applied' and d.file_hash in (select unnest($hashes::varchar[]))
            qualify row_number() over (partition by d.file_hash, d.source_row
                                       order by d.decided_at desc, d.run_id desc) = 1
                and d.decision <> '{WITHDRAW_DECISION}'
            """,
            params={"hashes": old_file_hashes},
        ).pl()
    # An old row whose content repeats in its version (a copy) keeps the decision of either: not carried.
    return standing.filter(pl.len().over("old_file_hash", *ROW_CONTENT_COLUMNS) == 1).cast(
        {"old_source_row": pl.Int32}
    )


def read_carried(work: RunWorkDir) -> pl.DataFrame:
    path = work.root / CARRIED_FILE_NAME
    if not path.exists():
        return pl.DataFrame(schema=CARRIED_SCHEMA)
    carried = pl.read_parquet(path)
    if "refused_detail" not in carried.columns:  # written before carried decisions were checked again
        carried = carried.with_columns(refused_detail=pl.lit(None, dtype=pl.String))
    return carried.select(list(CARRIED_SCHEMA))


def record_carried_postings(connection: duckdb.DuckDBPyConnection, work: RunWorkDir, run_id: str) -> None:
    """Inside the night's transaction, after the ledger's counts: a new row posted tonight by a carried accept
    or correction gets its backlog row, resolved by that decision (as the old row's was), so that a later
    `withdraw` or a new decision of its reviewer finds it. Not counted again in the ledger: it posted tonight."""
    register_frame(
        connection, "tonight_carried", read_carried(work).filter(pl.col("refused_detail").is_null())
    )
    connection.execute(
        f"""
        insert into unposted_backlog (source_file, file_hash, source_row, reason_code, reason_detail,
            province_code, facility, candidate_citizen_id, candidate_score, first_seen_on, run_id,
            last_matched_run_id, resolved_run_id, resolution, resolved_shot_id)
        select p.source_file, c.file_hash, c.source_row, old.reason_code, old.reason_detail, old.province_code,
               old.facility, old.candidate_citizen_id, old.candidate_score, old.first_seen_on, $run_id, $run_id,
               $run_id, old.resolution, p.shot_id
        from tonight_carried c
        join unposted_backlog old on old.file_hash = c.old_file_hash and old.source_row = c.old_source_row
        join night_postings p on p.file_hash = c.file_hash and p.source_row = c.source_row
        where old.resolution in {DECISION_RESOLUTIONS}
          and not exists (select 1 from unposted_backlog b where b.file_hash = c.file_hash
                                                             and b.source_row = c.source_row)
        """,
        {"run_id": run_id},
    )


def _file_summaries(summaries: pl.DataFrame, audit: pl.DataFrame) -> pl.DataFrame:
    counts = audit.group_by("decision_file_hash").agg(
        decisions_read=pl.len(),
        decisions_applied=(pl.col("status") == "applied").sum(),
        decisions_rejected=(pl.col("status") == "rejected").sum(),
    )
    return summaries.join(counts, on="decision_file_hash", how="left").with_columns(
        pl.col("decisions_read", "decisions_applied", "decisions_rejected").fill_null(0).cast(pl.Int32)
    )


def _backlog_and_candidates(settings: Settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    with connect(settings.warehouse_path, settings=settings) as connection:
        # The open rows, and the rows an earlier decision posted (a reviewer may withdraw that decision).
        # decided_by: the reviewer of the decision that posted the row (the row's last applied decision).
        open_backlog = connection.sql(
            f"""select b.file_hash, b.source_row, coalesce(b.province_code, '??') as province_code, b.reason_code,
                       b.candidate_citizen_id, b.resolved_run_id is not null as is_posted_by_decision,
                       case when b.resolved_run_id is not null then d.decided_by end as decided_by,
                       case when b.resolved_run_id is not null then d.decided_citizen_id end as decided_citizen_id
                from unposted_backlog b
                left join (select file_hash, source_row, arg_max(reviewer, decided_at) as decided_by,
                                  arg_max(after_citizen_id, decided_at) as decided_citizen_id
                           from review_decisions where status = 'applied' and decision <> '{WITHDRAW_DECISION}'
                           group by file_hash, source_row) d using (file_hash, source_row)
                where b.superseded_by_file_hash is null
                  and (b.resolved_run_id is null or b.resolution in {DECISION_RESOLUTIONS})"""
        ).pl()
        candidates = connection.sql(
            """
            select file_hash, source_row, candidate_rank, citizen_id, match_probability, impossible_reason
            from review_candidates
            qualify run_id = max(run_id) over (partition by file_hash, source_row)
            """
        ).pl()
    return open_backlog.cast({"source_row": pl.Int32}), candidates.cast(
        {"source_row": pl.Int32, "candidate_rank": pl.Int32}
    )


# --- publish: inside the night's transaction --------------------------------------------------------------


def write_decision_audit(connection: duckdb.DuckDBPyConnection, work: RunWorkDir, run_id: str) -> None:
    """Every decision line read tonight, with the before and after of the row it decided on; every file.
    Withdrawn decisions that had posted a shot take their posting back first."""
    if not work.decisions_file.exists():
        return
    withdraw_decided_postings(connection, pl.read_parquet(work.decisions_file), run_id=run_id)
    connection.execute(
        """
        insert into review_decisions (decision_file_hash, sheet_name, sheet_row, reviewer, decided_at, file_hash,
            source_row, province_code, decision, corrected_id, status, rejection_reason, before_reason_code,
            before_candidate_citizen_id, after_citizen_id, after_shot_id, run_id, note, stated_decided_on,
            rejection_detail, report_run_id, replaces_earlier_decision)
        select d.decision_file_hash, d.sheet_name, d.sheet_row, d.reviewer, d.decided_at, d.file_hash, d.source_row,
               d.province_code, d.decision, d.corrected_id, d.status, d.rejection_reason, d.before_reason_code,
               d.before_candidate_citizen_id, d.after_citizen_id, p.shot_id, $run_id, d.note, d.stated_decided_on,
               d.rejection_detail, d.report_run_id, d.replaces_earlier_decision
        from read_parquet($path) d
        left join night_postings p
          on d.status = 'applied' and p.file_hash = d.file_hash and p.source_row = d.source_row
        """,
        {"path": work.decisions_file.as_posix(), "run_id": run_id},
    )
    connection.execute(
        """
        insert into review_decision_files (decision_file, decision_file_hash, province_code, reviewer,
            decisions_read, decisions_applied, decisions_rejected, status, detail, run_id, read_at,
            quarantine_reason, identical_copies)
        select decision_file, decision_file_hash, province_code, reviewer, decisions_read, decisions_applied,
               decisions_rejected, status, detail, $run_id, read_at, quarantine_reason, identical_copies
        from read_parquet($path)
        """,
        {"path": work.decision_files_file.as_posix(), "run_id": run_id},
    )


def withdraw_decided_postings(
    connection: duckdb.DuckDBPyConnection, audit: pl.DataFrame, *, run_id: str
) -> None:
    """The rows whose posting a reviewer withdrew tonight go back to the open backlog, in review."""

    withdrawn = audit.filter(
        (pl.col("status") == "applied") & (pl.col("decision") == WITHDRAW_DECISION)
    ).select("file_hash", "source_row")
    register_frame(connection, "tonight_withdrawn", withdrawn)
    posted = connection.sql(
        f"""select b.file_hash, b.source_row from unposted_backlog b
            join tonight_withdrawn w using (file_hash, source_row)
            where b.resolved_run_id is not null and b.resolution in {DECISION_RESOLUTIONS}"""
    ).pl()
    taken = _take_back_postings(
        connection, posted, run_id=run_id, reason=WITHDRAWN_POSTING,
        detail="a reviewer withdrew the decision that posted it",
    )  # fmt: skip
    if taken:
        log.info("withdrew %d postings made by earlier review decisions", taken)


def stage_replaced_postings(connection: duckdb.DuckDBPyConnection, work: RunWorkDir) -> None:
    """Before the event rules: `replaced_postings`, the rows an earlier decision posted that their reviewer
    decides again tonight (matched again tonight: replacing_rows), and the shots only they support join
    `retiring_shots` (vaxsync.marts.resends), so that tonight's rules do not see the posting being replaced:
    the row's new decision neither merges into it nor is held against it."""
    lines = (
        pl.read_parquet(work.decision_lines_file)
        if work.decision_lines_file.exists()
        else pl.DataFrame(schema=DECISION_LINE_SCHEMA)
    )
    register_frame(connection, "tonight_replacing_rows", replacing_rows(lines))
    connection.execute(
        f"""
        create or replace temp table replaced_postings as
        select b.file_hash, b.source_row from unposted_backlog b
        join tonight_replacing_rows r using (file_hash, source_row)
        where b.resolved_run_id is not null and b.resolution in {DECISION_RESOLUTIONS}
          and b.superseded_by_file_hash is null
          and (b.file_hash, b.source_row) in (
              select file_hash, source_row from read_parquet($path) where is_rematch)
        """,
        {"path": work.match_input_file.as_posix()},
    )
    connection.execute(
        "create temp table if not exists version_changes (old_file_hash varchar, new_file_hash varchar)"
    )
    connection.execute("create temp table if not exists retiring_shots (shot_id varchar)")
    connection.execute(
        """
        insert into retiring_shots
        select s.shot_id from shot_sources s
        left join replaced_postings r using (file_hash, source_row)
        where s.inactive_reason is null
          and s.shot_id in (select shot_id from shot_sources join replaced_postings using (file_hash, source_row))
          and s.shot_id not in (select shot_id from retiring_shots)
        group by s.shot_id
        having bool_and(r.file_hash is not null or s.file_hash in (select old_file_hash from version_changes))
        """
    )


def take_back_replaced_postings(connection: duckdb.DuckDBPyConnection, *, run_id: str) -> None:
    """Inside the night's transaction, before tonight's postings are written: the postings that tonight's
    decisions replace are taken back (retracted as `posting_replaced` unless another row supports the shot),
    so the row, matched again tonight, posts once, on the citizen of its new decision, or waits in review."""
    connection.execute(
        "create temp table if not exists replaced_postings (file_hash varchar, source_row integer)"
    )
    replaced = connection.sql("select file_hash, source_row from replaced_postings").pl()
    taken = _take_back_postings(
        connection, replaced, run_id=run_id, reason=REPLACED_POSTING,
        detail="its reviewer replaced the decision that posted it",
    )  # fmt: skip
    if taken:
        log.info("replaced %d postings made by earlier review decisions", taken)


def _take_back_postings(
    connection: duckdb.DuckDBPyConnection, posted: pl.DataFrame, *, run_id: str, reason: str, detail: str
) -> int:
    """Rows posted by earlier decisions go back to the open backlog, in review; returns how many.

    vaxsync.marts.events.retract_postings retracts each shot no other row supports (kept in `retracted_shots`
    with `reason`) and re-sequences the citizen's doses. The row then leaves `shot_sources` and its file's
    ledger moves it from posted (or duplicate) back to backlog, so the row is in exactly one place again:
    the open backlog (from where a decision of tonight may post it again)."""
    if posted.is_empty():
        return 0
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    retract_postings(connection, posted, run_id=run_id, now=now, reason=reason)
    register_frame(connection, "taken_back_postings", posted.select("file_hash", "source_row"))
    connection.execute(
        """
        update ingest_ledger set rows_posted = ingest_ledger.rows_posted - moved.posted,
            rows_duplicate = ingest_ledger.rows_duplicate - moved.duplicate,
            rows_backlog = ingest_ledger.rows_backlog + moved.posted + moved.duplicate
        from (
            select s.file_hash, count(*) filter (where not s.is_duplicate) as posted,
                   count(*) filter (where s.is_duplicate) as duplicate
            from shot_sources s join taken_back_postings w using (file_hash, source_row) group by s.file_hash
        ) as moved
        where ingest_ledger.file_hash = moved.file_hash and ingest_ledger.status = 'loaded'
        """
    )
    connection.execute(
        """delete from shot_sources
           where (file_hash, source_row) in (select file_hash, source_row from taken_back_postings)"""
    )
    connection.execute(
        """
        update unposted_backlog set resolved_run_id = null, resolution = null, resolved_shot_id = null,
            reason_code = 'review_required', reason_detail = $detail, last_matched_run_id = $run_id
        where (file_hash, source_row) in (select file_hash, source_row from taken_back_postings)
        """,
        {"run_id": run_id, "detail": detail},
    )
    return posted.height


def accepted_decision_pairs(settings: Settings) -> pl.DataFrame:
    """Labelled data for the matching model: (file_hash, source_row, citizen_id) of applied decisions."""
    if not settings.warehouse_path.exists():
        return pl.DataFrame(
            schema={"file_hash": pl.String(), "source_row": pl.Int32(), "citizen_id": pl.String()}
        )
    with connect(settings.warehouse_path, settings=settings) as connection:
        return connection.sql(
            """select file_hash, source_row, after_citizen_id as citizen_id from review_decisions
               where status = 'applied' and after_citizen_id is not null"""
        ).pl()


# --- reporting --------------------------------------------------------------------------------------------


def rejected_decision_lines(connection: duckdb.DuckDBPyConnection, *, as_of: dt.date) -> pl.DataFrame:
    """The decision lines the night refused and the files it quarantined, per province (the folder's; `??`
    for files outside a province folder), with the reason in Vietnamese and English. By the night's as-of,
    so that running the night again writes the same report."""

    refused = connection.sql(
        """
        select coalesce(d.province_code, '??') as province_code, f.decision_file, d.sheet_name, d.sheet_row,
               d.file_hash || ':' || d.source_row as row_key, d.decision as decision_given, d.reviewer,
               d.rejection_reason as reason, d.rejection_detail
        from review_decisions d join review_decision_files f using (decision_file_hash)
        where d.status = 'rejected' and d.run_id in (select run_id from pipeline_runs where as_of = $as_of)
        union all
        select coalesce(province_code, '??'), decision_file, null, null, null, null, reviewer,
               quarantine_reason, detail
        from review_decision_files
        where status = 'quarantined' and run_id in (select run_id from pipeline_runs where as_of = $as_of)
        order by province_code, decision_file, sheet_name, sheet_row
        """,
        params={"as_of": as_of},
    ).pl()
    reasons = {**DECISION_REJECTIONS, **DECISION_FILE_REASONS}
    return (
        refused.select(
            "province_code",
            *[name for name in REJECTED_DECISION_COLUMNS if name in refused.columns],
            rejection_vi=pl.col("reason").replace_strict(
                {code: reason.vietnamese for code, reason in reasons.items()}, default=pl.col("reason")
            ),
            rejection_en=pl.col("reason").replace_strict(
                {code: reason.english for code, reason in reasons.items()}, default=pl.col("reason")
            ),
        )
        .select("province_code", *REJECTED_DECISION_COLUMNS)
        .cast({"sheet_row": pl.Int32})
    )


def review_decision_counts(connection: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, object]:
    """For the run report: decision files read and quarantined, lines read, applied and rejected (by reason)."""
    files = connection.sql(
        """select count(*) filter (where status = 'read'), count(*) filter (where status <> 'read'),
                  coalesce(sum(identical_copies), 0)
           from review_decision_files where run_id = $run_id""",
        params={"run_id": run_id},
    ).fetchall()[0]
    lines = connection.sql(
        """select count(*), count(*) filter (where status = 'applied'), count(*) filter (where status = 'rejected')
           from review_decisions where run_id = $run_id""",
        params={"run_id": run_id},
    ).fetchall()[0]

    def by_reason(sql: str) -> dict[str, int]:
        rows = connection.sql(sql, params={"run_id": run_id}).fetchall()
        return {str(reason): int(count) for reason, count in rows}

    return {
        "files_read": int(files[0]),
        "files_quarantined": int(files[1]),
        "identical_copies_skipped": int(files[2]),
        "files_quarantined_by_reason": by_reason(
            """select quarantine_reason, count(*) from review_decision_files
               where run_id = $run_id and status <> 'read' group by all order by all"""
        ),
        "lines_read": int(lines[0]),
        "lines_applied": int(lines[1]),
        "lines_rejected": int(lines[2]),
        "lines_rejected_by_reason": by_reason(
            """select rejection_reason, count(*) from review_decisions
               where run_id = $run_id and status = 'rejected' group by all order by all"""
        ),
    }
