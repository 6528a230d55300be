"""Writes of the forecasting app: forecast runs and forecast calls. Every function is audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from attain.core.audit import model_state, record_event
from attain.core.errors import acting_user
from attain.core.models import CalcRun, Period
from attain.core.periods import PeriodKind
from attain.forecasting import engine_io
from attain.forecasting.engine_io import ForecastError
from attain.forecasting.models import CallCategory, ForecastCall, ForecastRun
from attain.people.models import Person
from attain.people.visibility import visible_person_ids

__all__ = ["ForecastError", "request_forecast", "run_forecast", "submit_call"]


_user = acting_user


def _kind(value: str) -> PeriodKind:
    if value not in (PeriodKind.MONTH.value, PeriodKind.QUARTER.value):
        raise ForecastError(f"period_kind must be 'month' or 'quarter', got {value!r}.",
                            field="period_kind", value=value)
    return PeriodKind(value)


@transaction.atomic
def request_forecast(actor: Any, *, period_kind: str = "month", as_of: date | None = None,
                     horizon: int | None = None) -> CalcRun:
    """Queue a forecast run for the task worker (after an import, from a page or the API);
    returns the queued run. Nothing is computed in the request."""
    from attain.forecasting.tasks import run_forecast_task

    kind = _kind(period_kind)
    params: dict[str, Any] = {"period_kind": kind.value}
    if as_of is not None:
        params["as_of"] = as_of.isoformat()
    if horizon is not None:
        params["horizon"] = horizon
    run = CalcRun.objects.create(kind=engine_io.FORECAST_RUN_KIND, status=CalcRun.Status.QUEUED,
                                 requested_by=_user(actor), params=params)
    record_event(actor, "request_forecast", run, after={"kind": run.kind, **params})
    transaction.on_commit(lambda: run_forecast_task.enqueue(run.pk))
    return run


def run_forecast(actor: Any, *, period_kind: str = "month", as_of: date | str | None = None,
                 horizon: int | None = None, run: CalcRun | None = None,
                 measures: Sequence[str] = engine_io.MEASURES,
                 **_ignored: Any) -> ForecastRun:
    """Make a forecast now (statistical series of bookings amount and units, and the pipeline
    forecast) and store it as a run; audited. Raises `ForecastError` (the run is kept as
    failed) when the inputs are refused."""
    day = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    try:
        forecast = engine_io.run_forecast(requested_by=_user(actor), as_of=day,
                                          kind=_kind(period_kind), horizon=horizon, run=run,
                                          measures=tuple(measures))
    except ForecastError as error:
        record_event(actor, "run_forecast_failed", object_type="core.calcrun",
                     after={"error": str(error), "field": error.field})
        raise
    calc = forecast.calc_run
    record_event(actor, "run_forecast", calc, after={
        "status": calc.status, "inputs_hash": calc.inputs_hash, "output_rows": calc.output_rows,
        "calc_version": calc.calc_version, "forecast_run": forecast.pk})
    return forecast


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ForecastError(f"amount {value!r} is not a number.", field="amount",
                            value=value) from None
    if not amount.is_finite() or amount < 0:
        raise ForecastError(f"amount {value!r} must be zero or more.", field="amount",
                            value=value)
    if amount != amount.quantize(Decimal("0.01")):
        raise ForecastError(f"amount {value!r} has more than two decimal places.",
                            field="amount", value=value)
    return amount


@transaction.atomic
def submit_call(actor: Any, *, person_id: int, period_id: int, category: str, amount: Any,
                note: str = "", adjusts_id: int | None = None) -> ForecastCall:
    """Submit `person`'s forecast call for a period: their own (a rep or manager), or a
    manager's adjustment of someone in their subtree (needs a note). Every submission is a new
    row; nothing is overwritten. Refused with `ForecastError` naming the field."""
    me = Person.objects.filter(user_id=getattr(actor, "pk", None)).first()
    if category not in CallCategory.values:
        raise ForecastError(f"category must be one of {', '.join(CallCategory.values)}, got "
                            f"{category!r}.", field="category", value=category)
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        raise ForecastError(f"No period with id {period_id}.", field="period_id",
                            value=period_id)
    if period.kind not in (PeriodKind.MONTH.value, PeriodKind.QUARTER.value):
        raise ForecastError(f"Calls are made per month or quarter, not per {period.kind}.",
                            field="period_id", value=period_id)
    visible = visible_person_ids(actor, period.start)
    person = Person.objects.filter(pk=person_id).first()
    if person is None or (visible is not None and person_id not in visible):
        raise ForecastError(f"No person with id {person_id} that you may forecast for.",
                            field="person_id", value=person_id)
    value = _amount(amount)
    note = (note or "").strip()
    own = me is not None and me.pk == person_id
    adjusts = None
    if adjusts_id is not None:
        adjusts = ForecastCall.objects.filter(pk=adjusts_id, person_id=person_id,
                                              period=period, category=category).first()
        if adjusts is None:
            raise ForecastError(f"No call {adjusts_id} of this person, period and category to "
                                "adjust.", field="adjusts_id", value=adjusts_id)
    if not own and not note:
        raise ForecastError("An adjustment of someone else's call needs a note saying why.",
                            field="note", value="")
    if not own and adjusts is None:
        adjusts = latest_call(person_id, period.pk, category)
    call = ForecastCall.objects.create(
        person=person, period=period, category=category, amount=value,
        currency=str(settings.ATTAIN_COMPANY_CURRENCY), note=note, submitted_by=_user(actor),
        submitted_by_person=me, submitted_at=timezone.now(), adjusts=adjusts)
    record_event(actor, "adjust_forecast_call" if adjusts else "submit_forecast_call", call,
                 before=model_state(adjusts), after=model_state(call))
    return call


def latest_call(person_id: int, period_id: int, category: str) -> ForecastCall | None:
    return (ForecastCall.objects.filter(person_id=person_id, period_id=period_id,
                                        category=category)
            .order_by("-submitted_at", "-id").first())
