"""Landed files that people and other tools make, each through a whole night: the night completes and
every file reaches the ledger, read or quarantined with a reason.

Tried and held without a change (round 5, h6): names with spaces, NFD-decomposed Vietnamese, a newline,
`=HYPERLINK(...)`, 240 two-byte characters, a leading dot, `..`, an upper-case `.CSV`; sub-folders five
deep; a FIFO, a broken link and a link to the landing folder itself (not listed, no loop); a zip and a
0-byte file named .xlsx; NUL bytes, mixed CR / LF / CRLF line ends, a BOM before a title block, an
unclosed quote, a file cut mid-row while being written (its full version next night supersedes it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import Result
from operations_builders import invoke, write_landing, write_registry

HANOI = "01_Ha_Noi/01001001"


def night(tmp_path: Path) -> Result:
    """A night over the landing folder as it is."""
    registry = tmp_path / "registry.parquet"
    if not registry.exists():
        write_registry(registry)
    return invoke(
        [
            "run",
            "--registry", str(registry),
            "--landing", str(tmp_path / "landing"),
            "--warehouse", str(tmp_path / "wh" / "warehouse.duckdb"),
            "--reports", str(tmp_path / "reports"),
            "--as-of", "2022-01-31",
        ]
    )  # fmt: skip


def ledger(tmp_path: Path) -> list[tuple[str, str, str | None, int]]:
    """(source_file, status, quarantine_reason, rows_posted) of each ledger row, sorted."""
    with duckdb.connect(str(tmp_path / "wh" / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute(
            "select source_file, status, quarantine_reason, rows_posted from ingest_ledger"
        ).fetchall()
    return sorted(rows)


def land_copy(tmp_path: Path, name: bytes | str, content: bytes | None = None) -> None:
    """A copy of the builders' export (one dose) under `name`, inside the landing folder."""
    landing = write_landing(tmp_path / "landing")
    export = landing / HANOI / "DS_tiem.csv"
    data = export.read_bytes() if content is None else content
    export.unlink()
    target = os.fsencode(landing) + b"/" + os.fsencode(name)
    with open(target, "wb") as handle:
        handle.write(data)


def test_a_file_name_that_is_not_utf8_is_read_under_an_escaped_name(tmp_path: Path) -> None:
    # A Windows client writing CP1258 names ("Danh sách tiêm.csv"): on main the night stopped with
    # UnicodeEncodeError (surrogates not allowed) before any work.
    land_copy(tmp_path, HANOI.encode() + b"/Danh s\xe1ch ti\xeam.csv")

    result = night(tmp_path)

    assert result.exit_code == 0, result.output
    assert ledger(tmp_path) == [(f"{HANOI}/Danh s\\xe1ch ti\\xeam.csv", "loaded", None, 1)]


def test_a_file_the_night_may_not_read_is_quarantined_and_read_once_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An upload left owner-only by another account: on main PermissionError at discovery stopped the
    # whole night (every province) with exit 2. Root reads anything, so the refusal is simulated.
    land_copy(tmp_path, f"{HANOI}/DS_tiem.csv")
    blocked = tmp_path / "landing" / HANOI / "DS_tiem.csv"
    monkeypatch.setattr(Path, "open", refusing(Path.open, blocked))

    first = night(tmp_path)

    assert first.exit_code == 0, first.output
    assert ledger(tmp_path) == [(f"{HANOI}/DS_tiem.csv", "quarantined", "unreadable_file", 0)]

    monkeypatch.undo()
    second = night(tmp_path)

    assert second.exit_code == 0, second.output
    assert [row[1:] for row in ledger(tmp_path)] == [
        ("loaded", None, 1),
        ("quarantined", "unreadable_file", 0),
    ]


def refusing(open_path: Callable[..., Any], blocked: Path) -> Callable[..., Any]:
    def guarded(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return open_path(path, *args, **kwargs)

    return guarded


def test_a_link_to_a_file_outside_the_landing_folder_is_not_read(tmp_path: Path) -> None:
    # An uploader's symlink to a file only the night's account may read (another province's export):
    # on main its rows were posted and shown in this province's report.
    elsewhere = tmp_path / "elsewhere" / "other_province.csv"
    elsewhere.parent.mkdir()
    land_copy(tmp_path, f"{HANOI}/inside.csv")
    elsewhere.write_bytes(
        (tmp_path / "landing" / HANOI / "inside.csv").read_bytes().replace(b"15/08", b"16/08")
    )
    (tmp_path / "landing" / HANOI / "link.csv").symlink_to(elsewhere)
    (tmp_path / "landing" / HANOI / "link_inside.csv").symlink_to(tmp_path / "landing" / HANOI / "inside.csv")

    result = night(tmp_path)

    assert result.exit_code == 0, result.output
    assert ledger(tmp_path) == [
        (f"{HANOI}/inside.csv", "loaded", None, 1),
        (f"{HANOI}/link.csv", "quarantined", "unsupported_format", 0),
        (f"{HANOI}/link_inside.csv", "duplicate_content", None, 0),
    ]


def test_a_link_to_a_folder_outside_the_landing_folder_reaches_the_ledger_unread(tmp_path: Path) -> None:
    # A province folder linked to an upload area (`79 -> /srv/sftp/79`): on main its files were never
    # listed, so the ledger and the run report did not know they existed.
    elsewhere = tmp_path / "sftp" / "79"
    elsewhere.mkdir(parents=True)
    land_copy(tmp_path, f"{HANOI}/inside.csv")
    (elsewhere / "DS_tiem.csv").write_bytes((tmp_path / "landing" / HANOI / "inside.csv").read_bytes())
    (tmp_path / "landing" / "79_Ho_Chi_Minh").symlink_to(elsewhere, target_is_directory=True)
    (tmp_path / "landing" / "01_again").symlink_to(
        tmp_path / "landing" / "01_Ha_Noi", target_is_directory=True
    )

    result = night(tmp_path)
    again = night(tmp_path)

    assert result.exit_code == 0, result.output
    assert again.exit_code == 0, again.output
    assert ledger(tmp_path) == [
        (f"{HANOI}/inside.csv", "loaded", None, 1),
        ("79_Ho_Chi_Minh", "quarantined", "unsupported_format", 0),
    ]
