"""Synthetic National Population Database: households of citizens, with the traits that make matching hard.

Households share an address and (for fathers and children) a family name; wives keep their own family name,
as in Vietnam. Twins and same-ward namesakes are planted on purpose. Everything is vectorised numpy/polars.

The result keeps internal columns (household, role, name words, full birth date) that the export
generator needs; `registry_frame()` selects the published registry schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl

from synth import names
from synth.catalogues import STREET_NAMES
from synth.config import SynthConfig
from vaxsync.core.contracts import REGISTRY_SCHEMA

EPOCH = dt.date(1970, 1, 1)
ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_ELDER = 0, 1, 2, 3
SEX_MALE, SEX_FEMALE = 0, 1

# Household kinds: single adult, couple, couple with children, single parent, three generations,
# elderly couple. Shares, and the head's birth-year range.
HOUSEHOLD_KINDS = (
    (0.12, (1940, 2003)),
    (0.14, (1945, 2000)),
    (0.44, (1965, 1996)),
    (0.06, (1960, 1995)),
    (0.16, (1965, 1992)),
    (0.08, (1925, 1962)),
)
KIND_HAS_SPOUSE = np.array([False, True, True, False, True, True])
KIND_HAS_CHILDREN = np.array([False, False, True, True, True, False])
KIND_HEAD_MALE_SHARE = np.array([0.5, 0.8, 0.8, 0.15, 0.8, 0.85])
MEMBERS_PER_HOUSEHOLD = 3.2

# Mobile prefixes valid since the 2018 change, with rough market weights (Viettel, MobiFone, VinaPhone,
# Vietnamobile, Gmobile).
MOBILE_PREFIXES: dict[str, float] = {
    **{f"03{d}": 3.0 for d in range(2, 10)},
    "086": 2, "096": 4, "097": 4, "098": 4,
    "070": 1.5, "076": 1.5, "077": 1.5, "078": 1.5, "079": 1.5, "089": 1.5, "090": 3, "093": 3,
    **{f"08{d}": 1.5 for d in range(1, 6)},
    "088": 1.5, "091": 3, "094": 3,
    "052": 0.3, "056": 0.5, "058": 0.5, "092": 0.6, "059": 0.3, "099": 0.3,
}  # fmt: skip

# Issuing-police prefixes of 9-digit CMNDs by province (approximate; a CMND has no other structure).
CMND_PREFIX: dict[str, str] = {
    "01": "01", "79": "02", "31": "03", "11": "040", "12": "041", "14": "050", "10": "060", "15": "061",
    "02": "070", "08": "071", "20": "080", "04": "081", "19": "090", "06": "095", "22": "10", "17": "113",
    "24": "120", "27": "125", "25": "13", "26": "135", "30": "14", "33": "145", "34": "15", "36": "16",
    "35": "168", "37": "164", "38": "17", "40": "18", "42": "183", "44": "19", "45": "197", "46": "19",
    "49": "20", "48": "201", "51": "21", "52": "21", "56": "22", "54": "22", "64": "23", "62": "233",
    "66": "24", "67": "245", "68": "25", "58": "26", "60": "26", "75": "27", "77": "273", "74": "28",
    "70": "285", "72": "29", "80": "30", "82": "31", "83": "32", "86": "33", "84": "334", "87": "34",
    "89": "35", "92": "36", "93": "363", "94": "365", "91": "37", "96": "38", "95": "385",
}  # fmt: skip


def days(date: dt.date) -> int:
    return (date - EPOCH).days


def _year_start_days(years: np.ndarray) -> np.ndarray:
    return (years.astype(np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def _households(rng: np.random.Generator, wards: pl.DataFrame, count: int) -> pl.DataFrame:
    weights = wards["weight"].to_numpy()
    kind = rng.choice(len(HOUSEHOLD_KINDS), size=count, p=[share for share, _ in HOUSEHOLD_KINDS])
    low = np.array([span[0] for _, span in HOUSEHOLD_KINDS])[kind]
    high = np.array([span[1] for _, span in HOUSEHOLD_KINDS])[kind]
    ward_idx = rng.choice(len(weights), size=count, p=weights / weights.sum())
    return pl.DataFrame(
        {
            "household_idx": np.arange(count, dtype=np.int64),
            "kind": kind.astype(np.int8),
            "ward_idx": ward_idx.astype(np.int32),
            "head_birth_year": rng.integers(low, high + 1).astype(np.int32),
            "is_head_male": rng.random(count) < KIND_HEAD_MALE_SHARE[kind],
            "u_minority": rng.random(count),
        }
    ).join(
        wards.select("ward_idx", "province_code", "region", "ward_type"),
        on="ward_idx",
        how="left",
        maintain_order="left",
    )


def _members(rng: np.random.Generator, households: pl.DataFrame, last_birth_year: int) -> pl.DataFrame:
    """One row per person: role, sex, birth year; children and elders exploded from household counts."""
    kind = households["kind"].to_numpy()
    head_by = households["head_birth_year"].to_numpy()
    head_male = households["is_head_male"].to_numpy()
    count = len(kind)
    spouse_gap = np.where(rng.random(count) < 0.15, 0, np.rint(rng.normal(3, 3, count))).astype(np.int32)
    spouse_by = np.where(head_male, head_by + spouse_gap, head_by - spouse_gap)
    mother_by = np.where(head_male & KIND_HAS_SPOUSE[kind], spouse_by, head_by)
    n_children = np.where(KIND_HAS_CHILDREN[kind], 1 + rng.binomial(3, 0.3, count), 0)
    n_elders = np.where(kind == 4, 1 + (rng.random(count) < 0.5), 0)
    head_sex = np.where(head_male, SEX_MALE, SEX_FEMALE)
    blocks = [
        pl.DataFrame(
            {"household_idx": np.arange(count), "role": ROLE_HEAD, "birth_year": head_by, "sex": head_sex}
        ),
        pl.DataFrame(
            {
                "household_idx": np.arange(count),
                "role": ROLE_SPOUSE,
                "birth_year": spouse_by,
                "sex": 1 - head_sex,
            }
        ).filter(pl.Series(KIND_HAS_SPOUSE[kind])),
    ]
    child_household = np.repeat(np.arange(count), n_children)
    child_by = mother_by[child_household] + rng.integers(20, 41, len(child_household))
    blocks.append(
        pl.DataFrame(
            {
                "household_idx": child_household,
                "role": ROLE_CHILD,
                "birth_year": child_by,
                "sex": rng.integers(0, 2, len(child_household)),
            }
        ).filter(pl.col("birth_year") <= last_birth_year)
    )
    elder_household = np.repeat(np.arange(count), n_elders)
    elder_rank = np.arange(len(elder_household)) - np.repeat(np.cumsum(n_elders) - n_elders, n_elders)
    elder_sex = np.where(
        n_elders[elder_household] == 2, elder_rank, (rng.random(len(elder_household)) < 0.65).astype(int)
    )
    blocks.append(
        pl.DataFrame(
            {
                "household_idx": elder_household,
                "role": ROLE_ELDER,
                "birth_year": head_by[elder_household] - rng.integers(20, 36, len(elder_household)),
                "sex": elder_sex,
            }
        )
    )
    cast = [pl.col("household_idx").cast(pl.Int64), pl.col("role").cast(pl.Int8),
            pl.col("birth_year").cast(pl.Int32), pl.col("sex").cast(pl.Int8)]  # fmt: skip
    return pl.concat([block.select(cast) for block in blocks]).sort(
        "household_idx", "role", maintain_order=True
    )


def _birth_dates(rng: np.random.Generator, birth_year: np.ndarray, snapshot: dt.date) -> np.ndarray:
    start = _year_start_days(birth_year)
    length = _year_start_days(birth_year + 1) - start
    birth = start + (rng.random(len(birth_year)) * length).astype(np.int64)
    return np.minimum(birth, days(snapshot) - 1)


def _add_twins(rng: np.random.Generator, people: pl.DataFrame, rate: float) -> pl.DataFrame:
    """A share of children get a twin: a copy of the row (household, birth date) with its own sex."""
    is_child = (people["role"] == ROLE_CHILD).to_numpy()
    chosen = np.flatnonzero(is_child & (rng.random(len(people)) < rate / 2))
    twins = people[chosen].with_columns(
        pl.Series("sex", rng.integers(0, 2, len(chosen)), dtype=pl.Int8),
        pl.Series("twin_of", chosen, dtype=pl.Int64),
        pl.Series("person_key", len(people) + np.arange(len(chosen)), dtype=pl.Int64),
    )
    people = people.with_columns(
        pl.lit(None, pl.Int64).alias("twin_of"),
        pl.Series("person_key", np.arange(len(people)), dtype=pl.Int64),
    )
    return pl.concat([people, twins]).sort("household_idx", "role", maintain_order=True)


def draw_by_column(
    rng: np.random.Generator, catalogue: Mapping[str, tuple[float, ...]], column: np.ndarray
) -> np.ndarray:
    """A word per row from a weighted catalogue whose weights depend on the row's column (cohort/region)."""
    ids, probabilities = names.weights_matrix(catalogue)
    out = np.zeros(len(column), dtype=np.int32)
    for value in range(probabilities.shape[1]):
        rows = np.flatnonzero(column == value)
        out[rows] = rng.choice(ids, size=len(rows), p=probabilities[:, value])
    return out


