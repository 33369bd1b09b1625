"""One typed settings object: every path and tunable has its home here (env prefix VAXSYNC_)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Plain constants have their home in vaxsync.core.setting_defaults (no pydantic there); re-exported here.
from vaxsync.core.setting_defaults import CAMPAIGN_START as CAMPAIGN_START
from vaxsync.core.setting_defaults import LANDING_FILE_MAX_BYTES as LANDING_FILE_MAX_BYTES

# A decision secret shorter than this is refused: a short key can be guessed offline from one signed
# report, and with it anyone could forge a reviewer's decision token (vaxsync.marts.decision_tokens).
DECISION_SECRET_MIN_BYTES = 16
# Settings whose value is never shown, in an error or anywhere else.
SECRET_SETTINGS = frozenset({"decision_secret"})


def blank_path_problem(value: str) -> str | None:
    """Why a path given as text cannot be used, or None: empty or blank text is the current folder to
    pathlib (reports written where the operator stood, a landing folder that is the whole home)."""
    if not value.strip():
        return "is empty: name the file or folder (write . for the current folder)"
    return None


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value (the decision secret) never shows in a traceback's text.
    model_config = SettingsConfigDict(env_prefix="VAXSYNC_", extra="ignore", hide_input_in_errors=True)

    registry_path: Path = Path("data/demo/registry.parquet")
    landing_dir: Path = Path("data/demo/landing")
    warehouse_path: Path = Path("data/demo/warehouse.duckdb")
    reports_dir: Path = Path("data/demo/reports")
    # Filled-in review reports that provincial staff send back; read by the next run.
    decisions_dir: Path = Path("data/demo/decisions")
    # Signs the report's row keys and candidates (HMAC); unset: generated once into an owner-only file
    # beside the warehouse (vaxsync.marts.decision_tokens). Changing it voids the decisions of older reports.
    # At least DECISION_SECRET_MIN_BYTES bytes (UTF-8); empty is unset.
    decision_secret: str | None = None
    # Decision files beyond these bounds are quarantined before their content is parsed.
    decision_file_max_bytes: int = Field(default=20_000_000, ge=1)
    decision_max_lines: int = Field(default=100_000, ge=1)  # sheet rows in one file, blank or not
    # Filled lines allowed per open backlog row of the file's province (plus a slack for small provinces).
    decision_lines_per_open_row: int = Field(default=3, ge=1)
    decision_lines_slack: int = Field(default=100, ge=0)
    decision_parse_memory_mb: int = Field(
        default=1024, ge=1
    )  # address-space limit of the process parsing one decision file
    decision_parse_timeout_seconds: float = Field(default=120.0, gt=0)
    # Intermediate Parquet of each run; defaults to a folder beside the warehouse.
    work_dir: Path | None = None
    # Where the match partitions exchange Parquet (vaxsync.orchestration.storage): a folder or an fsspec URL such as
    # s3://bucket/vaxsync; defaults to <run work dir>/match. Keyed by as-of date below it.
    partition_store: str | None = None
    # Rows to link per match partition: provinces are grouped into partitions of about this many rows.
    match_partition_rows: int = Field(default=500_000, ge=1)
    as_of: dt.date = Field(default_factory=dt.date.today)
    campaign_start: dt.date = CAMPAIGN_START
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = Field(default=2, ge=1)
    # Matching's in-memory DuckDB: lower, since the linkage's polars frames share the process.
    match_duckdb_memory_limit: str = "1500MB"
    # Where DuckDB spills; unset: the warehouse's beside it (duckdb_spill/), matching's in the run's work folder.
    duckdb_temp_directory: Path | None = None
    # Materialise every SQL step as a table and log its row count and seconds (vaxsync.core.sql_steps).
    sql_debug: bool = False
    # Processes staging export files in `vaxsync run` (batches of files); 0: one per CPU. The run's own
    # process is one of them, beside n - 1 worker processes (each pays ~0.5 CPU s of imports); there the
    # Great Expectations import thread competes with ingest for the GIL (docs/performance.md, rounds 3-5).
    ingest_processes: int = Field(default=0, ge=0)
    # Accept an as-of before the campaign start or before the last published night, or a registry snapshot
    # older than the last night's (an operator's override).
    force_as_of: bool = False
    # How long to wait for another process (an analyst's session) to let go of the warehouse.
    warehouse_lock_wait_seconds: float = Field(default=60.0, ge=0)
    # A landed file modified less than this many seconds before discovery lists it (an upload in progress)
    # is left for the next night (docs/operations.md). 0 by default: files copied into the landing folder
    # just before `vaxsync run` are read; a deployment whose uploads can stall sets it (300). A file that
    # changes while discovery hashes the landing is left for the next night whatever the setting.
    landing_settle_seconds: float = Field(default=0.0, ge=0)
    # A landed file larger than this is quarantined file_too_large without being read.
    landing_file_max_bytes: int = Field(default=LANDING_FILE_MAX_BYTES, ge=1)
    # Work folders of published nights are deleted after this many days (they hold personal data).
    work_retention_days: int = Field(default=7, ge=0)

    @field_validator(
        "registry_path",
        "landing_dir",
        "warehouse_path",
        "reports_dir",
        "decisions_dir",
        "work_dir",
        "duckdb_temp_directory",
        mode="before",
    )
    @classmethod
    def _no_blank_path(cls, value: object) -> object:
        problem = blank_path_problem(value) if isinstance(value, str) else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("decision_secret")
    @classmethod
    def _long_enough_secret(cls, value: str | None) -> str | None:
        if value and len(value.encode("utf-8")) < DECISION_SECRET_MIN_BYTES:
            raise ValueError(
                f"is {len(value.encode('utf-8'))} bytes, shorter than {DECISION_SECRET_MIN_BYTES}: set a long"
                " random value (e.g. `openssl rand -hex 32`), or unset it to use the generated secret file"
            )
        return value

    @property
    def work_base_dir(self) -> Path:
        """The folder holding one work folder per as-of night."""
        return self.work_dir or self.warehouse_path.parent / "work"

    @property
    def run_work_dir(self) -> Path:
        """Where this night's stage outputs live; keyed by the as-of date, so a re-run overwrites them."""
        return self.work_base_dir / self.as_of.isoformat()
