"""Who was vaccinated where: facilities, the people in their exports, and one row per exported dose.

Facilities sit in districts and vaccinate the households there (plus a few people living there
temporarily), so a facility's export holds whole families. People absent from the registry (unregistered
children, foreigners) are added to real households and facilities. Invalid rows and duplicate
submissions are planted here; their text is written later (render.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from synth import names
from synth.catalogues import FACILITY_KINDS
from synth.config import SynthConfig
from synth.registry import (
    ROLE_CHILD,
    ROLE_ELDER,
    ROLE_HEAD,
    ROLE_SPOUSE,
    SEX_MALE,
    days,
    draw_by_column,
)
from synth.schedule import dose_histories, expected_doses
from synth.text import template_expr

INVALID_KINDS = (
    "vaccine_unknown",
    "vax_date_out_of_range",
    "vax_date_future",
    "vax_date_impossible",
    "dob_impossible",
    "required_value_missing",
)
ABSENT_KINDS = ("person_unregistered", "person_foreigner", "person_absent_namesake")
DISTRICT_COVER = 1.3  # chosen districts hold this many times the rows needed, so households are sampled
OTHER_FACILITY_SHARE = 0.08  # doses given at another facility of the same province


@dataclass(frozen=True)
class ExportPlan:
    persons: pl.DataFrame  # one row per person appearing in an export (person_ref = row number)
    rows: pl.DataFrame  # one row per export data row, before files are laid out
    facilities: pl.DataFrame  # one row per facility (facility_idx = row number)


def _district_key() -> pl.Expr:
    return pl.col("province_code") + pl.col("district_code")


def _choose_districts(
    rng: np.random.Generator, people: pl.DataFrame, target_rows: float
) -> tuple[pl.DataFrame, float]:
    """Districts with facilities, drawn by population, and the share of their households sampled."""
    expected = people.select(
        _district_key().alias("district_key"), "province_code", "district_code"
    ).with_columns(pl.Series("expected_rows", expected_doses(people["birth_days"].to_numpy())))
    districts = (
        expected.group_by("district_key", "province_code", "district_code")
        .agg(pl.col("expected_rows").sum())
        .sort("district_key")
    )
    weight = districts["expected_rows"].to_numpy()
    order_key = -np.log(rng.random(len(weight))) / np.maximum(weight, 1e-9)
    districts = districts.with_columns(pl.Series("order_key", order_key)).sort("order_key")
    covered = districts["expected_rows"].cum_sum()
    enough = covered.to_numpy() >= DISTRICT_COVER * target_rows
    cut = int(np.argmax(enough)) + 1 if enough.any() else len(districts)
    chosen = districts.head(cut).sort("district_key")
    share = min(1.0, target_rows / max(float(chosen["expected_rows"].sum()), 1.0))
    return chosen, share


def _facilities(
    rng: np.random.Generator, chosen: pl.DataFrame, share: float, wards: pl.DataFrame, mean_rows: int
) -> pl.DataFrame:
    count = np.maximum(1, np.rint(chosen["expected_rows"].to_numpy() * share / mean_rows)).astype(np.int64)
    facilities = pl.DataFrame(
        {
            "district_key": np.repeat(chosen["district_key"].to_numpy(), count),
            "seq": np.concatenate([np.arange(1, n + 1) for n in count])
            if len(count)
            else np.array([], np.int64),
        }
    )
    district_wards = (
        wards.select(_district_key().alias("district_key"), "ward_idx")
        .group_by("district_key", maintain_order=True)
        .agg(pl.col("ward_idx"))
    )
    facilities = facilities.join(district_wards, on="district_key", how="left", maintain_order="left")
    pick = rng.random(len(facilities))
    facilities = facilities.with_columns(
        pl.col("ward_idx")
        .list.get((pl.Series(pick) * pl.col("ward_idx").list.len()).cast(pl.Int64))
        .alias("ward_idx"),
        pl.Series("kind", rng.integers(0, len(FACILITY_KINDS), len(facilities))),
    ).join(wards, on="ward_idx", how="left", maintain_order="left")
    kind_name = pl.lit(None, pl.String)
    for kind, pattern in enumerate(FACILITY_KINDS):
        kind_name = pl.when(pl.col("kind") == kind).then(template_expr(pattern)).otherwise(kind_name)
    return facilities.with_columns(
        (pl.col("district_key") + pl.col("seq").cast(pl.String).str.zfill(3)).alias("facility_code"),
        kind_name.alias("facility_name"),
    ).with_row_index("facility_idx")


def _household_context(people: pl.DataFrame) -> pl.DataFrame:
    """Per person: a relative's citizen ID (spouse, parent, head) and another household member's phone."""
    role, sex = pl.col("role"), pl.col("sex")
    first_id = lambda condition: pl.col("citizen_id").filter(condition).first().over("household_idx")  # noqa: E731
    parent = role.is_in([ROLE_HEAD, ROLE_SPOUSE])
    father = pl.coalesce(first_id(parent & (sex == SEX_MALE)), first_id(parent & (sex != SEX_MALE)))
    mother = pl.coalesce(first_id(parent & (sex != SEX_MALE)), first_id(parent & (sex == SEX_MALE)))
    head, spouse = first_id(role == ROLE_HEAD), first_id(role == ROLE_SPOUSE)
    relative = (
        pl.when(role == ROLE_CHILD)
        .then(pl.when(pl.col("u_relative") < 0.5).then(father).otherwise(mother))
        .when(role == ROLE_HEAD)
        .then(pl.coalesce(spouse, first_id(role == ROLE_ELDER)))
        .otherwise(head)
    )  # fmt: skip
    first_phone = pl.col("phone").drop_nulls().first().over("household_idx")
    second_phone = pl.col("phone").drop_nulls().slice(1, 1).first().over("household_idx")
    own = pl.col("phone")
    return people.with_columns(
        relative.alias("relative_id"),
        pl.when(own.is_null() | (first_phone != own))
        .then(first_phone)
        .otherwise(second_phone)
        .alias("family_phone"),
    )


def _sample_citizens(
    rng: np.random.Generator,
    people: pl.DataFrame,
    chosen: pl.DataFrame,
    share: float,
    facilities: pl.DataFrame,
) -> pl.DataFrame:
    """Whole households of the chosen districts, each assigned to one facility of its district."""
    in_district = people.filter(_district_key().is_in(chosen["district_key"].implode()))
    households = in_district.select("household_idx", _district_key().alias("district_key")).unique(
        "household_idx", keep="first", maintain_order=True
    )
    households = households.filter(pl.Series(rng.random(len(households)) < share))
    per_district = facilities.group_by("district_key", maintain_order=True).agg(
        pl.col("facility_idx").alias("district_facilities")
    )
    households = households.join(per_district, on="district_key", how="left", maintain_order="left")
    pick = pl.Series(rng.random(len(households)))
    households = households.select(
        "household_idx",
        pl.col("district_facilities")
        .list.get((pick * pl.col("district_facilities").list.len()).cast(pl.Int64))
        .alias("facility_idx"),
    )
    selected = in_district.join(households, on="household_idx", how="inner", maintain_order="left")
    selected = selected.with_columns(pl.Series("u_relative", rng.random(len(selected))))
    return (
        _household_context(selected)
        .drop("u_relative")
        .with_columns(pl.lit("citizen").alias("person_kind"), pl.lit(False).alias("is_temp_residence"))
    )


def _temp_residents(
    rng: np.random.Generator,
    people: pl.DataFrame,
    selected: pl.DataFrame,
    facilities: pl.DataFrame,
    rate: float,
) -> pl.DataFrame:
    """Citizens vaccinated in another province, where they live temporarily (address there too)."""
    count = round(len(selected) * rate)
    pool = people.filter(~pl.col("person_idx").is_in(selected["person_idx"].implode()))
    if count == 0 or len(pool) == 0 or facilities["province_code"].n_unique() < 2:
        return selected.clear()
    movers = pool[np.sort(rng.choice(len(pool), size=min(count, len(pool)), replace=False))]
    households = people.filter(pl.col("household_idx").is_in(movers["household_idx"].implode()))
    households = households.with_columns(pl.Series("u_relative", rng.random(len(households))))
    movers = (
        _household_context(households)
        .filter(pl.col("person_idx").is_in(movers["person_idx"].implode()))
        .drop("u_relative")
    )
    facility_province = facilities["province_code"].to_numpy()
    own_province = movers["province_code"].to_numpy()
    targets = rng.integers(0, len(facilities), len(movers))
    for _ in range(100):  # redraw the few that landed in their own province
        same = facility_province[targets] == own_province
        if not same.any():
            break
        targets[same] = rng.integers(0, len(facilities), int(same.sum()))
    keep = facility_province[targets] != own_province
    return movers.filter(pl.Series(keep)).with_columns(
        pl.Series("facility_idx", targets[keep], dtype=pl.UInt32),
        pl.Series("ward_idx", facilities["ward_idx"].to_numpy()[targets[keep]], dtype=pl.Int32),
        pl.lit("citizen").alias("person_kind"),
        pl.lit(True).alias("is_temp_residence"),
    )


def _unregistered_children(
    rng: np.random.Generator, selected: pl.DataFrame, count: int, snapshot: dt.date
) -> pl.DataFrame:
    """Children of sampled Kinh households who are missing from the registry."""
    parents = selected.filter(
        (pl.col("role") == ROLE_HEAD)
        & (pl.col("sex") == SEX_MALE)
        & (pl.col("scheme") == "kinh")
        & (pl.col("birth_year") >= 1965)
    )
    if count == 0 or len(parents) == 0:
        return selected.clear()
    parent = parents[rng.choice(len(parents), size=count)]
    birth = np.where(
        rng.random(count) < 0.7,
        rng.integers(days(dt.date(2010, 6, 1)), days(dt.date(2017, 4, 30)), count),
        rng.integers(days(dt.date(2004, 1, 1)), days(dt.date(2009, 10, 31)), count),
    )
    birth_year = (birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970).astype(
        np.int32
    )
    sex = rng.integers(0, 2, count).astype(np.int8)
    cohort = names.cohort_index(birth_year)
    middle = np.where(
        sex == SEX_MALE,
        draw_by_column(rng, names.MIDDLE_MALE, cohort),
        draw_by_column(rng, names.MIDDLE_FEMALE, cohort),
    )
    given = np.where(
        sex == SEX_MALE,
        draw_by_column(rng, names.GIVEN_MALE, cohort),
        draw_by_column(rng, names.GIVEN_FEMALE, cohort),
    )
    return parent.with_columns(
        pl.lit(ROLE_CHILD, pl.Int8).alias("role"),
        pl.Series("sex", sex),
        pl.Series("birth_year", birth_year),
        pl.Series("birth_days", birth),
        pl.lit(True).alias("is_birth_date_known"),
        pl.Series("w2", middle, dtype=pl.Int32),
        pl.lit(0, pl.Int32).alias("w3"),
        pl.Series("w4", given, dtype=pl.Int32),
        pl.lit(None, pl.String).alias("citizen_id"),
        pl.lit(None, pl.String).alias("legacy_id"),
        pl.lit(None, pl.String).alias("phone"),
        pl.coalesce("phone", "family_phone").alias("family_phone"),
        pl.col("citizen_id").alias("relative_id"),
        pl.lit(-1, pl.Int64).alias("death_days"),
        pl.lit(-1, pl.Int64).alias("person_idx"),
        pl.lit("unregistered").alias("person_kind"),
    )


def _foreigners(
    rng: np.random.Generator, template: pl.DataFrame, facilities: pl.DataFrame, count: int
) -> pl.DataFrame:
    """Foreign residents with passports, vaccinated at a random facility, living in its ward."""
    if count == 0:
        return template.clear()
    sex = rng.integers(0, 2, count).astype(np.int8)
    index = names.vocabulary().index
    slots = np.zeros((count, 4), dtype=np.int32)
    for sex_code, key in ((SEX_MALE, "M"), (1 - SEX_MALE, "F")):
        catalogue = np.zeros((len(names.FOREIGN_NAMES[key]), 4), dtype=np.int32)
        for position, foreign_name in enumerate(names.FOREIGN_NAMES[key]):
            words = foreign_name.split()
            catalogue[position, : len(words)] = [index[word] for word in words]
        rows = np.flatnonzero(sex == sex_code)
        slots[rows] = catalogue[rng.integers(0, len(catalogue), len(rows))]
    facility = rng.integers(0, len(facilities), count)
    birth = rng.integers(days(dt.date(1955, 1, 1)), days(dt.date(2000, 12, 31)), count)
    birth_year = (birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970).astype(
        np.int32
    )
    frame = pl.DataFrame(
        {
            "person_idx": np.full(count, -1),
            "household_idx": np.full(count, -1),
            "role": np.full(count, ROLE_HEAD, dtype=np.int8),
            "birth_year": birth_year,
            "sex": sex,
            "birth_days": birth,
            "ward_idx": facilities["ward_idx"].to_numpy()[facility].astype(np.int32),
            "scheme": "foreign",
            "w1": slots[:, 0],
            "w2": slots[:, 1],
            "w3": slots[:, 2],
            "w4": slots[:, 3],
            "is_birth_date_known": True,
            "death_days": np.full(count, -1),
            "is_standard_name": False,
            "facility_idx": facility.astype(np.uint32),
            "person_kind": "foreigner",
            "is_temp_residence": False,
        }
    )
    return pl.concat([template.clear(), frame], how="diagonal_relaxed")


def _absent_namesakes(
    rng: np.random.Generator,
    people: pl.DataFrame,
    template: pl.DataFrame,
    facilities: pl.DataFrame,
    count: int,
) -> pl.DataFrame:
    """People absent from the registry who share a registered adult's full name and birth date (a quarter
    know only its year), vaccinated in another province, carrying their own well-formed CCCD that the
    registry does not hold (issued in the facility's province) and a phone of their own."""
    adults = people.filter(pl.col("birth_year") <= 2003, pl.col("death_days") < 0, pl.col("scheme") == "kinh")
    if count == 0 or len(adults) == 0 or facilities["province_code"].n_unique() < 2:
        return template.clear()
    source = adults[rng.choice(len(adults), size=2 * count)]
    facility = rng.integers(0, len(facilities), 2 * count)
    elsewhere = facilities["province_code"].to_numpy()[facility] != source["province_code"].to_numpy()
    source = source.filter(pl.Series(elsewhere)).head(count)
    facility = facility[elsewhere][:count]
    size = len(source)
    province = facilities["province_code"].cast(pl.Int64).to_numpy()[facility]
    birth_year = source["birth_year"].to_numpy()
    century_sex = (birth_year // 100 - 19) * 2 + source["sex"].to_numpy()
    prefix = (province * 1000 + century_sex * 100 + birth_year % 100).astype(np.int64)
    registered = people["citizen_id"].drop_nulls().cast(pl.Int64).implode()
    own = pl.Series("own", prefix * 1_000_000 + rng.integers(0, 1_000_000, size), dtype=pl.Int64)
    while (clash := own.is_in(registered).to_numpy()).any():  # a handful at most: redraw their serials
        own = own.scatter(
            np.flatnonzero(clash), prefix[clash] * 1_000_000 + rng.integers(0, 1_000_000, clash.sum())
        )
    phone = pl.Series(rng.integers(0, 100_000_000, size)).cast(pl.String).str.zfill(8)
    return source.with_columns(
        pl.lit(-1, pl.Int64).alias("person_idx"),
        pl.lit(-1).cast(source.schema["household_idx"]).alias("household_idx"),
        pl.lit(ROLE_HEAD, pl.Int8).alias("role"),
        pl.Series("is_birth_date_known", rng.random(size) >= 0.25),
        pl.Series("ward_idx", facilities["ward_idx"].to_numpy()[facility]).cast(source.schema["ward_idx"]),
        pl.Series("facility_idx", facility.astype(np.uint32)),
        own.cast(pl.String).str.zfill(12).alias("own_id"),
        pl.lit(None, pl.String).alias("citizen_id"),
        pl.lit(None, pl.String).alias("legacy_id"),
        pl.lit(None, pl.String).alias("relative_id"),
        ("09" + phone).alias("phone"),
        pl.lit(None, pl.String).alias("family_phone"),
        pl.lit(None, pl.String).alias("street"),
        pl.lit("absent_namesake").alias("person_kind"),
        pl.lit(False).alias("is_temp_residence"),
    ).pipe(lambda frame: pl.concat([template.clear(), frame], how="diagonal_relaxed"))


def _dose_rows(
    rng: np.random.Generator, persons: pl.DataFrame, facilities: pl.DataFrame, snapshot: dt.date
) -> pl.DataFrame:
    doses = dose_histories(
        rng, persons["birth_days"].to_numpy(), persons["death_days"].to_numpy(), snapshot
    ).rename({"person": "person_ref"})
    home = persons["facility_idx"].to_numpy()[doses["person_ref"].to_numpy()].astype(np.int64)
    province = facilities["province_code"].to_numpy()
    elsewhere = rng.random(len(doses)) < OTHER_FACILITY_SHARE
    other = rng.integers(0, len(facilities), len(doses))
    same_province = province[other] == province[home]
    return doses.with_columns(pl.Series("facility_idx", np.where(elsewhere & same_province, other, home)))


def _after_death_rows(
    rng: np.random.Generator, persons: pl.DataFrame, rows: pl.DataFrame, rate: float, snapshot: dt.date
) -> pl.DataFrame:
    """An extra dose recorded after the citizen's death (a data-entry error on the wrong person)."""
    last = (
        rows.group_by("person_ref")
        .agg(pl.col("dose_number").max(), pl.col("facility_idx").last(), pl.col("vaccine_idx").last())
        .sort("person_ref")
    )
    death = persons["death_days"].to_numpy()[last["person_ref"].to_numpy()]
    on = death + rng.integers(5, 200, len(last))
    chosen = (death >= 0) & (on <= days(snapshot)) & (rng.random(len(last)) < rate)
    return last.filter(pl.Series(chosen)).with_columns(
        (pl.col("dose_number") + 1).cast(pl.Int8),
        pl.Series("vaccinated_days", on[chosen], dtype=pl.Int32),
        pl.lit("after_death").alias("invalid_kind"),
    )


def _assign_invalid(
    rng: np.random.Generator, rows: pl.DataFrame, config: SynthConfig, is_citizen: pl.Series
) -> pl.Series:
    """One invalid kind (or "") per row; only citizens' doses, each kind at its configured rate."""
    rates = np.array([config.rate(kind) for kind in INVALID_KINDS])
    thresholds = np.cumsum(rates)
    u = rng.random(len(rows))
    kind = np.searchsorted(thresholds, u, side="right")
    labels = np.array([*INVALID_KINDS, ""], dtype=object)[kind]
    eligible = is_citizen.to_numpy() & (rows["invalid_kind"] == "").to_numpy()
    return pl.Series(
        "invalid_kind", np.where(eligible, labels, rows["invalid_kind"].to_numpy()), dtype=pl.String
    )


def _other_facility(rng: np.random.Generator, province: np.ndarray, home: np.ndarray) -> np.ndarray:
    """Another facility for each row: of the same province when there is one, else any other."""
    home = home.astype(np.int64)
    order = np.argsort(province, kind="stable")
    sorted_province = province[order]
    start = np.searchsorted(sorted_province, province[home], side="left")
    size = np.searchsorted(sorted_province, province[home], side="right") - start
    offset = (rng.random(len(home)) * np.maximum(size - 1, 1)).astype(np.int64)
    candidate = order[start + offset]
    candidate = np.where(candidate == home, order[start + size - 1], candidate)
    anywhere = (home + 1 + (rng.random(len(home)) * max(len(province) - 1, 1)).astype(np.int64)) % len(
        province
    )
    return np.where(size > 1, candidate, anywhere)


def _duplicates(
    rng: np.random.Generator, rows: pl.DataFrame, facilities: pl.DataFrame, config: SynthConfig
) -> pl.DataFrame:
    """Copies of valid doses: re-exported by the same facility, or also reported by a second facility."""
    valid = rows.filter(pl.col("invalid_kind") == "")
    u = rng.random(len(valid))
    reexport_rate, second_rate = config.rate("dup_reexport"), config.rate("dup_second_facility")
    reexports = valid.filter(pl.Series(u < reexport_rate)).with_columns(pl.lit("reexport").alias("dup_kind"))
    seconds = valid.filter(pl.Series((u >= reexport_rate) & (u < reexport_rate + second_rate)))
    other = _other_facility(rng, facilities["province_code"].to_numpy(), seconds["facility_idx"].to_numpy())
    seconds = seconds.with_columns(
        pl.Series("facility_idx", other, dtype=rows["facility_idx"].dtype),
        pl.lit("second_facility").alias("dup_kind"),
    )
    copies = pl.concat([reexports, seconds]).with_columns(pl.col("row_id").alias("copy_of"))
    return copies


def build_plan(
    rng: np.random.Generator, people: pl.DataFrame, wards: pl.DataFrame, config: SynthConfig
) -> ExportPlan:
    snapshot = config.snapshot_date
    duplicate_share = config.rate("dup_reexport") + config.rate("dup_second_facility")
    absent_share = sum(config.rate(kind) for kind in ABSENT_KINDS)
    base_rows = config.shots / (1 + duplicate_share)
    citizen_rows = base_rows * (1 - absent_share)
    chosen, share = _choose_districts(rng, people, citizen_rows / (1 + config.rate("addr_temp_residence")))
    facilities = _facilities(rng, chosen, share, wards, config.mean_rows_per_facility)
    selected = _sample_citizens(rng, people, chosen, share, facilities)
    movers = _temp_residents(rng, people, selected, facilities, config.rate("addr_temp_residence"))
    children = _unregistered_children(
        rng, selected, round(base_rows * config.rate("person_unregistered") / 1.9), snapshot
    )
    foreigners = _foreigners(
        rng, selected, facilities, round(base_rows * config.rate("person_foreigner") / 2.4)
    )
    namesakes = _absent_namesakes(
        rng, people, selected, facilities, round(base_rows * config.rate("person_absent_namesake") / 2.4)
    )
    persons = pl.concat(
        [
            selected.with_columns(pl.lit(None, pl.String).alias("own_id")),
            movers,
            children,
            foreigners,
            namesakes,
        ],
        how="diagonal_relaxed",
    ).with_row_index("person_ref")
    rows = _dose_rows(rng, persons, facilities, snapshot).with_columns(pl.lit("").alias("invalid_kind"))
    rows = pl.concat(
        [rows, _after_death_rows(rng, persons, rows, config.rate("after_death"), snapshot)],
        how="diagonal_relaxed",
    ).sort("person_ref", "dose_number", maintain_order=True)
    rows = rows.with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))
    is_citizen = persons["person_kind"].gather(rows["person_ref"]) == "citizen"
    rows = rows.with_columns(_assign_invalid(rng, rows, config, is_citizen))
    rows = rows.with_columns(pl.lit("original").alias("dup_kind"), pl.lit(None, pl.Int64).alias("copy_of"))
    copies = _duplicates(rng, rows, facilities, config)
    rows = (
        pl.concat([rows, copies])
        .with_columns(pl.coalesce("copy_of", "row_id").alias("dup_group"))
        .drop("row_id")
        .with_row_index("row_id")
    )
    return ExportPlan(persons=persons, rows=rows, facilities=facilities)
