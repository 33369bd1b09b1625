"""One typed settings object: every path and tunable has its home here (env prefix VAXSYNC_)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CAMPAIGN_START = dt.date(2021, 3, 8)  # the first COVID-19 shot given in Vietnam


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VAXSYNC_", extra="ignore")

    registry_path: Path = Path("data/demo/registry.parquet")
    landing_dir: Path = Path("data/demo/landing")
    warehouse_path: Path = Path("data/demo/warehouse.duckdb")
    reports_dir: Path = Path("data/demo/reports")
    # Intermediate Parquet of each run; defaults to a folder beside the warehouse.
    work_dir: Path | None = None
    as_of: dt.date = Field(default_factory=dt.date.today)
    campaign_start: dt.date = CAMPAIGN_START
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = 2

    @property
    def run_work_dir(self) -> Path:
        """Where this night's stage outputs live; keyed by the as-of date, so a re-run overwrites them."""
        base = self.work_dir or self.warehouse_path.parent / "work"
        return base / self.as_of.isoformat()
