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
from attain.people.models import Person
from attain.performance import queries as perf
from attain.web import dashboards, links
from attain.web.exports import csv_url, export_response, wants_export
from attain.web.forms import AttainmentFilters, BookingFilters, OpportunityFilters
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
         "currency"],
        ((b.booked_on, b.external_id, b.owner.name if b.owner else "",
          b.opportunity.name if b.opportunity else "", b.product.name if b.product else "",
          b.quantity, b.amount, b.currency)
         for b in bookings.select_related("opportunity").iterator()),
    )


@login_required
def opportunity_list(request: HttpRequest) -> HttpResponseBase:
    as_of = today()
    form = OpportunityFilters(request.GET, user=request.user, as_of=as_of)
    rows = (crm_queries.opportunities(request.user, as_of, **form.query_params(),
                                      ordering="close_date")
            if form.is_valid() else crm_queries.opportunities(request.user, as_of).none())
    if wants_export(request):
        return export_response(
            request, "opportunities",
            ["id", "external_id", "name", "account", "owner", "stage", "amount", "currency",
             "close_date", "is_closed", "is_won"],
            ((o.pk, o.external_id, o.name, o.account.name if o.account else "",
              o.owner.name if o.owner else "", o.stage.name, o.amount, o.currency,
              o.close_date, o.is_closed, o.is_won) for o in rows.iterator()),
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
    if wants_export(request):
        return _bookings_export(request, f"bookings-{opportunity.external_id}", bookings)
    return render(request, "web/opportunity_detail.html", {
        "opportunity": opportunity,
        "history": list(opportunity.stage_changes.all()),
        "bookings": bookings, "bookings_csv_url": csv_url(request),
    })


@login_required
def booking_list(request: HttpRequest) -> HttpResponseBase:
    as_of = today()
    form = BookingFilters(request.GET, user=request.user, as_of=as_of)
    rows = (crm_queries.bookings(request.user, as_of, **form.query_params())
            if form.is_valid() else crm_queries.bookings(request.user, as_of).none())
    if wants_export(request):
        return _bookings_export(request, "bookings", rows)
    return render(request, "web/booking_list.html", {
        "form": form, "page": _page(request, rows.select_related("opportunity")),
        "csv_url": csv_url(request), "totals": crm_queries.totals_by_currency(rows),
    })


@login_required
def attainment(request: HttpRequest) -> HttpResponseBase:
    """Quota attainment of everyone the viewer may see, for a period, optionally in a band."""
    viewer, as_of = _viewer(request), today()
    if not (viewer.is_manager or viewer.is_company_wide):
        raise PermissionDenied("Attainment tables are for managers and company-wide roles.")
    span, period = _period_from(request, as_of)
    form = AttainmentFilters(request.GET)
    band = form.cleaned_data if form.is_valid() else {}
    rows = [
        r for r in perf.attainment(request.user, as_of, span, period,
                                   exclude_person_id=None if viewer.is_company_wide
                                   else viewer.person_id)
        if (band.get("min") is None or (r.pct is not None and r.pct >= band["min"]))
        and (band.get("max") is None or (r.pct is not None and r.pct < band["max"]))
    ]
    if wants_export(request):
        return export_response(
            request, f"attainment-{span.label}",
            ["person_id", "name", "role", "quota", "bookings", "booking_count", "attainment_pct",
             "currency"],
            ((r.person_id, r.name, r.role, r.quota, r.bookings, r.booking_count, r.pct,
              r.currency) for r in rows),
        )
    period_id = period.pk if period else None
    return render(request, "web/attainment.html", {
        "span": span, "period": period, "form": form, "band": band,
        "rows": [{"row": r, "person_link": links.person_url(r.person_id, period_id),
                  "bookings_link": links.bookings_url(owner=r.person_id, start=span.start,
                                                      end=span.end)} for r in rows],
        "periods": perf.period_choices(PeriodKind.QUARTER), "csv_url": csv_url(request),
        "latest_run": perf.latest_bookings_run(),
    })


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
