"""Blocking: each rule finds the pairs it is for, the union has each pair once, big blocks are split or dropped."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import polars as pl
import pytest
from linkage_builders import citizen, shot_row, to_registry, to_shots

from matching.blocking import run_blocking
from matching.deterministic import match_by_id
from matching.features import registry_blocking_keys, shot_blocking_keys
from matching.model import BlockingRule, load_model
from matching.probabilistic import encode_inputs

MODEL = load_model()
BORN = dt.date(1990, 5, 4)


def candidates_by_rule(
    shots: list[dict[str, Any]], citizens: list[dict[str, Any]], rules: list[BlockingRule] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pairs with the names of the rules that found them, the blocking report)."""
    registry, shot_frame = to_registry(citizens), to_shots(shots)
    inputs = encode_inputs(shot_frame, registry, match_by_id(shot_frame, registry).collect(), MODEL)
    rules = rules or MODEL.blocking_rules
    output = run_blocking(shot_blocking_keys(inputs.shots), registry_blocking_keys(inputs.registry), rules)
    names = pl.Series([rule.name for rule in rules])
    found = output.pairs.with_columns(
        rules=pl.col("rule_mask").map_elements(  # a handful of pairs in a test, never data rows
            lambda mask: [name for bit, name in enumerate(names) if mask >> bit & 1],
            return_dtype=pl.List(pl.String),
        )
    )
    return found, output.report


# Each case: a row that one particular rule must find, the candidate, and that rule's name.
RULE_CASES = [
    (
        "same birth date and family, given misspelled",
        shot_row(1, "Nguyễn Văn Hugn", BORN, "M", ward_code=None),
        {},
        "birth_date_family",
    ),
    (
        "same birth date and given, family misspelled",
        shot_row(1, "Ngyen Van Hung", BORN, "M", ward_code=None),
        {},
        "birth_date_given",
    ),
    (
        "ambiguous date read the other way",
        shot_row(1, "Nguyễn Văn Hùng", dt.date(1990, 4, 5), "M", birth_date_alt=BORN),
        {},
        "birth_date_family",
    ),
    ("year-only row, same names", shot_row(1, "Nguyễn Văn Hùng", 1990, "M"), {}, "birth_year_family_given"),
    ("given name typed first", shot_row(1, "Hùng Nguyễn Văn", 1990, "M"), {}, "birth_year_family_given"),
    (
        "given name first after a title",
        shot_row(1, "Ông Hùng Nguyễn Văn", 1990, "M", full_name_clean="Hùng Nguyễn Văn"),
        {},
        "birth_year_family_given",
    ),
    ("year one off, same full name", shot_row(1, "Nguyễn Văn Hùng", 1991, "M"), {}, "name_birth_year_near"),
    (
        "year-only row, given name misspelled",
        shot_row(1, "Nguyễn Văn Hùnng", 1990, "M"),
        {},
        "district_birth_year_family",
    ),
    (
        "same phone, all else wrong",
        shot_row(1, "Lê Thị Mai", 1950, "F", phone_number="0912345678", ward_code=None),
        {"phone": "0912345678"},
        "phone",
    ),
    ("same ward and given name", shot_row(1, "Ngyễn Văn Hùng", 1970, "M"), {}, "ward_given"),
    (
        "CCCD with one digit wrong",
        shot_row(1, "Trần Văn Long", 1970, "M", id_kind="cccd", id_value="001090123457"),
        {},
        "cccd_one_edit",
    ),
    (
        "CCCD with two digits swapped",
        shot_row(1, "Trần Văn Long", 1970, "M", id_kind="cccd", id_value="001090124356"),
        {},
        "cccd_one_edit",
    ),
    (
        "old CMND exact",
        shot_row(1, "Trần Văn Long", 1970, "M", id_kind="cmnd9", id_value="012345678"),
        {"legacy_id": "012345678"},
        "legacy_id_one_edit",
    ),
]


