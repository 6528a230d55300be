"""A compensation run end to end: plan text and database rows → snapshot → engine → stored
run, statement and payout; re-running; closing a period and adjusting it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from attain.compensation import actions
from attain.compensation import queries as cq
from attain.compensation.actions import CompensationError
from attain.compensation.models import CompRun, EarningLine, Payout, PayoutLine, PriorAdjustment
from attain.core.models import CalcRun
from tests.compensation.plans import MARGINAL, org, published
from tests.compensation.stored import quarter
from tests.factories import make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann_on_marginal_plan():
    people = org()
    ops = people["ops"].user
    version = published(ops, MARGINAL)
    actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                        valid_from="2026-01-01", target_incentive="40000.00")
    return people, quarter(), version


def test_run_pays_the_issues_marginal_tier_example(ann_on_marginal_plan, client):
    """Sales of 9,000 on 6 % to 3,000, 8 % to 8,000, 10 % above:
    3,000 x 6 % + 5,000 x 8 % + 1,000 x 10 % = 180 + 400 + 100 = 680.00."""
    people, period, version = ann_on_marginal_plan
    make_booking(people["ann"], "9000.00", date(2026, 2, 10))
    run = actions.run_compensation(people["ops"].user, period_id=period.pk)
    assert run.calc_run.status == CalcRun.Status.SUCCEEDED
    assert run.plan_versions == [version.pk]
    lines = EarningLine.objects.filter(run=run, person=people["ann"])
    assert sum(line.amount for line in lines) == Decimal("680.00")
    payout = Payout.objects.get(run=run, person=people["ann"])
    assert (payout.earned, payout.payout, payout.currency) == (
        Decimal("680.00"), Decimal("680.00"), "USD")
    # the payout lines add up to the payout to the cent
    assert sum(p.amount for p in PayoutLine.objects.filter(run=run, person=people["ann"])) \
        == Decimal("680.00")
    assert all(line.trace for line in lines)
    # the rep reads it on their statement, explained step by step
    client.force_login(people["ann"].user)
    body = client.get(f"/comp/statements/{run.pk}/{people['ann'].pk}/").content.decode()
    assert 'data-testid="statement-payout">680.00 USD' in body
    assert "Credit rule: owner of the booking: 100.00%" in body


def test_rerun_with_the_same_inputs_gives_the_same_hash_and_lines(ann_on_marginal_plan):
    people, period, _ = ann_on_marginal_plan
    make_booking(people["ann"], "9000.00", date(2026, 2, 10))
    first = actions.run_compensation(people["ops"].user, period_id=period.pk)
    second = actions.run_compensation(people["ops"].user, period_id=period.pk)
    assert first.calc_run.inputs_hash == second.calc_run.inputs_hash
    assert cq.line_diff(people["ops"].user, first, second) == []
    # the run records which calculation made it (engine.compensation.calculation.CALC_VERSION)
    assert first.calc_run.calc_version == second.calc_run.calc_version == "compensation-2"


def test_diff_explains_a_late_booking(ann_on_marginal_plan):
    """A second deal of 1,000 after the first run: 1,000 x 10 % = 100.00 more."""
    people, period, _ = ann_on_marginal_plan
    make_booking(people["ann"], "9000.00", date(2026, 2, 10))
    first = actions.run_compensation(people["ops"].user, period_id=period.pk)
    make_booking(people["ann"], "1000.00", date(2026, 3, 2))
    second = actions.run_compensation(people["ops"].user, period_id=period.pk)
    diff = cq.line_diff(people["ann"].user, first, second)
    assert sum(row.change for row in diff) == Decimal("100.00")
    assert first.calc_run.inputs_hash != second.calc_run.inputs_hash


def test_a_run_without_assignments_is_refused_and_kept_as_failed():
    people = org()
    period = quarter()
    with pytest.raises(CompensationError, match="Nobody is assigned"):
        actions.run_compensation(people["ops"].user, period_id=period.pk)
    failed = CalcRun.objects.get(kind="compensation")
    assert failed.status == CalcRun.Status.FAILED and CompRun.objects.count() == 0


def test_a_rep_cannot_start_a_run(ann_on_marginal_plan):
    people, period, _ = ann_on_marginal_plan
    with pytest.raises(CompensationError, match="Only sales operations"):
        actions.run_compensation(people["ann"].user, period_id=period.pk)


def test_a_closed_period_is_adjusted_by_delta_lines_paid_in_the_next_period(
        ann_on_marginal_plan):
    """Q1 paid 680.00 on 9,000 and closed; a late 1,000 deal booked in Q1 makes the re-run
    earn 780.00 (1,000 x 10 % more), stored as a +100.00 prior-period adjustment and paid in Q2
    (which has no sales of its own: payout 100.00)."""
    people, q1, _ = ann_on_marginal_plan
    ops, fin = people["ops"].user, people["fin"].user
    make_booking(people["ann"], "9000.00", date(2026, 2, 10))
    locked = actions.run_compensation(ops, period_id=q1.pk)
    actions.submit_run(ops, locked.pk)
    actions.decide_run(fin, locked.pk, approve=True)
    actions.close_period(fin, locked.pk)
    make_booking(people["ann"], "1000.00", date(2026, 3, 30))

    rerun = actions.run_compensation(ops, period_id=q1.pk)

    assert rerun.adjusts == locked and not rerun.payouts.exists()
    adjustment = PriorAdjustment.objects.get(run=rerun)
    assert (adjustment.change, adjustment.amount) == ("added", Decimal("100.00"))
    assert Payout.objects.get(run=locked).payout == Decimal("680.00")  # never changed
    q2 = quarter(date(2026, 4, 1))
    paid = actions.run_compensation(ops, period_id=q2.pk, as_of="2026-06-30")
    payout = Payout.objects.get(run=paid, person=people["ann"])
    assert (payout.adjustments, payout.payout) == (Decimal("100.00"), Decimal("100.00"))
    line = PayoutLine.objects.get(run=paid, person=people["ann"], kind="adjustment")
    assert line.source_line_key == adjustment.adjustment_key and line.trace


def test_the_worked_example_of_the_plan_document_is_computed_by_the_engine(client):
    """The example rep books 40,000 + 50,000 + 30,000 = 120,000; on the marginal plan:
    3,000 x 6 % + 5,000 x 8 % + (120,000 - 8,000) x 10 % = 180 + 400 + 11,200 = 11,780.00."""
    people = org()
    version = published(people["ops"].user, MARGINAL)
    stored = actions.compute_example(people["ops"].user, version.pk)
    assert stored.example["total"] == "11780.00" and stored.example["currency"] == "USD"
    client.force_login(people["ops"].user)
    body = client.get(f"/comp/versions/{version.pk}/").content.decode()
    assert "11,780.00 USD" in body


def test_cli_runs_a_period_and_prints_the_statement(ann_on_marginal_plan):
    from io import StringIO

    from django.core.management import call_command

    people, _, _ = ann_on_marginal_plan
    make_booking(people["ann"], "9000.00", date(2026, 2, 10))
    out = StringIO()
    call_command("comp", "run", "--period", "2026-Q1", stdout=out)
    assert "of FY2026-Q1: succeeded, 1 payouts, total 680.00 USD" in out.getvalue()
    out = StringIO()
    call_command("comp", "statement", people["ann"].external_id, "FY2026-Q1", stdout=out)
    assert "680.00 USD" in out.getvalue()
