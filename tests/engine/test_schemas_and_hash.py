"""Logical schemas refuse lossy inputs; the inputs hash depends on content only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from attain.engine.backends import connect
from attain.engine.errors import SchemaError
from attain.engine.run import CALC_VERSIONS, inputs_hash
from attain.engine.schemas import conform
from tests.engine.conftest import bookings_table, periods_table, rates_table

BOOKINGS = bookings_table(
    (1, 1, date(2026, 3, 31), "100.00", "EUR"),
    (2, None, date(2026, 4, 1), "0.10", "USD"),
    (3, 2, date(2026, 4, 2), "12345678901.99", "USD"),
)
RATES = rates_table(("EUR", date(2026, 3, 1), "1.08"), ("USD", date(2026, 4, 1), "1"))
PERIODS = periods_table((1, "month", date(2026, 3, 1), date(2026, 4, 1)))


def hash_of(bookings: pa.Table, **params: str) -> str:
    return inputs_hash({"bookings": bookings, "exchange_rates": RATES, "periods": PERIODS},
                       params)


def test_the_hash_ignores_row_order_and_chunking():
    reordered = BOOKINGS.take([2, 0, 1])
    rechunked = pa.Table.from_batches(BOOKINGS.to_batches(max_chunksize=1))

    assert hash_of(reordered) == hash_of(BOOKINGS)
    assert hash_of(rechunked) == hash_of(BOOKINGS)
    assert len(hash_of(BOOKINGS)) == 64


def test_the_hash_changes_with_one_cent_or_a_parameter():
    one_cent_more = BOOKINGS.set_column(
        3, "amount", pa.array([Decimal("100.01"), Decimal("0.10"), Decimal("12345678901.99")],
                              pa.decimal128(18, 2)))

    assert hash_of(one_cent_more) != hash_of(BOOKINGS)
    assert hash_of(BOOKINGS, company_currency="EUR") != hash_of(BOOKINGS,
                                                                company_currency="USD")


def test_the_hash_reads_amounts_by_value_not_by_arrow_type():
    wider = BOOKINGS.set_column(3, "amount", BOOKINGS.column("amount").cast(pa.decimal128(30, 4)))

    assert hash_of(wider) == hash_of(BOOKINGS)


def test_conform_refuses_amounts_that_would_lose_cents():
    tenths_of_cents = BOOKINGS.set_column(
        3, "amount", pa.array([Decimal("0.125")] * 3, pa.decimal128(18, 3)))

    with pytest.raises(SchemaError, match=r"bookings\.amount") as error:
        conform("bookings", tenths_of_cents)
    assert (error.value.table, error.value.column) == ("bookings", "amount")


def test_conform_names_a_missing_column_and_an_empty_required_value():
    with pytest.raises(SchemaError, match="no column 'currency'"):
        conform("bookings", BOOKINGS.drop_columns(["currency"]))
    with pytest.raises(SchemaError, match=r"bookings.booked_on has 1 empty value"):
        conform("bookings", BOOKINGS.set_column(
            2, "booked_on", pa.array([date(2026, 1, 1), None, date(2026, 1, 2)], pa.date32())))


def test_binding_checks_the_table_on_every_backend(backend):
    with pytest.raises(SchemaError, match="no column 'rate'"):
        backend.table("exchange_rates", RATES.drop_columns(["rate"]))


def test_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="use one of: duckdb, spark"):
        connect("oracle")


def test_every_calculation_has_a_version():
    # A new calculation, or a change that can change results, must be a deliberate edit here.
    assert CALC_VERSIONS == {"bookings_by_person_period": "1", "data_quality": "1",
                             "pipeline_analytics": "1", "performance": "2"}
