"""Score a night of the independent landing against its ground truth (benchmarks/independent/generate.py).

    python benchmarks/independent/score.py --data /tmp/ind7 --warehouse /tmp/ind7/wh/warehouse.duckdb [--out f.json]

Counts, over the warehouse's active postings (shot_sources rows without an inactive reason):
- wrong citizen: the row's shot is posted to a citizen other than the row's true one (or the row's person
  is not in the registry); wrong date: the right citizen, another vaccination date;
- both per 10,000 posted rows; recall: rows of registered people posted to them / such rows;
- wrong citizen "distinguishable": without the rows of a person absent from the registry that carry no ID
  and exactly a registered namesake's name, birth date, sex and district (no row-level evidence separates them);
- rows not accounted for: data rows of loaded files in neither shot_sources nor the open or resolved backlog.
Prints figures and counts by defect class only: no IDs or names (it is run on synthetic data, but its
output is committed to docs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
import polars as pl


def score(data: Path, warehouse: Path) -> dict[str, object]:
    truth = pl.read_parquet(data / "truth.parquet")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        posted = con.sql(
            "SELECT s.source_file, s.source_row, s.is_duplicate, p.citizen_id, p.vaccinated_on, p.match_method "
            "FROM shot_sources s JOIN synced_shots p USING (shot_id) WHERE s.inactive_reason IS NULL"
        ).to_arrow_table()
        backlog = con.sql(
            "SELECT DISTINCT source_file, source_row, reason_code FROM unposted_backlog WHERE superseded_by_file_hash IS NULL"
        ).to_arrow_table()
        quarantined = con.sql(
            "SELECT source_file FROM ingest_ledger WHERE status <> 'loaded'"
        ).to_arrow_table()
    posted, backlog, quarantined = (pl.DataFrame(pl.from_arrow(t)) for t in (posted, backlog, quarantined))
    rows = (
        truth.join(posted, on=["source_file", "source_row"], how="left")
        .with_columns(
            posted=pl.col("citizen_id").is_not_null(),
            wrong_citizen=pl.col("citizen_id").is_not_null()
            & (pl.col("true_citizen_id").is_null() | (pl.col("citizen_id") != pl.col("true_citizen_id"))),
        )
        .with_columns(
            wrong_date=pl.col("posted")
            & ~pl.col("wrong_citizen")
            & (pl.col("vaccinated_on") != pl.col("true_vaccination_date")),
        )
    )
    accounted = rows.join(backlog, on=["source_file", "source_row"], how="left").with_columns(
        in_quarantine=pl.col("source_file").is_in(quarantined["source_file"].implode()),
    )
    lost = accounted.filter(~pl.col("posted") & pl.col("reason_code").is_null() & ~pl.col("in_quarantine"))
    n_posted = int(rows["posted"].sum())
    n_wrong_citizen, n_wrong_date = int(rows["wrong_citizen"].sum()), int(rows["wrong_date"].sum())
    # The row carries exactly its registered namesake's name, birth date, sex and district, and no ID:
    # nothing in it tells them apart (reported apart, not hidden).
    indistinguishable = (pl.col("person_kind") == "absent_namesake_same_dob") & pl.col(
        "defects"
    ).list.contains("id_missing")
    n_distinguishable_wrong = rows.filter(pl.col("wrong_citizen") & ~indistinguishable).height
    registered = rows.filter(pl.col("true_citizen_id").is_not_null())
    right = registered.filter(pl.col("posted") & ~pl.col("wrong_citizen") & ~pl.col("wrong_date"))
    wrong = rows.filter(pl.col("wrong_citizen") | pl.col("wrong_date"))
    per_class = (
        wrong.with_columns(
            kind=pl.when(pl.col("wrong_citizen")).then(pl.lit("citizen")).otherwise(pl.lit("date")),
            defects=pl.col("defects").list.join("+"),
        )
        .group_by("kind", "person_kind", "match_method", "defects")
        .len()
        .sort("len", descending=True)
    )
    return {
        "rows": rows.height,
        "posted_rows": n_posted,
        "wrong_citizen": n_wrong_citizen,
        "wrong_date": n_wrong_date,
        "wrong_citizen_per_10k": round(1e4 * n_wrong_citizen / max(n_posted, 1), 2),
        "wrong_citizen_distinguishable": n_distinguishable_wrong,
        "wrong_citizen_distinguishable_per_10k": round(1e4 * n_distinguishable_wrong / max(n_posted, 1), 2),
        "wrong_date_per_10k": round(1e4 * n_wrong_date / max(n_posted, 1), 2),
        "recall": round(right.height / max(registered.height, 1), 4),
        "rows_not_accounted_for": lost.height,
        "backlog_reasons": dict(
            backlog.group_by("reason_code").len().sort("len", descending=True).iter_rows()
        ),
        "wrong_by_class": per_class.to_dicts(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = score(args.data, args.warehouse)
    text = json.dumps(result, indent=1, default=str, ensure_ascii=False)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
