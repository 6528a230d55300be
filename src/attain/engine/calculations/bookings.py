"""Bookings per person per period, in the company currency.

Worked example (company currency USD; periods are half-open, a booking counts in every period
that contains its date):

    bookings                              exchange_rates (USD per unit)
    id person booked_on   amount  cur     EUR 2026-03  1.10000000    USD every month  1
    1  7      2026-03-31  100.00  EUR     EUR 2026-04  1.20000000
    2  7      2026-04-01   50.00  EUR
    3  7      2026-04-15   10.00  USD

    March 2026   person 7: 100.00 x 1.1  = 110.00            1 booking
    April 2026   person 7:  50.00 x 1.2  +  10.00 = 70.00    2 bookings
    Q1, Q2 2026: 110.00 (1) and 70.00 (2); FY2026: 180.00 (3)

Booking 2, dated on the first day of Q2, counts in Q2 only: a period holds `start` and not `end`.

Rounding point: each booking is converted exactly (amount x rate has 10 decimals); the exact
converted amounts are summed per person and period, and that sum is rounded once to cents, half
to even (ADR 0004). A quarter's figure is therefore the rounded sum of its exact amounts, which can
differ by a cent from the sum of its three rounded months.

A booking whose currency has no rate for the month of `booked_on` must not vanish from every
total: `compute_bookings_by_person_period` checks `missing_rates` first and raises
`MissingExchangeRateError` naming each currency and month. Bookings without a person
(`person_id` null) belong to nobody's figures and are left out.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend
from attain.engine.decimals import round_half_even
from attain.engine.errors import MissingExchangeRateError, MissingRate
from attain.engine.schemas import BOOKINGS_BY_PERSON_PERIOD, conform, require_unique

RESULT_TYPES = BOOKINGS_BY_PERSON_PERIOD.schema


def _owned_with_month(bookings: ir.Table) -> ir.Table:
    owned = bookings.filter(bookings.person_id.notnull())
    return owned.mutate(month_start=owned.booked_on.truncate("M").cast(dt.date))


def missing_rates(bookings: ir.Table, rates: ir.Table) -> ir.Table:
    """(currency, month_start, booking_count) for each currency and month of person-owned
    bookings that has no exchange rate; empty when every booking can be converted."""
    needed = _owned_with_month(bookings).group_by(["currency", "month_start"]).aggregate(
        booking_count=ibis._.count()
    )
    return needed.anti_join(rates, ["currency", "month_start"]).order_by(
        ["currency", "month_start"]
    )


def bookings_by_person_period(bookings: ir.Table, rates: ir.Table,
                              periods: ir.Table) -> ir.Table:
    """person_id, period_id, amount (company currency, decimal(18, 2)), booking_count.

    Inputs are the logical tables `bookings`, `exchange_rates` and `periods`
    (`attain.engine.schemas`). Assumes every booking has a rate: check `missing_rates` first (as
    `compute_bookings_by_person_period` does), since the rate join is an inner join.
    """
    owned = _owned_with_month(bookings)
    converted = owned.join(rates, ["currency", "month_start"]).select(
        "person_id", "booked_on", converted=owned.amount * rates.rate
    )
    in_period = converted.join(
        periods,
        [converted.booked_on >= periods.start, converted.booked_on < periods.end],
    )
    totals = in_period.group_by(["person_id", "period_id"]).aggregate(
        exact=in_period.converted.sum(), booking_count=in_period.converted.count()
    )
    return totals.select(
        totals.person_id.cast(dt.int64),
        totals.period_id.cast(dt.int64),
        amount=round_half_even(totals.exact, 2, precision=18),
        booking_count=totals.booking_count.cast(dt.int64),
    ).order_by(["person_id", "period_id"])


def compute_bookings_by_person_period(backend: Backend, bookings: pa.Table, rates: pa.Table,
                                      periods: pa.Table) -> pa.Table:
    """Run the calculation on `backend`: checked inputs in, the result as Arrow out.

    Raises `SchemaError` for a malformed input, `DuplicateKeyError` for two rates of one currency
    and month (or two periods with one id), `MissingExchangeRateError` for bookings that cannot
    be converted.
    """
    rates, periods = conform("exchange_rates", rates), conform("periods", periods)
    require_unique("exchange_rates", rates)
    require_unique("periods", periods)
    bound_bookings = backend.table("bookings", bookings)
    bound_rates = backend.table("exchange_rates", rates)
    bound_periods = backend.table("periods", periods)
    missing = backend.execute(missing_rates(bound_bookings, bound_rates))
    if missing.num_rows:
        raise MissingExchangeRateError([
            MissingRate(row["currency"], row["month_start"], int(row["booking_count"]))
            for row in missing.to_pylist()
        ])
    result = backend.execute(bookings_by_person_period(bound_bookings, bound_rates,
                                                       bound_periods))
    return result.cast(RESULT_TYPES)


__all__ = ["bookings_by_person_period", "compute_bookings_by_person_period", "missing_rates"]
