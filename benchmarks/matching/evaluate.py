"""Evaluate the matching stage against ground truth, and Splink 5 side by side on the same rows.

    uv run --group bench python benchmarks/matching/evaluate.py generate DIR --citizens 1000000 --shots 200000
    uv run --group bench python benchmarks/matching/evaluate.py synthetic DIR [--splink]
    uv run --group bench python benchmarks/matching/evaluate.py febrl4 [--splink]
    uv run --group bench python benchmarks/matching/evaluate.py growth DIR BIGGER_REGISTRY.parquet

Each engine runs in its own process, so its wall time and peak memory (max RSS) are its own. `synthetic`
prints precision, recall, F1, wrong postings (per 10,000 posted, absent people included), recall per
corruption type and the blocking report; `growth` links the same rows against the registry and against
that registry grown with other people, to show that wrong postings do not grow with it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FINAL_ID_REASONS = ("shot_after_death", "shot_before_birth")


def _peak_rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (DuckDB's included): steadier than wall
    time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _in_child(function: Any, *args: Any) -> dict[str, Any]:
    """Run function(*args) in a fresh process and return its result (a JSON-able dict)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


# --- engines (run in child processes) -------------------------------------------------------------------


def _ours(normalized_path: str, registry_path: str, truth_path: str) -> dict[str, Any]:
    from synth.evaluation import linkage_metrics, run_matching

    normalized, registry = pl.scan_parquet(normalized_path), pl.scan_parquet(registry_path)
    truth = pl.read_parquet(truth_path)
    started = time.perf_counter()
    outcome, linked, timings = run_matching(normalized, registry, truth=truth)
    seconds = time.perf_counter() - started
    evaluation = linkage_metrics(outcome, truth)
    evaluation.summary["review_share"] = float(
        (outcome["match_reason"] == "review_required").fill_null(False).mean() or 0.0
    )
    return {
        "engine": "vaxsync",
        "summary": evaluation.summary,
        "seconds_matching": round(seconds, 2),
        "seconds_probabilistic": timings["probabilistic_seconds"],
        "cpu_seconds_probabilistic": timings["probabilistic_cpu_seconds"],
        "seconds_id_pass": timings["id_pass_seconds"],
        "steps": linked.timings,
        "peak_rss_gib": _peak_rss_gib(),
        "by_corruption": evaluation.by_corruption.to_dicts(),
        "by_method": evaluation.by_method.to_dicts(),
        "blocking": linked.blocking_report.with_columns(
            pl.col("count_blocks_split").cast(pl.Int64)
        ).to_dicts(),
        "fitted": {k: v for k, v in linked.model_used["fitted"].items() if not isinstance(v, dict)},
    }


def _splink(
    normalized_path: str,
    registry_path: str,
    truth_path: str,
    thresholds: list[float],
    after_id_pass: bool,
    max_wrong_per_10k: float,
) -> dict[str, Any]:
    """Splink on the rows (left by the ID pass, or all), scored at each fixed threshold and at its
    operating point: the lowest threshold keeping wrong postings within max_wrong_per_10k, chosen with
    the truth (so Splink at its best)."""
    from splink_runner import operating_threshold, run_splink

    from matching.deterministic import match_by_id
    from synth.evaluation import linkage_metrics

    normalized, registry = pl.scan_parquet(normalized_path), pl.scan_parquet(registry_path)
    truth = pl.read_parquet(truth_path)
    shots = normalized.filter(pl.col("reject_reason").is_null()).collect()
    deterministic = match_by_id(normalized, registry).collect()
    to_link = shots
    if after_id_pass:
        left = deterministic.filter(
            pl.col("citizen_id").is_null() & ~pl.col("match_reason").is_in(FINAL_ID_REASONS)
        )
        to_link = shots.join(left.select("file_hash", "source_row"), on=["file_hash", "source_row"])
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    best = run_splink(to_link, registry.collect())
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu_started
    peak = _peak_rss_gib()
    keys = shots.select(
        "file_hash",
        "source_row",
        "source_file",
        pl.format("{}:{}", "file_hash", "source_row").alias("shot_id"),
    )
    by_id = (
        deterministic.join(
            best.select(pl.col("shot_id")),
            left_on=pl.format("{}:{}", "file_hash", "source_row"),
            right_on="shot_id",
            how="anti",
        )
        .join(keys.select("file_hash", "source_row", "source_file"), on=["file_hash", "source_row"])
        .select("source_file", "source_row", "citizen_id", "match_method", "match_reason")
        if after_id_pass
        else pl.DataFrame(
            schema={
                "source_file": pl.String,
                "source_row": pl.Int32,
                "citizen_id": pl.String,
                "match_method": pl.String,
                "match_reason": pl.String,
            }
        )
    )
    true_citizen = keys.join(truth, on=["source_file", "source_row"]).select("shot_id", "true_citizen_id")
    operating = operating_threshold(
        best, true_citizen, max_wrong_per_10k, int(by_id["citizen_id"].is_not_null().sum())
    )
    results = []
    for label, threshold in [*((f"splink p>={t}", t) for t in thresholds), ("splink oper.", operating)]:
        by_splink = keys.join(best, on="shot_id").select(
            "source_file",
            "source_row",
            pl.when(pl.col("match_probability") >= threshold).then(pl.col("citizen_id")).alias("citizen_id"),
            pl.lit("splink").alias("match_method"),
            pl.when(pl.col("match_probability") < threshold)
            .then(pl.lit("below_threshold"))
            .alias("match_reason"),
        )
        evaluation = linkage_metrics(pl.concat([by_id, by_splink], how="vertical_relaxed"), truth)
        results.append(
            {
                "engine": label,
                "threshold": threshold,
                "summary": evaluation.summary,
                "seconds_probabilistic": round(seconds, 2),
                "cpu_seconds_probabilistic": round(cpu_seconds, 2),
                "peak_rss_gib": peak,
                "by_corruption": evaluation.by_corruption.to_dicts(),
            }
        )
    return {"results": results}


