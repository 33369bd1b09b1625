"""The fast paths of normalize_shots give the same rows and values as the plain ones they replaced.

Issue 14 made normalize cheaper without changing a value: the staged rows read once; IDs, phones,
lots and blank birth dates found per distinct text; each lookup joined on its key alone and set
beside the rows; the date parts one column per step; a placeholder found with one regex; the registry's surname shares counted per
distinct name. Each test keeps the plain form as the reference (the rules themselves are shared)
and compares on many inputs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from normalize_builders import staged_frame
from test_normalize_samples import stage_plain_csv

from transforms.normalize import dates, ids, names, phones
from transforms.normalize.addresses import ADDRESS_COLUMNS, facility_province_code, resolve_admin_codes
from transforms.normalize.dose import dose_number
from transforms.normalize.lookups import aligned, aligned_by_hash
from transforms.normalize.reference import NormalizeReference, province_2025_code
from transforms.normalize.sex import sex_code
from transforms.normalize.shots import (
    RAW_LOT,
    birth_missing,
    lot_number,
    name_lookup,
    normalize_shots,
    reject_columns,
    vaccine_lookup,
)
from transforms.normalize.text import (
    MAX_PLACEHOLDER_CHARS,
    PLACEHOLDER_WRAPPING,
    PLACEHOLDERS,
    SYMBOLS_ONLY,
    fold,
    is_placeholder,
)
from vaxsync.core.contracts import NORMALIZED_EXTRA_SCHEMA, STAGED_ROW_SCHEMA, raw_column

AS_OF = dt.date(2023, 1, 31)
CAMPAIGN_START = dt.date(2021, 3, 8)
PROPERTY = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def plain_normalize_shots(staged: pl.LazyFrame, reference: NormalizeReference) -> pl.LazyFrame:
    """normalize_shots as it was before issue 14: lookups joined onto the growing frame, IDs, phones
    and lots normalised row by row, every lookup reading the input plan."""
    staged = staged.select(list(STAGED_ROW_SCHEMA))

    def distinct(column: str, derived: list[pl.Expr]) -> pl.LazyFrame:
        return staged.select(column).unique().with_columns(derived)

    facility = distinct(
        "source_file",
        [
            facility_province_code(pl.col("source_file"), reference.province_codes).alias(
                "facility_province_code"
            )
        ],
    )
    sex, dose = raw_column("sex"), raw_column("dose")
    frame = staged
    for column, lookup in [
        ("source_file", facility),
        (raw_column("full_name"), name_lookup(staged, reference)),
        (raw_column("vaccine"), vaccine_lookup(staged, reference)),
        (sex, distinct(sex, [sex_code(pl.col(sex)).alias("sex_code")])),
        (dose, distinct(dose, [dose_number(pl.col(dose)).alias("dose_number_reported")])),
    ]:
        frame = frame.join(lookup, on=column, how="left", nulls_equal=True, maintain_order="left")
    address_source = (
        staged.select(*ADDRESS_COLUMNS[:-1], "source_file")
        .unique()
        .join(facility, on="source_file", how="left", nulls_equal=True)
    )
    frame = resolve_admin_codes(frame, reference.admin_index, lookup_source=address_source)
    frame = phones.with_phones(frame, reference.phone_prefixes)
    frame = ids.with_ids(frame, as_of_year=AS_OF.year, province_codes=reference.province_codes)
    frame = dates.with_dates(
        frame,
        as_of=AS_OF,
        campaign_start=CAMPAIGN_START,
        min_age_years=reference.min_vaccination_age,
        file_key=pl.coalesce("file_hash", "source_file"),
        lookup_source=staged,
    )
    frame = frame.with_columns(birth_missing(pl.col(raw_column("date_of_birth"))).alias("_birth_missing"))
    frame = frame.with_columns(
        lot_number(pl.col(RAW_LOT)).alias("lot_number"),
        pl.when(pl.col("province_code").is_not_null()).then(pl.lit("2021")).alias("admin_era"),
        province_2025_code(pl.col("province_code"), reference).alias("province_code_2025"),
        *reject_columns(as_of=AS_OF, campaign_start=CAMPAIGN_START),
    ).with_columns(dates.held_when_date_doubtful())
    return frame.select(
        *[pl.col(name).cast(dtype) for name, dtype in STAGED_ROW_SCHEMA.items()],
        *[pl.col(name).cast(dtype) for name, dtype in NORMALIZED_EXTRA_SCHEMA.items()],
    )


def assert_same_as_plain(staged: pl.LazyFrame, reference: NormalizeReference) -> pl.DataFrame:
    fast = normalize_shots(staged, as_of=AS_OF, campaign_start=CAMPAIGN_START, reference=reference).collect()
    plain = plain_normalize_shots(staged, reference).collect()
    assert fast.schema == plain.schema
    assert fast.equals(plain)  # same rows, same order, same values (nulls included)
    return fast


# Cells as facilities send them: clean, typed oddly, placeholders, damaged by spreadsheets.
NAMES = [
    "Nguyễn Văn An",
    "TRAN THI BICH",
    "Lê  Hoàng",
    "Anh Nguyễn Văn Nam",
    "Nguyễn Hoà",
    "chưa có",
    "",
    None,
]
BIRTHS = ["15/06/1985", "6/15/1985", "1985-06-15", "31134", "1985", "00/00/1985", "15/06/85", "x", "", None]
SHOTS = [
    "20/08/2021",
    "08/20/2021",
    "2021-08-20T09:00:00",
    "44428",
    "20/8/21",
    "ngày 20 tháng 8 năm 2021",
    None,
]
IDS = [
    "079085001234",
    "79085001234",
    "7.9085E+10",
    "079.085.001.234",
    "B1234567",
    "KXĐ",
    "0",
    "12345678",
    None,
]
PHONES = [
    "0912345678",
    "+84 912 345 678",
    "84912345678",
    "01623456789",
    "912345678",
    "+1 555 0100",
    "-",
    None,
]
ADDRESSES = [
    "12 Lê Lợi, P. Bến Nghé, Q.1, TP.HCM",
    "Xã Tân Phú, Huyện Tân Châu, Tây Ninh",
    "Hà Nội",
    "",
    None,
]
VACCINES = ["Pfizer", "AstraZeneca", "Vero Cell", "Moderna hoặc Pfizer", "Sputnik V", "", None]
LOTS = ["FK 1234", "fk1234", "-", "", None]
FILES = ["79_Ho_Chi_Minh/79760001/a.csv", "01_Ha_Noi/01001001/b.csv", "unknown/c.csv"]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=14)


def cell(known: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(known), TEXT)


staged_rows = st.lists(
    st.fixed_dictionaries(
        {
            "source_file": st.sampled_from(FILES),
            "full_name": cell(NAMES),
            "date_of_birth": cell(BIRTHS),
            "id_number": cell(IDS),
            "phone": cell(PHONES),
            "address": cell(ADDRESSES),
            "vaccine": cell(VACCINES),
            "lot": cell(LOTS),
            "vaccinated_on": cell(SHOTS),
            "sex": cell(["Nam", "Nữ", "1", "0", "?"]),
            "dose": cell(["Mũi 1", "M2", "Nhắc lại 1", "x"]),
        }
    ),
    min_size=5,
    max_size=60,
)


@PROPERTY
@given(rows=staged_rows)
def test_normalize_shots_equals_the_plain_joins_on_any_rows(
    rows: list[dict[str, Any]], reference: NormalizeReference
) -> None:
    rows = [{**row, "file_hash": row["source_file"]} for row in rows]
    assert_same_as_plain(staged_frame(rows), reference)


def test_normalize_shots_reads_several_parquet_files_as_one_frame(
    tmp_path: Path, reference: NormalizeReference
) -> None:
    rows = [
        {"source_file": FILES[n % 3], "file_hash": FILES[n % 3], "date_of_birth": BIRTHS[n % len(BIRTHS)]}
        for n in range(60)
    ]
    frame = staged_frame(rows).collect()
    for index, part in enumerate(frame.partition_by("source_file", maintain_order=True)):
        part.write_parquet(tmp_path / f"{index}.parquet")
    scanned = pl.scan_parquet(sorted(tmp_path.glob("*.parquet")))
    in_memory = pl.concat([pl.read_parquet(path) for path in sorted(tmp_path.glob("*.parquet"))])
    assert assert_same_as_plain(scanned, reference).equals(
        normalize_shots(
            in_memory.lazy(), as_of=AS_OF, campaign_start=CAMPAIGN_START, reference=reference
        ).collect()
    )


def test_normalize_shots_equals_the_plain_joins_on_the_samples(
    samples_dir: Path, sample_reference: NormalizeReference
) -> None:
    exports = samples_dir / "exports"
    rows: list[dict[str, object]] = []
    for path in sorted(exports.rglob("*.csv")):
        rows += stage_plain_csv(path, path.relative_to(exports).as_posix()) or []
    staged = pl.DataFrame(rows, schema=STAGED_ROW_SCHEMA).lazy()
    assert assert_same_as_plain(staged, sample_reference).height == len(rows) > 1000


def nested_date_parts(raw: pl.Expr) -> list[pl.Expr]:
    """The date parts as one nested expression each (before issue 14)."""
    text = (
        raw.str.strip_chars()
        .str.normalize("NFC")
        .str.to_lowercase()
        .str.replace(dates.VIETNAMESE_LONG_DATE, "$1/$2/$3")
    )
    dmy, ymd = text.str.extract_groups(dates.DAY_MONTH_YEAR), text.str.extract_groups(dates.YEAR_MONTH_DAY)

    def field(groups: pl.Expr, index: int) -> pl.Expr:
        return groups.struct.field(str(index)).cast(pl.Int32, strict=False)

    return [
        field(dmy, 1).alias("p1"),
        field(dmy, 2).alias("p2"),
        dmy.struct.field("3").alias("year_digits"),
        dates.safe_date(field(ymd, 1), field(ymd, 2), field(ymd, 3)).alias("iso_date"),
        dates.excel_serial_date(text).alias("serial_date"),
        text.str.extract(dates.YEAR_ONLY, 1).cast(pl.Int32, strict=False).alias("year_only"),
        *[
            field(text.str.extract_groups(dates.NAMED_SHORT_YEAR_DATE), index).alias(name)
            for index, name in enumerate(dates.NAMED_PARTS, 1)
        ],
    ]


date_texts = st.lists(
    st.one_of(
        st.sampled_from([*BIRTHS, *SHOTS, "2021-02-30", "13/13/2021", "14:26 26/10/2021", "1.5"]),
        st.from_regex(r"\A[0-9]{1,4}[/.\-][0-9]{1,2}[/.\-][0-9]{1,4}( [0-9]{1,2}:[0-9]{2})?\Z"),
        TEXT,
    ),
    min_size=1,
    max_size=50,
)


@settings(max_examples=60, deadline=None)
@given(texts=date_texts)
def test_date_parts_step_by_step_equal_the_nested_expressions(texts: list[str | None]) -> None:
    frame = pl.DataFrame({"raw": texts}, schema={"raw": pl.String})
    stepwise = dates.with_date_parts(frame.lazy(), pl.col("raw")).collect()
    nested = frame.with_columns(nested_date_parts(pl.col("raw")))
    assert stepwise.equals(nested.select(stepwise.columns))


def per_use_surname_statistics(registry_names: pl.LazyFrame, *, min_uses: int = 3) -> names.SurnameStatistics:
    """Surname shares counted over every citizen's first and last word (before issue 14)."""
    repaired = names.repaired_names(registry_names.select("full_name"), "full_name", "name_clean")
    words = registry_names.select("full_name").join(repaired, on="full_name", how="left", nulls_equal=True)
    words = words.select(pl.col("name_clean").str.split(" ").alias("words")).filter(
        pl.col("words").list.len() >= 2
    )
    uses = pl.concat(
        [
            words.select(pl.col("words").list.first().alias("word"), pl.lit(1).alias("is_family")),
            words.select(pl.col("words").list.last().alias("word"), pl.lit(0).alias("is_family")),
        ]
    ).collect()

    def shares(key: pl.Expr) -> dict[str, float]:
        table = (
            uses.group_by(key.alias("key"))
            .agg(pl.len().alias("count_uses"), pl.col("is_family").mean().alias("family_share"))
            .filter(pl.col("count_uses") >= min_uses)
        )
        return dict(zip(table["key"].to_list(), table["family_share"].to_list(), strict=True))

    return names.SurnameStatistics(
        by_spelling=shares(pl.col("word")), by_key=shares(names.fold(pl.col("word")))
    )


