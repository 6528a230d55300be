"""`ensure_periods`: bulk, idempotent creation of fiscal periods from the fiscal calendar."""

from collections import Counter
from datetime import date

import pytest

from attain.core.actions import ensure_periods
from attain.core.models import AuditEvent, FiscalCalendar, Period

pytestmark = pytest.mark.django_db


def test_a_calendar_year_gets_one_year_four_quarters_twelve_months_and_its_weeks():
    periods = ensure_periods(date(2026, 1, 1), date(2027, 1, 1))
    assert FiscalCalendar.objects.get(pk=1).fiscal_year_start_month == 1
    assert Counter(p.kind for p in periods) == {"year": 1, "quarter": 4, "month": 12, "week": 53}
    year = next(p for p in periods if p.kind == "year")
    assert (year.start, year.end, year.label) == (date(2026, 1, 1), date(2027, 1, 1), "FY2026")
    weeks = [p for p in periods if p.kind == "week"]
    assert (weeks[0].start, weeks[-1].end) == (date(2025, 12, 29), date(2027, 1, 4))
    assert Period.objects.count() == 70


def test_ensuring_again_creates_nothing_and_extends_only_what_is_missing():
    ensure_periods(date(2026, 1, 1), date(2026, 7, 1), ["quarter", "month"])
    ids = set(Period.objects.values_list("id", flat=True))
    again = ensure_periods(date(2026, 1, 1), date(2026, 7, 1), ["quarter", "month"])
    assert {p.pk for p in again} == ids
    assert AuditEvent.objects.filter(action="ensure_periods").count() == 1
    longer = ensure_periods(date(2026, 4, 15), date(2026, 10, 1), ["quarter"])
    assert [p.label for p in longer] == ["FY2026-Q2", "FY2026-Q3"]
    assert Period.objects.filter(kind="quarter").count() == 3


def test_periods_follow_a_fiscal_year_that_starts_in_february():
    FiscalCalendar.objects.create(pk=1, fiscal_year_start_month=2)
    periods = ensure_periods(date(2026, 11, 20), date(2026, 11, 21), ["year", "quarter"])
    assert [(p.label, p.start, p.end) for p in periods] == [
        ("FY2027", date(2026, 2, 1), date(2027, 2, 1)),
        ("FY2027-Q4", date(2026, 11, 1), date(2027, 2, 1)),
    ]


def test_an_empty_range_is_refused():
    with pytest.raises(ValueError, match="start before end"):
        ensure_periods(date(2026, 1, 1), date(2026, 1, 1))
