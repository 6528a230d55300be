"""Django admin: ops only, every model's changelist opens, edits are audited."""

import pytest
from django.apps import apps
from django.contrib import admin

from attain.core.models import AuditEvent

MODELS = sorted(
    f"{model._meta.app_label}/{model._meta.model_name}"
    for model in admin.site._registry
    if model._meta.app_label in {"core", "people", "crm", "performance"}
)


def test_every_attain_model_is_registered():
    models = {model for label in ["core", "people", "crm", "performance"]
              for model in apps.get_app_config(label).get_models()}

    unregistered = sorted(model.__name__ for model in models - set(admin.site._registry))

    assert len(models) >= 28  # the apps' models were found (crm alone has 11)
    assert unregistered == []


@pytest.mark.parametrize("model", MODELS)
def test_ops_can_open_every_changelist(client, org, model):
    client.force_login(org["ops"].user)

    assert client.get(f"/admin/{model}/").status_code == 200


@pytest.mark.parametrize("model", ["people/person", "crm/opportunity", "core/auditevent"])
def test_rep_is_redirected_to_the_login(client, org, model):
    client.force_login(org["a"].user)

    response = client.get(f"/admin/{model}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_ops_can_open_the_change_page_of_a_booking(client, org):
    client.force_login(org["ops"].user)

    assert client.get(f"/admin/crm/booking/{org.bookings['a-march'].pk}/change/"
                      ).status_code == 200


def test_admin_edit_is_audited_with_before_and_after(client, org):
    client.force_login(org["ops"].user)
    account = org.accounts["Acme"]
    form = {"external_id": account.external_id, "name": "Acme Corp", "domain": "acme.test",
            "industry": "", "segment": "", "country": "", "owner": org["a"].pk,
            "created_at_0": "2025-01-01", "created_at_1": "00:00:00"}

    response = client.post(f"/admin/crm/account/{account.pk}/change/", form)

    assert response.status_code == 302, response.content
    event = AuditEvent.objects.get(action="admin_change")
    assert (event.actor, event.object_type, event.object_id) == (
        org["ops"].user, "crm.account", str(account.pk))
    assert (event.before["name"], event.after["name"]) == ("Acme", "Acme Corp")
    assert event.after["domain"] == "acme.test"


def test_admin_delete_is_audited(client, org):
    client.force_login(org["ops"].user)
    team = org.teams["East"].__class__.objects.create(name="Spare")

    response = client.post(f"/admin/people/team/{team.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin_delete")
    assert (event.object_type, event.before["name"], event.after) == ("people.team", "Spare",
                                                                      None)


def test_audit_events_and_runs_are_read_only(client, org):
    client.force_login(org["ops"].user)

    assert client.get("/admin/core/auditevent/add/").status_code == 403
    assert client.get("/admin/core/calcrun/add/").status_code == 403
