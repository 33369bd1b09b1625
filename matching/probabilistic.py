"""The probabilistic pass: link the shots the ID pass left unmatched, explainably, one citizen at most each.

    encode records -> fit the model on this run -> blocking (DuckDB) -> comparisons -> weights
    -> probability -> decision (-> same-person rows of the batch support each other, one more round)

The fitted model is returned (and saved in the work folder) with the result, so every posting can be
explained later with exactly the numbers that made it. Candidate pairs are scored in DuckDB
(matching.engine), which keeps only each shot's top candidates.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from matching import estimation
from matching.blocking import run_blocking
from matching.decision import (
    ABSENT_NAMESAKE_COLUMN,
    SIBLING_HERE_COLUMN,
    decide,
    explanation,
    impossible_reason,
    level_labels,
)
from matching.deterministic import MATCH_SCHEMA
from matching.engine import LinkageDatabase
from matching.features import (
    CITIZEN_KIND_CODES,
    LEGACY_KIND_CODES,
    Vocabulary,
    encode_names,
    one_edit_variants,
    registry_blocking_keys,
    registry_name_text,
    registry_records,
    shot_blocking_keys,
    shot_name_text,
    shot_records,
)
from matching.model import MatchModel, load_model
from matching.pairs import registry_as_shots
from matching.posterior import PriorOdds, estimate_share, with_probabilities
from transforms.normalize.lookups import aligned_by_hash
from vaxsync.core.sql_steps import DuckDBConfig

log = logging.getLogger(__name__)

MATCH_METHOD = "probabilistic"
# Deterministic outcomes that are final: the ID was confirmed, the link is just impossible.
FINAL_ID_REASONS = ("shot_after_death", "shot_before_birth")
MODEL_FILE_NAME = "matching_model.json"
ID_EDIT_RULES = ("cccd_one_edit", "legacy_id_one_edit")
# Upper bound of the share of absent people's rows that carry their own well-formed CCCD.
MAX_ABSENT_ID_SHARE = 0.9
# Optional input column: the citizen an earlier night posted this row to, when the row is matched again
# because a newer snapshot added citizens who may explain it better (vaxsync.marts.snapshot_changes).
POSTED_CITIZEN_COLUMN = "posted_citizen_id"


@dataclass
class LinkResult:
    matches: pl.DataFrame  # MATCH_SCHEMA, one row per shot the ID pass left unmatched
    review_candidates: pl.DataFrame  # top candidates of each review row, field by field
    model_used: dict[str, Any]  # the fitted declarative model, as saved with the run
    blocking_report: pl.DataFrame  # pairs (and recall, given truth) per blocking rule and for the union
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step


@dataclass
class LinkInputs:
    """Both sides encoded for comparison (matching.features), plus each shot's ID-pass context."""

    shots: pl.DataFrame  # every matchable shot, encoded, with its ID-pass outcome and context
    registry: pl.DataFrame  # every citizen, encoded, with term frequencies
    vocabulary: Vocabulary


@dataclass
class Evidence:
    """Candidates of some to-link shots, before the run-wide prior and threshold turn them into decisions.

    Computed per partition of the shots (blocking reads the whole registry's keys, so a shot's candidates
    do not depend on the partition it is in); decide_links then runs once over every partition's evidence.
    """

    pairs: (
        pl.DataFrame | pl.LazyFrame
    )  # PAIR_SCHEMA + id_within_one_edit: every candidate pair (may be a scan)
    top: pl.DataFrame  # LinkageDatabase.top_candidates: each shot's best candidates and its masses
    blocking_report: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def link_probabilistically(
    shots: pl.LazyFrame,
    registry: pl.LazyFrame,
    deterministic: pl.DataFrame,
    *,
    model: MatchModel | None = None,
    workdir: Path | None = None,
    truth: pl.DataFrame | None = None,
    accepted_pairs: pl.DataFrame | None = None,
    m_history: dict[str, list[float]] | None = None,
    duckdb_config: DuckDBConfig | None = None,
) -> LinkResult:
    """Link the matchable shots that `deterministic` (MATCH_SCHEMA) left without a citizen.

    accepted_pairs (file_hash, source_row, citizen_id): links a reviewer accepted, labelled data that
    the m estimation uses beside the ID-confirmed rows (see fit_model).

    The steps, which the partitioned match stage (vaxsync.orchestration.match_partitions) runs separately: encode and
    fit once, gather evidence (per partition), decide once. truth (file_hash, source_row, true_citizen_id),
    for evaluation only, adds blocking recall. duckdb_config: limits of the DuckDB connections (None:
    DuckDB's defaults).
    """
    timer = _Timer()
    model = (model or load_model()).copy()
    inputs = encode_inputs(shots, registry, deterministic, model)
    timer.lap("prepare")
    with LinkageDatabase(
        inputs.shots, inputs.registry, inputs.vocabulary, duckdb_config=duckdb_config
    ) as database:
        _fit(model, inputs, database, accepted_pairs, m_history, duckdb_config)
        timer.lap("fit")
        to_link = inputs.shots.filter(pl.col("is_to_link"))
        evidence = gather_evidence(
            to_link,
            inputs.registry,
            inputs.vocabulary,
            model,
            truth=truth,
            database=database,
            duckdb_config=duckdb_config,
        )
    timer.skip(evidence.timings)
    result = decide_links(
        inputs.shots,
        inputs.registry.lazy(),
        inputs.vocabulary,
        model,
        [evidence],
        duckdb_config=duckdb_config,
    )
    if workdir is not None:
        model.save(workdir / MODEL_FILE_NAME)
    timer.lap("decide")
    result.timings = timer.laps
    return result


