"""Reads of the compensation app for pages, the API and the CLI, always through the visibility
scope: a rep sees only their own pay, a manager their reporting subtree (as of the period
viewed), ops, finance and executives everyone. A row the caller may not see is answered like a
missing one (None), so pages and the API give 404 for both.

Plans: company-wide roles see every plan; others see the plans assigned to someone they can see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.utils import timezone

from attain.compensation.models import (
    CompPlan,
    CompRun,
    Credit,
    Dispute,
    EarningLine,
    ManualLine,
    Payout,
    PayoutLine,
    PayrollExport,
    PeriodClose,
    PlanAcceptance,
    PlanAssignment,
    PlanVersion,
    PriorAdjustment,
    StatementSignoff,
)
from attain.core.models import CalcRun, Period
from attain.crm.models import Opportunity, OpportunitySplit
from attain.people.models import Person
from attain.people.visibility import visible_person_ids

ZERO = Decimal("0.00")


def viewing_day(period: Period) -> date:
    """The day whose reporting lines decide who sees a period's pay: its last day, or today
    while the period is still running."""
    return min(period.end - timedelta(days=1), timezone.localdate())


def may_see(user: Any, person_id: int, day: date) -> bool:
    """Whether `user` may see `person_id`'s pay on `day`; `None` is the system (the CLI)."""
    if user is None:
        return True
    visible = visible_person_ids(user, day)
    return visible is None or person_id in visible


# --- plans --------------------------------------------------------------------------------------


def plans(user: Any, as_of: date | None = None) -> QuerySet[CompPlan]:
    rows = CompPlan.objects.annotate(version_count=Count("versions", distinct=True))
    visible = visible_person_ids(user, as_of)
    if visible is not None:
        rows = rows.filter(versions__assignments__person_id__in=visible).distinct()
    return rows.prefetch_related(Prefetch("versions", PlanVersion.objects.order_by("-number")))


def plan(user: Any, plan_id: int) -> CompPlan | None:
    return plans(user).filter(pk=plan_id).first()


def version(user: Any, version_id: int) -> PlanVersion | None:
    rows = PlanVersion.objects.select_related("plan", "created_by", "published_by")
    visible = visible_person_ids(user)
    if visible is not None:
        rows = rows.filter(assignments__person_id__in=visible).distinct()
    return rows.filter(pk=version_id).first()


def assignments(user: Any, as_of: date, *, version_id: int | None = None,
                person_id: int | None = None) -> QuerySet[PlanAssignment]:
    """Assignments of the people `user` sees on `as_of`, each annotated with `accepted`."""
    rows = (PlanAssignment.objects.visible_to(user, as_of)
            .select_related("person", "version__plan")
            .annotate(accepted=Exists(PlanAcceptance.objects.filter(
                person_id=OuterRef("person_id"), version_id=OuterRef("version_id")))))
    if version_id is not None:
        rows = rows.filter(version_id=version_id)
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    return rows.order_by("person__name", "valid_from", "id")


def acceptances(user: Any, version_id: int) -> dict[int, Any]:
    return dict(PlanAcceptance.objects.visible_to(user).filter(version_id=version_id)
                .values_list("person_id", "accepted_at"))


def current_assignment(person_id: int, day: date) -> PlanAssignment | None:
    return (PlanAssignment.objects.filter(person_id=person_id, valid_from__lte=day)
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
            .select_related("version__plan").first())


def pending_acceptances(user: Any, as_of: date) -> QuerySet[PlanAssignment]:
    """Assignments in force on `as_of` whose person has not accepted the plan version."""
    return assignments(user, as_of).filter(valid_from__lte=as_of).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=as_of)).filter(accepted=False)


# --- runs ---------------------------------------------------------------------------------------


def runs(*, period_id: int | None = None) -> QuerySet[CompRun]:
    """Compensation runs, newest first (the figures inside are filtered per statement)."""
    rows = CompRun.objects.select_related("calc_run", "period", "adjusts", "calc_run__requested_by",
                                          "submitted_by", "decided_by")
    if period_id is not None:
        rows = rows.filter(period_id=period_id)
    return rows.order_by("-calc_run__created_at", "-id")


