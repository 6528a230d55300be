"""A small organisation for API tests, with tokens and a client that speaks to /api/v1.

    vp ← m1 ← (a, b until 2026-07-01);  vp ← m2 ← c;  b moves to m2 on 2026-07-01.
    ops, finance and exec see everything. Teams: East (m1's), West (m2's).

Opportunities: a owns "A1" (1200.50 EUR) and "A2"; b owns "B1" and "B2"; c owns "C1";
one unowned "Orphan" (visible to company-wide roles only) — 6 in all.
Bookings: a on 2026-03-31 and 2026-04-01, b on 2026-02-10, c on 2026-05-05 — 4 in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.test import Client

from attain.people.actions import issue_api_token
from attain.people.models import Person, Role, Team
from tests.factories import (
    make_account,
    make_booking,
    make_line,
    make_opportunity,
    make_person,
    make_stage,
)

MID_YEAR = date(2026, 7, 1)
BEFORE_MOVE = date(2026, 6, 30)


@dataclass
class Org:
    people: dict[str, Person]
    teams: dict[str, Team]
    opportunities: dict[str, Any]
    bookings: dict[str, Any]
    accounts: dict[str, Any]

    def __getitem__(self, name: str) -> Person:
        return self.people[name]


@pytest.fixture
def org(db: Any) -> Org:
    vp = make_person("vp", Role.MANAGER)
    m1, m2 = make_person("m1", Role.MANAGER), make_person("m2", Role.MANAGER)
    a, b, c = make_person("a"), make_person("b"), make_person("c")
    ops = make_person("ops", Role.OPS)
    finance = make_person("finance", Role.FINANCE)
    executive = make_person("exec", Role.EXECUTIVE)
    ops.user.is_staff = True
    ops.user.save()
    east, west = Team.objects.create(name="East"), Team.objects.create(name="West")
    start = date(2026, 1, 1)
    make_line(m1, vp, start, team=east)
    make_line(m2, vp, start, team=west)
    make_line(a, m1, start, team=east)
    make_line(c, m2, start, team=west)
    make_line(b, m1, start, MID_YEAR, team=east)
    make_line(b, m2, MID_YEAR, team=west)

    won = make_stage()
    open_stage = make_stage("Discovery", 2, won=False, probability="20")
    opportunities = {
        "A1": make_opportunity(a, "1200.50", "EUR", name="A1", stage=won,
                               close_date=date(2026, 3, 31), deal_type="new", source="web",
                               segment="smb", created_at=datetime(2026, 1, 10, tzinfo=UTC)),
        "A2": make_opportunity(a, "300.00", name="A2", stage=open_stage,
                               close_date=date(2026, 4, 1), deal_type="expansion",
                               source="partner", segment="ent",
                               created_at=datetime(2026, 2, 1, tzinfo=UTC)),
        "B1": make_opportunity(b, "500.00", name="B1", stage=won, close_date=date(2026, 2, 10)),
        "B2": make_opportunity(b, "700.00", name="B2", stage=open_stage,
                               close_date=date(2026, 9, 1)),
        "C1": make_opportunity(c, "900.00", name="C1", stage=won, close_date=date(2026, 5, 5)),
        "Orphan": make_opportunity(None, "50.00", name="Orphan", stage=open_stage,
                                   close_date=date(2026, 6, 1)),
    }
    bookings = {
        "a-march": make_booking(a, "1200.50", date(2026, 3, 31), "EUR",
                                opportunity=opportunities["A1"]),
        "a-april": make_booking(a, "99.99", date(2026, 4, 1)),
        "b-feb": make_booking(b, "500.00", date(2026, 2, 10), opportunity=opportunities["B1"]),
        "c-may": make_booking(c, "900.00", date(2026, 5, 5), opportunity=opportunities["C1"]),
    }
    accounts = {"Acme": make_account("Acme", owner=a), "Zeta": make_account("Zeta", owner=c)}
    people = {p.name: p for p in [vp, m1, m2, a, b, c, ops, finance, executive]}
    return Org(people, {"East": east, "West": west}, opportunities, bookings, accounts)


@pytest.fixture
def tokens(org: Org) -> dict[str, str]:
    """A plain API token per person, keyed by name."""
    return {name: issue_api_token(None, person.user, f"{name} script")
            for name, person in org.people.items()}


class Api:
    """GET /api/v1/<path> with a bearer token."""

    def __init__(self, client: Client, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def get(self, who: str | None, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.get(f"/api/v1{path}", params, headers=headers)

    def items(self, who: str, path: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(who, path, **params)
        assert response.status_code == 200, response.content
        return response.json()["items"]

    def names(self, who: str, path: str, **params: Any) -> list[str]:
        return sorted(item["name"] for item in self.items(who, path, **params))


@pytest.fixture
def api(client: Client, tokens: dict[str, str]) -> Api:
    return Api(client, tokens)
