"""The performance router: quotas and their versions, the bookings-by-person-period results and
the performance run's attainment, comparison and leaderboards, with the pages' visibility."""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from attain.core.api import DecimalText, PeriodOut, as_of_or_today, caller, found, paginated
from attain.core.periods import PeriodKind
from attain.people.models import Person, Role
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


# --- the performance run: attainment, comparison, leaderboards, quota history -----------------


class PersonPerformanceOut(Schema):
    run_id: int
    person_id: int
    person_name: str = Field(alias="person.name")
    team_id: int | None
    team_name: str | None = None
    period: PeriodOut
    currency: str
    quota: DecimalText | None
    bookings: DecimalText
    booking_count: int
    attainment_pct: DecimalText | None = Field(description="Bookings ÷ quota, percent")
    expected_to_date: DecimalText | None = Field(
        description="Quota * days elapsed (today included) ÷ days of the period")
    pace_pct: DecimalText | None = Field(description="Bookings ÷ expected to date, percent")
    won_count: int
    lost_count: int
    win_rate_pct: DecimalText | None
    won_amount: DecimalText
    avg_deal_size: DecimalText | None
    avg_cycle_days: DecimalText | None
    pipeline_created: DecimalText
    pipeline_created_count: int
    open_pipeline: DecimalText
    open_count: int
    coverage: DecimalText | None = Field(description="Open pipeline ÷ quota still to book")

    @staticmethod
    def resolve_team_name(row: Any) -> str | None:
        return row.team.name if row.team else None


class TeamPerformanceOut(Schema):
    run_id: int
    team_id: int
    team_name: str = Field(alias="team.name")
    period: PeriodOut
    currency: str
    members: int
    quota: DecimalText | None
    quota_source: str
    bookings: DecimalText
    attainment_pct: DecimalText | None
    pace_pct: DecimalText | None
    win_rate_pct: DecimalText | None
    avg_deal_size: DecimalText | None
    avg_cycle_days: DecimalText | None
    pipeline_created: DecimalText
    open_pipeline: DecimalText
    coverage: DecimalText | None


class LeaderboardEntryOut(Schema):
    rank: int
    previous_rank: int | None
    movement: int | None
    person_id: int | None = Field(None, description="Hidden for anonymised entries")
    name: str
    team: str | None
    value: DecimalText


class ComparisonCellOut(Schema):
    measure: str
    value: DecimalText | None
    team_median: DecimalText | None
    percentile: int | None


class ComparisonRowOut(Schema):
    person_id: int
    name: str
    measures: list[ComparisonCellOut]
    stage_conversion: list[ComparisonCellOut]
    monthly_bookings: list[DecimalText]


class QuotaVersionOut(Schema):
    id: int
    valid_from: date
    amount: DecimalText
    currency: str
    source: str
    method: str
    reason: str
    recorded_by: str | None = None

    @staticmethod
    def resolve_recorded_by(version: Any) -> str | None:
        return version.recorded_by.get_username() if version.recorded_by else None


class PeriodFilter(Schema):
    period_id: int = Field(description="A stored fiscal period")
    team_id: int | None = None
    run_id: int | None = Field(None, description="A succeeded performance run; default latest")


def _run_and_period(filters: PeriodFilter) -> tuple[Any, Any]:
    run = queries.performance_run(filters.run_id)
    if filters.run_id is not None:
        found(run)
    period = found(queries.Period.objects.filter(pk=filters.period_id).first())
    return run, period


@router.get("/performance/people", response=list[PersonPerformanceOut],
            summary="Attainment, pacing and rep measures per person (calculated)")
@paginated
def list_person_performance(request: HttpRequest, filters: Query[PeriodFilter],
                            as_of: date | None = None) -> Any:
    """Rows of the latest performance run for `period_id` of the people you may see on
    `as_of` (one team's members with `team_id`), by attainment."""
    run, period = _run_and_period(filters)
    return queries.person_performance(caller(request), as_of_or_today(as_of), run, period,
                                      team_id=filters.team_id)


@router.get("/performance/people/{person_id}", response=PersonPerformanceOut,
            summary="One person's performance in a period")
def get_person_performance(request: HttpRequest, person_id: int, period_id: int,
                           as_of: date | None = None) -> Any:
    """404 for a person you may not see, exactly as for one who does not exist."""
    run = queries.latest_performance_run()
    period = found(queries.Period.objects.filter(pk=period_id).first())
    return found(queries.person_performance_row(caller(request), as_of_or_today(as_of), run,
                                                period, person_id))


