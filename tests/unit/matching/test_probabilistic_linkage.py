"""End to end on a tiny hand-built registry: the ID pass, then the probabilistic pass, outcome per row."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from linkage_builders import citizen, shot_row, to_registry, to_shots

from matching.deterministic import MATCH_SCHEMA, match_by_id
from matching.probabilistic import MODEL_FILE_NAME, LinkResult, link_probabilistically

D = dt.date
FAMILIES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ"]
MIDDLES_MEN, MIDDLES_WOMEN = ["Văn", "Đức", "Quang", "Minh"], ["Thị", "Ngọc", "Thu", "Thanh"]
GIVEN_MEN = ["Tuấn", "Huy", "Hiếu", "Nam", "Dũng", "Cường", "Thắng", "Hải", "Sơn", "Tùng", "Khánh", "Phúc"]
GIVEN_WOMEN = [
    "Trang",
    "Thảo",
    "Linh",
    "Phương",
    "Hằng",
    "Hoa",
    "Mai",
    "Nhung",
    "Yến",
    "Vy",
    "Trinh",
    "Hương",
]


def filler_citizens(count: int) -> list[dict[str, Any]]:
    """Ordinary citizens with varied names, birth dates, wards and phones."""
    people = []
    combos = itertools.product(FAMILIES, range(4), range(12))
    for index, (family, middle, given) in enumerate(itertools.islice(combos, count)):
        is_man = index % 2 == 0
        name = " ".join(
            [
                family,
                (MIDDLES_MEN if is_man else MIDDLES_WOMEN)[middle],
                (GIVEN_MEN if is_man else GIVEN_WOMEN)[given],
            ]
        )
        born = D(1940 + index % 60, 1 + index % 12, 1 + index % 28)
        people.append(
            citizen(
                f"0010{born.year % 100:02d}{index:06d}",
                name,
                born,
                "M" if is_man else "F",
                phone=f"09{index:08d}",
                district_code=f"{index % 5:03d}",
                ward_code=f"{index % 20:05d}",
            )
        )
    return people


SPECIAL = [
    citizen("001090000001", "Nguyễn Văn Hùng", D(1990, 5, 4), "M", phone="0912000001", ward_code="00101"),
    citizen("001192000002", "Trần Thị Mai", D(1992, 4, 3), "F", ward_code="00102"),
    citizen("001085000003", "Phạm Văn Long", D(1985, 6, 7), "M", ward_code="00103"),  # namesakes: same name,
    citizen("001085000004", "Phạm Văn Long", D(1985, 6, 7), "M", ward_code="00103"),  # birth date and ward
    citizen(
        "001210000005", "Đỗ Thị Lan", D(2010, 2, 2), "F", phone="0912000005", ward_code="00104"
    ),  # her twin is unregistered
    citizen("001045000006", "Bùi Văn Tư", D(1945, 1, 9), "M", ward_code="00105", date_of_death=D(2021, 6, 1)),
    citizen(
        "001083000007", "Vũ Văn Hải", D(1983, 8, 8), "M", phone="0912000007", ward_code="00106"
    ),  # child unregistered
    citizen("001077000008", "Đặng Văn Quý", D(1977, 7, 7), "M", phone="0912000008", ward_code="00107"),
    citizen(  # a namesake of an unregistered man who carries his own CCCD, issued in another province
        "079088001234", "Hồ Văn Bình", D(1988, 3, 3), "M", province_code="79", ward_code="26741"
    ),
    citizen("001170000009", "Lê Thị Nga", D(1970, 1, 9), "F", ward_code="00108"),  # mistypes her CCCD once
]

# (description, the row, the expected citizen (None: not posted), the expected reason)
CASES = [
    (
        "exact name, birth date, ward and phone, no ID",
        shot_row(1, "Nguyễn Văn Hùng", D(1990, 5, 4), "M", phone_number="0912000001", ward_code="00101"),
        "001090000001",
        None,
    ),
    (
        "typed without diacritics, birth date read the other way",
        shot_row(2, "Tran Thi Mai", D(1992, 3, 4), "F", birth_date_alt=D(1992, 4, 3), ward_code="00102"),
        "001192000002",
        None,
    ),
    (
        "two namesakes in one ward: a person decides",
        shot_row(3, "Phạm Văn Long", D(1985, 6, 7), "M", ward_code="00103"),
        None,
        "review_required",
    ),
    (
        "an unregistered twin with the registered twin's birth date, phone and ward",
        shot_row(4, "Đỗ Thị Hoa", D(2010, 2, 2), "F", phone_number="0912000005", ward_code="00104"),
        None,
        None,
    ),
    (
        "vaccinated after the candidate's death",
        shot_row(5, "Bùi Văn Tư", D(1945, 1, 9), "M", ward_code="00105"),
        None,
        "shot_after_death",
    ),
    (
        "an unregistered child's row carrying the father's ID and phone",
        shot_row(
            6,
            "Vũ Minh Khang",
            D(2015, 3, 2),
            "M",
            id_kind="cccd",
            id_value="001083000007",
            phone_number="0912000007",
            ward_code="00106",
            vaccinated_date=D(2022, 6, 1),
        ),
        None,
        None,
    ),
    (
        "nobody like this in the registry",
        shot_row(7, "Lý Thị Xuân", D(1999, 9, 19), "F", ward_code="00199", district_code="009"),
        None,
        "no_confident_match",
    ),
    (
        # Nothing of the row's own corroborates the link, and it lives in another province: an absent
        # namesake living there explains it as well. The sibling supports a link; it never creates one.
        "a second dose of a person confirmed by ID in the same batch, away from home, nothing else agreeing",
        shot_row(
            8, "Đặng Văn Quý", D(1977, 7, 7), "M", province_code="79", district_code="760", ward_code="26740"
        ),
        None,
        "review_required",
    ),
    (
        "a person absent from the registry with his own well-formed CCCD, and a namesake born the same day",
        shot_row(
            9, "Hồ Văn Bình", D(1988, 3, 3), "M", id_kind="cccd", id_value="045088765432", ward_code="19999"
        ),
        None,
        None,
    ),
    (
        "the same namesake, year of birth only, the absent man's CCCD: four doses, none posted",
        shot_row(10, "Hồ Văn Bình", 1988, "M", id_kind="cccd", id_value="045088765432", ward_code="19999"),
        None,
        None,
    ),
    (
        # Rows 9 and 10 show tonight a person the registry lacks with this name and birth date: the ward,
        # shared by the namesake, does not tell them apart; only the phone or the ID would.
        "the absent man's dose without his ID, given in his registered namesake's ward",
        shot_row(11, "Hồ Văn Bình", D(1988, 3, 3), "M", province_code="79", ward_code="26741"),
        None,
        "review_required",
    ),
    (
        "a CCCD one digit off the citizen's own (a typo, not an absent person), the ward agrees",
        shot_row(
            12, "Lê Thị Nga", D(1970, 1, 9), "F", id_kind="cccd", id_value="001170000019", ward_code="00108"
        ),
        "001170000009",
        None,
    ),
    (
        "... and her dose without an ID, in her ward: her typo'd CCCD names nobody absent",
        shot_row(13, "Lê Thị Nga", D(1970, 1, 9), "F", ward_code="00108"),
        "001170000009",
        None,
    ),
]


def confirmed_rows(fillers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose CCCD the ID pass confirms: the labelled pairs the model learns its m from."""
    rows = []
    for index, person in enumerate(fillers):
        rows.append(
            shot_row(
                100 + index,
                person["full_name"],
                person["date_of_birth"],
                person["sex"],
                id_kind="cccd",
                id_value=person["citizen_id"],
                phone_number=person["phone"] if index % 3 else None,
                district_code=person["district_code"],
                ward_code=person["ward_code"],
            )
        )
    dose_one = shot_row(
        99,
        "Đặng Văn Quý",
        D(1977, 7, 7),
        "M",
        id_kind="cccd",
        id_value="001077000008",
        phone_number="0912000008",
        ward_code="00107",
    )
    return [*rows, dose_one]


