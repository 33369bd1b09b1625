"""Reading landed export files into staged rows, with a ledger entry per file.

See docs/ingestion.md for the encodings, structures and header names handled.
"""

from transforms.ingest.batch_staging import stage_exports
from transforms.ingest.landing import (
    changed_reason,
    file_content_hash,
    landed_file_stat,
    landed_path,
    list_landed_files,
    settling_reason,
    unreadable_file_key,
)
from transforms.ingest.staging import StagedExport, ledger_frame, stage_export
from transforms.ingest.workbook import named_as_workbook, stop_workbook_reader

__all__ = [
    "StagedExport",
    "changed_reason",
    "file_content_hash",
    "landed_file_stat",
    "landed_path",
    "ledger_frame",
    "list_landed_files",
    "named_as_workbook",
    "settling_reason",
    "stage_export",
    "stage_exports",
    "stop_workbook_reader",
    "unreadable_file_key",
]
