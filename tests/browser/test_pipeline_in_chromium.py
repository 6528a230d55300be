"""The pipeline dashboard in Chromium for a manager and a rep: real figures (worked out in
`tests/pipeline/org.py`), charts drawn, filters kept in the URL, drill-down to the deals, and a rep
who cannot open another rep's figures."""

import pytest

from attain.pipeline.engine_io import run_pipeline_analytics
from tests.browser.test_pages_in_chromium import charts_drawn, kpi, sign_in
from tests.pipeline.org import build_pipeline_org

pytestmark = [pytest.mark.browser]


@pytest.fixture
def org(transactional_db):
    org = build_pipeline_org()
    run = run_pipeline_analytics(backend="duckdb")
    assert run.status == "succeeded", run.error
    return org


def test_manager_dashboard_filters_and_drills_down(page, live_server, org):
    sign_in(page, live_server, "mia")
    page.click('nav a[href="/pipeline/"]')
    page.wait_for_url("**/pipeline/")
    assert page.locator("h1").inner_text().startswith("Pipeline · mia's team")
    assert kpi(page, "created") == "7,000.00 USD"
    assert kpi(page, "win-rate") == "50.0%"
    assert charts_drawn(page, 4)
    rows = page.locator("#funnel-table tbody tr td:first-child")
    assert rows.all_inner_texts() == ["Discovery", "Proposal", "Closed Won"]
    page.select_option("#id_person", str(org["ann"].pk))
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"**/pipeline/?*person={org['ann'].pk}*")
    assert kpi(page, "created") == "3,000.00 USD"
    page.click('[data-testid="kpi-created"]')
    page.wait_for_url("**/opportunities/**")
    names = page.locator("#opportunities-table tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == ["X1 won", "X2 lost"]


def test_rep_sees_own_pipeline_and_not_another_reps(page, live_server, org):
    sign_in(page, live_server, "ann")
    page.goto(f"{live_server.url}/pipeline/")
    assert kpi(page, "created") == "3,000.00 USD"
    assert charts_drawn(page, 3)
    response = page.goto(f"{live_server.url}/pipeline/?person={org['bob'].pk}")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/pipeline/bottlenecks/?person={org['bob'].pk}")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/pipeline/bottlenecks/")
    assert response.status == 200
