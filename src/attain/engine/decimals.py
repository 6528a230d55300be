"""Exact decimal rounding for Ibis expressions: banker's rounding that every backend agrees on.

Backends disagree on ties: DuckDB's and Spark's ROUND round half away from zero, Python's
`attain.core.money.round_money` and ADR 0004 round half to even. `round_half_even` builds the
half-even result from plain decimal arithmetic, so the same expression gives the same cents on
every backend (and stays right on a backend whose ROUND already rounds half to even).
"""

from __future__ import annotations

from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

# Working precision: 18 integer digits, room for the scale, and within 38 for every intermediate
# result on DuckDB and Spark (so no backend silently narrows the scale).
WORK_PRECISION = 28


def round_half_even(value: ir.DecimalValue, places: int = 2, *,
                    precision: int = 18) -> ir.DecimalValue:
    """`value` rounded to `places` decimals, ties to the even last digit, as decimal(precision,
    places).

    Worked example, to cents: 2.345 → 2.34 (4 is even), 2.355 → 2.36, -2.345 → -2.34,
    2.3450000001 → 2.35 (not a tie). How: `nearest` is ROUND's answer (one of the two neighbours
    in cents); when `value` lies exactly half a cent from it and its last digit is odd, the other
    neighbour, `nearest` ± 0.01 towards `value`, is the even one.
    """
    dtype = value.type()
    if not isinstance(dtype, dt.Decimal) or dtype.scale is None:
        raise TypeError(f"round_half_even needs a decimal value, got {dtype}")
    result_type = dt.Decimal(precision, places)
    if dtype.scale <= places:
        return value.cast(result_type)
    exact = value.cast(dt.Decimal(WORK_PRECISION, dtype.scale))
    nearest = exact.round(places).cast(dt.Decimal(WORK_PRECISION, places))
    gap = exact - nearest
    half = ibis.literal(Decimal(5).scaleb(-(places + 1)), type=dt.Decimal(places + 2, places + 1))
    step = ibis.literal(Decimal(1).scaleb(-places), type=dt.Decimal(places + 1, places))
    neg_step = ibis.literal(-Decimal(1).scaleb(-places), type=dt.Decimal(places + 1, places))
    last_digit_odd = (nearest * 10**places).cast(dt.int64) % 2 != 0
    other = nearest + ibis.ifelse(gap > 0, step, neg_step)
    # the parity (a cast that narrows the scale, as costly as a product) only for the rare tie:
    # backends evaluate only the branch a row takes
    rounded = ibis.ifelse(gap.abs() == half, ibis.ifelse(last_digit_odd, other, nearest),
                          nearest)
    return rounded.cast(result_type)
