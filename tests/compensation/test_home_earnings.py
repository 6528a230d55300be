"""A rep's home page shows the pay earned so far in the current period (latest compensation run)."""

from __future__ import annotations

from datetime import date

import pytest

from attain.web.views import today
from tests.compensation.plans import org
from tests.compensation.stored import quarter, stored_run

pytestmark = pytest.mark.django_db


def _current_quarter_start() -> date:
    day = today()
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)  # calendar quarters (fiscal year: Jan)


def _earned_kpi(page: str) -> str:
    start = page.rindex("<a ", 0, page.index('data-testid="kpi-earned"'))
    return page[start:page.index("</a>", start)]


def test_rep_home_shows_own_pay_of_the_current_quarter(client):
    people = org()
    # Ann 800.00 and Bob 1,200.00 in the quarter containing today
    stored_run(quarter(_current_quarter_start()), {people["ann"].pk: "800.00",
                                                   people["bob"].pk: "1200.00"})
    client.force_login(people["ann"].user)

    kpi = _earned_kpi(client.get("/").content.decode())

    assert "800.00 USD" in kpi
    assert "1,200.00" not in kpi
    assert 'href="/comp/statement/"' in kpi


def test_rep_home_says_when_no_run_covers_the_current_period(client):
    people = org()
    stored_run(quarter(date(2025, 1, 1)), {people["ann"].pk: "800.00"})  # a past quarter only
    client.force_login(people["ann"].user)

    kpi = _earned_kpi(client.get("/").content.decode())

    assert "No compensation run for this period yet" in kpi
    assert "800.00" not in kpi
