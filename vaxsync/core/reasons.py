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
    "vaccination_date_maybe_swapped": Reason(
        "The vaccination date is a spreadsheet date cell whose day and month the spreadsheet's locale may"
        " have swapped (the file shows signs of it, but not enough to repair it); check the date.",
        "Ngày tiêm là ô ngày tháng của bảng tính có thể đã bị phần mềm bảng tính đảo ngày và tháng do cài đặt"
        " vùng (tệp có dấu hiệu nhưng chưa đủ để tự sửa); cần kiểm tra lại ngày tiêm.",
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
    "given_before_approval": Reason(
        "The vaccination date is before the vaccine was approved in Vietnam; the date or the vaccine is wrong.",
        "Ngày tiêm trước ngày vắc xin được cấp phép tại Việt Nam; ngày tiêm hoặc tên vắc xin bị sai.",
    ),
    "below_approved_age": Reason(
        "The person was younger than the vaccine's approved minimum age on the vaccination date.",
        "Người được tiêm chưa đủ tuổi tối thiểu được phép tiêm loại vắc xin này vào ngày tiêm.",
    ),
    "two_products_same_day": Reason(
        "Two different vaccines are recorded for the person on the same day; one record is likely wrong.",
        "Cùng một ngày ghi nhận hai loại vắc xin khác nhau cho cùng một người; có thể một bản ghi bị sai.",
    ),
    "no_confident_match": Reason(
        "No registry citizen matches the row with enough confidence.",
        "Không tìm được công dân khớp đủ tin cậy.",
    ),
    "review_required": Reason(
        "Likely matches exist but need a person to decide.",
        "Có ứng viên khớp, cần cán bộ xem xét quyết định.",
    ),
    "reviewer_rejected": Reason(
        "A reviewer rejected the offered candidates; the row waits for a corrected ID.",
        "Cán bộ đã từ chối các ứng viên; chờ bổ sung số định danh đúng.",
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
    "encoding_unrecognised": Reason(
        "The text does not read as Vietnamese in any known encoding (UTF-8/16, Windows-1258, TCVN3,"
        " TCVN 5712 VN1/VN2, VNI, VISCII, VPS); the detail lists the encodings tried and their scores.",
        "Nội dung tệp không đọc được thành tiếng Việt theo bất kỳ bảng mã nào đã biết (UTF-8/16, Windows-1258,"
        " TCVN3, TCVN 5712 VN1/VN2, VNI, VISCII, VPS); phần chi tiết liệt kê các bảng mã đã thử và điểm số.",
    ),
    "no_data_rows": Reason(
        "The file has a header but no data rows.", "Tệp chỉ có tiêu đề, không có dữ liệu."
    ),
    "validation_failed": Reason(
        "The file failed a critical data-quality check.",
        "Tệp không đạt kiểm tra chất lượng bắt buộc.",
    ),
    "workbook_too_large": Reason(
        "The workbook is too large to read safely (size, rows or cells over the limit, or reading it ran"
        " out of memory or time).",
        "Bảng tính quá lớn để đọc an toàn (dung lượng, số dòng hoặc số ô vượt giới hạn, hoặc đọc tệp"
        " vượt quá bộ nhớ hay thời gian cho phép).",
    ),
}

# Why a reviewer's decision line was not applied: one of these on every rejected review_decisions row.
DECISION_REJECTIONS: dict[str, Reason] = {
    "unknown_decision": Reason(
        "The decision is not one of: accept 1, accept 2, accept 3, reject, corrected, withdraw.",
        "Quyết định không hợp lệ (chỉ: accept 1, accept 2, accept 3, reject, corrected, withdraw).",
    ),
    "row_key_mismatch": Reason(
        "The row key does not agree with the source file and row on the same line.",
        "Mã dòng không khớp với tệp nguồn và số dòng trên cùng dòng.",
    ),
    "unknown_row": Reason(
        "The row is not in the backlog (never was, or was resolved or replaced since).",
        "Dòng không còn trong danh sách tồn (không có, đã xử lý hoặc đã được thay thế).",
    ),
    "wrong_province": Reason(
        "The row belongs to another province than the report's.",
        "Dòng thuộc tỉnh khác với tỉnh của báo cáo.",
    ),
    "candidate_not_offered": Reason(
        "The accepted candidate number was not offered for this row.",
        "Ứng viên được chọn không có trong danh sách đề xuất cho dòng này.",
    ),
    "malformed_id": Reason(
        "The corrected ID is not a 12-digit CCCD.", "Số định danh sửa không phải CCCD 12 chữ số."
    ),
    "id_not_in_registry": Reason(
        "The corrected ID is not in the registry snapshot.",
        "Số định danh sửa không có trong Cơ sở dữ liệu quốc gia về dân cư.",
    ),
    "impossible_link": Reason(
        "The chosen citizen cannot have received this shot (before birth or after death).",
        "Công dân được chọn không thể nhận mũi tiêm này (trước ngày sinh hoặc sau ngày mất).",
    ),
    "row_not_matchable": Reason(
        "The row has a data error a match cannot fix (e.g. unknown vaccine); the facility must resend it.",
        "Dòng có lỗi dữ liệu không sửa được bằng ghép nối (ví dụ vắc xin không rõ); cơ sở cần gửi lại.",
    ),
    "conflicting_decisions": Reason(
        "Two different decisions were given for the same row.",
        "Có hai quyết định khác nhau cho cùng một dòng.",
    ),
    "not_in_province_folder": Reason(
        "The file was not dropped in a province's folder of the decisions folder (<decisions>/<province code>/).",
        "Tệp không nằm trong thư mục của một tỉnh trong thư mục quyết định (<thư mục quyết định>/<mã tỉnh>/).",
    ),
    "token_invalid": Reason(
        "The row key or the candidate's code is missing or was altered: copy lines only from an unedited report.",
        "Mã dòng hoặc mã ứng viên bị thiếu hoặc đã bị sửa: chỉ dùng các dòng của báo cáo gốc, không sửa.",
    ),
    "decision_stale": Reason(
        "The candidate you chose is no longer offered for this row (the row was scored again): decide on tonight's report.",
        "Ứng viên đã chọn không còn được đề xuất cho dòng này (dòng đã được chấm lại): hãy quyết định trên báo cáo mới.",
    ),
    "formula_cell": Reason(
        "A cell of the line holds a formula; type the value itself.",
        "Một ô của dòng chứa công thức; hãy gõ trực tiếp giá trị.",
    ),
    "reviewer_missing": Reason(
        "No reviewer name: fill the 'reviewer' cell of the instructions sheet (or a 'reviewer' column).",
        "Thiếu tên người xem xét: điền ô 'reviewer' ở trang hướng dẫn (hoặc cột 'reviewer').",
    ),
    "correction_not_confirmed": Reason(
        "The corrected ID's owner differs from the row in name, birth date or sex; the row is held.",
        "Chủ của số định danh sửa khác với dòng về họ tên, ngày sinh hoặc giới tính; dòng được giữ lại.",
    ),
    "nothing_to_withdraw": Reason(
        "'withdraw' needs an earlier accepted, corrected or rejected decision on this row.",
        "'withdraw' chỉ dùng khi dòng đã có quyết định chấp nhận, sửa hoặc từ chối trước đó.",
    ),
    "already_decided": Reason(
        "An earlier decision already posted this row: 'withdraw' it first, then decide again on the next report.",
        "Dòng đã được ghi nhận theo một quyết định trước: hãy 'withdraw' trước, rồi quyết định lại trên báo cáo sau.",
    ),
}

# File-level reasons: a decision file refused whole (review_decision_files.status = 'quarantined').
DECISION_FILE_REASONS: dict[str, Reason] = {
    "symlink": Reason(
        "A link, not a regular file: only regular files inside the decisions folder are read.",
        "Là liên kết, không phải tệp thường: chỉ đọc các tệp thường nằm trong thư mục quyết định.",
    ),
    "file_too_large": Reason(
        "The file is larger than a decision file can be.", "Tệp lớn hơn mức cho phép của tệp quyết định."
    ),
    "workbook_too_large": Reason(
        "The workbook declares more rows, columns or content than a decision file can have.",
        "Bảng tính khai báo số dòng, số cột hoặc dung lượng vượt mức cho phép của tệp quyết định.",
    ),
    "too_many_lines": Reason(
        "More decision lines than the province has open rows to decide.",
        "Số dòng quyết định nhiều hơn số dòng tồn của tỉnh.",
    ),
    "unreadable_file": Reason(
        "The file cannot be read as XLSX or as delimited text.",
        "Không đọc được tệp (không phải XLSX hoặc văn bản phân cách).",
    ),
    "no_decision_column": Reason(
        "No sheet of the file has a 'decision' column.", "Không trang nào của tệp có cột 'decision'."
    ),
}

# Conflicts between a vaccination record and the person's history (vaxsync.marts.events, docs/events.md): one of
# these on every shot_conflicts row. HELD_CONFLICTS hold the row in the backlog (same code; the first that
# applies is the row's reason, vaxsync.marts.events.HOLD_PRIORITY); the others leave the dose posted, flagged
# (below_approved_age keeps its backlog text for rows held before it became a flag).
_POSTED_WITH_FLAG: dict[str, Reason] = {
    "dose_number_mismatch": Reason(
        "The facility's dose number differs from the person's dose sequence by date.",
        "Số thứ tự mũi tiêm cơ sở ghi khác với thứ tự mũi tiêm của người này theo ngày tiêm.",
    ),
    "interval_too_short": Reason(
        "The dose was given sooner after the previous dose than the vaccine's minimum interval.",
        "Mũi tiêm cách mũi trước ngắn hơn khoảng cách tối thiểu của vắc xin.",
    ),
}
HELD_CONFLICTS: tuple[str, ...] = ("given_before_approval", "two_products_same_day")
# A posted shot whose citizen the latest registry snapshot no longer has (vaxsync.marts.snapshot_changes): also a
# shot_conflicts code, flagged, kept apart from the event rules above.
SNAPSHOT_CONFLICTS: dict[str, Reason] = {
    "citizen_not_in_snapshot": Reason(
        "The dose is posted to a citizen the latest registry snapshot no longer has; coverage cannot count it.",
        "Mũi tiêm đã ghi nhận cho công dân không còn trong bản CSDL dân cư mới nhất; không tính được vào độ bao phủ.",
    ),
}
SHOT_CONFLICTS: dict[str, Reason] = {
    **{code: BACKLOG_REASONS[code] for code in (*HELD_CONFLICTS, "below_approved_age")},
    **_POSTED_WITH_FLAG,
}

# Short labels of the backlog reasons, for column headers and tables (the sentences above are too long).
BACKLOG_REASON_LABELS: dict[str, Reason] = {
    "malformed_row": Reason("malformed row", "Dòng sai cấu trúc"),
    "required_value_missing": Reason("required value missing", "Thiếu giá trị bắt buộc"),
    "birth_date_invalid": Reason("invalid birth date", "Ngày sinh sai"),
    "vaccine_unknown": Reason("unknown vaccine", "Vắc xin không rõ"),
    "vaccination_date_invalid": Reason("invalid vaccination date", "Ngày tiêm sai"),
    "vaccination_date_out_of_range": Reason("vaccination date out of range", "Ngày tiêm ngoài khoảng"),
    "vaccination_date_maybe_swapped": Reason(
        "vaccination date maybe day/month swapped", "Ngày tiêm có thể bị đảo ngày/tháng"
    ),
    "id_unrecoverable": Reason("ID unrecoverable", "Số định danh hỏng"),
    "no_usable_id": Reason("no usable ID", "Không có số định danh"),
    "id_not_in_registry": Reason("ID not in registry", "Số định danh không có trong CSDL"),
    "id_contradicted": Reason("ID contradicted", "Số định danh không khớp người"),
    "id_ambiguous": Reason("ID ambiguous", "Số CMND trùng nhiều người"),
    "shot_after_death": Reason("shot after death", "Tiêm sau ngày mất"),
    "shot_before_birth": Reason("shot before birth", "Tiêm trước ngày sinh"),
    "given_before_approval": Reason("given before approval", "Tiêm trước ngày cấp phép"),
    "below_approved_age": Reason("below approved age", "Chưa đủ tuổi tiêm"),
    "two_products_same_day": Reason("two vaccines the same day", "Hai vắc xin cùng ngày"),
    "no_confident_match": Reason("no confident match", "Không tìm được người khớp"),
    "review_required": Reason("review required", "Cần xem xét"),
    "reviewer_rejected": Reason("rejected by a reviewer", "Cán bộ đã từ chối"),
    "validation_failed": Reason("failed validation", "Không đạt kiểm tra chất lượng"),
}

# How a backlog row was resolved (unposted_backlog.resolution).
RESOLUTIONS: dict[str, Reason] = {
    "rematched": Reason(
        "Matched again against a newer registry snapshot and posted.",
        "Đã ghép lại với CSDL dân cư mới hơn và ghi nhận.",
    ),
    "review_accepted": Reason(
        "Posted to the candidate a reviewer accepted.", "Đã ghi nhận cho ứng viên được cán bộ chấp nhận."
    ),
    "corrected_id": Reason(
        "Posted to the corrected ID a reviewer gave.", "Đã ghi nhận theo số định danh cán bộ sửa."
    ),
}


class DetailText(NamedTuple):
    """A reason detail as the pipeline writes it (a regex with named groups) and its sentences.

    Groups named `term…` are comma-separated codes or words translated through DETAIL_TERMS, groups named
    `percent…` are probabilities shown as percentages; other groups are shown as they are (values as sent).
    `reasons` limits a text to those reason codes (empty: any reason)."""

    pattern: str
    english: str
    vietnamese: str
    reasons: tuple[str, ...] = ()


_VALUE_AS_SENT_REASONS = ("vaccine_unknown", "vaccination_date_invalid", "birth_date_invalid")
# The matching stage's details (matching/deterministic.py, matching/probabilistic.py), the normalize stage's
# rejections (transforms/normalize/rejects.py), the event rules (vaxsync/marts/events.py), the decision intake.
DETAIL_TEXTS: tuple[DetailText, ...] = (
    DetailText(
        r"^(?P<term>\w+); no probabilistic candidate$",
        "{term}; no candidate by probabilistic linkage.",
        "{term}; không có ứng viên nào theo ghép nối xác suất.",
    ),
    DetailText(
        r"^(?P<term>\w+); best probabilistic candidate p=(?P<percent>[0-9.eE+-]+) is impossible "
        r"\((?P<term_impossible>\w+)\)$",
        "{term}; the best probabilistic candidate ({percent}) is impossible: {term_impossible}.",
        "{term}; ứng viên tốt nhất theo xác suất ({percent}) là không thể: {term_impossible}.",
    ),
    DetailText(
        r"^(?P<term>\w+); best probabilistic candidate p=(?P<percent>[0-9.eE+-]+)$",
        "{term}; best probabilistic candidate: {percent}, below the threshold to post.",
        "{term}; ứng viên tốt nhất theo xác suất: {percent}, chưa đủ ngưỡng để ghi nhận.",
    ),
    DetailText(
        r"^ID owner differs in (?P<term>.+)$",
        "The ID's owner differs in: {term}.",
        "Chủ của số định danh khác ở: {term}.",
    ),
    DetailText(
        r"^(?P<count>\d+) citizens share this old ID and agree with the row$",
        "{count} citizens share this old ID and agree with the row.",
        "{count} công dân cùng số CMND cũ này và đều khớp với dòng.",
    ),
    DetailText(r"^ID kind: (?P<term>\w+)$", "ID kind: {term}.", "Loại giấy tờ: {term}."),
    DetailText(r"^missing: (?P<term>.+)$", "Missing: {term}.", "Thiếu: {term}."),
    DetailText(
        r"^(?P<sent>.*) \(a date cell read as (?P<date>[0-9-]+); day and month may be swapped: (?P<other>[0-9-]+)\)$",
        'Sent "{sent}", a date cell read as {date}; the spreadsheet may have swapped day and month: {other}.',
        "Đã gửi “{sent}”, ô ngày tháng đọc là {date}; bảng tính có thể đã đảo ngày và tháng: {other}.",
    ),
    DetailText(
        r"^(?P<sent>.*) \(read as (?P<date>[0-9-]+); campaign (?P<start>[0-9-]+) to (?P<end>[0-9-]+)\)$",
        'Sent "{sent}", read as {date}; the campaign runs {start} to {end}.',
        "Đã gửi “{sent}”, đọc là {date}; chiến dịch từ {start} đến {end}.",
    ),
    DetailText(
        r"^(?P<sent>.*) \((?P<code>\w+) is approved in Vietnam but was not supplied to the campaign\)$",
        'Sent "{sent}": {code} is approved in Vietnam but was not supplied to the campaign.',
        "Đã gửi “{sent}”: {code} được cấp phép tại Việt Nam nhưng không được cấp cho chiến dịch.",
    ),
    DetailText(
        r"^(?P<code>\S+) given on (?P<date>[0-9-]+), before its approval in Vietnam on (?P<approved>[0-9-]+)$",
        "{code} given on {date}, before its approval in Vietnam on {approved}.",
        "{code} tiêm ngày {date}, trước ngày được cấp phép tại Việt Nam ({approved}).",
    ),
    DetailText(
        r"^(?P<code>\S+) is approved from age (?P<age>\d+); the person was (?P<term>at most )?(?P<years>\d+) "
        r"on the vaccination date$",
        "{code} is approved from age {age}; the person was {term}{years} on the vaccination date.",
        "{code} được phép tiêm từ {age} tuổi; vào ngày tiêm người này {term}{years} tuổi.",
    ),
    DetailText(
        r"^(?P<code>\S+) and, the same day, (?P<others>.+?)(?P<term> \(already posted\))?$",
        "{code} and, the same day, {others}{term}.",
        "{code} và, cùng ngày, {others}{term}.",
    ),
    DetailText(
        r"^a reviewer rejected the offered candidates$",
        "A reviewer rejected the offered candidates.",
        "Cán bộ đã từ chối các ứng viên được đề xuất.",
    ),
    DetailText(
        r"^malformed_row$",
        "The row's number of fields differs from the header's.",
        "Số cột của dòng khác với dòng tiêu đề.",
    ),
    DetailText(r"^(?P<sent>.*)$", 'Sent "{sent}".', "Đã gửi “{sent}”.", _VALUE_AS_SENT_REASONS),
)

# Codes and words inside details (the `term` groups), in English and Vietnamese.
DETAIL_TERMS: dict[str, Reason] = {
    **{
        code: Reason(label.english[:1].upper() + label.english[1:], label.vietnamese)
        for code, label in BACKLOG_REASON_LABELS.items()
    },
    "unmatched": Reason("No ID match", "Không khớp theo số định danh"),
    "child_adult_mismatch": Reason(
        "one is a child and the other an adult", "một bên là trẻ em, một bên là người lớn"
    ),
    "too_young_for_vaccination": Reason("too young to be vaccinated", "chưa đủ tuổi để tiêm"),
    "missing": Reason("none", "không có"),
    "passport": Reason("passport", "hộ chiếu"),
    "bhyt": Reason("health-insurance number", "số thẻ BHYT"),
    "other": Reason("other", "khác"),
    "unrecoverable": Reason("unrecoverable", "không khôi phục được"),
    "name": Reason("name", "họ tên"),
    "birth date": Reason("birth date", "ngày sinh"),
    "sex": Reason("sex", "giới tính"),
    "full_name": Reason("full name", "họ tên"),
    "date_of_birth": Reason("birth date", "ngày sinh"),
    "vaccine": Reason("vaccine", "vắc xin"),
    "vaccinated_on": Reason("vaccination date", "ngày tiêm"),
    "at most ": Reason("at most ", "tối đa "),
    " (already posted)": Reason(" (already posted)", " (đã ghi nhận)"),
}

# Why a posted shot was retracted (retracted_shots.retraction_reason, shot_sources.inactive_reason).
RETRACTION_REASONS: dict[str, Reason] = {
    "superseded_by_new_version": Reason(
        "A newer version of the facility's file no longer records this dose.",
        "Phiên bản mới của tệp do cơ sở gửi lại không còn ghi nhận mũi tiêm này.",
    ),
    "posting_withdrawn": Reason(
        "The posting was withdrawn (for example a reviewer withdrew an accept).",
        "Việc ghi nhận đã được rút lại (ví dụ cán bộ rút lại quyết định chấp nhận).",
    ),
    "relinked_after_new_snapshot": Reason(
        "A newer registry snapshot added a citizen who explains the record as well or better: the record"
        " moved to the person its own ID names, or went to review.",
        "Bản dữ liệu dân cư mới có thêm một công dân khớp với bản ghi không kém: bản ghi đã chuyển sang"
        " người có số định danh ghi trên bản ghi, hoặc được chuyển sang rà soát.",
    ),
}
