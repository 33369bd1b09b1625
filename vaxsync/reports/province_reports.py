"""Mismatch reports for provincial health staff: one XLSX and one HTML file per province, each night.

A report holds only its province's open backlog rows (a row without a known province goes to the
"unknown province" report): a summary first (facilities ranked by backlog, counts by reason, how many
nights rows have waited), the instructions, then a sheet per reason with the values as sent, the reason
in Vietnamese and English, the top review candidates side by side with the differing fields flagged,
and the decision columns that staff fill and send back (read by the next run's decision intake).

IDs and phones are masked, every text cell is formula-neutralised, and files are written owner-only.
The report's shape (ProvinceReport, columns, labels) lives in `vaxsync.reports.province_report_model`; this
module builds the frames; `province_report_files` decides which provinces render and writes the files.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import polars as pl

from vaxsync.core.contracts import raw_column
from vaxsync.core.decision_sheet import (
    CANDIDATES_SHOWN,
    DECISION_COLUMNS,
    ROW_KEY_COLUMN,
    ROW_TOKEN_COLUMN,
    TOKEN_COLUMNS,
    UNKNOWN_PROVINCE,
    candidate_token_column,
)
from vaxsync.core.masking import masked_citizen_id, masked_phone, with_text_neutralised
from vaxsync.core.reasons import BACKLOG_REASONS, RESOLUTIONS
from vaxsync.core.reference import reference_path
from vaxsync.marts.decision_tokens import candidate_message, row_message, with_tokens
from vaxsync.marts.decisions import rejected_decision_lines
from vaxsync.marts.resends import resent_shot_changes
from vaxsync.reports.backlog_summary import bilingual_detail
from vaxsync.reports.candidate_differences import field_differences
from vaxsync.reports.province_report_model import (
    AGE_BANDS,
    CANDIDATE_DETAIL_FIELDS,
    REASON_SHEET_COLUMNS,
    RESENT_CHANGE_TEXTS,
    RESENT_SHOT_COLUMNS,
    RESOLVED_COLUMNS,
    SENT_FIELDS,
    UNKNOWN_FACILITY,
    ProvinceReport,
    candidate_column,
)

log = logging.getLogger(__name__)

# Province, district and ward names (importing transforms.normalize for its path would cost seconds).
ADMIN_UNITS_PATH = reference_path("admin_units_2021.parquet")

# --- building the frames ----------------------------------------------------------------------------------


def open_backlog_rows(connection: duckdb.DuckDBPyConnection, *, as_of: dt.date) -> pl.DataFrame:
    """One row per open backlog row: where it came from, why it waits, the values as sent, and the
    normalized fields the candidates are compared with (the `_`-prefixed columns)."""
    sent = ", ".join(f"records.{raw_column(field)} as sent_{field}" for field in SENT_FIELDS)
    return (
        connection.sql(
            f"""
        select coalesce(backlog.province_code, '{UNKNOWN_PROVINCE}') as province_code,
               backlog.reason_code,
               coalesce(backlog.facility, records.raw_facility_name, '{UNKNOWN_FACILITY}') as facility,
               backlog.source_file, backlog.source_row, backlog.first_seen_on,
               date_diff('day', backlog.first_seen_on, $as_of::date) as nights_waited,
               backlog.reason_detail, {sent},
               backlog.file_hash || ':' || backlog.source_row as {ROW_KEY_COLUMN},
               backlog.file_hash, records.full_name_clean as _full_name, records.birth_date as _birth_date,
               records.birth_year as _birth_year, records.sex_code as _sex, records.id_value as _id,
               records.phone_number as _phone, records.ward_code as _ward_code,
               records.district_code as _district_code
        from open_backlog as backlog
        left join backlog_records as records
            on records.file_hash = backlog.file_hash and records.source_row = backlog.source_row
        """,
            params={"as_of": as_of},
        )
        .pl()
        .sort("province_code", "facility", "source_file", "source_row", "file_hash")
    )


def latest_candidates(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The top candidates of each open row, from the most recent run that scored it (run ids begin with
    the as-of date and the start time, so the greatest is the latest)."""
    return connection.sql(
        f"""
        create or replace temp table latest_candidate_runs as
        select file_hash, source_row, max(run_id) as run_id from review_candidates group by all;
        select candidates.file_hash, candidates.source_row, candidates.candidate_rank,
               candidates.citizen_id, candidates.match_probability, candidates.comparison
        from review_candidates as candidates
        join latest_candidate_runs as latest
            on latest.file_hash = candidates.file_hash and latest.source_row = candidates.source_row
           and latest.run_id = candidates.run_id
        join open_backlog as backlog
            on backlog.file_hash = candidates.file_hash and backlog.source_row = candidates.source_row
        where candidates.candidate_rank <= {CANDIDATES_SHOWN}
        """
    ).pl()


