"""Only provinces whose backlog or decisions changed are rendered again: an unchanged province's last
rendering is copied into tonight's folder under its own name (which carries the night it shows), a changed
one gets tonight's files, and a re-run leaves exactly tonight's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from report_builders import AS_OF, RUN_ID, build_warehouse

from vaxsync.core.decision_sheet import UNKNOWN_PROVINCE
from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import connect
from vaxsync.reports.province_report_files import RENDERED_INDEX_NAME, write_province_reports

NIGHT_2 = AS_OF + dt.timedelta(days=1)
RUN_ID_2 = f"{NIGHT_2.isoformat()}@20230202T010000"


def night_files(settings: Settings, night: dt.date) -> set[Path]:
    return set((settings.reports_dir / night.isoformat() / "provinces").glob("*/mismatch_*"))


def rendered_for(settings: Settings, night: dt.date) -> set[Path]:
    """The files in the night's folder that were rendered that night (a copy keeps its own night's name)."""
    return {path for path in night_files(settings, night) if path.stem.endswith(night.isoformat())}


@pytest.fixture
def first_night(tmp_path: Path) -> tuple[Settings, list[Path]]:
    settings = build_warehouse(tmp_path)
    return settings, write_province_reports(settings, run_id=RUN_ID)


def test_a_later_night_renders_only_the_provinces_that_changed(
    first_night: tuple[Settings, list[Path]],
) -> None:
    settings, written = first_night
    night_1 = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in written}
    later = settings.model_copy(update={"as_of": NIGHT_2})

    written_2 = write_province_reports(later, run_id=RUN_ID_2)

    # Hanoi's row resolved on night 1 is no longer "resolved tonight": its report changed. Hue and the
    # rows without a province are as they were: their night-1 files, untouched, are copied into tonight's.
    kept = {path for path in written if path.parent.name in {"46", "unknown"}}
    assert kept
    assert all((path.read_bytes(), path.stat().st_mtime_ns) == night_1[path] for path in kept)
    copies = {
        later.reports_dir / NIGHT_2.isoformat() / "provinces" / path.parent.name / path.name for path in kept
    }
    assert all(
        copy.read_bytes() == night_1[path][0] for copy, path in zip(sorted(copies), sorted(kept), strict=True)
    )
    assert {path.parent.name for path in rendered_for(later, NIGHT_2)} == {"01"}
    assert set(written_2) == night_files(later, NIGHT_2) == copies | rendered_for(later, NIGHT_2)
    index = json.loads((settings.reports_dir / RENDERED_INDEX_NAME).read_text(encoding="utf-8"))
    assert {code: entry["as_of"] for code, entry in index.items()} == {
        "01": NIGHT_2.isoformat(),
        "46": AS_OF.isoformat(),
        UNKNOWN_PROVINCE: AS_OF.isoformat(),
    }


def test_a_province_whose_backlog_changed_is_rendered_again(
    first_night: tuple[Settings, list[Path]],
) -> None:
    settings, _ = first_night
    with connect(settings.warehouse_path) as connection:
        connection.execute(
            "update unposted_backlog set reason_detail = 'sent again, still no ID' where province_code = '46'"
        )
    later = settings.model_copy(update={"as_of": NIGHT_2})

    write_province_reports(later, run_id=RUN_ID_2)

    rendered = {path.parent.name for path in rendered_for(later, NIGHT_2)}
    assert rendered == {"01", "46"}
    page = next(
        path for path in rendered_for(later, NIGHT_2) if path.parent.name == "46" and path.suffix == ".html"
    )
    assert "sent again, still no ID" in page.read_text(encoding="utf-8")


def test_a_rerun_of_the_later_night_keeps_the_same_reports(
    first_night: tuple[Settings, list[Path]],
) -> None:
    settings, _ = first_night
    later = settings.model_copy(update={"as_of": NIGHT_2})
    written_2 = write_province_reports(later, run_id=RUN_ID_2)
    before = {path: path.read_bytes() for path in written_2}

    again = write_province_reports(later, run_id=RUN_ID_2)

    assert {path: path.read_bytes() for path in again} == before
    assert night_files(later, NIGHT_2) == set(again)


def test_a_report_whose_files_were_removed_is_rendered_again(
    first_night: tuple[Settings, list[Path]],
) -> None:
    settings, written = first_night
    for path in written:
        if path.parent.name == "46":
            path.unlink()
    later = settings.model_copy(update={"as_of": NIGHT_2})

    write_province_reports(later, run_id=RUN_ID_2)

    assert {path.parent.name for path in rendered_for(later, NIGHT_2)} == {"01", "46"}