registry_names = st.lists(
    st.one_of(
        st.builds(
            " ".join,
            st.lists(
                st.sampled_from(["Nguyễn", "Văn", "Thị", "Lê", "An", "Hà", "Ly", "Lý", "Minh", "nguyen"]),
                max_size=4,
            ),
        ),
        st.none(),
    ),
    max_size=120,
)


@settings(max_examples=40, deadline=None)
@given(full_names=registry_names)
def test_surname_statistics_per_distinct_name_equal_the_per_use_counts(full_names: list[str | None]) -> None:
    registry = pl.DataFrame({"full_name": full_names}, schema={"full_name": pl.String}).lazy()
    assert names.surname_statistics(registry) == per_use_surname_statistics(registry)


def test_lot_number_is_the_same_rule_per_distinct_value(reference: NormalizeReference) -> None:
    lots = ["FK 1234", " fk\t1234 ", "-", "chưa có", "", None]
    result = assert_same_as_plain(staged_frame([{"lot": lot} for lot in lots * 2]), reference)
    assert result["lot_number"].to_list() == ["FK1234", "FK1234", None, None, None, None] * 2


def three_test_placeholder(text: pl.Expr) -> pl.Expr:
    """is_placeholder before issue 14: the folded key tested three ways (and folded three times)."""
    trimmed = text.str.strip_chars()
    could_be = (trimmed.str.len_chars() <= MAX_PLACEHOLDER_CHARS) & ~trimmed.str.contains_any(
        list("123456789")
    )
    key = fold(pl.when(could_be).then(trimmed)).str.replace_all(r"\s+", " ")
    bare = key.str.strip_chars(PLACEHOLDER_WRAPPING)
    is_one = key.str.contains(SYMBOLS_ONLY) | bare.is_in(PLACEHOLDERS) | (bare == "")
    return pl.when(trimmed.is_null()).then(None).otherwise(is_one.fill_null(False))


