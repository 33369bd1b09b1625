"""Review decisions: each line is applied or rejected with one specific reason; matches follow the applied ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from vaxsync.decisions import (
    DECISION_LINE_SCHEMA,
    _override_matches,
    decided_rows,
    read_new_decisions,
    validate_decisions,
)
from vaxsync.reasons import DECISION_REJECTIONS
from vaxsync.settings import Settings
from vaxsync.workdir import RunWorkDir

HASH = "f" * 64
PROVINCE = "01"
CANDIDATE_1, CANDIDATE_2, DEAD, CORRECTED = "001090000001", "001090000002", "001090000003", "001090000009"

OPEN_BACKLOG = pl.DataFrame(
    {
        "file_hash": [HASH] * 4,
        "source_row": [1, 2, 3, 4],
        "province_code": [PROVINCE, PROVINCE, "79", PROVINCE],
        "reason_code": ["review_required", "no_confident_match", "review_required", "vaccine_unknown"],
        "candidate_citizen_id": [CANDIDATE_1, None, CANDIDATE_1, None],
    },
    schema_overrides={"source_row": pl.Int32},
)
CANDIDATES = pl.DataFrame(
    {
        "file_hash": [HASH] * 3,
        "source_row": [1, 1, 1],
        "candidate_rank": [1, 2, 3],
        "citizen_id": [CANDIDATE_1, CANDIDATE_2, DEAD],
        "match_probability": [0.9, 0.8, 0.7],
        "impossible_reason": [None, None, None],
    },
    schema_overrides={"source_row": pl.Int32, "candidate_rank": pl.Int32},
)
REGISTRY = pl.LazyFrame(
    {
        "citizen_id": [CANDIDATE_1, CANDIDATE_2, DEAD, CORRECTED],
        "date_of_birth": [dt.date(1990, 1, 1)] * 4,
        "date_of_death": [None, None, dt.date(2021, 1, 1), None],
    }
)
# Rows 1-3 can be matched; row 4 was rejected for its vaccine, which no decision can fix.
MATCHABLE = pl.DataFrame(
    {"file_hash": [HASH] * 3, "source_row": [1, 2, 3], "vaccinated_date": [dt.date(2022, 1, 10)] * 3},
    schema_overrides={"source_row": pl.Int32},
)


def decision_lines(*lines: tuple[str | None, str | None, str | None]) -> pl.DataFrame:
    """(row_key, decision, corrected_id) lines of one reviewer's file for province 01."""
    return pl.DataFrame(
        {
            "decision_file": "mismatch_01_2023-01-31.xlsx",
            "decision_file_hash": "d" * 64,
            "sheet_name": "review_required",
            "sheet_row": list(range(2, 2 + len(lines))),
            "reviewer": "Trần Thị B",
            "decided_at": dt.datetime(2023, 2, 1, 9),
            "file_province_code": PROVINCE,
            "row_key": [line[0] for line in lines],
            "stated_source_row": None,
            "decision": [line[1] for line in lines],
            "corrected_id": [line[2] for line in lines],
        },
        schema=DECISION_LINE_SCHEMA,
    )


def validate(*lines: tuple[str | None, str | None, str | None]) -> pl.DataFrame:
    return validate_decisions(decision_lines(*lines), OPEN_BACKLOG, CANDIDATES, REGISTRY, MATCHABLE)


@pytest.mark.parametrize(
    ("line", "status", "rejection", "after"),
    [
        ((f"{HASH}:1", "accept 2", None), "applied", None, CANDIDATE_2),
        ((f"{HASH}:1", "Accept  1", None), "applied", None, CANDIDATE_1),
        ((f"{HASH}:1", "reject", None), "applied", None, None),
        ((f"{HASH}:2", "corrected", CORRECTED), "applied", None, CORRECTED),
        ((f"{HASH}:1", "accept 3", None), "rejected", "impossible_link", None),
        ((f"{HASH}:1", "accept 5", None), "rejected", "candidate_not_offered", None),
        ((f"{HASH}:2", "corrected", "12345"), "rejected", "malformed_id", None),
        ((f"{HASH}:2", "corrected", "001099999999"), "rejected", "id_not_in_registry", None),
        ((f"{HASH}:3", "accept 1", None), "rejected", "wrong_province", None),
        ((f"{HASH}:9", "accept 1", None), "rejected", "unknown_row", None),
        (("not-a-key", "accept 1", None), "rejected", "row_key_mismatch", None),
        ((f"{HASH}:1", "yes please", None), "rejected", "unknown_decision", None),
        ((f"{HASH}:4", "corrected", CORRECTED), "rejected", "row_not_matchable", None),
    ],
)
def test_each_decision_is_applied_or_rejected_with_its_reason(
    line: tuple[str, str, str | None], status: str, rejection: str | None, after: str | None
) -> None:
    audit = validate(line)
    assert audit.select("status", "rejection_reason", "after_citizen_id").row(0) == (status, rejection, after)
    assert rejection is None or rejection in DECISION_REJECTIONS


