"""Scoring a linkage against ground truth: precision, recall, F1, wrong postings, recall by corruption.

`evaluate_generated(data_dir)` runs the whole matching stage (ID pass, then the probabilistic pass) on
data written by `vaxsync synth` (registry.parquet, landing/, truth.parquet) and scores it. Staging and
normalization are done once per data folder and cached under `<data_dir>/evaluation_cache/`.
The public `linkage_metrics` works on any outcome table, so Splink's output is scored the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from matching.deterministic import match_by_id
from matching.probabilistic import link_probabilistically
from transforms.ingest import file_content_hash, list_landed_files, stage_export
from transforms.normalize.reference import load_reference
from transforms.normalize.shots import normalize_shots
from transforms.registry import prepare_registry

log = logging.getLogger(__name__)

CACHE_DIR_NAME = "evaluation_cache"
# truth.expected values whose row belongs to a registry citizen and should end up on that citizen.
POSTABLE_EXPECTED = ("post", "duplicate")


@dataclass
class LinkageEvaluation:
    summary: dict[str, Any]  # headline figures (counts, precision, recall, F1, wrong postings per 10k)
    by_corruption: pl.DataFrame  # recall per corruption tag, for rows of registry citizens
    by_method: pl.DataFrame  # posted / correct / wrong per match method
    blocking_report: pl.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)


def linkage_metrics(outcome: pl.DataFrame, truth: pl.DataFrame) -> LinkageEvaluation:
    """Score an outcome (source_file, source_row, citizen_id posted or null, match_method) against truth.

    Rows considered: every matchable row in `outcome` (rows rejected before matching are not the
    matcher's to post). A posting is wrong when the citizen differs from the true one, including every
    posting of a person absent from the registry. Recall is over rows whose person is in the registry and
    that should post (truth.expected post or duplicate, when truth has that column).
    """
    joined = (
        outcome.join(
            truth.select("source_file", "source_row", "true_citizen_id", "corruptions", "expected"),
            on=["source_file", "source_row"],
            how="left",
        )
        .with_columns(
            is_posted=pl.col("citizen_id").is_not_null(),
            # A registry citizen's row that should be posted (not, e.g., a shot dated after their death).
            is_in_registry=pl.col("true_citizen_id").is_not_null()
            & pl.col("expected").is_in(POSTABLE_EXPECTED).fill_null(True),
        )
        .with_columns(
            is_correct=pl.col("is_posted")
            & (pl.col("citizen_id") == pl.col("true_citizen_id")).fill_null(False),
        )
        .with_columns(is_wrong=pl.col("is_posted") & ~pl.col("is_correct"))
    )
    count_posted = int(joined["is_posted"].sum())
    count_correct = int(joined["is_correct"].sum())
    count_wrong = int(joined["is_wrong"].sum())
    count_in_registry = int(joined["is_in_registry"].sum())
    precision = count_correct / count_posted if count_posted else 1.0
    recall = count_correct / count_in_registry if count_in_registry else 1.0
    summary: dict[str, Any] = {
        "count_rows": joined.height,
        "count_in_registry": count_in_registry,
        "count_absent_from_registry": joined.height - count_in_registry,
        "count_posted": count_posted,
        "count_correct": count_correct,
        "count_wrong": count_wrong,
        "count_wrong_absent_person": int((joined["is_wrong"] & joined["true_citizen_id"].is_null()).sum()),
        "wrong_per_10k_posted": round(10_000 * count_wrong / count_posted, 3) if count_posted else 0.0,
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(2 * precision * recall / (precision + recall), 6) if precision + recall else 0.0,
    }
    if "match_reason" in joined.columns:
        summary["unposted_by_reason"] = dict(
            joined.filter(~pl.col("is_posted"))["match_reason"].fill_null("none").value_counts().iter_rows()
        )
    by_method = (
        joined.filter(pl.col("is_posted"))
        .group_by("match_method")
        .agg(
            count_posted=pl.len(),
            count_correct=pl.col("is_correct").sum(),
            count_wrong=pl.col("is_wrong").sum(),
        )
        .sort("match_method")
    )
    by_corruption = (
        joined.filter(pl.col("is_in_registry"))
        .explode("corruptions")
        .group_by(pl.col("corruptions").alias("corruption"))
        .agg(
            count_rows=pl.len(),
            count_correct=pl.col("is_correct").sum(),
            count_wrong=pl.col("is_wrong").sum(),
        )
        .with_columns(recall=(pl.col("count_correct") / pl.col("count_rows")).round(4))
        .drop_nulls("corruption")
        .sort("recall", "count_rows")
    )
    return LinkageEvaluation(summary=summary, by_corruption=by_corruption, by_method=by_method)


# --- generated data ----------------------------------------------------------------------------------------


@dataclass
class PreparedInputs:
    normalized: Path  # normalized shots (STAGED_ROW_SCHEMA + NORMALIZED_EXTRA_SCHEMA)
    registry: Path  # prepared registry
    truth: pl.DataFrame
    as_of: dt.date


def prepare_generated(data_dir: Path) -> PreparedInputs:
    """Stage and normalize a generated landing folder, and prepare its registry (cached per folder)."""

    cache = data_dir / CACHE_DIR_NAME
    normalized_path, registry_path = cache / "normalized.parquet", cache / "registry_prepared.parquet"
    summary = json.loads((data_dir / "summary.json").read_text())
    as_of = dt.date.fromisoformat(summary["snapshot_date"])
    if not (normalized_path.exists() and registry_path.exists()):
        cache.mkdir(exist_ok=True)
        landing = data_dir / "landing"
        staged = []
        for source_file in list_landed_files(landing):
            export = stage_export(landing, source_file, file_content_hash(landing / source_file))
            if export.rows is not None:
                staged.append(export.rows)
        # As the pipeline does: the registry's surname statistics repair titles and given-name-first order.
        reference = load_reference(registry=pl.scan_parquet(data_dir / "registry.parquet"))
        normalize_shots(pl.concat(staged).lazy(), as_of=as_of, reference=reference).sink_parquet(
            normalized_path
        )
        prepare_registry(pl.scan_parquet(data_dir / "registry.parquet")).sink_parquet(registry_path)
    return PreparedInputs(normalized_path, registry_path, pl.read_parquet(data_dir / "truth.parquet"), as_of)


def run_matching(
    normalized: pl.LazyFrame,
    registry: pl.LazyFrame,
    *,
    truth: pl.DataFrame | None = None,
    **link_options: Any,
) -> tuple[pl.DataFrame, Any, dict[str, float]]:
    """The matching stage as the pipeline runs it: the ID pass, then the probabilistic pass.

    Returns one row per matchable shot (source_file, source_row + MATCH_SCHEMA), the LinkResult and
    wall seconds per pass (and the probabilistic pass's CPU seconds, user + system).
    """

    started = time.perf_counter()
    deterministic = match_by_id(normalized, registry).collect()
    id_seconds = time.perf_counter() - started
    keyed_truth = None
    if truth is not None:
        keys = normalized.select("source_file", "file_hash", "source_row").collect()
        keyed_truth = truth.join(keys, on=["source_file", "source_row"])
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    linked = link_probabilistically(normalized, registry, deterministic, truth=keyed_truth, **link_options)
    probabilistic_seconds, probabilistic_cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    replaced = deterministic.join(
        linked.matches.select("file_hash", "source_row"), on=["file_hash", "source_row"], how="anti"
    )
    matches = pl.concat([replaced, linked.matches])
    keys = normalized.select("file_hash", "source_row", "source_file").collect()
    outcome = matches.join(keys, on=["file_hash", "source_row"], how="left")
    return (
        outcome,
        linked,
        {
            "id_pass_seconds": round(id_seconds, 2),
            "probabilistic_seconds": round(probabilistic_seconds, 2),
            "probabilistic_cpu_seconds": round(probabilistic_cpu, 2),
        },
    )


def _cpu_seconds() -> float:
    """User + system CPU time of this process over all its threads (DuckDB's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def evaluate_generated(data_dir: Path, **link_options: Any) -> LinkageEvaluation:
    """Run the matching stage on generated data and score it against truth.parquet."""
    inputs = prepare_generated(data_dir)
    normalized, registry = pl.scan_parquet(inputs.normalized), pl.scan_parquet(inputs.registry)
    started = time.perf_counter()
    outcome, linked, timings = run_matching(normalized, registry, truth=inputs.truth, **link_options)
    timings["matching_seconds"] = round(time.perf_counter() - started, 2)
    timings["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)
    evaluation = linkage_metrics(outcome, inputs.truth)
    evaluation.blocking_report = linked.blocking_report
    evaluation.timings = {**timings, **{f"link_{k}": v for k, v in linked.timings.items()}}
    evaluation.summary["count_review"] = int((outcome["match_reason"] == "review_required").sum())
    return evaluation


def format_evaluation(evaluation: LinkageEvaluation, *, corruption_rows: int = 20) -> str:
    """A plain-text report of an evaluation, for a CLI (`vaxsync evaluate`) to print."""
    s = evaluation.summary
    lines = [
        f"rows {s['count_rows']:,} (in registry {s['count_in_registry']:,}, absent {s['count_absent_from_registry']:,})",
        f"posted {s['count_posted']:,}: correct {s['count_correct']:,}, wrong {s['count_wrong']:,} "
        f"({s['wrong_per_10k_posted']:.2f} per 10,000 posted; {s['count_wrong_absent_person']} of absent people)",
        f"precision {s['precision']:.6f}  recall {s['recall']:.4%}  F1 {s['f1']:.6f}",
        f"unposted by reason: {s.get('unposted_by_reason', {})}",
        f"timings (s) and peak memory (GiB): {evaluation.timings}",
        "",
        "recall per corruption type (lowest first): corruption, rows, wrong, recall",
    ]
    for row in evaluation.by_corruption.head(corruption_rows).iter_rows(named=True):
        lines.append(
            f"  {row['corruption']:<28}{row['count_rows']:>8}{row['count_wrong']:>6}{row['recall']:>9.2%}"
        )
    if evaluation.blocking_report is not None:
        lines += ["", "blocking: rule, pairs, shots with candidates, blocks split, recall"]
        for row in evaluation.blocking_report.iter_rows(named=True):
            recall = "" if row["recall"] is None else f"{row['recall']:.4%}"
            lines.append(
                f"  {row['blocking_rule']:<28}{row['count_pairs']:>10}{row['count_shots_with_candidates']:>9}"
                f"{int(row['count_blocks_split']):>7}{recall:>10}"
            )
    return "\n".join(lines)
