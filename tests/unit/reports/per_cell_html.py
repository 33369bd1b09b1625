"""The HTML report as the per-cell template rendered it before the table bodies were built in polars
(fixtures/province_report_per_cell.html.jinja, a Jinja macro per cell): the reference the fast page must
equal byte for byte."""

from __future__ import annotations

from pathlib import Path

import jinja2
import polars as pl

from vaxsync.core.decision_sheet import CANDIDATES_SHOWN, DECISION_COLUMNS
from vaxsync.core.reasons import BACKLOG_REASONS
from vaxsync.reports.province_report_model import (
    CANDIDATE_FIELD_LABELS,
    CANDIDATE_FIELDS,
    COLUMN_LABELS,
    ProvinceReport,
    candidate_column,
    sheet_name,
)
from vaxsync.reports.province_report_render import (
    DIFFERS_FILL,
    HTML_COLUMN_CLASSES,
    TITLE_EN,
    TITLE_VI,
    html_print_class,
    html_table_columns,
    province_title,
    reasons_display,
    resent_file_counts,
    summary_lines,
)

PER_CELL_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "fixtures"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html_per_cell(report: ProvinceReport) -> str:
    sections = [
        {
            "code": code,
            "sheet": sheet_name(code),
            "reason": BACKLOG_REASONS.get(code),
            "columns": (rows := report.reason_rows(code)).columns,
            "shown_columns": html_table_columns(rows.columns),
            "rows": rows.to_dicts(),
            "has_candidates": candidate_column(1, "id") in rows.columns,
        }
        for code in report.reason_codes()
    ]
    return PER_CELL_ENVIRONMENT.get_template("province_report_per_cell.html.jinja").render(
        report=report,
        title_vi=TITLE_VI,
        title_en=TITLE_EN,
        province_title=province_title(report),
        summary_lines=summary_lines(report),
        facilities=report.facilities,
        reasons=reasons_display(report),
        sections=sections,
        resolved=report.resolved,
        rejected_decisions=report.rejected_decisions,
        resent_shots=report.resent_shots if report.resent_shots is not None else pl.DataFrame(),
        resent_files=resent_file_counts(report),
        labels=COLUMN_LABELS,
        candidate_ranks=range(1, CANDIDATES_SHOWN + 1),
        candidate_fields=CANDIDATE_FIELDS,
        field_labels=CANDIDATE_FIELD_LABELS,
        decision_columns=DECISION_COLUMNS,
        differs_fill=DIFFERS_FILL,
        column_classes=HTML_COLUMN_CLASSES,
        column_print_class=html_print_class,
    )
