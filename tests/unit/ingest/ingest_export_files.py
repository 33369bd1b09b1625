"""Small facility exports for the ingestion tests, written in every encoding we must read.

The legacy font encoders invert viparse's own tables, so the test bytes are what a .VnTime (TCVN3)
or VNI-Times font produces, derived from the same source the reader converts with.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import ftfy.bad_codecs  # noqa: F401 - registers the sloppy-windows-1252 codec
from viparse.normalize.tcvn3 import TCVN3
from viparse.normalize.vni import VNI

VN_HEADER = [
    "STT",
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Số CCCD/CMND",
    "Số điện thoại",
    "Địa chỉ",
    "Tên vắc xin",
    "Số lô",
    "Mũi tiêm",
    "Ngày tiêm",
    "Cơ sở tiêm",
]

# Twelve doses; names avoid capital accented initials, which TCVN3 cannot write (Đ, Ư... it can).
PEOPLE = [
    ("Nguyễn Thị Hồng", "12/03/1985", "Nữ", "001185012345", "0912345678", "Phường Bến Nghé, Quận 1"),
    ("Trần Văn Đức", "1962", "Nam", "", "", "Xã Tân Hội, Huyện Tân Châu"),
    ("Phạm Thị Thu Hương", "30/07/1991", "Nữ", "036191349758", "0388123456", "Thôn 5, Xã Hòa Phong"),
    ("Lê Quốc Việt", "05/11/1978", "Nam", "079078123456", "", "Tổ 13, Phường Thạc Gián"),
    ("Hoàng Minh Tuấn", "21/02/2003", "Nam", "", "0977000111", "Khu phố 12, Phường Trung Minh"),
    ("Đặng Thị Khuyên", "09/09/1955", "Nữ", "040155000222", "", "Xóm 3, Xã Nhữ Khê"),
    ("Vũ Ngọc Lan", "17/02/1951", "Nữ", "", "0903111222", "Số 5 Nguyễn Văn Linh, Phường Mỹ Xá"),
    ("Bùi Xuân Trường", "01/01/1999", "Nam", "038099555666", "", "Ấp 4, Xã Tân Hội"),
    ("Huỳnh Thị Mỹ Mận", "23/12/2014", "Nữ", "", "", "Phường Trung Minh, Thành phố Hòa Bình"),
    ("Ngô Đình Phúc", "10/07/2017", "Nam", "", "0820377531", "Tổ 6, Xã Hòa Phong, Huyện Hòa Vang"),
    ("Dương Bảo Hằng", "04/05/2000", "Nữ", "045300031735", "", "Xóm 11, Xã Tân Lập, Huyện Hướng Hóa"),
    ("Võ Thị Nguyệt", "15/06/1953", "Nữ", "", "0934506614", "Ấp Phước Hưng, Xã Tân Hội"),
]
TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below
VACCINES = ["AstraZeneca", "Pfizer", "Moderna", "Vero Cell"]


def export_rows(count: int = len(PEOPLE)) -> list[list[str]]:
    """`count` data rows in VN_HEADER order (people repeat after twelve)."""
    rows = []
    for number in range(count):
        name, born, sex, id_number, phone, address = PEOPLE[number % len(PEOPLE)]
        vaccine = VACCINES[number % len(VACCINES)]
        dose_on = f"{(number % 28) + 1:02d}/08/2021"
        facility = "Trạm Y tế Phường Bến Nghé"
        rows.append(
            [
                str(number + 1),
                name,
                born,
                sex,
                id_number,
                phone,
                address,
                vaccine,
                "ABV1139",
                "1",
                dose_on,
                facility,
            ]
        )
    return rows


def render_delimited(rows: list[list[str]], separator: str = ",", line_end: str = "\r\n") -> str:
    """Rows as delimited text, quoting the way Excel does (fields holding the separator or a quote)."""

    def quote(cell: str) -> str:
        if separator in cell or '"' in cell or "\n" in cell:
            return '"' + cell.replace('"', '""') + '"'
        return cell

    return "".join(separator.join(quote(cell) for cell in row) + line_end for row in rows)


def _inverse(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    inverse: dict[str, str] = {}
    for legacy, unicode in pairs:
        inverse.setdefault(unicode, legacy)
    return inverse


def to_tcvn3_surface(text: str) -> str:
    """Unicode -> the characters a TCVN3 (.VnTime) file shows; capital accented letters go lowercase."""
    inverse = _inverse(TCVN3.pairs)
    return "".join(inverse.get(ch, inverse.get(ch.lower(), ch)) for ch in unicodedata.normalize("NFC", text))


def to_vni_surface(text: str) -> str:
    inverse = _inverse(VNI.pairs)
    return "".join(inverse.get(ch, ch) for ch in unicodedata.normalize("NFC", text))


def to_cp1258_bytes(text: str) -> bytes:
    """Windows-1258 as Windows writes it: precomposed where the code page has the letter, else base + tone."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize(
                "NFC", "".join(mark for mark in decomposed if mark not in TONE_MARKS)
            )
            tones = "".join(mark for mark in decomposed if mark in TONE_MARKS)
            out += base.encode("cp1258") + tones.encode("cp1258")
    return bytes(out)


def as_utf8_misread_as_cp1252(text: str) -> bytes:
    """UTF-8 text opened as Windows-1252 and saved again as UTF-8 ("Nguyá»…n")."""
    return text.encode("utf-8").decode("sloppy-windows-1252").encode("utf-8")


def write(folder: Path, name: str, content: bytes | str) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return name
