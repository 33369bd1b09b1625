"""Review decisions: each line is applied or rejected with one specific reason; matches follow the applied ones."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from vaxsync.core.reasons import DECISION_REJECTIONS
from vaxsync.marts.decision_tokens import candidate_token, row_token
from vaxsync.marts.decisions import (
    DECISION_LINE_SCHEMA,
    _override_matches,
    decided_rows,
    replacing_rows,
    validate_decisions,
)

HASH = "f" * 64
PROVINCE = "01"
RUN = "2023-01-31@20230131T020000"
SECRET = b"unit-test-secret"
CANDIDATE_1, CANDIDATE_2, DEAD, CORRECTED = "001090000001", "001090000002", "001090000003", "001090000009"
GIRL_2016 = "001216000004"  # registered, but not the man of row 2

OPEN_BACKLOG = pl.DataFrame(
    {
        "file_hash": [HASH] * 6,
        "source_row": [1, 2, 3, 4, 5, 6],
        "province_code": [PROVINCE, PROVINCE, "79", PROVINCE, PROVINCE, PROVINCE],
        "reason_code": [
            "review_required", "no_confident_match", "review_required", "vaccine_unknown", "reviewer_rejected",
            "review_required",
        ],
        "candidate_citizen_id": [CANDIDATE_1, None, CANDIDATE_1, None, None, CANDIDATE_2],
        "is_posted_by_decision": [False] * 5 + [True],  # row 6 was posted by an accept on an earlier night
        "decided_by": [None] * 5 + ["Lê Văn C"],  # by another reviewer than this file's
        "decided_citizen_id": [None] * 6,
    },
    schema_overrides={"source_row": pl.Int32, "decided_citizen_id": pl.String},
)  # fmt: skip
# The candidates offered now (after tonight's scoring), every rank.
CANDIDATES = pl.DataFrame(
    {
        "file_hash": [HASH] * 3,
        "source_row": [1, 1, 1],
        "candidate_rank": [1, 2, 3],
        "citizen_id": [CANDIDATE_1, CANDIDATE_2, DEAD],
        "match_probability": [0.9, 0.8, 0.7],
        "impossible_reason": [None, None, None],
    },
    schema_overrides={"source_row": pl.Int32, "candidate_rank": pl.Int32},
)
MAN_1990 = {"name_key": "nguyen van an", "family_name_key": "nguyen", "given_name_key": "an"}
REGISTRY = pl.LazyFrame(
    {
        "citizen_id": [CANDIDATE_1, CANDIDATE_2, DEAD, CORRECTED, GIRL_2016],
        "name_key": ["nguyen van an"] * 4 + ["le thi hoa"],
        "family_name_key": ["nguyen"] * 4 + ["le"],
        "given_name_key": ["an"] * 4 + ["hoa"],
        "date_of_birth": [dt.date(1990, 1, 1)] * 4 + [dt.date(2016, 5, 5)],
        "birth_year": [1990] * 4 + [2016],
        "sex": ["M"] * 4 + ["F"],
        "date_of_death": [None, None, dt.date(2021, 1, 1), None, None],
    }
)
# Rows 1-3 and 5 can be matched; row 4 was rejected for its vaccine, which no decision can fix.
MATCHABLE = pl.DataFrame(
    {
        "file_hash": [HASH] * 4,
        "source_row": [1, 2, 3, 5],
        "vaccinated_date": [dt.date(2022, 1, 10)] * 4,
        **{name: [value] * 4 for name, value in MAN_1990.items()},
        "birth_date": [dt.date(1990, 1, 1)] * 4,
        "birth_date_alt": pl.Series([None] * 4, dtype=pl.Date),
        "birth_year": [1990] * 4,
        "sex_code": ["M"] * 4,
    },
    schema_overrides={"source_row": pl.Int32},
)
SHOWN = {1: [CANDIDATE_1, CANDIDATE_2, DEAD]}  # what the report showed, per source row


def key(source_row: int) -> str:
    return f"{HASH}:{source_row}"


def signed_line(
    source_row: int,
    decision: str | None,
    corrected_id: str | None = None,
    *,
    shown: list[str] | None = None,
    signed_province: str = PROVINCE,
) -> dict[str, object]:
    """A line as the report gave it: the row token for the row's province, candidate tokens for what was shown."""
    province = (
        OPEN_BACKLOG.filter(pl.col("source_row") == source_row)["province_code"].first() or signed_province
    )
    citizens = shown if shown is not None else SHOWN.get(source_row, [])
    return {
        "row_key": key(source_row),
        "row_token": row_token(RUN, key(source_row), str(province), SECRET),
        "candidate_tokens": [candidate_token(RUN, key(source_row), citizen, SECRET) for citizen in citizens]
        + [None] * (3 - len(citizens)),
        "decision": decision,
        "corrected_id": corrected_id,
    }


