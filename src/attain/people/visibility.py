"""The one visibility scope every read goes through: `Model.objects.visible_to(user, as_of)`.

Rules (DESIGN §1): ops, finance and executives see the whole company; a manager sees the people in
their reporting subtree *as of* the date viewed (themselves included); a rep sees only themselves.
A user without a person record sees nothing unless they are a superuser. Records without an owner
are visible only to company-wide roles.
"""

from __future__ import annotations

from collections import defaultdict
from contextvars import ContextVar
from datetime import date
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone


def today() -> date:
    return timezone.localdate()


def lines_valid_on(as_of: date) -> models.QuerySet[Any]:
    """Reporting lines in force on `as_of` (half-open ranges)."""
    from attain.people.models import ReportingLine

    return ReportingLine.objects.filter(valid_from__lte=as_of).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=as_of)
    )


# Within one request (`RememberReportingLines`), the direct reports of each day are read once:
# a manager's page asks for subtrees several times, each a read of every line in force (10,900
# lines, about 18 ms, at 10,000 reps). None outside a request: always read afresh.
_REPORTS_OF_THE_REQUEST: ContextVar[dict[date, dict[int, list[int]]] | None] = ContextVar(
    "reports_of_the_request", default=None)


class RememberReportingLines:
    """Middleware: the reporting lines a page (GET or HEAD) reads are read once for it. A POST
    may change lines (an import run at once, an allocation) and reads them afresh."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        token = _REPORTS_OF_THE_REQUEST.set({})
        try:
            return self.get_response(request)
        finally:
            _REPORTS_OF_THE_REQUEST.reset(token)


def _direct_reports(as_of: date) -> dict[int, list[int]]:
    remembered = _REPORTS_OF_THE_REQUEST.get()
    if remembered is not None and as_of in remembered:
        return remembered[as_of]
    reports: dict[int, list[int]] = defaultdict(list)
    for person_id, manager_id in lines_valid_on(as_of).values_list("person_id", "manager_id"):
        if manager_id is not None:
            reports[manager_id].append(person_id)
    if remembered is not None:
        remembered[as_of] = reports
    return reports


def subtree_ids(root_id: int, as_of: date) -> set[int]:
    """`root_id` and everyone reporting to them, directly or not, on `as_of`."""
    reports = _direct_reports(as_of)
    seen = {root_id}
    frontier = [root_id]
    while frontier:
        next_frontier = []
        for manager_id in frontier:
            for person_id in reports.get(manager_id, ()):
                if person_id not in seen:
                    seen.add(person_id)
                    next_frontier.append(person_id)
        frontier = next_frontier
    return seen


def subtree_spans(root_id: int, start: date, end: date, *, depth: int | None = None
                  ) -> dict[int, list[tuple[date, date]]]:
    """Who was in `root_id`'s subtree on the days of [start, end): per person, the half-open
    day ranges they reported to `root_id` (directly or through at most `depth` managers), as
    the effective-dated reporting lines say; `root_id` itself for the whole range. A manager's
    roll-up credits a booking whose owner is in the subtree on its booking day."""
    from attain.people.models import ReportingLine

    lines = list(ReportingLine.objects.filter(valid_from__lt=end, manager__isnull=False)
                 .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))
                 .values_list("person_id", "manager_id", "valid_from", "valid_to"))
    reports: dict[int, list[tuple[int, date, date]]] = defaultdict(list)
    for person_id, manager_id, valid_from, valid_to in lines:
        reports[manager_id].append((person_id, valid_from, end if valid_to is None else valid_to))
    # level by level down the lines: a report is in the subtree on the days both their line to
    # a member and that member's own days hold (one manager a day: nobody is reached twice)
    found: dict[int, list[tuple[date, date]]] = defaultdict(list)
    found[root_id] = [(start, end)]
    level, steps = {root_id: [(start, end)]}, 0
    while level and (depth is None or steps < depth):
        steps += 1
        below: dict[int, list[tuple[date, date]]] = defaultdict(list)
        for manager_id, ranges in level.items():
            for person_id, valid_from, valid_to in reports.get(manager_id, ()):
                for range_from, range_to in ranges:
                    days = (max(range_from, valid_from), min(range_to, valid_to))
                    if days[0] < days[1]:
                        below[person_id].append(days)
        for person_id, ranges in below.items():
            found[person_id].extend(ranges)
        level = below
    return {person_id: _joined(ranges) for person_id, ranges in found.items()}


def _joined(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Half-open day ranges in order, those that touch or overlap made one."""
    joined: list[tuple[date, date]] = []
    for range_from, range_to in sorted(ranges):
        if joined and range_from <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], range_to))
        else:
            joined.append((range_from, range_to))
    return joined


def visible_person_ids(user: Any, as_of: date | None = None) -> set[int] | None:
    """The ids of the people `user` may see on `as_of`; None means everyone."""
    from attain.people.models import COMPANY_WIDE_ROLES, Person, Role

    if user is None or not user.is_authenticated:
        return set()
    if user.is_superuser:
        return None
    person = Person.objects.filter(user_id=user.pk).only("id", "role").first()
    if person is None:
        return set()
    if person.role in COMPANY_WIDE_ROLES:
        return None
    if person.role == Role.MANAGER:
        return subtree_ids(person.pk, as_of or today())
    return {person.pk}


class VisibleQuerySet(models.QuerySet[Any]):
    """A queryset that knows which field names the owning person (`owner_field`)."""

    owner_field = "owner"

    @classmethod
    def owned_by(cls, owner_field: str) -> models.Manager[Any]:
        """A manager whose querysets filter on `owner_field` (a person FK path, or "id")."""
        queryset_class = type(f"VisibleBy_{owner_field}", (cls,), {"owner_field": owner_field})
        return models.Manager.from_queryset(queryset_class)()

    def visible_to(self, user: Any, as_of: date | None = None) -> VisibleQuerySet:
        person_ids = visible_person_ids(user, as_of)
        if person_ids is None:
            return self
        field = "pk" if self.owner_field == "id" else self.owner_field
        return self.filter(**{f"{field}__in": person_ids})