# --- commands ----------------------------------------------------------------------------------------------


def _print_results(results: list[dict[str, Any]]) -> None:
    header = f"{'engine':<16}{'posted':>9}{'wrong':>7}{'/10k':>7}{'recall':>9}{'precision':>11}{'F1':>9}{'link s':>8}{'cpu s':>8}{'peak GiB':>10}{'review':>8}"
    print(header)
    for result in results:
        s = result["summary"]
        print(
            f"{result['engine']:<16}{s['count_posted']:>9}{s['count_wrong']:>7}{s['wrong_per_10k_posted']:>7.2f}"
            f"{s['recall']:>9.4%}{s['precision']:>11.6f}{s['f1']:>9.5f}{result['seconds_probabilistic']:>8.1f}"
            f"{result.get('cpu_seconds_probabilistic', float('nan')):>8.1f}{result['peak_rss_gib']:>10.2f}"
            + (f"{s['review_share']:>8.3%}" if "review_share" in s else "")
        )


def _print_details(result: dict[str, Any]) -> None:
    print(f"\nsteps (s): {result.get('steps')}  id pass: {result.get('seconds_id_pass')} s")
    print("\nblocking (pairs, shots reached, blocks split, recall):")
    for row in result.get("blocking", []):
        recall = "" if row["recall"] is None else f"{row['recall']:.4%}"
        print(
            f"  {row['blocking_rule']:<28}{row['count_pairs']:>10}{row['count_shots_with_candidates']:>9}{row['count_blocks_split']:>7}{recall:>10}"
        )
    print("\nrecall per corruption (rows of registry citizens, lowest first):")
    for row in result["by_corruption"][:25]:
        print(f"  {row['corruption']:<28}{row['count_rows']:>8}{row['count_wrong']:>6}{row['recall']:>9.2%}")


def command_generate(args: argparse.Namespace) -> None:
    from synth.config import SynthConfig
    from synth.generate import generate

    rates = {name: float(value) for name, value in (pair.split("=", 1) for pair in args.rate)}
    config = SynthConfig(citizens=args.citizens, shots=args.shots, seed=args.seed, rates=rates)
    summary = generate(Path(args.data), config)
    print(json.dumps({k: summary[k] for k in ("citizens", "export_rows", "expected_counts")}, indent=1))


def command_synthetic(args: argparse.Namespace) -> None:
    from synth.evaluation import prepare_generated

    inputs = prepare_generated(Path(args.data))
    truth_path = str(Path(args.data) / "truth.parquet")
    paths = (str(inputs.normalized), str(inputs.registry), truth_path)
    results = [_in_child(_ours, *paths)]
    if args.splink:
        splink = _in_child(_splink, *paths, args.splink_thresholds, True, args.splink_max_wrong_per_10k)
        results.extend(splink["results"])
    _print_results(results)
    for result in results[1:]:
        print(f"{result['engine']}: threshold {result['threshold']:.6f}")
    _print_details(results[0])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


