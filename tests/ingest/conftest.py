"""A small CRM for import tests: the default sales stages, three people with Salesforce user ids
(Mia manages Alice and Bob), two accounts with Salesforce account ids, an ops login and a rep
login. Uploads and problem reports go to a temporary MEDIA_ROOT."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from attain.crm.models import Account, ForecastCategory, Stage
from attain.ingest import actions
from attain.people.models import Person, Role

FIXTURES = Path(__file__).parent / "fixtures"
ALICE, BOB, MIA = "005000000000001AAA", "005000000000002AAA", "005000000000003AAA"
ACME, GLOBEX = "001000000000001AAA", "001000000000002AAA"

# (name, order, probability, forecast category, won, lost) — Attain's default pipeline.
STAGES = [
    ("Prospecting", 1, 10, ForecastCategory.PIPELINE, False, False),
    ("Qualification", 2, 20, ForecastCategory.PIPELINE, False, False),
    ("Discovery", 3, 40, ForecastCategory.PIPELINE, False, False),
    ("Proposal", 4, 60, ForecastCategory.BEST_CASE, False, False),
    ("Negotiation", 5, 80, ForecastCategory.COMMIT, False, False),
    ("Closed Won", 6, 100, ForecastCategory.CLOSED, True, False),
    ("Closed Lost", 7, 0, ForecastCategory.OMITTED, False, True),
]


@dataclass
class Crm:
    people: dict[str, Person]
    accounts: dict[str, Account]
    ops: Any
    rep: Any


def make_stages() -> None:
    for name, order, probability, category, won, lost in STAGES:
        Stage.objects.get_or_create(pipeline="default", name=name, defaults={
            "order": order, "probability": Decimal(probability), "forecast_category": category,
            "is_won": won, "is_lost": lost})


def build_crm() -> Crm:
    make_stages()
    users = get_user_model().objects
    ops_user = users.create_user(username="olga", password="pw-olga", is_staff=True)
    rep_user = users.create_user(username="alice", password="pw-alice")
    people = {
        "mia": Person.objects.create(external_id=MIA, name="Mia Manager",
                                     email="mia@example.com", role=Role.MANAGER),
        "alice": Person.objects.create(external_id=ALICE, name="Alice Able", user=rep_user,
                                       email="alice@example.com", role=Role.REP),
        "bob": Person.objects.create(external_id=BOB, name="Bob Baker", email="bob@example.com",
                                     role=Role.REP),
        "olga": Person.objects.create(external_id="ops-1", name="Olga Ops", user=ops_user,
                                      role=Role.OPS),
    }
    created = datetime(2025, 1, 1, tzinfo=UTC)
    accounts = {
        "acme": Account.objects.create(external_id=ACME, name="Acme Corp", created_at=created,
                                       owner=people["alice"]),
        "globex": Account.objects.create(external_id=GLOBEX, name="Globex",
                                         created_at=created, owner=people["bob"]),
    }
    return Crm(people, accounts, ops_user, rep_user)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    return settings.MEDIA_ROOT


@pytest.fixture
def crm(db) -> Crm:
    return build_crm()


def run_file(name: str, mapping: str, *, dry_run: bool = False, actor: Any = None,
             path: Path | None = None, **options: Any):
    """Import a fixture file now, as the CLI does; returns the finished job."""
    return actions.import_path(actor, path or FIXTURES / name, mapping_name=mapping,
                               dry_run=dry_run, options=options)


def database_state() -> dict[str, tuple[int, str]]:
    """Row count and a checksum of every row of every Attain table (core, people, crm,
    performance), to prove a refused file changed nothing."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label not in {"people", "crm", "performance", "core"}:
            continue
        if model._meta.label == "core.AuditEvent":
            continue
        rows = list(model.objects.order_by("pk").values_list())
        state[model._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return state
