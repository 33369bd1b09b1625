"""A real Airflow deployment: PostgreSQL metadata database, CeleryExecutor with Redis, two workers.

Brings up `airflow db migrate`, then the scheduler, the dag-processor, the api-server and two Celery
workers as subprocesses (own AIRFLOW_HOME, a fresh PostgreSQL database, a Redis database number of
their own), triggers the nightly DAG through the REST API on a small generated night, and checks that
the run succeeds, that the mapped match partitions ran on both workers, and that the published tables
equal those of a plain `vaxsync run` on the same data. Every process it started is stopped and the
database dropped, whatever happens.

Selected with `-m deployment` (`make deployment-test`); needs PostgreSQL at 127.0.0.1:5432 (trust auth,
user postgres) and Redis at 127.0.0.1:6379. Takes a few minutes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from synth import SynthConfig, generate

pytestmark = pytest.mark.deployment

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAG_ID = "vaccination_nightly_sync"
AS_OF = dt.date(2023, 1, 31)
# 09:00 in Hanoi on 31 Jan: the run stands on 31 Jan (its data interval ends then, local date).
LOGICAL_DATE = "2023-01-31T02:00:00Z"
DATA_INTERVAL = ("2023-01-30T02:00:00Z", "2023-01-31T02:00:00Z")
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS = ("127.0.0.1", 6379)
WORKERS = ("worker-a", "worker-b")
ADMIN = ("admin", "vaxsync-deployment-test")
PARTITION_ROWS = 40  # rows to link per match partition: several partitions on a small night
RUN_TIMEOUT_SECONDS = 900
PUBLISHED_TABLES = {
    "synced_shots": "shot_id",
    "shot_sources": "file_hash, source_row",
    "unposted_backlog": "file_hash, source_row",
}
# The module each worker's task processes report their host name through ([core] hostname_callable):
# two workers on one machine would otherwise share one host name.
WORKER_IDENTITY_MODULE = """
import os
import socket


def hostname() -> str:
    return f"{os.environ['VAXSYNC_TEST_WORKER_NAME']}.{socket.gethostname()}"
"""


@dataclass
class Deployment:
    home: Path
    api_url: str
    env: dict[str, str]
    paths: dict[str, str]  # the triggered run's conf: registry, landing, warehouse, reports
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    token: str = ""

    def start(self, name: str, *command: str, extra_env: dict[str, str] | None = None) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), *command],
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with every child it forks
            cwd=self.home,
        )

    def check_alive(self) -> None:
        dead = {
            name: process.returncode for name, process in self.processes.items() if process.poll() is not None
        }
        assert not dead, f"processes exited: {dead}; logs: {self.log_tails(list(dead))}"

    def log_tails(self, names: list[str] | None = None, lines: int = 30) -> str:
        tails = []
        for name in names or list(self.processes):
            path = self.home / f"{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            tails.append(f"--- {name}\n" + "\n".join(text))
        return "\n".join(tails)

    def stop(self) -> None:
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)  # the group: children outliving a stopped parent too
            if process.poll() is None:
                process.wait(timeout=10)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.api_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")


def _signal_group(process: subprocess.Popen[bytes], signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", POSTGRES["host"], "-p", str(POSTGRES["port"]), "-U", POSTGRES["user"], "-d", "postgres",
         "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def _redis(database: int, *command: str) -> str:
    """One command in one Redis database, over the wire protocol (a few admin calls need no client)."""
    payload = "".join(
        f"*{len(parts)}\r\n" + "".join(f"${len(part)}\r\n{part}\r\n" for part in parts)
        for parts in (("SELECT", str(database)), command)
    )
    with socket.create_connection(REDIS, timeout=5) as connection:
        connection.sendall(payload.encode())
        received = b""
        while received.count(b"\r\n") < 2:
            received += connection.recv(4096)
    return received.decode().split("\r\n")[1]  # the first reply is SELECT's +OK


def _empty_redis_database() -> int:
    """A Redis database number holding no keys (from the top down), for this run's broker queues."""
    for number in range(15, 0, -1):
        if _redis(number, "DBSIZE") == ":0":
            return number
    pytest.fail("no empty Redis database number between 1 and 15")


def _check_services() -> None:
    for name, address in (("PostgreSQL", (POSTGRES["host"], POSTGRES["port"])), ("Redis", REDIS)):
        try:
            socket.create_connection(address, timeout=3).close()
        except OSError as error:
            pytest.fail(f"{name} is not reachable at {address}: {error}")
    for module in ("airflow.providers.celery", "psycopg2", "redis"):
        __import__(module)


def _wait_until(what: str, check: Any, deployment: Deployment, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment.check_alive()
        try:
            result = check()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            result = None
        if result:
            return result
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}\n{deployment.log_tails()}")


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    data = tmp_path_factory.mktemp("deployment_synth")
    generate(data, SynthConfig(citizens=2_000, shots=600, seed=29, snapshot_date=AS_OF))
    return {"registry": data / "registry.parquet", "landing": data / "landing"}


