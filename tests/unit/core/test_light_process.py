"""Light helper processes: answers in order, errors raised in the caller, and the render helper's imports."""

from __future__ import annotations

import json
import operator
import subprocess
import sys
import time

import pytest

from vaxsync.core.light_process import LightProcess

# What rendering a province's report never needs: the warehouse's decision and re-send code, matching,
# staging, validation and the CLI (a multiprocessing child imported all of it before its first job).
NOT_FOR_RENDERING = (
    "great_expectations",
    "matching",
    "transforms",
    "validation",
    "vaxsync.orchestration",
    "vaxsync.marts.decisions",
    "vaxsync.marts.decision_tokens",
    "vaxsync.marts.resends",
    "vaxsync.reports.province_reports",
)


def test_answers_come_in_the_order_asked_and_the_process_stops_when_told() -> None:
    with LightProcess() as helper:
        helper.submit(operator.add, 2, 3)
        helper.submit(operator.mul, 4, 5)
        assert helper.pending == 2
        assert (helper.result(), helper.result()) == (5, 20)
        assert not helper.answer_waiting()

    assert helper.pending == 0 and helper.process.returncode == 0


def test_an_error_in_the_helper_is_raised_here_and_the_helper_keeps_serving() -> None:
    with LightProcess() as helper:
        helper.submit(operator.truediv, 1, 0)
        with pytest.raises(ZeroDivisionError):
            helper.result()
        helper.submit(operator.truediv, 1, 2)
        assert helper.result() == 0.5


def test_an_error_while_the_helper_works_stops_it() -> None:
    with pytest.raises(RuntimeError), LightProcess() as helper:
        raise RuntimeError("the caller failed")

    assert helper.process.returncode is not None


def test_the_render_helper_imports_only_what_rendering_needs() -> None:
    probe = (
        "import json, sys; import vaxsync.core.light_process, vaxsync.reports.province_report_render; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({NOT_FOR_RENDERING!r}))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert json.loads(loaded.stdout) == []


def test_a_large_request_does_not_hold_the_caller_while_the_helper_works() -> None:
    """A request larger than the pipe holds (a province's frames) is written while the helper is still
    on the one before; the caller goes on with its own work meanwhile."""
    with LightProcess() as helper:
        helper.submit(time.sleep, 3)
        helper.submit(len, b"x" * 4_000_000)
        assert not helper.answer_waiting()  # submitting did not wait for the helper's first answer
        assert (helper.result(), helper.result()) == (None, 4_000_000)
