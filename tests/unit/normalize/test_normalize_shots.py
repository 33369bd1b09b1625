"""normalize_shots end to end on small staged frames: grain, contract, reject reasons."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from normalize_builders import staged_frame

from transforms.normalize.reference import NormalizeReference
from transforms.normalize.shots import normalize_shots
from vaxsync.core.contracts import NORMALIZED_EXTRA_SCHEMA, STAGED_ROW_SCHEMA
from vaxsync.core.reasons import BACKLOG_REASONS

AS_OF = dt.date(2023, 1, 31)


def normalized(rows: list[dict[str, Any]], reference: NormalizeReference) -> pl.DataFrame:
    return normalize_shots(staged_frame(rows), as_of=AS_OF, reference=reference).collect()


def test_output_is_the_staged_rows_plus_the_contract_columns(reference: NormalizeReference) -> None:
    rows = [
        {"full_name": f"Nguyễn Văn {given}", "source_row": n}
        for n, given in enumerate(["An", "Bình", "Chi"] * 20)
    ]
    result = normalized(rows, reference)
    assert result.schema == pl.Schema({**STAGED_ROW_SCHEMA, **NORMALIZED_EXTRA_SCHEMA})
    assert result.height == len(rows)
    assert result["source_row"].to_list() == list(range(len(rows)))  # same rows, same order


def test_a_clean_row_is_fully_normalized(reference: NormalizeReference) -> None:
    row = normalized([{}], reference).row(0, named=True)
    assert {name: row[name] for name in NORMALIZED_EXTRA_SCHEMA} == {
        "full_name_clean": "Nguyễn Văn An",
        "name_key": "nguyen van an",
        "family_name_key": "nguyen",
        "middle_name_key": "van",
        "given_name_key": "an",
        "birth_date": dt.date(1985, 6, 15),
        "birth_date_alt": None,
        "date_repair": None,
        "vaccination_date_order": "day_first",  # 15/06/1985 and 20/08/2021 prove it
        "birth_year": 1985,
        "sex_code": "M",
        "id_kind": "cccd",
        "id_value": "079085001234",
        "cccd_province_code": "79",
        "cccd_sex": "M",
        "cccd_birth_year": 1985,
        "phone_number": "0912345678",
        "phone_kind": "mobile",
        "province_code": "79",
        "district_code": "760",
        "ward_code": "26740",
        "admin_era": "2021",
        "province_code_2025": "79",
        "facility_province_code": "79",
        "vaccine_code": "PFIZER",
        "dose_number_reported": 1,
        "vaccinated_date": dt.date(2021, 8, 20),
        "lot_number": "FK1234",
        "reject_reason": None,
        "reject_detail": None,
    }


@pytest.mark.parametrize(
    ("row", "reason", "detail"),
    [
        ({"row_issue": "malformed_row", "vaccine": None}, "malformed_row", "malformed_row"),
        ({"full_name": "  "}, "required_value_missing", "missing: full_name"),
        ({"full_name": "Bà"}, "required_value_missing", "missing: full_name"),
        (
            {"date_of_birth": None, "vaccine": "", "vaccinated_on": "31/02/2022"},
            "required_value_missing",
            "missing: date_of_birth, vaccine",
        ),
        ({"vaccine": "Vắc xin COVID-19"}, "vaccine_unknown", "Vắc xin COVID-19"),
        ({"vaccine": "?", "vaccinated_on": "31/02/2022"}, "vaccine_unknown", "?"),
        ({"vaccinated_on": "31/02/2022"}, "vaccination_date_invalid", "31/02/2022"),
        ({"vaccinated_on": "ngày 5"}, "vaccination_date_invalid", "ngày 5"),
        (
            {"vaccinated_on": "08/11/2020"},
            "vaccination_date_out_of_range",
            "08/11/2020 (read as 2020-11-08; campaign 2021-03-08 to 2023-01-31)",
        ),
        (
            {"vaccinated_on": "2032-11-01 00:00:00"},
            "vaccination_date_out_of_range",
            "2032-11-01 00:00:00 (read as 2032-11-01; campaign 2021-03-08 to 2023-01-31)",
        ),
        (
            {"vaccinated_on": "01/02/2023"},  # after the run date either way round
            "vaccination_date_out_of_range",
            "01/02/2023 (read as 2023-02-01; campaign 2021-03-08 to 2023-01-31)",
        ),
        ({"date_of_birth": "31/02/1990"}, "birth_date_invalid", "31/02/1990"),
        ({"date_of_birth": "2030"}, "birth_date_invalid", "2030"),
        (
            {"id_number": "1.09901E+11", "phone": "+1 408 5113456"},
            None,
            None,
        ),  # matchable: the matcher decides
        ({"date_of_birth": "1954", "sex": None, "address": None}, None, None),
    ],
)
def test_reject_reason_in_priority_order(
    row: dict[str, Any], reason: str | None, detail: str | None, reference: NormalizeReference
) -> None:
    result = normalized([row], reference).row(0, named=True)
    assert (result["reject_reason"], result["reject_detail"]) == (reason, detail)
    assert reason is None or reason in BACKLOG_REASONS


def test_reject_detail_never_shows_an_id_or_a_phone(reference: NormalizeReference) -> None:
    rows = [
        {"id_number": "079085001234", "phone": "0912345678", "vaccine": "079085001234"},
        {"id_number": "001176284656", "phone": "0987654321", "vaccinated_on": "0987654321"},
        {"id_number": "001176284656", "phone": "0987654321", "date_of_birth": "001176284656"},
    ]
    result = normalized(rows, reference)
    assert result["reject_reason"].to_list() == [
        "vaccine_unknown",
        "vaccination_date_invalid",
        "birth_date_invalid",
    ]
    for detail, id_number, phone in result.select("reject_detail", "raw_id_number", "raw_phone").iter_rows():
        assert id_number not in detail and phone not in detail
        assert "[number hidden]" in detail


def test_month_first_file_and_other_files_in_one_batch(reference: NormalizeReference) -> None:
    us_file = {"source_file": "87_Dong_Thap/87866001/DS.csv", "file_hash": "us"}
    rows = [
        {**us_file, "date_of_birth": "10/15/1967", "vaccinated_on": "06/10/2021"},
        {**us_file, "date_of_birth": "01/02/1971", "vaccinated_on": "08/20/2021"},
        {"date_of_birth": "01/02/1971", "vaccinated_on": "06/10/2021"},
    ]
    result = normalized(rows, reference).select("birth_date", "birth_date_alt", "vaccinated_date").rows()
    assert result == [
        (dt.date(1967, 10, 15), None, dt.date(2021, 6, 10)),
        (dt.date(1971, 1, 2), dt.date(1971, 2, 1), dt.date(2021, 8, 20)),
        (dt.date(1971, 2, 1), dt.date(1971, 1, 2), dt.date(2021, 10, 6)),
    ]


def _python_callbacks(plan: str) -> list[str]:
    """The plan's lines that call back into Python (map_batches, map_elements): a query run inside one
    of those panicked the streaming engine."""
    return [line for line in plan.splitlines() if "python_udf" in line or "OPAQUE_PYTHON" in line]


def test_the_normalize_and_registry_plans_call_no_python_callback(reference: NormalizeReference) -> None:
    from transforms.registry import prepare_registry
    from vaxsync.core.contracts import REGISTRY_SCHEMA

    shots = normalize_shots(staged_frame([{}]), as_of=AS_OF, reference=reference)
    registry = prepare_registry(pl.LazyFrame(schema=REGISTRY_SCHEMA), reference=reference)

    assert _python_callbacks(shots.explain()) == []
    assert _python_callbacks(registry.explain()) == []


def test_the_streaming_engine_normalizes_the_same_rows_as_the_in_memory_one(
    reference: NormalizeReference,
) -> None:
    addresses = ["Phường Bến Nghé, Quận 1, TP HCM", "Xã Hòa Phong, Huyện Hòa Vang, Đà Nẵng", "", "Quận 1"]
    names = ["Nguyễn Văn An", "Bà Trần Thị Thuỷ", "NGUYEN VAN AN", "Hoàng  Minh Tuấn"]
    rows = [
        {"full_name": names[n % 4], "address": addresses[n % 3 if n % 5 else 3], "source_row": n}
        for n in range(1, 400)
    ]
    plan = normalize_shots(staged_frame(rows), as_of=AS_OF, reference=reference)

    in_memory = plan.collect()
    for _ in range(3):  # the panic came one night in two: repeat
        assert plan.collect(engine="streaming").equals(in_memory)
    assert in_memory.height == len(rows)
    assert in_memory["province_code"].null_count() < len(rows)


PLACEHOLDERS_TYPED = [
    "chưa có", "chua co", "không có", "khong co", "không rõ", "KXĐ", "kxđ", "-", "--", "0", "x", "X",
    "N/A", "n/a", "null", "none", "?", "Chưa có.", "(không có)", "không xác định",
    "chu\u031ba co\u0301",  # chưa có typed in NFD
]  # fmt: skip


def placeholder_rows(field: str) -> list[dict[str, Any]]:
    return [{field: text, "source_row": n} for n, text in enumerate(PLACEHOLDERS_TYPED, start=1)]


def test_a_placeholder_id_is_a_missing_id(reference: NormalizeReference) -> None:
    result = normalized(placeholder_rows("id_number"), reference)
    assert set(result["id_kind"]) == {"missing"}
    assert result["id_value"].null_count() == result.height


def test_a_placeholder_phone_is_a_missing_phone(reference: NormalizeReference) -> None:
    result = normalized(placeholder_rows("phone"), reference)
    assert set(result["phone_kind"]) == {"missing"}
    assert result["phone_number"].null_count() == result.height


def test_a_placeholder_name_is_a_missing_name(reference: NormalizeReference) -> None:
    result = normalized(placeholder_rows("full_name"), reference)
    assert result["full_name_clean"].null_count() == result["name_key"].null_count() == result.height
    assert set(result["reject_reason"]) == {"required_value_missing"}
    assert set(result["reject_detail"]) == {"missing: full_name"}


def test_a_placeholder_birth_date_is_a_missing_value(reference: NormalizeReference) -> None:
    result = normalized(placeholder_rows("date_of_birth"), reference)
    assert set(result["reject_reason"]) == {"required_value_missing"}  # not an invalid date
    assert set(result["reject_detail"]) == {"missing: date_of_birth"}


def test_a_placeholder_birth_date_gives_no_birth_year(reference: NormalizeReference) -> None:
    result = normalized(placeholder_rows("date_of_birth"), reference)
    assert result["birth_date"].null_count() == result["birth_year"].null_count() == result.height


def test_a_placeholder_address_gives_no_residence(reference: NormalizeReference) -> None:
    result = normalized(placeholder_rows("address"), reference)
    assert (
        result.select("province_code", "district_code", "ward_code").null_count().row(0)
        == (result.height,) * 3
    )


def test_a_placeholder_sex_is_unknown(reference: NormalizeReference) -> None:
    rows = [row for row in placeholder_rows("sex") if row["sex"] != "0"]  # "0" is female in yes/no columns
    assert normalized(rows, reference)["sex_code"].null_count() == len(rows)


def test_values_that_only_look_short_are_kept(reference: NormalizeReference) -> None:
    result = normalized(
        [{"full_name": "Nguyễn Thị Na", "id_number": "079085001234", "phone": "0912345678"}], reference
    )
    assert result.select("full_name_clean", "id_value", "phone_number").row(0) == (
        "Nguyễn Thị Na",
        "079085001234",
        "0912345678",
    )


def joined_file(us_dates: list[str], vn_dates: list[str]) -> list[dict[str, Any]]:
    """One file joined from two systems' exports: a US system writing padded month-first dates, and a
    Vietnamese one writing day-first with one digit where it can; birth dates ISO (they prove nothing)."""
    return [{"date_of_birth": "1985-06-15", "vaccinated_on": value} for value in us_dates + vn_dates]


US_PADDED = ["05/18/2021", "06/20/2021", "07/21/2021", "08/25/2021", "09/28/2021"]


def test_an_ambiguous_date_whose_writing_proves_no_order_in_a_file_written_both_ways_is_held(
    reference: NormalizeReference,
) -> None:
    """The day-first system's 7/9/2021 has one proof of its writing (24/9/2021): the file's majority
    (month-first) would read it 9 July. Held, both readings in the detail."""
    rows = normalized(joined_file(US_PADDED, ["24/9/2021", "7/9/2021"]), reference)
    assert rows["reject_reason"].to_list() == [None] * 6 + ["vaccination_date_order_unproven"]
    assert rows["reject_detail"][-1] == (
        "7/9/2021 (read as 2021-07-09 or 2021-09-07: this way of writing proves neither order, in a file"
        " whose dates are written both day-first and month-first)"
    )
    assert "vaccination_date_order_unproven" in BACKLOG_REASONS


def test_a_writing_proved_twice_reads_its_own_order_beside_a_padded_one(
    reference: NormalizeReference,
) -> None:
    """The day-first system's unpadded dates prove day-first twice; the US system's padded ones prove
    month-first. 7/9/2021 is 7 September, not held, though the file's majority is month-first."""
    rows = normalized(joined_file(US_PADDED * 2, ["24/9/2021", "13/8/2021", "7/9/2021"]), reference)
    assert rows["reject_reason"].null_count() == rows.height
    assert rows["vaccinated_date"][-1] == dt.date(2021, 9, 7)


