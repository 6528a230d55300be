"""The engine's test lane: every test takes a `backend`, run once on DuckDB and once on Spark.

Spark runs are marked `spark`; the JVM starts once per test session and is shared. Where Spark
cannot start, its runs skip locally and fail in CI (`require`). No Django database is used here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from attain.engine.backends import Backend, connect
from attain.engine.schemas import BOOKINGS, EXCHANGE_RATES, PERIODS
from tests.conftest import require


@pytest.fixture(scope="session")
def spark_problem() -> Iterator[str]:
    """Start the shared Spark session once; '' when it runs, else why it cannot."""
    try:
        from attain.engine.backends.spark import spark_session, stop_spark_session

        spark_session()
    except Exception as error:  # ImportError, a missing JVM, a port that cannot be bound …
        yield f"Spark cannot start here: {type(error).__name__}: {error}"
        return
    yield ""
    stop_spark_session()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "spark":
        problem = request.getfixturevalue("spark_problem")
        require(not problem, problem)
    with connect(request.param) as engine:
        yield engine


def bookings_table(*rows: tuple[int, int | None, date, str, str]) -> pa.Table:
    """(booking_id, person_id, booked_on, amount, currency) rows as the logical bookings table."""
    return pa.Table.from_pylist(
        [{"booking_id": b, "person_id": p, "booked_on": on, "amount": Decimal(amount),
          "currency": currency} for b, p, on, amount, currency in rows],
        schema=BOOKINGS.schema,
    )


def rates_table(*rows: tuple[str, date, str]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"currency": c, "month_start": m, "rate": Decimal(rate)} for c, m, rate in rows],
        schema=EXCHANGE_RATES.schema,
    )


def periods_table(*rows: tuple[int, str, date, date]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"period_id": i, "kind": k, "start": s, "end": e} for i, k, s, e in rows],
        schema=PERIODS.schema,
    )


def result_rows(table: pa.Table) -> dict[tuple[int, int], tuple[Decimal, int]]:
    """{(person_id, period_id): (amount, booking_count)}"""
    rows: list[dict[str, Any]] = table.to_pylist()
    return {(r["person_id"], r["period_id"]): (r["amount"], r["booking_count"]) for r in rows}
