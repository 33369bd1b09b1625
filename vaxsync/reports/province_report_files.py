"""Which provinces' mismatch reports are rendered tonight, and rendering them (here and in a helper process).

A province whose report would show what its last rendering shows (report_fingerprint) keeps those files;
the others are rendered by vaxsync.reports.province_report_render (XLSX and HTML), the larger night's
share of them in a light helper process (vaxsync.core.light_process).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl

from vaxsync.core.decision_sheet import TOKEN_COLUMNS
from vaxsync.core.light_process import LightProcess
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import write_private
from vaxsync.marts.decision_files import prepare_province_folders
from vaxsync.marts.decision_tokens import decision_secret
from vaxsync.marts.warehouse import connected
from vaxsync.reports.province_report_model import PRIVATE_FOLDER_MODE, ProvinceReport, province_folder
from vaxsync.reports.province_report_render import render_files
from vaxsync.reports.province_reports import ADMIN_UNITS_PATH, build_province_reports

log = logging.getLogger(__name__)

# A second rendering process pays off from about this many open rows in the provinces to render (its
# start-up cost ~1.6 CPU s as a spawn child, ~0.5 as a light process, ~0.25 since it imports no settings,
# DuckDB or pyarrow; rendering cost ~0.5 CPU s per 1,000 rows before xlsx_columns, about a quarter less
# since). Medium night, 9.2k rows, quiet 2-CPU machine: report stage 6.6 / 7.0 s wall alone,
# 5.4 / 5.1 s with the helper (+0.5-1 CPU s); not measured again since xlsx_columns (a loaded machine).
RENDER_HELPER_MIN_ROWS = 5_000
HELPER_QUEUE = 2  # provinces handed to the helper and not yet done

# --- which provinces to render -----------------------------------------------------------------------------

# Where the last rendering of each province is recorded (province -> fingerprint, as-of, files), in the
# reports folder. Codes, dates, paths and hashes only: no personal data.
RENDERED_INDEX_NAME = "province_reports_rendered.json"
# Where a night's reports are rendered before they are put in place (under `<reports>/<as-of>/`).
STAGING_FOLDER_NAME = ".rendering"
# Part of every fingerprint: raise it when the rendering changes, so that every province renders again.
RENDERING_VERSION = 1
# What changes from night to night without the province's backlog or decisions changing: the nights a row
# has waited (and the age counts built from them) and the run's signatures. A kept report shows them as of
# the night it was written.
NIGHTLY_COLUMNS = frozenset({"nights_waited", *TOKEN_COLUMNS})


def report_fingerprint(report: ProvinceReport) -> str:
    """A hash of what a province's report says about its backlog and decisions: its open rows (reason,
    row as sent, candidates), the rows resolved tonight and the decisions refused tonight, without
    NIGHTLY_COLUMNS. Two nights with the same fingerprint show the same rows, decisions and candidates."""
    digest = hashlib.sha256(
        f"v{RENDERING_VERSION}|{pl.__version__}|{report.province_code}|{report.province_name}".encode()
    )
    for frame in (report.rows, report.resolved, report.rejected_decisions):
        if frame is None:
            digest.update(b"|none")
            continue
        content = frame.drop([name for name in frame.columns if name in NIGHTLY_COLUMNS])
        digest.update(f"|{content.height}|{content.schema}".encode())
        for seed in (0, 1):  # two 64-bit row hashes: a changed row going unnoticed is out of reach
            digest.update(content.hash_rows(seed=seed).to_numpy().tobytes())
    return digest.hexdigest()


def _rendered_index(reports_dir: Path) -> dict[str, dict[str, object]]:
    path = reports_dir / RENDERED_INDEX_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _kept_files(entry: dict[str, object] | None, fingerprint: str, settings: Settings) -> list[Path] | None:
    """The files of the province's last rendering, when they show what tonight's report would (same
    fingerprint), are still there, and are of this night or an earlier one; else None."""
    if entry is None or entry.get("fingerprint") != fingerprint:
        return None
    if str(entry.get("as_of", "")) > settings.as_of.isoformat():
        return None
    files = [settings.reports_dir / str(name) for name in entry.get("files", [])]  # type: ignore[attr-defined]
    return files if files and all(path.is_file() for path in files) else None


def write_province_reports(
    settings: Settings, *, run_id: str, connection: duckdb.DuckDBPyConnection | None = None
) -> list[Path]:
    """Write tonight's per-province XLSX and HTML reports; returns the paths of every province's report.

    Only provinces whose backlog or decisions changed are rendered (report_fingerprint): a province whose
    fingerprint equals its last rendering's keeps those files (an incremental night re-rendered every
    province's whole backlog), copied into tonight's folder under their own names (which carry the night
    they show). Files of an earlier run of the same night for a province that has nothing left are
    removed, so a re-run leaves exactly tonight's reports."""
    return start_province_reports(settings, run_id=run_id, connection=connection).finish()


