"""Reads of quotas and materialised performance results for pages and the API, through visibility.

Bookings figures come only from the latest succeeded `bookings_by_person_period` run
(`PersonPeriodBookings`); nothing here recomputes them from order lines. The run stores a row
for every stored period (month, quarter, year) a person booked in, each rounded once from exact
amounts, so a quarter's figure is read from its own row, never summed from months (which can
differ by a cent). Amounts are in the company currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet, Sum

from attain.core.models import CalcRun, FiscalCalendar, Period
from attain.core.money import round_money
from attain.core.periods import FiscalCalendarRules, FiscalSpan, PeriodKind, add_months
from attain.crm.models import Account, Booking, Opportunity, StageChange
from attain.people.models import Person, Role
from attain.performance.models import PersonPeriodBookings, Quota

BOOKINGS_RUN_KIND = "bookings_by_person_period"
ZERO = Decimal("0.00")
TENTH = Decimal("0.1")

# Attainment bands for the distribution chart: (label, lower bound %, upper bound % or None).
ATTAINMENT_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("< 50%", 0, 50),
    ("50-80%", 50, 80),
    ("80-100%", 80, 100),
    ("100-120%", 100, 120),
    ("≥ 120%", 120, None),
)


def company_currency() -> str:
    return str(settings.ATTAIN_COMPANY_CURRENCY)


def calendar_rules() -> FiscalCalendarRules:
    """The company's fiscal calendar rules (the defaults when none is configured)."""
    calendar = FiscalCalendar.objects.first()
    return calendar.rules if calendar is not None else FiscalCalendarRules()


def stored_period(span: FiscalSpan) -> Period | None:
    """The stored Period row for `span`, if one exists."""
    return Period.objects.filter(kind=span.kind.value, start=span.start).first()


def current_period(kind: PeriodKind | str, as_of: date) -> tuple[FiscalSpan, Period | None]:
    """The fiscal period of `kind` containing `as_of`, and its stored row (None if not stored)."""
    span = calendar_rules().span(kind, as_of)
    return span, stored_period(span)


def period_choices(kind: PeriodKind | str = PeriodKind.QUARTER) -> QuerySet[Period]:
    """Stored periods of `kind`, newest first (for period pickers)."""
    return Period.objects.filter(kind=PeriodKind(kind).value).order_by("-start")


# --- freshness and runs -------------------------------------------------------------------------


def latest_bookings_run() -> CalcRun | None:
    """The newest succeeded bookings run: every bookings figure on a page comes from it."""
    return (CalcRun.objects.filter(kind=BOOKINGS_RUN_KIND, status=CalcRun.Status.SUCCEEDED)
            .order_by("-finished_at", "-id").first())


def pending_bookings_run() -> CalcRun | None:
    """A bookings run queued or running now, if any."""
    return (CalcRun.objects.filter(kind=BOOKINGS_RUN_KIND,
                                   status__in=[CalcRun.Status.QUEUED, CalcRun.Status.RUNNING])
            .order_by("-created_at", "-id").first())


def recent_runs(limit: int = 10) -> list[CalcRun]:
    """The latest calculation runs of every kind (for sales operations only; runs have no owner)."""
    return list(CalcRun.objects.select_related("requested_by")
                .order_by("-created_at", "-id")[:limit])


# --- attainment ---------------------------------------------------------------------------------


def attainment_pct(bookings: Decimal, quota: Decimal | None) -> Decimal | None:
    """Bookings as a percentage of quota, to one decimal; None without a positive quota.

    >>> attainment_pct(Decimal("1500.50"), Decimal("3000.00"))
    Decimal('50.0')
    """
    if quota is None or quota <= 0:
        return None
    return (bookings * 100 / quota).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class PersonAttainment:
    person_id: int
    name: str
    role: str
    quota: Decimal | None
    bookings: Decimal
    booking_count: int
    currency: str

    @property
    def pct(self) -> Decimal | None:
        return attainment_pct(self.bookings, self.quota)


def _result_rows(user: Any, as_of: date) -> QuerySet[PersonPeriodBookings]:
    """The latest run's rows that `user` may see (none before the first run)."""
    run = latest_bookings_run()
    if run is None:
        return PersonPeriodBookings.objects.none()
    return PersonPeriodBookings.objects.visible_to(user, as_of).filter(run=run)


