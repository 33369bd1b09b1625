"""Clinical rules that several layers apply, each defined once here.

- Impossible link: a shot after the citizen's death or before their birth cannot be that citizen's, so
  the row must never post on them (matching.deterministic, matching.decision, the review decisions).
  With only the birth year known, "before birth" means before that year began.
- Age at vaccination: whole years on the vaccination date; with only the birth year known, the oldest
  the person can have been (year difference), so an age rule only fires when the person was certainly
  too young.
- Minimum vaccination age: the youngest age any catalogue product is approved from, read once from
  `vaccines.csv` (products' own minimum ages stay in that file; vaxsync.marts.events reads them there).

The campaign start is a setting: `vaxsync.core.settings.CAMPAIGN_START` (the default of
`Settings.campaign_start`).

Each rule is written once as a SQL fragment over column names that both engines read alike; DuckDB runs
the fragment as it is and polars runs the same text through `pl.sql_expr`, so the two cannot drift.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import polars as pl

from vaxsync.core.reference import reference_path

SHOT_AFTER_DEATH = "shot_after_death"
SHOT_BEFORE_BIRTH = "shot_before_birth"
# Backlog reason codes of an impossible link, in the order the checks are made (death first).
IMPOSSIBLE_LINK_REASONS: tuple[str, ...] = (SHOT_AFTER_DEATH, SHOT_BEFORE_BIRTH)


@dataclass(frozen=True)
class PersonDates:
    """Where a rule finds a person's dates: column names (or SQL expressions) of the person's birth date,
    birth year and death date."""

    date_of_birth: str
    birth_year: str
    date_of_death: str


# The registry citizen's dates as the ID pass and the review decisions carry them beside a row.
REGISTRY_DATES = PersonDates("registry_date_of_birth", "registry_birth_year", "registry_date_of_death")


def vaccination_year_sql(vaccinated: str) -> str:
    return f"EXTRACT(YEAR FROM {vaccinated})"


def shot_after_death_sql(vaccinated: str, person: PersonDates) -> str:
    """True when the shot falls after the person's recorded death; NULL when either date is unknown."""
    return f"({vaccinated} > {person.date_of_death})"


def shot_before_birth_sql(vaccinated: str, person: PersonDates) -> str:
    """True when the shot falls before the person's birth date or, with only the birth year known, before
    that year began; NULL when neither is known."""
    year_only = (
        f"({person.date_of_birth} IS NULL AND {vaccination_year_sql(vaccinated)} < {person.birth_year})"
    )
    return f"({vaccinated} < {person.date_of_birth} OR {year_only})"


def impossible_link_sql(vaccinated: str, person: PersonDates) -> str:
    """The IMPOSSIBLE_LINK_REASONS code of a shot that cannot be this person's, or NULL."""
    return (
        f"(CASE WHEN {shot_after_death_sql(vaccinated, person)} THEN '{SHOT_AFTER_DEATH}'"
        f" WHEN {shot_before_birth_sql(vaccinated, person)} THEN '{SHOT_BEFORE_BIRTH}' END)"
    )


def impossible_link(vaccinated: str = "vaccinated_date", person: PersonDates = REGISTRY_DATES) -> pl.Expr:
    """impossible_link_sql as a polars expression (String, null when the link is possible)."""
    return pl.sql_expr(impossible_link_sql(vaccinated, person))


def is_impossible_link(vaccinated: str = "vaccinated_date", person: PersonDates = REGISTRY_DATES) -> pl.Expr:
    """True when the shot cannot be this person's; False when it can or the dates are unknown."""
    return impossible_link(vaccinated, person).is_not_null()


def oldest_possible_age_sql(vaccinated: str, birth_year: str) -> str:
    """Age in whole calendar years, rounded in the person's favour: the vaccination year minus the birth year."""
    return f"({vaccination_year_sql(vaccinated)} - {birth_year})"


def age_at_vaccination_sql(vaccinated: str, date_of_birth: str, birth_year: str) -> str:
    """Whole years of age on the vaccination date (DuckDB); the oldest possible age when only the birth
    year is known."""
    exact = f"date_sub('year', {date_of_birth}, {vaccinated})"
    return f"coalesce({exact}, {oldest_possible_age_sql(vaccinated, birth_year)})"


@cache
def min_vaccination_age_years() -> int:
    """The youngest age any product in the vaccine catalogue is approved from (vaccines.csv)."""
    catalogue = pl.read_csv(
        reference_path("vaccines.csv"),
        columns=["min_age_years"],
        schema_overrides={"min_age_years": pl.Int32},
    )
    youngest = catalogue["min_age_years"].min()
    if not isinstance(youngest, int):
        raise ValueError("vaccines.csv gives no min_age_years")
    return youngest


def latest_vaccinable_birth_year(on: dt.date) -> int:
    """The latest birth year of anyone who can have been vaccinated by `on` (oldest possible age)."""
    return on.year - min_vaccination_age_years()
