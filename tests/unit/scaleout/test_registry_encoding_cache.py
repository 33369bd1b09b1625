"""The registry's encoding for matching is built once per snapshot and gives the same decisions as
encoding it afresh with the night's shots (matching.probabilistic.link_probabilistically)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import vaxsync.marts.registry_cache as registry_cache
from matching.deterministic import match_by_id
from matching.features import Vocabulary
from matching.model import load_model
from matching.probabilistic import LinkResult, encode_registry, link_probabilistically
from synth import SynthConfig, generate
from synth.evaluation import prepare_generated
from transforms.registry import prepare_registry, registry_name_keys, registry_name_repairs
from vaxsync.core.settings import Settings
from vaxsync.marts.registry_cache import encoded_registry
from vaxsync.orchestration.match_partitions import combine_partitions, gather_partition, plan_partitions

AS_OF = dt.date(2023, 1, 31)
KEYS = ["file_hash", "source_row"]
SNAPSHOT = "snapshot-hash"


def test_an_extended_vocabulary_keeps_every_code_and_appends_new_words() -> None:
    registry_words = Vocabulary.of(pl.Series(["lan", "an", "minh"]))

    extended = registry_words.extended_with(pl.Series(["an", "zung", None, "binh", "binh"]))

    assert extended.words.to_list() == ["an", "lan", "minh", "binh", "zung"]
    assert [extended.code_of(word) for word in registry_words.words] == [0, 1, 2]
    assert extended.code_of("zung") == 4


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("synth_encoding")
    generate(data_dir, SynthConfig(citizens=2_000, shots=600, seed=17, snapshot_date=AS_OF))
    inputs = prepare_generated(data_dir)
    shots, registry = pl.scan_parquet(inputs.normalized), pl.scan_parquet(inputs.registry)
    one_pass = link_probabilistically(shots, registry, match_by_id(shots, registry).collect())
    return {"data_dir": data_dir, "shots": shots, "registry": registry, "one_pass": one_pass}


def _settings(generated: dict[str, Any], warehouse_dir: Path) -> Settings:
    return Settings(
        as_of=AS_OF,
        registry_path=generated["data_dir"] / "registry.parquet",
        warehouse_path=warehouse_dir / "warehouse.duckdb",
        partition_store=f"memory://vaxsync-encoding-{uuid.uuid4().hex}",
        match_partition_rows=200,
    )


def _partitioned_night(settings: Settings, generated: dict[str, Any], model_path: Path) -> LinkResult:
    plan = plan_partitions(
        settings, generated["shots"], generated["registry"], input_counts={}, snapshot_hash=SNAPSHOT
    )
    for partition in plan["partitions"]:
        gather_partition(settings, partition)
    _, linked, _ = combine_partitions(settings, model_path)
    return linked


def test_a_later_night_reads_the_encoding_and_decides_as_a_fresh_encoding(
    generated: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(generated, tmp_path)
    first = _partitioned_night(settings, generated, tmp_path / "first.json")
    cached = sorted(path.name for path in registry_cache.cache_dir(settings).glob(f"{SNAPSHOT}.encoded.*"))

    def encode_again(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the snapshot's registry was encoded a second time")

    monkeypatch.setattr(registry_cache, "encode_registry", encode_again)
    second = _partitioned_night(settings, generated, tmp_path / "second.json")

    assert len(cached) == 2  # the records and their vocabulary
    one_pass = generated["one_pass"]
    assert one_pass.matches["citizen_id"].is_not_null().sum() > 0
    for night in (first, second):
        assert_frame_equal(night.matches.sort(KEYS), one_pass.matches.sort(KEYS))
        assert_frame_equal(night.review_candidates, one_pass.review_candidates)


def test_the_cached_encoding_reads_back_as_built(generated: dict[str, Any], tmp_path: Path) -> None:
    settings = _settings(generated, tmp_path)
    model = load_model()

    built = encoded_registry(settings, snapshot_hash=SNAPSHOT, model=model)
    read = encoded_registry(settings, snapshot_hash=SNAPSHOT, model=model)

    assert built.records.height == pl.read_parquet(settings.registry_path).height
    assert_frame_equal(read.records, built.records)
    # the plan copies this file to the partition store instead of writing the records again
    assert read.records_file == built.records_file
    assert built.records_file is not None
    assert_frame_equal(pl.read_parquet(built.records_file), built.records)
    assert read.vocabulary.words.to_list() == built.vocabulary.words.to_list()
    assert all(path.stat().st_mode & 0o077 == 0 for path in registry_cache.cache_dir(settings).iterdir())


def test_names_encoded_once_per_distinct_name_give_the_same_encoding(generated: dict[str, Any]) -> None:
    raw = pl.scan_parquet(generated["data_dir"] / "registry.parquet")
    repeated = pl.concat([raw, raw.head(50), raw.head(3).with_columns(full_name=pl.lit(None, pl.String))])
    prepared = prepare_registry(repeated).collect().lazy()
    name_keys = registry_name_keys(registry_name_repairs(repeated))
    assert name_keys.height < prepared.collect().height  # citizens share names: encoded once each
    model = load_model()

    per_citizen = encode_registry(prepared, model)
    per_name = encode_registry(prepared, model, name_keys=name_keys)

    assert_frame_equal(per_name.records, per_citizen.records)
    assert per_name.vocabulary.words.equals(per_citizen.vocabulary.words)
