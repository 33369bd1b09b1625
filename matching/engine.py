"""The scoring engine: comparison levels, weights and probabilities computed in DuckDB from the model.

The encoded shot and registry records are kept once; index pairs (shot_index, citizen_index) go in, joined
with both records in polars (one hash join per side, its result read by DuckDB without a copy), and the
SQL generated from the model turns them into levels (for fitting) or into each shot's top candidates
with probabilities (for deciding). The SQL is a list of named steps run by
vaxsync.core.sql_steps: the pair steps are views, so each query plans as one, and with the SQL debug
switch on every step is materialised and its row count and seconds logged. Name similarities are
computed once per distinct pair of vocabulary codes, in Python with rapidfuzz (matching.similarity),
and joined in.
"""

from __future__ import annotations

import math
from itertools import count
from types import TracebackType

import numpy as np
import polars as pl
from rapidfuzz import distance, process

from matching.comparisons import ALIGNED_NAME_SQL, NAME_SIMILARITY_PARTS, level_sql
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
        self.registry_columns = [*COMMON_COLUMNS, *REGISTRY_ONLY_COLUMNS, *_tf_columns(registry)]
        self.replace_shots(shots)
        self._registry_records = registry.select(
            pl.col(column).alias(f"registry_{column}") for column in self.registry_columns
        )
        self._citizen_rows = _rows_by_index(registry["citizen_index"])
        self.con = in_memory(duckdb_config or DuckDBConfig())
        self.con.execute("SET preserve_insertion_order = false")
        # Read (term frequencies) only for each shot's top candidates: the frame itself, not a copy.
        register_frame(self.con, "registry", registry.select("citizen_index", *_tf_columns(registry)))
        self.con.execute(
            "CREATE TEMP TABLE name_similarity (left_code UINTEGER, right_code UINTEGER, "
            "similarity DOUBLE, edit_distance INTEGER, min_length INTEGER, shares_word BOOLEAN)"
        )

    def _load(self, name: str, frame: pl.DataFrame) -> None:
        """Copy a frame into a native DuckDB table (scanned in parallel, unlike one Arrow chunk)."""
        register_frame(self.con, "incoming_frame", frame)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM incoming_frame")
        self.con.unregister("incoming_frame")

    def replace_shots(self, shots: pl.DataFrame) -> None:
        """(Re)place the shot records, e.g. after same-person siblings were found."""
        self._shot_records = shots.select(SHOT_PAIR_COLUMNS)
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
                self._shot_records.select(pl.all().gather(_gather_index(shot_rows[held]))),
                self._registry_records.select(pl.all().gather(_gather_index(citizen_rows[held]))),
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
        tf = ", ".join(f"registry_{column}" for column in self.registry_columns if column.startswith("tf_"))
        return [
            *self._record_steps(pairs_table),
            SqlStep(
                "engine__pair_measured",
                f"SELECT p.*, {similarity_columns} FROM engine__pair_aligned p {similarity_joins}",
                Form.VIEW,
            ),
            SqlStep(
                "engine__pair_levels",
                f"SELECT shot_index, citizen_index, registry_ward, {levels}, {tf}, "
                f"{impossible_link_sql(model.age_rules)} AS impossible_code FROM engine__pair_measured",
                Form.VIEW,
            ),
        ]

    # --- name similarity ----------------------------------------------------------------------------

    def _add_name_similarities(self, pairs_table: str) -> None:
        """Score the distinct (shot word, candidate word) code pairs not scored yet.

        Aligned parts come from the shot's written reading or its given-name-first one, so both are scored.
        """
        part_pairs = " UNION ".join(
            f"SELECT {left} AS left_code, {right} AS right_code FROM engine__pair_codes"
            for left, right in (
                ("given", "registry_given"),
                ("family", "registry_family"),
                ("middle", "registry_middle"),
                ("alt_family", "registry_family"),
                ("alt_given", "registry_given"),
                ("alt_middle", "registry_middle"),
            )
        )
        pair_codes = SqlStep(
            "engine__pair_codes",
            f"""
            SELECT given, family, middle, alt_family, alt_given, alt_middle, registry_given, registry_family,
                   registry_middle
            FROM {pairs_table}
            """,
            Form.TABLE,  # read by six selects below
        )
        run_steps(self.con, [pair_codes])
        new_pairs = self.con.sql(
            f"""
            SELECT * FROM ({part_pairs}) c
            WHERE left_code <> right_code AND NOT EXISTS (SELECT 1 FROM name_similarity n
                WHERE n.left_code = c.left_code AND n.right_code = c.right_code)
            """
        ).pl()
        self.con.execute("DROP TABLE engine__pair_codes")
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
        scored pairs are held at once (in DuckDB and as numpy arrays), so memory follows the group, not
        the partition. A shot's candidates are all in its group, so the result is the same.
        """
        groups = math.ceil(index_pairs.height / PAIRS_PER_SCORING_GROUP)
        if groups <= 1:
            return self._group_top_candidates(index_pairs, model)
        group = pl.col("shot_index") % groups
        tops = [
            self._group_top_candidates(index_pairs.filter(group == number), model) for number in range(groups)
        ]
        return pl.concat(tops).sort("shot_index", "candidate_rank")

    def _group_top_candidates(self, index_pairs: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
        table = self._register_pairs(index_pairs)
        self._add_name_similarities(table)
        steps = [*self._pair_steps(table, model), SqlStep("engine__scored_pairs", self._scored_select(model))]
        run_steps(self.con, steps)
        ranked = self.con.sql(
            "SELECT shot_index, citizen_index, registry_ward, evidence_weight, "
            "evidence_weight - person_weight AS household_weight FROM engine__scored_pairs "
            "ORDER BY shot_index, evidence_weight DESC, citizen_index"
        ).pl()
        self._load(
            "engine__top_ranked", shot_masses(ranked).filter(pl.col("candidate_rank") <= CANDIDATES_KEPT)
        )
        result = self.con.sql(self._top_sql(model)).pl()
        self.con.execute("DROP TABLE engine__scored_pairs; DROP TABLE engine__top_ranked")
        self.con.unregister(table)
        return result

    def _scored_select(self, model: MatchModel) -> str:
        levels = ", ".join(f"level_{c.name}" for c in model.comparisons)
        evidence = " + ".join(weight_sql(c) for c in model.comparisons)
        person_weight = " + ".join(person_weight_sql(c) for c in model.comparisons)
        return (
            f"SELECT shot_index, citizen_index, registry_ward, {levels}, impossible_code, "
            f"{evidence} AS evidence_weight, {person_weight} AS person_weight FROM engine__pair_levels"
        )

    def _top_sql(self, model: MatchModel) -> str:
        tf_names = [f"registry_{column}" for column in self.registry_columns if column.startswith("tf_")]
        tf_columns = ", ".join(f"r.{name.removeprefix('registry_')} AS {name}" for name in tf_names)
        field_weights = ", ".join(f"{weight_sql(c)} AS weight_{c.name}" for c in model.comparisons)
        return f"""
            WITH ranked AS (
                SELECT s.*, k.log2_match_mass, k.log2_household_mass, k.candidate_rank
                FROM engine__scored_pairs s JOIN engine__top_ranked k USING (shot_index, citizen_index)
            ),
            with_tf AS (SELECT k.*, {tf_columns} FROM ranked k JOIN registry r USING (citizen_index))
            SELECT * EXCLUDE (registry_ward, {", ".join(tf_names)}), {field_weights} FROM with_tf
            ORDER BY shot_index, candidate_rank
        """


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


def weight_sql(comparison: Comparison) -> str:
    """The comparison's weight log2(m/u) by level, u replaced by the candidate value's frequency where asked."""
    cases = " ".join(
        f"WHEN {index} THEN {_double(level.weight)}" for index, level in enumerate(comparison.levels)
    )
    sql = f"CASE level_{comparison.name} {cases} ELSE 0.0::DOUBLE END"
    for label, column in comparison.term_frequency.items():
        index = comparison.labels.index(label)
        m = comparison.levels[index].m
        tf = f"registry_tf_{column}"
        sql = (
            f"CASE WHEN level_{comparison.name} = {index} AND {tf} IS NOT NULL "
            f"THEN log2({_double(m)} / greatest({tf}, {_double(TF_FLOOR)})) ELSE {sql} END"
        )
    return f"({sql})"


def person_weight_sql(comparison: Comparison) -> str:
    """log2(m/u_household) by level for a person comparison; household comparisons carry none."""
    if comparison.role != "person":
        return "0.0::DOUBLE"
    cases = " ".join(
        f"WHEN {index} THEN {_double(math.log2(level.m / (level.u_household or 1.0)))}"
        for index, level in enumerate(comparison.levels)
    )
    return f"(CASE level_{comparison.name} {cases} ELSE 0.0::DOUBLE END)"


def _double(value: float) -> str:
    """A float literal DuckDB reads as DOUBLE (a bare 1.5 would be a DECIMAL)."""
    return f"{value!r}::DOUBLE"


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
