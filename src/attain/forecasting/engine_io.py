"""The forecasting app's one door to `attain.engine.forecasting`: bookings and opportunities
out of the database, series and histories into the engine, forecasts back as a stored run.

Series (keys): `company`; `team:<id>` (the booking's team, `team:none` without one);
`team:<id>/person:<id>` (the primary hierarchy's bottom when people are forecast); and two
other splits of the same company total, `family:<name>` (the product's family) and
`segment:<code>` (the opportunity's segment). The primary hierarchy company → team → person is
reconciled with MinT-shrink; families and segments are anchored to its company total
(`engine.forecasting.timeseries.forecast_hierarchy`).

History: whole periods before the period containing `as_of` (the current period is not over,
so it is not history); bookings are converted to the company currency with the month's rate
(as the bookings run does) and summed exactly before they become the engine's floats.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from attain.core.actions import ensure_periods
from attain.core.engine_io import RunClock, fail_run, finish_run, start_run
from attain.core.models import CalcRun, Period
from attain.core.money import round_money
from attain.core.periods import FiscalCalendarRules, FiscalSpan, PeriodKind, add_months
from attain.crm.models import Booking, ExchangeRate, Opportunity, StageChange
from attain.engine.forecasting import pipeline as pipeline_engine
from attain.engine.forecasting.backtest import BacktestResult, rolling_backtest
from attain.engine.forecasting.reconcile import Structure
from attain.engine.forecasting.timeseries import (
    CALC_VERSION,
    ForecastConfig,
    ForecastSet,
    forecast_hierarchy,
)
from attain.forecasting.models import (
    DealForecast,
    ForecastRun,
    ForecastSeries,
    ForecastValue,
    Measure,
    PipelineForecast,
    SeriesLevel,
)
from attain.people.models import Person, Team

FORECAST_RUN_KIND = "forecast"
SEASON_LENGTH = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4}
DEFAULT_HORIZON = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4}
ALL_LEVELS = ("company", "team", "person", "family", "segment")
MEASURES = (Measure.AMOUNT.value, Measure.QUANTITY.value)
BACKTEST_LEVELS = ("company", "team", "family", "segment")
STORE_BATCH = 5_000


class ForecastError(ValueError):
    """A forecast refused for a reason a person can fix (named field, value and reason)."""

    def __init__(self, message: str, *, field: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def forecast_jobs(requested: int | None = None) -> int:
    """Processes statsforecast may use: `requested`, else ATTAIN_FORECAST_JOBS, else (0)
    every core."""
    jobs = requested if requested is not None else int(
        getattr(settings, "ATTAIN_FORECAST_JOBS", 0))
    return jobs if jobs > 0 else (os.cpu_count() or 1)


def calendar_rules() -> FiscalCalendarRules:
    from attain.core.actions import fiscal_calendar

    return fiscal_calendar().rules


# --- bookings → series ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesInfo:
    key: str
    level: str
    label: str
    team_id: int | None = None
    person_id: int | None = None


@dataclass
class SeriesInputs:
    """Everything the engine needs, and how to store its answer."""

    axis: list[FiscalSpan]
    primary: dict[str, np.ndarray]
    members: dict[str, list[str]]
    groupings: dict[str, dict[str, np.ndarray]]
    info: dict[str, SeriesInfo]
    exact: dict[str, list[Decimal]]
    cube_rows: int
    digest: str

    @property
    def structure(self) -> Structure:
        return Structure.from_members(self.members)

    @property
    def levels(self) -> dict[str, str]:
        """Each series' level (company, team, person, family, segment): its tier."""
        return {key: str(item.level) for key, item in self.info.items()}


def _rates() -> dict[str, list[tuple[date, Decimal]]]:
    rates: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for currency, month, rate in ExchangeRate.objects.order_by(
            "currency", "month_start").values_list("currency", "month_start", "rate"):
        rates[currency].append((month, rate))
    return rates


