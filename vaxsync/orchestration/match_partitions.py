"""The match stage in partitions: prepare once, gather candidates per partition, decide once.

    plan_partitions   (one task)    match input, ID pass, encoding, the model fitted on the whole night,
                                    the rows to link split into partitions by province
    gather_partition  (one task per partition, mapped over Airflow workers)
                                    blocking against the whole registry's keys + comparisons -> evidence
    combine_partitions (one task)   the night's prior and auto-post threshold over every partition's
                                    evidence, decisions, same-person rows, the files match_batch writes

A row's candidates do not depend on its partition (each partition blocks against the registry's keys
nationwide, so a citizen vaccinated away from home is found where the shot was given), and the
decisions are taken once, over all partitions: the result equals the unpartitioned linkage
(matching.probabilistic.link_probabilistically) row for row. Partitions hold whole provinces (a big
province whole districts), so a failed partition names a few provinces; a partition's memory follows
its own rows and their candidates, plus the registry's blocking keys.

Partitions exchange Parquet and JSON through vaxsync.orchestration.storage under `PartitionStore.root`: the run's
work folder locally, an s3:// or gs:// prefix when workers share nothing but a bucket.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
from upath import UPath

from matching.deterministic import match_by_id
from matching.estimation import accumulated_m_counts
from matching.features import Vocabulary
from matching.model import MatchModel, load_model
from matching.probabilistic import (
    EncodedRegistry,
    Evidence,
    LinkInputs,
    decide_links,
    encode_shots,
    fit_model,
    gather_evidence,
    with_shot_context,
)
from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import DuckDBConfig
from vaxsync.marts.registry_cache import encoded_registry
from vaxsync.marts.warehouse import stored_match_models
from vaxsync.orchestration import storage

log = logging.getLogger(__name__)

AREA_COLUMN = "match_area"  # the row's province of residence, else the facility's province
UNKNOWN_AREA = -1


class PartitionStore:
    """Named locations of one night's partition files (vaxsync.orchestration.storage: a folder or an fsspec URL)."""

    def __init__(self, settings: Settings) -> None:
        if settings.partition_store:
            self.root = storage.location(settings.partition_store) / settings.as_of.isoformat()
        else:
            self.root = storage.location(settings.run_work_dir / "match")

    @property
    def plan_file(self) -> UPath:
        return self.root / "plan.json"

    @property
    def model_file(self) -> UPath:
        """The model fitted on the whole night (before the prior and threshold, set when deciding)."""
        return self.root / "model.json"

    @property
    def deterministic_file(self) -> UPath:
        return self.root / "deterministic.parquet"

    @property
    def shots_file(self) -> UPath:
        """Every matchable row, encoded, with its ID-pass context and partition."""
        return self.root / "shots.parquet"

    @property
    def registry_file(self) -> UPath:
        """The registry encoded with tonight's vocabulary, with term frequencies."""
        return self.root / "registry.parquet"

    @property
    def vocabulary_file(self) -> UPath:
        return self.root / "vocabulary.parquet"

    def partition_file(self, partition: str, name: str) -> UPath:
        return self.root / "partitions" / partition / f"{name}.parquet"


# --- plan -----------------------------------------------------------------------------------------------


