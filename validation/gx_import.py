"""The one way this project imports Great Expectations: without the modules our suites never use.

In the night's process `import great_expectations` costs 3-3.5 CPU s, and 1.2-1.6 s of it (and ~100 MiB)
goes to modules GX imports for features we never run (docs/performance.md, round 4):

- scipy.stats and altair (with narwhals and scipy's optimize, sparse, spatial): GX imports
  them at module level for its distribution expectations and metrics (KL divergence, KS tests) and their
  charts, and uses them only inside those expectations' functions. They are deferred: GX gets a
  placeholder module that imports the real one at its first attribute access, so an expectation that
  needs them still works, paying for the import then.
- sqlalchemy (with its dialects): GX's SQL engine, an optional dependency (extras such as
  `great-expectations[postgresql]`) that GX imports when it is installed
  (great_expectations.compatibility.sqlalchemy). Our suites run on GX's pandas engine, so while GX
  imports, sqlalchemy is reported missing to the importing thread only, and GX takes its own
  "not installed" branch. Other threads, and later imports, find sqlalchemy as usual. Where sqlalchemy
  is already imported (as Airflow may have done), GX simply uses it.

Two costs of GX's pandas engine that buy our suites nothing are taken out once GX is imported here
(_tune_pandas_engine): the batch's fingerprint (an md5 over every row's hash, written only to the result's
meta, which run_suite never stores) is not computed, and a row condition is applied to the batch once per
validation run instead of once per metric (a conditional expectation resolves 3-5 metrics, each filtering
the whole frame again). A process that imported GX itself before (Airflow, a test's plain import) keeps
GX as it is: the outcomes are the same, only slower.

Everything else GX imports is imported as usual. Once imported, the process's objects are frozen for the
garbage collector (_freeze_long_lived_objects): GX's ~200k classes, models and registries live as long as the
process, and every full collection walked them. `tests/unit/validation/test_gx_import.py` checks that
the suites still run on GX with the same outcomes and that these modules stay unimported.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# GX imports these at module level, but only its distribution expectations and charts use them.
DEFERRED_MODULES = ("scipy.stats", "altair")
# GX's optional SQL engine: while GX imports, its importing thread finds it missing.
HIDDEN_WHILE_IMPORTING = ("sqlalchemy",)

_importing = threading.Lock()  # one thread imports GX; the others wait for it, then find it imported


def import_great_expectations() -> types.ModuleType:
    """great_expectations, imported once per process without the modules listed above."""
    with _importing:
        imported = sys.modules.get("great_expectations")
        if imported is not None:
            return imported
        with _deferred(DEFERRED_MODULES), _hidden_from_this_thread(HIDDEN_WHILE_IMPORTING):
            imported = importlib.import_module("great_expectations")
        _tune_pandas_engine()
        _freeze_long_lived_objects()
        return imported


def _tune_pandas_engine() -> None:
    """GX's pandas engine without the work our suites never use (medium night: normalized layer 0.25 CPU s
    of filtering, synced layer 0.1-0.2 CPU s of fingerprint).

    - The fingerprint: GX hashes every row and column of a batch under HASH_THRESHOLD bytes into its
      batch markers, which end in the result's meta only; a threshold of 0 skips it.
    - The row condition: every metric of a conditional expectation asks the engine for its domain, and the
      engine filtered the batch again each time (16 filters of 200k rows for the normalized suite's one
      condition). The filtered frame is kept on the engine (one per validation run) for the batch frame and
      condition it was made from, and handed out again, as the unfiltered batch frame itself is handed to
      every metric without a condition. The engine and its filtered frames go with the run."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    engine_class = pandas_execution_engine.PandasExecutionEngine
    apply_row_condition = engine_class._apply_row_condition_filter

    @functools.wraps(apply_row_condition)
    def apply_row_condition_once(
        self: Any, data: Any, row_condition: Any, domain_kwargs: dict[str, Any]
    ) -> Any:
        filtered: dict[tuple[int, str, str], tuple[Any, Any]] = self.__dict__.setdefault(
            "_filtered_by_condition", {}
        )
        key = (id(data), repr(row_condition), repr(domain_kwargs.get("condition_parser")))
        kept = filtered.get(key)
        if kept is None or kept[0] is not data:  # the frame itself is kept, so its id is not reused meanwhile
            kept = filtered[key] = (data, apply_row_condition(self, data, row_condition, domain_kwargs))
        return kept[1]

    engine_class._apply_row_condition_filter = apply_row_condition_once  # type: ignore[method-assign]


def _freeze_long_lived_objects() -> None:
    """Move every object alive now out of the garbage collector's sight: GX's import leaves ~200k (classes,
    pydantic models, its registries of expectations and metrics) that live as long as the process, and each
    full collection walked them: 0.15 CPU s, and run_suite collects after each suite. Objects still die when
    their last reference goes; only a reference cycle made before this point and dropped later is never
    collected. Unfrozen at exit, so that shutdown frees them as usual (DuckDB's bindings report leaks else)."""
    gc.freeze()
    atexit.register(gc.unfreeze)


class DeferredModule(types.ModuleType):
    """Stands in for a module until one of its attributes is read, then imports it and reads from it."""

    def __init__(self, spec: importlib.machinery.ModuleSpec) -> None:
        super().__init__(spec.name)
        self.__spec__ = spec  # the import system reads it to see that the module is loaded
        self._deferred_lock = threading.Lock()
        self._deferred_module: types.ModuleType | None = None

    def __getattr__(self, attribute: str) -> object:  # only called for attributes not set above
        return getattr(self._real_module(), attribute)

    def _real_module(self) -> types.ModuleType:
        with self._deferred_lock:
            if self._deferred_module is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                self._deferred_module = importlib.import_module(self.__name__)
            return self._deferred_module


@contextmanager
def _deferred(names: Sequence[str]) -> Iterator[None]:
    """Placeholders for names while the block runs: the modules it imports keep them as their globals.
    Afterwards sys.modules no longer holds them, so a later import anywhere imports the real module."""
    placed: dict[str, DeferredModule] = {}
    for name in names:
        spec = None if name in sys.modules else _spec_or_none(name)
        if spec is not None:
            placed[name] = sys.modules[name] = DeferredModule(spec)
    try:
        yield
    finally:
        for name, placeholder in placed.items():
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]


def _spec_or_none(name: str) -> importlib.machinery.ModuleSpec | None:
    """Where name would be imported from; None when it is not installed (GX's import then says so)."""
    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:  # a missing parent package
        return None


class _HiddenFromThread(importlib.abc.MetaPathFinder):
    """Reports packages as missing to imports made in one thread."""

    def __init__(self, names: Sequence[str], thread_id: int) -> None:
        self.names = tuple(names)
        self.thread_id = thread_id

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        hidden = fullname.split(".")[0] in self.names and threading.get_ident() == self.thread_id
        if hidden:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


@contextmanager
def _hidden_from_this_thread(names: Sequence[str]) -> Iterator[None]:
    """The packages among names not imported yet look missing to this thread while the block runs."""
    finder = _HiddenFromThread([name for name in names if name not in sys.modules], threading.get_ident())
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
