"""The nightly DAG end to end with dag.test() on generated messy data: no scheduler, SQLite metadata DB.

It must publish exactly what the CLI publishes for the same night, and a following night with no new
files must succeed and leave the warehouse as it was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pendulum
import polars as pl
import pytest
from airflow.dag_processing.dagbag import DagBag
from polars.testing import assert_frame_equal

from synth import SynthConfig, generate
from vaxsync.orchestration.pipeline import INGEST_BATCH_FILES

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "vaccination_nightly_sync.py"
HANOI = "Asia/Ho_Chi_Minh"
# A run on the morning of 31 Jan (Hanoi) stands on 31 Jan: as_of is its data interval's end, local date.
FIRST_NIGHT = pendulum.datetime(2023, 1, 31, 9, 0, tz=HANOI)
NEXT_NIGHT = pendulum.datetime(2023, 2, 1, 9, 0, tz=HANOI)
AS_OF = dt.date(2023, 1, 31)
PUBLISHED_TABLES = {
    "synced_shots": "select * exclude (first_synced_at, run_id) from synced_shots order by shot_id",
    "shot_sources": "select * exclude (run_id) from shot_sources order by file_hash, source_row",
    "unposted_backlog": (
        "select * exclude (run_id, last_matched_run_id) from unposted_backlog order by file_hash, source_row"
    ),
    "ingest_ledger": (
        "select * exclude (run_id, ingested_at) from ingest_ledger order by source_file, file_hash"
    ),
}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth_for_dag")
    generate(out, SynthConfig(citizens=2_000, shots=600, seed=23, snapshot_date=AS_OF))
    return out


def run_params(synth_dir: Path, out: Path) -> dict[str, str]:
    return {
        "registry_path": str(synth_dir / "registry.parquet"),
        "landing_dir": str(synth_dir / "landing"),
        "warehouse_path": str(out / "warehouse.duckdb"),
        "reports_dir": str(out / "reports"),
    }


def run_dag(night: pendulum.DateTime, params: dict[str, str]) -> Any:
    dag = DagBag(dag_folder=DAG_FILE).dags["vaccination_nightly_sync"]
    for task in dag.tasks:
        task.retries = 0  # dag.test() waits out retry delays: a failure here must fail fast
    return dag.test(logical_date=night, run_conf=params)


def published(warehouse: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {name: connection.sql(sql).pl() for name, sql in PUBLISHED_TABLES.items()}


def task_states(dag_run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.fixture(scope="module")
def first_night(
    airflow_db: Path, synth_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    params = run_params(synth_dir, tmp_path_factory.mktemp("dag_run"))
    return {"params": params, "dag_run": run_dag(FIRST_NIGHT, params)}


@pytest.fixture(scope="module")
def first_tables(first_night: dict[str, Any]) -> dict[str, pl.DataFrame]:
    states = task_states(first_night["dag_run"])
    failed = sorted(task for task, state in states.items() if state != "success")
    assert first_night["dag_run"].state == "success", f"tasks not successful: {failed}"
    return published(Path(first_night["params"]["warehouse_path"]))


def test_every_task_succeeds_and_ingestion_maps_over_batches_of_new_files(
    first_night: dict[str, Any], first_tables: dict[str, pl.DataFrame]
) -> None:
    states = task_states(first_night["dag_run"])

    assert set(states.values()) == {"success"}, states
    read_files = first_tables["ingest_ledger"].filter(pl.col("status").is_in(["loaded", "quarantined"]))
    ingest_map_indexes = sorted(index for task_id, index in states if task_id == "ingest_exports")
    batches = -(-read_files.height // INGEST_BATCH_FILES)  # one mapped task per batch of files
    assert ingest_map_indexes == list(range(batches))
    assert read_files.height > 1


def test_the_dag_publishes_what_the_cli_publishes(
    first_tables: dict[str, pl.DataFrame], synth_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from vaxsync.orchestration.cli import app

    cli_params = run_params(synth_dir, tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--registry", cli_params["registry_path"],
            "--landing", cli_params["landing_dir"],
            "--warehouse", cli_params["warehouse_path"],
            "--reports", cli_params["reports_dir"],
            "--as-of", AS_OF.isoformat(),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    by_cli = published(Path(cli_params["warehouse_path"]))
    for name, table in first_tables.items():
        assert_frame_equal(table, by_cli[name], check_row_order=True)


def test_every_row_of_a_loaded_file_is_posted_or_in_the_backlog(
    first_tables: dict[str, pl.DataFrame],
) -> None:
    placed_rows = first_tables["shot_sources"].height + first_tables["unposted_backlog"].height
    loaded = first_tables["ingest_ledger"].filter(pl.col("status") == "loaded")

    assert first_tables["synced_shots"].height > 0
    assert placed_rows == loaded["rows_read"].sum()


def test_reports_are_written(first_night: dict[str, Any], first_tables: dict[str, pl.DataFrame]) -> None:
    reports = [path for path in Path(first_night["params"]["reports_dir"]).rglob("*") if path.is_file()]

    assert reports


def test_a_night_without_new_files_succeeds_and_changes_nothing(
    first_night: dict[str, Any], first_tables: dict[str, pl.DataFrame]
) -> None:
    dag_run = run_dag(NEXT_NIGHT, first_night["params"])
    states = {task_id: state for (task_id, _), state in task_states(dag_run).items()}

    assert dag_run.state == "success", states
    assert states["ingest_exports"] == "skipped"
    assert {
        states[stage]
        for stage in (
            "normalize_batch",
            "plan_match_partitions",
            "match_partition",
            "combine_matches",
            "publish_batch",
            "report_batch",
        )
    } == {"success"}
    after = published(Path(first_night["params"]["warehouse_path"]))
    for name, table in first_tables.items():
        assert_frame_equal(after[name], table, check_row_order=True)
