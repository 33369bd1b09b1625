"""The partitioned match stage: every row in exactly one partition, and the same decisions as one pass.

The equality check runs the three steps (plan, each partition, combine) through a memory:// store, the
way workers that share only a bucket would, against matching.probabilistic.link_probabilistically on the
same generated night.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from matching.deterministic import match_by_id
from matching.probabilistic import link_probabilistically
from synth import SynthConfig, generate
from synth.evaluation import prepare_generated
from vaxsync.core.settings import Settings
from vaxsync.orchestration import match_partitions, storage
from vaxsync.orchestration.match_partitions import (
    PartitionStore,
    combine_partitions,
    gather_partition,
    partition_of,
    plan_partitions,
)

AS_OF = dt.date(2023, 1, 31)
KEYS = ["file_hash", "source_row"]


def shots_in(
    provinces: Sequence[int | None],
    facilities: Sequence[int | None],
    to_link: Sequence[bool],
    districts: Sequence[int | None] | None = None,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "province": provinces,
            "district": districts or [None] * len(provinces),
            "facility_province": facilities,
            "is_to_link": to_link,
        },
        schema={
            "province": pl.Int32,
            "district": pl.Int32,
            "facility_province": pl.Int32,
            "is_to_link": pl.Boolean,
        },
    )


def test_every_row_is_in_exactly_one_partition_and_provinces_are_never_split() -> None:
    provinces = [1] * 50 + [79] * 55 + [48] * 30 + [None] * 10 + [2] * 5
    facilities = [1] * 50 + [79] * 55 + [48] * 30 + [31] * 10 + [None] * 5
    shots = shots_in(provinces, facilities, [True] * len(provinces))

    partition = partition_of(shots, rows_per_partition=60)

    assert partition.len() == shots.height and partition.null_count() == 0
    assert partition.n_unique() == math.ceil(shots.height / 60)
    by_province = (
        shots.with_columns(partition)
        .group_by(pl.coalesce("province", "facility_province"))
        .agg(pl.col("partition").n_unique())
    )
    assert by_province["partition"].to_list() == [1] * by_province.height


def test_a_province_above_the_target_is_split_by_district_never_within_one() -> None:
    districts = [760] * 40 + [761] * 40 + [762] * 40 + [None] * 10 + [1] * 20
    provinces = [79] * 130 + [1] * 20
    shots = shots_in(provinces, provinces, [True] * len(provinces), districts)

    assigned = shots.with_columns(partition_of(shots, rows_per_partition=50))

    per_district = assigned.group_by("province", "district").agg(pl.col("partition").n_unique())
    assert per_district["partition"].max() == 1
    assert assigned.filter(pl.col("province") == 79)["partition"].n_unique() == 3
    assert assigned.filter(pl.col("province") == 1)["partition"].n_unique() == 1


def test_partitions_are_balanced_by_rows_to_link() -> None:
    sizes = {1: 40, 2: 35, 3: 30, 4: 25, 5: 20, 6: 10}
    provinces = [code for code, size in sizes.items() for _ in range(size)]
    shots = shots_in(provinces, provinces, [True] * len(provinces))

    loads = shots.with_columns(partition_of(shots, rows_per_partition=60)).group_by("partition").len()

    assert loads.height == 3
    assert loads["len"].max() - loads["len"].min() <= max(sizes.values())


def test_a_row_without_a_residence_goes_with_its_facility_province() -> None:
    shots = shots_in([7, 7, None, 9, 9, 9], [7, 7, 7, 9, 9, 9], [True] * 6)

    partition = partition_of(shots, rows_per_partition=3).to_list()

    assert partition[2] == partition[0] != partition[3]


def test_rows_needing_no_linking_do_not_count_towards_the_size() -> None:
    shots = shots_in([1] * 10 + [2] * 10, [1] * 10 + [2] * 10, [True] * 10 + [False] * 10)

    assert partition_of(shots, rows_per_partition=10).n_unique() == 1


def test_an_area_with_nothing_to_link_makes_no_partition_of_its_own() -> None:
    shots = shots_in([1] * 30 + [2] * 5, [1] * 30 + [2] * 5, [True] * 30 + [False] * 5)

    assert partition_of(shots, rows_per_partition=10).n_unique() == 1


def test_the_plan_counts_every_row_to_link_once(night: dict[str, Any]) -> None:
    assert sum(night["plan"]["rows_to_link_by_partition"].values()) == night["linked"].matches.height


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("synth_partitions")
    generate(data_dir, SynthConfig(citizens=3_000, shots=900, seed=31, snapshot_date=AS_OF))
    inputs = prepare_generated(data_dir)
    shots, registry = pl.scan_parquet(inputs.normalized), pl.scan_parquet(inputs.registry)
    settings = Settings(
        as_of=AS_OF,
        partition_store=f"memory://vaxsync-partitions-{uuid.uuid4().hex}",
        match_partition_rows=60,
        # its own warehouse: the default (data/demo) may hold a demo night's match models, whose m history
        # the partitioned fit would read and the one-pass link would not
        warehouse_path=tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb",
    )
    plan = plan_partitions(settings, shots, registry, input_counts={})
    gathered = [gather_partition(settings, partition) for partition in plan["partitions"]]
    model_path = tmp_path_factory.mktemp("model") / "matching_model.json"
    deterministic, linked, _ = combine_partitions(settings, model_path)
    one_pass = link_probabilistically(shots, registry, match_by_id(shots, registry).collect())
    return {
        "settings": settings,
        "plan": plan,
        "gathered": gathered,
        "deterministic": deterministic,
        "linked": linked,
        "one_pass": one_pass,
        "truth": inputs.truth,
        "registry": inputs.registry,
        "normalized": inputs.normalized,
        "model_path": model_path,
    }


def test_the_night_is_split_into_several_partitions(night: dict[str, Any]) -> None:
    assert len(night["plan"]["partitions"]) >= 3
    assert [result["partition"] for result in night["gathered"]] == night["plan"]["partitions"]
    assert all(result["candidate_pairs"] > 0 for result in night["gathered"])


def test_partitioned_decisions_equal_one_pass(night: dict[str, Any]) -> None:
    partitioned, one_pass = night["linked"], night["one_pass"]

    assert partitioned.matches["citizen_id"].is_not_null().sum() > 0
    assert_frame_equal(partitioned.matches.sort(KEYS), one_pass.matches.sort(KEYS))
    assert_frame_equal(partitioned.review_candidates, one_pass.review_candidates)
    fitted, fitted_once = dict(partitioned.model_used["fitted"]), dict(one_pass.model_used["fitted"])
    # the night-wide prior sums the partitions' masses in another order: equal up to rounding
    assert fitted.pop("prior_log2") == pytest.approx(fitted_once.pop("prior_log2"), rel=1e-12)
    assert fitted.pop("share_in_registry") == pytest.approx(fitted_once.pop("share_in_registry"), rel=1e-12)
    # ... and so the threshold the error budget picks from the probabilities built on it
    assert fitted.pop("auto_post_probability_used") == pytest.approx(
        fitted_once.pop("auto_post_probability_used"), rel=1e-12
    )
    assert fitted == fitted_once
    union = pl.col("blocking_rule") == "union"
    assert (
        partitioned.blocking_report.filter(union)["count_pairs"].item()
        == one_pass.blocking_report.filter(union)["count_pairs"].item()
    )
    assert Path(night["model_path"]).is_file()


def test_movers_are_linked_by_the_partition_of_the_shot(night: dict[str, Any]) -> None:
    """A citizen vaccinated outside the province they are registered in is found in the shot's partition:
    blocking reads the registry's keys nationwide, so there is no province-limited candidate set to miss
    them (and no second pass that could post a namesake found first at home)."""
    rows = pl.read_parquet(night["normalized"]).select(*KEYS, "source_file", "province_code")
    citizens = pl.read_parquet(night["registry"]).select(
        pl.col("citizen_id").alias("true_citizen_id"), pl.col("province_code").alias("home_province")
    )
    movers = (
        night["truth"]
        .join(rows, on=["source_file", "source_row"])
        .join(citizens, on="true_citizen_id")
        .filter(pl.col("province_code") != pl.col("home_province"))
        .select(*KEYS, "true_citizen_id")
    )
    linked = night["linked"].matches.join(movers, on=KEYS)
    posted = linked.filter(pl.col("citizen_id").is_not_null())

    assert posted.height > 0, "the generated night has movers posted probabilistically"
    assert (posted["citizen_id"] == posted["true_citizen_id"]).all()


def test_a_second_plan_replaces_the_first(night: dict[str, Any]) -> None:
    settings = night["settings"].model_copy(update={"match_partition_rows": 10_000})
    store = PartitionStore(settings)
    shots, registry = pl.scan_parquet(night["normalized"]), pl.scan_parquet(night["registry"])

    plan = plan_partitions(settings, shots, registry, input_counts={})

    assert plan["partitions"] == ["part-000"]
    assert not (store.root / "partitions" / "part-001").exists()


def test_the_same_night_matched_again_gives_the_same_bits(
    night: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Idempotent: the whole match stage run again on the same night gives the same decisions, the same
    candidates and the same scores to the bit (DuckDB hands the pairs over in any order)."""
    settings = night["settings"].model_copy(
        update={"partition_store": f"memory://vaxsync-partitions-{uuid.uuid4().hex}"}
    )
    shots, registry = pl.scan_parquet(night["normalized"]), pl.scan_parquet(night["registry"])
    plan = plan_partitions(settings, shots, registry, input_counts={})
    for partition in plan["partitions"]:
        gather_partition(settings, partition)
    _, again, _ = combine_partitions(settings, tmp_path_factory.mktemp("again") / "matching_model.json")

    first = night["linked"]
    assert_frame_equal(again.matches.sort(KEYS), first.matches.sort(KEYS), check_exact=True)
    assert_frame_equal(again.review_candidates, first.review_candidates, check_exact=True)
    assert again.model_used == first.model_used


