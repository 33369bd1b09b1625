"""The batch path stages the whole office corpus (workbooks mixed with text files) as stage_export does,
file by file (the unit tests cover its text files and generated landings)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from transforms.ingest import list_landed_files

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "ingest"))  # the unit tests' comparison helper

from staging_comparison import assert_same_staging  # noqa: E402


def test_the_office_corpus_stages_as_file_by_file() -> None:
    landing = ROOT / "tests" / "fixtures" / "office_corpus" / "landing"
    staged = assert_same_staging(landing, list_landed_files(landing))
    assert {export.ledger["file_format"] for export in staged} >= {"csv", "xlsx"}
