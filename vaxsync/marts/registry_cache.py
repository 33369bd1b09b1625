"""The registry's prepared form (normalized name keys), its encoding for matching (name codes, blocking
columns, term frequencies) and its surname statistics (for normalizing names), each built once per
snapshot and reused.

Keyed by the snapshot's content hash, so a changed snapshot is prepared again and an unchanged one
costs only a read: both read every registry name, which at 10 million citizens takes minutes.
The cache holds names, birth dates and IDs: its folder is 0700 and its files 0600. Each file is written
whole under a temporary name of its own writer, then renamed: a reader never sees part of one, and two
writers of the same file (a background preparation, a stage run alone) each put a whole copy in place.

None of this depends on the night's files: on a snapshot's first night `vaxsync run` builds them in a
thread while ingest runs (start_preparing_snapshot) and the DAG in a task beside the ingest tasks
(prepare_snapshot); a stage run without either builds what it needs itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from matching.features import Vocabulary
from matching.model import MatchModel, load_model
from matching.probabilistic import EncodedRegistry, encode_registry
from transforms.ingest.landing import file_content_hash
from transforms.normalize.names import SurnameStatistics, name_uses, surname_statistics
from transforms.registry import prepare_registry, registry_name_keys, registry_name_repairs
from validation.suites import CITIZEN_ID_PATTERN
from vaxsync.core.contracts import REGISTRY_SCHEMA
from vaxsync.core.errors import InputError
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import owner_only_files, private_folder

if TYPE_CHECKING:
    from transforms.normalize.names import SurnameStatistics


# The cache's files are read back on this machine, several times a night: lz4 writes the medium registry's
# prepared form in 0.72 CPU s (zstd, polars' default: 1.02) and reads it faster, for 45 MB instead of 33.
CACHE_COMPRESSION: Final = "lz4"


# Part of every cache file's key: raise it when preparing a snapshot changes (transforms.normalize's
# rules for registry names or sex, say), so that a snapshot prepared by older code is prepared again.
REGISTRY_PREPARATION_VERSION = 2


def prepared_registry_file(settings: Settings, *, snapshot_hash: str) -> Path:
    return cache_dir(settings) / f"{snapshot_hash}.prepared-v{REGISTRY_PREPARATION_VERSION}.parquet"


def prepared_registry(
    settings: Settings,
    *,
    snapshot_hash: str,
    name_keys: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """The prepared registry for the snapshot with this content hash (computed once, at discovery).
    name_keys: transforms.registry.registry_name_keys of the snapshot's names, when already built."""

    cached = prepared_registry_file(settings, snapshot_hash=snapshot_hash)
    if not cached.exists():
        private_folder(cached.parent)
        prepared = prepare_registry(pl.scan_parquet(settings.registry_path), name_keys=name_keys)
        temporary = _temporary_name(cached)
        with owner_only_files():
            prepared.sink_parquet(temporary, compression=CACHE_COMPRESSION)
        os.replace(temporary, cached)
    return pl.scan_parquet(cached)


# Part of the encoded registry's cache key: raise it when the encoding (matching.features) changes, so
# that a snapshot encoded by older code is encoded again.
REGISTRY_ENCODING_VERSION = 1


def encoded_registry(
    settings: Settings,
    *,
    snapshot_hash: str,
    model: MatchModel,
    prepared: pl.LazyFrame | None = None,
    name_keys: pl.DataFrame | None = None,
) -> EncodedRegistry:
    """matching.probabilistic.encode_registry of the snapshot with this content hash, from the cache or
    built once (from the prepared registry) and cached: a later night of the same snapshot reads it
    instead of encoding every citizen again. Keyed also by the model's term-frequency columns (the only
    part of the model the encoding reads) and REGISTRY_ENCODING_VERSION. prepared: the prepared
    registry of this snapshot, when the caller holds it (else it is read from its cache); name_keys:
    transforms.registry.registry_name_keys of this snapshot, when the caller holds it (the names are then
    encoded once per distinct name)."""

    records_file, words_file = encoded_registry_files(settings, snapshot_hash=snapshot_hash, model=model)
    if not (records_file.exists() and words_file.exists()):
        if prepared is None:
            prepared = prepared_registry(settings, snapshot_hash=snapshot_hash)
        encoded = encode_registry(prepared, model, name_keys=name_keys)
        private_folder(records_file.parent)
        with owner_only_files():
            # the vocabulary first: records present without their words would be read as complete
            _write_replacing(encoded.vocabulary.words.to_frame("word"), words_file)
            _write_replacing(encoded.records, records_file)
        return EncodedRegistry(
            records=encoded.records, vocabulary=encoded.vocabulary, records_file=records_file
        )
    return EncodedRegistry(
        records=pl.read_parquet(records_file),
        vocabulary=Vocabulary(words=pl.read_parquet(words_file)["word"]),
        records_file=records_file,
    )


