"""Decoded delimited text -> a grid of records (one row per record, its cells as List[String]).

Parsed with polars string expressions rather than `pl.read_csv`, because read_csv raises on an
unterminated quote (the usual shape of a truncated last line) and cannot say how many fields each
record had, which is how a short or overlong row is recognised.

- Records: physical lines, joined while a quoted field is open, each line read as RFC 4180 fields
  (a quoted field may hold separators and doubled quotes; a line holding only a quote opens a field
  with a line break in it). A quote inside an unquoted field opens nothing. If one quoted field would
  swallow more than MAX_LINES_PER_RECORD lines (a stray opening quote), every physical line is its
  own record instead, so one bad quote cannot eat the rest of a file. A record of many short quoted
  fields may span more lines (a header of wrapped bilingual labels: 'Họ và tên\n(Full name)').
- Fields: RFC 4180 quoting (doubled quotes inside quoted fields). A malformed field is kept as
  its raw text, never dropped.
- Separator: comma, semicolon or tab, sniffed: the candidate that yields the best header row
  (most canonical fields named), then the one splitting the most records into the same count.
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl

from transforms.ingest.header_mapping import with_header_scores

SEPARATOR_CANDIDATES = (",", ";", "\t")
MAX_LINES_PER_RECORD = 20
SNIFF_RECORDS = 50


def lines_text(text: str) -> str:
    """The text with its BOM and last line end dropped and every line end as "\\n"."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")


def split_records(text: str) -> pl.DataFrame:
    """One row per record: `line_number` (1-based physical line where it starts) and `record`."""
    lines = pl.Series("line", [lines_text(text)], dtype=pl.String).str.split("\n").explode()
    frame = lines.to_frame().with_row_index("line_index")
    return _group_quoted_lines(frame)


# Whether a line leaves a quoted field open, read with RFC 4180 fields (any candidate separator counts
# as a field boundary: the separator is unknown yet). A quoted field is "..." with "" inside, maybe with
# stray text before the next separator; an unquoted field may hold stray quotes after its first
# character (Nguyễn "Tí" Văn, 5" screen): those open nothing.
_SEPARATORS = "[" + re.escape("".join(SEPARATOR_CANDIDATES)) + "]"
_NOT_SEPARATOR = "[^" + re.escape("".join(SEPARATOR_CANDIDATES)) + "]"
_QUOTED_BODY = '(?:[^"]|"")*'
# Stray text after a closing quote never starts with a quote: `"""\t"` is one field holding `"\t`, not
# the field `""` + stray `"`, a tab, and a quote left open.
_AFTER_CLOSING_QUOTE = f'(?:[^"{re.escape("".join(SEPARATOR_CANDIDATES))}]{_NOT_SEPARATOR}*)?'
_FIELD = f'(?:"{_QUOTED_BODY}"{_AFTER_CLOSING_QUOTE}|[^"{re.escape("".join(SEPARATOR_CANDIDATES))}]{_NOT_SEPARATOR}*|)'
_ENDS_INSIDE_A_QUOTE = f'(?:{_FIELD}{_SEPARATORS})*"{_QUOTED_BODY}$'
OPENS_QUOTE = f"^{_ENDS_INSIDE_A_QUOTE}"  # the line starts outside quotes and ends inside one
STAYS_IN_QUOTE = (  # the line starts inside a quoted field and ends inside one (the same or a new one)
    f'^{_QUOTED_BODY}$|^{_QUOTED_BODY}"{_AFTER_CLOSING_QUOTE}{_SEPARATORS}{_ENDS_INSIDE_A_QUOTE}'
)


