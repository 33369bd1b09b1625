"""Great Expectations imported without the modules our suites never use (validation/gx_import.py): the
suites still run on GX with the same outcomes as after a plain `import great_expectations`, and the
deferred and hidden modules stay unimported; a deferred module still works when something reads it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from validation.gx_import import (
    DEFERRED_MODULES,
    HIDDEN_WHILE_IMPORTING,
    DeferredModule,
    _deferred,
    _hidden_from_this_thread,
)

ROOT = Path(__file__).resolve().parents[3]

# Runs the three suites in a fresh interpreter; "plain" imports GX first the usual way.
VALIDATE_IN_FRESH_PROCESS = """
import gc, json, sys
import polars as pl
if sys.argv[1] == "plain":
    import great_expectations
from validation import build_normalized_shots_suite, build_raw_file_metrics_suite, build_synced_shots_suite, run_suite
from vaxsync.core.settings import CAMPAIGN_START
import datetime as dt
as_of, codes = dt.date(2023, 1, 31), ["ASTRAZENECA", "PFIZER", "MODERNA", "VERO_CELL"]
runs = [
    (build_raw_file_metrics_suite(), "raw", ["file_hash"]),
    (build_normalized_shots_suite(as_of, CAMPAIGN_START, codes), "normalized", ["file_hash", "source_row"]),
    (build_synced_shots_suite(as_of, CAMPAIGN_START, codes), "synced", ["shot_id"]),
]
outcomes = {}
for suite, name, keys in runs:
    outcome = run_suite(pl.read_parquet(f"{sys.argv[2]}/{name}.parquet"), suite, id_columns=keys)
    results = json.loads(outcome.results_json)
    del results["validation_time"]
    outcomes[name] = {"results": results, "failing": [list(key) for key in outcome.failing_keys()]}
loaded = sorted(m for m in ("great_expectations", "pandas", "scipy.stats", "altair", "sqlalchemy") if m in sys.modules)
print(json.dumps({"outcomes": outcomes, "loaded": loaded, "frozen": gc.get_freeze_count()}, default=str))
"""


def _validate_in_fresh_process(mode: str, folder: Path) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", VALIDATE_IN_FRESH_PROCESS, mode, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "GX_ANALYTICS_ENABLED": "False", "PATH": ""},
    )
    return {**json.loads(completed.stdout.splitlines()[-1]), "stderr": completed.stderr}


@pytest.fixture
def layers_with_failures(
    tmp_path, good_raw_file_metrics, good_normalized_shots, good_synced_shots, with_value
):
    """Each layer's frame with critical and warning failures, so that outcomes name rows."""
    with_value(with_value(good_raw_file_metrics, 1, "rows_read", 0), 2, "share_blank_id", 0.5).with_columns(
        file_hash=pl.Series(["a", "b", "c"])
    ).write_parquet(tmp_path / "raw.parquet")
    with_value(with_value(good_normalized_shots, 0, "sex_code", "X"), 1, "birth_year", 1800).write_parquet(
        tmp_path / "normalized.parquet"
    )
    with_value(with_value(good_synced_shots, 2, "citizen_id", "12345"), 3, "dose_number", 7).write_parquet(
        tmp_path / "synced.parquet"
    )
    return tmp_path


def test_suites_give_the_same_outcomes_as_with_a_plain_import_and_leave_unused_modules_unimported(
    layers_with_failures,
):
    narrow = _validate_in_fresh_process("narrow", layers_with_failures)
    plain = _validate_in_fresh_process("plain", layers_with_failures)

    assert narrow["outcomes"] == plain["outcomes"]
    assert all(outcome["failing"] for outcome in narrow["outcomes"].values())  # failures were found
    assert narrow["loaded"] == ["great_expectations", "pandas"]
    assert set(plain["loaded"]) >= {*DEFERRED_MODULES, *HIDDEN_WHILE_IMPORTING}


