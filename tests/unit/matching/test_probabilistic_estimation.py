"""m estimation takes reviewer-accepted links as labelled data beside the ID-confirmed rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from linkage_builders import citizen, shot_row, to_registry, to_shots

from matching import estimation
from matching.deterministic import match_by_id
from matching.engine import LinkageDatabase
from matching.model import MatchModel, load_model
from matching.pairs import registry_as_shots
from matching.probabilistic import LinkInputs, encode_inputs, fit_model

FAMILIES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ"]
GIVEN = ["Tuấn", "Huy", "Hiếu", "Nam", "Dũng", "Cường", "Thắng", "Hải", "Sơn", "Tùng"]
COUNT_CONFIRMED, COUNT_ACCEPTED = 30, 12


def people() -> list[dict[str, Any]]:
    return [
        citizen(
            f"0010{80 + index % 10:02d}{index:06d}",
            f"{FAMILIES[index % 6]} Văn {GIVEN[index % 10]}",
            dt.date(1980 + index % 10, 1 + index % 12, 1 + index % 28),
            "M",
            ward_code=f"{index % 7:05d}",
        )
        for index in range(60)
    ]


def rows(registry: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first rows carry their CCCD (the ID pass labels them); the others carry no ID and a given
    name with one letter doubled, which only a reviewer can confirm."""
    confirmed = [
        shot_row(
            index,
            person["full_name"],
            person["date_of_birth"],
            "M",
            id_kind="cccd",
            id_value=person["citizen_id"],
            ward_code=person["ward_code"],
        )
        for index, person in enumerate(registry[:COUNT_CONFIRMED])
    ]
    typed_with_typo = [
        shot_row(
            index,
            person["full_name"] + person["full_name"][-1],
            person["date_of_birth"],
            "M",
            ward_code=person["ward_code"],
        )
        for index, person in enumerate(
            registry[COUNT_CONFIRMED : COUNT_CONFIRMED + COUNT_ACCEPTED], start=COUNT_CONFIRMED
        )
    ]
    return confirmed + typed_with_typo


@pytest.fixture(scope="module")
def inputs() -> tuple[LinkInputs, MatchModel, pl.DataFrame]:
    registry_rows = people()
    registry, shots = to_registry(registry_rows), to_shots(rows(registry_rows))
    model = load_model()
    deterministic = match_by_id(shots, registry).collect()
    accepted = pl.DataFrame(
        {
            "file_hash": ["batch"] * (COUNT_ACCEPTED + 1),
            "source_row": [*range(COUNT_CONFIRMED, COUNT_CONFIRMED + COUNT_ACCEPTED), 999],
            "citizen_id": [
                person["citizen_id"]
                for person in registry_rows[COUNT_CONFIRMED : COUNT_CONFIRMED + COUNT_ACCEPTED]
            ]
            + ["001080999999"],  # a row and citizen not in this run: ignored
        },
        schema_overrides={"source_row": pl.Int32},
    )
    return encode_inputs(shots, registry, deterministic, model), model, accepted


def fitted(inputs: LinkInputs, model: MatchModel, accepted: pl.DataFrame | None) -> MatchModel:
    copy = model.copy()
    fit_model(copy, inputs, accepted)
    return copy


def test_accepted_links_join_the_labelled_pairs(inputs: tuple[LinkInputs, MatchModel, pl.DataFrame]) -> None:
    encoded, model, accepted = inputs
    without = fitted(encoded, model, None)
    with_accepted = fitted(encoded, model, accepted)
    assert without.fitted["labelled_pairs"] == COUNT_CONFIRMED
    assert with_accepted.fitted["labelled_pairs"] == COUNT_CONFIRMED + COUNT_ACCEPTED


def test_accepted_links_teach_m_what_the_id_pass_cannot(
    inputs: tuple[LinkInputs, MatchModel, pl.DataFrame],
) -> None:
    """The ID-confirmed rows all spell the given name exactly; the accepted ones carry a typo, so the
    typo level's m rises and the exact levels' m falls by as much."""
    encoded, model, accepted = inputs
    without = fitted(encoded, model, None).comparison("given_name")
    with_accepted = fitted(encoded, model, accepted).comparison("given_name")
    assert with_accepted.level("typo").m > without.level("typo").m + 0.02
    exact_without = without.level("exact_marked").m + without.level("exact_plain").m
    exact_with = with_accepted.level("exact_marked").m + with_accepted.level("exact_plain").m
    assert exact_with < exact_without
    assert sum(level.m for level in with_accepted.levels) == pytest.approx(1.0)


def test_accepted_links_never_change_u(inputs: tuple[LinkInputs, MatchModel, pl.DataFrame]) -> None:
    encoded, model, accepted = inputs
    without = fitted(encoded, model, None).comparison("given_name")
    with_accepted = fitted(encoded, model, accepted).comparison("given_name")
    assert [level.u for level in with_accepted.levels] == [level.u for level in without.levels]


def test_household_levels_read_only_the_housemates_and_equal_the_whole_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """u_household compares registry housemates (citizens sharing a phone): the database holds only the
    citizens the pairs name, and the fit equals one against the whole registry."""
    registry_rows = [{**person, "phone": f"09{index // 3:08d}"} for index, person in enumerate(people())]
    registry, shots = to_registry(registry_rows), to_shots(rows(registry_rows))
    model = load_model()
    encoded = encode_inputs(shots, registry, match_by_id(shots, registry).collect(), model)
    monkeypatch.setattr(estimation, "MIN_HOUSEHOLD_PAIRS", 1)

    fitted_model = fitted(encoded, model, None)

    pairs = estimation.household_pairs(encoded.registry)
    members = encoded.registry.filter(pl.col("citizen_index").is_in(pairs["shot_index"].implode()))
    expected = model.copy()
    with LinkageDatabase(registry_as_shots(members), encoded.registry, encoded.vocabulary) as whole:
        estimation.estimate_u_household(expected, whole.levels(pairs, expected))
    assert fitted_model.fitted["household_pairs"] == pairs.height == 60
    estimated = [c for c in expected.comparisons if c.role == "person" and c.name != "id_number"]
    assert estimated
    for comparison in estimated:
        assert [level.u_household for level in fitted_model.comparison(comparison.name).levels] == [
            level.u_household for level in comparison.levels
        ]
