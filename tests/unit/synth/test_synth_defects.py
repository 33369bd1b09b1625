"""Every catalogued defect is planted, at about its configured rate, and really shows in the files."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from synth_landed_files import data_lines, truth_of

from synth.catalogues import ID_PLACEHOLDERS
from synth.defects import DEFECTS, WHOLE_FILE_REASONS
from synth.templates import TEMPLATES
from synth.vaccines import UNKNOWN_VACCINE_TEXTS

# Defects recorded somewhere other than truth.corruptions.
FILE_TABLE_DEFECTS = {"blank_rows": "count_blank_rows", "total_row": "has_total_row"}
TRUTH_COLUMN_DEFECTS = {
    "dup_reexport": ("dup_kind", "reexport"),
    "dup_second_facility": ("dup_kind", "second_facility"),
    "person_unregistered": ("person_kind", "unregistered"),
    "person_foreigner": ("person_kind", "foreigner"),
    "person_absent_namesake": ("person_kind", "absent_namesake"),
}


def _load(directory: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, object]]:
    truth = pl.read_parquet(directory / "truth.parquet")
    files = pl.read_parquet(directory / "files.parquet")
    return truth, files, json.loads((directory / "summary.json").read_text())


@pytest.mark.parametrize(
    "defect", [name for name, spec in DEFECTS.items() if spec.unit in ("row", "invalid", "person", "file")]
)
def test_every_row_and_file_defect_is_planted(boosted_dir: Path, defect: str) -> None:
    truth, files, _ = _load(boosted_dir)
    if defect in FILE_TABLE_DEFECTS:
        assert (files[FILE_TABLE_DEFECTS[defect]].cast(pl.Int64) > 0).any()
    elif defect in TRUTH_COLUMN_DEFECTS:
        column, value = TRUTH_COLUMN_DEFECTS[defect]
        assert (truth[column] == value).any()
    else:
        assert truth["corruptions"].list.contains(defect).any(), f"{defect} never planted"


@pytest.mark.parametrize(("defect", "reason"), list(WHOLE_FILE_REASONS.items()))
def test_every_whole_file_defect_lands_with_its_quarantine_reason(
    boosted_dir: Path, defect: str, reason: str
) -> None:
    _, files, _ = _load(boosted_dir)
    junk = files.filter(pl.col("file_defect") == defect)
    assert len(junk) >= 1
    assert (junk["expected_status"] == "quarantined").all()
    assert (junk["expected_quarantine_reason"] == reason).all()


@pytest.mark.parametrize(
    "invalid_kind",
    ["vaccine_unknown", "vax_date_out_of_range", "vax_date_future", "vax_date_impossible", "dob_impossible",
     "required_value_missing", "after_death", "truncated_row"],
)  # fmt: skip
def test_invalid_rows_are_expected_in_the_backlog(boosted_dir: Path, invalid_kind: str) -> None:
    truth, _, _ = _load(boosted_dir)
    rows = truth.filter(pl.col("invalid_kind") == invalid_kind)
    assert len(rows) > 0
    assert (rows["expected"] == "backlog_invalid").all()
    assert rows["corruptions"].list.contains(invalid_kind).all()


def test_tag_counts_in_truth_match_the_summary(default_dir: Path) -> None:
    truth, _, summary = _load(default_dir)
    realised = summary["realised_row_defects"]
    assert isinstance(realised, dict)
    counts = truth.explode("corruptions")["corruptions"].value_counts()
    in_truth = dict(counts.iter_rows())
    for tag, stats in realised.items():
        assert in_truth.get(tag, 0) >= stats["count_rows"], tag


def test_row_defects_land_near_their_configured_rates(default_dir: Path) -> None:
    _, _, summary = _load(default_dir)
    realised = summary["realised_row_defects"]
    configured = summary["configured_rates"]
    assert isinstance(realised, dict) and isinstance(configured, dict)
    checked = 0
    for tag, stats in realised.items():
        rate, eligible = configured[tag], stats["count_eligible"]
        if eligible < 400 or rate * eligible < 5:
            continue
        tolerance = 5 * math.sqrt(rate * (1 - rate) / eligible) + 0.02
        assert abs(stats["rate"] - rate) <= tolerance, (tag, stats, rate)
        checked += 1
    assert checked >= 30


def test_absent_people_and_duplicates_near_their_rates(default_dir: Path) -> None:
    truth, _, summary = _load(default_dir)
    configured = summary["configured_rates"]
    assert isinstance(configured, dict)
    share = truth["person_kind"].value_counts(normalize=True)
    shares = dict(zip(share["person_kind"], share["proportion"], strict=True))
    assert (
        0.3 * configured["person_unregistered"]
        < shares["unregistered"]
        < 3 * configured["person_unregistered"]
    )
    assert 0.3 * configured["person_foreigner"] < shares["foreigner"] < 3 * configured["person_foreigner"]
    namesake_rate = configured["person_absent_namesake"]
    assert 0.3 * namesake_rate < shares["absent_namesake"] < 3 * namesake_rate  # type: ignore[operator]
    reexports = (truth["dup_kind"] == "reexport").mean()
    assert 0.5 * configured["dup_reexport"] < reexports < 1.5 * configured["dup_reexport"]  # type: ignore[operator]


# ---------------------------------------------------------------- the defect really shows in the file

CHECKS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "name_all_caps": ("full_name", lambda v: v == v.upper()),
    "name_no_diacritics": ("full_name", lambda v: all(c.isascii() or c == "Ð" for c in v)),
    "name_nfd": ("full_name", lambda v: not unicodedata.is_normalized("NFC", v)),
    "name_extra_spaces": ("full_name", lambda v: "  " in v or v != v.strip()),
    "name_lookalike_d": ("full_name", lambda v: "\u00d0" in v),
    "name_mojibake": ("full_name", lambda v: any(mark in v for mark in ("Ã", "Æ", "á»", "áº", "Ä", "Å"))),
    "id_scientific": ("id_number", lambda v: "E+" in v),
    "id_placeholder": ("id_number", lambda v: v in ID_PLACEHOLDERS),
    "id_bhyt": ("id_number", lambda v: re.fullmatch(r"[A-Z]{2}[1-5]\d{12}", v) is not None),
    "id_passport": ("id_number", lambda v: re.fullmatch(r"[A-Z]{0,2}\d{7,9}", v) is not None),
    "id_leading_zeros_lost": ("id_number", lambda v: re.fullmatch(r"[1-9]\d{7,10}", v) is not None),
    "id_spaces": ("id_number", lambda v: re.search(r"[ .\-]", v) is not None),
    "id_missing": ("id_number", lambda v: v == ""),
    "phone_old_11digit": ("phone", lambda v: re.fullmatch(r"01\d{9}", v) is not None),
    "phone_country_code": ("phone", lambda v: re.match(r"(\+84|84|0084)", v) is not None),
    "phone_landline": ("phone", lambda v: re.fullmatch(r"02\d{9}", v) is not None),
    "phone_separators": ("phone", lambda v: re.search(r"[ .\-]", v) is not None),
    "dob_year_only": ("date_of_birth", lambda v: re.fullmatch(r"\d{4}", v) is not None),
    "vaccine_unknown": ("vaccine", lambda v: v in UNKNOWN_VACCINE_TEXTS),
    "lot_missing": ("lot", lambda v: v == ""),
    "dose_missing": ("dose", lambda v: v == ""),
    "sex_missing": ("sex", lambda v: v == ""),
    "dose_additional_text": ("dose", lambda v: "bổ sung" in v.lower()),
}


@pytest.fixture(scope="module")
def plain_rows(boosted_dir: Path) -> pl.DataFrame:
    """Cells by canonical field, with their truth, from UTF-8 files whose headers are the template's own."""
    truth, files, _ = _load(boosted_dir)
    chosen = files.filter(
        pl.col("file_format").is_in(["csv_utf8", "csv_utf8_bom_semicolon", "tsv_utf8", "utf16_tab"])
        & ~pl.col("is_header_noise")
        & ~pl.col("is_duplicate_headers")
        & ~pl.col("is_truncated")
    )
    frames = []
    for row in chosen.iter_rows(named=True):  # one iteration per file
        headers = data_lines(
            boosted_dir / "landing" / row["source_file"], row["file_format"], row["header_line"] - 1
        )[0]
        cells = data_lines(
            boosted_dir / "landing" / row["source_file"], row["file_format"], row["header_line"]
        )
        by_header = {header: position for position, header in enumerate(headers)}
        fields = {
            field: by_header[header]
            for field, header in TEMPLATES[row["template"]].items()
            if header in by_header
        }
        frame = pl.DataFrame(
            {field: [line[position] for line in cells] for field, position in fields.items()}
        )
        frames.append(pl.concat([frame, truth_of(truth, row["source_file"])], how="horizontal"))
    return pl.concat(frames, how="diagonal_relaxed")