def _pick(rng: np.random.Generator, words: tuple[str, ...], size: int) -> np.ndarray:
    index = names.vocabulary().index
    return np.array([index[word] for word in words], dtype=np.int32)[rng.integers(0, len(words), size)]


def _kinh_words(rng: np.random.Generator, people: pl.DataFrame) -> dict[str, np.ndarray]:
    """Family, middle, second middle and given name words for the majority naming scheme."""
    sex = people["sex"].to_numpy()
    cohort = names.cohort_index(people["birth_year"].to_numpy())
    region = people["region"].to_numpy()
    count = len(people)
    surname_weights = {word: weights for word, weights in names.SURNAMES.items()}
    family = draw_by_column(rng, surname_weights, region)
    middle = np.where(
        sex == SEX_MALE,
        draw_by_column(rng, names.MIDDLE_MALE, cohort),
        draw_by_column(rng, names.MIDDLE_FEMALE, cohort),
    )
    second_pool = {
        "M": {w: v for w, v in names.MIDDLE_MALE.items() if w != "Văn"},
        "F": {w: v for w, v in names.MIDDLE_FEMALE.items() if w != "Thị"},
    }
    second = np.where(
        sex == SEX_MALE,
        draw_by_column(rng, second_pool["M"], cohort),
        draw_by_column(rng, second_pool["F"], cohort),
    )
    two_middle_share = np.where(
        sex == SEX_MALE,
        np.asarray(names.TWO_MIDDLE_SHARE["M"])[cohort],
        np.asarray(names.TWO_MIDDLE_SHARE["F"])[cohort],
    )
    u_shape = rng.random(count)
    no_middle = u_shape < np.asarray(names.NO_MIDDLE_SHARE)[cohort]
    two_middles = ~no_middle & (u_shape > 1 - two_middle_share) & (second != middle)
    given = np.where(
        sex == SEX_MALE,
        draw_by_column(rng, names.GIVEN_MALE, cohort),
        draw_by_column(rng, names.GIVEN_FEMALE, cohort),
    )
    return {
        "w1": family,
        "w2": np.where(no_middle, 0, middle).astype(np.int32),
        "w3": np.where(two_middles, second, 0).astype(np.int32),
        "w4": given,
    }


