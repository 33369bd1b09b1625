"""An independent landing at scale: a registry and a season of facility exports, with ground truth.

Written from the domain fact sheet and the shape of the shared samples only; it shares no code with
``synth/`` or ``tests/fixtures/independent_landing/``, so that the pipeline is scored on errors its own
generator never taught it. It models what clerks do to a row (docs/matching.md, "Independent landing at
scale (session 7)" lists every defect and its rate), and households, twins and namesakes that make a
wrong posting possible.

    python benchmarks/independent/generate.py --out /tmp/ind7 --seed 7             # the tuning seed
    python benchmarks/independent/generate.py --out /tmp/ind8 --seed 8 --profile heldout

Writes ``registry.parquet`` (the registry schema of docs/data-contract.md), ``landing/`` (CSV UTF-8,
UTF-8 with BOM and semicolons, UTF-16 tab text, XLSX) and ``truth.parquet`` (one row per data row:
source_file, source_row, true_citizen_id or null, true vaccine and date, dup_group, expected, defects).
The ``heldout`` profile draws every defect rate between half and one and a half times the tuning rate,
from the seed, so its rates are not the ones the fixes were studied on.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"
CAMPAIGN_START = dt.date(2021, 3, 8)
SEASON_END = dt.date(2022, 12, 31)

# Per-row defect rates of the tuning profile (shares of rows, or of eligible rows where noted).
TUNING_RATES: dict[str, float] = {
    "file_no_diacritics": 0.30,  # share of files typed without marks throughout
    "no_diacritics": 0.06,  # rows without marks in a file that has them
    "upper_case": 0.08,
    "given_first": 0.02,  # "Lan Nguyễn Thị"
    "drop_middle": 0.03,
    "nickname": 0.01,  # a child's home name for the given name
    "name_typo": 0.03,  # one letter dropped, doubled or replaced
    "old_tone_mark": 0.05,  # Hoà for Hòa, Thuỷ for Thủy
    "dob_day_month_swap": 0.02,
    "dob_year_off": 0.015,
    "dob_day_typo": 0.01,
    "dob_year_only": 0.02,
    "id_missing": 0.15,
    "id_cmnd": 0.10,  # of people who have a 9-digit CMND
    "id_family": 0.04,  # of children's rows: a parent's CCCD
    "id_spouse": 0.005,
    "id_transposed": 0.015,
    "id_digit_typo": 0.01,
    "id_leading_zero_lost": 0.03,
    "sex_missing": 0.05,
    "sex_wrong": 0.003,
    "phone_household": 0.10,
    "phone_missing": 0.35,
    "address_missing": 0.20,
    "address_2025": 0.08,  # the province and commune as renamed by the 2025 merger
    "absent": 0.03,  # of vaccinated people: not in the registry
    "absent_namesake": 0.5,  # of absent people: a registered namesake (name, birth year, district)
    "absent_same_dob": 0.3,  # of namesakes: the very same birth date too
    "absent_own_cccd": 0.5,  # of absent people: their own CCCD, which the registry lacks
    "twins": 0.02,  # of households with children
    "duplicate": 0.025,  # rows submitted again in a later file of the facility
    "resent_files": 0.02,  # share of files sent again, corrected
    "month_first_files": 0.04,  # an en-US office round trip: mm/dd/yyyy
}

SURNAMES = [
    ("Nguyễn", 30),
    ("Trần", 11),
    ("Lê", 9.5),
    ("Phạm", 7),
    ("Hoàng", 3),
    ("Huỳnh", 2.5),
    ("Phan", 4.5),
    ("Vũ", 2),
    ("Võ", 2),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1),
    ("Lý", 0.5),
    ("Đinh", 0.8),
    ("Trương", 0.8),
    ("Lâm", 0.5),
    ("Mai", 0.5),
    ("Tô", 0.3),
    ("Thạch", 0.2),
    ("Danh", 0.2),
    ("Quách", 0.2),
    ("Cao", 0.4),
    ("Lưu", 0.4),
    ("Hà", 0.5),
    ("Tạ", 0.3),
    ("Đoàn", 0.6),
]
MALE_MIDDLE_OLD = [("Văn", 60), ("Hữu", 8), ("Đức", 8), ("Minh", 6), ("Quang", 6), ("Công", 5), ("Xuân", 4)]
MALE_MIDDLE_YOUNG = [
    ("Minh", 15),
    ("Đức", 12),
    ("Quốc", 10),
    ("Gia", 10),
    ("Hoàng", 8),
    ("Thanh", 6),
    ("Văn", 3),
    ("Anh", 6),
    ("Hữu", 5),
    ("Bảo", 8),
    ("Nhật", 6),
]
FEMALE_MIDDLE_OLD = [("Thị", 70), ("Ngọc", 8), ("Thu", 6), ("Thanh", 6), ("Kim", 5), ("Hồng", 5)]
FEMALE_MIDDLE_YOUNG = [
    ("Thị", 17),
    ("Ngọc", 17),
    ("Phương", 8),
    ("Thu", 8),
    ("Khánh", 8),
    ("Bảo", 8),
    ("Minh", 8),
    ("Thùy", 6),
    ("Hà", 5),
    ("Gia", 5),
    ("Mai", 5),
]
MALE_GIVEN = [
    "Tuấn",
    "Hoàng",
    "Huy",
    "Anh",
    "Hiếu",
    "Hùng",
    "Nam",
    "Dũng",
    "Minh",
    "Long",
    "Sơn",
    "Thắng",
    "Hải",
    "Phúc",
    "Lộc",
    "Khang",
    "Bảo",
    "Đạt",
    "Khoa",
    "Quân",
    "Trung",
    "Thành",
    "Tài",
    "Tâm",
    "Cường",
    "Hòa",
    "Phong",
    "Vinh",
    "Toàn",
    "Lâm",
    "Duy",
    "Kiên",
    "Thịnh",
    "Hưng",
    "Quý",
    "Thủy",
    "Nhân",
    "Nghĩa",
    "Tú",
    "Vũ",
]
FEMALE_GIVEN = [
    "Trang",
    "Thảo",
    "Linh",
    "Anh",
    "Phương",
    "Hằng",
    "Lan",
    "Hương",
    "Hoa",
    "Mai",
    "Ngọc",
    "Nhung",
    "Hà",
    "Thủy",
    "Yến",
    "Vy",
    "Nhi",
    "Hạnh",
    "Loan",
    "Dung",
    "Hiền",
    "Huyền",
    "Oanh",
    "Quyên",
    "Tuyết",
    "Uyên",
    "Vân",
    "Xuân",
    "Hòa",
    "Trâm",
    "My",
    "Ngân",
    "Thư",
    "Diệp",
    "Châu",
    "Giang",
    "Khánh",
    "Liên",
    "Nga",
    "Quỳnh",
]
NICKNAMES = ["Bé", "Tí", "Tèo", "Cu", "Bin", "Su", "Bông", "Na", "Mít", "Bi"]
OLD_TONE = {
    "òa": "oà",
    "óa": "oá",
    "ỏa": "oả",
    "õa": "oã",
    "ọa": "oạ",
    "ủy": "uỷ",
    "úy": "uý",
    "ùy": "uỳ",
    "ũy": "uỹ",
    "ụy": "uỵ",
    "òe": "oè",
    "óe": "oé",
}
VACCINE_TEXT = {
    "ASTRAZENECA": ["AstraZeneca", "Astra", "AZ", "Vaxzevria", "Covishield", "Astra Zeneca"],
    "PFIZER": ["Pfizer", "Comirnaty", "Phizer", "Pfizer-BioNTech", "Comirnaty (Pfizer BioNtech)"],
    "MODERNA": ["Moderna", "Spikevax", "Modena"],
    "VERO_CELL": ["Vero Cell", "Verocell", "Sinopharm", "Vero-cell (Sinopharm)"],
    "SPUTNIK_V": ["Sputnik V", "Sputnik-V"],
    "ABDALA": ["Abdala", "Vaccine Abdala (AICA-Cuba)"],
    "HAYAT_VAX": ["Hayat-Vax", "Hayat Vax"],
}
TEMPLATES = {
    "vn": [
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
    ],
    "vn_split": [
        "TT",
        "Họ tên đối tượng",
        "Ngày tháng năm sinh",
        "Giới",
        "Số định danh",
        "SĐT",
        "Tỉnh",
        "Huyện",
        "Xã",
        "Loại vắc xin",
        "Lô vắc xin",
        "Mũi số",
        "Ngày tiêm chủng",
    ],
    "en": [
        "No.",
        "Full name",
        "Date of birth",
        "Sex",
        "ID number",
        "Phone",
        "Address",
        "Vaccine",
        "Lot",
        "Dose",
        "Vaccination date",
        "Facility",
    ],
}
CMND_PREFIX = {
    "01": "01",
    "79": "02",
    "31": "03",
    "74": "28",
    "64": "23",
    "75": "27",
    "48": "20",
    "38": "17",
    "40": "18",
    "92": "36",
}


@dataclass
class Citizen:
    cid: str
    legacy: str | None
    name: tuple[str, str, str]  # surname, middle (may be ""), given
    dob: dt.date
    dob_known: bool
    sex: str
    phone: str | None
    ward: dict[str, str]
    death: dt.date | None = None
    household: int = 0
    parents: list[int] = field(default_factory=list)
    spouse: int | None = None
    in_registry: bool = True
    kind: str = "registered"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in self.name if p)


def weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([p for p, _ in pairs], [w for _, w in pairs])[0]


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Builder:
    def __init__(self, seed: int, rates: dict[str, float]) -> None:
        self.rng = random.Random(seed)
        self.rates = rates
        self.citizens: list[Citizen] = []
        self.used_ids: set[str] = set()
        units = pl.read_parquet(REFERENCE / "admin_units_2021.parquet")
        provinces = sorted(units["province_code"].unique().to_list())
        chosen = self.rng.sample(provinces, 14)
        self.wards: dict[str, list[dict[str, str]]] = {}
        for prov in chosen:
            districts = sorted(units.filter(pl.col("province_code") == prov)["district_code"].unique())
            for d in self.rng.sample(districts, min(4, len(districts))):
                self.wards[d] = units.filter(pl.col("district_code") == d).to_dicts()
        new_names = pl.read_csv(
            REFERENCE / "province_2025_map.csv", schema_overrides={"province_code": pl.String}
        )
        self.province_2025 = dict(
            zip(new_names["province_code"], new_names["province_name_2025"], strict=True)
        )

    def chance(self, rate: str) -> bool:
        return self.rng.random() < self.rates[rate]

    # registry ---------------------------------------------------------------------------------------
    def new_id(self, prov: str, sex: str, year: int) -> str:
        century = (year // 100) - 19
        while True:
            cid = f"0{prov}{2 * century + (0 if sex == 'M' else 1)}{year % 100:02d}{self.rng.randrange(10**6):06d}"
            if cid not in self.used_ids:
                self.used_ids.add(cid)
                return cid

    def new_legacy(self, prov: str) -> str:
        prefix = CMND_PREFIX.get(prov, prov[:2])
        while True:
            value = prefix + f"{self.rng.randrange(10 ** (9 - len(prefix))):0{9 - len(prefix)}d}"
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def name_for(self, surname: str, sex: str, year: int) -> tuple[str, str, str]:
        young = year >= 1990
        if sex == "M":
            middle = weighted(self.rng, MALE_MIDDLE_YOUNG if young else MALE_MIDDLE_OLD)
            given = self.rng.choice(MALE_GIVEN)
        else:
            middle = weighted(self.rng, FEMALE_MIDDLE_YOUNG if young else FEMALE_MIDDLE_OLD)
            given = self.rng.choice(FEMALE_GIVEN)
        if self.rng.random() < 0.35:  # a second middle name (four words)
            middle = f"{middle} {self.rng.choice(['Thanh', 'Ngọc', 'Minh', 'Hoài', 'Như', 'Bảo'])}"
        if middle.split()[-1] == given:
            given = self.rng.choice(MALE_GIVEN if sex == "M" else FEMALE_GIVEN)
        return surname, middle, given

    def person(self, surname: str, sex: str, year: int, ward: dict[str, str], household: int) -> Citizen:
        dob = dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))
        birth_province = (
            ward["province_code"] if self.rng.random() < 0.85 else self.rng.choice(list(CMND_PREFIX))
        )
        legacy = self.new_legacy(birth_province) if year < 2001 and self.rng.random() < 0.55 else None
        phone = None
        if year < 2006 and self.rng.random() < 0.7:
            phone = "0" + self.rng.choice(["3", "9", "8", "7"]) + f"{self.rng.randrange(10**8):08d}"
        death = None
        if year < 1955 and self.rng.random() < 0.04:
            death = dt.date(2021, 1, 1) + dt.timedelta(days=self.rng.randrange(700))
        return Citizen(
            cid=self.new_id(birth_province, sex, year),
            legacy=legacy,
            name=self.name_for(surname, sex, year),
            dob=dob,
            dob_known=not (year < 1950 and self.rng.random() < 0.08),
            sex=sex,
            phone=phone,
            ward=ward,
            death=death,
            household=household,
        )

    def build_registry(self, target: int) -> None:
        household = 0
        districts = list(self.wards)
        while len(self.citizens) < target:
            household += 1
            ward = self.rng.choice(self.wards[self.rng.choice(districts)])
            surname = weighted(self.rng, SURNAMES)
            head_year = self.rng.randint(1938, 1998)
            members: list[int] = []
            if self.rng.random() < 0.15:  # a grandparent living with the family
                members.append(
                    self.add(
                        self.person(
                            surname,
                            self.rng.choice("MF"),
                            head_year - self.rng.randint(22, 35),
                            ward,
                            household,
                        )
                    )
                )
            head = self.add(self.person(surname, "M", head_year, ward, household))
            spouse_year = min(2004, head_year + self.rng.randint(-3, 6))
            spouse = self.add(self.person(weighted(self.rng, SURNAMES), "F", spouse_year, ward, household))
            self.citizens[head].spouse, self.citizens[spouse].spouse = spouse, head
            members += [head, spouse]
            first_child = max(head_year, spouse_year) + self.rng.randint(20, 32)
            n_children = self.rng.choice([0, 1, 1, 2, 2, 2, 3])
            twins = n_children and self.chance("twins")
            for k in range(n_children):
                year = first_child + 3 * k
                if year > 2018:
                    break
                child = self.person(surname, self.rng.choice("MF"), year, ward, household)
                child.parents = [head, spouse]
                members.append(self.add(child))
                if twins and k == 0:
                    twin = self.person(surname, self.rng.choice("MF"), year, ward, household)
                    twin.dob, twin.parents = child.dob, [head, spouse]
                    twin.name = (
                        surname,
                        child.name[1] if twin.sex == child.sex else twin.name[1],
                        twin.name[2],
                    )
                    if twin.name == child.name:
                        twin.name = (surname, twin.name[1], "Song" if twin.sex == "M" else "Đào")
                    twin.kind = child.kind = "twin"
                    members.append(self.add(twin))

    def add(self, person: Citizen) -> int:
        self.citizens.append(person)
        return len(self.citizens) - 1

    def registry_frame(self) -> pl.DataFrame:
        rows = [c for c in self.citizens if c.in_registry]
        return pl.DataFrame(
            {
                "citizen_id": [c.cid for c in rows],
                "legacy_id": [c.legacy for c in rows],
                "full_name": [c.full_name for c in rows],
                "date_of_birth": [c.dob if c.dob_known else None for c in rows],
                "birth_year": [c.dob.year for c in rows],
                "sex": [c.sex for c in rows],
                "phone": [c.phone for c in rows],
                "province_code": [c.ward["province_code"] for c in rows],
                "district_code": [c.ward["district_code"] for c in rows],
                "ward_code": [c.ward["ward_code"] for c in rows],
                "date_of_death": [c.death for c in rows],
            },
            schema={
                "citizen_id": pl.String,
                "legacy_id": pl.String,
                "full_name": pl.String,
                "date_of_birth": pl.Date,
                "birth_year": pl.Int32,
                "sex": pl.String,
                "phone": pl.String,
                "province_code": pl.String,
                "district_code": pl.String,
                "ward_code": pl.String,
                "date_of_death": pl.Date,
            },
        )

    # people absent from the registry -----------------------------------------------------------------
    def absent_people(self, count: int) -> list[int]:
        out = []
        registered = [i for i, c in enumerate(self.citizens) if c.dob.year <= 2016]
        for _ in range(count):
            if self.chance("absent_namesake"):
                twin_of = self.citizens[self.rng.choice(registered)]
                ward = self.rng.choice(self.wards[twin_of.ward["district_code"]])
                person = self.person(twin_of.name[0], twin_of.sex, twin_of.dob.year, ward, -1)
                person.name = twin_of.name
                person.kind = "absent_namesake"
                if self.chance("absent_same_dob"):
                    person.dob, person.kind = twin_of.dob, "absent_namesake_same_dob"
            else:
                ward = self.rng.choice(self.wards[self.rng.choice(list(self.wards))])
                person = self.person(
                    weighted(self.rng, SURNAMES),
                    self.rng.choice("MF"),
                    self.rng.randint(1940, 2012),
                    ward,
                    -1,
                )
                person.kind = "absent"
            person.in_registry, person.legacy, person.dob_known = False, None, True
            out.append(self.add(person))
        return out

    # doses --------------------------------------------------------------------------------------------
    def doses_of(self, person: Citizen) -> list[tuple[str, dt.date]]:
        year = person.dob.year
        if year >= 2010:  # 5-11: from April 2022, Pfizer or Moderna, both doses the same
            vaccine, start = self.rng.choice(["PFIZER", "PFIZER", "MODERNA"]), dt.date(2022, 4, 15)
        elif year >= 2004:  # 12-17 from October 2021
            vaccine, start = "PFIZER", dt.date(2021, 10, 20)
        else:
            vaccine = weighted(
                self.rng,
                [
                    ("ASTRAZENECA", 35),
                    ("VERO_CELL", 30),
                    ("PFIZER", 18),
                    ("MODERNA", 10),
                    ("SPUTNIK_V", 2),
                    ("ABDALA", 3),
                    ("HAYAT_VAX", 2),
                ],
            )
            start = {
                "ASTRAZENECA": CAMPAIGN_START,
                "SPUTNIK_V": dt.date(2021, 4, 1),
                "ABDALA": dt.date(2021, 9, 20),
                "HAYAT_VAX": dt.date(2021, 9, 15),
            }.get(vaccine, dt.date(2021, 7, 15))
        first = start + dt.timedelta(days=self.rng.randrange(150))
        gap = {"ASTRAZENECA": self.rng.randint(56, 84), "ABDALA": 14, "MODERNA": 28}.get(
            vaccine, self.rng.randint(21, 30)
        )
        doses = [(vaccine, first), (vaccine, first + dt.timedelta(days=gap))]
        if vaccine == "ABDALA":
            doses.append((vaccine, first + dt.timedelta(days=28)))
        if self.rng.random() < 0.5 and year < 2010:
            doses.append(
                (
                    self.rng.choice(["PFIZER", "MODERNA", "ASTRAZENECA"]),
                    doses[-1][1] + dt.timedelta(days=self.rng.randint(120, 200)),
                )
            )
        kept = [d for d in doses if d[1] <= SEASON_END and (person.death is None or d[1] < person.death)]
        return kept[: self.rng.choice([1, 2, 2, 3, 3, 3])] if kept else []


def shift_tone(word: str) -> str:
    for new, old in OLD_TONE.items():
        word = word.replace(new, old)
    return word


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word))
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def format_date(day: dt.date, style: str) -> str:
    return {
        "dmy": f"{day.day:02d}/{day.month:02d}/{day.year}",
        "dmy_short": f"{day.day}/{day.month}/{day.year}",
        "iso": day.isoformat(),
        "mdy": f"{day.month:02d}/{day.day:02d}/{day.year}",
    }[style]


@dataclass
class Row:
    person: int
    vaccine: str
    date: dt.date
    dose: int
    facility: str
    dup_group: int
    lot: str
    cells: dict[str, str] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)


class Landing:
    def __init__(self, builder: Builder, out: Path) -> None:
        self.b, self.rng, self.out = builder, builder.rng, out
        self.truth: list[dict[str, object]] = []

    def name_text(self, person: Citizen, row: Row, plain_file: bool) -> str:
        surname, middle, given = person.name
        if self.b.chance("nickname") and person.dob.year >= 2004:
            given = self.rng.choice(NICKNAMES)
            row.defects.append("nickname")
        if middle and self.b.chance("drop_middle"):
            middle = ""
            row.defects.append("drop_middle")
        words = [w for w in (surname, *middle.split(), given) if w]
        if self.b.chance("name_typo"):
            k = self.rng.randrange(len(words))
            words[k] = typo(self.rng, words[k])
            row.defects.append("name_typo")
        if self.b.chance("given_first"):
            words = [words[-1], *words[:-1]]
            row.defects.append("given_first")
        text = " ".join(words)
        if self.b.chance("old_tone_mark"):
            text = shift_tone(text)
        if plain_file or self.b.chance("no_diacritics"):
            text = fold(text)
            row.defects.append("no_diacritics")
        if self.b.chance("upper_case"):
            text = text.upper()
        return text

    def birth_text(self, person: Citizen, row: Row, style: str) -> str:
        dob = person.dob
        if not person.dob_known or self.b.chance("dob_year_only"):
            return str(dob.year)
        if self.b.chance("dob_day_month_swap") and dob.day <= 12 and dob.day != dob.month:
            dob = dob.replace(day=dob.month, month=dob.day)
            row.defects.append("dob_day_month_swap")
        elif self.b.chance("dob_year_off"):
            dob = dob.replace(year=dob.year + self.rng.choice([-1, 1]), day=min(dob.day, 28))
            row.defects.append("dob_year_off")
        elif self.b.chance("dob_day_typo"):
            dob = dob.replace(day=self.rng.choice([d for d in range(1, 29) if d != dob.day]))
            row.defects.append("dob_day_typo")
        return format_date(dob, style)

    def id_text(self, person: Citizen, row: Row) -> str:
        citizens = self.b.citizens
        if self.b.chance("id_missing") or (not person.in_registry and not self.b.chance("absent_own_cccd")):
            row.defects.append("id_missing")
            return ""
        if person.parents and person.dob.year >= 2004 and self.b.chance("id_family"):
            row.defects.append("id_parent")
            return citizens[self.rng.choice(person.parents)].cid
        if person.spouse is not None and self.b.chance("id_spouse"):
            row.defects.append("id_spouse")
            return citizens[person.spouse].cid
        if person.legacy and self.b.chance("id_cmnd"):
            row.defects.append("id_cmnd")
            return person.legacy
        cid = person.cid
        if self.b.chance("id_transposed"):
            i = self.rng.randrange(6, 11)
            if cid[i] != cid[i + 1]:
                cid = cid[:i] + cid[i + 1] + cid[i] + cid[i + 2 :]
                row.defects.append("id_transposed")
        elif self.b.chance("id_digit_typo"):
            i = self.rng.randrange(6, 12)
            cid = cid[:i] + str((int(cid[i]) + self.rng.randint(1, 9)) % 10) + cid[i + 1 :]
            row.defects.append("id_digit_typo")
        if self.b.chance("id_leading_zero_lost"):
            cid = cid.lstrip("0")
            row.defects.append("id_leading_zero_lost")
        return cid

    def phone_text(self, person: Citizen, row: Row) -> str:
        if self.b.chance("phone_household"):
            mates = [c for c in self.household_of(person) if c.phone]
            if mates:
                row.defects.append("phone_household")
                return self.rng.choice(mates).phone or ""
        if self.b.chance("phone_missing") or not person.phone:
            return ""
        return person.phone

    def household_of(self, person: Citizen) -> list[Citizen]:
        ids = [*person.parents, *([person.spouse] if person.spouse is not None else [])]
        return [self.b.citizens[i] for i in ids]

    def address(self, person: Citizen, row: Row) -> tuple[str, str, str]:
        ward = person.ward
        if self.b.chance("address_missing"):
            return "", "", ""
        if self.b.chance("address_2025"):
            row.defects.append("address_2025")
            new_province = self.b.province_2025.get(ward["province_code"], ward["province_name"])
            return f"Tỉnh {new_province}", "", ward["ward_name"]
        return ward["province_name"], ward["district_name"], ward["ward_name"]

    def render(self, row: Row, template: str, style: str, plain: bool) -> dict[str, str]:
        person = self.b.citizens[row.person]
        row.defects = []
        province, district, ward = self.address(person, row)
        sex = "" if self.b.chance("sex_missing") else {"M": "Nam", "F": "Nữ"}[person.sex]
        if sex and self.b.chance("sex_wrong"):
            sex = "Nữ" if sex == "Nam" else "Nam"
            row.defects.append("sex_wrong")
        if template == "en" and sex:
            sex = {"Nam": "Male", "Nữ": "Female"}[sex]
        street = f"{self.rng.randint(1, 300)} {self.rng.choice(['Lê Lợi', 'Trần Hưng Đạo', 'Hùng Vương', 'Nguyễn Trãi'])}"
        address = ", ".join(p for p in (street if province else "", ward, district, province) if p)
        values = [
            self.name_text(person, row, plain),
            self.birth_text(person, row, style),
            sex,
            self.id_text(person, row),
            self.phone_text(person, row),
        ]
        vaccine = self.rng.choice(VACCINE_TEXT[row.vaccine])
        dose = str(row.dose) if template != "vn" else f"Mũi {row.dose}"
        when = format_date(row.date, style)
        if template == "vn_split":
            return dict(
                zip(
                    TEMPLATES[template][1:],
                    [*values, province, district, ward, vaccine, row.lot, dose, when],
                    strict=True,
                )
            )
        return dict(
            zip(
                TEMPLATES[template][1:],
                [*values, address, vaccine, row.lot, dose, when, row.facility],
                strict=True,
            )
        )

    def write(self, rows_per_file: int, target_files: int) -> None:
        b = self.b
        vaccinated = [
            i
            for i, c in enumerate(b.citizens)
            if c.dob.year <= 2016 and (c.death is None or c.death > dt.date(2021, 6, 1))
        ]
        b.rng.shuffle(vaccinated)
        people = vaccinated[: int(rows_per_file * target_files / 2.1)]
        n_absent = int(len(people) * b.rates["absent"])
        people = people[: len(people) - n_absent] + b.absent_people(n_absent)
        by_facility: dict[str, list[Row]] = {}
        group = 0
        for p in people:
            person = b.citizens[p]
            district = person.ward["district_code"]
            if b.rng.random() < 0.07:  # vaccinated away from home (work, temporary residence)
                district = b.rng.choice(list(b.wards))
            facility = (
                f"{b.wards[district][0]['province_code']}{district}{b.rng.choice(['001', '001', '002'])}"
            )
            for k, (vaccine, day) in enumerate(b.doses_of(person), start=1):
                group += 1
                lot = f"{vaccine[:2]}{b.rng.randrange(1000, 9999)}"
                by_facility.setdefault(facility, []).append(Row(p, vaccine, day, k, facility, group, lot))
        files: list[tuple[str, list[Row]]] = []
        for facility, rows in sorted(by_facility.items()):
            rows.sort(key=lambda r: r.date)
            for start in range(0, len(rows), rows_per_file):
                files.append((facility, rows[start : start + rows_per_file]))
        # duplicate submissions: a row sent again in the facility's next file
        for i, (facility, rows) in enumerate(files):
            if i + 1 < len(files) and files[i + 1][0] == facility:
                again = [r for r in rows if b.chance("duplicate")]
                files[i + 1][1].extend(
                    Row(r.person, r.vaccine, r.date, r.dose, r.facility, r.dup_group, r.lot) for r in again
                )
        for number, (facility, rows) in enumerate(files):
            self.write_file(number, facility, rows)

    def write_file(self, number: int, facility: str, rows: list[Row]) -> None:
        b, rng = self.b, self.rng
        template = rng.choice(["vn", "vn", "vn", "vn_split", "en"])
        style = (
            "mdy" if b.chance("month_first_files") else rng.choice(["dmy", "dmy", "dmy", "dmy_short", "iso"])
        )
        plain = b.chance("file_no_diacritics")
        fmt = rng.choice(["csv", "csv", "csv", "csv", "csv_bom_semicolon", "utf16", "xlsx"])
        province = b.wards[facility[2:5]][0]
        folder = f"{facility[:2]}_{fold(province['province_name'].replace('Tỉnh ', '').replace('Thành phố ', '')).replace(' ', '_')}"
        stamp = max(r.date for r in rows).strftime("%Y%m%d")
        ext = {"csv": "csv", "csv_bom_semicolon": "csv", "utf16": "txt", "xlsx": "xlsx"}[fmt]
        name = f"{folder}/{facility}/DS_tiem_{facility}_{stamp}_{number:03d}.{ext}"
        rendered = [self.render(r, template, style, plain) for r in rows]
        defects = [sorted(set(r.defects)) for r in rows]
        self.emit(name, template, fmt, rendered, rows, "post", defects)
        if b.chance("resent_files"):  # sent again, with a few IDs filled in
            fixed = [dict(cells) for cells in rendered]
            id_col = TEMPLATES[template][4]
            fixed_defects = [list(d) for d in defects]
            for cells, row, row_defects in zip(fixed, rows, fixed_defects, strict=True):
                if not cells[id_col] and b.citizens[row.person].in_registry and rng.random() < 0.5:
                    cells[id_col] = b.citizens[row.person].cid
                    row_defects.remove("id_missing")
            self.emit(
                name.replace(f".{ext}", f"_gui_lai.{ext}"),
                template,
                fmt,
                fixed,
                rows,
                "resent",
                fixed_defects,
            )

    def emit(
        self,
        name: str,
        template: str,
        fmt: str,
        rendered: list[dict[str, str]],
        rows: list[Row],
        kind: str,
        defects: list[list[str]],
    ) -> None:
        header = TEMPLATES[template]
        table = [[str(i), *[cells[h] for h in header[1:]]] for i, cells in enumerate(rendered, start=1)]
        path = self.out / "landing" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            pl.DataFrame(table, schema={h: pl.String for h in header}, orient="row").write_excel(path)
        else:
            buffer = io.StringIO()
            writer = csv.writer(
                buffer,
                delimiter={"csv": ",", "csv_bom_semicolon": ";", "utf16": "\t"}[fmt],
                lineterminator="\r\n",
            )
            writer.writerow(header)
            writer.writerows(table)
            encoding = {"csv": "utf-8", "csv_bom_semicolon": "utf-8-sig", "utf16": "utf-16"}[fmt]
            path.write_bytes(buffer.getvalue().encode(encoding))
        seen: set[int] = set()
        for i, (row, row_defects) in enumerate(zip(rows, defects, strict=True), start=1):
            person = self.b.citizens[row.person]
            first = row.dup_group not in seen
            seen.add(row.dup_group)
            self.truth.append(
                {
                    "source_file": name,
                    "source_row": i,
                    "true_citizen_id": person.cid if person.in_registry else None,
                    "true_vaccine": row.vaccine,
                    "true_vaccination_date": row.date,
                    "dup_group": row.dup_group,
                    "kind": kind if first else "duplicate_in_file",
                    "person_kind": person.kind,
                    "defects": row_defects,
                    "file_format": fmt,
                    "template": template,
                }
            )


def profile_rates(profile: str, seed: int) -> dict[str, float]:
    if profile == "tuning":
        return dict(TUNING_RATES)
    draw = random.Random(seed * 7919 + 13)
    return {k: min(0.95, v * draw.uniform(0.5, 1.5)) for k, v in TUNING_RATES.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", choices=["tuning", "heldout"], default="tuning")
    parser.add_argument("--citizens", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rows-per-file", type=int, default=400)
    args = parser.parse_args()
    rates = profile_rates(args.profile, args.seed)
    builder = Builder(args.seed, rates)
    builder.build_registry(args.citizens)
    landing = Landing(builder, args.out)
    landing.write(args.rows_per_file, args.files)
    args.out.mkdir(parents=True, exist_ok=True)
    builder.registry_frame().write_parquet(args.out / "registry.parquet")
    truth = pl.DataFrame(
        landing.truth,
        schema={
            "source_file": pl.String,
            "source_row": pl.Int32,
            "true_citizen_id": pl.String,
            "true_vaccine": pl.String,
            "true_vaccination_date": pl.Date,
            "dup_group": pl.Int64,
            "kind": pl.String,
            "person_kind": pl.String,
            "defects": pl.List(pl.String),
            "file_format": pl.String,
            "template": pl.String,
        },
    )
    truth.write_parquet(args.out / "truth.parquet")
    summary = {
        "seed": args.seed,
        "profile": args.profile,
        "rates": rates,
        "citizens": builder.registry_frame().height,
        "rows": truth.height,
        "files": truth["source_file"].n_unique(),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    print(json.dumps({k: v for k, v in summary.items() if k != "rates"}))


if __name__ == "__main__":
    main()