def _paths(night: dict[str, Path], out: Path) -> dict[str, str]:
    return {
        "registry_path": str(night["registry"]),
        "landing_dir": str(night["landing"]),
        "warehouse_path": str(out / "warehouse.duckdb"),
        "reports_dir": str(out / "reports"),
    }


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, night: dict[str, Path]) -> Iterator[Deployment]:
    _check_services()
    home = tmp_path_factory.mktemp("airflow_home")
    (home / "vaxsync_test_worker_identity.py").write_text(WORKER_IDENTITY_MODULE)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN[0]: ADMIN[1]}))
    database = f"vaxsync_deploy_{uuid.uuid4().hex[:12]}"
    redis_db = _empty_redis_database()
    port = _free_port()
    out = tmp_path_factory.mktemp("deployment_out")
    postgres_url = (
        f"postgresql+psycopg2://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{database}"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "VAXSYNC_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join([str(home), str(REPO_ROOT)]),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN[0]}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{postgres_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "VAXSYNC_TASK_RETRIES": "0",
            "VAXSYNC_MATCH_PARTITION_ROWS": str(PARTITION_ROWS),
            "VAXSYNC_MATCH_CONCURRENCY": "4",
        }
    )
    # No VAXSYNC_* paths in the environment: the DAG's path params then default to nothing, so the run the
    # scheduler creates on unpausing (the latest nightly interval) stops at its input check, and only the
    # triggered run, whose conf names the paths, publishes.
    deployment = Deployment(home=home, api_url=f"http://127.0.0.1:{port}", env=env, paths=_paths(night, out))
    _psql(f'CREATE DATABASE "{database}"')
    try:
        migrated = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        deployment.start(
            "api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"
        )
        deployment.start("scheduler", "scheduler")
        deployment.start("dag-processor", "dag-processor")
        for worker in WORKERS:
            deployment.start(
                worker,
                "celery", "worker", "--celery-hostname", f"{worker}@%h", "--concurrency", "2",
                "--skip-serve-logs", "--without-mingle", "--without-gossip",
                extra_env={
                    "VAXSYNC_TEST_WORKER_NAME": worker,
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "vaxsync_test_worker_identity.hostname",
                },
            )  # fmt: skip
        _wait_until(
            "the api-server", lambda: deployment.request("GET", "/api/v2/monitor/health"), deployment, 180
        )
        deployment.token = deployment.request(
            "POST", "/auth/token", {"username": ADMIN[0], "password": ADMIN[1]}
        )["access_token"]
        yield deployment
    finally:
        deployment.stop()
        _redis(redis_db, "FLUSHDB")
        _psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def finished_run(deployment: Deployment) -> dict[str, Any]:
    _wait_until(
        "the DAG to be parsed",
        lambda: _dag_is_parsed(deployment),
        deployment,
        240,
    )
    deployment.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    run = deployment.request(
        "POST",
        f"/api/v2/dags/{DAG_ID}/dagRuns",
        {
            "dag_run_id": f"deployment_test_{uuid.uuid4().hex[:8]}",
            "logical_date": LOGICAL_DATE,
            "data_interval_start": DATA_INTERVAL[0],
            "data_interval_end": DATA_INTERVAL[1],
            "conf": deployment.paths,
        },
    )
    run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"

    def finished() -> dict[str, Any] | None:
        state = deployment.request("GET", run_path)
        return state if state["state"] in ("success", "failed") else None

    final = _wait_until("the DAG run to finish", finished, deployment, RUN_TIMEOUT_SECONDS)
    instances = deployment.request("GET", f"{run_path}/taskInstances?limit=1000")["task_instances"]
    return {"run": final, "task_instances": instances}


def _dag_is_parsed(deployment: Deployment) -> bool:
    try:
        deployment.request("GET", f"/api/v2/dags/{DAG_ID}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise
    return True


def _published(warehouse: Path) -> dict[str, pl.DataFrame]:
    """Each published table without the columns that name the run or its time."""
    tables = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for table, order in PUBLISHED_TABLES.items():
            columns = [
                row[0]
                for row in connection.sql(f"describe {table}").fetchall()
                if not (row[0].endswith("run_id") or row[0].endswith("_at"))
            ]
            quoted = ", ".join(f'"{column}"' for column in columns)
            tables[table] = connection.sql(f"select {quoted} from {table} order by {order}").pl()
    return tables


def test_the_run_succeeds(finished_run: dict[str, Any]) -> None:
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in finished_run["task_instances"]}

    assert finished_run["run"]["state"] == "success", states
    assert set(states.values()) == {"success"}, states


def test_the_match_partitions_ran_on_both_workers(finished_run: dict[str, Any]) -> None:
    partitions = [ti for ti in finished_run["task_instances"] if ti["task_id"] == "match_partition"]
    workers = {ti["hostname"].split(".")[0] for ti in partitions}

    assert len(partitions) >= 4
    assert workers == set(WORKERS)


def test_the_published_tables_equal_a_plain_cli_run(
    finished_run: dict[str, Any], deployment: Deployment, night: dict[str, Path], tmp_path: Path
) -> None:
    cli_paths = _paths(night, tmp_path)
    env = {key: value for key, value in deployment.env.items() if not key.startswith("VAXSYNC_MATCH")}
    completed = subprocess.run(
        [str(BIN / "vaxsync"), "run",
         "--registry", cli_paths["registry_path"], "--landing", cli_paths["landing_dir"],
         "--warehouse", cli_paths["warehouse_path"], "--reports", cli_paths["reports_dir"],
         "--as-of", AS_OF.isoformat()],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]

    by_airflow = _published(Path(deployment.paths["warehouse_path"]))
    by_cli = _published(Path(cli_paths["warehouse_path"]))
    assert by_airflow["synced_shots"].height > 0
    for table, frame in by_cli.items():
        assert_frame_equal(by_airflow[table], frame, check_row_order=True)
