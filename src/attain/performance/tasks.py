"""Background work of the performance app: calculation runs queued from pages and the API."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.engine_io import run_queued


@task()
def run_bookings_calculation_task(run_id: int) -> dict[str, Any]:
    """Run the queued bookings run `run_id` (see `actions.request_bookings_calculation`)."""
    from attain.performance.actions import run_bookings_calculation

    return run_queued(run_id, lambda run: run_bookings_calculation(
        run.requested_by, run.backend or None, run=run))


@task()
def run_performance_analytics_task(run_id: int) -> dict[str, Any]:
    """Run the queued performance run `run_id` (see `actions.request_performance_analytics`)."""
    from attain.performance.actions import run_performance_analytics

    return run_queued(run_id, lambda run: run_performance_analytics(
        run.requested_by, run.backend or None, run=run))
