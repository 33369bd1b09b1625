"""A tiny warehouse and registry for the province-report tests: backlog rows in two provinces and one
with no province, review candidates from two runs, one superseded and one resolved row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import BACKLOG_RECORD_SCHEMA, connect

AS_OF = dt.date(2023, 1, 31)
RUN_ID = "2023-01-31@20230201T010000"
EARLIER_RUN_ID = "2023-01-20@20230121T010000"
HANOI_FILE_HASH = "a" * 64
HUE_FILE_HASH = "b" * 64
OLD_VERSION_HASH = "c" * 64

# Citizens of the registry: the first two are the candidates of the Hanoi review row.
CITIZENS: list[dict[str, Any]] = [
    {
        "citizen_id": "001090001234",
        "full_name": "Nguyễn Văn An",
        "date_of_birth": dt.date(1990, 5, 1),
        "birth_year": 1990,
        "sex": "M",
        "phone": "0912345678",
        "province_code": "01",
        "district_code": "001",
        "ward_code": "00001",
    },
    {
        "citizen_id": "001090005678",
        "full_name": "Nguyễn Văn Ân",
        "date_of_birth": dt.date(1991, 5, 1),
        "birth_year": 1991,
        "sex": "F",
        "phone": "0987654321",
        "province_code": "01",
        "district_code": "001",
        "ward_code": "00004",
    },
    {
        "citizen_id": "046080009999",
        "full_name": "Lê Thị Hoa",
        "date_of_birth": dt.date(1980, 2, 2),
        "birth_year": 1980,
        "sex": "F",
        "phone": None,
        "province_code": "46",
        "district_code": "474",
        "ward_code": "19753",
    },
]


def backlog_row(file_hash: str, source_row: int, reason_code: str, **values: Any) -> dict[str, Any]:
    return {
        "source_file": values.pop("source_file", f"{file_hash[:1]}/export.csv"),
        "file_hash": file_hash,
        "source_row": source_row,
        "reason_code": reason_code,
        "reason_detail": values.pop("reason_detail", None),
        "province_code": values.pop("province_code", None),
        "facility": values.pop("facility", None),
        "first_seen_on": values.pop("first_seen_on", AS_OF),
        "run_id": values.pop("run_id", RUN_ID),
        **values,
    }


BACKLOG: list[dict[str, Any]] = [
    # Hanoi: a row in review, a row with an unknown vaccine, and one whose facility name is a formula.
    backlog_row(HANOI_FILE_HASH, 1, "review_required", province_code="01", facility="Trạm Y tế Phúc Xá"),
    backlog_row(
        HANOI_FILE_HASH, 2, "vaccine_unknown", province_code="01", facility="Trạm Y tế Phúc Xá",
        first_seen_on=dt.date(2023, 1, 1), reason_detail="Vắc xin Covid",
    ),
    backlog_row(
        HANOI_FILE_HASH, 3, "id_not_in_registry", province_code="01", facility="=HYPERLINK(\"http://x\")",
        first_seen_on=dt.date(2023, 1, 25),
    ),
    # Thua Thien Hue: one row without a usable ID.
    backlog_row(HUE_FILE_HASH, 1, "no_usable_id", province_code="46", facility="<b>Trạm Y tế Vỹ Dạ</b>"),
    # No province known.
    backlog_row(HUE_FILE_HASH, 2, "no_confident_match", province_code=None, facility=None),
    # Not open: replaced by a newer version of its file, and resolved by tonight's run.
    backlog_row(OLD_VERSION_HASH, 1, "vaccine_unknown", province_code="46", superseded_by_file_hash=HUE_FILE_HASH),
    backlog_row(
        HANOI_FILE_HASH, 4, "id_not_in_registry", province_code="01", facility="Trạm Y tế Phúc Xá",
        resolved_run_id=RUN_ID, resolution="rematched",
    ),
]  # fmt: skip

RECORDS: list[dict[str, Any]] = [
    {
        "file_hash": HANOI_FILE_HASH,
        "source_row": 1,
        "raw_facility_name": "Trạm Y tế Phúc Xá",
        "raw_full_name": "Nguyễn Văn An",
        "raw_date_of_birth": "01/05/1990",
        "raw_sex": "Nam",
        "raw_id_number": "001090001234",
        "raw_phone": "0912 345 678",
        "raw_ward": "Phúc Xá",
        "raw_vaccine": "Pfizer",
        "raw_vaccinated_on": "2022-01-10",
        "full_name_clean": "Nguyễn Văn An",
        "birth_date": dt.date(1990, 5, 1),
        "birth_year": 1990,
        "sex_code": "M",
        "id_value": "001090001234",
        "phone_number": "0912345678",
        "ward_code": "00001",
        "district_code": "001",
    },
    {
        "file_hash": HANOI_FILE_HASH,
        "source_row": 2,
        "raw_full_name": "@Trần Thị B",
        "raw_vaccine": "Vắc xin Covid",
        "raw_id_number": "079199012345",
        "raw_phone": "-0912000111",
    },
    {"file_hash": HANOI_FILE_HASH, "source_row": 3, "raw_full_name": "+Phạm C", "raw_id_number": "1234"},
    {"file_hash": HUE_FILE_HASH, "source_row": 1, "raw_full_name": "Lê Thị Hoa", "raw_id_number": None},
    {"file_hash": HUE_FILE_HASH, "source_row": 2, "raw_full_name": "Hồ Văn D", "raw_phone": "12"},
]

CANDIDATES: list[dict[str, Any]] = [
    # Tonight's run: candidate 1 agrees on every field, candidate 2 differs in birth date, sex, phone, ward.
    {"candidate_rank": 1, "citizen_id": "001090001234", "match_probability": 0.93, "run_id": RUN_ID},
    {"candidate_rank": 2, "citizen_id": "001090005678", "match_probability": 0.41, "run_id": RUN_ID},
    # An earlier run offered someone else: not shown.
    {"candidate_rank": 3, "citizen_id": "046080009999", "match_probability": 0.2, "run_id": EARLIER_RUN_ID},
]


def build_warehouse(folder: Path) -> Settings:
    """The warehouse and registry snapshot above, and settings pointing at them."""
    settings = Settings(
        registry_path=folder / "registry.parquet",
        landing_dir=folder / "landing",
        warehouse_path=folder / "warehouse.duckdb",
        reports_dir=folder / "reports",
        as_of=AS_OF,
    )
    pl.from_dicts(CITIZENS, schema=REGISTRY_SCHEMA).write_parquet(settings.registry_path)
    backlog = pl.from_dicts(BACKLOG, infer_schema_length=None)
    records = pl.from_dicts(RECORDS, schema=BACKLOG_RECORD_SCHEMA)
    candidates = pl.from_dicts(CANDIDATES).with_columns(
        file_hash=pl.lit(HANOI_FILE_HASH),
        source_row=pl.lit(1, dtype=pl.Int32),
        match_weight=pl.lit(1.0),
        impossible_reason=pl.lit(None, dtype=pl.String),
        comparison=pl.lit("{}"),
    )
    with connect(settings.warehouse_path) as connection:
        for table, frame in (
            ("unposted_backlog", backlog),
            ("backlog_records", records),
            ("review_candidates", candidates),
        ):
            connection.register("incoming", frame.to_arrow())
            connection.execute(f"insert into {table} by name select * from incoming")
            connection.unregister("incoming")
    return settings


def open_row_keys(province_code: str | None) -> set[str]:
    """The row keys a province's report must hold: its open rows, and nothing else."""
    return {
        f"{row['file_hash']}:{row['source_row']}"
        for row in BACKLOG
        if row["province_code"] == province_code
        and row.get("superseded_by_file_hash") is None
        and row.get("resolved_run_id") is None
    }