@pytest.mark.parametrize(("defect", "field", "shows"), [(name, *check) for name, check in CHECKS.items()])
def test_tagged_rows_show_the_defect(
    plain_rows: pl.DataFrame, defect: str, field: str, shows: Callable[[str], bool]
) -> None:
    tagged = plain_rows.filter(pl.col("corruptions").list.contains(defect))
    if field == "id_number":
        # a later ID defect (spaces, zero loss...) may rewrite the ID the first one put in place
        representation = [
            "id_leading_zeros_lost",
            "id_scientific",
            "id_spaces",
            "id_typo_digit",
            "id_transposed",
        ]
        if defect not in representation:
            tagged = tagged.filter(
                ~pl.col("corruptions").list.set_intersection(representation).list.len().cast(pl.Boolean)
            )
    if field == "phone" and defect != "phone_landline":
        tagged = tagged.filter(~pl.col("corruptions").list.contains("phone_landline"))
    if field == "full_name":
        # later name defects rewrite the text the earlier ones produced
        later = {"name_all_caps": ["name_mojibake", "name_nfd"], "name_no_diacritics": ["name_mojibake"]}
        for other in later.get(defect, []):
            tagged = tagged.filter(~pl.col("corruptions").list.contains(other))
    if field == "dose":
        tagged = tagged.filter(
            ~pl.col("corruptions").list.contains("dose_missing") | pl.lit(defect == "dose_missing")
        )
    if field in ("full_name", "date_of_birth", "vaccine"):
        tagged = tagged.filter(pl.col("invalid_kind") != "required_value_missing")
    if field == "date_of_birth":
        tagged = tagged.filter(pl.col("invalid_kind") != "dob_impossible")  # the impossible date replaces it
    if field not in tagged.columns or len(tagged) == 0:
        pytest.skip(f"no {defect} row in a plainly readable file of this run")
    values = tagged[field].to_list()
    assert all(shows(value) for value in values), [v for v in values if not shows(v)][:5]
