"""The run report's page: `run_report.html`, rendered by `templates/run_report.html.j2` (autoescaped)
from the typed report (vaxsync.reports.run_report_contract) and the few things the page works out
from it, as small dataclasses: the summary cards, the stage boxes, the time bars, the backlog and
decision reasons explained, each suite's verdict and rows. Holds no personal data: the report has none.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from vaxsync.core.reasons import (
    BACKLOG_REASONS,
    DECISION_FILE_REASONS,
    DECISION_REJECTIONS,
    DEFERRAL_REASONS,
    QUARANTINE_REASONS,
    Reason,
)
from vaxsync.reports.run_report_contract import (
    STAGES,
    DeferredFile,
    ExpectationSummary,
    QuarantinedFile,
    ReviewDecisionCounts,
    RunReport,
    Stages,
    SuiteSummary,
    Timings,
)
from vaxsync.reports.templating import report_environment

TEMPLATE = "run_report.html.j2"
# Breakdowns shown inside the stage boxes; the backlog's are in their own section.
BREAKDOWNS_IN_STAGE_BOXES = frozenset({"files_quarantined_by_reason", "rows_rejected_by_reason"})
RESENT_FILE_COUNTS = ("shots_kept", "shots_added", "shots_retracted", "shots_replaced", "shots_restored")
LONGEST_BAR_PX = 300


# --- what the page shows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    value: str
    label: str
    css: str = ""  # ok, warn or bad


@dataclass(frozen=True)
class StageLine:
    label: str
    value: object
    is_breakdown: bool = False  # a count per reason, under the count it breaks down


@dataclass(frozen=True)
class StageBox:
    stage: str
    lines: list[StageLine]


@dataclass(frozen=True)
class TimeBar:
    stage: str
    seconds: float
    width_px: int


@dataclass(frozen=True)
class ExplainedCount:
    code: str
    meaning: str
    count: int
    still_open: int = 0  # backlog reasons: open rows of all nights


@dataclass(frozen=True)
class QuarantineLine:
    file: QuarantinedFile
    meaning: str


@dataclass(frozen=True)
class DeferredLine:
    file: DeferredFile
    meaning: str


@dataclass(frozen=True)
class ExpectationLine:
    expectation: ExpectationSummary
    css: str  # failed-critical, failed-warning or none
    verdict: str
    verdict_css: str
    rule: str  # the rule and, unless all rows, which rows
    notes: list[str]  # description, error, observed value


@dataclass(frozen=True)
class SuiteSection:
    suite: SuiteSummary
    verdict: str
    verdict_css: str
    met: int
    evaluated: int
    failed: list[ExpectationLine]
    passed: list[ExpectationLine]


@dataclass(frozen=True)
class DecisionSection:
    counts: ReviewDecisionCounts
    reasons: list[ExplainedCount]


@dataclass(frozen=True)
class RunReportPage:
    report: RunReport
    is_published: bool
    cards: list[Card]
    stage_boxes: list[StageBox]
    time_bars: list[TimeBar]
    backlog_reasons: list[ExplainedCount]
    quarantined: list[QuarantineLine]
    deferred: list[DeferredLine]
    decisions: DecisionSection | None  # None: no decision file tonight
    suites: list[SuiteSection]
    resent_file_counts: tuple[str, ...] = RESENT_FILE_COUNTS


def run_report_page(report: RunReport) -> RunReportPage:
    is_published = report["run"]["outcome"] == "published"
    return RunReportPage(
        report=report,
        is_published=is_published,
        cards=summary_cards(report, is_published=is_published),
        stage_boxes=stage_boxes(report["stages"]),
        time_bars=time_bars(report["timings"]),
        backlog_reasons=backlog_reasons(report["stages"]),
        quarantined=[
            QuarantineLine(item, _explain(QUARANTINE_REASONS, item["reason"]))
            for item in report["quarantined_files"]
        ],
        deferred=[
            DeferredLine(item, _explain(DEFERRAL_REASONS, item["reason"]))
            for item in report["deferred_files"]
        ],
        decisions=decision_section(report.get("review_decisions")),
        suites=[suite_section(suite) for suite in report["validation"]],
    )


def summary_cards(report: RunReport, *, is_published: bool) -> list[Card]:
    stages, conservation = report["stages"], report["conservation"]
    publish: Mapping[str, Any] = stages["publish"]
    critical = sum(suite["critical_failures"] for suite in report["validation"])
    warnings = sum(suite["warnings"] for suite in report["validation"])
    quarantined = stages["ingest"]["files_quarantined"]

    def placed(count_name: str) -> str:
        return f"{publish[count_name]:,}" if is_published else "—"

    is_proven = conservation["is_proven"]
    return [
        Card(f"{stages['ingest']['rows_read']:,}", "rows read"),
        Card(placed("rows_posted"), "posted"),
        Card(placed("rows_duplicate_merged"), "duplicates merged"),
        Card(placed("rows_backlog"), "to the backlog"),
        Card(f"{stages['ingest']['files_read']:,}", "files read"),
        Card(f"{quarantined:,}", "files quarantined", "warn" if quarantined else ""),
        Card(
            "proven" if is_proven else f"{conservation['violations']} violations",
            "nothing lost (conservation)",
            "ok" if is_proven else "bad",
        ),
        Card(f"{critical} / {warnings}", "validation: critical / warnings", "bad" if critical else ""),
    ]


def stage_boxes(stages: Stages) -> list[StageBox]:
    """One box per stage: its counts, and the breakdowns shown nowhere else on the page."""
    by_stage: Mapping[str, Any] = stages
    boxes = []
    for stage in STAGES:
        counts: Mapping[str, Any] = by_stage.get(stage, {})
        lines: list[StageLine] = []
        for name, value in counts.items():
            if not isinstance(value, dict):
                lines.append(StageLine(label(name), value))
            elif name in BREAKDOWNS_IN_STAGE_BOXES:
                lines.extend(StageLine(code, count, is_breakdown=True) for code, count in value.items())
        boxes.append(StageBox(stage, lines))
    return boxes


def time_bars(timings: Timings) -> list[TimeBar]:
    seconds = timings["stage_seconds"]
    longest = max(seconds.values(), default=0) or 1
    return [
        TimeBar(stage, value, max(1, round(LONGEST_BAR_PX * value / longest)))
        for stage, value in seconds.items()
    ]


def backlog_reasons(stages: Stages) -> list[ExplainedCount]:
    """Each reason new tonight or still open, most open rows first (then by code: the same page every time)."""
    publish: Mapping[str, Any] = stages["publish"]  # empty when the night did not publish
    tonight: Mapping[str, int] = publish.get("backlog_by_reason", {})
    still_open = stages["backlog_open"]["by_reason"]
    reasons = sorted(set(tonight) | set(still_open), key=lambda code: (-still_open.get(code, 0), code))
    return [
        ExplainedCount(code, _explain(BACKLOG_REASONS, code), tonight.get(code, 0), still_open.get(code, 0))
        for code in reasons
    ]


def decision_section(counts: ReviewDecisionCounts | None) -> DecisionSection | None:
    """Decision files and lines read tonight (vaxsync.marts.decisions.review_decision_counts)."""
    if not counts or not (counts["files_read"] or counts["files_quarantined"]):
        return None
    reasons = {**counts["files_quarantined_by_reason"], **counts["lines_rejected_by_reason"]}
    meanings = {**DECISION_FILE_REASONS, **DECISION_REJECTIONS}
    return DecisionSection(
        counts, [ExplainedCount(code, _explain(meanings, code), count) for code, count in reasons.items()]
    )


def suite_section(suite: SuiteSummary) -> SuiteSection:
    if suite["critical_failures"]:
        verdict, css = f"{suite['critical_failures']} critical failure(s)", "bad"
    elif suite["warnings"]:
        verdict, css = f"{suite['warnings']} warning(s)", "warn"
    else:
        verdict, css = "all passed", "ok"
    failed = [item for item in suite["expectations"] if not item["success"]]
    passed = [item for item in suite["expectations"] if item["success"]]
    statistics = suite["statistics"]
    return SuiteSection(
        suite=suite,
        verdict=verdict,
        verdict_css=css,
        met=statistics.get("successful_expectations", len(passed)),
        evaluated=statistics.get("evaluated_expectations", len(suite["expectations"])),
        failed=[expectation_line(item) for item in failed],
        passed=[expectation_line(item) for item in passed],
    )


def expectation_line(item: ExpectationSummary) -> ExpectationLine:
    if item["success"]:
        css, verdict, verdict_css = "", "pass", "ok"
    elif item["severity"] == "critical":
        css, verdict, verdict_css = "failed-critical", "FAIL", "bad"
    else:
        css, verdict, verdict_css = "failed-warning", "FAIL", "warn"
    rows = item["rows"] if item["rows"] != "all rows" else ""
    notes = [text for text in (item["description"], item["error"]) if text]
    if item["observed_value"] is not None:
        notes.append(f"observed: {number(item['observed_value'])}")
    return ExpectationLine(
        expectation=item,
        css=css,
        verdict=verdict,
        verdict_css=verdict_css,
        rule=" · ".join(part for part in (item["rule"], rows) if part),
        notes=notes,
    )


def _explain(reasons: Mapping[str, Reason], code: str | None) -> str:
    reason = reasons.get(code or "")
    return reason.english if reason else ""


# --- how values are written (the template's filters) --------------------------------------------------------


def label(name: str) -> str:
    return name.replace("_", " ")


def seconds(timestamp: str | None) -> str:
    """An ISO timestamp to the second ('2026-11-22 03:04:24'); '—' when there is none."""
    return timestamp.replace("T", " ")[:19] if timestamp else "—"


def short(value: str | None) -> str:
    """A hash's first 10 characters, as git shows commits (the JSON has the full hash)."""
    return value[:10] if value else "?"


def number(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


# --- rendering ----------------------------------------------------------------------------------------------


@functools.cache
def _template() -> jinja2.Template:
    """The run report's template, in an overlay of the reports' environment that adds its filters."""
    environment = report_environment().overlay()
    environment.filters.update(label=label, seconds=seconds, short=short, number=number)
    return environment.get_template(TEMPLATE)


def render_run_report_html(report: RunReport) -> str:
    """One self-contained page: inline CSS, the summary first, then a section per part of the night."""
    return _template().render(page=run_report_page(report))
