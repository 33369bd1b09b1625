"""`generate()`: a registry snapshot, a landing folder of facility exports, and the answers.

Writes out_dir/registry.parquet, out_dir/landing/<province>/<facility>/<file>, out_dir/truth.parquet
(one row per data row of every export file), out_dir/files.parquet (one row per landed file) and
out_dir/summary.json. Deterministic for a seed (and a given set of package versions).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl

from synth import vaccines as vx
from synth.admin import load_wards, province_folder_name
from synth.config import SynthConfig
from synth.defects import DEFECTS, FILE_FORMATS, WHOLE_FILE_REASONS
from synth.layout import facility_styles, layout_files
from synth.plan import ExportPlan, build_plan
from synth.registry import generate_people, registry_frame
from synth.render import render_all
from synth.spoil import Spoiler
from synth.text import misspell
from synth.writers import file_digest, junk_file, write_export_file
from vaxsync.core.errors import InputError
from vaxsync.core.reasons import QUARANTINE_REASONS
from vaxsync.core.settings import CAMPAIGN_START
from vaxsync.core.workdir import create_private_folder, owner_only_files

log = logging.getLogger(__name__)

TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int32(),
    "true_citizen_id": pl.String(),
    "true_vaccine": pl.String(),
    "true_dose_number": pl.Int8(),
    "true_vaccination_date": pl.Date(),
    "dup_group": pl.Int64(),
    "expected": pl.String(),
    "corruptions": pl.List(pl.String()),
    "person_kind": pl.String(),
    "invalid_kind": pl.String(),
    "dup_kind": pl.String(),
    "age_group": pl.String(),
    "file_format": pl.String(),
    "template": pl.String(),
}
ENCODING_REPAIRS = {"csv_tcvn3": "tcvn3", "csv_vni": "vni", "csv_utf8_double_encoded": "utf8_as_cp1252"}
PERSON_COLUMNS = (
    "person_kind", "citizen_id", "legacy_id", "relative_id", "phone", "family_phone", "w1", "w2", "w3", "w4",
    "is_standard_name", "sex", "birth_days", "is_birth_date_known", "death_days", "ward_idx", "street",
    "is_temp_residence", "scheme", "own_id",
)  # fmt: skip
FILE_STYLE_COLUMNS = (
    "file_format", "template", "dob_style", "vax_style", "dose_style", "sex_style", "is_us_dates",
    "is_ids_as_numbers", "is_code_in_facility_name", "facility_code", "facility_name", "count_extra_columns",
    "is_duplicate_headers", "is_header_noise", "count_preamble_rows", "is_columns_shuffled", "exported_on",
)  # fmt: skip


def _work_frame(
    rows: pl.DataFrame, plan: ExportPlan, files: pl.DataFrame, wards: pl.DataFrame
) -> pl.DataFrame:
    """One row per export data row with everything rendering needs, in file and row order."""
    persons = plan.persons.select(
        "person_ref",
        *PERSON_COLUMNS,
        pl.col("province_code").alias("home_province_code"),
    )
    first_products = rows.filter((pl.col("dose_number") == 1) & (pl.col("dup_kind") == "original")).select(
        "person_ref",
        pl.col("vaccine_idx")
        .replace_strict({i: spec.primary_doses for i, spec in enumerate(vx.VACCINES)}, return_dtype=pl.Int64)
        .alias("primary_doses"),
    )
    address_units = wards.select(
        "ward_idx",
        pl.col("province_code").alias("province_code_addr"),
        "province_bare",
        "province_type",
        "district_bare",
        "district_type",
        "ward_bare",
        "ward_type",
        "ward_misspelled",
    )
    return (
        rows.join(persons, on="person_ref", how="left", maintain_order="left")
        .join(first_products, on="person_ref", how="left", maintain_order="left")
        .join(files.select("file_idx", *FILE_STYLE_COLUMNS), on="file_idx", how="left", maintain_order="left")
        .join(address_units, on="ward_idx", how="left", maintain_order="left")
        .with_columns(
            pl.col("primary_doses").fill_null(2),
            pl.coalesce("home_province_code", "province_code_addr").alias("home_province_code"),
        )
        .sort("file_idx", "source_row")
    )


def _inherit_index(work: pl.DataFrame) -> np.ndarray:
    """For each row, the row whose random draws it reuses: a re-export reuses its original's."""
    row_id = work["row_id"].to_numpy().astype(np.int64)
    position = np.empty(row_id.max() + 1 if len(row_id) else 0, dtype=np.int64)
    position[row_id] = np.arange(len(row_id))
    inherit = np.arange(len(row_id))
    is_copy = (work["dup_kind"] == "reexport").to_numpy()
    inherit[is_copy] = position[work["copy_of"].to_numpy()[is_copy].astype(np.int64)]
    return inherit


