"""Vaccine rule and the catalogue it reads."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from normalize_builders import apply_rule

from transforms.normalize.reference import NormalizeReference
from transforms.normalize.vaccines import vaccine_code, vaccine_unknown_detail


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("AstraZeneca", "ASTRAZENECA"),
        ("Astra Zeneca", "ASTRAZENECA"),
        ("ASTRA ZENECA", "ASTRAZENECA"),
        ("Astra", "ASTRAZENECA"),
        ("AZ", "ASTRAZENECA"),
        ("az", "ASTRAZENECA"),
        ("Astra Zecera", "ASTRAZENECA"),
        ("AZD1222", "ASTRAZENECA"),
        ("Vaxzevria", "ASTRAZENECA"),
        ("Covishield", "ASTRAZENECA"),
        ("Covid-19 Vaccine AstraZeneca", "ASTRAZENECA"),
        ("Pfizer", "PFIZER"),
        ("  PFIZER ", "PFIZER"),
        ("Phizer", "PFIZER"),
        ("pfizer-biontech", "PFIZER"),
        ("Comirnaty (Pfizer BioNtech)", "PFIZER"),
        ("BNT162b2", "PFIZER"),
        ("Moderna", "MODERNA"),
        ("Covit-19 vaccine Modena", "MODERNA"),
        ("Spikevax", "MODERNA"),
        ("mRNA-1273", "MODERNA"),
        ("Vero Cell", "VERO_CELL"),
        ("Verocell", "VERO_CELL"),
        ("Vero-cell (của Sinopharm)", "VERO_CELL"),
        ("Sinopharm", "VERO_CELL"),
        ("BIBP", "VERO_CELL"),
        ("Sputnik V", "SPUTNIK_V"),
        ("Gam-COVID-Vac", "SPUTNIK_V"),
        ("Abdala", "ABDALA"),
        ("Vaccine Abdala (AICA-Cuba)", "ABDALA"),
        ("Abdala (CIGB-66)", "ABDALA"),
        ("Hayat-Vax", "HAYAT_VAX"),
        ("Hayat-Vax (Sinopharm)", "HAYAT_VAX"),  # the specific name wins over the maker's
        ("Janssen", None),  # approved, never supplied to the campaign
        ("Covaxin", None),
        ("Vắc xin COVID-19", None),
        ("Vaccine", None),
        ("?", None),
        ("Pfizer hoặc Moderna", None),  # two products: no answer
        (None, None),
    ],
)
def test_vaccine_code(raw: str | None, code: str | None, reference: NormalizeReference) -> None:
    rule = lambda text: vaccine_code(text, reference.vaccine_variants, reference.vaccines)  # noqa: E731
    assert apply_rule(rule, [raw]) == [code]


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("Vắc xin COVID-19", "Vắc xin COVID-19"),
        (" ? ", "?"),
        ("Janssen", "Janssen (JANSSEN is approved in Vietnam but was not supplied to the campaign)"),
    ],
)
def test_unknown_vaccine_detail_shows_the_raw_text(
    raw: str, detail: str, reference: NormalizeReference
) -> None:
    rule = lambda text: vaccine_unknown_detail(text, reference.vaccine_variants, reference.vaccines)  # noqa: E731
    assert apply_rule(rule, [raw]) == [detail]


def test_catalogue_holds_every_product_with_its_schedule(reference: NormalizeReference) -> None:
    catalogue = reference.vaccines
    expected = {
        "ASTRAZENECA",
        "PFIZER",
        "MODERNA",
        "VERO_CELL",
        "SPUTNIK_V",
        "ABDALA",
        "HAYAT_VAX",
        "JANSSEN",
        "COVAXIN",
    }
    assert set(catalogue["vaccine_code"]) == expected
    assert catalogue["vaccine_code"].is_unique().all()
    assert catalogue.filter(pl.col("primary_doses").is_null() | pl.col("min_age_years").is_null()).is_empty()
    first_shot = dt.date(2021, 3, 8)
    assert (
        catalogue.filter(pl.col("vaccine_code") == "ASTRAZENECA")["approved_in_vietnam_on"].item()
        <= first_shot
    )
    assert catalogue.filter(pl.col("vaccine_code") == "ABDALA").select("primary_doses", "max_age_years").row(
        0
    ) == (3, 65)


def test_every_variant_names_a_catalogue_code(reference: NormalizeReference) -> None:
    variants = reference.vaccine_variants
    assert set(variants["vaccine_code"]) <= set(reference.vaccines["vaccine_code"])
    assert variants.filter(pl.col("match_kind") == "keyword")["keyword_rank"].null_count() == 0
