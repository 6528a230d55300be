"""The comparison and leaderboard pages in Chromium, for a manager and a rep, on the
organisation of `tests/performance/org.py` (figures by hand there)."""

import re

import pytest

from attain.performance.actions import set_leaderboard_names
from tests.browser.test_pages_in_chromium import charts_drawn, sign_in
from tests.performance.org import build_performance_org

pytestmark = [pytest.mark.browser]


@pytest.fixture
def org(transactional_db):
    return build_performance_org()


def test_manager_compares_the_team_and_follows_a_figure(page, live_server, org):
    sign_in(page, live_server, "mia")
    page.goto(f"{live_server.url}/performance/compare/?period={org.quarter.pk}"
              f"&team={org.east.pk}")

    rows = page.locator("#compare-table tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text().startswith("bob")
    bookings = page.locator(f'#compare-table tr[data-person="{org["bob"].pk}"] '
                            'td[data-measure="bookings"]')
    assert re.search(r"2,500.00.*med 2,000.25.*p75", bookings.inner_text().replace("\n", " "))
    page.wait_for_function("document.querySelectorAll('.chart canvas').length >= 3")
    sparkline = page.locator(f'[data-chart="spark-{org["ann"].pk}"] canvas').first.bounding_box()
    heatmap = page.locator('[data-chart="heatmap-chart"] canvas').first.bounding_box()
    assert sparkline and sparkline["width"] >= 100 and sparkline["height"] >= 20
    assert heatmap and heatmap["width"] > 300 and heatmap["height"] >= 200
    bookings.locator("a").click()
    page.wait_for_url("**/bookings/**")
    assert "2,500.00 USD" in page.locator("main").inner_text()


def test_manager_switches_the_period_filter_and_the_url_keeps_it(page, live_server, org):
    sign_in(page, live_server, "mia")
    page.goto(f"{live_server.url}/performance/leaderboard/?period={org.quarter.pk}")
    page.select_option('[data-testid="metric-filter"]', "attainment_pct")
    page.wait_for_url(re.compile(r".*metric=attainment_pct.*"))
    first = page.locator("#leaderboard-table tbody tr").first
    assert "125.0%" in first.inner_text() and "bob" in first.inner_text()
    assert f"period={org.quarter.pk}" in page.url


def test_rep_sees_an_anonymised_leaderboard_but_not_other_reps(page, live_server, org):
    set_leaderboard_names(None, "anonymised")
    sign_in(page, live_server, "ann")
    page.goto(f"{live_server.url}/performance/leaderboard/?period={org.quarter.pk}")

    table = page.locator("#leaderboard-table tbody")
    assert table.locator("tr").all_inner_texts()[1].split("\t")[2].startswith("ann")
    assert "Rep #1" in table.inner_text() and "bob" not in table.inner_text()
    assert table.locator("a").count() == 2  # only her own name and value link anywhere
    assert charts_drawn(page, 1)
    response = page.goto(f"{live_server.url}/people/{org['bob'].pk}/")
    assert response.status == 404


def test_rep_compares_herself_with_the_team_median(page, live_server, org):
    sign_in(page, live_server, "ann")
    page.goto(f"{live_server.url}/performance/compare/?period={org.quarter.pk}"
              f"&team={org.east.pk}")

    rows = page.locator("#compare-table tbody tr")
    assert rows.count() == 1
    assert "ann" in rows.first.inner_text()
    assert "2,000.25" in page.locator("#compare-table tfoot").inner_text()
    assert "bob" not in page.locator("#compare-table").inner_text()
