"""The dirty CRM of `tests/quality/engine_inputs.py`, written through the ORM, for runs, actions,
pages and the API. Record names and relations are the same; ids are the database's, so `Dirty`
maps the engine test's ids (accounts 1-8, opportunities 100-107, …) to the stored rows.

Expected scores of a run as of 2026-06-30 with stale_days 90 (stale findings counted from 90 idle
days: only opportunity 103 with 171; 106 with 60 is stored but not counted):

    accounts       5 of 8 flagged (1-5)                          100 x (1 - 5/8)   = 37.50
    opportunities  6 of 8 flagged (100, 101, 103, 104, 105, 106) 100 x (1 - 6/8)   = 25.00
    bookings       1 of 2                                        100 x (1 - 1/2)   = 50.00
    names          4 of 14 (8 accounts + 3 products + 3 leads naming a company; flagged
                   account 8, lead 2, products 1 and 2)          100 x (1 - 4/14)  = 71.43 (71.428…)
    overall        16 of 32                                      100 x (1 - 16/32) = 50.00

Lead 4 names "ACME, Ltd." exactly as account 2 does (one spelling: no finding); merging account 2
renames it. Findings counted: accounts 7, opportunities 9 (2 duplicates, 1 late, 1 stale, 3
missing, 1 regression, 1 inactive owner), bookings 1, names 4: overall 21; stored 22 (the 60-day
stale one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from attain.crm.models import Account, Contact, Lead, Product, StageChange
from attain.people.models import Role
from tests.factories import make_booking, make_line, make_opportunity, make_person, make_stage
from tests.quality.engine_inputs import AS_OF, EXPECTED

__all__ = ["AS_OF", "Dirty", "build_dirty"]


@dataclass
class Dirty:
    people: dict[str, Any]
    accounts: dict[int, Account]
    opportunities: dict[int, Any]
    leads: dict[int, Lead]
    products: dict[int, Product]
    bookings: dict[int, Any]
    contacts: dict[str, Contact]

    def db_id(self, object_type: str, engine_id: int) -> int:
        table = {"account": self.accounts, "opportunity": self.opportunities,
                 "lead": self.leads, "product": self.products, "booking": self.bookings}
        return table[object_type][engine_id].pk

    def expected(self) -> set[tuple]:
        """EXPECTED with the engine test's ids replaced by database ids (group keys included)."""
        def key(group: str) -> str:
            kind, _, rest = group.partition(":")
            if kind in ("typo", "opp"):
                object_type = "account" if kind == "typo" else "opportunity"
                a, b = (self.db_id(object_type, int(x)) for x in rest.split("-"))
                return f"{kind}:{min(a, b)}-{max(a, b)}"
            return group
        return {(check, object_type, self.db_id(object_type, object_id),
                 key(group) if not group.startswith("change:") else "change", number)
                for check, object_type, object_id, group, number in EXPECTED}


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def build_dirty() -> Dirty:
    d = date
    ann = make_person("ann", hired_on=d(2020, 1, 1))
    leo = make_person("leo", hired_on=d(2020, 1, 1), left_on=d(2026, 6, 1))
    kim = make_person("kim", hired_on=d(2020, 1, 1), left_on=d(2026, 7, 1))
    olga = make_person("olga", Role.OPS)
    olga.user.is_staff = True
    olga.user.save()
    mia = make_person("mia", Role.MANAGER)
    rita = make_person("rita")
    fay, eve = make_person("fay", Role.FINANCE), make_person("eve", Role.EXECUTIVE)
    for rep in (ann, leo, kim, rita):
        make_line(rep, mia, d(2020, 1, 1))
    people = {p.name: p for p in (ann, leo, kim, olga, mia, rita, fay, eve)}

    def account(i: int, name: str, domain: str, owner: Any = None, **extra: Any) -> Account:
        return Account.objects.create(external_id=f"ACC-{i}", name=name, domain=domain,
                                      owner=owner, created_at=_at(d(2025, 1, 1)), **extra)

    accounts = {
        1: account(1, "Acme Inc", "acme.com", ann), 2: account(2, "ACME, Ltd.", "", None,
                                                               industry="Retail"),
        3: account(3, "acme gmbh", "www.ACME.com", kim), 4: account(4, "Northwind Traders",
                                                                    "nw.example"),
        5: account(5, "Northwind Tradrs", "nw2.example"), 6: account(6, "Contoso Labs 2",
                                                                     "c2.example"),
        7: account(7, "Contoso Labs 3", "c3.example"), 8: account(8, "Globex", "globex.com"),
    }
    contacts = {
        "c1": Contact.objects.create(external_id="C-1", account=accounts[1], name="Amy",
                                     created_at=_at(d(2025, 2, 1))),
        "c2": Contact.objects.create(external_id="C-2", account=accounts[2], name="Bo",
                                     created_at=_at(d(2025, 2, 1))),
        "c3": Contact.objects.create(external_id="C-3", account=accounts[3], name="Cy",
                                     created_at=_at(d(2025, 2, 1))),
    }
    leads = {i: Lead.objects.create(external_id=f"L-{i}", name=f"Lead {i}", company=company,
                                    created_at=_at(d(2026, 1, 1)))
             for i, company in ((1, "Initech"), (2, "GLOBEX"), (3, ""))}
    leads[4] = Lead.objects.create(external_id="L-4", name="Lead 4", company="ACME, Ltd.",
                                   created_at=_at(d(2026, 1, 1)))
    products = {i: Product.objects.create(external_id=f"PR-{i}", name=name,
                                          list_price=Decimal("10.00"))
                for i, name in ((1, "Widget Pro"), (2, "widget  pro"), (3, "Gadget"))}
    disc = make_stage("Discovery", 1, won=False, probability="10")
    prop = make_stage("Proposal", 3, won=False, probability="50")
    nego = make_stage("Negotiation", 5, won=False, probability="70")
    won = make_stage("Closed Won", 9)

    def opp(i, name, account_no, owner, amount, currency, stage, close, created):
        row = make_opportunity(owner, amount or "0", currency, stage=stage, close_date=close,
                               name=name, external_id=f"OPP-{i}",
                               account=accounts.get(account_no), created_at=_at(created))
        if amount is None:  # no amount entered
            row.amount = None
            row.save(update_fields=["amount"])
        return row

    opportunities = {
        100: opp(100, "Acme renewal", 1, ann, "1000.00", "USD", prop, d(2026, 7, 15),
                 d(2026, 5, 1)),
        101: opp(101, "ACME Renewal!", 1, ann, "950.00", "USD", prop, d(2026, 7, 30),
                 d(2026, 6, 20)),
        102: opp(102, "Acme renewal", 1, ann, "1000.00", "USD", won, d(2027, 7, 15),
                 d(2026, 6, 20)),
        103: opp(103, "Late deal", 8, leo, "500.00", "USD", disc, d(2026, 6, 1),
                 d(2026, 1, 10)),
        104: opp(104, "No amount", 8, kim, None, "USD", disc, d(2026, 8, 1), d(2026, 6, 25)),
        105: opp(105, "No owner", None, None, "10.00", "EUR", prop, d(2026, 8, 1),
                 d(2026, 6, 25)),
        106: opp(106, "Backwards", 4, ann, "300.00", "USD", disc, d(2026, 9, 1),
                 d(2026, 3, 1)),
        107: opp(107, "Fresh", 4, kim, "300.00", "EUR", prop, d(2026, 9, 1), d(2026, 6, 1)),
    }
    for number, stage, day in ((106, disc, d(2026, 3, 1)), (106, nego, d(2026, 4, 1)),
                               (106, disc, d(2026, 5, 1)), (107, prop, d(2026, 6, 29)),
                               (100, prop, d(2026, 6, 10)), (101, prop, d(2026, 6, 20))):
        StageChange.objects.create(opportunity=opportunities[number], to_stage=stage,
                                   changed_at=_at(day))
    bookings = {1: make_booking(ann, "1000.00", d(2026, 6, 2), opportunity=opportunities[102]),
                2: make_booking(ann, "80.00", d(2026, 6, 2))}
    return Dirty(people, accounts, opportunities, leads, products, bookings, contacts)
