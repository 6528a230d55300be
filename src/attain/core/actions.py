"""Writes of core records: the fiscal calendar row and the fiscal periods built from it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction

from attain.core.audit import record_event
from attain.core.models import FiscalCalendar, Period
from attain.core.periods import PeriodKind

ALL_PERIOD_KINDS: tuple[PeriodKind, ...] = tuple(PeriodKind)


def fiscal_calendar() -> FiscalCalendar:
    """The company's fiscal calendar (the row with pk=1), created with defaults if missing."""
    calendar, _ = FiscalCalendar.objects.get_or_create(
        pk=1, defaults={"fiscal_year_start_month": 1, "week_start_day": 0}
    )
    return calendar


@transaction.atomic
def ensure_periods(
    start: date,
    end: date,
    kinds: Iterable[PeriodKind | str] = ALL_PERIOD_KINDS,
    *,
    actor: Any = None,
) -> list[Period]:
    """Every period of `kinds` that overlaps [start, end), creating the missing ones in bulk.

    Idempotent: existing periods (same kind and start) are kept as they are. Returns the periods
    ordered by start and kind. For example, with a calendar fiscal year,
    `ensure_periods(date(2026, 11, 15), date(2027, 1, 1), ["quarter"])` gives FY2026-Q4 only.
    """
    if start >= end:
        raise ValueError(f"period range must have start before end, got {start} .. {end}")
    rules = fiscal_calendar().rules
    kind_values = [PeriodKind(kind) for kind in kinds]
    wanted = [span for kind in kind_values for span in rules.spans(kind, start, end)]
    if not wanted:
        return []
    existing = set(
        Period.objects.filter(
            kind__in=[k.value for k in kind_values],
            start__gte=min(span.start for span in wanted),
            start__lte=max(span.start for span in wanted),
        ).values_list("kind", "start")
    )
    missing = [
        Period(kind=span.kind.value, start=span.start, end=span.end, label=span.label)
        for span in wanted
        if (span.kind.value, span.start) not in existing
    ]
    if missing:
        Period.objects.bulk_create(missing, batch_size=1000)
        record_event(
            actor, "ensure_periods", object_type="core.period",
            after={"start": start.isoformat(), "end": end.isoformat(),
                   "kinds": [k.value for k in kind_values], "created": len(missing)},
        )
    keys = {(span.kind.value, span.start) for span in wanted}
    rows = Period.objects.filter(
        kind__in=[k.value for k in kind_values],
        start__gte=min(span.start for span in wanted),
        start__lte=max(span.start for span in wanted),
    ).order_by("start", "kind")
    return [row for row in rows if (row.kind, row.start) in keys]
