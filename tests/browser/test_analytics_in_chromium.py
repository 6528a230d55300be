"""The performance dashboard, the bookings breakdown and the pipeline product filter in
Chromium, for sales operations, a manager and a rep, on the organisations of
`tests/performance/org.py` and `tests/pipeline/org.py` (figures by hand there and below)."""

import re
from decimal import Decimal

import pytest

from attain.core.models import CalcRun
from attain.crm.models import Opportunity, Product
from attain.performance.actions import run_performance_analytics
from attain.pipeline.engine_io import run_pipeline_analytics
from tests.browser.test_pages_in_chromium import charts_drawn, kpi, sign_in
from tests.performance.org import build_performance_org
from tests.pipeline.org import build_pipeline_org

pytestmark = [pytest.mark.browser]


@pytest.fixture
def org(transactional_db):
    return build_performance_org()


def test_ops_reads_the_performance_dashboard_and_follows_a_band(page, live_server, org):
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/attainment/?period={org.quarter.pk}")  # the old address
    page.wait_for_url(re.compile(rf".*/performance/\?period={org.quarter.pk}$"))
    names = page.locator("#attainment-table tbody tr td:first-child").all_inner_texts()
    assert {n.split()[0] for n in names} >= {"ann", "bob", "cat"}
    assert charts_drawn(page, 2)
    # both export formats of the people table and of the roll-ups, with the period kept
    links = page.locator('[data-testid="xlsx-export"]')
    assert links.count() >= 2
    assert all(f"period={org.quarter.pk}" in h and "format=xlsx" in h
               for h in (links.nth(i).get_attribute("href") for i in range(links.count())))
    # bob is the one person at or above quota (125.0 %): the >= 100 % band lists only him
    page.goto(f"{live_server.url}/performance/?period={org.quarter.pk}&min=100")
    rows = page.locator("#attainment-table tbody tr")
    assert rows.count() == 1 and "bob" in rows.first.inner_text()
    assert "125.0%" in rows.first.inner_text()


def test_rep_sees_only_her_own_row_and_no_other_reps_detail(page, live_server, org):
    sign_in(page, live_server, "ann")
    page.goto(f"{live_server.url}/performance/?period={org.quarter.pk}")
    table = page.locator("#attainment-table tbody")
    assert table.locator("tr").count() == 1
    assert "ann" in table.inner_text() and "50.0%" in table.inner_text()
    assert "bob" not in page.locator("main").inner_text()
    assert page.locator('[data-testid="tab-bookings"]').count() == 0
    assert page.goto(f"{live_server.url}/people/{org['bob'].pk}/").status == 404
    assert page.goto(f"{live_server.url}/performance/bookings/").status == 403


def test_ops_breaks_bookings_down_by_region_and_drills_down(page, live_server, org):
    # ann's won deal is in North: her lines 1,200.00 + 300.50 = 1,500.50; bob's 2,500.00 and
    # cat's 400.00 EUR x 1.10 = 440.00 belong to no deal: (none) 2,940.00. Total 4,440.50;
    # shares 1,500.50 / 4,440.50 = 33.79 % -> 33.8 %, 2,940.00 / 4,440.50 = 66.2 %.
    Opportunity.objects.filter(pk=org.base.opportunities["ann_won"].pk).update(region="North")
    assert run_performance_analytics(None, "duckdb").status == CalcRun.Status.SUCCEEDED
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/performance/?period={org.quarter.pk}")
    page.click('[data-testid="tab-bookings"]')
    page.wait_for_url(f"**/performance/bookings/?period={org.quarter.pk}")
    assert kpi(page, "total") == "4,440.50 USD"
    rows = page.locator("#breakdown-table tbody tr").all_inner_texts()
    assert [r.split("\t") for r in rows] == [["(none)", "2,940.00 USD", "2", "66.2%"],
                                             ["North", "1,500.50 USD", "2", "33.8%"]]
    assert charts_drawn(page, 1)
    page.click('[data-testid="dimension-category"]')
    page.wait_for_url(re.compile(r".*dimension=category.*"))
    assert f"period={org.quarter.pk}" in page.url
    page.click('[data-testid="dimension-region"]')
    page.locator("#breakdown-table tbody tr", has_text="North").locator("a").first.click()
    page.wait_for_url("**/bookings/**region=North**")
    main = page.locator("main").inner_text()
    assert "1,200.00" in main and "300.50" in main and "2,500.00" not in main


@pytest.fixture
def pipeline_org(transactional_db):
    org = build_pipeline_org()
    starter = Product.objects.create(external_id="P-S", name="Starter", family="Platform",
                                     list_price=Decimal("6000"), currency="USD")
    Opportunity.objects.filter(pk__in=[org.deals["X1"].pk, org.deals["X2"].pk]).update(
        product=starter)
    run = run_pipeline_analytics(backend="duckdb")
    assert run.status == "succeeded", run.error
    return org


def test_ops_filters_the_pipeline_by_product_and_drills_down(page, live_server, pipeline_org):
    # Starter: X1 (won 2,000.00) and X2 (lost 1,000.00) -> created 3,000.00, win rate 50.0 %
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/pipeline/")
    assert kpi(page, "created") == "7,500.00 USD"
    page.select_option("#id_product", "Starter")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/pipeline/?*product=Starter*")
    assert kpi(page, "created") == "3,000.00 USD"
    assert kpi(page, "win-rate") == "50.0%"
    winloss = page.locator("#winloss-table tbody tr", has_text="Starter")
    assert "50.0%" in winloss.first.inner_text()
    page.click('[data-testid="kpi-created"]')
    page.wait_for_url("**/opportunities/**product=Starter**")
    names = page.locator("#opportunities-table tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == ["X1 won", "X2 lost"]
