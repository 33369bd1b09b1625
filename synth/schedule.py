"""Each vaccinated person's doses, following Vietnam's approvals, age rules and intervals (domain sheet §4).

Vectorised over people; the only loop is over dose slots (at most five).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from synth import vaccines as vx
from synth.registry import days

GROUPS = ("adult", "teen", "child")
NO_GROUP = -1
MAX_DOSES = 5
EXPECTED_DOSES = {"adult": 2.87, "teen": 2.38, "child": 1.74}  # sizing only: mean doses per vaccinated person


def age_group(birth_days: np.ndarray) -> np.ndarray:
    """0 adult (18+ in Nov 2021), 1 teen (12-17 then), 2 child (5-11 in May 2022), -1 not eligible."""
    adult_cutoff = days(dt.date(2003, 11, 1))
    teen_cutoff = days(dt.date(2009, 11, 1))
    child_cutoff = days(dt.date(2017, 5, 1))
    return np.select(
        [birth_days <= adult_cutoff, birth_days <= teen_cutoff, birth_days <= child_cutoff],
        [0, 1, 2],
        NO_GROUP,
    )


def expected_doses(birth_days: np.ndarray) -> np.ndarray:
    group = age_group(birth_days)
    table = np.array([EXPECTED_DOSES[name] for name in GROUPS] + [0.0])
    return table[group]


def _month_table(group: str, snapshot: dt.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts, lengths, weights = [], [], []
    for month, weight in vx.DOSE_ONE_MONTH_WEIGHTS[group].items():
        start = dt.date.fromisoformat(month + "-01")
        if start > snapshot:
            continue
        following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        starts.append(days(start))
        lengths.append((following - start).days)
        weights.append(weight)
    probabilities = np.asarray(weights) / np.sum(weights)
    return np.asarray(starts), np.asarray(lengths), probabilities


def _first_dose_dates(rng: np.random.Generator, group: np.ndarray, snapshot: dt.date) -> np.ndarray:
    """Dose-one dates by monthly uptake; after the snapshot for a group not yet eligible by then."""
    dates = np.full(len(group), days(snapshot) + 1, dtype=np.int64)
    for code, name in enumerate(GROUPS):
        rows = np.flatnonzero(group == code)
        starts, lengths, probabilities = _month_table(name, snapshot)
        if len(starts) == 0:
            continue
        month = rng.choice(len(starts), size=len(rows), p=probabilities)
        on = starts[month] + (rng.random(len(rows)) * lengths[month]).astype(np.int64)
        dates[rows] = np.minimum(np.maximum(on, days(vx.GROUP_ELIGIBLE_FROM[name])), days(snapshot))
    return dates


def _categorical(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of a (rows x choices) weight matrix; rows of zeros give -1."""
    totals = weights.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(weights, axis=1) / np.where(totals > 0, totals, 1.0)
    picks = (rng.random((len(weights), 1)) > cumulative).sum(axis=1)
    return np.where(totals[:, 0] > 0, np.minimum(picks, weights.shape[1] - 1), -1)


def _first_vaccine(
    rng: np.random.Generator, group: np.ndarray, on: np.ndarray, age_years: np.ndarray
) -> np.ndarray:
    weights = np.zeros((len(group), len(vx.VACCINES)))
    late = on >= days(dt.date(2021, 11, 1))
    for code, name in enumerate(GROUPS):
        rows = group == code
        for vaccine_idx, spec in enumerate(vx.VACCINES):
            early_share, late_share = vx.DOSE_ONE_SHARES[name].get(spec.code, (0.0, 0.0))
            weights[rows, vaccine_idx] = np.where(late[rows], late_share, early_share)
    for vaccine_idx, spec in enumerate(vx.VACCINES):
        allowed = (on >= days(spec.first_used_on)) & (age_years >= spec.age_min) & (age_years <= spec.age_max)
        weights[:, vaccine_idx] *= allowed
    choice = _categorical(rng, weights)
    return np.where(choice >= 0, choice, vx.VACCINE_CODES.index("PFIZER"))


def _second_vaccine(rng: np.random.Generator, first: np.ndarray) -> np.ndarray:
    """Mixing allowed in Vietnam: AstraZeneca then Pfizer or Moderna; Pfizer and Moderna either way."""
    code = {name: vx.VACCINE_CODES.index(name) for name in ("ASTRAZENECA", "PFIZER", "MODERNA")}
    u = rng.random(len(first))
    second = first.copy()
    second[(first == code["ASTRAZENECA"]) & (u < 0.25)] = code["PFIZER"]
    second[(first == code["ASTRAZENECA"]) & (u >= 0.25) & (u < 0.35)] = code["MODERNA"]
    second[(first == code["PFIZER"]) & (u < 0.03)] = code["MODERNA"]
    second[(first == code["MODERNA"]) & (u < 0.03)] = code["PFIZER"]
    return second


