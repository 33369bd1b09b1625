"""Builders for small staged frames and single-column rule checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from vaxsync.core.contracts import EXPORT_FIELDS, STAGED_ROW_SCHEMA, raw_column

# One plausible staged row: a Pfizer first dose in Hồ Chí Minh City. Export fields by their canonical
# name; staged_frame puts each in its raw_<field> column.
STAGED_DEFAULTS: dict[str, Any] = {
    "source_file": "79_Ho_Chi_Minh/79760001/export_20210820_001.csv",
    "file_hash": "hash-79760001-1",
    "facility_name": "Trạm Y tế Phường Bến Nghé",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "15/06/1985",
    "sex": "Nam",
    "id_number": "079085001234",
    "phone": "0912345678",
    "address": "12 Lê Lợi, P. Bến Nghé, Q.1, TP.HCM",
    "province": None,
    "district": None,
    "ward": None,
    "vaccine": "Pfizer",
    "lot": "FK1234",
    "dose": "Mũi 1",
    "vaccinated_on": "20/08/2021",
    "extra_columns": None,
    "row_issue": None,
}


def as_staged_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A row keyed by export field (as sent) -> keyed by staged column (raw_<field>)."""
    return {raw_column(name) if name in EXPORT_FIELDS else name: value for name, value in row.items()}


def staged_frame(rows: Sequence[dict[str, Any]]) -> pl.LazyFrame:
    """Staged rows (STAGED_ROW_SCHEMA): each dict overrides the defaults; source_row counts from 1."""
    records = [
        as_staged_columns({**STAGED_DEFAULTS, "source_row": index, **row})
        for index, row in enumerate(rows, start=1)
    ]
    return pl.DataFrame(records, schema=STAGED_ROW_SCHEMA).lazy()


def apply_rule(
    rule: Callable[[pl.Expr], pl.Expr], values: Sequence[Any], dtype: type[pl.DataType] = pl.String
) -> list[Any]:
    """The rule's result for each value of a one-column frame."""
    frame = pl.DataFrame({"value": list(values)}, schema={"value": dtype})
    return frame.select(rule(pl.col("value")).alias("result"))["result"].to_list()
