"""Reads of quotas and materialised performance results for pages and the API, through visibility.

Bookings figures come only from the latest succeeded `bookings_by_person_period` run
(`PersonPeriodBookings`); nothing here recomputes them from order lines. The run stores a row
for every stored period (month, quarter, year) a person booked in, each rounded once from exact
amounts, so a quarter's figure is read from its own row, never summed from months (which can
differ by a cent). Amounts are in the company currency.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from attain.core.models import CalcRun, FiscalCalendar, Period
from attain.core.money import round_money
from attain.core.periods import FiscalCalendarRules, FiscalSpan, PeriodKind, add_months
from attain.crm.models import Account, Booking, Opportunity, Stage, StageChange
from attain.people import queries as people_queries
from attain.people.models import Person, Role
from attain.people.visibility import lines_valid_on, visible_person_ids
from attain.performance import engine_io
from attain.performance.models import (
    BookingsBreakdown,
    ManagerPeriodPerformance,
    PerformanceMedian,
    PerformanceSettings,
    PersonPeriodBookings,
    PersonPeriodPerformance,
    PersonStageConversion,
    Quota,
    QuotaVersion,
    TeamPeriodPerformance,
)

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


# --- the performance run: attainment, pacing, comparison, leaderboards ------------------------
#
# Every figure below comes from the latest succeeded `performance` run, ranks included: the run
# stores each rep's percentile per measure, the medians and the leaderboard ranks with the
# previous period's (company-wide and per team; `engine.calculations.performance_ranks`). Pages
# read one page of stored rows in the database's order and a few aggregates however many reps
# there are (`comparison_page`, `leaderboard_page`, `person_performance_rows`, `scope_totals`);
# the exports and the API read every row (`comparison`, `leaderboard`). The one scope no run can
# rank ahead — the reps a restricted viewer may see, when they pick no team — is ranked per
# request over those few rows (`_subtree_comparison`).

PERFORMANCE_RUN_KIND = "performance"
PERFORMANCE_PERIOD_KINDS = ("quarter", "month", "year", "week")


def latest_performance_run() -> CalcRun | None:
    """The newest succeeded performance run: every figure of the performance pages comes from it."""
    return (CalcRun.objects.filter(kind=PERFORMANCE_RUN_KIND, status=CalcRun.Status.SUCCEEDED)
            .order_by("-finished_at", "-id").first())


def pending_performance_run() -> CalcRun | None:
    return (CalcRun.objects.filter(kind=PERFORMANCE_RUN_KIND,
                                   status__in=[CalcRun.Status.QUEUED, CalcRun.Status.RUNNING])
            .order_by("-created_at", "-id").first())


def performance_run(run_id: int | None = None) -> CalcRun | None:
    """Run `run_id` if it is a succeeded performance run (else None); the latest without it."""
    if run_id is None:
        return latest_performance_run()
    return CalcRun.objects.filter(pk=run_id, kind=PERFORMANCE_RUN_KIND,
                                  status=CalcRun.Status.SUCCEEDED).first()


def leaderboard_names() -> str:
    """"names" or "anonymised" (the company setting; names until ops decides otherwise)."""
    row = PerformanceSettings.objects.filter(pk=1).first()
    return row.leaderboard_names if row else PerformanceSettings.LeaderboardNames.NAMES


def previous_period(period: Period) -> Period | None:
    """The stored period of the same kind that ends where `period` starts."""
    return Period.objects.filter(kind=period.kind, end=period.start).first()


def period_span(period: Period) -> FiscalSpan:
    return FiscalSpan(PeriodKind(period.kind), period.start, period.end, period.label)


@dataclass(frozen=True, slots=True)
class Measure:
    """A column of the comparison: `higher_is_better` decides top, bottom and percentiles."""

    key: str
    label: str
    kind: str  # "money", "pct", "count", "days", "ratio"
    higher_is_better: bool = True


MEASURES: tuple[Measure, ...] = (
    Measure("attainment_pct", "Attainment", "pct"),
    Measure("bookings", "Bookings", "money"),
    Measure("win_rate_pct", "Win rate", "pct"),
    Measure("avg_deal_size", "Avg deal size", "money"),
    Measure("avg_cycle_days", "Cycle (days)", "days", higher_is_better=False),
    Measure("pipeline_created", "Pipeline created", "money"),
    Measure("coverage", "Coverage", "ratio"),
)
MEASURE_BY_KEY = {m.key: m for m in MEASURES}
LEADERBOARD_METRICS: tuple[Measure, ...] = (
    MEASURES[1], MEASURES[0], Measure("won_count", "Deals won", "count"), MEASURES[2],
    MEASURES[3], MEASURES[5],
)
LEADERBOARD_METRIC_BY_KEY = {m.key: m for m in LEADERBOARD_METRICS}


def _performance_rows(run: CalcRun | None, period: Period | None) -> QuerySet[Any]:
    if run is None or period is None:
        return PersonPeriodPerformance.objects.none()
    return PersonPeriodPerformance.objects.filter(run=run, period=period).select_related(
        "person", "team", "manager")


def person_performance(user: Any, as_of: date, run: CalcRun | None, period: Period | None, *,
                       team_id: int | None = None, reps_only: bool = False
                       ) -> list[PersonPeriodPerformance]:
    """The stored rows of `period` for the people `user` may see, by attainment then bookings
    (people without a quota last). `team_id` keeps the team's members on the reference day."""
    rows = _performance_rows(run, period).filter(
        person__in=Person.objects.visible_to(user, as_of).values("pk"))
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    if reps_only:
        rows = rows.filter(person__role=Role.REP)
    return list(rows.order_by(*ATTAINMENT_ORDER))


