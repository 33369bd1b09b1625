"""Every reason code and its facets, read from ONE catalogue: `data/reference/reasons.csv`.

A code says why a row is not posted, why a file or a decision is refused, what conflict a shot has, how
a backlog row was resolved or why a shot was retracted. Each catalogue row is one code of one closed
list, with every fact the code base needs about it:

| column | meaning |
|---|---|
| list | the closed list, i.e. the column the code is written to (CLOSED_LISTS below) |
| code | the code itself; unique within its list (a code may be in two lists, with a text for each) |
| layer | the stage that gives the code (LAYERS below) |
| priority | 1 first: when several rules of the layer apply, the first by priority is the row's reason (blank: not ranked) |
| rematchable | backlog only: a match against a newer registry, or a reviewer, can still resolve the row |
| conflict | what the conflict does, for a shot_conflicts code (CONFLICT_ACTIONS below; blank: not a conflict) |
| label_en, label_vi | backlog only: a short label for column headers and tables |
| text_en, text_vi | the plain-language explanation shown in reports; `{campaign_start}` in a text is the campaign start setting's default (`{campaign_start:%d/%m/%Y}` in Vietnamese) |

Every list below is a projection of the catalogue, defined here once; other modules import it from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import polars as pl

from vaxsync.core.reference import reference_path
from vaxsync.core.setting_defaults import CAMPAIGN_START

CATALOGUE_PATH = reference_path("reasons.csv")
# The closed list -> the column its codes are written to.
CLOSED_LISTS: dict[str, str] = {
    "backlog": "unposted_backlog.reason_code",
    "quarantine": "ingest_ledger.quarantine_reason",
    "decision_line": "review_decisions.rejection_reason",
    "decision_file": "review_decision_files.quarantine_reason",
    "shot_conflict": "shot_conflicts.conflict_code",
    "resolution": "unposted_backlog.resolution",
    "retraction": "retracted_shots.retraction_reason",
    "deferral": "deferred_files.reason",
}
LAYERS = ("ingest", "normalize", "validation", "match", "events", "snapshot", "review")
# held: the row waits in the backlog (same code as its backlog reason); record_flag: posted, flagged;
# sequence_flag: posted, flagged, recomputed when the person's dose sequence changes; snapshot_flag: a
# posted shot whose citizen the latest registry snapshot no longer has (vaxsync.marts.snapshot_changes).
CONFLICT_ACTIONS = ("held", "record_flag", "sequence_flag", "snapshot_flag")
CATALOGUE_SCHEMA: dict[str, pl.DataType] = {
    "list": pl.Enum(list(CLOSED_LISTS)),
    "code": pl.String(),
    "layer": pl.Enum(list(LAYERS)),
    "priority": pl.Int8(),
    "rematchable": pl.Boolean(),
    "conflict": pl.Enum(list(CONFLICT_ACTIONS)),
    "label_en": pl.String(),
    "label_vi": pl.String(),
    "text_en": pl.String(),
    "text_vi": pl.String(),
}


class Reason(NamedTuple):
    english: str
    vietnamese: str


def read_catalogue(path: Path = CATALOGUE_PATH) -> pl.DataFrame:
    """The catalogue in file order (lists keep that order: reports show reasons in it). An unknown list,
    layer or conflict action fails the read."""
    return pl.read_csv(path, schema=CATALOGUE_SCHEMA)


REASON_CATALOGUE = read_catalogue()


def _rows(list_name: str, where: pl.Expr | None = None) -> pl.DataFrame:
    in_list = pl.col("list") == list_name
    return REASON_CATALOGUE.filter(in_list if where is None else in_list & where)


def texts(list_name: str, where: pl.Expr | None = None) -> dict[str, Reason]:
    """Code -> its explanation, for the codes of one list (those `where` keeps), in catalogue order."""
    rows = _rows(list_name, where).select("code", "text_en", "text_vi")
    return {
        code: Reason(filled(english), filled(vietnamese)) for code, english, vietnamese in rows.iter_rows()
    }


def filled(text: str) -> str:
    """A catalogue text with the settings it names filled in (the campaign start has its home in settings)."""
    return text.format(campaign_start=CAMPAIGN_START)


def codes(list_name: str, where: pl.Expr | None = None, *, by_priority: bool = False) -> tuple[str, ...]:
    """The codes of one list that `where` keeps, in catalogue order or by priority."""
    rows = _rows(list_name, where)
    if by_priority:
        rows = rows.sort("priority", maintain_order=True)
    return tuple(rows["code"])


def _conflict(action: str) -> pl.Expr:
    return pl.col("conflict") == action


# Row-level reasons: one of these on every unposted_backlog row.
BACKLOG_REASONS: dict[str, Reason] = texts("backlog")
# Short labels of the backlog reasons, for column headers and tables (the sentences are too long).
BACKLOG_REASON_LABELS: dict[str, Reason] = {
    code: Reason(english, vietnamese)
    for code, english, vietnamese in _rows("backlog").select("code", "label_en", "label_vi").iter_rows()
}
# The normalize stage's rejections, first that applies first (transforms/normalize/rejects.py).
REJECT_PRIORITY: tuple[str, ...] = codes(
    "backlog", (pl.col("layer") == "normalize") & pl.col("priority").is_not_null(), by_priority=True
)
# Backlog reasons a match against a newer registry (or a reviewer) can resolve: re-matched nightly
# (vaxsync.marts.backlog). Row-level data errors need a resent file instead.
REMATCHABLE_REASONS: tuple[str, ...] = codes("backlog", pl.col("rematchable"))

# Conflicts between a vaccination record and the person's history (vaxsync.marts.events, docs/events.md).
# Held conflicts hold the row in the backlog under the same code; the first by priority is its reason.
HOLD_PRIORITY: tuple[str, ...] = codes("backlog", _conflict("held"), by_priority=True)
HELD_CONFLICTS: tuple[str, ...] = HOLD_PRIORITY
# Conflicts with the product's rules that do not make the record doubtful: the dose posts, flagged.
RECORD_FLAGS: tuple[str, ...] = codes("backlog", _conflict("record_flag"))
# Conflicts with the person's own sequence: posted, flagged, recomputed when the sequence changes.
SEQUENCE_FLAGS: tuple[str, ...] = codes("shot_conflict", _conflict("sequence_flag"))
# The event rules' shot_conflicts codes and their texts (a held or record-flag code keeps its backlog text).
SHOT_CONFLICTS: dict[str, Reason] = {
    **{code: BACKLOG_REASONS[code] for code in (*HOLD_PRIORITY, *RECORD_FLAGS)},
    **texts("shot_conflict", _conflict("sequence_flag")),
}
# A posted shot whose citizen the latest registry snapshot no longer has: also a shot_conflicts code,
# flagged, kept apart from the event rules.
SNAPSHOT_CONFLICTS: dict[str, Reason] = texts("shot_conflict", _conflict("snapshot_flag"))

# File-level reasons: one of these on every quarantined ingest_ledger row.
QUARANTINE_REASONS: dict[str, Reason] = texts("quarantine")
# Why a reviewer's decision line was not applied: one of these on every rejected review_decisions row.
DECISION_REJECTIONS: dict[str, Reason] = texts("decision_line")
# A decision file refused whole (review_decision_files.status = 'quarantined').
DECISION_FILE_REASONS: dict[str, Reason] = texts("decision_file")
# How a backlog row was resolved (unposted_backlog.resolution); those a reviewer's decision gives.
RESOLUTIONS: dict[str, Reason] = texts("resolution")
DECISION_RESOLUTIONS: tuple[str, ...] = codes("resolution", pl.col("layer") == "review")
# Why a posted shot was retracted (retracted_shots.retraction_reason, shot_sources.inactive_reason).
RETRACTION_REASONS: dict[str, Reason] = texts("retraction")
# Why discover left a landed file for a later night (deferred_files.reason; transforms/ingest/landing.py).
DEFERRAL_REASONS: dict[str, Reason] = texts("deferral")


class DetailText(NamedTuple):
    """A reason detail as the pipeline writes it (a regex with named groups) and its sentences.

    Groups named `term…` are comma-separated codes or words translated through DETAIL_TERMS, groups named
    `percent…` are probabilities shown as percentages; other groups are shown as they are (values as sent).
    `reasons` limits a text to those reason codes (empty: any reason)."""

    pattern: str
    english: str
    vietnamese: str
    reasons: tuple[str, ...] = ()


_VALUE_AS_SENT_REASONS = ("vaccine_unknown", "vaccination_date_invalid", "birth_date_invalid")
# The matching stage's details (matching/deterministic.py, matching/probabilistic.py), the normalize stage's
# rejections (transforms/normalize/rejects.py), the event rules (vaxsync/marts/events.py), the decision intake.
DETAIL_TEXTS: tuple[DetailText, ...] = (
    DetailText(
        r"^(?P<term>\w+); no probabilistic candidate$",
        "{term}; no candidate by probabilistic linkage.",
        "{term}; không có ứng viên nào theo ghép nối xác suất.",
    ),
    DetailText(
        r"^(?P<term>\w+); best probabilistic candidate p=(?P<percent>[0-9.eE+-]+) is impossible "
        r"\((?P<term_impossible>\w+)\)$",
        "{term}; the best probabilistic candidate ({percent}) is impossible: {term_impossible}.",
        "{term}; ứng viên tốt nhất theo xác suất ({percent}) là không thể: {term_impossible}.",
    ),
    DetailText(
        r"^(?P<term>\w+); best probabilistic candidate p=(?P<percent>[0-9.eE+-]+)$",
        "{term}; best probabilistic candidate: {percent}, below the threshold to post.",
        "{term}; ứng viên tốt nhất theo xác suất: {percent}, chưa đủ ngưỡng để ghi nhận.",
    ),
    DetailText(
        r"^ID owner differs in (?P<term>.+)$",
        "The ID's owner differs in: {term}.",
        "Chủ của số định danh khác ở: {term}.",
    ),
    DetailText(
        r"^(?P<count>\d+) citizens share this old ID and agree with the row$",
        "{count} citizens share this old ID and agree with the row.",
        "{count} công dân cùng số CMND cũ này và đều khớp với dòng.",
    ),
    DetailText(r"^ID kind: (?P<term>\w+)$", "ID kind: {term}.", "Loại giấy tờ: {term}."),
    DetailText(r"^missing: (?P<term>.+)$", "Missing: {term}.", "Thiếu: {term}."),
    DetailText(
        r"^(?P<sent>.*) \(a date cell read as (?P<date>[0-9-]+); day and month may be swapped: (?P<other>[0-9-]+)\)$",
        'Sent "{sent}", a date cell read as {date}; the spreadsheet may have swapped day and month: {other}.',
        "Đã gửi “{sent}”, ô ngày tháng đọc là {date}; bảng tính có thể đã đảo ngày và tháng: {other}.",
    ),
    DetailText(
        r"^(?P<sent>.*) \(read as (?P<date>[0-9-]+); campaign (?P<start>[0-9-]+) to (?P<end>[0-9-]+)\)$",
        'Sent "{sent}", read as {date}; the campaign runs {start} to {end}.',
        "Đã gửi “{sent}”, đọc là {date}; chiến dịch từ {start} đến {end}.",
    ),
    DetailText(
        r"^(?P<sent>.*) \((?P<code>\w+) is approved in Vietnam but was not supplied to the campaign\)$",
        'Sent "{sent}": {code} is approved in Vietnam but was not supplied to the campaign.',
        "Đã gửi “{sent}”: {code} được cấp phép tại Việt Nam nhưng không được cấp cho chiến dịch.",
    ),
    DetailText(
        r"^(?P<code>\S+) given on (?P<date>[0-9-]+), before its approval in Vietnam on (?P<approved>[0-9-]+)$",
        "{code} given on {date}, before its approval in Vietnam on {approved}.",
        "{code} tiêm ngày {date}, trước ngày được cấp phép tại Việt Nam ({approved}).",
    ),
    DetailText(
        r"^(?P<code>\S+) is approved from age (?P<age>\d+); the person was (?P<term>at most )?(?P<years>\d+) "
        r"on the vaccination date$",
        "{code} is approved from age {age}; the person was {term}{years} on the vaccination date.",
        "{code} được phép tiêm từ {age} tuổi; vào ngày tiêm người này {term}{years} tuổi.",
    ),
    DetailText(
        r"^(?P<code>\S+) and, the same day, (?P<others>.+?)(?P<term> \(already posted\))?$",
        "{code} and, the same day, {others}{term}.",
        "{code} và, cùng ngày, {others}{term}.",
    ),
    DetailText(
        r"^a reviewer rejected the offered candidates$",
        "A reviewer rejected the offered candidates.",
        "Cán bộ đã từ chối các ứng viên được đề xuất.",
    ),
    DetailText(
        r"^a newer version of this file already corrected it",
        "A newer version of this file already corrected this row (this version landed again under a new"
        " name). Accepting or correcting it is refused: it would post the old values beside the corrected"
        " ones. Ask the facility which version is current; if it is this one, it sends the file again at the"
        " current file's path.",
        "Tệp này đã có phiên bản mới hơn sửa dòng này (phiên bản này được gửi lại dưới tên khác). Chấp nhận"
        " hoặc sửa dòng này sẽ bị từ chối: sẽ ghi nhận giá trị cũ bên cạnh giá trị đã sửa. Hãy hỏi cơ sở"
        " phiên bản nào là hiện hành; nếu là phiên bản này, cơ sở gửi lại tệp theo đường dẫn của tệp hiện hành.",
        ("older_version_resent",),
    ),
    DetailText(
        r"^malformed_row$",
        "The row's number of fields differs from the header's.",
        "Số cột của dòng khác với dòng tiêu đề.",
    ),
    DetailText(r"^(?P<sent>.*)$", 'Sent "{sent}".', "Đã gửi “{sent}”.", _VALUE_AS_SENT_REASONS),
)

# Codes and words inside details (the `term` groups), in English and Vietnamese.
DETAIL_TERMS: dict[str, Reason] = {
    **{
        code: Reason(label.english[:1].upper() + label.english[1:], label.vietnamese)
        for code, label in BACKLOG_REASON_LABELS.items()
    },
    "unmatched": Reason("No ID match", "Không khớp theo số định danh"),
    "child_adult_mismatch": Reason(
        "one is a child and the other an adult", "một bên là trẻ em, một bên là người lớn"
    ),
    "too_young_for_vaccination": Reason("too young to be vaccinated", "chưa đủ tuổi để tiêm"),
    "missing": Reason("none", "không có"),
    "passport": Reason("passport", "hộ chiếu"),
    "bhyt": Reason("health-insurance number", "số thẻ BHYT"),
    "other": Reason("other", "khác"),
    "unrecoverable": Reason("unrecoverable", "không khôi phục được"),
    "name": Reason("name", "họ tên"),
    "birth date": Reason("birth date", "ngày sinh"),
    "sex": Reason("sex", "giới tính"),
    "full_name": Reason("full name", "họ tên"),
    "date_of_birth": Reason("birth date", "ngày sinh"),
    "vaccine": Reason("vaccine", "vắc xin"),
    "vaccinated_on": Reason("vaccination date", "ngày tiêm"),
    "at most ": Reason("at most ", "tối đa "),
    " (already posted)": Reason(" (already posted)", " (đã ghi nhận)"),
}
