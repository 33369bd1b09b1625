"""Run a suite on a polars frame and turn the GX result into what the pipeline acts on.

GX's SQL datasource does not work on DuckDB, so frames go to GX's pandas engine through Arrow.
Only the columns the suite reads are converted, with dtypes GX checks vectorised (see _to_pandas).
Failing rows come back from GX as row positions (result_format COMPLETE on a default RangeIndex);
their keys are gathered from the polars frame, so GX never builds per-row key dicts.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl
import polars.selectors as cs

from validation.gx_import import import_great_expectations
from validation.suites import CRITICAL
from vaxsync.core.masking import masked_key as mask_key_value  # validation's public name for it

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuite, ExpectationSuiteValidationResult
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

SAMPLE_KEY_COUNT = 5
MAX_CATEGORIES = 10_000
# From this many rows a suite is screened at BASIC first (_validate_screening_first); below, GX's fixed cost
# per run outweighs what the screening saves.
SCREEN_FROM_ROWS = 20_000
MESSAGE_KEY_COUNT = SAMPLE_KEY_COUNT  # failing rows named in a CriticalValidationError, masked
# datetime64[ns] spans 1677-09-21..2262-04-11; dates outside are clipped into it, still out of any range.
_NS_SAFE_DATES = (dt.date(1678, 1, 1), dt.date(2261, 12, 31))
# GX result fields kept in the stored JSON: counts and aggregates only, never row values.
_STORED_RESULT_FIELDS = (
    "element_count",
    "missing_count",
    "missing_percent",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_nonmissing",
    "observed_value",
)


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation. sample_keys: a few failing rows as tuples of their id_columns values,
    never other row values."""

    expectation_type: str
    column: str | None  # several columns joined with ","; None for table-level expectations
    severity: str
    unexpected_count: int
    sample_keys: list[tuple[Any, ...]]
    detail: str | None = None  # set when GX could not evaluate the expectation (e.g. a missing column)
    # id_columns of every failing row, distinct; empty when GX named no rows (see detail)
    row_keys: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False, compare=False)


