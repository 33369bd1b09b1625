"""Comparison levels: what each level of each comparison means, as SQL over a pair relation.

A pair relation (see `pair_relation_sql`) has the shot's integer-coded columns under their plain names
and the candidate's under `registry_<name>` (matching.features), the name parts aligned to the
candidate's order, and name similarities looked up per distinct pair of vocabulary codes. Each
comparison becomes one `CASE` giving `level_<name>`: the index of the first level (in the model's
order) whose condition holds, or -1 when a side lacks the value (no evidence either way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matching.features import CITIZEN_KIND_CODES, LEGACY_KIND_CODES, PASSPORT_KIND_CODE

NO_LEVEL = -1
Settings = dict[str, Any]
LevelSql = Callable[[Settings], str]


def _in(codes: list[int]) -> str:
    return "(" + ", ".join(str(code) for code in codes) + ")"


# --- names ------------------------------------------------------------------------------------------------


def _name_part_levels(part: str) -> dict[str, LevelSql]:
    code, marked = f"aligned_{part}", f"aligned_{part}_marked"
    equal = f"{code} = registry_{part}"
    return {
        "exact_marked": lambda s: f"{equal} AND {marked} = registry_{part}_marked",
        "exact_plain": lambda s: f"{equal} AND ({marked} IS NULL OR registry_{part}_marked IS NULL)",
        "marks_differ": lambda s: equal,
        # One letter added, dropped, changed or two swapped: "Hươnng", "Trugn", "Quỳh".
        "typo": lambda s: f"{part}_edit_distance <= 1 AND {part}_min_length >= {s['typo_min_length']}",
        # The same on a short name, where it is as often another name (Lan / Lanh).
        "short_typo": lambda s: f"{part}_edit_distance <= 1",
        "similar": lambda s: f"{part}_similarity >= {s['similar_min_jaro_winkler']}",
        "different": lambda s: "TRUE",
    }


def _middle_levels() -> dict[str, LevelSql]:
    shot_empty, registry_empty = "aligned_middle = empty_word", "registry_middle = empty_word"
    return {
        "exact": lambda s: f"aligned_middle = registry_middle AND NOT {shot_empty}",
        "both_empty": lambda s: f"{shot_empty} AND {registry_empty}",
        "one_empty": lambda s: f"{shot_empty} OR {registry_empty}",
        "partial": lambda s: f"middle_shares_word OR middle_similarity >= {s['partial_min_jaro_winkler']}",
        "different": lambda s: "TRUE",
    }


# --- dates, sex, phone, residence ----------------------------------------------------------------------------


def _birth_date_levels() -> dict[str, LevelSql]:
    same_year = "birth_year = registry_birth_year"
    year_off = "abs(birth_year - registry_birth_year) = 1"
    year_only = "(birth_date IS NULL OR registry_birth_date IS NULL)"
    same_month = "month(birth_date) = month(registry_birth_date)"
    same_day = "day(birth_date) = day(registry_birth_date)"
    return {
        "exact": lambda s: "birth_date = registry_birth_date",
        "alternative_reading": lambda s: "birth_date_alt = registry_birth_date",
        "day_month_swapped": lambda s: (
            f"{same_year} AND month(birth_date) = day(registry_birth_date) "
            "AND day(birth_date) = month(registry_birth_date)"
        ),
        "year_month": lambda s: f"{same_year} AND {same_month}",
        "year_off_by_one": lambda s: f"{same_month} AND {same_day} AND {year_off}",
        "year_only": lambda s: f"{year_only} AND {same_year}",
        "year_only_off_by_one": lambda s: f"{year_only} AND {year_off}",
        "different": lambda s: "TRUE",
    }


def within_one_digit_edit_sql(left: str, right: str, length: int) -> str:
    """Two fixed-length numbers one substitution or one adjacent transposition apart (arithmetic, no strings)."""

    def digit(column: str, position: int) -> str:
        return f"(({column} // {10**position}) % 10)"

    differs = [f"({digit(left, k)} <> {digit(right, k)})" for k in range(length)]
    count_differing = " + ".join(f"{d}::INTEGER" for d in differs)
    swapped = " OR ".join(
        f"({differs[k]} AND {digit(left, k)} = {digit(right, k + 1)} AND {digit(left, k + 1)} = {digit(right, k)})"
        for k in range(length - 1)
    )
    return f"(({count_differing}) <= 1 OR (({count_differing}) = 2 AND ({swapped})))"


def _phone_levels() -> dict[str, LevelSql]:
    return {
        "exact": lambda s: "phone = registry_phone",
        "last_eight_digits": lambda s: "phone % 100000000 = registry_phone % 100000000",
        "one_edit": lambda s: within_one_digit_edit_sql("phone", "registry_phone", 10),
        "different": lambda s: "TRUE",
    }


def _residence_levels() -> dict[str, LevelSql]:
    return {
        "ward": lambda s: "ward = registry_ward",
        # Both wards known, not the same, in one district: a move, or a namesake living a ward away.
        "other_ward": lambda s: (
            "district = registry_district AND ward IS NOT NULL AND registry_ward IS NOT NULL"
        ),
        "district": lambda s: "district = registry_district",
        "province": lambda s: "province = registry_province",
        "facility_in_province": lambda s: "province IS NULL AND facility_province = registry_province",
        "different": lambda s: "TRUE",
    }


# --- ID ---------------------------------------------------------------------------------------------------


def _id_levels() -> dict[str, LevelSql]:
    citizen_kind, legacy_kind = (
        f"id_kind IN {_in(CITIZEN_KIND_CODES)}",
        f"id_kind IN {_in(LEGACY_KIND_CODES)}",
    )
    return {
        "exact": lambda s: (
            f"({citizen_kind} AND id_number = registry_citizen_number) "
            f"OR ({legacy_kind} AND id_number = registry_legacy_number)"
        ),
        "one_edit": lambda s: "id_within_one_edit",
        # The row's own well-formed CCCD, absent from the registry and more than one edit from the
        # candidate's: no typo we know of makes it, so it is evidence of a person the registry lacks.
        # Its first six digits (province, century and sex, birth year) are structure, not identity.
        "cccd_absent": lambda s: (
            f"{citizen_kind} AND cccd_sex IS NOT NULL AND id_owner_index IS NULL "
            "AND registry_citizen_number IS NOT NULL"
        ),
        "batch_sibling": lambda s: "sibling_citizen_index = citizen_index",
        "household": lambda s: (
            "id_owner_index <> citizen_index AND (id_owner_phone = registry_phone "
            "OR (id_owner_ward = registry_ward AND id_owner_family = registry_family))"
        ),
        "cccd_consistent": lambda s: "cccd_sex = registry_sex AND cccd_birth_year = registry_birth_year",
        "cccd_contradicts": lambda s: "cccd_sex <> registry_sex OR cccd_birth_year <> registry_birth_year",
        "passport": lambda s: f"id_kind = {PASSPORT_KIND_CODE}",
        "other": lambda s: "TRUE",
    }


LEVEL_CATALOGUE: dict[str, dict[str, LevelSql]] = {
    "given_name": _name_part_levels("given"),
    "family_name": _name_part_levels("family"),
    "middle_name": _middle_levels(),
    "name_order": {"same_order": lambda s: "NOT is_name_permuted", "permuted": lambda s: "is_name_permuted"},
    "birth_date": _birth_date_levels(),
    "sex": {"agree": lambda s: "sex = registry_sex", "disagree": lambda s: "TRUE"},
    "phone": _phone_levels(),
    "residence": _residence_levels(),
    "id_number": _id_levels(),
}

# When true, the comparison has no evidence for the pair (level -1), whatever the levels say.
MISSING_WHEN: dict[str, str] = {
    "given_name": "aligned_given IS NULL OR registry_given IS NULL",
    "family_name": "aligned_family IS NULL OR registry_family IS NULL",
    "middle_name": "aligned_middle IS NULL OR registry_middle IS NULL OR given IS NULL",
    "name_order": "name_hash IS NULL OR registry_name_hash IS NULL",
    "birth_date": "birth_year IS NULL OR registry_birth_year IS NULL",
    "sex": "sex IS NULL OR registry_sex IS NULL",
    "phone": "phone IS NULL OR registry_phone IS NULL",
    "residence": "(province IS NULL AND facility_province IS NULL) OR registry_province IS NULL",
    "id_number": "id_kind IS NULL AND sibling_citizen_index IS DISTINCT FROM citizen_index",
}


def level_sql(name: str, labels: list[str], settings: Settings) -> str:
    """The comparison's CASE: -1 when missing, else the index of the first level whose condition holds."""
    conditions = LEVEL_CATALOGUE[name]
    branches = " ".join(
        f"WHEN {conditions[label](settings)} THEN {index}" for index, label in enumerate(labels)
    )
    return f"(CASE WHEN {MISSING_WHEN[name]} THEN {NO_LEVEL} {branches} ELSE {NO_LEVEL} END)::TINYINT"


