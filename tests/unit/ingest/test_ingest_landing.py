"""The landing folder listing and the content hash that identifies a file version."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ingest_export_files import VN_HEADER, export_rows, render_delimited, write

from transforms.ingest import file_content_hash, list_landed_files, stage_export


def test_every_regular_file_is_listed_sorted_and_relative(tmp_path: Path) -> None:
    for name in [
        "79/79776001/export_002.csv",
        "01/01276001/a.xlsx",
        "19/~$DS_tiem.xlsx",
        "89/rong.csv",
        ".DS_Store",
    ]:
        write(tmp_path, name, b"" if "rong" in name else b"x")
    (tmp_path / "empty_folder").mkdir()

    assert list_landed_files(tmp_path) == [
        ".DS_Store",
        "01/01276001/a.xlsx",
        "19/~$DS_tiem.xlsx",
        "79/79776001/export_002.csv",
        "89/rong.csv",
    ]


def test_the_content_hash_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    content = render_delimited([VN_HEADER, *export_rows()]).encode("utf-8") * 500  # several read chunks
    write(tmp_path, "export.csv", content)

    assert file_content_hash(tmp_path / "export.csv") == hashlib.sha256(content).hexdigest()


def test_same_name_new_content_is_a_new_version(tmp_path: Path) -> None:
    rows = export_rows()
    write(tmp_path, "export.csv", render_delimited([VN_HEADER, *rows[:5]]))
    first = stage_export(tmp_path, "export.csv")
    write(tmp_path, "export.csv", render_delimited([VN_HEADER, *rows]))
    second = stage_export(tmp_path, "export.csv")

    assert first.ledger["file_hash"] != second.ledger["file_hash"]
    assert second.rows is not None
    assert second.rows["file_hash"].unique().to_list() == [second.ledger["file_hash"]]


def test_a_given_hash_is_used_as_is(tmp_path: Path) -> None:
    write(tmp_path, "export.csv", render_delimited([VN_HEADER, *export_rows()]))
    known = file_content_hash(tmp_path / "export.csv")

    staged = stage_export(tmp_path, "export.csv", file_hash=known)

    assert staged.ledger["file_hash"] == known
