"""Pages of pipeline analytics and of the sales process: the pipeline dashboard (funnel, stage
flow, cycle length, win/loss, rep x stage heatmap, pipeline created), where deals get stuck, the
metric definitions, and the stage configuration for sales operations.

Views parse the query string, read materialised results through `attain.pipeline.queries`, and
render; writes go through `attain.pipeline.actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from attain.core.models import Period
from attain.core.periods import FiscalCalendarRules, PeriodKind
from attain.crm.models import ForecastCategory, Segment
from attain.people.models import Person, Role
from attain.pipeline import actions
from attain.pipeline import queries as pq
from attain.pipeline.metrics import (
    AGE_BAND_LABELS,
    CATALOGUE,
    CYCLE_BAND_LABELS,
    age_band_created,
    ratio_pct,
)
from attain.pipeline.models import ScopeKind
from attain.web import charts, links
from attain.web.exports import export_response, wants_export
from attain.web.forms import PERSON_CHOICES, FastSelect
from attain.web.viewer import viewer_of

WINLOSS_DIMENSIONS = (("loss_reason", "Loss reason"), ("source", "Source"),
                      ("segment", "Segment"), ("product", "Product"), ("deal_type", "Deal type"),
                      ("deal_size", "Deal size"))
SEGMENT_LABELS = dict(Segment.choices)
# Win/loss dimensions the opportunities list can filter on (a drill-down keeps the value).
DRILLABLE = ("source", "segment", "product")
HEATMAP_ROWS = 40


def today() -> date:
    return timezone.localdate()


class PipelineFilters(forms.Form):
    """`?period=&team=&person=&manager=&segment=&source=&product=` — one slice at a time."""

    period = forms.ModelChoiceField(queryset=Period.objects.none(), required=False,
                                    empty_label=None, label="Period", widget=FastSelect)
    team = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Team",
                                  widget=FastSelect)
    person = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                    label="Person", widget=FastSelect)
    manager = forms.IntegerField(required=False, widget=forms.HiddenInput)
    segment = forms.ChoiceField(required=False, label="Segment", widget=FastSelect)
    source = forms.ChoiceField(required=False, label="Source", widget=FastSelect)
    product = forms.ChoiceField(required=False, label="Product", widget=FastSelect)

    def __init__(self, data: Any, *, user: Any, as_of: date, run: Any) -> None:
        super().__init__(data)
        period = self.fields["period"]
        assert isinstance(period, forms.ModelChoiceField)
        period.queryset = Period.objects.filter(
            kind__in=[PeriodKind.QUARTER.value, PeriodKind.YEAR.value],
            start__lte=as_of).order_by("-start", "kind")
        team = self.fields["team"]
        assert isinstance(team, forms.TypedChoiceField)
        team.choices = [("", "All I can see"),
                        *((t.pk, t.name) for t in pq.selectable_teams(user, as_of))]
        person = self.fields["person"]
        assert isinstance(person, forms.TypedChoiceField)
        person.choices = [("", "Everyone"), *self._people(data, user, as_of)]
        for name in pq.SLICE_DIMENSIONS:
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            values = pq.slice_values(run, name)
            label = (lambda v: SEGMENT_LABELS.get(v, v or "(none)")) if name == "segment" else (
                lambda v: v or "(none)")
            field.choices = [("", f"Any {name}"), *((v, label(v)) for v in values)]

    def _people(self, data: Any, user: Any, as_of: date) -> list[tuple[int, str]]:
        """The people the person filter offers: those the viewer may see, narrowed to the chosen
        team or manager's subtree; when more than PERSON_CHOICES remain (a company of
        thousands of reps), only managers and the person asked for — a rep is reached through
        their team, or from the people table, which links every row."""
        people = Person.objects.visible_to(user, as_of).filter(role__in=[Role.REP, Role.MANAGER])
        raw = {name: str((data or {}).get(name, "")) for name in ("team", "manager", "person")}
        if raw["team"].isdigit():
            people = people.filter(pk__in=pq.team_member_ids(int(raw["team"]), as_of))
        elif raw["manager"].isdigit():
            from attain.people.visibility import subtree_ids

            people = people.filter(pk__in=subtree_ids(int(raw["manager"]), as_of))
        if people.count() > PERSON_CHOICES:
            asked = int(raw["person"]) if raw["person"].isdigit() else None
            people = people.filter(Q(role=Role.MANAGER) | Q(pk=asked))
            self.fields["person"].help_text = "Managers only: choose a team to pick a rep."
        return list(people.order_by("name").values_list("pk", "name"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = [name for name in pq.SLICE_DIMENSIONS if data.get(name)]
        if len(chosen) > 1:
            raise forms.ValidationError(
                "Filter by one of segment, source or product at a time (figures are stored "
                f"per single filter); you chose {', '.join(chosen)}.")
        return data

    def slice(self) -> tuple[str, str]:
        for name in pq.SLICE_DIMENSIONS:
            if self.cleaned_data.get(name):
                return name, self.cleaned_data[name]
        return "", ""


@dataclass(frozen=True, slots=True)
class Selection:
    scope: pq.Scope
    period: Period | None
    slice_dim: str
    slice_value: str
    note: str

    @property
    def span(self) -> tuple[date, date] | None:
        return (self.period.start, self.period.end) if self.period else None

    def link(self, *, sliced: bool = True, **extra: Any) -> str:
        """The opportunities behind a figure of this scope and (unless not `sliced`) slice."""
        scope = {ScopeKind.PERSON: {"owner": self.scope.id},
                 ScopeKind.TEAM: {"team": self.scope.id},
                 ScopeKind.MANAGER: {"manager": self.scope.id}}.get(self.scope.kind, {})
        narrowed = ({self.slice_dim: self.slice_value} if sliced
                    and self.slice_dim in ("segment", "source", "product") else {})
        return links.opportunities_url(**{**scope, **narrowed, **extra})


def _current_period(as_of: date) -> Period | None:
    from attain.core.models import FiscalCalendar

    calendar = FiscalCalendar.objects.first()
    rules = calendar.rules if calendar is not None else FiscalCalendarRules()
    span = rules.span(PeriodKind.QUARTER, as_of)
    return Period.objects.filter(kind=span.kind.value, start=span.start).first()


def _selection(request: HttpRequest, as_of: date, run: Any) -> tuple[PipelineFilters, Selection]:
    user = request.user
    form = PipelineFilters(request.GET, user=user, as_of=as_of, run=run)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    raw = request.GET
    ids = {}
    for name in ("team", "person", "manager"):
        value = raw.get(name, "")
        if value:
            if not value.isdigit():
                raise Http404(f"No such {name}")
            ids[name] = int(value)
    scope = pq.scope_for(user, as_of, team_id=ids.get("team"), person_id=ids.get("person"),
                         manager_id=ids.get("manager"))
    if scope is None:
        raise Http404("No such scope, or not yours to see")
    period = data.get("period") or _current_period(as_of)
    slice_dim, slice_value = form.slice() if valid else ("", "")
    note = ""
    if slice_dim and not scope.sliceable:
        note = (f"One person's figures are not split by {slice_dim}: showing all of "
                f"{scope.label}'s deals.")
        slice_dim, slice_value = "", ""
    return form, Selection(scope, period, slice_dim, slice_value, note)


def _stage_names() -> dict[int, str]:
    return {s.pk: s.name for s in pq.stages()}


def _dashboard_context(request: HttpRequest, as_of: date) -> dict[str, Any]:
    run = pq.latest_run()
    form, sel = _selection(request, as_of, run)
    scope, period = sel.scope, sel.period
    fig = pq.figures(run, scope, period, sel.slice_dim, sel.slice_value)
    span = sel.span
    currency = pq.company_currency()
    funnel_rows = pq.funnel(run, scope, period, sel.slice_dim, sel.slice_value)
    stage_links = [sel.link(stage=r.stage.name, created=span) for r in funnel_rows]
    names = _stage_names()
    flows = list(pq.flows(run, scope, period, sel.slice_dim, sel.slice_value))
    order = {s.pk: s.order for s in pq.stages()}
    sankey_links = [(names.get(f.from_stage_id, "Created") if f.from_stage_id else "Created",
                     names.get(f.to_stage_id, "?"), f.transitions) for f in flows
                    if f.from_stage_id == 0 or order.get(f.to_stage_id, 0)
                    > order.get(f.from_stage_id, 0)]
    sankey_nodes = list(dict.fromkeys([n for s, t, _ in sankey_links for n in (s, t)]))
    months = pq.monthly_figures(run, scope, period.end if period else as_of, 12,
                                sel.slice_dim, sel.slice_value)
    cycle_rows = list(pq.breakdown(run, scope, period, "cycle_length"))
    cycle_by_band = {r.value: r.won_count for r in cycle_rows}
    winloss = {key: [{"row": r, "win_rate": ratio_pct(r.won_count, r.won_count + r.lost_count),
                      "label": SEGMENT_LABELS.get(r.value, r.value) if key == "segment"
                      else (r.value or "(none)"),
                      "won_link": sel.link(status="won", closed=span,
                                           **({key: r.value} if key in DRILLABLE else {})),
                      "lost_link": sel.link(status="lost", closed=span,
                                            **({key: r.value} if key in DRILLABLE else {}))}
                     for r in pq.breakdown(run, scope, period, key)]
               for key, _ in WINLOSS_DIMENSIONS}
    reasons = [w for w in winloss["loss_reason"] if w["row"].lost_count]
    aging = {r.value: r for r in pq.breakdown(run, scope, period, "age")}
    aging_day = date.fromisoformat(run.params["as_of"]) if run and run.params.get("as_of") \
        else as_of
    people = list(pq.scope_people(scope, as_of)[: HEATMAP_ROWS * 5])
    rep_facts = pq.rep_stage_facts(run, [p.pk for p in people], period)
    person_figs = pq.person_figures(run, [p.pk for p in people], period)
    open_stages = [r.stage for r in funnel_rows if not r.stage.is_won]
    heat_people = [p for p in people if p.pk in person_figs
                   or any((p.pk, s.pk) in rep_facts for s in open_stages)]
    heat_cells = []
    rep_rows = []
    for y, person in enumerate(heat_people):
        cells = []
        for x, s in enumerate(open_stages):
            f = rep_facts.get((person.pk, s.pk))
            pct = (ratio_pct(f.flow_advanced, f.flow_advanced + f.flow_lost)
                   if f is not None else None)
            cells.append(pct)
            if y < HEATMAP_ROWS:
                heat_cells.append((x, y, pct, links.opportunities_url(
                    owner=person.pk, stage=s.name)))
        rep_rows.append({"person": person, "cells": cells,
                         "fig": person_figs.get(person.pk, pq.Figures(None, currency)),
                         "created_link": links.opportunities_url(owner=person.pk,
                                                                 created=span),
                         "won_link": links.opportunities_url(owner=person.pk, status="won",
                                                             closed=span),
                         "link": _dashboard_url(person=person.pk, period=period)})
    context = {
        "form": form, "sel": sel, "scope": scope, "period": period, "run": run,
        "pending_run": pq.pending_run(), "fig": fig, "currency": currency,
        "funnel_rows": [{"row": r, "link": link} for r, link in zip(funnel_rows, stage_links,
                                                                     strict=True)],
        "links": {
            "created": sel.link(created=span), "won": sel.link(status="won", closed=span),
            "lost": sel.link(status="lost", closed=span),
            "closed": sel.link(status="closed", closed=span), "open": sel.link(status="open"),
        },
        "funnel_chart": charts.funnel_chart([r.stage.name for r in funnel_rows],
                                            [r.reached for r in funnel_rows], stage_links)
        if any(r.reached for r in funnel_rows) else None,
        "sankey_chart": charts.sankey_chart(sankey_nodes, sankey_links) if sankey_links
        else None,
        "trend_chart": charts.bar_chart(
            [p.start.strftime("%b %y") for p, _ in months],
            [(f"Pipeline created ({currency})", [f.created_amount for _, f in months],
              [sel.link(created=(p.start, p.end)) for p, _ in months])]) if months else None,
        "trend_rows": [{"period": p, "fig": f, "link": sel.link(created=(p.start, p.end))}
                       for p, f in months],
        "cycle_chart": charts.bar_chart(
            list(CYCLE_BAND_LABELS),
            [("Won deals", [cycle_by_band.get(label, 0) for label in CYCLE_BAND_LABELS],
              [sel.link(status="won", closed=span)] * len(CYCLE_BAND_LABELS))], counts=True)
        if cycle_rows else None,
        "winloss": [(key, label, winloss[key]) for key, label in WINLOSS_DIMENSIONS
                    if key != "loss_reason"],
        "reasons": reasons,
        "reason_chart": charts.bar_chart(
            [w["label"] for w in reasons],
            [("Lost deals", [w["row"].lost_count for w in reasons],
              [w["lost_link"] for w in reasons])], counts=True) if reasons else None,
        "winrate_chart": _winrate_chart(winloss["segment"]),
        # each band's open deals: created within the band's days as of the run's day (aging
        # covers every open deal of the scope, whatever the slice)
        "aging": [{"label": label, "row": aging.get(label),
                   "link": sel.link(sliced=False, status="open",
                                    created=age_band_created(label, aging_day))}
                  for label in AGE_BAND_LABELS],
        "heatmap_chart": charts.conversion_heatmap_chart(
            [s.name for s in open_stages], [p.name for p in heat_people[:HEATMAP_ROWS]],
            heat_cells) if heat_cells else None,
        "heat_stages": open_stages, "rep_rows": rep_rows,
        "catalogue": CATALOGUE,
        "bottleneck_link": _bottleneck_url(request),
    }
    return context


def _winrate_chart(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    return charts.bar_chart(
        [w["label"] for w in rows],
        [("Won", [w["row"].won_count for w in rows], [w["won_link"] for w in rows]),
         ("Lost", [w["row"].lost_count for w in rows], [w["lost_link"] for w in rows])],
        counts=True)


def _dashboard_url(**params: Any) -> str:
    period = params.pop("period", None)
    query = {k: v for k, v in params.items() if v is not None}
    if period is not None:
        query["period"] = period.pk
    from urllib.parse import urlencode

    return f"{reverse('pipeline')}?{urlencode(query)}"


def _bottleneck_url(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("format", None)
    return f"{reverse('pipeline-bottlenecks')}?{query.urlencode()}"


def _dashboard_export(request: HttpRequest, context: dict[str, Any], table: str
                      ) -> HttpResponseBase:
    sel: Selection = context["sel"]
    label = f"{sel.scope.label}-{sel.period.label if sel.period else 'none'}"
    if table == "funnel":
        return export_response(
            request, f"pipeline-funnel-{label}",
            ["stage", "reached_cohort", "still_open", "cohort_conversion_pct", "entered",
             "advanced", "lost", "flow_conversion_pct", "stays", "mean_days", "median_days"],
            ((r["row"].stage.name, r["row"].reached, r["row"]._n("cohort_open"),
              r["row"].cohort_conversion, r["row"]._n("flow_entered"),
              r["row"]._n("flow_advanced"), r["row"]._n("flow_lost"), r["row"].flow_conversion,
              r["row"]._n("stay_count"), r["row"].mean_days,
              r["row"].facts.stay_days_median if r["row"].facts else None)
             for r in context["funnel_rows"]))
    if table == "reps":
        return export_response(
            request, f"pipeline-rep-conversion-{label}",
            ["person", "created", "created_amount", "won", "won_amount", "lost",
             "win_rate_pct", "average_deal_size", "median_cycle_days", "currency",
             *[f"{s.name} flow conversion %" for s in context["heat_stages"]]],
            ((r["person"].name, r["fig"].created_count, r["fig"].created_amount,
              r["fig"].won_count, r["fig"].won_amount, r["fig"].lost_count, r["fig"].win_rate,
              r["fig"].deal_size, r["fig"].cycle_median, context["currency"], *r["cells"])
             for r in context["rep_rows"]))
    if table == "winloss":
        return export_response(
            request, f"pipeline-winloss-{label}",
            ["dimension", "value", "won", "won_amount", "lost", "lost_amount", "win_rate_pct",
             "currency"],
            ((key, w["row"].value, w["row"].won_count, w["row"].won_amount, w["row"].lost_count,
              w["row"].lost_amount, w["win_rate"], w["row"].currency)
             for key, _, rows in [("loss_reason", "", context["reasons"]), *context["winloss"]]
             for w in rows))
    if table == "trend":
        return export_response(
            request, f"pipeline-created-{label}",
            ["month", "created", "created_amount", "won", "won_amount", "lost", "currency"],
            ((r["period"].label, r["fig"].created_count, r["fig"].created_amount,
              r["fig"].won_count, r["fig"].won_amount, r["fig"].lost_count,
              context["currency"]) for r in context["trend_rows"]))
    if table == "aging":
        return export_response(
            request, f"pipeline-aging-{sel.scope.label}",
            ["age_band", "open_deals", "open_amount", "currency"],
            ((a["label"], a["row"].open_count if a["row"] else 0,
              a["row"].open_amount if a["row"] else Decimal("0.00"), context["currency"])
             for a in context["aging"]))
    raise Http404(f"No table {table!r} to export")


@login_required
def pipeline_dashboard(request: HttpRequest) -> HttpResponseBase:
    """The pipeline dashboard of the viewer's scope (or a team or person they may see)."""
    as_of = today()
    context = _dashboard_context(request, as_of)
    if wants_export(request):
        return _dashboard_export(request, context, request.GET.get("table", "funnel"))
    return render(request, "web/pipeline/dashboard.html", context)


