"""A stored forecast run written by hand (no engine), for page and API tests.

Series (quarterly, currency USD), history FY2025-Q3 and FY2025-Q4, forecast FY2026-Q1:
    company 10,000 / 11,000 → 12,000 [80%: 11,000 .. 13,000; 95%: 10,000 .. 14,000]
    team North, ann, bob, team South, cat: the same shape, scaled (see SCALE)
Pipeline (FY2026-Q1): company closed-won 1,000 + open 2,000 + created 500 = 3,500 (CRM 3,000);
ann's open deal of 4,000 at CRM 60% and model 20% is at risk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.utils import timezone

from attain.core.models import CalcRun, Period
from attain.forecasting.models import (
    DealForecast,
    ForecastRun,
    ForecastSeries,
    ForecastValue,
    PipelineForecast,
)
from tests.factories import make_opportunity, make_stage
from tests.forecasting.org import Org

SCALE = {"company": Decimal(1), "north": Decimal("0.6"), "ann": Decimal("0.4"),
         "bob": Decimal("0.2"), "south": Decimal("0.4"), "cat": Decimal("0.4")}


def period(kind: str, start: date, end: date, label: str) -> Period:
    row, _ = Period.objects.get_or_create(kind=kind, start=start,
                                          defaults={"end": end, "label": label})
    return row


def store_run(org: Org) -> dict[str, ForecastSeries]:
    calc = CalcRun.objects.create(kind="forecast", status=CalcRun.Status.SUCCEEDED,
                                  inputs_hash="a" * 64, finished_at=timezone.now())
    run = ForecastRun.objects.create(calc_run=calc, as_of=date(2026, 2, 10),
                                     period_kind="quarter", history_start=date(2025, 7, 1),
                                     history_end=date(2026, 1, 1), horizon=1,
                                     reconciliation="mint_shrink", currency="USD")
    q3 = period("quarter", date(2025, 7, 1), date(2025, 10, 1), "FY2025-Q3")
    q4 = period("quarter", date(2025, 10, 1), date(2026, 1, 1), "FY2025-Q4")
    q1 = period("quarter", date(2026, 1, 1), date(2026, 4, 1), "FY2026-Q1")
    specs = {
        "company": ("company", "Company", None, None),
        "north": ("team", "North", org.north, None),
        "ann": ("person", "ann", org.north, org.ann),
        "bob": ("person", "bob", org.north, org.bob),
        "south": ("team", "South", org.south, None),
        "cat": ("person", "cat", org.south, org.cat),
    }
    out = {}
    for name, (level, label, team, person) in specs.items():
        series = ForecastSeries.objects.create(
            run=run, key=name, level=level, label=label, team=team, person=person,
            method="ensemble", members=["ets", "theta", "ces"], reason="selected by backtest")
        k = SCALE[name]
        ForecastValue.objects.create(series=series, period=q3, is_forecast=False,
                                     point=Decimal("10000.00") * k)
        ForecastValue.objects.create(series=series, period=q4, is_forecast=False,
                                     point=Decimal("11000.00") * k)
        ForecastValue.objects.create(
            series=series, period=q1, point=Decimal("12000.00") * k,
            low_80=Decimal("11000.00") * k, high_80=Decimal("13000.00") * k,
            low_95=Decimal("10000.00") * k, high_95=Decimal("14000.00") * k)
        out[name] = series
    PipelineForecast.objects.create(
        run=run, period=q1, person=None, closed_won=Decimal("1000.00"),
        open_expected=Decimal("2000.00"), created_expected=Decimal("500.00"),
        crm_baseline=Decimal("3000.00"), open_amount=Decimal("6000.00"), open_deals=2,
        currency="USD")
    PipelineForecast.objects.create(
        run=run, period=q1, person=org.ann, closed_won=Decimal("400.00"),
        open_expected=Decimal("800.00"), created_expected=Decimal("0.00"),
        crm_baseline=Decimal("2800.00"), open_amount=Decimal("4000.00"), open_deals=1,
        currency="USD")
    stage = make_stage("Proposal", 3, won=False, probability="60")
    opp = make_opportunity(org.ann, "4000.00", stage=stage, name="Acme renewal",
                           created_at=datetime(2026, 1, 5, tzinfo=UTC))
    DealForecast.objects.create(run=run, period=q1, opportunity=opp, owner=org.ann,
                                probability=Decimal("0.2000"), crm_probability=Decimal("0.6"),
                                amount=Decimal("4000.00"), expected=Decimal("800.00"),
                                currency="USD")
    return out
