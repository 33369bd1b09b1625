"""Where the night's cores sit idle: one night (`run_nightly`) with its process tree's CPU sampled.

    python benchmarks/timeline_night.py --data <cache>/medium-seed7 --run-dir <cache>/timeline

The night runs in a child process exactly as `vaxsync run` runs it, from an empty warehouse (and an empty
registry cache unless --warm-registry), writing each stage's start and end. This process samples, every
--interval seconds, the CPU seconds of every thread of the child and of its own children (the ingest
workers, the report's render helper) from /proc, and the whole machine's busy time from /proc/stat (the
machine may be shared: "others" is what the rest of it used meanwhile).

Printed (and written to <run-dir>/timeline.json): per stage, wall seconds, CPU seconds, the cores the
night kept busy on average, the cores it wanted (its threads on a core or runnable and waiting for one,
from /proc/<pid>/task/<tid>/schedstat: a stage that wants fewer than the machine's cores leaves one idle
even on a machine of its own; waits for the GIL, a lock or I/O are sleeps, not wants) and the idle
core-seconds (cores x wall - CPU); then a timeline in --bin second bins, CPU split into the main thread,
polars' pool, the process's other threads (Python threads such as Great Expectations' import, DuckDB's
workers) and child processes. A benchmark, not a test: the figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

AS_OF = "2023-01-31"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CATEGORIES = ("main thread", "polars pool", "other threads", "child processes")
NS = 1e9


def child(settings_json: str, events_path: str) -> None:
    """Run the night in this process; append (time, stage, event) lines to events_path."""
    with open(events_path, "a", encoding="utf-8") as events:
        events.write(json.dumps({"t": time.time(), "stage": "startup", "event": "start"}) + "\n")
    from vaxsync.core.settings import Settings
    from vaxsync.orchestration.pipeline import run_nightly

    with open(events_path, "a", encoding="utf-8") as events:

        def mark(stage: str, event: str) -> None:
            events.write(json.dumps({"t": time.time(), "stage": stage, "event": event}) + "\n")
            events.flush()

        seen: set[str] = set()

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in seen:
                seen.add(stage)
                mark(stage, "start")

        mark("discover", "start")
        run_nightly(
            Settings(**json.loads(Path(settings_json).read_text())),
            on_progress=on_progress,
            on_stage_done=lambda stage, seconds, counts: mark(stage, "end"),
        )
        mark("night", "end")


def _thread_times(pid: int) -> dict[tuple[int, int], tuple[str, int, int]]:
    """(pid, tid) -> (thread name, ns on a core, ns runnable but waiting for a core) for every thread of
    one process (/proc/<pid>/task/<tid>/schedstat)."""
    times: dict[tuple[int, int], tuple[str, int, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return times
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm", encoding="utf-8") as comm:
                name = comm.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as schedstat:
                running, waiting = schedstat.read().split()[:2]
        except (OSError, ValueError):
            continue
        times[(pid, int(tid))] = (name, int(running), int(waiting))
    return times


def _process_ticks(pid: int) -> tuple[int, int]:
    """(clock ticks of the process's own threads, living and ended; of its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            text = stat.read()
    except OSError:
        return 0, 0
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                text = stat.read()
        except OSError:
            continue
        parent = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) clock ticks of every CPU since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _category(root: int, pid: int, tid: int, name: str) -> str:
    if pid != root:
        return "child processes"
    if tid == root:
        return "main thread"
    return "polars pool" if name.startswith("polars-") else "other threads"


