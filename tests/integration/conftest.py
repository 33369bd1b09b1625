"""Airflow in an isolated home with a migrated SQLite metadata database, for dag.test().

Airflow reads AIRFLOW_HOME once, on import, so the environment is set when pytest loads this conftest.
The home is per process; tests/unit/dags/conftest.py picks the same folder, so a full run shares it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


def use_isolated_airflow_home() -> Path:
    home = Path(tempfile.gettempdir()) / f"vaxsync-test-airflow-{os.getpid()}"
    home.mkdir(exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        }
    )
    atexit.register(shutil.rmtree, home, True)
    return home


AIRFLOW_HOME = use_isolated_airflow_home()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database (about 10 s), once per test process."""
    database = AIRFLOW_HOME / "airflow.db"
    if not database.exists():
        migrated = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, env=os.environ
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    return database