def resolved_rows(connection: duckdb.DuckDBPyConnection, *, run_id: str, as_of: dt.date) -> pl.DataFrame:
    """The backlog rows this run resolved (posted after a re-match or a decision), and how."""
    return connection.sql(
        f"""
        select coalesce(province_code, '{UNKNOWN_PROVINCE}') as province_code,
               coalesce(facility, '{UNKNOWN_FACILITY}') as facility, source_file, source_row, first_seen_on,
               date_diff('day', first_seen_on, $as_of::date) as nights_waited,
               reason_code as previous_reason_code, resolution
        from unposted_backlog where resolved_run_id = $run_id
        order by province_code, facility, source_file, source_row
        """,
        params={"run_id": run_id, "as_of": as_of},
    ).pl()


def candidate_details(
    candidates: pl.LazyFrame, registry: pl.LazyFrame, admin_units: pl.LazyFrame
) -> pl.LazyFrame:
    """Candidates with the registry's name, birth date, sex, phone and ward/district names."""
    wards = admin_units.select(
        "ward_code", pl.concat_str("ward_name", "district_name", separator=", ").alias("ward_district")
    )
    citizens = registry.select(
        "citizen_id",
        "legacy_id",
        pl.col("full_name").alias("name"),
        pl.col("date_of_birth").alias("registry_birth_date"),
        pl.col("birth_year").alias("registry_birth_year"),
        pl.col("sex").alias("registry_sex"),
        pl.col("phone").str.replace_all(r"\D", "").alias("registry_phone"),
        pl.col("ward_code").alias("registry_ward_code"),
        pl.col("district_code").alias("registry_district_code"),
    )
    return (
        candidates.join(citizens, on="citizen_id", how="left")
        .join(wards, left_on="registry_ward_code", right_on="ward_code", how="left")
        .with_columns(pl.col("ward_district").fill_null(pl.col("registry_ward_code")))
    )


def candidate_display(compared: pl.LazyFrame) -> pl.LazyFrame:
    """Per (row, candidate): the masked display values and the list of fields that differ."""
    differences = field_differences()
    sex_label = pl.col("registry_sex").replace_strict(
        {"M": "Nam (M)", "F": "Nữ (F)"}, default=pl.col("registry_sex")
    )
    return compared.select(
        "file_hash",
        "source_row",
        "candidate_rank",
        masked_citizen_id(pl.col("citizen_id")).alias("id"),
        "name",
        pl.coalesce(
            pl.col("registry_birth_date").dt.to_string("%Y-%m-%d"),
            pl.col("registry_birth_year").cast(pl.String),
        ).alias("birth_date"),
        sex_label.alias("sex"),
        masked_phone(pl.col("registry_phone")).alias("phone"),
        "ward_district",
        pl.col("match_probability").alias("probability"),
        pl.concat_list([pl.when(differs).then(pl.lit(field)) for field, differs in differences.items()])
        .list.drop_nulls()
        .list.join(", ")
        .replace("", None)
        .alias("differs"),
    )


def with_candidates_side_by_side(rows: pl.LazyFrame, candidates: pl.LazyFrame) -> pl.LazyFrame:
    """The rows with candidate 1..N columns (null where a row has fewer candidates)."""
    for rank in range(1, CANDIDATES_SHOWN + 1):
        ranked = candidates.filter(pl.col("candidate_rank") == rank).select(
            "file_hash",
            "source_row",
            *[pl.col(field).alias(candidate_column(rank, field)) for field in CANDIDATE_DETAIL_FIELDS],
        )
        rows = rows.join(ranked, on=["file_hash", "source_row"], how="left", maintain_order="left")
    return rows


def _reason_labels(code: pl.Expr, *, prefix: str) -> list[pl.Expr]:
    english = {code: reason.english for code, reason in BACKLOG_REASONS.items()}
    vietnamese = {code: reason.vietnamese for code, reason in BACKLOG_REASONS.items()}
    return [
        code.replace_strict(vietnamese, default=code, return_dtype=pl.String).alias(f"{prefix}_vi"),
        code.replace_strict(english, default=code, return_dtype=pl.String).alias(f"{prefix}_en"),
    ]


