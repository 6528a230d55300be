"""Plan modelling: a draft version applied to a past period's real data next to the plan in
force — per person, in total, as percentiles and line by line — writing nothing but the
modelling run; refused with every problem for an invalid draft; ops and finance only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from attain.compensation import actions
from attain.compensation.actions import CompensationError
from attain.compensation.models import (
    CompRun,
    EarningLine,
    Payout,
    PayoutBalance,
    PayoutLedgerEntry,
    PayoutLine,
    PlanModelLine,
    PlanModelRow,
    PlanModelRun,
    PlanVersion,
)
from attain.core.models import CalcRun
from tests.compensation.plans import org, published
from tests.compensation.stored import quarter
from tests.factories import make_booking

pytestmark = pytest.mark.django_db

FLAT_5 = """plan: AE
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "5%"
"""

# 4 % on the first 50,000 of the quarter, 6 % on the next 50,000, 8 % above 100,000.
TIERED = """plan: AE
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "4%"
    tiers:
      basis: amount
      mode: marginal
      bands:
        - {from: 0, to: 50000, rate: "4%"}
        - {from: 50000, to: 100000, rate: "6%"}
        - {from: 100000, rate: "8%"}
"""

OTHER = FLAT_5.replace("plan: AE", "plan: SDR").replace('"5%"', '"10%"')


@pytest.fixture
def modelled():
    """Ann, Bob and Cid on AE v1 (5 % flat) with Q1 2026 sales of 150,000, 20,000 and 60,000;
    Dan (on another plan, SDR) sold 10,000. Q1 was run; AE v2 is a draft with marginal tiers."""
    people = org()
    ops = people["ops"].user
    from tests.factories import make_person
    people["dan"] = make_person("dan")
    ae = published(ops, FLAT_5, name="AE")
    sdr = published(ops, OTHER, name="SDR")
    for name, amount in (("ann", "150000.00"), ("bob", "20000.00"), ("cid", "60000.00")):
        actions.assign_plan(ops, person_id=people[name].pk, version_id=ae.pk,
                            valid_from="2026-01-01", target_incentive="40000.00")
        make_booking(people[name], amount, date(2026, 2, 10))
    actions.assign_plan(ops, person_id=people["dan"].pk, version_id=sdr.pk,
                        valid_from="2026-01-01", target_incentive="20000.00")
    make_booking(people["dan"], "10000.00", date(2026, 2, 11))
    q1 = quarter()
    run = actions.run_compensation(ops, period_id=q1.pk)
    draft = actions.new_version(ops, ae.plan_id)
    draft = actions.save_draft(ops, draft.pk, text=TIERED)
    return people, q1, run, draft


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (
        CompRun, EarningLine, Payout, PayoutLine, PayoutBalance, PayoutLedgerEntry, CalcRun)}


def test_modelling_compares_each_person_under_both_plans(modelled):
    """In force, 5 % flat: Ann 150,000 x 5 % = 7,500.00; Bob 20,000 x 5 % = 1,000.00;
    Cid 60,000 x 5 % = 3,000.00.
    Draft, 4 % to 50,000, 6 % to 100,000, 8 % above:
    Ann 50,000 x 4 % + 50,000 x 6 % + 50,000 x 8 % = 2,000 + 3,000 + 4,000 = 9,000.00 (+1,500);
    Bob 20,000 x 4 % = 800.00 (-200.00, -20.00 %);
    Cid 50,000 x 4 % + 10,000 x 6 % = 2,000 + 600 = 2,600.00 (-400.00, -13.33 %).
    Dan (another plan) is not modelled."""
    people, q1, _, draft = modelled
    model = actions.model_plan_now(people["ops"].user, version_id=draft.pk, period_ids=[q1.pk])
    assert model.calc_run.status == CalcRun.Status.SUCCEEDED, model.calc_run.error
    rows = {r.person.name: (r.in_force_earned, r.draft_earned, r.change, r.change_pct,
                            r.in_force_payout, r.draft_payout)
            for r in PlanModelRow.objects.filter(model_run=model).select_related("person")}
    assert rows == {
        "ann": (Decimal("7500.00"), Decimal("9000.00"), Decimal("1500.00"), Decimal("20.00"),
                Decimal("7500.00"), Decimal("9000.00")),
        "bob": (Decimal("1000.00"), Decimal("800.00"), Decimal("-200.00"), Decimal("-20.00"),
                Decimal("1000.00"), Decimal("800.00")),
        "cid": (Decimal("3000.00"), Decimal("2600.00"), Decimal("-400.00"), Decimal("-13.33"),
                Decimal("3000.00"), Decimal("2600.00")),
    }
    assert model.calc_run.inputs_hash and model.calc_run.params["step"] == "done"


def test_modelling_totals_and_percentiles_by_hand(modelled):
    """Totals: in force 7,500 + 1,000 + 3,000 = 11,500.00; draft 9,000 + 800 + 2,600 =
    12,400.00; change +900.00 = 900 / 11,500 = +7.83 %; 1 gains, 2 lose.
    Percentiles, linear between closest ranks, h = (3 - 1) x p:
    in force [1,000, 3,000, 7,500]: p10 h=0.2 → 1,000 + 0.2 x 2,000 = 1,400.00; p25 h=0.5 →
    2,000.00; p50 → 3,000.00; p75 h=1.5 → 3,000 + 0.5 x 4,500 = 5,250.00; p90 h=1.8 →
    3,000 + 0.8 x 4,500 = 6,600.00.
    draft [800, 2,600, 9,000]: p10 → 800 + 0.2 x 1,800 = 1,160.00; p25 → 1,700.00; p50 →
    2,600.00; p75 → 2,600 + 0.5 x 6,400 = 5,800.00; p90 → 2,600 + 0.8 x 6,400 = 7,720.00."""
    people, q1, _, draft = modelled
    model = actions.model_plan_now(people["ops"].user, version_id=draft.pk, period_ids=[q1.pk])
    overall = next(t for t in model.summary["totals"] if t["scope"] == "all")
    assert (overall["in_force"], overall["draft"], overall["change"], overall["change_pct"],
            overall["gainers"], overall["losers"], overall["rows"]) == (
        "11500.00", "12400.00", "900.00", "7.83", 1, 2, 3)
    assert overall["in_force_distribution"] == {
        "min": "1000.00", "p10": "1400.00", "p25": "2000.00", "p50": "3000.00",
        "p75": "5250.00", "p90": "6600.00", "max": "7500.00"}
    assert overall["draft_distribution"] == {
        "min": "800.00", "p10": "1160.00", "p25": "1700.00", "p50": "2600.00",
        "p75": "5800.00", "p90": "7720.00", "max": "9000.00"}
    per_period = next(t for t in model.summary["totals"] if t["scope"] == "2026-01-01")
    assert per_period["change"] == "900.00"


def test_modelling_writes_nothing_but_the_modelling_run(modelled):
    people, q1, run, draft = modelled
    before = _counts()
    text_before = draft.text
    model = actions.model_plan_now(people["ops"].user, version_id=draft.pk, period_ids=[q1.pk])
    after = _counts()
    assert after == {**before, "CalcRun": before["CalcRun"] + 1}
    assert CalcRun.objects.exclude(pk=model.calc_run_id).filter(kind="comp_model").count() == 0
    assert Payout.objects.get(run=run, person=people["ann"]).payout == Decimal("7500.00")
    draft.refresh_from_db()
    assert draft.status == PlanVersion.Status.DRAFT and draft.text == text_before


def test_person_lines_compare_line_by_line_with_traces(modelled):
    """Ann's one commission line: 7,500.00 in force, 9,000.00 under the draft, with both
    explanations."""
    people, q1, _, draft = modelled
    model = actions.model_plan_now(people["ops"].user, version_id=draft.pk, period_ids=[q1.pk])
    lines = list(PlanModelLine.objects.filter(model_run=model, person=people["ann"]))
    assert [(line.line_kind, line.in_force_amount, line.draft_amount, line.change)
            for line in lines] == [("commission", Decimal("7500.00"), Decimal("9000.00"),
                                    Decimal("1500.00"))]
    assert lines[0].in_force_trace and lines[0].draft_trace
    assert lines[0].in_force_trace != lines[0].draft_trace


def test_an_invalid_draft_is_refused_with_its_problems_and_nothing_runs(modelled):
    """A draft saved before a validation rule existed (text written directly) whose bands
    leave a gap: refused, every problem named, no run queued."""
    people, q1, _, draft = modelled
    gapped = TIERED.replace("{from: 50000, to: 100000", "{from: 60000, to: 100000")
    PlanVersion.objects.filter(pk=draft.pk).update(text=gapped)
    with pytest.raises(CompensationError) as refused:
        actions.request_plan_model(people["ops"].user, version_id=draft.pk, period_ids=[q1.pk])
    assert refused.value.problems and "gap" in str(refused.value)
    assert PlanModelRun.objects.count() == 0
    assert CalcRun.objects.filter(kind="comp_model").count() == 0


def test_a_period_never_run_and_a_published_version_are_refused(modelled):
    people, q1, _, draft = modelled
    q2 = quarter(date(2026, 4, 1))
    with pytest.raises(CompensationError, match="has no compensation run yet"):
        actions.request_plan_model(people["ops"].user, version_id=draft.pk, period_ids=[q2.pk])
    published_v1 = PlanVersion.objects.get(plan=draft.plan, number=1)
    with pytest.raises(CompensationError, match="only a draft is modelled"):
        actions.request_plan_model(people["ops"].user, version_id=published_v1.pk,
                                   period_ids=[q1.pk])
    with pytest.raises(CompensationError, match="at least one"):
        actions.request_plan_model(people["ops"].user, version_id=draft.pk, period_ids=[])
    assert PlanModelRun.objects.count() == 0


def test_reps_and_managers_may_not_model(modelled):
    people, q1, _, draft = modelled
    for name in ("ann", "mgr"):
        with pytest.raises(CompensationError, match="Only"):
            actions.request_plan_model(people[name].user, version_id=draft.pk,
                                       period_ids=[q1.pk])
    assert PlanModelRun.objects.count() == 0


def test_the_request_queues_a_task(modelled, django_capture_on_commit_callbacks):
    people, q1, _, draft = modelled
    with django_capture_on_commit_callbacks(execute=True):
        model = actions.request_plan_model(people["fin"].user, version_id=draft.pk,
                                           period_ids=[q1.pk])
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.get()
    assert task.args_kwargs == {"args": [model.pk], "kwargs": {}}
    assert model.calc_run.status == CalcRun.Status.QUEUED


# --- pages ------------------------------------------------------------------------------------


def test_ops_starts_modelling_from_the_draft_and_reads_the_results(modelled, client,
                                                                    django_capture_on_commit_callbacks):
    people, q1, _, draft = modelled
    client.force_login(people["ops"].user)
    page = client.get(reverse("comp-version-model", args=[draft.pk]))
    assert page.status_code == 200 and q1.label in page.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("comp-version-model", args=[draft.pk]),
                               {"period_ids": [q1.pk]})
    model = PlanModelRun.objects.get()
    assert response.status_code == 302
    actions.run_plan_model(model.pk)
    body = client.get(reverse("comp-model", args=[model.pk])).content.decode()
    assert 'data-testid="model-total-in-force">11,500.00 USD' in body
    assert 'data-testid="model-total-draft">12,400.00 USD' in body
    assert 'data-testid="model-total-change">+900.00 USD' in body
    # min, p10, p25, p50, p75, p90, max in that order (in force, then the draft)
    assert ('<td class="num">1,000.00</td><td class="num">1,400.00</td><td class="num">'
            '2,000.00</td><td class="num">3,000.00</td><td class="num">5,250.00</td>'
            '<td class="num">6,600.00</td><td class="num">7,500.00</td>') in body
    assert '<td class="num">5,800.00</td><td class="num">7,720.00</td>' in body
    assert "model-distribution-chart" in body
    lines = client.get(reverse("comp-model-person", args=[model.pk, people["ann"].pk]))
    assert "9,000.00" in lines.content.decode()


def test_model_exports_csv_and_xlsx(modelled, client):
    people, q1, _, draft = modelled
    model = actions.model_plan_now(people["ops"].user, version_id=draft.pk, period_ids=[q1.pk])
    client.force_login(people["fin"].user)
    csv = client.get(reverse("comp-model", args=[model.pk]), {"format": "csv"})
    text = csv.content.decode()
    assert text.splitlines()[0].startswith("person,employee_id,period,currency,in_force")
    assert "bob," in text and ",1000.00,800.00,-200.00,-20.00," in text
    xlsx = client.get(reverse("comp-model", args=[model.pk]), {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd")


def test_an_invalid_draft_shows_its_problems_on_the_page(modelled, client):
    people, q1, _, draft = modelled
    gapped = TIERED.replace("{from: 50000, to: 100000", "{from: 60000, to: 100000")
    PlanVersion.objects.filter(pk=draft.pk).update(text=gapped)
    client.force_login(people["ops"].user)
    page = client.post(reverse("comp-version-model", args=[draft.pk]), {"period_ids": [q1.pk]})
    body = page.content.decode()
    assert page.status_code == 400
    assert "components[0].tiers.bands[1].from" in body
    assert PlanModelRun.objects.count() == 0


def test_reps_and_managers_are_refused_the_pages(modelled, client):
    people, q1, _, draft = modelled
    model = actions.model_plan_now(people["ops"].user, version_id=draft.pk, period_ids=[q1.pk])
    for name in ("ann", "mgr"):
        client.force_login(people[name].user)
        assert client.get(reverse("comp-model", args=[model.pk])).status_code == 403
        assert client.get(reverse("comp-version-model", args=[draft.pk])).status_code == 403
        assert client.get(reverse("comp-model-person",
                                  args=[model.pk, people["ann"].pk])).status_code == 403


def test_api_queues_and_reads_a_model(modelled, client, django_capture_on_commit_callbacks):
    people, q1, _, draft = modelled
    client.force_login(people["ops"].user)
    response = client.post(f"/api/v1/comp/plan-versions/{draft.pk}/models",
                           {"period_ids": [q1.pk]}, content_type="application/json")
    assert response.status_code == 202, response.content
    model_id = response.json()["id"]
    actions.run_plan_model(model_id)
    read = client.get(f"/api/v1/comp/models/{model_id}").json()
    overall = next(t for t in read["summary"]["totals"] if t["scope"] == "all")
    assert (overall["in_force"], overall["draft"]) == ("11500.00", "12400.00")
    rows = client.get(f"/api/v1/comp/models/{model_id}/rows").json()
    assert {r["person"]: r["change"] for r in rows["items"]} == {
        "ann": "1500.00", "bob": "-200.00", "cid": "-400.00"}
    client.force_login(people["ann"].user)
    assert client.get(f"/api/v1/comp/models/{model_id}").status_code == 403
    refused = client.post(f"/api/v1/comp/plan-versions/{draft.pk}/models",
                          {"period_ids": [q1.pk]}, content_type="application/json")
    assert refused.status_code == 403


def test_cli_models_a_draft_by_plan_name_and_prints_the_totals(modelled):
    """`attain comp model AE --period 2026-Q1`: the newest draft of AE against the plan in force,
    with the totals by hand above (11,500.00 → 12,400.00, +900.00, +7.83 %, 1 gains, 2 lose)."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("comp", "model", "AE", "--period", "2026-Q1", stdout=out)
    text = out.getvalue()
    assert "AE v2 (draft) against the plan in force, FY2026-Q1" in text
    assert "in force      11,500.00  draft      12,400.00  change        +900.00 (7.83%)" in text
    assert "1 gain, 2 lose" in text
    assert "p50 3,000.00" in text and "p50 2,600.00" in text
    assert PlanModelRun.objects.count() == 1


