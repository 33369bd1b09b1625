"""Sex rule: the many spellings facilities use -> M | F | null.

Nam, nam, M, Male, Trai, 1 -> M. Nữ, nu, F, Female, Gái, 0, 2 -> F. In Vietnamese health forms "1" is
always male; female is "0" (a yes/no "is male" column) or "2" (the 1/2 coding). Anything else
("Khác", "?", blank) is unknown: null, never a guess.
"""

from __future__ import annotations

import polars as pl

from transforms.normalize.text import fold_key

MALE = ("nam", "m", "male", "trai", "nam gioi", "be trai", "1", "ong")
FEMALE = ("nu", "f", "female", "gai", "nu gioi", "be gai", "0", "2", "ba")


def sex_code(raw: pl.Expr) -> pl.Expr:
    key = fold_key(raw)
    return pl.when(key.is_in(MALE)).then(pl.lit("M")).when(key.is_in(FEMALE)).then(pl.lit("F"))
