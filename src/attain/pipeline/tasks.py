"""Background work of the pipeline app: analytics runs queued from pages and the API."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.engine_io import run_queued


@task()
def run_pipeline_analytics_task(run_id: int) -> dict[str, Any]:
    """Run the queued pipeline analytics run `run_id` (see `actions.request_pipeline_analytics`)."""
    from attain.pipeline.actions import run_pipeline_analytics

    return run_queued(run_id, lambda run: run_pipeline_analytics(
        run.requested_by, run.backend or None, run=run))