def _rate(rates: dict[str, list[tuple[date, Decimal]]], currency: str, month: date,
          company: str, *, exact_month: bool = True) -> Decimal:
    if currency == company:
        return Decimal(1)
    known = rates.get(currency, [])
    if exact_month:
        for day, rate in known:
            if day == month:
                return rate
    else:
        earlier = [rate for day, rate in known if day <= month]
        if earlier or known:
            return earlier[-1] if earlier else known[0][1]
    raise ForecastError(
        f"No exchange rate for {currency} in {month:%Y-%m}: bookings in {currency} cannot be "
        f"converted to {company}. Add the rate (company-currency units per {currency}).",
        field="currency", value=currency)


def series_inputs(as_of: date, kind: PeriodKind, levels: Sequence[str] = ALL_LEVELS,
                  history_periods: int | None = None, measure: str = Measure.AMOUNT
                  ) -> SeriesInputs:
    """The histories of every series for periods of `kind` ending before the one containing
    `as_of` (at most the last `history_periods`): bookings in the company currency
    (`measure` "amount") or booked units ("quantity", summed as they are)."""
    if measure not in Measure.values:
        raise ForecastError(f"measure must be one of {', '.join(Measure.values)}, got "
                            f"{measure!r}.", field="measure", value=measure)
    company = str(settings.ATTAIN_COMPANY_CURRENCY)
    rules = calendar_rules()
    end = rules.span(kind, as_of).start
    cube = list(
        Booking.objects.filter(booked_on__lt=end)
        .annotate(month=TruncMonth("booked_on"))
        .values_list("month", "team_id", "owner_id", "product__family", "opportunity__segment",
                     "currency")
        .annotate(total=Sum("quantity" if measure == Measure.QUANTITY else "amount"))
        .order_by("month", "team_id", "owner_id", "product__family", "opportunity__segment",
                  "currency"))
    if not cube:
        raise ForecastError(f"No bookings before {end}: there is no history to forecast from.",
                            field="as_of", value=as_of.isoformat())
    first_month = min(row[0] for row in cube)
    first_month = first_month.date() if hasattr(first_month, "date") else first_month
    axis = list(rules.spans(kind, first_month, end))
    if history_periods:
        axis = axis[-history_periods:]
    index = {span.start: i for i, span in enumerate(axis)}
    rates = _rates()
    want = set(levels)
    exact: dict[str, list[Decimal]] = {}
    info: dict[str, SeriesInfo] = {"company": SeriesInfo("company", SeriesLevel.COMPANY,
                                                         "Company")}
    members: dict[str, set[str]] = defaultdict(set)
    groupings_keys: dict[str, set[str]] = defaultdict(set)
    hasher = hashlib.sha256(b"attain-forecast-inputs/1\n" if measure == Measure.AMOUNT
                            else f"attain-forecast-inputs/1/{measure}\n".encode())

    def add(key: str, slot: int, amount: Decimal) -> None:
        exact.setdefault(key, [Decimal(0)] * len(axis))[slot] += amount

    for month, team_id, owner_id, family, segment, currency, total in cube:
        month = month.date() if hasattr(month, "date") else month
        hasher.update(f"{month}|{team_id}|{owner_id}|{family}|{segment}|{currency}|"
                      f"{total}\n".encode())
        slot = index.get(rules.span(kind, month).start)
        if slot is None:
            continue
        amount = (Decimal(total) if measure == Measure.QUANTITY
                  else Decimal(total) * _rate(rates, currency, month, company))
        add("company", slot, amount)
        bottom = "company"
        if "team" in want:
            team_key = f"team:{team_id or 'none'}"
            add(team_key, slot, amount)
            info.setdefault(team_key, SeriesInfo(team_key, SeriesLevel.TEAM, "", team_id))
            bottom = team_key
            if "person" in want:
                person_key = f"{team_key}/person:{owner_id or 'none'}"
                add(person_key, slot, amount)
                info.setdefault(person_key, SeriesInfo(person_key, SeriesLevel.PERSON, "",
                                                       team_id, owner_id))
                members[team_key].add(person_key)
                bottom = person_key
            members["company"].add(bottom)
        for level, value in (("family", family), ("segment", segment)):
            if level in want:
                key = f"{level}:{value or 'none'}"
                add(key, slot, amount)
                info.setdefault(key, SeriesInfo(key, level, value or f"No {level}"))
                groupings_keys[level].add(key)
    _label(info)
    floats = {key: np.array([float(round_money(v)) for v in values])
              for key, values in exact.items()}
    tree: dict[str, list[str]] = {}
    if members:
        tree["company"] = sorted(_bottoms(members))
        for team_key in sorted(k for k in members if k != "company"):
            tree[team_key] = sorted(members[team_key])
        for bottom in tree["company"]:
            tree[bottom] = [bottom]
    else:
        tree["company"] = ["company"]
    primary = {key: floats[key] for key in tree}
    groupings = {level: {key: floats[key] for key in sorted(keys)}
                 for level, keys in groupings_keys.items() if len(keys) > 1}
    kept = set(primary) | {k for parts in groupings.values() for k in parts}
    hasher.update(f"kind={kind.value}|levels={','.join(sorted(want))}|"
                  f"axis={axis[0].start}..{end}\n".encode())
    return SeriesInputs(axis, primary, tree, groupings,
                        {k: v for k, v in info.items() if k in kept},
                        {k: v for k, v in exact.items() if k in kept}, len(cube),
                        hasher.hexdigest())


