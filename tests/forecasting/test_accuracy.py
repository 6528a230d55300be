"""Accuracy of closed periods: statistical forecasts against actuals with interval coverage,
each person's call at each week of the period, and the optimistic-forecaster flag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from attain.core.models import CalcRun, Period
from attain.forecasting.models import ForecastCall, ForecastRun, ForecastSeries, ForecastValue
from attain.forecasting.queries import (
    call_accuracy,
    optimistic_forecasters,
    pipeline_accuracy,
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


def old_run(as_of: date, q4, point: str, band80: tuple[str, str], band95: tuple[str, str],
            *, key: str = "company", measure: str = "amount"):
    run = ForecastRun.objects.create(
        calc_run=CalcRun.objects.create(kind="forecast", status="succeeded",
                                        finished_at=timezone.now() - timedelta(days=90)),
        as_of=as_of, period_kind="quarter", horizon=1, currency="USD")
    series = ForecastSeries.objects.create(run=run, key=key, level="company", label="Company",
                                           method="ensemble", measure=measure)
    ForecastValue.objects.create(series=series, period=q4, point=Decimal(point),
                                 low_80=Decimal(band80[0]), high_80=Decimal(band80[1]),
                                 low_95=Decimal(band95[0]), high_95=Decimal(band95[1]))
    return run


def test_statistical_forecast_is_scored_as_it_stood_at_each_week(org):
    q4 = period("quarter", date(2025, 10, 1), date(2026, 1, 1), "FY2025-Q4")
    # run A (as of Oct 2) forecast 10,500 [80%: 10,000..11,000; 95%: 9,000..12,000];
    # run B (as of Nov 15) 11,200 [80%: 11,100..11,300; 95%: 10,500..12,000]; a units run of
    # the same day must not count
    old_run(date(2025, 10, 2), q4, "10500.00", ("10000.00", "11000.00"), ("9000.00", "12000.00"))
    old_run(date(2025, 11, 15), q4, "11200.00", ("11100.00", "11300.00"),
            ("10500.00", "12000.00"))
    old_run(date(2025, 11, 15), q4, "99.00", ("1.00", "100.00"), ("1.00", "100.00"),
            measure="quantity")
    store_run(org)  # the latest run: FY2025-Q4 actual 11,000
    rows = statistical_accuracy(org.ops.user, date(2026, 2, 10), "company")
    # weeks of Q4 start Oct 1, 8, ..., Dec 31 (14); Oct 1 precedes both runs; Oct 8 .. Nov 12
    # (6 weeks) see A, Nov 19 .. Dec 31 (7 weeks) see B
    assert [r.forecast for r in rows] == [Decimal("10500.00")] * 6 + [Decimal("11200.00")] * 7
    assert (rows[0].made_on, rows[6].made_on) == (date(2025, 10, 8), date(2025, 11, 19))
    assert {r.actual for r in rows} == {Decimal("11000.00")}
    assert (rows[0].inside_80, rows[0].inside_95, rows[6].inside_80, rows[6].inside_95) == (
        True, True, False, True)
    # errors -500 x 6 and +200 x 7 against 13 x 11,000 = 143,000:
    # WAPE (3,000 + 1,400) / 143,000 = 0.0308; bias (-3,000 + 1,400) / 143,000 = -0.0112;
    # MAPE mean(|e| / 11,000) = 4,400 / 11,000 / 13 = 0.0308; inside 80%: 6 of 13 = 0.4615
    summary = summarise(rows)[0]
    assert (summary.forecasts, summary.mape, summary.wape, summary.bias) == (
        13, Decimal("0.0308"), Decimal("0.0308"), Decimal("-0.0112"))
    assert (summary.coverage_80, summary.coverage_95) == (Decimal("0.4615"), Decimal("1.0000"))
    # a rep cannot read the company series' accuracy
    assert statistical_accuracy(org.ann.user, date(2026, 2, 10), "company") == []


def test_pipeline_and_crm_forecasts_of_a_closed_period_are_scored_weekly(org):
    store_run(org)  # stores the company pipeline forecast of FY2026-Q1 made on 2026-02-10
    # FY2026-Q1 closes on 2026-04-01; its actual comes from a later run's history
    q1 = Period.objects.get(kind="quarter", start=date(2026, 1, 1))
    later = ForecastRun.objects.create(
        calc_run=CalcRun.objects.create(kind="forecast", status="succeeded",
                                        finished_at=timezone.now() + timedelta(days=1)),
        as_of=date(2026, 4, 2), period_kind="quarter", horizon=1, currency="USD")
    company = ForecastSeries.objects.create(run=later, key="company", level="company",
                                            label="Company", method="ensemble")
    ForecastValue.objects.create(series=company, period=q1, is_forecast=False,
                                 point=Decimal("4000.00"))
    rows = pipeline_accuracy(org.ops.user, date(2026, 4, 10))
    # weeks of Q1 from Jan 1: the run of Feb 10 stands from the week of Feb 12 to that of
    # Mar 26: Feb 12, 19, 26, Mar 5, 12, 19, 26 = 7 weeks per source
    by_source = {s.source: s for s in summarise(rows)}
    assert by_source["pipeline"].forecasts == 7
    # pipeline 1,000 + 2,000 + 500 = 3,500 vs 4,000: bias -500 / 4,000 = -0.125
    assert by_source["pipeline"].bias == Decimal("-0.1250")
    # CRM baseline 3,000 vs 4,000: WAPE 0.25
    assert by_source["crm stage probabilities"].wape == Decimal("0.2500")
    assert pipeline_accuracy(org.ann.user, date(2026, 4, 10)) == []


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
