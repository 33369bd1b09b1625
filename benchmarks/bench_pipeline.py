"""End-to-end benchmark of the nightly sync (`vaxsync run`) on generated data, stage by stage.

    uv run python benchmarks/bench_pipeline.py --size small          # 100k citizens x 20k shots
    uv run python benchmarks/bench_pipeline.py --size medium         # 1M x 200k
    uv run python benchmarks/bench_pipeline.py --size large          # 10M x 2M
    uv run python benchmarks/bench_pipeline.py --size large --incremental   # 10M registry, 50k new, 200k backlog

Data comes from `vaxsync synth` into a cache folder keyed by size and seed (generated once, reused).
The night runs in a child process under `/usr/bin/time -v`, exactly as `vaxsync run` runs it
(vaxsync.orchestration.pipeline.run_nightly); the child times each stage with its own clocks: wall seconds, CPU
seconds (all threads) and peak RSS (the kernel's high-water mark, reset at each stage boundary through
/proc/self/clear_refs). Sub-steps (validation, the registry's prepared form, blocking / comparisons /
decisions of the linkage) are timed by wrapping the functions the pipeline calls, never by changing
them. Results go to the terminal and to benchmarks/results/<size>[-incremental].{json,md}, with the
machine's load average, since the machine may be shared.

--splink also times "a plain reader + Splink", issue 14's yardstick: a plain reader reads every landing
file (read_landing_plainly) in a child of its own, and Splink (benchmarks/matching/splink_runner.py) links
the same normalized data in another child (needs `uv sync --group bench`); it prints and stores the reader
seconds, Splink's linking seconds, their sum, and the ratios of the night's wall and peak to theirs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SIZES = {"small": (100_000, 20_000), "medium": (1_000_000, 200_000), "large": (10_000_000, 2_000_000)}
AS_OF = "2023-01-31"
INCREMENTAL_NEW_ROWS = 50_000
INCREMENTAL_BACKLOG_ROWS = 200_000
NIGHT_2_AS_OF = "2023-02-01"
GIB = 1024**3


# --- measuring inside the child -------------------------------------------------------------------------


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); False where it cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    """This process's CPU seconds (all threads) plus those of its finished children (ingest workers)."""
    seconds = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        seconds += usage.ru_utime + usage.ru_stime
    return seconds