def encoded_registry_files(settings: Settings, *, snapshot_hash: str, model: MatchModel) -> tuple[Path, Path]:
    """The encoded registry's records and vocabulary files."""
    records_file = cache_dir(settings) / f"{snapshot_hash}.encoded.{_encoding_key(model)}.parquet"
    return records_file, records_file.with_suffix(".vocabulary.parquet")


def _encoding_key(model: MatchModel) -> str:
    columns = sorted({column for c in model.comparisons for column in c.term_frequency.values()})
    signature = f"v{REGISTRY_ENCODING_VERSION}:p{REGISTRY_PREPARATION_VERSION}:{','.join(columns)}"
    return hashlib.sha256(signature.encode("utf-8")).hexdigest()[:12]


def _write_replacing(frame: pl.DataFrame, path: Path) -> None:
    """Write through a temporary file, so that a crash never leaves a half-written cache file."""
    temporary = _temporary_name(path)
    frame.write_parquet(temporary, compression=CACHE_COMPRESSION)
    os.replace(temporary, path)


def _temporary_name(path: Path) -> Path:
    """A name no other writer of path uses: writers never write into each other's file."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def registry_surname_statistics(
    settings: Settings,
    *,
    snapshot_hash: str,
    name_repairs: pl.DataFrame | None = None,
    name_counts: pl.DataFrame | None = None,
) -> SurnameStatistics:
    """transforms.normalize.names.surname_statistics of the snapshot with this content hash, from the
    cache (one row per table and word) or computed once and cached. name_repairs:
    transforms.registry.registry_name_repairs of the snapshot, name_counts: its names' uses
    (transforms.normalize.names.name_uses), when already built."""

    cached = surname_statistics_file(settings, snapshot_hash=snapshot_hash)
    if not cached.exists():
        statistics = surname_statistics(
            pl.scan_parquet(settings.registry_path).select("full_name"),
            repaired=name_repairs,
            name_counts=name_counts,
        )
        tables = [
            pl.DataFrame(
                {"table": name, "word": list(table), "family_share": list(table.values())},
                schema={"table": pl.String, "word": pl.String, "family_share": pl.Float64},
            )
            for name, table in (("by_spelling", statistics.by_spelling), ("by_key", statistics.by_key))
        ]
        private_folder(cached.parent)
        temporary = _temporary_name(cached)
        with owner_only_files():
            pl.concat(tables).write_parquet(temporary)
        os.replace(temporary, cached)
    frame = pl.read_parquet(cached)

    def table(name: str) -> dict[str, float]:
        rows = frame.filter(pl.col("table") == name)
        return dict(zip(rows["word"].to_list(), rows["family_share"].to_list(), strict=True))

    return SurnameStatistics(by_spelling=table("by_spelling"), by_key=table("by_key"))


def surname_statistics_file(settings: Settings, *, snapshot_hash: str) -> Path:
    return cache_dir(settings) / f"{snapshot_hash}.surname_statistics-v{REGISTRY_PREPARATION_VERSION}.parquet"


def cache_dir(settings: Settings) -> Path:
    return settings.warehouse_path.parent / "registry_cache"


# --- a snapshot's first night: its caches built beside ingest -------------------------------------------


@dataclass(frozen=True)
class SnapshotPreparation:
    """The background build of a snapshot's caches: `statistics` done when the surname statistics (all
    that normalize reads) are in place, `built` when every file is (or each holding the build's error)."""

    built: Future[None]
    statistics: Future[None] = field(default_factory=Future)
    overlaps_normalize: bool = False  # match's part may go on building while normalize runs

    def wait(self) -> None:
        self.built.result()  # re-raises the build's error in the waiting thread

    def wait_before_normalize(self) -> None:
        """Wait for what normalize reads, the surname statistics, when the rest (match's prepared form
        and encoding) may go on building beside normalize; else for every file."""
        (self.statistics if self.overlaps_normalize else self.built).result()


# The largest snapshot whose prepared form and encoding may go on building beside normalize (on its idle
# cores) rather than before it. 0, off: on a machine shared by other jobs (load 20-27 on 2 cores) three
# nights each way showed no gain (night CPU 57.9/54.6/57.3 s with 2M against main's 55.5/53.9/52.4 s,
# within the noise); to be tried on a quiet machine, where ingest (7 s) may end before the build (~5 s of
# CPU beside it) does. Bounded in any case: at 10M citizens the build holds ~3 GiB, which on top of
# normalize's ~4 would near the large night's limit; at 1M the medium night's peak stayed 0.91 GiB.
OVERLAP_NORMALIZE_MAX_CITIZENS: int = 0


def _citizens(settings: Settings) -> int | None:
    """The snapshot's row count, from its Parquet footer; None when unreadable (the build says why)."""
    try:
        return int(pl.scan_parquet(settings.registry_path).select(pl.len()).collect().item())
    except Exception:  # polars raises several types for an unreadable file; the build raises the real one
        return None


def prepare_snapshot(
    settings: Settings, *, snapshot_hash: str, on_statistics: Callable[[], None] | None = None
) -> bool:
    """Build the snapshot's missing cache files: its surname statistics, its prepared form and its
    encoding for the reference model (the encoding's key reads only the model's term-frequency columns,
    which fitting does not change). True when something was built, False when all were there.
    on_statistics: called once the surname statistics file is in place (and read back without error),
    before the rest is built."""
    model = load_model()
    files = [
        surname_statistics_file(settings, snapshot_hash=snapshot_hash),
        prepared_registry_file(settings, snapshot_hash=snapshot_hash),
        *encoded_registry_files(settings, snapshot_hash=snapshot_hash, model=model),
    ]
    if all(path.exists() for path in files):
        return False
    missing = [path for path in files if not path.exists()]
    try:
        with reading_snapshot(settings, snapshot_hash=snapshot_hash, check_after=True):
            _build_snapshot_caches(
                settings, snapshot_hash=snapshot_hash, files=files, model=model, on_statistics=on_statistics
            )
    except InputError:  # what was built may hold the new content under the old hash: never kept
        for path in missing:
            path.unlink(missing_ok=True)
        raise
    return True


def _build_snapshot_caches(
    settings: Settings,
    *,
    snapshot_hash: str,
    files: list[Path],
    model: MatchModel,
    on_statistics: Callable[[], None] | None,
) -> None:
    # Both the statistics and the prepared form start from every distinct name repaired: once for both.
    # The distinct names come with their uses, which the statistics weigh: the registry's names are
    # hashed once for both instead of twice.
    name_counts, name_repairs = None, None
    if not all(path.exists() for path in files[:2]):
        name_counts = name_uses(pl.scan_parquet(settings.registry_path).select("full_name")).collect()
        name_repairs = registry_name_repairs(name_counts.lazy())
    registry_surname_statistics(
        settings, snapshot_hash=snapshot_hash, name_repairs=name_repairs, name_counts=name_counts
    )
    del name_counts
    if on_statistics is not None:
        on_statistics()
    # The prepared form is encoded from its file, not held in memory: the encoding reads its columns in
    # two scans, and the whole frame held beside ingest raised the medium night's ingest peak 1.01 ->
    # 1.23 GiB for ~0.2 CPU s saved. Its name columns per distinct name are small (1M citizens: 139k
    # names) and kept for the encoding, which then encodes each name once, not each citizen's.
    name_keys = None if name_repairs is None else registry_name_keys(name_repairs)
    del name_repairs  # not held while the registry is encoded
    prepared = prepared_registry(settings, snapshot_hash=snapshot_hash, name_keys=name_keys)
    encoded_registry(
        settings, snapshot_hash=snapshot_hash, model=model, prepared=prepared, name_keys=name_keys
    )


def snapshot_changed(settings: Settings, *, snapshot_hash: str) -> InputError | None:
    """The error to stop on when the snapshot file no longer holds the content discovery hashed, else None."""
    path = settings.registry_path
    try:
        unchanged = path.is_file() and file_content_hash(path) == snapshot_hash
    except OSError:
        unchanged = False
    if unchanged:
        return None
    return InputError(
        f"registry snapshot changed while the night read it (a new export written in place?), nothing"
        f" published: run the night again once the snapshot is complete: {path}"
    )


@contextlib.contextmanager
def reading_snapshot(settings: Settings, *, snapshot_hash: str, check_after: bool) -> Iterator[None]:
    """Reads of settings.registry_path in the block are of the content hashed at discovery. A snapshot
    rewritten in place mid-night (an export job) was read half-written (a polars traceback) or mixed
    with the old one (matched against one, flagged and coverage against the other), and its caches kept
    the new content under the old hash. An error raised in the block while the file has changed, and
    with check_after a change found after it, is the one-line snapshot_changed error."""
    try:
        yield
    except Exception:
        changed = snapshot_changed(settings, snapshot_hash=snapshot_hash)
        if changed is not None:
            raise changed from None
        raise
    if check_after:
        changed = snapshot_changed(settings, snapshot_hash=snapshot_hash)
        if changed is not None:
            raise changed


def start_preparing_snapshot(settings: Settings, *, snapshot_hash: str) -> SnapshotPreparation:
    """prepare_snapshot in a background thread; returns at once.

    A thread, not a process: the build is polars work, which releases the GIL, while a spawned process
    would pay its imports (~1.5 CPU s) and memory of its own. The surname statistics are built first:
    normalize reads nothing else (wait_before_normalize). Up to OVERLAP_NORMALIZE_MAX_CITIZENS (0 for
    now) the rest goes on beside normalize, whose cores are idle part of the time; above it the whole
    build is awaited before normalize, so that it overlaps ingest only: at 10M citizens it holds ~3 GiB
    while preparing, on top of ingest's ~1 GiB but not of normalize's ~4. Wait for it all (wait) before
    match. The stage functions build whatever is still missing themselves, so waiting is needed to use the
    thread's work (and not to build a file twice), never for correctness; a failed build raises where it
    is waited for."""
    citizens = _citizens(settings) if OVERLAP_NORMALIZE_MAX_CITIZENS > 0 else None
    preparation = SnapshotPreparation(
        built=Future(),
        overlaps_normalize=citizens is not None and citizens <= OVERLAP_NORMALIZE_MAX_CITIZENS,
    )

    def statistics_ready() -> None:
        preparation.statistics.set_result(None)

    def build() -> None:
        try:
            prepare_snapshot(settings, snapshot_hash=snapshot_hash, on_statistics=statistics_ready)
        except BaseException as error:  # handed to the thread that waits, which raises it
            if not preparation.statistics.done():
                preparation.statistics.set_exception(error)
            preparation.built.set_exception(error)
        else:
            if not preparation.statistics.done():  # every file was there already
                preparation.statistics.set_result(None)
            preparation.built.set_result(None)

    threading.Thread(target=build, name="prepare-snapshot", daemon=True).start()
    return preparation


# --- the snapshot checked before any work -------------------------------------------------------------

# Integer widths the snapshot may use for birth_year; every other column must have its contract type
# exactly (an ID stored as an integer has lost its leading zeros: 001... became 1...).
_INTEGER_TYPES = (pl.Int16, pl.Int32, pl.Int64, pl.UInt16, pl.UInt32)


def registry_snapshot_problem(path: Path) -> str | None:
    """Why the snapshot cannot be used, in one line, or None. Reads the Parquet footer (columns, types,
    row count), then scans citizen_id once for blanks, duplicates and IDs that are not 12 digits (a
    padded CHAR column, dashes: no row would confirm by ID, and a linkage posting to such an ID fails the
    night's validation, so nothing is published, night after night)."""

    try:
        schema = pl.read_parquet_schema(path)
    except Exception:  # polars raises several types for "not Parquet"; the message says which file
        return f"registry snapshot is not a Parquet file: {path}"
    missing = [name for name in REGISTRY_SCHEMA if name not in schema]
    if missing:
        return f"registry snapshot lacks columns {', '.join(missing)}: {path}"
    mistyped = [
        f"{name} is {schema[name]}, expected {expected}"
        for name, expected in REGISTRY_SCHEMA.items()
        if schema[name] != expected and not (name == "birth_year" and schema[name] in _INTEGER_TYPES)
    ]
    if mistyped:
        return f"registry snapshot has mistyped columns ({'; '.join(mistyped)}): {path}"
    ids = pl.scan_parquet(path).select(
        rows=pl.len(),
        blank=pl.col("citizen_id").is_null().sum() + (pl.col("citizen_id").str.strip_chars() == "").sum(),
        distinct=pl.col("citizen_id").drop_nulls().n_unique(),
        malformed=(~pl.col("citizen_id").str.contains(CITIZEN_ID_PATTERN)).sum(),
    )
    rows, blank, distinct, malformed = ids.collect().row(0)
    if rows == 0:
        return f"registry snapshot has no citizens (0 rows): {path}"
    if blank:
        return f"registry snapshot has {blank} rows without a citizen_id: {path}"
    if distinct < rows:
        return f"registry snapshot has {rows - distinct} duplicate citizen_id values: {path}"
    if malformed:
        return f"registry snapshot has {malformed} citizen_id values that are not 12 digits: {path}"
    return None


def make_cache_private(settings: Settings) -> None:
    """Tighten a cache written before it was owner-only (0700 folder, 0600 files)."""
    folder = cache_dir(settings)
    if not folder.is_dir():
        return
    private_folder(folder)
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