def _booster_vaccine(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    codes = [vx.VACCINE_CODES.index(name) for name in vx.BOOSTER_SHARES]
    shares = np.array(list(vx.BOOSTER_SHARES.values()))
    picks = np.array(codes)[rng.choice(len(codes), size=len(group), p=shares / shares.sum())]
    return np.where(group == 0, picks, vx.VACCINE_CODES.index("PFIZER"))


def _primary_interval(rng: np.random.Generator, vaccine: np.ndarray) -> np.ndarray:
    low = np.array([spec.interval_days[0] for spec in vx.VACCINES])[vaccine]
    high = np.array([spec.interval_days[1] for spec in vx.VACCINES])[vaccine]
    # AstraZeneca: 4-6 weeks during the 2021 outbreaks, else the standard 8-12 weeks.
    is_astra = vaccine == vx.VACCINE_CODES.index("ASTRAZENECA")
    outbreak = is_astra & (rng.random(len(vaccine)) < 0.4)
    low = np.where(is_astra & ~outbreak, 56, low)
    high = np.where(outbreak, 42, high)
    return rng.integers(low, high + 1) + rng.exponential(5.0, len(vaccine)).astype(np.int64)


def dose_histories(
    rng: np.random.Generator,
    birth_days: np.ndarray,
    death_days: np.ndarray,
    snapshot: dt.date,
) -> pl.DataFrame:
    """One row per dose: person (index into the inputs), dose_number, vaccine_idx, vaccinated_days.

    Doses after the snapshot or after death are not given; people too young get none.
    """
    count = len(birth_days)
    group = age_group(birth_days)
    eligible = group != NO_GROUP
    min_age_years = np.array([18, 12, 5, 0])[group]
    first_on = np.maximum(
        _first_dose_dates(rng, group, snapshot), birth_days + np.ceil(min_age_years * 365.25).astype(int) + 1
    )  # +1: on or after the birthday, whatever the leap years
    age_years = (first_on - birth_days) // 365
    first = _first_vaccine(rng, group, first_on, age_years)
    first_used = np.array([days(spec.first_used_on) for spec in vx.VACCINES])
    first_on = np.maximum(first_on, first_used[first])  # nothing available yet for this age: wait for Pfizer
    primary = np.array([spec.primary_doses for spec in vx.VACCINES])[first]
    plan_key = np.where(group == 0, np.where(age_years >= 50, "adult_50", "adult"), np.array(GROUPS)[group])
    plan = np.zeros(count, dtype=np.int64)
    for key, shares in vx.INTENDED_DOSES.items():
        rows = plan_key == key
        plan[rows] = rng.choice(4, size=int(rows.sum()), p=np.asarray(shares) / np.sum(shares))
    intended = np.where(plan == 0, 1, primary + plan - 1)

    on = np.zeros((count, MAX_DOSES), dtype=np.int64)
    vaccine = np.zeros((count, MAX_DOSES), dtype=np.int64)
    on[:, 0], vaccine[:, 0] = first_on, first
    second = _second_vaccine(rng, first)
    boosters = [_booster_vaccine(rng, group), _booster_vaccine(rng, group)]
    booster_floor = np.where(group == 1, days(vx.TEEN_BOOSTERS_FROM), days(vx.BOOSTERS_FROM))
    booster_gap = np.where(
        group == 1, vx.BOOSTER_MIN_INTERVAL_DAYS["teen"], vx.BOOSTER_MIN_INTERVAL_DAYS["adult"]
    )
    for slot in range(1, MAX_DOSES):
        booster_rank = slot - primary  # 0: first booster, 1: second booster, negative: still primary
        in_primary = booster_rank < 0
        primary_on = on[:, slot - 1] + _primary_interval(rng, vaccine[:, slot - 1])
        first_booster_on = np.maximum(on[:, slot - 1] + booster_gap, booster_floor)
        second_booster_on = np.maximum(
            on[:, slot - 1] + vx.SECOND_BOOSTER_MIN_INTERVAL_DAYS, days(vx.SECOND_BOOSTERS_FROM)
        )
        booster_on = np.where(booster_rank == 0, first_booster_on, second_booster_on)
        booster_on = booster_on + rng.exponential(45.0, count).astype(np.int64)
        on[:, slot] = np.where(in_primary, primary_on, booster_on)
        booster_vaccine = np.where(booster_rank == 0, boosters[0], boosters[1])
        primary_vaccine = second if slot == 1 else vaccine[:, slot - 1]
        vaccine[:, slot] = np.where(in_primary, primary_vaccine, booster_vaccine)
        not_yet_available = on[:, slot] < first_used[vaccine[:, slot]]
        vaccine[not_yet_available, slot] = vaccine[not_yet_available, slot - 1]
    alive_until = np.where(death_days >= 0, death_days, days(snapshot) + 1)
    given = (
        eligible[:, None]
        & (np.arange(MAX_DOSES)[None, :] < intended[:, None])
        & (on <= days(snapshot))
        & (on < alive_until[:, None])
    )
    given = np.cumprod(given, axis=1).astype(bool)  # a dose is only given after all earlier ones
    person, dose_slot = np.nonzero(given)
    return pl.DataFrame(
        {
            "person": person.astype(np.int64),
            "dose_number": (dose_slot + 1).astype(np.int8),
            "vaccine_idx": vaccine[person, dose_slot].astype(np.int8),
            "vaccinated_days": on[person, dose_slot].astype(np.int32),
        }
    )
