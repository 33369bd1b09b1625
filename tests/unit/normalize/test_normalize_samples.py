"""normalize_shots on the shared sample exports, checked against their ground truth.

Ingestion is built elsewhere; this test stages the plain UTF-8, comma-separated sample files itself
(the two header templates, read with the csv module) so that normalization can be checked alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from transforms.normalize.reference import NormalizeReference
from transforms.normalize.shots import normalize_shots
from transforms.registry import prepare_registry
from vaxsync.core.contracts import STAGED_ROW_SCHEMA, raw_column

HEADERS = {
    "họ và tên": "full_name",
    "full name": "full_name",
    "ngày sinh": "date_of_birth",
    "date of birth": "date_of_birth",
    "giới tính": "sex",
    "sex": "sex",
    "số cccd/cmnd": "id_number",
    "id number": "id_number",
    "số điện thoại": "phone",
    "phone": "phone",
    "địa chỉ": "address",
    "address": "address",
    "tên vắc xin": "vaccine",
    "vaccine": "vaccine",
    "số lô": "lot",
    "lot": "lot",
    "mũi tiêm": "dose",
    "dose": "dose",
    "ngày tiêm": "vaccinated_on",
    "vaccination date": "vaccinated_on",
    "cơ sở tiêm": "facility_name",
    "facility": "facility_name",
}
AS_OF = dt.date(2023, 1, 31)


def stage_plain_csv(path: Path, source_file: str) -> list[dict[str, object]] | None:
    """The rows of a UTF-8 (no BOM) comma-separated export with a known template; None otherwise."""
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        lines = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    except UnicodeDecodeError:
        return None
    fields = (
        [HEADERS.get(unicodedata.normalize("NFC", cell).strip().lower()) for cell in lines[0]]
        if lines
        else []
    )
    if "full_name" not in fields or "vaccine" not in fields:
        return None
    rows = []
    for number, cells in enumerate(lines[1:], start=1):
        row: dict[str, object] = {"source_file": source_file, "file_hash": source_file, "source_row": number}
        row.update({raw_column(field): value for field, value in zip(fields, cells, strict=False) if field})
        row["row_issue"] = "malformed_row" if len(cells) != len(fields) else None
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def checked(samples_dir: Path, sample_reference: NormalizeReference) -> pl.DataFrame:
    exports = samples_dir / "exports"
    rows: list[dict[str, object]] = []
    for path in sorted(exports.rglob("*.csv")):
        rows += stage_plain_csv(path, path.relative_to(exports).as_posix()) or []
    staged = pl.DataFrame(rows, schema=STAGED_ROW_SCHEMA).lazy()
    shots = normalize_shots(staged, as_of=AS_OF, reference=sample_reference).collect()
    truth = pl.read_parquet(samples_dir / "truth.parquet")
    registry = prepare_registry(pl.scan_parquet(samples_dir / "registry.parquet"), reference=sample_reference)
    citizens = registry.collect().rename(lambda name: f"registry_{name}")
    assert shots.height == len(rows) > 1000
    return shots.join(truth, on=["source_file", "source_row"], how="left").join(
        citizens, left_on="true_citizen_id", right_on="registry_citizen_id", how="left"
    )


def has(corruption: str) -> pl.Expr:
    return pl.col("corruptions").list.contains(corruption)


def share(frame: pl.DataFrame, agrees: pl.Expr, where: pl.Expr) -> float:
    subset = frame.filter(where)
    assert subset.height > 0
    return subset.select(agrees.fill_null(False).mean()).item()


def test_every_row_has_its_truth(checked: pl.DataFrame) -> None:
    assert checked["expected"].null_count() == 0


def test_invalid_rows_get_their_reason(checked: pl.DataFrame) -> None:
    expected = {
        "vaccine_unknown": "vaccine_unknown",
        "vax_date_out_of_range": "vaccination_date_out_of_range",
    }
    invalid = checked.filter(pl.col("invalid_kind").is_in(list(expected)))
    assert invalid.height > 0
    assert invalid["reject_reason"].to_list() == invalid["invalid_kind"].replace(expected).to_list()


def test_valid_rows_are_matchable_and_read_right(checked: pl.DataFrame) -> None:
    valid = checked.filter(pl.col("invalid_kind").is_in(["", "after_death"]) & ~has("truncated_row"))
    assert valid["reject_reason"].null_count() == valid.height
    assert (valid["vaccine_code"] == valid["true_vaccine"]).all()
    assert (valid["vaccinated_date"] == valid["true_vaccination_date"]).all()
    assert share(valid, pl.col("dose_number_reported") == pl.col("true_dose_number"), pl.lit(True)) > 0.99


def test_person_fields_agree_with_the_registry(checked: pl.DataFrame) -> None:
    citizen = pl.col("true_citizen_id").is_not_null()
    same_name = pl.col("name_key") == pl.col("registry_name_key")
    assert share(checked, same_name, citizen & ~has("name_typo") & ~has("name_middle_dropped")) > 0.99
    exact_dob = (
        ~has("dob_year_only") & ~has("dob_year_off_by_one") & pl.col("registry_date_of_birth").is_not_null()
    )
    birth = pl.col("registry_date_of_birth")
    assert (
        share(
            checked,
            (pl.col("birth_date") == birth) | (pl.col("birth_date_alt") == birth),
            citizen & exact_dob,
        )
        == 1
    )
    assert (
        share(
            checked,
            pl.col("birth_year") == pl.col("registry_birth_year"),
            citizen & ~has("dob_year_off_by_one"),
        )
        == 1
    )
    assert (
        share(
            checked,
            pl.col("sex_code") == pl.col("registry_sex"),
            citizen & ~has("sex_wrong") & ~has("sex_missing"),
        )
        == 1
    )
    own_phone = ~has("phone_missing") & ~has("phone_family_member") & ~has("phone_borrowed_from_family")
    assert (
        share(
            checked,
            pl.col("phone_number") == pl.col("registry_phone"),
            citizen & own_phone & pl.col("registry_phone").is_not_null(),
        )
        == 1
    )
    home = citizen & ~has("addr_temp_residence") & ~has("addr_missing") & ~has("truncated_row")
    assert share(checked, pl.col("province_code") == pl.col("registry_province_code"), home) > 0.99
    assert share(checked, pl.col("district_code") == pl.col("registry_district_code"), home) > 0.98


def test_ids_are_classified_and_restored(checked: pl.DataFrame) -> None:
    own_id = ~has("id_typo_digit") & ~has("id_transposed") & ~has("id_family_member")
    usable = pl.col("true_citizen_id").is_not_null() & pl.col("id_kind").is_in(["cccd", "cmnd9"]) & own_id
    same = (pl.col("id_value") == pl.col("true_citizen_id")) | (
        pl.col("id_value") == pl.col("registry_legacy_id")
    )
    assert share(checked, same, usable) == 1
    scientific = checked.filter(has("id_scientific"))
    assert scientific.height == 0 or set(scientific["id_kind"]) == {"unrecoverable"}
