"""The backlog over several nights: re-matched against a newer registry, and decided on by reviewers.

Night 1 runs on a registry snapshot missing some citizens, so their shots wait in the backlog.
Night 2 brings the complete snapshot, a reviewer's decision file beside a mix of bad decision files, and no
new export; it runs twice.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
import unicodedata
from pathlib import Path

import duckdb
import fastexcel
import polars as pl
import pytest
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from synth import SynthConfig, generate
from vaxsync.core.decision_sheet import (
    CORRECTED_ID_COLUMN,
    DECISION_COLUMN,
    INSTRUCTIONS_SHEET,
    REJECTED_DECISIONS_SHEET,
    REVIEWER_KEY,
    ROW_KEY_COLUMN,
    header_code,
)
from vaxsync.core.reasons import DECISION_FILE_REASONS, DECISION_REJECTIONS
from vaxsync.core.settings import Settings
from vaxsync.marts.backlog import REMATCHABLE_REASONS
from vaxsync.marts.decision_tokens import candidate_token, decision_secret
from vaxsync.marts.warehouse import conservation_violations
from vaxsync.orchestration.pipeline import run_nightly
from vaxsync.reports.province_report_model import province_folder

NIGHT_1, NIGHT_2, NIGHT_3 = dt.date(2023, 1, 31), dt.date(2023, 2, 1), dt.date(2023, 2, 2)
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
        truth.select("source_file", "source_row", "true_citizen_id", "corruptions"),
        on=["source_file", "source_row"],
    ).filter(
        pl.col("true_citizen_id").is_in(absent.implode()) & pl.col("reason_code").is_in(REMATCHABLE_REASONS)
    )
    decided = _write_decisions(root, waiting_rows, waiting)
    night_2 = settings(root / "synth/registry.parquet", NIGHT_2)
    first_summary = run_nightly(night_2)
    second_summary = run_nightly(night_2)  # the same night again: nothing changes
    # Night 3: the reviewer withdraws the accept that posted a shot on night 2 (a line of the night-1 report).
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        accepted = connection.sql(
            f"""select after_shot_id, after_citizen_id from review_decisions where status = 'applied'
                and file_hash = '{decided["accept"]["file_hash"]}' and source_row = {decided["accept"]["source_row"]}"""
        ).pl()
    _write_withdrawal(root, decided["accept"])
    rescored = _rescored_row(root)
    if rescored is not None:  # an `accept 1` read from an older report, after the row was scored again
        _write_old_accept(root, rescored)
    run_nightly(settings(root / "synth/registry.parquet", NIGHT_3))
    return {
        "root": root,
        "waiting_rows": waiting_rows,
        "decided": decided,
        "summaries": (first_summary, second_summary),
        "accepted": accepted,
        "rescored": rescored,
    }


def _write_decisions(
    root: Path, waiting_rows: pl.DataFrame, waiting: pl.DataFrame
) -> dict[str, dict[str, object]]:
    """A reviewer fills the province's XLSX report as staff would, and drops it in the province's folder,
    beside a mix of bad files: copies, a file at the top level, a link to /etc/passwd, a workbook whose
    dimension spans the whole sheet, a broken workbook, and a semicolon CP1258 CSV saved from one sheet.

    The filled workbook keeps the report's sheets, columns and signed tokens; xlsxwriter stands in for Excel.
    """
    province = waiting_rows["province_code"][0]
    own = waiting_rows.filter(pl.col("province_code") == province).sort(
        pl.col("corruptions").list.len(), "file_hash", "source_row"
    )
    other = waiting.filter(pl.col("province_code") != province).sort("file_hash", "source_row")
    in_review = waiting.filter(
        (pl.col("province_code") == province) & (pl.col("reason_code") == "review_required")
    ).join(own.head(6), on=["file_hash", "source_row"], how="anti")
    assert own.height >= 6 and other.height >= 1 and in_review.height >= 1, (
        "the data should give these cases",
        waiting.group_by("province_code", "reason_code").len().sort("province_code").rows(),
    )
    registry = pl.read_parquet(root / "synth/registry.parquet")
    first = own.row(0, named=True)
    unlike_first = registry.filter(
        (pl.col("sex") != registry.filter(pl.col("citizen_id") == first["true_citizen_id"])["sex"].item())
        & ((pl.col("date_of_birth").dt.year() - 1990).abs() > 30)
    )["citizen_id"][0]
    cases = {
        "corrected": (first, "corrected", first["true_citizen_id"]),  # a row without data defects
        "reject": (own.row(1, named=True), "reject", None),
        "malformed": (own.row(2, named=True), "corrected", "12345"),
        "unconfirmed": (own.row(3, named=True), "corrected", unlike_first),  # someone of another sex and age
        "formula": (own.row(4, named=True), "accept 1", None),  # written as ="reject", cached "accept 1"
        "accept": (in_review.row(0, named=True), "accept 1", None),  # withdrawn on night 3
        "wrong_province": (other.row(0, named=True), "accept 1", None),
    }
    filled = pl.DataFrame(
        {
            ROW_KEY_COLUMN: [f"{row['file_hash']}:{row['source_row']}" for row, _, _ in cases.values()],
            "filled_decision": [decision for _, decision, _ in cases.values()],
            "filled_corrected_id": [corrected for _, _, corrected in cases.values()],
        }
    )
    report = next((root / f"reports/{NIGHT_1}/provinces/{province_folder(province)}").glob("*.xlsx"))
    reader = fastexcel.read_excel(report)
    decisions = root / "decisions"
    folder = decisions / province_folder(province)
    # The night that wrote the report made the province's drop folder, owner-only.
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
    formula_key = filled[ROW_KEY_COLUMN][4]
    reviewed = folder / f"mismatch_{province}_{NIGHT_1}_reviewed.xlsx"
    csv_row = own.row(5, named=True)
    with xlsxwriter.Workbook(reviewed, {"strings_to_numbers": False}) as workbook:
        for sheet in reader.sheet_names:
            if sheet == INSTRUCTIONS_SHEET:
                frame = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
                key, value = frame.columns[:2]
                frame = frame.with_columns(
                    pl.when(pl.col(key) == REVIEWER_KEY)
                    .then(pl.lit("Trần Thị B"))
                    .otherwise(value)
                    .alias(value)
                )
                _write_sheet(workbook.add_worksheet(sheet), frame, header=False)
                continue
            # Headers are "Vietnamese label\n(code)"; a reviewer's tool may write the codes back alone.
            frame = reader.load_sheet(sheet, dtypes="string").to_polars().rename(header_code)
            if DECISION_COLUMN not in frame.columns:
                continue
            # The other province's row is pasted once, into the sheet holding the first case.
            holds_first = frame[ROW_KEY_COLUMN].is_in(filled[ROW_KEY_COLUMN].head(1).implode()).any()
            pasted = filled.tail(1) if holds_first else filled.clear()
            frame = _fill(frame, filled, pasted)
            worksheet = workbook.add_worksheet(sheet)
            _write_sheet(worksheet, frame, header=True)
            if formula_key in frame[ROW_KEY_COLUMN].to_list():
                line = frame[ROW_KEY_COLUMN].to_list().index(formula_key) + 1
                worksheet.write_formula(
                    line, frame.columns.index(DECISION_COLUMN), '="reject"', None, "accept 1"
                )
            if f"{csv_row['file_hash']}:{csv_row['source_row']}" in frame[ROW_KEY_COLUMN].to_list():
                _save_line_as_semicolon_cp1258(folder / "one_line.csv", frame, csv_row)
    shutil.copy(reviewed, folder / "reviewed (1).xlsx")  # a byte-identical copy, same night
    shutil.copy(reviewed, decisions / reviewed.name)  # the same file at the top level: no province
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    with xlsxwriter.Workbook(folder / "whole_sheet.xlsx") as bomb:
        sheet = bomb.add_worksheet("review_required")
        sheet.write_string(0, 0, "decision")
        sheet.write_string(1048575, 16383, "x")
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    return {
        name: {"file_hash": row["file_hash"], "source_row": row["source_row"]}
        for name, (row, _, _) in {**cases, "csv_reject": (csv_row, "reject", None)}.items()
    }


def _write_withdrawal(root: Path, row: dict[str, object]) -> None:
    """A CSV with one `withdraw` line, its row key and token copied from the night-1 report."""
    key = f"{row['file_hash']}:{row['source_row']}"
    report, line = _report_line(root, key)
    (root / "decisions" / report.parent.name / "withdrawal.csv").write_text(
        f"row_key,row_token,decision,reviewer,note\n{key},{line['row_token']},withdraw,Trần Thị B,chọn nhầm\n"
    )


def _rescored_row(root: Path) -> dict[str, object] | None:
    """An open row in review after night 2, and a citizen not offered for it now: the one an older report
    (of the night-1 run) showed as candidate 1 before the row was scored again."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.sql(
            """
            select b.file_hash, b.source_row,
                   (select min(r.citizen_id) from review_candidates r
                    where r.citizen_id not in (select citizen_id from review_candidates c
                                               where c.file_hash = b.file_hash and c.source_row = b.source_row))
                       as shown_citizen_id
            from open_backlog b
            where b.reason_code = 'review_required' and b.first_seen_on = $night_1
              and (b.file_hash, b.source_row) not in (select file_hash, source_row from review_decisions)
            order by b.file_hash, b.source_row limit 1
            """,
            params={"night_1": NIGHT_1},
        ).pl()
    return rows.row(0, named=True) if rows.height else None


