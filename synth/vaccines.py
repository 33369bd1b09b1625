"""The vaccines used in Vietnam, their schedules and the free text facilities typed for them.

Facts from the domain sheet §4 (QĐ 3588/QĐ-BYT, Reuters, nhandan, tienphong). The generator keeps its own
catalogue on purpose: ground truth must not come from the normalizer it is used to test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class VaccineSpec:
    code: str
    first_used_on: dt.date  # approval in Vietnam, or the first shot when that was later
    primary_doses: int
    interval_days: tuple[int, int]  # between primary doses: minimum, usual maximum
    age_min: int
    age_max: int
    canonical_text: str  # what a tidy export says; any other variant is "vaccine_text_noise"
    variants: tuple[tuple[str, int], ...]  # free text seen in exports, with relative weights
    lot_patterns: tuple[str, ...]  # see lot_number(): L letter, D digit, M month, Y year


VACCINES: tuple[VaccineSpec, ...] = (
    VaccineSpec(
        "ASTRAZENECA",
        dt.date(2021, 3, 8),
        2,
        (28, 84),
        18,
        120,
        "AstraZeneca",
        (
            ("AstraZeneca", 30),
            ("Astra", 8),
            ("AZ", 6),
            ("ASTRAZENECA", 6),
            ("astrazeneca", 4),
            ("Astra Zeneca", 5),
            ("Vaxzevria", 5),
            ("Covishield", 4),
            ("Astra Zecera", 2),
            ("AstraZeneca (Vaxzevria)", 2),
            ("Covid-19 Vaccine AstraZeneca", 2),
            ("AZD1222", 1),
            ("AstraZeneca ", 1),
        ),
        ("ABV{D4}", "NJ{D4}", "MT{D4}", "A{D4}"),
    ),
    VaccineSpec(
        "SPUTNIK_V",
        dt.date(2021, 3, 23),
        2,
        (21, 30),
        18,
        120,
        "Sputnik V",
        (("Sputnik V", 10), ("Sputnik-V", 4), ("Sputnik", 4), ("SPUTNIK V", 2), ("Gam-COVID-Vac", 1)),
        ("I-{DD}{MM}{YY}", "II-{DD}{MM}{YY}"),
    ),
    VaccineSpec(
        "VERO_CELL",
        dt.date(2021, 6, 3),
        2,
        (21, 35),
        18,
        120,
        "Vero Cell",
        (
            ("Vero Cell", 25),
            ("Verocell", 6),
            ("VERO CELL", 5),
            ("vero cell", 3),
            ("vero-cell", 3),
            ("Vero  Cell", 2),
            ("Sinopharm", 8),
            ("SINOPHARM", 3),
            ("Sinopharm (Vero Cell)", 4),
            ("Vero-cell (của Sinopharm)", 2),
            ("SINOPHARM (VERO CELL)", 2),
            ("BBIBP-CorV", 1),
        ),
        ("{Y4}{MM}A{D4}", "{Y4}{MM}B{D4}", "{Y4}{MM}C{D4}"),
    ),
    VaccineSpec(
        "PFIZER",
        dt.date(2021, 6, 12),
        2,
        (21, 35),
        5,
        120,
        "Pfizer",
        (
            ("Pfizer", 30),
            ("PFIZER", 5),
            ("pfizer", 4),
            ("Phizer", 4),
            ("Pfizer BioNTech", 4),
            ("Pfizer-BioNTech", 4),
            ("Comirnaty", 6),
            ("Pfizer (Comirnaty)", 3),
            ("Comirnaty (Pfizer BioNtech)", 2),
            ("Pfizer ", 1),
            ("Pfizer trẻ em", 1),
        ),
        ("FL{D4}", "EW{D4}", "FC{D4}", "FA{D4}", "FD{D4}", "FF{D4}"),
    ),
    VaccineSpec(
        "MODERNA",
        dt.date(2021, 6, 29),
        2,
        (28, 42),
        6,
        120,
        "Moderna",
        (
            ("Moderna", 30),
            ("MODERNA", 5),
            ("moderna", 3),
            ("Modena", 4),
            ("Spikevax", 5),
            ("Moderna (Spikevax)", 2),
            ("Covit-19 vaccine Modena", 1),
            ("Moderna ", 1),
        ),
        ("0{D2}{L}21A", "0{D2}{L}22A", "300{D4}"),
    ),
    VaccineSpec(
        "JANSSEN",
        dt.date(2021, 7, 15),
        1,
        (0, 0),
        18,
        120,
        "Janssen",
        (("Janssen", 10), ("J&J", 3), ("Johnson & Johnson", 3), ("JANSSEN", 2), ("Jansen", 1)),
        ("XD{D6}", "21{L}{D5}"),
    ),
    VaccineSpec(
        "HAYAT_VAX",
        dt.date(2021, 9, 10),
        2,
        (21, 35),
        18,
        120,
        "Hayat-Vax",
        (("Hayat-Vax", 10), ("Hayat Vax", 4), ("HayatVax", 3), ("Hayat", 3), ("HAYAT-VAX", 2)),
        ("{Y4}{MM}{D4}", "HV{D5}"),
    ),
    VaccineSpec(
        "ABDALA",
        dt.date(2021, 9, 17),
        3,
        (14, 21),
        19,
        65,
        "Abdala",
        (
            ("Abdala", 14),
            ("ABDALA", 3),
            ("abdala", 2),
            ("Vaccine Abdala (AICA-Cuba)", 2),
            ("Abdala (Cuba)", 2),
        ),
        ("0{D1}D{D4}",),
    ),
    VaccineSpec(
        "COVAXIN",
        dt.date(2021, 11, 10),
        2,
        (28, 35),
        18,
        120,
        "Covaxin",
        (("Covaxin", 10), ("COVAXIN", 2), ("Covaxin (Bharat)", 1)),
        ("EN{D4}", "CV{D5}"),
    ),
)

VACCINE_CODES = tuple(spec.code for spec in VACCINES)

# Free text that names no catalogued product: such rows are invalid (vaccine_unknown).
UNKNOWN_VACCINE_TEXTS = (
    "Vaccine", "Vắc xin Covid", "không rõ", "Khác", "VX", "Nanocovax", "?", "Covid-19", "Janssen", "Covaxin",
)  # fmt: skip

# The dose column. Booster wording counts boosters, not doses: "Nhắc lại 1" is dose 3 of a two-dose
# primary series. "{n}" is the dose number, "{b}" the booster number.
DOSE_STYLES: dict[str, tuple[str, str]] = {
    # style: (primary-series text, booster text)
    "digit": ("{n}", "{n}"),
    "mui": ("Mũi {n}", "Mũi {n}"),
    "mui_ascii": ("mui {n}", "mui {n}"),
    "mui_booster": ("Mũi {n}", "Nhắc lại {b}"),
    "mui_booster_paren": ("Mũi {n}", "Mũi {n} (nhắc lại)"),
    "mui_booster_long": ("Mũi {n}", "Mũi nhắc lại lần {b}"),
    "english": ("Dose {n}", "Booster {b}"),
    "english_digit": ("{n}", "Booster {b}"),
}
ADDITIONAL_DOSE_TEXT = "bổ sung"  # "mũi bổ sung": the extra primary dose for some groups; read as dose 3

# When each group became eligible, and the month weights of first doses after that (domain sheet §4).
DOSE_ONE_MONTH_WEIGHTS: dict[str, dict[str, float]] = {
    "adult": {
        "2021-03": 0.5,
        "2021-04": 0.7,
        "2021-05": 1,
        "2021-06": 2,
        "2021-07": 8,
        "2021-08": 16,
        "2021-09": 20,
        "2021-10": 16,
        "2021-11": 10,
        "2021-12": 6,
        "2022-01": 3,
        "2022-02": 2,
        "2022-03": 1.5,
        "2022-04": 1,
        "2022-05": 0.7,
        "2022-06": 0.5,
        "2022-07": 0.4,
        "2022-08": 0.3,
        "2022-09": 0.3,
        "2022-10": 0.2,
        "2022-11": 0.2,
        "2022-12": 0.2,
        "2023-01": 0.1,
    },
    "teen": {
        "2021-10": 4,
        "2021-11": 12,
        "2021-12": 10,
        "2022-01": 4,
        "2022-02": 2,
        "2022-03": 1,
        "2022-04": 0.8,
        "2022-05": 0.6,
        "2022-06": 0.5,
        "2022-07": 0.4,
        "2022-08": 0.3,
        "2022-09": 0.3,
        "2022-10": 0.2,
        "2022-11": 0.2,
        "2022-12": 0.2,
        "2023-01": 0.1,
    },
    "child": {
        "2022-04": 4,
        "2022-05": 8,
        "2022-06": 5,
        "2022-07": 3,
        "2022-08": 2,
        "2022-09": 1.5,
        "2022-10": 1,
        "2022-11": 1,
        "2022-12": 0.5,
        "2023-01": 0.2,
    },
}
GROUP_ELIGIBLE_FROM = {
    "adult": dt.date(2021, 3, 8),
    "teen": dt.date(2021, 10, 27),
    "child": dt.date(2022, 4, 14),
}

# Dose-one product shares by group, before and after 1 Nov 2021; zero until a product's first use.
DOSE_ONE_SHARES: dict[str, dict[str, tuple[float, float]]] = {
    "adult": {
        "ASTRAZENECA": (0.45, 0.15),
        "SPUTNIK_V": (0.03, 0.02),
        "VERO_CELL": (0.27, 0.22),
        "PFIZER": (0.13, 0.38),
        "MODERNA": (0.08, 0.14),
        # Janssen and Covaxin were approved but not supplied to the campaign (catalogue: is_supplied=false);
        # their names appear only as unknown-vaccine text, as in the shared samples.
        "JANSSEN": (0.0, 0.0),
        "HAYAT_VAX": (0.01, 0.02),
        "ABDALA": (0.03, 0.06),
        "COVAXIN": (0.0, 0.0),
    },
    "teen": {"PFIZER": (0.95, 0.95), "MODERNA": (0.05, 0.05)},
    "child": {"PFIZER": (0.75, 0.75), "MODERNA": (0.25, 0.25)},
}
BOOSTER_SHARES = {"PFIZER": 0.5, "MODERNA": 0.35, "ASTRAZENECA": 0.12, "VERO_CELL": 0.03}
BOOSTERS_FROM = dt.date(2021, 11, 20)  # first boosters (high-risk groups), general from Jan 2022
SECOND_BOOSTERS_FROM = dt.date(2022, 5, 25)
TEEN_BOOSTERS_FROM = dt.date(2022, 6, 15)
BOOSTER_MIN_INTERVAL_DAYS = {"adult": 90, "teen": 150}  # dose 3 >= 3 months (5 for 12-17) after dose 2
SECOND_BOOSTER_MIN_INTERVAL_DAYS = 120

# How many doses a person intends: P(1 dose only), P(primary only), P(1 booster), P(2 boosters).
INTENDED_DOSES = {
    "adult": (0.04, 0.30, 0.46, 0.20),
    "adult_50": (0.03, 0.22, 0.40, 0.35),
    "teen": (0.05, 0.50, 0.45, 0.0),
    "child": (0.25, 0.75, 0.0, 0.0),
}


def spec(code: str) -> VaccineSpec:
    return VACCINES[VACCINE_CODES.index(code)]
