"""truth.parquet accounts for every data row of every landed export, exactly once, with sound answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from synth_landed_files import data_lines, first_column_numbers, truth_of, xlsx_data_rows

from synth.generate import TRUTH_SCHEMA
from synth.vaccines import VACCINES
from vaxsync.core.settings import CAMPAIGN_START

SNAPSHOT = dt.date(2023, 1, 31)


@pytest.fixture(scope="module", params=["boosted_dir", "default_dir"])
def generated(request: pytest.FixtureRequest) -> tuple[Path, pl.DataFrame, pl.DataFrame]:
    directory = request.getfixturevalue(request.param)
    return (
        directory,
        pl.read_parquet(directory / "truth.parquet"),
        pl.read_parquet(directory / "files.parquet"),
    )


def test_truth_schema(generated: tuple[Path, pl.DataFrame, pl.DataFrame]) -> None:
    _, truth, _ = generated
    assert dict(truth.schema) == TRUTH_SCHEMA


def test_files_table_lists_every_landed_file_once(generated: tuple[Path, pl.DataFrame, pl.DataFrame]) -> None:
    directory, _, files = generated
    on_disk = sorted(
        str(p.relative_to(directory / "landing")) for p in (directory / "landing").rglob("*") if p.is_file()
    )
    assert sorted(files["source_file"]) == on_disk


def test_rows_are_numbered_one_to_n_per_file_and_only_in_loaded_files(
    generated: tuple[Path, pl.DataFrame, pl.DataFrame],
) -> None:
    _, truth, files = generated
    per_file = truth.group_by("source_file").agg(
        pl.len(), pl.col("source_row").min().alias("low"), pl.col("source_row").max().alias("high")
    )
    assert (per_file["low"] == 1).all() and (per_file["high"] == per_file["len"]).all()
    assert truth.select("source_file", "source_row").is_unique().all()
    loaded = files.filter(pl.col("expected_status") == "loaded").select("source_file", "count_data_rows")
    joined = loaded.join(per_file, on="source_file", how="full", coalesce=True)
    assert (joined["count_data_rows"] == joined["len"]).all()


def test_every_text_file_reads_back_to_its_truth_rows(
    generated: tuple[Path, pl.DataFrame, pl.DataFrame],
) -> None:
    directory, truth, files = generated
    texts = files.filter((pl.col("expected_status") == "loaded") & (pl.col("file_format") != "xlsx"))
    assert len(texts) > 10
    for row in texts.iter_rows(named=True):  # one iteration per file
        lines = data_lines(directory / "landing" / row["source_file"], row["file_format"], row["header_line"])
        expected = truth_of(truth, row["source_file"])
        assert len(lines) == len(expected), row["source_file"]
        numbers = first_column_numbers(lines)
        if len(numbers) == len(lines):  # the STT column comes first: it is the row number
            assert numbers == expected["source_row"].to_list(), row["source_file"]


def test_xlsx_files_read_back_to_their_truth_rows(generated: tuple[Path, pl.DataFrame, pl.DataFrame]) -> None:
    directory, truth, files = generated
    sheets = files.filter((pl.col("expected_status") == "loaded") & (pl.col("file_format") == "xlsx")).head(8)
    assert len(sheets) > 0
    for row in sheets.iter_rows(named=True):
        rows = xlsx_data_rows(directory / "landing" / row["source_file"], row["header_line"])
        assert len(rows) == len(truth_of(truth, row["source_file"])), row["source_file"]


def test_truncated_files_end_in_a_short_row(generated: tuple[Path, pl.DataFrame, pl.DataFrame]) -> None:
    directory, truth, files = generated
    for row in files.filter(pl.col("is_truncated")).iter_rows(named=True):
        lines = data_lines(directory / "landing" / row["source_file"], row["file_format"], row["header_line"])
        header = data_lines(
            directory / "landing" / row["source_file"], row["file_format"], row["header_line"] - 1
        )[0]
        assert len(lines[-1]) < len(header) and all(len(line) == len(header) for line in lines[:-1])
        last = truth_of(truth, row["source_file"]).tail(1)
        assert last["invalid_kind"].item() == "truncated_row" and last["expected"].item() == "backlog_invalid"


def test_expected_outcomes_are_consistent(generated: tuple[Path, pl.DataFrame, pl.DataFrame]) -> None:
    _, truth, _ = generated
    assert set(truth["expected"]) <= {"post", "duplicate", "backlog_not_in_registry", "backlog_invalid"}
    citizens = truth.filter(pl.col("expected").is_in(["post", "duplicate"]))
    assert citizens["true_citizen_id"].is_not_null().all() and (citizens["invalid_kind"] == "").all()
    absent = truth.filter(pl.col("expected") == "backlog_not_in_registry")
    assert absent["true_citizen_id"].is_null().all() and (absent["person_kind"] != "citizen").all()
    posts_per_group = truth.filter(pl.col("expected") == "post").group_by("dup_group").len()
    assert (posts_per_group["len"] == 1).all()
    duplicates = truth.filter(pl.col("expected") == "duplicate").select("dup_group").unique()
    assert duplicates.join(posts_per_group, on="dup_group", how="anti").is_empty()


def test_a_dose_and_its_copies_agree_on_the_truth(generated: tuple[Path, pl.DataFrame, pl.DataFrame]) -> None:
    _, truth, _ = generated
    groups = truth.group_by("dup_group").agg(
        pl.col("true_citizen_id").n_unique(),
        pl.col("true_vaccine").n_unique(),
        pl.col("true_vaccination_date").n_unique(),
    )
    assert (groups.drop("dup_group") == 1).to_numpy().all()


def test_vaccination_dates_follow_approvals_and_the_campaign(
    generated: tuple[Path, pl.DataFrame, pl.DataFrame],
) -> None:
    _, truth, _ = generated
    valid = truth.filter(
        pl.col("invalid_kind").is_in(["", "vaccine_unknown", "dob_impossible", "required_value_missing"])
    )
    assert valid["true_vaccination_date"].min() >= CAMPAIGN_START  # type: ignore[operator]
    assert valid["true_vaccination_date"].max() <= SNAPSHOT  # type: ignore[operator]
    first_use = pl.DataFrame(
        {"true_vaccine": [v.code for v in VACCINES], "first_used_on": [v.first_used_on for v in VACCINES]}
    )
    checked = valid.filter(pl.col("true_dose_number") == 1).join(first_use, on="true_vaccine")
    assert (checked["true_vaccination_date"] >= checked["first_used_on"]).all()


def test_doses_of_a_citizen_are_numbered_without_gaps(default_dir: Path) -> None:
    truth = pl.read_parquet(default_dir / "truth.parquet").filter(pl.col("person_kind") == "citizen")
    doses = (
        truth.filter(pl.col("invalid_kind") != "after_death")
        .group_by("true_citizen_id")
        .agg(pl.col("true_dose_number").unique().sort())
    )
    complete = doses.filter(pl.col("true_dose_number").list.len() == pl.col("true_dose_number").list.max())
    assert len(complete) / len(doses) > 0.97


def test_shots_after_death_are_after_the_registry_death(
    generated: tuple[Path, pl.DataFrame, pl.DataFrame],
) -> None:
    directory, truth, _ = generated
    registry = pl.read_parquet(directory / "registry.parquet").select(
        pl.col("citizen_id").alias("true_citizen_id"), "date_of_death"
    )
    after = truth.filter(pl.col("invalid_kind") == "after_death").join(registry, on="true_citizen_id")
    assert (after["true_vaccination_date"] > after["date_of_death"]).all()
    normal = truth.filter(pl.col("invalid_kind") == "").join(registry, on="true_citizen_id")
    died = normal.filter(pl.col("date_of_death").is_not_null())
    assert (died["true_vaccination_date"] < died["date_of_death"]).all()
