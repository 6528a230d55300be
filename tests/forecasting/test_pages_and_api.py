"""The forecast page and the forecasting API for each role, on a hand-written stored run."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from attain.core.models import CalcRun
from attain.forecasting.models import ForecastCall
from tests.forecasting.org import build_org
from tests.forecasting.stored import store_run


@pytest.fixture
def org(db):
    return build_org()


@pytest.fixture
def stored(org):
    return store_run(org)


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    monkeypatch.setattr("attain.web.forecasting_views.today", lambda: date(2026, 2, 10))


def page(client, person, **params):
    client.force_login(person.user)
    return client.get(reverse("forecast"), params)


def test_ops_sees_the_company_forecast_with_intervals(client, org, stored):
    response = page(client, org.ops)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Forecast run #" in body
    assert response.context["series"] == stored["company"]
    assert [s.label for s in response.context["visible"]] == [
        "Company", "ann", "bob", "cat", "North", "South"]
    # the forecast row: 12,000 with 80% 11,000 .. 13,000 and 95% 10,000 .. 14,000
    assert "12,000.00" in body and "13,000.00" in body and "14,000.00" in body
    # pipeline: 1,000 + 2,000 + 500 = 3,500 against the CRM's 3,000
    assert "3,500.00" in body and "3,000.00" in body
    assert "Acme renewal" in body  # 60% in the CRM, 20% by the model: at risk


def test_forecast_export_has_history_and_forecast_rows(client, org, stored):
    response = page(client, org.ops, format="csv", table="series")
    lines = response.content.decode().strip().splitlines()
    assert lines[0] == "series,measure,period,kind,point,low_80,high_80,low_95,high_95"
    assert lines[1:] == ["Company,amount,FY2025-Q3,actual,10000.00,,,,",
                         "Company,amount,FY2025-Q4,actual,11000.00,,,,",
                         "Company,amount,FY2026-Q1,forecast,12000.00,11000.00,13000.00,"
                         "10000.00,14000.00"]


@pytest.fixture
def units(stored):
    """The company's units series in the same run: 40 units in FY2025-Q4, 44 forecast."""
    from decimal import Decimal

    from attain.forecasting.models import ForecastSeries, ForecastValue

    company = stored["company"]
    series = ForecastSeries.objects.create(
        run=company.run, measure="quantity", key="company", level="company",
        label="Company", method="ensemble", members=["ets"], reason="selected by backtest")
    q4, q1 = (v.period for v in company.values.order_by("period__start")[1:])
    ForecastValue.objects.create(series=series, period=q4, is_forecast=False,
                                 point=Decimal("40.00"))
    ForecastValue.objects.create(series=series, period=q1, point=Decimal("44.00"),
                                 low_80=Decimal("41.00"), high_80=Decimal("47.00"),
                                 low_95=Decimal("39.00"), high_95=Decimal("49.00"))
    return series


def test_units_are_chosen_on_the_page_and_in_the_api(client, org, units):
    response = page(client, org.ops, measure="quantity")
    assert response.context["series"] == units
    assert [s.label for s in response.context["visible"]] == ["Company"]
    body = response.content.decode()
    assert "Units forecast" in body and "47.00" in body
    # the amount page is unchanged and lists no units series
    amount = page(client, org.ops)
    assert amount.context["series"].measure == "amount"
    assert "Bookings forecast" in amount.content.decode()
    # choosing the units series by id switches the measure
    assert page(client, org.ops, series=units.pk).context["measure"] == "quantity"
    listed = client.get("/api/v1/forecast-series", {"measure": "quantity"}).json()
    assert [(i["key"], i["measure"]) for i in listed["items"]] == [("company", "quantity")]
    assert client.get("/api/v1/forecast-series", {"measure": "litres"}).status_code == 422
    csv = page(client, org.ops, measure="quantity", format="csv", table="series")
    assert csv.content.decode().splitlines()[-1] == (
        "Company,quantity,FY2026-Q1,forecast,44.00,41.00,47.00,39.00,49.00")


def test_manager_sees_their_team_and_people_only(client, org, stored):
    response = page(client, org.mia)
    assert response.context["series"] == stored["north"]
    assert [s.label for s in response.context["visible"]] == ["ann", "bob", "North"]
    assert page(client, org.mia, series=stored["cat"].pk).status_code == 404
    assert page(client, org.mia, series=stored["south"].pk).status_code == 404


def test_rep_sees_only_their_own_series_and_not_anothers(client, org, stored):
    response = page(client, org.ann)
    assert response.context["series"] == stored["ann"]
    assert [s.label for s in response.context["visible"]] == ["ann"]
    assert page(client, org.ann, series=stored["bob"].pk).status_code == 404


def test_rep_submits_a_call_from_the_page(client, org, stored):
    client.force_login(org.ann.user)
    q1 = stored["ann"].values.get(is_forecast=True).period
    response = client.post(reverse("forecast-call"), {
        "person_id": org.ann.pk, "period_id": q1.pk, "category": "commit",
        "amount": "4500.00"})
    assert response.status_code == 302
    call = ForecastCall.objects.get()
    assert (call.person, call.amount, call.category) == (org.ann, 4500, "commit")
    # a call for bob is someone the rep may not see: 404, nothing written
    response = client.post(reverse("forecast-call"), {
        "person_id": org.bob.pk, "period_id": q1.pk, "category": "commit", "amount": "1.00"})
    assert response.status_code == 404
    assert ForecastCall.objects.count() == 1


