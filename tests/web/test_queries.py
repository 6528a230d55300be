"""Performance reads take each period's own stored row and only the latest succeeded run."""

from datetime import date
from decimal import Decimal

import pytest

from attain.core.models import CalcRun, Period
from attain.people.models import Role
from attain.performance import queries
from attain.performance.models import PersonPeriodBookings, Quota
from tests.factories import make_person


def period(kind, start, end, label):
    return Period.objects.create(kind=kind, start=start, end=end, label=label)


@pytest.mark.django_db
def test_a_quarter_figure_is_its_own_row_not_the_sum_of_rounded_months():
    ann = make_person("ann", Role.REP, login=True)
    quarter = period("quarter", date(2026, 1, 1), date(2026, 4, 1), "FY2026-Q1")
    months = [period("month", date(2026, m, 1), date(2026, m + 1, 1), f"2026-0{m}")
              for m in (1, 2, 3)]
    run = CalcRun.objects.create(kind=queries.BOOKINGS_RUN_KIND, status="succeeded")
    CalcRun.objects.create(kind=queries.BOOKINGS_RUN_KIND, status="failed")
    for month in months:  # three exact amounts of 33.3366… each round to 33.34
        PersonPeriodBookings.objects.create(run=run, person=ann, period=month,
                                            amount=Decimal("33.34"), currency="USD",
                                            booking_count=1)
    PersonPeriodBookings.objects.create(run=run, person=ann, period=quarter,
                                        amount=Decimal("100.01"), currency="USD",
                                        booking_count=3)
    Quota.objects.create(person=ann, period=quarter, amount=Decimal("400.00"), currency="USD")

    figures = queries.person_attainment(ann.user, date(2026, 2, 1), ann.pk, quarter)

    assert (figures.bookings, figures.booking_count, figures.quota) == (
        Decimal("100.01"), 3, Decimal("400.00"))
    assert figures.pct == Decimal("25.0")  # 100.01 / 400.00 = 25.0025 %
    trend = queries.monthly_bookings(ann.user, date(2026, 2, 1), date(2026, 1, 1),
                                     date(2026, 4, 1))
    assert [m.amount for m in trend] == [Decimal("33.34")] * 3


def test_attainment_pct_rounds_half_up_to_a_tenth():
    assert queries.attainment_pct(Decimal("1500.50"), Decimal("3000.00")) == Decimal("50.0")
    assert queries.attainment_pct(Decimal("4440.50"), Decimal("6000.00")) == Decimal("74.0")
    assert queries.attainment_pct(Decimal("1"), Decimal("0")) is None
    assert queries.attainment_pct(Decimal("1"), None) is None