def report_rows(rows: pl.DataFrame, candidates: pl.LazyFrame) -> pl.LazyFrame:
    """The reason-sheet rows of every province: display columns in order, masked and neutralised."""
    compared = candidates.join(
        rows.lazy().select(
            "file_hash", "source_row", "_full_name", "_birth_date", "_birth_year", "_sex", "_id", "_phone",
            "_ward_code", "_district_code",
        ),
        on=["file_hash", "source_row"],
        how="inner",
    )  # fmt: skip
    side_by_side = with_candidates_side_by_side(rows.lazy(), candidate_display(compared))
    return with_text_neutralised(
        side_by_side.with_columns(
            *_reason_labels(pl.col("reason_code"), prefix="reason"),
            pl.col("first_seen_on").dt.to_string("%Y-%m-%d"),
            masked_citizen_id(pl.col("sent_id_number")).alias("sent_id_number"),
            masked_phone(pl.col("sent_phone")).alias("sent_phone"),
            bilingual_detail(pl.col("reason_code"), pl.col("reason_detail")).alias("reason_detail"),
            *[pl.lit(None, dtype=pl.String).alias(name) for name in DECISION_COLUMNS[1:]],
            *[pl.lit(None, dtype=pl.String).alias(name) for name in TOKEN_COLUMNS],  # signed once collected
        ).select("province_code", "reason_code", *REASON_SHEET_COLUMNS)
    )


def resolved_display(resolved: pl.DataFrame) -> pl.LazyFrame:
    return with_text_neutralised(
        resolved.lazy()
        .with_columns(
            *_reason_labels(pl.col("previous_reason_code"), prefix="previous_reason"),
            *_resolution_labels(pl.col("resolution")),
            pl.col("first_seen_on").dt.to_string("%Y-%m-%d"),
        )
        .select("province_code", *RESOLVED_COLUMNS)
    )


def resent_shots_display(changes: pl.DataFrame) -> pl.LazyFrame:
    """The re-sent files' shot changes as the report shows them: the change in Vietnamese and English, the
    citizen's ID masked, every text cell formula-neutralised."""
    texts = [
        pl.col("change")
        .replace_strict(
            {code: text[index] for code, text in RESENT_CHANGE_TEXTS.items()}, default=pl.col("change")
        )
        .alias(f"change_{suffix}")
        for index, suffix in ((0, "vi"), (1, "en"))
    ]
    return with_text_neutralised(
        changes.lazy()
        .with_columns(
            *texts,
            masked_citizen_id(pl.col("citizen_id")),
            pl.col("vaccinated_on").dt.to_string("%Y-%m-%d"),
        )
        .select("province_code", *RESENT_SHOT_COLUMNS)
    )


def _resolution_labels(code: pl.Expr) -> list[pl.Expr]:
    return [
        code.replace_strict(
            {resolution: getattr(text, language) for resolution, text in RESOLUTIONS.items()},
            default=code,
            return_dtype=pl.String,
        ).alias(f"resolution_{suffix}")
        for language, suffix in (("vietnamese", "vi"), ("english", "en"))
    ]


def _age_band_counts() -> list[pl.Expr]:
    nights = pl.col("nights_waited")
    return [
        ((nights >= low) & (nights <= high) if high is not None else nights >= low).sum().alias(name)
        for name, low, high in AGE_BANDS
    ]


def facility_ranking(rows: pl.DataFrame) -> pl.DataFrame:
    """Facilities ranked by open rows (then by the longest wait): whom to call first."""
    if rows.is_empty():
        return pl.DataFrame(schema={"rank": pl.Int32, "facility": pl.String, "open_rows": pl.UInt32})
    per_reason = rows.pivot(
        on="reason_code", index="facility", values="source_row", aggregate_function="len"
    ).fill_null(0)
    reason_columns = [code for code in BACKLOG_REASONS if code in per_reason.columns]
    per_reason = per_reason.select("facility", *reason_columns, pl.exclude("facility", *reason_columns))
    totals = rows.group_by("facility").agg(
        pl.len().alias("open_rows"),
        pl.col("nights_waited").max().alias("longest_wait_nights"),
        *_age_band_counts(),
    )
    return (
        totals.join(per_reason, on="facility")
        .sort(["open_rows", "longest_wait_nights", "facility"], descending=[True, True, False])
        .with_row_index("rank", offset=1)
    )


