"""Build the administrative-unit reference data from the vietnam-provinces package, reproducibly.

    uv run python scripts/build_admin_units.py

Both generations of the package import as `vietnam_provinces`, so each runs in its own throwaway
environment (`uv run --no-project --with vietnam-provinces==X`) and dumps its units as JSON:

- 0.4.3 holds the Feb 2021 units (63 provinces / 705 districts / 10,603 wards): the codes every
  2021-22 record refers to. -> data/reference/admin_units_2021.parquet, one row per ward (a district
  with no ward, e.g. an island district, gets one row with a null ward).
- 2025.10.1 holds the units from 1 Jul 2025 (34 provinces, no districts). A 2025 ward that reuses a
  2021 ward code sits in the province that absorbed the old one, so counting, for each 2021 province,
  the 2025 provinces of its reused ward codes gives the 63 -> 34 map.
  -> data/reference/province_2025_map.csv
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT / "data" / "reference"
UNITS_2021_VERSION = "0.4.3"
UNITS_2025_VERSION = "2025.10.1"


def dump_units_2021(out: Path) -> None:
    """Runs inside the 0.4.3 environment: every province, district and ward as plain records."""
    from vietnam_provinces.enums import DistrictEnum, ProvinceEnum
    from vietnam_provinces.enums.wards import WardEnum

    provinces = [
        {"code": p.value.code, "name": p.value.name, "type": p.value.division_type.value}
        for p in ProvinceEnum
    ]
    districts = [
        {
            "code": d.value.code,
            "name": d.value.name,
            "type": d.value.division_type.value,
            "province_code": d.value.province_code,
        }
        for d in DistrictEnum
    ]
    wards = [
        {
            "code": w.value.code,
            "name": w.value.name,
            "type": w.value.division_type.value,
            "district_code": w.value.district_code,
        }
        for w in WardEnum
    ]
    out.write_text(json.dumps({"provinces": provinces, "districts": districts, "wards": wards}))


def dump_units_2025(out: Path) -> None:
    """Runs inside the 2025.10.1 environment: provinces and wards (there are no districts)."""
    from vietnam_provinces import Province, Ward

    provinces = [{"code": int(p.code), "name": p.name} for p in Province.iter_all()]
    wards = [
        {"code": int(w.code), "name": w.name, "province_code": int(w.province_code)} for w in Ward.iter_all()
    ]
    out.write_text(json.dumps({"provinces": provinces, "wards": wards}))


def _dump_in_isolated_env(version: str, era: str, out: Path) -> dict:
    command = [
        "uv",
        "run",
        "--no-project",
        "--with",
        f"vietnam-provinces=={version}",
        "python",
        str(Path(__file__).resolve()),
        "--dump",
        era,
        str(out),
    ]
    subprocess.run(command, check=True)
    return json.loads(out.read_text())


def build(reference_dir: Path) -> None:
    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        units_2021 = _dump_in_isolated_env(UNITS_2021_VERSION, "2021", Path(tmp) / "units_2021.json")
        units_2025 = _dump_in_isolated_env(UNITS_2025_VERSION, "2025", Path(tmp) / "units_2025.json")

    provinces = pl.DataFrame(units_2021["provinces"]).select(
        pl.col("code").cast(pl.String).str.zfill(2).alias("province_code"),
        pl.col("name").alias("province_name"),
        pl.col("type").alias("province_type"),
    )
    districts = pl.DataFrame(units_2021["districts"]).select(
        pl.col("province_code").cast(pl.String).str.zfill(2),
        pl.col("code").cast(pl.String).str.zfill(3).alias("district_code"),
        pl.col("name").alias("district_name"),
        pl.col("type").alias("district_type"),
    )
    wards = pl.DataFrame(units_2021["wards"]).select(
        pl.col("district_code").cast(pl.String).str.zfill(3),
        pl.col("code").cast(pl.String).str.zfill(5).alias("ward_code"),
        pl.col("name").alias("ward_name"),
        pl.col("type").alias("ward_type"),
    )
    units = (
        provinces.join(districts, on="province_code", how="inner")
        .join(wards, on="district_code", how="left")
        .sort("province_code", "district_code", "ward_code", nulls_last=True)
    )
    reference_dir.mkdir(parents=True, exist_ok=True)
    units.write_parquet(reference_dir / "admin_units_2021.parquet", statistics=False)

    wards_2025 = pl.DataFrame(units_2025["wards"]).select(
        pl.col("code").cast(pl.String).str.zfill(5).alias("ward_code"),
        pl.col("province_code").cast(pl.String).str.zfill(2).alias("province_code_2025"),
    )
    provinces_2025 = pl.DataFrame(units_2025["provinces"]).select(
        pl.col("code").cast(pl.String).str.zfill(2).alias("province_code_2025"),
        pl.col("name").alias("province_name_2025"),
    )
    reused = (
        units.filter(pl.col("ward_code").is_not_null())
        .join(wards_2025, on="ward_code", how="inner")
        .group_by("province_code", "province_code_2025")
        .agg(pl.len().alias("count_reused_ward_codes"))
    )
    province_map = (
        reused.sort("count_reused_ward_codes", "province_code_2025", descending=[True, False])
        .group_by("province_code", maintain_order=True)
        .agg(
            pl.col("province_code_2025").first(),
            pl.col("count_reused_ward_codes").first(),
            (pl.col("count_reused_ward_codes").first() / pl.col("count_reused_ward_codes").sum())
            .round(4)
            .alias("share_reused_ward_codes"),
        )
        .join(provinces, on="province_code", how="right")
        .join(provinces_2025, on="province_code_2025", how="left")
        .select(
            "province_code",
            "province_name",
            "province_code_2025",
            "province_name_2025",
            "count_reused_ward_codes",
            "share_reused_ward_codes",
        )
        .sort("province_code")
    )
    province_map.write_csv(reference_dir / "province_2025_map.csv")
    print(
        f"admin_units_2021.parquet: {units['province_code'].n_unique()} provinces, "
        f"{units['district_code'].n_unique()} districts, {units['ward_code'].drop_nulls().n_unique()} wards; "
        f"province_2025_map.csv: {province_map.height} rows -> "
        f"{province_map['province_code_2025'].n_unique()} provinces"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dump", nargs=2, metavar=("ERA", "OUT"), help="internal: dump one package version")
    parser.add_argument("--reference-dir", type=Path, default=REFERENCE_DIR)
    args = parser.parse_args()
    if args.dump:
        era, out = args.dump
        {"2021": dump_units_2021, "2025": dump_units_2025}[era](Path(out))
        return
    build(args.reference_dir)


if __name__ == "__main__":
    main()