def start_province_reports(
    settings: Settings,
    *,
    run_id: str,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> ProvinceReportsRendering:
    """Read tonight's province reports from the warehouse and start rendering the changed ones in a thread,
    into a staging folder, while the caller does other work; `finish()` puts them in place, `discard()`
    drops them (the report stage failed)."""

    admin_units = pl.scan_parquet(ADMIN_UNITS_PATH)
    registry = pl.scan_parquet(settings.registry_path)
    with connected(settings.warehouse_path, connection, settings=settings) as connection:
        reports = build_province_reports(
            connection,
            registry=registry,
            admin_units=admin_units,
            as_of=settings.as_of,
            run_id=run_id,
            secret=decision_secret(settings),
        )
    return ProvinceReportsRendering(settings, reports)


class ProvinceReportsRendering:
    """Tonight's province reports, the changed ones being rendered in a thread into a staging folder
    (`<reports>/<as-of>/.rendering/`, emptied first: a crashed night's leftovers), so that a report stage
    that fails leaves the provinces' folders as they were. Rendering is Python (the GIL) plus the helper
    process; the thread lets the report stage's other work (the run report, coverage) run beside it."""

    def __init__(self, settings: Settings, reports: list[ProvinceReport]) -> None:
        self.settings = settings
        self.reports = reports
        self.fingerprints = {report.province_code: report_fingerprint(report) for report in reports}
        rendered_before = _rendered_index(settings.reports_dir)
        self.kept: dict[str, tuple[list[Path], str]] = {}  # province -> its last files, the night they show
        to_render: list[tuple[ProvinceReport, Path]] = []
        self.staging = settings.reports_dir / settings.as_of.isoformat() / STAGING_FOLDER_NAME
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True)
        for report in reports:
            before = rendered_before.get(report.province_code)
            files = _kept_files(before, self.fingerprints[report.province_code], settings)
            if before is None or files is None:
                to_render.append((report, self.staging / province_folder(report.province_code)))
            else:  # staff find every province in tonight's folder
                self.kept[report.province_code] = files, str(before["as_of"])
        self._rendering = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render-provinces")
        self._rendered = self._rendering.submit(_render_all, to_render)
        self._rendering.shutdown(wait=False)  # the thread ends with its one task

    def finish(self) -> list[Path]:
        """Wait for the rendering, then put tonight's reports in place: the rendered files moved out of
        staging, the unchanged provinces' files copied, stale files removed, the index written."""
        settings, reports = self.settings, self.reports
        staged = self._rendered.result()
        provinces_dir = settings.reports_dir / settings.as_of.isoformat() / "provinces"
        # Where staff drop each province's filled report: one owner-only folder per province, ready tonight.
        prepare_province_folders(settings.decisions_dir, [report.province_code for report in reports])
        written: list[Path] = []
        rendered: dict[str, dict[str, object]] = {}
        for report in reports:
            folder = provinces_dir / province_folder(report.province_code)
            if report.province_code in self.kept:
                kept_files, shows_night = self.kept[report.province_code]
                files = _copied_into(kept_files, folder)
            else:
                files, shows_night = (
                    _moved_into(staged[report.province_code], folder),
                    settings.as_of.isoformat(),
                )
            written.extend(files)
            rendered[report.province_code] = {
                "fingerprint": self.fingerprints[report.province_code],
                "as_of": shows_night,  # the night the files show
                "files": [str(path.relative_to(settings.reports_dir)) for path in files],
            }
        shutil.rmtree(self.staging, ignore_errors=True)
        _remove_stale_reports(provinces_dir, keep=set(written))
        index = json.dumps(rendered, indent=1, sort_keys=True).encode("utf-8")
        write_private(settings.reports_dir / RENDERED_INDEX_NAME, index)
        log.info(
            "mismatch reports for %d provinces (%d open rows): %d rendered, %d unchanged kept",
            len(reports),
            sum(report.rows.height for report in reports),
            len(reports) - len(self.kept),
            len(self.kept),
        )
        return written

    def discard(self) -> None:
        """Drop what was rendered (the report stage failed): wait for the thread, remove the staging."""
        try:
            self._rendered.result()
        except Exception as error:  # the night's own error is what the caller raises
            log.debug("discarded province rendering failed: %s", type(error).__name__)
        shutil.rmtree(self.staging, ignore_errors=True)


