"""Every defect the generator produces is repaired by normalization, or sent to the backlog or quarantine
with the right reason; and no defective row is posted to the wrong citizen.

The generator tags each row with the defects applied (truth.corruptions) and each file with its
file-level defect (files.parquet); this test checks each tag against what the pipeline did.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from synth import SynthConfig, generate
from synth.defects import DEFECTS
from transforms.ingest import file_content_hash
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import RunWorkDir
from vaxsync.marts.registry_cache import prepared_registry_file
from vaxsync.orchestration.pipeline import run_nightly

AS_OF = dt.date(2023, 1, 31)
# Reasons a row can get when its identity cannot be established yet: correct for an unmatched row.
MATCHING_REASONS = {
    "no_usable_id",
    "id_not_in_registry",
    "id_contradicted",
    "id_unrecoverable",
    "id_ambiguous",
    "no_confident_match",
    "review_required",
}

col = pl.col
name_key_repaired = col("name_key") == col("registry_name_key")
clean_name_repaired = col("full_name_clean") == col("registry_full_name")
family_given_repaired = (col("family_name_key") == col("registry_family_name_key")) & (
    col("given_name_key") == col("registry_given_name_key")
)
birth_date_repaired = (col("birth_date") == col("registry_date_of_birth")) | (
    col("birth_date_alt") == col("registry_date_of_birth")
)
birth_year_repaired = col("birth_year") == col("registry_birth_year")
id_repaired = col("id_value") == col("true_citizen_id")
phone_repaired = col("phone_number") == col("registry_phone")
vaccine_repaired = col("vaccine_code") == col("true_vaccine")
date_repaired = col("vaccinated_date") == col("true_vaccination_date")
dose_repaired = col("dose_number_reported") == col("true_dose_number")
province_repaired = col("province_code") == col("registry_province_code")


def backlog_with(*reasons: str) -> pl.Expr:
    return col("reason_code").is_in(list(reasons))


# For defects that call for no particular reason: posted to the right citizen, or in the backlog.
accounted_for = col("is_posted_to_true_citizen") | col("reason_code").is_not_null()


# defect -> (what must hold, the share of tagged rows it must hold for). Shares below 1 leave room
# for rows hit by several defects at once; each is a floor measured well below the observed rate.
ROW_DEFECT_CHECKS: dict[str, tuple[pl.Expr, float]] = {
    "name_no_diacritics": (name_key_repaired, 0.97),
    "name_nfd": (clean_name_repaired, 0.95),
    "name_tone_style": (clean_name_repaired, 0.95),
    "name_lookalike_d": (clean_name_repaired, 0.95),
    "name_all_caps": (clean_name_repaired, 0.9),
    "name_extra_spaces": (clean_name_repaired, 0.9),
    "name_title": (name_key_repaired, 0.9),
    "name_telex_keys": (name_key_repaired, 0.9),
    "name_vni_keys": (name_key_repaired, 0.9),
    "name_mojibake": (name_key_repaired, 0.9),
    "name_middle_dropped": (family_given_repaired, 0.95),
    "name_given_first": (name_key_repaired | accounted_for, 0.99),
    "name_typo": (accounted_for, 1.0),
    "id_missing": (col("id_kind") == "missing", 0.99),
    "id_placeholder": (col("id_kind") == "missing", 0.99),
    "id_legacy_cmnd": ((col("id_kind") == "cmnd9") & (col("id_value") == col("registry_legacy_id")), 0.97),
    "id_leading_zeros_lost": (id_repaired, 0.97),
    "id_scientific": (col("id_kind") == "unrecoverable", 0.99),
    "id_spaces": (id_repaired, 0.97),
    "id_typo_digit": (~id_repaired & accounted_for, 0.99),
    "id_transposed": (~id_repaired & accounted_for, 0.99),
    "id_family_member": (accounted_for, 1.0),
    "id_bhyt": (col("id_kind") == "bhyt", 0.99),
    # Some foreign passports are digits only and read as an old CMND: no citizen has them either.
    "id_passport": (col("id_kind").is_in(["passport", "other"]) | col("reason_code").is_not_null(), 0.99),
    "dob_year_only": (birth_year_repaired & col("birth_date").is_null(), 0.97),
    "dob_day_month_swapped": (birth_date_repaired, 0.95),
    "dob_year_off_by_one": (accounted_for, 1.0),
    "mixed_date_formats": (date_repaired & (birth_date_repaired | birth_year_repaired), 0.95),
    "vax_date_day_month_swapped": (col("vaccinated_date").is_not_null(), 0.99),
    "date_us_format": (date_repaired, 0.95),
    "date_two_digit_year": (date_repaired & birth_year_repaired, 0.95),
    "date_excel_serial": (date_repaired, 0.97),
    "date_with_time": (date_repaired, 0.97),
    "sex_missing": (col("sex_code").is_null(), 0.99),
    "sex_wrong": (col("sex_code").ne_missing(col("registry_sex")), 0.99),
    "phone_country_code": (phone_repaired, 0.97),
    "phone_leading_zero_lost": (phone_repaired, 0.97),
    "phone_separators": (phone_repaired, 0.97),
    "phone_old_11digit": (phone_repaired, 0.97),
    "phone_landline": (col("phone_kind") == "landline", 0.97),
    "addr_no_diacritics": (province_repaired, 0.9),
    "addr_abbreviated": (province_repaired, 0.9),
    "vaccine_text_noise": (vaccine_repaired, 0.98),
    "dose_booster_text": (col("dose_number_reported") >= 3, 0.9),
    "dose_additional_text": (col("dose_number_reported").is_not_null(), 0.9),
    "vaccine_unknown": (backlog_with("vaccine_unknown"), 0.99),
    "vax_date_out_of_range": (backlog_with("vaccination_date_out_of_range"), 0.99),
    "vax_date_future": (backlog_with("vaccination_date_out_of_range"), 0.99),
    "vax_date_impossible": (backlog_with("vaccination_date_invalid"), 0.99),
    "dob_impossible": (backlog_with("birth_date_invalid"), 0.99),
    "required_value_missing": (backlog_with("required_value_missing"), 0.99),
    "after_death": (backlog_with("shot_after_death", *MATCHING_REASONS), 1.0),
    "truncated_row": (backlog_with("malformed_row"), 1.0),
}
DATE_PREFIXES = ("dob_", "date_", "vax_date_", "mixed_date_")
# Defects with no normalization to check: what they change is matched, merged or kept as raw data.
NOT_ROW_CHECKED = {
    "phone_missing",
    "phone_borrowed_from_family",
    "phone_family_member",
    "phone_foreign",
    "addr_missing",
    "addr_ward_missing",
    "addr_ward_misspelled",
    "addr_temp_residence",
    "dose_missing",
    "dose_wrong",
    "lot_missing",
}


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    return run_and_collect(tmp_path_factory.mktemp("defects"))


def run_and_collect(out: Path) -> dict[str, pl.DataFrame]:
    """Generate messy data, run the night, and join truth, normalized rows, registry and outcomes."""
    generate(out / "synth", SynthConfig(citizens=15_000, shots=6_000, seed=23, snapshot_date=AS_OF))
    settings = Settings(
        registry_path=out / "synth" / "registry.parquet",
        landing_dir=out / "synth" / "landing",
        warehouse_path=out / "warehouse.duckdb",
        reports_dir=out / "reports",
        as_of=AS_OF,
    )
    run_nightly(settings)
    normalized = pl.read_parquet(RunWorkDir(settings).normalized_file)
    snapshot_hash = file_content_hash(settings.registry_path)
    registry = pl.read_parquet(prepared_registry_file(settings, snapshot_hash=snapshot_hash))
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        backlog = connection.sql("select source_file, source_row, reason_code from unposted_backlog").pl()
        posted = connection.sql(
            "select source_file, source_row, citizen_id from shot_sources join synced_shots using (shot_id)"
        ).pl()
        ledger = connection.sql(
            "select source_file, status, quarantine_reason, encoding_repair from ingest_ledger"
        ).pl()
    truth = pl.read_parquet(out / "synth" / "truth.parquet")
    rows = (
        truth.join(normalized, on=["source_file", "source_row"], how="left")
        .join(
            registry.rename(lambda name: f"registry_{name}"),
            left_on="true_citizen_id",
            right_on="registry_citizen_id",
            how="left",
        )
        .join(backlog, on=["source_file", "source_row"], how="left")
        .join(posted, on=["source_file", "source_row"], how="left")
        .with_columns(
            is_posted_to_true_citizen=(col("citizen_id") == col("true_citizen_id")).fill_null(False)
        )
    )
    return {"rows": rows, "ledger": ledger, "files": pl.read_parquet(out / "synth" / "files.parquet")}


def test_every_generated_defect_has_a_check() -> None:
    file_defects = {
        "empty_file",
        "binary_junk",
        "office_lock_file",
        "header_only",
        "other_template",
        "corrupt_xlsx",
        "unsupported_format",
    }
    structure = {
        "column_order_shuffled",
        "extra_columns",
        "duplicate_header_names",
        "header_noise",
        "preamble_rows",
        "blank_rows",
        "total_row",
        "ids_as_numbers",
    }
    # Absent namesakes are checked by test_no_defective_row_is_posted_to_a_wrong_citizen: never posted.
    population = {
        "dup_reexport",
        "dup_second_facility",
        "person_unregistered",
        "person_foreigner",
        "person_absent_namesake",
    }
    registry = {name for name in DEFECTS if name.startswith("registry_")}
    checked = set(ROW_DEFECT_CHECKS) | NOT_ROW_CHECKED | file_defects | structure | population | registry
    assert set(DEFECTS) <= checked, sorted(set(DEFECTS) - checked)


@pytest.mark.parametrize("defect", sorted(ROW_DEFECT_CHECKS))
def test_row_defect_is_repaired_or_has_the_right_reason(night: dict[str, pl.DataFrame], defect: str) -> None:
    check, floor = ROW_DEFECT_CHECKS[defect]
    # Judge each defect where it is the only one of its family (names, IDs, dates…) on the row.
    family = DATE_PREFIXES if defect.startswith(DATE_PREFIXES) else (defect.split("_")[0] + "_",)
    same_family = (
        col("corruptions")
        .list.eval(
            pl.element()
            .str.starts_with(family[0])
            .or_(*(pl.element().str.starts_with(prefix) for prefix in family[1:]))
        )
        .list.sum()
    )
    tagged = night["rows"].filter(col("corruptions").list.contains(defect) & (same_family == 1))
    if any(name.startswith("registry_") for name in check.meta.root_names()):
        # A repair judged against the registry's record can only be judged for people who have one.
        tagged = tagged.filter(col("true_citizen_id").is_not_null())
    if tagged.is_empty():
        pytest.skip(f"{defect} not generated at this size")
    share = tagged.select(check.fill_null(False).mean()).item()
    assert share >= floor, f"{defect}: {share:.3f} of {tagged.height} rows pass, floor {floor}"


def test_no_defective_row_is_posted_to_a_wrong_citizen(night: dict[str, pl.DataFrame]) -> None:
    posted = night["rows"].filter(col("citizen_id").is_not_null())
    wrong = posted.filter((col("citizen_id") != col("true_citizen_id")).fill_null(True))
    assert wrong.height == 0, wrong.select("corruptions", "expected").to_dicts()[:5]


def test_every_row_is_placed(night: dict[str, pl.DataFrame]) -> None:
    loaded = night["ledger"].filter(col("status") == "loaded").select("source_file")
    rows = night["rows"].join(loaded, on="source_file", how="semi")
    assert rows.filter(col("reason_code").is_null() & col("citizen_id").is_null()).height == 0


def test_file_defects_are_quarantined_with_the_expected_reason(night: dict[str, pl.DataFrame]) -> None:
    expected = night["files"].select(
        "source_file", "expected_status", "expected_quarantine_reason", "expected_encoding_repair"
    )
    compared = expected.join(night["ledger"], on="source_file", how="left")
    assert (compared["status"] == compared["expected_status"]).all()
    quarantined = compared.filter(col("expected_status") == "quarantined")
    assert (quarantined["quarantine_reason"] == quarantined["expected_quarantine_reason"]).all()
    repaired = compared.filter(col("expected_encoding_repair").is_not_null())
    assert (repaired["encoding_repair"] == repaired["expected_encoding_repair"]).all()