# Attainment descending (people without a quota last), then bookings, then name — done by the
# database, so a page of 50 of 10,000 reps reads 50 rows.
ATTAINMENT_ORDER = (F("attainment_pct").desc(nulls_last=True), "-bookings", "-person__name",
                    "-pk")


def person_performance_rows(user: Any, as_of: date, run: CalcRun | None, period: Period | None,
                            *, team_id: int | None = None, min_pct: int | None = None,
                            max_pct: int | None = None) -> QuerySet[PersonPeriodPerformance]:
    """`person_performance` as an ordered query (to page, count and aggregate in the database),
    narrowed to attainment in [`min_pct`, `max_pct`) when given (people without quota drop out
    of a band)."""
    rows = _performance_rows(run, period)
    if visible_person_ids(user, as_of) is not None:
        rows = rows.filter(person__in=Person.objects.visible_to(user, as_of).values("pk"))
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    if min_pct is not None:
        rows = rows.filter(attainment_pct__gte=min_pct)
    if max_pct is not None:
        rows = rows.filter(attainment_pct__lt=max_pct)
    return rows.order_by(*ATTAINMENT_ORDER)


def person_performance_row(user: Any, as_of: date, run: CalcRun | None, period: Period | None,
                           person_id: int) -> PersonPeriodPerformance | None:
    return (_performance_rows(run, period)
            .filter(person__in=Person.objects.visible_to(user, as_of).values("pk"),
                    person_id=person_id).first())


def team_performance(user: Any, as_of: date, run: CalcRun | None, period: Period | None
                     ) -> list[TeamPeriodPerformance]:
    """Every team's row for company-wide roles; for others the teams of people they may see."""
    if run is None or period is None:
        return []
    allowed = people_queries.teams(user, as_of).values("pk")
    rows = (TeamPeriodPerformance.objects.filter(run=run, period=period, team__in=allowed)
            .select_related("team"))
    return sorted(rows, key=lambda r: (r.attainment_pct is not None, r.attainment_pct or ZERO,
                                       r.bookings), reverse=True)


def manager_rollups(user: Any, as_of: date, run: CalcRun | None, period: Period | None
                    ) -> QuerySet[ManagerPeriodPerformance]:
    """Roll-ups of the managers `user` may see (a manager sees their own and their subtree's),
    by manager name, as a query (a large organisation has thousands: pages read one page)."""
    if run is None or period is None:
        return ManagerPeriodPerformance.objects.none()
    return (ManagerPeriodPerformance.objects.visible_to(user, as_of)
            .filter(run=run, period=period).select_related("manager", "team")
            .order_by("manager__name", "manager_id"))


def manager_rollup(user: Any, as_of: date, run: CalcRun | None, period: Period | None,
                   manager_id: int) -> ManagerPeriodPerformance | None:
    if run is None or period is None:
        return None
    return (ManagerPeriodPerformance.objects.visible_to(user, as_of)
            .filter(run=run, period=period, manager_id=manager_id).first())