def _moved_into(files: list[Path], folder: Path) -> list[Path]:
    """Rendered files moved from staging into the province's folder (the same file system: a rename)."""
    folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    moved = [folder / path.name for path in files]
    for source, target in zip(files, moved, strict=True):
        os.replace(source, target)
    return moved


def _copied_into(files: list[Path], folder: Path) -> list[Path]:
    """An unchanged province's files, copied under their own names (which carry the night they show)
    into tonight's folder; already there on a re-run of the same night."""
    folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    return [
        path if path.parent == folder else write_private(folder / path.name, path.read_bytes())
        for path in files
    ]


def _render_all(jobs: list[tuple[ProvinceReport, Path]]) -> dict[str, list[Path]]:
    """Render each province's files; returns each province's paths.

    Rendering is single-threaded Python (xlsxwriter writes cell by cell), so on a large night a second
    process renders beside this one: this process takes the largest provinces first while the helper
    starts up, the helper the smallest, until none is left. The helper is a light process (it imports the
    rendering modules only, not the CLI a multiprocessing child would re-import). A small night is
    rendered here alone: starting the helper (its imports) costs more than it saves."""
    if (
        len(jobs) < 2
        or (os.cpu_count() or 1) < 2
        or sum(report.rows.height for report, _ in jobs) < (RENDER_HELPER_MIN_ROWS)
    ):
        return {report.province_code: render_files(report, folder) for report, folder in jobs}
    pending = deque(sorted(jobs, key=lambda job: job[0].rows.height, reverse=True))
    files: dict[str, list[Path]] = {}
    asked: deque[str] = deque()  # the provinces handed to the helper and not yet answered, in order
    with LightProcess() as helper:
        while pending:
            while helper.answer_waiting():
                files[asked.popleft()] = helper.result()
            # The helper keeps one province queued beyond the one it renders, so it never waits for us.
            while pending and helper.pending < HELPER_QUEUE:
                report, folder = pending.pop()
                helper.submit(render_files, report, folder)
                asked.append(report.province_code)
            if pending:
                report, folder = pending.popleft()
                files[report.province_code] = render_files(report, folder)
        while asked:
            files[asked.popleft()] = helper.result()
    return files


def _remove_stale_reports(provinces_dir: Path, *, keep: set[Path]) -> None:
    if not provinces_dir.exists():
        return
    for stale in sorted(set(provinces_dir.glob("*/mismatch_*")) - keep):
        stale.unlink()