def sample(root: int, process: subprocess.Popen[bytes], interval: float) -> list[dict[str, Any]]:
    """Every interval until the child ends: CPU seconds used since the last sample, by category, and the
    seconds the night's threads were runnable but waiting for a core (taken by others, or by each other).

    Thread times come from each living thread's schedstat; a thread that ended between two samples
    (DuckDB's workers live as long as their connection) is missing there, so the process's total (which
    keeps ended threads) minus the main thread and polars' pool is "other threads", and child processes
    are their totals plus the children the night reaped. Waits of such short threads are not counted."""
    samples = []
    last_threads: dict[tuple[int, int], tuple[int, int]] = {}
    last_ticks: dict[str, int] = {"own": 0, "children": 0}
    last_machine, last_time = _machine_ticks(), time.time()
    while process.poll() is None:
        time.sleep(interval)
        used = dict.fromkeys(CATEGORIES, 0.0)
        waited = 0.0
        threads: dict[tuple[int, int], tuple[int, int]] = {}
        own, children = _process_ticks(root)
        for pid in _descendants(root):
            if pid != root:
                child_own, grandchildren = _process_ticks(pid)
                children += child_own + grandchildren
            for key, (name, running, waiting) in _thread_times(pid).items():
                threads[key] = (running, waiting)
                ran_before, waited_before = last_threads.get(key, (0, 0))
                waited += (waiting - waited_before) / NS
                category = _category(root, key[0], key[1], name)
                if category in ("main thread", "polars pool"):
                    used[category] += (running - ran_before) / NS
        used["other threads"] = max(
            (own - last_ticks["own"]) / CLOCK_TICKS - used["main thread"] - used["polars pool"], 0.0
        )
        used["child processes"] = max((children - last_ticks["children"]) / CLOCK_TICKS, 0.0)
        machine, now = _machine_ticks(), time.time()
        busy = (machine[0] - last_machine[0]) / CLOCK_TICKS
        samples.append({"t": now, "dt": now - last_time, "cpu": used, "waited": waited, "machine_busy": busy})
        last_threads, last_machine, last_time = threads, machine, now
        last_ticks = {"own": own, "children": children}
    return samples


