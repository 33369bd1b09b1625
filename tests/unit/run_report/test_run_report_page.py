"""The run report as typed data and its page from the Jinja template: the sections taken from the marts
hold the keys the contract names, the page is the same whatever the hash seed, a night that did not
publish says so, and what the marts report is escaped on the page."""

from __future__ import annotations

import datetime as dt
import json
import typing

from run_report_night import RUN_ID, Night

from vaxsync.core.workdir import RunWorkDir, read_json, write_json
from vaxsync.marts.warehouse import connect
from vaxsync.reports.run_report import REPORT_HTML, REPORT_JSON, build_run_report, write_run_report
from vaxsync.reports.run_report_contract import (
    STAGES,
    DeferredFile,
    ResentFile,
    ReviewDecisionCounts,
    RunReport,
)
from vaxsync.reports.run_report_page import backlog_reasons, render_run_report_html, stage_boxes

RESENT_FILE = "01_Ha_Noi/<b>v2</b>.csv"


def add_a_resent_file_and_a_decision_file(night: Night) -> None:
    with connect(night.settings.warehouse_path) as connection:
        connection.execute(
            """insert into file_version_changes by name
               select ? as run_id, ? as source_file, 'f2' as file_hash, 'f1' as replaced_file_hash,
                      'same_path' as recognised_as, 3 as shots_kept, 1 as shots_added, 2 as shots_retracted,
                      1 as shots_replaced, 0 as shots_restored""",
            [RUN_ID, RESENT_FILE],
        )
        connection.execute(
            """insert into review_decision_files by name
               select 'decisions/01/mismatch_01.xlsx' as decision_file, 'd1' as decision_file_hash,
                      2 as decisions_read, 1 as decisions_applied, 1 as decisions_rejected, 'read' as status,
                      ? as run_id, ? as read_at""",
            [RUN_ID, dt.datetime(2023, 1, 31, 18)],
        )
        connection.execute(
            """insert into review_decisions by name
               select 'd1' as decision_file_hash, 'review_required' as sheet_name, unnest([2, 3]) as sheet_row,
                      unnest(['applied', 'rejected']) as status,
                      unnest([null, 'unknown_row_key']) as rejection_reason, ? as run_id""",
            [RUN_ID],
        )


def test_sections_from_the_marts_hold_the_keys_the_contract_names(night: Night) -> None:
    add_a_resent_file_and_a_decision_file(night)

    report = build_run_report(night.settings, night.run_id)

    [resent] = report["resent_files"]
    assert list(resent) == list(typing.get_type_hints(ResentFile))
    assert (resent["source_file"], resent["shots_retracted"], resent["shots_replaced"]) == (RESENT_FILE, 2, 1)
    decisions = report["review_decisions"]
    assert list(decisions) == list(typing.get_type_hints(ReviewDecisionCounts))
    assert (decisions["lines_read"], decisions["lines_applied"], decisions["lines_rejected"]) == (2, 1, 1)
    assert list(report) == list(typing.get_type_hints(RunReport))


def test_the_page_shows_what_the_marts_report_escaped(night: Night) -> None:
    add_a_resent_file_and_a_decision_file(night)

    write_run_report(night.settings, night.run_id)

    page = (night.report_dir / REPORT_HTML).read_text(encoding="utf-8")
    assert "Files sent again (1)" in page
    assert "01_Ha_Noi/&lt;b&gt;v2&lt;/b&gt;.csv" in page and "<b>v2</b>" not in page
    assert "Lines: 2 read, 1 applied, 1 rejected" in page
    assert "<code>unknown_row_key</code> 1" in page


