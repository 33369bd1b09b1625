"""Publishing a night: every input row lands in exactly one place, in one warehouse transaction.

Posted rows become synced_shots (one per real dose) plus shot_sources (one per row, duplicates
flagged); everything else becomes unposted_backlog with a reason. The ledger rows of the night's
files, the validation results and the run's row are written in the same transaction, so a crash
leaves the warehouse as it was and the night can simply be run again.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from transforms.normalize.reference import load_reference
from validation import CriticalValidationError, build_synced_shots_suite, columns_read, run_suite
from vaxsync.core.contracts import LEDGER_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import register_frame
from vaxsync.core.workdir import RunWorkDir, read_json
from vaxsync.marts.backlog import (
    count_resolved_rows_in_ledger,
    store_backlog_records,
    update_rematched_backlog,
)
from vaxsync.marts.decisions import (
    record_carried_postings,
    stage_replaced_postings,
    take_back_replaced_postings,
    write_decision_audit,
)
from vaxsync.marts.events import hold_conflicting_rows, shot_id_sql, stage_postings, write_postings
from vaxsync.marts.quality import store_outcome
from vaxsync.marts.readmission import archive_readmitted_ledger_rows, record_quarantine_context
from vaxsync.marts.registry_cache import prepared_registry
from vaxsync.marts.resends import (
    hold_rows_of_old_versions,
    read_tonight_versions,
    record_file_versions,
    stage_version_changes,
    supersede_replaced_backlog,
)
from vaxsync.marts.snapshot_changes import (
    CHECKS_FILE_NAME,
    flag_shots_of_missing_citizens,
    place_relinked_rows,
    record_probabilistic_postings,
    settle_rechecked_links,
    withdraw_relinked_postings,
)
from vaxsync.marts.warehouse import connect

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite

_OUTCOME_COLUMNS = [
    "file_hash",
    "source_file",
    "source_row",
    "raw_facility_name",
    "vaccine_code",
    "vaccinated_date",
    "lot_number",
    "dose_number_reported",
    "reject_reason",
    "reject_detail",
    "facility_province_code",
    "province_code",
    "cccd_province_code",
    "birth_date",
    "birth_date_alt",
    "vaccination_date_order",
    "is_rematch",
    "prior_backlog_reason",
]

# A shot is one dose of one product on one day for one citizen: its id is a hash of that content.
SHOT_ID_SQL = shot_id_sql()


def row_outcomes(work: RunWorkDir) -> pl.DataFrame:
    """One row per normalized row: the posted citizen, or the backlog reason (rejection first, then match)."""
    normalized = pl.scan_parquet(work.match_input_file).select(_OUTCOME_COLUMNS)
    matches = pl.scan_parquet(work.matches_file)
    return (
        normalized.join(matches, on=["file_hash", "source_row"], how="left")
        .with_columns(
            backlog_reason=pl.when(pl.col("citizen_id").is_null()).then(
                pl.coalesce("reject_reason", "match_reason", pl.lit("no_confident_match"))
            ),
            backlog_detail=pl.when(pl.col("citizen_id").is_null()).then(
                pl.when(pl.col("reject_reason").is_not_null())
                .then(pl.col("reject_detail"))
                .otherwise(pl.col("match_detail"))
            ),
            best_province_code=pl.coalesce("facility_province_code", "province_code", "cccd_province_code"),
        )
        .collect()
    )


def publish(settings: Settings, work: RunWorkDir) -> dict[str, Any]:
    """Publish the night in one transaction. A night already published is only read."""
    run = read_json(work.run_file)
    outcomes = row_outcomes(work)
    ledgers = _ledger_entries(work)
    with connect(settings.warehouse_path, settings=settings) as connection:
        already = connection.execute(
            "select count(*) from pipeline_runs where run_id = ?", [run["run_id"]]
        ).fetchall()[0][0]
        if already:
            return _summary_from_warehouse(connection, run["run_id"])
        # A new version of a file replaces the old one's rows: the shots only those rows support are not
        # part of anyone's history for tonight's rules (vaxsync.marts.resends).
        versions = read_tonight_versions(work)
        stage_version_changes(connection, versions)
        # ... and an old version landed again under a new name replaces nothing: its rows wait for review.
        outcomes = hold_rows_of_old_versions(outcomes, versions)
        # Likewise a posting that its reviewer's new decision replaces tonight (vaxsync.marts.decisions).
        stage_replaced_postings(connection, work)
        # Posted links checked again against a newer snapshot: those that stand leave tonight's rows.
        outcomes = settle_rechecked_links(connection, outcomes)
        # Vaccination-event rules (vaxsync.marts.events): implausible records go to the backlog, copies merge.
        outcomes = hold_conflicting_rows(
            connection, outcomes, settings.registry_path, campaign_start=settings.campaign_start
        )
        register_frame(connection, "outcomes", outcomes)
        register_frame(connection, "night_ledger", ledgers)
        stage_postings(connection)
        outcomes = keep_unposted_outcomes(connection, outcomes)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        # The synced-layer suite (single-threaded Python) runs in a thread while DuckDB writes the night
        # (which releases the GIL); its verdict is awaited before the commit, so a critical failure still
        # leaves the warehouse as it was.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate-synced") as validating:
            verdict = _start_validating_new_shots(settings, work, connection, validating)
            connection.execute("begin transaction")
            try:
                _write_night(connection, settings, run, now)
                _await_validation(verdict)
                _write_validation_results(connection, settings, run["run_id"], now)
                connection.execute("commit")
            except Exception:
                connection.execute("rollback")
                raise
        return _summary_from_warehouse(connection, run["run_id"])


def keep_unposted_outcomes(connection: duckdb.DuckDBPyConnection, outcomes: pl.DataFrame) -> pl.DataFrame:
    """After stage_postings, `night_postings` holds every posted row with all its outcome columns: the frame
    keeps only the unposted rows, and `outcomes` becomes a view of both (the same rows as before). On a
    10M-row night the posted rows of the frame were most of publish's peak memory, held to the end."""
    connection.unregister("outcomes")
    unposted = outcomes.filter(pl.col("citizen_id").is_null())
    register_frame(connection, "unposted_outcomes", unposted)
    columns = ", ".join(f'"{name}"' for name in outcomes.columns)
    connection.execute(
        f"""create or replace temp view outcomes as
            select {columns} from unposted_outcomes
            union all
            select {columns} from night_postings"""
    )
    return unposted


