"""The HTML report's tables built in polars equal, byte for byte, what the per-cell template wrote
(per_cell_html.render_html_per_cell): on the reports of the tiny warehouse, and on the same reports with
their values replaced by drawn ones (markup characters, blanks, nulls, zeros, probabilities, lists of
differing fields)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from per_cell_html import PER_CELL_ENVIRONMENT, render_html_per_cell
from report_builders import RUN_ID, build_warehouse

from vaxsync.marts.decision_tokens import decision_secret
from vaxsync.marts.warehouse import connect
from vaxsync.reports import province_report_files
from vaxsync.reports.html_tables import frame_rows, percent_texts
from vaxsync.reports.province_report_files import write_province_reports
from vaxsync.reports.province_report_model import CANDIDATE_FIELDS, ProvinceReport
from vaxsync.reports.province_report_render import render_html
from vaxsync.reports.province_reports import ADMIN_UNITS_PATH, build_province_reports
from vaxsync.reports.templating import TEMPLATE_DIR

MARKUP_TEXT = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(list("&<>\"' a,;=\n0Ânđ—")), max_size=10),
)
DIFFERS = st.one_of(
    st.none(),
    st.lists(st.sampled_from([*CANDIDATE_FIELDS, "", "id,", " name"]), max_size=4).map(", ".join),
    MARKUP_TEXT,
)
PROBABILITY = st.one_of(st.none(), st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.1225, 0.1275, 0.0005]))
PER_CELL_TEMPLATE = Path(__file__).parent / "fixtures" / "province_report_per_cell.html.jinja"
PAGE_TEMPLATE = TEMPLATE_DIR / "province_report.html.jinja"
COUNT = st.one_of(st.none(), st.integers(0, 2), st.integers(-(2**31), 2**31 - 1))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[ProvinceReport]:
    warehouse = build_warehouse(tmp_path_factory.mktemp("html_tables"))
    with connect(warehouse.warehouse_path) as connection:
        return build_province_reports(
            connection,
            registry=pl.scan_parquet(warehouse.registry_path),
            admin_units=pl.scan_parquet(ADMIN_UNITS_PATH),
            as_of=warehouse.as_of,
            run_id=RUN_ID,
            secret=decision_secret(warehouse),
        )


def test_every_page_of_the_tiny_warehouse_equals_the_per_cell_template(reports: list[ProvinceReport]) -> None:
    assert reports
    for report in reports:
        assert render_html(report) == render_html_per_cell(report)


def drawn_column(data: st.DataObject, name: str, dtype: pl.DataType, height: int) -> pl.Series:
    if name == "reason_code":  # the sections: keep the report's reasons
        raise AssertionError("reason codes are kept")
    if name.endswith("_differs"):
        values = data.draw(st.lists(DIFFERS, min_size=height, max_size=height))
    elif name.endswith("_probability"):
        values = data.draw(st.lists(PROBABILITY, min_size=height, max_size=height))
    elif dtype == pl.String:
        values = data.draw(st.lists(MARKUP_TEXT, min_size=height, max_size=height))
    else:
        values = data.draw(
            st.lists(COUNT.map(lambda v: v if v is None else abs(v)), min_size=height, max_size=height)
        )
    return pl.Series(name, values, dtype=dtype, strict=False)


def with_drawn_values(
    data: st.DataObject, frame: pl.DataFrame, *, keep: tuple[str, ...] = ()
) -> pl.DataFrame:
    return frame.with_columns(
        drawn_column(data, name, dtype, frame.height)
        for name, dtype in frame.schema.items()
        if name not in keep
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_page_with_drawn_values_equals_the_per_cell_template(
    reports: list[ProvinceReport], data: st.DataObject
) -> None:
    report = data.draw(st.sampled_from([report for report in reports if report.rows.height]))
    height = data.draw(st.integers(1, 5))
    rows = report.rows.sample(height, with_replacement=True, seed=data.draw(st.integers(0, 9)))
    drawn = dataclasses.replace(
        report,
        rows=with_drawn_values(data, rows, keep=("reason_code",)),
        resolved=with_drawn_values(data, report.resolved),
        facilities=with_drawn_values(data, report.facilities),
        reasons=with_drawn_values(data, report.reasons, keep=("reason_code",)),
    )
    assert render_html(drawn) == render_html_per_cell(drawn)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(MARKUP_TEXT, min_size=1, max_size=4),
    counts=st.lists(COUNT, min_size=4, max_size=4),
    flags=st.lists(st.one_of(st.none(), st.booleans()), min_size=4, max_size=4),
    days=st.lists(
        st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1))), min_size=4, max_size=4
    ),
)
def test_a_summary_table_writes_each_type_as_the_template_did(
    texts: list[str | None], counts: list[int | None], flags: list[bool | None], days: list[dt.date | None]
) -> None:
    height = len(texts)
    frame = pl.DataFrame(
        {
            "text": pl.Series(texts, dtype=pl.String),
            "count": pl.Series(counts[:height], dtype=pl.Int64),
            "small": pl.Series(counts[:height], dtype=pl.Int64).clip(0, 2).cast(pl.UInt32),
            "flag": pl.Series(flags[:height], dtype=pl.Boolean),
            "day": pl.Series(days[:height], dtype=pl.Date),
            "nothing": pl.Series([None] * height, dtype=pl.Null),
        }
    )
    per_cell = PER_CELL_ENVIRONMENT.from_string(macros(PER_CELL_TEMPLATE) + "{{ frame_table(frame) }}")
    fast = PER_CELL_ENVIRONMENT.from_string(macros(PAGE_TEMPLATE) + "{{ frame_table(frame) }}")
    assert fast.render(frame=frame, labels={}, frame_rows=frame_rows) == per_cell.render(
        frame=frame, labels={}
    )


def macros(template: Path) -> str:
    """The template's macros (its text before the page itself)."""
    text = template.read_text(encoding="utf-8")
    return text[text.index("{% macro") : text.index("<html")]