@login_required
def pipeline_bottlenecks(request: HttpRequest) -> HttpResponseBase:
    """Where deals get stuck: for each person of the scope, the stage furthest from their team,
    and each team against the company; leads that arrive but do not qualify."""
    as_of = today()
    run = pq.latest_run()
    form, sel = _selection(request, as_of, run)
    names = _stage_names()
    people = {p.pk: p for p in pq.scope_people(sel.scope, as_of)}
    if sel.scope.kind == ScopeKind.PERSON:
        people = {sel.scope.id: Person.objects.get(pk=sel.scope.id)}
    rows = list(pq.bottlenecks(run, ScopeKind.PERSON, people, sel.period))
    by_person: dict[int, dict[str, Any]] = {}
    for r in rows:
        entry = by_person.setdefault(r.scope_id, {"person": people[r.scope_id], "stages": [],
                                                  "worst": None, "leads": None})
        if r.kind == "leads":
            entry["leads"] = r
        else:
            entry["stages"].append(r)
            if r.is_worst:
                entry["worst"] = r
    for entry in by_person.values():
        worst, leads = entry["worst"], entry["leads"]
        if worst is not None:
            entry["worst_pcts"] = (_pct(worst.conversion), _pct(worst.benchmark_conversion),
                                   _pct(worst.score))
            entry["worst_name"] = names.get(worst.stage_id, "?")
            entry["worst_link"] = links.opportunities_url(owner=entry["person"].pk,
                                                          stage=entry["worst_name"])
        if leads is not None:
            entry["lead_pct"] = _pct(leads.conversion)
            entry["bench_pct"] = _pct(leads.benchmark_conversion)
    entries = sorted(by_person.values(), key=lambda e: (
        -(e["worst"].score if e["worst"] is not None else Decimal(-1)), e["person"].name))
    team_rows = []
    if sel.scope.kind in (ScopeKind.COMPANY, ScopeKind.TEAM):
        teams = {t.pk: t for t in pq.selectable_teams(request.user, as_of)}
        if sel.scope.kind == ScopeKind.TEAM:
            teams = {k: v for k, v in teams.items() if k == sel.scope.id}
        team_rows = [{"team": teams[r.scope_id], "row": r,
                      "stage_name": names.get(r.stage_id, "leads")}
                     for r in pq.bottlenecks(run, ScopeKind.TEAM, teams, sel.period)
                     if r.is_worst]
    if wants_export(request):
        return export_response(
            request, f"bottlenecks-{sel.scope.label}-{sel.period.label if sel.period else ''}",
            ["person", "benchmark", "kind", "stage", "conversion", "benchmark_conversion",
             "days", "benchmark_days", "conversion_gap", "days_gap", "score", "is_worst",
             "volume"],
            ((people[r.scope_id].name, f"{r.benchmark_kind} {r.benchmark_id}", r.kind,
              names.get(r.stage_id, "leads"), r.conversion, r.benchmark_conversion, r.days,
              r.benchmark_days, r.conversion_gap, r.days_gap, r.score, r.is_worst, r.volume)
             for r in rows))
    return render(request, "web/pipeline/bottlenecks.html", {
        "form": form, "sel": sel, "scope": sel.scope, "period": sel.period, "run": run,
        "pending_run": pq.pending_run(), "entries": entries, "team_rows": team_rows,
        "stage_names": names,
        "flagged": [e for e in entries if e["leads"] is not None and e["leads"].is_worst],
        "dashboard_link": f"{reverse('pipeline')}?{request.GET.urlencode()}",
    })


