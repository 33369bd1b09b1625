"""The whole pipeline through the CLI on generated messy data: conservation, idempotency, precision."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import Result
from typer.testing import CliRunner

from synth import SynthConfig, generate
from vaxsync.orchestration.cli import app

AS_OF = "2023-01-31"
PUBLISHED_TABLES = {
    "synced_shots": "select * exclude (first_synced_at, run_id) from synced_shots order by shot_id",
    "shot_sources": "select * exclude (run_id) from shot_sources order by file_hash, source_row",
    "unposted_backlog": "select * exclude (run_id) from unposted_backlog order by file_hash, source_row",
    "ingest_ledger": "select * exclude (run_id, ingested_at) from ingest_ledger order by source_file, file_hash",
}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, SynthConfig(citizens=6_000, shots=2_500, seed=11, snapshot_date=dt.date(2023, 1, 31)))
    return out


def run_cli(
    synth_dir: Path,
    warehouse: Path,
    reports: Path,
    landing: Path | None = None,
    as_of: str = AS_OF,
    *extra: str,
) -> Result:
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--registry", str(synth_dir / "registry.parquet"),
            "--landing", str(landing or synth_dir / "landing"),
            "--warehouse", str(warehouse),
            "--reports", str(reports),
            "--as-of", as_of,
            *extra,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def published(warehouse: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {name: connection.sql(sql).pl() for name, sql in PUBLISHED_TABLES.items()}


@pytest.fixture(scope="module")
def first_night(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """The run's output folder (warehouse.duckdb, its work folder and cache, reports/) and the CLI result."""
    out = tmp_path_factory.mktemp("run")
    return out, run_cli(synth_dir, out / "warehouse.duckdb", out / "reports")


@pytest.fixture(scope="module")
def first_run(first_night: tuple[Path, Result]) -> Path:
    return first_night[0] / "warehouse.duckdb"


def test_every_row_lands_in_exactly_one_place(synth_dir: Path, first_run: Path) -> None:
    truth = pl.read_parquet(synth_dir / "truth.parquet")
    tables = published(first_run)
    placed = pl.concat(
        [
            tables["shot_sources"].select("source_file", "source_row", pl.lit("posted").alias("place")),
            tables["unposted_backlog"].select("source_file", "source_row", pl.lit("backlog").alias("place")),
        ]
    )
    assert placed.select("source_file", "source_row").is_duplicated().sum() == 0
    loaded = tables["ingest_ledger"].filter(pl.col("status") == "loaded")
    per_file = placed.group_by("source_file").len()
    check = loaded.join(per_file, on="source_file", how="left").with_columns(pl.col("len").fill_null(0))
    assert (check["rows_read"] == check["len"]).all()
    assert (
        check["rows_read"] == check["rows_posted"] + check["rows_duplicate"] + check["rows_backlog"]
    ).all()
    # Every truth row of a file the ledger loaded is placed.
    truth_loaded = truth.join(loaded.select("source_file"), on="source_file", how="semi")
    missing = truth_loaded.join(placed, on=["source_file", "source_row"], how="anti")
    assert missing.height == 0
    with duckdb.connect(str(first_run), read_only=True) as connection:
        from vaxsync.marts.warehouse import conservation_violations

        assert conservation_violations(connection) == []


def test_no_row_of_an_absent_person_or_an_invalid_row_is_posted(synth_dir: Path, first_run: Path) -> None:
    truth = pl.read_parquet(synth_dir / "truth.parquet")
    sources = published(first_run)["shot_sources"]
    posted = truth.join(sources, on=["source_file", "source_row"], how="semi")
    assert posted.filter(pl.col("expected") == "backlog_not_in_registry").height == 0
    assert posted.filter(pl.col("expected") == "backlog_invalid").height == 0


def test_posted_rows_go_to_the_true_citizen(synth_dir: Path, first_run: Path) -> None:
    truth = pl.read_parquet(synth_dir / "truth.parquet")
    tables = published(first_run)
    posted = (
        tables["shot_sources"]
        .join(tables["synced_shots"], on="shot_id")
        .join(truth, on=["source_file", "source_row"])
    )
    wrong = posted.filter(pl.col("citizen_id") != pl.col("true_citizen_id"))
    assert posted.height > 0.5 * truth.filter(pl.col("expected").is_in(["post", "duplicate"])).height
    assert wrong.height <= 0.0005 * posted.height + 1