def test_bad_call_is_shown_with_its_field_and_nothing_is_written(client, org, stored):
    client.force_login(org.ann.user)
    q1 = stored["ann"].values.get(is_forecast=True).period
    response = client.post(reverse("forecast-call"), {
        "person_id": org.ann.pk, "period_id": q1.pk, "category": "commit",
        "amount": "lots"}, follow=True)
    assert "Not saved — amount: amount &#x27;lots&#x27; is not a number." in \
        response.content.decode()
    assert ForecastCall.objects.count() == 0


def test_only_ops_may_queue_a_forecast_run(client, org, stored,
                                          django_capture_on_commit_callbacks):
    client.force_login(org.mia.user)
    assert client.post(reverse("forecast-run"), {"period_kind": "month"}).status_code == 403
    client.force_login(org.ops.user)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("forecast-run"), {"period_kind": "quarter"})
    assert response.status_code == 302
    assert CalcRun.objects.filter(kind="forecast", status="queued").count() == 1


def test_api_series_visibility_matches_the_pages(client, org, stored):
    client.force_login(org.ann.user)
    listed = client.get("/api/v1/forecast-series").json()
    assert [item["label"] for item in listed["items"]] == ["ann"]
    assert client.get(f"/api/v1/forecast-series/{stored['bob'].pk}").status_code == 404
    detail = client.get(f"/api/v1/forecast-series/{stored['ann'].pk}").json()
    assert [v["point"] for v in detail["values"]] == ["4000.00", "4400.00", "4800.00"]
    assert detail["values"][-1]["high_95"] == "5600.00"


def test_api_calls_submit_and_refuse(client, org, stored):
    client.force_login(org.ann.user)
    q1 = stored["ann"].values.get(is_forecast=True).period
    ok = client.post("/api/v1/forecast-calls", {
        "person_id": org.ann.pk, "period_id": q1.pk, "category": "best_case",
        "amount": "5000.00"}, content_type="application/json")
    assert ok.status_code == 201
    assert ok.json()["amount"] == "5000.00"
    other = client.post("/api/v1/forecast-calls", {
        "person_id": org.bob.pk, "period_id": q1.pk, "category": "commit",
        "amount": "1.00"}, content_type="application/json")
    assert other.status_code == 404
    bad = client.post("/api/v1/forecast-calls", {
        "person_id": org.ann.pk, "period_id": q1.pk, "category": "maybe",
        "amount": "1.00"}, content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["field"] == "category"
    pipeline = client.get("/api/v1/pipeline-forecasts").json()["items"]
    assert [(p["person_id"], p["total"]) for p in pipeline] == [(org.ann.pk, "1200.00")]


def test_team_gap_to_quota_uses_the_members_quotas(client, org, stored):
    from decimal import Decimal

    from attain.forecasting.queries import team_gaps
    from attain.performance.models import Quota

    q1 = stored["north"].values.get(is_forecast=True).period
    Quota.objects.create(person=org.ann, period=q1, amount=Decimal("5000.00"), currency="USD")
    Quota.objects.create(person=org.bob, period=q1, amount=Decimal("3000.00"), currency="USD")
    gaps = {g.series.label: g for g in team_gaps(org.ops.user, date(2026, 2, 10),
                                                 stored["north"].run, q1)}
    # North: forecast 12,000 x 0.6 = 7,200 against 5,000 + 3,000 = 8,000: 800 short
    assert gaps["North"].forecast == Decimal("7200.00")
    assert gaps["North"].gap == Decimal("-800.00")
    assert gaps["South"].quota is None
    response = page(client, org.ops)
    body = response.content.decode()
    assert "-800.00" in body
    assert "forecast for FY2026-Q1 reconciled (mint_shrink)" in body  # the assumptions


def test_api_accuracy_scores_each_week_and_ranks_the_forecasters(client, org, stored):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from attain.forecasting.models import ForecastRun, ForecastSeries, ForecastValue

    q4 = stored["company"].values.get(period__label="FY2025-Q4").period
    old = ForecastRun.objects.create(
        calc_run=CalcRun.objects.create(kind="forecast", status="succeeded",
                                        finished_at=timezone.now() - timedelta(days=90)),
        as_of=date(2025, 10, 2), period_kind="quarter", horizon=1, currency="USD")
    series = ForecastSeries.objects.create(run=old, key="company", level="company",
                                           label="Company", method="ensemble")
    ForecastValue.objects.create(series=series, period=q4, point=Decimal("10500.00"),
                                 low_80=Decimal("10000.00"), high_80=Decimal("11000.00"),
                                 low_95=Decimal("9000.00"), high_95=Decimal("12000.00"))
    client.force_login(org.ops.user)
    report = client.get("/api/v1/forecast-accuracy", {"as_of": "2026-02-10"}).json()
    # the run of Oct 2 stands from the week of Oct 8 to that of Dec 31: 13 weeks, each
    # 10,500 against 11,000 (error -500): WAPE and |bias| 500 / 11,000 = 0.0455
    assert [(b["source"], b["forecasts"], b["wape"], b["bias"], b["coverage_80"])
            for b in report["leaderboard"]] == [
        ("statistical", 13, "0.0455", "-0.0455", "1.0000")]
    assert report["rows"][0]["week_of"] == "2025-10-08"
    assert report["rows"][0]["error"] == "-500.00"
    client.force_login(org.ann.user)  # a rep may not see the company series
    assert client.get("/api/v1/forecast-accuracy").json() == {"leaderboard": [], "rows": []}
    assert client.get("/api/v1/forecast-accuracy", {"measure": "kg"}).status_code == 422