def _minority_words(rng: np.random.Generator, people: pl.DataFrame) -> dict[str, np.ndarray]:
    """Words for Hmong, Ê Đê and Khmer names (only read where `scheme` says so)."""
    count = len(people)
    sex = people["sex"].to_numpy()
    index = names.vocabulary().index
    hmong_middle = np.where(
        sex == SEX_MALE,
        _pick(rng, names.HMONG_MIDDLE["M"], count),
        _pick(rng, names.HMONG_MIDDLE["F"], count),
    )
    khmer_given = rng.integers(0, len(names.KHMER_GIVEN), count)
    khmer_parts = [given.split() for given in names.KHMER_GIVEN]
    khmer_first = np.array([index[parts[0]] for parts in khmer_parts], dtype=np.int32)[khmer_given]
    khmer_second = np.array(
        [index[parts[1]] if len(parts) > 1 else 0 for parts in khmer_parts], dtype=np.int32
    )
    ede_given = rng.integers(0, len(names.EDE_GIVEN), count)
    ede_male_given = np.array([index[g] for g in names.EDE_GIVEN], dtype=np.int32)[ede_given]
    ede_female_given = np.array([index[f"H'{g}"] for g in names.EDE_GIVEN], dtype=np.int32)[ede_given]
    surname = {
        "hmong": _pick(rng, names.HMONG_SURNAMES, count),
        "ede": _pick(rng, names.EDE_SURNAMES, count),
        "khmer": _pick(rng, names.KHMER_SURNAMES, count),
    }
    khmer_thi = np.where((sex == SEX_FEMALE) & (rng.random(count) < 0.5), index["Thị"], 0)
    words = {
        "hmong": (
            surname["hmong"],
            hmong_middle,
            np.zeros(count, np.int32),
            _pick(rng, names.HMONG_GIVEN, count),
        ),
        "ede": (
            np.where(sex == SEX_MALE, index["Y"], ede_female_given),
            np.where(sex == SEX_MALE, ede_male_given, 0),
            np.zeros(count, np.int32),
            surname["ede"],
        ),
        "khmer": (surname["khmer"], khmer_thi, khmer_first, khmer_second[khmer_given]),
    }
    out = {f"w{slot + 1}": np.zeros(count, np.int32) for slot in range(4)}
    for scheme_name, slots in words.items():
        rows = (people["scheme"] == scheme_name).to_numpy()
        for slot, values in enumerate(slots):
            out[f"w{slot + 1}"][rows] = values[rows]
    return out