def _write_old_accept(root: Path, row: dict[str, object]) -> None:
    """`accept 1` with the row's night-1 token and a candidate token as that older report signed it."""
    key = f"{row['file_hash']}:{row['source_row']}"
    report, line = _report_line(root, key)
    run_id = str(line["row_token"]).rsplit(".", 1)[0]
    secret = decision_secret(Settings(warehouse_path=root / "warehouse.duckdb"))
    shown = candidate_token(run_id, key, str(row["shown_citizen_id"]), secret)
    (root / "decisions" / report.parent.name / "old_accept.csv").write_text(
        f"row_key,row_token,candidate_1_token,decision,reviewer\n{key},{line['row_token']},{shown},accept 1,Trần Thị B\n"
    )


def _report_line(root: Path, key: str) -> tuple[Path, dict[str, object]]:
    """The night-1 report holding the row, and the row's line in it."""
    for report in sorted((root / f"reports/{NIGHT_1}/provinces").rglob("*.xlsx")):
        reader = fastexcel.read_excel(report)
        for sheet in reader.sheet_names:
            frame = reader.load_sheet(sheet, dtypes="string").to_polars().rename(header_code)
            if ROW_KEY_COLUMN in frame.columns and key in frame[ROW_KEY_COLUMN].to_list():
                return report, frame.filter(pl.col(ROW_KEY_COLUMN) == key).row(0, named=True)
    raise AssertionError(f"no night-1 report holds {key}")


