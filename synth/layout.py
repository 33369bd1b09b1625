"""Export files: each facility's export software (format, template, date and sex styles...) and its files.

A facility exports its doses in 1-5 files cut by vaccination date; a re-exported dose lands in the next
file. Styles belong to the facility (its software), structural accidents to a file.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth.admin import province_folder_name
from synth.config import SynthConfig
from synth.defects import FILE_FORMATS, TEMPLATE_SHARES, TEXT_FORMATS
from synth.registry import days
from synth.vaccines import DOSE_STYLES

# Date styles: strftime pattern, with the month-first twin used by Excel with US settings.
DATE_STYLES: dict[str, tuple[str, str]] = {
    "dmy_slash": ("%d/%m/%Y", "%m/%d/%Y"),
    "dmy_slash_short": ("%-d/%-m/%Y", "%-m/%-d/%Y"),
    "dmy_dash": ("%d-%m-%Y", "%m-%d-%Y"),
    "iso": ("%Y-%m-%d", "%Y-%m-%d"),
    "dmy_2y": ("%-d/%-m/%y", "%-m/%-d/%y"),
    "iso_time": ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"),
    "dmy_time": ("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"),
    "excel_serial": ("", ""),  # XLSX only: the serial as a plain number
    "excel_date": ("", ""),  # XLSX only: a real date cell
}
TEXT_DATE_STYLES = ("dmy_slash", "dmy_slash", "dmy_slash", "dmy_slash_short", "dmy_dash", "iso")
SEX_STYLES = {
    "nam_nu": ("Nam", "Nữ"),
    "lower": ("nam", "nữ"),
    "upper": ("NAM", "NỮ"),
    "ascii": ("Nam", "Nu"),
    "mf": ("M", "F"),
    "english": ("Male", "Female"),
    "digit": ("1", "0"),
}
VIETNAMESE_SEX_STYLES = ("nam_nu", "nam_nu", "nam_nu", "lower", "upper", "ascii", "mf", "digit")
PLAIN_DOSE_STYLES = ("digit", "digit", "mui", "mui_ascii")
BOOSTER_DOSE_STYLES = ("mui_booster", "mui_booster_paren", "mui_booster_long", "english_digit")
FILE_NAME_PATTERNS = (
    "{code}_{ymd}_{seq3}",
    "DS_tiem_{code}_{dmy_dash}_{seq}",
    "Danh sách tiêm đợt {seq} ({dmy_dot})",
    "export_{ymd}_{seq3}",
    "tiem_chung_{seq3}",
    "BaoCao_TiemChung_{code}_T{mm}_{yyyy}",
)
MAX_FILES_PER_FACILITY = 5


def _choose(rng: np.random.Generator, options: tuple[str, ...] | list[str], size: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), size)]


def _shares(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    keys = list(shares)
    weights = np.array([shares[key] for key in keys], dtype=float)
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=size, p=weights / weights.sum())]


def facility_styles(rng: np.random.Generator, facilities: pl.DataFrame, config: SynthConfig) -> pl.DataFrame:
    """One row per facility: the look of everything its software exports."""
    count = len(facilities)
    flag = lambda defect: rng.random(count) < config.rate(defect)  # noqa: E731
    file_format = _shares(rng, {name: config.format_share(name) for name in FILE_FORMATS}, count)
    template = _shares(rng, {name: config.template_share(name) for name in TEMPLATE_SHARES}, count)
    is_xlsx = file_format == "xlsx"
    is_english = template == "english"
    dob_style = _choose(rng, TEXT_DATE_STYLES, count)
    vax_style = np.where(rng.random(count) < 0.6, dob_style, _choose(rng, TEXT_DATE_STYLES, count))
    vax_style = np.where(flag("date_with_time"), _choose(rng, ("iso_time", "dmy_time"), count), vax_style)
    two_digit = flag("date_two_digit_year")
    dob_style = np.where(two_digit, "dmy_2y", dob_style)
    vax_style = np.where(two_digit, "dmy_2y", vax_style)
    serial = is_xlsx & flag("date_excel_serial")
    date_cell = is_xlsx & ~serial & (rng.random(count) < 0.3)
    dob_style = np.where(serial, "excel_serial", np.where(date_cell, "excel_date", dob_style))
    vax_style = np.where(serial, "excel_serial", np.where(date_cell, "excel_date", vax_style))
    booster_wording = flag("dose_booster_text")
    dose_style = np.where(
        is_english,
        np.where(booster_wording, "english", "digit"),
        np.where(
            booster_wording, _choose(rng, BOOSTER_DOSE_STYLES, count), _choose(rng, PLAIN_DOSE_STYLES, count)
        ),
    )
    sex_style = np.where(
        is_english, _choose(rng, ("english", "mf"), count), _choose(rng, VIETNAMESE_SEX_STYLES, count)
    )
    us_dates = flag("date_us_format") & ~np.isin(dob_style, ["iso", "iso_time", "excel_serial", "excel_date"])
    extra = flag("extra_columns")
    return facilities.select(
        "facility_idx", "facility_code", "facility_name", "province_code", "province_name"
    ).with_columns(
        pl.Series("file_format", file_format, dtype=pl.String),
        pl.Series("template", template, dtype=pl.String),
        pl.Series("dob_style", dob_style, dtype=pl.String),
        pl.Series("vax_style", vax_style, dtype=pl.String),
        pl.Series("dose_style", dose_style, dtype=pl.String),
        pl.Series("sex_style", sex_style, dtype=pl.String),
        pl.Series("is_us_dates", us_dates),
        pl.Series("is_ids_as_numbers", is_xlsx & flag("ids_as_numbers")),
        pl.Series("is_columns_shuffled", flag("column_order_shuffled")),
        pl.Series("count_extra_columns", np.where(extra, rng.integers(1, 4, count), 0)),
        pl.Series("is_duplicate_headers", extra & flag("duplicate_header_names")),
        pl.Series("is_header_noise", flag("header_noise")),
        pl.Series("is_code_in_facility_name", rng.random(count) < 0.3),
        pl.Series("file_name_pattern", rng.integers(0, len(FILE_NAME_PATTERNS), count)),
        pl.Series("layout_seed", rng.integers(0, 2**31, count)),
    )


def _file_of_rows(rng: np.random.Generator, rows: pl.DataFrame) -> pl.DataFrame:
    """Cut each facility's rows by date into 1-5 files; re-exported copies go in the original's next file."""
    originals = rows.filter(pl.col("dup_kind") != "reexport")
    per_facility = originals.group_by("facility_idx").len().sort("facility_idx")
    wanted = np.minimum(1 + rng.poisson(0.8, len(per_facility)), MAX_FILES_PER_FACILITY)
    file_count = np.clip(np.minimum(wanted, per_facility["len"].to_numpy() // 10), 1, None)
    counts = per_facility.with_columns(pl.Series("file_count", file_count))
    placed = (
        originals.join(counts, on="facility_idx", how="left")
        .with_columns(
            pl.col("vaccinated_days").rank("ordinal").over("facility_idx").alias("date_rank"),
        )
        .with_columns(
            ((pl.col("date_rank") - 1) * pl.col("file_count") // pl.col("len"))
            .cast(pl.Int32)
            .alias("file_no")
        )
        .select("row_id", "facility_idx", "file_no", "file_count")
    )
    copies = (
        rows.filter(pl.col("dup_kind") == "reexport")
        .select("row_id", "copy_of", "facility_idx")
        .join(
            placed.select(pl.col("row_id").alias("copy_of"), "file_no", "file_count"),
            on="copy_of",
            how="left",
        )
        .with_columns(
            pl.min_horizontal(pl.col("file_no") + 1, pl.col("file_count") - 1).cast(pl.Int32).alias("file_no")
        )
        .drop("copy_of")
    )
    return pl.concat([placed, copies.select(placed.columns)]).select("row_id", "facility_idx", "file_no")


def _file_name(pattern_index: pl.Expr, code: pl.Expr, export_date: pl.Expr, seq: pl.Expr) -> pl.Expr:
    values = {
        "code": code,
        "ymd": export_date.dt.strftime("%Y%m%d"),
        "dmy_dash": export_date.dt.strftime("%d-%m-%Y"),
        "dmy_dot": export_date.dt.strftime("%d.%m.%Y"),
        "mm": export_date.dt.strftime("%m"),
        "yyyy": export_date.dt.strftime("%Y"),
        "seq": seq.cast(pl.String),
        "seq3": seq.cast(pl.String).str.zfill(3),
    }
    name = pl.lit(None, pl.String)
    for index, pattern in enumerate(FILE_NAME_PATTERNS):
        parts: list[pl.Expr] = []
        rest = pattern
        while "{" in rest:
            before, _, after = rest.partition("{")
            key, _, rest = after.partition("}")
            parts += [pl.lit(before), values[key]]
        parts.append(pl.lit(rest))
        name = pl.when(pattern_index == index).then(pl.concat_str(parts)).otherwise(name)
    return name


def layout_files(
    rng: np.random.Generator, rows: pl.DataFrame, styles: pl.DataFrame, config: SynthConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows with file_idx and source_row, one row per export file with its structure)."""
    placement = _file_of_rows(rng, rows)
    rows = rows.join(placement.drop("facility_idx"), on="row_id", how="left", maintain_order="left")
    snapshot = days(config.snapshot_date)
    files = (
        rows.group_by("facility_idx", "file_no")
        .agg(pl.len().alias("count_data_rows"), pl.col("vaccinated_days").max().alias("last_days"))
        .sort("facility_idx", "file_no")
    )
    count = len(files)
    lag = rng.integers(1, 21, count)
    has_blank_rows = rng.random(count) < config.rate("blank_rows")
    files = files.with_columns(
        pl.min_horizontal(pl.col("last_days") + pl.Series(lag), pl.lit(snapshot)).cast(pl.Int32).cast(pl.Date)
        .alias("exported_on"),
        pl.Series("is_shuffled_rows", rng.random(count) < 0.15),
        pl.Series("u_preamble", rng.random(count)),
        pl.Series("count_blank_rows", np.where(has_blank_rows, rng.integers(1, 4, count), 0)),
        pl.Series("has_total_row", rng.random(count) < config.rate("total_row")),
        pl.Series("u_truncated", rng.random(count)),
        pl.Series("count_preamble_rows", rng.integers(1, 5, count)),
    ).join(styles, on="facility_idx", how="left")  # fmt: skip
    files = _apply_xlsx_budget(files, config.xlsx_max_rows)
    preamble_rate = pl.when(pl.col("file_format") == "xlsx").then(min(1.0, 3 * config.rate("preamble_rows")))
    files = files.with_columns(
        pl.when(pl.col("u_preamble") < preamble_rate.otherwise(config.rate("preamble_rows")))
        .then(pl.col("count_preamble_rows"))
        .otherwise(0)
        .alias("count_preamble_rows"),
        (
            pl.col("file_format").is_in(list(TEXT_FORMATS))
            & (pl.col("u_truncated") < config.rate("truncated_row"))
        ).alias("is_truncated"),
        (pl.col("file_no") + 1).alias("seq"),
    )
    files = _with_paths(files)
    rows = _order_rows(rng, rows, files)
    return rows, files.drop("u_preamble", "u_truncated", "last_days")