def test_a_table_with_a_column_the_page_cannot_write_fails_loudly() -> None:
    with pytest.raises(TypeError, match="no text for"):
        frame_rows(pl.DataFrame({"share": [0.5]}))


def test_a_helper_process_renders_the_same_files_as_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = build_warehouse(tmp_path)
    with_helper = alone.model_copy(update={"reports_dir": tmp_path / "reports_with_helper"})
    written_alone = write_province_reports(alone, run_id=RUN_ID)
    monkeypatch.setattr(province_report_files, "RENDER_HELPER_MIN_ROWS", 0)
    written_with_helper = write_province_reports(with_helper, run_id=RUN_ID)
    assert [path.relative_to(alone.reports_dir) for path in written_alone] == [
        path.relative_to(with_helper.reports_dir) for path in written_with_helper
    ]
    for one, other in zip(written_alone, written_with_helper, strict=True):
        assert one.read_bytes() == other.read_bytes()
        assert other.stat().st_mode & 0o077 == 0


def python_percent(probability: float | None) -> str:
    return "" if probability is None else "%.1f %%" % (probability * 100)  # what the per-cell template wrote


def tenth_ties_and_neighbours() -> list[float]:
    """Probabilities whose percent is a tie between two tenths or one bit either side of it, and exact
    binary fractions (whose ties are exact)."""
    ties = [(2 * k + 1) / 2000 for k in range(1000)]
    return [
        *[near for tie in ties for near in (math.nextafter(tie, 0), tie, math.nextafter(tie, 1))],
        *[k / 2**bits for bits in range(1, 12) for k in range(2**bits + 1)],
        *[k / 10_000 for k in range(10_001)],
        5e-324,
    ]


def test_percent_texts_round_as_python_does_at_every_tie() -> None:
    values = tenth_ties_and_neighbours()
    shown = percent_texts(pl.Series(values, dtype=pl.Float64)).to_list()
    assert shown == [python_percent(value) for value in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=1, max_size=50))
def test_percent_texts_round_as_python_does(values: list[float | None]) -> None:
    shown = percent_texts(pl.Series(values, dtype=pl.Float64)).to_list()
    assert shown == [python_percent(value) for value in values]


def test_the_rendering_helper_imports_no_settings_warehouse_or_arrow() -> None:
    """What the helper process imports is its start-up time (vaxsync.core.light_process)."""
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vaxsync.reports.province_report_render; print(' '.join(sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    heavy = {"pydantic", "pydantic_settings", "duckdb", "pyarrow", "vaxsync.core.settings"}
    assert heavy.isdisjoint(imported)
