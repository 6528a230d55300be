"""Bookings per person and period, worked by hand, on every backend."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise

import pytest

from attain.engine.calculations.bookings import compute_bookings_by_person_period
from attain.engine.errors import DuplicateKeyError, MissingExchangeRateError, MissingRate
from attain.engine.schemas import BOOKINGS_BY_PERSON_PERIOD
from tests.engine.conftest import bookings_table, periods_table, rates_table, result_rows

MAR, APR, MAY, JUN = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)
M_MAR, M_APR, M_MAY, M_JUN, Q1, Q2, FY2026, WEEK = 1, 2, 3, 4, 11, 12, 21, 31
PERIODS = periods_table(
    (M_MAR, "month", MAR, APR),
    (M_APR, "month", APR, MAY),
    (M_MAY, "month", MAY, JUN),
    (M_JUN, "month", JUN, date(2026, 7, 1)),
    (Q1, "quarter", date(2026, 1, 1), APR),
    (Q2, "quarter", APR, date(2026, 7, 1)),
    (FY2026, "year", date(2026, 1, 1), date(2027, 1, 1)),
    (WEEK, "week", date(2026, 3, 30), date(2026, 4, 6)),  # Monday 30 March .. Sunday 5 April
)
RATES = rates_table(
    ("USD", MAR, "1"), ("USD", APR, "1"), ("USD", MAY, "1"),
    ("EUR", MAR, "1.08"), ("EUR", APR, "1.10"), ("EUR", MAY, "1.12345678"),
)
ANN, BOB = 1, 2
BOOKINGS = bookings_table(
    (1, ANN, date(2026, 3, 31), "100.00", "EUR"),   # 108.00 USD
    (2, ANN, date(2026, 4, 1), "200.00", "EUR"),    # 220.00 USD, first day of April and of Q2
    (3, ANN, date(2026, 3, 15), "1000.50", "USD"),
    (4, BOB, date(2026, 4, 30), "99.99", "USD"),
    (5, BOB, date(2026, 4, 1), "33.33", "EUR"),     # 36.663 USD
    (6, BOB, date(2026, 5, 1), "10.00", "EUR"),     # 11.2345678 USD
)


def test_converts_each_booking_at_its_months_rate_and_counts_it_in_every_period(backend):
    result = compute_bookings_by_person_period(backend, BOOKINGS, RATES, PERIODS)

    assert result_rows(result) == {
        (ANN, M_MAR): (Decimal("1108.50"), 2),     # 108.00 + 1000.50
        (ANN, M_APR): (Decimal("220.00"), 1),
        (ANN, Q1): (Decimal("1108.50"), 2),
        (ANN, Q2): (Decimal("220.00"), 1),
        (ANN, FY2026): (Decimal("1328.50"), 3),
        (ANN, WEEK): (Decimal("328.00"), 2),       # 31 March and 1 April share a week
        (BOB, M_APR): (Decimal("136.65"), 2),      # 99.99 + 36.663 = 136.653
        (BOB, M_MAY): (Decimal("11.23"), 1),       # 11.2345678
        (BOB, Q2): (Decimal("147.89"), 3),         # 147.8875678, rounded once (months: 147.88)
        (BOB, FY2026): (Decimal("147.89"), 3),
        (BOB, WEEK): (Decimal("36.66"), 1),
    }


def test_result_has_the_logical_schema_and_is_ordered(backend):
    result = compute_bookings_by_person_period(backend, BOOKINGS, RATES, PERIODS)

    assert result.schema.equals(BOOKINGS_BY_PERSON_PERIOD.schema)
    keys = list(zip(result.column("person_id").to_pylist(),
                    result.column("period_id").to_pylist(), strict=True))
    assert keys == sorted(keys)


def test_a_booking_on_a_period_boundary_belongs_to_the_later_period(backend):
    bookings = bookings_table((1, ANN, APR, "5.00", "USD"))

    result = compute_bookings_by_person_period(backend, bookings, RATES, PERIODS)

    assert result_rows(result) == {
        (ANN, M_APR): (Decimal("5.00"), 1),
        (ANN, Q2): (Decimal("5.00"), 1),
        (ANN, FY2026): (Decimal("5.00"), 1),
        (ANN, WEEK): (Decimal("5.00"), 1),
    }


def test_a_booking_without_a_rate_fails_the_run_naming_currency_and_month(backend):
    bookings = bookings_table(
        (1, ANN, date(2026, 4, 3), "10.00", "GBP"),
        (2, ANN, date(2026, 4, 20), "20.00", "GBP"),
        (3, BOB, date(2026, 6, 2), "30.00", "EUR"),  # EUR has rates up to May only
        (4, BOB, date(2026, 4, 2), "40.00", "EUR"),
    )

    with pytest.raises(MissingExchangeRateError) as error:
        compute_bookings_by_person_period(backend, bookings, RATES, PERIODS)

    assert error.value.missing == [
        MissingRate("EUR", JUN, 1),
        MissingRate("GBP", APR, 2),
    ]
    assert str(error.value).startswith(
        "No exchange rate for EUR in 2026-06 (1 booking); GBP in 2026-04 (2 bookings).")


@pytest.mark.parametrize(("currency", "amounts", "expected"), [
    ("X", ["4.69"], "2.34"),          # 2.345: a tie, to the even 4
    ("X", ["4.71"], "2.36"),          # 2.355: a tie, to the even 6
    ("X", ["0.01"], "0.00"),          # 0.005
    ("X", ["0.03"], "0.02"),          # 0.015
    ("X", ["-4.69"], "-2.34"),        # a credit note: -2.345
    ("Y", ["4.69"], "2.35"),          # 2.3450000938 is not a tie
    ("X", ["0.01", "0.01"], "0.01"),  # 0.005 + 0.005: the sum is rounded, not each booking
])
def test_amounts_are_rounded_once_half_to_even(backend, currency, amounts, expected):
    rates = rates_table(("X", JUN, "0.5"), ("Y", JUN, "0.50000002"))
    bookings = bookings_table(*((i, ANN, date(2026, 6, 10), amount, currency)
                                for i, amount in enumerate(amounts, start=1)))

    result = compute_bookings_by_person_period(backend, bookings, rates, PERIODS)

    assert result_rows(result)[(ANN, M_JUN)] == (Decimal(expected), len(amounts))


def test_bookings_without_a_person_are_left_out(backend):
    bookings = bookings_table((1, None, date(2026, 3, 2), "70.00", "USD"),
                              (2, BOB, date(2026, 3, 2), "30.00", "USD"))

    result = compute_bookings_by_person_period(backend, bookings, RATES, PERIODS)

    assert result_rows(result) == {(BOB, M_MAR): (Decimal("30.00"), 1),
                                   (BOB, Q1): (Decimal("30.00"), 1),
                                   (BOB, FY2026): (Decimal("30.00"), 1)}


def test_no_bookings_give_an_empty_result(backend):
    result = compute_bookings_by_person_period(backend, bookings_table(), RATES, PERIODS)

    assert result.num_rows == 0
    assert result.schema.equals(BOOKINGS_BY_PERSON_PERIOD.schema)


def test_two_rates_for_one_currency_and_month_are_refused(backend):
    rates = rates_table(("USD", MAR, "1"), ("USD", MAR, "1.0"))

    with pytest.raises(DuplicateKeyError, match="2 rows for currency=USD, month_start=2026-03-01"):
        compute_bookings_by_person_period(backend, BOOKINGS, rates, PERIODS)


def reference(bookings, rates, periods) -> dict[tuple[int, int], tuple[Decimal, int]]:
    """The same figures, the slow obvious way in Python."""
    rate = {(r["currency"], r["month_start"]): r["rate"] for r in rates.to_pylist()}
    sums: dict[tuple[int, int], tuple[Decimal, int]] = {}
    for b in bookings.to_pylist():
        converted = b["amount"] * rate[(b["currency"], b["booked_on"].replace(day=1))]
        for p in periods.to_pylist():
            if p["start"] <= b["booked_on"] < p["end"]:
                amount, count = sums.get((b["person_id"], p["period_id"]), (Decimal(0), 0))
                sums[(b["person_id"], p["period_id"])] = (amount + converted, count + 1)
    return {key: (amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), count)
            for key, (amount, count) in sums.items()}


def test_agrees_with_a_plain_python_reference_on_varied_data(backend):
    rng = random.Random(20261123)
    first = date(2025, 11, 1)
    months = [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1),
              date(2026, 3, 1)]
    rates = rates_table(
        *(("USD", m, "1") for m in months[:-1]),
        *((c, m, f"{rng.uniform(0.005, 2):.8f}") for c in ["EUR", "JPY"] for m in months[:-1]),
    )
    periods = periods_table(
        *((i, "month", m, n) for i, (m, n) in enumerate(pairwise(months), start=1)),
        (10, "quarter", date(2025, 10, 1), date(2026, 1, 1)),
        (11, "quarter", date(2026, 1, 1), date(2026, 4, 1)),
        (20, "year", date(2025, 1, 1), date(2026, 1, 1)),
        *((100 + w, "week", first + timedelta(weeks=w), first + timedelta(weeks=w + 1))
          for w in range(16)),
    )
    bookings = bookings_table(*(
        (i, rng.randint(1, 5), first + timedelta(days=rng.randrange(120)),
         f"{rng.randint(-5000, 900000) / 100:.2f}", rng.choice(["USD", "EUR", "JPY"]))
        for i in range(1, 401)
    ))

    result = compute_bookings_by_person_period(backend, bookings, rates, periods)

    assert result_rows(result) == reference(bookings, rates, periods)
