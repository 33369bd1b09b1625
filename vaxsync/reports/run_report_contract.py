"""The run report's shape: `run_report.json`, a contract with the on-call engineer's tooling
(docs/run-report.md). Typed dicts, so the report is checked by mypy and is its own JSON: the keys, their
order and their values are exactly what the file holds.

Counts recorded by the stages themselves (`run.json` `stage_counts`: discover, normalize, match) stay
open maps: each stage names its own counts.
"""

from __future__ import annotations

from typing import Any, TypedDict

# The stages in the order a night runs them (`stages`, `timings.stage_seconds` and the page follow it).
STAGES = ("discover", "ingest", "normalize", "match", "publish")
# A stage's counts as it recorded them: a count, or a count per reason.
RecordedCounts = dict[str, Any]


class RunHeader(TypedDict):
    run_id: str
    as_of: str
    outcome: str  # 'published', or 'not published' for a night stopped before the publish commit
    started_at: str | None
    finished_at: str | None
    registry_hash: str | None  # SHA-256, whole (the HTML shortens it)
    landing_hash: str | None


class IngestCounts(TypedDict):
    files_read: int
    files_loaded: int
    files_quarantined: int
    files_quarantined_by_reason: dict[str, int]
    rows_read: int
    rows_staged: int
    rows_held_back_by_validation: int
    rows_in_quarantined_files: int


class PublishCounts(TypedDict):
    rows_posted: int
    rows_duplicate_merged: int
    rows_backlog: int
    backlog_by_reason: dict[str, int]
    shots_new: int
    backlog_rows_resolved: int
    shots_citizen_not_in_snapshot: int
    # re-sent files (vaxsync.marts.resends.resend_counts)
    files_replacing_a_version: int
    shots_retracted: int
    shots_replaced: int
    shots_added_by_new_versions: int
    shots_restored: int


class NothingPublished(TypedDict):
    """The publish counts of a night that did not publish: it placed no row (`{}` in the JSON)."""


class OpenBacklog(TypedDict):
    rows: int
    by_reason: dict[str, int]


class Stages(TypedDict):
    discover: RecordedCounts
    ingest: IngestCounts
    normalize: RecordedCounts
    match: RecordedCounts
    publish: PublishCounts | NothingPublished
    backlog_open: OpenBacklog


class ConservationProblem(TypedDict):
    file: str  # the file's hash, masked
    source_file: str | None
    problem: str


class TonightTotals(TypedDict):
    rows_read_in_loaded_files: int
    rows_posted_duplicate_or_backlog: int
    adds_up: bool


class Conservation(TypedDict):
    is_proven: bool
    violations: int
    problems: list[ConservationProblem]
    tonight: TonightTotals


class SlowFile(TypedDict):
    source_file: str
    ingest_seconds: float


class Timings(TypedDict):
    stage_seconds: dict[str, float]
    duration_seconds: float | None
    files_timed: int
    slowest_files: list[SlowFile]


class QuarantinedFile(TypedDict):
    source_file: str
    reason: str | None
    detail: str | None  # digit runs masked to their last 3 digits
    rows_read: int | None
    rows_estimated: int | None


class DeferredFile(TypedDict):
    """A landed file discover left for the next night (an upload in progress): run.json's deferred_files."""

    source_file: str  # its path in the landing folder: a file name, never a row's value
    reason: str  # a deferral code (data/reference/reasons.csv)
    file_size_bytes: int | None  # as listed; None when it was gone


class SkippedSheet(TypedDict):
    """A workbook sheet read as holding no dose rows (instructions, a summary): the ledger's skipped_sheets."""

    source_file: str
    sheet: str  # digit runs masked to their last 3 digits
    rows: int  # its non-blank rows


class ResentFile(TypedDict):
    source_file: str
    recognised_as: str
    shots_kept: int
    shots_added: int
    shots_retracted: int
    shots_replaced: int
    shots_restored: int


class ExpectationSummary(TypedDict):
    expectation: str
    column: str | None
    severity: str
    success: bool
    rule: str
    rows: str
    description: str | None
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: int | float | None  # an aggregate only: a value from a row may be personal
    error: str | None
    examples: list[str]  # failing rows by masked, non-personal key


class SuiteSummary(TypedDict):
    suite_name: str
    success: bool
    critical_failures: int
    warnings: int
    validated_at: str | None
    statistics: dict[str, Any]  # as Great Expectations reported them
    expectations: list[ExpectationSummary]


class ReviewDecisionCounts(TypedDict):
    files_read: int
    files_quarantined: int
    identical_copies_skipped: int
    files_quarantined_by_reason: dict[str, int]
    lines_read: int
    lines_applied: int
    lines_rejected: int
    lines_rejected_by_reason: dict[str, int]


class RelinkedPostings(TypedDict):
    """Posted probabilistic links a newer snapshot changed tonight (vaxsync.marts.snapshot_changes)."""

    moved_by_id: int  # the row's own ID now confirms another citizen: the dose moved, the old shot retracted
    sent_to_backlog: int  # a newcomer may explain it: the old shot retracted, the row in review


class RunReport(TypedDict):
    report_version: int
    generated_at: str
    run: RunHeader
    stages: Stages
    conservation: Conservation
    timings: Timings
    quarantined_files: list[QuarantinedFile]
    deferred_files: list[DeferredFile]
    skipped_sheets: list[SkippedSheet]
    resent_files: list[ResentFile]
    validation: list[SuiteSummary]
    review_decisions: ReviewDecisionCounts
    relinked_postings: RelinkedPostings


class ReportIndexEntry(TypedDict):
    """One run's line in `<reports>/index.json` (newest first; `latest_by_as_of` names each night's)."""

    run_id: str
    as_of: str
    outcome: str
    started_at: str | None
    files_read: int
    rows_read: int
    is_empty: bool  # read no file and resolved no backlog row: a re-run of a night already done
    report_json: str  # relative to the reports folder
    report_html: str
