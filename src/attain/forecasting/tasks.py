"""Background work of the forecasting app: forecast runs queued after an import or from a page,
and the scheduled check that re-runs the forecast when it is older than the configured
interval (`attain.forecasting.schedule`)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.models import CalcRun


@task()
def run_forecast_task(run_id: int) -> dict[str, Any]:
    """Run the queued forecast run `run_id` (see `actions.request_forecast`), then schedule
    the next check."""
    from attain.forecasting.actions import run_forecast
    from attain.forecasting.schedule import schedule_next_check

    run = CalcRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != CalcRun.Status.QUEUED:
        return {"run_id": run.pk, "status": run.status, "skipped": "not queued"}
    try:
        forecast = run_forecast(run.requested_by, run=run, **run.params)
    finally:
        schedule_next_check(scheduled_forecast_check)
    return {"run_id": run.pk, "status": forecast.calc_run.status if forecast else run.status}


@task()
def scheduled_forecast_check() -> dict[str, Any]:
    """Queue a forecast run if the latest is older than the configured interval."""
    from attain.forecasting.schedule import check

    queued = check()
    return {"queued": queued.pk if queued is not None else None}
