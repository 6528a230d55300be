"""Bookings by region and category (`bookings_breakdown`), worked by hand, on every backend.

    rates    EUR March 2026 1.10 (USD 1)
    lines    1 2026-03-02 100.0050 EUR West Tech    -> 110.00550 USD
             2 2026-03-09  20.0049 USD East Tech    ->  20.0049
             3 2026-04-01   0.0050 USD ""   Office  ->   0.0050   (April, no region)
             4 2026-04-02   0.0050 USD ""   Office  ->   0.0050
             5 2026-04-03   0.0050 USD ""   Office  ->   0.0050
    March    total 110.0055 + 20.0049 = 130.0104 -> 130.01 (2 lines);
             West 110.0055 -> 110.01; East 20.0049 -> 20.00; Tech 130.0104 -> 130.01
    April    total 0.0150 -> 0.02 (3 lines) — rounding each line (0.0050 -> 0.00, half to even)
             would have given 0.00; region "" 0.02; Office 0.02
    Q1 (Jan-Mar) = March; all time (period 0): total 130.0254 -> 130.03 (5 lines),
             Tech 130.01, Office 0.02, West 110.01, East 20.00, "" 0.02
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from attain.engine.calculations.performance import ALL_TIME, compute_bookings_breakdown
from attain.engine.errors import MissingExchangeRateError
from attain.engine.schemas import PERF_BOOKING_LINES
from tests.engine.conftest import periods_table, rates_table

MARCH, APRIL, Q1 = 1, 2, 3


def lines(*rows: tuple[int, date, str, str, str, str]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"booking_id": i, "booked_on": on, "amount": Decimal(amount), "currency": cur,
          "region": region, "category": category}
         for i, on, amount, cur, region, category in rows], schema=PERF_BOOKING_LINES.schema)


LINES = lines(
    (1, date(2026, 3, 2), "100.0050", "EUR", "West", "Tech"),
    (2, date(2026, 3, 9), "20.0049", "USD", "East", "Tech"),
    (3, date(2026, 4, 1), "0.0050", "USD", "", "Office"),
    (4, date(2026, 4, 2), "0.0050", "USD", "", "Office"),
    (5, date(2026, 4, 3), "0.0050", "USD", "", "Office"),
)


def rates() -> pa.Table:
    return rates_table(("EUR", date(2026, 3, 1), "1.10"), ("USD", date(2026, 3, 1), "1"),
                       ("USD", date(2026, 4, 1), "1"))


def periods() -> pa.Table:
    return periods_table((MARCH, "month", date(2026, 3, 1), date(2026, 4, 1)),
                         (APRIL, "month", date(2026, 4, 1), date(2026, 5, 1)),
                         (Q1, "quarter", date(2026, 1, 1), date(2026, 4, 1)))


def test_breakdown_sums_exactly_and_rounds_once(backend):
    result = compute_bookings_breakdown(backend, LINES, rates(), periods())
    got = {(r["period_id"], r["dimension"], r["value"]): (r["amount"], r["booking_count"])
           for r in result.to_pylist()}
    d = Decimal
    assert got == {
        (MARCH, "", ""): (d("130.01"), 2), (MARCH, "region", "West"): (d("110.01"), 1),
        (MARCH, "region", "East"): (d("20.00"), 1), (MARCH, "category", "Tech"): (d("130.01"), 2),
        (APRIL, "", ""): (d("0.02"), 3), (APRIL, "region", ""): (d("0.02"), 3),
        (APRIL, "category", "Office"): (d("0.02"), 3),
        (Q1, "", ""): (d("130.01"), 2), (Q1, "region", "West"): (d("110.01"), 1),
        (Q1, "region", "East"): (d("20.00"), 1), (Q1, "category", "Tech"): (d("130.01"), 2),
        (ALL_TIME, "", ""): (d("130.03"), 5), (ALL_TIME, "region", "West"): (d("110.01"), 1),
        (ALL_TIME, "region", "East"): (d("20.00"), 1), (ALL_TIME, "region", ""): (d("0.02"), 3),
        (ALL_TIME, "category", "Tech"): (d("130.01"), 2),
        (ALL_TIME, "category", "Office"): (d("0.02"), 3),
    }


def test_a_line_without_a_rate_fails_the_calculation(backend):
    with pytest.raises(MissingExchangeRateError, match="EUR"):
        compute_bookings_breakdown(
            backend, LINES, rates_table(("USD", date(2026, 3, 1), "1"),
                                        ("USD", date(2026, 4, 1), "1")), periods())