def decision_lines(*lines: dict[str, object], **overrides: object) -> pl.DataFrame:
    """Lines of one reviewer's file dropped in province 01's folder."""
    base = {
        "decision_file": "01/mismatch_01_2023-01-31.xlsx",
        "decision_file_hash": "d" * 64,
        "sheet_name": "review_required",
        "reviewer": "Trần Thị B",
        "decided_at": dt.datetime(2023, 2, 1, 9),
        "stated_decided_on": None,
        "file_province_code": PROVINCE,
        "stated_source_row": None,
        "note": None,
        "has_formula": False,
        **overrides,
    }
    rows = [{**base, "sheet_row": 2 + index, **line} for index, line in enumerate(lines)]
    return pl.DataFrame(rows, schema=DECISION_LINE_SCHEMA)


def validate(*lines: dict[str, object], **overrides: object) -> pl.DataFrame:
    return validate_decisions(
        decision_lines(*lines, **overrides), OPEN_BACKLOG, CANDIDATES, REGISTRY, MATCHABLE, secret=SECRET
    )


def outcome(audit: pl.DataFrame) -> tuple[object, ...]:
    return audit.select("status", "rejection_reason", "after_citizen_id").row(0)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (signed_line(1, "accept 2"), ("applied", None, CANDIDATE_2)),
        (signed_line(1, "Accept  1"), ("applied", None, CANDIDATE_1)),
        (signed_line(1, "reject"), ("applied", None, None)),
        (signed_line(2, "corrected", CORRECTED), ("applied", None, CORRECTED)),
        (signed_line(5, "withdraw"), ("applied", None, None)),
        (signed_line(1, "accept 3"), ("rejected", "impossible_link", None)),
        (signed_line(1, "accept 5"), ("rejected", "candidate_not_offered", None)),
        (signed_line(2, "accept 1"), ("rejected", "candidate_not_offered", None)),
        (signed_line(2, "corrected", "12345"), ("rejected", "malformed_id", None)),
        (signed_line(2, "corrected", "001099999999"), ("rejected", "id_not_in_registry", None)),
        (signed_line(2, "corrected", GIRL_2016), ("rejected", "correction_not_confirmed", None)),
        (signed_line(3, "accept 1"), ("rejected", "wrong_province", None)),
        (signed_line(9, "accept 1"), ("rejected", "unknown_row", None)),
        ({**signed_line(1, "accept 1"), "row_key": "not-a-key"}, ("rejected", "row_key_mismatch", None)),
        (signed_line(1, "yes please"), ("rejected", "unknown_decision", None)),
        (signed_line(4, "corrected", CORRECTED), ("rejected", "row_not_matchable", None)),
        (signed_line(1, "withdraw"), ("rejected", "nothing_to_withdraw", None)),
        (signed_line(6, "withdraw"), ("applied", None, None)),
        (signed_line(6, "corrected", CORRECTED), ("rejected", "already_decided", None)),
    ],
)
def test_each_decision_is_applied_or_rejected_with_its_reason(
    line: dict[str, object], expected: tuple[object, ...]
) -> None:
    audit = validate(line)
    assert outcome(audit) == expected
    assert expected[1] is None or expected[1] in DECISION_REJECTIONS


def test_an_accept_applies_to_the_citizen_shown_not_to_whoever_holds_that_rank_now() -> None:
    # The report of two nights ago showed CANDIDATE_2 first; after a re-score it is candidate 2.
    moved = validate(signed_line(1, "accept 1", shown=[CANDIDATE_2, CANDIDATE_1, DEAD]))
    assert outcome(moved) == ("applied", None, CANDIDATE_2)
    # The citizen shown as candidate 2 is no longer offered at all: candidate 2 now is someone else.
    stale = validate(signed_line(1, "accept 2", shown=[CANDIDATE_1, "001090000077", DEAD]))
    assert outcome(stale) == ("rejected", "decision_stale", None)
    assert stale["report_run_id"].to_list() == [RUN]


