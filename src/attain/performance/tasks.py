"""Background work of the performance app: calculation runs queued from pages and the API."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.models import CalcRun


@task()
def run_bookings_calculation_task(run_id: int) -> dict[str, Any]:
    """Run the queued bookings run `run_id` (see `actions.request_bookings_calculation`)."""
    from attain.performance.actions import run_bookings_calculation

    run = CalcRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != CalcRun.Status.QUEUED:
        return {"run_id": run.pk, "status": run.status, "skipped": "not queued"}
    run = run_bookings_calculation(run.requested_by, run.backend or None, run=run)
    return {"run_id": run.pk, "status": run.status, "output_rows": run.output_rows}


@task()
def run_performance_analytics_task(run_id: int) -> dict[str, Any]:
    """Run the queued performance run `run_id` (see `actions.request_performance_analytics`)."""
    from attain.performance.actions import run_performance_analytics

    run = CalcRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != CalcRun.Status.QUEUED:
        return {"run_id": run.pk, "status": run.status, "skipped": "not queued"}
    run = run_performance_analytics(run.requested_by, run.backend or None, run=run)
    return {"run_id": run.pk, "status": run.status, "output_rows": run.output_rows}
