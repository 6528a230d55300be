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

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, F, Max, Min, Q, Value, When
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone

from attain.core.actions import ensure_periods, fiscal_calendar
from attain.core.bulk_write import refresh_statistics, write_arrow
from attain.core.engine_io import (
    RunClock,
    as_text,
    business_day,
    fail_run,
    finish_run,
    snapshot,
    start_run,
)
from attain.core.models import CalcRun, Period
from attain.core.money import MONEY_DIGITS, MONEY_PLACES
from attain.core.periods import PeriodKind, add_months
from attain.crm.models import Booking, ExchangeRate, Opportunity, StageChange
from attain.engine.backends import BACKENDS, connect
from attain.engine.calculations import performance as perf_calc
from attain.engine.calculations import performance_ranks as perf_ranks
from attain.engine.calculations.bookings import compute_bookings_by_person_period
from attain.engine.errors import EngineError
from attain.engine.run import BOOKINGS_BY_PERSON_PERIOD, CALC_VERSIONS, PERFORMANCE, inputs_hash
from attain.engine.schemas import (
    BOOKINGS,
    EXCHANGE_RATES,
    PERF_BOOKING_LINES,
    PERF_OPPORTUNITIES,
    PERF_PEOPLE,
    PERF_QUOTA_VERSIONS,
    PERF_REPORTING_LINES,
    PERF_STAGE_CHANGES,
    PERIODS,
)
from attain.people.models import Person, ReportingLine
from attain.performance.models import (
    BookingsBreakdown,
    ManagerPeriodPerformance,
    PerformanceMedian,
    PersonPeriodBookings,
    PersonPeriodPerformance,
    PersonStageConversion,
    Quota,
    QuotaVersion,
    TeamPeriodPerformance,
)

ENGINE_BACKENDS = BACKENDS
BOOKINGS_RUN_KIND = BOOKINGS_BY_PERSON_PERIOD
SNAPSHOT_BATCH_SIZE = 50_000
# The period kinds a bookings run stores. Weeks are left out: pages read months and roll them up.
RESULT_PERIOD_KINDS: tuple[PeriodKind, ...] = (PeriodKind.MONTH, PeriodKind.QUARTER,
                                               PeriodKind.YEAR)
LARGEST_STORED_AMOUNT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - Decimal("0.01")


class RunError(Exception):
    """A run refused for a reason found outside the engine (e.g. a bad company-currency rate)."""


# --- snapshots ----------------------------------------------------------------------------------


