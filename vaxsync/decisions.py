"""Review decisions coming back from provincial staff: read, validate, apply, audit.

Staff fill the `decision` column of their province's mismatch report (accept N / reject / corrected,
with `corrected_id`) and drop the file in settings.decisions_dir. The next night's match stage reads
each new file once (by content hash), validates every decision line against the open backlog, the
offered candidates and the registry, and turns the valid ones into matches (`review_decision`).
Every line, applied or rejected with a reason, becomes a `review_decisions` audit row at publish.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb
import polars as pl

from transforms.ingest import file_content_hash
from vaxsync.province_reports import INSTRUCTIONS_SHEET, PROVINCE_KEY, REVIEWER_KEY, header_code
from vaxsync.settings import Settings
from vaxsync.warehouse import connect
from vaxsync.workdir import RunWorkDir

log = logging.getLogger(__name__)

DECISION_FILE_SUFFIXES = (".xlsx", ".csv")

# One row per decision line read: the audit row's columns before validation fills the outcome.
DECISION_LINE_SCHEMA: dict[str, pl.DataType] = {
    "decision_file": pl.String(),
    "decision_file_hash": pl.String(),
    "sheet_name": pl.String(),
    "sheet_row": pl.Int32(),  # the spreadsheet's row number (header = 1), so staff can find the line
    "reviewer": pl.String(),
    "decided_at": pl.Datetime(),
    "file_province_code": pl.String(),
    "row_key": pl.String(),
    "stated_source_row": pl.String(),
    "decision": pl.String(),
    "corrected_id": pl.String(),
}

AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "decision_file_hash": pl.String(),
    "sheet_name": pl.String(),
    "sheet_row": pl.Int32(),
    "reviewer": pl.String(),
    "decided_at": pl.Datetime(),
    "file_hash": pl.String(),
    "source_row": pl.Int32(),
    "province_code": pl.String(),
    "decision": pl.String(),
    "corrected_id": pl.String(),
    "status": pl.String(),
    "rejection_reason": pl.String(),
    "before_reason_code": pl.String(),
    "before_candidate_citizen_id": pl.String(),
    "after_citizen_id": pl.String(),
    "match_probability": pl.Float64(),
}


# --- reading --------------------------------------------------------------------------------------------


def new_decision_files(settings: Settings) -> list[tuple[Path, str]]:
    """Decision files in the folder whose content has not been read by an earlier run."""
    if not settings.decisions_dir.is_dir():
        return []
    candidates = sorted(
        path
        for path in settings.decisions_dir.rglob("*")
        if path.is_file() and path.suffix.lower() in DECISION_FILE_SUFFIXES and not path.name.startswith("~$")
    )
    hashed = [(path, file_content_hash(path)) for path in candidates]
    if not hashed or not settings.warehouse_path.exists():
        return hashed
    with connect(settings.warehouse_path) as connection:
        seen = {
            row[0]
            for row in connection.execute("select decision_file_hash from review_decision_files").fetchall()
        }
    return [(path, file_hash) for path, file_hash in hashed if file_hash not in seen]


def read_decision_file(path: Path, file_hash: str) -> pl.DataFrame:
    """Every filled decision line of one file (XLSX: every sheet with a `decision` column; CSV: the file)."""
    sheets = _read_sheets(path)
    metadata = _instructions(sheets.pop(INSTRUCTIONS_SHEET, None))
    province = metadata.get(PROVINCE_KEY) or _province_from_name(path.name)
    decided_at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)
    frames = [
        _decision_lines(frame, sheet_name).with_columns(
            decision_file=pl.lit(path.name),
            decision_file_hash=pl.lit(file_hash),
            # A CSV has no instructions sheet: its lines may name their reviewer.
            reviewer=pl.coalesce(
                pl.lit(metadata.get(REVIEWER_KEY) or None, dtype=pl.String), "line_reviewer"
            ),
            decided_at=pl.lit(decided_at),
            file_province_code=pl.lit(province, dtype=pl.String),
        )
        for sheet_name, frame in sheets.items()
        if "decision" in _normalised_columns(frame)
    ]
    if not frames:
        return pl.DataFrame(schema=DECISION_LINE_SCHEMA)
    lines = pl.concat([frame.select(list(DECISION_LINE_SCHEMA)) for frame in frames])
    return lines.cast(DECISION_LINE_SCHEMA)  # type: ignore[arg-type]


def _read_sheets(path: Path) -> dict[str, pl.DataFrame]:
    if path.suffix.lower() == ".csv":
        return {path.stem: pl.read_csv(path, infer_schema=False)}
    import fastexcel

    reader = fastexcel.read_excel(path)
    return {
        name: reader.load_sheet(
            name, header_row=None if name == INSTRUCTIONS_SHEET else 0, dtypes="string"
        ).to_polars()
        for name in reader.sheet_names
    }


def _instructions(sheet: pl.DataFrame | None) -> dict[str, str]:
    """Key/value rows of the instructions sheet (column A: key, column B: value)."""
    if sheet is None or sheet.width < 2:
        return {}
    pairs = sheet.select(
        key=pl.col(sheet.columns[0]).str.strip_chars().str.to_lowercase(),
        value=pl.col(sheet.columns[1]).str.strip_chars(),
    ).drop_nulls("key")
    return {key: value for key, value in pairs.iter_rows() if value}


def _province_from_name(name: str) -> str | None:
    parts = name.split("_")
    return parts[1] if len(parts) > 2 and parts[0] == "mismatch" and parts[1].isdigit() else None


def _normalised_columns(frame: pl.DataFrame) -> dict[str, str]:
    """lower-case column code -> actual header (reports put a Vietnamese label above the code)."""
    return {header_code(column).lower(): column for column in frame.columns}


def _decision_lines(frame: pl.DataFrame, sheet_name: str) -> pl.DataFrame:
    columns = _normalised_columns(frame)

    def text(name: str) -> pl.Expr:
        return (
            pl.col(columns[name]).cast(pl.String).str.strip_chars()
            if name in columns
            else pl.lit(None, pl.String)
        )

    return (
        frame.with_row_index("sheet_row", offset=2)
        .select(
            sheet_name=pl.lit(sheet_name),
            sheet_row=pl.col("sheet_row").cast(pl.Int32),
            row_key=text("row_key"),
            stated_source_row=text("source_row"),
            line_reviewer=text("reviewer"),
            decision=text("decision"),
            corrected_id=text("corrected_id").str.replace_all(r"[\s.\-']", ""),
        )
        .filter(pl.col("decision").is_not_null() & (pl.col("decision") != ""))
    )


# --- validating -----------------------------------------------------------------------------------------


def validate_decisions(
    lines: pl.DataFrame,
    open_backlog: pl.DataFrame,
    candidates: pl.DataFrame,
    registry: pl.LazyFrame,
    matchable_rows: pl.DataFrame,
) -> pl.DataFrame:
    """Audit rows (AUDIT_SCHEMA): each line applied, or rejected with a DECISION_REJECTIONS code.

    open_backlog: file_hash, source_row, province_code, reason_code, candidate_citizen_id.
    candidates: file_hash, source_row, candidate_rank, citizen_id, match_probability, impossible_reason.
    registry: citizen_id, date_of_birth, date_of_death. matchable_rows: file_hash, source_row, vaccinated_date.
    """
    parsed = lines.with_columns(
        decision=pl.col("decision").str.strip_chars().str.to_lowercase().str.replace_all(r"\s+", " ")
    ).with_columns(
        *_row_key_parts(),
        accepted_rank=pl.col("decision").str.extract(r"^accept (\d+)$").cast(pl.Int32, strict=False),
        kind=pl.when(pl.col("decision").str.contains(r"^accept \d+$"))
        .then(pl.lit("accept"))
        .when(pl.col("decision").is_in(["reject", "corrected"]))
        .then(pl.col("decision")),
    )
    joined = (
        parsed.join(
            open_backlog.rename(
                {"reason_code": "before_reason_code", "candidate_citizen_id": "before_candidate_citizen_id"}
            ),
            on=["file_hash", "source_row"],
            how="left",
        )
        .join(
            candidates.rename({"candidate_rank": "accepted_rank", "citizen_id": "offered_citizen_id"}),
            on=["file_hash", "source_row", "accepted_rank"],
            how="left",
        )
        .join(
            matchable_rows.with_columns(is_matchable=pl.lit(True)), on=["file_hash", "source_row"], how="left"
        )
        .with_columns(
            after_citizen_id=pl.when(pl.col("kind") == "accept")
            .then(pl.col("offered_citizen_id"))
            .when(pl.col("kind") == "corrected")
            .then(pl.col("corrected_id"))
        )
        .join(
            registry.select("citizen_id", "date_of_birth", "date_of_death")
            .rename({"citizen_id": "after_citizen_id"})
            .with_columns(is_registered=pl.lit(True))
            .collect(),
            on="after_citizen_id",
            how="left",
        )
    )
    return (
        joined.with_columns(rejection_reason=_rejection_reason())
        .with_columns(rejection_reason=_conflicting_decisions())
        .with_columns(
            status=pl.when(pl.col("rejection_reason").is_null())
            .then(pl.lit("applied"))
            .otherwise(pl.lit("rejected")),
            province_code=pl.col("file_province_code"),
            match_probability=pl.when(pl.col("kind") == "accept").then(pl.col("match_probability")),
        )
        .with_columns(
            after_citizen_id=pl.when(pl.col("status") == "applied").then(pl.col("after_citizen_id"))
        )
        .select(list(AUDIT_SCHEMA))
        .cast(AUDIT_SCHEMA)  # type: ignore[arg-type]
    )


def _rejection_reason() -> pl.Expr:
    """The first rule a decision line breaks, in the order a reviewer would want to hear it."""
    is_row_key_mismatch = pl.col("stated_source_row").is_not_null() & (
        pl.col("stated_source_row").cast(pl.Int32, strict=False) != pl.col("source_row")
    )
    vaccinated = pl.col("vaccinated_date")
    is_impossible = (
        pl.col("impossible_reason").is_not_null()
        | (vaccinated < pl.col("date_of_birth")).fill_null(False)
        | (vaccinated > pl.col("date_of_death")).fill_null(False)
    )
    return (
        pl.when(pl.col("kind").is_null())
        .then(pl.lit("unknown_decision"))
        .when(pl.col("source_row").is_null() | is_row_key_mismatch)
        .then(pl.lit("row_key_mismatch"))
        .when(pl.col("before_reason_code").is_null())
        .then(pl.lit("unknown_row"))
        .when(pl.col("province_code").fill_null("??") != pl.col("file_province_code").fill_null("?"))
        .then(pl.lit("wrong_province"))
        .when(pl.col("is_matchable").is_null())
        .then(pl.lit("row_not_matchable"))
        .when(pl.col("kind") == "reject")
        .then(None)
        .when((pl.col("kind") == "accept") & pl.col("offered_citizen_id").is_null())
        .then(pl.lit("candidate_not_offered"))
        .when(
            (pl.col("kind") == "corrected") & ~pl.col("corrected_id").fill_null("").str.contains(r"^\d{12}$")
        )
        .then(pl.lit("malformed_id"))
        .when(pl.col("is_registered").is_null())
        .then(pl.lit("id_not_in_registry"))
        .when(is_impossible)
        .then(pl.lit("impossible_link"))
    )


def _conflicting_decisions() -> pl.Expr:
    """Two valid lines disagreeing on one row cancel each other: a person must settle it."""
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

    A reviewer's rejection keeps holding its row back on later nights, until a corrected ID arrives.
    """
    if not work.decisions_file.exists():
        validate_tonight_decisions(settings, work)
    audit = pl.read_parquet(work.decisions_file)
    applied = audit.filter(pl.col("status") == "applied").unique(["file_hash", "source_row"])
    if applied.height:
        log.info("applying %d review decisions (%d rejected)", applied.height, audit.height - applied.height)
    still_rejected = (
        pl.scan_parquet(work.match_input_file)
        .filter(pl.col("prior_backlog_reason") == "reviewer_rejected")
        .select("file_hash", "source_row")
        .collect()
    )
    return _override_matches(matches, applied, still_rejected)


