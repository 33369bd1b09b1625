"""Each shot's top candidates and masses (matching.engine): the same bits whatever order the pairs come
in, equal to the masses' definition, and a tie on evidence broken by citizen_index like the ranking."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linkage_builders import to_registry, to_shots
from polars.testing import assert_frame_equal
from test_probabilistic_linkage import CASES, SPECIAL, confirmed_rows, filler_citizens

from matching import engine
from matching.deterministic import match_by_id
from matching.engine import LinkageDatabase, shot_masses
from matching.model import load_model
from matching.probabilistic import encode_inputs

RANKED_SCHEMA = {
    "shot_index": pl.UInt32,
    "citizen_index": pl.UInt32,
    "registry_ward": pl.Int32,
    "evidence_weight": pl.Float64,
    "household_weight": pl.Float64,
}


def ranked(rows: list[tuple[int, int, int | None, float, float]]) -> pl.DataFrame:
    """Scored pairs in the order top_candidates reads them: shot, evidence descending, citizen."""
    frame = pl.DataFrame(rows, schema=RANKED_SCHEMA, orient="row")
    return frame.sort(["shot_index", "evidence_weight", "citizen_index"], descending=[False, True, False])


def expected_masses(rows: list[tuple[int, int, int | None, float, float]]) -> dict[int, tuple[float, float]]:
    """The definition, shot by shot: the top candidate is the highest evidence, then the lowest index."""
    result = {}
    for shot in {row[0] for row in rows}:
        own = [row for row in rows if row[0] == shot]
        _, top_citizen, top_ward, top_match, _ = min(own, key=lambda row: (-row[3], row[1]))
        top_household = max(row[4] for row in own)
        match = top_match + math.log2(math.fsum(2.0 ** (row[3] - top_match) for row in own))
        kept = [row for row in own if row[1] == top_citizen or row[2] != top_ward]
        household_sum = math.fsum(2.0 ** (row[4] - top_household) for row in kept)
        result[shot] = (match, top_household + math.log2(household_sum) if household_sum else -math.inf)
    return result


pair_rows = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.integers(0, 40),
        st.one_of(st.none(), st.integers(0, 3)),
        st.sampled_from([-12.0, -3.5, 0.0, 4.25, 17.0, 30.0]),  # few values: many ties
        st.sampled_from([-20.0, -1.0, 2.5, 9.0]),
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda row: (row[0], row[1]),
)


@settings(max_examples=150, deadline=None)
@given(pair_rows)
def test_masses_and_ranks_follow_their_definition(
    rows: list[tuple[int, int, int | None, float, float]],
) -> None:
    frame = ranked(rows)
    masses = shot_masses(frame)
    expected = expected_masses(rows)

    assert masses["shot_index"].to_list() == frame["shot_index"].to_list()
    assert masses["citizen_index"].to_list() == frame["citizen_index"].to_list()
    for shot, group in masses.group_by("shot_index", maintain_order=True):
        assert group["candidate_rank"].to_list() == list(range(1, group.height + 1))
        match, household = expected[shot[0]]
        assert group["log2_match_mass"].unique().to_list() == [pytest.approx(match, rel=1e-12, abs=1e-12)]
        assert group["log2_household_mass"].unique().to_list() == [
            pytest.approx(household, rel=1e-12, abs=1e-12)
        ]


def test_a_tie_on_evidence_takes_the_lower_citizen_as_the_top_and_its_ward() -> None:
    """Citizens 7 and 3 tie; 3 is ranked first, so 7 (same ward as 3) brings no household term of its
    own: only 3's household term and 9's (another ward) count."""
    rows = [(0, 7, 100, 20.0, 15.0), (0, 3, 100, 20.0, 1.0), (0, 9, 200, 5.0, 1.0)]

    masses = shot_masses(ranked(rows))

    assert masses["citizen_index"].to_list() == [3, 7, 9]
    assert masses["candidate_rank"].to_list() == [1, 2, 3]
    assert masses["log2_household_mass"][0] == pytest.approx(1.0 + math.log2(2.0))


def test_no_pairs_give_no_rows() -> None:
    assert shot_masses(ranked([])).height == 0


@pytest.fixture(scope="module")
def night() -> tuple[pl.DataFrame, pl.DataFrame, object]:
    fillers = filler_citizens(240)
    registry = to_registry(fillers + SPECIAL)
    shots = to_shots([row for _, row, _, _ in CASES] + confirmed_rows(fillers)[:40])
    inputs = encode_inputs(shots, registry, match_by_id(shots, registry).collect(), load_model())
    every_pair = (
        inputs.shots.select("shot_index")
        .join(inputs.registry.select("citizen_index"), how="cross")
        .with_columns(id_within_one_edit=pl.lit(False))
    )
    return inputs, every_pair, load_model()


def test_top_candidates_are_the_same_bits_whatever_order_the_pairs_come_in(night: tuple) -> None:
    """DuckDB hands pairs over in whichever order its threads finish: the top candidates, their ranks and
    the masses must not depend on it (a night run twice decides the same)."""
    inputs, every_pair, model = night
    results = []
    for seed in (None, 1, 2):
        pairs = every_pair if seed is None else every_pair.sample(fraction=1.0, shuffle=True, seed=seed)
        with LinkageDatabase(inputs.shots, inputs.registry, inputs.vocabulary) as database:
            results.append(database.top_candidates(pairs, model))

    assert results[0].height > 0
    assert results[0]["candidate_rank"].max() == 3
    for other in results[1:]:
        assert_frame_equal(results[0], other, check_exact=True)


def test_top_candidates_scored_in_groups_of_shots_equal_one_group(
    night: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring a partition's pairs group by group (to bound memory) gives the same rows, in the same order,
    to the bit, as scoring them at once."""
    inputs, every_pair, model = night
    with LinkageDatabase(inputs.shots, inputs.registry, inputs.vocabulary) as database:
        at_once = database.top_candidates(every_pair, model)
        monkeypatch.setattr(engine, "PAIRS_PER_SCORING_GROUP", every_pair.height // 7)
        in_groups = database.top_candidates(every_pair, model)

    assert at_once.height > 0
    assert_frame_equal(in_groups, at_once, check_exact=True)


@pytest.mark.parametrize("side", ["shots", "registry"])
def test_an_index_naming_two_records_is_refused(night: tuple, side: str) -> None:
    """The engine reads each pair's records by row: an index held by two records would make one pair two
    candidates (its evidence counted twice in the shot's mass), so it is refused rather than compared."""
    inputs, _, _ = night
    shots, registry = inputs.shots, inputs.registry
    if side == "shots":
        shots = pl.concat([shots, shots.tail(1)])
    else:
        registry = pl.concat([registry, registry.head(1)])

    with pytest.raises(ValueError, match="names two records"):
        LinkageDatabase(shots, registry, inputs.vocabulary)


def test_weights_are_the_models_by_level_and_add_up_to_the_evidence(night: tuple) -> None:
    """Each field weight is its level's log2(m/u) (0 when missing), or log2(m / the candidate value's
    registry frequency) at a term-frequency level, computed in float64 although the frequencies are
    stored as float32; evidence is their sum in the comparisons' order, person_weight the person
    comparisons' log2(m/u_household). Checked to the bit against a plain evaluation of that definition."""
    inputs, every_pair, model = night
    with LinkageDatabase(inputs.shots, inputs.registry, inputs.vocabulary) as database:
        top = database.top_candidates(every_pair, model)
    frequencies = top.select("citizen_index").join(
        inputs.registry.select("citizen_index", pl.selectors.starts_with("tf_")),
        on="citizen_index",
        how="left",
        maintain_order="left",
    )
    assert frequencies.select(pl.selectors.starts_with("tf_")).null_count().sum_horizontal().item() < (
        frequencies.height * (frequencies.width - 1)
    )
    count_frequency_weights = 0
    for row, tf_row in zip(top.iter_rows(named=True), frequencies.iter_rows(named=True), strict=True):
        evidence, person = 0.0, 0.0
        for position, comparison in enumerate(model.comparisons):
            level = row[f"level_{comparison.name}"]
            weight = 0.0 if level == -1 else comparison.levels[level].weight
            if level >= 0 and comparison.labels[level] in comparison.term_frequency:
                frequency = tf_row[f"tf_{comparison.term_frequency[comparison.labels[level]]}"]
                if frequency is not None:
                    weight = math.log2(comparison.levels[level].m / max(float(frequency), engine.TF_FLOOR))
                    count_frequency_weights += 1
            assert row[f"weight_{comparison.name}"] == weight, comparison.name
            evidence = weight if position == 0 else evidence + weight
            household = comparison.levels[level].u_household if level >= 0 else None
            person_term = 0.0
            if comparison.role == "person" and level >= 0:
                person_term = math.log2(comparison.levels[level].m / (household or 1.0))
            person = person_term if position == 0 else person + person_term
        assert row["evidence_weight"] == evidence
        assert row["person_weight"] == person
    assert count_frequency_weights > 0
