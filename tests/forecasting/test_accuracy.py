"""Accuracy of closed periods: statistical forecasts against actuals with interval coverage,
each person's call at each week of the period, and the optimistic-forecaster flag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from attain.core.models import CalcRun
from attain.forecasting.models import ForecastCall, ForecastRun, ForecastSeries, ForecastValue
from attain.forecasting.queries import (
    call_accuracy,
    optimistic_forecasters,
    statistical_accuracy,
    summarise,
)
from tests.forecasting.org import build_org
from tests.forecasting.stored import period, store_run


@pytest.fixture
def org(db):
    return build_org()


def call(person, when: date, amount: str, quarter):
    return ForecastCall.objects.create(
        person=person, period=quarter, category="commit", amount=Decimal(amount),
        currency="USD", submitted_at=datetime.combine(when, datetime.min.time(), tzinfo=UTC))


def test_statistical_forecast_of_a_closed_quarter_is_scored(org):
    # an older run forecast FY2025-Q4 at 10,500 [80%: 10,000 .. 11,000, 95%: 9,000 .. 12,000]
    old = ForecastRun.objects.create(
        calc_run=CalcRun.objects.create(kind="forecast", status="succeeded",
                                        finished_at=timezone.now() - timedelta(days=90)),
        as_of=date(2025, 10, 2), period_kind="quarter", horizon=1, currency="USD")
    q4 = period("quarter", date(2025, 10, 1), date(2026, 1, 1), "FY2025-Q4")
    series = ForecastSeries.objects.create(run=old, key="company", level="company",
                                           label="Company", method="ensemble")
    ForecastValue.objects.create(series=series, period=q4, point=Decimal("10500.00"),
                                 low_80=Decimal("10000.00"), high_80=Decimal("11000.00"),
                                 low_95=Decimal("9000.00"), high_95=Decimal("12000.00"))
    store_run(org)  # the latest run: FY2025-Q4 actual 11,000
    rows = statistical_accuracy(org.ops.user, date(2026, 2, 10), "company")
    assert [(r.period.label, r.forecast, r.actual, r.error) for r in rows] == [
        ("FY2025-Q4", Decimal("10500.00"), Decimal("11000.00"), Decimal("-500.00"))]
    assert (rows[0].inside_80, rows[0].inside_95) == (True, True)
    # |-500| / 11,000 = 0.0455 (MAPE and WAPE); bias -0.0455 (under-forecast)
    summary = summarise(rows)[0]
    assert (summary.mape, summary.wape, summary.bias) == (
        Decimal("0.0455"), Decimal("0.0455"), Decimal("-0.0455"))
    assert summary.coverage_80 == Decimal("1.0000")
    # a rep cannot read the company series' accuracy
    assert statistical_accuracy(org.ann.user, date(2026, 2, 10), "company") == []


def test_a_call_is_scored_as_it_stood_at_each_week(org):
    q1 = period("quarter", date(2025, 1, 1), date(2025, 4, 1), "FY2025-Q1")
    call(org.ann, date(2024, 12, 20), "1200.00", q1)
    call(org.ann, date(2025, 2, 10), "1050.00", q1)
    rows = call_accuracy(org.ops.user, date(2026, 2, 10), {(org.ann.pk, q1.pk): Decimal(1000)})
    # weeks from 2025-01-01: Jan 1 .. Feb 5 (6) see the first call, Feb 12 .. Mar 26 (7)
    # the revised one
    assert [r.forecast for r in rows] == [Decimal("1200.00")] * 6 + [Decimal("1050.00")] * 7
    assert rows[6].made_on == date(2025, 2, 12)


def test_persistently_optimistic_forecasters_are_flagged(org):
    quarters = [period("quarter", date(2025, m, 1), date(2025 + (m == 10), (m + 2) % 12 + 1, 1),
                       f"FY2025-Q{(m + 2) // 3}") for m in (1, 4, 7, 10)]
    actuals = {}
    # ann over-calls by 20%, 10%, 30%, 50% (more than 10% in three of four); bob by 5%
    for quarter, ann, bob in zip(quarters, ("1200", "1100", "1300", "1500"),
                                 ("1050", "1050", "1050", "1050"), strict=True):
        call(org.ann, quarter.start - timedelta(days=3), ann, quarter)
        call(org.bob, quarter.start - timedelta(days=3), bob, quarter)
        actuals[(org.ann.pk, quarter.pk)] = Decimal(1000)
        actuals[(org.bob.pk, quarter.pk)] = Decimal(1000)
    rows = call_accuracy(org.ops.user, date(2026, 2, 10), actuals)
    assert optimistic_forecasters(rows) == {org.ann.pk}
    by_source = {s.source: s for s in summarise(rows)}
    assert by_source["bob"].bias == Decimal("0.0500")