def run(run_id: int | None) -> CompRun | None:
    return runs().filter(pk=run_id).first() if run_id is not None else None


def pending_runs() -> QuerySet[CalcRun]:
    from attain.compensation.engine_io import COMP_RUN_KIND

    return CalcRun.objects.filter(kind=COMP_RUN_KIND, status__in=[
        CalcRun.Status.QUEUED, CalcRun.Status.RUNNING]).order_by("-created_at")


def calc_run(run_id: int) -> CalcRun | None:
    from attain.compensation.engine_io import COMP_RUN_KIND

    return CalcRun.objects.filter(pk=run_id, kind=COMP_RUN_KIND).first()


def statement_run(period: Period) -> CompRun | None:
    """The run a period's statements show: the run that closed it, else its latest approved
    run, else its latest succeeded run (adjustment runs are shown beside it)."""
    closed = PeriodClose.objects.filter(period=period).select_related("run").first()
    if closed is not None:
        return runs().filter(pk=closed.run_id).first()
    done = runs(period_id=period.pk).filter(calc_run__status=CalcRun.Status.SUCCEEDED,
                                            adjusts__isnull=True)
    return (done.filter(approval=CompRun.Approval.APPROVED).first() or done.first())


def period_is_closed(period: Period) -> bool:
    return PeriodClose.objects.filter(period=period).exists()


def periods_with_runs() -> QuerySet[Period]:
    return Period.objects.filter(pk__in=CompRun.objects.values("period_id")).order_by("-start")


def payouts(user: Any, comp_run: CompRun) -> QuerySet[Payout]:
    day = viewing_day(comp_run.period)
    return (Payout.objects.visible_to(user, day).filter(run=comp_run).select_related("person")
            .annotate(disputes_open=Count("person__comp_disputes", filter=Q(
                person__comp_disputes__run=comp_run,
                person__comp_disputes__status=Dispute.Status.OPEN), distinct=True))
            .order_by("person__name", "currency"))


def prior_adjustments(user: Any, comp_run: CompRun) -> QuerySet[PriorAdjustment]:
    """The corrections an adjustment run found, for the people `user` may see."""
    return (PriorAdjustment.objects.visible_to(user, viewing_day(comp_run.period))
            .filter(run=comp_run).select_related("person")
            .order_by("person__name", "adjustment_key"))


# --- statements ---------------------------------------------------------------------------------


@dataclass
class LineDiff:
    line_key: str
    person_id: int
    person_name: str
    component: str
    line_kind: str
    booking_id: int | None
    before: Decimal | None
    after: Decimal | None
    currency: str
    before_trace: list[Any]
    after_trace: list[Any]

    @property
    def change(self) -> Decimal:
        return (self.after or ZERO) - (self.before or ZERO)

    @property
    def status(self) -> str:
        if self.before is None:
            return "new"
        if self.after is None:
            return "removed"
        return "changed" if self.before != self.after else "same amount, reached differently"


