"""ID rules: classification, lost leading zeros, CCCD decoding, contradiction with the row."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.normalize.ids import id_contradicts_row, with_ids
from transforms.normalize.reference import NormalizeReference


def normalized_id(raw: str | None, reference: NormalizeReference) -> dict[str, object]:
    frame = pl.LazyFrame({"raw_id_number": [raw]}, schema={"raw_id_number": pl.String})
    return (
        with_ids(frame, as_of_year=2023, province_codes=reference.province_codes).collect().row(0, named=True)
    )


@pytest.mark.parametrize(
    ("raw", "kind", "value", "province", "sex", "birth_year"),
    [
        ("001076284656", "cccd", "001076284656", "01", "M", 1976),
        ("079303012345", "cccd", "079303012345", "79", "F", 2003),
        ("001 194 580 584", "cccd", "001194580584", "01", "F", 1994),
        ("001.084.344.545", "cccd", "001084344545", "01", "M", 1984),
        ("068-094-561-904", "cccd", "068094561904", "68", "M", 1994),
        ("68094561904", "cccd", "068094561904", "68", "M", 1994),  # Excel dropped the 0
        ("4084207514", "cccd", "004084207514", "04", "M", 1984),  # Excel dropped 00
        ("79012345678.0", "cccd", "079012345678", "79", "M", 1912),  # number cell with its decimals
        ("'079012345678", "cccd", "079012345678", "79", "M", 1912),  # Excel's text marker kept in a CSV
        ("999123456789", "cmnd12", "999123456789", None, None, None),  # no such province prefix
        ("001812345678", "cmnd12", "001812345678", None, None, None),  # century digit in the future
        ("160658292", "cmnd9", "160658292", None, None, None),
        ("80961633", "cmnd9", "080961633", None, None, None),  # 9-digit CMND that lost its 0
        ("015.650.860", "cmnd9", "015650860", None, None, None),
        ("1.09901E+11", "unrecoverable", None, None, None, None),
        ("6.0913E+09", "unrecoverable", None, None, None, None),
        ("109901234567.5", "unrecoverable", None, None, None, None),
        ("'7.90123E+11", "unrecoverable", None, None, None, None),  # Excel's text marker before it
        ("7.90123E+11\u00a0", "unrecoverable", None, None, None, None),
        # "7.90123E+11" / "7.91235E+10" opened again by a spreadsheet: a number, the lost digits zeros
        ("790123000000", "unrecoverable", None, None, None, None),
        ("79123500000", "unrecoverable", None, None, None, None),
        ("79123500000.0", "unrecoverable", None, None, None, None),
        ("1234560000", "unrecoverable", None, None, None, None),
        ("79123450000", "cccd", "079123450000", "79", "F", 1923),  # seven significant digits
        ("079123000000", "cccd", "079123000000", "79", "F", 1923),  # text with its zero: never a number
        ("C1234567", "passport", "C1234567", None, None, None),
        ("n80986629", "passport", "N80986629", None, None, None),
        ("DN4010123456789", "bhyt", "DN4010123456789", None, None, None),
        ("0912345678", "other", "0912345678", None, None, None),  # a phone typed in the ID column
        ("12345", "other", "12345", None, None, None),
        ("chưa có", "missing", None, None, None, None),
        ("Không có", "missing", None, None, None, None),
        ("0", "missing", None, None, None, None),
        ("-", "missing", None, None, None, None),
        ("", "missing", None, None, None, None),
        (None, "missing", None, None, None, None),
    ],
)
def test_id_normalization(
    raw: str | None,
    kind: str,
    value: str | None,
    province: str | None,
    sex: str | None,
    birth_year: int | None,
    reference: NormalizeReference,
) -> None:
    row = normalized_id(raw, reference)
    assert (row["id_kind"], row["id_value"]) == (kind, value)
    assert (row["cccd_province_code"], row["cccd_sex"], row["cccd_birth_year"]) == (province, sex, birth_year)


@pytest.mark.parametrize(
    ("cccd_sex", "cccd_birth_year", "sex_code", "birth_year", "contradicts"),
    [
        ("M", 1985, "M", 1985, False),
        ("M", 1985, "M", 1986, False),  # off by one: a typing slip, not another person
        ("M", 1960, "M", 2012, True),  # a parent's ID on a child's row
        ("F", 1985, "M", 1985, True),  # the wife's ID on the husband's row
        (None, None, "M", 1985, False),  # not a CCCD: nothing to check
        ("M", 1985, None, None, False),  # the row does not say
    ],
)
def test_id_contradicts_row(
    cccd_sex: str | None,
    cccd_birth_year: int | None,
    sex_code: str | None,
    birth_year: int | None,
    contradicts: bool,
) -> None:
    frame = pl.DataFrame(
        {
            "cccd_sex": [cccd_sex],
            "cccd_birth_year": [cccd_birth_year],
            "sex_code": [sex_code],
            "birth_year": [birth_year],
        },
        schema={
            "cccd_sex": pl.String,
            "cccd_birth_year": pl.Int32,
            "sex_code": pl.String,
            "birth_year": pl.Int32,
        },
    )
    assert frame.select(id_contradicts_row()).item() is contradicts
