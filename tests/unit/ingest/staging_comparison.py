"""Stage a landing both ways, batch and file by file, and assert the same ledger rows, metrics and rows."""

from __future__ import annotations

from pathlib import Path

from polars.testing import assert_frame_equal

from transforms.ingest import StagedExport, stage_export, stage_exports


def assert_same_staging(landing: Path, source_files: list[str]) -> list[StagedExport]:
    files = [(source_file, f"hash-{position}") for position, source_file in enumerate(source_files)]
    batch = stage_exports(landing, files)
    assert len(batch) == len(files)
    for (source_file, file_hash), staged in zip(files, batch, strict=True):
        alone = stage_export(landing, source_file, file_hash)
        assert staged.ledger == alone.ledger, source_file
        assert staged.raw_metrics == alone.raw_metrics, source_file
        assert (staged.rows is None) == (alone.rows is None), source_file
        if alone.rows is not None:
            assert staged.rows is not None
            assert_frame_equal(staged.rows, alone.rows)
    return batch