def stage_spans(events: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(stage, start, end) in order; a stage ends where it says so, or where the next one starts."""
    starts = [(event["stage"], event["t"]) for event in events if event["event"] == "start"]
    ends = {event["stage"]: event["t"] for event in events if event["event"] == "end"}
    spans = []
    for index, (stage, start) in enumerate(starts):
        following = starts[index + 1][1] if index + 1 < len(starts) else ends.get("night", start)
        spans.append((stage, start, ends.get(stage, following)))
    return spans


def _sample_share(sample: dict[str, Any], start: float, end: float) -> float:
    """The part of a sample's interval (ending at sample["t"]) inside [start, end)."""
    overlap = min(sample["t"], end) - max(sample["t"] - sample["dt"], start)
    return max(overlap, 0.0) / sample["dt"]


def _window(samples: list[dict[str, Any]], start: float, end: float) -> dict[str, float]:
    """CPU seconds by category, seconds waited for a core and the machine's busy seconds in [start, end)."""
    totals = {**dict.fromkeys(CATEGORIES, 0.0), "waited": 0.0, "machine_busy": 0.0}
    for item in samples:
        share = _sample_share(item, start, end)
        if share:
            for category in CATEGORIES:
                totals[category] += share * item["cpu"][category]
            totals["waited"] += share * item["waited"]
            totals["machine_busy"] += share * item["machine_busy"]
    return totals


def summarise(
    samples: list[dict[str, Any]], spans: list[tuple[str, float, float]], cores: int
) -> list[dict[str, Any]]:
    """Per stage (and the whole night): wall, CPU, the cores used and wanted on average, idle core-seconds."""
    rows = []
    for stage, start, end in [*spans, ("night", spans[0][1], spans[-1][2])]:
        totals = _window(samples, start, end)
        wall = end - start
        cpu = sum(totals[category] for category in CATEGORIES)
        rows.append(
            {
                "stage": stage,
                "wall_s": wall,
                "cpu_s": cpu,
                "cores_busy": cpu / wall if wall else 0.0,
                # runnable threads on average: what the stage could keep busy on a machine of its own
                "cores_wanted": (cpu + totals["waited"]) / wall if wall else 0.0,
                "waited_s": totals["waited"],
                "idle_core_s": cores * wall - cpu,
                "others_cpu_s": max(totals["machine_busy"] - cpu, 0.0),
                **{f"{category} s": totals[category] for category in CATEGORIES},
            }
        )
    return rows


def timeline(
    samples: list[dict[str, Any]], spans: list[tuple[str, float, float]], bin_s: float
) -> list[dict[str, Any]]:
    """Cores used by category, cores waited for and the machine's busy cores, bin by bin."""
    origin, finish = spans[0][1], spans[-1][2]
    rows = []
    start = origin
    while start < finish:
        end = min(start + bin_s, finish)
        totals = _window(samples, start, end)
        middle = (start + end) / 2
        stage = next((name for name, first, last in spans if first <= middle < last), "")
        rows.append(
            {"t": start - origin, "stage": stage, **{k: v / (end - start) for k, v in totals.items()}}
        )
        start = end
    return rows


def print_tables(rows: list[dict[str, Any]], bins: list[dict[str, Any]], cores: int) -> None:
    print(
        "| stage | wall s | CPU s | cores busy | cores wanted | idle core-s "
        "| main thread | polars pool | other threads | child processes | waited for a core s | others' CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        parts = [f"{row[f'{category} s']:.1f}" for category in CATEGORIES]
        print(
            f"| {row['stage']} | {row['wall_s']:.2f} | {row['cpu_s']:.1f} | {row['cores_busy']:.2f} "
            f"| {row['cores_wanted']:.2f} | {row['idle_core_s']:.1f} | {' | '.join(parts)} "
            f"| {row['waited_s']:.1f} | {row['others_cpu_s']:.1f} |"
        )
    print()
    print(
        f"t s    stage      cores of {cores}: M main thread, P polars pool, O other threads, C child processes,"
    )
    print("                  w runnable but waiting for a core, . not wanted")
    width = 10  # characters per core
    for row in bins:
        bar = "".join(
            letter * round(row[category] * width)
            for letter, category in zip("MPOCw", [*CATEGORIES, "waited"], strict=True)
        )
        bar = bar[: cores * width].ljust(cores * width, ".")
        print(f"{row['t']:5.1f}  {row['stage']:<10} |{bar}| machine busy {row['machine_busy']:.1f}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="registry.parquet and landing/ (vaxsync synth)"
    )
    parser.add_argument("--run-dir", type=Path, required=True, help="emptied, then the night's warehouse")
    parser.add_argument("--as-of", default=AS_OF)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--bin", type=float, default=0.5, help="seconds per line of the timeline")
    parser.add_argument("--warm-registry", action="store_true", help="keep the run folder's registry cache")
    args = parser.parse_args()
    if args.run_dir.exists():
        for path in args.run_dir.iterdir():
            if args.warm_registry and path.name == "registry_cache":
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    args.run_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "registry_path": str(args.data / "registry.parquet"),
        "landing_dir": str(args.data / "landing"),
        "warehouse_path": str(args.run_dir / "warehouse.duckdb"),
        "reports_dir": str(args.run_dir / "reports"),
        "decisions_dir": str(args.run_dir / "decisions"),
        "as_of": args.as_of,
    }
    settings_json, events_path = args.run_dir / "settings.json", args.run_dir / "events.jsonl"
    settings_json.write_text(json.dumps(settings))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(settings_json), str(events_path)]
    process = subprocess.Popen(command)
    samples = sample(process.pid, process, args.interval)
    if process.returncode:
        raise SystemExit(f"the night failed (exit code {process.returncode})")
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    spans = stage_spans(events)
    cores = os.cpu_count() or 1
    rows = summarise(samples, spans, cores)
    bins = timeline(samples, spans, args.bin)
    (args.run_dir / "timeline.json").write_text(json.dumps({"stages": rows, "timeline": bins}, indent=1))
    print_tables(rows, bins, cores)


if __name__ == "__main__":
    main()