def _override_matches(
    matches: pl.DataFrame, applied: pl.DataFrame, still_rejected: pl.DataFrame
) -> pl.DataFrame:
    keys = ["file_hash", "source_row"]
    decided = applied.select(
        *keys,
        decided_citizen_id=pl.col("after_citizen_id"),
        decided_probability=pl.col("match_probability"),
        is_decided=pl.lit(True),
    )
    held = still_rejected.join(applied, on=keys, how="anti").with_columns(is_held=pl.lit(True))
    is_decided = pl.col("is_decided").fill_null(False)
    is_rejected_now = is_decided & pl.col("decided_citizen_id").is_null()
    is_held = pl.col("is_held").fill_null(False) | is_rejected_now
    return (
        matches.join(decided, on=keys, how="left")
        .join(held, on=keys, how="left")
        .with_columns(
            citizen_id=pl.when(is_held)
            .then(None)
            .when(is_decided)
            .then("decided_citizen_id")
            .otherwise("citizen_id"),
            match_method=pl.when(is_held)
            .then(None)
            .when(is_decided)
            .then(pl.lit("review_decision"))
            .otherwise("match_method"),
            match_score=pl.when(is_held)
            .then(None)
            .when(is_decided)
            .then(pl.col("decided_probability").fill_null(1.0))
            .otherwise("match_score"),
            match_reason=pl.when(is_held)
            .then(pl.lit("reviewer_rejected"))
            .when(is_decided)
            .then(None)
            .otherwise("match_reason"),
            match_detail=pl.when(is_held)
            .then(pl.lit("a reviewer rejected the offered candidates"))
            .when(is_decided)
            .then(pl.lit("decided by a reviewer"))
            .otherwise("match_detail"),
        )
        .select(matches.columns)
    )