def _bottoms(members: dict[str, set[str]]) -> set[str]:
    """Series that sum nothing below them."""
    teams = {k for k in members if k != "company"}
    out: set[str] = set()
    for key in members["company"]:
        out |= members[key] if key in teams else {key}
    return out


def _label(info: dict[str, SeriesInfo]) -> None:
    team_ids = {i.team_id for i in info.values() if i.team_id}
    person_ids = {i.person_id for i in info.values() if i.person_id}
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))
    people = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "name"))
    for key, item in list(info.items()):
        if item.level == SeriesLevel.TEAM:
            label = teams.get(item.team_id or 0, "No team")
        elif item.level == SeriesLevel.PERSON:
            label = people.get(item.person_id or 0, "Unassigned")
        else:
            continue
        info[key] = SeriesInfo(key, item.level, label, item.team_id, item.person_id)


# --- the forecast run ---------------------------------------------------------------------------


def run_forecast(*, requested_by: Any = None, as_of: date | None = None,
                 kind: PeriodKind = PeriodKind.MONTH, horizon: int | None = None,
                 levels: Sequence[str] = ALL_LEVELS, with_pipeline: bool = True,
                 run: CalcRun | None = None, n_jobs: int | None = None,
                 measures: Sequence[str] = MEASURES) -> ForecastRun:
    """Forecast every series of each of `measures` (bookings amount, units) `horizon`
    periods of `kind` after the current one's start, and the pipeline forecast (amounts) of
    the current and next period; store all as one run.

    Steps, timed into the CalcRun: `inputs` (bookings → series), `forecast` (the engine),
    `pipeline` (win model and pipeline forecast), `store`. On a refused input the run is saved
    as failed with the reason and no results.
    """
    as_of = as_of or timezone.localdate()
    kind = PeriodKind(kind)
    if kind not in SEASON_LENGTH:
        raise ForecastError(f"Forecasts are made by month or quarter, not {kind.value}.",
                            field="period_kind", value=kind.value)
    horizon = horizon or DEFAULT_HORIZON[kind]
    currency = str(settings.ATTAIN_COMPANY_CURRENCY)
    run = start_run(run, kind=FORECAST_RUN_KIND, requested_by=requested_by,
                    backend="statsforecast",
                    calc_version=f"ts{CALC_VERSION}-pipe{pipeline_engine.PIPELINE_CALC_VERSION}",
                    params={"as_of": as_of.isoformat(), "period_kind": kind.value,
                            "horizon": horizon, "levels": list(levels),
                            "pipeline": with_pipeline, "measures": list(measures),
                            "company_currency": currency})
    clock = RunClock()
    timings = clock.seconds

    def lap(step: str, since: float) -> float:
        now = time.perf_counter()
        timings[step] = round(now - since, 4)
        return now

    try:
        mark = time.perf_counter()
        if not measures or any(m not in Measure.values for m in measures):
            raise ForecastError(f"measures must be some of {', '.join(Measure.values)}, got "
                                f"{list(measures)!r}.", field="measures", value=list(measures))
        by_measure = {m: series_inputs(as_of, kind, levels, measure=m) for m in measures}
        inputs = by_measure[measures[0]]
        mark = lap("inputs", mark)
        config = ForecastConfig(horizon=horizon, season_length=SEASON_LENGTH[kind],
                                n_jobs=forecast_jobs(n_jobs))
        results: dict[str, ForecastSet] = {}
        for measure, measured in by_measure.items():
            results[measure] = forecast_hierarchy(measured.primary, measured.structure, config,
                                                  measured.groupings, levels=measured.levels)
            mark = lap(f"forecast_{measure}", mark)
        timings["forecast"] = round(sum(timings[f"forecast_{m}"] for m in by_measure), 4)
        forecasts = results[measures[0]]
        pipeline_rows: list[tuple[FiscalSpan, pipeline_engine.PipelinePeriodForecast]] = []
        win_model: dict[str, Any] = {}
        if with_pipeline:
            pipeline_rows, win_model = _pipeline(as_of, kind)
        mark = lap("pipeline", mark)
        run.inputs_hash = (inputs.digest if len(by_measure) == 1 else hashlib.sha256(
            "".join(f"{m}={i.digest}\n" for m, i in by_measure.items()).encode()).hexdigest())
        run.input_rows = inputs.cube_rows
        with transaction.atomic():
            forecast_run = ForecastRun.objects.create(
                calc_run=run, as_of=as_of, period_kind=kind.value,
                history_start=inputs.axis[0].start, history_end=inputs.axis[-1].end,
                horizon=horizon, reconciliation=forecasts.reconciliation,
                quantiles={m: {str(k): v for k, v in r.quantiles.items()}
                           for m, r in results.items()},
                win_model=win_model, currency=currency)
            run.output_rows = sum(_store(forecast_run, by_measure[m], r, kind, m)
                                  for m, r in results.items())
            run.output_rows += _store_pipeline(forecast_run, pipeline_rows, currency)
            lap("store", mark)
            run.timings = clock.timings()
            finish_run(run, CalcRun.Status.SUCCEEDED,
                       ["inputs_hash", "input_rows", "output_rows", "timings"])
        return forecast_run
    except ForecastError as error:
        fail_run(run, clock, str(error))
        raise
    except Exception as error:
        fail_run(run, clock, f"{type(error).__name__}: {error}")
        raise


