"""File re-sends over several nights, on hand-written CSV exports, an XLSX saved by LibreOffice Calc
(tests/fixtures/resends, scripts/make_resend_fixtures.py) and a hand-built registry.

Night 1 lands a facility's export (A), another facility's copy of one dose, a file that will come back
under a new name, and a file that a later, different file will partly repeat. Night 2 brings the corrected
re-send of A at the same path (a date fixed, AstraZeneca changed to Pfizer, a vague vaccine made specific,
two rows deleted), the renamed re-send and the partly repeating new file; night 3 lands the old A again
(flip-flop). Every night runs twice: the second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import fastexcel
import polars as pl
import pytest

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.decision_sheet import header_code
from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import conservation_violations
from vaxsync.orchestration.pipeline import run_nightly
from vaxsync.reports.run_report import build_run_report, render_run_report_html

pytestmark = pytest.mark.integration

NIGHTS = (dt.date(2023, 1, 31), dt.date(2023, 2, 1), dt.date(2023, 2, 2))
HEADER = "Facility name,Full name,Date of birth,Sex,ID number,Vaccine,Lot,Dose,Vaccination date\n"
FACILITY_A = "TYT Phường Phúc Xá"
FACILITY_C = "Bệnh viện Đa khoa Hà Đông"

# (citizen_id, full name, birth date, sex); the CCCD's 4th digit is century and sex, then the birth year.
PEOPLE = {
    "vero": ("001085000101", "Nguyễn Văn Hùng", dt.date(1985, 3, 2), "M"),
    "astra": ("001190000202", "Trần Thị Mai", dt.date(1990, 7, 14), "F"),
    "copied": ("001304000404", "Lê Thị Hồng Nhung", dt.date(2004, 9, 1), "F"),
    "child": ("001216000303", "Phạm Minh Khôi", dt.date(2016, 5, 10), "M"),
    "deleted": ("001078000505", "Hoàng Văn Nam", dt.date(1978, 1, 20), "M"),
    **{
        f"filler{n}": (f"0010{70 + n}0006{n:02d}", name, dt.date(1970 + n, 2, 1 + n), "M")
        for n, name in enumerate(
            ["Đỗ Văn An", "Bùi Văn Bình", "Vũ Văn Cường", "Đặng Văn Dũng", "Ngô Văn Giang",
             "Dương Văn Hải", "Lý Văn Khánh", "Hồ Văn Lâm", "Mai Văn Long", "Tạ Văn Minh",
             "Phan Văn Nghĩa", "Trịnh Văn Phúc"]
        )
    },
}  # fmt: skip


def line(person: str, vaccine: str, on: str, lot: str, dose: int, facility: str = FACILITY_A) -> str:
    citizen_id, name, born, sex = PEOPLE[person]
    day = dt.date.fromisoformat(on)
    return f"{facility},{name},{born:%d/%m/%Y},{'Nam' if sex == 'M' else 'Nữ'},{citizen_id},{vaccine},{lot},{dose},{day:%d/%m/%Y}\n"


EXPORT_A = [
    line("vero", "Vero Cell", "2021-09-01", "V1", 1),  # the wrong date: corrected to 2021-09-08
    line("vero", "Vero Cell", "2021-10-06", "V2", 2),
    line("astra", "AstraZeneca", "2021-11-10", "A1", 1),  # corrected to Pfizer
    line("astra", "Vắc xin Covid", "2021-12-20", "P2", 2),  # vague: made specific (Pfizer)
    line("deleted", "Moderna", "2022-03-01", "M1", 1),  # deleted in the correction
    line("copied", "Pfizer", "2022-02-01", "P9", 1),  # deleted too, but another facility reported it
    line("copied", "AstraZeneca", "2021-10-01", "A7", 1),  # 17 on the day (approved from 18): a real dose
    line("child", "Moderna", "2022-04-20", "M5", 1),  # 5 on the day (approved from 6): a real dose
]
EXPORT_A_CORRECTED = [
    line("vero", "Vero Cell", "2021-09-08", "V1", 1),
    EXPORT_A[1],
    line("astra", "Pfizer", "2021-11-10", "P1", 1),
    line("astra", "Pfizer", "2021-12-20", "P2", 2),
    EXPORT_A[6],
    EXPORT_A[7],
]
EXPORT_C = [line("copied", "Pfizer", "2022-02-01", "P9", 1, facility=FACILITY_C)]
FILLERS = [f"filler{n}" for n in range(12)]
RENAMED_V1 = [line(p, "Pfizer", "2021-08-15", "R1", 1, facility="TYT Phường Trúc Bạch") for p in FILLERS[:10]]
RENAMED_V2 = RENAMED_V1[:9]  # the last row deleted, under a new file name
RENAMED_V2_XLSX = Path(__file__).parents[1] / "fixtures/resends/ds_tiem_sua_lai.xlsx"
REPEATING_V1 = [
    line(p, "Moderna", "2022-05-03", "S1", 2, facility="TYT Phường Quán Thánh") for p in FILLERS[:10]
]
# A different file of the same facility and period: 4 of its rows repeat the first file, 8 are new.
REPEATING_NEW = REPEATING_V1[:4] + [
    line(p, "Moderna", "2022-05-04", "S2", 3, facility="TYT Phường Quán Thánh") for p in FILLERS[4:12]
]
PATHS = {
    "a": "01_Ha_Noi/01001001/tiem_chung_thang.csv",
    "c": "01_Ha_Noi/01009001/bao_cao.csv",
    "renamed_v1": "01_Ha_Noi/01001002/ds_tiem.csv",
    "renamed_v2": "01_Ha_Noi/01001002/ds_tiem_sua_lai.xlsx",  # saved by LibreOffice Calc
    "repeating_v1": "01_Ha_Noi/01001003/dot_1.csv",
    "repeating_new": "01_Ha_Noi/01001003/dot_2.csv",
}


def write_export(landing: Path, name: str, lines: list[str]) -> None:
    path = landing / PATHS[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(lines), encoding="utf-8")


def write_registry(path: Path) -> None:
    people = list(PEOPLE.values())
    pl.DataFrame(
        {
            "citizen_id": [p[0] for p in people],
            "legacy_id": [None] * len(people),
            "full_name": [p[1] for p in people],
            "date_of_birth": [p[2] for p in people],
            "birth_year": [p[2].year for p in people],
            "sex": [p[3] for p in people],
            "phone": [None] * len(people),
            "province_code": ["01"] * len(people),
            "district_code": ["001"] * len(people),
            "ward_code": ["00001"] * len(people),
            "date_of_death": [None] * len(people),
        },
        schema=REGISTRY_SCHEMA,
    ).write_parquet(path)


def query(warehouse: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(sql).pl()


def snapshot(warehouse: Path) -> dict[str, pl.DataFrame]:
    tables = ("synced_shots", "shot_sources", "retracted_shots", "unposted_backlog", "shot_conflicts",
              "file_versions", "file_version_changes")  # fmt: skip
    return {name: query(warehouse, f"select * exclude (run_id) from {name} order by all") for name in tables}


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("resends")
    landing = root / "landing"
    write_registry(root / "registry.parquet")

    run_ids: list[str] = []
    coverage: list[pl.DataFrame] = []  # each night's coverage_by_area (the table holds the latest night only)

    def run_twice(as_of: dt.date) -> dict[str, pl.DataFrame]:
        settings = Settings(
            registry_path=root / "registry.parquet",
            landing_dir=landing,
            warehouse_path=root / "warehouse.duckdb",
            reports_dir=root / "reports",
            decisions_dir=root / "decisions",
            as_of=as_of,
        )
        run_ids.append(run_nightly(settings)["run_id"])
        after = snapshot(root / "warehouse.duckdb")
        coverage.append(query(root / "warehouse.duckdb", "select * from coverage_by_area"))
        run_nightly(settings)  # the same night again
        again = snapshot(root / "warehouse.duckdb")
        for name, frame in after.items():
            assert again[name].equals(frame), f"running {as_of} again changed {name}"
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
            assert conservation_violations(connection) == []
        return after

    for name, lines in (
        ("a", EXPORT_A),
        ("c", EXPORT_C),
        ("renamed_v1", RENAMED_V1),
        ("repeating_v1", REPEATING_V1),
    ):
        write_export(landing, name, lines)
    night_1 = run_twice(NIGHTS[0])
    write_export(landing, "a", EXPORT_A_CORRECTED)
    # The renamed re-send comes back as a workbook, RENAMED_V2 saved by LibreOffice Calc (made by
    # scripts/make_resend_fixtures.py): row keys compare normalized values, whatever the format.
    (landing / PATHS["renamed_v2"]).write_bytes(RENAMED_V2_XLSX.read_bytes())
    write_export(landing, "repeating_new", REPEATING_NEW)
    # The same night brings bad decision files: the night with re-sends still completes.
    decisions = root / "decisions" / "01"
    decisions.mkdir(parents=True, exist_ok=True)
    (decisions / "mismatch_01_reviewed.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (decisions / "mismatch_01_reviewed.csv").write_text(
        "row_key;decision\nnot-a-key;accept 9\n", encoding="utf-8"
    )
    night_2 = run_twice(NIGHTS[1])
    write_export(landing, "a", EXPORT_A)  # the old version again
    night_3 = run_twice(NIGHTS[2])
    settings = Settings(
        warehouse_path=root / "warehouse.duckdb", work_dir=root / "report_work", as_of=NIGHTS[1]
    )
    return {
        "root": root,
        "warehouse": root / "warehouse.duckdb",
        "nights": (night_1, night_2, night_3),
        "coverage": coverage,
        "night_2_report": build_run_report(settings, run_ids[1]),
    }


def test_the_facilitys_province_report_says_what_each_resent_file_changed(nights: dict[str, Any]) -> None:
    folder = nights["root"] / "reports" / NIGHTS[1].isoformat() / "provinces" / "01"
    workbook = fastexcel.read_excel(folder / f"mismatch_01_{NIGHTS[1].isoformat()}.xlsx")
    assert "resent_files" in workbook.sheet_names
    sheet = workbook.load_sheet_by_name("resent_files", dtypes="string").to_polars()
    sheet = sheet.rename({name: header_code(name) for name in sheet.columns})
    changes = {
        (row["source_file"], row["change_en"].split(":")[0], row["citizen_id"], row["vaccine_code"], row["vaccinated_on"])
        for row in sheet.iter_rows(named=True)
    }  # fmt: skip

    def masked(person: str) -> str:
        return "********" + PEOPLE[person][0][-4:]

    a, renamed = PATHS["a"], PATHS["renamed_v2"]
    assert changes == {
        (a, "added", masked("vero"), "VERO_CELL", "2021-09-08"),
        (a, "added", masked("astra"), "PFIZER", "2021-11-10"),
        (a, "added", masked("astra"), "PFIZER", "2021-12-20"),
        (a, "replaced", masked("vero"), "VERO_CELL", "2021-09-01"),
        (a, "replaced", masked("astra"), "ASTRAZENECA", "2021-11-10"),
        (a, "retracted", masked("deleted"), "MODERNA", "2022-03-01"),
        (a, "kept", masked("vero"), "VERO_CELL", "2021-10-06"),
        (a, "kept", masked("copied"), "ASTRAZENECA", "2021-10-01"),
        (a, "kept", masked("child"), "MODERNA", "2022-04-20"),
        (renamed, "retracted", masked("filler9"), "PFIZER", "2021-08-15"),
        *{(renamed, "kept", masked(person), "PFIZER", "2021-08-15") for person in FILLERS[:9]},
    }
    # The per-file counts agree with file_version_changes (replaced shots are among the retracted ones).
    night_2 = nights["nights"][1]
    for change in night_2["file_version_changes"].iter_rows(named=True):
        rows = (
            sheet.filter(pl.col("source_file") == change["source_file"])["change_en"]
            .str.split(":")
            .list.first()
        )
        assert (rows == "kept").sum() == change["shots_kept"]
        assert (rows == "added").sum() == change["shots_added"]
        assert rows.is_in(["retracted", "replaced"]).sum() == change["shots_retracted"]
        assert (rows == "replaced").sum() == change["shots_replaced"]
    page = (folder / f"mismatch_01_{NIGHTS[1].isoformat()}.html").read_text(encoding="utf-8")
    assert 'id="resent_files"' in page and "Tệp gửi lại" in page and PATHS["renamed_v2"] in page
    for person in ("vero", "astra", "deleted", "copied", "child"):  # IDs only masked, in both files
        assert PEOPLE[person][0] not in page
        assert not any(sheet.select(pl.all().str.contains(PEOPLE[person][0], literal=True).any()).row(0))


def test_a_province_report_lists_only_its_own_resent_files(nights: dict[str, Any]) -> None:
    provinces = nights["root"] / "reports" / NIGHTS[1].isoformat() / "provinces"
    for folder in provinces.iterdir():
        if folder.name == "01":
            continue
        workbook = fastexcel.read_excel(folder / f"mismatch_{folder.name}_{NIGHTS[1].isoformat()}.xlsx")
        assert "resent_files" not in workbook.sheet_names


def doses(night: dict[str, pl.DataFrame], person: str) -> list[tuple[str, str]]:
    shots = night["synced_shots"].filter(pl.col("citizen_id") == PEOPLE[person][0]).sort("vaccinated_on")
    return [(str(on), code) for on, code in zip(shots["vaccinated_on"], shots["vaccine_code"], strict=True)]


def test_night_1_posts_every_dose_including_those_below_the_approved_age(nights: dict[str, Any]) -> None:
    night_1 = nights["nights"][0]
    assert doses(night_1, "vero") == [("2021-09-01", "VERO_CELL"), ("2021-10-06", "VERO_CELL")]
    assert doses(night_1, "astra") == [("2021-11-10", "ASTRAZENECA")]
    assert doses(night_1, "child") == [("2022-04-20", "MODERNA")]
    assert doses(night_1, "copied") == [("2021-10-01", "ASTRAZENECA"), ("2022-02-01", "PFIZER")]
    flagged = night_1["shot_conflicts"].filter(pl.col("conflict_code") == "below_approved_age")
    assert set(flagged["citizen_id"]) == {PEOPLE["child"][0], PEOPLE["copied"][0]}
    assert set(flagged["action"]) == {"posted_flagged"}
    assert flagged["shot_id"].is_in(night_1["synced_shots"]["shot_id"].implode()).all()
    assert "below_approved_age" not in set(night_1["unposted_backlog"]["reason_code"])


def test_after_the_corrected_resend_the_citizens_hold_exactly_the_corrected_doses(
    nights: dict[str, Any],
) -> None:
    night_2 = nights["nights"][1]
    assert doses(night_2, "vero") == [("2021-09-08", "VERO_CELL"), ("2021-10-06", "VERO_CELL")]
    assert doses(night_2, "astra") == [("2021-11-10", "PFIZER"), ("2021-12-20", "PFIZER")]
    assert doses(night_2, "deleted") == []
    # Deleted from A, but the other facility's copy still supports it.
    assert doses(night_2, "copied") == [("2021-10-01", "ASTRAZENECA"), ("2022-02-01", "PFIZER")]
    assert doses(night_2, "child") == [("2022-04-20", "MODERNA")]
    # Dose numbers follow the corrected history.
    vero = night_2["synced_shots"].filter(pl.col("citizen_id") == PEOPLE["vero"][0]).sort("vaccinated_on")
    assert vero["dose_number"].to_list() == [1, 2]
    # The Pfizer fix was not held against the retracted AstraZeneca.
    assert "two_products_same_day" not in set(night_2["unposted_backlog"]["reason_code"])


def test_retracted_shots_stay_in_history_with_the_version_that_retracted_them(nights: dict[str, Any]) -> None:
    night_2 = nights["nights"][1]
    versions = night_2["file_versions"].filter(pl.col("source_file") == PATHS["a"]).sort("arrived_at")
    old_hash, new_hash = versions["file_hash"].to_list()
    assert versions["recognised_as"].to_list() == ["first_version", "same_path"]
    retracted = (
        night_2["retracted_shots"].filter(pl.col("retracted_by_file_hash") == new_hash).sort("vaccinated_on")
    )
    assert [(str(r["vaccinated_on"]), r["vaccine_code"]) for r in retracted.iter_rows(named=True)] == [
        ("2021-09-01", "VERO_CELL"),
        ("2021-11-10", "ASTRAZENECA"),
        ("2022-03-01", "MODERNA"),
    ]
    assert set(retracted["retraction_reason"]) == {"superseded_by_new_version"}
    assert retracted["restored_run_id"].is_null().all()
    # The old version's rows stay where the ledger placed them, marked as no longer supporting a shot.
    old_sources = night_2["shot_sources"].filter(pl.col("file_hash") == old_hash)
    assert old_sources.height == 7  # the vague row waits in the backlog
    assert set(old_sources["superseded_by_file_hash"]) == {new_hash}
    old_backlog = night_2["unposted_backlog"].filter(pl.col("file_hash") == old_hash)
    assert old_backlog["superseded_by_file_hash"].to_list() == [new_hash]
    change = night_2["file_version_changes"].filter(pl.col("file_hash") == new_hash).row(0, named=True)
    assert (change["shots_retracted"], change["shots_replaced"], change["shots_added"]) == (3, 2, 3)
    assert change["shots_kept"] == 3  # Vero on 2021-10-06 and the two doses below the approved age


def test_a_renamed_resend_is_recognised_and_supersedes_the_old_name(nights: dict[str, Any]) -> None:
    night_2 = nights["nights"][1]
    renamed = night_2["file_versions"].filter(pl.col("source_file") == PATHS["renamed_v2"]).row(0, named=True)
    assert (renamed["recognised_as"], renamed["lineage"]) == ("renamed", PATHS["renamed_v1"])
    assert renamed["row_overlap"] == pytest.approx(0.9)
    assert ("2021-08-15", "PFIZER") not in doses(night_2, "filler9")  # its row was deleted
    assert ("2021-08-15", "PFIZER") in doses(night_2, "filler8")
    old_hash = (
        night_2["file_versions"].filter(pl.col("source_file") == PATHS["renamed_v1"])["file_hash"].item()
    )
    superseded = night_2["shot_sources"].filter(pl.col("file_hash") == old_hash)
    assert set(superseded["superseded_by_file_hash"]) == {renamed["file_hash"]}


def test_a_new_file_that_repeats_some_rows_is_not_a_resend(nights: dict[str, Any]) -> None:
    night_2 = nights["nights"][1]
    new_file = (
        night_2["file_versions"].filter(pl.col("source_file") == PATHS["repeating_new"]).row(0, named=True)
    )
    assert (new_file["recognised_as"], new_file["replaces_file_hash"]) == ("first_version", None)
    # Nothing of the first file is retracted: filler 0..9 keep their 2022-05-03 dose.
    for person in FILLERS[:10]:
        assert ("2022-05-03", "MODERNA") in doses(night_2, person)


def test_the_old_version_sent_again_brings_back_exactly_its_doses(nights: dict[str, Any]) -> None:
    night_1, _, night_3 = nights["nights"]
    for person in ("vero", "astra", "deleted", "copied", "child"):
        assert doses(night_3, person) == doses(night_1, person), person
    assert night_3["file_versions"].filter(pl.col("recognised_as") == "rearrived").height == 1
    restored = night_3["retracted_shots"].filter(pl.col("restored_run_id").is_not_null())
    assert restored.height == 3
    # The corrected version's own doses are retracted in their turn.
    old_hash = night_3["file_versions"].filter(pl.col("recognised_as") == "rearrived")["file_hash"].item()
    assert {(str(r["vaccinated_on"]), r["vaccine_code"]) for r in night_3["retracted_shots"].filter(
        pl.col("retracted_by_file_hash") == old_hash).iter_rows(named=True)} == {
        ("2021-09-08", "VERO_CELL"), ("2021-11-10", "PFIZER"), ("2021-12-20", "PFIZER")}  # fmt: skip
    open_backlog = night_3["unposted_backlog"].filter(
        pl.col("superseded_by_file_hash").is_null() & pl.col("resolved_run_id").is_null()
    )
    assert open_backlog["reason_code"].to_list() == ["vaccine_unknown"]  # the vague row, open again


def test_coverage_counts_the_doses_below_the_approved_age(nights: dict[str, Any]) -> None:
    # The child (Moderna at 5) is the registry's only person aged 5-11: reached, as given.
    reached = query(
        nights["warehouse"],
        """select sum(count_population) as population, sum(count_reached) as reached from coverage_by_area
           where milestone = 'dose_1' and age_band = '5-11'""",
    )
    assert reached.rows() == [(1, 1)]


def test_coverage_counts_a_replaced_dose_once(nights: dict[str, Any]) -> None:
    # Night 2 replaces astra's AstraZeneca by Pfizer the same day: the citizen is in retracted_shots and in
    # synced_shots. Coverage reads posted doses only: astra (and copied, AstraZeneca + Pfizer) completed
    # the primary series with two doses; counting the retracted one too would make a booster.
    night_2 = nights["nights"][1]
    astra = PEOPLE["astra"][0]
    assert astra in night_2["retracted_shots"]["citizen_id"].to_list()
    assert doses(night_2, "astra") == [("2021-11-10", "PFIZER"), ("2021-12-20", "PFIZER")]
    women = (
        nights["coverage"][1]
        .filter((pl.col("age_band") == "18-49") & (pl.col("sex") == "F"))
        .group_by("milestone")
        .agg(pl.col("count_reached").sum(), pl.col("count_population").sum())
    )
    reached = dict(
        zip(women["milestone"], women.select("count_reached", "count_population").rows(), strict=True)
    )
    assert reached == {"dose_1": (2, 2), "primary_complete": (2, 2), "booster_1": (0, 2), "booster_2": (0, 2)}
    posted = night_2["synced_shots"]
    assert nights["coverage"][1].filter(pl.col("milestone") == "dose_1")["count_reached"].sum() == (
        posted["citizen_id"].n_unique()
    )


def test_the_run_report_says_what_each_resent_file_changed(nights: dict[str, Any]) -> None:
    report = nights["night_2_report"]
    changes = {item["source_file"]: item for item in report["resent_files"]}
    assert set(changes) == {PATHS["a"], PATHS["renamed_v2"]}
    corrected = changes[PATHS["a"]]
    assert (corrected["recognised_as"], corrected["shots_retracted"], corrected["shots_replaced"]) == (
        "same_path",
        3,
        2,
    )
    assert (
        changes[PATHS["renamed_v2"]]["recognised_as"],
        changes[PATHS["renamed_v2"]]["shots_retracted"],
    ) == ("renamed", 1)
    publish = report["stages"]["publish"]
    assert (publish["files_replacing_a_version"], publish["shots_retracted"], publish["shots_replaced"]) == (
        2,
        4,
        2,
    )
    page = render_run_report_html(report)
    assert "Files sent again (2)" in page and PATHS["renamed_v2"] in page


# --- a row held against a shot that a re-send retracts -------------------------------------------------------

HELD_PATHS = {"a": "01_Ha_Noi/01001001/thang_11.csv", "c": "01_Ha_Noi/01009001/thang_11.csv"}


def run_night(root: Path, as_of: dt.date) -> dict[str, pl.DataFrame]:
    """One night, run twice: the second run changes nothing; the warehouse conserves every row."""
    settings = Settings(
        registry_path=root / "registry.parquet",
        landing_dir=root / "landing",
        warehouse_path=root / "warehouse.duckdb",
        reports_dir=root / "reports",
        decisions_dir=root / "decisions",
        as_of=as_of,
    )
    run_nightly(settings)
    after = snapshot(root / "warehouse.duckdb")
    run_nightly(settings)
    assert all(snapshot(root / "warehouse.duckdb")[name].equals(frame) for name, frame in after.items())
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        assert conservation_violations(connection) == []
    return after


def write_held_export(root: Path, name: str, lines: list[str]) -> None:
    path = root / "landing" / HELD_PATHS[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(lines), encoding="utf-8")


def test_a_row_held_against_a_shot_that_a_resend_retracts_posts_that_night(tmp_path: Path) -> None:
    """Night 1 posts facility A's AstraZeneca; night 2 facility C reports Pfizer the same day for the same
    person: held as two_products_same_day. Night 3, A's corrected file drops its AstraZeneca row: the
    AstraZeneca is retracted and C's Pfizer, nothing else holding it, posts the same night."""
    write_registry(tmp_path / "registry.parquet")
    kept = line("vero", "Vero Cell", "2021-10-06", "V2", 2)
    write_held_export(tmp_path, "a", [kept, line("astra", "AstraZeneca", "2021-11-10", "A1", 1)])
    night_1 = run_night(tmp_path, NIGHTS[0])
    assert doses(night_1, "astra") == [("2021-11-10", "ASTRAZENECA")]
    write_held_export(tmp_path, "c", [line("astra", "Pfizer", "2021-11-10", "P1", 1, facility=FACILITY_C)])
    night_2 = run_night(tmp_path, NIGHTS[1])
    held = night_2["unposted_backlog"].filter(pl.col("source_file") == HELD_PATHS["c"])
    assert held["reason_code"].to_list() == ["two_products_same_day"]
    assert doses(night_2, "astra") == [("2021-11-10", "ASTRAZENECA")]
    write_held_export(tmp_path, "a", [kept])
    night_3 = run_night(tmp_path, NIGHTS[2])
    assert doses(night_3, "astra") == [("2021-11-10", "PFIZER")]
    resolved = night_3["unposted_backlog"].filter(pl.col("source_file") == HELD_PATHS["c"]).row(0, named=True)
    assert (resolved["resolution"], resolved["resolved_shot_id"]) == (
        "rematched",
        night_3["synced_shots"].filter(pl.col("citizen_id") == PEOPLE["astra"][0])["shot_id"].item(),
    )
    retracted = night_3["retracted_shots"]
    assert retracted.select("vaccine_code", "retraction_reason").rows() == [
        ("ASTRAZENECA", "superseded_by_new_version")
    ]
    assert doses(night_3, "vero") == [("2021-10-06", "VERO_CELL")]


