"""The fast paths of encoding detection give the answers of the slow ones, and batches stage like single files."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import ftfy
import pytest
from ingest_export_files import (
    VN_HEADER,
    as_utf8_misread_as_cp1252,
    export_rows,
    render_delimited,
    to_tcvn3_surface,
    to_vni_surface,
    write,
)
from viparse.normalize.frequency import vietnamese_score as viparse_vietnamese_score

from transforms.ingest.legacy_fonts import (
    LETTER_RUN,
    TONE_MARK,
    convert_legacy_text,
    count_defects,
    is_alien,
    non_ascii_words,
    vietnamese_score,
)
from transforms.ingest.text_decoding import repair_utf8_as_cp1252

TABLE = [VN_HEADER, *export_rows()]
TEXTS = {
    "unicode": render_delimited(TABLE),
    "tcvn3_surface": to_tcvn3_surface(render_delimited(TABLE)),
    "vni_surface": to_vni_surface(render_delimited(TABLE)),
    "doubled_vowels_and_lookalikes": "Phượợng Tàài ÐẶNG Mỷỷ ṍ x²y ₫ Ň ́a",
    "empty": "",
}


def _count_defects_one_by_one(words: str) -> int:
    """The definition, character by character and syllable by syllable."""
    text = unicodedata.normalize("NFC", words)
    aliens = sum(1 for char in text if is_alien(char))
    multi_tone = sum(
        1
        for syllable in LETTER_RUN.findall(text)
        if len(TONE_MARK.findall(unicodedata.normalize("NFD", syllable))) > 1
    )
    return aliens + multi_tone


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_defects_counted_at_once_equal_the_definition(name: str) -> None:
    words = non_ascii_words(TEXTS[name])
    readings = [words, convert_legacy_text(words, "tcvn3"), convert_legacy_text(words, "vni")]

    assert [count_defects(reading) for reading in readings] == [
        _count_defects_one_by_one(reading) for reading in readings
    ]


def test_doubled_tone_marks_and_alien_letters_are_defects() -> None:
    # Phượợng, Tàài, Mỷỷ: two tones in a syllable; ṍ carries two tone marks in one letter and is no
    # Vietnamese letter (two defects); Ň is alien.
    assert count_defects("Phượợng Tàài Mỷỷ ṍ Ň") == 6
    assert count_defects("Nguyễn Thị Hồng 1980") == 0


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_the_score_equals_viparse_score(name: str) -> None:
    words = non_ascii_words(TEXTS[name])
    for reading in (words, convert_legacy_text(words, "tcvn3"), TEXTS[name][:5000]):
        assert vietnamese_score(reading) == pytest.approx(viparse_vietnamese_score(reading), rel=1e-12)


def test_text_with_vietnamese_letters_is_never_repaired_as_mojibake() -> None:
    mixed = (
        render_delimited(TABLE) + "\n" + as_utf8_misread_as_cp1252("Nguyễn Văn Nam").decode("utf-8") + "\n"
    )

    plan = ftfy.fix_encoding_and_explain(mixed).explanation or []

    assert not [argument for step, argument in plan if step == "encode"]  # ftfy agrees: nothing to undo
    assert repair_utf8_as_cp1252(mixed) is None


def test_whole_text_mojibake_is_still_repaired() -> None:
    misread = as_utf8_misread_as_cp1252(render_delimited(TABLE)).decode("utf-8")

    assert repair_utf8_as_cp1252(misread) == render_delimited(TABLE)


def test_a_batch_stages_the_files_as_one_by_one(tmp_path: Path) -> None:
    from vaxsync.pipeline import discover_new_exports, ingest_batches, ingest_export, ingest_exports
    from vaxsync.settings import Settings
    from vaxsync.workdir import RunWorkDir, read_json

    landing = tmp_path / "landing"
    write(landing, "a.csv", render_delimited(TABLE))
    write(landing, "b.csv", to_tcvn3_surface(render_delimited(TABLE)).encode("latin-1"))
    write(landing, "c.xlsx", b"not a workbook")
    registry = tmp_path / "registry.parquet"
    registry.write_bytes(b"")
    outputs = []
    for run, ingest in (("batch", "batch"), ("single", "single")):
        settings = Settings(
            registry_path=registry,
            landing_dir=landing,
            warehouse_path=tmp_path / run / "warehouse.duckdb",
            reports_dir=tmp_path / run / "reports",
            as_of=dt.date(2023, 1, 31),
        )
        files = discover_new_exports(settings)
        results = (
            [result for batch in ingest_batches(files, 2) for result in ingest_exports(settings, batch)]
            if ingest == "batch"
            else [ingest_export(settings, source_file) for source_file in files]
        )
        work = RunWorkDir(settings)
        ledgers = [read_json(work.ledger_file(result["file_hash"])) for result in results]
        staged = sorted(path.name for path in work.staged_dir.glob("*.parquet"))
        outputs.append(
            ([{k: v for k, v in ledger.items() if k != "ingest_seconds"} for ledger in ledgers], staged)
        )

    assert outputs[0] == outputs[1]
    assert [ledger["status"] for ledger in outputs[0][0]] == ["loaded", "loaded", "quarantined"]
    assert len(outputs[0][1]) == 2
    assert ingest_batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
