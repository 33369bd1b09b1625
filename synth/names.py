"""Vietnamese name catalogues and the per-word spellings that data entry produces.

Shares are calibrated to the domain sheet (docs: ../shared/domain/vietnam.md §2): Nguyễn near a third,
Văn/Thị common in older cohorts and rare in young ones, Huỳnh/Võ in the south, Hoàng/Vũ in the north.
Weights are relative; cohort columns are births <1960, 1960-79, 1980-94, 1995-2009, 2010+.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np

COHORT_EDGES = (1960, 1980, 1995, 2010)  # birth-year bounds of the five cohort columns

# name: (north, central, south) relative weights; regions split at province codes 38 and 70.
SURNAMES: dict[str, tuple[float, float, float]] = {
    "Nguyễn": (42, 42, 44),  # ~38% of the registry
    "Trần": (12, 13, 14),  # ~11%
    "Lê": (9, 11, 9),
    "Phạm": (7, 6, 6),
    "Hoàng": (6, 4, 1),
    "Huỳnh": (0.2, 2, 7),
    "Phan": (3, 6, 4),
    "Vũ": (6, 1, 0.8),
    "Võ": (0.5, 5, 5),
    "Đặng": (2.2, 2, 1.8),
    "Bùi": (2.8, 1.5, 1.5),
    "Đỗ": (2.5, 1, 0.8),
    "Hồ": (0.6, 3, 1.2),
    "Ngô": (1.5, 1.3, 1.2),
    "Dương": (1.2, 0.8, 1),
    "Lý": (0.5, 0.3, 1),
    "Đinh": (1.2, 1, 0.6),
    "Trương": (0.8, 1.5, 1.5),
    "Đoàn": (0.8, 1, 0.7),
    "Lâm": (0.3, 0.3, 1.2),
    "Mai": (0.7, 0.8, 0.7),
    "Trịnh": (1, 0.7, 0.3),
    "Đào": (1, 0.5, 0.4),
    "Cao": (0.6, 0.8, 0.7),
    "Tạ": (0.4, 0.2, 0.2),
    "Lương": (0.6, 0.5, 0.5),
    "Hà": (0.8, 0.5, 0.3),
    "Chu": (0.4, 0.1, 0.1),
    "Châu": (0.1, 0.3, 0.8),
    "Tô": (0.3, 0.2, 0.4),
    "Thái": (0.2, 0.5, 0.4),
    "Kiều": (0.3, 0.1, 0.1),
    "Quách": (0.2, 0.1, 0.3),
    "Lưu": (0.4, 0.2, 0.3),
    "Tăng": (0.1, 0.1, 0.3),
    "Triệu": (0.4, 0.1, 0.1),
    "Phùng": (0.4, 0.1, 0.1),
    "Vương": (0.3, 0.2, 0.3),
    "Diệp": (0.02, 0.1, 0.3),
    "Nông": (0.5, 0.02, 0.02),
    "Lò": (0.2, 0.02, 0.01),
    "Hứa": (0.1, 0.1, 0.3),
    "Nghiêm": (0.2, 0.05, 0.05),
    "Khúc": (0.1, 0.02, 0.02),
    "Thân": (0.2, 0.05, 0.05),
    "La": (0.1, 0.1, 0.3),
}

MIDDLE_MALE: dict[str, tuple[float, ...]] = {
    "Văn": (60, 50, 35, 12, 3),
    "Hữu": (6, 6, 5, 3, 2),
    "Đức": (6, 7, 8, 8, 7),
    "Minh": (3, 5, 8, 12, 14),
    "Quang": (4, 5, 5, 5, 4),
    "Công": (4, 4, 4, 3, 2),
    "Xuân": (4, 4, 3, 2, 1),
    "Thanh": (4, 5, 5, 4, 3),
    "Quốc": (2, 3, 4, 5, 5),
    "Đình": (5, 5, 4, 2, 1),
    "Ngọc": (3, 3, 3, 2, 2),
    "Trọng": (2, 2, 3, 3, 2),
    "Anh": (0.5, 1, 2, 4, 5),
    "Hoàng": (1, 1, 2, 4, 5),
    "Gia": (0.1, 0.2, 1, 4, 8),
    "Bảo": (0.1, 0.2, 1, 4, 8),
    "Tuấn": (0.5, 1, 2, 3, 3),
    "Thành": (1, 1, 2, 3, 3),
    "Duy": (0.5, 1, 2, 3, 4),
    "Nhật": (0.1, 0.5, 1, 3, 5),
    "Đăng": (0.5, 1, 1, 2, 3),
    "Khánh": (0.1, 0.5, 1, 2, 3),
    "Thế": (2, 2, 2, 1, 1),
    "Bá": (2, 1, 1, 0.5, 0.3),
    "Tấn": (2, 2, 2, 1, 1),
    "Phúc": (0.1, 0.2, 0.5, 2, 3),
}

MIDDLE_FEMALE: dict[str, tuple[float, ...]] = {
    "Thị": (75, 65, 45, 20, 10),
    "Ngọc": (4, 5, 8, 12, 14),
    "Thu": (3, 4, 5, 5, 4),
    "Thanh": (3, 4, 4, 4, 3),
    "Kim": (3, 3, 3, 3, 3),
    "Phương": (1, 2, 3, 4, 5),
    "Minh": (0.5, 1, 2, 4, 6),
    "Thùy": (0.5, 1, 3, 4, 4),
    "Hồng": (2, 2, 2, 2, 1),
    "Mỹ": (1, 1, 2, 3, 3),
    "Bảo": (0.1, 0.2, 1, 4, 7),
    "Khánh": (0.1, 0.2, 1, 3, 5),
    "Hoài": (0.5, 1, 2, 2, 2),
    "Diệu": (0.3, 0.5, 1, 2, 2),
    "Quỳnh": (0.1, 0.5, 1, 2, 3),
    "Hải": (0.3, 0.5, 1, 2, 2),
    "Ánh": (0.3, 0.5, 1, 1.5, 2),
    "Tuyết": (1, 1, 0.5, 0.3, 0.2),
    "Xuân": (1, 1, 1, 1, 0.5),
    "Bích": (1, 1, 1, 0.5, 0.5),
    "Cẩm": (0.5, 0.5, 0.5, 0.5, 0.5),
    "Gia": (0.05, 0.1, 0.2, 1, 3),
}

GIVEN_MALE: dict[str, tuple[float, ...]] = {
    "Hùng": (5, 6, 5, 3, 1),
    "Dũng": (4, 6, 5, 3, 1),
    "Hải": (4, 5, 5, 3, 2),
    "Sơn": (4, 5, 5, 3, 1),
    "Thắng": (4, 5, 4, 2, 1),
    "Tuấn": (2, 4, 7, 6, 3),
    "Minh": (3, 4, 5, 6, 7),
    "Long": (2, 3, 4, 4, 4),
    "Quang": (3, 3, 3, 3, 2),
    "Bình": (4, 4, 3, 2, 1),
    "Hòa": (4, 3, 2, 1, 0.5),
    "Thành": (3, 4, 4, 3, 2),
    "Đức": (3, 3, 4, 4, 3),
    "Trung": (3, 3, 3, 3, 2),
    "Cường": (2, 4, 4, 3, 1),
    "Hưng": (3, 3, 3, 3, 2),
    "Tài": (2, 2, 2, 2, 2),
    "Phúc": (2, 2, 2, 3, 5),
    "Lộc": (2, 2, 2, 2, 2),
    "Thọ": (3, 2, 1, 0.5, 0.2),
    "Hoàng": (1, 2, 4, 5, 4),
    "Huy": (0.5, 1, 4, 6, 6),
    "Anh": (1, 2, 4, 6, 6),
    "Hiếu": (0.5, 1, 3, 5, 4),
    "Nam": (2, 3, 4, 5, 5),
    "Khang": (0.1, 0.2, 0.5, 3, 6),
    "Bảo": (0.1, 0.2, 0.5, 3, 6),
    "Khoa": (0.5, 1, 2, 4, 5),
    "Duy": (0.5, 1, 3, 4, 4),
    "Thịnh": (1, 1, 2, 3, 3),
    "Phát": (0.5, 0.5, 1, 3, 4),
    "Quân": (0.5, 1, 2, 4, 5),
    "Đạt": (0.5, 1, 3, 5, 5),
    "Kiên": (1, 1, 2, 3, 3),
    "Thiện": (1, 1, 1, 2, 3),
    "Trí": (1, 1, 2, 3, 4),
    "Nhân": (1, 1, 2, 3, 3),
    "Tùng": (1, 2, 3, 3, 2),
    "Toàn": (2, 3, 3, 2, 1),
    "Vinh": (3, 3, 2, 2, 1),
    "Quý": (2, 2, 1, 1, 1),
    "Thụy": (0.5, 0.5, 0.5, 0.5, 0.5),
    "Hậu": (2, 2, 2, 1, 1),
    "Phong": (1, 2, 2, 3, 3),
    "Tú": (1, 1, 2, 2, 2),
    "Việt": (1, 2, 3, 3, 2),
    "An": (1, 1, 1, 3, 6),
    "Nguyên": (0.5, 1, 2, 3, 4),
    "Lực": (2, 2, 1, 0.5, 0.2),
}

GIVEN_FEMALE: dict[str, tuple[float, ...]] = {
    "Lan": (6, 5, 3, 2, 1),
    "Hoa": (5, 5, 3, 2, 1),
    "Hồng": (5, 5, 3, 2, 1),
    "Mai": (4, 4, 4, 3, 2),
    "Hương": (5, 6, 5, 3, 2),
    "Thu": (3, 4, 3, 2, 1),
    "Hà": (4, 5, 5, 4, 3),
    "Nga": (4, 5, 4, 2, 1),
    "Hạnh": (4, 5, 4, 3, 1),
    "Tuyết": (4, 3, 2, 1, 0.5),
    "Liên": (4, 3, 2, 1, 0.5),
    "Cúc": (4, 2, 0.5, 0.2, 0.1),
    "Đào": (3, 2, 1, 0.5, 0.2),
    "Xuân": (3, 2, 1, 1, 0.5),
    "Loan": (3, 4, 3, 2, 1),
    "Hằng": (2, 4, 6, 5, 3),
    "Phượng": (3, 3, 3, 2, 1),
    "Yến": (2, 3, 4, 4, 3),
    "Dung": (3, 4, 4, 3, 2),
    "Bích": (3, 3, 2, 1, 0.5),
    "Thủy": (3, 5, 5, 3, 1),
    "Thúy": (2, 3, 4, 3, 1),
    "Hòa": (2, 2, 1, 1, 0.5),
    "Trang": (0.5, 2, 6, 8, 5),
    "Thảo": (0.5, 1, 4, 7, 6),
    "Linh": (0.5, 1, 4, 7, 8),
    "Anh": (0.5, 1, 3, 6, 8),
    "Phương": (1, 2, 4, 6, 5),
    "Ngọc": (1, 2, 3, 4, 5),
    "Vy": (0.05, 0.1, 1, 4, 7),
    "Nhi": (0.05, 0.1, 1, 4, 7),
    "Hân": (0.05, 0.1, 0.2, 2, 7),
    "My": (0.05, 0.2, 1, 3, 5),
    "Quỳnh": (0.5, 1, 2, 4, 4),
    "Ngân": (0.5, 1, 2, 4, 5),
    "Huyền": (1, 2, 4, 4, 3),
    "Thư": (0.1, 0.5, 2, 4, 6),
    "Giang": (1, 2, 3, 3, 3),
    "Uyên": (0.1, 0.5, 2, 3, 5),
    "Chi": (0.5, 1, 2, 3, 5),
    "An": (0.5, 0.5, 1, 3, 7),
    "Nhung": (2, 3, 4, 3, 1),
    "Oanh": (2, 3, 3, 2, 1),
    "Vân": (3, 3, 3, 2, 2),
    "Trâm": (0.1, 0.5, 2, 3, 4),
    "Quý": (0.3, 0.3, 0.3, 0.3, 0.3),
    "Khuê": (0.1, 0.2, 0.5, 1, 2),
    "Đan": (0.2, 0.5, 1, 2, 2),
}

# Share of names with two middle names (4 words) and with none (2 words), by cohort.
# Real given names are more concentrated than the catalogue's relative weights: raised to this power, a few
# dozen names per sex cover most people, and name + birth-date collisions come at the rate they do.
GIVEN_CONCENTRATION = 1.6
GIVEN_MALE = {name: tuple(w**GIVEN_CONCENTRATION for w in weights) for name, weights in GIVEN_MALE.items()}
GIVEN_FEMALE = {
    name: tuple(w**GIVEN_CONCENTRATION for w in weights) for name, weights in GIVEN_FEMALE.items()
}

TWO_MIDDLE_SHARE = {"F": (0.02, 0.05, 0.12, 0.35, 0.45), "M": (0.01, 0.02, 0.05, 0.12, 0.2)}
NO_MIDDLE_SHARE = (0.03, 0.02, 0.01, 0.01, 0.01)

# Ethnic-minority naming schemes, with the provinces (GSO codes) where they are common and the
# share of households there that use them.
MINORITY_SHARE_BY_PROVINCE: dict[str, tuple[str, float]] = {
    "02": ("hmong", 0.3),
    "10": ("hmong", 0.25),
    "11": ("hmong", 0.35),
    "12": ("hmong", 0.35),
    "14": ("hmong", 0.15),
    "15": ("hmong", 0.1),
    "62": ("ede", 0.2),
    "64": ("ede", 0.2),
    "66": ("ede", 0.2),
    "67": ("ede", 0.15),
    "84": ("khmer", 0.3),
    "89": ("khmer", 0.08),
    "91": ("khmer", 0.12),
    "94": ("khmer", 0.3),
    "95": ("khmer", 0.08),
}

# Hmong: surname + A (men) / Thị or Mí (women) + given. Ê Đê: Y (men) or H'<given> (women),
# family name last. Khmer: surname + (Thị) + one- or two-syllable given name.
HMONG_SURNAMES = ("Giàng", "Sùng", "Vàng", "Thào", "Lý", "Hầu", "Mùa", "Lù")
HMONG_MIDDLE = {"M": ("A", "Seo", "Chẩn"), "F": ("Thị", "Mí")}
HMONG_GIVEN = ("Páo", "Chứ", "Dìn", "Sử", "Lử", "Chớ", "Sình", "Mỷ", "Dua", "Say", "Pàng", "Dế", "Chư", "Tủa")
EDE_SURNAMES = ("Niê", "Êban", "Mlô", "Ayun", "Ksor", "Kbuôr", "Byă", "Adrơng", "Hwing", "Siu")
EDE_GIVEN = ("Bhin", "Ngông", "Moan", "Blin", "Hen", "Lan", "Thu", "Nguôn", "Jôn", "Ly", "Phi", "Drim", "Kim")
KHMER_SURNAMES = ("Thạch", "Danh", "Sơn", "Kim", "Lâm", "Chau", "Lý")
KHMER_GIVEN = (
    "Sô Phal",
    "Sà Rươne",
    "Sa Ry",
    "Pha Ly",
    "Chanh Đa",
    "Ny",
    "Sóc",
    "Mala",
    "Ren",
    "Sa Quy",
    "Thươne",
)

FOREIGN_NAMES = {
    "M": (
        "Kim Min Jun",
        "Park Ji Hoon",
        "Lee Seung Woo",
        "Wang Wei",
        "Zhang Hao",
        "Chen Jie",
        "Tanaka Hiroshi",
        "Suzuki Kenji",
        "John Smith",
        "Michael Brown",
        "David Nguyen",
        "Peter Tran",
        "Somchai Srisuk",
        "Ivan Petrov",
    ),
    "F": (
        "Liu Ha Eun",
        "Kim Ji Eun",
        "Park Seo Yeon",
        "Li Na",
        "Zhang Li",
        "Sato Yuki",
        "Anna Mueller",
        "Emily Johnson",
        "Sophie Martin",
        "Linda Pham",
        "Nattaya Boonmee",
        "Olga Ivanova",
    ),
}

TITLES = {"elder_female": "Bà", "elder_male": "Ông", "child": "Cháu", "infant": "Bé"}

TONE_MARKS = {"\u0300": "f", "\u0301": "s", "\u0309": "r", "\u0303": "x", "\u0323": "j"}
VNI_TONE_KEYS = {"\u0300": "2", "\u0301": "1", "\u0309": "3", "\u0303": "4", "\u0323": "5"}
VOWEL_MARK_TELEX = {"\u0302": "double", "\u0306": "w", "\u031b": "w"}
VOWEL_MARK_VNI = {"\u0302": "6", "\u031b": "7", "\u0306": "8"}

# Old-style tone placement (registry spelling) -> new style ("kiểu mới"): Hòa -> Hoà, Thủy -> Thuỷ.
# "Quý" -> "Qúy" is the common look-alike slip where the tone jumps onto the u of "qu".
_NEW_TONE_STYLE = {
    "òa": "oà",
    "óa": "oá",
    "ỏa": "oả",
    "õa": "oã",
    "ọa": "oạ",
    "òe": "oè",
    "óe": "oé",
    "ỏe": "oẻ",
    "õe": "oẽ",
    "ọe": "oẹ",
    "ùy": "uỳ",
    "úy": "uý",
    "ủy": "uỷ",
    "ũy": "uỹ",
    "ụy": "uỵ",
}


def cohort_index(birth_year: np.ndarray) -> np.ndarray:
    """0..4: the cohort column of each birth year."""
    return np.searchsorted(np.asarray(COHORT_EDGES), birth_year, side="right")


def new_tone_style(word: str) -> str:
    """The "new" placement of a word-final oa/oe/uy tone; other words come back unchanged."""
    if word.lower().startswith("qu") and len(word) == 3 and word[2] in "ýỳỷỹỵ":
        tone = unicodedata.normalize("NFD", word[2])[1:]
        return word[0] + unicodedata.normalize("NFC", word[1] + tone) + "y"
    for old, new in _NEW_TONE_STYLE.items():
        if word.endswith(old):
            return word[: -len(old)] + new
    return word


def telex_keys(word: str) -> str:
    """How the word is typed in Telex when the IME is off: Nguyễn -> Nguyeenx, Đức -> DDuwcs."""
    out: list[str] = []
    tone = ""
    for char in unicodedata.normalize("NFD", word):
        if char in TONE_MARKS:
            tone = TONE_MARKS[char]
        elif char in VOWEL_MARK_TELEX:
            mark = VOWEL_MARK_TELEX[char]
            out.append(out[-1].lower() if mark == "double" else mark)
        elif char in "đĐ":
            out.append("dd" if char == "đ" else "DD")
        else:
            out.append(char)
    return "".join(out) + tone


def vni_keys(word: str) -> str:
    """How the word is typed in VNI when the IME is off: Nguyễn -> Nguye64n, Đức -> D9u71c."""
    out: list[str] = []
    for char in unicodedata.normalize("NFD", word):
        if char in VNI_TONE_KEYS:
            out.append(VNI_TONE_KEYS[char])
        elif char in VOWEL_MARK_VNI:
            out.append(VOWEL_MARK_VNI[char])
        elif char in "đĐ":
            out.append("d9" if char == "đ" else "D9")
        else:
            out.append(char)
    return "".join(out)


def swap_tone(word: str) -> str:
    """A slip of the tone key: the word's tone replaced by the next one (Hàng -> Háng), or one added."""
    order = ["\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
    decomposed = unicodedata.normalize("NFD", word)
    for position, char in enumerate(decomposed):
        if char in order:
            swapped = order[(order.index(char) + 1) % len(order)]
            return unicodedata.normalize("NFC", decomposed[:position] + swapped + decomposed[position + 1 :])
    vowels = [i for i, c in enumerate(decomposed) if c.lower() in "aeiouy"]
    if not vowels:
        return word
    at = vowels[-1] + 1
    return unicodedata.normalize("NFC", decomposed[:at] + "\u0301" + decomposed[at:])


@dataclass(frozen=True)
class NameVocabulary:
    """Every name word, indexed; each spelling variant is an array aligned with `words`."""

    words: tuple[str, ...]

    @property
    def index(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def variant(self, kind: str) -> list[str]:
        """One spelling of every word: base | new_tone | lookalike | telex | vni | tone_slip."""
        transform = {
            "base": lambda w: w,
            "new_tone": new_tone_style,
            "lookalike": lambda w: w.replace("Đ", "\u00d0"),
            "telex": telex_keys,
            "vni": vni_keys,
            "tone_slip": swap_tone,
        }[kind]
        return [transform(word) for word in self.words]


WORD_VARIANTS = ("base", "new_tone", "lookalike", "telex", "vni", "tone_slip")


@cache
def vocabulary() -> NameVocabulary:
    """All words of all catalogues, in a fixed order (index 0 is unused, so 0 can mean "no word")."""
    words: list[str] = [""]
    catalogues: list[tuple[str, ...] | list[str]] = [
        list(SURNAMES),
        list(MIDDLE_MALE),
        list(MIDDLE_FEMALE),
        list(GIVEN_MALE),
        list(GIVEN_FEMALE),
        HMONG_SURNAMES,
        *HMONG_MIDDLE.values(),
        HMONG_GIVEN,
        EDE_SURNAMES,
        EDE_GIVEN,
        tuple(f"H'{given}" for given in EDE_GIVEN),
        ("Y",),
        KHMER_SURNAMES,
        tuple(part for given in KHMER_GIVEN for part in given.split()),
        tuple(part for names in FOREIGN_NAMES.values() for name in names for part in name.split()),
    ]
    for catalogue in catalogues:
        for word in catalogue:
            if word not in words:
                words.append(word)
    return NameVocabulary(tuple(words))


def weights_matrix(catalogue: Mapping[str, tuple[float, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """(vocabulary indices, probability matrix words x columns) for a weighted catalogue."""
    index = vocabulary().index
    ids = np.array([index[word] for word in catalogue], dtype=np.int32)
    weights = np.array(list(catalogue.values()), dtype=np.float64)
    return ids, weights / weights.sum(axis=0, keepdims=True)
