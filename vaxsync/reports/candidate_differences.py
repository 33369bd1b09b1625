"""Which of a review candidate's fields differ from the row: read from the comparison levels the matcher
stored in `review_candidates.comparison`, so the report highlights what the matcher judged.

`comparison` is JSON, per comparison of the matching model: `{"given_name": {"level": "exact_plain",
"weight": 1.7}, ...}` (vaxsync.marts.publish). A report field is judged by the comparisons in
`LEVEL_READINGS`; it differs when one of them is at a level that is not an agreement. A level that says
nothing of the values themselves (`by_value`; `missing`: the matcher had no evidence), or a row scored
before the levels were stored, falls back to comparing the values (docs/reports.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# The label the matcher stores for a comparison with no evidence (matching.decision.level_labels).
MISSING_LEVEL = "missing"


@dataclass(frozen=True)
class LevelReading:
    """How one comparison's levels read for the report field it judges."""

    field: str
    agree: tuple[str, ...]  # the two values are the same (as far as both sides know them)
    by_value: tuple[str, ...] = ()  # the level does not tell whether the values differ: compare them


# Per comparison of data/reference/matching_model.json. Every other level is a difference: a name typo,
# a birth date a year off, another ward. `name_order` is not read: a name written in another order is
# the same name. Diacritics: `exact_plain` is the same name with one side written without marks.
LEVEL_READINGS: dict[str, LevelReading] = {
    "id_number": LevelReading("id", agree=("exact",), by_value=("batch_sibling",)),
    "given_name": LevelReading("name", agree=("exact_marked", "exact_plain")),
    "family_name": LevelReading("name", agree=("exact_marked", "exact_plain")),
    "middle_name": LevelReading("name", agree=("exact", "both_empty")),
    "birth_date": LevelReading("birth_date", agree=("exact", "alternative_reading", "year_only")),
    "sex": LevelReading("sex", agree=("agree",)),
    "phone": LevelReading("phone", agree=("exact",)),
    # `other_ward`: both wards known, and they differ.
    # `district`, `province`, `facility_in_province`: the wards (districts) differ, or the row has none;
    # the codes tell which. `different`: the candidate lives in another province than the row says, or
    # (the row giving none) than its facility.
    "residence": LevelReading(
        "ward_district", agree=("ward",), by_value=("district", "province", "facility_in_province")
    ),
}


def stored_level(comparison: str) -> pl.Expr:
    """The level the matcher stored for one comparison; null when the row has none (scored before)."""
    return pl.col("comparison").str.json_path_match(f"$.{comparison}.level")


def _differs_by_level(readings: dict[str, LevelReading]) -> tuple[pl.Expr, pl.Expr]:
    """(whether the stored levels decide the field, whether they say it differs).

    They decide when every comparison of the field was stored, none is at a level that leaves it to the
    values, and at least one had evidence: a missing middle name leaves the name to the given and
    family names; a missing phone leaves the phone to the values."""
    levels = {name: stored_level(name) for name in readings}
    informative = {name: level.is_not_null() & (level != MISSING_LEVEL) for name, level in levels.items()}
    decided = (
        pl.all_horizontal([level.is_not_null() for level in levels.values()])
        & ~pl.any_horizontal([level.is_in(readings[name].by_value) for name, level in levels.items()])
        & pl.any_horizontal(list(informative.values()))
    )
    differs = pl.any_horizontal(
        [informative[name] & ~level.is_in(readings[name].agree) for name, level in levels.items()]
    )
    return decided, differs


def differing_fields(by_value: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    """Per report field, whether the candidate differs from the row: by the stored levels where they
    decide, else by `by_value` (the values compared; rows scored before levels were stored)."""
    differences = {}
    for field, value_differs in by_value.items():
        readings = {name: reading for name, reading in LEVEL_READINGS.items() if reading.field == field}
        if not readings:
            differences[field] = value_differs
            continue
        decided, level_differs = _differs_by_level(readings)
        differences[field] = pl.when(decided).then(level_differs).otherwise(value_differs).fill_null(False)
    return differences


# --- the fallback: the values compared ------------------------------------------------------------------


def _name_form(name: pl.Expr) -> pl.Expr:
    return name.str.normalize("NFC").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()


def _both_and_differ(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """True when both values are known and differ; a missing value is not highlighted."""
    return (left != right).fill_null(False)


def value_differences() -> dict[str, pl.Expr]:
    """Per candidate field, whether the candidate's value differs from the row's (normalized) value:
    how the report judged fields before the matcher's levels were stored, and still does where a
    level does not tell (LevelReading.by_value)."""
    both_dates = pl.col("_birth_date").is_not_null() & pl.col("registry_birth_date").is_not_null()
    both_wards = pl.col("_ward_code").is_not_null() & pl.col("registry_ward_code").is_not_null()
    return {
        "id": _both_and_differ(pl.col("_id"), pl.col("citizen_id"))
        & _both_and_differ(pl.col("_id"), pl.col("legacy_id")).or_(pl.col("legacy_id").is_null()),
        "name": _both_and_differ(_name_form(pl.col("_full_name")), _name_form(pl.col("name"))),
        "birth_date": pl.when(both_dates)
        .then(pl.col("_birth_date") != pl.col("registry_birth_date"))
        .otherwise(_both_and_differ(pl.col("_birth_year"), pl.col("registry_birth_year"))),
        "sex": _both_and_differ(pl.col("_sex"), pl.col("registry_sex")),
        "phone": _both_and_differ(pl.col("_phone"), pl.col("registry_phone")),
        "ward_district": pl.when(both_wards)
        .then(pl.col("_ward_code") != pl.col("registry_ward_code"))
        .otherwise(_both_and_differ(pl.col("_district_code"), pl.col("registry_district_code"))),
    }


def field_differences() -> dict[str, pl.Expr]:
    """Per candidate field (CANDIDATE_FIELDS), whether it differs from the row: the matcher's levels,
    else the values. Reads `comparison` and the row's and the candidate's values."""
    return differing_fields(value_differences())
