"""The same seed gives the same bytes; another seed gives other data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from synth import SynthConfig, generate

SMALL = {"citizens": 1_500, "shots": 500}


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    generate(first, SynthConfig(seed=21, **SMALL))
    generate(second, SynthConfig(seed=21, **SMALL))
    return first, second


@pytest.mark.parametrize("table", ["registry.parquet", "truth.parquet", "files.parquet"])
def test_same_seed_same_tables(twice: tuple[Path, Path], table: str) -> None:
    first, second = twice
    assert_frame_equal(pl.read_parquet(first / table), pl.read_parquet(second / table))


def test_same_seed_same_file_bytes(twice: tuple[Path, Path]) -> None:
    first, second = twice
    landed = sorted(path.relative_to(first) for path in (first / "landing").rglob("*") if path.is_file())
    assert landed, "nothing was landed"
    assert landed == sorted(
        path.relative_to(second) for path in (second / "landing").rglob("*") if path.is_file()
    )
    assert all((first / path).read_bytes() == (second / path).read_bytes() for path in landed)
    assert (first / "summary.json").read_text() == (second / "summary.json").read_text()


def test_another_seed_other_people(twice: tuple[Path, Path], tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(seed=22, **SMALL))
    first_ids = set(pl.read_parquet(twice[0] / "registry.parquet")["citizen_id"])
    other_ids = set(pl.read_parquet(tmp_path / "registry.parquet")["citizen_id"])
    assert len(first_ids & other_ids) < 0.01 * len(first_ids)


def test_regenerating_replaces_the_landing_folder(tmp_path: Path) -> None:
    stale = tmp_path / "landing" / "99_Old" / "stale.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    (tmp_path / "summary.json").write_text("{}")  # an earlier synth run's
    generate(tmp_path, SynthConfig(seed=23, **SMALL))
    assert not stale.exists()


def test_generated_files_are_owner_only(twice: tuple[Path, Path]) -> None:
    """Synthetic people are shaped like real ones: nobody but the owner reads them."""
    first, _ = twice
    written = [first, *first.rglob("*")]
    assert any(path.is_file() for path in written)
    wider = [path for path in written if path.stat().st_mode & 0o077]
    assert not wider, f"group or others may read {[str(path.relative_to(first)) for path in wider][:5]}"


def test_a_folder_the_synth_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    """A tired `vaxsync synth --out /srv/vaxsync` must not delete the real landing or registry."""
    from vaxsync.core.errors import InputError

    (tmp_path / "landing" / "01").mkdir(parents=True)
    real_export = tmp_path / "landing" / "01" / "export.csv"
    real_export.write_text("ho_ten\n", encoding="utf-8")
    with pytest.raises(InputError, match="did not write"):
        generate(tmp_path, SynthConfig(seed=21, **SMALL))
    assert real_export.read_text(encoding="utf-8") == "ho_ten\n"
