"""The CRM router: accounts, opportunities with their stage history, and bookings."""

from datetime import date
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from attain.core.api import DecimalText, Instant, as_of_or_today, caller, found, paginated
from attain.crm import queries
from attain.crm.models import DealType, ForecastCategory, Segment

router = Router(tags=["crm"])

OpportunityOrdering = Literal[  # type: ignore[valid-type]
    tuple(v for field in queries.OPPORTUNITY_ORDERINGS for v in (field, f"-{field}"))
]


class AccountOut(Schema):
    id: int
    external_id: str
    name: str
    domain: str
    industry: str
    segment: str
    country: str
    owner_id: int | None
    owner_name: str | None = None
    created_at: Instant

    @staticmethod
    def resolve_owner_name(account: Any) -> str | None:
        return account.owner.name if account.owner else None


class OpportunityOut(Schema):
    id: int
    external_id: str
    name: str
    account_id: int | None
    account_name: str | None = None
    owner_id: int | None
    owner_name: str | None = None
    amount: DecimalText | None
    currency: str
    stage_id: int
    stage: str = Field(alias="stage.name")
    forecast_category: ForecastCategory
    deal_type: DealType
    source: str
    segment: str
    created_at: Instant
    close_date: date
    is_closed: bool
    is_won: bool
    loss_reason: str

    @staticmethod
    def resolve_account_name(opportunity: Any) -> str | None:
        return opportunity.account.name if opportunity.account else None

    @staticmethod
    def resolve_owner_name(opportunity: Any) -> str | None:
        return opportunity.owner.name if opportunity.owner else None


class StageChangeOut(Schema):
    id: int
    from_stage: str | None = None
    to_stage: str = Field(alias="to_stage.name")
    changed_at: Instant
    amount: DecimalText | None
    close_date: date | None

    @staticmethod
    def resolve_from_stage(change: Any) -> str | None:
        return change.from_stage.name if change.from_stage else None


class OpportunityDetailOut(OpportunityOut):
    stage_history: list[StageChangeOut]

    @staticmethod
    def resolve_stage_history(opportunity: Any) -> list[Any]:
        return list(opportunity.stage_changes.all())


class BookingOut(Schema):
    id: int
    external_id: str
    opportunity_id: int | None
    owner_id: int | None
    owner_name: str | None = None
    team_id: int | None
    product_id: int | None
    product_name: str | None = None
    quantity: DecimalText
    amount: DecimalText
    currency: str
    booked_on: date

    @staticmethod
    def resolve_owner_name(booking: Any) -> str | None:
        return booking.owner.name if booking.owner else None

    @staticmethod
    def resolve_product_name(booking: Any) -> str | None:
        return booking.product.name if booking.product else None


class AccountFilters(Schema):
    owner_id: int | None = None
    segment: Segment | None = None
    q: str | None = Field(None, description="Part of the account name")


class OpportunityFilters(Schema):
    owner_id: int | None = None
    account_id: int | None = None
    stage: str | None = Field(None, description="Stage name")
    is_closed: bool | None = None
    is_won: bool | None = None
    close_date_from: date | None = Field(None, description="Close date on or after")
    close_date_to: date | None = Field(None, description="Close date before (excluded)")
    created_from: date | None = Field(None, description="Created on or after this day")
    created_to: date | None = Field(None, description="Created before this day (excluded)")
    deal_type: DealType | None = None
    source: str | None = None
    segment: Segment | None = None
    q: str | None = Field(None, description="Part of the opportunity name")
    ordering: OpportunityOrdering = Field(  # type: ignore[valid-type]
        "close_date", description="Sort field; a leading '-' sorts descending"
    )


class BookingFilters(Schema):
    owner_id: int | None = None
    opportunity_id: int | None = None
    booked_from: date | None = Field(None, description="Booked on or after")
    booked_to: date | None = Field(None, description="Booked before (excluded)")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217")
    manager_id: int | None = Field(
        None, description="Credited to this manager's roll-up: the owner was the manager or in "
        "their reporting subtree on the booking day")


@router.get("/accounts", response=list[AccountOut], summary="Accounts")
@paginated
def list_accounts(
    request: HttpRequest, filters: Query[AccountFilters], as_of: date | None = None
) -> Any:
    """Accounts owned by people you may see on `as_of` (default today), by name."""
    return queries.accounts(caller(request), as_of_or_today(as_of), **filters.dict())


@router.get("/accounts/{account_id}", response=AccountOut, summary="One account")
def get_account(request: HttpRequest, account_id: int, as_of: date | None = None) -> Any:
    return found(queries.account(caller(request), as_of_or_today(as_of), account_id))


@router.get("/opportunities", response=list[OpportunityOut], summary="Opportunities")
@paginated
def list_opportunities(
    request: HttpRequest, filters: Query[OpportunityFilters], as_of: date | None = None
) -> Any:
    """Opportunities owned by people you may see on `as_of`. Date ranges are half-open: a row
    exactly on a `_to` date is excluded."""
    return queries.opportunities(caller(request), as_of_or_today(as_of), **filters.dict())


@router.get("/opportunities/{opportunity_id}", response=OpportunityDetailOut,
            summary="One opportunity with its stage history")
def get_opportunity(request: HttpRequest, opportunity_id: int, as_of: date | None = None) -> Any:
    return found(queries.opportunity(caller(request), as_of_or_today(as_of), opportunity_id))


@router.get("/opportunities/{opportunity_id}/stage-history", response=list[StageChangeOut],
            summary="Stage history of one opportunity")
@paginated
def list_stage_history(
    request: HttpRequest, opportunity_id: int, as_of: date | None = None
) -> Any:
    return found(queries.opportunity_stage_history(
        caller(request), as_of_or_today(as_of), opportunity_id))


@router.get("/bookings", response=list[BookingOut], summary="Bookings (order lines)")
@paginated
def list_bookings(
    request: HttpRequest, filters: Query[BookingFilters], as_of: date | None = None
) -> Any:
    """Bookings owned by people you may see on `as_of`; `booked_to` is excluded."""
    return queries.bookings(caller(request), as_of_or_today(as_of), **filters.dict())


@router.get("/bookings/{booking_id}", response=BookingOut, summary="One booking")
def get_booking(request: HttpRequest, booking_id: int, as_of: date | None = None) -> Any:
    return found(queries.booking(caller(request), as_of_or_today(as_of), booking_id))
