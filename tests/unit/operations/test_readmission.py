"""Files quarantined by validation come back when the as-of or the rules that judged them change, or
when an operator asks (vaxsync readmit); the ledger keeps the history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from operations_builders import assert_one_line_error, invoke, write_landing, write_registry

from vaxsync.core.settings import Settings
from vaxsync.marts.readmission import (
    archive_readmitted_ledger_rows,
    readmittable_files,
    record_quarantine_context,
    validation_rules_version,
)
from vaxsync.marts.warehouse import connect

JUDGED_ON = dt.date(2021, 6, 1)
RULES = validation_rules_version(dt.date(2021, 3, 8))
EXPORT = "01_Ha_Noi/01001001/DS_tiem.csv"


def _ledger_row(connection: duckdb.DuckDBPyConnection, source_file: str, file_hash: str, reason: str) -> None:
    connection.execute(
        """insert into ingest_ledger by name select $source_file as source_file, $file_hash as file_hash,
           'quarantined' as status, $reason as quarantine_reason, 0 as rows_read, 0 as rows_posted,
           0 as rows_duplicate, 0 as rows_backlog, 'night-1' as run_id, now() as ingested_at""",
        {"source_file": source_file, "file_hash": file_hash, "reason": reason},
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """Night 1 (as-of JUDGED_ON) quarantined three files: two by validation, one empty."""
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as connection:
        _ledger_row(connection, "a/validation.csv", "h1", "validation_failed")
        _ledger_row(connection, "b/validation.csv", "h2", "validation_failed")
        _ledger_row(connection, "c/empty.csv", "h3", "empty_file")
        record_quarantine_context(connection, "night-1", as_of=JUDGED_ON, rules_version=RULES)
    return warehouse


def test_the_quarantine_keeps_the_as_of_and_rules_that_judged_it(ledger: Path) -> None:
    with duckdb.connect(str(ledger), read_only=True) as connection:
        rows = connection.sql(
            "select source_file, quarantined_as_of, rules_version from ingest_ledger order by 1"
        ).fetchall()
    assert rows == [
        ("a/validation.csv", JUDGED_ON, RULES),
        ("b/validation.csv", JUDGED_ON, RULES),
        ("c/empty.csv", None, None),  # not a validation verdict: nothing to judge again
    ]


def test_a_changed_as_of_or_rules_version_readmits_validation_quarantines_only(ledger: Path) -> None:
    with connect(ledger) as connection:
        assert readmittable_files(connection, as_of=JUDGED_ON, rules_version=RULES) == set()
        validated = {("a/validation.csv", "h1"), ("b/validation.csv", "h2")}
        assert readmittable_files(connection, as_of=dt.date(2023, 1, 31), rules_version=RULES) == validated
        assert readmittable_files(connection, as_of=JUDGED_ON, rules_version="other-rules") == validated


def test_the_rules_version_follows_the_rules() -> None:
    assert validation_rules_version(dt.date(2021, 3, 8)) == RULES
    assert validation_rules_version(dt.date(2021, 1, 1)) != RULES


def test_readmit_by_file_or_reason(ledger: Path) -> None:
    result = invoke(["readmit", "--warehouse", str(ledger), "--file", "/srv/landing/c/empty.csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 quarantined file")
    with connect(ledger) as connection:
        assert readmittable_files(connection, as_of=JUDGED_ON, rules_version=RULES) == {("c/empty.csv", "h3")}
    # a name is a name, not a pattern: "_" in a landed path matches only itself
    with connect(ledger) as connection:
        _ledger_row(connection, "d/DS_tiem.csv", "h4", "unreadable_file")
    nothing = invoke(["readmit", "--warehouse", str(ledger), "--file", "/srv/landing/d/DSxtiem.csv"])
    assert nothing.exit_code == 2
    result = invoke(["readmit", "--warehouse", str(ledger), "--reason", "validation_failed"])
    assert result.stdout.startswith("2 quarantined file")


def test_readmit_mistakes_are_one_line(ledger: Path) -> None:
    assert_one_line_error(invoke(["readmit", "--warehouse", str(ledger)]), "--file PATH")
    assert_one_line_error(
        invoke(["readmit", "--warehouse", str(ledger), "--reason", "no_such_reason"]),
        "unknown quarantine reason",
    )
    assert_one_line_error(
        invoke(["readmit", "--warehouse", str(ledger), "--file", "z/absent.csv"]),
        "no quarantined file matches",
    )


def test_publish_moves_the_old_quarantine_to_the_readmission_history(ledger: Path) -> None:
    tonight = pl.DataFrame(
        {"source_file": ["a/validation.csv"], "file_hash": ["h1"]},
        schema={"source_file": pl.String, "file_hash": pl.String},
    )
    with connect(ledger) as connection:
        connection.register("night_ledger", tonight.to_arrow())
        archive_readmitted_ledger_rows(connection, "night-2")
        left = connection.sql("select source_file from ingest_ledger order by 1").fetchall()
        history = connection.sql(
            "select source_file, quarantined_run_id, quarantined_as_of, readmitted_run_id from ledger_readmissions"
        ).fetchall()
    assert left == [("b/validation.csv",), ("c/empty.csv",)]
    assert history == [("a/validation.csv", "night-1", JUDGED_ON, "night-2")]


def test_discovery_reads_a_readmitted_file_as_new(tmp_path: Path) -> None:
    from transforms.ingest import file_content_hash
    from vaxsync.orchestration.pipeline import discover_new_exports

    landing = write_landing(tmp_path / "landing")
    settings = Settings(
        registry_path=write_registry(tmp_path / "registry.parquet"),
        landing_dir=landing,
        warehouse_path=tmp_path / "wh" / "warehouse.duckdb",
        reports_dir=tmp_path / "reports",
        as_of=JUDGED_ON,
    )
    with connect(settings.warehouse_path) as connection:
        _ledger_row(connection, EXPORT, file_content_hash(landing / EXPORT), "validation_failed")
        record_quarantine_context(connection, "night-1", as_of=JUDGED_ON, rules_version=RULES)
    assert discover_new_exports(settings) == []  # same as-of, same rules: the verdict stands
    later = settings.model_copy(update={"as_of": dt.date(2023, 1, 31)})
    assert discover_new_exports(later) == [EXPORT]
