"""Tokens binding a decision to the report it came from: HMAC-SHA256 in DuckDB, the deployment secret."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxsync.core.decision_sheet import CANDIDATE_TOKEN_COLUMNS, ROW_KEY_COLUMN, ROW_TOKEN_COLUMN
from vaxsync.core.settings import Settings
from vaxsync.marts.decision_tokens import (
    MAC_HEX_CHARS,
    candidate_token,
    decision_secret,
    macs,
    python_mac,
    row_token,
    token_parts,
)
from vaxsync.reports.province_reports import with_decision_tokens

RUN = "2023-01-31@20230131T020000"


@settings(max_examples=12, deadline=None)
@given(
    messages=st.lists(st.text(min_size=0, max_size=40) | st.none(), min_size=1, max_size=8),
    secret=st.binary(min_size=1, max_size=100),  # longer than a block: hashed first, as RFC 2104 says
)
def test_the_duckdb_mac_is_hmac_sha256(messages: list[str | None], secret: bytes) -> None:
    computed = macs(pl.Series("m", messages, dtype=pl.String), secret).to_list()
    expected = [
        None if text is None else hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:MAC_HEX_CHARS]
        for text in messages
    ]
    assert computed == expected


def test_a_secret_is_generated_once_owner_only_unless_configured(tmp_path: Path) -> None:
    local = Settings(warehouse_path=tmp_path / "w" / "warehouse.duckdb")
    first = decision_secret(local)
    path = tmp_path / "w" / "decision_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) == 64
    assert decision_secret(local) == first  # kept, not regenerated
    configured = Settings(warehouse_path=local.warehouse_path, decision_secret="from-the-vault-0123")
    assert decision_secret(configured) == b"from-the-vault-0123"


def test_token_parts_split_run_and_mac() -> None:
    token = row_token(RUN, "f:1", "01", b"s")
    parts = pl.select(*token_parts(pl.lit(token))).row(0)
    assert parts == (RUN, python_mac(f"row\x1f{RUN}\x1ff:1\x1f01", b"s"))
    assert pl.select(*token_parts(pl.lit("not a token"))).row(0) == (None, None)


def test_the_report_signs_each_row_for_its_province_and_each_shown_candidate() -> None:
    shown = pl.DataFrame(
        {
            "province_code": ["01", "79"],
            ROW_KEY_COLUMN: ["f:1", "f:2"],
            **{column: [None, None] for column in (ROW_TOKEN_COLUMN, *CANDIDATE_TOKEN_COLUMNS)},
        },
        schema_overrides={column: pl.String for column in (ROW_TOKEN_COLUMN, *CANDIDATE_TOKEN_COLUMNS)},
    )
    rows = pl.DataFrame(
        {ROW_KEY_COLUMN: ["f:1", "f:2"], "file_hash": ["f", "f"], "source_row": [1, 2]},
        schema_overrides={"source_row": pl.Int32},
    )
    offered = pl.DataFrame(
        {"file_hash": ["f", "f"], "source_row": [1, 1], "candidate_rank": [1, 2], "citizen_id": ["A", "B"]},
        schema_overrides={"source_row": pl.Int32, "candidate_rank": pl.Int32},
    )
    signed = with_decision_tokens(shown, rows, offered, run_id=RUN, secret=b"s")
    assert signed.columns == shown.columns
    assert signed[ROW_TOKEN_COLUMN].to_list() == [
        row_token(RUN, "f:1", "01", b"s"),
        row_token(RUN, "f:2", "79", b"s"),
    ]
    assert signed.select(CANDIDATE_TOKEN_COLUMNS).rows() == [
        (candidate_token(RUN, "f:1", "A", b"s"), candidate_token(RUN, "f:1", "B", b"s"), None),
        (None, None, None),
    ]