def _write_sheet(worksheet: Worksheet, frame: pl.DataFrame, *, header: bool) -> None:
    if header:
        worksheet.write_row(0, 0, frame.columns)
    for index, values in enumerate(frame.iter_rows(), start=int(header)):
        worksheet.write_row(index, 0, ["" if value is None else value for value in values])


def _save_line_as_semicolon_cp1258(path: Path, frame: pl.DataFrame, row: dict[str, object]) -> None:
    """One line saved as a semicolon CSV in Windows-1258 by a reviewer without the instructions sheet."""
    key = f"{row['file_hash']}:{row['source_row']}"
    line = frame.filter(pl.col(ROW_KEY_COLUMN) == key).row(0, named=True)
    text = (
        f"row_key;row_token;decision;reviewer;note\n{key};{line['row_token']};reject;Lê Văn Đào;đã gọi điện\n"
    )
    path.write_bytes(_cp1258(text))


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: a letter without its tone, then the tone as a combining mark."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for char in text:  # a few dozen characters of test data
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(mark for mark in decomposed if mark not in tones))
        out += (base + "".join(mark for mark in decomposed if mark in tones)).encode("cp1258")
    return bytes(out)


def _fill(sheet: pl.DataFrame, filled: pl.DataFrame, pasted: pl.DataFrame) -> pl.DataFrame:
    """Write the decisions on the sheet's own lines, and paste in the lines of rows it does not hold."""
    sheet = pl.concat([sheet, pasted.select(ROW_KEY_COLUMN)], how="diagonal")
    return (
        sheet.join(filled, on=ROW_KEY_COLUMN, how="left", maintain_order="left")
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
    # All but the rows reviewers decided on (one corrected; two rejected and one unconfirmed correction,
    # held; one accepted, then withdrawn) resolve by the re-match itself, give or take a few the linker
    # still sends to review.
    assert counts.get("rematched", 0) >= waiting_rows.height - 5 - 3
    assert counts.get("corrected_id") == 1
    posted = query(
        nights,
        """select s.citizen_id, b.file_hash, b.source_row from unposted_backlog b
           join synced_shots s on s.shot_id = b.resolved_shot_id""",
    )
    truth = waiting_rows.select("file_hash", "source_row", "true_citizen_id")
    checked = posted.join(truth, on=["file_hash", "source_row"])
    assert checked.height >= waiting_rows.height - 4 - 3
    assert (checked["citizen_id"] == checked["true_citizen_id"]).all(), (
        "a re-matched row posted on the wrong citizen"
    )


def audit_by_case(nights: dict[str, object]) -> dict[str, pl.DataFrame]:
    decided = nights["decided"]
    assert isinstance(decided, dict)
    audit = query(nights, "select * from review_decisions")
    return {
        case: audit.filter(
            (pl.col("file_hash") == key["file_hash"]) & (pl.col("source_row") == key["source_row"])
        ).sort("decision_file_hash", "sheet_row")
        for case, key in decided.items()
    }


def test_decisions_are_applied_or_rejected_and_audited(nights: dict[str, object]) -> None:
    outcome = audit_by_case(nights)
    # Each case once from the province's file, and once from its copy at the top level (all refused there).
    top_level = "not_in_province_folder"
    assert {case: sorted(rows["rejection_reason"].to_list(), key=str) for case, rows in outcome.items()} == {
        "corrected": [None, top_level],
        "reject": [None, top_level],
        "malformed": ["malformed_id", top_level],
        "unconfirmed": ["correction_not_confirmed", top_level],
        "formula": ["formula_cell", top_level],
        "accept": [None, None, top_level],  # night 2's accept, night 3's withdraw
        "wrong_province": [top_level, "wrong_province"],
        "csv_reject": [None],
    }
    assert set(query(nights, "select reviewer from review_decisions")["reviewer"]) == {
        "Trần Thị B",
        "Lê Văn Đào",
    }
    csv_line = outcome["csv_reject"].row(0, named=True)
    assert (csv_line["note"], csv_line["reviewer"]) == ("đã gọi điện", "Lê Văn Đào")
    unconfirmed = (
        outcome["unconfirmed"]
        .filter(pl.col("rejection_reason") == "correction_not_confirmed")
        .row(0, named=True)
    )
    assert unconfirmed["rejection_detail"].startswith("differs: ")
    corrected = backlog_row(nights, "corrected")
    assert corrected["resolution"] == "corrected_id"
    applied = outcome["corrected"].filter(pl.col("status") == "applied")
    assert applied["after_shot_id"].item() == corrected["resolved_shot_id"]
    method = query(
        nights, f"select match_method from synced_shots where shot_id = '{corrected['resolved_shot_id']}'"
    )
    assert method.item() == "review_decision"
    # The reviewers' rejections hold even though the complete registry would now match the rows; so does
    # a correction that did not confirm (tonight), instead of posting on the citizen the reviewer doubted.
    for case in ("reject", "csv_reject"):
        rejected = backlog_row(nights, case)
        assert (rejected["resolved_run_id"], rejected["reason_code"]) == (None, "reviewer_rejected")
    held = backlog_row(nights, "unconfirmed")
    assert (held["resolved_run_id"], held["reason_code"]) == (None, "review_required")
    # The accepted link was labelled data for the night's model fit.
    fitted = query(
        nights, "select json_extract(model_json, '$.fitted.accepted_pairs')::int as n from match_models"
    )
    assert fitted["n"].max() == 2  # the corrected ID and the accept
    # A refused decision changes nothing by itself; the nightly re-match still resolves the row.
    assert backlog_row(nights, "malformed")["resolution"] == "rematched"
    # The formula's cached "accept 1" was not applied: the row is the linker's to resolve, not a reviewer's.
    assert backlog_row(nights, "formula")["resolution"] in (None, "rematched")


def test_bad_decision_files_are_quarantined_with_a_reason_and_copies_read_once(
    nights: dict[str, object],
) -> None:
    files = query(
        nights,
        """select decision_file, status, quarantine_reason, identical_copies, decisions_read
           from review_decision_files order by decision_file""",
    )
    by_name = {row["decision_file"].rsplit("/", 1)[-1]: row for row in files.iter_rows(named=True)}
    assert {name: row["quarantine_reason"] for name, row in by_name.items() if row["status"] != "read"} == {
        "passwd.csv": "symlink",
        "whole_sheet.xlsx": "workbook_too_large",
        "broken.xlsx": "unreadable_file",
    }
    province_copies = files.filter(
        pl.col("decision_file").str.contains("/") & pl.col("decision_file").str.contains("reviewed")
    )
    assert province_copies.select("identical_copies", "decisions_read").rows() == [(1, 7)]
    assert by_name["one_line.csv"]["decisions_read"] == 1


def test_the_next_report_lists_the_refused_lines_first_with_the_reason_in_vietnamese(
    nights: dict[str, object],
) -> None:
    root, decided = nights["root"], nights["decided"]
    assert isinstance(root, Path) and isinstance(decided, dict)
    province = query(
        nights,
        f"select province_code from unposted_backlog where file_hash = '{decided['reject']['file_hash']}' "
        f"and source_row = {decided['reject']['source_row']}",
    ).item()
    report = next((root / f"reports/{NIGHT_2}/provinces/{province_folder(province)}").glob("*.xlsx"))
    reader = fastexcel.read_excel(report)
    assert reader.sheet_names[0] == REJECTED_DECISIONS_SHEET
    refused = reader.load_sheet(REJECTED_DECISIONS_SHEET, dtypes="string").to_polars().rename(header_code)
    assert set(refused["rejection_vi"]) >= {
        DECISION_REJECTIONS["malformed_id"].vietnamese,
        DECISION_REJECTIONS["correction_not_confirmed"].vietnamese,
        DECISION_REJECTIONS["formula_cell"].vietnamese,
        DECISION_REJECTIONS["wrong_province"].vietnamese,
        DECISION_FILE_REASONS["symlink"].vietnamese,
    }
    html = report.with_suffix(".html").read_text(encoding="utf-8")
    assert 'id="decisions_rejected"' in html and html.index('id="decisions_rejected"') < html.index(
        'id="summary"'
    )
    assert DECISION_REJECTIONS["formula_cell"].vietnamese in html
    # The run report counts decision files and lines (the night that read them; its re-run reads none).
    counts = [
        report["review_decisions"]
        for report in (json.loads(path.read_text()) for path in (root / "reports").rglob("run_report.json"))
        if report.get("review_decisions", {}).get("files_read")
        and report["run"]["as_of"] == NIGHT_2.isoformat()
    ]
    assert counts, "no run report counted the decision files"
    assert (
        counts[0]["files_read"],
        counts[0]["files_quarantined"],
        counts[0]["identical_copies_skipped"],
    ) == (3, 3, 1)
    assert (counts[0]["lines_read"], counts[0]["lines_applied"]) == (
        7 + 7 + 1,
        4,
    )  # corrected, accept, 2 rejects
    assert counts[0]["lines_read"] == counts[0]["lines_applied"] + counts[0]["lines_rejected"]


def test_nothing_is_lost_and_running_the_night_again_changes_nothing(nights: dict[str, object]) -> None:
    root = nights["root"]
    assert isinstance(root, Path)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        assert conservation_violations(connection) == []
    first, second = nights["summaries"]  # type: ignore[misc]
    assert first["rows_resolved_from_backlog"] > 0
    assert second["rows_resolved_from_backlog"] == 0 and second["rows_in"] == 0
    # Every file once: the province's file (its copy folded in), its top-level copy, the CSV, three quarantined.
    assert (
        query(nights, "select count(*) from review_decision_files").item() == 6 + 2
    )  # + night 3's withdrawal
    assert query(nights, "select count(*) from review_decisions").item() == 7 + 7 + 1 + 2


def test_a_withdrawn_accept_takes_its_posting_back_and_the_row_returns_to_review(
    nights: dict[str, object],
) -> None:
    accepted = nights["accepted"]
    assert isinstance(accepted, pl.DataFrame) and accepted.height == 1
    shot_id, citizen_id = accepted.row(0)
    assert shot_id is not None, "night 2's accept posted a shot"
    # It posted on the citizen the night-1 report showed as candidate 1 (IDs are masked to their last 4).
    root, decided = nights["root"], nights["decided"]
    assert isinstance(root, Path) and isinstance(decided, dict)
    _, line = _report_line(root, f"{decided['accept']['file_hash']}:{decided['accept']['source_row']}")
    assert str(line["candidate_1_id"])[-4:] == citizen_id[-4:]
    assert query(nights, f"select count(*) from synced_shots where shot_id = '{shot_id}'").item() == 0
    retracted = query(
        nights, f"select citizen_id, retraction_reason from retracted_shots where shot_id = '{shot_id}'"
    )
    assert retracted.rows() == [(citizen_id, "posting_withdrawn")]
    row = backlog_row(nights, "accept")
    assert (row["resolved_run_id"], row["resolution"], row["reason_code"]) == (None, None, "review_required")
    withdrawal = audit_by_case(nights)["accept"].filter(pl.col("decision") == "withdraw").row(0, named=True)
    assert (withdrawal["status"], withdrawal["note"]) == ("applied", "chọn nhầm")


def test_an_accept_from_an_older_report_applies_only_to_the_citizen_it_showed(
    nights: dict[str, object],
) -> None:
    rescored = nights["rescored"]
    assert isinstance(rescored, dict), "the data should hold a row in review on both nights"
    keys = f"file_hash = '{rescored['file_hash']}' and source_row = {rescored['source_row']}"
    line = query(nights, f"select status, rejection_reason, report_run_id from review_decisions where {keys}")
    # The citizen the older report showed as candidate 1 is no longer offered: `accept 1` does not apply
    # to whoever is candidate 1 now.
    assert line.select("status", "rejection_reason").rows() == [("rejected", "decision_stale")]
    assert line["report_run_id"].item().startswith(NIGHT_1.isoformat())
    # Nothing posted the row by a review decision (the linker may still resolve it on its own evidence).
    resolution = query(nights, f"select resolution from unposted_backlog where {keys}").item()
    assert resolution in (None, "rematched")
    posted_by_decision = query(
        nights,
        f"""select count(*) from shot_sources s join synced_shots p using (shot_id)
            where s.{keys.replace(" and source_row", " and s.source_row")} and p.match_method = 'review_decision'""",
    )
    assert posted_by_decision.item() == 0