@pytest.fixture(scope="module")
def linkage(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, LinkResult, Path]:
    fillers = filler_citizens(240)
    registry = to_registry(fillers + SPECIAL)
    shots = to_shots([row for _, row, _, _ in CASES] + confirmed_rows(fillers))
    deterministic = match_by_id(shots, registry).collect()
    workdir = tmp_path_factory.mktemp("run")
    return deterministic, link_probabilistically(shots, registry, deterministic, workdir=workdir), workdir


@pytest.mark.parametrize(("description", "row", "expected_citizen", "expected_reason"), CASES)
def test_outcome(
    linkage: tuple[pl.DataFrame, LinkResult, Path],
    description: str,
    row: dict[str, Any],
    expected_citizen: str | None,
    expected_reason: str | None,
) -> None:
    _, result, _ = linkage
    outcome = result.matches.filter(pl.col("source_row") == row["source_row"]).row(0, named=True)
    assert outcome["citizen_id"] == expected_citizen, description
    if expected_citizen is not None:
        assert outcome["match_reason"] is None
        assert outcome["match_detail"].startswith("p="), "a posting explains itself field by field"
        assert "given_name=" in outcome["match_detail"] and "birth_date=" in outcome["match_detail"]
    elif expected_reason is not None:
        assert outcome["match_reason"] == expected_reason, description
    else:
        assert outcome["match_reason"] in ("review_required", "no_confident_match"), description