def _inherit_family_names(people: pl.DataFrame) -> pl.DataFrame:
    """Children and the head's father carry the father's family name; Ê Đê children their mother's.

    The family-name word is w1, except in Ê Đê names where it is the last word (w4).
    """
    family_slot = pl.when(pl.col("scheme") == "ede").then(pl.col("w4")).otherwise(pl.col("w1"))
    is_father = (pl.col("role").is_in([ROLE_HEAD, ROLE_SPOUSE])) & (pl.col("sex") == SEX_MALE)
    is_mother = (pl.col("role").is_in([ROLE_HEAD, ROLE_SPOUSE])) & (pl.col("sex") == SEX_FEMALE)
    people = people.with_columns(
        family_slot.filter(is_father).first().over("household_idx").alias("father_family"),
        family_slot.filter(is_mother).first().over("household_idx").alias("mother_family"),
        family_slot.filter(pl.col("role") == ROLE_HEAD).first().over("household_idx").alias("head_family"),
    )
    parent_family = (
        pl.when(pl.col("scheme") == "ede")
        .then(pl.coalesce("mother_family", "father_family"))
        .otherwise(pl.coalesce("father_family", "mother_family"))
    )
    inherited = (
        pl.when(pl.col("role") == ROLE_CHILD)
        .then(parent_family)
        .when((pl.col("role") == ROLE_ELDER) & (pl.col("sex") == SEX_MALE))
        .then(pl.col("head_family"))
    )
    return people.with_columns(
        pl.when(pl.col("scheme") == "ede")
        .then(pl.col("w1"))
        .otherwise(pl.coalesce(inherited, pl.col("w1")))
        .alias("w1"),
        pl.when(pl.col("scheme") == "ede")
        .then(pl.coalesce(inherited, pl.col("w4")))
        .otherwise(pl.col("w4"))
        .alias("w4"),
    ).drop("father_family", "mother_family", "head_family")


def _share_sibling_middle_names(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    """Half the families give same-sex children the same middle name (Nguyễn Văn An, Nguyễn Văn Bình)."""
    is_child = ((pl.col("role") == ROLE_CHILD) & (pl.col("scheme") == "kinh") & (pl.col("w2") > 0)).alias(
        "is_child"
    )
    children = people.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("position"), is_child, "household_idx", "sex", "w2"
    )
    children = children.filter(pl.col("is_child"))
    shared = children.with_columns(
        pl.col("w2").first().over("household_idx", "sex").alias("family_middle")
    ).filter(pl.Series(rng.random(len(children)) < 0.5))
    return people.with_columns(people["w2"].scatter(shared["position"], shared["family_middle"]))