@pytest.mark.parametrize(("description", "row", "citizen_fields", "rule"), RULE_CASES)
def test_rule_finds_its_pair(
    description: str, row: dict[str, Any], citizen_fields: dict[str, Any], rule: str
) -> None:
    target = citizen("001090123456", "Nguyễn Văn Hùng", BORN, "M", **citizen_fields)
    bystander = citizen(
        "079185000001",
        "Phạm Thị Hoa",
        dt.date(1985, 9, 9),
        "F",
        province_code="79",
        district_code="760",
        ward_code="26740",
    )
    found, _ = candidates_by_rule([row], [target, bystander])
    pair = found.filter(pl.col("citizen_index") == 0)
    assert pair.height == 1, description
    assert rule in pair["rules"][0], description
    assert found.filter(pl.col("citizen_index") == 1).height == 0, "the bystander shares no key"


def test_union_lists_a_pair_found_by_several_rules_once() -> None:
    target = citizen("001090123456", "Nguyễn Văn Hùng", BORN, "M", phone="0912345678")
    row = shot_row(1, "Nguyễn Văn Hùng", BORN, "M", phone_number="0912345678")
    found, report = candidates_by_rule([row], [target])
    assert found.height == 1
    assert set(found["rules"][0]) >= {
        "birth_date_family",
        "birth_date_given",
        "birth_year_family_given",
        "phone",
        "ward_given",
    }
    counts = dict(zip(report["blocking_rule"], report["count_pairs"], strict=True))
    assert counts["union"] == 1 and counts["birth_date_family"] == 1


def crowd(count_men: int, count_women: int) -> list[dict[str, Any]]:
    """Đặng citizens all born the same day, in different wards, with different given names."""
    people = []
    for index in range(count_men + count_women):
        sex = "M" if index < count_men else "F"
        people.append(
            citizen(f"0010900{index:05d}", f"Đặng Văn Người{index}", BORN, sex, ward_code=f"{index + 10:05d}")
        )
    return people


def capped_rule(max_block_size: int) -> list[BlockingRule]:
    rule = next(rule for rule in MODEL.blocking_rules if rule.name == "birth_date_family")
    return [dataclasses.replace(rule, max_block_size=max_block_size, refine_on=["sex"])]


@pytest.mark.parametrize(
    ("description", "count_men", "count_women", "max_block_size", "expected_pairs"),
    [
        ("a block within the cap pairs everyone", 3, 3, 6, 6),
        ("a block over the cap is split on sex", 3, 3, 3, 3),
        ("a split part still over the cap is dropped", 5, 1, 3, 0),
    ],
)
def test_common_key_is_capped(
    description: str, count_men: int, count_women: int, max_block_size: int, expected_pairs: int
) -> None:
    row = shot_row(1, "Đặng Quốc Bảo", BORN, "M", ward_code="99999")
    found, report = candidates_by_rule([row], crowd(count_men, count_women), capped_rule(max_block_size))
    assert found.height == expected_pairs, description
    split = report.filter(pl.col("blocking_rule") == "birth_date_family")["count_blocks_split"][0]
    assert int(split) == (1 if count_men + count_women > max_block_size else 0)


def test_blocking_recall_is_reported_against_true_pairs() -> None:
    target = citizen("001090123456", "Nguyễn Văn Hùng", BORN, "M")
    other = citizen("079185000001", "Phạm Thị Hoa", dt.date(1985, 9, 9), "F", ward_code="26740")
    rows = [
        shot_row(1, "Nguyễn Văn Hùng", BORN, "M"),
        shot_row(2, "Phạm Thị Hoà", 1970, "F", ward_code=None, district_code=None, province_code=None),
    ]
    registry, shot_frame = to_registry([target, other]), to_shots(rows)
    inputs = encode_inputs(shot_frame, registry, match_by_id(shot_frame, registry).collect(), MODEL)
    truth = pl.DataFrame(
        {"shot_index": [0, 1], "citizen_index": [0, 1]},
        schema={"shot_index": pl.UInt32, "citizen_index": pl.UInt32},
    )
    report = run_blocking(
        shot_blocking_keys(inputs.shots),
        registry_blocking_keys(inputs.registry),
        MODEL.blocking_rules,
        true_pairs=truth,
    ).report
    recall = dict(zip(report["blocking_rule"], report["recall"], strict=True))
    assert recall["union"] == pytest.approx(0.5)  # the second row shares no key with its citizen
    assert recall["birth_date_family"] == pytest.approx(0.5)