# Name parts read in the candidate's order when the shot's words are the candidate's, reordered: a row
# typed given-name-first ("Hùng Nguyễn Văn") or with family and given swapped. Reordering needs both
# parts to agree in the other reading, or one part to agree there and neither in the written reading;
# the other part is then compared (typo, similar) in that reading: "Laznger Gabrielle" is Gabrielle
# Langer. The diacritic tokens are dropped (which word carries them is unknown). DuckDB lets later
# select items use earlier aliases.
ALIGNED_NAME_SQL = """
    coalesce(alt_family = registry_family OR alt_given = registry_given, FALSE) AS is_given_first_hit,
    coalesce(alt_family = registry_family AND alt_given = registry_given, FALSE) AS is_given_first_exact,
    coalesce(family = registry_given AND given = registry_family, FALSE) AS is_swap_exact,
    coalesce(family = registry_family OR given = registry_given, FALSE) AS is_written_hit,
    NOT coalesce(family = registry_family AND given = registry_given, FALSE)
        AND (is_given_first_exact OR is_swap_exact OR (is_given_first_hit AND NOT is_written_hit))
        AS is_name_permuted,
    CASE WHEN NOT is_name_permuted THEN family WHEN is_given_first_hit THEN alt_family ELSE given END
        AS aligned_family,
    CASE WHEN NOT is_name_permuted THEN given WHEN is_given_first_hit THEN alt_given ELSE family END
        AS aligned_given,
    CASE WHEN is_name_permuted AND is_given_first_hit THEN alt_middle ELSE middle END AS aligned_middle,
    CASE WHEN NOT is_name_permuted THEN family_marked END AS aligned_family_marked,
    CASE WHEN NOT is_name_permuted THEN given_marked END AS aligned_given_marked
"""

# (aligned shot column, registry column, prefix of the similarity columns it gets)
NAME_SIMILARITY_PARTS = (
    ("aligned_given", "registry_given", "given"),
    ("aligned_family", "registry_family", "family"),
    ("aligned_middle", "registry_middle", "middle"),
)
