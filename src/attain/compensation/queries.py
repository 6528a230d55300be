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
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum
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
    person: Person
    run: CompRun
    payouts: list[Payout]
    lines: list[EarningLine]
    payout_lines: list[PayoutLine]
    adjustment_runs: list[CompRun]
    prior_adjustments: list[PriorAdjustment]
    manual_lines: list[ManualLine]
    disputes: list[Dispute]
    credits: list[Credit]
    ytd: dict[str, Decimal]
    signoff: StatementSignoff | None
    is_closed: bool
    by_component: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for payout in self.payouts:
            totals[payout.currency] = totals.get(payout.currency, ZERO) + payout.payout
        return totals

    @property
    def lines_total(self) -> dict[str, Decimal]:
        """The sum of the payout lines per currency (equals the payout to the cent)."""
        totals: dict[str, Decimal] = {}
        for line in self.payout_lines:
            totals[line.currency] = totals.get(line.currency, ZERO) + line.amount
        return totals

    @property
    def earned_total(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals[line.currency] = totals.get(line.currency, ZERO) + line.amount
        return totals


def statement(user: Any, person_id: int, comp_run: CompRun) -> Statement | None:
    """`person_id`'s statement of `comp_run`, or None when `user` may not see their pay."""
    day = viewing_day(comp_run.period)
    if not may_see(user, person_id, day):
        return None
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        return None
    lines = list(EarningLine.objects.filter(run=comp_run, person_id=person_id)
                 .select_related("plan_version__plan")
                 .order_by("period_start", "component", "booking_id", "line_key"))
    adjustment_runs = list(runs().filter(adjusts=comp_run,
                                         calc_run__status=CalcRun.Status.SUCCEEDED))
    prior = list(PriorAdjustment.objects.filter(run__in=adjustment_runs, person_id=person_id)
                 .order_by("run_id", "component", "adjustment_key"))
    by_component: dict[str, Decimal] = {}
    for line in lines:
        by_component[line.component or line.line_kind] = (
            by_component.get(line.component or line.line_kind, ZERO) + line.amount)
    return Statement(
        person=person, run=comp_run,
        payouts=list(Payout.objects.filter(run=comp_run, person_id=person_id)),
        lines=lines, payout_lines=list(PayoutLine.objects.filter(run=comp_run,
                                                                 person_id=person_id)
                                       .order_by("kind", "component", "line_key")),
        adjustment_runs=adjustment_runs, prior_adjustments=prior,
        manual_lines=list(ManualLine.objects.filter(
            person_id=person_id, period__start__gte=comp_run.period.start,
            period__start__lt=comp_run.period.end).select_related("period", "entered_by")),
        disputes=list(Dispute.objects.filter(run=comp_run, person_id=person_id)
                      .select_related("line", "raised_by", "decided_by", "adjustment")),
        credits=list(Credit.objects.filter(run=comp_run, person_id=person_id)
                     .order_by("credit_date", "booking_id")),
        ytd=year_to_date(person_id, comp_run.period),
        signoff=StatementSignoff.objects.filter(run=comp_run, person_id=person_id).first(),
        is_closed=period_is_closed(comp_run.period), by_component=by_component)


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
