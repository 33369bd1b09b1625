"""Exports that went through LibreOffice Calc (en-US and vi-VN profiles; xlsx, ods, xls, csv round
trips): every row reads back the birth and vaccination dates that were sent, or is held; no swapped
date is ever posted. The files are made by tests/fixtures/office_dates/make_office_dates.py."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import polars as pl
import pytest
from staging_comparison import assert_same_staging

from transforms.ingest import stage_export
from transforms.normalize.dates import LOCALE_SWAP_DOUBTFUL, LOCALE_SWAP_REPAIRED
from transforms.normalize.reference import load_reference
from transforms.normalize.shots import normalize_shots

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "office_dates"
AS_OF = dt.date(2023, 1, 31)
EXPORTS = ("mixed", "small_days", "with_iso")
XLRD_INSTALLED = importlib.util.find_spec("xlrd") is not None  # .xls cell formats need it
CONVERTED = [
    f"{locale}.{suffix}" for locale in ("en-US", "vi-VN") for suffix in ("xlsx", "ods", "xls", "csv")
]


def truth(name: str) -> pl.DataFrame:
    return pl.read_csv(
        FIXTURES / f"truth_{name}.csv",
        schema={"row": pl.Int32, "birth_date": pl.Date, "vaccinated_date": pl.Date},
    ).rename({"row": "source_row", "birth_date": "true_birth", "vaccinated_date": "true_shot"})


@pytest.fixture(scope="module")
def night() -> tuple[dict[str, dict[str, object]], pl.DataFrame]:
    """Every fixture staged; their rows normalized together (as in a night: the evidence is per file),
    each row beside its truth."""
    files = [f"{name}_{converted}" for name in EXPORTS for converted in CONVERTED]
    staged = {file: stage_export(FIXTURES, file) for file in files}
    for file, export in staged.items():
        assert export.rows is not None, (file, export.ledger["quarantine_detail"])
    rows = pl.concat([export.rows for export in staged.values() if export.rows is not None])
    normalized = normalize_shots(rows.lazy(), as_of=AS_OF, reference=load_reference()).collect()
    truths = pl.concat([truth(name).with_columns(name=pl.lit(name)) for name in EXPORTS])
    normalized = normalized.with_columns(name=pl.col("source_file").str.extract(r"^(.*)_[a-z]{2}-[A-Z]{2}\."))
    return {file: export.ledger for file, export in staged.items()}, normalized.join(
        truths, on=["name", "source_row"], how="left"
    )


def read_back(
    file: str, night: tuple[dict[str, dict[str, object]], pl.DataFrame]
) -> tuple[dict[str, object], pl.DataFrame]:
    ledgers, rows = night
    return ledgers[file], rows.filter(pl.col("source_file") == file)


@pytest.mark.parametrize("converted", CONVERTED)
def test_every_row_reads_back_the_dates_sent(
    converted: str, night: tuple[dict[str, dict[str, object]], pl.DataFrame]
) -> None:
    # 40 rows, days 1-31: an en-US file always shows the evidence (day-first text beside date cells).
    ledger, rows = read_back(f"mixed_{converted}", night)

    assert rows.height == 40
    wrong = rows.filter(
        (pl.col("vaccinated_date") != pl.col("true_shot")).fill_null(True)
        | (pl.col("birth_date") != pl.col("true_birth")).fill_null(True)
    )
    assert wrong.select("source_row", "raw_date_of_birth", "raw_vaccinated_on", "cell_kinds").rows() == []
    assert rows["reject_reason"].null_count() == rows.height
    swappable = (pl.col("true_shot").dt.day() <= 12) & (
        pl.col("true_shot").dt.day() != pl.col("true_shot").dt.month()
    )
    swappable_birth = (pl.col("true_birth").dt.day() <= 12) & (
        pl.col("true_birth").dt.day() != pl.col("true_birth").dt.month()
    )
    expected_repairs = rows.select(swappable.sum() + swappable_birth.sum()).item()
    if converted.startswith("en-US") and not converted.endswith(".csv"):
        assert expected_repairs > 20
        assert ledger["dates_repaired"] == expected_repairs
        assert (
            rows.filter(swappable)["date_repair"].str.contains(f"{LOCALE_SWAP_REPAIRED}:vaccinated_on").all()
        )
    else:  # vi-VN keeps d/m/y; a CSV round trip writes text that still reads day-first
        assert ledger["dates_repaired"] == 0
        assert rows["date_repair"].null_count() == rows.height


@pytest.mark.parametrize("converted", CONVERTED)
def test_a_file_whose_days_never_pass_12_never_posts_a_swapped_date(
    converted: str, night: tuple[dict[str, dict[str, object]], pl.DataFrame]
) -> None:
    # Every day <= 12: en-US turns every date into a swapped cell and leaves no text to prove it.
    # Each row then has its true date, or is held with both readings; never a swapped date.
    _, rows = read_back(f"small_days_{converted}", night)

    posted = rows.filter(pl.col("reject_reason").is_null())
    held = rows.filter(pl.col("reject_reason").is_not_null())
    assert (posted["vaccinated_date"] == posted["true_shot"]).all()
    assert set(held["reject_reason"]) <= {"vaccination_date_maybe_swapped"}
    assert held.filter(pl.col("true_shot").dt.day() == pl.col("true_shot").dt.month()).height == 0
    assert rows.select(
        (
            (pl.col("birth_date") == pl.col("true_birth"))
            | (pl.col("birth_date_alt") == pl.col("true_birth"))
        ).all()
    ).item()
    if converted in ("en-US.xlsx", "en-US.ods", "en-US.xls"):
        assert held.height > 0
        assert held["date_repair"].str.contains(f"{LOCALE_SWAP_DOUBTFUL}:vaccinated_on").all()
        assert held["reject_detail"].str.contains("day and month may be swapped").all()
    if converted.endswith(".csv") or converted in ("vi-VN.xlsx", "vi-VN.ods"):
        assert held.height == 0  # text, or cells whose day-first formats show no swap


def test_the_vietnamese_csv_round_trip_writes_two_digit_years_and_vietnamese_am_pm() -> None:
    written = (FIXTURES / "mixed_vi-VN.csv").read_text(encoding="utf-8")
    assert "chiều" in written or "sáng" in written
    assert ",05/04/21," in written  # 05/04/2021 with a two-digit year


@pytest.mark.parametrize("converted", CONVERTED)
def test_iso_text_beside_day_first_text_is_never_swapped(
    converted: str, night: tuple[dict[str, dict[str, object]], pl.DataFrame]
) -> None:
    # Every third vaccination date typed ISO: en-US makes date cells of them too (yyyy-mm-dd). In xlsx
    # and ods each cell's format tells them apart from the swapped mm/dd/yy cells; an .xls shows both
    # formats, and without xlrd which cell has which is not read, so its cells with a day <= 12 are held.
    _, rows = read_back(f"with_iso_{converted}", night)

    posted = rows.filter(pl.col("reject_reason").is_null())
    held = rows.filter(pl.col("reject_reason").is_not_null())
    assert rows.height == 30
    assert posted.filter(pl.col("vaccinated_date") != pl.col("true_shot")).height == 0
    assert set(held["reject_reason"]) <= {"vaccination_date_maybe_swapped"}
    birth_read = pl.col("birth_date") == pl.col("true_birth")
    xls_formats_per_workbook = converted == "en-US.xls" and not XLRD_INSTALLED
    if xls_formats_per_workbook:  # birth cells doubtful too: the true date is one of the two readings
        birth_read = birth_read | (pl.col("birth_date_alt") == pl.col("true_birth"))
    assert rows.select(birth_read.all()).item()
    if xls_formats_per_workbook:
        assert held.height > 0
    else:
        assert held.height == 0


@pytest.mark.parametrize("suffix", ["xlsx", "ods", "xls"])
def test_date_cells_typed_day_first_and_shown_month_first_are_never_swapped(suffix: str) -> None:
    # Imported in en-US with the date columns typed D/M/Y: real date cells with the dates sent, shown
    # mm/dd/yy, days over 12 among them; one impossible date (30/02/2021) stays day-first text. A swap
    # never makes a cell with a day over 12, so that text is no proof: nothing is swapped back.
    file = f"typed_dmy_en-US.{suffix}"
    export = stage_export(FIXTURES, file)
    assert export.rows is not None, export.ledger["quarantine_detail"]
    rows = (
        normalize_shots(export.rows.lazy(), as_of=AS_OF, reference=load_reference())
        .collect()
        .join(truth("typed_dmy"), on="source_row", how="left")
    )

    assert rows.height == 16
    assert export.ledger["dates_repaired"] == 0
    posted = rows.filter(pl.col("reject_reason").is_null())
    held = rows.filter(pl.col("reject_reason").is_not_null())
    assert posted.filter(pl.col("vaccinated_date") != pl.col("true_shot")).height == 0
    assert held.filter(pl.col("true_shot").is_null())["reject_reason"].to_list() == [
        "vaccination_date_invalid"
    ]
    assert set(held.filter(pl.col("true_shot").is_not_null())["reject_reason"]) <= {
        "vaccination_date_maybe_swapped"
    }
    swappable = (pl.col("true_shot").dt.day() <= 12) & (
        pl.col("true_shot").dt.day() != pl.col("true_shot").dt.month()
    )
    assert rows.filter(swappable).height >= 4  # cells a wrong repair would move
    birth_read = (pl.col("birth_date") == pl.col("true_birth")) | (
        pl.col("birth_date_alt") == pl.col("true_birth")
    )
    assert rows.select(birth_read.all()).item()
    assert (posted["date_repair"].fill_null("").str.contains(LOCALE_SWAP_REPAIRED)).sum() == 0


def test_a_batch_counts_each_workbooks_repaired_dates_as_staging_it_alone() -> None:
    """stage_exports counts the repaired date cells of a batch's workbooks in one query: per file, the
    counts stage_export finds for each alone (evidence from one file never counts for another)."""
    files = [f"{name}_{converted}" for name in EXPORTS for converted in CONVERTED]
    if not XLRD_INSTALLED:
        files = [file for file in files if not file.endswith(".xls")]

    staged = assert_same_staging(FIXTURES, files)

    repaired = {file: export.ledger["dates_repaired"] for file, export in zip(files, staged, strict=True)}
    assert repaired["mixed_en-US.xlsx"] > 20
    assert repaired["mixed_vi-VN.xlsx"] == 0
