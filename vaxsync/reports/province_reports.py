"""Mismatch reports for provincial health staff: one XLSX and one HTML file per province, each night.

A report holds only its province's open backlog rows (a row without a known province goes to the
"unknown province" report): a summary first (facilities ranked by backlog, counts by reason, how many
nights rows have waited), the instructions, then a sheet per reason with the values as sent, the reason
in Vietnamese and English, the top review candidates side by side with the differing fields flagged,
and the decision columns that staff fill and send back (read by the next run's decision intake).

IDs and phones are masked, every text cell is formula-neutralised, and files are written owner-only.
Rendering lives in `vaxsync.reports.province_report_files`; this module builds the frames and writes the files.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

import duckdb
import polars as pl

from vaxsync.core.contracts import EXPORT_FIELDS, raw_column
from vaxsync.core.decision_sheet import (
    CANDIDATE_TOKEN_COLUMNS,
    CANDIDATES_SHOWN,
    CORRECTED_ID_COLUMN,
    DECISION_COLUMN,
    DECISION_COLUMNS,
    NOTE_COLUMN,
    ROW_KEY_COLUMN,
    ROW_TOKEN_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    TOKEN_COLUMNS,
    UNKNOWN_PROVINCE,
    UNKNOWN_PROVINCE_FOLDER,
    candidate_token_column,
)
from vaxsync.core.masking import masked_citizen_id, masked_phone, with_text_neutralised
from vaxsync.core.reasons import BACKLOG_REASON_LABELS, BACKLOG_REASONS, RESOLUTIONS
from vaxsync.core.reference import reference_path
from vaxsync.marts.decision_tokens import candidate_message, row_message, with_tokens
from vaxsync.marts.decisions import rejected_decision_lines
from vaxsync.marts.resends import resent_shot_changes
from vaxsync.reports.backlog_summary import bilingual_detail
from vaxsync.reports.candidate_differences import field_differences

log = logging.getLogger(__name__)

# Province, district and ward names (importing transforms.normalize for its path would cost seconds).
ADMIN_UNITS_PATH = reference_path("admin_units_2021.parquet")
PRIVATE_FOLDER_MODE = 0o700  # the files are 0600; their folders are not listable by others either

# --- columns of a reason sheet ----------------------------------------------------------------------------

ROW_COLUMNS: tuple[str, ...] = (
    "facility",
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    "first_seen_on",
    "nights_waited",
    "reason_vi",
    "reason_en",
    "reason_detail",
)
# The export fields as the facility sent them (raw_<field>; raw_facility_name is the `facility` column),
# in the export's order except the address parts: smallest unit first, as a Vietnamese address reads.
ADDRESS_PARTS_SMALLEST_FIRST: tuple[str, ...] = ("ward", "district", "province")


def sent_fields() -> tuple[str, ...]:
    """EXPORT_FIELDS without facility_name, the address parts' places filled smallest unit first."""
    address_parts = iter(ADDRESS_PARTS_SMALLEST_FIRST)
    return tuple(
        next(address_parts) if field in ADDRESS_PARTS_SMALLEST_FIRST else field
        for field in EXPORT_FIELDS
        if field != "facility_name"
    )


SENT_FIELDS: tuple[str, ...] = sent_fields()
SENT_COLUMNS: tuple[str, ...] = tuple(f"sent_{field}" for field in SENT_FIELDS)
# Per candidate, side by side; the `differs` column lists the fields that differ from the row.
CANDIDATE_FIELDS: tuple[str, ...] = ("id", "name", "birth_date", "sex", "phone", "ward_district")
CANDIDATE_DETAIL_FIELDS: tuple[str, ...] = (*CANDIDATE_FIELDS, "probability", "differs")


def candidate_column(rank: int, field: str) -> str:
    return f"candidate_{rank}_{field}"


CANDIDATE_COLUMNS: tuple[str, ...] = tuple(
    candidate_column(rank, field)
    for rank in range(1, CANDIDATES_SHOWN + 1)
    for field in CANDIDATE_DETAIL_FIELDS
)
RESOLVED_COLUMNS: tuple[str, ...] = (
    "facility",
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    "first_seen_on",
    "nights_waited",
    "previous_reason_vi",
    "previous_reason_en",
    "resolution_vi",
    "resolution_en",
)
# What each re-sent file of the province changed, shot by shot (vaxsync.marts.resends.resent_shot_changes).
RESENT_SHOTS_SHEET = "resent_files"
RESENT_SHOT_COLUMNS: tuple[str, ...] = (
    SOURCE_FILE_COLUMN,
    "recognised_as",
    "change_vi",
    "change_en",
    "citizen_id",  # masked: last 4 characters
    "vaccine_code",
    "vaccinated_on",
    "facility",
    "lot",
)
RESENT_CHANGE_TEXTS: dict[str, tuple[str, str]] = {
    "added": ("Thêm mới: mũi tiêm chỉ có trong phiên bản mới", "added: a shot only the new version records"),
    "replaced": (
        "Thay thế: mũi cũ đã rút, người này có mũi tiêm từ phiên bản mới",
        "replaced: the old shot is retracted, the person has a shot from the new version",
    ),
    "retracted": ("Rút lại: phiên bản mới không còn ghi nhận mũi tiêm này", "retracted: the new version no longer records this shot"),
    "restored": ("Khôi phục: phiên bản cũ được gửi lại", "restored: the older version was sent again"),
    "kept": ("Giữ nguyên", "kept"),
}  # fmt: skip
# What identifies a row to the people reading it: the first columns of a reason sheet, protected from edits
# (the decision columns follow them, then the reason, the rest of the row and the candidates).
KEY_COLUMNS: tuple[str, ...] = (
    ROW_KEY_COLUMN,
    "facility",
    "sent_full_name",
    "sent_id_number",
    "sent_vaccine",
    "sent_vaccinated_on",
)


