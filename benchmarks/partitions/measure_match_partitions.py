"""Time and peak memory of the partitioned match stage's steps, each in its own process.

    .venv/bin/python benchmarks/partitions/measure_match_partitions.py --data /tmp/X --rows-per-partition 100000

--data is a `vaxsync synth` folder; its staged and normalized rows are cached by synth.evaluation
(<data>/evaluation_cache). Each step (plan, every partition, combine) runs under /usr/bin/time -v, as
an Airflow worker would run it; the table gives wall seconds, peak RSS and rows to link per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

AS_OF = dt.date(2023, 1, 31)


def settings_for(store: Path, rows_per_partition: int):  # type: ignore[no-untyped-def]
    from vaxsync.core.settings import Settings

    return Settings(as_of=AS_OF, partition_store=str(store), match_partition_rows=rows_per_partition)


def run_step(arguments: argparse.Namespace) -> None:
    """One step, in this process (called through /usr/bin/time by main)."""
    from synth.evaluation import prepare_generated
    from vaxsync.orchestration.match_partitions import combine_partitions, gather_partition, plan_partitions

    settings = settings_for(arguments.store, arguments.rows_per_partition)
    if arguments.step == "plan":
        inputs = prepare_generated(arguments.data)
        shots, registry = pl.scan_parquet(inputs.normalized), pl.scan_parquet(inputs.registry)
        plan = plan_partitions(settings, shots, registry, input_counts={})
        print(json.dumps({"result": plan}))
    elif arguments.step == "partition":
        print(json.dumps({"result": gather_partition(settings, arguments.partition)}))
    else:
        _, linked, _ = combine_partitions(settings, arguments.store / "matching_model.json")
        print(json.dumps({"result": {"rows_decided": linked.matches.height}}))


def timed(command: list[str]) -> dict[str, object]:
    started = time.perf_counter()
    completed = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr).group(1))  # type: ignore[union-attr]
    result = json.loads(completed.stdout.strip().splitlines()[-1])["result"]
    return {"seconds": round(seconds, 2), "peak_rss_gib": round(peak_kib / 2**20, 2), "result": result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--store", type=Path, default=Path("/tmp/vaxsync_partition_bench"))
    parser.add_argument("--rows-per-partition", type=int, default=100_000)
    parser.add_argument("--step", choices=["plan", "partition", "combine"])
    parser.add_argument("--partition")
    arguments = parser.parse_args()
    if arguments.step:
        run_step(arguments)
        return
    base = [sys.executable, __file__, "--data", str(arguments.data), "--store", str(arguments.store)]
    base += ["--rows-per-partition", str(arguments.rows_per_partition)]
    # prepare_generated's cache first, so the plan's figure is the match stage's alone
    from synth.evaluation import prepare_generated

    prepare_generated(arguments.data)
    plan = timed([*base, "--step", "plan"])
    rows = []
    print(f"plan: {plan['seconds']} s, {plan['peak_rss_gib']} GiB")
    for partition in plan["result"]["partitions"]:  # type: ignore[index]
        step = timed([*base, "--step", "partition", "--partition", partition])
        result = step["result"]
        rate = result["rows_to_link"] / step["seconds"]  # type: ignore[index, operator]
        rows.append({**result, "wall_seconds": step["seconds"], "peak_rss_gib": step["peak_rss_gib"]})  # type: ignore[dict-item]
        print(
            f"{partition}: {result['rows_to_link']} rows, {result['candidate_pairs']} pairs, "  # type: ignore[index]
            f"{step['seconds']} s ({rate:.0f} rows/s), {step['peak_rss_gib']} GiB"
        )
    combine = timed([*base, "--step", "combine"])
    print(f"combine: {combine['seconds']} s, {combine['peak_rss_gib']} GiB")
    print(json.dumps({"plan": plan, "partitions": rows, "combine": combine}, default=str))


if __name__ == "__main__":
    main()
