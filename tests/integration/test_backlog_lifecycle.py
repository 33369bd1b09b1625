"""The backlog over several nights: re-matched against a newer registry, and decided on by reviewers.

Night 1 runs on a registry snapshot missing some citizens, so their shots wait in the backlog.
Night 2 brings the complete snapshot and a reviewer's decision file, and no new export.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import fastexcel
import polars as pl
import pytest
import xlsxwriter

from vaxsync.backlog import REMATCHABLE_REASONS
from vaxsync.pipeline import run_nightly
from vaxsync.province_reports import (
    CORRECTED_ID_COLUMN,
    DECISION_COLUMN,
    INSTRUCTIONS_SHEET,
    REVIEWER_KEY,
    ROW_KEY_COLUMN,
    header_code,
    province_folder,
)
from vaxsync.settings import Settings
from vaxsync.synth import SynthConfig, generate
from vaxsync.warehouse import conservation_violations

NIGHT_1, NIGHT_2 = dt.date(2023, 1, 31), dt.date(2023, 2, 1)
ABSENT_CITIZENS = 40


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("backlog")
    generate(root / "synth", SynthConfig(citizens=4_000, shots=1_500, seed=5, snapshot_date=NIGHT_1))
    truth = pl.read_parquet(root / "synth/truth.parquet")
    registry = pl.read_parquet(root / "synth/registry.parquet")
    absent = (
        truth.filter(pl.col("expected") == "post")["true_citizen_id"].unique().sort().head(ABSENT_CITIZENS)
    )
    registry.filter(~pl.col("citizen_id").is_in(absent.implode())).write_parquet(
        root / "registry_night1.parquet"
    )

    def settings(registry_path: Path, as_of: dt.date) -> Settings:
        return Settings(
            registry_path=registry_path,
            landing_dir=root / "synth/landing",
            warehouse_path=root / "warehouse.duckdb",
            reports_dir=root / "reports",
            decisions_dir=root / "decisions",
            as_of=as_of,
        )

    run_nightly(settings(root / "registry_night1.parquet", NIGHT_1))
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        waiting = connection.sql("select * from open_backlog").pl()
    waiting_rows = waiting.join(
        truth.select("source_file", "source_row", "true_citizen_id"), on=["source_file", "source_row"]
    ).filter(
        pl.col("true_citizen_id").is_in(absent.implode()) & pl.col("reason_code").is_in(REMATCHABLE_REASONS)
    )
    decided = _write_decisions(root, waiting_rows, waiting)
    night_2 = settings(root / "synth/registry.parquet", NIGHT_2)
    first_summary = run_nightly(night_2)
    second_summary = run_nightly(night_2)  # the same night again: nothing changes
    return {
        "root": root,
        "waiting_rows": waiting_rows,
        "decided": decided,
        "summaries": (first_summary, second_summary),
    }


def _write_decisions(
    root: Path, waiting_rows: pl.DataFrame, waiting: pl.DataFrame
) -> dict[str, dict[str, object]]:
    """A reviewer fills the province's XLSX report as staff would: corrected, reject, malformed, wrong province.

    The filled workbook keeps the report's sheets and columns; xlsxwriter stands in for Excel.
    """
    province = waiting_rows["province_code"][0]
    own = waiting_rows.filter(pl.col("province_code") == province).sort("file_hash", "source_row")
    other = waiting.filter(pl.col("province_code") != province).sort("file_hash", "source_row")
    assert own.height >= 3 and other.height >= 1, "the generated data should give this test its cases"
    cases = {
        "corrected": (own.row(0, named=True), "corrected", own["true_citizen_id"][0]),
        "reject": (own.row(1, named=True), "reject", None),
        "malformed": (own.row(2, named=True), "corrected", "12345"),
        "wrong_province": (other.row(0, named=True), "accept 1", None),
    }
    filled = pl.DataFrame(
        {
            ROW_KEY_COLUMN: [f"{row['file_hash']}:{row['source_row']}" for row, _, _ in cases.values()],
            "filled_decision": [decision for _, decision, _ in cases.values()],
            "filled_corrected_id": [corrected for _, _, corrected in cases.values()],
        }
    )
    report = (
        root / f"reports/{NIGHT_1}/provinces/{province_folder(province)}/mismatch_{province}_{NIGHT_1}.xlsx"
    )
    reader = fastexcel.read_excel(report)
    decisions = root / "decisions"
    decisions.mkdir()
    with xlsxwriter.Workbook(decisions / f"mismatch_{province}_{NIGHT_1}_reviewed.xlsx") as workbook:
        for sheet in reader.sheet_names:
            # Headers are "Vietnamese label\n(code)"; a reviewer's tool may write the codes back alone.
            frame = reader.load_sheet(sheet, dtypes="string").to_polars().rename(header_code)
            if sheet == INSTRUCTIONS_SHEET:
                frame = frame.with_columns(
                    pl.when(pl.col("key") == REVIEWER_KEY)
                    .then(pl.lit("Trần Thị B"))
                    .otherwise("value")
                    .alias("value")
                )
            elif DECISION_COLUMN in frame.columns:
                # The other province's row is pasted once, into the sheet holding the first case.
                holds_first = frame[ROW_KEY_COLUMN].is_in(filled[ROW_KEY_COLUMN].head(1).implode()).any()
                pasted = filled.tail(1) if holds_first else filled.clear()
                frame = _fill(frame, filled, pasted)
            frame.write_excel(workbook, worksheet=sheet)
    return {
        name: {"file_hash": row["file_hash"], "source_row": row["source_row"]}
        for name, (row, _, _) in cases.items()
    }


def _fill(sheet: pl.DataFrame, filled: pl.DataFrame, pasted: pl.DataFrame) -> pl.DataFrame:
    """Write the decisions on the sheet's own lines, and paste in the lines of rows it does not hold."""
    sheet = pl.concat([sheet, pasted.select(ROW_KEY_COLUMN)], how="diagonal")
    return (
        sheet.join(filled, on=ROW_KEY_COLUMN, how="left")
        .with_columns(
            pl.coalesce("filled_decision", DECISION_COLUMN).alias(DECISION_COLUMN),
            pl.coalesce("filled_corrected_id", CORRECTED_ID_COLUMN).alias(CORRECTED_ID_COLUMN),
        )
        .drop("filled_decision", "filled_corrected_id")
    )


