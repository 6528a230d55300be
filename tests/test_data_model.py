"""Database constraints hold on SQLite and PostgreSQL: bad rows are refused, nothing written."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from attain.core.models import Period
from attain.crm.models import ExchangeRate, Product
from attain.people.models import Person, ReportingLine, Team
from attain.performance.models import Quota
from tests.factories import make_opportunity, make_person, make_stage


def refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


@pytest.mark.django_db
def test_external_ids_are_unique():
    owner = make_person("ann")
    first = make_opportunity(owner)
    refused(lambda: make_opportunity(owner, external_id=first.external_id))


@pytest.mark.django_db
def test_negative_amounts_are_refused_where_they_make_no_sense():
    owner = make_person("ann")
    refused(lambda: make_opportunity(owner, amount="-1.00"))
    refused(lambda: Product.objects.create(external_id="p", name="P", list_price=Decimal("-5")))
    period = Period.objects.create(kind="month", start=date(2026, 1, 1), end=date(2026, 2, 1),
                                   label="2026-01")
    refused(lambda: Quota.objects.create(person=owner, period=period, amount=Decimal("-1"),
                                         currency="USD"))


@pytest.mark.django_db
def test_won_opportunity_must_be_closed():
    owner = make_person("ann")
    refused(lambda: make_opportunity(owner, stage=make_stage("Open", 1, won=False),
                                     is_won=True, is_closed=False))


@pytest.mark.django_db
def test_periods_and_reporting_lines_need_valid_ranges():
    refused(lambda: Period.objects.create(kind="month", start=date(2026, 2, 1),
                                          end=date(2026, 2, 1), label="empty"))
    ann = make_person("ann")
    refused(lambda: ReportingLine.objects.create(person=ann, manager=None,
                                                 valid_from=date(2026, 5, 1),
                                                 valid_to=date(2026, 4, 1)))
    refused(lambda: ReportingLine.objects.create(person=ann, manager=ann,
                                                 valid_from=date(2026, 5, 1)))


@pytest.mark.django_db
def test_quota_belongs_to_a_person_or_a_team_not_both():
    ann = make_person("ann")
    team = Team.objects.create(name="East")
    period = Period.objects.create(kind="year", start=date(2026, 1, 1), end=date(2027, 1, 1),
                                   label="FY2026")
    refused(lambda: Quota.objects.create(person=ann, team=team, period=period,
                                         amount=Decimal("1"), currency="USD"))
    refused(lambda: Quota.objects.create(period=period, amount=Decimal("1"), currency="USD"))
    Quota.objects.create(person=ann, period=period, amount=Decimal("1"), currency="USD")
    refused(lambda: Quota.objects.create(person=ann, period=period, amount=Decimal("2"),
                                         currency="USD"))


@pytest.mark.django_db
def test_exchange_rates_are_positive_and_one_per_month():
    ExchangeRate.objects.create(currency="EUR", month_start=date(2026, 1, 1),
                                rate=Decimal("1.08"))
    refused(lambda: ExchangeRate.objects.create(currency="EUR", month_start=date(2026, 1, 1),
                                                rate=Decimal("1.09")))
    refused(lambda: ExchangeRate.objects.create(currency="GBP", month_start=date(2026, 1, 1),
                                                rate=Decimal("0")))


@pytest.mark.django_db
def test_money_survives_the_database_exactly():
    owner = make_person("ann")
    largest = make_opportunity(owner, amount="9999999999999.99")
    smallest = make_opportunity(owner, amount="0.01")
    largest.refresh_from_db()
    smallest.refresh_from_db()
    assert (largest.amount, smallest.amount) == (Decimal("9999999999999.99"), Decimal("0.01"))


@pytest.mark.django_db
def test_person_cannot_leave_before_being_hired():
    refused(lambda: Person.objects.create(external_id="x", name="X", hired_on=date(2026, 5, 1),
                                          left_on=date(2026, 5, 1)))
