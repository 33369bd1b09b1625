"""The scoring engine: comparison levels in DuckDB from the model, weights, ranks and masses in numpy.

The encoded shot and registry records are kept once; index pairs (shot_index, citizen_index) go in,
gathered with both records in polars (by row, read by DuckDB without a copy), and the SQL generated
from the model turns them into levels, read back once. For deciding, each level is then worth a weight
looked up by level (log2 m/u, or the candidate value's term frequency, which never enters the SQL), and
each shot's candidates are ranked and its masses summed in numpy (shot_masses). The SQL is a list of
named steps run by vaxsync.core.sql_steps: the pair steps are views, so each query plans as one, and
with the SQL debug switch on every step is materialised and its row count and seconds logged. Name
similarities are computed once per distinct pair of vocabulary codes, in Python with rapidfuzz
(matching.similarity), and joined in.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from itertools import count
from types import TracebackType

import numpy as np
import polars as pl
import pyarrow as pa
from rapidfuzz import distance, process

from matching.comparisons import ALIGNED_NAME_SQL, NAME_SIMILARITY_PARTS, NO_LEVEL, level_sql
from matching.decision import impossible_link_sql
from matching.features import COMMON_COLUMNS, REGISTRY_ONLY_COLUMNS, SHOT_ONLY_COLUMNS, Vocabulary
from matching.model import Comparison, MatchModel
from matching.pairs import SHOT_CONTEXT_DTYPES
from matching.similarity import jaro_winkler
from vaxsync.core.sql_steps import DuckDBConfig, Form, SqlStep, in_memory, register_frame, run_steps

SHOT_CONTEXT_COLUMNS = list(SHOT_CONTEXT_DTYPES)
SHOT_PAIR_COLUMNS = [*COMMON_COLUMNS, *SHOT_ONLY_COLUMNS, *SHOT_CONTEXT_COLUMNS]
TF_FLOOR = 1e-9
CANDIDATES_KEPT = 3
# Pairs scored in one query (LinkageDatabase.top_candidates): ~0.25 GiB of scored pairs, ranks and masses
# per million at once; the medium night's 1.6M pairs went as one.
PAIRS_PER_SCORING_GROUP = 500_000


def _tf_columns(registry: pl.DataFrame) -> list[str]:
    return [column for column in registry.columns if column.startswith("tf_")]


class LinkageDatabase:
    """A DuckDB connection reading the encoded `shots` and `registry` records, and the name similarities."""

    def __init__(
        self,
        shots: pl.DataFrame,
        registry: pl.DataFrame,
        vocabulary: Vocabulary,
        *,
        duckdb_config: DuckDBConfig | None = None,
    ) -> None:
        """duckdb_config: the connection's limits and debug switch (the orchestration passes the
        settings'); None leaves DuckDB's defaults."""
        self.vocabulary = vocabulary
        self._names = (f"pairs_{n}" for n in count())
        self.registry_columns = [*COMMON_COLUMNS, *REGISTRY_ONLY_COLUMNS]
        self.replace_shots(shots)
        self._registry_records = _ColumnArrays(
            registry.select(pl.col(column).alias(f"registry_{column}") for column in self.registry_columns)
        )
        self._citizen_rows = _rows_by_index(registry["citizen_index"])
        # Term frequencies enter only the weights, computed in numpy: read by citizen row, never per pair in SQL.
        # Stored as Float32; computed in Float64 as SQL did (numpy would keep float32 for a Python scalar).
        self._term_frequencies = {
            column.removeprefix("tf_"): registry[column].cast(pl.Float64).to_numpy()
            for column in _tf_columns(registry)
        }
        self.con = in_memory(duckdb_config or DuckDBConfig())
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute(
            "CREATE TEMP TABLE name_similarity (left_code UINTEGER, right_code UINTEGER, "
            "similarity DOUBLE, edit_distance INTEGER, min_length INTEGER, shares_word BOOLEAN)"
        )

    def replace_shots(self, shots: pl.DataFrame) -> None:
        """(Re)place the shot records, e.g. after same-person siblings were found."""
        self._shot_records = _ColumnArrays(shots.select(SHOT_PAIR_COLUMNS))
        self._shot_rows = _rows_by_index(shots["shot_index"])

    def __enter__(self) -> LinkageDatabase:
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.con.close()

    def close(self) -> None:
        self.con.close()

    # --- relations ------------------------------------------------------------------------------------

    def _register_pairs(self, index_pairs: pl.DataFrame) -> str:
        """The pairs with both records (the candidate's columns as registry_<name>), registered under a new
        name; a pair naming a shot or citizen not held is left out, as an inner join would. The records
        are gathered by row, not joined in DuckDB, which built a hash table of the registry's records again
        for each group of pairs: that wide join cost more CPU than the comparisons themselves."""
        name = next(self._names)
        flag = pl.col("id_within_one_edit") if "id_within_one_edit" in index_pairs.columns else pl.lit(False)
        pairs = index_pairs.select("shot_index", "citizen_index", flag.alias("id_within_one_edit"))
        shot_rows = _rows_of(self._shot_rows, pairs["shot_index"])
        citizen_rows = _rows_of(self._citizen_rows, pairs["citizen_index"])
        held = (shot_rows >= 0) & (citizen_rows >= 0)
        records = pl.concat(
            [
                pairs.filter(pl.Series(held)),
                self._shot_records.gather(shot_rows[held]),
                self._registry_records.gather(citizen_rows[held]),
            ],
            how="horizontal",
        )
        register_frame(self.con, name, records)
        return name

    def _record_steps(self, pairs_table: str) -> list[SqlStep]:
        """The pairs with both records, name parts aligned to the candidate's order."""
        return [
            SqlStep(
                "engine__pair_records",
                f"SELECT *, {self.vocabulary.code_of('')} AS empty_word FROM {pairs_table}",
                Form.VIEW,
            ),
            SqlStep(
                "engine__pair_aligned", f"SELECT *, {ALIGNED_NAME_SQL} FROM engine__pair_records", Form.VIEW
            ),
        ]

    def _pair_steps(self, pairs_table: str, model: MatchModel) -> list[SqlStep]:
        """The record steps, then name similarities joined in, then one level per comparison."""
        similarity_columns = ", ".join(
            f"{alias}.similarity AS {prefix}_similarity, {alias}.edit_distance AS {prefix}_edit_distance, "
            f"{alias}.min_length AS {prefix}_min_length, {alias}.shares_word AS {prefix}_shares_word"
            for alias, (_, _, prefix) in zip("gfm", NAME_SIMILARITY_PARTS, strict=True)
        )
        similarity_joins = " ".join(
            f"LEFT JOIN name_similarity {alias} ON {alias}.left_code = p.{left} AND {alias}.right_code = p.{right}"
            for alias, (left, right, _) in zip("gfm", NAME_SIMILARITY_PARTS, strict=True)
        )
        levels = ", ".join(
            level_sql(c.name, c.labels, c.settings) + f" AS level_{c.name}" for c in model.comparisons
        )
        return [
            *self._record_steps(pairs_table),
            SqlStep(
                "engine__pair_measured",
                f"SELECT p.*, {similarity_columns} FROM engine__pair_aligned p {similarity_joins}",
                Form.VIEW,
            ),
            SqlStep(
                "engine__pair_levels",
                f"SELECT shot_index, citizen_index, registry_ward, {levels}, "
                f"{impossible_link_sql(model.age_rules)} AS impossible_code FROM engine__pair_measured",
                Form.VIEW,
            ),
        ]

    # --- name similarity ----------------------------------------------------------------------------

    def _add_name_similarities(self, pairs_table: str) -> None:
        """Score the distinct (shot word, candidate word) code pairs not scored yet.

        Aligned parts come from the shot's written reading or its given-name-first one, so both are scored.
        """
        # Each select reads the registered pairs (Arrow) directly: a table of their nine code columns
        # first cost more than the six scans.
        part_pairs = " UNION ".join(
            f"SELECT {left} AS left_code, {right} AS right_code FROM {pairs_table}"
            for left, right in (
                ("given", "registry_given"),
                ("family", "registry_family"),
                ("middle", "registry_middle"),
                ("alt_family", "registry_family"),
                ("alt_given", "registry_given"),
                ("alt_middle", "registry_middle"),
            )
        )
        new_pairs = self.con.sql(
            f"""
            SELECT * FROM ({part_pairs}) c
            WHERE left_code <> right_code AND NOT EXISTS (SELECT 1 FROM name_similarity n
                WHERE n.left_code = c.left_code AND n.right_code = c.right_code)
            """
        ).pl()
        if new_pairs.height == 0:
            return
        scored = name_similarities(new_pairs, self.vocabulary)
        register_frame(self.con, "new_name_similarity", scored)
        self.con.execute("INSERT INTO name_similarity SELECT * FROM new_name_similarity")
        self.con.unregister("new_name_similarity")

    # --- outputs -------------------------------------------------------------------------------------

    def levels(self, index_pairs: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
        """shot_index, citizen_index and level_<comparison> of every pair (for fitting and inspection)."""
        table = self._register_pairs(index_pairs)
        self._add_name_similarities(table)
        level_columns = ", ".join(f"level_{c.name}" for c in model.comparisons)
        run_steps(self.con, self._pair_steps(table, model))
        result = self.con.sql(
            f"SELECT shot_index, citizen_index, {level_columns}, impossible_code FROM engine__pair_levels"
        ).pl()
        self.con.unregister(table)
        return result

    def top_candidates(self, index_pairs: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
        """Each shot's best CANDIDATES_KEPT candidates with levels and field weights, and the shot's masses.

        evidence_weight is the sum of the field weights (no prior), person_weight the person fields'
        log2(m/u_household). Per shot: log2_match_mass = log2 sum 2^evidence over all its candidates, and
        log2_household_mass the same for the "unregistered household member" alternatives (see
        shot_masses). matching.posterior turns them into probabilities. Rows come ordered by shot_index,
        candidate_rank.

        The pairs are scored in groups of whole shots of about PAIRS_PER_SCORING_GROUP pairs: a group's
        scored pairs are held at once (in DuckDB and as numpy arrays), so memory follows the group (two
        groups at most: the next one's levels are computed while this one is ranked), not the partition.
        A shot's candidates are all in its group, so the result is the same.
        """
        groups = math.ceil(index_pairs.height / PAIRS_PER_SCORING_GROUP)
        if groups <= 1:
            return self._ranked_top(self._group_levels(index_pairs, model), model)
        group = pl.col("shot_index") % groups
        # Two groups in flight: a helper thread scores group k+1 in DuckDB (the only thread using the
        # connection) while this one weighs and ranks group k in numpy, which leaves a core idle alone.
        tops = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring") as pool:
            pending = pool.submit(self._group_levels, index_pairs.filter(group == 0), model)
            for number in range(groups):
                levels = pending.result()
                if number + 1 < groups:
                    pending = pool.submit(self._group_levels, index_pairs.filter(group == number + 1), model)
                tops.append(self._ranked_top(levels, model))
        return pl.concat(tops).sort("shot_index", "candidate_rank")

    def _group_levels(self, index_pairs: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
        """Each pair's levels, from SQL, read once: shot_index, citizen_index, registry_ward,
        level_<comparison>, impossible_code."""
        table = self._register_pairs(index_pairs)
        self._add_name_similarities(table)
        run_steps(self.con, self._pair_steps(table, model))
        level_columns = ", ".join(f"level_{c.name}" for c in model.comparisons)
        pairs = self.con.sql(
            f"SELECT shot_index, citizen_index, registry_ward, {level_columns}, impossible_code "
            "FROM engine__pair_levels"
        ).pl()
        self.con.unregister(table)
        return pairs

    def _ranked_top(self, pairs: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
        """Weights, ranks and masses of one group's pairs (_group_levels) in numpy; the top CANDIDATES_KEPT kept."""
        citizen_rows = _rows_of(self._citizen_rows, pairs["citizen_index"])
        weights = {
            c.name: field_weights(c, pairs[f"level_{c.name}"], self._term_frequencies, citizen_rows)
            for c in model.comparisons
        }
        # Added left to right, in the comparisons' order: the bits SQL's `w1 + w2 + ...` gave.
        evidence = reduce(np.add, weights.values())
        person = reduce(np.add, (person_weights(c, pairs[f"level_{c.name}"]) for c in model.comparisons))
        # shot, then evidence descending, then citizen: a total order, whatever order DuckDB returned
        order = (
            pairs.select("shot_index", "citizen_index")
            .with_columns(evidence_weight=evidence)
            .select(
                pl.arg_sort_by(
                    "shot_index", "evidence_weight", "citizen_index", descending=[False, True, False]
                )
            )
            .to_series()
            .to_numpy()
        )
        ranked = pl.DataFrame(
            {
                "shot_index": pairs["shot_index"].gather(order),
                "citizen_index": pairs["citizen_index"].gather(order),
                "registry_ward": pairs["registry_ward"].gather(order),
                "evidence_weight": evidence[order],
                "household_weight": (evidence - person)[order],
            }
        )
        masses = shot_masses(ranked)
        kept = np.flatnonzero(masses["candidate_rank"].to_numpy() <= CANDIDATES_KEPT)  # in ranked order
        top = order[kept]  # the same rows, in the order DuckDB returned them
        return pl.concat(
            [
                pairs.drop("registry_ward")[_gather_index(top)],
                pl.DataFrame({"evidence_weight": evidence[top], "person_weight": person[top]}),
                masses.select("log2_match_mass", "log2_household_mass", "candidate_rank")[
                    _gather_index(kept)
                ],
                pl.DataFrame({f"weight_{name}": values[top] for name, values in weights.items()}),
            ],
            how="horizontal",
        )


class _ColumnArrays:
    """A frame's columns as numpy arrays, nulls as 0 beside a validity mask, gathered by row into Arrow
    buffers: 0.35 CPU s for the medium night's 1.6M pairs' records, against polars' gather at 0.59 (it
    checks validity value by value). Columns numpy cannot hold as plain values (text, booleans) are
    gathered by polars."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        arrow_schema = frame.head(0).to_arrow().schema
        self.arrow_types = dict(zip(arrow_schema.names, arrow_schema.types, strict=True))
        self.values: dict[str, np.ndarray] = {}
        self.valid: dict[str, np.ndarray | None] = {}
        for column in frame.iter_columns():
            if column.dtype.is_numeric() or column.dtype == pl.Date:
                self.values[column.name] = column.to_physical().fill_null(0).to_numpy()
                self.valid[column.name] = column.is_not_null().to_numpy() if column.null_count() else None

    def gather(self, rows: np.ndarray) -> pl.DataFrame:
        """The rows at these positions, every column with its dtype and nulls."""
        table = pa.Table.from_arrays(
            [self._gathered(name, rows) for name in self.frame.columns], names=self.frame.columns
        )
        gathered = pl.from_arrow(table)
        assert isinstance(gathered, pl.DataFrame)
        return gathered

    def _gathered(self, name: str, rows: np.ndarray) -> pa.Array:
        if name not in self.values:
            column = self.frame[name].gather(_gather_index(rows))
            return column.to_arrow(compat_level=pl.CompatLevel.newest())
        valid = self.valid[name]
        bitmap = None if valid is None else pa.py_buffer(np.packbits(valid[rows], bitorder="little"))
        values = pa.py_buffer(np.ascontiguousarray(self.values[name][rows]))
        return pa.Array.from_buffers(self.arrow_types[name], len(rows), [bitmap, values])


def _rows_by_index(index: pl.Series) -> np.ndarray:
    """rows[i]: the row holding index value i, -1 where none does (indexes are small non-negative integers,
    each given to one record)."""
    values = index.to_numpy().astype(np.int64, copy=False)
    rows = np.full(int(values.max()) + 1 if values.size else 0, -1, dtype=np.int64)
    rows[values] = np.arange(values.size)
    if not np.array_equal(rows[values], np.arange(values.size)):
        raise ValueError(f"{index.name}: a value names two records")
    return rows


def _rows_of(rows: np.ndarray, index: pl.Series) -> np.ndarray:
    """The row of each index value (-1 where none, as for a value beyond every record's)."""
    values = index.to_numpy().astype(np.int64, copy=False)
    found = np.full(values.size, -1, dtype=np.int64)
    inside = (values >= 0) & (values < rows.size)
    found[inside] = rows[values[inside]]
    return found


def _gather_index(rows: np.ndarray) -> pl.Series:
    """Row numbers as polars' own index type: gathered by every column without a cast per column."""
    return pl.Series(rows, dtype=pl.get_index_type())


def shot_masses(ranked: pl.DataFrame) -> pl.DataFrame:
    """Each candidate's rank within its shot and the shot's masses, in log2: the total match mass of its
    candidates, and of their household alternatives.

    ranked: shot_index, citizen_index, registry_ward, evidence_weight, household_weight, ordered by
    shot_index, evidence_weight descending, citizen_index (a total order: the first row of a shot is its
    top candidate, rank 1). Sums run over each shot's rows in that order, so a night computed twice
    gives the same bits (a parallel SQL sum adds in whichever order its threads finish).

    Each candidate j brings the alternative "an unregistered member of j's household", whose evidence is
    j's household fields only: evidence_weight - person_weight. When j lives in the same ward as the top
    candidate i, that alternative is i's own: seen from both, the row's person fields would have to agree
    with i's by chance, which is i's household term. So it is counted once, as i's, not again with j's
    (often larger) household evidence: a child's row carrying a parent's ID and phone is the child's,
    not a likely unregistered sibling's.
    """
    shot = ranked["shot_index"].to_numpy()
    starts = np.flatnonzero(np.r_[True, shot[1:] != shot[:-1]]) if shot.size else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, shot.size])
    position = np.arange(shot.size) - np.repeat(starts, sizes)
    evidence = ranked["evidence_weight"].to_numpy()
    household = ranked["household_weight"].to_numpy()
    citizen = ranked["citizen_index"].to_numpy()
    ward = ranked["registry_ward"]
    ward_missing, ward_code = ward.is_null().to_numpy(), ward.fill_null(0).to_numpy()
    top_ward_missing = np.repeat(ward_missing[starts], sizes)
    elsewhere = (ward_missing != top_ward_missing) | (
        ~ward_missing & (ward_code != np.repeat(ward_code[starts], sizes))
    )
    is_own_household = (citizen == np.repeat(citizen[starts], sizes)) | elsewhere
    top_match = evidence[starts]
    top_household = np.maximum.reduceat(household, starts) if shot.size else household
    with np.errstate(divide="ignore"):  # log2(0): no household alternative at all
        match_mass = top_match + np.log2(
            _segment_sums(np.exp2(evidence - np.repeat(top_match, sizes)), starts)
        )
        household_terms = np.where(
            is_own_household, np.exp2(household - np.repeat(top_household, sizes)), 0.0
        )
        household_mass = top_household + np.log2(_segment_sums(household_terms, starts))
    return pl.DataFrame(
        {
            "shot_index": ranked["shot_index"],
            "citizen_index": ranked["citizen_index"],
            "candidate_rank": pl.Series(position + 1, dtype=pl.Int32),
            "log2_match_mass": pl.Series(np.repeat(match_mass, sizes), dtype=pl.Float64),
            "log2_household_mass": pl.Series(np.repeat(household_mass, sizes), dtype=pl.Float64),
        }
    )


def _segment_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The sum of each segment values[starts[k]:starts[k+1]] (numpy's fixed summation order)."""
    if values.size == 0:
        return values
    return np.add.reduceat(values, starts)


def field_weights(
    comparison: Comparison,
    levels: pl.Series,
    term_frequencies: dict[str, np.ndarray],
    citizen_rows: np.ndarray,
) -> np.ndarray:
    """The comparison's weight log2(m/u) of each pair by its level (0 when missing), u replaced by the
    candidate value's registry frequency where the model asks and the candidate has one.

    term_frequencies: tf column (without its `tf_` prefix) -> frequency by registry row (NaN: none);
    citizen_rows: each pair's registry row."""
    level = levels.fill_null(NO_LEVEL).to_numpy()
    by_level = np.array([0.0, *(item.weight for item in comparison.levels)])
    weights = by_level[level.astype(np.intp) + 1]
    for label, column in comparison.term_frequency.items():
        index = comparison.labels.index(label)
        at_level = np.flatnonzero(level == index)
        frequency = term_frequencies[column][citizen_rows[at_level]]
        known = ~np.isnan(frequency)
        m = comparison.levels[index].m
        weights[at_level[known]] = np.log2(m / np.maximum(frequency[known], TF_FLOOR))
    return weights


def person_weights(comparison: Comparison, levels: pl.Series) -> np.ndarray:
    """log2(m/u_household) of each pair by its level for a person comparison (0 when missing); household
    comparisons carry none."""
    if comparison.role != "person":
        return np.zeros(levels.len())
    by_level = np.array([0.0, *(math.log2(item.m / (item.u_household or 1.0)) for item in comparison.levels)])
    return by_level[levels.fill_null(NO_LEVEL).to_numpy().astype(np.intp) + 1]


def _osa_distances(left: pl.Series, right: pl.Series) -> np.ndarray:
    """Optimal-string-alignment distance of each pair (rapidfuzz over the arrays, one call)."""
    if left.len() == 0:
        return np.zeros(0, dtype=np.int32)
    return process.cpdist(
        left.to_list(), right.to_list(), scorer=distance.OSA.distance, workers=-1, dtype=np.int32
    )


def name_similarities(code_pairs: pl.DataFrame, vocabulary: Vocabulary) -> pl.DataFrame:
    """Jaro-Winkler, edit distance (adjacent swaps count one), shorter length and word overlap of each
    (left_code, right_code) pair of words."""
    words = code_pairs.with_columns(
        left_word=vocabulary.decode(pl.col("left_code")), right_word=vocabulary.decode(pl.col("right_code"))
    )
    left, right = pl.col("left_word"), pl.col("right_word")
    shares_word = (left != "") & (
        left.str.split(" ").list.set_intersection(right.str.split(" ")).list.len() > 0
    )
    return words.select(
        pl.col("left_code").cast(pl.UInt32),
        pl.col("right_code").cast(pl.UInt32),
        jaro_winkler("left_word", "right_word").alias("similarity"),
        pl.Series(_osa_distances(words["left_word"], words["right_word"])).alias("edit_distance"),
        pl.min_horizontal(left.str.len_chars(), right.str.len_chars()).cast(pl.Int32).alias("min_length"),
        shares_word.fill_null(False).alias("shares_word"),
    )
