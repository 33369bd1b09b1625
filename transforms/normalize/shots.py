"""normalized_shots: one row per staged row (same grain), parsed and canonicalised.

The staged columns pass through untouched; the NORMALIZED_EXTRA_SCHEMA columns are added. Rules that
depend on one text value only (a name, a vaccine string) run on the DISTINCT values of that column,
and the addresses on distinct segments, as lookups built from the staged rows and joined back once:
such values repeat many times across a night's files.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from transforms.normalize import dates, ids, names, phones, vaccines
from transforms.normalize.addresses import (
    ADDRESS_COLUMNS,
    CODE_COLUMNS,
    facility_province_code,
    resolve_admin_codes,
)
from transforms.normalize.dose import dose_number
from transforms.normalize.lookups import aligned, lookup_on_distinct
from transforms.normalize.reference import NormalizeReference, load_reference, province_2025_code
from transforms.normalize.rejects import is_blank, reject_reason_and_detail
from transforms.normalize.sex import sex_code
from transforms.normalize.text import EAGER_ENGINE, blank_to_null
from vaxsync.core.contracts import NORMALIZED_EXTRA_SCHEMA, STAGED_ROW_SCHEMA, raw_column
from vaxsync.core.settings import CAMPAIGN_START


def read_once(staged: pl.LazyFrame) -> pl.LazyFrame:
    """The staged rows in memory. About ten lookups below read the staged rows, and a plan from
    scan_parquet reads (and parses) its files again for each: on a night of ~750 staged files that
    reading was three quarters of normalize's CPU. The rows are kept anyway (the result has them all)."""
    return staged.collect(engine=EAGER_ENGINE).lazy()


# The staged columns the rules read: the export fields as sent.
RAW_NAME, RAW_BIRTH, RAW_SEX = raw_column("full_name"), raw_column("date_of_birth"), raw_column("sex")
RAW_VACCINE, RAW_VACCINATED = raw_column("vaccine"), raw_column("vaccinated_on")
RAW_DOSE, RAW_LOT = raw_column("dose"), raw_column("lot")
RAW_PHONE, RAW_ID = raw_column("phone"), raw_column("id_number")


def name_lookup(rows: pl.LazyFrame, reference: NormalizeReference) -> pl.LazyFrame:
    """raw_full_name -> full_name_clean and the four name keys, per distinct raw name."""
    cleaned = names.full_name_lookup(
        rows.select(RAW_NAME),
        RAW_NAME,
        surnames=reference.surnames,
        surname_statistics=reference.surname_statistics,
    )
    return names.with_name_keys(cleaned, "full_name_clean")


def vaccine_lookup(rows: pl.LazyFrame, reference: NormalizeReference) -> pl.LazyFrame:
    """raw_vaccine -> vaccine_code, vaccine_detail, per distinct raw text."""
    raw, variants, catalogue = pl.col(RAW_VACCINE), reference.vaccine_variants, reference.vaccines
    return lookup_on_distinct(
        rows,
        RAW_VACCINE,
        [
            vaccines.vaccine_code(raw, variants, catalogue).alias("vaccine_code"),
            vaccines.vaccine_unknown_detail(raw, variants, catalogue).alias("vaccine_detail"),
        ],
    )


def id_lookup(rows: pl.LazyFrame, *, as_of: dt.date, reference: NormalizeReference) -> pl.LazyFrame:
    """raw_id_number -> id_kind, id_value and the decoded CCCD fields, per distinct ID text."""
    distinct = rows.select(RAW_ID).unique()
    return ids.with_ids(distinct, as_of_year=as_of.year, province_codes=reference.province_codes)


def phone_lookup(rows: pl.LazyFrame, reference: NormalizeReference) -> pl.LazyFrame:
    """raw_phone -> phone_number, phone_kind, per distinct phone text."""
    return phones.with_phones(rows.select(RAW_PHONE).unique(), reference.phone_prefixes)


def lot_number(raw_lot: pl.Expr) -> pl.Expr:
    return blank_to_null(raw_lot).str.to_uppercase().str.replace_all(r"\s+", "")


def birth_missing(raw_birth: pl.Expr) -> pl.Expr:
    """A birth date cell that is blank or a placeholder ("chưa có", "KXĐ")."""
    return is_blank(blank_to_null(raw_birth))


