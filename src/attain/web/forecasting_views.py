"""The forecast page: the statistical forecast with its 80%/95% intervals, the pipeline forecast
next to the CRM's, the waterfall from quota to commit to best case, the forecast calls (submit,
adjust, roll-up), the deals at risk of slipping, and how the forecast was made.

Views parse the query string, read stored runs through `attain.forecasting.queries`, and
render; writes go through `attain.forecasting.actions`. Figures come from the latest succeeded
forecast run (or `?run=<id>`: a past forecast exactly as it was).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from attain.core.models import Period
from attain.core.periods import PeriodKind
from attain.forecasting import actions
from attain.forecasting import queries as fq
from attain.forecasting.models import CallCategory, Measure
from attain.performance import queries as perf
from attain.web import links
from attain.web.exports import export_response, wants_export
from attain.web.viewer import Viewer, viewer_of

BAND_80 = "rgba(37, 99, 235, 0.25)"
BAND_95 = "rgba(37, 99, 235, 0.10)"


def today() -> date:
    return timezone.localdate()


def _viewer(request: HttpRequest) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None
    return viewer


def _int(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() else None


def forecast_chart(values: list[Any], owner_id: int | None = None) -> dict[str, Any]:
    """History (line; each point links to the order lines behind it), forecast (dashed line)
    and the 80%/95% bands as stacked areas."""
    labels = [v.period.label for v in values]
    actual: list[Any] = [
        {"value": float(v.point),
         "link": links.bookings_url(owner=owner_id, start=v.period.start, end=v.period.end)}
        if not v.is_forecast else None for v in values]
    point = [float(v.point) if v.is_forecast else None for v in values]
    # join the forecast line to the last actual so the two read as one line
    last_actual = max((i for i, v in enumerate(values) if not v.is_forecast), default=None)
    if last_actual is not None:
        point[last_actual] = float(values[last_actual].point)

    def band(low: str, high: str) -> tuple[list[float | None], list[float | None]]:
        lows = [float(getattr(v, low)) if v.is_forecast and getattr(v, low) is not None
                else None for v in values]
        widths = [float(getattr(v, high) - getattr(v, low))
                  if v.is_forecast and getattr(v, low) is not None else None for v in values]
        return lows, widths

    low95, width95 = band("low_95", "high_95")
    low80, width80 = band("low_80", "high_80")
    hidden = {"type": "line", "lineStyle": {"opacity": 0}, "symbol": "none",
              "tooltip": {"show": False}}
    return {
        "color": ["#0f172a", "#2563eb"],
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "data": ["Actual", "Forecast", "80% interval", "95% interval"]},
        "grid": {"left": 8, "right": 16, "top": 36, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"hideOverlap": True}},
        "yAxis": {"type": "value"},
        "series": [
            {**hidden, "name": "95% low", "data": low95, "stack": "b95"},
            {"name": "95% interval", "type": "line", "data": width95, "stack": "b95",
             "symbol": "none", "lineStyle": {"opacity": 0}, "areaStyle": {"color": BAND_95},
             "itemStyle": {"color": BAND_95}},
            {**hidden, "name": "80% low", "data": low80, "stack": "b80"},
            {"name": "80% interval", "type": "line", "data": width80, "stack": "b80",
             "symbol": "none", "lineStyle": {"opacity": 0}, "areaStyle": {"color": BAND_80},
             "itemStyle": {"color": BAND_80}},
            {"name": "Actual", "type": "line", "data": actual, "connectNulls": False},
            {"name": "Forecast", "type": "line", "data": point,
             "lineStyle": {"type": "dashed"}},
        ],
    }


def waterfall_chart(steps: list[tuple[str, Decimal | None]]) -> dict[str, Any] | None:
    """Quota → commit → best case (and the forecasts beside them) as a waterfall: each bar
    starts where the previous one ended; the step between is drawn as the gap."""
    known = [(label, value) for label, value in steps if value is not None]
    if not known:
        return None
    labels, base, rise, fall = [], [], [], []
    previous: Decimal | None = None
    for label, value in known:
        if previous is not None:
            labels.append(f"→ {label}")
            low, high = sorted((previous, value))
            base.append(float(low))
            rise.append(float(high - low) if value >= previous else 0.0)
            fall.append(float(high - low) if value < previous else 0.0)
        labels.append(label)
        base.append(0.0)
        rise.append(float(value))
        fall.append(0.0)
        previous = value
    return {
        "color": ["#2563eb", "#dc2626"],
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0, "data": ["Amount / increase", "Decrease"]},
        "grid": {"left": 8, "right": 16, "top": 36, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"interval": 0}},
        "yAxis": {"type": "value"},
        "series": [
            {"name": "base", "type": "bar", "stack": "w", "data": base,
             "itemStyle": {"color": "transparent"}, "tooltip": {"show": False}},
            {"name": "Amount / increase", "type": "bar", "stack": "w", "data": rise},
            {"name": "Decrease", "type": "bar", "stack": "w", "data": fall},
        ],
    }


def accuracy_chart(statistical: list[fq.AccuracyRow], methods: list[fq.AccuracyRow]
                   ) -> dict[str, Any] | None:
    """Accuracy history: per closed period, what was booked, and each method's forecast as it
    stood at the start of the period (its first week) and at the start of its last week, so
    both how far off the early call was and how it converged show."""
    rows = [*statistical, *methods]
    if not rows:
        return None
    periods = sorted({r.period.pk: r.period for r in rows}.values(), key=lambda p: p.start)
    index = {p.pk: i for i, p in enumerate(periods)}
    actual: list[float | None] = [None] * len(periods)
    lines: dict[str, list[float | None]] = {}
    for source in dict.fromkeys(r.source for r in rows):
        by_period: dict[int, list[fq.AccuracyRow]] = {}
        for row in rows:
            if row.source == source:
                by_period.setdefault(row.period.pk, []).append(row)
        for label, pick in (("first week", 0), ("last week", -1)):
            line: list[float | None] = [None] * len(periods)
            for period_id, items in by_period.items():
                ordered = sorted(items, key=lambda r: r.made_on)
                line[index[period_id]] = float(ordered[pick].forecast)
                actual[index[period_id]] = float(ordered[pick].actual)
            lines[f"{source.capitalize()} ({label})"] = line
    series: list[dict[str, Any]] = [{"name": "Actual", "type": "bar", "data": actual}]
    series += [{"name": name, "type": "line", "data": data,
                "lineStyle": {"type": "dashed" if "first" in name else "solid"}}
               for name, data in lines.items()]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "type": "scroll"},
        "grid": {"left": 8, "right": 16, "top": 36, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [p.label for p in periods]},
        "yAxis": {"type": "value"},
        "series": series,
    }


def _own_figure(board: list[fq.CallLine], viewer: Viewer, category: str) -> Decimal | None:
    """The viewer's number in a category: their own call, else their roll-up; for a
    company-wide viewer, the sum over the top of the hierarchy."""
    if viewer.person_id is not None:
        for line in board:
            if line.person_id == viewer.person_id:
                own = line.figure(category)
                return own if own is not None else line.rollup.get(category)
    tops = [line for line in board if line.depth == 0]
    if not tops:
        return None
    total = Decimal("0.00")
    for line in tops:
        total += line.figure(category) or line.rollup.get(category, Decimal("0.00"))
    return total


@login_required
def forecast(request: HttpRequest) -> HttpResponseBase:
    viewer, as_of = _viewer(request), today()
    user = viewer.user
    run = fq.run_by_id(_int(request, "run"))
    if _int(request, "run") is not None and run is None:
        raise PermissionDenied("No such forecast run.")
    measure = request.GET.get("measure", Measure.AMOUNT)
    if measure not in Measure.values:
        measure = Measure.AMOUNT
    every = list(fq.visible_series(user, as_of, run, None))
    chosen_id = _int(request, "series")
    series = next((s for s in every if s.pk == chosen_id), None)
    if chosen_id is not None and series is None:
        from django.http import Http404

        raise Http404("No such forecast series.")
    if series is not None:
        measure = series.measure
    visible = [s for s in every if s.measure == measure]
    series = series or fq.default_series(user, as_of, run, measure)
    values = fq.series_values(series) if series is not None else []
    kind = PeriodKind(run.period_kind) if run is not None else PeriodKind.QUARTER
    span, period = perf.current_period(PeriodKind.QUARTER if kind == PeriodKind.QUARTER
                                       else PeriodKind.MONTH, as_of)
    chosen_period = _int(request, "period")
    if chosen_period is not None:
        period = Period.objects.filter(pk=chosen_period,
                                       kind__in=["month", "quarter"]).first() or period
    pipeline = fq.pipeline_summary(user, as_of, run)
    board = fq.call_board(user, as_of, period) if period is not None else []
    quota = perf.quota_total(user, as_of, period) if period is not None else None
    commit = _own_figure(board, viewer, CallCategory.COMMIT)
    best = _own_figure(board, viewer, CallCategory.BEST_CASE)
    current_pipeline = next((p for p in pipeline if period is not None
                             and p.period.pk == period.pk), None)
    statistical = next((v.point for v in values if v.is_forecast and period is not None
                        and v.period_id == period.pk), None) if measure == "amount" else None
    at_risk = list(fq.deals_at_risk(user, as_of, run, current_pipeline.period
                                    if current_pipeline else None))
    currency = perf.company_currency()
    accuracy_rows = (fq.statistical_accuracy(user, as_of, series.key, measure) if series
                     else [])
    method_rows = fq.pipeline_accuracy(user, as_of) if measure == "amount" else []
    call_rows = fq.call_accuracy(user, as_of, fq.call_actuals(user, as_of))
    if wants_export(request):
        table = request.GET.get("table", "series")
        if table == "calls":
            return export_response(request, "forecast-calls", [
                "person", "period", "category", "amount", "currency", "note", "submitted_at",
                "adjusts"], [
                (c.person.name, c.period.label, c.category, c.amount, c.currency, c.note,
                 c.submitted_at, c.adjusts_id or "")
                for c in fq.calls(user, as_of, period_id=period.pk if period else None)])
        if table == "deals":
            return export_response(request, "deals-at-risk", [
                "opportunity", "owner", "amount", "probability", "crm_probability",
                "expected"], [
                (d.opportunity.name, d.owner.name if d.owner else "", d.amount, d.probability,
                 d.crm_probability, d.expected) for d in at_risk])
        if table == "accuracy":
            return export_response(request, "forecast-accuracy", [
                "forecast_by", "period", "week_of", "forecast", "actual", "error",
                "pct_error", "low_80", "high_80", "low_95", "high_95"], [
                (r.source, r.period.label, r.made_on, r.forecast, r.actual, r.error,
                 r.pct_error, r.low_80, r.high_80, r.low_95, r.high_95)
                for r in [*accuracy_rows, *method_rows, *call_rows]])
        return export_response(request, "forecast", [
            "series", "measure", "period", "kind", "point", "low_80", "high_80", "low_95",
            "high_95"], [
            (series.label if series else "", measure, v.period.label,
             "forecast" if v.is_forecast else "actual", v.point, v.low_80, v.high_80,
             v.low_95, v.high_95) for v in values])
    context = {
        "run": run, "pending_run": fq.pending_run(), "series": series, "visible": visible,
        "measure": measure, "measures": Measure.choices,
        "unit": currency if measure == Measure.AMOUNT else "units",
        "values": values, "forecast_values": [v for v in values if v.is_forecast],
        "chart": forecast_chart(values, series.person_id if series else None)
        if values else None,
        "pipeline_rows": [
            (p, links.bookings_url(start=p.period.start, end=min(p.period.end, as_of)),
             links.opportunities_url(status="open")) for p in pipeline],
        "period": period, "board": board, "quota": quota,
        "commit": commit, "best_case": best, "currency": currency, "at_risk": at_risk,
        "waterfall": waterfall_chart([
            ("Quota", quota or None), ("Commit", commit), ("Best case", best),
            ("Pipeline forecast", current_pipeline.total if current_pipeline else None),
            ("Statistical", statistical)]),
        "categories": CallCategory.choices,
        "periods": Period.objects.filter(kind=PeriodKind.QUARTER.value,
                                         start__lte=span.end).order_by("-start")[:6],
        "can_run": viewer.can_run_calculations, "as_of": as_of,
        "win_model": run.win_model if run is not None else {},
        "accuracy": fq.summarise(accuracy_rows), "accuracy_rows": accuracy_rows,
        "method_accuracy": fq.summarise(method_rows),
        "accuracy_chart": accuracy_chart(accuracy_rows, method_rows),
        "call_accuracy": sorted(  # a leaderboard: most accurate forecaster first
            fq.summarise(call_rows), key=lambda a: (a.wape is None, a.wape or 0, a.source)),
        "optimistic": sorted({r.source for r in call_rows
                              if r.person_id in fq.optimistic_forecasters(call_rows)}),
        "gaps": fq.team_gaps(user, as_of, run, next(
            (v.period for v in values if v.is_forecast and v.period.kind == "quarter"), None)),
    }
    return render(request, "web/forecasting/forecast.html", context)


@login_required
@require_POST
def forecast_call(request: HttpRequest) -> HttpResponse:
    """Submit a call (own, or a manager's adjustment with a note); errors are shown on the
    page with the field and value, and nothing is written."""
    data = request.POST

    def number(name: str) -> int | None:
        raw = data.get(name, "")
        return int(raw) if raw.isdigit() else None

    person_id, period_id = number("person_id"), number("period_id")
    back = reverse("forecast") + (f"?period={period_id}" if period_id else "")
    if person_id is None or period_id is None:
        messages.error(request, "Choose a person and a period for the call.")
        return HttpResponseRedirect(back)
    try:
        call = actions.submit_call(request.user, person_id=person_id, period_id=period_id,
                                   category=data.get("category", ""),
                                   amount=data.get("amount", ""), note=data.get("note", ""),
                                   adjusts_id=number("adjusts_id"))
    except actions.ForecastError as error:
        if error.field == "person_id":
            from django.http import Http404

            raise Http404("No such person.") from error
        messages.error(request, f"Not saved — {error.field}: {error}")
        return HttpResponseRedirect(back)
    messages.success(request, f"Saved: {call.get_category_display()} {call.amount:,.2f} "
                              f"{call.currency} for {call.person.name}, {call.period.label}.")
    return HttpResponseRedirect(back)


@login_required
@require_POST
def run_forecast(request: HttpRequest) -> HttpResponse:
    """Sales operations: queue a forecast run (computed by the background worker)."""
    viewer = _viewer(request)
    if not viewer.can_run_calculations:
        raise PermissionDenied("Only sales operations may start a forecast run.")
    try:
        run = actions.request_forecast(request.user,
                                       period_kind=request.POST.get("period_kind", "month"))
    except actions.ForecastError as error:
        messages.error(request, f"Not queued — {error.field}: {error}")
        return HttpResponseRedirect(reverse("forecast"))
    messages.success(request, f"Forecast run #{run.pk} queued.")
    return HttpResponseRedirect(reverse("forecast"))
