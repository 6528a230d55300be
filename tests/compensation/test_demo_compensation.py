"""The demo organisation's compensation: example plans published and assigned, one quarter run,
and the demo rep reads a real statement whose lines add up to the payout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from attain.compensation import queries as cq
from attain.compensation.models import PayoutLine, PlanAcceptance, PlanAssignment, PlanVersion
from attain.core.models import CalcRun
from attain.demo.compensation import set_up_compensation
from attain.demo.generator import generate
from attain.demo.logins import ensure_demo_logins
from attain.people.models import Person

pytestmark = pytest.mark.django_db


def test_demo_rep_gets_a_statement_whose_lines_add_up_to_the_payout():
    generate("tiny")
    ensure_demo_logins()
    calc = set_up_compensation()
    assert calc.status == CalcRun.Status.SUCCEEDED, calc.error
    assert PlanVersion.objects.filter(status="published").count() == 3
    reps = Person.objects.filter(role="rep")
    assert PlanAssignment.objects.filter(person__in=reps).exists()
    assert 0 < PlanAcceptance.objects.count() < PlanAssignment.objects.count()
    rep = Person.objects.get(user__username="rep")
    run = calc.comp_run
    statement = cq.statement(rep.user, rep.pk, run)
    assert statement is not None and statement.payouts
    for payout in statement.payouts:
        paid = sum((line.amount for line in PayoutLine.objects.filter(
            run=run, person=rep, currency=payout.currency)), Decimal("0.00"))
        assert paid == payout.payout
    # the what-if estimator has something to tick: open deals of the current pay period
    today = timezone.localdate()
    [current, *_] = cq.what_if_periods(rep.pk, today)
    assert cq.open_deals(rep.pk, current, today).exists()
