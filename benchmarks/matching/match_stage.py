"""The match stage alone, on a copy of a night prepared up to normalize, and a comparison of two such runs.

    # once: discover, ingest and normalize a night into a folder (its settings in settings.json)
    python benchmarks/matching/match_stage.py prepare /tmp/night --data /work/bench-data/medium-seed7
    # each run: copy the folder, run plan / partitions / combine (then publish, --publish), print CPU
    python benchmarks/matching/match_stage.py run /tmp/night /tmp/run-a [--publish]
    # compare two runs: exactly, or the decisions exactly and the scores within --tolerance
    python benchmarks/matching/match_stage.py compare /tmp/run-a /tmp/run-b [--tolerance 1e-9]

Run the code under test with PYTHONPATH pointing at it (e.g. a `git archive` of each side), alternating
the sides; CPU seconds (all threads, getrusage) are the figure on a shared machine, not wall.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from vaxsync.core.settings import Settings
from vaxsync.orchestration import pipeline

PUBLISHED_TABLES = ("synced_shots", "shot_sources", "unposted_backlog", "probabilistic_postings")
MATCH_FILES = {
    "matches.parquet": ["file_hash", "source_row"],
    "review_candidates.parquet": ["file_hash", "source_row", "candidate_rank"],
    "blocking_report.parquet": [],
}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def prepare(folder: Path, data: Path, as_of: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    values = {
        "registry_path": str(data / "registry.parquet"),
        "landing_dir": str(data / "landing"),
        "warehouse_path": str(folder / "warehouse.duckdb"),
        "reports_dir": str(folder / "reports"),
        "decisions_dir": str(folder / "decisions"),
        "as_of": as_of,
    }
    (folder / "settings.json").write_text(json.dumps(values))
    settings = Settings(**values)
    for _ in pipeline._ingest_all(settings, pipeline.discover_new_exports(settings)):
        pass
    pipeline.normalize_batch(settings)


def run(prepared: Path, trial: Path, publish: bool) -> None:
    if trial.exists():
        shutil.rmtree(trial)
    shutil.copytree(prepared, trial, symlinks=True)
    values = json.loads((prepared / "settings.json").read_text())
    for key in ("warehouse_path", "reports_dir", "decisions_dir"):
        values[key] = values[key].replace(str(prepared), str(trial))
    settings = Settings(**values)
    laps = [("start", time.perf_counter(), _cpu_seconds())]
    partitions = pipeline.plan_match_partitions(settings)
    laps.append(("plan", time.perf_counter(), _cpu_seconds()))
    for partition in partitions:
        pipeline.match_partition(settings, partition)
    laps.append(("partitions", time.perf_counter(), _cpu_seconds()))
    pipeline.combine_matches(settings)
    laps.append(("combine", time.perf_counter(), _cpu_seconds()))
    for (_, wall_before, cpu_before), (name, wall, cpu) in itertools.pairwise(laps):
        print(f"{name:12s} wall {wall - wall_before:7.2f}  cpu {cpu - cpu_before:7.2f}")
    print(f"{'match':12s} wall {laps[-1][1] - laps[0][1]:7.2f}  cpu {laps[-1][2] - laps[0][2]:7.2f}")
    if publish:
        pipeline.publish_batch(settings)
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
            for table in PUBLISHED_TABLES:
                connection.sql(f"select * from {table}").pl().write_parquet(trial / f"{table}.parquet")


def _work_folder(trial: Path) -> Path:
    return next((trial / "work").glob("*"))


def _same(name: str, left: pl.DataFrame, right: pl.DataFrame, tolerance: float | None) -> bool:
    try:
        if tolerance is None:
            assert_frame_equal(left, right, check_exact=True)
        else:
            assert_frame_equal(left, right, check_exact=False, rel_tol=tolerance, abs_tol=tolerance)
    except AssertionError as difference:
        print(f"DIFFERENT {name}: {str(difference).splitlines()[0]}")
        return False
    print(f"same {name} {left.shape}")
    return True


def compare(first: Path, second: Path, tolerance: float | None) -> bool:
    """Match outputs and (when published) the marts' tables, rows sorted; run ids and timestamps aside.
    With a tolerance, texts that quote a rounded probability (match_detail, reason_detail) differ
    whenever a score moves across the 6th digit."""
    same = True
    left_work, right_work = _work_folder(first), _work_folder(second)
    for name, keys in MATCH_FILES.items():
        left, right = pl.read_parquet(left_work / name), pl.read_parquet(right_work / name)
        if keys:
            left, right = left.sort(keys), right.sort(keys)
        same &= _same(name, left, right, tolerance)
    if tolerance is not None:  # the decisions themselves stay exact
        decision = ["file_hash", "source_row", "citizen_id", "candidate_citizen_id", "match_reason"]
        left, right = (
            pl.read_parquet(w / "matches.parquet").select(decision) for w in (left_work, right_work)
        )
        same &= _same("decisions", left.sort(decision[:2]), right.sort(decision[:2]), None)
    for table in PUBLISHED_TABLES:
        if not (first / f"{table}.parquet").exists():
            continue
        left, right = (
            pl.read_parquet(first / f"{table}.parquet"),
            pl.read_parquet(second / f"{table}.parquet"),
        )
        volatile = [column for column in left.columns if column.endswith(("_at", "run_id"))]
        left, right = left.drop(volatile), right.drop(volatile)
        keys = [
            column for column, dtype in left.schema.items() if not dtype.is_float() and not dtype.is_nested()
        ]
        same &= _same(table, left.sort(keys, nulls_last=True), right.sort(keys, nulls_last=True), tolerance)
    models = [json.loads((w / "matching_model.json").read_text()) for w in (left_work, right_work)]
    if tolerance is None:
        print("same model" if models[0] == models[1] else "DIFFERENT model")
        same &= models[0] == models[1]
    return same


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_command = commands.add_parser("prepare")
    prepare_command.add_argument("folder", type=Path)
    prepare_command.add_argument("--data", type=Path, required=True)
    prepare_command.add_argument("--as-of", default="2023-01-31")
    run_command = commands.add_parser("run")
    run_command.add_argument("prepared", type=Path)
    run_command.add_argument("trial", type=Path)
    run_command.add_argument("--publish", action="store_true")
    compare_command = commands.add_parser("compare")
    compare_command.add_argument("first", type=Path)
    compare_command.add_argument("second", type=Path)
    compare_command.add_argument("--tolerance", type=float, default=None)
    arguments = parser.parse_args()
    if arguments.command == "prepare":
        prepare(arguments.folder, arguments.data, arguments.as_of)
    elif arguments.command == "run":
        run(arguments.prepared, arguments.trial, arguments.publish)
    else:
        sys.exit(0 if compare(arguments.first, arguments.second, arguments.tolerance) else 1)


if __name__ == "__main__":
    main()
