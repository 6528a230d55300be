"""Compensation pages for finance and ops: modelling a draft plan on past periods (start it with
progress, read cost, per-person changes, the distribution and each person's lines) and the
accrual report (earned, paid and accrued as of a day, per period and person).

Views parse the request, read through `attain.compensation.queries` and write only through
`attain.compensation.actions`. Reps and managers are refused (403): these pages show everyone's
pay and a plan that is not published yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.dateparse import parse_date

from attain.compensation import actions
from attain.compensation import queries as cq
from attain.compensation.models import PlanVersion
from attain.core.models import CalcRun
from attain.core.money import CENT
from attain.web import charts
from attain.web.compensation_views import today, trace_steps
from attain.web.exports import csv_url, export_response, wants_export
from attain.web.viewer import Viewer, viewer_of

PERCENTILE_NAMES = ("min", "p10", "p25", "p50", "p75", "p90", "max")  # JSON keys lose order
TOP_MOVERS = 5
SHOWN_ROWS = 1000


def _modeller(request: HttpRequest) -> Viewer:
    """The viewer when they hold ops or finance; everyone else is refused."""
    viewer = viewer_of(request)
    if viewer is None or not (viewer.is_ops or viewer.is_finance):
        raise PermissionDenied("Plan modelling and accruals are for sales operations and "
                               "finance.")
    return viewer


def cents(value: Decimal) -> Decimal:
    """An amount the database computed, to cents (SQLite returns `400` for 400.00)."""
    return value.quantize(CENT)


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None


# --- plan modelling -----------------------------------------------------------------------------


def _draft(version_id: int) -> PlanVersion:
    version = PlanVersion.objects.select_related("plan").filter(pk=version_id).first()
    if version is None:
        raise Http404("No such plan version.")
    return version


@login_required
def version_model(request: HttpRequest, version_id: int) -> HttpResponse:
    """"Model this draft": choose past periods (run or closed) and start a modelling run;
    earlier modelling runs of the version are listed with their totals."""
    viewer = _modeller(request)
    version = _draft(version_id)
    context: dict[str, Any] = {
        "version": version, "periods": [p for p in cq.periods_with_runs()
                                        if p.kind in ("month", "quarter", "year")][:24],
        "models": cq.model_runs(version_id=version.pk)[:20], "chosen": [],
        "can_model": viewer.is_ops or viewer.is_finance}
    if request.method == "POST":
        chosen = request.POST.getlist("period_ids")
        try:
            model = actions.request_plan_model(request.user, version_id=version.pk,
                                               period_ids=chosen)
        except actions.CompensationError as error:
            context.update({"error": error, "chosen": [_int(c) for c in chosen]})
            return render(request, "web/compensation/model_start.html", context, status=400)
        messages.success(request, f"Modelling run #{model.pk} of {version.plan.name} "
                                  f"v{version.number} queued.")
        return HttpResponseRedirect(reverse("comp-model", args=[model.pk]))
    return render(request, "web/compensation/model_start.html", context)


def _model(model_id: int) -> Any:
    model = cq.model_run(model_id)
    if model is None:
        raise Http404("No such modelling run.")
    return model


def _totals(model: Any) -> list[dict[str, Any]]:
    """The engine's summary entries with the period label and amounts as Decimals."""
    labels = model.summary.get("periods", {})
    out = []
    for entry in model.summary.get("totals", []):
        change = Decimal(entry["change"])
        out.append({**entry, "in_force_values": [entry["in_force_distribution"].get(k)
                                                 for k in PERCENTILE_NAMES],
                    "draft_values": [entry["draft_distribution"].get(k)
                                     for k in PERCENTILE_NAMES],
                    "label": "All periods" if entry["scope"] == "all"
                    else labels.get(entry["scope"], entry["scope"]),
                    "in_force": Decimal(entry["in_force"]), "draft": Decimal(entry["draft"]),
                    "change": change, "sign": "+" if change > 0 else "",
                    "in_force_payout": Decimal(entry["in_force_payout"]),
                    "draft_payout": Decimal(entry["draft_payout"])})
    return out


MODEL_HEADER = ("person", "employee_id", "period", "currency", "in_force_earned",
                "draft_earned", "change", "change_pct", "in_force_payout", "draft_payout")


