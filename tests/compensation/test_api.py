"""The compensation API: same visibility as the pages, refusals that name field and value."""

from __future__ import annotations

import pytest

from tests.compensation.plans import FLAT_8, GAPPED, org
from tests.compensation.stored import quarter, stored_run

pytestmark = pytest.mark.django_db


def test_a_rep_cannot_read_another_reps_statement_by_api_id(client):
    people = org()
    run = stored_run(quarter(), {people["ann"].pk: "800.00", people["bob"].pk: "1200.00"})
    client.force_login(people["ann"].user)
    own = client.get(f"/api/v1/comp/statements/{run.pk}/{people['ann'].pk}")
    other = client.get(f"/api/v1/comp/statements/{run.pk}/{people['bob'].pk}")
    missing = client.get(f"/api/v1/comp/statements/{run.pk}/999999")
    assert own.status_code == 200 and own.json()["payouts"][0]["payout"] == "800.00"
    assert other.status_code == 404 and other.json() == missing.json()


def test_invalid_plan_text_answers_422_with_each_problem_and_writes_nothing(client):
    from attain.compensation.models import CompPlan

    people = org()
    client.force_login(people["ops"].user)
    answer = client.post("/api/v1/comp/plans", {"name": "AE", "text": GAPPED,
                                                "effective_from": "2026-01-01"},
                         content_type="application/json")
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["path"] == "components[0].tiers.bands[1].from"
    assert answer.json()["problems"][0]["line"] == 13
    assert CompPlan.objects.count() == 0


def test_ops_imports_and_publishes_a_plan_through_the_api(client):
    people = org()
    client.force_login(people["ops"].user)
    created = client.post("/api/v1/comp/plans", {"name": "AE", "text": FLAT_8,
                                                 "effective_from": "2026-01-01"},
                          content_type="application/json")
    assert created.status_code == 201 and created.json()["status"] == "draft"
    published = client.post(f"/api/v1/comp/plan-versions/{created.json()['id']}/publish")
    assert published.json()["status"] == "published"


def test_a_rep_may_not_create_plans_or_list_runs(client):
    people = org()
    client.force_login(people["ann"].user)
    answer = client.post("/api/v1/comp/plans", {"name": "AE", "text": FLAT_8,
                                                "effective_from": "2026-01-01"},
                         content_type="application/json")
    assert answer.status_code == 403
    assert client.get("/api/v1/comp/runs").status_code == 403


def test_finance_approves_through_the_api_and_reads_payroll_rows(client):
    from attain.compensation import actions

    people = org()
    run = stored_run(quarter(), {people["ann"].pk: "800.00", people["bob"].pk: "1200.00"})
    actions.submit_run(people["ops"].user, run.pk)
    client.force_login(people["ann"].user)
    assert client.post(f"/api/v1/comp/runs/{run.pk}/approve").status_code == 403
    client.force_login(people["fin"].user)
    approved = client.post(f"/api/v1/comp/runs/{run.pk}/approve")
    assert approved.status_code == 200 and approved.json()["approval"] == "approved"
    rows = client.get(f"/api/v1/comp/runs/{run.pk}/payroll").json()
    assert sorted((r["name"], r["amount"], r["currency"]) for r in rows) == [
        ("ann", "800.00", "USD"), ("bob", "1200.00", "USD")]


def test_a_rep_raises_a_dispute_through_the_api_and_sees_only_their_own(client):
    people = org()
    run = stored_run(quarter(), {people["ann"].pk: "800.00", people["bob"].pk: "1200.00"})
    client.force_login(people["bob"].user)
    bobs = client.post("/api/v1/comp/disputes", {"run_id": run.pk, "comment": "Too low"},
                       content_type="application/json")
    assert bobs.status_code == 201
    client.force_login(people["ann"].user)
    assert client.get("/api/v1/comp/disputes").json()["count"] == 0
    line_of_bob = run.lines.get(person=people["bob"]).pk
    refused = client.post("/api/v1/comp/disputes", {"run_id": run.pk, "comment": "x",
                                                    "line_id": line_of_bob},
                          content_type="application/json")
    assert refused.status_code == 404
