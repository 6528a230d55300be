"""Compensation for the demo organisation: the example plans published, assigned to the reps and
managers, half of the reps' acceptances, and one run of the last completed quarter, so every demo
login sees a real statement (and ops sees who has not accepted their plan).

Target incentives: 40,000 a year for a rep, 60,000 for a manager, in the person's currency.
Assignments start at the later of the plan year's start and the hire date and end when the
person left. Everything goes through `attain.compensation.actions` (audited, as the system).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from attain.compensation import actions, engine_io
from attain.compensation.models import CompPlan, PlanAssignment
from attain.core.actions import ensure_periods, fiscal_calendar
from attain.core.models import CalcRun, Period
from attain.engine.compensation.examples import example_plan_texts
from attain.people.models import Person, Role

REP_PLAN = "ae-quota-plan-75-25.yaml"
MANAGER_PLAN = "manager-overlay-plan.yaml"
TARGET_INCENTIVE = {Role.REP: Decimal("40000.00"), Role.MANAGER: Decimal("60000.00")}


def last_completed_quarter(today: date) -> Period:
    rules = fiscal_calendar().rules
    current = rules.span("quarter", today)
    previous = rules.span("quarter", current.start - timedelta(days=1))
    ensure_periods(previous.start, current.end, ["quarter", "month", "year"])
    return Period.objects.get(kind="quarter", start=previous.start)


def publish_examples(effective_from: date) -> dict[str, Any]:
    """Each example plan as a published version in force from `effective_from` (reused when a
    plan of that name exists); {file name: version}."""
    versions = {}
    for file_name, text in example_plan_texts().items():
        checked = engine_io.check_plan(text, file_name)
        assert checked.plan is not None, checked.problems
        plan = CompPlan.objects.filter(name=checked.plan.name).first()
        if plan is not None:
            versions[file_name] = plan.versions.order_by("-number").first()
            continue
        draft = actions.create_plan(None, name=checked.plan.name, text=text,
                                    effective_from=effective_from,
                                    description=checked.plan.description)
        versions[file_name] = actions.publish_version(None, draft.pk)
    return versions


def assign_people(versions: dict[str, Any], start: date) -> int:
    """Assign reps and managers who work on or after `start` and have no assignment yet."""
    count = 0
    for role, file_name in ((Role.REP, REP_PLAN), (Role.MANAGER, MANAGER_PLAN)):
        version = versions[file_name]
        people = (Person.objects.filter(role=role).exclude(left_on__lte=start)
                  .exclude(plan_assignments__isnull=False).order_by("external_id"))
        for person in people:
            valid_from = max(start, person.hired_on or start)
            if person.left_on is not None and person.left_on <= valid_from:
                continue
            actions.assign_plan(None, person_id=person.pk, version_id=version.pk,
                                valid_from=valid_from, valid_to=person.left_on,
                                target_incentive=TARGET_INCENTIVE[role],
                                currency=person.currency)
            count += 1
    return count


def accept_half(today: date) -> None:
    """Every other rep (by employee id) and every manager has accepted their plan."""
    from attain.compensation.models import PlanAcceptance

    assignments = (PlanAssignment.objects.filter(valid_from__lte=today)
                   .select_related("person").order_by("person__external_id"))
    for index, assignment in enumerate(assignments):
        if assignment.person.role == Role.REP and index % 2:
            continue
        PlanAcceptance.objects.get_or_create(
            person=assignment.person, version=assignment.version,
            defaults={"accepted_at": timezone.now(), "accepted_by": assignment.person.user})


def set_up_compensation(actor: Any = None) -> CalcRun:
    """Plans, assignments, acceptances, a worked example for the rep plan, and the run of the
    last completed quarter; returns that run's `CalcRun`."""
    today = timezone.localdate()
    quarter = last_completed_quarter(today)
    year_start = fiscal_calendar().rules.year_start(quarter.start)
    versions = publish_examples(year_start)
    assign_people(versions, year_start)
    accept_half(today)
    actions.compute_example(actor, versions[REP_PLAN].pk)
    run = actions.run_compensation(actor, period_id=quarter.pk)
    return run.calc_run