def _ledger_entries(work: RunWorkDir) -> pl.DataFrame:

    staged = [read_json(path) for path in sorted(work.ledger_dir.glob("*.json"))]
    copies = [
        {
            "source_file": entry["source_file"],
            "file_hash": entry["file_hash"],
            "status": "duplicate_content",
            "quarantine_detail": "same content as a file already landed",
            "rows_read": 0,
        }
        for entry in read_json(work.discovered_file)
        if entry["status"] == "duplicate_content"
    ]
    schema = {**LEDGER_SCHEMA, "raw_validation": pl.String()}
    rows = [{column: entry.get(column) for column in schema} for entry in [*staged, *copies]]
    return pl.DataFrame(rows, schema=schema)


def _start_validating_new_shots(
    settings: Settings, work: RunWorkDir, connection: duckdb.DuckDBPyConnection, executor: Executor
) -> Future[None] | None:
    """The synced-layer suite on tonight's new shots (`new_shots`), run by the executor: the candidate rows
    are read here (the connection is not shared across threads), the suite runs there and stores its
    outcome. None when there is no new shot."""
    if not connection.execute("select exists (select 1 from new_shots)").fetchall()[0][0]:
        return None
    suite = build_synced_shots_suite(
        settings.as_of, settings.campaign_start, load_reference().vaccines["vaccine_code"].to_list()
    )
    # Dose numbers are re-sequenced on write; validate the candidate rows with a provisional 1.
    provisional = {
        "dose_number": pl.lit(1, dtype=pl.Int16),
        "first_synced_at": pl.lit(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
    }
    columns = columns_read(suite, list(dict.fromkeys([*connection.table("new_shots").columns, *provisional])))
    fetched = ", ".join(name for name in columns if name not in provisional)
    candidates = (
        connection.sql(f"select {fetched} from new_shots").pl().with_columns(**provisional).select(columns)
    )
    return executor.submit(_validate_candidates, candidates, suite, work)


def _validate_candidates(candidates: pl.DataFrame, suite: ExpectationSuite, work: RunWorkDir) -> None:
    outcome = run_suite(candidates, suite, id_columns=["shot_id"])
    store_outcome(work, outcome)
    if outcome.critical_failures:
        raise CriticalValidationError(outcome)


def _await_validation(verdict: Future[None] | None) -> None:
    """Wait for the synced-layer suite; raises its CriticalValidationError."""
    if verdict is not None:
        verdict.result()


def _write_night(
    connection: duckdb.DuckDBPyConnection, settings: Settings, run: dict[str, Any], now: dt.datetime
) -> None:
    """Every table of the night but validation_results (written once the synced-layer suite is done)."""
    parameters = {"run_id": run["run_id"], "now": now, "as_of": settings.as_of}
    work = RunWorkDir(settings)
    take_back_replaced_postings(connection, run_id=run["run_id"])  # before the rows post again
    withdraw_relinked_postings(connection, run["run_id"], now)  # vaxsync.marts.snapshot_changes
    write_postings(connection, run["run_id"], now)  # shots, sources, dose re-sequencing, shot_conflicts
    connection.execute(
        """
        insert into unposted_backlog (source_file, file_hash, source_row, reason_code, reason_detail,
            province_code, facility, candidate_citizen_id, candidate_score, first_seen_on, run_id,
            last_matched_run_id)
        select source_file, file_hash, source_row, backlog_reason, backlog_detail, best_province_code,
               raw_facility_name, candidate_citizen_id,
               case when candidate_citizen_id is not null then match_score end, $as_of, $run_id, $run_id
        from outcomes where citizen_id is null and not is_rematch
        """,
        {"as_of": settings.as_of, "run_id": run["run_id"]},
    )
    update_rematched_backlog(connection, run["run_id"], work)
    place_relinked_rows(connection, run["run_id"], now, settings.as_of, run["registry_hash"])
    record_probabilistic_postings(
        connection,
        prepared_registry(settings, snapshot_hash=run["registry_hash"]),
        run_id=run["run_id"],
        registry_hash=run["registry_hash"],
        match_input_path=work.match_input_file,
        checks_path=work.root / CHECKS_FILE_NAME,
    )
    supersede_replaced_backlog(connection)
    record_file_versions(connection, work, run["run_id"], now)
    _write_review_candidates(connection, settings, run["run_id"])
    archive_readmitted_ledger_rows(connection, run["run_id"])  # files read again: their old rows
    _write_ledger(connection, parameters)
    _write_deferred_files(connection, run)
    record_quarantine_context(
        connection, run["run_id"], as_of=settings.as_of, rules_version=run.get("rules_version")
    )
    count_resolved_rows_in_ledger(connection, run["run_id"])
    record_carried_postings(connection, work, run["run_id"])  # after the ledger's counts: posted tonight
    store_backlog_records(connection, work.match_input_file)  # and the probabilistic postings' rows
    write_decision_audit(connection, work, run["run_id"])
    # a snapshot that dropped citizens with posted shots: flag those shots (vaxsync.marts.snapshot_changes)
    flag_shots_of_missing_citizens(connection, settings.registry_path, run["run_id"], run["registry_hash"])
    _write_run_row(connection, run, now)


def _write_review_candidates(connection: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> None:
    """The candidates of rows in review, field by field, and the model that scored them."""
    work = RunWorkDir(settings)
    if work.review_candidates_file.exists():
        candidates = pl.read_parquet(work.review_candidates_file)
        field_columns = sorted(
            name.removeprefix("level_") for name in candidates.columns if name.startswith("level_")
        )
        comparison = pl.struct(
            [
                pl.struct(level=pl.col(f"level_{name}"), weight=pl.col(f"weight_{name}")).alias(name)
                for name in field_columns
            ]
        ).struct.json_encode()
        register_frame(
            connection,
            "night_review_candidates",
            candidates.select(
                "file_hash", "source_row", "candidate_rank", "citizen_id", "match_probability", "match_weight",
                "impossible_reason", comparison.alias("comparison"),
            ),
        )  # fmt: skip
        # A row re-matched tonight gets tonight's candidates: the ones its next report shows.
        connection.execute(
            """delete from review_candidates where (file_hash, source_row) in
               (select file_hash, source_row from night_review_candidates)"""
        )
        connection.execute(
            "insert into review_candidates select *, $run_id from night_review_candidates", {"run_id": run_id}
        )
    model_file = work.root / "matching_model.json"
    if model_file.exists():
        model = json.loads(model_file.read_text(encoding="utf-8"))
        connection.execute(
            "insert into match_models values (?, ?, ?)",
            [run_id, str(model.get("version", "")), json.dumps(model, ensure_ascii=False)],
        )


def _write_deferred_files(connection: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> None:
    """The files discover left for a later night (an upload in progress), one row each."""
    deferred = pl.DataFrame(
        run.get("deferred_files", []),
        schema={
            "source_file": pl.String(),
            "reason": pl.String(),
            "file_size_bytes": pl.Int64(),
            "modified_at_ns": pl.Int64(),
        },
    )
    register_frame(connection, "night_deferred_files", deferred)
    connection.execute(
        """insert into deferred_files
           select $run_id, source_file, reason, file_size_bytes,
                  make_timestamp(modified_at_ns // 1000)  -- microseconds since the epoch, UTC
           from night_deferred_files""",
        {"run_id": run["run_id"]},
    )


def _write_ledger(connection: duckdb.DuckDBPyConnection, parameters: dict[str, Any]) -> None:
    connection.execute(
        """
        insert into ingest_ledger (source_file, file_hash, file_size_bytes, file_format, encoding,
            encoding_repair, delimiter, header_line, column_mapping, unknown_columns, status,
            quarantine_reason, quarantine_detail, rows_read, rows_posted, rows_duplicate, rows_backlog,
            raw_validation, run_id, ingested_at, rows_estimated, dates_repaired, encoding_score,
            skipped_sheets)
        with counts as (
            select file_hash,
                   count(*) filter (where citizen_id is not null) as rows_posted_or_merged,
                   count(*) filter (where citizen_id is null) as rows_backlog
            from outcomes group by file_hash
        ), merged as (
            select file_hash, count(*) filter (where not is_batch_winner or is_known_shot) as rows_duplicate
            from night_postings group by file_hash
        )
        select l.source_file, l.file_hash, l.file_size_bytes, l.file_format, l.encoding, l.encoding_repair,
               l.delimiter, l.header_line, l.column_mapping, l.unknown_columns, l.status,
               l.quarantine_reason, l.quarantine_detail, coalesce(l.rows_read, 0),
               coalesce(c.rows_posted_or_merged, 0) - coalesce(m.rows_duplicate, 0),
               coalesce(m.rows_duplicate, 0), coalesce(c.rows_backlog, 0),
               l.raw_validation, $run_id, $now, l.rows_estimated, l.dates_repaired, l.encoding_score,
               l.skipped_sheets
        from night_ledger l
        left join counts c on c.file_hash = l.file_hash and l.status = 'loaded'
        left join merged m on m.file_hash = l.file_hash and l.status = 'loaded'
        """,
        {"run_id": parameters["run_id"], "now": parameters["now"]},
    )


def _write_validation_results(
    connection: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, now: dt.datetime
) -> None:
    work = RunWorkDir(settings)
    for path in sorted(work.validation_dir.glob("*.json")):
        result = read_json(path)
        connection.execute(
            "insert into validation_results values (?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                result["suite_name"],
                result["success"],
                result["critical_failures"],
                result["warnings"],
                result["results_json"],
                now,
            ],
        )


def _write_run_row(connection: duckdb.DuckDBPyConnection, run: dict[str, Any], now: dt.datetime) -> None:
    connection.execute(
        """
        insert into pipeline_runs (run_id, as_of, registry_hash, landing_hash, files_new, files_quarantined,
            rows_in, rows_posted, rows_duplicate, rows_backlog, outcome, started_at, finished_at,
            rows_resolved_from_backlog)
        select $run_id, $as_of, $registry_hash, $landing_hash,
               count(*) filter (where status <> 'duplicate_content'),
               count(*) filter (where status = 'quarantined'),
               coalesce(sum(rows_read), 0), coalesce(sum(rows_posted), 0), coalesce(sum(rows_duplicate), 0),
               coalesce(sum(rows_backlog), 0), 'published', $started_at, $now,
               (select count(*) from unposted_backlog where resolved_run_id = $run_id)
        from ingest_ledger where run_id = $run_id
        """,
        {
            "run_id": run["run_id"],
            "as_of": dt.date.fromisoformat(run["as_of"]),
            "registry_hash": run["registry_hash"],
            "landing_hash": run["landing_hash"],
            "started_at": dt.datetime.fromisoformat(run["started_at"]),
            "now": now,
        },
    )


def _summary_from_warehouse(connection: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """The night's figures, read back from what was committed (no personal data)."""
    totals = connection.execute(
        """
        select count(*) filter (where status <> 'duplicate_content'),
               count(*) filter (where status = 'duplicate_content'),
               coalesce(sum(rows_read), 0), coalesce(sum(rows_posted), 0),
               coalesce(sum(rows_duplicate), 0), coalesce(sum(rows_backlog), 0),
               coalesce(sum(coalesce(rows_estimated, rows_read)) filter (where status = 'quarantined'), 0)
        from ingest_ledger where run_id = ?
        """,
        [run_id],
    ).fetchall()[0]
    by_reason = connection.execute(
        "select reason_code, count(*) from unposted_backlog where run_id = ? group by 1 order by 2 desc",
        [run_id],
    ).fetchall()
    quarantined = connection.execute(
        """select quarantine_reason, count(*) from ingest_ledger
           where run_id = ? and status = 'quarantined' group by 1 order by 2 desc""",
        [run_id],
    ).fetchall()
    return {
        "run_id": run_id,
        "files_new": totals[0],
        "files_duplicate_content": totals[1],
        "rows_in": int(totals[2]),
        "rows_posted": int(totals[3]),
        "rows_duplicate": int(totals[4]),
        "rows_backlog": int(totals[5]),
        "rows_in_quarantined_files": int(totals[6]),
        "rows_resolved_from_backlog": connection.execute(
            "select count(*) from unposted_backlog where resolved_run_id = ?", [run_id]
        ).fetchall()[0][0],
        "backlog_by_reason": {reason: count for reason, count in by_reason},
        "files_quarantined_by_reason": {reason: count for reason, count in quarantined},
        "validation": [
            list(row)
            for row in connection.execute(
                "select suite_name, success from validation_results where run_id = ?", [run_id]
            ).fetchall()
        ],
    }