def _write_exports(landing: Path, work: pl.DataFrame, files: pl.DataFrame) -> pl.DataFrame:
    """Write every export file; returns file_idx, is_truncated, header_line."""
    output_columns = [column for column in work.columns if column.startswith("out_")]
    by_file = work.select("file_idx", *output_columns, "is_dob_year_only").partition_by(
        "file_idx", maintain_order=True, as_dict=True
    )
    results = []
    for file_row in files.iter_rows(named=True):  # one iteration per file
        rows = by_file[(file_row["file_idx"],)]
        written = write_export_file(landing, rows, file_row)
        results.append((file_row["file_idx"], written.is_truncated, written.header_line))
    return pl.DataFrame(
        results,
        schema={"file_idx": pl.UInt32, "is_truncated": pl.Boolean, "header_line": pl.Int32},
        orient="row",
    )


def _write_junk(
    landing: Path, rng: np.random.Generator, files: pl.DataFrame, config: SynthConfig
) -> pl.DataFrame:
    """The whole-file defects, dropped into facility folders that also hold real exports."""
    facilities = files.select("facility_code", "province_code", "province_name", "facility_name").unique(
        "facility_code", keep="first", maintain_order=True
    )
    records = []
    for kind, reason in WHOLE_FILE_REASONS.items():  # a handful of kinds
        count = max(1, round(config.rate(kind) * len(files)))
        for _ in range(count):
            facility = facilities.row(int(rng.integers(0, len(facilities))), named=True)
            name, data, file_format = junk_file(kind, rng, facility["facility_name"])
            province_folder = province_folder_name(facility["province_code"], facility["province_name"])
            folder = f"{province_folder}/{facility['facility_code']}"
            relative = f"{folder}/{name}"
            while (landing / relative).exists():
                stem, dot, extension = name.rpartition(".")
                name = f"{stem}_{int(rng.integers(1, 100))}{dot}{extension}"
                relative = f"{folder}/{name}"
            (landing / folder).mkdir(parents=True, exist_ok=True)
            (landing / relative).write_bytes(data)
            records.append(
                {
                    "source_file": relative,
                    "file_format": file_format,
                    "file_defect": kind,
                    "expected_quarantine_reason": reason,
                    "facility_code": facility["facility_code"],
                    "province_code": facility["province_code"],
                }
            )
    return pl.DataFrame(records)


def _with_expected(truth: pl.DataFrame) -> pl.DataFrame:
    """The outcome the pipeline should reach for each row (see docs/synth.md)."""
    valid = pl.col("invalid_kind") == ""
    # Of the valid copies of a dose, the one landed first (export date, path, row) is posted.
    first = (
        truth.with_row_index("position")
        .sort("dup_group", valid.not_(), "exported_on", "source_file", "source_row")
        .with_columns(pl.col("dup_group").is_first_distinct().alias("is_first"))
        .sort("position")
    )
    expected = (
        pl.when(~valid)
        .then(pl.lit("backlog_invalid"))
        .when(pl.col("person_kind") != "citizen")
        .then(pl.lit("backlog_not_in_registry"))
        .when(pl.col("is_first"))
        .then(pl.lit("post"))
        .otherwise(pl.lit("duplicate"))
    )
    return first.with_columns(expected.alias("expected"))


def _truth(work: pl.DataFrame, written: pl.DataFrame, files: pl.DataFrame, tags: pl.Series) -> pl.DataFrame:
    truncated_rows = (
        files.select("file_idx", "count_data_rows")
        .join(written.filter(pl.col("is_truncated")), on="file_idx", how="inner")
        .select(
            "file_idx",
            pl.col("count_data_rows").cast(pl.Int32).alias("source_row"),
            pl.lit(True).alias("is_truncated_row"),
        )
    )
    age = (pl.col("vaccinated_days") - pl.col("birth_days")) // 365
    truth = (
        work.select(
            "file_idx",
            "source_row",
            "citizen_id",
            "vaccine_idx",
            "dose_number",
            "vaccinated_days",
            "dup_group",
            "person_kind",
            "invalid_kind",
            "dup_kind",
            "file_format",
            "template",
            "birth_days",
            "exported_on",
        )
        .with_columns(tags)
        .join(truncated_rows, on=["file_idx", "source_row"], how="left", maintain_order="left")
        .join(files.select("file_idx", "source_file"), on="file_idx", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("is_truncated_row"))
            .then(pl.lit("truncated_row"))
            .otherwise(pl.col("invalid_kind"))
            .alias("invalid_kind"),
            pl.when(pl.col("is_truncated_row"))
            .then(pl.col("corruptions").list.concat(pl.lit(["truncated_row"])))
            .otherwise(pl.col("corruptions"))
            .alias("corruptions"),
            pl.when(age < 12)
            .then(pl.lit("0-11"))
            .when(age < 18)
            .then(pl.lit("12-17"))
            .when(age < 70)
            .then(pl.lit("18-69"))
            .otherwise(pl.lit("70+"))
            .alias("age_group"),
        )
    )
    truth = _with_expected(truth)
    return truth.select(
        "source_file",
        "source_row",
        pl.col("citizen_id").alias("true_citizen_id"),
        pl.col("vaccine_idx")
        .replace_strict(dict(enumerate(vx.VACCINE_CODES)), return_dtype=pl.String)
        .alias("true_vaccine"),
        pl.col("dose_number").alias("true_dose_number"),
        pl.col("vaccinated_days").cast(pl.Date).alias("true_vaccination_date"),
        "dup_group",
        "expected",
        "corruptions",
        "person_kind",
        "invalid_kind",
        "dup_kind",
        "age_group",
        "file_format",
        "template",
    ).cast(TRUTH_SCHEMA)  # type: ignore[arg-type]


