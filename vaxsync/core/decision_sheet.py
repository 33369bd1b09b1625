"""The mismatch report's contract with the decision intake: sheet names, the columns staff fill, the
decision words and the signed-token columns. Reports write these; the intake (vaxsync.marts.decisions)
reads them back, so both take them from here."""

from __future__ import annotations

UNKNOWN_PROVINCE = "??"  # province_code of rows whose province is not known
UNKNOWN_PROVINCE_FOLDER = "unknown"  # "??" is not a safe file name (a glob wildcard, illegal on Windows)
CANDIDATES_SHOWN = 3

SUMMARY_SHEET = "summary"
INSTRUCTIONS_SHEET = "instructions"
RESOLVED_SHEET = "resolved"  # rows resolved by this run: information only, no decision columns
# Decision lines and files of earlier reports that the night refused, with the reason: first in the workbook.
REJECTED_DECISIONS_SHEET = "decisions_rejected"
CONTROL_SHEETS = frozenset(
    {SUMMARY_SHEET, INSTRUCTIONS_SHEET, RESOLVED_SHEET, REJECTED_DECISIONS_SHEET}
)  # the rest: one per reason
REJECTED_DECISION_COLUMNS: tuple[str, ...] = (
    "decision_file",  # its path inside the decisions folder
    "sheet_name",
    "sheet_row",  # null when the whole file was refused
    "row_key",
    "decision_given",
    "reviewer",
    "rejection_vi",
    "rejection_en",
    "rejection_detail",
)
INSTRUCTION_KEY_COLUMN = "key"
INSTRUCTION_VALUE_COLUMN = "value"
REVIEWER_KEY = "reviewer"  # the instructions row whose value staff fill with their name
PROVINCE_KEY = "province_code"
AS_OF_KEY = "as_of"
RUN_ID_KEY = "run_id"
DECIDED_ON_KEY = (
    "decided_on"  # optional: the date staff decided (instructions row or column), kept in the audit
)

SOURCE_FILE_COLUMN = "source_file"
SOURCE_ROW_COLUMN = "source_row"
ROW_KEY_COLUMN = "row_key"  # f"{file_hash}:{source_row}"
DECISION_COLUMN = "decision"
CORRECTED_ID_COLUMN = "corrected_id"  # a 12-digit CCCD, when decision = corrected
NOTE_COLUMN = "note"
DECISION_COLUMNS: tuple[str, ...] = (ROW_KEY_COLUMN, DECISION_COLUMN, CORRECTED_ID_COLUMN, NOTE_COLUMN)
# Signed codes binding a decision to what the report showed (vaxsync.marts.decision_tokens): the row's (row key,
# province, report run) and each candidate's (row key, citizen, report run). Not to be edited.
ROW_TOKEN_COLUMN = "row_token"


def candidate_token_column(rank: int) -> str:
    return f"candidate_{rank}_token"


CANDIDATE_TOKEN_COLUMNS: tuple[str, ...] = tuple(
    candidate_token_column(rank) for rank in range(1, CANDIDATES_SHOWN + 1)
)
TOKEN_COLUMNS: tuple[str, ...] = (ROW_TOKEN_COLUMN, *CANDIDATE_TOKEN_COLUMNS)

ACCEPT_DECISIONS: tuple[str, ...] = tuple(f"accept {rank}" for rank in range(1, CANDIDATES_SHOWN + 1))
REJECT_DECISION = "reject"
CORRECTED_DECISION = "corrected"
WITHDRAW_DECISION = "withdraw"  # takes back the row's earlier decision (a reviewer's rejection)
DECISION_CHOICES: tuple[str, ...] = (
    *ACCEPT_DECISIONS,
    REJECT_DECISION,
    CORRECTED_DECISION,
    WITHDRAW_DECISION,
)


def header_code(header: str) -> str:
    """The column code of a header written by header_text (its last line, without the parentheses); a
    bare code, as in files from before the labels or typed by hand, is returned as it is."""
    return header.strip().rsplit("\n", 1)[-1].strip().removeprefix("(").removesuffix(")").strip()
