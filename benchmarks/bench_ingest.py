"""Discover + ingest alone, as `vaxsync run` runs them: CPU seconds of this process and its children.

    python benchmarks/bench_ingest.py --landing <data>/landing --registry <data>/registry.parquet \\
        --out /tmp/bench-ingest [--no-gx] [--as-cli]

--no-gx leaves out the Great Expectations import that run_nightly starts beside ingest (a thread of this
process, ~2-3 CPU s, counted in the bench's ingest row). --as-cli imports the CLI first, as the `vaxsync`
console script does: a multiprocessing "spawn" worker imports its parent's main module again. Prints one
JSON line: discover and ingest CPU seconds (this process, its children: workers and workbook readers),
ingest's wall seconds and the 1-minute load average. The warehouse under --out stays empty (nothing is
published), so each run ingests every file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from pathlib import Path

if "--as-cli" in sys.argv:
    import vaxsync.orchestration.cli  # noqa: F401


def _cpu() -> tuple[float, float]:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--registry", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as-of", default="2023-01-31")
    parser.add_argument("--no-gx", action="store_true")
    parser.add_argument("--as-cli", action="store_true")
    arguments = parser.parse_args()

    import vaxsync.orchestration.pipeline as pipeline
    from vaxsync.core.settings import Settings
    from vaxsync.marts.quality import start_importing_validation

    out = arguments.out
    settings = Settings(
        registry_path=arguments.registry,
        landing_dir=arguments.landing,
        warehouse_path=out / "warehouse.duckdb",
        reports_dir=out / "reports",
        decisions_dir=out / "decisions",
        as_of=dt.date.fromisoformat(arguments.as_of),
    )
    before_discover = _cpu()
    new_files = pipeline.discover_new_exports(settings)
    if not arguments.no_gx:
        start_importing_validation()
    before_ingest, started = _cpu(), time.perf_counter()
    for _ in pipeline._ingest_all(settings, new_files):
        pass
    after, wall = _cpu(), time.perf_counter() - started
    print(
        json.dumps(
            {
                "files": len(new_files),
                "discover_cpu_s": round(sum(before_ingest) - sum(before_discover), 2),
                "ingest_cpu_s": round(sum(after) - sum(before_ingest), 2),
                "of_it_this_process": round(after[0] - before_ingest[0], 2),
                "of_it_children": round(after[1] - before_ingest[1], 2),
                "ingest_wall_s": round(wall, 2),
                "load_1min": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
