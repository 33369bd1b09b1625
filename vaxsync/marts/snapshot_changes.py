"""A registry snapshot that drops citizens who already have posted shots: their shots are flagged.

Each night, inside the publish transaction, every posted shot whose citizen is absent from tonight's
snapshot gets a shot_conflicts row `citizen_not_in_snapshot` (posted_flagged, on the shot's winning
source row), and the flag is lifted when a later snapshot has the citizen again. The shots stay
posted (the registry may have merged or withdrawn an ID; a person decides), but coverage, which
counts the snapshot's population, cannot place them: the run report and the CLI summary say how many.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

CODE = "citizen_not_in_snapshot"
POSTED_FLAGGED = "posted_flagged"


def flag_shots_of_missing_citizens(
    connection: duckdb.DuckDBPyConnection, registry_path: Path, run_id: str, registry_hash: str
) -> None:
    """Refresh the citizen_not_in_snapshot flags against tonight's snapshot (one anti-join)."""
    connection.execute(
        "create or replace temp table snapshot_citizens as select citizen_id from read_parquet($path)",
        {"path": str(registry_path)},
    )
    connection.execute(
        """
        delete from shot_conflicts
        where conflict_code = $code and citizen_id in (select citizen_id from snapshot_citizens)
        """,
        {"code": CODE},
    )
    connection.execute(
        """
        insert or ignore into shot_conflicts
            (file_hash, source_row, conflict_code, action, shot_id, citizen_id, related_shot_id, detail, run_id)
        select src.file_hash, src.source_row, $code, $action, s.shot_id, s.citizen_id, null,
               'citizen not in registry snapshot ' || $snapshot, $run_id
        from synced_shots s
        join shot_sources src on src.shot_id = s.shot_id and not src.is_duplicate
        where not exists (select 1 from snapshot_citizens c where c.citizen_id = s.citizen_id)
        """,
        {"code": CODE, "action": POSTED_FLAGGED, "snapshot": registry_hash[:12], "run_id": run_id},
    )


def count_flagged_shots(connection: duckdb.DuckDBPyConnection) -> int:
    """Posted shots whose citizen is not in the latest snapshot."""
    rows = connection.execute(
        "select count(distinct shot_id) from shot_conflicts where conflict_code = ?", [CODE]
    ).fetchall()
    return int(rows[0][0])