def scope_totals(rows: QuerySet[Any], span: FiscalSpan, as_of: date) -> dict[str, Any]:
    """Quota, bookings, attainment, pacing, open pipeline and coverage added over `rows`
    (stored, rounded person figures; quotas of people without one count as nothing), in one
    aggregate query."""
    calc = engine_io
    found = rows.order_by().aggregate(
        sum_bookings=Sum("bookings"), sum_quota=Sum("quota"), sum_open=Sum("open_pipeline"),
        people=Count("pk"), with_quota=Count("quota"),
        at_or_above=Count("pk", filter=Q(quota__isnull=False, attainment_pct__gte=100)))
    bookings = round_money(found["sum_bookings"] or ZERO)
    quota = round_money(found["sum_quota"]) if found["with_quota"] else None
    expected = calc.expected_to_date(quota, span.start, span.end, as_of)
    open_pipeline = round_money(found["sum_open"] or ZERO)
    return {
        "bookings": bookings, "quota": quota, "attainment_pct": calc.ratio_pct(bookings, quota),
        "expected_to_date": expected, "pace_pct": calc.ratio_pct(bookings, expected),
        "open_pipeline": open_pipeline,
        "coverage": calc.coverage_ratio(open_pipeline, quota, bookings),
        "people": found["people"], "with_quota": found["with_quota"],
        "at_or_above": found["at_or_above"],
        "elapsed_days": calc.elapsed_days(span.start, span.end, as_of),
        "period_days": (span.end - span.start).days,
    }


def attainment_bands(rows: QuerySet[Any]) -> list[AttainmentBand]:
    """People with a quota per attainment band (the histogram), counted in one query."""
    counts = rows.order_by().aggregate(**{
        f"band_{i}": Count("pk", filter=Q(attainment_pct__gte=low) & (
            Q(attainment_pct__lt=high) if high is not None else Q()))
        for i, (_, low, high) in enumerate(ATTAINMENT_BANDS)})
    return [AttainmentBand(label, low, high, counts[f"band_{i}"])
            for i, (label, low, high) in enumerate(ATTAINMENT_BANDS)]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    period: Period
    quota: Decimal | None
    bookings: Decimal
    attainment_pct: Decimal | None


def attainment_trend(user: Any, as_of: date, run: CalcRun | None, period: Period, *,
                     team_id: int | None = None, person_id: int | None = None,
                     count: int = 8) -> list[TrendPoint]:
    """Quota, bookings and attainment of the visible people (a team, or one person) over the
    `count` periods of `period`'s kind ending with it, oldest first."""
    calc = engine_io
    if run is None:
        return []
    periods = list(Period.objects.filter(kind=period.kind, start__lte=period.start)
                   .order_by("-start")[:count])[::-1]
    rows = PersonPeriodPerformance.objects.filter(run=run, period__in=periods)
    if visible_person_ids(user, as_of) is not None:
        rows = rows.filter(person__in=Person.objects.visible_to(user, as_of).values("pk"))
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    sums = {r["period_id"]: r for r in rows.values("period_id").annotate(
        quota_sum=Sum("quota"), bookings_sum=Sum("bookings"))}
    points = []
    for p in periods:
        row = sums.get(p.pk, {})
        quota = row.get("quota_sum")
        booked = round_money(row.get("bookings_sum") or ZERO)
        quota = round_money(quota) if quota is not None else None
        points.append(TrendPoint(p, quota, booked, calc.ratio_pct(booked, quota)))
    return points


def monthly_bookings_by_person(run: CalcRun | None, person_ids: Iterable[int], end: date,
                               months: int = 6) -> dict[int, list[Decimal]]:
    """Each person's stored monthly bookings over the `months` months ending before `end`
    (zeros where nothing was booked): the sparklines of the comparison."""
    first = add_months(date(end.year, end.month, 1), -months + (1 if end.day > 1 else 0))
    starts = [add_months(first, i) for i in range(months)]
    ids = list(person_ids)
    result = {pid: [ZERO] * months for pid in ids}
    if run is None or not ids:
        return result
    # the months' ids first (each with its place in the line): the rows are then read through
    # the (run, period, person) index
    slot = {pk: starts.index(start) for pk, start in Period.objects.filter(
        kind=PeriodKind.MONTH.value, start__in=starts).values_list("pk", "start")}
    rows = PersonPeriodPerformance.objects.filter(
        run=run, period_id__in=list(slot), person_id__in=ids).values_list(
        "person_id", "period_id", "bookings")
    for pid, period_id, amount in rows:
        result[pid][slot[period_id]] = amount
    return result


class StageConversion(NamedTuple):
    person_id: int
    stage_id: int
    conversion_pct: Decimal | None


def stage_conversions(run: CalcRun | None, period: Period | None, person_ids: Iterable[int]
                      ) -> tuple[list[Stage], dict[int, dict[int, StageConversion]]]:
    """The open stages that have conversions in `period` and, per person, their row per stage
    (plain tuples: a company of 10,000 reps has tens of thousands of them)."""
    if run is None or period is None:
        return [], {}
    rows = [StageConversion(*r) for r in PersonStageConversion.objects.filter(
        run=run, period=period, person_id__in=list(person_ids)).values_list(
        "person_id", "stage_id", "conversion_pct")]
    stages = sorted(Stage.objects.filter(pk__in={r.stage_id for r in rows}),
                    key=lambda s: (s.pipeline, s.order, s.pk))
    by_person: dict[int, dict[int, StageConversion]] = {}
    for r in rows:
        by_person.setdefault(r.person_id, {})[r.stage_id] = r
    return stages, by_person


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The middle value (the mean of the two middle ones for an even count, to 2 decimals)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return ((ordered[middle - 1] + ordered[middle]) / 2).quantize(Decimal("0.01"))


def percentile_rank(value: Decimal | None, values: Sequence[Decimal], higher_is_better: bool
                    ) -> int | None:
    """Where `value` stands among `values` (sorted ascending), 0..100, better = higher: the
    share of values it beats plus half of those it ties (mid-rank), in whole percent.
    4 of [1, 2, 3, 4] → 88. Found by bisection: a team of 10,000 reps costs 14 steps a cell."""
    if value is None or not values:
        return None
    return _percentile(bisect_left(values, value), bisect_right(values, value), len(values),
                       higher_is_better)


def _percentile(below: int, upto: int, count: int, higher_is_better: bool) -> int:
    """`percentile_rank` from counts: `below` values are smaller, `upto` are smaller or equal,
    of `count`."""
    beats = below if higher_is_better else count - upto
    ties = upto - below
    return int((Decimal(beats) + Decimal(ties) / 2) * 100 / count + Decimal("0.5"))


@dataclass(frozen=True, slots=True)
class Cell:
    measure: Measure
    value: Decimal | None
    median: Decimal | None
    percentile: int | None

    @property
    def vs_median(self) -> Decimal | None:
        """(value - median) ÷ |median| in percent, signed so that positive is better."""
        if self.value is None or self.median is None or self.median == 0:
            return None
        change = (self.value - self.median) * 100 / abs(self.median)
        if not self.measure.higher_is_better:
            change = -change
        return change.quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    row: PersonPeriodPerformance
    cells: list[Cell]
    conversions: list[Cell]
    sparkline: list[Decimal]

    @property
    def standouts(self) -> list[Cell]:
        """The three measures furthest from the team median (either way)."""
        scored = [c for c in [*self.cells, *self.conversions] if c.vs_median is not None]
        scored.sort(key=lambda c: abs(c.vs_median or ZERO), reverse=True)
        return scored[:3]


def _value(row: Any, key: str) -> Decimal | None:
    value = getattr(row, key)
    return None if value is None else Decimal(value)


def _subtree_comparison(user: Any, as_of: date, run: CalcRun, period: Period
                        ) -> dict[str, Any]:
    """The comparison of a viewer who may not see every rep and picked no team: their own reps
    (a manager's subtree on `as_of`, a rep alone) against one another. This scope depends on the
    viewer, so the run cannot rank it ahead: it is ranked here over those few stored rows."""
    peers = list(_performance_rows(run, period).filter(
        person__role=Role.REP, person__in=Person.objects.visible_to(user, as_of).values("pk")))
    stages, conversions = stage_conversions(run, period, [p.person_id for p in peers])
    columns = {m.key: sorted(v for p in peers if (v := _value(p, m.key)) is not None)
               for m in MEASURES}
    medians = {key: median(values) for key, values in columns.items()}
    conversion_values = {
        s.pk: sorted(r.conversion_pct for p in peers
                     if (r := conversions.get(p.person_id, {}).get(s.pk)) is not None
                     and r.conversion_pct is not None)
        for s in stages}
    conversion_medians = {pk: median(values) for pk, values in conversion_values.items()}
    conversion_measures = _conversion_measures(stages)
    sparklines = monthly_bookings_by_person(run, [p.person_id for p in peers], period.end)
    rows = []
    for p in peers:
        cells = [Cell(m, _value(p, m.key), medians[m.key],
                      percentile_rank(_value(p, m.key), columns[m.key], m.higher_is_better))
                 for m in MEASURES]
        conv = []
        for s in stages:
            found_row = conversions.get(p.person_id, {}).get(s.pk)
            value = found_row.conversion_pct if found_row else None
            conv.append(Cell(conversion_measures[s.pk], value, conversion_medians[s.pk],
                             percentile_rank(value, conversion_values[s.pk], True)))
        rows.append(ComparisonRow(p, cells, conv, sparklines.get(p.person_id, [])))
    rows.sort(key=lambda r: (r.row.attainment_pct is not None, r.row.attainment_pct or ZERO,
                             r.row.bookings, r.row.person.name), reverse=True)
    return {
        "rows": rows, "stages": stages, "peers": len(peers),
        "medians": [(m, medians[m.key]) for m in MEASURES],
        "conversion_medians": [(s, conversion_medians[s.pk]) for s in stages],
    }


def _conversion_measures(stages: Iterable[Stage]) -> dict[int, Measure]:
    return {s.pk: Measure(f"stage_{s.pk}", f"{s.name} →", "pct") for s in stages}


@dataclass(frozen=True, slots=True)
class _RankedScope:
    """A comparison scope the run ranked: every rep (`team_id` None) or one team's reps."""

    run: CalcRun
    period: Period
    team_id: int | None

    @property
    def prefix(self) -> str:
        return "" if self.team_id is None else "team_"

    def peers(self) -> QuerySet[Any]:
        rows = PersonPeriodPerformance.objects.filter(run=self.run, period=self.period,
                                                      person__role=Role.REP)
        return rows.filter(team_id=self.team_id) if self.team_id is not None else rows

    def medians(self) -> tuple[dict[str, Decimal | None], list[Stage], dict[int, Decimal]]:
        """Stored medians: per measure, the stages with conversions, per stage."""
        rows = PerformanceMedian.objects.filter(run=self.run, period=self.period).filter(
            **({"team_id": self.team_id} if self.team_id is not None
               else {"team__isnull": True}))
        measures: dict[str, Decimal | None] = {m.key: None for m in MEASURES}
        conversions: dict[int, Decimal] = {}
        for measure, stage_id, value in rows.values_list("measure", "stage_id", "median"):
            if stage_id is None:
                measures[measure] = Decimal(value)
            else:
                conversions[stage_id] = Decimal(value)
        stages = sorted(Stage.objects.filter(pk__in=list(conversions)),
                        key=lambda s: (s.pipeline, s.order, s.pk))
        return measures, stages, conversions

    def build(self, shown: Sequence[Any], ranked: bool, with_sparklines: bool,
              medians: tuple[dict[str, Decimal | None], list[Stage], dict[int, Decimal]]
              ) -> list[ComparisonRow]:
        """Comparison rows of the stored rows `shown`: values, stored medians and (`ranked`)
        stored percentiles; each stage's conversion from the run's conversion rows."""
        measure_medians, stages, conversion_medians = medians
        measures = _conversion_measures(stages)
        ids = [p.person_id for p in shown]
        field = "pctl" if self.team_id is None else "team_pctl"
        found: dict[int, dict[int, tuple[Decimal | None, int | None]]] = {}
        for pid, stage_id, pct, pctl in PersonStageConversion.objects.filter(
                run=self.run, period=self.period, person_id__in=ids).values_list(
                "person_id", "stage_id", "conversion_pct", field):
            found.setdefault(pid, {})[stage_id] = (pct, pctl)
        sparklines = (monthly_bookings_by_person(self.run, ids, self.period.end)
                      if with_sparklines else {})
        rows = []
        for p in shown:
            cells = [Cell(m, _value(p, m.key), measure_medians[m.key],
                          getattr(p, f"{self.prefix}pctl_{m.key}") if ranked else None)
                     for m in MEASURES]
            conversions = []
            for s in stages:
                value, pctl = found.get(p.person_id, {}).get(s.pk, (None, None))
                conversions.append(Cell(measures[s.pk], value, conversion_medians.get(s.pk),
                                        pctl if ranked and value is not None else None))
            rows.append(ComparisonRow(p, cells, conversions, sparklines.get(p.person_id, [])))
        return rows


