"""Score a night of `vaxsync synth` data against its truth: rows posted on a wrong citizen or date.

    python benchmarks/synth_truth_dates.py --data /work/bench-data/medium-seed7 --warehouse W [--out f.json]

Over the warehouse's active postings (shot_sources rows without an inactive reason) joined with the synth's
truth.parquet on (source_file, source_row), counts:
- posted rows; posted on a wrong citizen (not the row's true one);
- posted on the right citizen with another vaccination date, and of those: the synth's own stated swaps
  (corruption `vax_date_day_month_swapped`: the file says the swapped date, no reader can know better),
  day and month exchanged beyond those (the error a reader makes), and any other date;
- rows held with each date reason (the holds' cost: how many of them would post right, i.e. their true
  citizen is in the registry and the row was expected to post).
Prints counts only (the exchanged rows by the file's US-dates flag and date style): no IDs, names or dates
of persons.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
import polars as pl

from transforms.normalize.dates import day_month_swapped

STATED_SWAP = "vax_date_day_month_swapped"
DATE_HOLDS = (
    "vaccination_date_maybe_swapped",
    "vaccination_date_order_unproven",
    "vaccination_date_order_doubtful",
)


def warehouse_rows(warehouse: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(active postings: source_file, source_row, citizen_id, vaccinated_on; open backlog reasons)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        posted = con.sql(
            "SELECT s.source_file, s.source_row, p.citizen_id, p.vaccinated_on "
            "FROM shot_sources s JOIN synced_shots p USING (shot_id) WHERE s.inactive_reason IS NULL"
        ).pl()
        backlog = con.sql(
            "SELECT DISTINCT source_file, source_row, reason_code FROM unposted_backlog "
            "WHERE superseded_by_file_hash IS NULL"
        ).pl()
    return posted, backlog


def scored_rows(truth: pl.DataFrame, posted: pl.DataFrame) -> pl.DataFrame:
    """The truth with, per row: posted, wrong_citizen, other_date, stated_swap, exchanged (day and month
    exchanged beyond the stated swaps)."""
    true_date, read_date = pl.col("true_vaccination_date"), pl.col("vaccinated_on")
    return (
        truth.join(posted, on=["source_file", "source_row"], how="left")
        .with_columns(
            posted=pl.col("citizen_id").is_not_null(),
            wrong_citizen=pl.col("citizen_id").is_not_null()
            & (pl.col("true_citizen_id").is_null() | (pl.col("citizen_id") != pl.col("true_citizen_id"))),
            stated_swap=pl.col("corruptions").list.contains(STATED_SWAP),
        )
        .with_columns(
            other_date=(pl.col("posted") & ~pl.col("wrong_citizen") & (read_date != true_date)).fill_null(
                False
            )
        )
        .with_columns(
            exchanged=(
                pl.col("other_date") & ~pl.col("stated_swap") & (read_date == day_month_swapped(true_date))
            ).fill_null(False)
        )
    )


def score(data: Path, warehouse: Path) -> dict[str, object]:
    truth = pl.read_parquet(data / "truth.parquet")
    posted, backlog = warehouse_rows(warehouse)
    rows = scored_rows(truth, posted)
    other = rows.filter(pl.col("other_date"))
    held = rows.join(
        backlog.filter(pl.col("reason_code").is_in(DATE_HOLDS)), on=["source_file", "source_row"]
    )
    would_post_right = held.filter((pl.col("expected") == "post") & ~pl.col("stated_swap"))
    return {
        "rows": rows.height,
        "posted_rows": int(rows["posted"].sum()),
        "wrong_citizen": int(rows["wrong_citizen"].sum()),
        "other_date": other.height,
        "other_date_stated_swap": int(other["stated_swap"].sum()),
        "other_date_exchanged_not_stated": int(rows["exchanged"].sum()),
        "other_date_rest": other.filter(~pl.col("stated_swap") & ~pl.col("exchanged")).height,
        "exchanged_by_us_dates_file": dict(
            rows.filter(pl.col("exchanged"))
            .join(
                pl.read_parquet(data / "files.parquet", columns=["source_file", "is_us_dates", "vax_style"]),
                on="source_file",
                how="left",
            )
            .group_by("is_us_dates", "vax_style")
            .len()
            .sort("len", descending=True)
            .select(pl.format("{} {}", "is_us_dates", "vax_style"), "len")
            .iter_rows()
        ),
        "held_by_date_reason": dict(held.group_by("reason_code").len().sort("reason_code").iter_rows()),
        "held_by_date_reason_expected_to_post": dict(
            would_post_right.group_by("reason_code").len().sort("reason_code").iter_rows()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="the synth folder (truth.parquet, files.parquet)"
    )
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = score(args.data, args.warehouse)
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
