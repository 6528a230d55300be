"""The forecasting router: stored forecast runs, series with their values and intervals,
pipeline forecasts, deal probabilities, forecast calls (read and submit), and queuing a run.
Same visibility as the pages: what you may not see answers 404."""


from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from attain.core.api import (
    DecimalText,
    Instant,
    PeriodOut,
    as_of_or_today,
    caller,
    found,
    paginated,
)
from attain.forecasting import actions, queries
from attain.forecasting.models import Measure
from attain.people.queries import sees_whole_company

router = Router(tags=["forecasting"])


class ForecastRunOut(Schema):
    id: int
    calc_run_id: int
    status: str = Field(alias="calc_run.status")
    as_of: date
    period_kind: str
    horizon: int
    history_start: date | None
    history_end: date | None
    reconciliation: str
    inputs_hash: str = Field(alias="calc_run.inputs_hash")
    finished_at: Instant | None = Field(alias="calc_run.finished_at")
    currency: str


class ValueOut(Schema):
    period: PeriodOut
    is_forecast: bool
    point: DecimalText
    low_80: DecimalText | None
    high_80: DecimalText | None
    low_95: DecimalText | None
    high_95: DecimalText | None


class SeriesOut(Schema):
    id: int
    run_id: int
    measure: str = Field(description="amount (company currency) or quantity (units)")
    key: str
    level: str
    label: str
    team_id: int | None
    person_id: int | None
    method: str
    members: list[str]
    reason: str
    backtest_mase: dict[str, float]


class SeriesDetailOut(SeriesOut):
    values: list[ValueOut] = Field(alias="stored_values")


class PipelineOut(Schema):
    period: PeriodOut
    person_id: int | None
    closed_won: DecimalText
    open_expected: DecimalText
    created_expected: DecimalText
    total: DecimalText
    crm_baseline: DecimalText
    open_amount: DecimalText
    open_deals: int
    currency: str


class CallOut(Schema):
    id: int
    person_id: int
    person_name: str = Field(alias="person.name")
    period: PeriodOut
    category: str
    amount: DecimalText
    currency: str
    note: str
    submitted_at: Instant
    submitted_by_person_id: int | None
    adjusts_id: int | None


class AccuracyOut(Schema):
    source: str = Field(description="statistical, pipeline, crm stage probabilities, or the "
                                    "person's name (their commit call)")
    person_id: int | None
    period: PeriodOut
    week_of: date = Field(alias="made_on", description="The forecast as it stood that day")
    forecast: DecimalText
    actual: DecimalText
    error: DecimalText = Field(description="forecast - actual: positive = optimistic")
    low_80: DecimalText | None
    high_80: DecimalText | None
    low_95: DecimalText | None
    high_95: DecimalText | None


class AccuracySummaryOut(Schema):
    source: str
    forecasts: int
    mape: DecimalText | None
    wape: DecimalText | None
    bias: DecimalText | None
    coverage_80: DecimalText | None
    coverage_95: DecimalText | None
    persistently_optimistic: bool


class AccuracyReportOut(Schema):
    leaderboard: list[AccuracySummaryOut] = Field(description="Most accurate (WAPE) first")
    rows: list[AccuracyOut]


class CallIn(Schema):
    person_id: int
    period_id: int
    category: str
    amount: str = Field(description="Decimal text, e.g. \"125000.00\"")
    note: str = ""
    adjusts_id: int | None = None


class ErrorOut(Schema):
    detail: str
    field: str
    value: Any = None


def _run(run_id: int | None) -> Any:
    run = queries.run_by_id(run_id)
    if run_id is not None:
        found(run)
    return run


@router.get("/forecast-runs", response=list[ForecastRunOut], summary="Forecast runs")
@paginated
def list_runs(request: HttpRequest) -> Any:
    """Every forecast run, newest first (company-wide roles; others get an empty list)."""
    if not sees_whole_company(caller(request)):
        return []
    return queries.runs(limit=1000)