def test_duplicate_submissions_post_once(first_run: Path) -> None:
    tables = published(first_run)
    winners = tables["shot_sources"].filter(~pl.col("is_duplicate"))
    assert winners["shot_id"].is_unique().all()
    assert winners.height == tables["synced_shots"].height
    assert tables["shot_sources"]["is_duplicate"].sum() > 0


def test_rerunning_the_same_landing_changes_nothing(synth_dir: Path, first_run: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(first_run, warehouse)
    before = published(warehouse)
    run_cli(synth_dir, warehouse, tmp_path / "reports")
    after = published(warehouse)
    for name in PUBLISHED_TABLES:
        assert before[name].equals(after[name]), name


def test_a_file_renamed_or_copied_is_not_counted_twice(
    synth_dir: Path, first_run: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(first_run, warehouse)
    landing = tmp_path / "landing"
    shutil.copytree(synth_dir / "landing", landing)
    loaded_file = published(warehouse)["ingest_ledger"].filter(pl.col("status") == "loaded")["source_file"][0]
    shutil.copy(landing / loaded_file, landing / (loaded_file + ".copy.csv"))
    before = published(warehouse)
    run_cli(synth_dir, warehouse, tmp_path / "reports", landing=landing)
    after = published(warehouse)
    assert before["synced_shots"].equals(after["synced_shots"])
    assert before["shot_sources"].equals(after["shot_sources"])
    new_ledger = after["ingest_ledger"].join(
        before["ingest_ledger"], on=["source_file", "file_hash"], how="anti"
    )
    assert new_ledger["status"].to_list() == ["duplicate_content"]


def test_unusable_arguments_exit_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--registry", str(tmp_path / "absent.parquet"),
            "--landing", str(tmp_path),
            "--warehouse", str(tmp_path / "w.duckdb"),
            "--reports", str(tmp_path / "r"),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "registry snapshot not found" in result.output


def test_a_new_version_of_a_file_is_kept_beside_the_old_and_never_counted_twice(
    synth_dir: Path, first_run: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(first_run, warehouse)
    landing = tmp_path / "landing"
    shutil.copytree(synth_dir / "landing", landing)
    before = published(warehouse)
    loaded = before["ingest_ledger"].filter(
        (pl.col("status") == "loaded")
        & pl.col("source_file").str.ends_with(".csv")
        & (pl.col("rows_posted") > 0)
    )
    source_file = loaded["source_file"][0]
    path = landing / source_file
    # The facility re-sends the file with one more blank line at the end: new bytes, the same doses.
    path.write_bytes(path.read_bytes() + b"\n")
    run_cli(synth_dir, warehouse, tmp_path / "reports", landing=landing)
    after = published(warehouse)
    versions = after["ingest_ledger"].filter(pl.col("source_file") == source_file)
    assert versions.height == 2
    assert versions["file_hash"].n_unique() == 2
    newer = versions.join(before["ingest_ledger"], on=["source_file", "file_hash"], how="anti")
    assert newer["rows_posted"][0] == 0
    assert newer["rows_duplicate"][0] == loaded["rows_posted"][0] + loaded["rows_duplicate"][0]
    assert before["synced_shots"].equals(after["synced_shots"])
    # The old version's backlog rows are superseded, not counted twice as open.
    backlog = after["unposted_backlog"].filter(pl.col("source_file") == source_file)
    open_rows = backlog.filter(pl.col("superseded_by_file_hash").is_null())
    assert open_rows["file_hash"].unique().to_list() == newer["file_hash"].to_list()
    assert open_rows.height == loaded["rows_backlog"][0]
    superseded = backlog.filter(pl.col("superseded_by_file_hash").is_not_null())
    assert superseded.height == loaded["rows_backlog"][0]
    assert superseded["superseded_by_file_hash"].unique().to_list() == newer["file_hash"].to_list()
    assert before["unposted_backlog"].filter(pl.col("superseded_by_file_hash").is_not_null()).height == 0


def test_the_analyst_notebook_runs_and_its_counts_match_the_warehouse(
    synth_dir: Path, first_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runpy

    from vaxsync.core.settings import Settings
    from vaxsync.marts.coverage import build_coverage

    registry_path = synth_dir / "registry.parquet"
    settings = Settings(
        registry_path=registry_path, warehouse_path=first_run, as_of=dt.date.fromisoformat(AS_OF)
    )
    build_coverage(settings)  # the nightly report stage builds it too; rebuilding is idempotent
    monkeypatch.setenv("VAXSYNC_WAREHOUSE_PATH", str(first_run))
    monkeypatch.setenv("VAXSYNC_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv("VAXSYNC_NOTEBOOK_FIGURES_DIR", raising=False)  # the default folder is under test
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "coverage_overview.py"
    namespace = runpy.run_path(str(notebook))
    namespace["connection"].close()

    figures = sorted((tmp_path / "reports" / AS_OF / "notebook").glob("*.png"))
    assert [path.name for path in figures] == [
        "backlog_by_province_and_reason.png",
        "coverage_by_province_2021.png",
        "coverage_by_province_2025.png",
        "coverage_over_time.png",
    ]
    assert all(path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 10_000 for path in figures)
    with duckdb.connect(str(first_run), read_only=True) as connection:
        count_doses, count_open_backlog = connection.sql(
            "select (select count(*) from synced_shots), (select count(*) from open_backlog)"
        ).fetchall()[0]
        count_population, count_dose_1 = connection.sql(
            f"""
            with population as (
                select citizen_id from read_parquet('{registry_path.as_posix()}')
                where (date_of_death is null or date_of_death >= date '{settings.campaign_start}')
                  and coalesce(date_of_birth, make_date(birth_year, 7, 1)) <= date '{AS_OF}'
            )
            select count(*), count(*) filter (where citizen_id in (
                select citizen_id from synced_shots where vaccinated_on <= date '{AS_OF}'))
            from population
            """
        ).fetchall()[0]
    assert namespace["doses_by_vaccine"]["count_doses"].sum() == count_doses
    assert namespace["backlog_by_reason"]["count_rows"].sum() == count_open_backlog
    assert namespace["backlog_by_province"]["count_rows"].sum() == count_open_backlog
    national = {row["milestone"]: row for row in namespace["national_coverage"].to_dicts()}
    assert list(national) == ["dose_1", "primary_complete", "booster_1", "booster_2"]
    assert {row["count_population"] for row in national.values()} == {count_population}
    assert national["dose_1"]["count_reached"] == count_dose_1 > 0
    reached = [row["count_reached"] for row in national.values()]
    assert reached == sorted(reached, reverse=True) and reached[-1] > 0  # nested milestones
    weekly = namespace["weekly_coverage"]
    last_week = weekly.filter(pl.col("week_end") == pl.col("week_end").max())
    assert dict(zip(last_week["milestone"], last_week["count_reached"], strict=True)) == {
        milestone: row["count_reached"] for milestone, row in national.items()
    }
    assert namespace["coverage_by_province_2025"].height == 34


def test_off_a_terminal_each_stage_is_one_line_and_validation_is_quiet(
    first_night: tuple[Path, Result],
) -> None:
    result = first_night[1]
    lines = result.stderr.splitlines()
    stages = [line.split()[2] for line in lines if line.split()[1:2] == ["stage"]]
    assert stages == ["discover", "ingest", "normalize", "match", "publish", "report"]
    assert len(lines) == len(stages)  # nothing else: no bar, no Great Expectations INFO lines
    normalize = next(line for line in lines if " stage normalize " in line)
    assert " s: rows_normalized=" in normalize
    assert "files already processed (skipped)" in result.stdout


def test_personal_data_left_on_disk_is_owner_only(first_night: tuple[Path, Result]) -> None:
    out = first_night[0]
    paths = [out / "warehouse.duckdb", *(out / "work").rglob("*"), *(out / "registry_cache").rglob("*")]
    assert len(paths) > 10
    wide = [path for path in paths if stat.S_IMODE(path.stat().st_mode) & 0o077]
    assert wide == []


def test_a_rerun_keeps_the_nights_report_and_adds_its_own(
    synth_dir: Path, first_night: tuple[Path, Result], tmp_path: Path
) -> None:
    out = first_night[0]
    shutil.copy(out / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    shutil.copytree(out / "reports", tmp_path / "reports")
    first_report = json.loads((tmp_path / "reports" / AS_OF / "run_report.json").read_text(encoding="utf-8"))
    result = run_cli(synth_dir, tmp_path / "warehouse.duckdb", tmp_path / "reports")
    skipped = next(line for line in result.stdout.splitlines() if "files already processed" in line)
    assert int(skipped.split("│")[2]) == first_report["stages"]["discover"]["files_new"]
    night_copy = json.loads((tmp_path / "reports" / AS_OF / "run_report.json").read_text(encoding="utf-8"))
    assert night_copy["run"]["run_id"] == first_report["run"]["run_id"]
    assert night_copy["stages"]["ingest"]["rows_read"] > 0
    index = json.loads((tmp_path / "reports" / "index.json").read_text(encoding="utf-8"))
    assert len(index["runs"]) == 2
    assert index["runs"][1]["run_id"] == first_report["run"]["run_id"]
    assert index["runs"][0]["is_empty"]
    for run in index["runs"]:
        assert (tmp_path / "reports" / run["report_json"]).is_file()


@pytest.fixture(scope="module")
def small_synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small_synth")
    generate(out, SynthConfig(citizens=1_500, shots=700, seed=5, snapshot_date=dt.date(2023, 1, 31)))
    return out


def test_a_night_run_with_too_early_an_as_of_is_recovered_by_the_right_one(
    small_synth_dir: Path, tmp_path: Path
) -> None:
    """As-of 2019-01-01 (forced) fails every file's validation; as-of 2022-09-30 reads them again and
    holds every later dose as out of range; the next night, with the right as-of, matches those again
    and posts them: nothing stays stranded, nothing is counted twice."""
    warehouse, reports = tmp_path / "warehouse.duckdb", tmp_path / "reports"
    run_cli(small_synth_dir, warehouse, reports, None, "2019-01-01", "--force")
    quarantined_sql = "select file_hash from ingest_ledger where quarantine_reason = 'validation_failed'"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        judged = connection.sql(quarantined_sql).pl()
        assert connection.sql("select count(*) from synced_shots").fetchall() == [(0,)]
    assert judged.height >= 10
    run_cli(small_synth_dir, warehouse, reports, as_of="2022-09-30")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.sql(quarantined_sql).pl().is_empty()
        readmitted = connection.sql("select file_hash, quarantined_as_of from ledger_readmissions").pl()
        assert connection.sql("select count(*) from synced_shots").fetchall()[0][0] > 0
    assert sorted(readmitted["file_hash"]) == sorted(judged["file_hash"])
    assert readmitted["quarantined_as_of"].unique().to_list() == [dt.date(2019, 1, 1)]
    held_sql = """select b.file_hash, b.source_row from open_backlog b join backlog_records r
                  using (file_hash, source_row)
                  where b.reason_code = 'vaccination_date_out_of_range' and r.birth_year is not null
                    and r.vaccinated_date between date '2021-03-08' and date '2023-01-31'"""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        held = connection.sql(held_sql).pl()
    assert held.height >= 5
    run_cli(small_synth_dir, warehouse, reports, as_of="2023-01-31")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        from vaxsync.marts.warehouse import conservation_violations

        assert connection.sql(held_sql).pl().height == 0
        outcome = connection.sql(
            """select resolution, count(*) from unposted_backlog
               where reason_code = 'vaccination_date_out_of_range' or resolution is not null group by 1"""
        ).fetchall()
        assert conservation_violations(connection) == []
    resolved = dict(outcome).get("rematched", 0)
    assert resolved >= 0.8 * held.height  # the rest wait in the backlog under their new reason
