"""The pipeline router: the sales process and the materialised pipeline analytics of a scope,
with the same visibility as the pages (a scope you may not read answers 404)."""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from attain.core.api import DecimalText, PeriodOut, as_of_or_today, caller, found, paginated
from attain.core.models import Period
from attain.pipeline import queries
from attain.pipeline.metrics import ratio_pct

router = Router(tags=["pipeline"])


class StageOut(Schema):
    id: int
    pipeline: str
    name: str
    order: int
    probability: DecimalText
    forecast_category: str
    is_won: bool
    is_lost: bool


class FunnelStageOut(Schema):
    stage_id: int
    stage: str
    cohort_reached: int
    cohort_open: int
    cohort_conversion_pct: DecimalText | None
    flow_entered: int
    flow_advanced: int
    flow_lost: int
    flow_conversion_pct: DecimalText | None
    mean_days_in_stage: DecimalText | None


class PipelineFiguresOut(Schema):
    run_id: int | None
    scope_kind: str
    scope_id: int
    scope: str
    period: PeriodOut
    slice_dim: str
    slice_value: str
    currency: str
    created_count: int
    created_amount: DecimalText
    won_count: int
    won_amount: DecimalText
    lost_count: int
    lost_amount: DecimalText
    win_rate_pct: DecimalText | None
    average_deal_size: DecimalText | None
    cycle_days_median: DecimalText | None
    cycle_days_mean: DecimalText | None
    velocity_per_day: DecimalText | None
    leads_created: int
    leads_qualified: int
    leads_converted: int
    leads_won: int
    slipped_count: int
    push_count: int
    funnel: list[FunnelStageOut]


class ScopeFilters(Schema):
    period_id: int = Field(description="A stored quarter or year (see /periods)")
    team_id: int | None = None
    person_id: int | None = None
    manager_id: int | None = None
    slice_dim: str = Field("", description='"", "segment", "source" or "product"')
    slice_value: str = ""


@router.get("/pipeline/stages", response=list[StageOut], summary="The sales process")
def list_stages(request: HttpRequest, pipeline: str | None = None) -> Any:
    """Every stage of every pipeline (or of `pipeline`), in order."""
    return list(queries.stages(pipeline))


@router.get("/pipeline/figures", response=PipelineFiguresOut,
            summary="Pipeline analytics of a scope and period (calculated)")
def pipeline_figures(request: HttpRequest, filters: Query[ScopeFilters],
                     as_of: date | None = None) -> Any:
    """Figures of the latest pipeline analytics run for your own scope (default), a team, a
    manager's subtree or a person you may see on `as_of`; definitions are in the metric
    catalogue shown on the pipeline page."""
    user, day = caller(request), as_of_or_today(as_of)
    scope = found(queries.scope_for(user, day, team_id=filters.team_id,
                                    person_id=filters.person_id,
                                    manager_id=filters.manager_id))
    period = found(Period.objects.filter(pk=filters.period_id).first())
    slice_dim = filters.slice_dim if scope.sliceable else ""
    run = queries.latest_run()
    fig = queries.figures(run, scope, period, slice_dim, filters.slice_value)
    funnel = queries.funnel(run, scope, period, slice_dim, filters.slice_value)

    def count(row: Any, name: str) -> int:
        return int(getattr(row.facts, name)) if row.facts is not None else 0

    return {
        "run_id": run.pk if run else None, "scope_kind": scope.kind, "scope_id": scope.id,
        "scope": scope.label, "period": period, "slice_dim": slice_dim,
        "slice_value": filters.slice_value if slice_dim else "", "currency": fig.currency,
        **{name: getattr(fig, name) for name in (
            "created_count", "created_amount", "won_count", "won_amount", "lost_count",
            "lost_amount", "leads_created", "leads_qualified", "leads_converted", "leads_won",
            "slipped_count", "push_count")},
        "win_rate_pct": fig.win_rate, "average_deal_size": fig.deal_size,
        "cycle_days_median": fig.cycle_median, "cycle_days_mean": fig.cycle_mean,
        "velocity_per_day": fig.velocity,
        "funnel": [{
            "stage_id": r.stage.pk, "stage": r.stage.name, "cohort_reached": r.reached,
            "cohort_open": count(r, "cohort_open"),
            "cohort_conversion_pct": r.cohort_conversion,
            "flow_entered": count(r, "flow_entered"), "flow_advanced": count(r, "flow_advanced"),
            "flow_lost": count(r, "flow_lost"), "flow_conversion_pct": r.flow_conversion,
            "mean_days_in_stage": r.mean_days} for r in funnel],
    }


