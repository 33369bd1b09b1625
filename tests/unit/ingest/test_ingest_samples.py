"""Every file of the shared samples is staged or quarantined, and staged rows line up with the truth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from ingest_export_files import to_cp1258_bytes, to_tcvn3_surface, to_vni_surface

from transforms.ingest import StagedExport, ledger_frame, list_landed_files, stage_export
from transforms.ingest.text_decoding import decode_export_bytes

# The sample files absent from truth.parquet, and why each cannot be staged.
EXPECTED_QUARANTINE = {
    "11_Dien_Bien/11095001/BaoCao_TonKho_VacXin.xlsx": "missing_required_columns",  # stock report
    "19_Thai_Nguyen/19168001/~$DS_tiem.xlsx": "unsupported_format",  # Office lock file
    "36_Nam_Dinh/36363001/DS_tiem_chua_co_du_lieu.csv": "no_data_rows",  # header only
    "36_Nam_Dinh/36363001/danh_sach_can_bo_tiem.csv": "missing_required_columns",  # staff list
    "86_Vinh_Long/86862001/export_loi.csv": "unreadable_file",  # binary junk
    "89_An_Giang/89893001/export_rong.csv": "empty_file",
}


@pytest.fixture(scope="module")
def staged_samples(samples_dir: Path) -> list[StagedExport]:
    exports = samples_dir / "exports"
    return [stage_export(exports, source_file) for source_file in list_landed_files(exports)]


@pytest.fixture(scope="module")
def truth(samples_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(samples_dir / "truth.parquet")


def test_every_sample_file_reaches_the_ledger(staged_samples: list[StagedExport], samples_dir: Path) -> None:
    ledger = ledger_frame(staged_samples)
    on_disk = sorted(
        p.relative_to(samples_dir / "exports").as_posix()
        for p in (samples_dir / "exports").rglob("*")
        if p.is_file()
    )

    assert ledger["source_file"].to_list() == on_disk
    quarantined = ledger.filter(pl.col("status") == "quarantined")
    assert dict(quarantined.select("source_file", "quarantine_reason").iter_rows()) == EXPECTED_QUARANTINE
    assert quarantined["quarantine_detail"].str.contains("could not be parsed").sum() == 0


def test_loaded_files_are_exactly_the_files_with_truth(
    staged_samples: list[StagedExport], truth: pl.DataFrame
) -> None:
    ledger = ledger_frame(staged_samples)
    loaded = ledger.filter(pl.col("status") == "loaded").select("source_file", "rows_read")
    expected = truth.group_by("source_file").agg(rows_read=pl.len().cast(pl.Int64))

    assert loaded.sort("source_file").equals(expected.sort("source_file"))


def test_staged_rows_line_up_with_truth_rows(staged_samples: list[StagedExport], truth: pl.DataFrame) -> None:
    rows = pl.concat([export.rows for export in staged_samples if export.rows is not None])
    joined = truth.join(rows, on=["source_file", "source_row"], how="full", coalesce=True)

    assert joined.height == truth.height == rows.height
    assert joined["raw_full_name"].null_count() == 0
    complete = joined.filter(~pl.col("corruptions").list.contains("truncated_row"))
    assert complete["raw_vaccine"].null_count() == 0
    assert complete["raw_vaccinated_on"].null_count() == 0
    assert complete["row_issue"].null_count() == complete.height


def test_the_truncated_sample_row_is_malformed(
    staged_samples: list[StagedExport], truth: pl.DataFrame
) -> None:
    rows = pl.concat([export.rows for export in staged_samples if export.rows is not None])
    truncated = truth.filter(pl.col("corruptions").list.contains("truncated_row")).select(
        "source_file", "source_row"
    )

    flagged = rows.filter(pl.col("row_issue").is_not_null()).select("source_file", "source_row")
    assert flagged.rows() == truncated.rows()


def test_sample_encodings_are_recognised(staged_samples: list[StagedExport], truth: pl.DataFrame) -> None:
    ledger = ledger_frame(staged_samples)
    formats = truth.select("source_file", sample_format="file_format").unique()
    by_format = (
        ledger.join(formats, on="source_file")
        .group_by("sample_format")
        .agg(pl.col("encoding").unique().sort(), pl.col("delimiter").unique().sort())
    )

    assert {row[0]: (row[1], row[2]) for row in by_format.iter_rows()} == {
        "csv_utf8": (["utf-8"], [","]),
        "csv_utf8_bom_semicolon": (["utf-8-sig"], [";"]),
        "csv_cp1258": (["windows-1258"], [","]),
        "utf16_tab": (["utf-16-le"], ["\t"]),
        "xlsx": ([None], [None]),
    }


@pytest.fixture(scope="module")
def sample_texts(samples_dir: Path) -> list[str]:
    """The UTF-8 sample CSVs as text: real-looking Vietnamese to re-encode."""
    texts = []
    for path in sorted((samples_dir / "exports").rglob("*.csv")):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            continue
        if text.count("\n") >= 10:
            texts.append(text)
    return texts


@pytest.mark.parametrize(
    ("encoder", "encoding", "repair"),
    [
        (lambda text: text.encode("utf-8"), "utf-8", None),
        (to_cp1258_bytes, "windows-1258", None),
        (lambda text: to_tcvn3_surface(text).encode("latin-1"), "tcvn3", "tcvn3"),
        (lambda text: to_vni_surface(text).encode("latin-1", errors="replace"), "vni", "vni"),
        (lambda text: to_tcvn3_surface(text).encode("utf-8"), "utf-8", "tcvn3"),
    ],
    ids=["utf8_untouched", "windows_1258", "tcvn3_bytes", "vni_bytes", "tcvn3_as_utf8"],
)
def test_every_sample_text_reencoded_is_recognised(
    sample_texts: list[str], encoder: Callable[[str], bytes], encoding: str, repair: str | None
) -> None:
    verdicts = []
    for text in sample_texts:
        decoded = decode_export_bytes(encoder(text))
        verdicts.append((decoded.encoding, decoded.repair) if decoded else None)

    assert len(sample_texts) > 40
    assert verdicts == [(encoding, repair)] * len(sample_texts)
