"""The expectation suites, one builder per layer, built in code.

Every expectation carries a severity: CRITICAL failures hold back the rows (or files) they point at;
WARNING failures are stored with the results and reported, nothing is held back.
Great Expectations is imported inside each builder (validation.gx_import): it takes seconds to import,
and DAG parsing must not.

Date bounds are given as datetimes at midnight: run_suite hands GX date columns as datetime64[ns],
the only temporal dtype GX compares vectorised.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from validation.gx_import import import_great_expectations
from vaxsync.core.clinical_rules import latest_vaccinable_birth_year, min_vaccination_age_years
from vaxsync.core.contracts import ID_KINDS, MATCH_METHODS
from vaxsync.core.reasons import BACKLOG_REASONS

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite

# Severity values as they appear in SuiteOutcome failures (GX FailureSeverity values).
CRITICAL = "critical"
WARNING = "warning"

RAW_FILE_METRICS_SUITE = "raw_file_metrics"
NORMALIZED_SHOTS_SUITE = "normalized_shots"
SYNCED_SHOTS_SUITE = "synced_shots"

# Raw layer warning thresholds, per file: above these a file loads but a reviewer should look at it
# (a blank-ID column often means the ID column was mapped wrongly; unparsable dates, a new date format).
MAX_SHARE_BLANK_ID = 0.30
MAX_SHARE_UNPARSABLE_DATES = 0.05

MAX_AGE_YEARS = 120  # older than this is a typing error, not a person
SEX_CODES = ("M", "F")
MAX_PLAUSIBLE_DOSE_NUMBER = 5  # two primary doses and at most three boosters were given
MIN_SHARE_SEX_KNOWN = 0.9
CITIZEN_ID_PATTERN = r"^\d{12}$"


def build_raw_file_metrics_suite(
    *,
    max_share_blank_id: float = MAX_SHARE_BLANK_ID,
    max_share_unparsable_dates: float = MAX_SHARE_UNPARSABLE_DATES,
) -> ExpectationSuite:
    """Raw layer, one row per landed file: source_file, is_required_columns_present, rows_read and the
    shares (0..1) of blank IDs and unparsable dates."""
    import_great_expectations()  # first: imports GX without the modules it would load in vain
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.metadata_types import FailureSeverity

    return gx.ExpectationSuite(
        name=RAW_FILE_METRICS_SUITE,
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="source_file", severity=FailureSeverity.CRITICAL),
            gxe.ExpectColumnValuesToNotBeNull(
                column="is_required_columns_present", severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="is_required_columns_present",
                value_set=[True],
                severity=FailureSeverity.CRITICAL,
                description="The file has every required column (name, birth date, vaccine, date).",
            ),
            gxe.ExpectColumnValuesToNotBeNull(column="rows_read", severity=FailureSeverity.CRITICAL),
            gxe.ExpectColumnValuesToBeBetween(
                column="rows_read",
                min_value=1,
                severity=FailureSeverity.CRITICAL,
                description="The file has data rows.",
            ),
            *(
                gxe.ExpectColumnValuesToBeBetween(
                    column=share_column, min_value=0, max_value=1, severity=FailureSeverity.CRITICAL
                )
                for share_column in ("share_blank_id", "share_unparsable_dates")
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="share_blank_id",
                max_value=max_share_blank_id,
                severity=FailureSeverity.WARNING,
                description="Few rows lack an ID; many blanks suggest a wrongly mapped ID column.",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="share_unparsable_dates",
                max_value=max_share_unparsable_dates,
                severity=FailureSeverity.WARNING,
                description="Few dates are unreadable; many suggest a date format we do not parse.",
            ),
        ],
    )


def build_normalized_shots_suite(
    as_of: dt.date, campaign_start: dt.date, vaccine_codes: list[str]
) -> ExpectationSuite:
    """Normalized shots, one row per staged row.

    Keys, closed sets and non-null catalogue codes are checked on every row. Completeness and ranges
    are checked on matchable rows only (reject_reason null): a rejected row is already on its way to
    the backlog with the reason, so its null or out-of-range value is expected there.
    """
    import_great_expectations()  # first: imports GX without the modules it would load in vain
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.expectations.row_conditions import Column

    matchable = Column("reject_reason").is_null()
    return gx.ExpectationSuite(
        name=NORMALIZED_SHOTS_SUITE,
        expectations=[
            # every row
            *(
                gxe.ExpectColumnValuesToNotBeNull(column=key_column, severity=FailureSeverity.CRITICAL)
                for key_column in ("source_file", "file_hash", "source_row", "id_kind")
            ),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["file_hash", "source_row"],
                severity=FailureSeverity.CRITICAL,
                description="One normalized row per staged row.",
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="id_kind", value_set=list(ID_KINDS), severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="sex_code", value_set=list(SEX_CODES), severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="reject_reason", value_set=list(BACKLOG_REASONS), severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="vaccine_code", value_set=vaccine_codes, severity=FailureSeverity.CRITICAL
            ),
            # matchable rows
            *(
                gxe.ExpectColumnValuesToNotBeNull(
                    column=required_column, row_condition=matchable, severity=FailureSeverity.CRITICAL
                )
                for required_column in ("vaccine_code", "vaccinated_date", "birth_year")
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="vaccinated_date",
                min_value=_midnight(campaign_start),
                max_value=_midnight(as_of),
                row_condition=matchable,
                severity=FailureSeverity.CRITICAL,
                description="Vaccinated within the campaign and not after the run date.",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="birth_year",
                min_value=as_of.year - MAX_AGE_YEARS,
                max_value=as_of.year,
                row_condition=matchable,
                severity=FailureSeverity.CRITICAL,
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="birth_year",
                max_value=latest_vaccinable_birth_year(as_of),
                row_condition=matchable,
                severity=FailureSeverity.WARNING,
                description=f"Children under {min_vaccination_age_years()} were not vaccinated against COVID-19.",
            ),
            gxe.ExpectColumnValuesToNotBeNull(
                column="sex_code",
                mostly=MIN_SHARE_SEX_KNOWN,
                row_condition=matchable,
                severity=FailureSeverity.WARNING,
            ),
        ],
    )


def build_synced_shots_suite(
    as_of: dt.date, campaign_start: dt.date, vaccine_codes: list[str]
) -> ExpectationSuite:
    """synced_shots, one row per real administered dose posted to a citizen."""
    import_great_expectations()  # first: imports GX without the modules it would load in vain
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.metadata_types import FailureSeverity

    required_columns = (
        "shot_id",
        "citizen_id",
        "vaccine_code",
        "dose_number",
        "vaccinated_on",
        "match_method",
        "match_score",
        "first_synced_at",
    )
    return gx.ExpectationSuite(
        name=SYNCED_SHOTS_SUITE,
        expectations=[
            *(
                gxe.ExpectColumnValuesToNotBeNull(column=required_column, severity=FailureSeverity.CRITICAL)
                for required_column in required_columns
            ),
            gxe.ExpectColumnValuesToBeUnique(column="shot_id", severity=FailureSeverity.CRITICAL),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["citizen_id", "vaccine_code", "vaccinated_on"],
                severity=FailureSeverity.CRITICAL,
                description="A dose submitted twice is posted once.",
            ),
            gxe.ExpectColumnValuesToMatchRegex(
                column="citizen_id", regex=CITIZEN_ID_PATTERN, severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="vaccine_code", value_set=vaccine_codes, severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="vaccinated_on",
                min_value=_midnight(campaign_start),
                max_value=_midnight(as_of),
                severity=FailureSeverity.CRITICAL,
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="match_method", value_set=list(MATCH_METHODS), severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="match_score", min_value=0, max_value=1, severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="dose_number", min_value=1, severity=FailureSeverity.CRITICAL
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="dose_number", max_value=MAX_PLAUSIBLE_DOSE_NUMBER, severity=FailureSeverity.WARNING
            ),
        ],
    )


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)