wrapped_placeholders = st.builds(
    lambda before, word, after, upper: (before + word + after).upper() if upper else before + word + after,
    st.text(alphabet=" ()[].\t-", max_size=3),
    st.sampled_from(
        [*PLACEHOLDERS, "chưa có", "KXĐ", "không", "n/a.", "0", "000", "xxx", "--", "?", "Nam", "0912"]
    ),
    st.text(alphabet=" ()[].\t-", max_size=3),
    st.booleans(),
)


@settings(max_examples=80, deadline=None)
@given(cells=st.lists(st.one_of(wrapped_placeholders, TEXT, st.none()), min_size=1, max_size=60))
def test_placeholder_in_one_regex_equals_the_three_tests(cells: list[str | None]) -> None:
    frame = pl.DataFrame({"cell": cells}, schema={"cell": pl.String})
    one_regex = frame.select(is_placeholder(pl.col("cell")).alias("is_placeholder")).to_series()
    assert one_regex.equals(
        frame.select(three_test_placeholder(pl.col("cell")).alias("is_placeholder")).to_series()
    )


# Round 8 (p-normalize): rules that read a value many times now read it from a column of its own, and
# rewrites run on the rows they can change only. Each is compared with the rule as it was.

name_words = st.sampled_from(
    ["bà", "ông", "anh", "chau", "cháu", "chu", "cô", "mr", "nguyễn", "nguyen", "văn", "van", "thị", "thi",
     "lê", "trần", "minh", "hùng", "an", "hà", "chị", "em", ""]
)  # fmt: skip
lowercase_names = st.lists(
    st.one_of(st.builds(" ".join, st.lists(name_words, max_size=5)), st.none()), max_size=60
)
NAME_SURNAMES = frozenset({"nguyen", "tran", "le", "chu", "chau", "ha"})
NAME_STATISTICS = names.SurnameStatistics(
    by_spelling={"nguyễn": 0.99, "trần": 0.98, "lê": 0.97, "hà": 0.25, "minh": 0.01, "hùng": 0.0, "an": 0.02},
    by_key={"nguyen": 0.99, "tran": 0.98, "le": 0.97, "ha": 0.3, "minh": 0.01, "hung": 0.0, "an": 0.02},
)


