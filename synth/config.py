"""The generator's settings: sizes, seed, snapshot date, and overrides of the default defect rates."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from synth.defects import DEFECTS, FILE_FORMATS, TEMPLATE_SHARES
from vaxsync.core.reference import reference_path

REPO_ROOT = Path(__file__).resolve().parents[1]
EARLIEST_SNAPSHOT = dt.date(2021, 6, 1)  # a few months into the campaign, so there is something to export
ADMIN_UNITS_CANDIDATES = (
    reference_path("admin_units_2021.parquet"),
    REPO_ROOT.parent / "shared" / "samples" / "admin_units.parquet",
)


@dataclass(frozen=True)
class SynthConfig:
    citizens: int = 20_000
    shots: int = 4_000  # approximate count of export data rows, duplicates and absent people included
    seed: int = 7
    snapshot_date: dt.date = dt.date(2023, 1, 31)
    admin_units_path: Path | None = None  # None: data/reference/admin_units_2021.parquet, else the samples'
    rates: Mapping[str, float] = field(default_factory=dict)  # overrides of DEFECTS default rates
    format_shares: Mapping[str, float] = field(default_factory=dict)  # overrides of FILE_FORMATS shares
    template_shares: Mapping[str, float] = field(default_factory=dict)  # overrides of TEMPLATE_SHARES
    rows_per_facility: int | None = None  # None: max(40, sqrt(shots)), so big runs get bigger files
    xlsx_max_rows: int = 10_000  # xlsxwriter writes cell by cell; past this, XLSX files become CSV

    def __post_init__(self) -> None:
        if self.citizens < 100:
            raise ValueError("citizens must be at least 100")
        if self.shots < 1:
            raise ValueError("shots must be positive")
        if self.snapshot_date < EARLIEST_SNAPSHOT:
            raise ValueError(
                f"snapshot_date must be on or after {EARLIEST_SNAPSHOT} (the campaign began 2021-03-08)"
            )
        self._check_keys(self.rates, DEFECTS, "defect")
        self._check_keys(self.format_shares, FILE_FORMATS, "file format")
        self._check_keys(self.template_shares, TEMPLATE_SHARES, "template")
        for name, value in self.rates.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"rate of {name} must be within [0, 1], got {value}")

    @staticmethod
    def _check_keys(overrides: Mapping[str, float], known: Mapping[str, object], what: str) -> None:
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"unknown {what} name(s): {', '.join(unknown)}")

    def rate(self, defect: str) -> float:
        return float(self.rates.get(defect, DEFECTS[defect].default_rate))

    def format_share(self, file_format: str) -> float:
        return float(self.format_shares.get(file_format, FILE_FORMATS[file_format][0]))

    def template_share(self, template: str) -> float:
        return float(self.template_shares.get(template, TEMPLATE_SHARES[template]))

    @property
    def mean_rows_per_facility(self) -> int:
        return self.rows_per_facility or max(40, int(math.sqrt(self.shots)))

    def resolved_admin_units_path(self) -> Path:
        if self.admin_units_path is not None:
            return self.admin_units_path
        for candidate in ADMIN_UNITS_CANDIDATES:
            if candidate.exists():
                return candidate
        raise FileNotFoundError(
            "no pre-2025 administrative units file: pass admin_units_path or add "
            "data/reference/admin_units_2021.parquet"
        )
