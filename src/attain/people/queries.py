"""Reads of people, teams and reporting lines for pages and the API, through the visibility scope.

A person's manager and team are those of the reporting line in force on `as_of`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from attain.people.models import Person, Team
from attain.people.visibility import lines_valid_on, visible_person_ids


def sees_whole_company(user: Any) -> bool:
    """True for ops, finance, executives and superusers: the roles that see every record."""
    return visible_person_ids(user) is None


def _with_current_line(rows: QuerySet[Person], as_of: date) -> QuerySet[Person]:
    line = lines_valid_on(as_of).filter(person=OuterRef("pk")).order_by("-valid_from")
    return rows.annotate(
        manager_id=Subquery(line.values("manager_id")[:1]),
        manager_name=Subquery(line.values("manager__name")[:1]),
        team_id=Subquery(line.values("team_id")[:1]),
        team_name=Subquery(line.values("team__name")[:1]),
    )


def people(
    user: Any, as_of: date, *, role: str | None = None, team_id: int | None = None,
    q: str | None = None,
) -> QuerySet[Person]:
    """The people `user` may see on `as_of`, by name, each annotated with `manager_id`,
    `manager_name`, `team_id` and `team_name` of their reporting line on `as_of`."""
    rows = _with_current_line(Person.objects.visible_to(user, as_of), as_of)
    if role:
        rows = rows.filter(role=role)
    if team_id is not None:
        in_team = lines_valid_on(as_of).filter(team_id=team_id).values("person_id")
        rows = rows.filter(pk__in=in_team)
    if q:
        rows = rows.filter(name__icontains=q)
    return rows.order_by("name", "id")


def person(user: Any, as_of: date, person_id: int) -> Person | None:
    """One person with their line on `as_of`, or None when missing or not visible to `user`."""
    return people(user, as_of).filter(pk=person_id).first()


def teams(user: Any, as_of: date) -> QuerySet[Team]:
    """Every team for company-wide roles; for others, the teams of the people they may see,
    by their reporting lines on `as_of`."""
    rows = Team.objects.select_related("region")
    if not sees_whole_company(user):
        visible = Person.objects.visible_to(user, as_of).values("pk")
        rows = rows.filter(
            pk__in=lines_valid_on(as_of).filter(person__in=visible).values("team_id")
        )
    return rows.order_by("name", "id")
