"""The closed lists of reason codes: why a row is not posted, and why a file is quarantined.

Every code has a plain-language explanation in English and Vietnamese, shown in reports.
"""

from __future__ import annotations

from typing import NamedTuple


class Reason(NamedTuple):
    english: str
    vietnamese: str


# Row-level reasons: one of these on every unposted_backlog row.
BACKLOG_REASONS: dict[str, Reason] = {
    "malformed_row": Reason(
        "The row is cut short or has the wrong number of fields.",
        "Dòng dữ liệu bị cắt cụt hoặc sai số cột.",
    ),
    "required_value_missing": Reason(
        "A required value (name, birth date, vaccine or vaccination date) is blank.",
        "Thiếu giá trị bắt buộc (họ tên, ngày sinh, vắc xin hoặc ngày tiêm).",
    ),
    "birth_date_invalid": Reason(
        "The birth date cannot be read or is impossible.",
        "Ngày sinh không đọc được hoặc không hợp lệ.",
    ),
    "vaccine_unknown": Reason(
        "The vaccine name is not in the catalogue.",
        "Tên vắc xin không có trong danh mục.",
    ),
    "vaccination_date_invalid": Reason(
        "The vaccination date cannot be read or is impossible.",
        "Ngày tiêm không đọc được hoặc không hợp lệ.",
    ),
    "vaccination_date_out_of_range": Reason(
        "The vaccination date is before the campaign began (2021-03-08) or after the run date.",
        "Ngày tiêm trước ngày bắt đầu chiến dịch (08/03/2021) hoặc sau ngày chạy.",
    ),
    "id_unrecoverable": Reason(
        "The ID was mangled by Excel (scientific notation); its digits are lost.",
        "Số định danh bị Excel làm hỏng (dạng số mũ), không khôi phục được.",
    ),
    "no_usable_id": Reason(
        "No usable citizen ID (blank, passport, health-insurance number or unreadable).",
        "Không có số định danh dùng được (trống, hộ chiếu, số BHYT hoặc không đọc được).",
    ),
    "id_not_in_registry": Reason(
        "The ID is well formed but no citizen has it.",
        "Số định danh hợp lệ nhưng không có trong CSDL quốc gia về dân cư.",
    ),
    "id_contradicted": Reason(
        "The ID belongs to a citizen whose name, birth date or sex differ from the row.",
        "Số định danh thuộc về người có họ tên, ngày sinh hoặc giới tính khác với dòng dữ liệu.",
    ),
    "id_ambiguous": Reason(
        "The old ID number is shared by several citizens.",
        "Số CMND cũ trùng với nhiều công dân.",
    ),
    "shot_after_death": Reason(
        "The vaccination date is after the citizen's recorded death.",
        "Ngày tiêm sau ngày mất của công dân.",
    ),
    "shot_before_birth": Reason(
        "The vaccination date is before the citizen's birth.",
        "Ngày tiêm trước ngày sinh của công dân.",
    ),
    "no_confident_match": Reason(
        "No registry citizen matches the row with enough confidence.",
        "Không tìm được công dân khớp đủ tin cậy.",
    ),
    "review_required": Reason(
        "Likely matches exist but need a person to decide.",
        "Có ứng viên khớp, cần cán bộ xem xét quyết định.",
    ),
    "validation_failed": Reason(
        "The row's batch failed a critical data-quality check and was held back.",
        "Lô dữ liệu không đạt kiểm tra chất lượng bắt buộc, tạm giữ lại.",
    ),
}

# File-level reasons: one of these on every quarantined ingest_ledger row.
QUARANTINE_REASONS: dict[str, Reason] = {
    "empty_file": Reason("The file is empty.", "Tệp rỗng."),
    "unreadable_file": Reason(
        "The file is not readable text or a spreadsheet (binary or corrupt).",
        "Tệp không đọc được (nhị phân hoặc bị hỏng).",
    ),
    "unsupported_format": Reason(
        "The file type is not CSV, TXT or XLSX, or it is an Office lock file.",
        "Định dạng tệp không được hỗ trợ hoặc là tệp khóa của Office.",
    ),
    "missing_required_columns": Reason(
        "The file lacks required columns.",
        "Tệp thiếu cột bắt buộc.",
    ),
    "no_data_rows": Reason(
        "The file has a header but no data rows.", "Tệp chỉ có tiêu đề, không có dữ liệu."
    ),
    "validation_failed": Reason(
        "The file failed a critical data-quality check.",
        "Tệp không đạt kiểm tra chất lượng bắt buộc.",
    ),
}
