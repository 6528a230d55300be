"""Reads of the sales process and of materialised pipeline analytics, through the visibility scope.

Every figure comes from the latest succeeded "pipeline_analytics" run; nothing here recomputes
from opportunities. Which scope a user may read:
- a rep: their own person scope only;
- a manager: their own manager scope (their subtree), a person of their subtree on `as_of`, or a
  team whose members on `as_of` are all in their subtree;
- ops, finance, executives: the company, any team, manager or person.
A scope the user may not read is answered as missing (pages give 404).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from attain.core.models import CalcRun, Period
from attain.core.periods import PeriodKind, add_months
from attain.crm.models import Stage
from attain.people.models import Person, Role, Team
from attain.people.visibility import lines_valid_on, visible_person_ids
from attain.pipeline.metrics import average_money, mean_days, ratio_pct, velocity
from attain.pipeline.models import (
    PipelineBottleneck,
    PipelineBreakdown,
    PipelineFacts,
    PipelineFlow,
    PipelineStageFacts,
    ScopeKind,
)

RUN_KIND = "pipeline_analytics"
SLICE_DIMENSIONS = ("segment", "source", "product")
ZERO = Decimal("0.00")


def company_currency() -> str:
    return str(settings.ATTAIN_COMPANY_CURRENCY)


# --- the sales process ---------------------------------------------------------------------------


def stages(pipeline: str | None = None) -> QuerySet[Stage]:
    """Stages of every pipeline (or one), in pipeline then sales-process order."""
    rows = Stage.objects.all()
    if pipeline:
        rows = rows.filter(pipeline=pipeline)
    return rows.order_by("pipeline", "order", "name", "id")


def stage(stage_id: int) -> Stage | None:
    return Stage.objects.filter(pk=stage_id).first()


# --- runs ----------------------------------------------------------------------------------------


def latest_run() -> CalcRun | None:
    return (CalcRun.objects.filter(kind=RUN_KIND, status=CalcRun.Status.SUCCEEDED)
            .order_by("-finished_at", "-id").first())


def pending_run() -> CalcRun | None:
    return (CalcRun.objects.filter(kind=RUN_KIND,
                                   status__in=[CalcRun.Status.QUEUED, CalcRun.Status.RUNNING])
            .order_by("-created_at", "-id").first())


def results_run(run_id: int | None = None) -> CalcRun | None:
    if run_id is None:
        return latest_run()
    return CalcRun.objects.filter(pk=run_id, kind=RUN_KIND,
                                  status=CalcRun.Status.SUCCEEDED).first()


# --- scopes --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str
    id: int
    label: str

    @property
    def sliceable(self) -> bool:
        return self.kind != ScopeKind.PERSON


def _viewer_person(user: Any) -> Person | None:
    if user is None or not user.is_authenticated:
        return None
    return Person.objects.filter(user_id=user.pk).first()


def team_member_ids(team_id: int, as_of: date) -> set[int]:
    return set(lines_valid_on(as_of).filter(team_id=team_id).values_list("person_id",
                                                                         flat=True))


def default_scope(user: Any) -> Scope | None:
    """The company for company-wide roles, a manager's subtree, a rep's own figures."""
    visible = visible_person_ids(user)
    if visible is None:
        return Scope(ScopeKind.COMPANY, 0, "Company")
    person = _viewer_person(user)
    if person is None:
        return None
    if person.role == Role.MANAGER:
        return Scope(ScopeKind.MANAGER, person.pk, f"{person.name}'s team")
    return Scope(ScopeKind.PERSON, person.pk, person.name)


def scope_for(user: Any, as_of: date, *, team_id: int | None = None,
              person_id: int | None = None, manager_id: int | None = None) -> Scope | None:
    """The scope `user` asks for, or None when they may not read it (or it does not exist)."""
    visible = visible_person_ids(user, as_of)
    if person_id is not None:
        person = Person.objects.filter(pk=person_id).first()
        if person is None or (visible is not None and person.pk not in visible):
            return None
        return Scope(ScopeKind.PERSON, person.pk, person.name)
    if manager_id is not None:
        manager = Person.objects.filter(pk=manager_id).first()
        if manager is None or (visible is not None and not (
                manager.pk in visible and manager.role == Role.MANAGER)):
            return None
        return Scope(ScopeKind.MANAGER, manager.pk, f"{manager.name}'s team")
    if team_id is not None:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            return None
        members = team_member_ids(team.pk, as_of)
        if visible is not None and (not members or not members <= visible):
            return None
        return Scope(ScopeKind.TEAM, team.pk, team.name)
    return default_scope(user)


def selectable_teams(user: Any, as_of: date) -> list[Team]:
    """Teams whose figures `user` may read on `as_of` (ids and names: a large company has a
    thousand teams for the filter)."""
    visible = visible_person_ids(user, as_of)
    teams = list(Team.objects.only("id", "name").order_by("name", "id"))
    if visible is None:
        return teams
    lines = lines_valid_on(as_of).filter(team__isnull=False).values_list("team_id", "person_id")
    members: dict[int, set[int]] = {}
    for team_id, person_id in lines:
        members.setdefault(team_id, set()).add(person_id)
    return [t for t in teams if members.get(t.pk) and members[t.pk] <= visible]


def scope_people(scope: Scope, as_of: date) -> QuerySet[Person]:
    """The people inside `scope` on `as_of` (for the per-rep heatmap and bottlenecks)."""
    from attain.people.visibility import subtree_ids

    if scope.kind == ScopeKind.COMPANY:
        return Person.objects.filter(role=Role.REP).order_by("name", "id")
    if scope.kind == ScopeKind.TEAM:
        ids = team_member_ids(scope.id, as_of)
    elif scope.kind == ScopeKind.MANAGER:
        ids = subtree_ids(scope.id, as_of) - {scope.id}
    else:
        ids = {scope.id}
    return Person.objects.filter(pk__in=ids).order_by("name", "id")


# --- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """The headline figures of one scope, period and slice, with derived ratios."""

    row: PipelineFacts | None
    currency: str

    def _get(self, name: str) -> Any:
        return getattr(self.row, name) if self.row is not None else 0

    def __getattr__(self, name: str) -> Any:  # counts and amounts of the stored row
        if name.startswith("_"):
            raise AttributeError(name)
        value = self._get(name)
        return ZERO if value == 0 and name.endswith("_amount") else value

    @property
    def closed_count(self) -> int:
        return int(self._get("won_count")) + int(self._get("lost_count"))

    @property
    def win_rate(self) -> Decimal | None:
        return ratio_pct(int(self._get("won_count")), self.closed_count)

    @property
    def deal_size(self) -> Decimal | None:
        return average_money(self._get("won_amount") or ZERO, int(self._get("won_count")))

    @property
    def cycle_mean(self) -> Decimal | None:
        return mean_days(int(self._get("cycle_days_sum")), int(self._get("won_count")))

    @property
    def cycle_median(self) -> Decimal | None:
        return self.row.cycle_days_median if self.row is not None else None

    @property
    def velocity(self) -> Decimal | None:
        return velocity(int(self._get("created_count")), int(self._get("won_count")),
                        int(self._get("lost_count")), self._get("won_amount") or ZERO,
                        int(self._get("cycle_days_sum")))

    @property
    def lead_qualified_pct(self) -> Decimal | None:
        return ratio_pct(int(self._get("leads_qualified")), int(self._get("leads_created")))

    @property
    def lead_converted_pct(self) -> Decimal | None:
        return ratio_pct(int(self._get("leads_converted")), int(self._get("leads_created")))

    @property
    def lead_won_pct(self) -> Decimal | None:
        return ratio_pct(int(self._get("leads_won")), int(self._get("leads_created")))


def _slice(slice_dim: str, slice_value: str) -> dict[str, str]:
    return {"slice_dim": slice_dim, "slice_value": slice_value if slice_dim else ""}


def figures(run: CalcRun | None, scope: Scope, period: Period | None, slice_dim: str = "",
            slice_value: str = "") -> Figures:
    row = None
    if run is not None and period is not None:
        row = PipelineFacts.objects.filter(
            run=run, scope_kind=scope.kind, scope_id=scope.id, period=period,
            **_slice(slice_dim, slice_value)).first()
    return Figures(row, company_currency())


def person_figures(run: CalcRun | None, person_ids: Iterable[int], period: Period | None
                   ) -> dict[int, Figures]:
    """Each person's own (unsliced) figures in `period`, for comparing reps side by side."""
    if run is None or period is None:
        return {}
    currency = company_currency()
    return {row.scope_id: Figures(row, currency) for row in PipelineFacts.objects.filter(
        run=run, scope_kind=ScopeKind.PERSON, scope_id__in=list(person_ids), period=period,
        **_slice("", ""))}


