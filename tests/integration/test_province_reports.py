"""Province mismatch reports from a real night on generated data: every open backlog row is in exactly
its province's report, and nowhere is an ID or a phone unmasked."""

from __future__ import annotations

import datetime as dt
import importlib.util
import zipfile
from collections.abc import Callable
from pathlib import Path

import fastexcel
import polars as pl
import pytest

from synth import SynthConfig, generate
from vaxsync.core.decision_sheet import CONTROL_SHEETS, ROW_KEY_COLUMN, UNKNOWN_PROVINCE, header_code
from vaxsync.core.settings import Settings
from vaxsync.marts.decision_tokens import decision_secret
from vaxsync.marts.warehouse import connect
from vaxsync.orchestration.pipeline import run_nightly
from vaxsync.reports import province_report_files
from vaxsync.reports.province_report_files import write_province_reports
from vaxsync.reports.province_report_model import ProvinceReport, province_folder
from vaxsync.reports.province_report_render import render_html
from vaxsync.reports.province_reports import ADMIN_UNITS_PATH, build_province_reports

AS_OF = dt.date(2023, 1, 31)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[Path]]:
    folder = tmp_path_factory.mktemp("province_reports_night")
    generate(folder / "synth", SynthConfig(citizens=4_000, shots=1_500, seed=5, snapshot_date=AS_OF))
    settings = Settings(
        registry_path=folder / "synth" / "registry.parquet",
        landing_dir=folder / "synth" / "landing",
        warehouse_path=folder / "warehouse.duckdb",
        reports_dir=folder / "reports",
        decisions_dir=folder / "decisions",
        as_of=AS_OF,
    )
    run_nightly(settings)
    with connect(settings.warehouse_path) as connection:
        run_id = connection.sql("select max(run_id) from pipeline_runs").fetchall()[0][0]
    return settings, write_province_reports(settings, run_id=run_id)


def open_row_keys_by_province(settings: Settings) -> dict[str, set[str]]:
    with connect(settings.warehouse_path) as connection:
        rows = connection.sql(
            f"""select coalesce(province_code, '{UNKNOWN_PROVINCE}') as province_code,
                       file_hash || ':' || source_row as row_key
                from open_backlog"""
        ).pl()
    return {
        str(key[0]): set(part["row_key"].to_list())
        for key, part in rows.partition_by("province_code", as_dict=True).items()
    }


def workbook_row_keys(path: Path) -> list[str]:
    reader = fastexcel.read_excel(path)
    return [
        key
        for name in reader.sheet_names
        if name not in CONTROL_SHEETS
        for key in reader.load_sheet(name, dtypes="string").to_polars().rename(header_code)[ROW_KEY_COLUMN]
    ]


def test_each_open_row_is_in_its_own_provinces_report_only(night: tuple[Settings, list[Path]]) -> None:
    settings, written = night
    expected = open_row_keys_by_province(settings)
    assert len(expected) > 3 and sum(map(len, expected.values())) > 20  # the night has a real backlog
    workbooks = {path.parent.name: path for path in written if path.suffix == ".xlsx"}
    assert set(workbooks) == {province_folder(province) for province in expected}
    for province, keys in expected.items():
        path = workbooks[province_folder(province)]
        assert sorted(workbook_row_keys(path)) == sorted(keys)
        page = path.with_suffix(".html").read_text(encoding="utf-8")
        other_keys = set().union(*(other for code, other in expected.items() if code != province))
        assert all(key in page for key in keys)
        assert not [key for key in other_keys if key in page]


def test_no_registry_id_or_phone_appears_unmasked(night: tuple[Settings, list[Path]]) -> None:
    settings, written = night
    registry = pl.read_parquet(settings.registry_path, columns=["citizen_id", "phone"])
    secrets = set(registry["citizen_id"].drop_nulls()) | set(registry["phone"].drop_nulls())
    for path in written:
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                text = archive.read("xl/sharedStrings.xml").decode("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        # Every 9+ digit run in a report would be a leak; look them up in the registry's values.
        digit_runs = set(pl.Series([text]).str.extract_all(r"\d{9,}").explode().drop_nulls())
        assert not digit_runs & secrets


def per_cell_renderer() -> Callable[[ProvinceReport], str]:
    """The per-cell template's renderer (tests/unit/reports/per_cell_html.py), the pages' reference."""
    folder = Path(__file__).parents[1] / "unit" / "reports"
    spec = importlib.util.spec_from_file_location("per_cell_html", folder / "per_cell_html.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    render: Callable[[ProvinceReport], str] = module.render_html_per_cell
    return render


def test_pages_equal_the_per_cell_templates_and_a_helper_process_writes_the_same_files(
    night: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, written = night
    with connect(settings.warehouse_path) as connection:
        run_id = connection.sql("select max(run_id) from pipeline_runs").fetchall()[0][0]
        reports = build_province_reports(
            connection,
            registry=pl.scan_parquet(settings.registry_path),
            admin_units=pl.scan_parquet(ADMIN_UNITS_PATH),
            as_of=settings.as_of,
            run_id=run_id,
            secret=decision_secret(settings),
        )
    render_per_cell = per_cell_renderer()
    assert len(reports) > 5
    for report in reports:
        assert render_html(report) == render_per_cell(report)
    # The same night rendered again into a fresh folder, a second process rendering half of it.
    again = settings.model_copy(update={"reports_dir": settings.reports_dir.parent / "reports_again"})
    monkeypatch.setattr(province_report_files, "RENDER_HELPER_MIN_ROWS", 0)
    written_again = write_province_reports(again, run_id=run_id)
    assert [path.relative_to(again.reports_dir) for path in written_again] == [
        path.relative_to(settings.reports_dir) for path in written
    ]
    for first, second in zip(written, written_again, strict=True):
        assert first.read_bytes() == second.read_bytes()
