"""Forecast calls: submissions kept, adjustments with a note, roll-up through the effective-dated
hierarchy, and visibility (a rep cannot call for another rep: 404 in the API)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from attain.core.models import AuditEvent, Period
from attain.forecasting.actions import ForecastError, submit_call
from attain.forecasting.models import ForecastCall
from attain.forecasting.queries import call_board, calls
from tests.forecasting.org import build_org


@pytest.fixture
def org(db):
    return build_org()


def quarter(start: date) -> Period:
    end = date(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1)
    return Period.objects.create(kind="quarter", start=start, end=end,
                                 label=f"Q{start:%Y-%m}")


def test_every_submission_is_kept_and_audited(org):
    q1 = quarter(date(2026, 1, 1))
    first = submit_call(org.ann.user, person_id=org.ann.pk, period_id=q1.pk,
                        category="commit", amount="1000.00")
    second = submit_call(org.ann.user, person_id=org.ann.pk, period_id=q1.pk,
                         category="commit", amount="1200.00")
    assert list(calls(org.ann.user, date(2026, 2, 1), period_id=q1.pk)) == [second, first]
    assert AuditEvent.objects.filter(action="submit_forecast_call").count() == 2


def test_manager_adjustment_needs_a_note_and_points_at_the_call(org):
    q1 = quarter(date(2026, 1, 1))
    original = submit_call(org.ann.user, person_id=org.ann.pk, period_id=q1.pk,
                           category="commit", amount="1000.00")
    with pytest.raises(ForecastError) as refused:
        submit_call(org.mia.user, person_id=org.ann.pk, period_id=q1.pk, category="commit",
                    amount="800.00")
    assert refused.value.field == "note"
    adjusted = submit_call(org.mia.user, person_id=org.ann.pk, period_id=q1.pk,
                           category="commit", amount="800.00", note="Acme slips to Q2")
    assert adjusted.adjusts == original
    assert adjusted.submitted_by_person == org.mia
    event = AuditEvent.objects.get(action="adjust_forecast_call")
    assert event.before["amount"] == "1000.00" and event.after["amount"] == "800.00"


def test_a_rep_cannot_call_for_another_rep(org):
    q1 = quarter(date(2026, 1, 1))
    with pytest.raises(ForecastError) as refused:
        submit_call(org.ann.user, person_id=org.bob.pk, period_id=q1.pk, category="commit",
                    amount="1.00")
    assert refused.value.field == "person_id"
    assert ForecastCall.objects.count() == 0


@pytest.mark.parametrize(("amount", "reason"), [("-5", "zero or more"), ("abc", "not a number"),
                                                ("1.005", "two decimal places")])
def test_bad_amounts_are_refused_naming_the_value(org, amount, reason):
    q1 = quarter(date(2026, 1, 1))
    with pytest.raises(ForecastError, match=reason) as refused:
        submit_call(org.ann.user, person_id=org.ann.pk, period_id=q1.pk, category="commit",
                    amount=amount)
    assert refused.value.field == "amount"


def test_rollup_follows_the_hierarchy_in_force_in_the_period(org):
    # bob reports to mia until 2026-03-31 and to max from 2026-04-01
    q1, q2 = quarter(date(2026, 1, 1)), quarter(date(2026, 4, 1))
    for period in (q1, q2):
        submit_call(org.ann.user, person_id=org.ann.pk, period_id=period.pk,
                    category="commit", amount="1000.00")
        submit_call(org.bob.user, person_id=org.bob.pk, period_id=period.pk,
                    category="commit", amount="500.00")
        submit_call(org.cat.user, person_id=org.cat.pk, period_id=period.pk,
                    category="commit", amount="300.00")
    ops = org.ops.user
    board_q1 = {line.name: line for line in call_board(ops, date(2026, 2, 1), q1)}
    board_q2 = {line.name: line for line in call_board(ops, date(2026, 2, 1), q2)}
    # Q1: mia = ann 1,000 + bob 500; max = cat 300.  Q2: mia = 1,000; max = 500 + 300
    assert board_q1["mia"].rollup["commit"] == Decimal("1500.00")
    assert board_q1["max"].rollup["commit"] == Decimal("300.00")
    assert board_q2["mia"].rollup["commit"] == Decimal("1000.00")
    assert board_q2["max"].rollup["commit"] == Decimal("800.00")
    assert board_q1["ann"].figure("commit") == Decimal("1000.00")
    assert board_q1["ann"].figure("best_case") is None


def test_a_managers_board_shows_only_their_subtree(org):
    q1 = quarter(date(2026, 1, 1))
    names = [line.name for line in call_board(org.mia.user, date(2026, 2, 1), q1)]
    assert names == ["mia", "ann", "bob"]
    assert [line.name for line in call_board(org.ann.user, date(2026, 2, 1), q1)] == ["ann"]
