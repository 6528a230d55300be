"""Data-quality pages for sales operations: scores over time, findings per check (each linking to
its record), and the confirmation pages of the fixes (merge duplicate accounts, reassign owners).

Other roles get 403, like the other ops-only pages. Every figure comes from the latest stored
data-quality run (or `?run=<id>`); the page queues a new run, it never computes one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from attain.core.models import CalcRun
from attain.ingest.quality import actions, queries
from attain.ingest.quality.engine_io import CATEGORIES, MIN_STALE_DAYS, OVERALL
from attain.web import charts
from attain.web.exports import csv_url, export_response, wants_export

PAGE_SIZE = 100
ADMIN_CHANGE = {"account": "admin:crm_account_change", "booking": "admin:crm_booking_change",
                "product": "admin:crm_product_change", "lead": "admin:crm_lead_change"}


def _require_ops(request: HttpRequest) -> None:
    if not queries.may_use(request.user):
        raise PermissionDenied("Data quality is for sales operations.")


def record_url(object_type: str, object_id: int) -> str:
    """The page of a flagged record (opportunities have their own; others the admin form)."""
    if object_type == "opportunity":
        return reverse("opportunity", args=[object_id])
    return reverse(ADMIN_CHANGE[object_type], args=[object_id])


def _run_from(request: HttpRequest) -> CalcRun | None:
    raw = request.GET.get("run", "")
    if raw and not raw.isdigit():
        raise Http404("No such data-quality run")
    run = queries.succeeded_run(int(raw) if raw else None)
    if raw and run is None:
        raise Http404("No such data-quality run")
    return run


def _query(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _history_chart(run: CalcRun | None) -> dict[str, Any] | None:
    points = queries.score_history()
    if not points:
        return None
    runs = list(dict.fromkeys((p.run_id, p.finished_at) for p in points))
    labels = [timezone.localtime(at).strftime("%d %b %H:%M") for _, at in runs]
    by_key = {(p.run_id, p.category): p.score for p in points}
    links = [f"{reverse('quality')}?run={run_id}" for run_id, _ in runs]
    series = [
        (queries.CATEGORY_LABELS[category],
         [by_key.get((run_id, category), 0) for run_id, _ in runs], links)
        for category in (OVERALL, *CATEGORIES)
    ]
    option = charts.bar_chart(labels, series, kind="line")
    option["animation"] = False
    for line in option["series"]:
        line.update({"showSymbol": True, "symbolSize": 7})
    option["yAxis"] = {"type": "value", "min": 0, "max": 100,
                       "axisLabel": {"formatter": "{value}"}}
    return option


@login_required
def quality(request: HttpRequest) -> HttpResponseBase:
    """Scores of the latest (or chosen) run, their history, and the findings per check."""
    _require_ops(request)
    run = _run_from(request)
    stale_days = queries.clamp_stale_days(request.GET.get("stale_days"))
    category = request.GET.get("category", "")
    summaries = [s for s in queries.check_summaries(run, stale_days)
                 if not category or s.category == category]
    if wants_export(request):
        return export_response(
            request, f"data-quality-run-{run.pk if run else 'none'}",
            ["check", "category", "findings", "records"],
            ((s.check, s.category, s.findings, s.records) for s in summaries))
    run_query = _query(run=request.GET.get("run"), stale_days=stale_days)
    return render(request, "web/quality/overview.html", {
        "run": run, "pending_run": queries.pending_run(), "latest_run": queries.latest_run(),
        "scores": [{"row": s, "label": queries.CATEGORY_LABELS.get(s.category, s.category),
                    "link": "?" + _query(run=request.GET.get("run"), stale_days=stale_days,
                                         category="" if s.category == OVERALL else s.category)
                    + "#checks-table"}
                   for s in queries.scores(run)],
        "category": category,
        "summaries": [{"row": s, "link": f"{reverse('quality-check', args=[s.check])}"
                       f"?{run_query}"} for s in summaries],
        "stale_days": stale_days, "min_stale_days": MIN_STALE_DAYS,
        "chart": _history_chart(run), "csv_url": csv_url(request),
    })


@login_required
def quality_freshness(request: HttpRequest) -> HttpResponse:
    """The freshness line alone, polled while a run is queued or running."""
    _require_ops(request)
    latest = queries.latest_run()
    return render(request, "web/quality/_freshness.html", {
        "latest_run": latest, "pending_run": queries.pending_run(),
        "newer_run": latest is not None and str(latest.pk) != request.GET.get("shown", ""),
    })


@login_required
def quality_check(request: HttpRequest, check: str) -> HttpResponseBase:
    """The findings of one check, each linking to its record, with the fix it offers."""
    _require_ops(request)
    if check not in queries.CHECK_LABELS:
        raise Http404("No such data-quality check")
    run = _run_from(request)
    stale_days = queries.clamp_stale_days(request.GET.get("stale_days"))
    q = request.GET.get("q", "").strip()
    rows = queries.findings(run, check, stale_days=stale_days, q=q or None)
    owner_ids = {oid for oid in rows.values_list("owner_id", flat=True).distinct() if oid}
    owners = queries.people_names(owner_ids)
    if wants_export(request):
        return export_response(
            request, f"data-quality-{check}",
            ["check", "group", "record_type", "record_id", "record", "owner", "day", "number",
             "note", "link"],
            ((f.check_name, f.group_key, f.object_type, f.object_id, f.label,
              owners.get(f.owner_id, "") if f.owner_id else "", f.day, f.number, f.note,
              request.build_absolute_uri(record_url(f.object_type, f.object_id)))
             for f in rows.iterator()))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    items = [{"finding": f, "url": record_url(f.object_type, f.object_id),
              "owner": owners.get(f.owner_id) if f.owner_id else None}
             for f in page.object_list]
    return render(request, "web/quality/check.html", {
        "check": check, "label": queries.CHECK_LABELS[check], "run": run,
        "latest_run": queries.latest_run(), "pending_run": queries.pending_run(),
        "page": page, "items": items, "q": q, "stale_days": stale_days,
        "min_stale_days": MIN_STALE_DAYS, "csv_url": csv_url(request),
        "is_stale": check == "stale_opportunity",
        "reassignable": check in queries.OPPORTUNITY_CHECKS,
        "mergeable": check == "duplicate_account",
        "grouped": check in queries.GROUP_CHECKS,
    })


@login_required
@require_POST
def quality_run(request: HttpRequest) -> HttpResponse:
    """Queue a data-quality run (the page shows it as queued, then running)."""
    _require_ops(request)
    stale_days = queries.clamp_stale_days(request.POST.get("stale_days"))
    try:
        run = actions.request_quality_run(request.user, stale_days=stale_days)
    except actions.QualityActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Data-quality run #{run.pk} is queued; the findings update "
                                  "when it has finished.")
    return HttpResponseRedirect(reverse("quality"))


def _int_list(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.strip().isdigit()]


@login_required
def quality_merge(request: HttpRequest) -> HttpResponse:
    """Confirm, then merge duplicate accounts: GET shows the group (`?group=&run=`, or
    `?ids=`); POST merges `merged` into `survivor` and reports what moved."""
    _require_ops(request)
    if request.method == "POST":
        survivor = request.POST.get("survivor", "")
        merged = [m for m in request.POST.getlist("merged") if m != survivor]
        try:
            summary = actions.merge_accounts(request.user, survivor, merged)
        except actions.QualityActionError as error:
            messages.error(request, f"Nothing was merged: {error}")
            back = request.POST.get("back") or reverse("quality-check",
                                                       args=["duplicate_account"])
            return HttpResponseRedirect(back if back.startswith("/") else reverse("quality"))
        messages.success(
            request,
            f"Merged account{'s' if len(summary['merged_ids']) > 1 else ''} "
            f"#{', #'.join(map(str, summary['merged_ids']))} into #{summary['survivor_id']}: "
            f"{len(summary['opportunity_ids'])} opportunities, {len(summary['contact_ids'])} "
            f"contacts and {len(summary['lead_ids'])} leads moved. Run the checks again to "
            "refresh the findings.")
        return HttpResponseRedirect(reverse("quality-check", args=["duplicate_account"]))
    group = request.GET.get("group", "")
    if group:
        run = _run_from(request)
        if run is None:
            raise Http404("No data-quality run")
        accounts = list(queries.group_accounts(run, group))
    else:
        accounts = list(queries.accounts_by_ids(_int_list(request.GET.getlist("ids"))))
    return render(request, "web/quality/merge.html", {
        "group": group, "accounts": accounts,
        "survivor_id": accounts[0].pk if accounts else None,
        "back": request.get_full_path(),
    })


@login_required
def quality_reassign(request: HttpRequest) -> HttpResponse:
    """Confirm, then reassign opportunities: GET shows the selected ones (`?ids=`) and a choice
    of active owners; POST gives them to `owner`."""
    _require_ops(request)
    as_of = timezone.localdate()
    if request.method == "POST":
        ids = request.POST.getlist("ids")
        try:
            summary = actions.reassign_opportunities(request.user, ids,
                                                     request.POST.get("owner", ""), as_of=as_of)
        except actions.QualityActionError as error:
            messages.error(request, f"Nothing was reassigned: {error}")
            query = _query(owner=request.POST.get("owner"))
            ids_query = "&".join(f"ids={i}" for i in _int_list(ids))
            return HttpResponseRedirect(f"{reverse('quality-reassign')}?{ids_query}&{query}")
        moved, unchanged = len(summary["moved"]), len(summary["unchanged"])
        text = f"{moved} opportunit{'y' if moved == 1 else 'ies'} reassigned"
        if unchanged:
            text += f"; {unchanged} already belonged to the new owner"
        messages.success(request, text + ".")
        return HttpResponseRedirect(reverse("quality"))
    selected = _int_list(request.GET.getlist("ids"))
    opportunities = list(queries.opportunities_by_ids(selected))
    return render(request, "web/quality/reassign.html", {
        "opportunities": opportunities, "people": queries.active_people(as_of),
        "missing": sorted(set(selected) - {o.pk for o in opportunities}),
        "owner": request.GET.get("owner", ""), "as_of": as_of,
    })
