"""Small generated datasets shared by the synth tests (each generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth import SynthConfig, generate
from synth.defects import DEFECTS, FILE_FORMATS

# Every defect frequent enough to show up on a small run: what the "every defect appears" tests use.
BOOSTED_FLOORS = {"row": 0.06, "invalid": 0.02, "person": 0.5, "file": 0.25, "registry": 0.02}
BOOSTED_RATES = {
    name: max(defect.default_rate, BOOSTED_FLOORS.get(defect.unit, 0.0)) for name, defect in DEFECTS.items()
} | {"after_death": 0.9, "registry_died": 0.05, "dup_reexport": 0.05, "dup_second_facility": 0.05}
EVERY_FORMAT = {name: 0.1 for name in FILE_FORMATS}


@pytest.fixture(scope="session")
def boosted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth_boosted")
    generate(
        out, SynthConfig(citizens=4_000, shots=2_500, seed=3, rates=BOOSTED_RATES, format_shares=EVERY_FORMAT)
    )
    return out


@pytest.fixture(scope="session")
def default_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth_default")
    generate(out, SynthConfig(citizens=12_000, shots=6_000, seed=5))
    return out
