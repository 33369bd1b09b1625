"""Small inputs for the operator tests: a valid registry snapshot, a landing folder, a CLI call."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
from click.testing import Result
from typer.testing import CliRunner

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.orchestration.cli import app


def registry_frame(citizens: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "citizen_id": [f"0012{index:08d}" for index in range(citizens)],
            "legacy_id": [None] * citizens,
            "full_name": [f"Nguyễn Văn {chr(65 + index % 26)}" for index in range(citizens)],
            "date_of_birth": [dt.date(1980, 1, 1 + index % 28) for index in range(citizens)],
            "birth_year": [1980] * citizens,
            "sex": ["M"] * citizens,
            "phone": [None] * citizens,
            "province_code": ["01"] * citizens,
            "district_code": ["001"] * citizens,
            "ward_code": ["00001"] * citizens,
            "date_of_death": [None] * citizens,
        },
        schema=REGISTRY_SCHEMA,
    )


def write_registry(path: Path, frame: pl.DataFrame | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (registry_frame() if frame is None else frame).write_parquet(path)
    return path


def write_landing(folder: Path) -> Path:
    """One small facility export, hand-written (not by our generator)."""
    export = folder / "01_Ha_Noi" / "01001001" / "DS_tiem.csv"
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_text(
        "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Tên vắc xin,Ngày tiêm,Mũi số\n"
        "Nguyễn Văn A,01/01/1980,Nam,001200000000,AstraZeneca,15/08/2021,1\n",
        encoding="utf-8",
    )
    return folder


def run_args(
    tmp_path: Path, *extra: str, registry: Path | None = None, warehouse: Path | None = None
) -> list[str]:
    return [
        "run",
        "--registry", str(registry or write_registry(tmp_path / "registry.parquet")),
        "--landing", str(write_landing(tmp_path / "landing")),
        "--warehouse", str(warehouse or tmp_path / "wh" / "warehouse.duckdb"),
        "--reports", str(tmp_path / "reports"),
        *extra,
    ]  # fmt: skip


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args)


def assert_one_line_error(result: Result, *expected: str) -> str:
    """Exit code 2, exactly one line on stderr, no traceback; returns the line."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def hold_lock(warehouse: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process (an analyst's session) holding the warehouse open for `seconds`; returns once
    it holds the lock."""
    code = textwrap.dedent(
        f"""
        import duckdb, time
        connection = duckdb.connect({str(warehouse)!r})
        print("holding", flush=True)
        time.sleep({seconds})
        connection.close()
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder


def hold_night_lock(warehouse: Path, seconds: float) -> subprocess.Popen[str]:
    """Another night holding the warehouse's night lock for `seconds`; returns once it holds it."""
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from vaxsync.marts.warehouse import night_lock
        with night_lock(Path({str(warehouse)!r}), lock_wait_seconds=0):
            print("holding", flush=True)
            time.sleep({seconds})
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder
