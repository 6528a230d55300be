"""Pages of quotas, attainment and pacing, rep and team comparison, and leaderboards.

Every figure comes from the latest succeeded `performance` run (`performance.queries`); each view
parses its filters (period, team, metric — kept in the URL), calls one query, and renders HTML or
the CSV of the same table. Writes (quotas, allocations, the leaderboard setting, a new run) go
through `performance.actions` and are for sales operations only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, json_script
from django.views.decorators.http import require_POST

from attain.core.models import Period
from attain.core.periods import PeriodKind
from attain.people import queries as people_queries
from attain.people.models import Person, Team
from attain.performance import actions
from attain.performance import queries as perf
from attain.performance.models import Quota
from attain.web import charts, links
from attain.web.exports import csv_url, export_response, wants_export
from attain.web.templatetags import performance_figures as figure_filters
from attain.web.templatetags.figures import percent
from attain.web.viewer import Viewer, viewer_of

CHOICE_KINDS = (PeriodKind.QUARTER, PeriodKind.MONTH, PeriodKind.YEAR, PeriodKind.WEEK)
# Rows a table shows at once (`?page=`); medians, ranks, totals and exports cover every row.
PAGE_SIZE = 50


def _page(request: HttpRequest, rows: Sequence[Any] | QuerySet[Any],
          param: str = "page") -> Page[Any]:
    """The page of `rows` that the query parameter `param` asks for (each table of a page
    turns its pages with its own parameter)."""
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get(param))


def today() -> date:
    return timezone.localdate()


def _viewer(request: HttpRequest) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None  # behind @login_required
    return viewer


def _int(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() else None


def _filters(request: HttpRequest, as_of: date, *, every_team: bool = False) -> dict[str, Any]:
    """Period (`?period=`, default the current quarter) and team (`?team=`, visible teams only,
    or any team with `every_team`) of a page, with the choices the filter form offers (the
    teams as (id, name) pairs: a large company has a thousand)."""
    period = None
    period_id = _int(request, "period")
    if period_id is not None:
        period = Period.objects.filter(pk=period_id).first()
    if period is None:
        period = perf.current_period(PeriodKind.QUARTER, as_of)[1]
    offered = Team.objects.all() if every_team else people_queries.teams(request.user, as_of)
    teams = list(offered.order_by("name", "id").values_list("pk", "name"))
    team_id = _int(request, "team")
    team = (Team.objects.filter(pk=team_id).first()
            if any(pk == team_id for pk, _ in teams) else None)
    last_year_end = perf.calendar_rules().span(PeriodKind.YEAR, as_of).end
    with_quotas = Quota.objects.values("period_id")
    choices = [(kind.value.title(), list(
        Period.objects.filter(kind=kind.value, start__lt=last_year_end)
        # weeks have results only where someone holds a weekly quota
        .filter(**({"pk__in": with_quotas} if kind is PeriodKind.WEEK else {}))
        .order_by("-start")[:60]))
        for kind in CHOICE_KINDS]
    return {"period": period, "team": team, "teams": teams,
            "period_groups": [(label, rows) for label, rows in choices if rows],
            "span": perf.period_span(period) if period else None}


def _freshness() -> dict[str, Any]:
    return {"perf_run": perf.latest_performance_run(),
            "perf_pending": perf.pending_performance_run()}


def _opportunities_url(*, owner: int | None, status: str, period: Period | None) -> str:
    """Opportunities of `owner` with `status`, closing in the period (`close_to` excluded)."""
    params: dict[str, Any] = {"owner": owner, "status": status}
    if period is not None:
        params |= {"close_from": period.start.isoformat(), "close_to": period.end.isoformat()}
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{reverse('opportunities')}?{query}"


def _page_url(name: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{reverse(name)}?{query}" if query else reverse(name)


def _person_links(row: Any, period: Period) -> dict[str, str]:
    return {
        "person": links.person_url(row.person_id, period.pk),
        "bookings": links.bookings_url(owner=row.person_id, start=period.start, end=period.end),
        "won": _opportunities_url(owner=row.person_id, status="won", period=period),
        "closed": _opportunities_url(owner=row.person_id, status="closed", period=period),
        "open": _opportunities_url(owner=row.person_id, status="open", period=period),
        # pipeline created in the period: deals created in [start, end)
        "created": links.opportunities_url(owner=row.person_id,
                                           created=(period.start, period.end)),
    }


# --- attainment and pacing ----------------------------------------------------------------------


@login_required
def attainment_dashboard(request: HttpRequest) -> HttpResponseBase:
    """Attainment and pacing of everyone the viewer may see in a period: totals, the histogram,
    the trend, the people table and the managers' roll-ups."""
    as_of = today()
    filters = _filters(request, as_of)
    period, team, span = filters["period"], filters["team"], filters["span"]
    run = perf.latest_performance_run()
    team_id = team.pk if team else None
    # sorting, the band filter, paging, totals and the histogram are done by the database
    rows = perf.person_performance_rows(request.user, as_of, run, period, team_id=team_id)
    low, high = _int(request, "min"), _int(request, "max")
    shown = perf.person_performance_rows(request.user, as_of, run, period, team_id=team_id,
                                         min_pct=low, max_pct=high)
    if wants_export(request) and request.GET.get("table") == "rollups":
        rolled = [] if team_id or period is None else perf.manager_rollups(
            request.user, as_of, run, period).iterator(2000)
        return export_response(
            request, f"attainment-rollups-{period.label if period else 'none'}",
            ["manager_id", "manager", "team", "quota", "quota_from", "bookings",
             "attainment_pct", "pace_pct", "coverage", "currency"],
            ((r.manager_id, r.manager.name, r.team.name if r.team else "", r.quota,
              r.quota_source, r.bookings, r.attainment_pct, r.pace_pct, r.coverage, r.currency)
             for r in rolled))
    if wants_export(request):
        return export_response(
            request, f"attainment-{period.label if period else 'none'}",
            ["person_id", "name", "team", "quota", "bookings", "booking_count",
             "attainment_pct", "expected_to_date", "pace_pct", "open_pipeline", "coverage",
             "currency"],
            ((r.person_id, r.person.name, r.team.name if r.team else "", r.quota, r.bookings,
              r.booking_count, r.attainment_pct, r.expected_to_date, r.pace_pct,
              r.open_pipeline, r.coverage, r.currency) for r in shown.iterator(2000)),
        )
    context: dict[str, Any] = {**filters, **_freshness(), "run": run, "csv_url": csv_url(request),
                               "currency": perf.company_currency(), "band_low": low,
                               "band_high": high}
    if period is None or span is None:
        return render(request, "web/performance/attainment.html", context)
    totals = perf.scope_totals(rows, span, as_of)
    bands = perf.attainment_bands(rows)
    band_links = [_page_url("performance-attainment", period=period.pk, team=team_id,
                            min=b.low, max=b.high) for b in bands]
    trend = perf.attainment_trend(request.user, as_of, run, period, team_id=team_id)
    trend_links = [_page_url("performance-attainment", period=p.period.pk, team=team_id)
                   for p in trend]
    rollups = None if team_id else _page(
        request, perf.manager_rollups(request.user, as_of, run, period), param="rpage")
    context |= {
        "totals": totals,
        "page": (page := _page(request, shown)),
        "rows": [{"row": r, "links": _person_links(r, period)} for r in page],
        "bands": list(zip(bands, band_links, strict=True)),
        "band_chart": charts.bar_chart(
            [b.label for b in bands], [("People", [b.people for b in bands], band_links)],
            counts=True, colors=charts.BAND_COLORS),
        "trend_chart": charts.trend_chart(
            [p.period.label for p in trend], ("Bookings", [p.bookings for p in trend]),
            ("Attainment", [p.attainment_pct for p in trend]), trend_links),
        "trend": list(zip(trend, trend_links, strict=True)),
        "rollup_page": rollups,
        "rollups": [{"row": r, "link": links.person_url(r.manager_id, period.pk),
                     "bookings_link": links.bookings_url(manager=r.manager_id,
                                                         start=period.start, end=period.end)}
                    for r in rollups or []],
        "bookings_link": links.bookings_url(start=period.start, end=period.end),
        "rollups_csv_url": _page_url("performance-attainment", period=period.pk, team=team_id,
                                     table="rollups", format="csv"),
    }
    return render(request, "web/performance/attainment.html", context)


# --- comparison ---------------------------------------------------------------------------------


@login_required
def comparison(request: HttpRequest) -> HttpResponseBase:
    """Reps (or teams, `?by=team`) side by side: every measure against the team's median with
    the rep's percentile, sparklines, a percentile heatmap, and the top and bottom performers."""
    viewer, as_of = _viewer(request), today()
    filters = _filters(request, as_of)
    period, team = filters["period"], filters["team"]
    run = perf.latest_performance_run()
    by_team = request.GET.get("by") == "team"
    context: dict[str, Any] = {**filters, **_freshness(), "run": run, "by_team": by_team,
                               "csv_url": csv_url(request), "currency": perf.company_currency(),
                               "measures": perf.MEASURES, "by_team_params": [("by", "team")]}
    if by_team:
        if not (viewer.is_manager or viewer.is_company_wide):
            raise PermissionDenied("Team comparison is for managers and company-wide roles.")
        teams = perf.team_performance(request.user, as_of, run, period)
        if wants_export(request):
            return export_response(
                request, f"teams-{period.label if period else 'none'}",
                ["team", "members", "quota", "bookings", "attainment_pct", "win_rate_pct",
                 "avg_deal_size", "avg_cycle_days", "pipeline_created", "coverage"],
                ((t.team.name, t.members, t.quota, t.bookings, t.attainment_pct, t.win_rate_pct,
                  t.avg_deal_size, t.avg_cycle_days, t.pipeline_created, t.coverage)
                 for t in teams))
        context["team_rows"] = [
            {"row": t, "link": _page_url("performance-compare", period=period.pk if period
                                         else None, team=t.team_id),
             "bookings_link": links.bookings_url(start=period.start, end=period.end)
             if period else ""} for t in teams]
        context["team_chart"] = charts.bar_chart(
            [t.team.name for t in teams],
            [("Attainment %", [t.attainment_pct or Decimal(0) for t in teams],
              [row["link"] for row in context["team_rows"]])])
        return render(request, "web/performance/compare.html", context)

    if wants_export(request):
        result = perf.comparison(request.user, as_of, run, period, team.pk if team else None)
        header = ["person_id", "name", "team"]
        for m in perf.MEASURES:
            header += [m.key, f"{m.key}_team_median", f"{m.key}_percentile"]
        for s in result["stages"]:
            header += [f"conversion_{s.name}", f"conversion_{s.name}_percentile"]
        return export_response(
            request, f"comparison-{period.label if period else 'none'}", header,
            ([r.row.person_id, r.row.person.name, r.row.team.name if r.row.team else "",
              *[v for c in r.cells for v in (c.value, c.median, c.percentile)],
              *[v for c in r.conversions for v in (c.value, c.percentile)]]
             for r in result["rows"]))
    # one page of rows; medians, percentiles and top/bottom are over every row (database)
    result = perf.comparison_page(request.user, as_of, run, period, team.pk if team else None,
                                  request.GET.get("page"), PAGE_SIZE)
    shown = result["rows"]
    context |= {
        **result,
        "rows": [_comparison_row(r, period) for r in shown] if period else [],
        "heatmap": charts.heatmap_chart(
            [m.label for m in perf.MEASURES] + [c.measure.label for c in shown[0].conversions],
            [r.row.person.name for r in shown],
            [(x, y, cell.percentile, links.person_url(r.row.person_id, period.pk))
             for y, r in enumerate(shown)
             for x, cell in enumerate([*r.cells, *r.conversions])]) if shown and period
        else None,
    }
    return render(request, "web/performance/compare.html", context)


def _pctl_class(percentile: int | None) -> str:
    if percentile is None:
        return ""
    return "good" if percentile >= 67 else "fair" if percentile >= 34 else "poor"


# which drill-down a measure's figure opens (the person's records behind it)
_MEASURE_LINK = {"bookings": "bookings", "attainment_pct": "bookings", "win_rate_pct": "closed",
                 "coverage": "open", "pipeline_created": "created"}


def _comparison_row(r: perf.ComparisonRow, period: Period) -> dict[str, Any]:
    """A table row with every cell's text, link and percentile class worked out here, so the
    template prints values (50 rows x 10+ cells: no filters, conditions or includes per cell)."""
    row_links = _person_links(r.row, period)
    spark_id = f"spark-{r.row.person_id}"
    cells = [{"sort": "" if c.value is None else c.value, "key": c.measure.key,
              "link": row_links[_MEASURE_LINK.get(c.measure.key, "won")],
              "text": figure_filters.measure(c.value, c.measure.kind),
              "median": figure_filters.measure(c.median, c.measure.kind),
              "percentile": c.percentile, "pctl_class": _pctl_class(c.percentile)}
             for c in r.cells]
    conversions = [{"sort": "" if c.value is None else c.value, "link": row_links["person"],
                    "text": percent(c.value), "median": percent(c.median),
                    "percentile": c.percentile} for c in r.conversions]
    return {"item": r, "links": row_links, "cells": cells, "conversions": conversions,
            "spark": format_html(
                '<div class="chart chart-small" data-chart="{}" role="img" '
                'aria-label="Monthly bookings"></div>{}', spark_id,
                json_script(charts.sparkline_chart(r.sparkline, row_links["person"]), spark_id))}


# --- leaderboards -------------------------------------------------------------------------------


@login_required
def leaderboard(request: HttpRequest) -> HttpResponseBase:
    """Reps ranked on a metric in a period, company-wide or in a team, with rank movement since
    the previous period. Every role sees leaderboards; reps see other reps' names only when the
    company chose named leaderboards, and never a link to another rep's detail."""
    viewer, as_of = _viewer(request), today()
    # a leaderboard may name any team, not only those the viewer manages
    filters = _filters(request, as_of, every_team=True)
    period, team = filters["period"], filters["team"]
    metric = request.GET.get("metric", "bookings")
    if metric not in perf.LEADERBOARD_METRIC_BY_KEY:
        metric = "bookings"
    names = perf.leaderboard_names()
    anonymise = viewer.is_rep and names == "anonymised"
    run = perf.latest_performance_run()
    measure = perf.LEADERBOARD_METRIC_BY_KEY[metric]
    if wants_export(request):
        entries = perf.leaderboard(request.user, as_of, run, period, metric,
                                   team.pk if team else None,
                                   viewer_person_id=viewer.person_id,
                                   names_for_everyone=not anonymise)
        return export_response(
            request, f"leaderboard-{metric}-{period.label if period else 'none'}",
            ["rank", "previous_rank", "movement", "name", "team", metric],
            ((e.rank, e.previous_rank, e.movement, e.name, "" if e.anonymised else e.team,
              e.value) for e in entries))
    # one page, ranked by the database
    board = perf.leaderboard_page(request.user, as_of, run, period, metric,
                                  team.pk if team else None, viewer_person_id=viewer.person_id,
                                  names_for_everyone=not anonymise,
                                  page_number=request.GET.get("page"), page_size=PAGE_SIZE)
    shown, top = board["entries"], board["top"]
    may_open = viewer.is_manager or viewer.is_company_wide
    visible = (set(Person.objects.visible_to(request.user, as_of).filter(
        pk__in={e.person_id for e in (*shown, *top)}).values_list("pk", flat=True))
        if may_open else set())

    def link(e: perf.LeaderboardEntry) -> str | None:
        return (links.person_url(e.person_id, period.pk)
                if period and (e.is_viewer or e.person_id in visible) else None)

    mine = board["viewer_entry"]
    context = {
        **filters, **_freshness(), "run": run,
        "page": board["page"], "viewer_entry": mine,
        "viewer_page": _page_url("performance-leaderboard", period=period.pk if period else None,
                                 team=team.pk if team else None, metric=metric,
                                 page=board["viewer_page"]) if mine else None,
        "metric": measure, "metrics": perf.LEADERBOARD_METRICS, "anonymised": anonymise,
        "names_setting": names, "csv_url": csv_url(request), "currency": perf.company_currency(),
        "previous": perf.previous_period(period) if period else None,
        "entries": [{"entry": e, "link": link(e)} for e in shown],
        "chart": charts.bar_chart(
            [e.name for e in top],
            [(measure.label, [e.value for e in top], [link(e) for e in top])]) if top else None,
    }
    return render(request, "web/performance/leaderboard.html", context)


# --- bookings by region and category -----------------------------------------------------------


def _breakdown_bookings_url(period: Period | None, dimension: str, value: str) -> str:
    """The order lines behind one breakdown figure: booked in the period (any day without
    one), of that region or category (the bookings list honours `region=`/`category=`)."""
    base = links.bookings_url(start=period.start if period else None,
                              end=period.end if period else None)
    if not value:
        return base
    return f"{base}{'&' if '?' in base else '?'}{urlencode({dimension: value})}"


@login_required
def bookings_breakdown(request: HttpRequest) -> HttpResponseBase:
    """Bookings of a period by region or by category (`?dimension=`), with each one's share,
    and the same by fiscal year and for all the data side by side, every figure linked to its
    order lines. Every order line counts, owned by a rep or not, so the page is for
    company-wide roles."""
    viewer, as_of = _viewer(request), today()
    if not viewer.is_company_wide:
        raise PermissionDenied("Company bookings by region and category are for company-wide "
                               "roles.")
    filters = _filters(request, as_of)
    period = filters["period"]
    dimensions = dict(perf.BREAKDOWN_DIMENSIONS)
    dimension = request.GET.get("dimension", "region")
    if dimension not in dimensions:
        dimension = "region"
    run = perf.latest_performance_run()
    total, rows = perf.bookings_breakdown(request.user, run, period, dimension)
    years = perf.bookings_breakdown_years(request.user, run, dimension)
    values = sorted({r.value for _, _, year_rows in years for r in year_rows})
    if wants_export(request) and request.GET.get("table") == "years":
        return export_response(
            request, f"bookings-by-{dimension}-and-year",
            ["year", dimension, "amount", "order_lines", "currency"],
            ((y.label if y else "All years", r.value or "(none)", r.amount, r.booking_count,
              r.currency)
             for y, year_total, year_rows in years
             for r in [*year_rows, *([year_total] if year_total else [])]))
    if wants_export(request):
        return export_response(
            request, f"bookings-by-{dimension}-{period.label if period else 'none'}",
            ["period", dimension, "amount", "order_lines", "share_pct", "currency"],
            ((period.label if period else "", r.value or "(none)", r.amount, r.booking_count,
              r.share_pct, r.currency) for r in rows))
    currency = perf.company_currency()
    row_links = [_breakdown_bookings_url(period, dimension, r.value) for r in rows]
    matrix = [{"label": y.label if y else "All years", "total": year_total,
               "link": _breakdown_bookings_url(y, dimension, ""),
               "cells": [next(({"row": r, "link": _breakdown_bookings_url(y, dimension, v)}
                               for r in year_rows if r.value == v), None) for v in values]}
              for y, year_total, year_rows in years]
    return render(request, "web/performance/bookings.html", {
        **filters, **_freshness(), "run": run, "currency": currency, "dimension": dimension,
        "dimension_label": dimensions[dimension], "dimensions": perf.BREAKDOWN_DIMENSIONS,
        "total": total, "rows": list(zip(rows, row_links, strict=True)),
        "total_link": _breakdown_bookings_url(period, dimension, "") if period else "",
        "values": values, "matrix": matrix, "csv_url": csv_url(request),
        "years_csv_url": _page_url("performance-bookings", dimension=dimension,
                                   period=period.pk if period else None, table="years",
                                   format="csv"),
        "chart": charts.bar_chart(
            [r.value or "(none)" for r in rows],
            [(f"Bookings ({currency})", [r.amount for r in rows], row_links)]) if rows else None,
        "extra_params": [("dimension", dimension)],
    })


# --- quotas (sales operations) ------------------------------------------------------------------


def _require_company_wide(viewer: Viewer) -> None:
    if not viewer.is_company_wide:
        raise PermissionDenied("Quotas are managed by sales operations.")


@login_required
def quotas(request: HttpRequest) -> HttpResponseBase:
    """Quotas of a period (optionally one team's), their versions, and for sales operations the
    forms to set a quota, allocate a team number and choose how leaderboards show names."""
    viewer, as_of = _viewer(request), today()
    _require_company_wide(viewer)
    filters = _filters(request, as_of)
    period, team = filters["period"], filters["team"]
    rows = perf.quota_rows(request.user, as_of, period, team_id=team.pk if team else None)
    if wants_export(request):
        return export_response(
            request, f"quotas-{period.label if period else 'none'}",
            ["quota_id", "person", "team", "period", "amount", "currency", "versions"],
            ((q.pk, q.person.name if q.person else "", q.team.name if q.team else "",
              q.period.label, q.amount, q.currency, q.version_count) for q in rows))
    return render(request, "web/performance/quotas.html", {
        **filters, **_freshness(), "rows": rows, "csv_url": csv_url(request),
        "can_edit": viewer.is_ops, "people": people_queries.people(request.user, as_of),
        "methods": actions.AllocationMethod.CHOICES, "names_setting": perf.leaderboard_names(),
        "errors": request.session.pop("quota_errors", None),
        "values": request.session.pop("quota_values", None) or {},
    })


