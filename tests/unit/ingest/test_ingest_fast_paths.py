"""The mojibake fast path gives ftfy's answers, and batches stage like single files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ftfy
import polars as pl
from ingest_export_files import (
    VN_HEADER,
    as_utf8_misread_as_cp1252,
    export_rows,
    render_delimited,
    to_tcvn3_surface,
    write,
)

from transforms.ingest.text_decoding import repair_utf8_as_cp1252
from vaxsync.core.contracts import REGISTRY_SCHEMA

TABLE = [VN_HEADER, *export_rows()]


def test_text_with_vietnamese_letters_is_never_repaired_as_mojibake() -> None:
    mixed = (
        render_delimited(TABLE) + "\n" + as_utf8_misread_as_cp1252("Nguyễn Văn Nam").decode("utf-8") + "\n"
    )

    plan = ftfy.fix_encoding_and_explain(mixed).explanation or []

    assert not [argument for step, argument in plan if step == "encode"]  # ftfy agrees: nothing to undo
    assert repair_utf8_as_cp1252(mixed) is None


def test_whole_text_mojibake_is_still_repaired() -> None:
    misread = as_utf8_misread_as_cp1252(render_delimited(TABLE)).decode("utf-8")

    assert repair_utf8_as_cp1252(misread) == render_delimited(TABLE)


def test_a_batch_stages_the_files_as_one_by_one(tmp_path: Path) -> None:
    from vaxsync.core.settings import Settings
    from vaxsync.core.workdir import RunWorkDir, read_json
    from vaxsync.orchestration.pipeline import (
        discover_new_exports,
        ingest_batches,
        ingest_export,
        ingest_exports,
    )

    landing = tmp_path / "landing"
    write(landing, "a.csv", render_delimited(TABLE))
    write(landing, "b.csv", to_tcvn3_surface(render_delimited(TABLE)).encode("latin-1"))
    write(landing, "c.xlsx", b"not a workbook")
    registry = tmp_path / "registry.parquet"
    one_citizen = {"citizen_id": "001280000001", "full_name": "Nguyễn Văn A", "birth_year": 1980, "sex": "M"}
    pl.DataFrame([one_citizen], schema=REGISTRY_SCHEMA).write_parquet(
        registry
    )  # ingest only needs a valid one
    outputs = []
    for run, ingest in (("batch", "batch"), ("single", "single")):
        settings = Settings(
            registry_path=registry,
            landing_dir=landing,
            warehouse_path=tmp_path / run / "warehouse.duckdb",
            reports_dir=tmp_path / run / "reports",
            as_of=dt.date(2023, 1, 31),
        )
        files = discover_new_exports(settings)
        results = (
            [result for batch in ingest_batches(files, 2) for result in ingest_exports(settings, batch)]
            if ingest == "batch"
            else [ingest_export(settings, source_file) for source_file in files]
        )
        work = RunWorkDir(settings)
        ledgers = [read_json(work.ledger_file(result["file_hash"])) for result in results]
        staged_files = work.staged_files()
        staged = pl.read_parquet(staged_files).sort("file_hash", "source_row")
        outputs.append(
            (
                [{k: v for k, v in ledger.items() if k != "ingest_seconds"} for ledger in ledgers],
                staged,
                len(staged_files),
            )
        )

    (batch_ledgers, batch_rows, batch_files), (single_ledgers, single_rows, single_files) = outputs
    assert batch_ledgers == single_ledgers
    assert [ledger["status"] for ledger in batch_ledgers] == ["loaded", "loaded", "quarantined"]
    assert batch_rows.equals(single_rows)
    assert batch_rows["file_hash"].unique().sort().to_list() == sorted(
        ledger["file_hash"] for ledger in batch_ledgers if ledger["status"] == "loaded"
    )
    assert (batch_files, single_files) == (1, 2)  # one staged file per batch with rows: [a, b], [c]
    assert ingest_batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]


def test_workbooks_are_batched_last_so_few_processes_start_a_workbook_reader() -> None:
    from vaxsync.orchestration.pipeline import ingest_batches

    landed = ["a/1.xlsx", "a/2.csv", "b/3.XLSX", "b/4.txt", "c/5.ods", "c/6.csv"]

    assert ingest_batches(landed, 2) == [
        ["a/2.csv", "b/4.txt"],
        ["c/6.csv", "a/1.xlsx"],
        ["b/3.XLSX", "c/5.ods"],
    ]
