"""A reviewer replaces their own posted `corrected` in one night, on a hand-written export and registry.

Night 1 lands a row whose ID is in no registry entry: it waits in the backlog. Night 2 the reviewer
corrects it to one of two namesakes (same name, birth date and sex: the correction confirms). Night 3 the
same reviewer, seeing the wrong namesake, corrects it to the other: the old posting is retracted and the
new one posts, in the same night, and the dose counts once. Night 4 the reviewer replaces it again with
an ID that does not confirm: the posting is retracted and the row waits in review, posted to no one.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import polars as pl
import pytest

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.marts.decision_tokens import decision_secret, row_token
from vaxsync.marts.warehouse import conservation_violations
from vaxsync.orchestration.pipeline import run_nightly

pytestmark = pytest.mark.integration

NIGHTS = (dt.date(2023, 1, 31), dt.date(2023, 2, 1), dt.date(2023, 2, 2), dt.date(2023, 2, 3))
WRONG_TWIN, RIGHT_TWIN, GIRL = "001090000011", "001090000012", "001216000013"
REVIEWER = "Trần Thị B"
EXPORT = (
    "Facility name,Full name,Date of birth,Sex,ID number,Vaccine,Lot,Dose,Vaccination date\n"
    "TYT Phường Phúc Xá,Nguyễn Văn An,01/01/1990,Nam,001090000099,Pfizer,P1,1,10/11/2021\n"
    "TYT Phường Phúc Xá,Lê Thị Hoa,05/05/2016,Nữ,001216000013,Pfizer,P2,1,10/11/2022\n"
)


def write_registry(path: Path) -> None:
    people = [
        (WRONG_TWIN, "Nguyễn Văn An", dt.date(1990, 1, 1), "M"),
        (RIGHT_TWIN, "Nguyễn Văn An", dt.date(1990, 1, 1), "M"),
        (GIRL, "Lê Thị Hoa", dt.date(2016, 5, 5), "F"),
    ]
    pl.DataFrame(
        {
            "citizen_id": [p[0] for p in people],
            "legacy_id": [None] * 3,
            "full_name": [p[1] for p in people],
            "date_of_birth": [p[2] for p in people],
            "birth_year": [p[2].year for p in people],
            "sex": [p[3] for p in people],
            "phone": [None] * 3,
            "province_code": ["01"] * 3,
            "district_code": ["001"] * 3,
            "ward_code": ["00001"] * 3,
            "date_of_death": [None] * 3,
        },
        schema=REGISTRY_SCHEMA,
    ).write_parquet(path)


def query(warehouse: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(sql).pl()


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("replacement")
    write_registry(root / "registry.parquet")
    export = root / "landing/01_Ha_Noi/01001001/tiem_chung.csv"
    export.parent.mkdir(parents=True)
    export.write_text(EXPORT, encoding="utf-8")
    warehouse = root / "warehouse.duckdb"

    def settings(as_of: dt.date) -> Settings:
        return Settings(
            registry_path=root / "registry.parquet",
            landing_dir=root / "landing",
            warehouse_path=warehouse,
            reports_dir=root / "reports",
            decisions_dir=root / "decisions",
            as_of=as_of,
        )

    def decide(night: int, corrected_id: str, reviewer: str = REVIEWER) -> None:
        """A CSV line as a reviewer writes it from the night-1 report: the row key and its signed token."""
        row = query(warehouse, "select file_hash, source_row, province_code from unposted_backlog").row(0)
        key = f"{row[0]}:{row[1]}"
        report_run = query(warehouse, "select min(run_id) from pipeline_runs").item()
        token = row_token(report_run, key, row[2], decision_secret(settings(NIGHTS[0])))
        folder = root / "decisions" / row[2]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"quyet_dinh_{night}.csv").write_text(
            f"row_key,row_token,decision,corrected_id,reviewer,note\n"
            f"{key},{token},corrected,{corrected_id},{reviewer},lần {night}\n",
            encoding="utf-8",
        )

    def state() -> dict[str, pl.DataFrame]:
        tables = ("synced_shots", "shot_sources", "retracted_shots", "unposted_backlog", "ingest_ledger")
        after = {name: query(warehouse, f"select * from {name} order by all") for name in tables}
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            assert conservation_violations(connection) == []
        return after

    run_nightly(settings(NIGHTS[0]))
    held = state()
    decide(2, WRONG_TWIN)
    run_nightly(settings(NIGHTS[1]))
    wrong = state()
    decide(3, RIGHT_TWIN)
    run_nightly(settings(NIGHTS[2]))
    right = state()
    run_nightly(settings(NIGHTS[2]))  # the same night again: nothing changes
    again = state()
    for name, frame in right.items():
        assert (
            again[name]
            .drop("run_id", "ingested_at", strict=False)
            .equals(frame.drop("run_id", "ingested_at", strict=False))
        ), name
    decide(4, GIRL)
    run_nightly(settings(NIGHTS[3]))
    return {
        "warehouse": warehouse,
        "states": (held, wrong, right, state()),
        "audit": query(warehouse, "select * from review_decisions order by decided_at"),
    }


def doses(state: dict[str, pl.DataFrame], citizen_id: str) -> list[str]:
    shots = state["synced_shots"].filter(pl.col("citizen_id") == citizen_id)
    return [f"{on} {code}" for on, code in shots.select("vaccinated_on", "vaccine_code").rows()]


def test_the_reviewers_new_correction_replaces_the_old_posting_in_one_night(nights: dict[str, Any]) -> None:
    held, wrong, right, _ = nights["states"]
    assert held["unposted_backlog"].height == 1  # the unknown ID waits; the girl's row posts on her ID
    assert doses(wrong, WRONG_TWIN) == ["2021-11-10 PFIZER"]
    assert doses(right, WRONG_TWIN) == []
    assert doses(right, RIGHT_TWIN) == ["2021-11-10 PFIZER"]  # once
    assert right["synced_shots"].height == 2  # that dose and the girl's own
    retracted = right["retracted_shots"].select("citizen_id", "retraction_reason").rows()
    assert retracted == [(WRONG_TWIN, "posting_replaced")]
    backlog = right["unposted_backlog"].row(0, named=True)
    assert backlog["resolution"] == "corrected_id"
    assert (
        backlog["resolved_shot_id"]
        == right["synced_shots"].filter(pl.col("citizen_id") == RIGHT_TWIN)["shot_id"].item()
    )
    ledger = (
        right["ingest_ledger"].select("rows_read", "rows_posted", "rows_duplicate", "rows_backlog").row(0)
    )
    assert ledger == (2, 2, 0, 0)


def test_each_decision_and_the_replacement_are_in_the_audit(nights: dict[str, Any]) -> None:
    audit = nights["audit"].select(
        "decision", "corrected_id", "status", "rejection_reason", "after_citizen_id", "note"
    )
    assert audit.rows() == [
        ("corrected", WRONG_TWIN, "applied", None, WRONG_TWIN, "lần 2"),
        ("corrected", RIGHT_TWIN, "applied", None, RIGHT_TWIN, "lần 3"),
        ("corrected", GIRL, "rejected", "correction_not_confirmed", None, "lần 4"),
    ]
    assert nights["audit"]["after_shot_id"].is_null().to_list() == [False, False, True]
    # Nights 3 and 4 each replace the reviewer's posted decision (night 4's line is refused, yet it takes
    # the posting back): the audit says so.
    assert nights["audit"]["replaces_earlier_decision"].to_list() == [False, True, True]


def test_a_replacement_that_does_not_confirm_takes_the_posting_back_and_posts_nothing(
    nights: dict[str, Any],
) -> None:
    *_, unconfirmed = nights["states"]
    assert doses(unconfirmed, RIGHT_TWIN) == [] and doses(unconfirmed, WRONG_TWIN) == []
    assert doses(unconfirmed, GIRL) == ["2022-11-10 PFIZER"]  # her own dose only, not the man's
    reasons = sorted(unconfirmed["retracted_shots"].select("citizen_id", "retraction_reason").rows())
    assert reasons == [(WRONG_TWIN, "posting_replaced"), (RIGHT_TWIN, "posting_replaced")]
    row = unconfirmed["unposted_backlog"].row(0, named=True)
    assert (row["resolved_run_id"], row["reason_code"]) == (None, "review_required")
    assert "did not confirm" in row["reason_detail"]
    ledger = unconfirmed["ingest_ledger"].select("rows_posted", "rows_backlog").row(0)
    assert ledger == (1, 1)


def hurried_workbook(report: Path, out: Path, profile: Path, decision: str, corrected_id: str) -> None:
    """The night-1 report filled as a hurried reviewer does (a sloppy decision word, the ID typed with dots
    or spaces, the date re-typed, two blank lines inserted above the row, the reviewer's name with spaces and
    a title), then opened and saved again by LibreOffice Calc."""
    book = openpyxl.load_workbook(report)
    book["instructions"]["B2"] = f"  {REVIEWER}  (CB tiêm chủng)"
    for sheet in book.worksheets:
        codes = [str(cell.value or "").split("(")[-1].rstrip(")") for cell in sheet[1]]
        if "decision" not in codes:
            continue
        column = {code: index for index, code in enumerate(codes)}
        rows = [row for row in sheet.iter_rows(min_row=2) if row[column["source_file"]].value]
        for row in rows:
            row[column["decision"]].value = decision
            row[column["corrected_id"]].value = corrected_id
            sent = row[column["sent_vaccinated_on"]]
            sent.value = str(sent.value).replace("-", "/")
        if rows:
            sheet.insert_rows(rows[0][0].row, 2)
    typed = profile.parent / f"typed_{out.stem}.xlsx"
    book.save(typed)
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", "xlsx",
         "--outdir", str(out.parent), str(typed)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    typed_out = out.parent / typed.name
    typed_out.rename(out)


def office_nights(root: Path) -> Callable[[dt.date], None]:
    """The registry and the export landed under `root`; returns a night runner on its folders."""
    write_registry(root / "registry.parquet")
    export = root / "landing/01_Ha_Noi/01001001/tiem_chung.csv"
    export.parent.mkdir(parents=True)
    export.write_text(EXPORT, encoding="utf-8")

    def night(as_of: dt.date) -> None:
        run_nightly(
            Settings(
                registry_path=root / "registry.parquet", landing_dir=root / "landing",
                warehouse_path=root / "warehouse.duckdb", reports_dir=root / "reports",
                decisions_dir=root / "decisions", as_of=as_of,
            )
        )  # fmt: skip

    return night


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_hurried_reviewers_libreoffice_workbooks_replace_the_posting_once(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    night = office_nights(tmp_path)

    night(NIGHTS[0])
    (report,) = (tmp_path / "reports").rglob("*.xlsx")
    decisions, profile = tmp_path / "decisions" / report.parent.name, tmp_path / "office_profile"
    hurried_workbook(report, decisions / "da_duyet.xlsx", profile, " Corrected ", "001.090.000.011")
    night(NIGHTS[1])
    hurried_workbook(report, decisions / "da_duyet_lai.xlsx", profile, "corrected", "001 090 000012")
    night(NIGHTS[2])
    shots = query(warehouse, "select citizen_id from synced_shots order by all")["citizen_id"].to_list()
    assert shots == [RIGHT_TWIN, GIRL]  # the man's dose once, on the right twin
    audit = query(warehouse, "select status, corrected_id, replaces_earlier_decision from review_decisions")
    assert sorted(audit.rows()) == [("applied", WRONG_TWIN, False), ("applied", RIGHT_TWIN, True)]
    reached = query(warehouse, "select sum(count_reached) from coverage_by_area where milestone = 'dose_1'")
    assert reached.item() == 2
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert conservation_violations(connection) == []


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_hurried_libreoffice_workbooks_sent_twice_or_on_a_resent_file_are_refused_as_such(
    tmp_path: Path,
) -> None:
    """The refusals of re-sent corrections, on workbooks a hurried reviewer filled and LibreOffice saved:
    the same workbook sent again changes nothing (`decision_in_effect`); a workbook naming a row of a file
    the facility re-sends that night is refused as `row_file_resent`, and the row waits under its new key."""
    export, warehouse = tmp_path / "landing/01_Ha_Noi/01001001/tiem_chung.csv", tmp_path / "warehouse.duckdb"
    night = office_nights(tmp_path)

    def audit() -> list[tuple[str, str | None]]:
        return query(
            warehouse, "select status, rejection_reason from review_decisions order by decided_at, status"
        ).rows()

    night(NIGHTS[0])
    (report,) = (tmp_path / "reports").rglob("*.xlsx")
    decisions, profile = tmp_path / "decisions" / report.parent.name, tmp_path / "office_profile"
    hurried_workbook(report, decisions / "da_duyet.xlsx", profile, "Corrected", "001.090.000.012")
    night(NIGHTS[1])
    posted = query(warehouse, "select * exclude (run_id) from synced_shots order by all")
    assert sorted(posted["citizen_id"].to_list()) == [RIGHT_TWIN, GIRL]

    hurried_workbook(report, decisions / "da_duyet_gui_lai.xlsx", profile, " corrected", "001090000012")
    night(NIGHTS[2])
    assert query(warehouse, "select * exclude (run_id) from synced_shots order by all").equals(posted)
    assert query(warehouse, "select count(*) from retracted_shots").item() == 0
    assert audit() == [("applied", None), ("rejected", "decision_in_effect")]

    # Night 4: a new row appears in the re-sent file, and a workbook decided on night 1's report (whose
    # rows belong to the version replaced tonight) arrives the same night.
    export.write_text(EXPORT + EXPORT.splitlines()[1].replace("P1,1,10/11/2021", "P1,2,10/12/2021") + "\n")
    hurried_workbook(report, decisions / "da_duyet_muon.xlsx", profile, "CORRECTED", "001 090 000 011")
    night(NIGHTS[3])
    assert audit()[-1] == ("rejected", "row_file_resent"), audit()
    shots = query(warehouse, "select citizen_id from synced_shots order by all")["citizen_id"].to_list()
    assert shots.count(RIGHT_TWIN) == 1 and WRONG_TWIN not in shots, shots  # carried, not moved
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert conservation_violations(connection) == []