def _distinct_twin_names(people: pl.DataFrame) -> pl.DataFrame:
    """Twins never share a given name: a clash moves to the next word of the catalogue."""
    given_ids = np.sort(
        np.array(
            [names.vocabulary().index[w] for w in (*names.GIVEN_MALE, *names.GIVEN_FEMALE)], dtype=np.int32
        )
    )
    positions = people.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("position"), "person_key", "twin_of", "w4", "scheme"
    )
    twins = positions.filter(pl.col("twin_of").is_not_null() & (pl.col("scheme") == "kinh"))
    siblings = positions.select(pl.col("person_key").alias("twin_of"), pl.col("w4").alias("twin_given"))
    clashes = twins.join(siblings, on="twin_of", how="inner").filter(pl.col("twin_given") == pl.col("w4"))
    shifted = given_ids[(np.searchsorted(given_ids, clashes["w4"].to_numpy()) + 1) % len(given_ids)]
    return people.with_columns(people["w4"].scatter(clashes["position"], pl.Series(shifted, dtype=pl.Int32)))


def _plant_namesakes(rng: np.random.Generator, people: pl.DataFrame, rate: float) -> pl.DataFrame:
    """Copy a neighbour's full name onto a share of people of the same sex in the same ward."""
    order = (
        people.select(pl.arg_sort_by("ward_idx", "sex", "birth_year", maintain_order=True))
        .to_series()
        .to_numpy()
    )
    ward = people["ward_idx"].to_numpy()[order]
    sex = people["sex"].to_numpy()[order]
    scheme = people["scheme"].cast(pl.Categorical).to_physical().to_numpy()[order]
    same_group = np.r_[False, (ward[1:] == ward[:-1]) & (sex[1:] == sex[:-1]) & (scheme[1:] == scheme[:-1])]
    chosen = np.flatnonzero(same_group & (rng.random(len(order)) < rate))
    target, source = order[chosen], order[chosen - 1]
    words = {f"w{slot}": people[f"w{slot}"].to_numpy().copy() for slot in range(1, 5)}
    for column in words.values():
        column[target] = column[source]
    return people.with_columns(pl.Series(name, values) for name, values in words.items())


