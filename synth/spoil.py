"""The machinery for planting row defects: shared random draws, and a log of what was planted.

Each defect is a rule "where eligible and the draw is below the rate, replace the column by its spoiled
form". A row counts as eligible only when spoiling would really change what it shows, and it is tagged
only when it did. Re-exported copies of a dose reuse the draws of their original, so the same facility's
software prints them identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from synth.config import SynthConfig


@dataclass
class DefectLog:
    """Per defect tag: rows eligible, and the mask of rows it was applied to."""

    height: int
    eligible: dict[str, int] = field(default_factory=dict)  # rows a rate was drawn on
    drawn: dict[str, int] = field(default_factory=dict)  # rows the rate hit (forced rows excluded)
    masks: dict[str, pl.Series] = field(default_factory=dict)  # every row tagged, forced ones included

    def record(self, tag: str, hit: pl.Series) -> None:
        previous = self.masks.get(tag)
        self.masks[tag] = hit if previous is None else (previous | hit)

    def record_draw(self, tag: str, eligible: int, hits: int) -> None:
        self.eligible[tag] = self.eligible.get(tag, 0) + eligible
        self.drawn[tag] = self.drawn.get(tag, 0) + hits

    def tags_column(self) -> pl.Series:
        """The list of defect tags of every row, in the order tags were first planted."""
        tags = list(self.masks)
        rows = [self.masks[tag].fill_null(False).to_numpy().nonzero()[0] for tag in tags]
        row_of = np.concatenate([*rows, np.array([], dtype=np.int64)])
        tag_of = np.concatenate(
            [np.full(len(r), i) for i, r in enumerate(rows)] + [np.array([], dtype=np.int64)]
        )
        order = np.lexsort((tag_of, row_of))  # by row, then in planting order
        offsets = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=self.height))]).astype(
            np.int64
        )
        values = pl.Series(tags, dtype=pl.String).gather(tag_of[order]).to_arrow()
        lists = pa.LargeListArray.from_arrays(pa.array(offsets), values)
        return pl.Series("corruptions", lists).cast(pl.List(pl.String))

    def realised(self) -> dict[str, dict[str, float]]:
        """Per tag: rows tagged, rows eligible for its rate, and the rate realised on those."""
        return {
            tag: {
                "count_rows": int(self.masks[tag].sum()),
                "count_eligible": count,
                "rate": round(self.drawn[tag] / count, 5) if count else 0.0,
            }
            for tag, count in sorted(self.eligible.items())
        }


class Spoiler:
    """Holds the working frame (one row per export data row) and plants defects into its columns.

    Spoiled values are computed only on candidate rows (eligible and drawn), then scattered back, so
    a rare defect costs little on millions of rows. Expressions given to `spoil` must therefore refer
    to columns only (draws are added as columns by `draw`).
    """

    def __init__(
        self, work: pl.DataFrame, inherit: np.ndarray, rng: np.random.Generator, config: SynthConfig
    ):
        self.work = work
        self.inherit = inherit
        self.rng = rng
        self.config = config
        self.log = DefectLog(len(work))
        self._draws = 0

    def _uniform(self) -> np.ndarray:
        return self.rng.random(len(self.work), dtype=np.float32)[self.inherit]

    def draw(self) -> pl.Expr:
        """A column of uniform draws in [0, 1), shared by a re-exported copy and its original."""
        name = f"_draw_{self._draws}"
        self._draws += 1
        self.work = self.work.with_columns(pl.Series(name, self._uniform()))
        return pl.col(name)

    def draw_int(self, high: int) -> pl.Expr:
        return (self.draw() * high).cast(pl.Int64).clip(0, high - 1)

    def drop_draws(self) -> None:
        self.work = self.work.drop(pl.selectors.starts_with("_draw_"))

    def _mask(self, expression: pl.Expr | None) -> pl.Series:
        if expression is None:
            return pl.Series(np.ones(len(self.work), dtype=bool))
        return self.work.select(expression.fill_null(False)).to_series()

    def _apply(self, tag: str, column: str, spoiled: pl.Expr, candidate: pl.Series) -> pl.Series:
        """Spoil `column` on candidate rows where that changes it; returns (and logs) the rows hit."""
        index = candidate.arg_true()
        needed = sorted({column, *spoiled.meta.root_names()})
        computed = self.work.select(needed)[index].select(
            spoiled.alias("spoiled"), pl.col(column).alias("current")
        )
        changed = computed["spoiled"].ne_missing(computed["current"]).fill_null(False)
        hit_index = index.filter(changed)
        values = computed["spoiled"].filter(changed).cast(self.work.schema[column])
        self.work = self.work.with_columns(self.work[column].scatter(hit_index, values))
        hit = pl.Series(np.zeros(len(self.work), dtype=bool)).scatter(hit_index, True)
        self.log.record(tag, hit)
        return hit

    def spoil(
        self,
        tag: str,
        column: str,
        spoiled: pl.Expr,
        eligible: pl.Expr | None = None,
        rate: float | None = None,
    ) -> pl.Series:
        """On eligible rows, at the tag's rate, replace `column` by `spoiled`; returns the rows changed."""
        rate = self.config.rate(tag) if rate is None else rate
        eligible_mask = self._mask(eligible)
        hit = self._apply(tag, column, spoiled, eligible_mask & pl.Series(self._uniform() < rate))
        self.log.record_draw(tag, int(eligible_mask.sum()), int(hit.sum()))
        return hit

    def force(self, tag: str, column: str, spoiled: pl.Expr, where: pl.Expr) -> pl.Series:
        """Apply wherever `where` holds (a file-level or person-level cause); tag the rows it changed."""
        return self._apply(tag, column, spoiled, self._mask(where))

    def tag(self, tag: str, where: pl.Expr) -> None:
        self.log.record(tag, self._mask(where))


def stable_hash(values: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of integers: person- or facility-level constants (a passport, a lot) that every copy
    of a row shares, independent of the order random draws are made in."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hashed_digits(values: np.ndarray, salt: int, count: int) -> pl.Series:
    """`count` pseudo-random digits per value (count <= 18), as text."""
    number = stable_hash(values, salt) % np.uint64(10**count)
    return pl.Series(number.astype(np.int64)).cast(pl.String).str.zfill(count)