class BreakdownOut(Schema):
    dimension: str
    value: str = Field(description='"" = none (e.g. a deal without a product)')
    won_count: int
    won_amount: DecimalText
    lost_count: int
    lost_amount: DecimalText
    win_rate_pct: DecimalText | None = Field(description="won ÷ (won + lost), in percent")
    open_count: int
    open_amount: DecimalText
    currency: str

    @staticmethod
    def resolve_win_rate_pct(row: Any) -> Any:
        return ratio_pct(row.won_count, row.won_count + row.lost_count)


BREAKDOWN_DIMENSIONS = ("loss_reason", "source", "segment", "product", "deal_type",
                        "deal_size", "cycle_length", "age")


@router.get("/pipeline/breakdown", response=list[BreakdownOut],
            summary="Win/loss of a scope and period by one dimension (calculated)")
@paginated
def pipeline_breakdown(request: HttpRequest, filters: Query[ScopeFilters],
                       dimension: str = "product", as_of: date | None = None) -> Any:
    """Deals closed in the period by `dimension` (loss_reason, source, segment, product — the
    deal's own product —, deal_type, deal_size, cycle_length) with won/lost counts, amounts and
    win rate; `age`: open deals at the run by age band (no period). Same scopes as /figures."""
    if dimension not in BREAKDOWN_DIMENSIONS:
        raise HttpError(422, f"dimension={dimension!r} is not accepted; use one of "
                             f"{', '.join(BREAKDOWN_DIMENSIONS)}.")
    user, day = caller(request), as_of_or_today(as_of)
    scope = found(queries.scope_for(user, day, team_id=filters.team_id,
                                    person_id=filters.person_id,
                                    manager_id=filters.manager_id))
    period = found(Period.objects.filter(pk=filters.period_id).first())
    return queries.breakdown(queries.latest_run(), scope, period, dimension)


class BottleneckOut(Schema):
    scope_kind: str = Field(description='"person" (against their team) or "team" (against '
                                        'the company)')
    scope_id: int
    benchmark_kind: str
    benchmark_id: int
    kind: str = Field(description='"stage" or "leads" (qualification rate)')
    stage_id: int = Field(description="0 for the leads row")
    conversion: DecimalText | None
    benchmark_conversion: DecimalText | None
    days: DecimalText | None
    benchmark_days: DecimalText | None
    conversion_gap: DecimalText | None
    days_gap: DecimalText | None
    score: DecimalText | None
    is_worst: bool = Field(description="Where deals get stuck (or the many-leads-few-qualify "
                                       "red flag for the leads row)")
    volume: int


@router.get("/pipeline/bottlenecks", response=list[BottleneckOut],
            summary="Where deals get stuck, per person of a scope (calculated)")
@paginated
def pipeline_bottlenecks(request: HttpRequest, filters: Query[ScopeFilters],
                         as_of: date | None = None) -> Any:
    """Each person of the scope (a person scope: that person) stage by stage against their
    team's benchmark, and the lead-qualification row; definitions on the bottlenecks page."""
    user, day = caller(request), as_of_or_today(as_of)
    scope = found(queries.scope_for(user, day, team_id=filters.team_id,
                                    person_id=filters.person_id,
                                    manager_id=filters.manager_id))
    period = found(Period.objects.filter(pk=filters.period_id).first())
    people = ([scope.id] if scope.kind == "person"
              else list(queries.scope_people(scope, day).values_list("pk", flat=True)))
    return queries.bottlenecks(queries.latest_run(), "person", people, period)


__all__ = ["router"]
