"""Fiscal periods: half-open [start, end) date ranges of a configurable fiscal calendar.

A fiscal year starts on the first day of `start_month` and is named after the calendar year in
which it ends (a year starting 1 Feb 2026 is FY2027; with start_month=1 FY2026 is calendar 2026).
Quarters and months follow the fiscal year; weeks start on `week_start` (0 = Monday).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PeriodKind(StrEnum):
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"
    WEEK = "week"


@dataclass(frozen=True, slots=True)
class FiscalSpan:
    """One period: `start` is included, `end` is excluded."""

    kind: PeriodKind
    start: date
    end: date
    label: str

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


def add_months(day: date, months: int) -> date:
    """First-of-month arithmetic: add_months(date(2026, 11, 1), 3) == date(2027, 2, 1)."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class FiscalCalendarRules:
    start_month: int = 1
    week_start: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.start_month <= 12:
            raise ValueError(f"fiscal year start month must be 1..12, got {self.start_month}")
        if not 0 <= self.week_start <= 6:
            raise ValueError(f"week start must be 0 (Monday)..6 (Sunday), got {self.week_start}")

    def year_start(self, day: date) -> date:
        year = day.year if day.month >= self.start_month else day.year - 1
        return date(year, self.start_month, 1)

    def fiscal_year(self, day: date) -> int:
        start = self.year_start(day)
        return start.year if self.start_month == 1 else start.year + 1

    def span(self, kind: PeriodKind | str, day: date) -> FiscalSpan:
        """The period of `kind` that contains `day`."""
        kind = PeriodKind(kind)
        fy = self.fiscal_year(day)
        year_start = self.year_start(day)
        if kind is PeriodKind.YEAR:
            return FiscalSpan(kind, year_start, add_months(year_start, 12), f"FY{fy}")
        month_index = (day.year - year_start.year) * 12 + day.month - year_start.month
        if kind is PeriodKind.QUARTER:
            quarter = month_index // 3
            start = add_months(year_start, quarter * 3)
            return FiscalSpan(kind, start, add_months(start, 3), f"FY{fy}-Q{quarter + 1}")
        if kind is PeriodKind.MONTH:
            start = date(day.year, day.month, 1)
            return FiscalSpan(kind, start, add_months(start, 1), start.strftime("%Y-%m"))
        start = day - timedelta(days=(day.weekday() - self.week_start) % 7)
        return FiscalSpan(kind, start, start + timedelta(days=7), f"W{start.isoformat()}")

    def spans(self, kind: PeriodKind | str, start: date, end: date) -> Iterator[FiscalSpan]:
        """Every period of `kind` that overlaps [start, end), in order."""
        current = self.span(kind, start)
        while current.start < end:
            yield current
            current = self.span(kind, current.end)