def _pct(share: Decimal | None) -> Decimal | None:
    return (share * 100).quantize(Decimal("0.1")) if share is not None else None


@login_required
def pipeline_freshness(request: HttpRequest) -> HttpResponse:
    latest = pq.latest_run()
    return render(request, "web/pipeline/_freshness.html", {
        "run": latest, "pending_run": pq.pending_run(),
        "newer_run": latest is not None and str(latest.pk) != request.GET.get("shown", ""),
    })


@login_required
@require_POST
def run_pipeline(request: HttpRequest) -> HttpResponse:
    """Sales operations asks for fresh pipeline analytics (queued for the worker)."""
    viewer = viewer_of(request)
    if viewer is None or not viewer.can_run_calculations:
        raise PermissionDenied("Only sales operations can start calculations.")
    run = actions.request_pipeline_analytics(request.user)
    messages.success(request, f"Pipeline analytics run #{run.pk} is queued; the figures update "
                              "when it has finished.")
    return HttpResponseRedirect(reverse("pipeline"))


# --- the sales process ---------------------------------------------------------------------------


class StageForm(forms.Form):
    pipeline = forms.CharField(max_length=64, initial="default")
    name = forms.CharField(max_length=64)
    order = forms.IntegerField(min_value=0, max_value=32767)
    probability = forms.DecimalField(min_value=0, max_value=100, decimal_places=2,
                                     label="Probability %")
    forecast_category = forms.ChoiceField(choices=ForecastCategory.choices)
    is_won = forms.BooleanField(required=False, label="Won")
    is_lost = forms.BooleanField(required=False, label="Lost")


