"""Files quarantined by validation come back when what quarantined them changes.

A file fails the normalized-layer suite (validation_failed) against tonight's as-of and tonight's
rules; with a wrong --as-of every file fails. The ledger keeps, with each such quarantine, the as-of
and the rules version it was judged by. Discovery reads a quarantined file again (as new) when
- it was quarantined by validation and tonight's as-of or rules version differ, or
- an operator asked for it: `vaxsync readmit --file ... | --reason ...` (readmit_requested_at).
Publish moves the old ledger row to ledger_readmissions (the audit) before writing the new one, so the
ledger keeps one row per (path, content) and still proves that every row is in one place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

import duckdb

from validation import suites
from vaxsync.core.reference import reference_path

VALIDATION_REASON = "validation_failed"
_RULE_FILES = (
    Path(suites.__file__),
    reference_path("vaccines.csv"),
)


def validation_rules_version(campaign_start: dt.date) -> str:
    """A short hash of what the normalized-layer verdict depends on besides the as-of: the suites'
    code, the vaccine catalogue and the campaign start. Changing any of them re-admits the files."""
    digest = hashlib.sha256(campaign_start.isoformat().encode())
    for path in _RULE_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def readmittable_files(
    connection: duckdb.DuckDBPyConnection, *, as_of: dt.date, rules_version: str
) -> set[tuple[str, str]]:
    """(source_file, file_hash) of quarantined files to read again tonight."""
    rows = connection.execute(
        """
        select source_file, file_hash from ingest_ledger
        where status = 'quarantined'
          and (readmit_requested_at is not null
               or (quarantine_reason = $reason
                   and (quarantined_as_of is distinct from $as_of
                        or rules_version is distinct from $rules_version)))
        """,
        {"reason": VALIDATION_REASON, "as_of": as_of, "rules_version": rules_version},
    ).fetchall()
    return {(row[0], row[1]) for row in rows}


def request_readmission(
    connection: duckdb.DuckDBPyConnection, *, files: Sequence[str], reasons: Sequence[str]
) -> int:
    """Mark quarantined files, named by their landing path (or a path ending in it) or by quarantine
    reason, to be read again on the next run. Returns how many ledger rows were marked."""
    rows = connection.execute(
        """
        update ingest_ledger set readmit_requested_at = $now
        where status = 'quarantined'
          and (quarantine_reason in (select unnest($reasons::varchar[]))
               or exists (select 1 from unnest($files::varchar[]) f(path)
                          where f.path = source_file or ends_with(f.path, '/' || source_file)))
        returning source_file
        """,
        {
            "now": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "reasons": list(reasons),
            "files": [str(path) for path in files],
        },
    ).fetchall()
    return len(rows)


def archive_readmitted_ledger_rows(connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Inside the publish transaction, before tonight's ledger rows are written: the earlier rows of
    files read again tonight move to ledger_readmissions (none of their rows were placed)."""
    connection.execute(
        """
        insert into ledger_readmissions
        select l.source_file, l.file_hash, l.quarantine_reason, l.quarantine_detail, l.run_id,
               l.quarantined_as_of, l.rules_version, l.readmit_requested_at, $run_id, $now
        from ingest_ledger l join night_ledger n using (source_file, file_hash)
        where l.status = 'quarantined' and l.run_id <> $run_id
        """,
        {"run_id": run_id, "now": dt.datetime.now(dt.UTC).replace(tzinfo=None)},
    )
    connection.execute(
        """
        delete from ingest_ledger
        where status = 'quarantined' and run_id <> $run_id
          and (source_file, file_hash) in (select source_file, file_hash from night_ledger)
        """,
        {"run_id": run_id},
    )


def record_quarantine_context(
    connection: duckdb.DuckDBPyConnection, run_id: str, *, as_of: dt.date, rules_version: str | None
) -> None:
    """Keep, with each file validation quarantined tonight, the as-of and rules it was judged by."""
    connection.execute(
        """
        update ingest_ledger set quarantined_as_of = $as_of, rules_version = $rules_version
        where run_id = $run_id and status = 'quarantined' and quarantine_reason = $reason
        """,
        {"run_id": run_id, "as_of": as_of, "rules_version": rules_version, "reason": VALIDATION_REASON},
    )
