"""Background work of data quality: runs queued from the page and the API."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.engine_io import run_queued


@task()
def run_quality_task(run_id: int) -> dict[str, Any]:
    """Run the queued data-quality run `run_id` (see `actions.request_quality_run`)."""
    from attain.ingest.quality.actions import run_quality_check
    from attain.ingest.quality.engine_io import DEFAULT_STALE_DAYS

    return run_queued(run_id, lambda run: run_quality_check(
        run.requested_by, run.backend or None, run=run,
        stale_days=int(run.params.get("stale_days", DEFAULT_STALE_DAYS))))
