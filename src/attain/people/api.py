"""The people router: people with their manager and team on `as_of`, and teams."""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from attain.core.api import as_of_or_today, caller, found, paginated
from attain.people import queries
from attain.people.models import Role

router = Router(tags=["people"])


class PersonOut(Schema):
    id: int
    external_id: str
    name: str
    email: str
    role: str
    title: str
    currency: str
    hired_on: date | None
    left_on: date | None = Field(description="First day no longer employed")
    manager_id: int | None = Field(description="Manager on `as_of`")
    manager_name: str | None
    team_id: int | None = Field(description="Team on `as_of`")
    team_name: str | None


class TeamOut(Schema):
    id: int
    name: str
    segment: str
    region: str | None

    @staticmethod
    def resolve_region(team: Any) -> str | None:
        return team.region.name if team.region else None


@router.get("/people", response=list[PersonOut], summary="People")
@paginated
def list_people(
    request: HttpRequest, as_of: date | None = None, role: Role | None = None,
    team_id: int | None = None, q: str | None = None,
) -> Any:
    """The people you may see on `as_of` (default today), by name; `q` matches the name."""
    return queries.people(caller(request), as_of_or_today(as_of), role=role, team_id=team_id, q=q)


@router.get("/people/{person_id}", response=PersonOut, summary="One person")
def get_person(request: HttpRequest, person_id: int, as_of: date | None = None) -> Any:
    return found(queries.person(caller(request), as_of_or_today(as_of), person_id))


@router.get("/teams", response=list[TeamOut], summary="Teams")
@paginated
def list_teams(request: HttpRequest, as_of: date | None = None) -> Any:
    """All teams for company-wide roles; otherwise the teams of the people you may see."""
    return queries.teams(caller(request), as_of_or_today(as_of))