# Why and since when the row waits: after the columns staff fill (the printed columns end with these).
WHY_COLUMNS: tuple[str, ...] = ("reason_detail", "nights_waited", "first_seen_on")


def key_columns_first(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The key columns, the columns staff fill, why the row waits, then the others in their order."""
    fill_in = tuple(name for name in DECISION_COLUMNS if name not in KEY_COLUMNS)
    first = (*KEY_COLUMNS, *fill_in, *WHY_COLUMNS)
    return (*first, *(name for name in columns if name not in first))


REASON_SHEET_COLUMNS = key_columns_first(
    (*ROW_COLUMNS, *SENT_COLUMNS, *CANDIDATE_COLUMNS, *DECISION_COLUMNS, *TOKEN_COLUMNS)
)
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("nights_0", 0, 0),
    ("nights_1_7", 1, 7),
    ("nights_8_30", 8, 30),
    ("nights_31_plus", 31, None),
)
UNKNOWN_FACILITY = "(không rõ cơ sở / unknown facility)"

# Column labels (Vietnamese, English): the HTML headers and the instructions sheet's glossary.
_SENT_LABELS = {
    "full_name": ("Họ tên", "full name"),
    "date_of_birth": ("Ngày sinh", "birth date"),
    "sex": ("Giới tính", "sex"),
    "id_number": ("Số định danh", "ID number"),
    "phone": ("Số điện thoại", "phone"),
    "address": ("Địa chỉ", "address"),
    "ward": ("Xã/phường", "ward"),
    "district": ("Quận/huyện", "district"),
    "province": ("Tỉnh/thành phố", "province"),
    "vaccine": ("Vắc xin", "vaccine"),
    "lot": ("Số lô", "lot"),
    "dose": ("Mũi số", "dose"),
    "vaccinated_on": ("Ngày tiêm", "vaccination date"),
}
CANDIDATE_FIELD_LABELS = {
    "id": ("Số định danh", "ID"),
    "name": ("Họ tên", "name"),
    "birth_date": ("Ngày sinh", "birth date"),
    "sex": ("Giới tính", "sex"),
    "phone": ("Số điện thoại", "phone"),
    "ward_district": ("Xã/phường, quận/huyện", "ward, district"),
    "probability": ("Xác suất khớp", "match probability"),
    "differs": ("Trường khác với dòng", "fields that differ"),
}
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "facility": ("Cơ sở tiêm", "facility"),
    SOURCE_FILE_COLUMN: ("Tệp nguồn", "source file"),
    SOURCE_ROW_COLUMN: ("Dòng trong tệp", "row in file"),
    "first_seen_on": ("Ngày nhận lần đầu", "first seen on"),
    "nights_waited": ("Số đêm đã chờ", "nights waited"),
    "reason_vi": ("Lý do", "reason (Vietnamese)"),
    "reason_en": ("Lý do (tiếng Anh)", "reason"),
    "reason_detail": ("Chi tiết", "detail"),
    **{f"sent_{field}": (f"{vi} (đã gửi)", f"{en} as sent") for field, (vi, en) in _SENT_LABELS.items()},
    **{
        candidate_column(rank, field): (f"Ứng viên {rank}: {vi}", f"candidate {rank}: {en}")
        for rank in range(1, CANDIDATES_SHOWN + 1)
        for field, (vi, en) in CANDIDATE_FIELD_LABELS.items()
    },
    ROW_KEY_COLUMN: ("Mã dòng (không sửa)", "row key (do not edit)"),
    DECISION_COLUMN: ("Quyết định", "decision"),
    CORRECTED_ID_COLUMN: ("CCCD đúng (12 số)", "corrected ID (12-digit CCCD)"),
    NOTE_COLUMN: ("Ghi chú", "note"),
    "previous_reason_vi": ("Lý do trước đây", "previous reason (Vietnamese)"),
    "previous_reason_en": ("Lý do trước đây (tiếng Anh)", "previous reason"),
    "resolution_vi": ("Cách xử lý", "resolution (Vietnamese)"),
    "resolution_en": ("Cách xử lý (tiếng Anh)", "resolution"),
    # the facility ranking's columns per reason
    **{code: (label.vietnamese, label.english) for code, label in BACKLOG_REASON_LABELS.items()},
    # the refused decisions
    "decision_file": ("Tệp quyết định", "decision file"),
    "sheet_name": ("Trang", "sheet"),
    "sheet_row": ("Dòng trong trang", "row in sheet"),
    "decision_given": ("Quyết định đã ghi", "decision as written"),
    "reviewer": ("Người xem xét", "reviewer"),
    "rejection_vi": ("Lý do không áp dụng", "why not applied (Vietnamese)"),
    "rejection_en": ("Lý do không áp dụng (tiếng Anh)", "why not applied"),
    "rejection_detail": ("Chi tiết", "detail"),
    # the re-sent files
    "recognised_as": ("Nhận biết là", "recognised as"),
    "change_vi": ("Thay đổi", "change (Vietnamese)"),
    "change_en": ("Thay đổi (tiếng Anh)", "change"),
    "citizen_id": ("Số định danh (che bớt)", "citizen ID (masked)"),
    "vaccine_code": ("Vắc xin", "vaccine"),
    "vaccinated_on": ("Ngày tiêm", "vaccination date"),
    "lot": ("Số lô", "lot"),
    # the summary tables
    "rank": ("Thứ tự", "rank"),
    "reason_code": ("Mã lý do", "reason code"),
    "reason": ("Lý do", "reason"),
    "open_rows": ("Số dòng chưa ghép", "open rows"),
    "facilities": ("Số cơ sở", "facilities"),
    "longest_wait_nights": ("Chờ lâu nhất (đêm)", "longest wait (nights)"),
    "nights_0": ("Mới đêm nay", "new tonight"),
    "nights_1_7": ("Chờ 1–7 đêm", "waited 1–7 nights"),
    "nights_8_30": ("Chờ 8–30 đêm", "waited 8–30 nights"),
    "nights_31_plus": ("Chờ trên 30 đêm", "waited over 30 nights"),
}


@dataclass(frozen=True)
class ProvinceReport:
    """Everything one province's files show, already masked and formula-neutralised."""

    province_code: str
    province_name: str
    as_of: dt.date
    run_id: str
    rows: pl.DataFrame  # reason_code + REASON_SHEET_COLUMNS (key columns first)
    resolved: pl.DataFrame  # RESOLVED_COLUMNS
    facilities: pl.DataFrame  # facilities ranked by open rows, counts per reason, age
    reasons: pl.DataFrame  # counts and age per reason
    # Decision lines (and files) refused tonight, with the reason: REJECTED_DECISION_COLUMNS
    rejected_decisions: pl.DataFrame | None = None
    # What the province's re-sent files changed tonight, shot by shot: RESENT_SHOT_COLUMNS
    resent_shots: pl.DataFrame | None = None

    @property
    def file_stem(self) -> str:
        return f"mismatch_{province_folder(self.province_code)}_{self.as_of.isoformat()}"

    def reason_codes(self) -> list[str]:
        """The reasons present, in the closed list's order (stable from night to night)."""
        present = set(self.rows["reason_code"].to_list())
        ordered = [code for code in BACKLOG_REASONS if code in present]
        return ordered + sorted(present - set(ordered))

    def reason_rows(self, reason_code: str) -> pl.DataFrame:
        """One reason's rows, without candidate columns when none of them has a candidate."""
        rows = self._rows_by_reason.get(reason_code, self.rows.clear().drop("reason_code"))
        if rows[candidate_column(1, "id")].null_count() == rows.height:
            rows = rows.drop(*CANDIDATE_COLUMNS, *CANDIDATE_TOKEN_COLUMNS)
        return rows

    @functools.cached_property
    def _rows_by_reason(self) -> dict[str, pl.DataFrame]:
        """The rows split by reason once (both files show every reason), each in the rows' order."""
        parts = self.rows.partition_by("reason_code", as_dict=True, include_key=False, maintain_order=True)
        return {str(key[0]): part for key, part in parts.items()}


def header_text(column: str) -> str:
    """A report column's header: its Vietnamese label with its code beneath ("Quyết định\n(decision)"),
    or the code alone for a column without a label."""
    labels = COLUMN_LABELS.get(column)
    return f"{labels[0]}\n({column})" if labels else column


def province_folder(province_code: str) -> str:
    return UNKNOWN_PROVINCE_FOLDER if province_code == UNKNOWN_PROVINCE else province_code


def sheet_name(reason_code: str) -> str:
    return reason_code[:31]  # Excel's limit


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