def _periods(spans: Sequence[FiscalSpan]) -> dict[date, Period]:
    kinds = {span.kind for span in spans}
    ensure_periods(min(s.start for s in spans), max(s.end for s in spans), kinds)
    return {p.start: p for p in Period.objects.filter(
        kind__in=[k.value for k in kinds], start__gte=min(s.start for s in spans),
        start__lt=max(s.end for s in spans))}


def _store(forecast_run: ForecastRun, inputs: SeriesInputs, forecasts: ForecastSet,
           kind: PeriodKind, measure: str = Measure.AMOUNT) -> int:
    rules = calendar_rules()
    future: list[FiscalSpan] = []
    current = rules.span(kind, inputs.axis[-1].end)
    for _ in range(forecasts.config.horizon):
        future.append(current)
        current = rules.span(kind, current.end)
    periods = _periods([*inputs.axis, *future])
    rows: list[ForecastValue] = []
    stored = 0
    for item in forecasts.series:
        meta = inputs.info[item.series_id]
        series = ForecastSeries.objects.create(
            run=forecast_run, measure=measure, key=meta.key, level=meta.level, label=meta.label,
            team_id=meta.team_id, person_id=meta.person_id, method=item.method,
            members=list(item.members), reason=item.reason,
            backtest_mase={k: round(v, 4) for k, v in item.backtest_mase.items()})
        for span, amount in zip(inputs.axis, inputs.exact[item.series_id], strict=True):
            rows.append(ForecastValue(series=series, period=periods[span.start],
                                      is_forecast=False, point=round_money(amount)))
        for step, span in enumerate(future):
            low80, high80 = item.intervals[80]
            low95, high95 = item.intervals[95]
            rows.append(ForecastValue(
                series=series, period=periods[span.start], is_forecast=True,
                point=_cents(item.point[step]), low_80=_cents(low80[step]),
                high_80=_cents(high80[step]), low_95=_cents(low95[step]),
                high_95=_cents(high95[step])))
        if len(rows) >= STORE_BATCH:
            ForecastValue.objects.bulk_create(rows, batch_size=STORE_BATCH)
            stored += len(rows)
            rows = []
    ForecastValue.objects.bulk_create(rows, batch_size=STORE_BATCH)
    return stored + len(rows)