def _ranked_scope(user: Any, as_of: date, run: CalcRun, period: Period, team_id: int | None
                  ) -> tuple[_RankedScope, QuerySet[Any]] | None:
    """The scope the run ranked for this comparison, and the rows listed (the peers `user` may
    see, by attainment); None for a restricted viewer without a team (`_subtree_comparison`)."""
    restricted = visible_person_ids(user, as_of) is not None
    if team_id is None and restricted:
        return None
    scope = _RankedScope(run, period, team_id)
    listed = scope.peers().select_related("person", "team", "manager")
    if restricted:
        listed = listed.filter(person__in=Person.objects.visible_to(user, as_of).values("pk"))
    return scope, listed.order_by(*ATTAINMENT_ORDER)


def comparison(user: Any, as_of: date, run: CalcRun | None, period: Period | None,
               team_id: int | None) -> dict[str, Any]:
    """Reps side by side: each measure with the median and the rep's percentile among the reps
    of the same team (the team on the reference day; every rep when no team is given), as the
    performance run ranked them. Medians and percentiles use every rep of the team, also those
    `user` may not see (a rep sees their own row against the team's median, never another rep's
    figures). A restricted viewer without a team compares their own reps (`_subtree_comparison`).
    Every row (the exports and the API); the pages read one page (`comparison_page`)."""
    if run is None or period is None:
        return {"rows": [], "stages": [], "medians": [], "conversion_medians": []}
    found = _ranked_scope(user, as_of, run, period, team_id)
    if found is None:
        return _subtree_comparison(user, as_of, run, period)
    scope, listed = found
    medians = scope.medians()
    measure_medians, stages, conversion_medians = medians
    return {
        "rows": scope.build(list(listed), True, True, medians), "stages": stages,
        "peers": scope.peers().count(),
        "medians": [(m, measure_medians[m.key]) for m in MEASURES],
        "conversion_medians": [(s, conversion_medians.get(s.pk)) for s in stages],
    }


def comparison_page(user: Any, as_of: date, run: CalcRun | None, period: Period | None,
                    team_id: int | None, page_number: Any, page_size: int) -> dict[str, Any]:
    """One page of `comparison` read from the run's stored percentiles and medians, with the top
    and bottom three (the ends of the same ordering, values against the medians) and the peer
    count; `page` is a Django paginator page (counts and numbers)."""
    from django.core.paginator import Paginator

    empty = {"rows": [], "stages": [], "medians": [], "conversion_medians": [], "top": [],
             "bottom": [], "peers": 0,
             "page": Paginator([], page_size).get_page(page_number)}
    if run is None or period is None:
        return empty
    found = _ranked_scope(user, as_of, run, period, team_id)
    if found is None:
        result = _subtree_comparison(user, as_of, run, period)
        rows = result["rows"]
        page = Paginator(rows, page_size).get_page(page_number)
        top = rows[:3]
        return {**result, "rows": list(page), "page": page, "top": top,
                "bottom": [r for r in rows[-3:] if r not in top][::-1]}
    scope, listed = found
    medians = scope.medians()
    measure_medians, stages, conversion_medians = medians
    # the order once, as ids (a narrow query), then only the rows shown: the page, the top
    # three and the bottom three (with thousands of reps, sorting whole rows three times was
    # most of the page's time)
    order = list(listed.values_list("pk", flat=True))
    page = Paginator(order, page_size).get_page(page_number)
    rows = listed.order_by().in_bulk({*page.object_list, *order[:3], *order[-3:]})
    shown = [rows[pk] for pk in page.object_list]
    top = scope.build([rows[pk] for pk in order[:3]], False, False, medians)
    top_ids = {r.row.person_id for r in top}
    bottom = scope.build([rows[pk] for pk in reversed(order[-3:])
                          if rows[pk].person_id not in top_ids], False, False, medians)
    return {
        "rows": scope.build(shown, True, True, medians), "stages": stages,
        "peers": scope.peers().count() if team_id is not None or page.paginator.count == 0
        else page.paginator.count,
        "page": page, "top": top, "bottom": bottom,
        "medians": [(m, measure_medians[m.key]) for m in MEASURES],
        "conversion_medians": [(s, conversion_medians.get(s.pk)) for s in stages],
    }


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    person_id: int
    name: str
    team: str
    value: Decimal
    rank: int
    previous_rank: int | None
    is_viewer: bool
    anonymised: bool

    @property
    def movement(self) -> int | None:
        """Places gained since the previous period (negative: lost); None for a newcomer."""
        return None if self.previous_rank is None else self.previous_rank - self.rank


