from datetime import date
from itertools import pairwise

import pytest

from attain.core.periods import FiscalCalendarRules, PeriodKind


def test_calendar_year_quarters_are_half_open():
    rules = FiscalCalendarRules(start_month=1)
    q = rules.span(PeriodKind.QUARTER, date(2026, 3, 31))
    assert (q.start, q.end, q.label) == (date(2026, 1, 1), date(2026, 4, 1), "FY2026-Q1")
    assert date(2026, 4, 1) not in q
    assert rules.span("quarter", date(2026, 4, 1)).label == "FY2026-Q2"


def test_fiscal_year_starting_in_february_is_named_by_its_end_year():
    rules = FiscalCalendarRules(start_month=2)
    year = rules.span("year", date(2026, 2, 1))
    assert (year.start, year.end, year.label) == (date(2026, 2, 1), date(2027, 2, 1), "FY2027")
    assert rules.span("year", date(2026, 1, 31)).label == "FY2026"
    q4 = rules.span("quarter", date(2027, 1, 15))
    assert (q4.start, q4.end, q4.label) == (date(2026, 11, 1), date(2027, 2, 1), "FY2027-Q4")


def test_weeks_start_on_the_configured_day():
    monday = FiscalCalendarRules(week_start=0).span("week", date(2026, 11, 23))
    sunday = FiscalCalendarRules(week_start=6).span("week", date(2026, 11, 23))
    assert (monday.start, monday.end) == (date(2026, 11, 23), date(2026, 11, 30))
    assert (sunday.start, sunday.end) == (date(2026, 11, 22), date(2026, 11, 29))


def test_spans_cover_a_range_without_gaps():
    months = list(FiscalCalendarRules().spans("month", date(2026, 11, 15), date(2027, 2, 1)))
    assert [m.label for m in months] == ["2026-11", "2026-12", "2027-01"]
    assert all(a.end == b.start for a, b in pairwise(months))


def test_bad_start_month_is_refused():
    with pytest.raises(ValueError, match=r"start month must be 1\.\.12, got 13"):
        FiscalCalendarRules(start_month=13)