def read_new_decisions(settings: Settings, work: RunWorkDir) -> pl.DataFrame:
    """Read the decision files no earlier run has read; keep their lines and a summary per file in the work dir."""
    read_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    lines, summaries = [], []
    for path, file_hash in new_decision_files(settings):  # one iteration per decision file, not per row
        try:
            file_lines = read_decision_file(path, file_hash)
            status, detail = "read", None
        except Exception as error:  # a broken file must not stop the night; it is recorded instead
            file_lines = pl.DataFrame(schema=DECISION_LINE_SCHEMA)
            status, detail = "unreadable", type(error).__name__
        lines.append(file_lines)
        summaries.append(
            {"decision_file": path.name, "decision_file_hash": file_hash, "status": status, "detail": detail,
             "read_at": read_at, "province_code": file_lines["file_province_code"].first() if file_lines.height else None,
             "reviewer": file_lines["reviewer"].first() if file_lines.height else None}
        )  # fmt: skip
    all_lines = pl.concat(lines) if lines else pl.DataFrame(schema=DECISION_LINE_SCHEMA)
    all_lines.write_parquet(work.decision_lines_file)
    pl.DataFrame(summaries, schema=_FILE_SUMMARY_SCHEMA).write_parquet(work.decision_files_file)
    return all_lines


