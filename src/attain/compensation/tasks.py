"""Background work of the compensation app: compensation runs queued from a page or the API."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.models import CalcRun


@task()
def run_compensation_task(run_id: int) -> dict[str, Any]:
    """Run the queued compensation run `run_id` (see `actions.request_run`)."""
    from attain.compensation.actions import CompensationError, run_compensation

    run = CalcRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != CalcRun.Status.QUEUED:
        return {"run_id": run.pk, "status": run.status, "skipped": "not queued"}
    params = {k: v for k, v in run.params.items() if k in ("period_id", "as_of")}
    try:
        comp = run_compensation(run.requested_by, backend=run.backend or None, run=run, **params)
    except CompensationError as error:
        return {"run_id": run.pk, "status": "failed", "error": str(error)}
    return {"run_id": run.pk, "status": comp.calc_run.status, "comp_run": comp.pk}


@task()
def model_plan_task(model_id: int) -> dict[str, Any]:
    """Compute the queued modelling run of a draft plan (see `actions.request_plan_model`)."""
    from attain.compensation.actions import run_plan_model

    model = run_plan_model(model_id)
    return {"model_id": model.pk, "status": model.calc_run.status}
