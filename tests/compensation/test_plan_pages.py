"""Plan pages: the editor (bad text shows its problems and writes nothing), the live preview,
the plan document (HTML and PDF) and acceptance."""

from __future__ import annotations

import pytest
from django.urls import reverse

from attain.compensation import actions
from attain.compensation.models import CompPlan, PlanAcceptance
from tests.compensation.plans import FLAT_8, GAPPED, org, published

pytestmark = pytest.mark.django_db


def test_creating_a_plan_with_invalid_text_shows_the_problems_and_writes_nothing(client):
    people = org()
    client.force_login(people["ops"].user)
    page = client.post(reverse("comp-plan-new"), {
        "name": "AE", "text": GAPPED, "effective_from": "2026-01-01", "effective_to": ""})
    body = page.content.decode()
    assert page.status_code == 400
    assert "components[0].tiers.bands[1].from" in body and "leaves a gap" in body
    assert CompPlan.objects.count() == 0


def test_live_preview_lists_problems_with_paths_and_lines(client):
    people = org()
    client.force_login(people["ops"].user)
    body = client.post(reverse("comp-plan-preview"), {"text": GAPPED}).content.decode()
    assert "1 problem" in body
    assert "<code>components[0].tiers.bands[1].from</code>" in body and "<td>13</td>" in body


def test_live_preview_of_valid_text_reads_it_back(client):
    people = org()
    client.force_login(people["ops"].user)
    body = client.post(reverse("comp-plan-preview"), {"text": FLAT_8}).content.decode()
    assert "Valid: AE flat, 1 component, paid per quarter in USD." in body


def test_a_rep_may_not_use_the_editor(client):
    people = org()
    client.force_login(people["ann"].user)
    assert client.get(reverse("comp-plan-new")).status_code == 403
    assert client.post(reverse("comp-plan-preview"), {"text": FLAT_8}).status_code == 403


def test_plan_document_reads_the_plan_in_words_and_offers_acceptance(client):
    people = org()
    version = published(people["ops"].user)
    actions.assign_plan(people["ops"].user, person_id=people["ann"].pk, version_id=version.pk,
                        valid_from="2026-01-01", target_incentive="40000.00")
    client.force_login(people["ann"].user)
    body = client.get(reverse("comp-version", args=[version.pk])).content.decode()
    assert "Base rate: 8% of the credited amount." in body
    assert 'data-testid="accept-plan"' in body
    client.post(reverse("comp-version-accept", args=[version.pk]))
    assert PlanAcceptance.objects.filter(person=people["ann"], version=version).exists()
    pdf = client.get(reverse("comp-version-pdf", args=[version.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_a_rep_cannot_open_a_plan_nobody_they_see_is_on(client):
    people = org()
    version = published(people["ops"].user)
    actions.assign_plan(people["ops"].user, person_id=people["bob"].pk, version_id=version.pk,
                        valid_from="2026-01-01", target_incentive="40000.00")
    client.force_login(people["ann"].user)
    assert client.get(reverse("comp-version", args=[version.pk])).status_code == 404


def test_assignments_page_shows_who_has_not_accepted(client):
    people = org()
    ops = people["ops"].user
    version = published(ops)
    for name in ("ann", "bob"):
        actions.assign_plan(ops, person_id=people[name].pk, version_id=version.pk,
                            valid_from="2026-01-01", target_incentive="40000.00")
    actions.accept_plan(people["ann"].user, version.pk)
    client.force_login(ops)
    body = client.get(reverse("comp-assignments") + "?format=csv").content.decode()
    assert "ann" in body and "bob" in body
    lines = sorted(line.split(",")[0] + ":" + line.split(",")[-1].strip()
                   for line in body.strip().splitlines()[1:])
    assert lines == ["ann:yes", "bob:no"]


def test_pages_render_for_every_role(client):
    people = org()
    published(people["ops"].user)
    for role in ("ops", "fin", "mgr", "ann"):
        client.force_login(people[role].user)
        for name in ("comp", "comp-plans", "comp-disputes"):
            assert client.get(reverse(name)).status_code == 200, (role, name)
    client.force_login(people["ops"].user)
    for name in ("comp-runs", "comp-assignments", "comp-manual", "comp-plan-new",
                 "comp-run-diff"):
        assert client.get(reverse(name)).status_code == 200, name


def test_ops_queues_a_run_and_the_progress_line_shows_it(client):
    from attain.core.models import CalcRun
    from tests.compensation.stored import quarter

    people = org()
    period = quarter()
    client.force_login(people["ops"].user)
    client.post(reverse("comp-runs"), {"period_id": period.pk})
    run = CalcRun.objects.get(kind="compensation")
    assert (run.status, run.params) == ("queued", {"period_id": period.pk})
    progress = client.get(reverse("comp-run-progress")).content.decode()
    assert f"run #{run.pk} queued" in progress and 'hx-trigger="every 2s"' in progress
    client.force_login(people["ann"].user)
    assert client.post(reverse("comp-runs"), {"period_id": period.pk}).status_code == 403


def test_ops_ends_an_assignment_from_the_page_and_a_bad_date_writes_nothing(client):
    from attain.compensation.models import PlanAssignment

    people = org()
    ops = people["ops"].user
    version = published(ops)
    assignment = actions.assign_plan(ops, person_id=people["ann"].pk, version_id=version.pk,
                                     valid_from="2026-01-01", target_incentive="40000.00")
    client.force_login(ops)
    client.post(reverse("comp-assignments"), {"end_assignment": assignment.pk,
                                              "valid_to": "2025-12-01"})
    assert PlanAssignment.objects.get().valid_to is None
    client.post(reverse("comp-assignments"), {"end_assignment": assignment.pk,
                                              "valid_to": "2026-07-01"})
    assert str(PlanAssignment.objects.get().valid_to) == "2026-07-01"