def test_a_partition_file_failing_to_write_beside_the_fit_fails_the_plan(
    night: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partitions' inputs are written in a thread while the model is fitted: its error still stops
    the plan, and no plan names partitions whose files are missing."""
    settings = night["settings"].model_copy(
        update={"partition_store": f"memory://vaxsync-partitions-{uuid.uuid4().hex}"}
    )
    store = PartitionStore(settings)
    shots, registry = pl.scan_parquet(night["normalized"]), pl.scan_parquet(night["registry"])
    write_parquet = storage.write_parquet

    def failing_on_shots(frame: pl.DataFrame, path: Any) -> Any:
        if path == store.shots_file:
            raise OSError("disk full")
        return write_parquet(frame, path)

    monkeypatch.setattr(storage, "write_parquet", failing_on_shots)

    with pytest.raises(OSError, match="disk full"):
        plan_partitions(settings, shots, registry, input_counts={})
    assert not store.plan_file.exists()
    assert not store.model_file.exists()


def test_an_id_pass_failing_beside_the_encoding_fails_the_plan(
    night: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ID pass runs in a thread while the rows are encoded: its error still stops the plan."""
    settings = night["settings"].model_copy(
        update={"partition_store": f"memory://vaxsync-partitions-{uuid.uuid4().hex}"}
    )
    shots, registry = pl.scan_parquet(night["normalized"]), pl.scan_parquet(night["registry"])

    def failing_id_pass(*args: Any) -> Any:
        raise RuntimeError("ID pass failed")

    monkeypatch.setattr(match_partitions, "match_by_id", failing_id_pass)

    with pytest.raises(RuntimeError, match="ID pass failed"):
        plan_partitions(settings, shots, registry, input_counts={})
    assert not PartitionStore(settings).plan_file.exists()