def _apply_xlsx_budget(files: pl.DataFrame, max_rows: int) -> pl.DataFrame:
    """XLSX is written cell by cell: past the budget, a facility's files are plain UTF-8 CSV instead."""
    facility_rows = (
        files.filter(pl.col("file_format") == "xlsx")
        .group_by("facility_idx", maintain_order=True)
        .agg(pl.col("count_data_rows").sum())
    )
    over = facility_rows.filter(pl.col("count_data_rows").cum_sum() > max_rows)["facility_idx"]
    demoted = pl.col("facility_idx").is_in(over.implode())
    return files.with_columns(
        pl.when(demoted).then(pl.lit("csv_utf8")).otherwise(pl.col("file_format")).alias("file_format"),
        pl.when(demoted & pl.col("dob_style").str.starts_with("excel"))
        .then(pl.lit("dmy_slash"))
        .otherwise(pl.col("dob_style"))
        .alias("dob_style"),
        pl.when(demoted & pl.col("vax_style").str.starts_with("excel"))
        .then(pl.lit("dmy_slash"))
        .otherwise(pl.col("vax_style"))
        .alias("vax_style"),
        (pl.col("is_ids_as_numbers") & ~demoted).alias("is_ids_as_numbers"),
    )


def _with_paths(files: pl.DataFrame) -> pl.DataFrame:
    extension = pl.col("file_format").replace_strict({name: spec[3] for name, spec in FILE_FORMATS.items()})
    folders = {
        code: province_folder_name(code, name)
        for code, name in files.select("province_code", "province_name").unique().iter_rows()
    }  # one entry per province
    stem = _file_name(
        pl.col("file_name_pattern"), pl.col("facility_code"), pl.col("exported_on"), pl.col("seq")
    )
    files = files.with_columns(
        (
            pl.col("province_code").replace_strict(folders, return_dtype=pl.String)
            + "/"
            + pl.col("facility_code")
            + "/"
            + stem
            + extension
        ).alias("source_file")
    )
    # Two files of one facility can get the same name (same export day): number the later ones.
    return (
        files.with_columns(pl.col("source_file").cum_count().over("source_file").alias("name_rank"))
        .with_columns(
            pl.when(pl.col("name_rank") > 1)
            .then(pl.col("source_file").str.replace(r"(\.\w+)$", pl.format("_{}$1", pl.col("name_rank"))))
            .otherwise(pl.col("source_file"))
            .alias("source_file")
        )
        .drop("name_rank")
        .with_row_index("file_idx")
    )


def _order_rows(rng: np.random.Generator, rows: pl.DataFrame, files: pl.DataFrame) -> pl.DataFrame:
    """Rows within a file by vaccination date (or shuffled); source_row = 1-based position."""
    rows = rows.join(
        files.select("facility_idx", "file_no", "file_idx", "is_shuffled_rows"),
        on=["facility_idx", "file_no"],
        how="left",
        maintain_order="left",
    ).with_columns(pl.Series("u_order", rng.random(len(rows))))
    order_key = (
        pl.when(pl.col("is_shuffled_rows"))
        .then(pl.col("u_order"))
        .otherwise(pl.col("vaccinated_days").cast(pl.Float64) + pl.col("u_order") * 0.5)
    )
    return (
        rows.with_columns(order_key.alias("order_key"))
        .sort("file_idx", "order_key", "row_id")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("file_idx").alias("source_row"))
        .drop("order_key", "u_order", "is_shuffled_rows", "file_no")
    )


__all__ = ["DATE_STYLES", "DOSE_STYLES", "SEX_STYLES", "facility_styles", "layout_files"]