def reason_summary(rows: pl.DataFrame) -> pl.DataFrame:
    """Open rows per reason, with how long they have waited."""
    order = {code: position for position, code in enumerate(BACKLOG_REASONS)}
    return (
        rows.group_by("reason_code", "reason_vi", "reason_en")
        .agg(
            pl.len().alias("open_rows"),
            pl.col("facility").n_unique().alias("facilities"),
            pl.col("nights_waited").max().alias("longest_wait_nights"),
            *_age_band_counts(),
        )
        .sort(pl.col("reason_code").replace_strict(order, default=len(order)), "reason_code")
    )


def province_names(admin_units: pl.LazyFrame) -> dict[str, str]:
    names = admin_units.select("province_code", "province_name").unique().collect()
    return {**dict(names.iter_rows()), UNKNOWN_PROVINCE: "Không rõ tỉnh / unknown province"}


def build_province_reports(
    connection: duckdb.DuckDBPyConnection,
    *,
    registry: pl.LazyFrame,
    admin_units: pl.LazyFrame,
    as_of: dt.date,
    run_id: str,
    secret: bytes | None = None,
) -> list[ProvinceReport]:
    """One report per province with open backlog, rows resolved tonight, decisions refused tonight or files
    re-sent tonight.

    With the deployment's secret, each row and each candidate carries its signed token (the decision
    intake refuses lines without one)."""

    rows = open_backlog_rows(connection, as_of=as_of)
    offered = latest_candidates(connection)
    candidates = candidate_details(offered.lazy(), registry, admin_units)
    shown = report_rows(rows, candidates).collect()
    if secret is not None:
        shown = with_decision_tokens(shown, rows, offered, run_id=run_id, secret=secret)
    resolved = resolved_display(resolved_rows(connection, run_id=run_id, as_of=as_of)).collect()
    refused = rejected_decision_lines(connection, as_of=as_of)
    resent = resent_shots_display(resent_shot_changes(connection, as_of=as_of)).collect()
    names = province_names(admin_units)
    rows_by_province = _split_by_province(shown)
    resolved_by_province = _split_by_province(resolved)
    refused_by_province = _split_by_province(refused)
    resent_by_province = _split_by_province(resent)
    reports = []
    provinces = (
        rows_by_province.keys()
        | resolved_by_province.keys()
        | refused_by_province.keys()
        | resent_by_province.keys()
    )
    for province_code in sorted(provinces):
        province_rows = rows_by_province.get(province_code, shown.clear().drop("province_code"))
        reports.append(
            ProvinceReport(
                province_code=province_code,
                province_name=names.get(province_code, province_code),
                as_of=as_of,
                run_id=run_id,
                rows=province_rows,
                resolved=resolved_by_province.get(province_code, resolved.clear().drop("province_code")),
                facilities=facility_ranking(province_rows),
                reasons=reason_summary(province_rows),
                rejected_decisions=refused_by_province.get(
                    province_code, refused.clear().drop("province_code")
                ),
                resent_shots=resent_by_province.get(province_code, resent.clear().drop("province_code")),
            )
        )
    return reports


def with_decision_tokens(
    shown: pl.DataFrame, rows: pl.DataFrame, offered: pl.DataFrame, *, run_id: str, secret: bytes
) -> pl.DataFrame:
    """Fill TOKEN_COLUMNS: the row's token over (row key, province, run), each shown candidate's over
    (row key, citizen, run). `rows` maps row keys to file_hash/source_row, `offered` holds the citizens."""

    run = pl.lit(run_id)
    keys = rows.select(ROW_KEY_COLUMN, "file_hash", "source_row").unique(ROW_KEY_COLUMN)
    by_candidate = with_tokens(
        offered.join(keys, on=["file_hash", "source_row"]),
        {"token": candidate_message(run, pl.col(ROW_KEY_COLUMN), pl.col("citizen_id"))},
        run,
        secret,
    )
    candidate_tokens = [
        by_candidate.filter(pl.col("candidate_rank") == rank).select(
            ROW_KEY_COLUMN, pl.col("token").alias(candidate_token_column(rank))
        )
        for rank in range(1, CANDIDATES_SHOWN + 1)
    ]
    signed = with_tokens(
        shown.drop(*TOKEN_COLUMNS),
        {ROW_TOKEN_COLUMN: row_message(run, pl.col(ROW_KEY_COLUMN), pl.col("province_code"))},
        run,
        secret,
    )
    for tokens in candidate_tokens:
        signed = signed.join(tokens, on=ROW_KEY_COLUMN, how="left", maintain_order="left")
    return signed.select(shown.columns)


def _split_by_province(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {
        str(key[0]): part
        for key, part in frame.partition_by("province_code", as_dict=True, include_key=False).items()
    }


# --- writing ----------------------------------------------------------------------------------------------