def bookings_by_person(user: Any, as_of: date, period: Period | None,
                       *, person_ids: Iterable[int] | None = None
                       ) -> dict[int, tuple[Decimal, int]]:
    """Materialised bookings per person in `period`: {person_id: (amount, count)}."""
    if period is None:
        return {}
    rows = _result_rows(user, as_of).filter(period=period)
    if person_ids is not None:
        rows = rows.filter(person_id__in=list(person_ids))
    return {pid: (amount, count)
            for pid, amount, count in rows.values_list("person_id", "amount", "booking_count")}


def bookings_total(user: Any, as_of: date, period: Period | None) -> Decimal:
    """The sum of the people's figures in `period` that `user` may see."""
    return sum((amount for amount, _ in bookings_by_person(user, as_of, period).values()), ZERO)


def _quotas(user: Any, as_of: date, period: Period | None,
            person_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    if period is None:
        return {}
    rows = Quota.objects.visible_to(user, as_of).filter(
        period=period, kind=Quota.Kind.BOOKINGS, person__isnull=False)
    if person_ids is not None:
        rows = rows.filter(person_id__in=list(person_ids))
    return {pid: amount for pid, amount in rows.values_list("person_id", "amount")}


def attainment(user: Any, as_of: date, span: FiscalSpan, period: Period | None,
               *, person_ids: Iterable[int] | None = None, exclude_person_id: int | None = None
               ) -> list[PersonAttainment]:
    """Quota, bookings and attainment over `span` for each visible rep (or quota holder).

    People listed: those `user` may see on `as_of` who are reps employed during the span, or who
    hold a quota for `period`; narrowed to `person_ids` when given. Sorted by attainment (then
    bookings) descending, people without quota last.
    """
    people = Person.objects.visible_to(user, as_of).filter(
        (Q(role=Role.REP)
         & (Q(hired_on__isnull=True) | Q(hired_on__lt=span.end))
         & (Q(left_on__isnull=True) | Q(left_on__gt=span.start)))
        | Q(quota__period=period, quota__person__isnull=False)
    ).distinct()
    if person_ids is not None:
        people = people.filter(pk__in=list(person_ids))
    if exclude_person_id is not None:
        people = people.exclude(pk=exclude_person_id)
    people_rows = list(people.values_list("id", "name", "role"))
    ids = [row[0] for row in people_rows]
    quotas = _quotas(user, as_of, period, ids)
    booked = bookings_by_person(user, as_of, period, person_ids=ids)
    currency = company_currency()
    rows = [
        PersonAttainment(
            person_id=pid, name=name, role=role, quota=quotas.get(pid),
            bookings=booked.get(pid, (ZERO, 0))[0], booking_count=booked.get(pid, (ZERO, 0))[1],
            currency=currency,
        )
        for pid, name, role in people_rows
    ]
    rows.sort(key=lambda r: (r.pct is not None, r.pct or ZERO, r.bookings, r.name), reverse=True)
    return rows


def person_attainment(user: Any, as_of: date, person_id: int, period: Period | None
                      ) -> PersonAttainment:
    """One person's quota, bookings and attainment in `period` (zeros when nothing is stored)."""
    person = Person.objects.visible_to(user, as_of).get(pk=person_id)
    booked = bookings_by_person(user, as_of, period, person_ids=[person_id])
    amount, count = booked.get(person_id, (ZERO, 0))
    return PersonAttainment(
        person_id=person.pk, name=person.name, role=person.role,
        quota=_quotas(user, as_of, period, [person_id]).get(person_id), bookings=amount,
        booking_count=count, currency=company_currency(),
    )


@dataclass(frozen=True, slots=True)
class AttainmentBand:
    label: str
    low: int
    high: int | None
    people: int


def attainment_distribution(rows: Sequence[PersonAttainment]) -> list[AttainmentBand]:
    """How many people fall in each attainment band (people without quota are left out)."""
    bands = []
    for label, low, high in ATTAINMENT_BANDS:
        count = sum(
            1 for r in rows
            if r.pct is not None and r.pct >= low and (high is None or r.pct < high)
        )
        bands.append(AttainmentBand(label, low, high, count))
    return bands


def quota_total(user: Any, as_of: date, period: Period | None) -> Decimal:
    """The sum of the personal quotas `user` may see for `period` (the company quota for ops)."""
    if period is None:
        return ZERO
    total = Quota.objects.visible_to(user, as_of).filter(
        period=period, kind=Quota.Kind.BOOKINGS, person__isnull=False,
    ).aggregate(total=Sum("amount"))["total"]
    return round_money(total or ZERO)


# --- trends -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthBookings:
    start: date
    end: date
    label: str
    amount: Decimal
    booking_count: int


def monthly_bookings(user: Any, as_of: date, start: date, end: date,
                     *, person_ids: Iterable[int] | None = None) -> list[MonthBookings]:
    """Materialised bookings per calendar month over [start, end), every month present (zeros)."""
    rows = _result_rows(user, as_of).filter(
        period__kind=PeriodKind.MONTH.value, period__start__gte=start, period__end__lte=end)
    if person_ids is not None:
        rows = rows.filter(person_id__in=list(person_ids))
    totals = {
        r["period__start"]: (round_money(r["amount"] or ZERO), r["count"] or 0)
        for r in rows.values("period__start").annotate(amount=Sum("amount"),
                                                       count=Sum("booking_count"))
    }
    months = []
    month = date(start.year, start.month, 1)
    while month < end:
        following = add_months(month, 1)
        amount, count = totals.get(month, (ZERO, 0))
        months.append(MonthBookings(month, following, month.strftime("%b %Y"), amount, count))
        month = following
    return months


def last_twelve_months(as_of: date) -> tuple[date, date]:
    """[start, end) of the twelve calendar months ending with the month of `as_of`."""
    end = add_months(date(as_of.year, as_of.month, 1), 1)
    return add_months(end, -12), end


# --- company overview ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordCount:
    label: str
    count: int
    admin_path: str


def record_counts(user: Any, as_of: date) -> list[RecordCount]:
    """How many records `user` may see, per kind (cheap counts for the operations home page)."""
    return [
        RecordCount("People", Person.objects.visible_to(user, as_of).count(),
                    "/admin/people/person/"),
        RecordCount("Accounts", Account.objects.visible_to(user, as_of).count(),
                    "/admin/crm/account/"),
        RecordCount("Opportunities", Opportunity.objects.visible_to(user, as_of).count(),
                    "/admin/crm/opportunity/"),
        RecordCount("Stage changes", StageChange.objects.visible_to(user, as_of).count(),
                    "/admin/crm/stagechange/"),
        RecordCount("Bookings", Booking.objects.visible_to(user, as_of).count(),
                    "/admin/crm/booking/"),
        RecordCount("Quotas", Quota.objects.visible_to(user, as_of).count(),
                    "/admin/performance/quota/"),
    ]


def run_summary(run: CalcRun | None) -> dict[str, Any]:
    """What a page says about the data's freshness."""
    if run is None:
        return {"run": None, "finished_at": None}
    finished: datetime | None = run.finished_at or run.created_at
    return {"run": run, "finished_at": finished}


# --- API lists (quotas and stored results, paginated by the API) -------------------------------


def quotas(
    user: Any, as_of: date, *, person_id: int | None = None, period_id: int | None = None,
    period_kind: str | None = None,
) -> QuerySet[Quota]:
    """Quotas of the people `user` may see on `as_of` (team quotas: company-wide roles only),
    by period start, then person or team."""
    rows = Quota.objects.visible_to(user, as_of).select_related("person", "team", "period")
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    if period_id is not None:
        rows = rows.filter(period_id=period_id)
    if period_kind:
        rows = rows.filter(period__kind=period_kind)
    return rows.order_by("period__start", "period__kind", "person__name", "team__name", "id")


def bookings_results_run(run_id: int | None = None) -> CalcRun | None:
    """Run `run_id` if it is a succeeded bookings run, else None; without `run_id`, the latest."""
    if run_id is None:
        return latest_bookings_run()
    return CalcRun.objects.filter(
        pk=run_id, kind=BOOKINGS_RUN_KIND, status=CalcRun.Status.SUCCEEDED
    ).first()


def person_period_bookings(
    user: Any, as_of: date, run: CalcRun | None, *, person_id: int | None = None,
    period_id: int | None = None, period_kind: str | None = None,
) -> QuerySet[PersonPeriodBookings]:
    """The stored rows of `run` (every period kind it stored) for the people `user` may see on
    `as_of`; none without a run. Ordered by period start, then person name."""
    if run is None:
        return PersonPeriodBookings.objects.none()
    rows = (PersonPeriodBookings.objects.visible_to(user, as_of)
            .select_related("person", "period").filter(run=run))
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    if period_id is not None:
        rows = rows.filter(period_id=period_id)
    if period_kind:
        rows = rows.filter(period__kind=period_kind)
    return rows.order_by("period__start", "period__kind", "person__name", "id")