def _files_table(
    landing: Path, files: pl.DataFrame, written: pl.DataFrame, junk: pl.DataFrame
) -> pl.DataFrame:
    exports = files.join(written, on="file_idx", how="left").select(
        "source_file",
        "file_format",
        "template",
        "facility_code",
        "province_code",
        pl.lit("loaded").alias("expected_status"),
        pl.lit(None, pl.String).alias("expected_quarantine_reason"),
        pl.lit(None, pl.String).alias("file_defect"),
        pl.col("count_data_rows").cast(pl.Int64),
        "header_line",
        pl.col("count_preamble_rows").cast(pl.Int32),
        pl.col("count_blank_rows").cast(pl.Int32),
        "has_total_row",
        "is_truncated",
        "is_columns_shuffled",
        pl.col("count_extra_columns").cast(pl.Int32),
        "is_duplicate_headers",
        "is_header_noise",
        "is_us_dates",
        "is_ids_as_numbers",
        "dob_style",
        "vax_style",
        "dose_style",
        "sex_style",
        "exported_on",
    )
    junk = junk.with_columns(
        pl.lit(None, pl.String).alias("template"),
        pl.lit("quarantined").alias("expected_status"),
        pl.lit(0, pl.Int64).alias("count_data_rows"),
    )
    table = pl.concat([exports, junk], how="diagonal_relaxed")
    labels = {name: spec[1] for name, spec in FILE_FORMATS.items()}
    delimiters = {name: spec[2] for name, spec in FILE_FORMATS.items()}
    digests = [file_digest(landing / path) for path in table["source_file"]]  # one read per file
    return table.with_columns(
        pl.col("file_format").replace_strict(labels, default=None, return_dtype=pl.String).alias("encoding"),
        pl.col("file_format")
        .replace_strict(delimiters, default=None, return_dtype=pl.String)
        .alias("delimiter"),
        pl.col("file_format").replace_strict(ENCODING_REPAIRS, default=None, return_dtype=pl.String)
        .alias("expected_encoding_repair"),
        pl.Series("file_size_bytes", [size for size, _ in digests], dtype=pl.Int64),
        pl.Series("file_hash", [digest for _, digest in digests], dtype=pl.String),
    ).sort("source_file")  # fmt: skip


def _value_counts(column: pl.Series) -> dict[str, int]:
    counts = column.drop_nulls().value_counts().sort(column.name)
    return {str(key): int(count) for key, count in counts.iter_rows()}