def plan_partitions(
    settings: Settings,
    shots: pl.LazyFrame,
    registry: pl.LazyFrame,
    *,
    input_counts: dict[str, int],
    accepted_pairs: pl.DataFrame | None = None,
    snapshot_hash: str | None = None,
) -> dict[str, Any]:
    """Run the ID pass, encode both sides, fit the model once, and write the partitions' inputs.

    Returns the plan (also saved as plan.json): the partition names in order, their row counts and the
    match input's counts (carried to the stage's result). accepted_pairs: reviewer-accepted links, labelled
    data for the fit (matching.probabilistic.fit_model). snapshot_hash: the registry snapshot's content
    hash, whose encoding is then read from the registry cache (built on the snapshot's first night)
    instead of encoding the whole registry again; without it the registry is encoded here.
    """

    store = PartitionStore(settings)
    storage.remove_tree(store.root)  # a re-run starts from nothing: no partition of an older plan
    model = load_model().copy()
    deterministic, inputs, cached = _id_pass_and_encoding(settings, shots, registry, model, snapshot_hash)
    # m rests on every published night's ID-confirmed pairs plus tonight's: stable whatever else lands.
    m_history = accumulated_m_counts(model, stored_match_models(settings))
    encoded = inputs.shots.with_columns(partition=partition_of(inputs.shots, settings.match_partition_rows))
    # The partitions' inputs do not depend on the fit: written in a thread while it runs (polars' Parquet
    # writer releases the GIL, the fit leaves the second core mostly idle). Only frames held anyway.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan-files") as background:
        writing = background.submit(_write_partition_inputs, store, deterministic, encoded, inputs, cached)
        fit_model(model, inputs, accepted_pairs, m_history, DuckDBConfig.of_matching(settings))
        rows = writing.result()
    storage.write_json(store.model_file, model.to_dict())
    partitions = list(rows)
    plan = {
        "partitions": partitions,
        "rows_to_link_by_partition": rows,
        "input_counts": input_counts,
        "started_at_epoch": time.time(),
    }
    storage.write_json(store.plan_file, plan)
    log.info("match plan: %d rows to link in %d partitions", sum(rows.values()), len(partitions))
    return plan


def _id_pass_and_encoding(
    settings: Settings,
    shots: pl.LazyFrame,
    registry: pl.LazyFrame,
    model: MatchModel,
    snapshot_hash: str | None,
) -> tuple[pl.DataFrame, LinkInputs, EncodedRegistry | None]:
    """The ID pass's matches, both sides encoded with each row's context, and the snapshot's cached
    encoding (None without a snapshot hash). The ID pass (polars, off the GIL) runs in a thread while
    this one encodes the rows' names (Python per distinct name): only the rows' context needs it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="id-pass") as background:
        id_pass = background.submit(lambda: match_by_id(shots, registry).collect())
        cached = (
            encoded_registry(settings, snapshot_hash=snapshot_hash, model=model) if snapshot_hash else None
        )
        encoded_shots = encode_shots(shots, registry, model, encoded_registry=cached)
        deterministic = id_pass.result()
    return deterministic, with_shot_context(encoded_shots, deterministic), cached


def _write_partition_inputs(
    store: PartitionStore,
    deterministic: pl.DataFrame,
    encoded: pl.DataFrame,
    inputs: LinkInputs,
    cached: EncodedRegistry | None,
) -> dict[str, int]:
    """Write what every partition and the combine read besides the model: the ID pass's matches, the
    encoded rows, the encoded registry, the vocabulary and each partition's rows to link. Returns the
    rows to link per partition, in partition order."""
    storage.write_parquet(deterministic, store.deterministic_file)
    storage.write_parquet(encoded, store.shots_file)
    if cached is not None and cached.records_file is not None:  # the same rows: copied, not written again
        storage.copy_file(cached.records_file, store.registry_file)
    else:
        storage.write_parquet(inputs.registry, store.registry_file)
    storage.write_parquet(inputs.vocabulary.words.to_frame("word"), store.vocabulary_file)
    to_link = encoded.filter(pl.col("is_to_link"))
    partitions = sorted(encoded["partition"].unique().to_list()) or [partition_name(0)]
    for partition in partitions:
        storage.write_parquet(
            to_link.filter(pl.col("partition") == partition).drop("partition"),
            store.partition_file(partition, "shots"),
        )
    rows = dict(to_link.group_by("partition").len().iter_rows())
    return {partition: rows.get(partition, 0) for partition in partitions}


def partition_name(number: int) -> str:
    return f"part-{number:03d}"


def partition_of(shots: pl.DataFrame, rows_per_partition: int) -> pl.Series:
    """Each row's partition: provinces (of residence, else of the facility) grouped into partitions of
    about rows_per_partition rows to link, largest first into the least loaded partition.

    A province with more rows than that is split by district (a district is never split, so a partition
    can exceed the target by one district). Rows that need no linking ride along with their area.
    """
    if shots.is_empty():  # a night with nothing to match (e.g. the same night run again)
        return pl.Series("partition", [], dtype=pl.String)
    areas = _areas(shots, rows_per_partition)
    sizes = (
        areas.with_columns(to_link=shots["is_to_link"])
        .group_by(AREA_COLUMN)
        .agg(rows=pl.col("to_link").sum())
        .sort(["rows", AREA_COLUMN], descending=[True, False])
    )
    total = int(sizes["rows"].sum())
    areas_with_rows = sizes.filter(pl.col("rows") > 0).height
    count = max(1, min(areas_with_rows, math.ceil(total / max(rows_per_partition, 1))))
    loads = [0] * count
    assigned: dict[int, str] = {}
    for area_code, rows in sizes.iter_rows():  # one iteration per area (a few hundred at most), not per row
        emptiest = loads.index(min(loads))
        loads[emptiest] += rows
        assigned[area_code] = partition_name(emptiest)
    return areas.to_series().replace_strict(assigned, return_dtype=pl.String).alias("partition")


def _areas(shots: pl.DataFrame, rows_per_partition: int) -> pl.DataFrame:
    """AREA_COLUMN per row: its province, or (province, district) for a province above the target size."""
    province = pl.coalesce("province", "facility_province", pl.lit(UNKNOWN_AREA))
    rows_in_province = pl.col("is_to_link").sum().over(province)
    district = pl.when(pl.col("province").is_not_null()).then(pl.col("district"))
    in_district = province.cast(pl.Int64) * 1_000_000 + district.fill_null(UNKNOWN_AREA).cast(pl.Int64)
    return shots.select(
        pl.when(rows_in_province > rows_per_partition)
        .then(in_district)
        .otherwise(province.cast(pl.Int64))
        .alias(AREA_COLUMN)
    )


# --- one partition --------------------------------------------------------------------------------------


def gather_partition(settings: Settings, partition: str) -> dict[str, Any]:
    """Blocking and comparisons for one partition's rows; writes its pairs, top candidates and report."""

    store = PartitionStore(settings)
    started = time.perf_counter()
    model = MatchModel.from_dict(storage.read_json(store.model_file))
    to_link = storage.read_parquet(store.partition_file(partition, "shots"))
    evidence = gather_evidence(
        to_link,
        storage.scan_parquet(store.registry_file),
        _vocabulary(store),
        model,
        duckdb_config=DuckDBConfig.of_matching(settings),
    )
    pairs = evidence.pairs.lazy().collect()  # a frame here; only combine reads them back as a scan
    storage.write_parquet(pairs, store.partition_file(partition, "pairs"))
    storage.write_parquet(evidence.top, store.partition_file(partition, "top"))
    storage.write_parquet(evidence.blocking_report, store.partition_file(partition, "blocking_report"))
    return {
        "partition": partition,
        "rows_to_link": to_link.height,
        "candidate_pairs": pairs.height,
        "seconds": round(time.perf_counter() - started, 3),
        **{f"seconds_{step}": seconds for step, seconds in evidence.timings.items()},
    }