def _citizen_ids(rng: np.random.Generator, people: pl.DataFrame, wards: pl.DataFrame) -> np.ndarray:
    """12-digit CCCD: 0 + birth-registration province, century/sex digit, YY, six random digits; unique."""
    province = people["province_code"].cast(pl.Int64).to_numpy()
    birth_year = people["birth_year"].to_numpy()
    big_city = np.isin(province, [79, 1, 74, 75, 48, 92])
    migrant = rng.random(len(people)) < np.where(birth_year >= 2010, 0.03, np.where(big_city, 0.35, 0.08))
    province_weights = wards.group_by("province_code", maintain_order=True).agg(pl.col("weight").sum())
    codes = province_weights["province_code"].cast(pl.Int64).to_numpy()
    weights = province_weights["weight"].to_numpy()
    birth_province = np.where(
        migrant, rng.choice(codes, size=len(people), p=weights / weights.sum()), province
    )
    century_sex = (birth_year // 100 - 19) * 2 + people["sex"].to_numpy()
    prefix = birth_province * 1000 + century_sex * 100 + birth_year % 100
    ids = prefix.astype(np.int64) * 1_000_000 + rng.integers(0, 1_000_000, len(people))
    while True:
        order = np.argsort(ids, kind="stable")
        repeated = order[1:][np.diff(ids[order]) == 0]
        if len(repeated) == 0:
            return ids
        ids[repeated] = prefix[repeated] * 1_000_000 + rng.integers(0, 1_000_000, len(repeated))


def _legacy_ids(rng: np.random.Generator, people: pl.DataFrame, shared_rate: float) -> pl.Series:
    """Old 9-digit CMND for part of those old enough to have had one before 2016."""
    birth_year = people["birth_year"].to_numpy()
    share = np.where(birth_year <= 1990, 0.75, np.where(birth_year <= 2002, 0.55, 0.0))
    has_legacy = rng.random(len(people)) < share
    prefix = people["province_code"].replace_strict(CMND_PREFIX, default="27")
    tail = pl.Series(rng.integers(0, 10**7, len(people))).cast(pl.String).str.zfill(7)
    legacy = (prefix + tail).str.slice(0, 9)
    legacy = pl.select(pl.when(pl.Series(has_legacy)).then(legacy)).to_series()
    # Duplicated numbers exist (one range issued by two provinces): copy a holder's number to another.
    holders = np.flatnonzero(has_legacy)
    sharers = holders[rng.random(len(holders)) < shared_rate]
    source = np.arange(len(people))
    if len(holders):
        source[sharers] = rng.choice(holders, len(sharers))
    return legacy.gather(source).alias("legacy_id")


def _phones(rng: np.random.Generator, birth_year: np.ndarray, snapshot: dt.date) -> pl.Series:
    age = snapshot.year - birth_year
    share = np.select([age < 15, age < 18, age < 60, age < 75], [0.0, 0.5, 0.85, 0.6], 0.3)
    weights = np.array(list(MOBILE_PREFIXES.values()))
    prefix = pl.Series(list(MOBILE_PREFIXES)).gather(
        rng.choice(len(weights), size=len(age), p=weights / weights.sum())
    )
    number = prefix + pl.Series(rng.integers(0, 10**7, len(age))).cast(pl.String).str.zfill(7)
    return pl.select(pl.when(pl.Series(rng.random(len(age)) < share)).then(number)).to_series().alias("phone")


def _deaths(rng: np.random.Generator, people: pl.DataFrame, rate: float, snapshot: dt.date) -> np.ndarray:
    """Death dates (days, -1 none), mostly of the elderly, spread over mid-2020 to the snapshot."""
    age = snapshot.year - people["birth_year"].to_numpy()
    hazard = np.exp((age - 60) / 10.0)
    probability = np.minimum(0.5, rate * hazard / hazard.mean())
    dies = rng.random(len(age)) < probability
    start, end = days(dt.date(2020, 6, 1)), days(snapshot)
    on = rng.integers(start, end, len(age))
    birth = people["birth_days"].to_numpy()
    return np.where(dies & (on > birth + 30), on, -1)


def _streets(rng: np.random.Generator, households: pl.DataFrame) -> pl.Series:
    """The household's house number and street, or hamlet, as written at the front of an address."""
    count = len(households)
    frame = pl.DataFrame(
        {
            "street": pl.Series(STREET_NAMES).gather(rng.integers(0, len(STREET_NAMES), count)),
            "number": rng.integers(1, 400, count),
            "lane": rng.integers(1, 60, count),
            "group": rng.integers(1, 25, count),
            "style": rng.integers(0, 4, count),
            "is_thon": rng.random(count) < 0.5,
        }
    ).with_columns(pl.col("number", "lane", "group").cast(pl.String))
    hamlet = (
        pl.when(pl.Series(households["region"] == 2))
        .then(pl.lit("Ấp"))
        .when(pl.col("is_thon"))
        .then(pl.lit("Thôn"))
        .otherwise(pl.lit("Xóm"))
    )
    return frame.select(
        pl.when(pl.Series(households["ward_type"] == "xã"))
        .then(hamlet + " " + pl.col("group"))
        .when(pl.col("style") == 0)
        .then("Số " + pl.col("number") + " " + pl.col("street"))
        .when(pl.col("style") == 1)
        .then(pl.col("number") + "/" + pl.col("lane") + " " + pl.col("street"))
        .when(pl.col("style") == 2)
        .then("Tổ " + pl.col("group"))
        .otherwise(pl.col("number") + " " + pl.col("street"))
        .alias("street")
    ).to_series()


def generate_people(rng: np.random.Generator, wards: pl.DataFrame, config: SynthConfig) -> pl.DataFrame:
    """One row per citizen (internal columns included), ordered by household."""
    snapshot = config.snapshot_date
    households = _households(rng, wards, int(config.citizens / MEMBERS_PER_HOUSEHOLD * 1.25) + 10)
    minority = pl.DataFrame(
        {
            "province_code": list(names.MINORITY_SHARE_BY_PROVINCE),
            "minority_scheme": [scheme for scheme, _ in names.MINORITY_SHARE_BY_PROVINCE.values()],
            "minority_share": [share for _, share in names.MINORITY_SHARE_BY_PROVINCE.values()],
        }
    )
    households = (
        households.join(minority, on="province_code", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("u_minority") < pl.col("minority_share"))
            .then(pl.col("minority_scheme"))
            .otherwise(pl.lit("kinh"))
            .alias("scheme")
        )
        .drop("minority_scheme", "minority_share", "u_minority")
    )
    households = households.with_columns(_streets(rng, households))
    people = _members(rng, households, snapshot.year - 1)
    people = people.with_columns(
        pl.Series("birth_days", _birth_dates(rng, people["birth_year"].to_numpy(), snapshot))
    )
    people = _add_twins(rng, people, config.rate("registry_twins")).head(config.citizens)
    people = people.join(
        households.select("household_idx", "ward_idx", "province_code", "region", "scheme", "street"),
        on="household_idx",
        how="left",
        maintain_order="left",
    ).join(
        wards.select("ward_idx", "district_code", "ward_code"),
        on="ward_idx",
        how="left",
        maintain_order="left",
    )
    is_kinh = (people["scheme"] == "kinh").to_numpy()
    kinh, minority_words = _kinh_words(rng, people), _minority_words(rng, people)
    people = people.with_columns(
        pl.Series(slot, np.where(is_kinh, kinh[slot], minority_words[slot])) for slot in kinh
    )
    people = _inherit_family_names(people)
    people = _share_sibling_middle_names(rng, people)
    people = _distinct_twin_names(people)
    people = _plant_namesakes(rng, people, config.rate("registry_namesakes"))
    birth_year = people["birth_year"].to_numpy()
    year_only_share = np.where(birth_year < 1945, 1.0, np.where(birth_year < 1960, 1 / 6, 0.0))
    return (
        people.with_columns(
            pl.Series("citizen_number", _citizen_ids(rng, people, wards)),
            _legacy_ids(rng, people, config.rate("registry_legacy_id_shared")),
            _phones(rng, birth_year, snapshot),
            pl.Series(
                "is_birth_date_known",
                rng.random(len(people)) >= year_only_share * config.rate("registry_year_only_birth"),
            ),
            pl.Series("death_days", _deaths(rng, people, config.rate("registry_died"), snapshot)),
            pl.Series("is_standard_name", is_kinh),
        )
        .with_columns(pl.col("citizen_number").cast(pl.String).str.zfill(12).alias("citizen_id"))
        .with_row_index("person_idx")
    )


