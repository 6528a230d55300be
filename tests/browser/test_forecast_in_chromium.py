"""The forecast page in Chromium: the chart with its intervals draws, the figures match the
stored run (`tests/forecasting/stored.py`), a rep submits a call through the form and sees it
in the call sheet; a rep cannot open another rep's series."""

from datetime import date

import pytest

from tests.forecasting.org import build_org
from tests.forecasting.stored import store_run

pytestmark = [pytest.mark.browser]


@pytest.fixture
def stored(transactional_db, monkeypatch):
    monkeypatch.setattr("attain.web.forecasting_views.today", lambda: date(2026, 2, 10))
    org = build_org()
    return org, store_run(org)


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_ops_sees_the_forecast_chart_and_the_pipeline_forecast(page, live_server, stored):
    sign_in(page, live_server, "olga")
    page.click("nav >> text=Forecast")
    page.wait_for_url(f"{live_server.url}/forecast/")
    page.wait_for_function("document.querySelectorAll('.chart canvas').length >= 2")
    assert page.locator("#forecast-table tbody tr").first.inner_text().split("\t")[:2] == [
        "FY2026-Q1", "12,000.00"]
    row = page.locator('[data-testid="pipeline-row"]').first.inner_text()
    assert "3,500.00" in row and "3,000.00" in row
    assert "Acme renewal" in page.locator("#risk-table").inner_text()


def test_rep_submits_a_call_and_sees_it(page, live_server, stored):
    org, series = stored
    sign_in(page, live_server, "ann")
    q1 = series["ann"].values.get(is_forecast=True).period
    page.goto(f"{live_server.url}/forecast/?period={q1.pk}")
    form = page.locator('[data-testid="call-form"]')
    form.locator("select[name=category]").select_option("commit")
    form.locator("input[name=amount]").fill("4500.00")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".messages")
    assert "Saved: Commit 4,500.00 USD for ann, FY2026-Q1." in page.inner_text(".messages")
    assert "4,500.00" in page.locator(f'#calls-table tr[data-person="{org.ann.pk}"]').inner_text()


def test_rep_cannot_open_another_reps_series(page, live_server, stored):
    _, series = stored
    sign_in(page, live_server, "ann")
    response = page.goto(f"{live_server.url}/forecast/?series={series['bob'].pk}")
    assert response.status == 404


def test_ops_switches_the_page_to_units(page, live_server, stored):
    from decimal import Decimal

    from attain.forecasting.models import ForecastSeries, ForecastValue

    _, series = stored
    company = series["company"]
    units = ForecastSeries.objects.create(
        run=company.run, measure="quantity", key="company", level="company", label="Company",
        method="ensemble", members=["ets"], reason="selected by backtest")
    q1 = company.values.get(is_forecast=True).period
    ForecastValue.objects.create(series=units, period=q1, point=Decimal("44.00"),
                                 low_80=Decimal("41.00"), high_80=Decimal("47.00"),
                                 low_95=Decimal("39.00"), high_95=Decimal("49.00"))
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/forecast/")
    assert "Bookings forecast" in page.inner_text('[data-testid="forecast-heading"]')
    page.select_option('[data-testid="measure"]', "quantity")
    page.wait_for_url("**measure=quantity**")
    assert "Units forecast" in page.inner_text('[data-testid="forecast-heading"]')
    assert page.locator("#forecast-table tbody tr").first.inner_text().split("\t")[:2] == [
        "FY2026-Q1", "44.00"]
