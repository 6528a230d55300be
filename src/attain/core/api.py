"""The REST API's building blocks every app's router uses (money and time types, pagination, the
caller and `as_of`), and the router for periods and calculation runs.

The API's conventions, shared by every endpoint:
- money is a string decimal with a separate currency field, never a float: `"1200.50"`, `"EUR"`;
- instants are ISO 8601 with the company's offset; business dates are `YYYY-MM-DD`;
- `as_of` (default today) is the date whose reporting lines decide what the caller may see;
- a record the caller may not see answers 404 with the same body as one that does not exist.
"""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import PlainSerializer, WithJsonSchema

from attain.core.models import CalcRun
from attain.core.periods import PeriodKind
from attain.core.queries import calc_runs, periods

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _decimal_text(value: Decimal) -> str:
    return str(value)


def _instant_text(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


# An exact decimal, written as a JSON string ("1200.50") so no client reads it as a float.
DecimalText = Annotated[
    Decimal,
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["1200.50"]}),
]
# An aware datetime, written in the company's time zone with its offset.
Instant = Annotated[
    datetime,
    PlainSerializer(_instant_text, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "examples": ["2026-11-23T09:30:00+00:00"]}),
]


class Pagination(LimitOffsetPagination):
    """`limit` (default 100, at most 1000) and `offset`; the answer has `items` and `count`."""

    class Input(Schema):
        limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE,
                           description=f"Rows per page, 1..{MAX_PAGE_SIZE}")
        offset: int = Field(0, ge=0, description="Rows to skip")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_PAGE_SIZE, **kwargs)


def paginated(func: Callable[..., Any]) -> Callable[..., Any]:
    """`@paginate(Pagination)` for a list endpoint returning an ordered queryset."""
    wrapped: Callable[..., Any] = paginate(Pagination)(func)
    return wrapped


def caller(request: HttpRequest) -> Any:
    """The user the request authenticated as (token or session); set by the API's auth."""
    return request.auth_user  # type: ignore[attr-defined]


def as_of_or_today(as_of: date | None) -> date:
    return as_of if as_of is not None else timezone.localdate()


def found(instance: Any) -> Any:
    """`instance`, or a 404 whose body is the same whether the row is missing or not visible."""
    if instance is None:
        raise Http404
    return instance


class PeriodOut(Schema):
    id: int
    kind: str
    label: str
    start: date
    end: date = Field(description="Excluded: periods are half-open [start, end)")


class CalcRunOut(Schema):
    id: int
    kind: str
    status: str
    requested_by: str | None = Field(None, description="Username of who asked")
    created_at: Instant
    started_at: Instant | None
    finished_at: Instant | None
    params: dict[str, Any]
    inputs_hash: str
    calc_version: str
    backend: str
    timings: dict[str, Any]
    input_rows: int
    output_rows: int
    error: str

    @staticmethod
    def resolve_requested_by(run: CalcRun) -> str | None:
        return run.requested_by.get_username() if run.requested_by else None


def build_router(may_read_runs: Callable[[Any], bool]) -> Router:
    """The router for periods and runs. Who may read runs is a people rule (company-wide roles),
    which core cannot import, so the API assembly passes it in as `may_read_runs(user)`."""
    router = Router(tags=["periods & runs"])

    def require_run_reader(request: HttpRequest) -> None:
        if not may_read_runs(caller(request)):
            raise HttpError(403, "Calculation runs are visible to ops, finance and executives.")

    @router.get("/periods", response=list[PeriodOut], summary="Fiscal periods")
    @paginated
    def list_periods(
        request: HttpRequest, kind: PeriodKind | None = None, contains: date | None = None
    ) -> Any:
        """Periods of a `kind`, or those containing the date `contains` (start ≤ date < end)."""
        return periods(kind=kind, contains=contains)

    @router.get("/runs", response=list[CalcRunOut], summary="Calculation runs")
    @paginated
    def list_runs(
        request: HttpRequest, kind: str | None = None, status: CalcRun.Status | None = None
    ) -> Any:
        """Runs, newest first. Ops, finance and executives only (403 for others)."""
        require_run_reader(request)
        return calc_runs(kind=kind, status=status)

    @router.get("/runs/{run_id}", response=CalcRunOut, summary="One calculation run")
    def get_run(request: HttpRequest, run_id: int) -> Any:
        require_run_reader(request)
        return found(calc_runs().filter(pk=run_id).first())

    return router
