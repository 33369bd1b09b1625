"""The HTML report's table bodies, built in polars: each table (or reason section of row cards) becomes one
escaped block of markup that the template places whole.

A Jinja macro per cell rendered a large province's page in seconds (a template call and an escape call per
value); here every cell of a column is escaped and wrapped at once. The markup is exactly what the
per-cell template wrote (tests/unit/reports/test_html_tables.py compares the two): values are written as
Python's `str` writes them, escaped like markupsafe (`& < > " '`), an empty cell as NONE_CELL.
"""

from __future__ import annotations

import functools

import polars as pl
from markupsafe import Markup, escape

from vaxsync.core.decision_sheet import CANDIDATES_SHOWN
from vaxsync.reports.province_report_model import (
    CANDIDATE_FIELD_LABELS,
    CANDIDATE_FIELDS,
    COLUMN_LABELS,
    candidate_column,
)

NONE_CELL = '<span class="none">—</span>'
NONE_TEXT = "None"  # what `{{ value }}` wrote for a missing value outside a cell
# markupsafe's replacements.
HTML_ESCAPES: tuple[tuple[str, str], ...] = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&#34;"),
    ("'", "&#39;"),
)
PROBABILITY_SUFFIX = " %"  # after a candidate's match probability in percent, "87.5 %" (Python's "%.1f %%")


def escaped(text: pl.Expr) -> pl.Expr:
    """One pass over the text (each character is replaced once, so `&` needs no ordering)."""
    return text.str.replace_many(
        [character for character, _ in HTML_ESCAPES], [entity for _, entity in HTML_ESCAPES]
    )


def python_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """The column's values as Python's `str` writes them (null stays null)."""
    column = pl.col(name)
    if dtype == pl.String:
        return column
    if dtype.is_integer() or dtype == pl.Date:
        return column.cast(pl.String)
    if dtype == pl.Boolean:
        return (
            pl.when(column.is_null()).then(None).when(column).then(pl.lit("True")).otherwise(pl.lit("False"))
        )
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.String)
    raise TypeError(f"the HTML report has no text for a {dtype} column ({name})")


def cell_html(name: str, dtype: pl.DataType) -> pl.Expr:
    """A cell's content: the escaped value, or NONE_CELL."""
    return escaped(python_text(name, dtype)).fill_null(NONE_CELL)


def text_html(name: str, dtype: pl.DataType) -> pl.Expr:
    """A value written outside a cell: escaped, a missing one as 'None'."""
    return escaped(python_text(name, dtype)).fill_null(NONE_TEXT)


def _frame_cell_class(name: str, dtype: pl.DataType) -> pl.Expr:
    """'number zero' for a zero, 'number' for another number, 'text' for the rest (strings and nulls)."""
    if not (dtype.is_numeric() or dtype == pl.Boolean):
        return pl.lit("text")
    value = pl.col(name)
    return (
        pl.when(value.is_null())
        .then(pl.lit("text"))
        .when(value.cast(pl.Int64) == 0 if dtype == pl.Boolean else value == 0)
        .then(pl.lit("number zero"))
        .otherwise(pl.lit("number"))
    )


def _joined(frame: pl.DataFrame, row: pl.Expr) -> Markup:
    """The rows' markup, one after the other."""
    if frame.is_empty():
        return Markup("")
    return Markup(frame.select(row.alias("html")).to_series().str.join("").item())


Columns = tuple[tuple[str, pl.DataType], ...]  # a frame's schema as a cache key


def columns_of(frame: pl.DataFrame) -> Columns:
    return tuple(frame.schema.items())


def frame_rows(frame: pl.DataFrame) -> Markup:
    """A summary table's body rows: every column, each cell classed by its value."""
    if frame.width == 0:
        return Markup("    <tr></tr>\n" * frame.height)
    return _joined(frame, _frame_row(columns_of(frame)))


@functools.cache
def _frame_row(columns: Columns) -> pl.Expr:
    cells = [
        pl.concat_str(
            pl.lit('<td class="'),
            _frame_cell_class(name, dtype),
            pl.lit('">'),
            cell_html(name, dtype),
            pl.lit("</td>"),
        )
        for name, dtype in columns
    ]
    return pl.concat_str(pl.lit("    <tr>"), *cells, pl.lit("</tr>\n"))


def reason_table_rows(rows: pl.DataFrame, shown: list[str], classes: dict[str, str]) -> Markup:
    """A reason table's body rows (a section without candidates): the shown columns, classed by column."""
    return _joined(rows, _reason_row(columns_of(rows), tuple((name, classes[name]) for name in shown)))