@router.get("/performance/teams", response=list[TeamPerformanceOut],
            summary="Team figures (calculated)")
@paginated
def list_team_performance(request: HttpRequest, filters: Query[PeriodFilter],
                          as_of: date | None = None) -> Any:
    run, period = _run_and_period(filters)
    return queries.team_performance(caller(request), as_of_or_today(as_of), run, period)


@router.get("/performance/comparison", response=list[ComparisonRowOut],
            summary="Reps side by side against the team median")
@paginated
def list_comparison(request: HttpRequest, filters: Query[PeriodFilter],
                    as_of: date | None = None) -> Any:
    """Each rep you may see with every measure, the team's median and their percentile (a rep
    gets only their own row, against the whole team's median)."""
    run, period = _run_and_period(filters)
    result = queries.comparison(caller(request), as_of_or_today(as_of), run, period,
                                filters.team_id)

    def cells(items: Any) -> list[dict[str, Any]]:
        return [{"measure": c.measure.key, "value": c.value, "team_median": c.median,
                 "percentile": c.percentile} for c in items]

    return [{"person_id": r.row.person_id, "name": r.row.person.name,
             "measures": cells(r.cells), "stage_conversion": cells(r.conversions),
             "monthly_bookings": r.sparkline} for r in result["rows"]]


@router.get("/performance/leaderboard", response=list[LeaderboardEntryOut],
            summary="Leaderboard of reps on a metric")
@paginated
def list_leaderboard(request: HttpRequest, filters: Query[PeriodFilter],
                     metric: str = "bookings", as_of: date | None = None) -> Any:
    """Ranks company-wide (or in `team_id`) with rank movement since the previous period.
    Metrics: bookings, attainment_pct, won_count, win_rate_pct, avg_deal_size,
    pipeline_created. Reps see other reps anonymised when the company chose so."""
    if metric not in queries.LEADERBOARD_METRIC_BY_KEY:
        raise HttpError(422, f"metric={metric!r} is not accepted; use one of "
                             f"{', '.join(queries.LEADERBOARD_METRIC_BY_KEY)}.")
    run, period = _run_and_period(filters)
    user = caller(request)
    person = Person.objects.filter(user_id=user.pk).only("id", "role").first()
    is_rep = person is not None and person.role == Role.REP
    anonymise = is_rep and queries.leaderboard_names() == "anonymised"
    entries = queries.leaderboard(user, as_of_or_today(as_of), run, period, metric,
                                  filters.team_id, viewer_person_id=person.pk if person else None,
                                  names_for_everyone=not anonymise)
    return [{"rank": e.rank, "previous_rank": e.previous_rank, "movement": e.movement,
             "person_id": None if e.anonymised else e.person_id, "name": e.name,
             "team": None if e.anonymised else e.team, "value": e.value} for e in entries]


@router.get("/quotas/{quota_id}/versions", response=list[QuotaVersionOut],
            summary="A quota's effective-dated versions")
def list_quota_versions(request: HttpRequest, quota_id: int, as_of: date | None = None) -> Any:
    found_quota = found(queries.quota_history(caller(request), as_of_or_today(as_of), quota_id))
    return found_quota[1]


class BookingsBreakdownOut(Schema):
    value: str = Field(description='The region or category ("" = unknown)')
    amount: DecimalText = Field(description="Bookings in the company currency, exact sum "
                                            "rounded once to cents")
    booking_count: int
    share_pct: DecimalText | None = Field(description="Of the period's total, in percent")
    currency: str


@router.get("/performance/bookings-breakdown", response=list[BookingsBreakdownOut],
            summary="Company bookings of a period by region or category (calculated)")
@paginated
def list_bookings_breakdown(request: HttpRequest, filters: Query[PeriodFilter],
                            dimension: str = "region") -> Any:
    """Every order line booked in `period_id` (owned or not), by `dimension` ("region" or
    "category"), largest first, from the latest performance run (or `run_id`). Company-wide
    roles only: anyone else gets an empty list, as on the page."""
    known = dict(queries.BREAKDOWN_DIMENSIONS)
    if dimension not in known:
        raise HttpError(422, f"dimension={dimension!r} is not accepted; use one of "
                             f"{', '.join(known)}.")
    run, period = _run_and_period(filters)
    return queries.bookings_breakdown(caller(request), run, period, dimension)[1]
