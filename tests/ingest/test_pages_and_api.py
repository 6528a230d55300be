"""Import pages and API for sales operations; every other role is refused (403)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

from attain.crm.models import Opportunity
from attain.ingest import actions
from attain.ingest.models import ImportJob, MappingProfile
from attain.people.actions import issue_api_token
from tests.ingest.conftest import FIXTURES, run_file


def upload(client, name, mapping, **fields):
    with (FIXTURES / name).open("rb") as handle:
        return client.post("/imports/", {"file": handle, "mapping": mapping, **fields})


def test_ops_uploads_a_dry_run_then_imports_it(client, crm, django_capture_on_commit_callbacks):
    client.force_login(crm.ops)
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(client, "sf_opportunities_api.csv", "salesforce-opportunities",
                          dry_run="on")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    assert job.dry_run and job.status == ImportJob.Status.QUEUED
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Waiting for the background worker" in page and 'hx-trigger="every 2s"' in page

    actions.run_import(job)  # what the worker does
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "checked (dry run)" in page and "Import this file now" in page
    assert "open deal with a close date in the past" in page
    assert not Opportunity.objects.exists()

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/imports/{job.pk}/confirm/")
    real = ImportJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == f"/imports/{real.pk}/" and not real.dry_run
    actions.run_import(real)
    status = client.get(f"/imports/{real.pk}/status/?shown=running").content.decode()
    assert "succeeded" in status and "Finished: show the results" in status
    assert Opportunity.objects.count() == 5


def test_the_problems_download_lists_every_problem(client, crm):
    job = run_file("sf_opportunities_nasty.csv", "salesforce-opportunities", actor=crm.ops)
    client.force_login(crm.ops)

    response = client.get(f"/imports/{job.pk}/problems.csv")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["severity", "row", "column", "value", "problem", "entity"]
    assert len(rows) == 1 + 6
    assert ["error", "5", "Amount", "'-250.00",
            "negative amount; an opportunity's amount must be 0 or more",
            "opportunity"] in rows  # the value neutralised for spreadsheets


def test_an_oversize_upload_is_refused_with_a_clear_message(client, crm, settings):
    settings.ATTAIN_IMPORT_MAX_BYTES = 100
    client.force_login(crm.ops)

    page = upload(client, "sf_opportunities_api.csv", "salesforce-opportunities").content
    assert b"uploads are limited to 100 bytes (ATTAIN_IMPORT_MAX_MB)" in page
    assert not ImportJob.objects.exists()


def test_the_mapping_editor_saves_a_profile_from_a_sample_file(client, crm):
    client.force_login(crm.ops)
    with (FIXTURES / "custom_deals.csv").open("rb") as handle:
        page = client.post("/imports/mappings/new/", {"action": "load", "entity": "opportunity",
                                                     "sample": handle}).content.decode()
    assert 'name="field-4"' in page and "Expected close" in page

    response = client.post("/imports/mappings/new/", {
        "action": "save", "entity": "opportunity", "name": "Custom Deals",
        "column": ["Deal", "Title", "Rep", "Value", "Phase", "Expected close"],
        "field-0": "external_id", "field-1": "name", "field-2": "owner", "field-3": "amount",
        "field-4": "stage", "field-5": "close_date",
        "stage_map": "Demo = Discovery\nWon = Closed Won", "date_order": "auto",
        "decimal_separator": "auto", "currency": "GBP"})

    assert response.status_code == 302
    profile = MappingProfile.objects.get(name="custom-deals")
    assert profile.definition["targets"][0]["value_maps"] == {
        "stage": {"Demo": "Discovery", "Won": "Closed Won"}}
    job = run_file("custom_deals.csv", "custom-deals")
    assert job.status == "succeeded", job.problems
    edit = client.get(f"/imports/mappings/{profile.pk}/").content.decode()
    assert "Demo = Discovery" in edit


@pytest.mark.parametrize("url", ["/imports/", "/imports/mappings/", "/imports/mappings/new/"])
def test_a_rep_is_refused_every_import_page(client, crm, url):
    client.force_login(crm.rep)
    assert client.get(url).status_code == 403


def test_a_rep_cannot_open_an_import_job_or_its_problems(client, crm):
    job = run_file("sf_opportunities_nasty.csv", "salesforce-opportunities", actor=crm.ops)
    client.force_login(crm.rep)

    assert client.get(f"/imports/{job.pk}/").status_code == 403
    assert client.get(f"/imports/{job.pk}/problems.csv").status_code == 403
    assert client.post(f"/imports/{job.pk}/rerun/").status_code == 403
    with (FIXTURES / "sf_opportunities_api.csv").open("rb") as handle:
        assert client.post("/imports/", {"file": handle, "mapping": "superstore"}
                           ).status_code == 403


def test_the_navigation_shows_imports_to_ops_only(client, crm):
    client.force_login(crm.ops)
    assert 'href="/imports/"' in client.get("/").content.decode()
    client.force_login(crm.rep)
    assert 'href="/imports/"' not in client.get("/").content.decode()


# --- API ----------------------------------------------------------------------------------------


def bearer(user):
    return {"Authorization": f"Bearer {issue_api_token(None, user, 'script')}"}


def test_api_uploads_follows_and_lists_problems(client, crm, django_capture_on_commit_callbacks):
    headers = bearer(crm.ops)
    with (FIXTURES / "sf_opportunities_nasty.csv").open("rb") as handle, \
            django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/v1/imports", {"file": handle,
                                                   "mapping": "salesforce-opportunities",
                                                   "dry_run": "true"}, headers=headers)
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued" and response.json()["dry_run"] is True

    actions.run_import(ImportJob.objects.get(pk=job_id))
    job = client.get(f"/api/v1/imports/{job_id}", headers=headers).json()
    assert (job["status"], job["error_count"]) == ("rejected", 6)
    assert job["counts"]["opportunity"] == {"created": 1, "invalid": 6}
    page = client.get(f"/api/v1/imports/{job_id}/problems?severity=error&limit=2&offset=1",
                      headers=headers).json()
    assert page["count"] == 6 and len(page["items"]) == 2
    assert page["items"][0]["column"] and page["items"][0]["reason"]


def test_api_refuses_an_unknown_mapping(client, crm):
    with (FIXTURES / "sf_opportunities_api.csv").open("rb") as handle:
        response = client.post("/api/v1/imports", {"file": handle, "mapping": "nope"},
                               headers=bearer(crm.ops))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Unknown mapping 'nope'; use one of:")


def test_api_mapping_profiles_crud(client, crm):
    headers = bearer(crm.ops)
    definition = {"targets": [{"entity": "account", "columns": {"external_id": ["Key"],
                                                                 "name": ["Company"]}}]}
    created = client.post("/api/v1/imports/mappings", {"name": "my-accounts",
                                                       "definition": definition},
                          content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    assert client.get("/api/v1/imports/mappings/my-accounts",
                      headers=headers).json()["definition"] == definition
    bad = client.put("/api/v1/imports/mappings/my-accounts",
                     {"name": "my-accounts", "definition": {"targets": [{"entity": "planet"}]}},
                     content_type="application/json", headers=headers)
    assert bad.status_code == 400 and "unknown entity 'planet'" in bad.json()["detail"]
    names = [m["name"] for m in client.get("/api/v1/imports/mappings", headers=headers).json()]
    assert "salesforce-opportunities" in names and "my-accounts" in names
    assert client.delete("/api/v1/imports/mappings/my-accounts",
                         headers=headers).status_code == 204
    assert not MappingProfile.objects.exists()


def test_api_refuses_a_rep(client, crm):
    job = run_file("sf_opportunities_api.csv", "salesforce-opportunities", dry_run=True)
    headers = bearer(crm.rep)
    assert client.get("/api/v1/imports", headers=headers).status_code == 403
    assert client.get(f"/api/v1/imports/{job.pk}", headers=headers).status_code == 403
    assert client.get("/api/v1/imports/mappings", headers=headers).status_code == 403


# --- CLI ----------------------------------------------------------------------------------------


def test_the_import_command_dry_run_and_import(crm, capsys):
    call_command("import", str(FIXTURES / "sf_opportunities_api.csv"),
                 "--mapping", "salesforce-opportunities", "--dry-run", "--no-progress")
    out = capsys.readouterr().out
    assert "checked" in out and "opportunity: 5 would be created" in out
    assert not Opportunity.objects.exists()

    call_command("import", str(FIXTURES / "sf_opportunities_api.csv"),
                 "--mapping", "salesforce-opportunities", "--no-progress")
    assert "opportunity: 5 created" in capsys.readouterr().out
    assert Opportunity.objects.count() == 5


def test_the_import_command_fails_with_the_problems(crm, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"rejected: 6 error\(s\) found; nothing was written"):
        call_command("import", str(FIXTURES / "sf_opportunities_nasty.csv"),
                     "--mapping", "salesforce-opportunities", "--no-progress")
    out = capsys.readouterr().out
    assert "error: row 3, column 'OwnerId', value '005999999999999AAA': unknown owner" in out


def test_the_upload_page_takes_the_export_time_and_dates_stage_changes_with_it(client, crm,
                                                                              tmp_path):
    # The newer export without its LastModifiedDate column: it moves 'Acme expansion' from
    # Proposal to Negotiation, and the page's export time (read in the company's time zone)
    # dates that stage change.
    from datetime import datetime

    from django.utils import timezone

    from attain.crm.models import StageChange

    client.force_login(crm.ops)
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    page = client.get("/imports/").content.decode()
    assert 'name="exported_at"' in page and 'type="datetime-local"' in page
    rows = list(csv.reader((FIXTURES / "sf_opportunities_api_newer.csv").open(newline="")))
    newer = tmp_path / "newer.csv"
    with newer.open("w", newline="") as handle:
        csv.writer(handle).writerows(row[:-1] for row in rows)  # LastModifiedDate dropped

    with newer.open("rb") as handle:
        response = client.post("/imports/", {"file": handle, "mapping": "salesforce-opportunities",
                                             "exported_at": "2026-03-01T12:30"})

    assert response.status_code == 302
    job = ImportJob.objects.latest("pk")
    moment = timezone.make_aware(datetime(2026, 3, 1, 12, 30))  # noqa: DTZ001 - company time
    assert datetime.fromisoformat(job.options["exported_at"]) == moment
    assert job.options["exported_at"] in client.get(f"/imports/{job.pk}/").content.decode()
    actions.run_import(job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    move = StageChange.objects.get(opportunity__external_id="006000000000002AAA",
                                   from_stage__name="Proposal")
    assert (move.to_stage.name, move.changed_at) == ("Negotiation", moment)


def test_the_upload_page_refuses_an_export_time_in_the_future(client, crm):
    client.force_login(crm.ops)

    response = upload(client, "sf_opportunities_api.csv", "salesforce-opportunities",
                      exported_at="2999-01-01T00:00")

    assert response.status_code == 200
    assert "2999-01-01 00:00 is in the future; an export cannot have been taken then." in (
        response.content.decode())
    assert not ImportJob.objects.exists()