@pytest.mark.parametrize(
    "tamper",
    [
        {"row_token": None},
        {"row_token": "garbage"},
        {"row_key": key(2)},  # a row key edited to another row: the token no longer covers it
        {"row_token": row_token(RUN, key(1), PROVINCE, b"another deployment")},
    ],
)
def test_an_unsigned_or_altered_row_is_refused(tamper: dict[str, object]) -> None:
    assert outcome(validate({**signed_line(1, "reject"), **tamper})) == ("rejected", "token_invalid", None)


def test_a_candidate_token_from_another_report_run_or_row_is_refused() -> None:
    line = signed_line(1, "accept 2")
    tokens = list(line["candidate_tokens"])  # type: ignore[call-overload]
    tokens[1] = candidate_token("2023-01-30@20230130T020000", key(1), CANDIDATE_2, SECRET)
    assert outcome(validate({**line, "candidate_tokens": tokens})) == ("rejected", "token_invalid", None)
    tokens[1] = candidate_token(RUN, key(2), CANDIDATE_2, SECRET)  # copied from another row
    assert outcome(validate({**line, "candidate_tokens": tokens})) == ("rejected", "decision_stale", None)


def test_the_province_is_the_folders_not_the_files_claim() -> None:
    # Province 79's row, signed for 79, decided from a file dropped in 01's folder.
    assert outcome(validate(signed_line(3, "reject"))) == ("rejected", "wrong_province", None)
    # The same line from 79's folder applies.
    assert outcome(validate(signed_line(3, "reject"), file_province_code="79"))[:2] == ("applied", None)
    # A file outside any province folder: every line refused.
    assert outcome(validate(signed_line(1, "reject"), file_province_code=None)) == (
        "rejected",
        "not_in_province_folder",
        None,
    )


def test_formula_lines_and_lines_without_a_reviewer_are_refused() -> None:
    assert outcome(validate(signed_line(1, "reject"), has_formula=True))[1] == "formula_cell"
    assert outcome(validate(signed_line(1, "reject"), reviewer=None))[1] == "reviewer_missing"
    assert outcome(validate(signed_line(1, "reject"), reviewer="  "))[1] == "reviewer_missing"


def test_an_unconfirmed_correction_says_which_fields_differ() -> None:
    audit = validate(signed_line(2, "corrected", GIRL_2016)).row(0, named=True)
    assert audit["rejection_reason"] == "correction_not_confirmed"
    assert audit["rejection_detail"] == "differs: name, birth date, sex"


def test_the_audit_row_keeps_who_when_the_note_and_the_before_state() -> None:
    lines = decision_lines(signed_line(1, "accept 2")).with_columns(
        note=pl.lit("gọi điện xác nhận"), stated_decided_on=pl.lit(dt.date(2023, 2, 1))
    )
    audit = validate_decisions(lines, OPEN_BACKLOG, CANDIDATES, REGISTRY, MATCHABLE, secret=SECRET).row(
        0, named=True
    )
    assert (audit["reviewer"], audit["note"], audit["stated_decided_on"]) == (
        "Trần Thị B",
        "gọi điện xác nhận",
        dt.date(2023, 2, 1),
    )
    assert audit["decided_at"] == dt.datetime(2023, 2, 1, 9)
    assert (audit["before_reason_code"], audit["before_candidate_citizen_id"]) == (
        "review_required",
        CANDIDATE_1,
    )
    assert (audit["file_hash"], audit["source_row"], audit["match_probability"]) == (HASH, 1, 0.8)


def test_two_different_decisions_on_one_row_cancel_each_other() -> None:
    audit = validate(signed_line(1, "accept 1"), signed_line(1, "accept 2"), signed_line(2, "reject"))
    assert audit["rejection_reason"].to_list() == ["conflicting_decisions", "conflicting_decisions", None]


def test_the_same_decision_twice_is_not_a_conflict() -> None:
    audit = validate(signed_line(1, "accept 1"), signed_line(1, "accept 1"))
    assert audit["status"].to_list() == ["applied", "applied"]


def test_a_stated_source_row_must_agree_with_the_row_key() -> None:
    lines = decision_lines(signed_line(1, "accept 1")).with_columns(stated_source_row=pl.lit("7"))
    audit = validate_decisions(lines, OPEN_BACKLOG, CANDIDATES, REGISTRY, MATCHABLE, secret=SECRET)
    assert audit["rejection_reason"].to_list() == ["row_key_mismatch"]


