"""Whole nights on workbooks other people made: a wide template and a workbook with a continuation sheet
without a header, for registry citizens. Every dose posts (the later doses and the continuation rows too),
each file's rows are conserved, the notes sheet is on the ledger, and the same night twice changes nothing.
The workbooks are hand-made with openpyxl, as facilities make them (the LibreOffice-written ones are
tests/fixtures/office_shapes, staged in tests/unit/ingest/test_ingest_office_shapes.py)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from synth import SynthConfig, generate
from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import conservation_violations
from vaxsync.orchestration.pipeline import run_nightly

pytestmark = pytest.mark.integration

AS_OF = dt.date(2023, 1, 31)
SEX = {"M": "Nam", "F": "Nữ"}
WIDE_HEADER = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Vắc xin mũi 1", "Ngày tiêm mũi 1",
               "Vắc xin mũi 2", "Ngày tiêm mũi 2"]  # fmt: skip
LONG_HEADER = [
    "STT",
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Số CCCD",
    "Tên vắc xin",
    "Mũi tiêm",
    "Ngày tiêm",
]


@pytest.fixture(scope="module")
def citizens(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    out = tmp_path_factory.mktemp("synth")
    generate(out, SynthConfig(citizens=300, shots=20, seed=29, snapshot_date=AS_OF))
    registry = pl.read_parquet(out / "registry.parquet")
    adults = registry.filter(
        pl.col("date_of_death").is_null() & (pl.col("date_of_birth") < dt.date(2000, 1, 1))
    ).unique("full_name", keep="none")
    return out / "registry.parquet", adults.sort("citizen_id").head(12)


def _cells(citizen: dict[str, object]) -> list[object]:
    born = citizen["date_of_birth"]
    assert isinstance(born, dt.date)
    return [citizen["full_name"], born.strftime("%d/%m/%Y"), SEX[str(citizen["sex"])], citizen["citizen_id"]]


def _land(landing: Path, people: pl.DataFrame) -> None:
    landing.mkdir(parents=True)
    wide = openpyxl.Workbook()
    sheet = wide.active
    assert sheet is not None
    sheet.append(WIDE_HEADER)
    for number, citizen in enumerate(people.head(6).iter_rows(named=True), start=1):
        sheet.append(
            [
                number,
                *_cells(citizen),
                "AstraZeneca",
                f"{number:02d}/08/2021",
                "Pfizer",
                f"{number:02d}/10/2021",
            ]
        )
    wide.save(landing / "wide.xlsx")

    sheets = openpyxl.Workbook()
    notes = sheets.active
    assert notes is not None
    notes.title = "Hướng dẫn"
    notes.append(["Mỗi mũi tiêm một dòng"])
    first, continuation = sheets.create_sheet("DS tiêm"), sheets.create_sheet("Trang 2")
    first.append(LONG_HEADER)
    for number, citizen in enumerate(people.tail(6).iter_rows(named=True), start=1):
        (first if number <= 3 else continuation).append(
            [number, *_cells(citizen), "Pfizer", "1", f"{number:02d}/09/2021"]
        )
    sheets.save(landing / "sheets.xlsx")


def _settings(registry: Path, night: Path) -> Settings:
    return Settings(
        registry_path=registry,
        landing_dir=night / "landing",
        warehouse_path=night / "warehouse.duckdb",
        work_dir=night / "work",
        reports_dir=night / "reports",
        decisions_dir=night / "decisions",
        as_of=AS_OF,
        ingest_processes=1,
    )


def test_wide_and_continuation_sheets_post_every_dose(
    citizens: tuple[Path, pl.DataFrame], tmp_path: Path
) -> None:
    registry, people = citizens
    _land(tmp_path / "landing", people)
    settings = _settings(registry, tmp_path)

    run_nightly(settings)

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        ledger = connection.sql(
            "select source_file, status, rows_read, rows_posted + rows_duplicate + rows_backlog, skipped_sheets"
            " from ingest_ledger order by source_file"
        ).fetchall()
        posted = connection.sql("select citizen_id, vaccinated_on from synced_shots").pl()
        assert conservation_violations(connection) == []
    assert [row[:4] for row in ledger] == [("sheets.xlsx", "loaded", 6, 6), ("wide.xlsx", "loaded", 12, 12)]
    assert json.loads(ledger[0][4]) == [{"sheet": "Hướng dẫn", "rows": 1}]
    expected = {
        *((citizen, dt.date(2021, month, number)) for number, citizen in enumerate(people["citizen_id"][:6], 1)
          for month in (8, 10)),
        *((citizen, dt.date(2021, 9, number)) for number, citizen in enumerate(people["citizen_id"][6:], 1)),
    }  # fmt: skip
    assert set(posted.iter_rows()) == expected

    run_nightly(settings)  # the same night again

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        again = connection.sql("select citizen_id, vaccinated_on from synced_shots").pl()
        assert connection.sql("select count(*) from ingest_ledger").fetchall() == [(2,)]
    assert again.sort(again.columns).equals(posted.sort(posted.columns))