def test_the_audit_row_keeps_who_and_the_before_state() -> None:
    audit = validate((f"{HASH}:1", "accept 2", None)).row(0, named=True)
    assert audit["reviewer"] == "Trần Thị B"
    assert (audit["before_reason_code"], audit["before_candidate_citizen_id"]) == (
        "review_required",
        CANDIDATE_1,
    )
    assert (audit["file_hash"], audit["source_row"], audit["match_probability"]) == (HASH, 1, 0.8)


def test_two_different_decisions_on_one_row_cancel_each_other() -> None:
    audit = validate(
        (f"{HASH}:1", "accept 1", None), (f"{HASH}:1", "accept 2", None), (f"{HASH}:2", "reject", None)
    )
    assert audit["rejection_reason"].to_list() == ["conflicting_decisions", "conflicting_decisions", None]


def test_the_same_decision_twice_is_not_a_conflict() -> None:
    audit = validate((f"{HASH}:1", "accept 1", None), (f"{HASH}:1", "accept 1", None))
    assert audit["status"].to_list() == ["applied", "applied"]


def test_a_stated_source_row_must_agree_with_the_row_key() -> None:
    lines = decision_lines((f"{HASH}:1", "accept 1", None)).with_columns(stated_source_row=pl.lit("7"))
    audit = validate_decisions(lines, OPEN_BACKLOG, CANDIDATES, REGISTRY, MATCHABLE)
    assert audit["rejection_reason"].to_list() == ["row_key_mismatch"]


def test_applied_decisions_override_matches_and_a_rejection_keeps_holding() -> None:
    matches = pl.DataFrame(
        {
            "file_hash": [HASH] * 3,
            "source_row": [1, 2, 3],
            "citizen_id": [None, None, CANDIDATE_1],
            "match_method": [None, None, "probabilistic"],
            "match_score": [None, None, 0.99],
            "candidate_citizen_id": [CANDIDATE_1, None, CANDIDATE_1],
            "match_reason": ["review_required", "no_confident_match", None],
            "match_detail": [None, None, None],
        },
        schema_overrides={"source_row": pl.Int32},
    )
    applied = validate((f"{HASH}:1", "accept 2", None), (f"{HASH}:2", "reject", None)).filter(
        pl.col("status") == "applied"
    )
    # Row 3 was rejected by a reviewer on an earlier night: tonight's automatic match must not post it.
    earlier_rejection = pl.DataFrame(
        {"file_hash": [HASH], "source_row": [3]}, schema_overrides={"source_row": pl.Int32}
    )
    result = _override_matches(matches, applied, earlier_rejection).sort("source_row")
    assert result["citizen_id"].to_list() == [CANDIDATE_2, None, None]
    assert result["match_method"].to_list() == ["review_decision", None, None]
    assert result["match_reason"].to_list() == [None, "reviewer_rejected", "reviewer_rejected"]
    assert result["match_score"].to_list() == [0.8, None, None]


def test_decision_files_are_read_once_and_a_broken_one_is_recorded_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "decisions"
    folder.mkdir()
    pl.DataFrame(
        {
            "row_key": [f"{HASH}:1", f"{HASH}:2"],
            "decision": ["Accept 2", ""],  # a blank decision is no decision
            "corrected_id": [None, None],
            "reviewer": ["Trần Thị B", "Trần Thị B"],
        }
    ).write_csv(folder / "mismatch_01_2023-01-31.csv")
    (folder / "mismatch_79_2023-01-31.xlsx").write_bytes(b"not a workbook")
    (folder / "~$mismatch_01_2023-01-31.xlsx").write_bytes(b"an Office lock file")
    settings = Settings(
        decisions_dir=folder, warehouse_path=tmp_path / "absent.duckdb", work_dir=tmp_path / "work"
    )
    work = RunWorkDir(settings)
    work.root.mkdir(parents=True)
    lines = read_new_decisions(settings, work)
    assert lines.select("file_province_code", "reviewer", "row_key", "decision").rows() == [
        ("01", "Trần Thị B", f"{HASH}:1", "Accept 2")
    ]
    files = pl.read_parquet(work.decision_files_file).sort("decision_file")
    assert files.select("decision_file", "status").rows() == [
        ("mismatch_01_2023-01-31.csv", "read"),
        ("mismatch_79_2023-01-31.xlsx", "unreadable"),
    ]
    assert decided_rows(lines).rows() == [(HASH, 1)]
