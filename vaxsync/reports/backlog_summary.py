"""Reports for people: the night's backlog summary by province and reason, and the run report
(vaxsync.reports.run_report: counts, timings, conservation and validation, for the engineer on call).

Report files hold no full IDs, names or phones, and are written owner-only (0600).
"""

from __future__ import annotations

import re
import string

import duckdb
import polars as pl

from vaxsync.core.reasons import BACKLOG_REASONS, DETAIL_TERMS, DETAIL_TEXTS, DetailText
from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import connected
from vaxsync.reports.province_codes import PRE_2025_SYSTEM

DETAIL_SEPARATOR = "\n"  # the Vietnamese sentence, then the English one on the next line


def backlog_summary(settings: Settings, connection: duckdb.DuckDBPyConnection | None = None) -> pl.DataFrame:
    """Open backlog rows by province and reason, with the reason explained in English and Vietnamese.

    Reasons with as many rows in a province come in the order of their codes: DuckDB returns groups in
    any order, and two runs of the same night write the same file."""
    with connected(settings.warehouse_path, connection, settings=settings) as connection:
        summary = connection.sql(
            """
            select coalesce(province_code, '??') as province_code, reason_code, count(*) as count_rows,
                   count(distinct source_file) as count_files, min(first_seen_on) as oldest_seen_on
            from unposted_backlog where superseded_by_file_hash is null
            group by all order by province_code, count_rows desc, reason_code
            """
        ).pl()
    reasons = pl.DataFrame(
        {
            "reason_code": list(BACKLOG_REASONS),
            "reason_vietnamese": [reason.vietnamese for reason in BACKLOG_REASONS.values()],
            "reason_english": [reason.english for reason in BACKLOG_REASONS.values()],
        },
        schema={"reason_code": pl.String, "reason_vietnamese": pl.String, "reason_english": pl.String},
    )
    # The backlog's province codes are of the 63-province units (before 2025); the 2025 codes reuse numbers.
    system = pl.when(pl.col("province_code").str.contains(r"^\d+$")).then(pl.lit(PRE_2025_SYSTEM[1]))
    return (
        summary.join(reasons, on="reason_code", how="left")
        .with_columns(system.alias("province_code_system"))
        .select("province_code", "province_code_system", pl.exclude("province_code", "province_code_system"))
    )


# --- reason details as sentences ---------------------------------------------------------------------------


def _group_expression(detail: pl.Expr, pattern: str, group: str, *, language: int) -> pl.Expr:
    value = detail.str.extract(pattern, group_index=_group_index(pattern, group))
    if group.startswith("term"):
        terms = {word: texts[language] for word, texts in DETAIL_TERMS.items()}
        translated = value.str.split(", ").list.eval(
            pl.element().replace_strict(terms, default=pl.element(), return_dtype=pl.String)
        )
        value = translated.list.join(", ")
    elif group.startswith("percent"):
        probability = value.cast(pl.Float64, strict=False)
        shown = (probability * 100).round(1).cast(pl.String)
        shown = shown.str.replace(".", ",", literal=True) if language == 1 else shown
        value = (
            pl.when(probability < 0.001)
            .then(pl.lit("< 0,1%" if language == 1 else "< 0.1%"))
            .otherwise(shown + "%")
        )
    return value.fill_null("")


def _group_index(pattern: str, group: str) -> int:
    return re.compile(pattern).groupindex[group]


def _sentence(detail: pl.Expr, text: DetailText, *, language: int) -> pl.Expr:
    """The text's template filled with the detail's groups (language 0: English, 1: Vietnamese)."""
    template = text.english if language == 0 else text.vietnamese
    parts: list[pl.Expr] = []
    for literal, group, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if group:
            parts.append(_group_expression(detail, text.pattern, group, language=language))
    return pl.concat_str(parts) if parts else pl.lit("")


def bilingual_detail(reason_code: pl.Expr, detail: pl.Expr) -> pl.Expr:
    """The pipeline's reason detail as a Vietnamese sentence, then the English one (DETAIL_SEPARATOR);
    a detail no DETAIL_TEXTS pattern reads is shown as it is, and a blank one stays null."""
    shown: pl.Expr = detail
    for text in reversed(DETAIL_TEXTS):
        applies = detail.str.contains(text.pattern)
        if text.reasons:
            applies = applies & reason_code.is_in(list(text.reasons))
        sentences = pl.concat_str(
            _sentence(detail, text, language=1), pl.lit(DETAIL_SEPARATOR), _sentence(detail, text, language=0)
        )
        shown = pl.when(applies.fill_null(False)).then(sentences).otherwise(shown)
    return pl.when(detail.str.strip_chars() != "").then(shown)