def _summary(
    config: SynthConfig, registry: pl.DataFrame, truth: pl.DataFrame, files: pl.DataFrame, sp: Spoiler
) -> dict[str, object]:
    exports = files.filter(pl.col("expected_status") == "loaded")
    file_level = {
        name: {"count_files": int(exports[column].sum()), "count_eligible": len(exports)}
        for name, column in (
            ("truncated_row", "is_truncated"),
            ("total_row", "has_total_row"),
            ("column_order_shuffled", "is_columns_shuffled"),
            ("duplicate_header_names", "is_duplicate_headers"),
            ("header_noise", "is_header_noise"),
            ("date_us_format", "is_us_dates"),
        )
    }
    file_level["blank_rows"] = {
        "count_files": int((exports["count_blank_rows"] > 0).sum()),
        "count_eligible": len(exports),
    }
    file_level["preamble_rows"] = {
        "count_files": int((exports["count_preamble_rows"] > 0).sum()),
        "count_eligible": len(exports),
    }
    file_level["extra_columns"] = {
        "count_files": int((exports["count_extra_columns"] > 0).sum()),
        "count_eligible": len(exports),
    }
    registry_stats = {
        "count_legacy_ids": int(registry["legacy_id"].is_not_null().sum()),
        "count_shared_legacy_ids": int(registry["legacy_id"].drop_nulls().is_duplicated().sum()),
        "count_year_only_birth": int(registry["date_of_birth"].is_null().sum()),
        "count_died": int(registry["date_of_death"].is_not_null().sum()),
        "count_phones": int(registry["phone"].is_not_null().sum()),
    }
    return {
        "citizens": len(registry),
        "export_rows": len(truth),
        "export_files": len(exports),
        "landed_files": len(files),
        "expected_counts": _value_counts(truth["expected"]),
        "files_by_format": _value_counts(exports["file_format"]),
        "files_by_template": _value_counts(exports["template"]),
        "files_by_status": _value_counts(files["expected_status"]),
        "quarantine_reasons": _value_counts(files["expected_quarantine_reason"]),
        "rows_by_person_kind": _value_counts(truth["person_kind"]),
        "rows_by_dup_kind": _value_counts(truth["dup_kind"]),
        "rows_by_invalid_kind": _value_counts(truth["invalid_kind"].replace("", None)),
        "snapshot_date": config.snapshot_date.isoformat(),
        "valid_vaccination_dates": [CAMPAIGN_START.isoformat(), config.snapshot_date.isoformat()],
        "vaccine_codes": list(vx.VACCINE_CODES),
        "seed": config.seed,
        "configured_rates": {name: config.rate(name) for name in DEFECTS},
        "realised_row_defects": sp.log.realised(),
        "realised_file_defects": file_level,
        "registry": registry_stats,
        "quarantine_reason_codes": sorted(QUARANTINE_REASONS),
    }


@contextmanager
def _stage(name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    log.info("synth stage %s took %.2f s", name, time.perf_counter() - started)


def _finish_uploads(landing: Path, snapshot_date: dt.date) -> None:
    """Date every landed file at noon (UTC) of the snapshot date: uploads finished long before the night,
    which the night's settle rule (settings.landing_settle_seconds) would otherwise leave for tomorrow."""
    uploaded = dt.datetime.combine(snapshot_date, dt.time(12), tzinfo=dt.UTC).timestamp()
    for path in landing.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (uploaded, uploaded))


def generate(out_dir: Path, config: SynthConfig) -> dict[str, object]:
    """Generate everything into out_dir (its landing/ folder is replaced); returns the summary.

    The files hold realistic personal data (names, IDs, phones), so, like the warehouse and the reports,
    they are owner-only: 0600 files in 0700 folders."""
    _refuse_foreign_folder(out_dir)
    with owner_only_files():
        create_private_folder(out_dir)
        return _generate(out_dir, config)


SYNTH_OUTPUTS = ("landing", "registry.parquet", "truth.parquet", "files.parquet")


def _refuse_foreign_folder(out_dir: Path) -> None:
    """The landing folder and the registry are replaced: only in a folder the synth wrote (its summary.json
    is written last), never over a real landing or registry snapshot given as --out by mistake."""
    if (out_dir / "summary.json").is_file():
        return
    found = [name for name in SYNTH_OUTPUTS if (out_dir / name).exists()]
    if found:
        raise InputError(
            f"--out {out_dir} already holds {', '.join(found)} that vaxsync synth did not write "
            "(no summary.json): give an empty or new folder"
        )


def _generate(out_dir: Path, config: SynthConfig) -> dict[str, object]:
    streams = [np.random.default_rng(seed) for seed in np.random.SeedSequence(config.seed).spawn(6)]
    landing = out_dir / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    landing.mkdir()
    with _stage("registry"):
        wards = load_wards(config.resolved_admin_units_path())
        wards = wards.with_columns(misspell(pl.col("ward_bare")).alias("ward_misspelled"))
        people = generate_people(streams[0], wards, config)
        registry = registry_frame(people)
        registry.write_parquet(out_dir / "registry.parquet")
    with _stage("plan"):
        plan = build_plan(streams[1], people, wards, config)
        del people
        styles = facility_styles(streams[2], plan.facilities, config)
        rows, files = layout_files(streams[3], plan.rows, styles, config)
    with _stage("render"):
        work = _work_frame(rows, plan, files, wards)
        spoiler = Spoiler(work, _inherit_index(work), streams[4], config)
        render_all(spoiler, config.snapshot_date)
    with _stage("write files"):
        written = _write_exports(landing, spoiler.work, files)
        junk = _write_junk(landing, streams[5], files, config)
        _finish_uploads(landing, config.snapshot_date)
    with _stage("truth"):
        truth = _truth(spoiler.work, written, files, spoiler.log.tags_column())
        truth.write_parquet(out_dir / "truth.parquet")
        files_table = _files_table(landing, files, written, junk)
        files_table.write_parquet(out_dir / "files.parquet")
        summary = _summary(config, registry, truth, files_table, spoiler)
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return summary
