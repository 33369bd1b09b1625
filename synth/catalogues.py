"""Small catalogues of what facility exports contain besides names and vaccines."""

from __future__ import annotations

STREET_NAMES = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Lê Duẩn", "Nguyễn Văn Cừ", "Hùng Vương",
    "Quang Trung", "Điện Biên Phủ", "Lý Thường Kiệt", "Phan Chu Trinh", "Võ Văn Tần", "Lê Văn Sỹ",
    "Tôn Đức Thắng", "Nguyễn Đình Chiểu", "Hoàng Văn Thụ", "Phan Đình Phùng", "Trần Phú", "Ngô Quyền",
    "Lê Hồng Phong", "Nguyễn Huệ", "Lạc Long Quân", "Bạch Đằng", "Nguyễn Văn Linh", "Trường Chinh",
    "Cách Mạng Tháng Tám", "Lê Thánh Tông", "Nguyễn Du", "Xuân Thủy", "Phạm Văn Đồng", "Lý Tự Trọng",
    "Hoàng Diệu", "Nguyễn Thị Minh Khai", "Võ Thị Sáu", "Lê Lai", "Nguyễn Công Trứ", "Phan Bội Châu",
)  # fmt: skip

ID_PLACEHOLDERS = ("chưa có", "Chưa có", "0", "Không có", "-", "x", "000000000", "KCC", "chua co")

# Korean, Chinese, Japanese, US-style passport numbers of foreigners.
PASSPORT_PATTERNS = ("M{D8}", "E{D8}", "TK{D7}", "{D9}", "C{D7}", "P{D7}")
FOREIGN_PHONE_PATTERNS = ("+82 10 {D4} {D4}", "+86 138 {D4} {D4}", "+1 408 {D7}", "+81 90 {D4} {D4}")

# Landline area codes since 2017 (02x); a landline has 11 digits.
LANDLINE_AREA_CODES = ("024", "028", "0236", "0225", "0251", "0274", "0292", "0238", "0237", "0203")

# BHYT beneficiary groups by age band: children, pupils, working adults, households, retirees.
BHYT_GROUPS = {
    "child": ("TE",),
    "pupil": ("HS",),
    "adult": ("DN", "HC", "GD", "HN", "CN"),
    "retired": ("HT", "CC"),
}

PRIORITY_GROUPS = tuple(str(group) for group in range(1, 14))
NOTES = (
    "",
    "",
    "",
    "",
    "Phản ứng nhẹ",
    "Sốt nhẹ",
    "Hoãn tiêm",
    "Đã tiêm mũi 1 nơi khác",
    "Theo dõi 30 phút",
    "",
)
OCCUPATIONS = (
    "Công nhân",
    "Nông dân",
    "Giáo viên",
    "Học sinh",
    "Buôn bán",
    "Nội trợ",
    "Hưu trí",
    "Tự do",
    "Y tế",
)
ETHNICITIES = ("Kinh", "Kinh", "Kinh", "Kinh", "Kinh", "Tày", "Thái", "Mường", "Khmer", "H'Mông", "Ê Đê")
DATA_ENTRY_STAFF = ("ntlan", "admin", "tyt01", "vhung", "ttmai", "nhaplieu2")

# Extra columns: (Vietnamese header, English header, value catalogue).
EXTRA_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Nhóm ưu tiên", "Priority group", PRIORITY_GROUPS),
    ("Ghi chú", "Notes", NOTES),
    ("Nghề nghiệp", "Occupation", OCCUPATIONS),
    ("Dân tộc", "Ethnicity", ETHNICITIES),
    ("Người nhập liệu", "Entered by", DATA_ENTRY_STAFF),
    ("Phản ứng sau tiêm", "Adverse reaction", ("", "", "Không", "Sốt", "Đau chỗ tiêm")),
)

FACILITY_KINDS = (
    "Trạm Y tế {ward_name}",
    "Trạm Y tế {ward_name}",
    "Trạm Y tế {ward_name}",
    "Trung tâm Y tế {district_name}",
    "Bệnh viện Đa khoa {district_bare}",
    "Điểm tiêm lưu động Nhà văn hóa {ward_bare}",
    "Điểm tiêm lưu động Trường THCS {ward_bare}",
)

TOTAL_ROW_LABELS = ("Tổng cộng", "Tổng số", "Cộng", "TỔNG CỘNG")
TOTAL_ROW_LABELS_EN = ("Total", "TOTAL", "Grand total")

# Files that are not vaccination lists at all (quarantined as missing_required_columns).
STAFF_LIST_HEADER = ("STT", "Họ và tên", "Chức vụ", "Số điện thoại", "Ca trực")
STAFF_ROLES = ("Điều dưỡng", "Tình nguyện viên", "Y sĩ", "Bác sĩ", "Hộ sinh", "Nhập liệu")
STAFF_SHIFTS = ("Sáng", "Chiều", "Tối")
STOCK_REPORT_HEADER = (
    "STT",
    "Tên vắc xin",
    "Số lô",
    "Hạn dùng",
    "Số lượng nhập",
    "Số lượng đã sử dụng",
    "Tồn kho",
)