def snapshot_bookings(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every booking as the engine's logical `bookings` table (amounts stay exact decimals)."""
    rows = (Booking.objects.order_by("pk")
            .annotate(amount_text=as_text("amount"))
            .values_list("pk", "owner_id", "booked_on", "amount_text", "currency"))
    return snapshot(rows, BOOKINGS, batch_size)


def booking_region() -> Coalesce:
    """An order line's sales region: its deal's, else its deal's account's, else ""."""
    return Coalesce(NullIf("opportunity__region", Value("")),
                    NullIf("opportunity__account__region", Value("")), Value(""),
                    output_field=CharField())


def snapshot_booking_lines(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every order line for the bookings breakdown: its exact amount (`source_amount` as
    imported, else `amount`), its deal's region (else the account's; "" unknown) and its
    product's family ("" without a product)."""
    rows = (Booking.objects.order_by("pk")
            .annotate(exact_text=Cast(Coalesce("source_amount", "amount"),
                                      output_field=CharField()),
                      region=booking_region(),
                      category=Coalesce("product__family", Value(""), output_field=CharField()))
            .values_list("pk", "booked_on", "exact_text", "currency", "region", "category"))
    return snapshot(rows, PERF_BOOKING_LINES, batch_size)


def snapshot_exchange_rates(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every exchange rate as the engine's logical `exchange_rates` table."""
    rows = (ExchangeRate.objects.order_by("currency", "month_start")
            .annotate(rate_text=as_text("rate"))
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


def _booking_range() -> tuple[date, date] | None:
    """[first booking day, day after the last) or None without bookings."""
    span = Booking.objects.aggregate(first=Min("booked_on"), last=Max("booked_on"))
    if span["first"] is None:
        return None
    return span["first"], add_months(date(span["last"].year, span["last"].month, 1), 1)


def _store_results(run: CalcRun, result: pa.Table, currency: str) -> int:
    """Write the result rows of `run` through the fast write path; returns how many."""
    if result.num_rows:
        largest = pc.max(pc.abs(result.column("amount"))).as_py()
        if largest > LARGEST_STORED_AMOUNT:
            raise RunError(f"A bookings total of {largest} {currency} exceeds the largest "
                           f"storable amount ({LARGEST_STORED_AMOUNT}).")
    return write_arrow(PersonPeriodBookings, result.select(
        ["person_id", "period_id", "amount", "booking_count"]),
        {"run_id": run.pk, "currency": currency})


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
    run = start_run(run, kind=BOOKINGS_BY_PERSON_PERIOD, requested_by=requested_by,
                    backend=backend_name, calc_version=CALC_VERSIONS[BOOKINGS_BY_PERSON_PERIOD],
                    params={"company_currency": currency, "period_kinds": kinds})
    watch = RunClock()
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
                run.timings = watch.timings()
                finish_run(run, CalcRun.Status.SUCCEEDED,
                           ["inputs_hash", "input_rows", "output_rows", "timings"])

        watch.time("store", store)
        # the store step's own time is known only now; saved outside its transaction
        run.timings = watch.timings()
        run.save(update_fields=["timings"])
    except (EngineError, RunError, ValueError) as error:
        fail_run(run, watch, str(error))
    except Exception as error:  # a bug or a database error: record it, then let it surface
        fail_run(run, watch, f"{type(error).__name__}: {error}")
        raise
    return run


# --- the performance run ------------------------------------------------------------------------

PERFORMANCE_RUN_KIND = PERFORMANCE
# Quotas of any kind of period are read; results are stored for these kinds and for every
# period (weeks included) that holds a quota.
PERFORMANCE_PERIOD_KINDS = RESULT_PERIOD_KINDS
SINCE_FOREVER = date(1, 1, 1)
# The exact ratio rules of the run, for pages that add stored figures up (a team's totals).
ratio_pct = perf_calc.ratio_pct
expected_to_date = perf_calc.expected_to_date
coverage_ratio = perf_calc.coverage_ratio
elapsed_days = perf_calc.elapsed_days


def snapshot_people(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    rows = Person.objects.order_by("pk").values_list("pk", "role", "hired_on", "left_on")
    return snapshot(rows, PERF_PEOPLE, batch_size)


def snapshot_reporting_lines(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    rows = ReportingLine.objects.order_by("person_id", "valid_from").values_list(
        "person_id", "manager_id", "team_id", "valid_from", "valid_to")
    return snapshot(rows, PERF_REPORTING_LINES, batch_size)


def snapshot_quota_versions(currency: str, batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every bookings quota version; a quota without versions counts as one valid since forever
    (id: minus the quota's id). Quotas must be in the company currency."""
    foreign = (Quota.objects.filter(kind=Quota.Kind.BOOKINGS).exclude(currency=currency)
               .select_related("period").first())
    if foreign is not None:
        raise RunError(f"Quota #{foreign.pk} ({foreign}) is in {foreign.currency}; quotas must be "
                       f"in the company currency {currency}.")
    versions = (QuotaVersion.objects.filter(quota__kind=Quota.Kind.BOOKINGS).order_by("pk")
                .annotate(holder=Case(When(quota__person__isnull=False, then=Value("person")),
                                      default=Value("team")),
                          holder_id=Coalesce("quota__person_id", "quota__team_id"),
                          amount_text=as_text("amount"))
                .values_list("pk", "holder", "holder_id", "quota__period_id", "valid_from",
                             "amount_text"))
    stored = snapshot(versions, PERF_QUOTA_VERSIONS, batch_size)
    bare = (Quota.objects.filter(kind=Quota.Kind.BOOKINGS, versions__isnull=True).order_by("pk")
            .annotate(version_id=-F("pk"),
                      holder=Case(When(person__isnull=False, then=Value("person")),
                                  default=Value("team")),
                      holder_id=Coalesce("person_id", "team_id"),
                      valid_from=Value(SINCE_FOREVER.isoformat()),
                      amount_text=as_text("amount"))
            .values_list("version_id", "holder", "holder_id", "period_id", "valid_from",
                         "amount_text"))
    return pa.concat_tables([stored, snapshot(bare, PERF_QUOTA_VERSIONS, batch_size)])


def snapshot_opportunities(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    rows = (Opportunity.objects.order_by("pk")
            .annotate(amount_text=as_text("amount"), created_on=business_day("created_at"))
            .values_list("pk", "owner_id", "amount_text", "currency", "created_on",
                         "close_date", "is_closed", "is_won"))
    return snapshot(rows, PERF_OPPORTUNITIES, batch_size)


def snapshot_stage_changes(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    rows = (StageChange.objects.order_by("pk")
            .annotate(changed_on=business_day("changed_at"))
            .values_list("pk", "opportunity_id", "to_stage_id", "to_stage__order",
                         "to_stage__is_won", "to_stage__is_lost", "changed_on"))
    return snapshot(rows, PERF_STAGE_CHANGES, batch_size)


def _performance_range(as_of: date) -> tuple[date, date]:
    """[first month with a booking or an opportunity, end of the later of the fiscal year of
    `as_of` and the month after the last booking or close date)."""
    rules = fiscal_calendar().rules
    booked = Booking.objects.aggregate(first=Min("booked_on"), last=Max("booked_on"))
    opened = Opportunity.objects.aggregate(first=Min("created_at"), last=Max("close_date"))
    firsts = [d for d in (booked["first"], opened["first"] and timezone.localdate(
        opened["first"]), as_of) if d is not None]
    lasts = [d for d in (booked["last"], opened["last"], as_of) if d is not None]
    start = min(firsts)
    end = max(rules.span(PeriodKind.YEAR, as_of).end, add_months(
        date(max(lasts).year, max(lasts).month, 1), 1))
    return date(start.year, start.month, 1), end


def _snapshot_performance_periods(start: date, end: date) -> pa.Table:
    quota_periods = Quota.objects.values("period_id")
    rows = (Period.objects.filter(
        Q(kind__in=[k.value for k in PERFORMANCE_PERIOD_KINDS], end__gt=start, start__lt=end)
        | Q(pk__in=quota_periods)).order_by("pk").values_list("pk", "kind", "start", "end"))
    return snapshot(rows, PERIODS)


def _check_storable(name: str, result: pa.Table, currency: str) -> None:
    for column in ("bookings", "won_amount", "pipeline_created", "open_pipeline", "quota"):
        if column in result.column_names and result.num_rows:
            largest = pc.max(pc.abs(result.column(column))).as_py()
            if largest is not None and largest > LARGEST_STORED_AMOUNT:
                raise RunError(f"A {column.replace('_', ' ')} total of {largest} {currency} in "
                               f"{name.replace('_', ' ')} exceeds the largest storable amount "
                               f"({LARGEST_STORED_AMOUNT}).")


def derive_and_rank(engine: Any, results: dict[str, pa.Table], inputs: dict[str, pa.Table],
                    as_of: date) -> dict[str, pa.Table]:
    """The engine's results with every figure the pages show: the exact ratios of each row
    (`with_ratios`), then the percentiles, ranks and medians of the comparison and the
    leaderboards (`compute_rankings`), joined to the person and stage-conversion rows."""
    periods = inputs["periods"]
    person = perf_ranks.with_ratios(results["person_performance"], periods, as_of)
    conversions = perf_ranks.with_conversion_pct(results["stage_conversion"])
    ranked = perf_ranks.compute_rankings(engine, person, conversions, inputs["perf_people"],
                                         periods)
    keys = ["person_id", "period_id"]
    return {
        **results,
        "person_performance": person.join(ranked["person_ranks"], keys, join_type="left outer"),
        "team_performance": perf_ranks.with_ratios(results["team_performance"], periods, as_of),
        "manager_performance": perf_ranks.with_ratios(results["manager_performance"], periods,
                                                      as_of),
        "stage_conversion": conversions.join(ranked["conversion_ranks"], [*keys, "stage_id"],
                                             join_type="left outer"),
        "medians": ranked["medians"],
    }


PERFORMANCE_RESULTS = (PersonPeriodPerformance, TeamPeriodPerformance, ManagerPeriodPerformance,
                       PersonStageConversion, PerformanceMedian, BookingsBreakdown)


def _store_performance(run: CalcRun, results: dict[str, pa.Table], currency: str) -> int:
    """Write every result table of `run` (with its ratios and ranks, `derive_and_rank`) through
    the fast write path (`core.bulk_write.write_arrow`); returns the row count."""
    stored = 0
    money = {"run_id": run.pk, "currency": currency}
    for name, model in (("person_performance", PersonPeriodPerformance),
                        ("team_performance", TeamPeriodPerformance),
                        ("manager_performance", ManagerPeriodPerformance)):
        _check_storable(name, results[name], currency)
        stored += write_arrow(model, results[name], money)
    stored += write_arrow(PersonStageConversion, results["stage_conversion"],
                          {"run_id": run.pk})
    stored += write_arrow(PerformanceMedian, results["medians"], {"run_id": run.pk})
    breakdown = results["bookings_breakdown"]
    _check_storable("bookings_breakdown", breakdown.rename_columns(
        ["bookings" if c == "amount" else c for c in breakdown.column_names]), currency)
    period_ids = breakdown.column("period_id")
    breakdown = breakdown.set_column(
        breakdown.column_names.index("period_id"), "period_id",
        pc.if_else(pc.equal(period_ids, perf_calc.ALL_TIME), pa.scalar(None, pa.int64()),
                   period_ids))
    stored += write_arrow(BookingsBreakdown, breakdown, money)
    return stored


def run_performance(requested_by: Any = None, backend: str | None = None, *,
                    as_of: date | None = None, run: CalcRun | None = None) -> CalcRun:
    """Compute quotas in force, attainment, pacing, per-rep measures, team and manager roll-ups
    and stage conversion on `backend` as of `as_of` (default today), stored as a new run.

    Steps, each timed into `run.timings`: `periods`, `snapshot` (eight logical tables, one read
    transaction), `hash`, `compute`, `store` (results and the succeeded status in one
    transaction). Failures are recorded on the run, with no result rows, as for bookings runs.
    """
    backend_name = backend or settings.ATTAIN_ENGINE_BACKEND
    currency = str(settings.ATTAIN_COMPANY_CURRENCY)
    as_of = as_of or timezone.localdate()
    run = start_run(run, kind=PERFORMANCE, requested_by=requested_by, backend=backend_name,
                    calc_version=CALC_VERSIONS[PERFORMANCE],
                    params={"company_currency": currency, "as_of": as_of.isoformat(),
                            "period_kinds": [k.value for k in PERFORMANCE_PERIOD_KINDS]})
    watch = RunClock()
    try:
        span = _performance_range(as_of)
        watch.time("periods", lambda: ensure_periods(span[0], span[1], PERFORMANCE_PERIOD_KINDS))

        def take_snapshot() -> dict[str, pa.Table]:
            return {
                "bookings": snapshot_bookings(),
                "exchange_rates": with_company_currency(snapshot_exchange_rates(), currency,
                                                        *span),
                "periods": _snapshot_performance_periods(*span),
                "perf_people": snapshot_people(),
                "perf_reporting_lines": snapshot_reporting_lines(),
                "perf_quota_versions": snapshot_quota_versions(currency),
                "perf_opportunities": snapshot_opportunities(),
                "perf_stage_changes": snapshot_stage_changes(),
                "perf_booking_lines": snapshot_booking_lines(),
            }

        with transaction.atomic():
            inputs: dict[str, pa.Table] = watch.time("snapshot", take_snapshot)
        run.input_rows = sum(table.num_rows for table in inputs.values())
        run.inputs_hash = watch.time("hash", lambda: inputs_hash(inputs, run.params))

        def compute() -> dict[str, pa.Table]:
            with connect(backend_name) as engine:
                return derive_and_rank(engine, {
                    **perf_calc.compute_performance(engine, inputs, as_of),
                    "bookings_breakdown": perf_calc.compute_bookings_breakdown(
                        engine, inputs["perf_booking_lines"], inputs["exchange_rates"],
                        inputs["periods"])}, inputs, as_of)

        results: dict[str, pa.Table] = watch.time("compute", compute)

        def store() -> None:
            with transaction.atomic():
                run.output_rows = _store_performance(run, results, currency)
                run.timings = watch.timings()
                finish_run(run, CalcRun.Status.SUCCEEDED,
                           ["inputs_hash", "input_rows", "output_rows", "timings"])
            refresh_statistics(PERFORMANCE_RESULTS)

        watch.time("store", store)
        run.timings = watch.timings()
        run.save(update_fields=["timings"])
    except (EngineError, RunError, ValueError) as error:
        fail_run(run, watch, str(error))
    except Exception as error:
        fail_run(run, watch, f"{type(error).__name__}: {error}")
        raise
    return run
