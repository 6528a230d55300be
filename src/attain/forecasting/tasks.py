"""Background work of the forecasting app: forecast runs queued after an import or from a page."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.models import CalcRun


@task()
def run_forecast_task(run_id: int) -> dict[str, Any]:
    """Run the queued forecast run `run_id` (see `actions.request_forecast`)."""
    from attain.forecasting.actions import run_forecast

    run = CalcRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != CalcRun.Status.QUEUED:
        return {"run_id": run.pk, "status": run.status, "skipped": "not queued"}
    forecast = run_forecast(run.requested_by, run=run, **run.params)
    return {"run_id": run.pk, "status": forecast.calc_run.status if forecast else run.status}