STALE_PATHS = {"v": "01_Ha_Noi/01001002/ds_tiem.csv", "old_renamed": "01_Ha_Noi/01001002/ds_tiem_ban_cu.csv"}


@pytest.mark.parametrize(
    "corrected",
    [("filler10",), ("filler8", "filler9", "filler10")],
    ids=["one row corrected: 10 of 11 rows still shared", "three corrected: 8 of 11 shared, under 80 %"],
)
def test_an_old_version_landed_again_under_a_new_name_does_not_roll_back_the_correction(
    tmp_path: Path, corrected: tuple[str, ...]
) -> None:
    """Night 1 posts a file with some dates wrong; night 2 corrects them at the same path. Night 3 the
    night-1 export lands again under a new name, byte-different (saved with CRLF): it shares all 11 rows
    with the version the correction replaced, and fewer with the current one (10: enough for a renamed
    re-send; or 8, too few, so before it was a new file whose wrong dates posted beside the corrected
    ones). It must not replace the correction nor add to it: its rows wait for review, nothing is posted
    or retracted, and each corrected person keeps the corrected date only."""
    write_registry(tmp_path / "registry.parquet")

    def export(dates: dict[str, str]) -> str:
        rows = [
            line(p, "Pfizer", dates.get(p, "2021-08-15"), "R1", 1, facility="TYT Phường Trúc Bạch")
            for p in FILLERS[:11]
        ]
        return HEADER + "".join(rows)

    landing = tmp_path / "landing"
    (landing / STALE_PATHS["v"]).parent.mkdir(parents=True)
    (landing / STALE_PATHS["v"]).write_text(export(dict.fromkeys(corrected, "2021-08-01")), encoding="utf-8")
    run_night(tmp_path, NIGHTS[0])
    (landing / STALE_PATHS["v"]).write_text(export(dict.fromkeys(corrected, "2021-08-16")), encoding="utf-8")
    night_2 = run_night(tmp_path, NIGHTS[1])
    assert all(doses(night_2, person) == [("2021-08-16", "PFIZER")] for person in corrected)
    old = export(dict.fromkeys(corrected, "2021-08-01")).replace("\n", "\r\n")
    (landing / STALE_PATHS["old_renamed"]).write_bytes(old.encode("utf-8"))
    night_3 = run_night(tmp_path, NIGHTS[2])
    assert all(doses(night_3, person) == [("2021-08-16", "PFIZER")] for person in corrected)
    assert night_3["synced_shots"].equals(night_2["synced_shots"])
    assert night_3["retracted_shots"].equals(night_2["retracted_shots"])
    arrival = night_3["file_versions"].filter(pl.col("source_file") == STALE_PATHS["old_renamed"])
    assert arrival.select("recognised_as", "replaces_file_hash").rows() == [("old_version_renamed", None)]
    held = night_3["unposted_backlog"].filter(pl.col("source_file") == STALE_PATHS["old_renamed"])
    assert held.height == 11 and set(held["reason_code"]) == {"older_version_resent"}
