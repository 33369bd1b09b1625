"""What a province's mismatch report holds: its columns, their labels, and ProvinceReport (the frames
both files show). Built by vaxsync.reports.province_reports, rendered by province_report_render; light to
import (polars and vaxsync.core), so that the rendering helper process imports no warehouse code."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import polars as pl

from vaxsync.core.contracts import EXPORT_FIELDS
from vaxsync.core.decision_sheet import (
    CANDIDATE_TOKEN_COLUMNS,
    CANDIDATES_SHOWN,
    CORRECTED_ID_COLUMN,
    DECISION_COLUMN,
    DECISION_COLUMNS,
    NOTE_COLUMN,
    ROW_KEY_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    TOKEN_COLUMNS,
    UNKNOWN_PROVINCE,
    UNKNOWN_PROVINCE_FOLDER,
)
from vaxsync.core.reasons import BACKLOG_REASON_LABELS, BACKLOG_REASONS

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
        rows = self._rows_by_reason.get(reason_code)
        return rows if rows is not None else _shown_columns(self.rows.clear().drop("reason_code"))

    @functools.cached_property
    def _rows_by_reason(self) -> dict[str, pl.DataFrame]:
        """The rows split by reason once (both files show every reason, and each sheet reads them more
        than once), each in the rows' order and with the columns it shows."""
        parts = self.rows.partition_by("reason_code", as_dict=True, include_key=False, maintain_order=True)
        return {str(key[0]): _shown_columns(part) for key, part in parts.items()}


def _shown_columns(rows: pl.DataFrame) -> pl.DataFrame:
    """A reason's rows without candidate columns when none of them has a candidate."""
    if rows[candidate_column(1, "id")].null_count() == rows.height:
        return rows.drop(*CANDIDATE_COLUMNS, *CANDIDATE_TOKEN_COLUMNS)
    return rows


def header_text(column: str) -> str:
    """A report column's header: its Vietnamese label with its code beneath ("Quyết định\n(decision)"),
    or the code alone for a column without a label."""
    labels = COLUMN_LABELS.get(column)
    return f"{labels[0]}\n({column})" if labels else column


def province_folder(province_code: str) -> str:
    return UNKNOWN_PROVINCE_FOLDER if province_code == UNKNOWN_PROVINCE else province_code


def sheet_name(reason_code: str) -> str:
    return reason_code[:31]  # Excel's limit