def test_only_rows_left_unmatched_by_the_id_pass_are_linked(
    linkage: tuple[pl.DataFrame, LinkResult, Path],
) -> None:
    deterministic, result, _ = linkage
    unmatched = deterministic.filter(pl.col("citizen_id").is_null())
    assert sorted(result.matches["source_row"].to_list()) == sorted(unmatched["source_row"].to_list())
    assert result.matches.schema == pl.Schema(MATCH_SCHEMA)
    assert set(result.matches["match_method"]) == {"probabilistic"}


def test_review_queue_holds_the_namesakes_field_by_field(
    linkage: tuple[pl.DataFrame, LinkResult, Path],
) -> None:
    _, result, _ = linkage
    namesakes = result.review_candidates.filter(pl.col("source_row") == 3).sort("candidate_rank")
    assert namesakes["citizen_id"].sort().to_list() == ["001085000003", "001085000004"]
    assert namesakes["candidate_rank"].to_list() == [1, 2]
    assert namesakes["level_family_name"].to_list() == ["exact_marked", "exact_marked"]
    assert namesakes["match_probability"].sum() <= 1.0


def test_fitted_model_is_saved_with_the_run(linkage: tuple[pl.DataFrame, LinkResult, Path]) -> None:
    _, result, workdir = linkage
    saved = json.loads((workdir / MODEL_FILE_NAME).read_text())
    assert saved == json.loads(json.dumps(result.model_used, default=str))
    assert saved["version"] and saved["fingerprint"]
    assert saved["fitted"]["labelled_pairs"] >= 240
    prior = saved["prior"]
    assert (
        prior["min_share_in_registry"]
        <= saved["fitted"]["share_in_registry"]
        <= prior["max_share_in_registry"]
    )


def test_blocking_report_covers_every_rule_and_the_union(
    linkage: tuple[pl.DataFrame, LinkResult, Path],
) -> None:
    _, result, _ = linkage
    rules = result.blocking_report["blocking_rule"].to_list()
    assert rules[-1] == "union" and len(rules) == len(result.model_used["blocking_rules"]) + 1