def monthly_figures(run: CalcRun | None, scope: Scope, end: date, months: int = 12,
                    slice_dim: str = "", slice_value: str = "") -> list[tuple[Period, Figures]]:
    """Figures of the `months` calendar months ending before `end`, every stored month present."""
    start = add_months(date(end.year, end.month, 1), -months) if end.day == 1 else add_months(
        date(end.year, end.month, 1), 1 - months)
    periods = list(Period.objects.filter(kind=PeriodKind.MONTH.value, start__gte=start,
                                         start__lt=end).order_by("start"))
    rows: dict[int, PipelineFacts] = {}
    if run is not None:
        rows = {r.period_id: r for r in PipelineFacts.objects.filter(
            run=run, scope_kind=scope.kind, scope_id=scope.id, period__in=periods,
            **_slice(slice_dim, slice_value))}
    currency = company_currency()
    return [(p, Figures(rows.get(p.pk), currency)) for p in periods]


@dataclass(frozen=True, slots=True)
class StageRow:
    stage: Stage
    facts: PipelineStageFacts | None
    next_reached: int | None

    def _n(self, name: str) -> int:
        return int(getattr(self.facts, name)) if self.facts is not None else 0

    @property
    def reached(self) -> int:
        return self._n("cohort_reached")

    @property
    def cohort_conversion(self) -> Decimal | None:
        if self.next_reached is None:
            return None
        return ratio_pct(self.next_reached, self.reached)

    @property
    def flow_conversion(self) -> Decimal | None:
        advanced = self._n("flow_advanced")
        return ratio_pct(advanced, advanced + self._n("flow_lost"))

    @property
    def mean_days(self) -> Decimal | None:
        return mean_days(self._n("stay_days_sum"), self._n("stay_count"))


