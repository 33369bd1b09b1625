"""Workbook shapes that LibreOffice Calc wrote (tests/fixtures/office_shapes, made by its make_office_shapes.py):
IDs Calc read back from scientific text, wide templates, a continuation sheet without a header. Every row
of the truth is staged, once, with its dose and date; a rounded ID is never a trusted one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from transforms.ingest import StagedExport, stage_export
from transforms.ingest.wide_doses import DOSE_ROW_OFFSET
from transforms.normalize.reference import load_reference
from transforms.normalize.shots import normalize_shots

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "office_shapes"
AS_OF = dt.date(2023, 1, 31)
FILES = sorted(path.name for path in FIXTURES.iterdir() if path.suffix in (".xlsx", ".ods", ".csv"))
FILES.remove("truth.csv")


@pytest.fixture(scope="module")
def staged() -> dict[str, StagedExport]:
    return {file: stage_export(FIXTURES, file) for file in FILES}


@pytest.fixture(scope="module")
def normalized(staged: dict[str, StagedExport]) -> pl.DataFrame:
    rows = pl.concat([export.rows for export in staged.values() if export.rows is not None])
    return normalize_shots(rows.lazy(), as_of=AS_OF, reference=load_reference()).collect()


def truth() -> pl.DataFrame:
    return pl.read_csv(FIXTURES / "truth.csv", infer_schema=False).select(
        "file",
        source_row=(
            pl.col("row").cast(pl.Int32) + (pl.col("dose").cast(pl.Int32) - 1) * DOSE_ROW_OFFSET
        ).cast(pl.Int32),
        raw_full_name="full_name",
        raw_dose="dose",
        vaccinated_date=pl.coalesce(
            pl.col("vaccinated_on").str.to_date("%d/%m/%Y", strict=False),
            pl.col("vaccinated_on").str.to_date("%Y-%m-%d", strict=False),
        ),
        id_kind=pl.when(pl.col("id_kind") != "").then("id_kind"),
    )


def test_the_fixtures_are_all_there() -> None:
    assert len(FILES) == 12  # 2 locales x 3 formats of rounded IDs, 2 formats of 3 workbooks


@pytest.mark.parametrize("file", FILES)
def test_every_dose_of_the_truth_is_staged_once_with_its_date(
    file: str, staged: dict[str, StagedExport], normalized: pl.DataFrame
) -> None:
    export = staged[file]
    assert export.ledger["status"] == "loaded", export.ledger["quarantine_detail"]
    expected = truth().filter(pl.col("file") == file.rsplit(".", 1)[0]).drop("file").sort("source_row")
    rows = normalized.filter(pl.col("source_file") == file).sort("source_row")

    assert rows.select(expected.drop("id_kind").columns).rows() == expected.drop("id_kind").rows()
    assert export.ledger["rows_read"] == expected.height
    expected_kinds = expected.select("source_row", expected_kind="id_kind")
    kinds = rows.select("source_row", "id_kind").join(expected_kinds, on="source_row")
    known = kinds.filter(pl.col("expected_kind").is_not_null())
    assert known["id_kind"].to_list() == known["expected_kind"].to_list()


@pytest.mark.parametrize("suffix", ["xlsx", "ods"])
def test_a_rounded_id_in_a_workbook_is_never_trusted(suffix: str, staged: dict[str, StagedExport]) -> None:
    # Calc read "7.90123E+11" as a number: the workbook holds 790123000000, a CCCD-shaped number.
    rows = staged[f"rounded_ids_en-US.{suffix}"].rows
    assert rows is not None
    assert rows.filter(pl.col("source_row") == 2)["raw_id_number"].item() == "790123000000"


@pytest.mark.parametrize("suffix", ["xlsx", "ods"])
def test_the_sheets_without_doses_are_listed_on_the_ledger(
    suffix: str, staged: dict[str, StagedExport]
) -> None:
    assert json.loads(str(staged[f"sheets.{suffix}"].ledger["skipped_sheets"])) == [
        {"sheet": "Hướng dẫn", "rows": 3},
        {"sheet": "Tổng hợp", "rows": 3},
    ]