def _board(run: CalcRun, period: Period, metric: str, team_id: int | None
           ) -> tuple[QuerySet[Any], str, str]:
    """The ranked rows of a leaderboard (reps with a value), and the names of the stored rank
    and previous-rank fields of its scope (company-wide, or the team's)."""
    prefix = "" if team_id is None else "team_"
    rank, previous = f"{prefix}rank_{metric}", f"{prefix}prev_rank_{metric}"
    rows = PersonPeriodPerformance.objects.filter(run=run, period=period,
                                                  **{f"{rank}__isnull": False})
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    return rows, rank, previous


def _entry(row: tuple[Any, ...], viewer_person_id: int | None, names_for_everyone: bool
           ) -> LeaderboardEntry:
    pid, value, name, team, place, before = row
    return LeaderboardEntry(
        person_id=pid, name=name if names_for_everyone or pid == viewer_person_id
        else f"Rep #{place}", team=team or "", value=Decimal(value), rank=place,
        previous_rank=before, is_viewer=pid == viewer_person_id,
        anonymised=not names_for_everyone and pid != viewer_person_id)


def leaderboard(user: Any, as_of: date, run: CalcRun | None, period: Period | None,
                metric: str, team_id: int | None = None, *, viewer_person_id: int | None = None,
                names_for_everyone: bool = True) -> list[LeaderboardEntry]:
    """Reps ranked on `metric` in `period`, company-wide or in one team (members on the
    reference day), with their rank in the previous period of the same kind (same scope) — the
    ranks the performance run stored (competition ranking: equal values share a rank).

    Everyone signed in may read a leaderboard. When `names_for_everyone` is False (the company
    chose anonymised leaderboards and the viewer is a rep), other reps appear as "Rep #rank".
    Reps without a value (no quota for attainment, nothing closed for win rate) are left out.
    """
    if run is None or period is None or metric not in LEADERBOARD_METRIC_BY_KEY:
        return []
    rows, rank, previous = _board(run, period, metric, team_id)
    entries = [_entry(r, viewer_person_id, names_for_everyone) for r in rows.values_list(
        "person_id", metric, "person__name", "team__name", rank, previous)]
    entries.sort(key=lambda e: (e.rank, e.name if not e.anonymised else "", e.person_id))
    return entries


def leaderboard_page(user: Any, as_of: date, run: CalcRun | None, period: Period | None,
                     metric: str, team_id: int | None, *, viewer_person_id: int | None,
                     names_for_everyone: bool, page_number: Any, page_size: int
                     ) -> dict[str, Any]:
    """One page of `leaderboard` read from the stored ranks: the page's entries, the first 15
    (the chart), the viewer's entry and the page it is on. Same entries, order and ranks as
    `leaderboard`."""
    from django.core.paginator import Paginator

    nothing: dict[str, Any] = {
        "page": Paginator([], page_size).get_page(page_number), "entries": [],
        "top": [], "viewer_entry": None, "viewer_page": None}
    if run is None or period is None or metric not in LEADERBOARD_METRIC_BY_KEY:
        return nothing
    rows, rank, previous = _board(run, period, metric, team_id)
    # the order of `leaderboard`: rank, then name (anonymised: the viewer after the others
    # sharing their rank), then id
    order: tuple[Any, ...] = ((rank, "person__name", "person_id") if names_for_everyone else
                              (rank, Case(When(person_id=viewer_person_id, then=Value(1)),
                                          default=Value(0), output_field=IntegerField()),
                               "person_id"))
    now = rows.order_by(*order)
    fields = ("person_id", metric, "person__name", "team__name", rank, previous)
    page = Paginator(now.values("pk"), page_size).get_page(page_number)
    start = page.start_index() - 1 if page.paginator.count else 0
    shown = list(now.values_list(*fields)[start:start + page_size])
    top = shown[:15] if start == 0 and page_size >= 15 else list(now.values_list(*fields)[:15])
    on_page = [r for r in shown if r[0] == viewer_person_id]
    mine = (on_page or list(rows.filter(person_id=viewer_person_id).values_list(*fields))
            if viewer_person_id is not None else [])

    def entry(row: tuple[Any, ...]) -> LeaderboardEntry:
        return _entry(row, viewer_person_id, names_for_everyone)

    viewer_entry = entry(mine[0]) if mine else None
    viewer_page = None
    if viewer_entry is not None:
        place, name, pid = viewer_entry.rank, mine[0][2], viewer_entry.person_id
        tied = Q(**{rank: place})
        ahead = Q(**{f"{rank}__lt": place}) | (
            tied & (Q(person__name__lt=name) | Q(person__name=name, person_id__lt=pid))
            if names_for_everyone else tied & ~Q(person_id=pid))
        viewer_page = rows.filter(ahead).count() // page_size + 1
    return {"page": page, "entries": [entry(r) for r in shown], "top": [entry(r) for r in top],
            "viewer_entry": viewer_entry, "viewer_page": viewer_page}


