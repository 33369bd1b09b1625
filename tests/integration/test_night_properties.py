"""Property test of whole nights: any mix of landed files, in any order, and the night still completes.

Each example lands good synthetic exports mixed with damaged ones, junk, empty files, workbooks that are
not zips, a huge single line, byte copies under other names, odd names and nested folders, then runs
`run_nightly`. Every landed file must get exactly one ledger row and every data row must be in exactly one
place (`conservation_violations`). Nights take seconds, so there are few examples; the readers' own
property tests (tests/unit/ingest/test_ingest_properties.py) try many more files.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from synth import SynthConfig, generate
from transforms.ingest import stage_export
from vaxsync.core.reasons import QUARANTINE_REASONS
from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import conservation_violations
from vaxsync.orchestration.pipeline import run_nightly

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ingest"))
from landed_file_strategies import LandedFile, landing_mixes

AS_OF = dt.date(2023, 1, 31)
NIGHTS = itertools.count()


@pytest.fixture(scope="module")
def synth_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[LandedFile]]:
    """A small registry and the good exports the generator wrote for it: its junk files left out, and the
    exports it spoils on purpose (quarantined: missing columns, unreadable), so that a drawn "good" file
    always loads."""
    out = tmp_path_factory.mktemp("synth")
    generate(out, SynthConfig(citizens=300, shots=120, seed=23, snapshot_date=AS_OF))
    landing = out / "landing"
    exports = [
        LandedFile(path.relative_to(landing).as_posix(), path.read_bytes())
        for path in sorted(landing.rglob("*"))
        if path.is_file() and path.suffix in (".csv", ".txt", ".xlsx") and path.stat().st_size > 1000
    ]
    loading = [export for export in exports if loads(landing, export)]
    assert len(loading) >= 4
    return out / "registry.parquet", loading


def land(landing: Path, files: list[LandedFile]) -> None:
    for file in files:
        path = landing / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.content)


def landed_night(registry: Path, files: list[LandedFile], *, prefix: str) -> Settings:
    """A fresh night folder with the files landed, and its settings."""
    night = Path(tempfile.mkdtemp(prefix=prefix, dir=registry.parent))
    land(night / "landing", files)
    return Settings(
        registry_path=registry,
        landing_dir=night / "landing",
        # warehouses side by side share the registry cache beside them: each night prepares no registry
        warehouse_path=registry.parent / f"{night.name}.duckdb",
        work_dir=night / "work",
        reports_dir=night / "reports",
        decisions_dir=night / "decisions",
        as_of=AS_OF,
        ingest_processes=1,
    )


def ledger_rows(warehouse: Path) -> list[tuple[str, str, str | None, int, int | None]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(
            "select source_file, status, quarantine_reason, rows_read, rows_estimated from ingest_ledger"
        ).fetchall()


def loads(landing: Path, export: LandedFile) -> bool:
    return stage_export(landing, export.path).ledger["status"] == "loaded"


def violations(warehouse: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return conservation_violations(connection)


@settings(
    max_examples=2,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),  # a failing night is not shrunk: each try costs seconds
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_mix_of_files_gives_a_complete_night(
    synth_night: tuple[Path, list[LandedFile]], data: st.DataObject
) -> None:
    registry, exports = synth_night
    good = data.draw(st.lists(st.sampled_from(exports), min_size=1, max_size=4, unique_by=lambda f: f.path))
    mix = data.draw(landing_mixes(max_files=6))
    files = data.draw(st.permutations([*good, *(f for f in mix if f.path not in {g.path for g in good})]))
    note(f"landed: {[(file.path, len(file.content)) for file in files]}")
    settings_ = landed_night(registry, files, prefix=f"night{next(NIGHTS)}-")

    summary = run_nightly(settings_)

    ledger = ledger_rows(settings_.warehouse_path)
    assert sorted(row[0] for row in ledger) == sorted(file.path for file in files)  # one row per file
    assert {row[1] for row in ledger} <= {"loaded", "quarantined", "duplicate_content"}
    assert all(row[2] in QUARANTINE_REASONS for row in ledger if row[1] == "quarantined")
    assert violations(settings_.warehouse_path) == []  # every data row in exactly one place
    assert summary["rows_in"] == sum(row[3] for row in ledger)
    assert summary["rows_in"] > 0  # the good exports were read
    in_quarantine = sum(
        (row[4] if row[4] is not None else row[3]) for row in ledger if row[1] == "quarantined"
    )
    assert summary["rows_in_quarantined_files"] == in_quarantine
    assert (settings_.reports_dir / AS_OF.isoformat() / "run_report.json").exists()


def test_copies_of_a_loaded_export_in_the_same_night_keep_conservation(
    synth_night: tuple[Path, list[LandedFile]],
) -> None:
    """Found by the property above: two byte-identical copies of a loaded file were reported as 'rows
    placed from a file not loaded' (they share its content hash)."""
    registry, exports = synth_night
    original = next(export for export in exports if loads(registry.parent / "landing", export))
    files = [
        original,
        *(LandedFile(f"copies/{n}_{Path(original.path).name}", original.content) for n in (1, 2)),
    ]
    settings_ = landed_night(registry, files, prefix="copies-")

    run_nightly(settings_)

    statuses = sorted(row[1] for row in ledger_rows(settings_.warehouse_path))
    assert statuses == ["duplicate_content", "duplicate_content", "loaded"]
    assert violations(settings_.warehouse_path) == []