@settings(max_examples=60, deadline=None)
@given(values=lowercase_names)
def test_titles_stripped_from_titled_names_only_equal_the_rule_on_every_name(
    values: list[str | None],
) -> None:
    frame = pl.DataFrame({"name": values}, schema={"name": pl.String})
    every_name = frame.select(names.strip_titles(pl.col("name"), NAME_SURNAMES))
    assert names.with_titles_stripped(frame.lazy(), "name", NAME_SURNAMES).collect().equals(every_name)


@settings(max_examples=60, deadline=None)
@given(values=lowercase_names)
def test_given_first_swap_step_by_step_equals_the_rule(values: list[str | None]) -> None:
    frame = pl.DataFrame({"name": values}, schema={"name": pl.String})
    nested = frame.select(names.swap_given_first(pl.col("name"), NAME_STATISTICS))
    assert names.with_given_first_swapped(frame.lazy(), "name", NAME_STATISTICS).collect().equals(nested)


def plain_replace_words(values: pl.Series, old: list[str], new: list[str]) -> pl.Series:
    """names._replace_words as it was: every name padded and rewritten."""
    if not old:
        return values
    padded = "  " + values.str.replace_all(" ", "  ") + "  "
    replaced = padded.str.replace_many([f" {word} " for word in old], [f" {word} " for word in new])
    return replaced.str.replace_all(" +", " ").str.strip_chars()