@dataclass
class Statement:
    """A person's statement of a run. Its lines are querysets in statement order
    (`line_rows`, `payout_line_rows`: a top manager's roll-up has tens of thousands of lines,
    so a page shows them a page at a time) and its totals are the database's sums of every
    line; `lines` and `payout_lines` read all of them (exports, API)."""

    person: Person
    run: CompRun
    payouts: list[Payout]
    line_rows: QuerySet[EarningLine]
    payout_line_rows: QuerySet[PayoutLine]
    adjustment_runs: list[CompRun]
    prior_adjustments: list[PriorAdjustment]
    manual_lines: list[ManualLine]
    disputes: list[Dispute]
    credit_rows: QuerySet[Credit]
    ytd: dict[str, Decimal]
    signoff: StatementSignoff | None
    is_closed: bool
    by_component: dict[str, Decimal] = field(default_factory=dict)
    earned_total: dict[str, Decimal] = field(default_factory=dict)
    lines_total: dict[str, Decimal] = field(default_factory=dict)
    """The sum of the payout lines per currency (equals the payout to the cent)."""

    @cached_property
    def lines(self) -> list[EarningLine]:
        return list(self.line_rows)

    @cached_property
    def payout_lines(self) -> list[PayoutLine]:
        return list(self.payout_line_rows)

    @cached_property
    def credits(self) -> list[Credit]:
        return list(self.credit_rows)

    @property
    def total(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for payout in self.payouts:
            totals[payout.currency] = totals.get(payout.currency, ZERO) + payout.payout
        return totals


def _sums(rows: QuerySet[Any], key: Any) -> dict[str, Decimal]:
    """Sum of `amount` per `key` (a field or expression) over every row, in the order of the
    keys."""
    return {k: total for k, total in rows.select_related(None).annotate(key=key).values("key")
            .annotate(total=Sum("amount")).order_by("key").values_list("key", "total")}


def statement(user: Any, person_id: int, comp_run: CompRun) -> Statement | None:
    """`person_id`'s statement of `comp_run`, or None when `user` may not see their pay."""
    day = viewing_day(comp_run.period)
    if not may_see(user, person_id, day):
        return None
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return None
    lines = (EarningLine.objects.filter(run=comp_run, person_id=person_id)
             .select_related("plan_version__plan")
             .order_by("period_start", "component", "booking_id", "line_key"))
    payout_lines = (PayoutLine.objects.filter(run=comp_run, person_id=person_id)
                    .order_by("kind", "component", "line_key"))
    adjustment_runs = list(runs().filter(adjusts=comp_run,
                                         calc_run__status=CalcRun.Status.SUCCEEDED))
    prior = list(PriorAdjustment.objects.filter(run__in=adjustment_runs, person_id=person_id)
                 .order_by("run_id", "component", "adjustment_key"))
    return Statement(
        person=person, run=comp_run,
        payouts=list(Payout.objects.filter(run=comp_run, person_id=person_id)),
        line_rows=lines, payout_line_rows=payout_lines,
        adjustment_runs=adjustment_runs, prior_adjustments=prior,
        manual_lines=list(ManualLine.objects.filter(
            person_id=person_id, period__start__gte=comp_run.period.start,
            period__start__lt=comp_run.period.end).select_related("period", "entered_by")),
        disputes=list(Dispute.objects.filter(run=comp_run, person_id=person_id)
                      .select_related("line", "raised_by", "decided_by", "adjustment")),
        credit_rows=Credit.objects.filter(run=comp_run, person_id=person_id)
        .order_by("credit_date", "booking_id"),
        ytd=year_to_date(person_id, comp_run.period),
        signoff=StatementSignoff.objects.filter(run=comp_run, person_id=person_id).first(),
        is_closed=period_is_closed(comp_run.period),
        by_component=_sums(lines, Case(When(component="", then=F("line_kind")),
                                       default=F("component"))),
        earned_total=_sums(lines, F("currency")), lines_total=_sums(payout_lines, F("currency")))


def year_to_date(person_id: int, period: Period) -> dict[str, Decimal]:
    """Payouts of the person from the fiscal year's start to the end of `period`, per currency:
    for every period of the same kind, the run its statements show (plus adjustment runs)."""
    from attain.core.actions import fiscal_calendar

    year_start = fiscal_calendar().rules.year_start(period.start)
    totals: dict[str, Decimal] = {}
    for each in Period.objects.filter(kind=period.kind, start__gte=year_start,
                                      end__lte=period.end):
        shown = statement_run(each)
        if shown is None:
            continue
        ids = [shown.pk, *CompRun.objects.filter(adjusts=shown, approval=CompRun.Approval
                                                 .APPROVED).values_list("pk", flat=True)]
        for currency, total in (Payout.objects.filter(run_id__in=ids, person_id=person_id)
                                .values_list("currency").annotate(t=Sum("payout"))
                                .values_list("currency", "t")):
            totals[currency] = (totals.get(currency, ZERO) + total).quantize(ZERO)
    return totals


def earnings_so_far(person_id: int, day: date) -> tuple[Period, Decimal, str] | None:
    """The person's payout in the latest run of the quarter or month containing `day`."""
    for kind in ("month", "quarter"):
        period = Period.objects.filter(kind=kind, start__lte=day, end__gt=day).first()
        if period is None:
            continue
        shown = statement_run(period)
        if shown is None:
            continue
        payout = Payout.objects.filter(run=shown, person_id=person_id).first()
        if payout is not None:
            return period, payout.payout, payout.currency
    return None


def line_diff(user: Any, old: CompRun, new: CompRun, *, person_id: int | None = None
              ) -> list[LineDiff]:
    """Line-by-line difference of two runs ("why did my pay change"), matched on the stable
    line key by the engine's `diff_lines`, for the people `user` may see: added, removed and
    changed lines (a changed amount, or the same amount reached another way)."""
    from attain.compensation import engine_io

    day = viewing_day(new.period)
    visible = None if user is None else visible_person_ids(user, day)
    if person_id is not None:
        visible = {person_id} if visible is None or person_id in visible else set()
    diff = engine_io.diff_runs(old, new, visible)
    names = dict(Person.objects.filter(pk__in=diff.column("person_id").to_pylist())
                 .values_list("pk", "name"))
    return [LineDiff(row["line_key"], row["person_id"], names.get(row["person_id"], ""),
                     row["component"], row["kind"], row["booking_id"], row["before_amount"],
                     row["after_amount"], row["currency"], _steps(row["before_trace"]),
                     _steps(row["after_trace"]))
            for row in diff.to_pylist()]


def _steps(trace: str | None) -> list[Any]:
    import json

    if not trace:
        return []
    value = json.loads(trace)
    return value if isinstance(value, list) else [value]


# --- disputes, exports --------------------------------------------------------------------------


def disputes(user: Any, *, status: str | None = None, run_id: int | None = None
             ) -> QuerySet[Dispute]:
    rows = (Dispute.objects.visible_to(user)
            .select_related("person", "run__period", "line", "raised_by", "decided_by",
                            "adjustment"))
    if status:
        rows = rows.filter(status=status)
    if run_id is not None:
        rows = rows.filter(run_id=run_id)
    return rows.order_by("-raised_at", "-id")


def dispute(user: Any, dispute_id: int) -> Dispute | None:
    return disputes(user).filter(pk=dispute_id).first()


def exports(comp_run: CompRun) -> QuerySet[PayrollExport]:
    return PayrollExport.objects.filter(run=comp_run).select_related("exported_by")


def manual_lines(user: Any, *, period_id: int | None = None) -> QuerySet[ManualLine]:
    rows = ManualLine.objects.visible_to(user).select_related("person", "period", "entered_by")
    if period_id is not None:
        rows = rows.filter(period_id=period_id)
    return rows.order_by("-entered_at", "-id")


def accrual(user: Any, as_of: date) -> list[tuple[Period, dict[str, Decimal]]]:
    """Earned but unpaid: per period with runs, the payouts of its statement run that are not
    yet in an approved, exported run (per currency)."""
    result = []
    visible = visible_person_ids(user, as_of)
    for period in periods_with_runs():
        shown = statement_run(period)
        if shown is None or shown.exports.exists():
            continue
        rows = Payout.objects.filter(run=shown)
        if visible is not None:
            rows = rows.filter(person_id__in=visible)
        totals = dict(rows.values_list("currency").annotate(t=Sum("payout"))
                      .values_list("currency", "t"))
        if totals:
            result.append((period, totals))
    return result


# --- what-if estimates --------------------------------------------------------------------------

MAX_WHAT_IF_DEALS = 200


class WhatIfRefused(Exception):
    """An estimate that cannot be made. `status` 404: an opportunity that does not exist or is
    not one of the person's (answered alike); 400: one that cannot be estimated (closed, no
    amount, closing outside the period) or a person without a plan in the period."""

    def __init__(self, message: str, *, status: int, field: str, value: Any = None) -> None:
        super().__init__(message)
        self.status, self.field, self.value = status, field, value


def _plan_in_force(person_id: int, day: date) -> Any | None:
    from attain.compensation import engine_io

    assignment = current_assignment(person_id, day)
    return None if assignment is None else engine_io.parse(assignment.version.text)


def what_if_periods(person_id: int, day: date) -> list[Period]:
    """The pay periods an estimate is offered for: of the kind of the person's plan in force on
    `day` (month, quarter or year), from the one containing `day` to the end of its plan year."""
    from attain.engine.compensation.calculation import plan_year

    plan = _plan_in_force(person_id, day)
    if plan is None:
        return []
    year_end = plan_year(plan, day)[1]
    return list(Period.objects.filter(kind=plan.period, end__gt=day, start__lt=year_end)
                .order_by("start"))


def what_if_period(person_id: int, period_id: int | None, day: date
                   ) -> tuple[Period | None, list[Period]]:
    """The period an estimate is for (`period_id`, else the first of `what_if_periods`) and the
    periods offered (with it); (None, offered) when there is none, or `period_id` is not a
    period of the kind of the person's plan in force in it."""
    offered = what_if_periods(person_id, day)
    if period_id is None:
        return (offered[0] if offered else None), offered
    period = Period.objects.filter(pk=period_id).first()
    plan = None if period is None else _plan_in_force(person_id, viewing_day(period))
    if period is None or plan is None or period.kind != plan.period:
        return None, offered
    return period, sorted({*offered, period}, key=lambda p: p.start)


def _deals_of(person_id: int) -> QuerySet[Opportunity]:
    """Opportunities credited to the person: owned, or holding a split of theirs."""
    return Opportunity.objects.filter(Q(owner_id=person_id) | Q(pk__in=OpportunitySplit.objects
                                                                .filter(person_id=person_id)
                                                                .values("opportunity_id")))


def open_deals(person_id: int, period: Period, day: date) -> QuerySet[Opportunity]:
    """The person's open opportunities (owned, or with a split of theirs) closing inside
    `period`; for the period containing `day` also those whose closing date passed earlier in
    the fiscal year and are still open (they count as closing at the period start). Each has
    `split_percent` (the person's revenue split, None without one) and `has_splits`."""
    from attain.core.actions import fiscal_calendar

    since = period.start
    if period.start <= day < period.end:
        since = min(since, fiscal_calendar().rules.year_start(period.start))
    splits = OpportunitySplit.objects.filter(opportunity_id=OuterRef("pk"),
                                             kind=OpportunitySplit.Kind.REVENUE)
    return (_deals_of(person_id).filter(is_closed=False, close_date__gte=since,
                                        close_date__lt=period.end)
            .select_related("stage", "account", "owner")
            .annotate(split_percent=Subquery(splits.filter(person_id=person_id)
                                             .values("percent")[:1]),
                      has_splits=Exists(splits))
            .order_by("close_date", "pk"))


@dataclass(frozen=True)
class WhatIfComponent:
    """One plan component before and after the deals: earned, attainment (1 = 100 %, None
    without a quota), and the tier band reached (1-based, None without tiers) with its words."""

    name: str
    kind: str
    earned_before: Decimal
    earned_after: Decimal
    attainment_before: Decimal | None
    attainment_after: Decimal | None
    band_before: int | None
    band_after: int | None
    band_before_text: str
    band_after_text: str

    @property
    def difference(self) -> Decimal:
        return self.earned_after - self.earned_before

    @property
    def attainment_before_pct(self) -> Decimal | None:
        return None if self.attainment_before is None else self.attainment_before * 100

    @property
    def attainment_after_pct(self) -> Decimal | None:
        return None if self.attainment_after is None else self.attainment_after * 100


@dataclass(frozen=True)
class WhatIfLine:
    """An earning line the deals add or change, with the engine's trace (`trace`: steps)."""

    line_key: str
    component: str
    line_kind: str
    booking_id: int | None
    opportunity_id: int | None  # the deal of a hypothetical line (booking id < 0)
    deal: str
    change: str
    before: Decimal | None
    after: Decimal | None
    delta: Decimal
    currency: str
    trace: list[Any]


@dataclass(frozen=True)
class WhatIf:
    """An estimate for `person` in `period`: earned so far (the engine on today's data), with
    the ticked `deals` closing, the difference (per currency), per component and line by line;
    `latest_run`: the payout of the run the period's statements show (None without one)."""

    person: Person
    period: Period
    as_of: date
    deals: list[Opportunity]
    earned_before: dict[str, Decimal]
    earned_after: dict[str, Decimal]
    components: list[WhatIfComponent]
    lines: list[WhatIfLine]
    latest_run: tuple[CompRun, Decimal, str] | None
    seconds: dict[str, float]

    @property
    def difference(self) -> dict[str, Decimal]:
        currencies = sorted({*self.earned_before, *self.earned_after})
        return {c: self.earned_after.get(c, ZERO) - self.earned_before.get(c, ZERO)
                for c in currencies}


def what_if(user: Any, person_id: int, period: Period, opportunity_ids: list[int], *,
            day: date) -> WhatIf | None:
    """What `person_id` earns in `period` if the opportunities closed (the engine, nothing
    written), or None when `user` may not see the person's pay. Raises `WhatIfRefused` for an
    opportunity that is not one of the person's open deals of the period (`open_deals`)."""
    from attain.compensation import engine_io

    if not may_see(user, person_id, viewing_day(period)):
        return None
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return None
    ids = list(dict.fromkeys(opportunity_ids))
    if len(ids) > MAX_WHAT_IF_DEALS:
        raise WhatIfRefused(f"{len(ids)} deals ticked; at most {MAX_WHAT_IF_DEALS} at once.",
                            status=400, field="opportunity_ids", value=len(ids))
    deals = {o.pk: o for o in open_deals(person_id, period, day).filter(pk__in=ids)}
    for opportunity_id in ids:
        if opportunity_id in deals:
            if deals[opportunity_id].amount is None:
                raise WhatIfRefused(f"Opportunity {opportunity_id} has no amount to estimate.",
                                    status=400, field="opportunity_ids", value=opportunity_id)
            continue
        mine = _deals_of(person_id).filter(pk=opportunity_id).first()
        if mine is None:
            raise WhatIfRefused(f"No deal of {person.name} has the id {opportunity_id}.",
                                status=404, field="opportunity_ids", value=opportunity_id)
        reason = ("is closed" if mine.is_closed else
                  f"closes on {mine.close_date}, outside {period.label} "
                  f"({period.start} to {period.end}, excluded)")
        raise WhatIfRefused(f"Opportunity {opportunity_id} ({mine.name}) {reason}; only open "
                            f"deals closing in the period can be estimated.", status=400,
                            field="opportunity_ids", value=opportunity_id)
    as_of = viewing_day(period)
    try:
        result = engine_io.estimate(person_id, period, list(deals), as_of=as_of)
    except engine_io.RunRefused as error:
        raise WhatIfRefused(str(error), status=400, field=error.field or "person_id",
                            value=error.value) from error
    shown = statement_run(period)
    payout = (None if shown is None
              else Payout.objects.filter(run=shown, person_id=person_id).first())
    return WhatIf(
        person=person, period=period, as_of=as_of, deals=[deals[i] for i in ids],
        earned_before=_per_currency(result.before_lines),
        earned_after=_per_currency(result.after_lines),
        components=_what_if_components(result), lines=_what_if_lines(result, deals),
        latest_run=None if shown is None or payout is None
        else (shown, payout.payout, payout.currency),
        seconds=dict(result.seconds))


def _per_currency(lines: Any) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for currency, amount in zip(lines.column("currency").to_pylist(),
                                lines.column("amount").to_pylist(), strict=True):
        totals[currency] = totals.get(currency, ZERO) + amount
    return totals


def _measure(measures: Any, component: str, name: str) -> Decimal | None:
    for row in measures.to_pylist():
        if row["component"] == component and row["measure"] == name:
            return Decimal(row["value"])
    return None


def _band_text(plan: Any, component: Any, band: int | None) -> str:
    """`band 2: 3,000.00 to 8,000.00 at 8%` (attainment bands in % of quota)."""
    tiers = getattr(component, "tiers", None)
    if tiers is None or band is None or not 1 <= band <= len(tiers.bands):
        return ""
    edge = tiers.bands[band - 1]

    def at(value: Decimal) -> str:
        return (f"{value * 100:,.2f}%" if tiers.basis == "attainment"
                else f"{value:,.2f} {plan.currency}")

    span = f"{at(edge.lower)} and above" if edge.upper is None else \
        f"{at(edge.lower)} to {at(edge.upper)}"
    pays = (f"{edge.rate * 100:.2f}%" if edge.rate is not None
            else f"{edge.multiplier} x the base rate")
    return f"band {band}: {span} at {pays}"


def _what_if_components(result: Any) -> list[WhatIfComponent]:
    rows = []
    for plan in result.plans.values():
        for component in plan.components:
            sides = {}
            for side, lines, measures in (("before", result.before_lines, result.before_measures),
                                          ("after", result.after_lines, result.after_measures)):
                own = [r for r in lines.to_pylist() if r["component"] == component.name]
                tiers = [r["tier"] for r in own if r["tier"] is not None
                         and r["line_kind"] in ("commission", "true_up")]
                sides[side] = (sum((r["amount"] for r in own), ZERO),
                               _measure(measures, component.name, "attainment"),
                               max(tiers) if tiers else None)
            rows.append(WhatIfComponent(
                name=component.name, kind=component.kind,
                earned_before=sides["before"][0], earned_after=sides["after"][0],
                attainment_before=sides["before"][1], attainment_after=sides["after"][1],
                band_before=sides["before"][2], band_after=sides["after"][2],
                band_before_text=_band_text(plan, component, sides["before"][2]),
                band_after_text=_band_text(plan, component, sides["after"][2])))
    return rows


def _what_if_lines(result: Any, deals: dict[int, Opportunity]) -> list[WhatIfLine]:
    rows = []
    for r in result.changes.to_pylist():
        booking = r["booking_id"]
        opportunity = -booking if booking is not None and booking < 0 else None
        deal = (deals[opportunity].name if opportunity in deals
                else f"order line {booking}" if booking is not None else "")
        rows.append(WhatIfLine(
            line_key=r["line_key"], component=r["component"], line_kind=r["kind"],
            booking_id=booking if opportunity is None else None, opportunity_id=opportunity,
            deal=deal, change=r["change"], before=r["before_amount"], after=r["after_amount"],
            delta=r["delta"], currency=r["currency"],
            trace=[_deal_words(step, booking, deal) if opportunity else step
                   for step in _steps(r["after_trace"] or r["before_trace"])]))
    return rows


def _deal_words(step: Any, booking_id: int, deal: str) -> Any:
    """A trace step naming the hypothetical order line `booking_id` (< 0) by its deal."""
    prefix = f"Booking {booking_id} of "
    if isinstance(step, str) and step.startswith(prefix):
        return f"{deal}, if it closes, booked on {step[len(prefix):]}"
    return step


# --- plan modelling -----------------------------------------------------------------------------

MODEL_ROW_ORDER = {"person": ("person__name", "period__start"),
                   "in_force": ("in_force_earned", "person__name"),
                   "draft": ("draft_earned", "person__name"),
                   "change": ("change", "person__name"),
                   "change_pct": ("change_pct", "person__name")}


def model_runs(*, version_id: int | None = None) -> QuerySet[Any]:
    """Modelling runs of draft plans (of one version when given), newest first."""
    from attain.compensation.models import PlanModelRun

    rows = PlanModelRun.objects.select_related("calc_run", "calc_run__requested_by",
                                               "version__plan")
    if version_id is not None:
        rows = rows.filter(version_id=version_id)
    return rows.order_by("-calc_run__created_at", "-id")


def model_run(model_id: int) -> Any | None:
    return model_runs().filter(pk=model_id).first()


def model_rows(user: Any, model: Any, *, period_id: int | None = None, search: str = "",
               order: str = "change", descending: bool = True) -> QuerySet[Any]:
    """Each person's pay in each modelled period under the plan in force and the draft, for the
    people `user` sees, filtered by period and name, ordered by `order` (MODEL_ROW_ORDER)."""
    from attain.compensation.models import PlanModelRow

    rows = (PlanModelRow.objects.visible_to(user).filter(model_run=model)
            .select_related("person", "period"))
    if period_id is not None:
        rows = rows.filter(period_id=period_id)
    if search:
        rows = rows.filter(Q(person__name__icontains=search)
                           | Q(person__external_id__icontains=search))
    fields = MODEL_ROW_ORDER.get(order, MODEL_ROW_ORDER["change"])
    first = f"-{fields[0]}" if descending else fields[0]
    return rows.order_by(first, *fields[1:], "currency", "pk")


def model_lines(user: Any, model: Any, person_id: int) -> QuerySet[Any]:
    """A person's earning lines of a modelling run, under both plans, line by line."""
    from attain.compensation.models import PlanModelLine

    return (PlanModelLine.objects.visible_to(user).filter(model_run=model, person_id=person_id)
            .select_related("period").order_by("period__start", "component", "line_key"))


def pending_models(*, version_id: int | None = None) -> QuerySet[Any]:
    return model_runs(version_id=version_id).filter(calc_run__status__in=[
        CalcRun.Status.QUEUED, CalcRun.Status.RUNNING])


# --- accrual ------------------------------------------------------------------------------------


def accrual_rows(user: Any, as_of: date, *, period_id: int | None = None,
                 search: str = "") -> QuerySet[Payout]:
    """Earned and paid per period, person and currency as of `as_of`, for the people `user` may
    see: for every period that started on or before `as_of` and has a run, the payouts of the
    run its statements show, each annotated with `paid` (the run's payout when the run was
    exported to payroll on or before `as_of`, else 0.00) and `accrued` = earned - paid.

    Worked example: Q1 earned 680.00 and its approved run was exported on 2026-04-05 → as of
    2026-04-04: paid 0.00, accrued 680.00; as of 2026-04-05: paid 680.00, accrued 0.00. What is
    deferred to a later event is accrued until the later period's payout pays it, and a draw
    paid beyond earnings shows as a negative accrual (an advance), so a person's accruals add
    up across periods."""
    from datetime import datetime, time

    from django.db.models import Case, DecimalField, ExpressionWrapper, F, Value, When

    from attain.core.money import MONEY_DIGITS, MONEY_PLACES

    money = DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    run_ids = []
    for period in Period.objects.filter(pk__in=CompRun.objects.values("period_id"),
                                        start__lte=as_of):
        shown = statement_run(period)
        if shown is not None:
            run_ids.append(shown.pk)
    until = timezone.make_aware(datetime.combine(as_of + timedelta(days=1), time.min))
    exported = PayrollExport.objects.filter(run_id=OuterRef("run_id"), exported_at__lt=until)
    rows = (Payout.objects.visible_to(user, as_of).filter(run_id__in=run_ids)
            .select_related("person", "run__period")
            .annotate(exported_on=Subquery(exported.order_by("exported_at")
                                           .values("exported_at")[:1]))
            .annotate(paid=Case(When(Exists(exported), then=F("payout")),
                                default=Value(ZERO), output_field=money)))
    rows = rows.annotate(accrued=ExpressionWrapper(F("earned") - F("paid"), output_field=money))
    if period_id is not None:
        rows = rows.filter(run__period_id=period_id)
    if search:
        rows = rows.filter(Q(person__name__icontains=search)
                           | Q(person__external_id__icontains=search))
    return rows.order_by("-run__period__start", "person__name", "currency")


def accrual_totals(rows: QuerySet[Payout]) -> list[dict[str, Any]]:
    """Earned, paid and accrued of `accrual_rows` per currency (summed by the database)."""
    return [dict(row) for row in rows.order_by().values("currency").annotate(
        earned_total=Sum("earned"), paid_total=Sum("paid"), accrued_total=Sum("accrued"))
        .order_by("currency")]


def accrual_by_period(rows: QuerySet[Payout]) -> list[dict[str, Any]]:
    """Earned, paid and accrued of `accrual_rows` per period and currency."""
    return [dict(row) for row in rows.order_by().values(
        "run__period__label", "run__period__start", "run_id", "currency")
        .annotate(earned_total=Sum("earned"), paid_total=Sum("paid"),
                  accrued_total=Sum("accrued"), people=Count("person_id"))
        .order_by("-run__period__start", "currency")]
