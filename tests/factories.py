"""Row factories for tests: small, explicit, with every value a test may assert on passed in."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model

from attain.crm.models import Account, Booking, ForecastCategory, Opportunity, Stage
from attain.people.models import Person, ReportingLine, Role, Team

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def make_person(name: str, role: str = Role.REP, *, login: bool = True, **fields) -> Person:
    user = None
    if login:
        user = get_user_model().objects.create_user(username=name, password="pw-" + name)
    return Person.objects.create(external_id=next_id("P"), name=name, role=role, user=user,
                                 **fields)


def make_line(person: Person, manager: Person | None, start: date, end: date | None = None,
              team: Team | None = None) -> ReportingLine:
    return ReportingLine.objects.create(person=person, manager=manager, team=team,
                                        valid_from=start, valid_to=end)


def make_stage(name: str = "Closed Won", order: int = 9, *, won: bool = True,
               lost: bool = False, probability: str = "100") -> Stage:
    stage, _ = Stage.objects.get_or_create(
        pipeline="default", name=name,
        defaults={"order": order, "probability": Decimal(probability), "is_won": won,
                  "is_lost": lost,
                  "forecast_category": ForecastCategory.CLOSED if won or lost
                  else ForecastCategory.PIPELINE},
    )
    return stage


def make_account(name: str = "Acme", owner: Person | None = None) -> Account:
    return Account.objects.create(external_id=next_id("A"), name=name, owner=owner,
                                  created_at=datetime(2025, 1, 1, tzinfo=UTC))


def make_opportunity(owner: Person | None, amount: str = "1000.00", currency: str = "USD", *,
                     stage: Stage | None = None, close_date: date = date(2026, 3, 15),
                     **fields) -> Opportunity:
    stage = stage or make_stage()
    values = {
        "external_id": next_id("O"), "name": "Deal", "owner": owner, "amount": Decimal(amount),
        "currency": currency, "stage": stage, "forecast_category": stage.forecast_category,
        "is_closed": stage.is_closed, "is_won": stage.is_won,
        "created_at": datetime(2026, 1, 5, tzinfo=UTC), "close_date": close_date,
    }
    values.update(fields)
    return Opportunity.objects.create(**values)


def make_booking(owner: Person | None, amount: str, booked_on: date, currency: str = "USD",
                 opportunity: Opportunity | None = None, **fields) -> Booking:
    return Booking.objects.create(external_id=next_id("B"), owner=owner, amount=Decimal(amount),
                                  currency=currency, booked_on=booked_on,
                                  opportunity=opportunity, **fields)
