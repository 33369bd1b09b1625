"""The province report's re-sent files section: masked IDs, formula-safe cells, changes in both languages."""

from __future__ import annotations

import datetime as dt

import polars as pl

from vaxsync.marts.resends import RESENT_SHOT_SCHEMA
from vaxsync.reports.province_report_model import RESENT_SHOT_COLUMNS, ProvinceReport
from vaxsync.reports.province_report_render import resent_file_counts
from vaxsync.reports.province_reports import resent_shots_display

CHANGES = pl.DataFrame(
    {
        "province_code": ["01", "01", "01"],
        "source_file": ["01_Ha_Noi/01001001/=cmd|' /C calc'!A0.csv"] * 2 + ["01_Ha_Noi/01001001/b.csv"],
        "recognised_as": ["same_path", "same_path", "renamed"],
        "change": ["added", "replaced", "kept"],
        "citizen_id": ["001090001234", "001090005678", "001090009999"],
        "vaccine_code": ["PFIZER", "ASTRAZENECA", "MODERNA"],
        "vaccinated_on": [dt.date(2021, 11, 10)] * 3,
        "facility": ["@SUM(1+1)", "TYT Phường 1", "+84 trạm"],
        "lot": ["-1", "A1", None],
    },
    schema=RESENT_SHOT_SCHEMA,
)


def test_the_section_masks_ids_and_neutralises_formulas() -> None:
    shown = resent_shots_display(CHANGES).collect()
    assert shown.columns == ["province_code", *RESENT_SHOT_COLUMNS]
    assert shown["citizen_id"].to_list() == ["********1234", "********5678", "********9999"]
    assert shown["facility"].to_list() == ["'@SUM(1+1)", "TYT Phường 1", "'+84 trạm"]
    assert shown["lot"].to_list() == ["'-1", "A1", None]
    assert shown["change_en"].str.split(":").list.first().to_list() == ["added", "replaced", "kept"]
    assert shown["change_vi"][1].startswith("Thay thế")


def test_the_section_counts_each_files_changes() -> None:
    shown = resent_shots_display(CHANGES).collect().drop("province_code")
    empty = pl.DataFrame()
    report = ProvinceReport(
        province_code="01", province_name="Hà Nội", as_of=dt.date(2023, 2, 1), run_id="run",
        rows=empty, resolved=empty, facilities=empty, reasons=empty, resent_shots=shown,
    )  # fmt: skip
    counts = resent_file_counts(report)
    assert counts.select("source_file", "added", "replaced", "retracted", "kept").rows() == [
        ("01_Ha_Noi/01001001/=cmd|' /C calc'!A0.csv", 1, 1, 0, 0),
        ("01_Ha_Noi/01001001/b.csv", 0, 0, 0, 1),
    ]