@router.get("/forecast-series", response=list[SeriesOut], summary="Forecast series")
@paginated
def list_series(request: HttpRequest, run_id: int | None = None, level: str | None = None,
                measure: str = "amount", as_of: date | None = None) -> Any:
    """The series of the latest succeeded run (or `run_id`) you may see, of `measure`:
    `amount` (bookings in the company currency, the default) or `quantity` (units)."""
    if measure not in Measure.values:
        raise HttpError(422, f"measure must be one of {', '.join(Measure.values)}")
    rows = queries.visible_series(caller(request), as_of_or_today(as_of), _run(run_id),
                                  measure)
    return rows.filter(level=level) if level else rows


@router.get("/forecast-series/{series_id}", response=SeriesDetailOut,
            summary="A forecast series with its history and forecast")
def get_series(request: HttpRequest, series_id: int, as_of: date | None = None) -> Any:
    series = found(queries.series_by_id(caller(request), as_of_or_today(as_of), series_id))
    series.stored_values = queries.series_values(series)
    return series


@router.get("/forecast-accuracy", response=AccuracyReportOut,
            summary="Forecast accuracy of closed periods, week by week")
def accuracy(request: HttpRequest, series_key: str | None = "company",
             measure: str = "amount", as_of: date | None = None) -> Any:
    """Each method's and each person's forecast of every closed period as it stood at the
    start of each week of the period, against the actual, and a leaderboard (MAPE, WAPE,
    bias, interval coverage) with persistently optimistic forecasters flagged. The
    statistical rows are those of series `series_key` (one you may see)."""
    if measure not in Measure.values:
        raise HttpError(422, f"measure must be one of {', '.join(Measure.values)}")
    user, day = caller(request), as_of_or_today(as_of)
    rows = queries.accuracy_rows(user, day, series_key, measure)
    optimistic = queries.optimistic_forecasters(rows)
    names = {r.source for r in rows if r.person_id in optimistic}
    board = sorted(queries.summarise(rows),
                   key=lambda a: (a.wape is None, a.wape or 0, a.source))
    return {"leaderboard": [{**{f: getattr(a, f) for f in (
        "source", "forecasts", "mape", "wape", "bias", "coverage_80", "coverage_95")},
        "persistently_optimistic": a.source in names} for a in board], "rows": rows}


@router.get("/pipeline-forecasts", response=list[PipelineOut], summary="Pipeline forecasts")
@paginated
def list_pipeline(request: HttpRequest, run_id: int | None = None,
                  as_of: date | None = None) -> Any:
    """Pipeline forecasts (current and next period) of the run: the company row (person_id
    null) for company-wide roles and a row per person you may see."""
    return queries.pipeline_rows(caller(request), as_of_or_today(as_of), _run(run_id))


@router.get("/forecast-calls", response=list[CallOut], summary="Forecast calls")
@paginated
def list_calls(request: HttpRequest, period_id: int | None = None,
               person_id: int | None = None, as_of: date | None = None) -> Any:
    """Every submission (and adjustment) you may see, newest first."""
    return queries.calls(caller(request), as_of_or_today(as_of), period_id=period_id,
                         person_id=person_id)


@router.post("/forecast-calls", response={201: CallOut, 422: ErrorOut},
             summary="Submit a forecast call")
def submit_call(request: HttpRequest, payload: CallIn) -> Any:
    """Your own call, or (a manager) an adjustment of a report's call, which needs a note."""
    try:
        call = actions.submit_call(caller(request), **payload.dict())
    except actions.ForecastError as error:
        if error.field == "person_id":
            raise HttpError(404, "Not Found") from error
        return Status(422, {"detail": str(error), "field": error.field, "value": error.value})
    return Status(201, call)


@router.post("/forecast-runs", response={202: dict[str, Any], 403: dict[str, str],
                                         422: ErrorOut}, summary="Queue a forecast run")
def queue_run(request: HttpRequest, period_kind: str = "month") -> Any:
    """Sales operations: queue a forecast run for the background worker."""
    user = caller(request)
    if not sees_whole_company(user) or not _is_ops(user):
        return Status(403, {"detail": "Only sales operations may start a forecast run."})
    try:
        run = actions.request_forecast(user, period_kind=period_kind)
    except actions.ForecastError as error:
        return Status(422, {"detail": str(error), "field": error.field, "value": error.value})
    return Status(202, {"calc_run_id": run.pk, "status": run.status})


def _is_ops(user: Any) -> bool:
    from attain.people.models import Person

    if user.is_superuser:
        return True
    return Person.objects.filter(user_id=user.pk, role="ops").exists()