@dataclass(frozen=True)
class SuiteOutcome:
    suite_name: str
    success: bool  # GX's verdict: False when any expectation failed, warnings included
    critical_failures: list[ExpectationFailure]
    warnings: list[ExpectationFailure]
    results_json: str  # the GX result without row values, for the validation_results table
    id_columns: list[str]
    # id_columns of every row failing a critical expectation; all rows when a critical
    # expectation failed without naming rows (a missing column, an exception).
    critical_row_keys: pl.DataFrame = field(repr=False, compare=False)

    @property
    def has_critical_failures(self) -> bool:
        return bool(self.critical_failures)

    def failing_keys(self, columns: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
        """Distinct keys (tuples of all id_columns, or of the given subset) of rows failing critical
        expectations, in row order. e.g. failing_keys(["file_hash"]) names the file versions to hold back;
        critical_row_keys has the same keys as a frame, for joins."""
        selected = self.critical_row_keys if columns is None else self.critical_row_keys.select(columns)
        return selected.unique(maintain_order=True).rows()

    def raise_on_critical(self) -> None:
        if self.critical_failures:
            raise CriticalValidationError(self)


class CriticalValidationError(Exception):
    """A critical expectation failed. The message names the suite, the expectations and a few masked keys."""

    def __init__(self, outcome: SuiteOutcome) -> None:
        self.outcome = outcome
        super().__init__(describe_critical_failures(outcome))


def run_suite(frame: pl.DataFrame, suite: ExpectationSuite, *, id_columns: list[str]) -> SuiteOutcome:
    """Validate frame with suite. id_columns are non-personal keys (file_hash, source_row, shot_id)
    that name failing rows in the outcome."""
    missing_id_columns = [column for column in id_columns if column not in frame.columns]
    if missing_id_columns:
        raise ValueError(f"id_columns not in the frame: {missing_id_columns}")
    result = _validate_screening_first(_to_pandas(frame.select(columns_read(suite, frame.columns))), suite)
    _collect_validation_cycles()
    _release_arrow_memory()
    row_keys = frame.select(id_columns)

    critical_failures: list[ExpectationFailure] = []
    warnings: list[ExpectationFailure] = []
    critical_positions: list[int] = []
    sample_keys_by_expectation_id: dict[str, list[tuple[Any, ...]]] = {}
    is_whole_frame_failing = False
    for expectation_result in result.results:
        if expectation_result.success:
            continue
        positions = _unexpected_positions(expectation_result)
        failure = _describe_failure(expectation_result, positions, row_keys)
        if expectation_result.expectation_config is not None:
            sample_keys_by_expectation_id[str(expectation_result.expectation_config.id)] = failure.sample_keys
        if failure.severity == CRITICAL:
            critical_failures.append(failure)
            if positions is None:
                is_whole_frame_failing = True
            else:
                critical_positions.extend(positions)
        else:
            warnings.append(failure)

    critical_row_keys = row_keys if is_whole_frame_failing else row_keys[sorted(set(critical_positions))]
    return SuiteOutcome(
        suite_name=suite.name,
        success=bool(result.success),
        critical_failures=critical_failures,
        warnings=warnings,
        results_json=_results_json(result, suite.name, id_columns, sample_keys_by_expectation_id),
        id_columns=list(id_columns),
        critical_row_keys=critical_row_keys,
    )


def describe_critical_failures(outcome: SuiteOutcome) -> str:
    """One line per failed critical expectation, with a few masked row keys."""
    lines = [f"suite {outcome.suite_name}: {len(outcome.critical_failures)} critical expectation(s) failed"]
    for failure in outcome.critical_failures:
        where = f" on {failure.column}" if failure.column else ""
        examples = "; ".join(
            " ".join(
                f"{name}={mask_key_value(value)}" for name, value in zip(outcome.id_columns, key, strict=True)
            )
            for key in failure.sample_keys[:MESSAGE_KEY_COUNT]
        )
        lines.append(
            f"- {failure.expectation_type}{where}: {failure.unexpected_count} row(s)"
            + (f", e.g. {examples}" if examples else "")
            + (f" ({failure.detail})" if failure.detail else "")
        )
    return "\n".join(lines)


def _collect_validation_cycles() -> None:
    """A GX run leaves reference cycles (its metric graph, the exceptions it caught with their tracebacks)
    that hold the frame's pandas copy and, through the tracebacks' frames, the callers' locals: the whole
    night's normalized rows stayed resident through match and publish, until Python's next full collection
    (docs/performance.md, round 4). Collected here, where they are made."""
    gc.collect()


def _release_arrow_memory() -> None:
    """Give back the pages Arrow's allocator kept from the frame's pandas copy (pyarrow's pool, mimalloc
    or jemalloc, keeps what it freed for reuse): the stages after a validation allocate in DuckDB and
    polars, which never reuse them. Publish's peak on the medium night: ~0.04-0.07 GiB lower."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _validate_screening_first(
    pandas_frame: pd.DataFrame, suite: ExpectationSuite
) -> ExpectationSuiteValidationResult:
    """GX's result for the suite, as at result format COMPLETE for every failed expectation.

    A large frame is screened first at BASIC, which computes every verdict and every count we store but not
    COMPLETE's two further metrics per expectation (the failing rows' index list and index query), each
    re-filtering the frame by its row condition; only the expectations that failed run again, at COMPLETE,
    and their results replace the screening's. A night whose rows pass does one cheaper run."""
    if len(pandas_frame) < SCREEN_FROM_ROWS:
        return _validate(pandas_frame, suite, "COMPLETE")
    screened = _validate(pandas_frame, suite, "BASIC")
    failed = [position for position, result in enumerate(screened.results) if not result.success]
    if not failed:
        return screened
    import great_expectations as gx
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    configurations = [screened.results[position].expectation_config for position in failed]
    assert all(configurations)  # GX always echoes the configuration it evaluated
    again = gx.ExpectationSuite(name=suite.name, expectations=[c for c in configurations if c is not None])
    complete = _validate(pandas_frame, again, "COMPLETE")
    for position, result in zip(failed, complete.results, strict=True):
        screened.results[position] = result
    statistics = calc_validation_statistics(screened.results)
    screened.success = statistics.success
    screened.statistics = {
        "evaluated_expectations": statistics.evaluated_expectations,
        "successful_expectations": statistics.successful_expectations,
        "unsuccessful_expectations": statistics.unsuccessful_expectations,
        "success_percent": statistics.success_percent,
    }
    return screened


