"""Great Expectations suites, one builder per layer, and the code that runs them.

Importing this package does not import Great Expectations (seconds of import time); the builders
and run_suite do, when called.
"""

from validation.gx_import import import_great_expectations
from validation.runner import (
    CriticalValidationError,
    ExpectationFailure,
    SuiteOutcome,
    columns_read,
    describe_critical_failures,
    mask_key_value,
    run_suite,
)
from validation.suites import (
    CRITICAL,
    WARNING,
    build_normalized_shots_suite,
    build_raw_file_metrics_suite,
    build_synced_shots_suite,
)

__all__ = [
    "CRITICAL",
    "WARNING",
    "CriticalValidationError",
    "ExpectationFailure",
    "SuiteOutcome",
    "build_normalized_shots_suite",
    "build_raw_file_metrics_suite",
    "build_synced_shots_suite",
    "columns_read",
    "describe_critical_failures",
    "import_great_expectations",
    "mask_key_value",
    "run_suite",
]