@functools.cache
def _reason_row(columns: Columns, shown: tuple[tuple[str, str], ...]) -> pl.Expr:
    dtypes = dict(columns)
    cells = [
        pl.concat_str(
            pl.lit(f'        <td class="{escape(css_class)}">'),
            cell_html(name, dtypes[name]),
            pl.lit("</td>\n"),
        )
        for name, css_class in shown
    ]
    return pl.concat_str(pl.lit("      <tr>\n"), *cells, pl.lit("      </tr>\n"))


# --- row cards (a section whose rows have review candidates) ------------------------------------------------


def _sent_ward_district(schema: pl.Schema) -> pl.Expr:
    """The row's ward and district (the non-empty ones), else its address as sent."""
    parts = [
        pl.when(pl.col(name) != "").then(escaped(python_text(name, schema[name])))
        for name in ("sent_ward", "sent_district")
    ]
    joined = pl.concat_str(parts, separator=", ", ignore_nulls=True)
    address = cell_html("sent_address", schema["sent_address"])
    return pl.when(joined.is_null() | (joined == "")).then(address).otherwise(joined)


SENT_VALUE_COLUMNS = {
    "id": "sent_id_number",
    "name": "sent_full_name",
    "birth_date": "sent_date_of_birth",
    "sex": "sent_sex",
    "phone": "sent_phone",
}


def _differs_class(rank: int, field: str) -> pl.Expr:
    """' class="differs"' when the candidate's `differs` list names the field."""
    listed = pl.concat_str(
        pl.lit(", "), pl.col(candidate_column(rank, "differs")).fill_null(""), pl.lit(", ")
    )
    return (
        pl.when(listed.str.contains(f", {field}, ", literal=True))
        .then(pl.lit(' class="differs"'))
        .otherwise(pl.lit(""))
    )


def _field_row(field: str, schema: pl.Schema) -> list[pl.Expr]:
    vietnamese, english = (escape(label) for label in CANDIDATE_FIELD_LABELS[field])
    sent = (
        _sent_ward_district(schema)
        if field == "ward_district"
        else cell_html(SENT_VALUE_COLUMNS[field], schema[SENT_VALUE_COLUMNS[field]])
    )
    pieces = [
        pl.lit(f'        <tr><th scope="row">{vietnamese}<small>{english}</small></th>\n          <td>'),
        sent,
    ]
    for rank in range(1, CANDIDATES_SHOWN + 1):
        name = candidate_column(rank, field)
        pieces += [
            pl.lit("</td>\n          <td"),
            _differs_class(rank, field),
            pl.lit(">"),
            cell_html(name, schema[name]),
        ]
    return [*pieces, pl.lit("</td>\n        </tr>\n")]


def _probabilities(rows: pl.DataFrame) -> pl.DataFrame:
    """Each candidate's probability as the page shows it ('87.5 %'), as Python's `%` writes it."""
    names = [candidate_column(rank, "probability") for rank in range(1, CANDIDATES_SHOWN + 1)]
    texts = percent_texts(rows.select(names).unpivot()["value"])  # column after column
    return pl.DataFrame(
        {name: texts.slice(index * rows.height, rows.height) for index, name in enumerate(names)}
    )


def percent_texts(probabilities: pl.Series) -> pl.Series:
    """Probabilities (0 to 1) times 100 with one decimal and ' %' (a missing one ''), rounded as Python's
    `%.1f` rounds: the product's exact binary value to the nearest tenth, a tie to the even tenth. Polars
    has no fixed-precision format; DuckDB's printf did this, and loaded pyarrow into the rendering helper.

    The tenths (percent x 10) are not a double: they are kept exactly as a double and its rounding error
    (8x + 2x, both exact, summed by Knuth's TwoSum), so that 12.25 (exact) and 0.35 (just below) round as
    Python's do. One step per frame operation: as one expression the reused terms made a tree that took
    polars milliseconds per page to plan."""
    eight, two, tenths, two_part = pl.col("eight"), pl.col("two"), pl.col("tenths"), pl.col("two_part")
    whole, fraction, error = pl.col("whole"), pl.col("fraction"), pl.col("error")
    above_half = (fraction > 0.5) | ((fraction == 0.5) & ((error > 0) | ((error == 0) & (whole % 2 == 1))))
    tenths_shown = (
        pl.DataFrame({"percent": probabilities.cast(pl.Float64) * 100})  # Python's `value * 100`
        .with_columns(eight=pl.col("percent") * 8, two=pl.col("percent") * 2)
        .with_columns(tenths=eight + two)
        .with_columns(two_part=tenths - eight, whole=tenths.floor())
        .with_columns(error=(eight - (tenths - two_part)) + (two - two_part), fraction=tenths - whole)
        .select(whole.cast(pl.Int64) + above_half.cast(pl.Int64))
        .to_series()
    )
    return pl.select(
        pl.concat_str(
            tenths_shown // 10, pl.lit("."), tenths_shown % 10, pl.lit(PROBABILITY_SUFFIX)
        ).fill_null("")
    ).to_series()


