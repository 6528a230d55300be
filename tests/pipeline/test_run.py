"""The pipeline analytics run end to end: snapshot → engine → stored results and run record."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from attain.core.models import AuditEvent, CalcRun, Period
from attain.core.periods import PeriodKind
from attain.crm.models import ExchangeRate
from attain.pipeline.actions import (
    CalculationError,
    request_pipeline_analytics,
    run_pipeline_analytics,
)
from attain.pipeline.engine_io import scope_members, snapshot_opportunities, snapshot_stage_changes
from attain.pipeline.models import PipelineBottleneck, PipelineFacts, PipelineStageFacts
from attain.pipeline.tasks import run_pipeline_analytics_task
from tests.factories import make_opportunity

pytestmark = pytest.mark.django_db


def quarter(org):
    return Period.objects.get(kind=PeriodKind.QUARTER.value, start=org.quarter_start)


def facts(run, kind, scope_id, period, slice_dim="", slice_value=""):
    return PipelineFacts.objects.get(run=run, scope_kind=kind, scope_id=scope_id, period=period,
                                     slice_dim=slice_dim, slice_value=slice_value)


def test_snapshots_keep_days_amounts_and_order(org):
    opps = {r["opportunity_id"]: r for r in snapshot_opportunities(batch_size=2).to_pylist()}
    x1 = opps[org.deals["X1"].pk]
    # created at 10:00 UTC on d0 + 1 day (the company time zone is UTC in tests)
    assert (x1["created_on"], x1["amount"], x1["segment"], x1["is_won"]) == (
        org.quarter_start + timedelta(days=1), Decimal("2000.00"), "smb", True)
    changes = snapshot_stage_changes().to_pylist()
    assert [c["changed_seq"] for c in changes] == list(range(len(changes)))
    assert changes == sorted(changes, key=lambda c: c["changed_on"])


def test_scopes_hold_people_teams_and_manager_subtrees(org):
    members = set(scope_members(org.quarter_start))
    ann, bob, mia, eve = org["ann"].pk, org["bob"].pk, org["mia"].pk, org["eve"].pk
    assert {("team", org.teams["East"].pk, p) for p in (mia, ann, bob)} <= members
    assert {p for k, s, p in members if (k, s) == ("manager", mia)} == {mia, ann, bob}
    assert len({p for k, s, p in members if (k, s) == ("manager", eve)}) == 6  # eve + 5 below
    assert ("person", ann, ann) in members


def test_run_stores_the_hand_computed_figures(org, run):
    q = quarter(org)
    company = facts(run, "company", 0, q)
    # created 2,000 + 1,000 + 4,000 + 500; won X1, lost X2; X1 took 20 days; X3 slipped
    assert (company.created_count, company.created_amount) == (4, Decimal("7500.00"))
    assert (company.won_count, company.won_amount, company.lost_count) == (
        1, Decimal("2000.00"), 1)
    assert (company.cycle_days_sum, company.cycle_days_median) == (20, Decimal("20.0"))
    assert (company.slipped_count, company.currency) == (1, "USD")
    mia = facts(run, "manager", org["mia"].pk, q)
    assert (mia.created_count, mia.created_amount) == (3, Decimal("7000.00"))
    west = facts(run, "team", org.teams["West"].pk, q)
    assert west.created_amount == Decimal("500.00")
    smb = facts(run, "company", 0, q, "segment", "smb")
    assert (smb.created_count, smb.created_amount) == (3, Decimal("3500.00"))
    reached = {r.stage_id: r.cohort_reached for r in PipelineStageFacts.objects.filter(
        run=run, scope_kind="company", period=q, slice_dim="")}
    assert reached == {org.stages["Discovery"].pk: 4, org.stages["Proposal"].pk: 2,
                       org.stages["Closed Won"].pk: 1}
    assert run.calc_version == "1" and run.output_rows > 0 and len(run.inputs_hash) == 64
    assert set(run.timings) >= {"snapshot", "compute", "store", "total"}


def test_same_inputs_give_the_same_hash(org, run):
    again = run_pipeline_analytics(None, "duckdb")
    assert again.inputs_hash == run.inputs_hash
    assert (PipelineFacts.objects.filter(run=again).count()
            == PipelineFacts.objects.filter(run=run).count())


def test_a_missing_rate_fails_the_run_with_nothing_stored(org):
    make_opportunity(org["ann"], "10.00", "EUR", stage=org.stages["Discovery"],
                     created_at=org.deals["X1"].created_at)
    result = run_pipeline_analytics(None, "duckdb")
    assert result.status == CalcRun.Status.FAILED
    assert "No exchange rate for EUR in" in result.error
    assert not PipelineFacts.objects.filter(run=result).exists()
    assert not PipelineBottleneck.objects.filter(run=result).exists()
    month = org.deals["X1"].created_at.date().replace(day=1)
    ExchangeRate.objects.create(currency="EUR", month_start=month, rate=Decimal("1.10"))
    fixed = run_pipeline_analytics(None, "duckdb")
    assert fixed.status == CalcRun.Status.SUCCEEDED
    # 10.00 EUR x 1.10 = 11.00 USD more pipeline created by ann
    assert facts(fixed, "person", org["ann"].pk, quarter(org)).created_amount == Decimal(
        "3011.00")


def test_request_queues_a_task_that_runs_it(org, django_capture_on_commit_callbacks):
    ops = org["olga"].user
    with django_capture_on_commit_callbacks(execute=True):
        queued = request_pipeline_analytics(ops, "duckdb")
    assert queued.status == CalcRun.Status.QUEUED
    task = DBTaskResult.objects.get()
    assert (task.task_path, task.args_kwargs) == (
        "attain.pipeline.tasks.run_pipeline_analytics_task", {"args": [queued.pk], "kwargs": {}})
    assert AuditEvent.objects.filter(action="request_calculation",
                                     object_id=str(queued.pk)).exists()
    run_pipeline_analytics_task.call(queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.requested_by) == (CalcRun.Status.SUCCEEDED, ops)


def test_unknown_backend_is_refused_naming_it(org):
    with pytest.raises(CalculationError, match="Unknown engine backend 'oracle'"):
        run_pipeline_analytics(None, "oracle")


def test_command_runs_and_reports(org, capsys):
    call_command("calc", "pipeline", "--backend", "duckdb")
    out = capsys.readouterr().out
    assert "pipeline_analytics on duckdb: succeeded" in out
