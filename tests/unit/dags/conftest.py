"""Airflow in an isolated home for the DAG tests: set before Airflow is first imported.

Airflow reads AIRFLOW_HOME once, on import, so this runs when pytest loads this conftest, before any
test module here imports airflow. The home is per process (pytest-xdist workers get their own); the
same function in tests/integration/conftest.py picks the same folder, so a full run shares one home.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"


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


use_isolated_airflow_home()


@pytest.fixture(scope="session")
def dag_module() -> ModuleType:
    """The DAG file imported as a plain module, to reach its small helpers."""
    spec = importlib.util.spec_from_file_location(
        "vaccination_nightly_sync_dag", DAGS_DIR / "vaccination_nightly_sync.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