class TreeSampler:
    """Samples the RSS of this process plus its children every 0.1 s (child processes have their own
    high-water marks); the peak per stage is kept by the meter."""

    def __init__(self, meter: Meter) -> None:
        import threading

        import psutil

        self.meter = meter
        self.process = psutil.Process()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psutil

        while not self.stopped.wait(0.1):
            total = 0
            for process in [self.process, *self.process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.meter.sample_tree(total)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


@dataclass
class Window:
    """One measured span: a stage, or a sub-step that may recur (validation runs in two stages)."""

    name: str
    parent: str | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_gib: float = 0.0
    calls: int = 0
    rows: int | None = None
    peak_tree_rss_gib: float = 0.0  # this process and its children, sampled
    rss_at_start_gib: float = 0.0  # what the window inherited: its peak is at least this


@dataclass
class Meter:
    """Stage windows (one open at a time) and sub-step windows (nested in the open stage).

    The high-water mark is reset whenever a window opens; before each reset its current value is
    folded into every open window, so nested windows never hide an outer window's peak."""

    windows: dict[str, Window] = field(default_factory=dict)
    stage: str | None = None
    _open: dict[str, tuple[float, float]] = field(default_factory=dict)
    _peaks: dict[str, int] = field(default_factory=dict)

    night_tree_peak_gib: float = 0.0
    night_peak_kib: int = 0  # the whole night's peak (resetting the mark also resets what time -v reads)

    def _fold_peak(self) -> None:
        high_water = _status_kib("VmHWM")
        self.night_peak_kib = max(self.night_peak_kib, high_water)
        for name in self._open:
            self._peaks[name] = max(self._peaks.get(name, 0), high_water)
        _reset_peak()

    def _start(self, name: str, parent: str | None) -> None:
        self._fold_peak()
        window = self.windows.setdefault(name, Window(name, parent))
        self._open[name] = (time.perf_counter(), _cpu_seconds())
        resident = _status_kib("VmRSS")
        window.rss_at_start_gib = max(window.rss_at_start_gib, resident / 1024**2)
        self._peaks[name] = max(self._peaks.get(name, 0), resident)

    def _stop(self, name: str) -> None:
        self._fold_peak()
        wall_started, cpu_started = self._open.pop(name)
        window = self.windows[name]
        window.wall_s += time.perf_counter() - wall_started
        window.cpu_s += _cpu_seconds() - cpu_started
        window.calls += 1
        window.peak_rss_gib = max(window.peak_rss_gib, self._peaks.pop(name) / 1024**2)

    def enter_stage(self, name: str) -> None:
        if self.stage == name:
            return
        self.close_stage()
        self.stage = name
        self._start(name, None)

    def close_stage(self) -> None:
        if self.stage is not None:
            self._stop(self.stage)
            self.stage = None

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        if name in self._open:  # re-entered (a wrapped function calling another): count the outer one
            yield
            return
        self._start(name, self.stage)
        try:
            yield
        finally:
            self._stop(name)

    def sample_tree(self, rss_bytes: int) -> None:
        self.night_tree_peak_gib = max(self.night_tree_peak_gib, rss_bytes / GIB)
        for name in [self.stage, *list(self._open)]:
            if name is not None and name in self.windows:
                window = self.windows[name]
                window.peak_tree_rss_gib = max(window.peak_tree_rss_gib, rss_bytes / GIB)

    def add_lap(self, name: str, seconds: float) -> None:
        """A sub-step timed by the code itself (matching's own laps): wall seconds only."""
        window = self.windows.setdefault(name, Window(name, self.stage))
        window.wall_s += seconds
        window.calls += 1


def _patch(
    module_name: str, attribute: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    import importlib

    module = importlib.import_module(module_name)
    original = getattr(module, attribute)
    setattr(module, attribute, functools.wraps(original)(make(original)))


def _instrument(meter: Meter) -> None:
    """Wrap the functions run_nightly calls (looked up at call time) with the meter."""
    import threading

    def stage(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                meter.enter_stage(name)
                return original(*args, **kwargs)

            return wrapped

        return make

    def step(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                if threading.current_thread() is not threading.main_thread():
                    return original(*args, **kwargs)  # a background build: timed as a whole, below
                with meter.step(name):
                    return original(*args, **kwargs)

            return wrapped

        return make

    for function_name, stage_name in (
        ("discover_new_exports", "discover"),
        ("_ingest_all", "ingest"),
        ("ingest_export", "ingest"),
        ("ingest_exports", "ingest"),
        ("normalize_batch", "normalize"),
        ("match_batch", "match"),
        ("publish_batch", "publish"),
        ("report_batch", "report"),
    ):
        with contextlib.suppress(AttributeError):
            _patch("vaxsync.orchestration.pipeline", function_name, stage(stage_name))

    def run_suite(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(frame: Any, *args: Any, **kwargs: Any) -> Any:
            import vaxsync.marts.quality

            warming = getattr(vaxsync.marts.quality, "_importing_validation", None)
            if warming is not None and warming.is_alive():
                with meter.step("validate: wait for the background GX import"):
                    warming.join()
            if "great_expectations.core" not in sys.modules:
                with meter.step("validate: import great_expectations"):
                    import great_expectations  # noqa: F401
            with meter.step("validate"):
                outcome = original(frame, *args, **kwargs)
            window = meter.windows["validate"]
            window.rows = (window.rows or 0) + frame.height
            return outcome

        return wrapped

    # Wrapped where the pipeline looks them up: a `from x import f` binding is the caller's own name.
    for module_name in ("validation", "vaxsync.marts.quality", "vaxsync.marts.publish"):
        with contextlib.suppress(AttributeError):
            _patch(module_name, "run_suite", run_suite)
    for module_name in ("vaxsync.marts.registry_cache", "vaxsync.orchestration.pipeline"):
        with contextlib.suppress(AttributeError):
            _patch(module_name, "prepared_registry", step("match: prepare registry (once per snapshot)"))
        with contextlib.suppress(AttributeError):
            surname_step = step("normalize: registry surname statistics (once per snapshot)")
            _patch(module_name, "registry_surname_statistics", surname_step)
    with contextlib.suppress(AttributeError):
        encode_step = step("match: registry encoding (built once per snapshot, then read)")
        _patch("vaxsync.orchestration.match_partitions", "encoded_registry", encode_step)

    def linkage(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            for lap, seconds in result.timings.items():
                meter.add_lap(f"match: {lap}", seconds)
            return result

        return wrapped

    _patch("matching.probabilistic", "link_probabilistically", linkage)
    for function_name, step_name in (
        ("plan_match_partitions", "match: input, ID pass, encode, fit"),
        ("match_partition", "match: partitions (block + compare)"),
        ("combine_matches", "match: decide, write"),
    ):
        with contextlib.suppress(AttributeError):
            _patch("vaxsync.orchestration.pipeline", function_name, step(step_name))
    # run_nightly calls the match stage's steps itself (not match_batch): the first one opens the stage,
    # outside its own step so that the step's parent is the match stage.
    with contextlib.suppress(AttributeError):
        _patch("vaxsync.orchestration.pipeline", "plan_match_partitions", stage("match"))

    def evidence(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            for lap, seconds in result.timings.items():
                meter.add_lap(f"match: {lap}", seconds)
            return result

        return wrapped

    _patch("matching.probabilistic", "gather_evidence", evidence)

    # The snapshot's caches built in a background thread (vaxsync.marts.registry_cache): the waits for
    # them open the stage that needs them; the build itself is timed in its thread, like GX's import.
    def stage_step(stage_name: str, step_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                meter.enter_stage(stage_name)
                with meter.step(step_name):
                    return original(*args, **kwargs)

            return wrapped

        return make

    with contextlib.suppress(ImportError):
        from vaxsync.marts.registry_cache import SnapshotPreparation

        step_name = "normalize: wait for the snapshot's caches built beside ingest"
        wait = SnapshotPreparation.wait
        SnapshotPreparation.wait = functools.wraps(wait)(stage_step("normalize", step_name)(wait))  # type: ignore[method-assign]

    def background_build(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            preparation = original(*args, **kwargs)
            preparation.built.add_done_callback(
                lambda future: background_builds.append(time.perf_counter() - started)
            )
            return preparation

        return wrapped

    with contextlib.suppress(AttributeError):
        _patch("vaxsync.orchestration.pipeline", "start_preparing_snapshot", background_build)


background_builds: list[float] = []  # wall seconds of the snapshot's background build


def child_night(settings_json: Path, out_json: Path) -> None:
    """Run one night in this process with the meter on; write the windows and the night's counts."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    meter = Meter()
    meter.enter_stage("startup (imports)")
    from vaxsync.core.settings import Settings
    from vaxsync.core.workdir import RunWorkDir, read_json
    from vaxsync.orchestration.pipeline import run_nightly  # noqa: F401  (imported for the patching below)

    _instrument(meter)
    settings = Settings(**json.loads(settings_json.read_text()))
    import vaxsync.orchestration.pipeline as pipeline

    sampler = TreeSampler(meter)
    summary = pipeline.run_nightly(settings)
    meter.close_stage()
    sampler.stop()
    import vaxsync.marts.quality

    background = getattr(vaxsync.marts.quality, "background_import_seconds", {})
    if background:  # in a thread, overlapping the stages before validation (its CPU is in theirs)
        window = Window("validate: background GX import (overlaps earlier stages)", "validate")
        window.wall_s, window.cpu_s, window.calls = background["wall"], background["cpu"], 1
        meter.windows[window.name] = window
    for wall in background_builds:  # its CPU runs on polars' pool, in the stages' CPU (ingest's)
        name = "normalize: the snapshot's caches, built in a thread beside ingest (wall from its start)"
        meter.windows[name] = Window(name, "normalize", wall_s=wall, calls=1)
    run = read_json(RunWorkDir(settings).run_file)
    out_json.write_text(
        json.dumps(
            {
                "wall_s": time.perf_counter() - started,
                "windows": [asdict(window) for window in meter.windows.values()],
                "summary": summary,
                "stage_counts": run.get("stage_counts", {}),
                "peak_reset_supported": _reset_peak(),
                "peak_rss_gib": meter.night_peak_kib / 1024**2,
                "peak_tree_rss_gib": meter.night_tree_peak_gib,
            },
            default=str,
            indent=1,
        )
    )


# --- data ----------------------------------------------------------------------------------------------


def _timed_command(command: list[str], log_path: Path) -> dict[str, Any]:
    """Run under /usr/bin/time -v when present; wall, user+sys seconds and max RSS of the whole process tree."""
    time_tool = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    full = [time_tool, "-v", *command] if time_tool else command
    started = time.perf_counter()
    with log_path.open("w") as log:
        completed = subprocess.run(full, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, check=False)
    measured: dict[str, Any] = {"wall_s": time.perf_counter() - started, "exit_code": completed.returncode}
    for line in log_path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("Maximum resident set size (kbytes):"):
            measured["max_rss_gib"] = int(line.rsplit(":", 1)[1]) / 1024**2
        elif line.startswith(("User time (seconds):", "System time (seconds):")):
            measured["cpu_s"] = measured.get("cpu_s", 0.0) + float(line.rsplit(":", 1)[1])
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command)}; see {log_path}")
    return measured


def ensure_data(cache: Path, size: str, seed: int) -> Path:
    """The generated data of this size and seed; `vaxsync synth` runs only when it is not cached."""
    citizens, shots = SIZES[size]
    folder = cache / f"{size}-seed{seed}"
    if (folder / "summary.json").exists() and (folder / "bench_synth.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating {size} data ({citizens:,} citizens x {shots:,} shots) into {folder}", flush=True)
    command = [sys.executable, "-m", "vaxsync.orchestration.cli", "synth", "--out", str(folder)]
    command += ["--citizens", str(citizens), "--shots", str(shots), "--seed", str(seed)]
    command += ["--snapshot-date", AS_OF]
    measured = _timed_command(command, folder / "bench_synth.log")
    measured.update(load=os.getloadavg(), citizens=citizens, shots=shots, seed=seed)
    (folder / "bench_synth.json").write_text(json.dumps(measured, indent=1))
    return folder


def _data_note(data: Path, seed: int) -> str:
    """Where the night's data came from: the synth's own record of it, or the folder given with --data."""
    generated = data / "bench_synth.json"
    if not generated.exists():
        return f"Data: `{data}`, not made by `vaxsync synth` (registry, landing and truth given with --data)."
    synth = json.loads(generated.read_text())
    return (
        f"Data: `vaxsync synth` {synth['citizens']:,} citizens x {synth['shots']:,} shots, seed {seed}: "
        f"generated in {synth['wall_s']:.0f} s, {synth.get('max_rss_gib', 0):.2f} GiB peak RSS."
    )


def _registry_rows(data: Path) -> int:
    import polars as pl

    return pl.scan_parquet(data / "registry.parquet").select(pl.len()).collect().item()


def run_night(
    data: Path,
    run_dir: Path,
    *,
    landing: Path | None = None,
    registry: Path | None = None,
    fresh: bool = True,
    as_of: str = AS_OF,
    warm_registry: bool = False,
) -> dict[str, Any]:
    """One night on `data` in a child process; fresh=True starts from an empty warehouse (and, unless
    warm_registry, an empty registry cache)."""
    if fresh and run_dir.exists():
        for path in run_dir.iterdir():
            if warm_registry and path.name == "registry_cache":
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "registry_path": str(registry or data / "registry.parquet"),
        "landing_dir": str(landing or data / "landing"),
        "warehouse_path": str(run_dir / "warehouse.duckdb"),
        "reports_dir": str(run_dir / "reports"),
        "decisions_dir": str(run_dir / "decisions"),
        "as_of": as_of,
    }
    settings_json, out_json = run_dir / "bench_settings.json", run_dir / "bench_night.json"
    settings_json.write_text(json.dumps(settings))
    load_before = os.getloadavg()
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-night",
        str(settings_json),
        str(out_json),
    ]
    whole = _timed_command(command, run_dir / "bench_night.log")
    night = json.loads(out_json.read_text())
    night.update(whole_process=whole, load_before=load_before, load_after=os.getloadavg())
    return night


# --- the table -----------------------------------------------------------------------------------------

STAGE_ROWS = ("ingest", "normalize", "match", "publish", "report")


def _rows_for(name: str, night: dict[str, Any]) -> int | None:
    counts = night.get("stage_counts", {})
    summary = night.get("summary", {})
    rows_in = summary.get("rows_in")
    match_counts = counts.get("match", {})
    rows_matched = (match_counts.get("rows_tonight") or 0) + (
        match_counts.get("rows_rematched_from_backlog") or 0
    )
    if name.startswith("validate"):
        return None  # the validate row counts its own rows; its sub-rows are waits
    if name in ("ingest", "publish", "report", "startup (imports)", "discover"):
        return rows_in
    if name.startswith("normalize"):
        return counts.get("normalize", {}).get("rows_normalized", rows_in)
    if name.startswith("match"):
        return rows_matched or rows_in
    return rows_in


def table_rows(night: dict[str, Any]) -> list[dict[str, Any]]:
    """Stage rows with their sub-steps under them; validation shown as its own row (and left inside the
    stages that call it: normalize validates the raw and normalized layers, publish the synced layer)."""
    windows = {window["name"]: window for window in night["windows"]}
    ordered = [name for name in windows if windows[name]["parent"] is None]
    rows = []
    for name in ordered:
        rows.append({**windows[name], "level": 0})
        for sub in windows.values():
            if sub["parent"] == name and not sub["name"].startswith("validate"):
                rows.append({**sub, "level": 1})
    validate = [window for window in windows.values() if window["name"].startswith("validate")]
    for window in sorted(validate, key=lambda window: window["name"]):
        rows.append({**window, "level": 0 if window["name"] == "validate" else 1})
    for row in rows:
        count = row.get("rows") or _rows_for(row["name"], night)
        row["rows"] = count
        row["rows_per_s"] = round(count / row["wall_s"]) if count and row["wall_s"] > 0 else None
    return rows


def markdown(title: str, night: dict[str, Any], extra: list[str]) -> str:
    lines = [f"### {title}", ""]
    lines += [
        "| stage | wall s | CPU s | peak RSS GiB | RSS at start GiB | rows | rows/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table_rows(night):
        indent = "&nbsp;&nbsp;└ " if row["level"] else ""
        peak = max(row["peak_rss_gib"], row.get("peak_tree_rss_gib") or 0.0)
        rss = f"{peak:.2f}" if peak else ""
        cpu = f"{row['cpu_s']:.1f}" if row["cpu_s"] else ""
        rate = f"{row['rows_per_s']:,}" if row["rows_per_s"] else ""
        count = f"{row['rows']:,}" if row["rows"] else ""
        inherited = f"{row['rss_at_start_gib']:.2f}" if row.get("rss_at_start_gib") else ""
        lines.append(
            f"| {indent}{row['name']} | {row['wall_s']:.2f} | {cpu} | {rss} | {inherited} | {count} | {rate} |"
        )
    whole = night["whole_process"]
    peak = max(whole.get("max_rss_gib", 0), night.get("peak_rss_gib", 0), night.get("peak_tree_rss_gib", 0))
    rows_in = night["summary"].get("rows_in", 0)
    lines.append(
        f"| **end to end** (`/usr/bin/time -v`; peak: the largest of the stages') | **{whole['wall_s']:.1f}** "
        f"| {whole.get('cpu_s', 0):.1f} | **{peak:.2f}** | | {rows_in:,} | {rows_in / whole['wall_s']:,.0f} |"
    )
    lines += ["", *extra, ""]
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _load_note(night: dict[str, Any]) -> str:
    before = ", ".join(f"{value:.1f}" for value in night["load_before"])
    after = ", ".join(f"{value:.1f}" for value in night["load_after"])
    return f"load average (1, 5, 15 min) before: {before}; after: {after} on {os.cpu_count()} CPUs"


# --- incremental night ---------------------------------------------------------------------------------


def ensure_incremental_data(cache: Path, data: Path, seed: int) -> tuple[Path, Path, Path]:
    """From the large data: (registry, night-1 landing, night-2 landing).

    Night 1 lands whole export files holding about INCREMENTAL_BACKLOG_ROWS / 0.9 rows, against a
    registry without most of the citizens those rows name, so about INCREMENTAL_BACKLOG_ROWS of them
    go to the backlog (id_not_in_registry, no_confident_match...). Night 2 lands other files, about
    INCREMENTAL_NEW_ROWS rows, against the full registry (a new snapshot), and re-matches that backlog."""
    import polars as pl

    folder = cache / f"incremental-seed{seed}"
    registry = folder / "registry.parquet"
    night_1, night_2 = folder / "landing-night-1", folder / "landing-night-2"
    if registry.exists() and (folder / "done").exists():
        return registry, night_1, night_2
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = pl.read_parquet(data / "files.parquet").filter(pl.col("expected_status") == "loaded")
    files = files.sample(fraction=1.0, shuffle=True, seed=seed).with_columns(
        cumulative=pl.col("count_data_rows").cum_sum()
    )
    backlog_files = files.filter(pl.col("cumulative") <= INCREMENTAL_BACKLOG_ROWS / 0.9)
    rest = files.filter(pl.col("cumulative") > INCREMENTAL_BACKLOG_ROWS / 0.9).with_columns(
        cumulative=pl.col("count_data_rows").cum_sum()
    )
    new_files = rest.filter(pl.col("cumulative") <= INCREMENTAL_NEW_ROWS)
    for landing, chosen in ((night_1, backlog_files), (night_2, new_files)):
        for source_file in chosen["source_file"]:
            target = landing / source_file
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(data / "landing" / source_file, target)
    named = (
        pl.scan_parquet(data / "truth.parquet")
        .join(backlog_files.lazy().select("source_file"), on="source_file")
        .select(pl.col("true_citizen_id").alias("citizen_id"))
        .drop_nulls()
        .unique()
    )
    (
        pl.scan_parquet(data / "registry.parquet")
        .join(named, on="citizen_id", how="anti")
        .sink_parquet(registry)
    )
    (folder / "done").write_text("")
    return registry, night_1, night_2


def child_prepare(settings_json: Path) -> None:
    """Build the prepared form and surname statistics of the settings' registry snapshot (what a task run
    when a new snapshot lands would do), so that the night after reuses them."""
    from transforms.ingest import file_content_hash
    from vaxsync.core.settings import Settings
    from vaxsync.marts.registry_cache import prepared_registry, registry_surname_statistics

    settings = Settings(**json.loads(settings_json.read_text()))
    snapshot_hash = file_content_hash(settings.registry_path)
    prepared_registry(settings, snapshot_hash=snapshot_hash)
    registry_surname_statistics(settings, snapshot_hash=snapshot_hash)


def run_incremental(cache: Path, seed: int, size: str) -> tuple[dict[str, Any], str]:
    """Night 1 (registry without some citizens) fills the backlog; a new snapshot (the full registry: those
    citizens registered since) lands and is prepared; night 2 lands new rows and re-matches the backlog,
    which is re-matched because the snapshot changed."""
    data = ensure_data(cache, size, seed)
    registry, night_1, night_2 = ensure_incremental_data(cache, data, seed)
    run_dir = cache / "runs" / f"incremental-{size}-seed{seed}"
    print("night 1 (builds the backlog)", flush=True)
    first = run_night(data, run_dir, landing=night_1, registry=registry, fresh=True)
    shutil.copy(run_dir / "warehouse.duckdb", run_dir / "warehouse-after-night-1.duckdb")
    return _incremental_night_2(data, run_dir, night_2, first, size, seed)


def _incremental_night_2(
    data: Path, run_dir: Path, night_2: Path, first: dict[str, Any], size: str, seed: int
) -> tuple[dict[str, Any], str]:
    print("a new registry snapshot lands: its prepared form is built once", flush=True)
    settings_json = run_dir / "bench_settings.json"
    settings = json.loads(settings_json.read_text())
    settings.update(registry_path=str(data / "registry.parquet"))
    settings_json.write_text(json.dumps(settings))
    command = [sys.executable, str(Path(__file__).resolve()), "--child-prepare", str(settings_json)]
    preparation = _timed_command(command, run_dir / "bench_prepare.log")
    print("night 2 (measured)", flush=True)
    second = run_night(
        data, run_dir, landing=night_2, registry=data / "registry.parquet", fresh=False, as_of=NIGHT_2_AS_OF
    )
    rematched = second["stage_counts"].get("match", {}).get("rows_rematched_from_backlog")
    extra = [
        f"Night 1 (not measured): {first['whole_process']['wall_s']:.1f} s, "
        f"{first['summary'].get('rows_in', 0):,} rows in, {first['summary'].get('rows_backlog', 0):,} to the "
        "backlog, against a registry without most of the citizens its files name.",
        f"New snapshot (the full registry) prepared once when it lands, before night 2: "
        f"{preparation['wall_s']:.1f} s, {preparation.get('cpu_s', 0):.1f} CPU s, "
        f"{preparation.get('max_rss_gib', 0):.2f} GiB peak RSS.",
        f"Night 2: {second['summary'].get('rows_in', 0):,} new rows and {rematched or 0:,} backlog rows "
        "re-matched against the new snapshot (prepared form reused).",
        _load_note(second),
    ]
    second["night_1"] = {key: first[key] for key in ("whole_process", "summary", "stage_counts")}
    second["snapshot_preparation"] = preparation
    return second, markdown(f"incremental night on {size} data (seed {seed})", second, extra)


# --- Splink side by side --------------------------------------------------------------------------------


def run_splink(night_run_dir: Path, data: Path) -> dict[str, Any] | None:
    """Link the night's normalized rows (those the ID pass left) with Splink 5 in a child process, through
    benchmarks/matching/evaluate.py (`uv sync --group bench`); its wall time, peak RSS and quality."""
    normalized = next((night_run_dir / "work").glob("*/normalized.parquet"), None)
    from vaxsync.marts.registry_cache import REGISTRY_PREPARATION_VERSION

    prepared = (night_run_dir / "registry_cache").glob(f"*.prepared-v{REGISTRY_PREPARATION_VERSION}.parquet")
    registry = next(prepared, None)
    if normalized is None or registry is None:
        print(
            f"splink run skipped: no normalized rows or prepared registry under {night_run_dir}", flush=True
        )
        return None
    out_json = night_run_dir / "bench_splink.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child-splink"]
    command += [str(normalized), str(registry), str(data / "truth.parquet"), str(out_json)]
    try:
        whole = _timed_command(command, night_run_dir / "bench_splink.log")
    except SystemExit as error:
        print(f"splink run failed: {error}", flush=True)
        return None
    return {"whole_process": whole, **json.loads(out_json.read_text())}


# What a plain reader does with each landing file: the separator it looks for in the first line, the
# encodings it tries in turn (a byte-order mark first), and the file types it knows.
PLAIN_SEPARATORS = (",", ";", "\t", "|")
PLAIN_TEXT_SUFFIXES = (".csv", ".txt")
PLAIN_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def _plain_text(raw: bytes) -> str:
    """The file's text the obvious way: UTF-16 or UTF-8 when a byte-order mark says so, else UTF-8, else
    the Vietnamese Windows code page (with replacement characters where bytes do not fit)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1258", errors="replace")


def _read_plainly(path: Path) -> pl.DataFrame:
    """One landing file read as a plain reader would: polars read_csv with the separator most frequent in
    the first line, every column as text; fastexcel's calamine for workbooks (first sheet). Raises on
    whatever such a reader fails on."""
    import polars as pl

    if path.suffix.lower() in PLAIN_WORKBOOK_SUFFIXES:
        return pl.read_excel(path, engine="calamine", infer_schema_length=0)
    text = _plain_text(path.read_bytes())
    first_line = text.split("\n", 1)[0]
    separator = max(PLAIN_SEPARATORS, key=first_line.count)
    return pl.read_csv(
        text.encode("utf-8"), separator=separator, infer_schema=False, truncate_ragged_lines=True
    )


def read_landing_plainly(landing: Path) -> dict[str, Any]:
    """Every landing file read plainly, one after another, and the frames stacked into one (columns by
    header name, as they come): seconds, files and rows read, files skipped by reason (a type such a
    reader does not know, or an error it stops on)."""
    import polars as pl

    started, cpu_started = time.perf_counter(), _cpu_seconds()
    frames: list[pl.DataFrame] = []
    skipped: dict[str, int] = {}
    for path in sorted(item for item in landing.rglob("*") if item.is_file()):
        reason = None
        if path.suffix.lower() not in (*PLAIN_TEXT_SUFFIXES, *PLAIN_WORKBOOK_SUFFIXES):
            reason = f"not a table ({path.suffix.lower() or 'no suffix'})"
        else:
            try:
                frames.append(_read_plainly(path))
            except Exception as error:  # a plain reader skips what it cannot read; we count it
                reason = f"failed: {type(error).__name__}"
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
    stacked = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_s": _cpu_seconds() - cpu_started,
        "peak_rss_gib": _status_kib("VmHWM") / 1024**2,
        "files_read": len(frames),
        "rows_read": stacked.height,
        "columns": stacked.width,
        "files_skipped": sum(skipped.values()),
        "skipped_by_reason": skipped,
    }


def child_reader(landing: str, out_json: str) -> None:
    Path(out_json).write_text(json.dumps(read_landing_plainly(Path(landing)), indent=1))


def run_plain_reader(night_run_dir: Path, landing: Path) -> dict[str, Any] | None:
    """The plain reader over the night's landing folder, in a child process of its own."""
    out_json = night_run_dir / "bench_reader.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--child-reader", str(landing), str(out_json)]
    try:
        whole = _timed_command(command, night_run_dir / "bench_reader.log")
    except SystemExit as error:
        print(f"plain reader run failed: {error}", flush=True)
        return None
    return {"whole_process": whole, **json.loads(out_json.read_text())}


def plain_pipeline_comparison(
    night: dict[str, Any], reader: dict[str, Any], splink: dict[str, Any]
) -> dict[str, Any]:
    """Issue 14's figures: the plain reader's seconds plus Splink's linking seconds, and the night's wall
    time and peak memory as shares of theirs (targets: <= 1/3 and <= 1/4)."""
    result = splink["results"][0]
    linking = float(result["seconds_probabilistic"])
    plain = reader["seconds"] + linking
    splink_peak = float(result["peak_rss_gib"])
    plain_peak = max(splink_peak, reader["peak_rss_gib"])
    plain_cpu = reader["cpu_s"] + float(result.get("cpu_seconds_probabilistic", 0.0))
    night_wall, night_cpu = night["whole_process"]["wall_s"], night["whole_process"].get("cpu_s", 0.0)
    night_peak = _night_peak_gib(night)
    return {
        "reader_s": round(reader["seconds"], 2),
        "reader_cpu_s": round(reader["cpu_s"], 2),
        "reader_peak_rss_gib": round(reader["peak_rss_gib"], 3),
        "reader_files_read": reader["files_read"],
        "reader_files_skipped": reader["files_skipped"],
        "splink_linking_s": round(linking, 2),
        "splink_peak_rss_gib": round(splink_peak, 3),
        "reader_plus_splink_s": round(plain, 2),
        "vaxsync_wall_s": round(night_wall, 2),
        "vaxsync_peak_rss_gib": round(night_peak, 3),
        "wall_ratio": round(night_wall / plain, 3),
        # CPU seconds too: steadier than wall time when the machine is shared
        "reader_plus_splink_cpu_s": round(plain_cpu, 2),
        "vaxsync_cpu_s": round(night_cpu, 2),
        "cpu_ratio": round(night_cpu / plain_cpu, 3) if plain_cpu else None,
        "memory_ratio": round(night_peak / plain_peak, 3),
    }


def _night_peak_gib(night: dict[str, Any]) -> float:
    whole = night["whole_process"]
    return float(
        max(whole.get("max_rss_gib", 0), night.get("peak_rss_gib", 0), night.get("peak_tree_rss_gib", 0))
    )


def plain_pipeline_lines(reader: dict[str, Any], comparison: dict[str, Any]) -> list[str]:
    skipped = ", ".join(f"{reason}: {count}" for reason, count in sorted(reader["skipped_by_reason"].items()))
    return [
        f"Plain reader (polars read_csv with the first line's separator, fastexcel for workbooks): "
        f"{comparison['reader_s']:.1f} s, {comparison['reader_cpu_s']:.1f} CPU s, "
        f"{comparison['reader_peak_rss_gib']:.2f} GiB peak; {reader['files_read']} files, "
        f"{reader['rows_read']:,} rows read; {reader['files_skipped']} skipped ({skipped or 'none'}).",
        f"Plain reader + Splink linking: {comparison['reader_s']:.1f} + {comparison['splink_linking_s']:.1f} = "
        f"{comparison['reader_plus_splink_s']:.1f} s. vaxsync wall / (reader + Splink) = "
        f"{comparison['vaxsync_wall_s']:.1f} / {comparison['reader_plus_splink_s']:.1f} = "
        f"**{comparison['wall_ratio']:.2f}** (target <= 0.33); in CPU seconds {comparison['vaxsync_cpu_s']:.1f} / "
        f"{comparison['reader_plus_splink_cpu_s']:.1f} = {comparison['cpu_ratio']:.2f}; vaxsync peak / plain peak (the larger of the "
        f"reader's and Splink's) = {comparison['vaxsync_peak_rss_gib']:.2f} / "
        f"{max(comparison['splink_peak_rss_gib'], comparison['reader_peak_rss_gib']):.2f} GiB = "
        f"**{comparison['memory_ratio']:.2f}** (target <= 0.25).",
    ]


def _linkage_truth(truth: str, folder: Path) -> str:
    """The truth as synth.evaluation.linkage_metrics reads it. An independent landing's truth
    (benchmarks/independent/generate.py) names its row defects `defects` and has no expected outcome
    (every row counts as one that should post to its true citizen)."""
    import polars as pl

    columns = pl.read_parquet_schema(truth)
    if "corruptions" in columns:
        return truth
    adapted = folder / "bench_splink_truth.parquet"
    pl.read_parquet(truth).with_columns(
        corruptions=pl.col("defects") if "defects" in columns else pl.lit([], pl.List(pl.String)),
        expected=pl.lit(None, pl.String),
    ).write_parquet(adapted)
    return str(adapted)


def child_splink(normalized: str, registry: str, truth: str, out_json: str) -> None:
    sys.path.insert(0, str(REPO / "benchmarks" / "matching"))
    from evaluate import _splink

    # Splink scored at p >= 0.99 and at its operating point (wrong postings within 1 per 10k, chosen
    # with the truth: Splink at its best), after our ID pass, as benchmarks/matching/evaluate.py does.
    outcome = _splink(normalized, registry, _linkage_truth(truth, Path(out_json).parent), [0.99], True, 1.0)
    results = outcome["results"] if isinstance(outcome, dict) and "results" in outcome else [outcome]
    Path(out_json).write_text(json.dumps({"results": results}, indent=1, default=str))


# --- main ----------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child-night":
        child_night(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--child-prepare":
        child_prepare(Path(sys.argv[2]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--child-reader":
        child_reader(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--child-splink":
        child_splink(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=7)
    default_cache = Path(os.environ.get("VAXSYNC_BENCH_CACHE", Path.home() / ".cache" / "vaxsync-bench"))
    parser.add_argument("--cache", type=Path, default=default_cache, help="generated data and run folders")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--incremental", action="store_true", help="the incremental night (needs --size large)"
    )
    parser.add_argument("--splink", action="store_true", help="also link the normalized rows with Splink")
    parser.add_argument(
        "--data",
        type=Path,
        help="a landing not made by `vaxsync synth` (a folder holding registry.parquet, landing/ and "
        "truth.parquet, as benchmarks/independent/generate.py writes) instead of --size's synth data",
    )
    parser.add_argument(
        "--warm-registry",
        action="store_true",
        help="keep the registry's prepared form and surname statistics from the last run (a later night "
        "of the same snapshot) instead of building them in the night",
    )
    args = parser.parse_args()
    if args.data and args.incremental:
        parser.error("--incremental builds its nights from --size's synth data; it takes no --data")
    if args.data and not all((args.data / name).exists() for name in ("registry.parquet", "landing")):
        parser.error(f"--data {args.data}: expected registry.parquet and landing/ in it")
    args.results.mkdir(parents=True, exist_ok=True)
    if args.incremental:
        night, text = run_incremental(args.cache, args.seed, args.size)
        stem = f"{args.size}-incremental"
    else:
        data = args.data or ensure_data(args.cache, args.size, args.seed)
        name = data.name if args.data else f"{args.size}-seed{args.seed}"
        run_dir = args.cache / "runs" / name
        night = run_night(data, run_dir, warm_registry=args.warm_registry)
        extra = [
            _data_note(data, args.seed),
            "The registry's prepared form and surname statistics were built by an earlier run (a later night "
            "of the same snapshot)."
            if args.warm_registry
            else "The registry's prepared form is built in this (first) night of the snapshot; later nights reuse it.",
            _load_note(night),
        ]
        if args.splink:
            reader = run_plain_reader(run_dir, data / "landing")
            night["plain_reader"] = reader
            splink = run_splink(run_dir, data)
            night["splink"] = splink
            if splink and reader:
                night["plain_pipeline"] = plain_pipeline_comparison(night, reader, splink)
                extra += plain_pipeline_lines(reader, night["plain_pipeline"])
            if splink:
                for result in splink["results"]:
                    summary = result["summary"]
                    extra.append(
                        f"Splink 5 ({result['engine']}) linking the same normalized rows after our ID pass: "
                        f"linking {result['seconds_probabilistic']:.1f} s, peak RSS {result['peak_rss_gib']:.2f} GiB "
                        f"(process: {splink['whole_process']['wall_s']:.1f} s); recall {summary['recall']:.4f}, "
                        f"precision {summary['precision']:.6f}, wrong postings {summary['count_wrong']}."
                    )
        title = (
            f"{data.name}: {_registry_rows(data):,} citizens, an independent landing"
            if args.data
            else f"{args.size}: {SIZES[args.size][0]:,} citizens x {SIZES[args.size][1]:,} shots"
        )
        text = markdown(title, night, extra)
        stem = (data.name if args.data else args.size) + ("-warm" if args.warm_registry else "")
    night["machine"] = _machine()
    (args.results / f"{stem}.json").write_text(json.dumps(night, indent=1, default=str))
    (args.results / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
