"""Reads of core records for pages and the API: fiscal periods and calculation runs.

Periods are not personal (every signed-in user sees them); runs are shown only to callers the
entry point has checked (company-wide roles), because core cannot know roles.
"""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from attain.core.models import CalcRun, Period


def periods(*, kind: str | None = None, contains: date | None = None) -> QuerySet[Period]:
    """Periods of `kind`, or those containing `contains` (start ≤ day < end), ordered by start."""
    rows = Period.objects.all()
    if kind:
        rows = rows.filter(kind=kind)
    if contains is not None:
        rows = rows.filter(start__lte=contains, end__gt=contains)
    return rows.order_by("start", "kind", "id")


def calc_runs(*, kind: str | None = None, status: str | None = None) -> QuerySet[CalcRun]:
    """Calculation runs, newest first."""
    rows = CalcRun.objects.select_related("requested_by")
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")