def _group_quoted_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Join the physical lines of records whose quoted fields span lines.

    Each line maps "inside a quoted field or not" at its start to the same at its end: a constant
    (it ends inside, or outside, whatever came before), the identity, or a flip. Composed over the
    lines in order, without a loop: the state after a line is the last constant before it, flipped
    once per flip since."""
    opens, stays = pl.col("line").str.contains(OPENS_QUOTE), pl.col("line").str.contains(STAYS_IN_QUOTE)
    with_state = (
        frame.with_columns(opens=opens, stays=stays)
        .with_columns(
            constant=pl.when(pl.col("opens") == pl.col("stays")).then(pl.col("opens")),
            flips=(pl.col("opens") & ~pl.col("stays")).cast(pl.UInt32).cum_sum(),
        )
        .with_columns(
            last_constant=pl.col("constant").forward_fill().fill_null(False),  # the file starts outside
            flips_at_constant=pl.when(pl.col("constant").is_not_null())
            .then(pl.col("flips"))
            .forward_fill()
            .fill_null(0),
        )
        .with_columns(
            inside_after=pl.col("last_constant") ^ ((pl.col("flips") - pl.col("flips_at_constant")) % 2 == 1)
        )
    )
    as_lines = frame.select(line_number=(pl.col("line_index") + 1).cast(pl.Int32), record=pl.col("line"))
    if not with_state["inside_after"].any():
        return as_lines  # no field spans lines: every line is a record
    grouped = with_state.with_columns(
        record_id=(~pl.col("inside_after")).cast(pl.UInt32).cum_sum().shift(1, fill_value=0)
    )
    if _longest_quoted_field_lines(with_state) > MAX_LINES_PER_RECORD:
        return as_lines  # a stray opening quote would swallow the lines after it
    return (
        grouped.group_by("record_id", maintain_order=True)
        .agg(
            line_number=(pl.col("line_index").first() + 1).cast(pl.Int32),
            record=pl.col("line").str.join("\n"),
        )
        .drop("record_id")
    )


def _longest_quoted_field_lines(with_state: pl.DataFrame) -> int:
    """The most physical lines one quoted field spans: a line that starts inside a quote and holds no
    quote continues the same field. A record may span many lines (a header of 50 wrapped bilingual
    labels spans 51, each field two), a single field only a few; a stray quote makes one field of
    every line after it."""
    continues_field = pl.col("inside_after").shift(1, fill_value=False) & ~pl.col("line").str.contains(
        '"', literal=True
    )
    runs = with_state.select(run=continues_field.rle()).unnest("run")
    longest = runs.filter(pl.col("value"))["len"].max()
    return 1 + (0 if longest is None else int(longest))  # type: ignore[arg-type]


def split_fields(records: pl.DataFrame, separator: str) -> pl.DataFrame:
    """`line_number`, `cells` (List[String], unquoted, blank -> null) and `field_count` per record.

    Records without a quote are split plainly; only the others go through the quote-aware regex.
    """
    return _split_fields(records.lazy(), separator).collect()


def _split_fields(
    records: pl.LazyFrame, separator: str, keys: tuple[str, ...] = (), *, in_line_order: bool = True
) -> pl.LazyFrame:
    """split_fields, lazily; `keys` (e.g. the file of a batch) are kept, and the records sorted by them
    and their line numbers, unless not `in_line_order` (for a caller that sorts or groups them itself:
    records with and without quotes are split apart, so they come in another order)."""
    sep = re.escape(separator)
    field = f'{sep}("(?:[^"]|"")*"[^{sep}]*|[^{sep}]*)'
    match = pl.element()  # a match without the separator we prepended (sliced off first, once)
    is_quoted = match.str.starts_with('"') & match.str.ends_with('"') & (match.str.len_bytes() >= 2)
    unquoted = (
        pl.when(is_quoted)
        .then(match.str.slice(1, match.str.len_chars() - 2).str.replace_all('""', '"', literal=True))
        .otherwise(match)
    )
    has_quote = pl.col("record").str.contains('"', literal=True)
    plain = records.filter(~has_quote).select(
        *keys, "line_number", cells=pl.col("record").str.split(separator)
    )
    with_quotes = records.filter(has_quote).select(
        *keys,
        "line_number",
        cells=(separator + pl.col("record"))
        .str.extract_all(field)
        .list.eval(pl.element().str.slice(1))
        .list.eval(unquoted),
    )
    blank_to_null = pl.col("cells").list.eval(
        pl.when(pl.element().str.strip_chars() != "").then(pl.element())
    )
    split = pl.concat([plain, with_quotes])
    if in_line_order:
        split = split.sort(*keys, "line_number")
    return split.select(*keys, "line_number", cells=blank_to_null).with_columns(
        field_count=pl.col("cells").list.len().cast(pl.Int32)
    )


def sniff_separator(records: pl.DataFrame) -> str:
    """The candidate separator that best explains the first records (see module docstring).

    The head is split with every candidate and scored in one query."""
    head = records.lazy().filter(pl.col("record").str.strip_chars() != "").head(SNIFF_RECORDS)
    split = pl.concat(
        [
            _split_fields(head, separator).select("cells", "field_count", candidate=pl.lit(order))
            for order, separator in enumerate(SEPARATOR_CANDIDATES)
        ]
    )
    grids = with_header_scores(split.collect())
    ranked = []
    for order, separator in enumerate(SEPARATOR_CANDIDATES):
        grid = grids.filter(pl.col("candidate") == order)
        best_header = max(grid["score"].to_list(), default=0)
        modal_count, records_with_it = (
            Counter(grid["field_count"].to_list()).most_common(1)[0] if grid.height else (1, 0)
        )
        consistent = records_with_it if modal_count > 1 else 0
        ranked.append((best_header, consistent, -order, separator))
    return max(ranked)[3]


def sniff_separators(records: pl.LazyFrame, file_key: str) -> pl.DataFrame:
    """sniff_separator for the records of many files at once (`file_key` tells them apart): one row per
    file that has a non-blank record, with its `separator`. The same choice: the best header, then the
    most records split into the modal count (a tie on the count goes to the count seen first), then the
    candidate's order. `header_scores` (List of line_number, score) keeps the header score of each record
    sniffed, split with the chosen separator, so that the header search need not score them again."""
    head = records.filter(pl.col("record").str.strip_chars() != "").filter(
        pl.int_range(pl.len()).over(file_key) < SNIFF_RECORDS
    )
    # grouped and joined by file and line below, never read in line order: no sort needed
    split = pl.concat(
        [
            _split_fields(head, separator, (file_key,), in_line_order=False).select(
                file_key, "line_number", "cells", "field_count", candidate=pl.lit(order)
            )
            for order, separator in enumerate(SEPARATOR_CANDIDATES)
        ]
    )
    grids = with_header_scores(split.collect()).drop("cells")
    per_candidate = [file_key, "candidate"]
    best_header = grids.group_by(per_candidate).agg(best_header=pl.col("score").max())
    modal = (
        grids.group_by(*per_candidate, "field_count")
        .agg(records_with_it=pl.len(), first_seen=pl.col("line_number").min())
        .sort(*per_candidate, "records_with_it", "first_seen", descending=[False, False, True, False])
        .group_by(per_candidate)
        .first()
        .select(
            *per_candidate,
            consistent=pl.when(pl.col("field_count") > 1).then(pl.col("records_with_it")).otherwise(0),
        )
    )
    separators = pl.Series(SEPARATOR_CANDIDATES, dtype=pl.String)
    chosen = (
        best_header.join(modal, on=per_candidate)
        .sort(file_key, "best_header", "consistent", "candidate", descending=[False, True, True, False])
        .group_by(file_key, maintain_order=True)
        .first()
        .select(*per_candidate)
    )
    scores = (
        grids.join(chosen, on=per_candidate)
        .group_by(file_key)
        .agg(header_scores=pl.struct("line_number", pl.col("score").cast(pl.UInt32)))
    )
    return (
        chosen.join(scores, on=file_key, how="left")
        .sort(file_key)
        .select(
            file_key,
            separator=pl.col("candidate").replace_strict(range(3), separators),
            header_scores="header_scores",
        )
    )