@login_required
def quota_detail(request: HttpRequest, quota_id: int) -> HttpResponse:
    """One quota and every version of it (effective date, amount, who, when, why)."""
    viewer, as_of = _viewer(request), today()
    _require_company_wide(viewer)
    found = perf.quota_history(request.user, as_of, quota_id)
    if found is None:
        raise Http404("No such quota")
    quota, versions = found
    return render(request, "web/performance/quota_detail.html", {
        "quota": quota, "versions": versions,
        "in_force": actions.quota_as_of(quota, min(as_of, quota.period.end)),
    })


def _back_to_quotas(request: HttpRequest) -> HttpResponseRedirect:
    params = {k: request.POST.get(k) for k in ("period", "team")}
    return HttpResponseRedirect(_page_url("performance-quotas", **params))


def _refuse(request: HttpRequest, error: actions.QuotaError) -> HttpResponseRedirect:
    request.session["quota_errors"] = error.as_dict()
    request.session["quota_values"] = {k: v for k, v in request.POST.items()
                                       if k != "csrfmiddlewaretoken"}
    return _back_to_quotas(request)


def _date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise actions.QuotaError(f"{raw!r} is not a date (YYYY-MM-DD).", field="valid_from",
                                 value=raw) from None


def _require_ops(request: HttpRequest) -> None:
    if not _viewer(request).is_ops:
        raise PermissionDenied("Only sales operations can change quotas and settings.")


@login_required
@require_POST
def quota_set(request: HttpRequest) -> HttpResponse:
    """Set one person's or team's quota for a period from an effective date."""
    _require_ops(request)
    data = request.POST
    try:
        version = actions.set_quota(
            request.user, period_id=data.get("period", ""), amount=data.get("amount", ""),
            person_id=int(data["person"]) if data.get("person", "").isdigit() else None,
            team_id=int(data["team_id"]) if data.get("team_id", "").isdigit() else None,
            valid_from=_date(data.get("valid_from")), reason=data.get("reason", ""))
    except actions.QuotaError as error:
        return _refuse(request, error)
    messages.success(request, f"Quota saved: {version.amount} {version.currency} from "
                              f"{version.valid_from} (version #{version.pk}).")
    return _back_to_quotas(request)


@login_required
@require_POST
def quota_allocate(request: HttpRequest) -> HttpResponse:
    """Allocate a team number over the team's reps (even, last share, capacity, or by hand)."""
    _require_ops(request)
    data = request.POST
    amounts = {key.removeprefix("share_"): value for key, value in data.items()
               if key.startswith("share_") and value.strip()}
    try:
        team_raw = data.get("team_id", "")
        if not team_raw.isdigit():
            raise actions.QuotaError("Pick the team whose number to allocate.", field="team",
                                     value=team_raw)
        written = actions.allocate_team_quota(
            request.user, team_id=int(team_raw), period_id=data.get("period", ""),
            amount=data.get("amount", ""), method=data.get("method", ""),
            valid_from=_date(data.get("valid_from")),
            amounts={int(k): v for k, v in amounts.items() if k.isdigit()} or None,
            reason=data.get("reason", ""))
    except actions.QuotaError as error:
        return _refuse(request, error)
    messages.success(request, f"Allocated {written[0].amount} {written[0].currency} over "
                              f"{len(written) - 1} reps.")
    return _back_to_quotas(request)


@login_required
@require_POST
def leaderboard_setting(request: HttpRequest) -> HttpResponse:
    _require_ops(request)
    try:
        actions.set_leaderboard_names(request.user, request.POST.get("leaderboard_names", ""))
    except actions.QuotaError as error:
        return _refuse(request, error)
    messages.success(request, "Leaderboard setting saved.")
    return _back_to_quotas(request)


# --- runs ---------------------------------------------------------------------------------------


@login_required
@require_POST
def run_performance(request: HttpRequest) -> HttpResponse:
    """Sales operations queues a performance run; the pages show its progress."""
    _require_ops(request)
    run = actions.request_performance_analytics(request.user)
    messages.success(request, f"Performance run #{run.pk} is queued; the figures update when it "
                              "has finished.")
    return HttpResponseRedirect(request.POST.get("next") or reverse("performance-attainment"))


@login_required
def performance_freshness(request: HttpRequest) -> HttpResponse:
    """The freshness line alone, polled while a performance run is queued or running."""
    latest = perf.latest_performance_run()
    shown = request.GET.get("shown", "")
    return render(request, "web/performance/_freshness.html", {
        "perf_run": latest, "perf_pending": perf.pending_performance_run(),
        "newer_run": latest is not None and str(latest.pk) != shown,
    })
