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
    # Filled-in review reports that provincial staff send back; read by the next run.
    decisions_dir: Path = Path("data/demo/decisions")
    # Intermediate Parquet of each run; defaults to a folder beside the warehouse.
    work_dir: Path | None = None
    # Where the match partitions exchange Parquet (vaxsync.storage): a folder or an fsspec URL such as
    # s3://bucket/vaxsync; defaults to <run work dir>/match. Keyed by as-of date below it.
    partition_store: str | None = None
    # Rows to link per match partition: provinces are grouped into partitions of about this many rows.
    match_partition_rows: int = 500_000
    as_of: dt.date = Field(default_factory=dt.date.today)
    campaign_start: dt.date = CAMPAIGN_START
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = 2
    # Processes staging export files in `vaxsync run` (batches of files); 0: one per CPU.
    ingest_processes: int = 0

    @property
    def run_work_dir(self) -> Path:
        """Where this night's stage outputs live; keyed by the as-of date, so a re-run overwrites them."""
        base = self.work_dir or self.warehouse_path.parent / "work"
        return base / self.as_of.isoformat()
