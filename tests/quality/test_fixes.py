"""The audited fixes: merging duplicate accounts and reassigning opportunities, all or nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest
from django.core import serializers

from attain.core.models import AuditEvent
from attain.crm.models import Account, Contact, Lead, Opportunity
from attain.ingest.quality.actions import (
    QualityActionError,
    merge_accounts,
    reassign_opportunities,
)
from tests.quality.dirty import build_dirty

pytestmark = pytest.mark.django_db


@pytest.fixture
def dirty():
    return build_dirty()


def checksum() -> str:
    """A checksum of every row the fixes may touch, and the number of audit events."""
    rows = [serializers.serialize("json", model.objects.order_by("pk"))
            for model in (Account, Contact, Lead, Opportunity)]
    rows.append(str(AuditEvent.objects.count()))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_merge_moves_contacts_opportunities_and_leads_to_the_survivor(dirty):
    acme, ltd, gmbh = (dirty.accounts[i] for i in (1, 2, 3))
    opps_of_acme = {dirty.opportunities[i].pk for i in (100, 101, 102)}
    summary = merge_accounts(dirty.people["olga"].user, acme.pk, [ltd.pk, gmbh.pk])

    assert summary == {
        "survivor_id": acme.pk, "merged_ids": [ltd.pk, gmbh.pk],
        "contact_ids": sorted([dirty.contacts["c2"].pk, dirty.contacts["c3"].pk]),
        "opportunity_ids": [], "lead_ids": [dirty.leads[4].pk], "other": {},
    }
    assert not Account.objects.filter(pk__in=[ltd.pk, gmbh.pk]).exists()
    assert set(Contact.objects.filter(account=acme).values_list("name", flat=True)) == {
        "Amy", "Bo", "Cy"}
    assert set(Opportunity.objects.filter(account=acme).values_list("pk", flat=True)) == \
        opps_of_acme
    assert Lead.objects.get(pk=dirty.leads[4].pk).company == "Acme Inc"
    acme.refresh_from_db()
    assert acme.industry == "Retail"  # empty on the survivor, filled from "ACME, Ltd."
    assert acme.domain == "acme.com"  # the survivor's own value is kept


def test_merge_moves_opportunities_of_the_merged_account(dirty):
    northwind, typo = dirty.accounts[4], dirty.accounts[5]
    summary = merge_accounts(None, typo.pk, [northwind.pk])
    moved = {dirty.opportunities[106].pk, dirty.opportunities[107].pk}
    assert set(summary["opportunity_ids"]) == moved
    assert set(Opportunity.objects.filter(account=typo).values_list("pk", flat=True)) == moved


def test_merge_is_audited_with_before_after_and_the_merged_rows(dirty):
    acme, ltd = dirty.accounts[1], dirty.accounts[2]
    merge_accounts(dirty.people["olga"].user, acme.pk, [ltd.pk])
    event = AuditEvent.objects.get(action="merge_accounts")
    assert (event.object_type, event.object_id) == ("crm.account", str(acme.pk))
    assert event.actor == dirty.people["olga"].user
    assert event.before["survivor"]["industry"] == ""
    assert event.after["survivor"]["industry"] == "Retail"
    assert [row["name"] for row in event.before["merged"]] == ["ACME, Ltd."]
    assert event.after["merged_ids"] == [ltd.pk]
    assert event.after["contact_ids"] == [dirty.contacts["c2"].pk]


@pytest.mark.parametrize(("survivor", "merged", "field", "message"), [
    ("acme", ["acme"], "merged", "cannot be merged into itself"),
    ("acme", ["ltd", "acme"], "merged", "cannot be merged into itself"),
    ("missing", ["ltd"], "survivor", "does not exist"),
    ("acme", ["ltd", "missing"], "merged", "do not exist"),
    ("acme", [], "merged", "at least one account"),
    ("acme", ["x7"], "merged", "is not a record id"),
])
def test_a_refused_merge_names_the_problem_and_writes_nothing(dirty, survivor, merged, field,
                                                              message):
    ids = {"acme": dirty.accounts[1].pk, "ltd": dirty.accounts[2].pk, "missing": 999_999,
           "x7": "x7"}
    before = checksum()
    with pytest.raises(QualityActionError, match=message) as refused:
        merge_accounts(None, ids[survivor], [ids[m] for m in merged])
    assert refused.value.field == field
    assert checksum() == before


def test_reassign_moves_the_selected_opportunities_and_audits_their_old_owners(dirty):
    ann, leo = dirty.people["ann"], dirty.people["leo"]
    late, fresh = dirty.opportunities[103], dirty.opportunities[100]
    summary = reassign_opportunities(dirty.people["olga"].user, [late.pk, fresh.pk], ann.pk,
                                     as_of=date(2026, 6, 30))
    assert summary == {"owner_id": ann.pk, "moved": {late.pk: leo.pk},
                       "unchanged": [fresh.pk]}
    assert Opportunity.objects.get(pk=late.pk).owner == ann
    event = AuditEvent.objects.get(action="reassign_opportunities")
    assert event.before == {"owners": {str(late.pk): leo.pk}}
    assert event.after == {"owner_id": ann.pk, "opportunity_ids": [late.pk],
                           "unchanged": [fresh.pk]}


@pytest.mark.parametrize(("owner", "opportunities", "field", "message"), [
    ("leo", [103], "owner", "leo is not employed on 2026-06-30"),   # left on 1 June
    ("nobody", [103], "owner", "does not exist"),
    ("ann", [103, "missing"], "opportunities", "do not exist"),
    ("ann", [], "opportunities", "Select at least one"),
])
def test_a_refused_reassignment_names_the_problem_and_writes_nothing(dirty, owner,
                                                                     opportunities, field,
                                                                     message):
    owners = {"leo": dirty.people["leo"].pk, "ann": dirty.people["ann"].pk, "nobody": 999_999}
    ids = [999_999 if o == "missing" else dirty.opportunities[o].pk for o in opportunities]
    before = checksum()
    with pytest.raises(QualityActionError, match=message) as refused:
        reassign_opportunities(None, ids, owners[owner], as_of=date(2026, 6, 30))
    assert refused.value.field == field
    assert checksum() == before


def test_someone_leaving_tomorrow_may_still_receive_deals_today(dirty):
    kim = dirty.people["kim"]  # left_on 2026-07-01: employed on 30 June
    summary = reassign_opportunities(None, [dirty.opportunities[103].pk], kim.pk,
                                     as_of=date(2026, 6, 30))
    assert summary["owner_id"] == kim.pk
