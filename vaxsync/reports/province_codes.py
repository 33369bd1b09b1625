"""Province codes with their unit system: the codes of the 63-province units (before 2025) and of the
34-province units (2025) collide, so every code shown says which system it belongs to.

Polars and the reference files only (no settings, no warehouse): the province reports' rendering helper
process imports it (vaxsync.reports.province_report_files), and each import there is start-up time.
"""

from __future__ import annotations

import functools

import polars as pl

from vaxsync.core.reference import reference_path

PROVINCE_2025_MAP_PATH = reference_path("province_2025_map.csv")
# Province codes of the 63-province units (before 2025) and of the 34-province units (2025) collide (80 is
# Long An in one and Tây Ninh in the other), so every code shown says which system it belongs to.
PRE_2025_SYSTEM = ("trước 2025", "pre-2025")
SYSTEM_2025 = ("mã 2025", "2025 code")


@functools.cache
def provinces_2025() -> dict[str, tuple[str, str]]:
    """Pre-2025 province code -> (its 2025 province code, the 2025 province's name)."""
    mapping = pl.read_csv(
        PROVINCE_2025_MAP_PATH, schema_overrides={"province_code": pl.String, "province_code_2025": pl.String}
    )
    return {
        code: (code_2025, name_2025)
        for code, code_2025, name_2025 in mapping.select(
            "province_code", "province_code_2025", "province_name_2025"
        ).iter_rows()
    }


def pre_2025_code(code: str) -> str:
    """'80 (trước 2025)': a code of the 63-province units, labelled as such."""
    return f"{code} ({PRE_2025_SYSTEM[0]})"


def province_label(code: str, name: str) -> str:
    """A pre-2025 province with its code labelled, and the 2025 province it belongs to since 2025, e.g.
    'Tỉnh Long An — 80 (trước 2025); từ 2025: Tây Ninh — 80 (mã 2025)'. Unknown codes are shown as they are."""
    if code not in provinces_2025():
        return name if name != code else code
    code_2025, name_2025 = provinces_2025()[code]
    return (
        f"{name} — {pre_2025_code(code)}; từ 2025 / since 2025: {name_2025} — {code_2025} ({SYSTEM_2025[0]})"
    )
