"""The batch path stages exactly what stage_export stages file by file: every ledger column, every
staged row, every raw metric; and decode_export_bytes_many decodes exactly as decode_export_bytes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_export_files import (
    VN_HEADER,
    export_rows,
    render_delimited,
    to_cp1258_bytes,
    to_tcvn3_surface,
    to_vni_surface,
    write,
)
from landed_file_strategies import ANY_CONTENT, landing_mixes
from staging_comparison import assert_same_staging

from synth import SynthConfig, generate
from transforms.ingest import batch_staging, list_landed_files
from transforms.ingest.delimited import SNIFF_RECORDS
from transforms.ingest.text_decoding import (
    MARKED_WORD_TEXT,
    SAMPLE_SEARCH_CHARS,
    SAMPLE_WORDS,
    decode_export_bytes,
    decode_export_bytes_many,
    marked_words_sample,
    marked_words_samples,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PROPERTIES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("corpus", ["encodings", "office_dates", "resends"])
def test_fixture_landings_stage_as_file_by_file(corpus: str) -> None:
    landing = FIXTURES / corpus
    source_files = list_landed_files(landing)
    assert source_files
    assert_same_staging(landing, source_files)


def test_the_office_corpus_text_files_stage_as_file_by_file() -> None:
    """Its CSV round trips through office software (the workbooks, slow to read, go through stage_export
    on both paths; tests/integration/test_ingest_batch_staging.py stages the whole corpus)."""
    landing = FIXTURES / "office_corpus" / "landing"
    text_files = [name for name in list_landed_files(landing) if name.lower().endswith((".csv", ".txt"))]
    assert len(text_files) > 200
    assert_same_staging(landing, text_files)


def test_shared_samples_stage_as_file_by_file(samples_dir: Path) -> None:
    landing = samples_dir / "exports"
    assert_same_staging(landing, list_landed_files(landing))


def test_the_demo_night_stages_as_file_by_file(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(citizens=4_000, shots=1_500, seed=11))  # as `vaxsync synth` does
    landing = tmp_path / "landing"
    staged = assert_same_staging(landing, list_landed_files(landing))
    assert sum(export.ledger["status"] == "loaded" for export in staged) > 10


def test_a_header_below_the_sniffed_records_is_scored_and_found(tmp_path: Path) -> None:
    """The header search reuses the header scores of the records the separator sniffing read; a header
    below them (here under more than SNIFF_RECORDS lines of bare separators, and a title) is scored there,
    and the batch path stages the file itself (a header it missed would send the file to stage_export)."""
    rows = [list(row) for row in export_rows(3)]
    bare = [[""] * len(VN_HEADER)] * (SNIFF_RECORDS + 5)
    below = write(
        tmp_path, "below.csv", render_delimited([*bare, ["DANH SÁCH"], VN_HEADER, *rows], ";", "\n")
    )
    within = write(tmp_path, "within.csv", render_delimited([["DANH SÁCH"], VN_HEADER, *rows], ",", "\n"))
    files = [(below, "hash-0"), (within, "hash-1")]
    by_batch = batch_staging._stage_text_batch(batch_staging._plain_text_files(tmp_path, files))
    assert sorted(by_batch) == [0, 1]
    assert [by_batch[position].ledger["header_line"] for position in (0, 1)] == [SNIFF_RECORDS + 7, 2]
    assert_same_staging(tmp_path, [below, within])


# Header variants: synonyms, unknown and repeated columns, a blank header over an empty column.
HEADERS = [
    VN_HEADER,
    [
        "STT",
        "Ho va ten",
        "Ngay sinh",
        "Gioi tinh",
        "CCCD",
        "SDT",
        "Dia chi",
        "Vac xin",
        "So lo",
        "Mui",
        "Ngay tiem",
        "Co so",
    ],
    [*VN_HEADER, "Ghi chú", "Dân tộc"],
    [*VN_HEADER[:5], "Ghi chú", *VN_HEADER[5:], "Ghi chú"],
    [*VN_HEADER, ""],
]
PREAMBLES = [[], [["SỞ Y TẾ TỈNH"]], [["DANH SÁCH TIÊM CHỦNG"], ["Ngày xuất: 20/08/2021"], []]]
EXTRA_ROWS = [[], ["Tổng cộng", "", "12"], ["Tổng số: 120 mũi"], ["Total"], ["3", "Tống Văn A"]]


@st.composite
def varied_export(draw: st.DrawFn) -> bytes:
    """A text export with what the batch path must decide per file: header variant and position,
    separator, line end, encoding (legacy fonts too), blank, total, repeated-header and short rows."""
    header = draw(st.sampled_from(HEADERS))
    rows = [list(row) + [""] * (len(header) - len(row)) for row in export_rows(draw(st.integers(0, 12)))]
    for _ in range(draw(st.integers(0, 4))):
        extra = draw(st.sampled_from([[], header, *EXTRA_ROWS]))
        rows.insert(draw(st.integers(0, len(rows))), list(extra))
    if rows and draw(st.booleans()):
        row = draw(st.integers(0, len(rows) - 1))
        rows[row] = rows[row][: draw(st.integers(0, len(header) + 2))] + [""] * draw(st.integers(0, 2))
    table = [*draw(st.sampled_from(PREAMBLES)), header, *rows]
    text = render_delimited(
        table, draw(st.sampled_from([",", ";", "\t"])), draw(st.sampled_from(["\r\n", "\n"]))
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1258", "tcvn3", "vni"]))
    if encoding == "cp1258":
        return to_cp1258_bytes(text)
    if encoding == "tcvn3":
        return to_tcvn3_surface(text).encode("latin-1", errors="replace")
    if encoding == "vni":
        return to_vni_surface(text).encode("latin-1", errors="replace")
    return text.encode(encoding)


@PROPERTIES
@given(contents=st.lists(st.one_of(varied_export(), ANY_CONTENT), min_size=1, max_size=8))
def test_generated_text_exports_stage_as_file_by_file(tmp_path_factory, contents: list[bytes]) -> None:
    landing = tmp_path_factory.mktemp("landing")
    names = [write(landing, f"f{position}.csv", content) for position, content in enumerate(contents)]
    assert_same_staging(landing, names)


@PROPERTIES
@given(landing_files=landing_mixes())
def test_generated_landings_stage_as_file_by_file(tmp_path_factory, landing_files: list) -> None:
    landing = tmp_path_factory.mktemp("landing")
    for landed in landing_files:
        write(landing, landed.path, landed.content)
    assert_same_staging(landing, [landed.path for landed in landing_files])


@PROPERTIES
@given(raws=st.lists(st.one_of(varied_export(), ANY_CONTENT, st.binary(max_size=400)), max_size=8))
def test_decoding_many_decodes_as_one_by_one(raws: list[bytes]) -> None:
    assert decode_export_bytes_many(raws) == [decode_export_bytes(raw) for raw in raws]


# Letters, marked letters, ASCII controls (marked), whitespace, digits and punctuation (word ends).
WORDS_AND_MARKS = st.text(alphabet=st.sampled_from("aZđĐễƯ\x01\x7f\x85 \t\r\n,;.-1\"'("), max_size=60)


@PROPERTIES
@given(texts=st.lists(WORDS_AND_MARKS, max_size=6))
def test_marked_words_of_many_texts_are_those_of_each(texts: list[str]) -> None:
    assert marked_words_samples(texts) == [marked_words_sample(text) for text in texts]
    assert marked_words_samples(texts) == [_marked_words_by_python(text) for text in texts]


def _marked_words_by_python(text: str) -> str:
    """The first SAMPLE_WORDS marked words by Python's regex (its look-behind tries word starts only)."""
    found = itertools.islice(MARKED_WORD_TEXT.finditer(text), SAMPLE_WORDS)
    return "\n".join(match.group() for match in found)


