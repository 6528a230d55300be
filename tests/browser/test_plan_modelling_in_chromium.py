"""Plan modelling and the accrual report in Chromium: ops models a draft from its page on a past
period, watches the background run finish and reads the totals, the distribution chart and a
person's lines; finance reads the accrual report."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command

from attain.compensation import actions
from tests.browser.test_compensation_in_chromium import sign_in
from tests.compensation.plans import org, published
from tests.compensation.stored import quarter, stored_run
from tests.compensation.test_plan_modelling import FLAT_5, TIERED
from tests.factories import make_booking

pytestmark = [pytest.mark.browser]


@pytest.fixture
def draft_world(transactional_db):
    """Ann (150,000) and Bob (20,000) on AE v1, 5 % flat; Q1 2026 was run; v2 is a draft with
    4 % to 50,000, 6 % to 100,000 and 8 % above."""
    people = org()
    ops = people["ops"].user
    ae = published(ops, FLAT_5, name="AE")
    for name, amount in (("ann", "150000.00"), ("bob", "20000.00")):
        actions.assign_plan(ops, person_id=people[name].pk, version_id=ae.pk,
                            valid_from="2026-01-01", target_incentive="40000.00")
        make_booking(people[name], amount, date(2026, 2, 10))
    q1 = quarter()
    stored_run(q1, {people["ann"].pk: "7500.00", people["bob"].pk: "1000.00"})
    draft = actions.save_draft(ops, actions.new_version(ops, ae.plan_id).pk, text=TIERED)
    return people, q1, draft


def test_ops_models_a_draft_and_sees_the_totals(page, live_server, draft_world):
    """In force: 150,000 x 5 % + 20,000 x 5 % = 7,500 + 1,000 = 8,500.00. Draft: Ann 2,000 +
    3,000 + 4,000 = 9,000.00, Bob 20,000 x 4 % = 800.00 → 9,800.00, change +1,300.00."""
    _people, q1, draft = draft_world
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/comp/versions/{draft.pk}/edit/")
    page.click("[data-testid=model-draft]")
    page.check(f"[data-testid='model-period-{q1.label}']")
    page.click("[data-testid=start-model]")
    page.wait_for_selector("[data-testid=model-progress]")
    assert "waiting for the worker" in page.inner_text("[data-testid=model-progress]")
    call_command("db_worker", "--batch", verbosity=0)
    page.click("[data-testid=model-reload]")  # the progress line polls and offers the results
    assert page.inner_text("[data-testid=model-total-in-force]") == "8,500.00 USD"
    assert page.inner_text("[data-testid=model-total-draft]") == "9,800.00 USD"
    assert page.inner_text("[data-testid=model-total-change]") == "+1,300.00 USD"
    page.wait_for_selector("[data-chart=model-distribution-chart] canvas")
    assert "ann" in page.inner_text("[data-testid=model-gainers]")
    assert "bob" in page.inner_text("[data-testid=model-losers]")
    page.click("[data-testid=model-rows] >> text=ann")
    assert "9,000.00" in page.inner_text("[data-testid=model-lines]")


def test_finance_reads_the_accrual_report(page, live_server, draft_world):
    _people, _q1, _ = draft_world
    sign_in(page, live_server, "fiona")
    page.goto(f"{live_server.url}/comp/")
    page.click("[data-testid=nav-accrual]")
    page.fill("[data-testid=accrual-as-of]", "2026-04-05")
    page.click("[data-testid=accrual-filters] button[type=submit]")
    assert page.inner_text("[data-testid=accrual-total-USD]") == "8,500.00 USD"
    page.click("[data-testid=accrual-rows] >> text=bob")
    page.wait_for_url(f"{live_server.url}/comp/statements/**")