def funnel(run: CalcRun | None, scope: Scope, period: Period | None, slice_dim: str = "",
           slice_value: str = "", pipeline: str = "default") -> list[StageRow]:
    """The funnel stages of `pipeline` (not lost) in order, each with its stored figures."""
    funnel_stages = list(stages(pipeline).filter(is_lost=False))
    facts: dict[int, PipelineStageFacts] = {}
    if run is not None and period is not None:
        facts = {f.stage_id: f for f in PipelineStageFacts.objects.filter(
            run=run, scope_kind=scope.kind, scope_id=scope.id, period=period,
            **_slice(slice_dim, slice_value))}
    rows = []
    for index, s in enumerate(funnel_stages):
        following = funnel_stages[index + 1] if index + 1 < len(funnel_stages) else None
        next_reached = None
        if following is not None:
            f = facts.get(following.pk)
            next_reached = f.cohort_reached if f is not None else 0
        rows.append(StageRow(s, facts.get(s.pk), next_reached))
    return rows


def flows(run: CalcRun | None, scope: Scope, period: Period | None, slice_dim: str = "",
          slice_value: str = "") -> QuerySet[PipelineFlow]:
    if run is None or period is None:
        return PipelineFlow.objects.none()
    return PipelineFlow.objects.filter(run=run, scope_kind=scope.kind, scope_id=scope.id,
                                       period=period, **_slice(slice_dim, slice_value)
                                       ).order_by("from_stage_id", "to_stage_id")


def breakdown(run: CalcRun | None, scope: Scope, period: Period | None, dimension: str
              ) -> QuerySet[PipelineBreakdown]:
    """Rows of one dimension; `dimension="age"` reads open deals at the run (no period)."""
    if run is None:
        return PipelineBreakdown.objects.none()
    rows = PipelineBreakdown.objects.filter(run=run, scope_kind=scope.kind, scope_id=scope.id,
                                            dimension=dimension)
    rows = rows.filter(period__isnull=True) if dimension == "age" else rows.filter(period=period)
    return rows.order_by("value")


def rep_stage_facts(run: CalcRun | None, person_ids: Iterable[int], period: Period | None
                    ) -> dict[tuple[int, int], PipelineStageFacts]:
    """{(person_id, stage_id): stage facts} of people's own (unsliced) figures."""
    if run is None or period is None:
        return {}
    rows = PipelineStageFacts.objects.filter(
        run=run, scope_kind=ScopeKind.PERSON, scope_id__in=list(person_ids), period=period,
        **_slice("", "")).only("scope_id", "stage_id", "flow_advanced", "flow_lost")
    return {(r.scope_id, r.stage_id): r for r in rows}


def bottlenecks(run: CalcRun | None, scope_kind: str, scope_ids: Iterable[int],
                period: Period | None) -> QuerySet[PipelineBottleneck]:
    if run is None or period is None:
        return PipelineBottleneck.objects.none()
    return PipelineBottleneck.objects.filter(run=run, scope_kind=scope_kind,
                                             scope_id__in=list(scope_ids), period=period
                                             ).order_by("scope_id", "kind", "stage_id")


def slice_values(run: CalcRun | None, dimension: str) -> list[str]:
    """Values of a slice dimension present in the run's company figures (for the filter)."""
    if run is None or dimension not in SLICE_DIMENSIONS:
        return []
    return list(PipelineFacts.objects.filter(run=run, scope_kind=ScopeKind.COMPANY,
                                             slice_dim=dimension)
                .order_by("slice_value").values_list("slice_value", flat=True).distinct())


def opportunities_of_product(rows: QuerySet[Any], product: str) -> QuerySet[Any]:
    """`rows` (opportunities) narrowed to those pipeline analytics counts under `product` (the
    deal's own product, else its largest order line's; "" = none), for drill-downs."""
    from attain.pipeline.engine_io import deal_product

    narrowed: QuerySet[Any] = rows.annotate(pipeline_product=deal_product()).filter(
        pipeline_product=product)
    return narrowed
