"""A wrong link is revisited: a posting to a namesake is checked again when the true person is registered.

Night 1's snapshot lacks some vaccinated citizens and holds, for each, a namesake: same name, birth
date, sex and ward, another CCCD, no phone. Their doses post to the namesake. Night 2's snapshot adds
the true people (no new export): each such posting moves to the person the row's own CCCD names, or
goes to review with both candidates, audited; never two postings. Night 2 runs twice, and night 3, on
the same snapshot, checks nothing again.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from synth import SynthConfig, generate
from vaxsync.core.settings import Settings
from vaxsync.marts.warehouse import conservation_violations
from vaxsync.orchestration.pipeline import run_nightly

NIGHT_1, NIGHT_2, NIGHT_3 = dt.date(2023, 1, 31), dt.date(2023, 2, 1), dt.date(2023, 2, 2)
LATE_CITIZENS = 80
KEYS = ["file_hash", "source_row"]


def _namesakes(registry: pl.DataFrame, late: pl.Series) -> pl.DataFrame:
    """Each late citizen's namesake: the same person on paper but for another serial and no phone.

    The CCCD keeps its first six digits (province, century and sex, birth year) and takes another serial."""
    taken = registry["citizen_id"].implode()
    return (
        registry.filter(pl.col("citizen_id").is_in(late.implode()))
        .with_columns(
            citizen_id=pl.col("citizen_id").str.slice(0, 6)
            + ((pl.col("citizen_id").str.slice(6).cast(pl.Int64) + 499_979) % 1_000_000)
            .cast(pl.String)
            .str.zfill(6),
            legacy_id=pl.lit(None, pl.String),
            phone=pl.lit(None, pl.String),
        )
        .filter(~pl.col("citizen_id").is_in(taken))
    )


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("relinking")
    generate(root / "synth", SynthConfig(citizens=4_000, shots=1_500, seed=7, snapshot_date=NIGHT_1))
    truth = pl.read_parquet(root / "synth/truth.parquet")
    registry = pl.read_parquet(root / "synth/registry.parquet")
    late = (
        truth.filter(pl.col("expected") == "post")["true_citizen_id"]
        .drop_nulls()
        .unique()
        .sort()
        .head(LATE_CITIZENS)
    )
    namesakes = _namesakes(registry, late)
    night_1_registry = pl.concat([registry.filter(~pl.col("citizen_id").is_in(late.implode())), namesakes])
    night_1_registry.write_parquet(root / "registry_night1.parquet")
    pl.concat([registry, namesakes]).write_parquet(root / "registry_night2.parquet")

    def settings(registry_name: str, as_of: dt.date) -> Settings:
        return Settings(
            registry_path=root / registry_name,
            landing_dir=root / "synth/landing",
            warehouse_path=root / "warehouse.duckdb",
            reports_dir=root / "reports",
            decisions_dir=root / "decisions",
            as_of=as_of,
        )

    run_nightly(settings("registry_night1.parquet", NIGHT_1))
    on_namesakes = (
        _postings(root)
        .join(truth.select("source_file", "source_row", "true_citizen_id"), on=["source_file", "source_row"])
        .join(namesakes.select("citizen_id", namesake_id=pl.col("citizen_id")), on="citizen_id")
    )
    summaries = [
        run_nightly(settings("registry_night2.parquet", NIGHT_2)),
        run_nightly(settings("registry_night2.parquet", NIGHT_2)),  # the same night again
        run_nightly(settings("registry_night2.parquet", NIGHT_3)),  # the same snapshot, a later night
    ]
    return {"root": root, "on_namesakes": on_namesakes, "summaries": summaries}


def _postings(root: Path) -> pl.DataFrame:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.sql(
            """select src.source_file, src.file_hash, src.source_row, s.citizen_id, s.shot_id, s.match_method
               from shot_sources src join synced_shots s using (shot_id) where src.inactive_reason is null"""
        ).pl()


def query(nights: dict[str, object], sql: str) -> pl.DataFrame:
    root = nights["root"]
    assert isinstance(root, Path)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return connection.sql(sql).pl()


def _on_namesakes(nights: dict[str, object]) -> pl.DataFrame:
    rows = nights["on_namesakes"]
    assert isinstance(rows, pl.DataFrame)
    assert rows.height >= 1, "night 1 should post some doses of the late citizens to their namesakes"
    assert (rows["match_method"] == "probabilistic").all()
    return rows


def test_a_posting_to_a_namesake_moves_or_goes_to_review_once_the_person_is_registered(
    nights: dict[str, object],
) -> None:
    wrong = _on_namesakes(nights)
    root = nights["root"]
    assert isinstance(root, Path)
    now_posted = _postings(root).join(wrong.select(KEYS), on=KEYS)
    # No row is left on the namesake, and no row is posted twice.
    assert not now_posted["citizen_id"].is_in(wrong["namesake_id"].implode()).any()
    assert now_posted.select(KEYS).is_unique().all()
    # A row that posts again is on its true person, and only by its own ID.
    moved = now_posted.join(wrong.select(*KEYS, "true_citizen_id"), on=KEYS)
    assert (moved["citizen_id"] == moved["true_citizen_id"]).all()
    assert moved["match_method"].is_in(["id_exact", "legacy_id_exact"]).all()
    # The others wait in review, with the namesake and the true person among their candidates.
    backlog = query(nights, "select file_hash, source_row, reason_code from open_backlog").join(
        wrong.select(*KEYS, "namesake_id", "true_citizen_id"), on=KEYS
    )
    assert backlog.height + moved.height == wrong.height
    assert (backlog["reason_code"] == "review_required").all()
    candidates = query(nights, "select file_hash, source_row, citizen_id from review_candidates")
    for row in backlog.iter_rows(named=True):
        named = candidates.filter(
            (pl.col("file_hash") == row["file_hash"]) & (pl.col("source_row") == row["source_row"])
        )["citizen_id"]
        assert {row["namesake_id"], row["true_citizen_id"]} <= set(named.to_list())


def test_every_change_is_audited_and_the_namesakes_shots_are_retracted(nights: dict[str, object]) -> None:
    wrong = _on_namesakes(nights)
    audit = query(nights, "select * from relinked_postings").join(
        wrong.select(*KEYS, "namesake_id", pl.col("shot_id").alias("night_1_shot_id")), on=KEYS
    )
    assert audit.height == wrong.height
    assert (audit["citizen_id"] == audit["namesake_id"]).all()
    assert (audit["shot_id"] == audit["night_1_shot_id"]).all()
    assert set(audit["outcome"].to_list()) <= {"moved_by_id", "sent_to_backlog"}
    retracted = query(nights, "select shot_id, citizen_id, retraction_reason from retracted_shots").join(
        wrong.select(pl.col("shot_id")).unique(), on="shot_id"
    )
    assert retracted.height == wrong["shot_id"].n_unique()
    assert (retracted["retraction_reason"] == "relinked_after_new_snapshot").all()
    assert (
        query(
            nights,
            "select count(*) from probabilistic_postings p join relinked_postings r using (file_hash, source_row)",
        ).item()
        == 0
    )


def test_nothing_is_lost_and_a_snapshot_is_checked_once(nights: dict[str, object]) -> None:
    _on_namesakes(nights)
    root = nights["root"]
    assert isinstance(root, Path)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        assert conservation_violations(connection) == []
    _, again, later = nights["summaries"]  # type: ignore[misc]
    assert again["rows_in"] == 0 and later["rows_in"] == 0
    runs = query(nights, "select run_id from pipeline_runs order by as_of, started_at")["run_id"].to_list()
    relinked_by_run = query(nights, "select run_id, count(*) as rows from relinked_postings group by run_id")
    assert relinked_by_run["run_id"].to_list() == [runs[1]]
    checked = query(nights, "select distinct checked_registry_hash from probabilistic_postings")
    night_2_hash = query(nights, f"select registry_hash from pipeline_runs where run_id = '{runs[1]}'").item()
    assert checked["checked_registry_hash"].to_list() == [night_2_hash]


def test_the_run_report_counts_the_changed_postings(nights: dict[str, object]) -> None:
    """The run of night 2 that changed the postings counts them in its report; its re-run changed none."""
    root = nights["root"]
    assert isinstance(root, Path)
    audit = query(nights, "select run_id, outcome, count(*) as n from relinked_postings group by 1, 2")
    (run_id,) = audit["run_id"].unique().to_list()
    expected = dict(zip(audit["outcome"], audit["n"], strict=True))
    runs = root / "reports" / NIGHT_2.isoformat() / "runs"
    report = json.loads((runs / run_id / "run_report.json").read_text())
    assert report["relinked_postings"] == {
        "moved_by_id": expected.get("moved_by_id", 0),
        "sent_to_backlog": expected.get("sent_to_backlog", 0),
    }
    assert "Posted links re-checked after a new snapshot" in (runs / run_id / "run_report.html").read_text()
    reruns = [
        json.loads(path.read_text()) for path in runs.glob("*/run_report.json") if path.parent.name != run_id
    ]
    assert reruns and all(
        rerun["relinked_postings"] == {"moved_by_id": 0, "sent_to_backlog": 0} for rerun in reruns
    )