def join_words(slots: list[pl.Series]) -> pl.Series:
    """Words joined by single spaces, skipping empty slots."""
    frame = pl.DataFrame({f"s{i}": slot for i, slot in enumerate(slots)})
    return frame.select(
        pl.concat_str(
            [pl.when(pl.col(name) != "").then(pl.col(name)) for name in frame.columns],
            separator=" ",
            ignore_nulls=True,
        )
    ).to_series()


def full_names(people: pl.DataFrame) -> pl.Series:
    """The NFC full name of every person from the four word slots."""
    vocab = pl.Series(names.vocabulary().words)
    return join_words([vocab.gather(people[f"w{slot}"]) for slot in range(1, 5)]).alias("full_name")


def registry_frame(people: pl.DataFrame) -> pl.DataFrame:
    """The published registry snapshot, one row per citizen, in REGISTRY_SCHEMA, ordered by citizen_id."""
    wards_columns = ["province_code", "district_code", "ward_code"]
    return (
        people.select(
            "citizen_id",
            "legacy_id",
            full_names(people),
            pl.when(pl.col("is_birth_date_known"))
            .then(pl.col("birth_days"))
            .cast(pl.Int32)
            .cast(pl.Date)
            .alias("date_of_birth"),
            pl.col("birth_year").cast(pl.Int32),
            pl.when(pl.col("sex") == SEX_MALE).then(pl.lit("M")).otherwise(pl.lit("F")).alias("sex"),
            "phone",
            *wards_columns,
            pl.when(pl.col("death_days") >= 0)
            .then(pl.col("death_days"))
            .cast(pl.Int32)
            .cast(pl.Date)
            .alias("date_of_death"),
        )
        .cast(REGISTRY_SCHEMA)  # type: ignore[arg-type]
        .with_columns(people["citizen_number"].alias("order"))
        .sort("order")
        .drop("order")
    )