def _cents(value: float) -> Decimal:
    from attain.engine.forecasting.timeseries import to_cents

    return to_cents(float(value))


# --- pipeline forecast --------------------------------------------------------------------------


def opportunity_histories(as_of: date) -> list[pipeline_engine.OpportunityHistory]:
    """Every opportunity created before `as_of` with a known amount, with its dated stage and
    close-date history, amounts in the company currency (the rate of the month of `as_of`, or
    the latest before it)."""
    company = str(settings.ATTAIN_COMPANY_CURRENCY)
    rates = _rates()
    month = date(as_of.year, as_of.month, 1)
    tz = timezone.get_current_timezone()
    changes: dict[int, list[tuple[date, str, bool, date | None]]] = defaultdict(list)
    for opp_id, at, stage, closed, close_date in (
            # before the start of `as_of` in the company's time zone (a plain comparison: no
            # per-row date conversion in the database)
            StageChange.objects.filter(changed_at__lt=datetime.combine(as_of, dt_time.min, tz))
            .order_by("opportunity_id", "changed_at", "id")
            .values_list("opportunity_id", "changed_at", "to_stage__name",
                         "to_stage__is_won", "close_date")):
        changes[opp_id].append((timezone.localtime(at, tz).date(), stage, closed, close_date))
    out = []
    rows = (Opportunity.objects.filter(amount__isnull=False)
            .values_list("id", "owner_id", "segment", "amount", "currency", "created_at",
                         "close_date", "is_closed", "is_won", "stage__name",
                         "stage__probability"))
    for (opp_id, owner, segment, amount, currency, created_at, close_date, is_closed, is_won,
         stage, probability) in rows:
        created = timezone.localtime(created_at, tz).date()
        if created >= as_of:
            continue
        history = changes.get(opp_id, [])
        stages = tuple((day, name) for day, name, _, _ in history) or ((created, stage),)
        if stages[0][0] > created:
            stages = ((created, stages[0][1]), *stages[1:])
        closed_on = None
        if is_closed:
            closed_on = history[-1][0] if history else close_date
            if closed_on is not None and closed_on >= as_of:
                closed_on = None  # closed after as_of: open as far as the forecast knows
        rate = _rate(rates, currency, month, company, exact_month=False)
        out.append(pipeline_engine.OpportunityHistory(
            opportunity_id=opp_id, owner_id=owner, segment=segment or "",
            amount=round_money(amount * rate), created_on=created, stages=stages,
            close_dates=tuple((day, cd) for day, _, _, cd in history if cd is not None),
            closed_on=closed_on, won=bool(is_won and closed_on is not None),
            close_date=close_date, crm_probability=probability))
    return out


def _pipeline(as_of: date, kind: PeriodKind
              ) -> tuple[list[tuple[FiscalSpan, pipeline_engine.PipelinePeriodForecast]],
                         dict[str, Any]]:
    rules = calendar_rules()
    history = opportunity_histories(as_of)
    if not history:
        return [], {}
    current = rules.span(kind, as_of)
    following = rules.span(kind, current.end)
    first = min(o.created_on for o in history)
    ends = [span.end for span in rules.spans(kind, first, following.end)]
    model = pipeline_engine.fit_win_model(history, as_of, ends)
    previous: list[FiscalSpan] = []
    span = rules.span(kind, add_months(current.start, -1) if kind == PeriodKind.MONTH
                      else add_months(current.start, -3))
    while len(previous) < 4 and span.start >= first:
        previous.append(span)
        span = rules.span(kind, add_months(span.start, -1) if kind == PeriodKind.MONTH
                          else add_months(span.start, -3))
    past = [(s.start, s.end) for s in previous]
    out = [(current, pipeline_engine.pipeline_forecast(
        model, history, as_of, (current.start, current.end), past))]
    out.append((following, pipeline_engine.pipeline_forecast(
        model, history, as_of, (following.start, following.end), past,
        current_end=current.end)))
    summary = {
        "features": list(model.feature_names),
        "coefficients": [round(float(c), 6) for c in model.coefficients],
        "training_rows": model.training_rows, "positives": model.positives,
        "calibration": [list(row) for row in model.calibration],
    }
    return out, summary