def quota_rows(user: Any, as_of: date, period: Period | None, *, team_id: int | None = None
               ) -> QuerySet[Quota]:
    """Quotas of `period` (people `user` may see; team quotas for company-wide roles), with
    their version count."""
    if period is None:
        return Quota.objects.none()
    rows = quotas(user, as_of, period_id=period.pk)
    if team_id is not None:
        members = lines_valid_on(min(as_of, period.end)).filter(team_id=team_id)
        rows = rows.filter(Q(team_id=team_id) | Q(person__in=members.values("person_id")))
    return rows.annotate(version_count=Count("versions"))


def quota_history(user: Any, as_of: date, quota_id: int) -> tuple[Quota, list[QuotaVersion]] | None:
    """A quota `user` may see and its versions, oldest first; None when missing or hidden."""
    quota = quotas(user, as_of).filter(pk=quota_id).first()
    if quota is None:
        return None
    return quota, list(quota.versions.select_related("recorded_by").order_by("valid_from", "id"))


# --- bookings by region and category ------------------------------------------------------------

BREAKDOWN_DIMENSIONS = (("region", "Region"), ("category", "Category"))


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    value: str
    amount: Decimal
    booking_count: int
    share_pct: Decimal | None
    currency: str


def bookings_breakdown(user: Any, run: CalcRun | None, period: Period | None, dimension: str,
                       *, all_time: bool = False
                       ) -> tuple[BreakdownRow | None, list[BreakdownRow]]:
    """(the period's total, its rows by `dimension` largest first) from the performance run;
    with `all_time`, of every order line of the data instead of one period.

    Every order line counts, owned or not (an imported store's lines have no rep): so this is a
    company-wide figure, for company-wide roles only; anyone else gets nothing. Share = the row's
    amount / the period's total, in percent to one decimal (half up).
    """
    if run is None or (period is None and not all_time) or visible_person_ids(user) is not None:
        return None, []
    rows = list(BookingsBreakdown.objects.filter(
        run=run, dimension__in=["", dimension],
        **({"period__isnull": True} if all_time else {"period": period})))
    total = next((r for r in rows if r.dimension == ""), None)

    def row(r: Any) -> BreakdownRow:
        share = (Decimal(100) * r.amount / total.amount).quantize(
            Decimal("0.1"), ROUND_HALF_UP) if total is not None and total.amount else None
        return BreakdownRow(r.value, r.amount, r.booking_count, share, r.currency)

    parts = sorted((row(r) for r in rows if r.dimension == dimension),
                   key=lambda r: (-r.amount, r.value))
    return (row(total) if total is not None else None), parts


def bookings_breakdown_years(user: Any, run: CalcRun | None, dimension: str
                             ) -> list[tuple[Period | None, BreakdownRow | None,
                                             list[BreakdownRow]]]:
    """Every fiscal year of the run, then all the data (period None), each with its total and
    its rows by `dimension` (the year-by-value matrix)."""
    if run is None:
        return []
    years = Period.objects.filter(kind=PeriodKind.YEAR.value, pk__in=BookingsBreakdown.objects
                                  .filter(run=run, dimension="").values("period_id")
                                  ).order_by("start")
    found: list[tuple[Period | None, BreakdownRow | None, list[BreakdownRow]]] = [
        (y, *bookings_breakdown(user, run, y, dimension)) for y in years]
    total, rows = bookings_breakdown(user, run, None, dimension, all_time=True)
    if total is not None:
        found.append((None, total, rows))
    return found


def bookings_of(rows: QuerySet[Booking], dimension: str, value: str) -> QuerySet[Booking]:
    """Order lines `rows` narrowed to those the breakdown counts under `value` of `dimension`
    ("region" or "category"), by the same rules as the run's snapshot (for drill-downs)."""
    if dimension == "category":
        return rows.filter(product__family=value) if value else rows.filter(
            Q(product__isnull=True) | Q(product__family=""))
    return rows.annotate(breakdown_region=engine_io.booking_region()).filter(
        breakdown_region=value)