def test_objects_alive_after_the_import_are_frozen_and_the_process_exits_cleanly(layers_with_failures):
    narrow = _validate_in_fresh_process("narrow", layers_with_failures)

    assert narrow["frozen"] > 100_000  # GX's classes and registries: full collections no longer walk them
    assert narrow["stderr"] == ""  # unfrozen at exit: no leak report from DuckDB's bindings


def test_a_deferred_module_imports_the_real_one_when_read():
    placeholder = DeferredModule(__import__("importlib.util").util.find_spec("colorsys"))
    sys.modules.pop("colorsys", None)

    assert placeholder.hls_to_rgb(0, 0.5, 0) == (0.5, 0.5, 0.5)
    assert sys.modules["colorsys"].hls_to_rgb is placeholder.hls_to_rgb


def test_hidden_modules_look_missing_to_the_importing_thread_only():
    sys.modules.pop("colorsys", None)
    found_elsewhere: list[bool] = []
    with _hidden_from_this_thread(["colorsys"]):
        with pytest.raises(ModuleNotFoundError):
            __import__("colorsys")
        other = threading.Thread(target=lambda: found_elsewhere.append(bool(__import__("colorsys"))))
        other.start()
        other.join()
    assert found_elsewhere == [True]
    assert __import__("colorsys").hls_to_rgb(0, 0.5, 0) == (0.5, 0.5, 0.5)


def test_a_module_already_imported_is_not_hidden():
    import colorsys

    with _hidden_from_this_thread(["colorsys"]):
        assert __import__("colorsys") is colorsys


def test_a_deferred_module_that_is_not_installed_is_left_to_the_importer():
    with _deferred(["not_an_installed_package.stats"]):
        assert "not_an_installed_package.stats" not in sys.modules
        with pytest.raises(ModuleNotFoundError):
            __import__("not_an_installed_package.stats")


# Counts, in a fresh interpreter, what GX's pandas engine does for one run of the normalized suite, whose
# conditional expectations all share one row condition.
COUNT_ENGINE_WORK = """
import sys
import pandas as pd
import polars as pl
if sys.argv[1] == "plain":
    import great_expectations
counts = {"query": 0, "hash": 0}
query, hash_pandas_object = pd.DataFrame.query, pd.util.hash_pandas_object
def counted_query(*args, **kwargs):
    counts["query"] += 1
    return query(*args, **kwargs)
def counted_hash(*args, **kwargs):
    counts["hash"] += 1
    return hash_pandas_object(*args, **kwargs)
pd.DataFrame.query, pd.util.hash_pandas_object = counted_query, counted_hash
from validation import build_normalized_shots_suite, run_suite
from vaxsync.core.settings import CAMPAIGN_START
import datetime as dt, json
codes = ["ASTRAZENECA", "PFIZER", "MODERNA", "VERO_CELL"]
suite = build_normalized_shots_suite(dt.date(2023, 1, 31), CAMPAIGN_START, codes)
outcome = run_suite(pl.read_parquet(sys.argv[2]), suite, id_columns=["file_hash", "source_row"])
print(json.dumps({**counts, "failing": [list(key) for key in outcome.failing_keys()]}))
"""


def test_the_engine_filters_by_a_row_condition_once_per_run_and_computes_no_fingerprint(
    tmp_path, good_normalized_shots, with_value
):
    frame = with_value(good_normalized_shots, 1, "birth_year", 1800)  # fails a conditional expectation
    frame.write_parquet(tmp_path / "normalized.parquet")

    def count(mode: str) -> dict[str, object]:
        completed = subprocess.run(
            [sys.executable, "-c", COUNT_ENGINE_WORK, mode, str(tmp_path / "normalized.parquet")],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "GX_ANALYTICS_ENABLED": "False", "PATH": ""},
        )
        return json.loads(completed.stdout.splitlines()[-1])

    narrow, plain = count("narrow"), count("plain")

    assert narrow["failing"] == plain["failing"] == [[frame[1, "file_hash"], 2]]
    assert (narrow["query"], narrow["hash"]) == (1, 0)
    assert plain["query"] > 10 and plain["hash"] >= 1
