"""A forecast run on a small organisation: stored series and values, reconciliation, the
fallback reasons, the pipeline forecast, the run record and its inputs hash."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from attain.core.models import AuditEvent, CalcRun
from attain.forecasting.actions import ForecastError, request_forecast, run_forecast
from attain.forecasting.models import (
    DealForecast,
    ForecastSeries,
    ForecastValue,
    PipelineForecast,
)
from tests.forecasting.org import AS_OF, add_pipeline, build_org


@pytest.fixture
def org(db):
    org = build_org()
    add_pipeline(org)
    return org


@pytest.fixture
def forecast(org):
    return run_forecast(None, period_kind="quarter", as_of=AS_OF, horizon=2)


def test_run_is_recorded_with_hash_versions_and_timings(forecast):
    run = forecast.calc_run
    assert run.status == CalcRun.Status.SUCCEEDED
    assert len(run.inputs_hash) == 64
    assert run.calc_version == "ts1-pipe1"
    assert set(run.timings) >= {"inputs", "forecast", "pipeline", "store", "total"}
    # 13 whole quarters of history: FY2023-Q1 .. FY2025-Q4 (2026-01 is in the current one)
    assert (forecast.history_start, forecast.history_end) == (date(2023, 1, 1),
                                                               date(2026, 1, 1))
    assert AuditEvent.objects.filter(action="run_forecast").count() == 1


def test_history_values_are_the_bookings(forecast, org):
    ann = ForecastSeries.objects.get(run=forecast, measure="amount", person=org.ann)
    history = {v.period.label: v.point for v in ForecastValue.objects.filter(
        series=ann, is_forecast=False)}
    # FY2025-Q4: months 34, 35, 36 (index mod 4 = 1, 2, 3): 1,100 + 1,200 + 1,300
    assert history["FY2025-Q4"] == Decimal("3600.00")
    assert len(history) == 12


def test_units_are_forecast_beside_amounts(forecast, org):
    units = ForecastSeries.objects.get(run=forecast, measure="quantity", person=org.ann)
    history = {v.period.label: v.point for v in ForecastValue.objects.filter(
        series=units, is_forecast=False)}
    # FY2025-Q4: months 34, 35, 36 (index mod 4 = 1, 2, 3): 2 + 3 + 4 units
    assert history["FY2025-Q4"] == Decimal("9.00")
    company = ForecastSeries.objects.get(run=forecast, measure="quantity", key="company")
    # ann 2 + 3 + 4, bob 1 x 3, cat 1 x 2 (Nov, Dec)
    assert ForecastValue.objects.get(series=company, period__label="FY2025-Q4").point == (
        Decimal("14.00"))
    assert set(forecast.quantiles) == {"amount", "quantity"}
    assert ForecastSeries.objects.filter(run=forecast, measure="amount").count() == (
        ForecastSeries.objects.filter(run=forecast, measure="quantity").count())


def test_teams_add_up_to_the_company_in_every_forecast_period(forecast):
    values = {}
    for value in ForecastValue.objects.filter(series__run=forecast, is_forecast=True,
                                              series__measure="amount",
                                              series__level__in=["company", "team"]):
        values.setdefault(value.period.label, {})[value.series.key] = value.point
    assert sorted(values) == ["FY2026-Q1", "FY2026-Q2"]
    teams = ForecastSeries.objects.filter(run=forecast, measure="amount", level="team")
    north, south = (teams.get(label=label).key for label in ("North", "South"))
    for by_key in values.values():
        teams = by_key[north] + by_key[south]
        # each stored figure is rounded once to cents: at most a cent apart per team
        assert abs(by_key["company"] - teams) <= Decimal("0.02")


def test_short_series_fall_back_with_the_reason_kept(forecast, org):
    cat = ForecastSeries.objects.get(run=forecast, measure="amount", person=org.cat)
    # cat booked in two months of one quarter: one quarter with bookings
    assert cat.method == "average"
    assert cat.reason.startswith("too little history: 1 of 1 periods with bookings")
    ann = ForecastSeries.objects.get(run=forecast, measure="amount", person=org.ann)
    assert ann.method == "ensemble"
    assert len(ann.members) == 3


def test_intervals_nest_around_every_forecast(forecast):
    for v in ForecastValue.objects.filter(series__run=forecast, is_forecast=True):
        assert v.low_95 <= v.low_80 <= v.high_80 <= v.high_95
        assert v.low_80 <= v.point <= v.high_80 or v.low_80 == Decimal("0.00")


def test_pipeline_forecast_of_the_current_and_next_quarter(forecast, org):
    company = {p.period.label: p for p in PipelineForecast.objects.filter(
        run=forecast, person__isnull=True)}
    assert sorted(company) == ["FY2026-Q1", "FY2026-Q2"]
    current = company["FY2026-Q1"]
    # open: ann 2,000 + bob 1,000; CRM baseline 60% of both (close dates in the quarter)
    assert current.open_amount == Decimal("3000.00")
    assert current.open_deals == 2
    assert current.crm_baseline == Decimal("1800.00")
    assert Decimal(0) <= current.open_expected <= Decimal("3000.00")
    deals = DealForecast.objects.filter(run=forecast, period=current.period)
    assert sorted(d.amount for d in deals) == [Decimal("1000.00"), Decimal("2000.00")]
    assert all(Decimal(0) <= d.probability <= 1 for d in deals)


def test_same_inputs_give_the_same_hash_and_the_same_numbers(forecast):
    again = run_forecast(None, period_kind="quarter", as_of=AS_OF, horizon=2)
    assert again.calc_run.inputs_hash == forecast.calc_run.inputs_hash
    first = sorted(ForecastValue.objects.filter(series__run=forecast).values_list(
        "series__key", "period_id", "point", "low_80", "high_95"))
    second = sorted(ForecastValue.objects.filter(series__run=again).values_list(
        "series__key", "period_id", "point", "low_80", "high_95"))
    assert first == second


def test_no_history_is_refused_and_the_run_kept_as_failed(db):
    with pytest.raises(ForecastError, match="No bookings before 2026-01-01"):
        run_forecast(None, period_kind="quarter", as_of=AS_OF)
    run = CalcRun.objects.get(kind="forecast")
    assert run.status == CalcRun.Status.FAILED
    assert "No bookings" in run.error


def test_request_forecast_queues_a_run_for_the_worker(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = request_forecast(org.ops.user, period_kind="quarter")
    assert run.status == CalcRun.Status.QUEUED
    assert run.params == {"period_kind": "quarter"}
    assert len(callbacks) == 1
    with pytest.raises(ForecastError, match="period_kind must be"):
        request_forecast(org.ops.user, period_kind="week")