def test_marked_words_of_many_texts_stop_at_the_sample_size() -> None:
    texts = [" ".join(["Nguyễn", "Van", "x\x01y"] * SAMPLE_WORDS), "ễ"]
    samples = marked_words_samples(texts)
    assert samples == [_marked_words_by_python(text) for text in texts]
    assert len(samples[0].split("\n")) == SAMPLE_WORDS


def test_marked_words_are_looked_for_beyond_a_long_texts_head_when_it_holds_too_few() -> None:
    """A text's head (cut after a line end) is searched first; the whole text when the head holds fewer
    than SAMPLE_WORDS marked words: the sample is Python's reading of the whole text either way."""
    line = "1,Nguyễn Thị Hồng,Hà Nội,Pfizer\n"  # 5 marked words
    plain = "1,Nguyen Thi Hong,Ha Noi,Pfizer\n"
    dense = line * (SAMPLE_SEARCH_CHARS // len(line) + 500)  # the head holds the sample
    sparse = plain * (SAMPLE_SEARCH_CHARS // len(plain)) + line * 500  # the words lie beyond the head
    one_line = "ễ " * SAMPLE_SEARCH_CHARS  # no line end to cut after: read whole
    texts = [dense, sparse, one_line, "ễ"]

    samples = marked_words_samples(texts)

    assert samples == [_marked_words_by_python(text) for text in texts]
    assert [len(sample.split("\n")) for sample in samples] == [SAMPLE_WORDS, SAMPLE_WORDS, SAMPLE_WORDS, 1]


def test_decoding_many_decodes_the_encoding_fixtures_as_one_by_one() -> None:
    raws = [
        path.read_bytes()
        for path in sorted((FIXTURES / "encodings").glob("*.*sv"))
        + sorted((FIXTURES / "encodings").glob("*.txt"))
    ]
    assert decode_export_bytes_many(raws) == [decode_export_bytes(raw) for raw in raws]