def fit_model(
    model: MatchModel,
    inputs: LinkInputs,
    accepted_pairs: pl.DataFrame | None = None,
    m_history: dict[str, list[float]] | None = None,
    duckdb_config: DuckDBConfig | None = None,
) -> None:
    """Fit the model (in place) on every matchable shot of the run: once per run, before any partition.

    accepted_pairs (file_hash, source_row, citizen_id), optional: reviewer-accepted links of this run's
    rows, used as labelled pairs for m with the ID-confirmed ones (rows or citizens not found are ignored).
    m_history: earlier nights' labelled-pair level counts (matching.estimation.accumulated_m_counts).
    """
    _fit(model, inputs, None, accepted_pairs, m_history, duckdb_config)


def gather_evidence(
    to_link: pl.DataFrame,
    registry: pl.DataFrame | pl.LazyFrame,
    vocabulary: Vocabulary,
    model: MatchModel,
    *,
    truth: pl.DataFrame | None = None,
    database: LinkageDatabase | None = None,
    duckdb_config: DuckDBConfig | None = None,
) -> Evidence:
    """Blocking and comparisons for these to-link shots against the whole registry, with the fitted model.

    `registry` may be lazy: only the blocking keys are read whole, and the full records only of the
    citizens some pair names, so memory follows these shots' candidates, not the registry.
    """
    timer = _Timer()
    registry_lazy = registry.lazy()
    key_columns = _registry_key_columns(model, registry_lazy.collect_schema().names())
    true_pairs = None
    if truth is not None:
        true_pairs = _true_pairs(
            truth, to_link, registry_lazy.select("citizen_id", "citizen_index").collect()
        )
    blocking = run_blocking(
        shot_blocking_keys(to_link),
        registry_blocking_keys(registry_lazy.select(key_columns).collect()),
        model.blocking_rules,
        true_pairs=true_pairs,
        duckdb_config=duckdb_config,
    )
    timer.lap("blocking")
    pairs = _with_id_edit_flag(blocking.pairs, model)
    if database is not None:
        top = database.top_candidates(pairs, model)
    else:
        candidates = _citizens_of(registry_lazy, pairs)
        with LinkageDatabase(
            to_link, candidates, vocabulary, duckdb_config=duckdb_config
        ) as partition_database:
            top = partition_database.top_candidates(pairs, model)
    timer.lap("compare")
    return Evidence(pairs=pairs, top=top, blocking_report=blocking.report, timings=timer.laps)


def decide_links(
    shots: pl.DataFrame,
    registry: pl.LazyFrame,
    vocabulary: Vocabulary,
    model: MatchModel,
    evidence: list[Evidence],
    *,
    duckdb_config: DuckDBConfig | None = None,
) -> LinkResult:
    """Turn every partition's evidence into decisions, with the run-wide prior and auto-post threshold.

    Rows of one person in the batch support each other: shots whose sibling just posted are scored
    again (their pairs only) and everything is decided once more.
    """
    to_link = shots.filter(pl.col("is_to_link"))
    top = pl.concat([part.top for part in evidence])
    registry_size = int(model.fitted["registry_size"])
    odds = _prior_odds(model, top, to_link.height, registry_size)
    count_posted_by_id = int(shots["confirmed_citizen_index"].is_not_null().sum())
    top = _scored(top, odds)
    decisions = decide(_with_sibling_flag(top, to_link), model, count_posted_by_id)
    sibling_update = _siblings_from_posts(shots, decisions)
    if sibling_update.height:
        rescored_shots = sibling_update["shot_index"].implode()
        updated = _apply_siblings(to_link.filter(pl.col("shot_index").is_in(rescored_shots)), sibling_update)
        pairs = pl.concat(
            [part.pairs.lazy().filter(pl.col("shot_index").is_in(rescored_shots)) for part in evidence]
        ).collect()
        with LinkageDatabase(
            updated, _citizens_of(registry, pairs), vocabulary, duckdb_config=duckdb_config
        ) as database:
            again = database.top_candidates(pairs, model)
        top = pl.concat([top.filter(~pl.col("shot_index").is_in(rescored_shots)), _scored(again, odds)])
        decisions = decide(_with_sibling_flag(top, to_link), model, count_posted_by_id)
    decisions = _rechecked_links_held(decisions, to_link)
    model.fitted["count_sibling_rescored"] = sibling_update.height
    named = _citizens_of(registry.select("citizen_index", "citizen_id"), top.select("citizen_index"))
    blocking_report = combined_blocking_report([part.blocking_report for part in evidence])
    result = LinkResult(
        matches=_match_rows(to_link, decisions, top, named, model),
        review_candidates=_review_rows(to_link, decisions, top, named, model),
        model_used=model.to_dict(),
        blocking_report=blocking_report,
    )
    log.info(
        "probabilistic pass: %d shots to link, %d candidate pairs, decisions %s",
        to_link.height,
        blocking_report.filter(pl.col("blocking_rule") == "union")["count_pairs"].sum(),
        dict(decisions["decision"].value_counts().iter_rows()),
    )
    return result