def decided_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """file_hash, source_row named by decision lines: these rows are matched tonight whatever else holds."""
    return lines.select(*_row_key_parts()).drop_nulls().unique()


def _row_key_parts() -> tuple[pl.Expr, pl.Expr]:
    """file_hash and source_row from a report's row_key (f"{file_hash}:{source_row}"); null when malformed."""
    key = pl.col("row_key").str.split_exact(":", 1)
    return (
        key.struct.field("field_0").alias("file_hash"),
        key.struct.field("field_1").cast(pl.Int32, strict=False).alias("source_row"),
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
    if all_lines.is_empty():
        return pl.DataFrame(schema=AUDIT_SCHEMA), _file_summaries(
            summaries, pl.DataFrame(schema=AUDIT_SCHEMA)
        )
    open_backlog, candidates = _backlog_and_candidates(settings)
    matchable = (
        pl.scan_parquet(work.match_input_file)
        .filter(pl.col("is_rematch") & pl.col("reject_reason").is_null())
        .select("file_hash", "source_row", "vaccinated_date")
        .collect()
    )
    registry = pl.scan_parquet(settings.registry_path).filter(
        pl.col("citizen_id").is_in(
            pl.concat([candidates["citizen_id"], all_lines["corrected_id"].drop_nulls()]).unique().implode()
        )
    )
    audit = validate_decisions(all_lines, open_backlog, candidates, registry, matchable)
    return audit, _file_summaries(summaries, audit)


_FILE_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "decision_file": pl.String(), "decision_file_hash": pl.String(), "status": pl.String(),
    "detail": pl.String(), "read_at": pl.Datetime(), "province_code": pl.String(), "reviewer": pl.String(),
}  # fmt: skip


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
    with connect(settings.warehouse_path, memory_limit=settings.duckdb_memory_limit) as connection:
        open_backlog = connection.sql(
            """select file_hash, source_row, coalesce(province_code, '??') as province_code, reason_code,
                      candidate_citizen_id from open_backlog"""
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
    """Every decision line read tonight, with the before and after of the row it decided on."""
    if not work.decisions_file.exists():
        return
    connection.execute(
        """
        insert into review_decisions (decision_file_hash, sheet_name, sheet_row, reviewer, decided_at, file_hash,
            source_row, province_code, decision, corrected_id, status, rejection_reason, before_reason_code,
            before_candidate_citizen_id, after_citizen_id, after_shot_id, run_id)
        select d.decision_file_hash, d.sheet_name, d.sheet_row, d.reviewer, d.decided_at, d.file_hash, d.source_row,
               d.province_code, d.decision, d.corrected_id, d.status, d.rejection_reason, d.before_reason_code,
               d.before_candidate_citizen_id, d.after_citizen_id, p.shot_id, $run_id
        from read_parquet($path) d
        left join night_postings p
          on d.status = 'applied' and p.file_hash = d.file_hash and p.source_row = d.source_row
        """,
        {"path": work.decisions_file.as_posix(), "run_id": run_id},
    )
    connection.execute(
        """
        insert into review_decision_files (decision_file, decision_file_hash, province_code, reviewer,
            decisions_read, decisions_applied, decisions_rejected, status, detail, run_id, read_at)
        select decision_file, decision_file_hash, province_code, reviewer, decisions_read, decisions_applied,
               decisions_rejected, status, detail, $run_id, read_at
        from read_parquet($path)
        """,
        {"path": work.decision_files_file.as_posix(), "run_id": run_id},
    )


def accepted_decision_pairs(settings: Settings) -> pl.DataFrame:
    """Labelled data for the matching model: (file_hash, source_row, citizen_id) of applied decisions."""
    if not settings.warehouse_path.exists():
        return pl.DataFrame(
            schema={"file_hash": pl.String(), "source_row": pl.Int32(), "citizen_id": pl.String()}
        )
    with connect(settings.warehouse_path) as connection:
        return connection.sql(
            """select file_hash, source_row, after_citizen_id as citizen_id from review_decisions
               where status = 'applied' and after_citizen_id is not null"""
        ).pl()
