"""Each role signs in through the form and sees its own home page with the real figures; a rep
cannot open another rep's page. Figures are those worked out by hand in `tests/web/org.py`."""

import os
from pathlib import Path

import pytest

from tests.browser.conftest import LAPTOP, PHONE
from tests.web.org import build_org

pytestmark = [pytest.mark.browser]

SCREENSHOTS = Path(os.environ.get("ATTAIN_SCREENSHOT_DIR", "var/screenshots"))


@pytest.fixture
def org(transactional_db):
    return build_org()


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def kpi(page, name):
    return page.locator(f'[data-testid="kpi-{name}"] .kpi-value').inner_text()


def charts_drawn(page, count):
    """`count` charts have an ECharts canvas with a size."""
    page.wait_for_function(
        f"document.querySelectorAll('.chart canvas').length >= {count}")
    boxes = [c.bounding_box() for c in page.locator(".chart canvas").all()]
    return all(box and box["width"] > 100 and box["height"] > 100 for box in boxes)


@pytest.mark.parametrize(("username", "heading", "figures"), [
    ("ann", "My performance", {"bookings": "1,500.50 USD", "quota": "3,000.00 USD",
                               "attainment": "50.0%", "pipeline": "5,700.25 USD"}),
    ("mia", "My team", {"bookings": "4,000.50 USD", "quota": "5,000.00 USD",
                        "attainment": "80.0%"}),
    ("olga", "Company", {"bookings": "4,440.50 USD", "quota": "6,000.00 USD",
                         "attainment": "74.0%", "at-quota": "1 of 3"}),
    ("fay", "Company", {"bookings": "4,440.50 USD", "attainment": "74.0%"}),
    ("eve", "Company", {"bookings": "4,440.50 USD", "attainment": "74.0%"}),
])
def test_each_role_signs_in_and_sees_its_home_page(page, live_server, org, username, heading,
                                                   figures):
    sign_in(page, live_server, username)
    assert page.locator("h1").inner_text().startswith(heading)
    assert username in page.locator("footer").inner_text()
    for name, value in figures.items():
        assert kpi(page, name) == value
    assert f"run #{org.run.pk}" in page.locator('[data-testid="freshness"]').inner_text()
    assert charts_drawn(page, 2)
    admin_links = page.locator('nav a[href="/admin/"]').count()
    assert admin_links == (1 if username == "olga" else 0)


def test_figures_lead_to_the_records_behind_them(page, live_server, org):
    sign_in(page, live_server, "mia")
    page.click(f'#team-table a[href="/people/{org["ann"].pk}/?period={org.quarter.pk}"] >> nth=0')
    page.wait_for_url(f"**/people/{org['ann'].pk}/**")
    assert kpi(page, "bookings") == "1,500.50 USD"
    rows = page.locator("#bookings-table tbody tr")
    assert rows.count() == 2
    assert "1,200.00 USD" in rows.nth(0).inner_text()
    assert "300.50 USD" in rows.nth(1).inner_text()


def test_team_table_sorts_and_filters_in_the_page(page, live_server, org):
    sign_in(page, live_server, "mia")
    names = page.locator("#team-table tbody tr td:first-child")
    assert names.all_inner_texts() == ["bob", "ann"]  # by attainment, highest first
    page.click("#team-table th:nth-child(1)")
    assert names.all_inner_texts() == ["ann", "bob"]
    page.fill('input[data-filter-table="team-table"]', "bob")
    assert page.locator("#team-table tbody tr:visible").count() == 1


def test_a_rep_cannot_open_another_reps_page(page, live_server, org):
    sign_in(page, live_server, "ann")
    response = page.goto(f"{live_server.url}/people/{org['bob'].pk}/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/opportunities/{org.opportunities['bob_open'].pk}/")
    assert response.status == 404
    response = page.goto(f"{live_server.url}/people/{org['ann'].pk}/")
    assert response.status == 200


def test_ops_home_page_at_laptop_and_phone_width(browser, live_server, org):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in [("laptop", LAPTOP), ("phone", PHONE)]:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        sign_in(page, live_server, "olga")
        assert charts_drawn(page, 2)
        page.wait_for_timeout(600)  # let the charts' entry animation finish
        page.screenshot(path=str(SCREENSHOTS / f"ops-home-{name}.png"), full_page=True)
        menu = page.locator(".nav-toggle-label")
        if name == "phone":
            assert menu.is_visible()
            assert not page.locator('nav a[href="/opportunities/"]').is_visible()
            menu.click()
            assert page.locator('nav a[href="/opportunities/"]').is_visible()
            # Nothing wider than the screen except inside scrollable table wrappers.
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"]
        else:
            assert not menu.is_visible()
            assert page.locator('nav a[href="/opportunities/"]').is_visible()
        context.close()
