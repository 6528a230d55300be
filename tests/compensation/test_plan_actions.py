"""Plans, versions, assignments and acceptance: the writes of `attain.compensation.actions`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from attain.compensation import actions
from attain.compensation.actions import CompensationError
from attain.compensation.models import CompPlan, PlanAcceptance, PlanAssignment, PlanVersion
from attain.core.models import AuditEvent
from tests.compensation.plans import FLAT_8, GAPPED, org, published

pytestmark = pytest.mark.django_db


def test_create_plan_stores_a_draft_version_one_and_audits_it():
    # given ops
    people = org()
    # when they create a plan from valid text
    version = actions.create_plan(people["ops"].user, name="AE", text=FLAT_8,
                                  effective_from="2026-01-01")
    # then version 1 is a draft holding the text, and both writes are audited
    assert (version.number, version.status, version.text) == (1, "draft", FLAT_8)
    assert version.effective_from == date(2026, 1, 1) and version.effective_to is None
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "create_plan", "create_plan_version"}


def test_invalid_plan_text_is_refused_with_its_problems_and_writes_nothing():
    people = org()
    with pytest.raises(CompensationError) as refused:
        actions.create_plan(people["ops"].user, name="AE", text=GAPPED,
                            effective_from="2026-01-01")
    problems = refused.value.problems
    assert [(p.path, p.value, p.line) for p in problems] == [
        ("components[0].tiers.bands[1].from", "4000", 13)]
    assert "gap" in problems[0].reason
    assert CompPlan.objects.count() == 0 and PlanVersion.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_yaml_syntax_error_names_the_line():
    people = org()
    with pytest.raises(CompensationError) as refused:
        actions.create_plan(people["ops"].user, name="AE", text="plan: [",
                            effective_from="2026-01-01")
    assert refused.value.problems[0].line == 1
    assert "not valid YAML" in refused.value.problems[0].reason


def test_a_rep_cannot_create_plans():
    people = org()
    with pytest.raises(CompensationError, match="Only sales operations"):
        actions.create_plan(people["ann"].user, name="AE", text=FLAT_8,
                            effective_from="2026-01-01")


def test_a_published_version_is_immutable():
    people = org()
    version = published(people["ops"].user)
    with pytest.raises(CompensationError, match="published and cannot change"):
        actions.save_draft(people["ops"].user, version.pk, text=FLAT_8.replace("8%", "9%"))
    version.refresh_from_db()
    assert '"8%"' in version.text


def test_a_change_is_a_new_version_with_a_readable_diff_and_ends_the_old_range():
    # given v1 published from 2026-01-01
    people = org()
    ops = people["ops"].user
    v1 = published(ops)
    # when ops starts v2 from 2026-07-01, raises the rate to 9 % and publishes it
    v2 = actions.new_version(ops, v1.plan_id, effective_from="2026-07-01")
    actions.save_draft(ops, v2.pk, text=FLAT_8.replace('"8%"', '"9%"'))
    v2 = actions.publish_version(ops, v2.pk)
    # then v2 lists the change in words and v1 (text untouched) ends where v2 starts
    assert v2.number == 2
    assert v2.changes == ['components[0] "Commission" rate: 8% → 9%']
    v1.refresh_from_db()
    assert (v1.status, v1.effective_to, v1.text) == ("published", date(2026, 7, 1), FLAT_8)


def test_save_draft_with_invalid_text_keeps_the_stored_text():
    people = org()
    draft = actions.create_plan(people["ops"].user, name="AE", text=FLAT_8,
                                effective_from="2026-01-01")
    with pytest.raises(CompensationError):
        actions.save_draft(people["ops"].user, draft.pk, text=GAPPED)
    draft.refresh_from_db()
    assert draft.text == FLAT_8


def test_assign_plan_refuses_an_overlapping_assignment_of_the_same_person():
    # given Ann on AE from 2026-01-01, open-ended
    people = org()
    ops = people["ops"].user
    version = published(ops)
    actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                        valid_from="2026-01-01", target_incentive="40000.00")
    # when a second assignment starting 2026-04-01 is made
    with pytest.raises(CompensationError, match="overlaps") as refused:
        actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                            valid_from="2026-04-01", target_incentive="40000.00")
    # then it is refused on valid_from and only the first assignment exists
    assert refused.value.field == "valid_from"
    assert PlanAssignment.objects.count() == 1


def test_assign_plan_after_ending_the_first_one_is_accepted():
    people = org()
    ops = people["ops"].user
    version = published(ops)
    first = actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                                valid_from="2026-01-01", target_incentive="40000.00")
    actions.end_assignment(ops, first.pk, valid_to="2026-04-01")
    second = actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                                 valid_from="2026-04-01", target_incentive="45000.50",
                                 currency="eur")
    assert (second.target_incentive, second.currency) == (Decimal("45000.50"), "EUR")


def test_assign_plan_refuses_a_draft_version_and_a_negative_target():
    people = org()
    ops = people["ops"].user
    draft = actions.create_plan(ops, name="AE", text=FLAT_8, effective_from="2026-01-01")
    with pytest.raises(CompensationError, match="only a published version"):
        actions.assign_plan(ops, person_id=people["ann"].pk, version_id=draft.pk,
                            valid_from="2026-01-01", target_incentive="1.00")
    actions.publish_version(ops, draft.pk)
    with pytest.raises(CompensationError, match="cannot be negative"):
        actions.assign_plan(ops, person_id=people["ann"].pk, version_id=draft.pk,
                            valid_from="2026-01-01", target_incentive="-1.00")


def test_a_rep_accepts_their_plan_once_and_cannot_accept_one_not_theirs():
    people = org()
    ops = people["ops"].user
    version = published(ops)
    actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                        valid_from="2026-01-01", target_incentive="40000.00")
    first = actions.accept_plan(people["ann"].user, version.pk)
    again = actions.accept_plan(people["ann"].user, version.pk)
    assert first.pk == again.pk and PlanAcceptance.objects.count() == 1
    with pytest.raises(CompensationError, match="not assigned"):
        actions.accept_plan(people["bob"].user, version.pk)