def test_cli_models_a_yaml_file_as_a_new_draft_and_prints_json(modelled, tmp_path):
    """A plan file kept in version control is imported as the plan's next draft, then modelled:
    8 % flat on 150,000 + 20,000 + 60,000 = 230,000 → 18,400.00 against 11,500.00 in force."""
    import json
    from io import StringIO

    from django.core.management import call_command

    _, _, _, draft = modelled
    draft.delete()  # one draft at a time: the file becomes the next version
    path = tmp_path / "ae.yaml"
    path.write_text(FLAT_5.replace('"5%"', '"8%"'))
    out = StringIO()
    call_command("comp", "model", str(path), "--period", "2026-Q1", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    overall = next(t for t in shown["totals"] if t["scope"] == "all")
    assert (shown["plan"], overall["in_force"], overall["draft"], overall["change"]) == (
        "AE", "11500.00", "18400.00", "6900.00")
    assert PlanVersion.objects.get(pk=PlanModelRun.objects.get().version_id).text == \
        path.read_text()


def test_cli_refuses_a_period_never_run_and_writes_nothing(modelled):
    from django.core.management import CommandError, call_command

    quarter(date(2026, 4, 1))
    with pytest.raises(CommandError) as refused:
        call_command("comp", "model", "AE", "--period", "2026-Q2")
    assert "FY2026-Q2 has no compensation run yet" in str(refused.value)
    with pytest.raises(CommandError) as unknown:
        call_command("comp", "model", "Nope", "--period", "2026-Q1")
    assert "No draft of a plan named 'Nope'" in str(unknown.value)
    assert PlanModelRun.objects.count() == 0 and CalcRun.objects.filter(
        kind="comp_model").count() == 0
