"""Conformed layer: column rules, each a small function returning a polars expression, composed by
normalize_shots (staged rows -> normalized shots). See docs/normalization.md."""

from transforms.normalize.ids import id_birth_year_gap, id_contradicts_row, id_sex_contradicts_row
from transforms.normalize.reference import NormalizeReference, load_reference, province_2025_code
from transforms.normalize.shots import normalize_shots

__all__ = [
    "NormalizeReference",
    "id_birth_year_gap",
    "id_contradicts_row",
    "id_sex_contradicts_row",
    "load_reference",
    "normalize_shots",
    "province_2025_code",
]
