"""The performance app's one door to `attain.engine`: snapshot OLTP rows to Arrow, run a
calculation on an engine backend, store its results and the record of the run.

Snapshots stream rows through a server-side cursor on PostgreSQL (a plain cursor on SQLite, which
streams anyway) in batches of `batch_size`, and turn each batch into an Arrow record batch at once:
memory holds the Arrow result plus one batch of Python tuples, never the whole result as Python
objects. Decimals are read as text (`CAST(amount AS text)`) and parsed by Arrow, so no amount
passes through a float on the way: PostgreSQL prints numerics exactly, and SQLite prints its stored
values to 15 significant digits, which is exact for `DECIMAL(15, 2)` (ADR 0004).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, Max, Min, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from attain.core.actions import ensure_periods
from attain.core.models import CalcRun, Period
from attain.core.money import MONEY_DIGITS, MONEY_PLACES
from attain.core.periods import PeriodKind, add_months
from attain.crm.models import Booking, ExchangeRate
from attain.engine.backends import BACKENDS, connect
from attain.engine.calculations.bookings import compute_bookings_by_person_period
from attain.engine.errors import EngineError
from attain.engine.run import BOOKINGS_BY_PERSON_PERIOD, CALC_VERSIONS, inputs_hash
from attain.engine.schemas import BOOKINGS, EXCHANGE_RATES, PERIODS, LogicalTable
from attain.performance.models import PersonPeriodBookings

ENGINE_BACKENDS = BACKENDS
BOOKINGS_RUN_KIND = BOOKINGS_BY_PERSON_PERIOD
SNAPSHOT_BATCH_SIZE = 50_000
STORE_BATCH_SIZE = 5_000
# The period kinds a bookings run stores. Weeks are left out: pages read months and roll them up.
RESULT_PERIOD_KINDS: tuple[PeriodKind, ...] = (PeriodKind.MONTH, PeriodKind.QUARTER,
                                               PeriodKind.YEAR)
LARGEST_STORED_AMOUNT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - Decimal("0.01")


class RunError(Exception):
    """A run refused for a reason found outside the engine (e.g. a bad company-currency rate)."""


# --- snapshots ----------------------------------------------------------------------------------


def _as_text(column: str) -> Cast:
    return Cast(column, output_field=CharField())


def snapshot(queryset: QuerySet[Any], logical: LogicalTable,
             batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """The rows of a `values_list` queryset (columns in the logical table's order) as Arrow.

    Each column of a batch is built by Arrow from the driver's values and cast safely to the
    logical type: integers directly, text to decimal, ISO text (SQLite) or dates (PostgreSQL)
    to date32.
    """
    sql, params = queryset.query.sql_with_params()
    schema = logical.schema
    batches = []
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch_size):
            columns = zip(*rows, strict=True)
            arrays = [
                pa.array(values, type=target.type) if pa.types.is_integer(target.type)
                else pa.array(values).cast(target.type, safe=True)
                for values, target in zip(columns, schema, strict=True)
            ]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def snapshot_bookings(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every booking as the engine's logical `bookings` table (amounts stay exact decimals)."""
    rows = (Booking.objects.order_by("pk")
            .annotate(amount_text=_as_text("amount"))
            .values_list("pk", "owner_id", "booked_on", "amount_text", "currency"))
    return snapshot(rows, BOOKINGS, batch_size)


def snapshot_exchange_rates(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every exchange rate as the engine's logical `exchange_rates` table."""
    rows = (ExchangeRate.objects.order_by("currency", "month_start")
            .annotate(rate_text=_as_text("rate"))
            .values_list("currency", "month_start", "rate_text"))
    return snapshot(rows, EXCHANGE_RATES, batch_size)


def snapshot_periods(kinds: Iterable[PeriodKind | str] = RESULT_PERIOD_KINDS,
                     start: date | None = None, end: date | None = None,
                     batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Stored periods of `kinds` (overlapping [start, end) when given) as logical `periods`."""
    rows = Period.objects.filter(kind__in=[PeriodKind(k).value for k in kinds])
    if start is not None:
        rows = rows.filter(end__gt=start)
    if end is not None:
        rows = rows.filter(start__lt=end)
    return snapshot(rows.order_by("pk").values_list("pk", "kind", "start", "end"), PERIODS,
                    batch_size)


def with_company_currency(rates: pa.Table, currency: str, start: date, end: date) -> pa.Table:
    """`rates` plus rate 1 for the company currency in every month of [start, end) lacking one.

    A stored company-currency rate other than 1 is refused: it would scale every figure.
    """
    own = rates.filter(pc.equal(rates.column("currency"), currency))
    wrong = own.filter(pc.not_equal(own.column("rate"), pa.scalar(Decimal(1), own.schema
                                                                  .field("rate").type)))
    if wrong.num_rows:
        first = wrong.slice(0, 1).to_pylist()[0]
        raise RunError(
            f"The exchange rate of {currency}, the company currency, in "
            f"{first['month_start']:%Y-%m} is {first['rate']}; it must be 1."
        )
    have = set(own.column("month_start").to_pylist())
    month, months = date(start.year, start.month, 1), []
    while month < end:
        if month not in have:
            months.append(month)
        month = add_months(month, 1)
    if not months:
        return rates
    identity = pa.table({"currency": [currency] * len(months), "month_start": months,
                         "rate": [Decimal(1)] * len(months)}, schema=EXCHANGE_RATES.schema)
    return pa.concat_tables([rates, identity])


# --- the bookings run ---------------------------------------------------------------------------


@dataclass
class _Stopwatch:
    seconds: dict[str, float] = field(default_factory=dict)

    def time(self, step: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.seconds[step] = round(time.perf_counter() - started, 4)


def _booking_range() -> tuple[date, date] | None:
    """[first booking day, day after the last) or None without bookings."""
    span = Booking.objects.aggregate(first=Min("booked_on"), last=Max("booked_on"))
    if span["first"] is None:
        return None
    return span["first"], add_months(date(span["last"].year, span["last"].month, 1), 1)


def _store_results(run: CalcRun, result: pa.Table, currency: str) -> int:
    """bulk_create the result rows of `run`; returns how many."""
    if result.num_rows:
        largest = pc.max(pc.abs(result.column("amount"))).as_py()
        if largest > LARGEST_STORED_AMOUNT:
            raise RunError(f"A bookings total of {largest} {currency} exceeds the largest "
                           f"storable amount ({LARGEST_STORED_AMOUNT}).")
    stored = 0
    for batch in result.to_batches(max_chunksize=STORE_BATCH_SIZE):
        rows = zip(*(batch.column(name).to_pylist()
                     for name in ("person_id", "period_id", "amount", "booking_count")),
                   strict=True)
        objects = [
            PersonPeriodBookings(run=run, person_id=person_id, period_id=period_id,
                                 amount=amount, currency=currency, booking_count=count)
            for person_id, period_id, amount, count in rows
        ]
        PersonPeriodBookings.objects.bulk_create(objects, batch_size=STORE_BATCH_SIZE)
        stored += len(objects)
    return stored


def _finish(run: CalcRun, status: str, fields: Sequence[str] = ()) -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at", *fields])


def run_bookings_by_person_period(requested_by: Any = None, backend: str | None = None,
                                  *, run: CalcRun | None = None) -> CalcRun:
    """Compute bookings per person and period on `backend` and store them as a new run.

    Steps, each timed into `run.timings` (seconds): `periods` (make sure month, quarter and year
    rows exist for the bookings' range), `snapshot` (bookings, rates, periods → Arrow), `hash`,
    `compute` (the engine), `store` (results written with the run's status, in one transaction).
    The run is first saved as running, so pages can show it. On any error the run is saved as
    failed with the error text and no result rows. `run` continues a queued run (a task).
    """
    backend_name = backend or settings.ATTAIN_ENGINE_BACKEND
    currency = str(settings.ATTAIN_COMPANY_CURRENCY)
    kinds = [kind.value for kind in RESULT_PERIOD_KINDS]
    if run is None:
        run = CalcRun(kind=BOOKINGS_BY_PERSON_PERIOD, requested_by=requested_by)
    run.status = CalcRun.Status.RUNNING
    run.started_at = timezone.now()
    run.backend = backend_name
    run.calc_version = CALC_VERSIONS[BOOKINGS_BY_PERSON_PERIOD]
    run.params = {"company_currency": currency, "period_kinds": kinds}
    run.save()
    watch = _Stopwatch()
    started = time.perf_counter()
    try:
        span = _booking_range()
        if span is not None:
            watch.time("periods", lambda: ensure_periods(span[0], span[1], RESULT_PERIOD_KINDS))

        def take_snapshot() -> dict[str, pa.Table]:
            bookings = snapshot_bookings()
            rates = snapshot_exchange_rates()
            if span is not None:
                rates = with_company_currency(rates, currency, *span)
            periods = (snapshot_periods(kinds, *span) if span is not None
                       else PERIODS.empty())
            return {"bookings": bookings, "exchange_rates": rates, "periods": periods}

        with transaction.atomic():  # one read transaction for the three tables
            inputs: dict[str, pa.Table] = watch.time("snapshot", take_snapshot)
        run.input_rows = sum(table.num_rows for table in inputs.values())
        run.inputs_hash = watch.time("hash", lambda: inputs_hash(inputs, run.params))

        def compute() -> pa.Table:
            with connect(backend_name) as engine:
                return compute_bookings_by_person_period(
                    engine, inputs["bookings"], inputs["exchange_rates"], inputs["periods"])

        result: pa.Table = watch.time("compute", compute)

        def store() -> None:
            with transaction.atomic():
                run.output_rows = _store_results(run, result, currency)
                run.timings = {**watch.seconds,
                               "total": round(time.perf_counter() - started, 4)}
                _finish(run, CalcRun.Status.SUCCEEDED,
                        ["inputs_hash", "input_rows", "output_rows", "timings"])

        watch.time("store", store)
        # the store step's own time is known only now; saved outside its transaction
        run.timings = {**watch.seconds, "total": round(time.perf_counter() - started, 4)}
        run.save(update_fields=["timings"])
    except (EngineError, RunError, ValueError) as error:
        _fail(run, watch, started, str(error))
    except Exception as error:  # a bug or a database error: record it, then let it surface
        _fail(run, watch, started, f"{type(error).__name__}: {error}")
        raise
    return run


def _fail(run: CalcRun, watch: _Stopwatch, started: float, message: str) -> None:
    run.error = message
    run.output_rows = 0
    run.timings = {**watch.seconds, "total": round(time.perf_counter() - started, 4)}
    _finish(run, CalcRun.Status.FAILED,
            ["error", "inputs_hash", "input_rows", "output_rows", "timings"])
