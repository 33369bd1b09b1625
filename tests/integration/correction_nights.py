"""A small landing, registry and decisions folder run night after night through `run_nightly`, for the
correction tests (a dose on the wrong citizen, or counted twice): hand-written CSV exports, decision lines
signed as a reviewer's report line is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.marts.decision_tokens import candidate_token, decision_secret, row_token
from vaxsync.marts.warehouse import conservation_violations
from vaxsync.orchestration.pipeline import run_nightly

HEADER = "Facility name,Full name,Date of birth,Sex,ID number,Vaccine,Lot,Dose,Vaccination date\n"
FACILITY = "TYT Phường Phúc Xá"
FACILITY_FOLDER = "01_Ha_Noi/01001001"
REVIEWER = "Trần Thị B"
FIRST_NIGHT = dt.date(2023, 1, 31)


@dataclass(frozen=True)
class Person:
    citizen_id: str
    name: str
    born: dt.date
    sex: str  # M | F


def export_line(person: Person, vaccine: str, on: str, *, born: str | None = None, citizen_id: str | None = None,
                lot: str = "L1", dose: int = 1, facility: str = FACILITY) -> str:  # fmt: skip
    """One export row; `on`, `born` as the facility wrote them (born: dd/mm/yyyy by default)."""
    sex = "Nam" if person.sex == "M" else "Nữ"
    written_id = person.citizen_id if citizen_id is None else citizen_id
    return (
        f"{facility},{person.name},{born or f'{person.born:%d/%m/%Y}'},{sex},{written_id},{vaccine},{lot},"
        f"{dose},{on}\n"
    )


class Nights:
    """One warehouse and its folders; `night()` runs the next night and checks the ledger."""

    def __init__(self, root: Path, people: list[Person]) -> None:
        self.root = root
        self.night_number = 0
        self.warehouse = root / "warehouse.duckdb"
        self.register(people)

    def register(self, people: list[Person]) -> None:
        """Write the registry snapshot the next night reads (a newer snapshot: people left or changed)."""
        pl.DataFrame(
            {
                "citizen_id": [p.citizen_id for p in people],
                "legacy_id": [None] * len(people),
                "full_name": [p.name for p in people],
                "date_of_birth": [p.born for p in people],
                "birth_year": [p.born.year for p in people],
                "sex": [p.sex for p in people],
                "phone": [None] * len(people),
                "province_code": ["01"] * len(people),
                "district_code": ["001"] * len(people),
                "ward_code": ["00001"] * len(people),
                "date_of_death": [None] * len(people),
            },
            schema=REGISTRY_SCHEMA,
        ).write_parquet(self.root / "registry.parquet")

    def settings(self) -> Settings:
        return Settings(
            registry_path=self.root / "registry.parquet",
            landing_dir=self.root / "landing",
            warehouse_path=self.warehouse,
            reports_dir=self.root / "reports",
            decisions_dir=self.root / "decisions",
            as_of=FIRST_NIGHT + dt.timedelta(days=max(self.night_number - 1, 0)),
        )

    def land(self, name: str, lines: list[str], folder: str = FACILITY_FOLDER) -> Path:
        path = self.root / "landing" / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER + "".join(lines), encoding="utf-8")
        return path

    def night(self) -> None:
        self.night_number += 1
        run_nightly(self.settings())
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            assert conservation_violations(connection) == []

    def query(self, sql: str) -> pl.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.sql(sql).pl()

    def doses(self) -> list[tuple[str, str]]:
        """(citizen, date) of every posted dose."""
        shots = self.query("select citizen_id, vaccinated_on::varchar as d from synced_shots order by all")
        return [(c, d) for c, d in shots.rows()]

    def backlog_row(self, citizen_id: str, *, by_name: bool = False) -> dict[str, object]:
        """The open backlog row of the person's row (by the ID as sent; by_name: by the name, for a row sent
        without an ID)."""
        column = "raw_full_name" if by_name else "raw_id_number"
        return self.query(
            f"""select b.* from open_backlog b join backlog_records r using (file_hash, source_row)
                where r.{column} = '{citizen_id}'"""
        ).row(0, named=True)

    def decision_line(
        self, citizen_id: str, decision: str, *, corrected_id: str = "", rank: int = 1, by_name: bool = False
    ) -> str:
        """A decision line as a reviewer fills it from the latest report: row key and signed tokens."""
        row = self.backlog_row(citizen_id, by_name=by_name)
        key = f"{row['file_hash']}:{row['source_row']}"
        report_run = self.query("select max(run_id) from pipeline_runs").item()
        secret = decision_secret(self.settings())
        token = row_token(report_run, key, str(row["province_code"]), secret)
        candidates = self.query(
            f"""select citizen_id from review_candidates where file_hash = '{row["file_hash"]}'
                and source_row = {row["source_row"]} and run_id = '{report_run}' order by candidate_rank"""
        )["citizen_id"].to_list()
        tokens = [candidate_token(report_run, key, c, secret) for c in candidates] + ["", "", ""]
        return (
            f"{key},{token},{tokens[0]},{tokens[1]},{tokens[2]},{decision},{corrected_id},{REVIEWER},"
            f"night {self.night_number}\n"
        )

    def decide(self, name: str, lines: list[str], province: str = "01") -> None:
        folder = self.root / "decisions" / province
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(
            "row_key,row_token,candidate_1_token,candidate_2_token,candidate_3_token,decision,corrected_id,"
            "reviewer,note\n" + "".join(lines),
            encoding="utf-8",
        )
