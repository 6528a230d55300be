"""Background work of imports: an import job queued from a page or the API runs in the worker,
so it survives the browser closing."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from attain.ingest.models import ImportJob


@task()
def run_import_task(job_id: int) -> dict[str, Any]:
    """Run the queued import job `job_id` (see `actions.create_import_job`)."""
    from attain.ingest.actions import run_import

    job = ImportJob.objects.select_related("requested_by").get(pk=job_id)
    if job.status != ImportJob.Status.QUEUED:
        return {"job_id": job.pk, "status": job.status, "skipped": "not queued"}
    job = run_import(job)
    return {"job_id": job.pk, "status": job.status, "errors": job.error_count}