def _vocabulary(store: PartitionStore) -> Any:

    return Vocabulary(words=storage.read_parquet(store.vocabulary_file)["word"])


# --- combine --------------------------------------------------------------------------------------------


def combine_partitions(settings: Settings, model_path: Path) -> tuple[pl.DataFrame, Any, dict[str, Any]]:
    """Decide every partition's rows at once and save the model used at model_path.

    Returns the ID pass's matches, the LinkResult and the plan.
    """

    store = PartitionStore(settings)
    plan = storage.read_json(store.plan_file)
    model = MatchModel.from_dict(storage.read_json(store.model_file))
    shots = storage.read_parquet(store.shots_file).drop("partition")
    evidence = [
        Evidence(
            pairs=storage.scan_parquet(store.partition_file(partition, "pairs")),
            top=storage.read_parquet(store.partition_file(partition, "top")),
            blocking_report=storage.read_parquet(store.partition_file(partition, "blocking_report")),
        )
        for partition in plan["partitions"]
    ]
    linked = decide_links(
        shots,
        storage.scan_parquet(store.registry_file),
        _vocabulary(store),
        model,
        evidence,
        duckdb_config=DuckDBConfig.of_matching(settings),
    )
    model.save(model_path)
    return storage.read_parquet(store.deterministic_file), linked, plan