def test_an_ambiguous_date_in_a_file_proving_one_order_is_read_in_it(reference: NormalizeReference) -> None:
    """No value proves day-first: the file is a US export throughout, and its unproven 7/9/2021 is read
    month-first, not held."""
    rows = normalized(joined_file(US_PADDED, ["7/9/2021"]), reference)
    assert rows["reject_reason"].null_count() == rows.height
    assert rows["vaccinated_date"][-1] == dt.date(2021, 7, 9)


def test_an_ambiguous_date_settled_by_the_campaign_is_not_held(reference: NormalizeReference) -> None:
    """In a file written both ways (month-first by its majority), the unproven writing's 9/3/2021 reads
    9 March or 3 September 2021, both in the campaign: held. Its 3/1/2023 reads 1 March 2023 in the
    file's order, after the as-of, or 3 January 2023: read 3 January (the file's order is no evidence
    for this writing), not held. In a file proving both orders about equally the same holds."""
    for us_dates in (US_PADDED, US_PADDED[:2]):
        rows = normalized(joined_file(us_dates, ["24/9/2021", "9/3/2021", "3/1/2023"]), reference)
        assert rows["reject_reason"].to_list()[-2:] == ["vaccination_date_order_unproven", None]
        assert rows["vaccinated_date"][-1] == dt.date(2023, 1, 3)
