"""All or nothing: an import stopped mid-write (the worker killed) leaves the database as it
was, and the job runs again to completion."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attain.crm.models import Opportunity, StageChange
from attain.ingest import actions, entities
from attain.ingest.models import ImportJob
from attain.ingest.tasks import run_import_task
from tests.ingest.conftest import FIXTURES, database_state


def test_an_import_stopped_mid_write_leaves_the_database_as_before_and_can_be_rerun(
        crm, monkeypatch, django_capture_on_commit_callbacks):
    before = database_state()
    with (FIXTURES / "sf_opportunities_api.csv").open("rb") as handle:
        job = actions.create_import_job(crm.ops, name="sf_opportunities_api.csv",
                                        content=handle, size=1140,
                                        mapping_name="salesforce-opportunities", enqueue=False)
    real_write = entities.OpportunityEntity.write

    def killed(self, batch, ctx):
        real_write(self, batch, ctx)  # the rows are written in the transaction …
        raise KeyboardInterrupt  # … and the worker dies before it commits

    monkeypatch.setattr(entities.OpportunityEntity, "write", killed)
    with pytest.raises(KeyboardInterrupt):
        actions.run_import(job)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING  # what a killed worker leaves behind
    after = database_state()
    assert after.pop("crm.Opportunity") == before.pop("crm.Opportunity")
    assert after == before
    assert not Opportunity.objects.exists() and not StageChange.objects.exists()

    monkeypatch.setattr(entities.OpportunityEntity, "write", real_write)
    job.started_at -= timedelta(minutes=5)  # no progress since: the page offers a re-run
    job.save(update_fields=["started_at"])
    with django_capture_on_commit_callbacks(execute=True):
        actions.rerun_import(crm.ops, job)
    assert run_import_task.call(job.pk) == {"job_id": job.pk, "status": "succeeded",
                                            "errors": 0}
    assert Opportunity.objects.count() == 5
    job.refresh_from_db()
    assert job.attempts == 2


def test_a_running_job_is_not_rerun_until_it_stalls(crm):
    job = ImportJob.objects.create(original_name="x.csv", mapping_name="superstore",
                                   status=ImportJob.Status.RUNNING, file="imports/x.csv")
    from django.utils import timezone

    job.started_at = timezone.now()
    job.save()

    with pytest.raises(actions.ImportRequestError, match=r"Import #\d+ is running"):
        actions.rerun_import(crm.ops, job)