def reject_columns(*, as_of: dt.date, campaign_start: dt.date) -> list[pl.Expr]:
    missing = {
        "full_name": pl.col("full_name_clean").is_null(),
        "date_of_birth": pl.col("_birth_missing"),
        "vaccine": is_blank(pl.col(RAW_VACCINE)),
        "vaccinated_on": is_blank(pl.col(RAW_VACCINATED)),
    }
    return reject_reason_and_detail(
        row_issue=pl.col("row_issue"),
        missing=missing,
        vaccine_code=pl.col("vaccine_code"),
        vaccine_detail=pl.col("vaccine_detail"),
        vaccinated_raw=pl.col(RAW_VACCINATED),
        vaccinated_date=pl.col("vaccinated_date"),
        birth_raw=pl.col(RAW_BIRTH),
        birth_year=pl.col("birth_year"),
        campaign_start=campaign_start,
        as_of=as_of,
    )


# What the date rules read: the two date texts, the file (month-first detection) and the cell kinds.
DATE_INPUT_COLUMNS = ["source_file", "file_hash", RAW_BIRTH, RAW_VACCINATED, "cell_kinds"]
ADMIN_ERA = "2021"  # 2021-22 records use the 63-province units (vietnam-provinces 0.4.3 data)


def normalize_shots(
    staged: pl.LazyFrame,
    *,
    as_of: dt.date,
    campaign_start: dt.date = CAMPAIGN_START,
    reference: NormalizeReference | None = None,
) -> pl.LazyFrame:
    """Staged rows (STAGED_ROW_SCHEMA) -> the same rows plus the NORMALIZED_EXTRA_SCHEMA columns."""
    reference = reference or load_reference()
    staged = read_once(staged.select(list(STAGED_ROW_SCHEMA)))
    facility = lookup_on_distinct(
        staged,
        "source_file",
        [
            facility_province_code(pl.col("source_file"), reference.province_codes).alias(
                "facility_province_code"
            )
        ],
    )
    # Lookups read the plain input (`staged`), never the growing frame, so the plan stays small. Each
    # adds its columns beside the staged ones (`aligned`), in the order the rows came in.
    lookups = [
        (RAW_PHONE, phone_lookup(staged, reference)),
        (RAW_ID, id_lookup(staged, as_of=as_of, reference=reference)),
        (RAW_LOT, lookup_on_distinct(staged, RAW_LOT, [lot_number(pl.col(RAW_LOT)).alias("lot_number")])),
        (RAW_NAME, name_lookup(staged, reference)),
        (RAW_VACCINE, vaccine_lookup(staged, reference)),
        # read three times by the reject rules: one column, from the distinct birth texts
        (
            RAW_BIRTH,
            lookup_on_distinct(staged, RAW_BIRTH, [birth_missing(pl.col(RAW_BIRTH)).alias("_birth_missing")]),
        ),
        (RAW_SEX, lookup_on_distinct(staged, RAW_SEX, [sex_code(pl.col(RAW_SEX)).alias("sex_code")])),
        (
            RAW_DOSE,
            lookup_on_distinct(
                staged, RAW_DOSE, [dose_number(pl.col(RAW_DOSE)).alias("dose_number_reported")]
            ),
        ),
    ]
    looked_up = [aligned(staged, column, lookup) for column, lookup in lookups]
    facility_columns = aligned(staged, "source_file", facility)
    address_source = (
        staged.select(*ADDRESS_COLUMNS[:-1], "source_file")
        .unique()
        .join(facility, on="source_file", how="left", nulls_equal=True)
    )
    addresses = pl.concat([staged.select(ADDRESS_COLUMNS[:-1]), facility_columns], how="horizontal")
    admin_codes = resolve_admin_codes(addresses, reference.admin_index, lookup_source=address_source).select(
        CODE_COLUMNS
    )
    date_fields = staged.select(DATE_INPUT_COLUMNS)
    date_columns = dates.with_dates(
        date_fields,
        as_of=as_of,
        campaign_start=campaign_start,
        min_age_years=reference.min_vaccination_age,
        file_key=pl.coalesce("file_hash", "source_file"),
        lookup_source=staged,
    ).drop(DATE_INPUT_COLUMNS)
    frame = pl.concat([staged, facility_columns, *looked_up, admin_codes, date_columns], how="horizontal")
    frame = frame.with_columns(
        pl.when(pl.col("province_code").is_not_null()).then(pl.lit(ADMIN_ERA)).alias("admin_era"),
        province_2025_code(pl.col("province_code"), reference).alias("province_code_2025"),
        *reject_columns(as_of=as_of, campaign_start=campaign_start),
    )
    frame = frame.with_columns(dates.held_when_date_doubtful())
    return frame.select(
        *[pl.col(name).cast(dtype) for name, dtype in STAGED_ROW_SCHEMA.items()],
        *[pl.col(name).cast(dtype) for name, dtype in NORMALIZED_EXTRA_SCHEMA.items()],
    )
