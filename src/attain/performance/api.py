"""The performance router: quotas and the bookings-by-person-period results of the latest run."""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from attain.core.api import DecimalText, PeriodOut, as_of_or_today, caller, found, paginated
from attain.core.periods import PeriodKind
from attain.performance import queries

router = Router(tags=["performance"])


class QuotaOut(Schema):
    id: int
    person_id: int | None
    person_name: str | None = None
    team_id: int | None
    team_name: str | None = None
    period: PeriodOut
    kind: str
    amount: DecimalText
    currency: str

    @staticmethod
    def resolve_person_name(quota: Any) -> str | None:
        return quota.person.name if quota.person else None

    @staticmethod
    def resolve_team_name(quota: Any) -> str | None:
        return quota.team.name if quota.team else None


class PersonPeriodBookingsOut(Schema):
    run_id: int
    person_id: int
    person_name: str = Field(alias="person.name")
    period: PeriodOut
    amount: DecimalText = Field(description="Bookings in the company currency")
    currency: str
    booking_count: int


class QuotaFilters(Schema):
    person_id: int | None = None
    period_id: int | None = None
    period_kind: PeriodKind | None = None


class ResultFilters(QuotaFilters):
    run_id: int | None = Field(None, description="A succeeded run; default the latest")


@router.get("/quotas", response=list[QuotaOut], summary="Quotas")
@paginated
def list_quotas(
    request: HttpRequest, filters: Query[QuotaFilters], as_of: date | None = None
) -> Any:
    """Quotas of the people you may see on `as_of`; team quotas for company-wide roles."""
    return queries.quotas(caller(request), as_of_or_today(as_of), **filters.dict())


@router.get("/bookings-by-person-period", response=list[PersonPeriodBookingsOut],
            summary="Bookings per person and period (calculated)")
@paginated
def list_person_period_bookings(
    request: HttpRequest, filters: Query[ResultFilters], as_of: date | None = None
) -> Any:
    """Results of the latest succeeded `bookings_by_person_period` run (or `run_id`), for the
    people you may see on `as_of`. An unknown or unfinished `run_id` gives 404."""
    params = filters.dict()
    run_id = params.pop("run_id")
    run = queries.bookings_results_run(run_id)
    if run_id is not None:
        found(run)
    return queries.person_period_bookings(caller(request), as_of_or_today(as_of), run, **params)