def combined_blocking_report(reports: list[pl.DataFrame]) -> pl.DataFrame:
    """One blocking report from the partitions': pairs and shots add up (partitions hold disjoint shots);
    blocks split is the largest partition's count (a block may be split for several), recall is kept
    only when there is one partition."""
    if len(reports) == 1:
        return reports[0]
    return (
        pl.concat([report.with_row_index("rule_order") for report in reports])
        .group_by("rule_order", "blocking_rule", maintain_order=True)
        .agg(
            pl.col("count_pairs").sum(),
            pl.col("count_shots_with_candidates").sum(),
            pl.col("count_blocks_split").max(),
            pl.lit(None, pl.Float64).alias("recall"),
        )
        .sort("rule_order")
        .drop("rule_order")
        .cast({name: dtype for name, dtype in reports[0].schema.items()})
    )


def _registry_key_columns(model: MatchModel, available: list[str]) -> list[str]:
    """The registry columns blocking reads: each rule's keys, and the name parts derived keys come from."""
    wanted = {"citizen_index", "family", "given"}
    wanted |= {
        column for rule in model.blocking_rules for column in (*rule.registry_side_keys, *rule.refine_on)
    }
    return [column for column in available if column in wanted]


def _citizens_of(registry: pl.LazyFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The registry records of the citizens these pairs name (in no particular order). A filter, not a
    semi join: the Parquet reader then decodes the other columns only for the rows it keeps."""
    wanted = pairs["citizen_index"].unique()
    return registry.filter(pl.col("citizen_index").is_in(wanted.implode())).collect()


# --- inputs -------------------------------------------------------------------------------------------------


@dataclass
class EncodedRegistry:
    """The registry encoded with its own words only: it depends on the snapshot and the model's
    term-frequency columns, never on a night's shots, so it can be built once per snapshot."""

    records: pl.DataFrame  # every citizen, encoded, with term frequencies
    vocabulary: Vocabulary  # the registry's words; a night's new words are appended after them
    records_file: Path | None = None  # a Parquet file holding exactly `records` (the cache's), if any


def encode_registry(
    registry: pl.LazyFrame, model: MatchModel, *, name_keys: pl.DataFrame | None = None
) -> EncodedRegistry:
    """Encode the registry (with term frequencies) in a vocabulary of its own words.

    name_keys: transforms.registry.registry_name_keys of this registry (one row per distinct full_name,
    every one of its names), when the caller holds it: the name columns are then encoded once per
    distinct name and set beside each citizen by its full_name, the same values as encoding each
    citizen's keys (a registry names ~7 citizens per distinct name: 1M citizens, 139k names)."""
    if name_keys is None:
        registry_names = registry_name_text(registry)
        vocabulary = Vocabulary.of(*registry_names.drop("name_hash"))
        names = encode_names(registry_names, vocabulary)
    else:
        distinct_names = registry_name_text(name_keys.lazy())
        # the same words as every citizen's names: each citizen's name is one of the distinct ones
        vocabulary = Vocabulary.of(*distinct_names.drop("name_hash"))
        encoded = encode_names(distinct_names, vocabulary).with_columns(name_keys["full_name"])
        names = aligned_by_hash(registry, "full_name", encoded).collect()
    records = registry_records(registry, names)
    records = pl.concat([records, estimation.term_frequencies(records, model)], how="horizontal")
    return EncodedRegistry(records=records, vocabulary=vocabulary)


def encode_inputs(
    shots: pl.LazyFrame,
    registry: pl.LazyFrame,
    deterministic: pl.DataFrame,
    model: MatchModel,
    *,
    encoded_registry: EncodedRegistry | None = None,
) -> LinkInputs:
    """Encode the matchable shots and the registry (with term frequencies), and add each shot's context.

    encoded_registry: encode_registry(registry, model) built earlier (once per snapshot); the shots'
    words the registry lacks get codes after the registry's, so the registry's codes stay as they were."""
    encoded = encode_shots(shots, registry, model, encoded_registry=encoded_registry)
    return with_shot_context(encoded, deterministic)


def encode_shots(
    shots: pl.LazyFrame,
    registry: pl.LazyFrame,
    model: MatchModel,
    *,
    encoded_registry: EncodedRegistry | None = None,
) -> LinkInputs:
    """encode_inputs' first part, which needs no ID-pass outcome (so it can run beside the ID pass): the
    matchable shots encoded, without their context (with_shot_context adds it)."""
    matchable = shots.filter(pl.col("reject_reason").is_null())
    encoded = encoded_registry or encode_registry(registry, model)
    shot_names = shot_name_text(matchable)
    vocabulary = encoded.vocabulary.extended_with(*shot_names.drop("name_hash"))
    shot_frame = shot_records(matchable, encode_names(shot_names, vocabulary))
    shot_frame = _with_posted_citizen(shot_frame, matchable, encoded.records)
    return LinkInputs(shots=shot_frame, registry=encoded.records, vocabulary=vocabulary)


def with_shot_context(encoded: LinkInputs, deterministic: pl.DataFrame) -> LinkInputs:
    """encode_inputs' second part: each encoded shot's ID-pass outcome and context (`deterministic`:
    match_by_id's MATCH_SCHEMA frame)."""
    return LinkInputs(
        shots=_shot_context(encoded.shots, encoded.registry, deterministic),
        registry=encoded.registry,
        vocabulary=encoded.vocabulary,
    )


def _with_posted_citizen(
    shots: pl.DataFrame, matchable: pl.LazyFrame, registry: pl.DataFrame
) -> pl.DataFrame:
    """posted_citizen_index: the citizen an earlier night posted the row to (null for every other row)."""
    no_posting = shots.with_columns(posted_citizen_index=pl.lit(None, pl.UInt32))
    if POSTED_CITIZEN_COLUMN not in matchable.collect_schema().names():
        return no_posting
    # Only rows re-checked after a snapshot change carry one: the others join nothing (null either way).
    posted = (
        matchable.select("file_hash", "source_row", pl.col(POSTED_CITIZEN_COLUMN).alias("citizen_id"))
        .filter(pl.col("citizen_id").is_not_null())
        .collect()
    )
    if posted.height == 0:  # most nights: no join, which would hash every citizen's ID and every row's key
        return no_posting
    # the posted citizens only, as in _shot_context
    posted_citizens = registry.filter(pl.col("citizen_id").is_in(posted["citizen_id"].implode()))
    indexed = posted.join(
        posted_citizens.select("citizen_id", pl.col("citizen_index").alias("posted_citizen_index")),
        on="citizen_id",
        how="left",
        maintain_order="left",
    )
    return shots.join(
        indexed.drop("citizen_id"), on=["file_hash", "source_row"], how="left", maintain_order="left"
    )


def _shot_context(shots: pl.DataFrame, registry: pl.DataFrame, deterministic: pl.DataFrame) -> pl.DataFrame:
    """Each shot's ID-pass outcome, its ID's owner, whether to link it and its same-person sibling."""
    outcome = deterministic.select(
        "file_hash",
        "source_row",
        pl.col("citizen_id").alias("confirmed_citizen_id"),
        pl.col("match_reason").alias("id_match_reason"),
        pl.col("candidate_citizen_id").alias("id_candidate_citizen_id"),
    )
    confirmed_ids = outcome["confirmed_citizen_id"].drop_nulls().implode()
    # The confirmed citizens only: a join against the whole registry hashes every citizen's ID. Here and
    # below the registry columns needed are selected before filtering: a filter copies every column it holds.
    confirmed_index = registry.select(
        pl.col("citizen_id").alias("confirmed_citizen_id"),
        pl.col("citizen_index").alias("confirmed_citizen_index"),
    ).filter(pl.col("confirmed_citizen_id").is_in(confirmed_ids))
    with_outcome = shots.join(
        outcome, on=["file_hash", "source_row"], how="left", maintain_order="left"
    ).join(confirmed_index, on="confirmed_citizen_id", how="left", maintain_order="left")
    return (
        _with_id_owner(with_outcome, registry)
        .with_columns(
            is_to_link=pl.col("confirmed_citizen_id").is_null()
            & ~pl.col("id_match_reason").is_in(FINAL_ID_REASONS).fill_null(False),
            sibling_key=_sibling_key(),
            sibling_citizen_index=pl.lit(None, pl.UInt32),
        )
        .pipe(_with_absent_namesakes_tonight, registry)
        .pipe(_without_registry_namesake_keys, registry)
        .pipe(_with_siblings_from_confirmed)
    )


def _with_id_owner(shots: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """The registry citizen the shot's ID names (its CCCD, or an old CMND held by exactly one citizen)."""
    # Only citizens holding one of the shots' numbers can be an owner: the rest of the registry is skipped
    # (every holder of such a number is kept, so "held by exactly one citizen" still counts them all).
    numbers = shots["id_number"].drop_nulls().unique().implode()
    registry = registry.select(
        "citizen_index", "citizen_number", "legacy_number", "phone", "ward", "family"
    ).filter(pl.col("citizen_number").is_in(numbers) | pl.col("legacy_number").is_in(numbers))
    by_citizen = registry.filter(pl.col("citizen_number").is_not_null()).select(
        pl.col("citizen_number").alias("owner_number"), "citizen_index", owner_kind=pl.lit(1, pl.Int8)
    )
    by_legacy = (
        registry.filter(pl.col("legacy_number").is_not_null())
        .group_by("legacy_number")
        .agg(pl.col("citizen_index").first(), count=pl.len())
        .filter(pl.col("count") == 1)
        .select(pl.col("legacy_number").alias("owner_number"), "citizen_index", owner_kind=pl.lit(2, pl.Int8))
    )
    owner_kind = (
        pl.when(pl.col("id_kind").is_in(CITIZEN_KIND_CODES))
        .then(pl.lit(1, pl.Int8))
        .when(pl.col("id_kind").is_in(LEGACY_KIND_CODES))
        .then(pl.lit(2, pl.Int8))
    )
    owner_columns = registry.select(
        pl.col("citizen_index").alias("id_owner_index"),
        pl.col("phone").alias("id_owner_phone"),
        pl.col("ward").alias("id_owner_ward"),
        pl.col("family").alias("id_owner_family"),
    )
    return (
        shots.with_columns(owner_kind=owner_kind)
        .join(
            pl.concat([by_citizen, by_legacy]),
            left_on=["id_number", "owner_kind"],
            right_on=["owner_number", "owner_kind"],
            how="left",
            maintain_order="left",
        )
        .rename({"citizen_index": "id_owner_index"})
        .drop("owner_kind")
        .join(owner_columns, on="id_owner_index", how="left", maintain_order="left")
    )


def _sibling_key() -> pl.Expr:
    """Rows of one person in one batch: same folded name and birth date (or year and phone when year-only)."""
    return (
        pl.when(pl.col("birth_date").is_not_null())
        .then(pl.struct("name_hash", "birth_date").hash())
        .when(pl.col("phone").is_not_null() & pl.col("birth_year").is_not_null())
        .then(pl.struct("name_hash", "birth_year", "phone").hash())
    )


def _is_absent_well_formed_id() -> pl.Expr:
    """The row's own CCCD is well formed (its structure decodes) and no citizen holds it."""
    return (
        pl.col("id_kind").is_in(CITIZEN_KIND_CODES)
        & pl.col("cccd_sex").is_not_null()
        & pl.col("id_owner_index").is_null()
    )


def _with_absent_namesakes_tonight(shots: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """absent_namesake_tonight: a same-person row of the batch (same folded name and birth date) carries a
    well-formed CCCD that no citizen holds, nor any number one edit from it (a typo of a citizen's own). A
    person absent from the registry bears this name and birth date: tonight the key names two people
    (matching.decision.ABSENT_NAMESAKE_COLUMN)."""
    absent_ids = shots.filter(_is_absent_well_formed_id() & pl.col("sibling_key").is_not_null())
    variants = absent_ids.select(
        "shot_index", variant=one_edit_variants(absent_ids["id_number"], 12)
    ).explode("variant")
    held = registry.filter(pl.col("citizen_number").is_in(variants["variant"].drop_nulls().implode()))
    typos = variants.filter(pl.col("variant").is_in(held["citizen_number"].implode()))["shot_index"]
    absent_keys = absent_ids.filter(~pl.col("shot_index").is_in(typos.implode()))["sibling_key"]
    return shots.with_columns(
        pl.col("sibling_key").is_in(absent_keys.implode()).fill_null(False).alias(ABSENT_NAMESAKE_COLUMN)
    )


def _without_registry_namesake_keys(shots: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """No sibling key where the registry holds two citizens with it (twins, namesakes born the same
    day): there the key names no one person, and a namesake's row would lend the other its doses."""
    shared = (
        registry.select("name_hash", "birth_date", "birth_year", "phone")
        .filter(pl.col("name_hash").is_in(shots["name_hash"].drop_nulls().unique().implode()))
        .select(sibling_key=_sibling_key())
        .filter(pl.col("sibling_key").is_not_null() & pl.col("sibling_key").is_duplicated())
        .get_column("sibling_key")
        .unique()
    )
    is_shared = pl.col("sibling_key").is_in(shared.implode())
    return shots.with_columns(sibling_key=pl.when(~is_shared).then(pl.col("sibling_key")))


def _with_siblings_from_confirmed(shots: pl.DataFrame) -> pl.DataFrame:
    """sibling_citizen_index: the one citizen that the row's same-person rows were confirmed to by ID;
    sibling_confirmed_here: one of those rows was vaccinated in the province where this row was, and this
    row lives there or gives no address (the citizen gets vaccinated where this row's person lives)."""
    is_confirmed = pl.col("confirmed_citizen_index").is_not_null()
    confirmed = shots.filter(is_confirmed).select(
        "sibling_key", pl.col("confirmed_citizen_index").alias("citizen_index")
    )
    here = (
        shots.filter(
            is_confirmed & pl.col("sibling_key").is_not_null() & pl.col("facility_province").is_not_null()
        )
        .select("sibling_key", "facility_province")
        .unique()
        .with_columns(sibling_confirmed_here=pl.lit(True))
    )
    # The row lives where it was vaccinated (or gives no address): a row vaccinated in the candidate's
    # province while its address lies elsewhere is a visitor, perhaps the candidate's namesake.
    lives_here = pl.col("province").is_null() | (pl.col("province") == pl.col("facility_province"))
    return (
        _attach_siblings(shots, confirmed)
        .join(here, on=["sibling_key", "facility_province"], how="left", maintain_order="left")
        .with_columns(
            sibling_confirmed_here=pl.col("sibling_confirmed_here").fill_null(False)
            & pl.col("sibling_citizen_index").is_not_null()
            & lives_here.fill_null(False)
        )
    )


def _attach_siblings(shots: pl.DataFrame, linked: pl.DataFrame) -> pl.DataFrame:
    """Attach the citizen of each sibling key linked to exactly one citizen (a key on two is namesakes)."""
    unambiguous = (
        linked.filter(pl.col("sibling_key").is_not_null())
        .group_by("sibling_key")
        .agg(pl.col("citizen_index").unique())
        .filter(pl.col("citizen_index").list.len() == 1)
        .select("sibling_key", pl.col("citizen_index").list.first().cast(pl.UInt32).alias("sibling_found"))
    )
    return (
        shots.join(unambiguous, on="sibling_key", how="left", maintain_order="left")
        .with_columns(sibling_citizen_index=pl.coalesce("sibling_citizen_index", "sibling_found"))
        .drop("sibling_found")
    )


def _true_pairs(
    truth: pl.DataFrame | None, to_link: pl.DataFrame, registry: pl.DataFrame
) -> pl.DataFrame | None:
    if truth is None:
        return None
    return (
        to_link.select("shot_index", "file_hash", "source_row")
        .join(truth.select("file_hash", "source_row", "true_citizen_id"), on=["file_hash", "source_row"])
        .join(
            registry.select("citizen_id", "citizen_index"), left_on="true_citizen_id", right_on="citizen_id"
        )
        .select("shot_index", "citizen_index")
    )


# --- fitting --------------------------------------------------------------------------------------------


def _fit(
    model: MatchModel,
    inputs: LinkInputs,
    database: LinkageDatabase | None,
    accepted_pairs: pl.DataFrame | None = None,
    m_history: dict[str, list[float]] | None = None,
    duckdb_config: DuckDBConfig | None = None,
) -> None:
    """Fit u, m and u_household (matching.estimation), then the batch-sibling level. database None: one
    holding only the citizens the fit's pairs name is opened for it."""
    labelled = inputs.shots.filter(pl.col("id_owner_index").is_not_null()).select(
        "shot_index", pl.col("id_owner_index").alias("citizen_index")
    )
    accepted = None if accepted_pairs is None else accepted_index_pairs(inputs, accepted_pairs)
    if database is None:
        citizens = estimation.compared_citizens(
            model, labelled, inputs.shots.height, inputs.registry.height, accepted
        )
        named = inputs.registry.filter(pl.col("citizen_index").is_in(citizens.implode()))
        with LinkageDatabase(
            inputs.shots, named, inputs.vocabulary, duckdb_config=duckdb_config
        ) as own_database:
            _fit(model, inputs, own_database, accepted_pairs, m_history, duckdb_config)
        return

    def household_database(pairs: pl.DataFrame) -> LinkageDatabase:
        """Registry citizens of the household pairs, shaped as shots, to compare with their housemates."""
        members = inputs.registry.filter(pl.col("citizen_index").is_in(pairs["shot_index"].implode()))
        # only the housemates the pairs name, not every citizen: the pairs join on citizen_index
        housemates = inputs.registry.filter(pl.col("citizen_index").is_in(pairs["citizen_index"].implode()))
        return LinkageDatabase(
            registry_as_shots(members), housemates, inputs.vocabulary, duckdb_config=duckdb_config
        )

    estimation.fit(
        model,
        database,
        household_database,
        labelled,
        inputs.shots.height,
        inputs.registry,
        accepted=accepted,
        m_history=m_history,
    )
    _fit_sibling_level(model, inputs.shots, inputs.registry.height)
    _fit_absent_id_level(model, inputs.shots)


def _fit_absent_id_level(model: MatchModel, shots: pl.DataFrame) -> None:
    """u of cccd_absent: how often the row of someone outside the candidates carries a well-formed CCCD that
    the registry lacks, estimated as tonight's rows with such an ID over the rows expected to be of people
    absent from the registry (the prior's share). The alternative it weighs against is a person the registry
    lacks, who carries their own ID; not a random registered person, whose ID the registry would hold.
    m stays the file's: how often a registered person's row carries a well-formed CCCD more than one edit
    from theirs, which no typo we know of produces."""
    id_comparison = model.comparison("id_number")
    if "cccd_absent" not in id_comparison.labels:
        return
    to_link = shots.filter(pl.col("is_to_link"))
    count_absent_ids = int(to_link.select(_is_absent_well_formed_id().sum()).item())
    count_outside = max((1.0 - model.prior.share_in_registry) * to_link.height, 1.0)
    level = id_comparison.level("cccd_absent")
    level.u = min(max(count_absent_ids / count_outside, level.u), MAX_ABSENT_ID_SHARE)
    level.u_household = level.u  # an unregistered housemate carries their own ID as often
    model.fitted["count_absent_well_formed_ids"] = count_absent_ids


def accepted_index_pairs(inputs: LinkInputs, accepted_pairs: pl.DataFrame) -> pl.DataFrame:
    """Reviewer-accepted (file_hash, source_row, citizen_id) as (shot_index, citizen_index) of this run."""
    return (
        accepted_pairs.select("file_hash", "source_row", "citizen_id")
        .join(inputs.shots.select("file_hash", "source_row", "shot_index"), on=["file_hash", "source_row"])
        .join(inputs.registry.select("citizen_id", "citizen_index"), on="citizen_id")
        .select("shot_index", "citizen_index")
        .unique()
    )


def _fit_sibling_level(model: MatchModel, shots: pl.DataFrame, registry_size: int) -> None:
    """batch_sibling, conditional on the name and birth date agreeing (which the sibling key implies).

    u: a namesake candidate has same-key rows confirmed in this batch as often as any citizen has
    confirmed rows in it. m: how often a confirmed row has a same-key sibling confirmed to its citizen.
    """
    id_comparison = model.comparison("id_number")
    confirmed = shots.filter(
        pl.col("confirmed_citizen_index").is_not_null() & pl.col("sibling_key").is_not_null()
    )
    if "batch_sibling" not in id_comparison.labels or confirmed.height == 0:
        return
    share_confirmed = confirmed["confirmed_citizen_index"].n_unique() / max(registry_size, 1)
    same_key_rows = confirmed.select(pl.len().over("sibling_key", "confirmed_citizen_index"))
    share_with_sibling = (same_key_rows.to_series() > 1).cast(pl.Float64).mean() or 0.0
    assert isinstance(share_with_sibling, float)
    level = id_comparison.level("batch_sibling")
    level.u = max(share_confirmed, 1.0 / max(registry_size, 1))
    if share_with_sibling > 0:
        level.m = share_with_sibling
    model.fitted["sibling_share_confirmed"] = share_confirmed
    model.fitted["sibling_share_with_sibling"] = share_with_sibling


# --- scoring -------------------------------------------------------------------------------------------------


def _with_id_edit_flag(pairs: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
    """A pair found by an ID-edit rule is within one edit of the shot's ID (the rule enumerates all such)."""
    bits = [index for index, rule in enumerate(model.blocking_rules) if rule.name in ID_EDIT_RULES]
    mask = sum(1 << bit for bit in bits)
    return pairs.with_columns(id_within_one_edit=(pl.col("rule_mask") & mask) != 0)


def _prior_odds(
    model: MatchModel, evidence: pl.DataFrame, count_to_link: int, registry_size: int
) -> PriorOdds:
    """The prior of each explanation, with the share of rows in the registry estimated on this run."""
    masses = evidence.filter(pl.col("candidate_rank") == 1).select("log2_match_mass", "log2_household_mass")
    share = estimate_share(masses, count_to_link - masses.height, model.prior, registry_size)
    odds = PriorOdds.of(share, model.prior, registry_size)
    model.fitted["share_in_registry"] = share
    model.fitted["prior_log2"] = {
        "match": odds.log2_match,
        "household": odds.log2_household,
        "outside": odds.log2_outside,
    }
    return odds


def _with_sibling_flag(top: pl.DataFrame, to_link: pl.DataFrame) -> pl.DataFrame:
    """Each candidate with its row's same-person flags (SIBLING_HERE_COLUMN, ABSENT_NAMESAKE_COLUMN), which
    matching.decision reads."""
    return top.join(
        to_link.select("shot_index", SIBLING_HERE_COLUMN, ABSENT_NAMESAKE_COLUMN),
        on="shot_index",
        how="left",
        maintain_order="left",
    )


def _scored(evidence: pl.DataFrame, odds: PriorOdds) -> pl.DataFrame:
    return (
        with_probabilities(evidence, odds)
        .with_columns(impossible_reason(pl.col("impossible_code")))
        .drop("impossible_code")
    )


def _siblings_from_posts(shots: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Undecided to-link shots whose same-person rows were just posted (with no namesake conflict)."""
    posted = decisions.filter(pl.col("decision") == "posted").select("shot_index", "citizen_index")
    if posted.height == 0:
        return pl.DataFrame(schema={"shot_index": pl.UInt32, "sibling_citizen_index": pl.UInt32})
    linked = pl.concat(
        [
            shots.join(posted, on="shot_index").select("sibling_key", "citizen_index"),
            shots.filter(pl.col("confirmed_citizen_index").is_not_null()).select(
                "sibling_key", pl.col("confirmed_citizen_index").alias("citizen_index")
            ),
        ]
    )
    waiting = shots.filter(pl.col("is_to_link") & pl.col("sibling_citizen_index").is_null()).select(
        "shot_index", "sibling_key", "sibling_citizen_index"
    )
    found = _attach_siblings(waiting, linked).filter(pl.col("sibling_citizen_index").is_not_null())
    # Support, never creation: only a row its own evidence already put in review is scored again.
    undecided = decisions.filter(pl.col("decision") == "review_required").select("shot_index")
    return found.join(undecided, on="shot_index").select("shot_index", "sibling_citizen_index")


def _rechecked_links_held(decisions: pl.DataFrame, to_link: pl.DataFrame) -> pl.DataFrame:
    """A posted link checked again, because the snapshot added citizens who may explain the row, stays
    only when tonight's evidence posts it to the same citizen. Any other outcome, a newcomer posted on
    probability included, goes to review with its candidates: a link never moves on probability alone
    (the ID pass moves it when the row's own ID now names a registered person and confirms)."""
    posted_before = to_link.filter(pl.col("posted_citizen_index").is_not_null()).select(
        "shot_index", "posted_citizen_index"
    )
    if posted_before.is_empty():
        return decisions
    is_same_posting = (pl.col("decision") == "posted") & (
        pl.col("citizen_index") == pl.col("posted_citizen_index")
    )
    return (
        decisions.join(posted_before, on="shot_index", how="left", maintain_order="left")
        .with_columns(
            decision=pl.when(pl.col("posted_citizen_index").is_null() | is_same_posting)
            .then(pl.col("decision"))
            .otherwise(pl.lit("review_required"))
        )
        .drop("posted_citizen_index")
    )


def _apply_siblings(shots: pl.DataFrame, update: pl.DataFrame) -> pl.DataFrame:
    renamed = update.rename({"sibling_citizen_index": "new_sibling"})
    return (
        shots.join(renamed, on="shot_index", how="left", maintain_order="left")
        .with_columns(sibling_citizen_index=pl.coalesce("sibling_citizen_index", "new_sibling"))
        .drop("new_sibling")
    )


# --- outputs -------------------------------------------------------------------------------------------------


def _match_rows(
    to_link: pl.DataFrame,
    decisions: pl.DataFrame,
    top: pl.DataFrame,
    registry: pl.DataFrame,
    model: MatchModel,
) -> pl.DataFrame:
    best = top.filter(pl.col("candidate_rank") == 1).select(
        "shot_index", explanation(model).alias("explanation")
    )
    joined = (
        to_link.select("shot_index", "file_hash", "source_row", "id_match_reason", "id_candidate_citizen_id")
        .join(decisions, on="shot_index", how="left")
        .join(best, on="shot_index", how="left")
        .join(registry.select("citizen_index", "citizen_id"), on="citizen_index", how="left")
    )
    is_posted = (pl.col("decision") == "posted").fill_null(False)
    probability = pl.col("match_probability").round(6).cast(pl.String)
    id_reason = pl.col("id_match_reason").fill_null("unmatched")
    detail = (
        pl.when(is_posted)
        .then(pl.format("p={}; {}", probability, pl.col("explanation")))
        .when(pl.col("decision").is_null())
        .then(pl.format("{}; no probabilistic candidate", id_reason))
        .when(pl.col("impossible_reason").is_not_null())
        .then(
            pl.format(
                "{}; best probabilistic candidate p={} is impossible ({})",
                id_reason,
                probability,
                pl.col("impossible_reason"),
            )
        )
        .otherwise(pl.format("{}; best probabilistic candidate p={}", id_reason, probability))
    )
    return joined.select(
        "file_hash",
        "source_row",
        citizen_id=pl.when(is_posted).then(pl.col("citizen_id")),
        match_method=pl.lit(MATCH_METHOD),
        match_score=pl.col("match_probability").cast(pl.Float64),
        candidate_citizen_id=pl.when(~is_posted).then(pl.coalesce("citizen_id", "id_candidate_citizen_id")),
        match_reason=pl.when(is_posted)
        .then(None)
        .otherwise(pl.col("decision").fill_null("no_confident_match")),
        match_detail=detail,
    ).cast(MATCH_SCHEMA)  # type: ignore[arg-type]


def _review_rows(
    to_link: pl.DataFrame,
    decisions: pl.DataFrame,
    top: pl.DataFrame,
    registry: pl.DataFrame,
    model: MatchModel,
) -> pl.DataFrame:
    in_review = decisions.filter(pl.col("decision") == "review_required").select("shot_index")
    return (
        top.join(in_review, on="shot_index")
        .join(to_link.select("shot_index", "file_hash", "source_row"), on="shot_index")
        .join(registry.select("citizen_index", "citizen_id"), on="citizen_index")
        .select(
            "file_hash",
            "source_row",
            "candidate_rank",
            "citizen_id",
            pl.col("match_probability").cast(pl.Float64),
            "match_weight",
            "impossible_reason",
            *level_labels(model),
            *(f"weight_{c.name}" for c in model.comparisons),
        )
        .sort("file_hash", "source_row", "candidate_rank")
    )


class _Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.started, 3)
        self.started = now

    def skip(self, laps: dict[str, float]) -> None:
        """Take laps timed elsewhere (an inner step) as this timer's own."""
        self.laps.update(laps)
        self.started = time.perf_counter()