def _validate(
    pandas_frame: pd.DataFrame, suite: ExpectationSuite, result_format: str
) -> ExpectationSuiteValidationResult:
    """One ephemeral GX context per run: nothing is written to disk, and no suite or run names clash."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:  # GX logs its own start-up at INFO, flooding task logs
        gx_logger.setLevel(logging.WARNING)
    import_great_expectations()  # first: imports GX without the modules it would load in vain
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("frames")
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    # ValidationDefinition loads (and fingerprints) the batch once; Batch.validate would load it twice.
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=context.suites.add(suite))
    )
    return validation.run(
        batch_parameters={"dataframe": pandas_frame}, result_format={"result_format": result_format}
    )


def _to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """pandas via Arrow, in the dtypes GX's pandas engine checks vectorised.

    GX compares only int64/float64 and datetime64[ns] columns vectorised (anything else row by row in
    Python). Repetitive strings (codes, file hashes) go as categoricals, which make GX's row filtering
    and duplicate checks several times faster; near-unique strings (IDs) would only pay to build one.
    """
    most_categories = max(MAX_CATEGORIES, frame.height // 100)
    repetitive_strings = [
        column
        for column in frame.select(cs.string()).columns
        if _distinct_at_most(frame[column], most_categories)
    ]
    return frame.with_columns(
        cs.date().clip(*_NS_SAFE_DATES).cast(pl.Datetime("ns")),
        cs.datetime().dt.cast_time_unit("ns"),
        cs.integer().cast(pl.Int64),
        cs.float().cast(pl.Float64),
        pl.col(repetitive_strings).cast(pl.Categorical()),
    ).to_pandas()


def _distinct_at_most(column: pl.Series, most: int) -> bool:
    """Whether column has at most `most` distinct values. Its first 2 x most values are counted first: a
    near-unique column (IDs) is settled there without hashing the rest (a part has no more distinct
    values than the whole)."""
    if column.len() > 2 * most and column.head(2 * most).n_unique() > most:
        return False
    return column.n_unique() <= most


def columns_read(suite: ExpectationSuite, frame_columns: Sequence[str]) -> list[str]:
    """The frame's columns the suite reads, in the frame's order; all of them when a table-level expectation
    looks at the table. A caller can fetch only these (run_suite hands GX nothing else)."""
    read: set[str] = set()
    for expectation in suite.expectations:
        if expectation.expectation_type.startswith("expect_table_"):
            return list(frame_columns)
        kwargs = expectation.configuration.kwargs
        for key in ("column", "column_A", "column_B"):
            if kwargs.get(key):
                read.add(kwargs[key])
        read.update(kwargs.get("column_list") or [])
        read.update(_condition_columns(getattr(expectation, "row_condition", None)))
    return [column for column in frame_columns if column in read]


def _condition_columns(condition: object) -> Iterator[str]:
    """Column names in a GX row condition (a comparison, a null test, or an and/or of them)."""
    if condition is None:
        return
    column = getattr(condition, "column", None)
    if column is not None:
        yield column.name
    for part in getattr(condition, "conditions", None) or []:
        yield from _condition_columns(part)


def _unexpected_positions(expectation_result: ExpectationValidationResult) -> list[int] | None:
    """Row positions GX found unexpected; None when it named no rows (table-level, or an exception)."""
    if _exception_message(expectation_result.exception_info):
        return None
    positions = (expectation_result.result or {}).get("unexpected_index_list")
    if positions is None:
        return None
    return [int(position) for position in positions]


def _exception_message(exception_info: dict[str, Any] | None) -> str | None:
    """The message of an exception GX caught: exception_info is either one record or one per metric."""
    if not exception_info:
        return None
    records = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    messages = {str(record["exception_message"]) for record in records if record.get("raised_exception")}
    return "; ".join(sorted(messages)) or None


def _describe_failure(
    expectation_result: ExpectationValidationResult, positions: list[int] | None, row_keys: pl.DataFrame
) -> ExpectationFailure:
    config = expectation_result.expectation_config
    assert config is not None  # GX always echoes the configuration it evaluated
    columns = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None
    # rows sharing a key (a duplicate) show once
    failing_row_keys = row_keys[positions or []].unique(maintain_order=True)
    return ExpectationFailure(
        expectation_type=config.type,
        column=columns,
        severity=str(getattr(config.severity, "value", config.severity)),
        unexpected_count=int((expectation_result.result or {}).get("unexpected_count") or 0),
        sample_keys=failing_row_keys.head(SAMPLE_KEY_COUNT).rows(),
        detail=_exception_message(expectation_result.exception_info),
        row_keys=failing_row_keys,
    )


def _results_json(
    result: ExpectationSuiteValidationResult,
    suite_name: str,
    id_columns: list[str],
    sample_keys_by_expectation_id: dict[str, list[tuple[Any, ...]]],
) -> str:
    """The GX result for storage: configurations, verdicts and counts; failing rows by key only."""
    serialised = result.to_json_dict()
    expectations = []
    for expectation_result in serialised["results"]:
        config = expectation_result["expectation_config"]
        kwargs = {key: value for key, value in config["kwargs"].items() if key != "batch_id"}
        expectations.append(
            {
                "expectation_type": config["type"],
                "kwargs": kwargs,
                "severity": config.get("severity"),
                "description": config.get("description"),
                "success": expectation_result["success"],
                "result": {
                    name: value
                    for name, value in (expectation_result.get("result") or {}).items()
                    if name in _STORED_RESULT_FIELDS
                },
                "exception_message": _exception_message(expectation_result.get("exception_info")),
                "sample_keys": [
                    dict(zip(id_columns, key, strict=True))
                    for key in sample_keys_by_expectation_id.get(str(config.get("id")), [])
                ],
            }
        )
    return json.dumps(
        {
            "suite_name": suite_name,
            "success": serialised["success"],
            "statistics": serialised["statistics"],
            "great_expectations_version": serialised["meta"].get("great_expectations_version"),
            "validation_time": serialised["meta"].get("validation_time"),
            "expectations": expectations,
        },
        default=str,
        ensure_ascii=False,
    )
