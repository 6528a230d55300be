"""The what-if estimator in Chromium: a rep ticks an open deal and sees the estimate change to
the figure computed by hand, while the page says the engine is working."""

from __future__ import annotations

from datetime import date

import pytest

from attain.compensation import actions
from tests.browser.test_compensation_in_chromium import sign_in
from tests.compensation.plans import FLAT_8, org, published
from tests.compensation.stored import quarter
from tests.factories import make_booking, make_opportunity, make_stage

pytestmark = [pytest.mark.browser]


@pytest.fixture
def world(transactional_db):
    people = org()
    ops = people["ops"].user
    version = published(ops, FLAT_8)
    actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                        valid_from="2026-01-01", target_incentive="40000.00")
    period = quarter()
    make_booking(people["ann"], "10000.00", date(2026, 2, 10))
    deal = make_opportunity(people["ann"], "5000.00", close_date=date(2026, 3, 20),
                            stage=make_stage("Proposal", 3, won=False, probability="60"),
                            name="Globex renewal")
    return people, period, deal


def test_rep_ticks_a_deal_and_sees_the_estimate_change(page, live_server, world):
    """Flat 8 %: 10,000 booked → 800.00 so far; ticking the 5,000 Globex renewal →
    15,000 x 8 % = 1,200.00, +400.00."""
    _, period, deal = world
    sign_in(page, live_server, "ann")
    page.click('[data-testid="kpi-what-if"]')
    page.wait_for_url(f"{live_server.url}/comp/what-if/")
    page.goto(f"{live_server.url}/comp/what-if/?period={period.pk}")
    page.wait_for_selector('[data-testid="what-if-before"]', timeout=120_000)
    assert page.inner_text('[data-testid="what-if-before"]').strip() == "800.00 USD"
    assert page.inner_text('[data-testid="what-if-after"]').strip() == "800.00 USD"

    page.check(f'[data-deal="{deal.pk}"] input[name=deal]')
    page.wait_for_function(
        "document.querySelector('[data-testid=\"what-if-after\"]').innerText.trim()"
        " === '1,200.00 USD'", timeout=120_000)

    assert page.inner_text('[data-testid="what-if-difference"]').strip() == "+400.00 USD"
    lines = page.inner_text('[data-testid="what-if-lines"]')
    assert "Globex renewal, if it closes, booked on 2026-03-20" in lines
