"""People absent from the registry who share a registered adult's name and birth date, with their own CCCD."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synth import SynthConfig
from synth.admin import load_wards
from synth.plan import build_plan
from synth.registry import generate_people

NAME_WORDS = ["w1", "w2", "w3", "w4"]


@pytest.fixture(scope="module")
def persons_and_people() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    config = SynthConfig(citizens=6_000, shots=3_000, seed=11, rates={"person_absent_namesake": 0.05})
    wards = load_wards(config.resolved_admin_units_path())
    streams = [np.random.default_rng(seed) for seed in np.random.SeedSequence(config.seed).spawn(2)]
    people = generate_people(streams[0], wards, config)
    plan = build_plan(streams[1], people, wards, config)
    return plan.persons, people, plan.facilities


def test_each_shares_a_registered_adults_name_and_birth_date(
    persons_and_people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    persons, people, _ = persons_and_people
    namesakes = persons.filter(pl.col("person_kind") == "absent_namesake")
    assert namesakes.height >= 20
    assert namesakes["citizen_id"].is_null().all(), "absent: the truth has no citizen for them"
    registered = people.select(*NAME_WORDS, "birth_days", "sex", pl.col("province_code").alias("home"))
    twins = namesakes.join(registered, on=[*NAME_WORDS, "birth_days", "sex"], how="semi")
    assert twins.height == namesakes.height
    assert 0.1 < (~namesakes["is_birth_date_known"]).mean() < 0.45  # type: ignore[operator]


def test_each_carries_a_well_formed_cccd_of_another_province_that_the_registry_lacks(
    persons_and_people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    persons, people, facilities = persons_and_people
    namesakes = persons.filter(pl.col("person_kind") == "absent_namesake")
    namesakes = namesakes.with_columns(
        facilities["province_code"].gather(namesakes["facility_idx"]).alias("facility_province")
    )
    own = namesakes["own_id"]
    assert own.str.contains(r"^\d{12}$").all()
    assert not own.is_in(people["citizen_id"].drop_nulls().implode()).any()
    assert own.n_unique() == own.len()
    century_sex = own.str.slice(3, 1).cast(pl.Int32)
    assert (own.str.slice(1, 2) == namesakes["facility_province"]).all()
    assert ((century_sex % 2) == namesakes["sex"].cast(pl.Int32)).all()
    assert (own.str.slice(4, 2).cast(pl.Int32) == namesakes["birth_year"] % 100).all()
    homes = namesakes.join(
        people.select(*NAME_WORDS, "birth_days", pl.col("province_code").alias("home")),
        on=[*NAME_WORDS, "birth_days"],
    )
    assert (homes["home"] != homes["facility_province"]).mean() > 0.9  # type: ignore[operator]


def test_registry_names_are_as_concentrated_as_vietnams(
    persons_and_people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    _, people, _ = persons_and_people
    kinh = people.filter(pl.col("scheme") == "kinh")
    shares = kinh["w1"].value_counts(normalize=True, sort=True)["proportion"]
    assert 0.33 < shares[0] < 0.43, "Nguyễn, about 38%"
    for sex in (0, 1):
        given = kinh.filter(pl.col("sex") == sex)["w4"].value_counts(normalize=True, sort=True)
        assert given["proportion"].head(40).sum() > 0.8, "a few dozen given names cover most people"
