"""Pages of the web shell: each view parses its input, calls queries, renders (or exports CSV)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from attain.core.models import Period
from attain.core.periods import FiscalSpan, PeriodKind
from attain.crm import queries as crm_queries
from attain.people import queries as people_queries
from attain.people.models import Person
from attain.performance import queries as perf
from attain.pipeline import queries as pipeline_queries
from attain.web import dashboards, links
from attain.web.exports import csv_url, export_response, wants_export
from attain.web.forms import BookingFilters, OpportunityFilters
from attain.web.viewer import Viewer, viewer_of

PAGE_SIZE = 50


def today() -> date:
    return timezone.localdate()


def _viewer(request: HttpRequest) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None  # every view is behind @login_required
    return viewer


def _page(request: HttpRequest, rows: Any) -> Page:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def _period_from(request: HttpRequest, as_of: date) -> tuple[FiscalSpan, Period | None]:
    """The stored period named by `?period=<id>`, else the fiscal quarter containing `as_of`."""
    raw = request.GET.get("period", "")
    if raw.isdigit():
        period = Period.objects.filter(pk=int(raw)).first()
        if period is not None:
            return FiscalSpan(PeriodKind(period.kind), period.start, period.end,
                              period.label), period
    return perf.current_period(PeriodKind.QUARTER, as_of)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    viewer, as_of = _viewer(request), today()
    if viewer.is_company_wide:
        return render(request, "web/home_company.html",
                      dashboards.company_home(viewer, as_of) | {"as_of": as_of})
    if viewer.person_id is None:
        return render(request, "web/home_unlinked.html")
    if viewer.is_manager:
        return render(request, "web/home_manager.html",
                      dashboards.manager_home(viewer, as_of) | {"as_of": as_of})
    return render(request, "web/home_rep.html",
                  dashboards.rep_home(viewer, as_of) | {"as_of": as_of})


@login_required
def person(request: HttpRequest, person_id: int) -> HttpResponseBase:
    """One person: quota, attainment and order lines in a period, and their open opportunities."""
    as_of = today()
    person = get_object_or_404(Person.objects.visible_to(request.user, as_of), pk=person_id)
    span, period = _period_from(request, as_of)
    bookings = crm_queries.bookings(request.user, as_of, owner_id=person.pk,
                                    booked_from=span.start, booked_to=span.end)
    if wants_export(request):
        return _bookings_export(request, f"bookings-{person.external_id}-{span.label}",
                                bookings)
    return render(request, "web/person.html", {
        "person": person, "span": span, "period": period,
        "figures": perf.person_attainment(request.user, as_of, person.pk, period),
        "bookings": bookings, "totals": crm_queries.totals_by_currency(bookings),
        "open_opportunities": crm_queries.opportunities(
            request.user, as_of, owner_id=person.pk, is_closed=False),
        "open_link": links.opportunities_url(owner=person.pk, status="open"),
        "periods": perf.period_choices(PeriodKind.QUARTER),
        "latest_run": perf.latest_bookings_run(), "csv_url": csv_url(request),
    })


def _bookings_export(request: HttpRequest, name: str, bookings: Any) -> HttpResponseBase:
    return export_response(
        request, name,
        ["booked_on", "booking", "owner", "opportunity", "product", "quantity", "amount",
         "currency", "invoiced_on", "paid_on", "cancelled_on"],
        ((b.booked_on, b.external_id, b.owner.name if b.owner else "",
          b.opportunity.name if b.opportunity else "", b.product.name if b.product else "",
          b.quantity, b.amount, b.currency, b.invoiced_on, b.paid_on, b.cancelled_on)
         for b in bookings.select_related("opportunity", "owner", "product").iterator()),
    )


@login_required
def opportunity_list(request: HttpRequest) -> HttpResponseBase:
    as_of = today()
    form = OpportunityFilters(request.GET, user=request.user, as_of=as_of)
    rows = (crm_queries.opportunities(request.user, as_of, **form.query_params(),
                                      ordering="close_date")
            if form.is_valid() else crm_queries.opportunities(request.user, as_of).none())
    if request.GET.get("product"):  # drill-down from pipeline analytics "by product"
        rows = pipeline_queries.opportunities_of_product(rows, request.GET["product"])
    if wants_export(request):
        return export_response(
            request, "opportunities",
            ["id", "external_id", "name", "account", "owner", "stage", "amount", "currency",
             "close_date", "is_closed", "is_won", "product", "partner"],
            ((o.pk, o.external_id, o.name, o.account.name if o.account else "",
              o.owner.name if o.owner else "", o.stage.name, o.amount, o.currency,
              o.close_date, o.is_closed, o.is_won, o.product.name if o.product else "",
              o.partner) for o in rows.select_related("product").iterator()),
        )
    return render(request, "web/opportunity_list.html", {
        "form": form, "page": _page(request, rows), "csv_url": csv_url(request),
        "totals": crm_queries.totals_by_currency(rows),
    })


@login_required
def opportunity_detail(request: HttpRequest, opportunity_id: int) -> HttpResponseBase:
    as_of = today()
    opportunity = crm_queries.opportunity(request.user, as_of, opportunity_id)
    if opportunity is None:
        raise Http404("No such opportunity")
    bookings = crm_queries.bookings(request.user, as_of, opportunity_id=opportunity.pk)
    history = opportunity.stage_changes.select_related("from_stage", "to_stage")
    splits = opportunity.splits.select_related("person").order_by("kind", "-percent", "person")
    table = request.GET.get("table", "")
    if wants_export(request) and table == "history":
        return export_response(
            request, f"stage-history-{opportunity.external_id}",
            ["changed_at", "from_stage", "to_stage", "amount", "currency", "close_date"],
            ((c.changed_at, c.from_stage.name if c.from_stage else "", c.to_stage.name,
              c.amount, opportunity.currency if c.amount is not None else "", c.close_date)
             for c in history))
    if wants_export(request) and table == "splits":
        return export_response(
            request, f"splits-{opportunity.external_id}", ["person", "kind", "percent"],
            ((s.person.name, s.kind, s.percent) for s in splits))
    if wants_export(request):
        return _bookings_export(request, f"bookings-{opportunity.external_id}", bookings)
    return render(request, "web/opportunity_detail.html", {
        "opportunity": opportunity, "history": list(history), "splits": list(splits),
        "bookings": bookings, "bookings_csv_url": csv_url(request),
        "history_csv_url": f"{request.path}?table=history&format=csv",
        "splits_csv_url": f"{request.path}?table=splits&format=csv",
    })


@login_required
def booking_list(request: HttpRequest) -> HttpResponseBase:
    as_of = today()
    form = BookingFilters(request.GET, user=request.user, as_of=as_of)
    rows = (crm_queries.bookings(request.user, as_of, **form.query_params())
            if form.is_valid() else crm_queries.bookings(request.user, as_of).none())
    for dimension in ("region", "category"):  # drill-down from the bookings breakdown
        if request.GET.get(dimension):
            rows = perf.bookings_of(rows, dimension, request.GET[dimension])
    if wants_export(request):
        return _bookings_export(request, "bookings", rows)
    manager_id = form.cleaned_data.get("manager") if form.is_valid() else None
    return render(request, "web/booking_list.html", {
        "form": form, "page": _page(request, rows.select_related("opportunity")),
        "rollup_of": people_queries.person(request.user, as_of, manager_id)
        if manager_id is not None else None,
        "csv_url": csv_url(request), "totals": crm_queries.totals_by_currency(rows),
    })


@login_required
def attainment(request: HttpRequest) -> HttpResponseBase:
    """The old attainment table: now the performance dashboard (`/performance/`), which shows
    the same people with quota, bookings, attainment, pacing and coverage from the performance
    run, exports CSV and XLSX, and scopes every role. `?period=&min=&max=&format=` carry over
    unchanged (the same names there), so bookmarks and exported links keep working."""
    query = request.GET.urlencode()
    target = reverse("performance-attainment")
    return HttpResponseRedirect(f"{target}?{query}" if query else target)


@login_required
def bookings_freshness(request: HttpRequest) -> HttpResponse:
    """The freshness line alone, polled by HTMX while a run is queued or running."""
    latest = perf.latest_bookings_run()
    shown = request.GET.get("shown", "")
    return render(request, "web/_freshness.html", {
        "latest_run": latest, "pending_run": perf.pending_bookings_run(),
        "newer_run": latest is not None and str(latest.pk) != shown,
    })


@login_required
@require_POST
def run_bookings(request: HttpRequest) -> HttpResponse:
    """Sales operations asks for a fresh bookings calculation (queued; the page shows progress)."""
    viewer = _viewer(request)
    if not viewer.can_run_calculations:
        raise PermissionDenied("Only sales operations can start calculations.")
    from attain.web.calculations import request_bookings_run

    message = request_bookings_run(request.user)
    messages.success(request, message)
    return HttpResponseRedirect(reverse("home"))