@settings(max_examples=60, deadline=None)
@given(values=lowercase_names, changed=st.lists(name_words.filter(bool), max_size=4, unique=True))
def test_word_rewrites_of_the_names_holding_them_equal_rewriting_every_name(
    values: list[str | None], changed: list[str]
) -> None:
    # prepared names are single-spaced and trimmed; "an" is also a part of "anh" and "hoan" (not a word)
    series = pl.Series("name", values, dtype=pl.String).str.replace_all(" +", " ").str.strip_chars()
    new = [f"{word}x" for word in changed]
    assert names._replace_words(series, changed, new).equals(plain_replace_words(series, changed, new))
    if changed:
        expected = names._padded(series).str.contains_any([f" {word} " for word in changed]).fill_null(False)
    else:
        expected = pl.repeat(False, len(series), eager=True)
    assert names._contains_any_word(series, changed).equals(expected, check_names=False)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(TEXT, st.sampled_from(["", "a", "ß", "ǆ", "nguyễn-văn", " "])), max_size=30))
def test_title_case_tests_the_name_not_its_casing(values: list[str | None]) -> None:
    frame = pl.DataFrame({"name": values}, schema={"name": pl.String})
    cased = pl.col("name").str.to_titlecase()
    before = frame.select(pl.when(cased == "").then(None).otherwise(cased))
    assert frame.select(names.title_case(pl.col("name"))).equals(before)


def test_an_english_month_is_read_by_its_first_three_letters() -> None:
    words = ["jan", "January", "feb", "mar", "march", "apr", "may", "jun", "june", "jul", "july", "aug", "sep",
             "sept", "september", "oct", "nov", "dec", "december", "ju", "ma", "tháng bảy", "thg 7", "07", "x"]  # fmt: skip
    bare = pl.col("word").str.to_lowercase()
    english = pl.coalesce(
        pl.when(bare.str.starts_with(prefix)).then(pl.lit(number))
        for number, prefix in enumerate(dates.EN_MONTHS, 1)
    )
    plain = pl.coalesce(
        bare.str.replace(r"^(?:tháng|thg)\.?\s*", "").replace_strict(
            dates.VI_MONTH_WORDS | {str(n): n for n in range(1, 13)} | {f"0{n}": n for n in range(1, 10)},
            default=None,
            return_dtype=pl.Int32,
        ),
        english,
    ).cast(pl.String)
    frame = pl.DataFrame({"word": words})
    assert (
        frame.select(dates.month_number(bare)).to_series().to_list()
        == frame.select(plain).to_series().to_list()
    )
    assert frame.select(dates.month_number(bare)).to_series().to_list()[:4] == ["1", "1", "2", "3"]


@settings(max_examples=40, deadline=None)
@given(full_names=registry_names)
def test_surname_statistics_from_counted_names_equal_those_counting_them(
    full_names: list[str | None],
) -> None:
    registry = pl.DataFrame({"full_name": full_names}, schema={"full_name": pl.String}).lazy()
    counted = names.name_uses(registry).collect()
    repaired = names.repaired_names(counted.lazy(), "full_name", "name_clean").collect()
    assert names.surname_statistics(registry) == names.surname_statistics(
        registry, repaired=repaired, name_counts=counted
    )


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.sampled_from(["a", "b", "Nguyễn", "", "c d"]), st.none()), max_size=60))
def test_aligned_by_hash_equals_the_join_on_the_text(values: list[str | None]) -> None:
    rows = pl.DataFrame({"key": values}, schema={"key": pl.String}).lazy()
    lookup = (
        rows.unique()
        .with_columns(
            pl.col("key").str.to_uppercase().alias("upper"), pl.col("key").str.len_chars().alias("n")
        )
        .collect()
    )
    expected = aligned(rows, "key", lookup.lazy()).collect()
    assert aligned_by_hash(rows, "key", lookup).collect().equals(expected)
    # a value the lookup lacks is null, as in the join on the text
    without_a = lookup.filter(pl.col("key").ne_missing("a"))
    assert (
        aligned_by_hash(rows, "key", without_a)
        .collect()
        .equals(aligned(rows, "key", without_a.lazy()).collect())
    )


def test_aligned_by_hash_joins_on_the_text_when_two_values_share_a_hash() -> None:
    rows = pl.DataFrame({"key": ["a", "b", None]}).lazy()
    lookup = pl.DataFrame({"key": ["a", "b", None], "value": [1, 2, 3]})
    # the same value twice shares its hash: the join on the text is used, and it refuses the lookup
    with pytest.raises(pl.exceptions.ComputeError):
        aligned_by_hash(rows, "key", pl.concat([lookup, lookup.head(1)])).collect()
    assert aligned_by_hash(rows, "key", lookup).collect()["value"].to_list() == [1, 2, 3]