MATCHES = pl.DataFrame(
    {
        "file_hash": [HASH] * 4,
        "source_row": [1, 2, 3, 5],
        "citizen_id": [None, None, CANDIDATE_1, CANDIDATE_1],
        "match_method": [None, None, "probabilistic", "probabilistic"],
        "match_score": [None, None, 0.99, 0.99],
        "candidate_citizen_id": [CANDIDATE_1, None, CANDIDATE_1, CANDIDATE_1],
        "match_reason": ["review_required", "no_confident_match", None, None],
        "match_detail": [None, None, None, None],
    },
    schema_overrides={"source_row": pl.Int32},
)
EARLIER_REJECTIONS = pl.DataFrame(
    {"file_hash": [HASH, HASH], "source_row": [3, 5]}, schema_overrides={"source_row": pl.Int32}
)


def test_applied_decisions_override_matches_and_a_rejection_keeps_holding() -> None:
    applied = validate(signed_line(1, "accept 2"), signed_line(2, "reject")).filter(
        pl.col("status") == "applied"
    )
    # Rows 3 and 5 were rejected by a reviewer on an earlier night: tonight's automatic match must not post them.
    result = _override_matches(MATCHES, applied, EARLIER_REJECTIONS).sort("source_row")
    assert result["citizen_id"].to_list() == [CANDIDATE_2, None, None, None]
    assert result["match_method"].to_list() == ["review_decision", None, None, None]
    assert result["match_reason"].to_list() == [
        None,
        "reviewer_rejected",
        "reviewer_rejected",
        "reviewer_rejected",
    ]
    assert result["match_score"].to_list() == [0.8, None, None, None]


def test_a_withdrawn_rejection_lets_the_automatic_match_decide_again() -> None:
    applied = validate(signed_line(5, "withdraw")).filter(pl.col("status") == "applied")
    result = _override_matches(MATCHES, applied, EARLIER_REJECTIONS).sort("source_row")
    assert result.filter(pl.col("source_row") == 5).select("citizen_id", "match_method").row(0) == (
        CANDIDATE_1,
        "probabilistic",
    )
    assert result.filter(pl.col("source_row") == 3)["match_reason"].item() == "reviewer_rejected"


def test_an_unconfirmed_correction_holds_its_row_tonight() -> None:
    audit = validate(signed_line(2, "corrected", GIRL_2016))
    matches = MATCHES.with_columns(
        citizen_id=pl.when(pl.col("source_row") == 2).then(pl.lit(CANDIDATE_1)).otherwise("citizen_id")
    )
    unconfirmed = audit.filter(pl.col("rejection_reason") == "correction_not_confirmed")
    result = _override_matches(matches, audit.clear(), EARLIER_REJECTIONS.clear(), unconfirmed)
    row = result.filter(pl.col("source_row") == 2).row(0, named=True)
    assert (row["citizen_id"], row["match_reason"]) == (None, "review_required")
    assert "did not confirm" in row["match_detail"]


def test_decided_rows_are_the_parsed_row_keys_of_lines_that_may_apply() -> None:
    lines = decision_lines(
        signed_line(1, "accept 2"),
        {**signed_line(2, "reject"), "row_key": "junk"},
        {**signed_line(3, "reject"), "is_decidable": False},  # e.g. a stale accept: its row is not re-matched
    )
    assert decided_rows(lines).rows() == [(HASH, 1)]


# --- a reviewer replacing their own decision that posted a row --------------------------------------------

# Row 6 was posted on an earlier night by Trần Thị B's own `corrected`; tonight it is matched again.
OWN_POSTING = OPEN_BACKLOG.with_columns(
    decided_by=pl.when(pl.col("source_row") == 6).then(pl.lit("Trần  thị b")).otherwise("decided_by")
)
MATCHABLE_WITH_6 = pl.concat([MATCHABLE, MATCHABLE.head(1).with_columns(source_row=pl.lit(6, pl.Int32))])


def validate_own(*lines: dict[str, object], **overrides: object) -> pl.DataFrame:
    return validate_decisions(
        decision_lines(*lines, **overrides),
        OWN_POSTING,
        CANDIDATES,
        REGISTRY,
        MATCHABLE_WITH_6,
        secret=SECRET,
    )