@login_required
def model_detail(request: HttpRequest, model_id: int) -> HttpResponseBase:
    """A modelling run: its progress while it runs; then cost in force and under the draft per
    period and in total, the distribution of what people earn (percentiles and a box plot), who
    gains and loses most, and everyone's row (filter, sort, export)."""
    viewer = _modeller(request)
    model = _model(model_id)
    period_id = _int(request.GET.get("period"))
    search = request.GET.get("q", "").strip()
    order = request.GET.get("sort", "change")
    descending = request.GET.get("dir", "desc") != "asc"
    rows = cq.model_rows(viewer.user, model, period_id=period_id, search=search, order=order,
                         descending=descending)
    if wants_export(request):
        return export_response(request, f"plan-model-{model.pk}", MODEL_HEADER, (
            (r.person.name, r.person.external_id, r.period.label, r.currency,
             r.in_force_earned, r.draft_earned, r.change, r.change_pct, r.in_force_payout,
             r.draft_payout) for r in rows.iterator()))
    totals = _totals(model)
    overall = [t for t in totals if t["scope"] == "all"]
    chart = None
    if overall:
        first = overall[0]
        chart = charts.distribution_chart([
            (f"In force ({first['currency']})", first["in_force_distribution"]),
            (f"Draft ({first['currency']})", first["draft_distribution"])])
    everyone = cq.model_rows(viewer.user, model)
    return render(request, "web/compensation/model.html", {
        "model": model, "run": model.calc_run, "totals": totals, "overall": overall,
        "chart": chart, "rows": rows[:SHOWN_ROWS], "row_count": rows.count(),
        "shown_rows": SHOWN_ROWS, "gainers": everyone.filter(change__gt=0)[:TOP_MOVERS],
        "losers": everyone.filter(change__lt=0).order_by("change", "person__name")[:TOP_MOVERS],
        "periods": model.periods.order_by("start"), "period_id": period_id, "search": search,
        "order": order, "descending": descending, "csv_url": csv_url(request),
        "done": model.calc_run.status == CalcRun.Status.SUCCEEDED,
        "pending": model.calc_run.status in (CalcRun.Status.QUEUED, CalcRun.Status.RUNNING),
        "percentiles": PERCENTILE_NAMES})


@login_required
def model_progress(request: HttpRequest, model_id: int) -> HttpResponse:
    """The progress line of a modelling run (polled by HTMX until it has finished)."""
    _modeller(request)
    model = _model(model_id)
    return render(request, "web/compensation/_model_progress.html", {
        "model": model, "run": model.calc_run,
        "pending": model.calc_run.status in (CalcRun.Status.QUEUED, CalcRun.Status.RUNNING)})


@login_required
def model_person(request: HttpRequest, model_id: int, person_id: int) -> HttpResponseBase:
    """One person's earning lines under the plan in force and under the draft, with both
    explanations."""
    viewer = _modeller(request)
    model = _model(model_id)
    rows = list(cq.model_rows(viewer.user, model).filter(person_id=person_id))
    if not rows:
        raise Http404("No such person in this modelling run.")
    lines = list(cq.model_lines(viewer.user, model, person_id))
    if wants_export(request):
        return export_response(request, f"plan-model-{model.pk}-{rows[0].person.external_id}", [
            "period", "component", "line_kind", "booking_id", "currency", "in_force", "draft",
            "change", "in_force_explanation", "draft_explanation"], [
            (line.period.label, line.component, line.line_kind, line.booking_id or "",
             line.currency, line.in_force_amount, line.draft_amount, line.change,
             " ".join(trace_steps(line.in_force_trace)), " ".join(trace_steps(line.draft_trace)))
            for line in lines])
    for line in lines:
        line.in_force_steps = trace_steps(line.in_force_trace)
        line.draft_steps = trace_steps(line.draft_trace)
    return render(request, "web/compensation/model_person.html", {
        "model": model, "person": rows[0].person, "rows": rows, "lines": lines,
        "csv_url": csv_url(request)})


# --- accrual ------------------------------------------------------------------------------------

ACCRUAL_HEADER = ("period", "period_start", "period_end", "run", "person", "employee_id",
                  "currency", "earned", "paid", "accrued", "exported_on")


def _accrual_export(rows: Iterator[Any]) -> Iterator[tuple[Any, ...]]:
    for p in rows:
        yield (p.run.period.label, p.period_start, p.period_end, p.run_id, p.person.name,
               p.person.external_id, p.currency, p.earned, cents(p.paid), cents(p.accrued),
               p.exported_on.date() if p.exported_on else "")


@login_required
def accrual(request: HttpRequest) -> HttpResponseBase:
    """Earned but unpaid as of a day: per period and person, earned, paid (exported to payroll
    by then) and accrued, per currency, with totals; each row opens the statement."""
    viewer = _modeller(request)
    raw = request.GET.get("as_of", "")
    try:
        as_of: date | None = parse_date(raw) if raw else today()
    except ValueError:  # well formed but no such day (2026-02-30)
        as_of = None
    error = None
    if as_of is None:
        error, as_of = f"as_of: “{raw}” is not a date (YYYY-MM-DD); showing today.", today()
    period_id = _int(request.GET.get("period"))
    search = request.GET.get("q", "").strip()
    rows = cq.accrual_rows(viewer.user, as_of, period_id=period_id, search=search)
    if wants_export(request):
        return export_response(request, f"accrual-{as_of.isoformat()}", ACCRUAL_HEADER,
                               _accrual_export(rows.iterator()))
    return render(request, "web/compensation/accrual.html", {
        "as_of": as_of, "error": error, "rows": rows[:SHOWN_ROWS], "row_count": rows.count(),
        "shown_rows": SHOWN_ROWS, "totals": cq.accrual_totals(rows),
        "by_period": cq.accrual_by_period(rows), "period_id": period_id, "search": search,
        "periods": cq.periods_with_runs().filter(start__lte=as_of),
        "csv_url": csv_url(request)})


urlpatterns = [
    path("comp/versions/<int:version_id>/model/", version_model, name="comp-version-model"),
    path("comp/models/<int:model_id>/", model_detail, name="comp-model"),
    path("comp/models/<int:model_id>/progress/", model_progress, name="comp-model-progress"),
    path("comp/models/<int:model_id>/people/<int:person_id>/", model_person,
         name="comp-model-person"),
    path("comp/accrual/", accrual, name="comp-accrual"),
]

