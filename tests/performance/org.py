"""The page-test organisation of `tests/web/org.py`, given teams, EUR rates and a real
performance run (DuckDB) as of today.

Teams: East = mia, ann, bob; West = max, cat. The East team holds a quarter quota of 5,000.00
(set through `actions.set_quota`). EUR is worth 1.10 USD in every month, so cat's 400.00 EUR
order line is 440.00 USD, as in the hand-computed table of `tests/web/org.py`:

    person  quota     bookings   attainment   (current quarter)
    ann     3,000.00  1,500.50   50.0%
    bob     2,000.00  2,500.00   125.0%
    cat     1,000.00    440.00   44.0%

In the previous quarter cat booked 900.00 and ann 100.00 (bob nothing), so the bookings
leaderboard moves from cat, ann, bob to bob, ann, cat: bob up 2, ann level, cat down 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from attain.core.models import CalcRun
from attain.core.periods import PeriodKind, add_months
from attain.crm.models import ExchangeRate
from attain.people.models import ReportingLine, Team
from attain.performance.actions import run_performance_analytics, set_quota
from tests.factories import make_booking
from tests.web.org import RULES, Org, build_org


@dataclass
class PerformanceOrg:
    base: Org
    east: Team
    west: Team
    run: CalcRun

    def __getitem__(self, name: str) -> Any:
        return self.base[name]

    @property
    def quarter(self) -> Any:
        return self.base.quarter


def build_performance_org() -> PerformanceOrg:
    base = build_org()
    east, west = Team.objects.create(name="East"), Team.objects.create(name="West")
    ReportingLine.objects.filter(person__in=[base["mia"], base["ann"], base["bob"]]).update(
        team=east)
    ReportingLine.objects.filter(person__in=[base["max"], base["cat"]]).update(team=west)
    today = timezone.localdate()
    month = date(2025, 1, 1)
    while month < add_months(date(today.year, today.month, 1), 13):
        ExchangeRate.objects.update_or_create(currency="EUR", month_start=month,
                                              defaults={"rate": Decimal("1.10")})
        month = add_months(month, 1)
    set_quota(None, period_id=base.quarter.pk, amount="5000.00", team_id=east.pk)
    previous = RULES.span(PeriodKind.QUARTER, add_months(base.quarter.start, -3))
    make_booking(base["cat"], "900.00", previous.start + timedelta(days=5))
    make_booking(base["ann"], "100.00", previous.start + timedelta(days=6))
    run = run_performance_analytics(None, "duckdb", as_of=today)
    assert run.status == CalcRun.Status.SUCCEEDED, run.error
    return PerformanceOrg(base, east, west, run)
