"""A small organisation for page tests, dated around today, with every figure computed by hand.

Fiscal year = calendar year. In the current quarter (quotas and materialised month rows):

    person  role     manager  quota     bookings (company currency)     attainment
    ann     rep      mia      3,000.00  1,200.00 + 300.50 = 1,500.50    50.0%
    bob     rep      mia      2,000.00  2,500.00                        125.0%
    cat     rep      max      1,000.00  440.00 (an order line of 400.00 EUR)  44.0%

Team of mia (ann, bob): 4,000.50 of 5,000.00 = 80.0%. Company: 4,440.50 of 6,000.00 = 74.0%,
1 of 3 at or above quota. ann's open pipeline: Proposal 5,000.00 + Discovery 700.25 = 5,700.25.
A year ago ann booked 1,000.00 (last fiscal year's total). An older run with other numbers exists
and must never be shown; the latest run finished three minutes ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from attain.core.models import CalcRun, Period
from attain.core.periods import FiscalCalendarRules, FiscalSpan, PeriodKind, add_months
from attain.crm.models import StageChange
from attain.people.models import Role
from attain.performance.models import PersonPeriodBookings, Quota
from tests.factories import (
    make_account,
    make_booking,
    make_line,
    make_opportunity,
    make_person,
    make_stage,
)

RULES = FiscalCalendarRules()


def store(span: FiscalSpan) -> Period:
    period, _ = Period.objects.get_or_create(
        kind=span.kind.value, start=span.start, defaults={"end": span.end, "label": span.label})
    return period


def materialise(run: CalcRun, bookings: list[tuple[Any, date, str]]) -> None:
    """Store what the bookings run would: one row per person and month, quarter and year."""
    totals: dict[tuple[Any, Period], list[Decimal]] = {}
    for person, booked_on, amount in bookings:
        for kind in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR):
            period = store(RULES.span(kind, booked_on))
            totals.setdefault((person, period), []).append(Decimal(amount))
    for (person, period), amounts in totals.items():
        PersonPeriodBookings.objects.create(run=run, person=person, period=period,
                                            amount=sum(amounts), currency="USD",
                                            booking_count=len(amounts))


@dataclass
class Org:
    people: dict[str, Any]
    quarter: Period
    months: list[Period]
    run: CalcRun
    opportunities: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.people[name]


def build_org() -> Org:
    today = timezone.localdate()
    quarter_span = RULES.span(PeriodKind.QUARTER, today)
    quarter = store(quarter_span)
    store(RULES.span(PeriodKind.YEAR, today))
    months = [store(s) for s in RULES.spans(PeriodKind.MONTH, quarter_span.start,
                                            quarter_span.end)]
    first, second = months[0], months[1]
    year_ago = store(RULES.span(PeriodKind.MONTH, add_months(first.start, -12)))

    eve = make_person("eve", Role.EXECUTIVE)
    mia, max_ = make_person("mia", Role.MANAGER), make_person("max", Role.MANAGER)
    ann, bob, cat = make_person("ann"), make_person("bob"), make_person("cat")
    olga, fay = make_person("olga", Role.OPS), make_person("fay", Role.FINANCE)
    olga.user.is_staff = True
    olga.user.save()
    start = date(2020, 1, 1)
    for who, boss in [(mia, eve), (max_, eve), (ann, mia), (bob, mia), (cat, max_)]:
        make_line(who, boss, start)

    for who, amount in [(ann, "3000.00"), (bob, "2000.00"), (cat, "1000.00")]:
        Quota.objects.create(person=who, period=quarter, amount=Decimal(amount), currency="USD")

    discovery = make_stage("Discovery", 1, won=False, probability="10")
    proposal = make_stage("Proposal", 3, won=False, probability="50")
    won = make_stage("Closed Won", 9)
    acme = make_account("Acme", owner=ann)
    day = timedelta(days=1)
    win = make_opportunity(ann, "1200.00", stage=won, close_date=first.start + 14 * day,
                           name="Acme renewal", account=acme)
    opps = {
        "ann_won": win,
        "ann_open": make_opportunity(ann, "5000.00", stage=proposal, name="Beta expansion",
                                     close_date=quarter_span.end - day),
        "ann_small": make_opportunity(ann, "700.25", stage=discovery, name="Gamma pilot",
                                      close_date=quarter_span.end - day),
        "bob_open": make_opportunity(bob, "800.00", stage=proposal, name="Bob deal",
                                     close_date=quarter_span.end - day),
        "cat_open": make_opportunity(cat, "900.00", stage=proposal, name="Cat deal",
                                     close_date=quarter_span.end - day),
    }
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    for step, (before, after) in enumerate([(None, discovery), (discovery, proposal),
                                            (proposal, won)]):
        StageChange.objects.create(opportunity=win, from_stage=before, to_stage=after,
                                   changed_at=at + step * 10 * day, amount=Decimal("1200.00"))

    make_booking(ann, "1200.00", first.start + 14 * day, opportunity=win)
    make_booking(ann, "300.50", second.start + 2 * day, opportunity=win)
    make_booking(bob, "2500.00", second.start + 9 * day)
    make_booking(cat, "400.00", first.start + 19 * day, currency="EUR")

    now = timezone.now()
    old = CalcRun.objects.create(kind="bookings_by_person_period", status="succeeded",
                                 started_at=now - timedelta(days=2),
                                 finished_at=now - timedelta(days=2))
    for period in (first, quarter):
        PersonPeriodBookings.objects.create(run=old, person=ann, period=period,
                                            amount=Decimal("9999.00"), currency="USD",
                                            booking_count=9)
    run = CalcRun.objects.create(kind="bookings_by_person_period", status="succeeded",
                                 started_at=now - timedelta(minutes=3, seconds=5),
                                 finished_at=now - timedelta(minutes=3))
    converted = [(ann, first.start + 14 * day, "1200.00"), (ann, second.start + 2 * day, "300.50"),
                 (bob, second.start + 9 * day, "2500.00"), (cat, first.start + 19 * day, "440.00"),
                 (ann, year_ago.start + 4 * day, "1000.00")]
    materialise(run, converted)
    people = {p.name: p for p in [eve, mia, max_, ann, bob, cat, olga, fay]}
    return Org(people, quarter, months, run, opps)
