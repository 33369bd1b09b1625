"""Reference data for the conformed layer, loaded once per run (data/reference/).

| file | what | source |
|---|---|---|
| vaccines.csv | the catalogue: code, names, approval date, schedule, whether supplied | QĐ-BYT approvals, domain sheet |
| vaccine_variants.csv | free-text variants (exact) and keywords (ranked) -> code | seen in Vietnamese exports |
| phone_prefix_2018.csv | the 21 old 11-digit mobile prefixes -> new 3-digit ones | 2018 renumbering |
| admin_units_2021.parquet | 63 provinces / 705 districts / 10,603 wards (Feb 2021) | vietnam-provinces 0.4.3, scripts/build_admin_units.py |
| province_2025_map.csv | 63 -> 34 provinces (1 Jul 2025) | both package versions, same script |
| province_aliases.csv | HN, TPHCM, Sài Gòn, Huế, BRVT... -> province code | common abbreviations |
| vn_surnames.csv | common surnames, when no registry statistics are given | domain sheet |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import polars as pl

from transforms.normalize.addresses import AdminUnitIndex
from transforms.normalize.names import SurnameStatistics, surname_statistics
from transforms.normalize.text import fold_key
from transforms.normalize.vaccines import vaccine_key
from vaxsync.core.clinical_rules import min_vaccination_age_years
from vaxsync.core.reference import REFERENCE_DIR

SURNAME_SHARE = 0.5  # a registry word used as a surname at least this often counts as a surname


@dataclass(frozen=True)
class NormalizeReference:
    vaccines: pl.DataFrame
    vaccine_variants: pl.DataFrame  # variant, vaccine_code, match_kind, keyword_rank, variant_key
    phone_prefixes: pl.DataFrame
    admin_units: pl.DataFrame
    province_2025_map: pl.DataFrame
    admin_index: AdminUnitIndex
    surnames: frozenset[str]  # folded
    surname_statistics: SurnameStatistics | None = None  # from the registry; enables given-name-first repair

    @property
    def province_codes(self) -> frozenset[str]:
        return self.admin_index.province_codes

    @property
    def min_vaccination_age(self) -> int:
        return min_vaccination_age_years()

    def with_registry(self, registry: pl.LazyFrame) -> NormalizeReference:
        """Add the registry's surname statistics (for titles and given-name-first order)."""
        return self.with_surname_statistics(surname_statistics(registry.select("full_name")))

    def with_surname_statistics(self, statistics: SurnameStatistics) -> NormalizeReference:
        """Add surname statistics computed earlier (vaxsync.marts.registry_cache keeps them per snapshot)."""
        surnames = self.surnames | statistics.surnames(SURNAME_SHARE)
        return replace(self, surname_statistics=statistics, surnames=frozenset(surnames))


def _read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


@cache
def _load_files(reference_dir: Path) -> NormalizeReference:
    vaccines = _read_csv(reference_dir / "vaccines.csv").with_columns(
        pl.col("approved_in_vietnam_on").str.to_date(),
        pl.col("is_supplied") == "true",
        pl.col("primary_doses", "min_interval_days", "min_age_years", "max_age_years").cast(pl.Int32),
    )
    variants = _read_csv(reference_dir / "vaccine_variants.csv").with_columns(
        pl.col("keyword_rank").cast(pl.Int32),
        pl.when(pl.col("match_kind") == "exact")
        .then(vaccine_key(pl.col("variant")))
        .otherwise(pl.col("variant"))
        .alias("variant_key"),
    )
    unknown_codes = set(variants["vaccine_code"]) - set(vaccines["vaccine_code"])
    if unknown_codes:
        raise ValueError(
            f"vaccine_variants.csv names codes missing from vaccines.csv: {sorted(unknown_codes)}"
        )
    conflicting = (
        variants.group_by("variant_key")
        .agg(pl.col("vaccine_code").n_unique())
        .filter(pl.col("vaccine_code") > 1)
    )
    if conflicting.height:
        raise ValueError(
            f"vaccine variants fold to one key for several codes: {conflicting['variant_key'].to_list()}"
        )
    variants = variants.unique(["match_kind", "variant_key"], keep="first", maintain_order=True)
    admin_units = pl.read_parquet(reference_dir / "admin_units_2021.parquet")
    aliases = _read_csv(reference_dir / "province_aliases.csv")
    province_2025_map = _read_csv(reference_dir / "province_2025_map.csv")
    surnames = _read_csv(reference_dir / "vn_surnames.csv").select(fold_key(pl.col("surname")))
    return NormalizeReference(
        vaccines=vaccines,
        vaccine_variants=variants,
        phone_prefixes=_read_csv(reference_dir / "phone_prefix_2018.csv"),
        admin_units=admin_units,
        province_2025_map=province_2025_map,
        admin_index=AdminUnitIndex.build(admin_units, aliases, province_2025_map),
        surnames=frozenset(surnames["surname"].to_list()),
    )


def load_reference(
    reference_dir: Path = REFERENCE_DIR, *, registry: pl.LazyFrame | None = None
) -> NormalizeReference:
    """The reference tables (cached per folder); with a registry, its surname statistics too."""
    reference = _load_files(Path(reference_dir).resolve())
    return reference.with_registry(registry) if registry is not None else reference


def province_2025_code(province_code: pl.Expr, reference: NormalizeReference) -> pl.Expr:
    """The 2025 (34-province) code of a 2021-era province code, for reporting."""
    mapping = reference.province_2025_map
    return province_code.replace_strict(
        mapping["province_code"].to_list(),
        mapping["province_code_2025"].to_list(),
        default=None,
        return_dtype=pl.String,
    )