def _store_pipeline(forecast_run: ForecastRun,
                    rows: list[tuple[FiscalSpan, pipeline_engine.PipelinePeriodForecast]],
                    currency: str) -> int:
    if not rows:
        return 0
    periods = _periods([span for span, _ in rows])
    stored = 0
    for span, result in rows:
        period = periods[span.start]
        per_person: dict[int | None, list[pipeline_engine.OpenDealForecast]] = defaultdict(list)
        for deal in result.deals:
            per_person[deal.owner_id].append(deal)
        objects = [PipelineForecast(
            run=forecast_run, period=period, person=None, closed_won=result.closed_won,
            open_expected=result.open_expected, created_expected=result.created_expected,
            crm_baseline=result.crm_baseline,
            open_amount=sum((d.amount for d in result.deals), Decimal(0)),
            open_deals=len(result.deals), currency=currency)]
        for owner, deals in per_person.items():
            if owner is None:
                continue
            objects.append(PipelineForecast(
                run=forecast_run, period=period, person_id=owner,
                closed_won=result.closed_won_by_owner.get(owner, Decimal(0)),
                open_expected=sum((d.expected for d in deals), Decimal(0)),
                created_expected=Decimal(0),
                crm_baseline=result.crm_by_owner.get(owner, Decimal(0)),
                open_amount=sum((d.amount for d in deals), Decimal(0)),
                open_deals=len(deals), currency=currency))
        PipelineForecast.objects.bulk_create(objects)
        deals_rows = [DealForecast(
            run=forecast_run, period=period, opportunity_id=d.opportunity_id, owner_id=d.owner_id,
            probability=Decimal(repr(round(d.probability, 4))),
            crm_probability=Decimal(repr(round(d.crm_probability, 4))), amount=d.amount,
            expected=d.expected, currency=currency) for d in result.deals]
        DealForecast.objects.bulk_create(deals_rows, batch_size=STORE_BATCH)
        stored += len(objects) + len(deals_rows)
    return stored


# --- backtest -----------------------------------------------------------------------------------


def backtest_bookings(*, kind: PeriodKind = PeriodKind.MONTH, horizon: int | None = None,
                      origins: int = 2, step: int | None = None, as_of: date | None = None,
                      levels: Sequence[str] = BACKTEST_LEVELS, n_jobs: int | None = None,
                      measure: str = Measure.AMOUNT) -> tuple[BacktestResult, SeriesInputs]:
    """Rolling-origin backtest on the bookings in the database: `origins` origins `step`
    periods apart (default: the horizon), the last one `horizon` periods before the end of the
    history (whole periods before `as_of`, default: after the last booking)."""
    kind = PeriodKind(kind)
    horizon = horizon or DEFAULT_HORIZON[kind]
    step = step or horizon
    if as_of is None:
        last = Booking.objects.order_by("-booked_on").values_list("booked_on", flat=True).first()
        if last is None:
            raise ForecastError("There are no bookings to backtest on.", field="bookings")
        as_of = calendar_rules().span(kind, last).end
    inputs = series_inputs(as_of, kind, levels, measure=measure)
    length = len(inputs.axis)
    points = [length - horizon - step * (origins - 1 - i) for i in range(origins)]
    if points[0] < 2 * SEASON_LENGTH[kind]:
        raise ForecastError(
            f"{length} {kind.value}s of history are too few for {origins} origin(s) "
            f"{step} apart with horizon {horizon}: the first origin needs two seasons "
            f"({2 * SEASON_LENGTH[kind]} {kind.value}s) before it.",
            field="origins", value=origins)
    config = ForecastConfig(horizon=horizon, season_length=SEASON_LENGTH[kind],
                            n_jobs=forecast_jobs(n_jobs))
    result = rolling_backtest(inputs.primary, inputs.structure, config, points,
                              groupings=inputs.groupings, levels=inputs.levels)
    return result, inputs