def _febrl_ours() -> dict[str, Any]:
    from febrl import febrl4_inputs

    from synth.evaluation import linkage_metrics, run_matching

    normalized, registry, truth = febrl4_inputs()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    outcome, linked, _ = run_matching(normalized, registry, truth=truth)
    return {
        "engine": "vaxsync",
        "summary": linkage_metrics(outcome, truth).summary,
        "seconds_probabilistic": round(time.perf_counter() - started, 2),
        "cpu_seconds_probabilistic": round(_cpu_seconds() - cpu_started, 2),
        "peak_rss_gib": _peak_rss_gib(),
        "fitted": {k: v for k, v in linked.model_used["fitted"].items() if not isinstance(v, dict)},
    }


def _febrl_splink(thresholds: list[float], max_wrong_per_10k: float) -> dict[str, Any]:
    import tempfile

    from febrl import febrl4_inputs

    normalized, registry, truth = febrl4_inputs()
    with tempfile.TemporaryDirectory() as folder:
        paths = [
            str(Path(folder) / name) for name in ("normalized.parquet", "registry.parquet", "truth.parquet")
        ]
        normalized.collect().write_parquet(paths[0])
        registry.collect().write_parquet(paths[1])
        truth.write_parquet(paths[2])
        return _splink(*paths, thresholds, False, max_wrong_per_10k)


def command_febrl4(args: argparse.Namespace) -> None:
    results = [_in_child(_febrl_ours)]
    if args.splink:
        results.extend(
            _in_child(_febrl_splink, args.splink_thresholds, args.splink_max_wrong_per_10k)["results"]
        )
    _print_results(results)
    for result in results[1:]:
        print(f"{result['engine']}: threshold {result['threshold']:.6f}")
    print(f"\nfitted: {results[0]['fitted']}")


def _grown_registry(registry_path: str, extra_path: str, out_path: str) -> None:
    base = pl.read_parquet(registry_path)
    extra = pl.read_parquet(extra_path).filter(~pl.col("citizen_id").is_in(base["citizen_id"].implode()))
    pl.concat([base, extra.select(base.columns)]).write_parquet(out_path)


def command_growth(args: argparse.Namespace) -> None:
    """The same rows linked against the registry and against it grown with other people (no duplicates)."""
    from synth.evaluation import prepare_generated
    from transforms.registry import prepare_registry

    inputs = prepare_generated(Path(args.data))
    grown_raw = Path(args.data) / "evaluation_cache" / "registry_grown_raw.parquet"
    grown = Path(args.data) / "evaluation_cache" / "registry_grown_prepared.parquet"
    _grown_registry(str(Path(args.data) / "registry.parquet"), args.extra_registry, str(grown_raw))
    prepare_registry(pl.scan_parquet(grown_raw)).sink_parquet(grown)
    truth_path = str(Path(args.data) / "truth.parquet")
    results = []
    for label, registry_path in (("registry", inputs.registry), ("grown", grown)):
        result = _in_child(_ours, str(inputs.normalized), str(registry_path), truth_path)
        result["engine"] = f"{label} {pl.scan_parquet(registry_path).select(pl.len()).collect().item():,}"
        results.append(result)
    _print_results(results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate")
    generate.add_argument("data")
    generate.add_argument("--citizens", type=int, default=1_000_000)
    generate.add_argument("--shots", type=int, default=200_000)
    generate.add_argument("--seed", type=int, default=3)
    generate.add_argument(
        "--rate", action="append", default=[], help="a defect rate other than the default: NAME=VALUE"
    )
    synthetic = commands.add_parser("synthetic")
    synthetic.add_argument("data")
    synthetic.add_argument("--json")
    febrl4 = commands.add_parser("febrl4")
    for command in (synthetic, febrl4):
        command.add_argument("--splink", action="store_true", help="run Splink 5 side by side")
        command.add_argument(
            "--splink-thresholds", type=float, nargs="+", default=[0.5, 0.99], help="fixed thresholds scored"
        )
        command.add_argument(
            "--splink-max-wrong-per-10k",
            type=float,
            default=1.0,
            help="Splink's operating point: the lowest threshold within this many wrong per 10k (chosen with truth)",
        )
    growth = commands.add_parser("growth")
    growth.add_argument("data")
    growth.add_argument("extra_registry")
    args = parser.parse_args()
    {
        "generate": command_generate,
        "synthetic": command_synthetic,
        "febrl4": command_febrl4,
        "growth": command_growth,
    }[args.command](args)


if __name__ == "__main__":
    main()
