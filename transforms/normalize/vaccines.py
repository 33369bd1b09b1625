"""Vaccine rule: free text -> canonical catalogue code (data/reference/vaccines.csv).

The text is folded to a key of lowercase letters and digits ("Pfizer-BioNTech" -> "pfizerbiontech").
An exact variant (data/reference/vaccine_variants.csv, match_kind=exact) wins; otherwise keywords
are searched inside the key, most specific rank first ("Hayat-Vax (Sinopharm)" is Hayat-Vax, not Vero
Cell). Two products at the same rank ("Pfizer hoặc Moderna") is no answer. A product approved in
Vietnam but never supplied to the campaign (is_supplied = false) is treated as unknown too: a row
naming it is a data-entry error to review.
"""

from __future__ import annotations

import polars as pl

from transforms.normalize.text import fold


def vaccine_key(raw: pl.Expr) -> pl.Expr:
    return fold(raw).str.replace_all(r"[^a-z0-9]", "")


def _keyword_match(key: pl.Expr, keywords: pl.DataFrame) -> pl.Expr:
    """The one product whose keywords of the most specific matching rank occur in the key."""
    result: pl.Expr | None = None
    for rank in sorted(keywords["keyword_rank"].unique().to_list(), reverse=True):
        at_rank = keywords.filter(pl.col("keyword_rank") == rank)
        hits = [
            pl.when(key.str.contains("|".join(group["variant_key"].to_list()))).then(pl.lit(code))
            for (code,), group in at_rank.group_by("vaccine_code", maintain_order=True)
        ]
        count_hits = pl.sum_horizontal([hit.is_not_null() for hit in hits])
        single = pl.when(count_hits == 1).then(pl.coalesce(hits))
        fallback = result if result is not None else pl.lit(None, dtype=pl.String)
        result = pl.when(count_hits >= 1).then(single).otherwise(fallback)
    return result if result is not None else pl.lit(None, dtype=pl.String)


def recognised_vaccine(raw: pl.Expr, variants: pl.DataFrame) -> pl.Expr:
    """The catalogue code the text names, supplied or not; null when it names none or several."""
    key = vaccine_key(raw)
    exact = variants.filter(pl.col("match_kind") == "exact")
    by_variant = key.replace_strict(
        exact["variant_key"].to_list(), exact["vaccine_code"].to_list(), default=None, return_dtype=pl.String
    )
    return pl.coalesce(by_variant, _keyword_match(key, variants.filter(pl.col("match_kind") == "keyword")))


def vaccine_code(raw: pl.Expr, variants: pl.DataFrame, catalogue: pl.DataFrame) -> pl.Expr:
    """The canonical code of a product supplied to the campaign; null otherwise."""
    supplied = catalogue.filter(pl.col("is_supplied"))["vaccine_code"].to_list()
    code = recognised_vaccine(raw, variants)
    return pl.when(code.is_in(supplied)).then(code)


def vaccine_unknown_detail(raw: pl.Expr, variants: pl.DataFrame, catalogue: pl.DataFrame) -> pl.Expr:
    """The raw text, plus why a recognised product is still refused."""
    code = recognised_vaccine(raw, variants)
    not_supplied = catalogue.filter(~pl.col("is_supplied"))["vaccine_code"].to_list()
    text = raw.str.strip_chars()
    return (
        pl.when(code.is_in(not_supplied))
        .then(pl.format("{} ({} is approved in Vietnam but was not supplied to the campaign)", text, code))
        .otherwise(text)
    )