def _card_header(schema: pl.Schema) -> list[pl.Expr]:
    first_seen = escape(COLUMN_LABELS["first_seen_on"][0])
    detail = pl.col("reason_detail")
    return [
        pl.lit('  <article class="row-card">\n    <header>\n      <b>'),
        text_html("facility", schema["facility"]),
        pl.lit("</b>\n      <span>"),
        text_html("source_file", schema["source_file"]),
        pl.lit(" : "),
        text_html("source_row", schema["source_row"]),
        pl.lit(f"</span>\n      <span>{first_seen}: "),
        text_html("first_seen_on", schema["first_seen_on"]),
        pl.lit(" ("),
        text_html("nights_waited", schema["nights_waited"]),
        pl.lit(' đêm / nights)</span>\n      <span class="key">'),
        text_html("row_key", schema["row_key"]),
        pl.lit("</span>\n    </header>\n"),
        pl.when(detail.is_not_null() & (detail != ""))
        .then(pl.concat_str(pl.lit('<div class="detail">'), escaped(detail), pl.lit("</div>")))
        .otherwise(pl.lit("")),
    ]


def _card_table_head() -> str:
    ranks = "".join(
        f"<th>Ứng viên {rank}<small>candidate {rank}</small></th>" for rank in range(1, CANDIDATES_SHOWN + 1)
    )
    return (
        '    <div class="scroll"><table>\n      <thead><tr>\n'
        "        <th></th><th>Dòng đã gửi<small>row as sent</small></th>\n"
        f"{ranks}      </tr></thead>\n      <tbody>\n"
    )


def _card_footer(schema: pl.Schema) -> list[pl.Expr]:
    probability_cells = [
        pl.concat_str(pl.lit('          <td class="number">'), pl.col(f"shown_{rank}"), pl.lit("</td>\n"))
        for rank in range(1, CANDIDATES_SHOWN + 1)
    ]
    label = {
        name: escape(COLUMN_LABELS[name][0])
        for name in ("sent_vaccine", "sent_lot", "sent_dose", "sent_vaccinated_on")
    }
    return [
        pl.lit('        <tr><th scope="row">Xác suất khớp<small>match probability</small></th><td></td>\n'),
        *probability_cells,
        pl.lit(f"        </tr>\n      </tbody>\n    </table></div>\n    <div>{label['sent_vaccine']}: "),
        cell_html("sent_vaccine", schema["sent_vaccine"]),
        pl.lit(f" · {label['sent_lot']}: "),
        cell_html("sent_lot", schema["sent_lot"]),
        pl.lit(f"\n      · {label['sent_dose']}: "),
        cell_html("sent_dose", schema["sent_dose"]),
        pl.lit(f" · {label['sent_vaccinated_on']}: "),
        cell_html("sent_vaccinated_on", schema["sent_vaccinated_on"]),
        pl.lit("</div>\n  </article>\n"),
    ]


def candidate_cards(rows: pl.DataFrame) -> Markup:
    """A reason section's row cards: the row as sent beside its candidates, differing fields marked."""
    if rows.is_empty():
        return Markup("")
    shown = _probabilities(rows).rename(
        {candidate_column(rank, "probability"): f"shown_{rank}" for rank in range(1, CANDIDATES_SHOWN + 1)}
    )
    return _joined(pl.concat([rows, shown], how="horizontal"), _card(columns_of(rows)))


@functools.cache
def _card(columns: Columns) -> pl.Expr:
    schema = pl.Schema(columns)
    return pl.concat_str(
        *_card_header(schema),
        pl.lit(_card_table_head()),
        *[piece for field in CANDIDATE_FIELDS for piece in _field_row(field, schema)],
        *_card_footer(schema),
    )
