"""Time normalize_shots on a large staged input built from the shared sample exports.

    uv run python benchmarks/bench_normalize.py --rows 1000000

The sample's plain UTF-8 CSV exports (about 1,700 rows) are read with the csv module and repeated
until --rows, each copy with its own file names (so month-first detection runs per file), a varied
given name on a third of the rows and a varied house number on every address (so the distinct
values grow with the input, as they would in a real night). Prints rows, distinct names and
addresses, and the wall and CPU seconds of one collect().
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import time
import unicodedata
from pathlib import Path

import polars as pl

from transforms.normalize.reference import load_reference
from transforms.normalize.shots import normalize_shots
from vaxsync.core.contracts import STAGED_ROW_SCHEMA, raw_column

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
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


def sample_rows(exports: Path) -> pl.DataFrame:
    rows = []
    for path in sorted(exports.rglob("*.csv")):
        try:
            lines = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"))))
        except UnicodeDecodeError:
            continue
        fields = (
            [HEADERS.get(unicodedata.normalize("NFC", cell).strip().lower()) for cell in lines[0]]
            if lines
            else []
        )
        if "full_name" not in fields:
            continue
        source_file = path.relative_to(exports).as_posix()
        for number, cells in enumerate(lines[1:], start=1):
            row = {"source_file": source_file, "file_hash": source_file, "source_row": number}
            row.update(
                {raw_column(field): value for field, value in zip(fields, cells, strict=False) if field}
            )
            rows.append(row)
    return pl.DataFrame(rows, schema=STAGED_ROW_SCHEMA)


def scaled(base: pl.DataFrame, rows: int) -> pl.DataFrame:
    copies = []
    for copy in range(rows // base.height + 1):
        copies.append(
            base.with_columns(
                (pl.col("source_file") + f"#{copy}").alias("source_file"),
                (pl.col("file_hash") + f"#{copy}").alias("file_hash"),
                pl.when(pl.int_range(pl.len()) % 3 == 0)
                .then(pl.col("raw_full_name") + f" {copy % 97}")
                .otherwise(pl.col("raw_full_name"))
                .alias("raw_full_name"),
                (pl.lit(f"Số {copy} ") + pl.col("raw_address")).alias("raw_address"),
            )
        )
    return pl.concat(copies).head(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    args = parser.parse_args()
    staged = scaled(sample_rows(args.samples / "exports"), args.rows)
    reference = load_reference(registry=pl.scan_parquet(args.samples / "registry.parquet"))
    started, started_cpu = time.perf_counter(), time.process_time()
    shots = normalize_shots(staged.lazy(), as_of=dt.date(2023, 1, 31), reference=reference).collect()
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    print(
        f"rows={shots.height:,} distinct_names={staged['raw_full_name'].n_unique():,} "
        f"distinct_addresses={staged['raw_address'].n_unique():,} wall_s={wall:.1f} cpu_s={cpu:.1f}"
    )


if __name__ == "__main__":
    main()