@login_required
def sales_process(request: HttpRequest) -> HttpResponse:
    """Pipelines and their stages; sales operations edits them here (others read)."""
    viewer = viewer_of(request)
    can_edit = viewer is not None and viewer.is_ops
    errors: list[str] = []
    new_form = StageForm(initial={"pipeline": "default"})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only sales operations can change the sales process.")
        errors, new_form = _apply_stage_post(request)
        if not errors:
            return HttpResponseRedirect(reverse("sales-process"))
    pipelines: dict[str, list[Any]] = {}
    for s in pq.stages():
        pipelines.setdefault(s.pipeline, []).append(s)
    return render(request, "web/pipeline/process.html", {
        "pipelines": pipelines, "can_edit": can_edit, "errors": errors, "new_form": new_form,
        "categories": ForecastCategory.choices,
    }, status=400 if errors else 200)


def _apply_stage_post(request: HttpRequest) -> tuple[list[str], StageForm]:
    post = request.POST
    op = post.get("op", "")
    try:
        if op == "delete":
            actions.delete_stage(request.user, _int(post.get("stage_id")))
            messages.success(request, "Stage removed.")
            return [], StageForm()
        if op == "move":
            stage = pq.stage(_int(post.get("stage_id")))
            if stage is None:
                raise actions.SalesProcessError("No such stage.", field="stage_id")
            ids = [s.pk for s in pq.stages(stage.pipeline)]
            index = ids.index(stage.pk)
            swap = index - 1 if post.get("direction") == "up" else index + 1
            if 0 <= swap < len(ids):
                ids[index], ids[swap] = ids[swap], ids[index]
                actions.reorder_stages(request.user, stage.pipeline, ids)
            return [], StageForm()
        form = StageForm(post)
        if not form.is_valid():
            return [f"{name}: {'; '.join(e)}" for name, e in form.errors.items()], form
        values = form.cleaned_data
        if op == "update":
            actions.update_stage(request.user, _int(post.get("stage_id")), **values)
            messages.success(request, f"Stage {values['name']} saved.")
        else:
            actions.create_stage(request.user, **values)
            messages.success(request, f"Stage {values['name']} added.")
        return [], StageForm()
    except actions.SalesProcessError as error:
        return [f"{error.field}: {error}" if error.field else str(error)], StageForm(post)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise actions.SalesProcessError(f"Not a stage id: {value!r}.", field="stage_id",
                                        value=value) from None
