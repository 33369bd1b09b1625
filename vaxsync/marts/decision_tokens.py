"""Tokens that bind a review decision to what the reviewer was shown.

Each report row carries `row_token` = HMAC(row key, province, report run) and each offered candidate
`candidate_N_token` = HMAC(row key, candidate citizen ID, report run), with a deployment secret. A token
is written `<run id>.<mac>`, so a line copied on its own (a CSV saved from one sheet) still names its
report. The decision intake recomputes the MACs: an edited row key, a row pasted into another
province's file, or an `accept N` whose candidate is no longer the one shown fails the check.

HMAC-SHA256 runs in DuckDB (sha256 over the padded keys, RFC 2104), one query per frame, so tokens
for every row of a night are computed set-wise; `python_mac` is the reference the tests compare with.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import polars as pl

from vaxsync.core.settings import Settings
from vaxsync.core.sql_steps import DuckDBConfig, in_memory, register_frame
from vaxsync.core.workdir import create_private_folder

SECRET_FILE_NAME = "decision_secret"  # beside the warehouse, 0600, made on first use
MAC_HEX_CHARS = 24  # 96 bits: far beyond guessing, short enough for a spreadsheet cell
TOKEN_SEPARATOR = "."
_BLOCK_BYTES = 64  # SHA-256's block size
_FIELD_SEPARATOR = "\x1f"


def decision_secret(settings: Settings) -> bytes:
    """VAXSYNC_DECISION_SECRET, or the secret generated once into an owner-only file beside the warehouse."""
    if settings.decision_secret:
        return settings.decision_secret.encode("utf-8")
    path = create_private_folder(settings.warehouse_path.parent) / SECRET_FILE_NAME
    if not path.exists():
        _create_secret_file(path)
    return path.read_text(encoding="ascii").strip().encode("ascii")


def _create_secret_file(path: Path) -> None:
    try:  # O_EXCL: two processes starting at once keep the first one's secret
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))


def row_message(run_id: pl.Expr, row_key: pl.Expr, province_code: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit("row"), run_id, row_key, province_code], separator=_FIELD_SEPARATOR)


def candidate_message(run_id: pl.Expr, row_key: pl.Expr, citizen_id: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit("candidate"), run_id, row_key, citizen_id], separator=_FIELD_SEPARATOR)


def macs(messages: pl.Series, secret: bytes) -> pl.Series:
    """HMAC-SHA256 of each message, truncated to MAC_HEX_CHARS hex digits (null message -> null)."""
    key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK_BYTES else secret
    key = key.ljust(_BLOCK_BYTES, b"\0")
    pads = {"inner": bytes(b ^ 0x36 for b in key), "outer": bytes(b ^ 0x5C for b in key)}
    frame = pl.DataFrame({"message": messages}, schema={"message": pl.String}).with_row_index("position")
    # A hash over the messages given, nothing to spill: DuckDB's own limits (a pure function, which the
    # night's settings do not reach; reading them from the environment here could split a night's rules).
    with in_memory(DuckDBConfig()) as connection:
        register_frame(connection, "messages", frame)
        result = connection.sql(
            f"""
            select left(sha256($outer::blob || unhex(sha256($inner::blob || encode(message)))), {MAC_HEX_CHARS})
                   as mac
            from messages order by position
            """,
            params=pads,
        ).pl()
    return result["mac"].alias(messages.name)


def python_mac(message: str, secret: bytes) -> str:
    """The same MAC in plain Python (tests check the DuckDB form against it)."""
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()[:MAC_HEX_CHARS]


def with_tokens(
    frame: pl.DataFrame, messages: dict[str, pl.Expr], run_id: pl.Expr, secret: bytes
) -> pl.DataFrame:
    """Add a `<run id>.<mac>` token column per message expression (null where the message is null)."""
    texts = frame.select(**messages, _run_id=run_id)
    prefix = texts["_run_id"] + TOKEN_SEPARATOR
    return frame.with_columns((prefix + macs(texts[name], secret)).alias(name) for name in messages)


def token_parts(token: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(run id, mac) of a `<run id>.<mac>` token; nulls when it is not of that form."""
    parts = token.str.strip_chars().str.extract_groups(rf"^(.+)\.([0-9a-f]{{{MAC_HEX_CHARS}}})$")
    return parts.struct.field("1"), parts.struct.field("2")


def row_token(run_id: str, row_key: str, province_code: str, secret: bytes) -> str:
    """One row token in plain Python (the reference for tests and for reading a line by hand)."""
    message = _FIELD_SEPARATOR.join(("row", run_id, row_key, province_code))
    return f"{run_id}{TOKEN_SEPARATOR}{python_mac(message, secret)}"


def candidate_token(run_id: str, row_key: str, citizen_id: str, secret: bytes) -> str:
    message = _FIELD_SEPARATOR.join(("candidate", run_id, row_key, citizen_id))
    return f"{run_id}{TOKEN_SEPARATOR}{python_mac(message, secret)}"