def query(nights: dict[str, object], sql: str) -> pl.DataFrame:
    root = nights["root"]
    assert isinstance(root, Path)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.sql(sql).pl()


def backlog_row(nights: dict[str, object], case: str) -> dict[str, object]:
    decided = nights["decided"]
    assert isinstance(decided, dict)
    key = decided[case]
    return query(
        nights,
        f"select * from unposted_backlog where file_hash = '{key['file_hash']}' and source_row = {key['source_row']}",
    ).row(0, named=True)


def test_rows_of_citizens_registered_later_post_without_a_resent_file(nights: dict[str, object]) -> None:
    waiting_rows = nights["waiting_rows"]
    assert isinstance(waiting_rows, pl.DataFrame)
    resolved = query(nights, "select resolution, count(*) as rows from unposted_backlog group by all")
    counts = dict(resolved.iter_rows())
    # All but the reviewer's decisions (one corrected, one rejected) resolve by the re-match itself,
    # give or take a few the linker still sends to review.
    assert counts.get("rematched", 0) >= waiting_rows.height - 2 - 3
    assert counts.get("corrected_id") == 1
    posted = query(
        nights,
        """select s.citizen_id, b.file_hash, b.source_row from unposted_backlog b
           join synced_shots s on s.shot_id = b.resolved_shot_id""",
    )
    truth = waiting_rows.select("file_hash", "source_row", "true_citizen_id")
    checked = posted.join(truth, on=["file_hash", "source_row"])
    assert checked.height >= waiting_rows.height - 1 - 3
    assert (checked["citizen_id"] == checked["true_citizen_id"]).all(), (
        "a re-matched row posted on the wrong citizen"
    )


def test_decisions_are_applied_or_rejected_and_audited(nights: dict[str, object]) -> None:
    decided = nights["decided"]
    assert isinstance(decided, dict)
    audit = query(nights, "select * from review_decisions")
    outcome = {
        case: audit.filter(
            (pl.col("file_hash") == key["file_hash"]) & (pl.col("source_row") == key["source_row"])
        )
        for case, key in decided.items()
    }
    assert {case: rows["rejection_reason"].to_list() for case, rows in outcome.items()} == {
        "corrected": [None],
        "reject": [None],
        "malformed": ["malformed_id"],
        "wrong_province": ["wrong_province"],
    }
    assert audit["reviewer"].unique().to_list() == ["Trần Thị B"]
    corrected = backlog_row(nights, "corrected")
    assert corrected["resolution"] == "corrected_id"
    assert outcome["corrected"]["after_shot_id"].item() == corrected["resolved_shot_id"]
    method = query(
        nights, f"select match_method from synced_shots where shot_id = '{corrected['resolved_shot_id']}'"
    )
    assert method.item() == "review_decision"
    # The reviewer's rejection holds even though the complete registry would now match the row.
    rejected = backlog_row(nights, "reject")
    assert (rejected["resolved_run_id"], rejected["reason_code"]) == (None, "reviewer_rejected")
    # The accepted link was labelled data for the night's model fit.
    fitted = query(
        nights, "select json_extract(model_json, '$.fitted.accepted_pairs')::int as n from match_models"
    )
    assert fitted["n"].max() == 1
    # A malformed decision changes nothing by itself; the nightly re-match still resolves the row.
    assert backlog_row(nights, "malformed")["resolution"] == "rematched"


def test_nothing_is_lost_and_running_the_night_again_changes_nothing(nights: dict[str, object]) -> None:
    root = nights["root"]
    assert isinstance(root, Path)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        assert conservation_violations(connection) == []
    first, second = nights["summaries"]  # type: ignore[misc]
    assert first["rows_resolved_from_backlog"] > 0
    assert second["rows_resolved_from_backlog"] == 0 and second["rows_in"] == 0
    assert query(nights, "select count(*) from review_decision_files").item() == 1
    assert query(nights, "select count(*) from review_decisions").item() == 4