def test_the_page_lists_the_files_left_for_the_next_night_with_their_reason(night: Night) -> None:
    """Discover's deferred files (an upload in progress) are in run.json; the report and its page list
    them by path, escaped, with what their reason means."""
    work = RunWorkDir(night.settings)
    run = read_json(work.run_file)
    run["deferred_files"] = [
        {"source_file": "02_Ha_Giang/<i>dang_gui</i>.csv", "reason": "modified_recently",
         "file_size_bytes": 4096, "modified_at_ns": 1},
        {"source_file": "01_Ha_Noi/DS.csv.filepart", "reason": "gone_during_discovery",
         "file_size_bytes": None, "modified_at_ns": None},
    ]  # fmt: skip
    write_json(work.run_file, run)

    write_run_report(night.settings, night.run_id)

    report = json.loads((night.report_dir / REPORT_JSON).read_text(encoding="utf-8"))
    assert [list(item) for item in report["deferred_files"]] == [
        list(typing.get_type_hints(DeferredFile))
    ] * 2
    assert [item["source_file"] for item in report["deferred_files"]] == [
        "01_Ha_Noi/DS.csv.filepart",
        "02_Ha_Giang/<i>dang_gui</i>.csv",
    ]
    page = (night.report_dir / REPORT_HTML).read_text(encoding="utf-8")
    assert "Files left for the next night (2)" in page
    assert "<td>02_Ha_Giang/&lt;i&gt;dang_gui&lt;/i&gt;.csv</td><td><code>modified_recently</code>" in page
    assert "<i>dang_gui</i>" not in page
    assert "an upload may be in progress" in page and '<td class="num">4,096</td>' in page
    assert "<code>gone_during_discovery</code>" in page


def test_a_night_that_deferred_nothing_has_no_deferred_section(night: Night) -> None:
    write_run_report(night.settings, night.run_id)

    page = (night.report_dir / REPORT_HTML).read_text(encoding="utf-8")
    assert build_run_report(night.settings, night.run_id)["deferred_files"] == []
    assert "Files left for the next night" not in page


def test_reasons_with_as_many_open_rows_are_listed_by_code(night: Night) -> None:
    """Set order depends on the hash seed: the same report must give the same page in every process."""
    stages = build_run_report(night.settings, night.run_id)["stages"]
    stages["backlog_open"]["by_reason"] = {"vaccine_unknown": 1, "review_required": 1, "malformed_row": 3}

    reasons = backlog_reasons(stages)

    assert [reason.code for reason in reasons] == ["malformed_row", "review_required", "vaccine_unknown"]
    assert [(reason.count, reason.still_open) for reason in reasons] == [(0, 3), (1, 1), (1, 1)]


def test_stage_boxes_show_counts_and_only_the_breakdowns_not_shown_elsewhere(night: Night) -> None:
    stages = build_run_report(night.settings, night.run_id)["stages"]

    boxes = {box.stage: box for box in stage_boxes(stages)}

    assert list(boxes) == list(STAGES)
    ingest = [(line.label, line.value, line.is_breakdown) for line in boxes["ingest"].lines]
    assert ingest[:5] == [
        ("files read", 3, False),
        ("files loaded", 1, False),
        ("files quarantined", 2, False),
        ("empty_file", 1, True),
        ("validation_failed", 1, True),
    ]
    publish_labels = [line.label for line in boxes["publish"].lines]
    assert "backlog by reason" not in publish_labels and "vaccine_unknown" not in publish_labels


def test_a_night_that_did_not_publish_says_so_on_its_page(night: Night) -> None:
    write_run_report(night.settings, night.run_id)
    report = json.loads((night.report_dir / REPORT_JSON).read_text(encoding="utf-8"))
    report["run"].update(outcome="not published", finished_at=None)
    report["stages"]["publish"] = {}

    page = render_run_report_html(report)

    assert '<span class="bad">not published</span>' in page
    assert "This night did not publish" in page and "published never" in page
    assert '<div class="value ">—</div><div class="label">posted</div>' in page
    assert "Tonight:" not in page  # tonight's totals are only known once published
    assert '<tr><td class="muted">not reached or not recorded</td><td></td></tr>' in page