def test_a_reviewer_replaces_their_own_posted_decision_which_is_checked_like_any_decision() -> None:
    # The same reviewer (names compared without case or repeated spaces) corrects the ID again.
    assert outcome(validate_own(signed_line(6, "corrected", CORRECTED))) == ("applied", None, CORRECTED)
    assert outcome(validate_own(signed_line(6, "reject"))) == ("applied", None, None)
    # The new ID must confirm like any ID: a girl born in 2016 for a man born in 1990 is refused.
    refused = validate_own(signed_line(6, "corrected", GIRL_2016))
    assert outcome(refused) == ("rejected", "correction_not_confirmed", None)
    assert outcome(validate_own(signed_line(6, "corrected", "001099999999"))) == (
        "rejected",
        "id_not_in_registry",
        None,
    )
    # Another reviewer's line on the same row: the posting stands, it must be withdrawn first.
    other = validate_own(signed_line(6, "corrected", CORRECTED), reviewer="Phạm Văn D")
    assert outcome(other) == ("rejected", "already_decided", None)
    # Withdrawing stays possible for anyone with the row's token.
    assert outcome(validate_own(signed_line(6, "withdraw"), reviewer="Phạm Văn D")) == ("applied", None, None)


def test_only_decidable_lines_of_the_rows_own_reviewer_make_a_posted_row_replaced() -> None:
    lines = decision_lines(
        signed_line(6, "corrected", CORRECTED),
        signed_line(1, "accept 2"),
        signed_line(6, "corrected", CORRECTED),
    ).with_columns(
        is_decidable=pl.Series([True, True, False]), replaces_own_decision=pl.Series([True, False, True])
    )
    assert replacing_rows(lines).rows() == [(HASH, 6)]


def test_a_replaced_posting_never_keeps_the_automatic_match() -> None:
    matches = pl.concat(
        [
            MATCHES,
            MATCHES.head(1).with_columns(
                source_row=pl.lit(6, pl.Int32), citizen_id=pl.lit(CANDIDATE_2), match_method=pl.lit("id_exact"),
                match_score=pl.lit(1.0), match_reason=pl.lit(None, pl.String),
            ),
        ]
    )  # fmt: skip
    replaced = pl.DataFrame(
        {"file_hash": [HASH], "source_row": [6]}, schema_overrides={"source_row": pl.Int32}
    )
    # The replacing correction did not confirm: the row waits in review, not on tonight's automatic match.
    refused = validate_own(signed_line(6, "corrected", GIRL_2016))
    unconfirmed = refused.filter(pl.col("rejection_reason") == "correction_not_confirmed")
    held = _override_matches(matches, refused.clear(), EARLIER_REJECTIONS.clear(), unconfirmed, replaced)
    row = held.filter(pl.col("source_row") == 6).row(0, named=True)
    assert (row["citizen_id"], row["match_reason"]) == (None, "review_required")
    # Refused for any other reason (here: two lines disagreeing), the row waits in review too.
    conflicting = validate_own(signed_line(6, "corrected", CORRECTED), signed_line(6, "reject"))
    assert set(conflicting["rejection_reason"]) == {"conflicting_decisions"}
    held = _override_matches(matches, conflicting.clear(), EARLIER_REJECTIONS.clear(), None, replaced)
    assert held.filter(pl.col("source_row") == 6).select("citizen_id", "match_reason").row(0) == (
        None,
        "review_required",
    )
    # Applied, it posts on the new citizen.
    applied = validate_own(signed_line(6, "corrected", CORRECTED))
    posted = _override_matches(matches, applied, EARLIER_REJECTIONS.clear(), None, replaced)
    assert posted.filter(pl.col("source_row") == 6).select("citizen_id", "match_method").row(0) == (
        CORRECTED,
        "review_decision",
    )


def test_the_audit_says_which_lines_replace_an_earlier_decision() -> None:
    # Row 1: a first decision. Row 5 waits as reviewer_rejected: a correction that applies replaces that
    # rejection. Row 6 was posted by this reviewer's own accept: the new line replaces it (the posting is
    # taken back) even though it cannot apply (the row is not matchable tonight).
    first_and_after_reject = validate(signed_line(1, "Accept 1"), signed_line(5, "corrected", CORRECTED))
    assert first_and_after_reject.select("status", "replaces_earlier_decision").rows() == [
        ("applied", False),
        ("applied", True),
    ]
    own = validate(
        signed_line(6, " ok "), signed_line(6, "corrected", CORRECTED), signed_line(6, "withdraw"),
        reviewer="Lê Văn C", is_decidable=True, replaces_own_decision=True,
    )  # fmt: skip
    assert own["replaces_earlier_decision"].to_list() == [False, True, False]
