"""Background work of data quality: runs queued from the page and the API."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.core.models import CalcRun


@task()
def run_quality_task(run_id: int) -> dict[str, Any]:
    """Run the queued data-quality run `run_id` (see `actions.request_quality_run`)."""
    from attain.ingest.quality.actions import run_quality_check
    from attain.ingest.quality.engine_io import DEFAULT_STALE_DAYS

    run = CalcRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != CalcRun.Status.QUEUED:
        return {"run_id": run.pk, "status": run.status, "skipped": "not queued"}
    stale_days = int(run.params.get("stale_days", DEFAULT_STALE_DAYS))
    run = run_quality_check(run.requested_by, run.backend or None, run=run,
                            stale_days=stale_days)
    return {"run_id": run.pk, "status": run.status, "output_rows": run.output_rows}
