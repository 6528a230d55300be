"""The compensation app's one door to `attain.engine.compensation`: plan text in and out of the
plan language, the inputs of a run snapshotted to Arrow, the engine's results stored as a run.

What a run of period [start, end) reads (all as the logical tables of
`attain.engine.compensation.schemas`):
- `comp_bookings`: order lines booked before `end` and either booked in the 24 months before
  `start` (plan-year and year-to-date measures, multi-year deals) or invoiced, paid or cancelled
  inside the period (pay timing and clawbacks of older deals); the product family, the
  opportunity's deal type and segment, and whether a partner sold it;
- `comp_splits` of those bookings' opportunities; `comp_assignments` overlapping the lookback
  window, each with the team of the person's reporting line at the later of the period start
  and the assignment start; `comp_manual_lines` of periods starting inside [start, end);
- the shared `exchange_rates` (company currency added at 1), `periods`, `perf_quota_versions`
  and `perf_reporting_lines`.
The plans are the versions the assignments point at, parsed from their stored text.

A run of a closed period stores only the delta against what was paid (the locked run plus the
approved adjustment runs after it), as the engine's `adjustment_lines` computes it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateField,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least
from django.utils import timezone

from attain.compensation.models import (
    CompRun,
    Credit,
    EarningLine,
    ManualLine,
    Payout,
    PayoutBalance,
    PayoutLedgerEntry,
    PayoutLine,
    PlanAssignment,
    PlanVersion,
    PriorAdjustment,
)
from attain.core.bulk_write import refresh_statistics, write_arrow
from attain.core.engine_io import RunClock, as_text, fail_run, finish_run, snapshot
from attain.core.models import CalcRun, Period
from attain.core.money import CENT
from attain.core.periods import add_months
from attain.crm.models import Booking, Opportunity, OpportunitySplit
from attain.engine.backends import connect
from attain.engine.compensation import payout_tables as payout_schemas
from attain.engine.compensation import schemas as comp_schemas
from attain.engine.compensation.problems import PlanDefinitionError, PlanProblem
from attain.engine.errors import EngineError
from attain.engine.run import inputs_hash
from attain.engine.schemas import EXCHANGE_RATES, PERF_QUOTA_VERSIONS, PERF_REPORTING_LINES, PERIODS
from attain.engine.spool import Spool, SpooledRows
from attain.people.visibility import lines_valid_on
from attain.performance.engine_io import (
    snapshot_exchange_rates,
    snapshot_quota_versions,
    snapshot_reporting_lines,
    with_company_currency,
)

COMP_RUN_KIND = "compensation"
LOOKBACK_MONTHS = 24
STORE_BATCH_SIZE = 5_000
Problem = PlanProblem


def problem_dict(problem: PlanProblem) -> dict[str, Any]:
    return {"path": problem.path, "value": problem.value, "reason": problem.reason,
            "line": problem.line}


class RunRefused(Exception):
    """A run that could not be computed for a reason a person can fix."""

    def __init__(self, message: str, *, field: str = "", value: Any = None,
                 problems: Sequence[PlanProblem] = (), run_id: int | None = None) -> None:
        super().__init__(message)
        self.field, self.value, self.problems, self.run_id = field, value, list(problems), run_id


# --- plan text ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedPlan:
    plan: Any | None
    problems: list[PlanProblem]


def check_plan(text: str, source: str = "plan") -> CheckedPlan:
    """The plan text parsed (`plan`) or every problem with it (`problems`, in text order)."""
    from attain.engine.compensation.plans import parse_plan

    try:
        return CheckedPlan(parse_plan(text, source), [])
    except PlanDefinitionError as error:
        return CheckedPlan(None, list(error.problems))


def parse(text: str, source: str = "plan") -> Any:
    """A stored (valid) plan's text as the engine's `Plan`."""
    from attain.engine.compensation.plans import parse_plan

    return parse_plan(text, source)


def plan_changes(old_text: str, new_text: str) -> list[str]:
    """The readable changes from one plan text to another (`commission rate 8% → 9%`)."""
    from attain.engine.compensation.plans import diff_plans

    return [str(change) for change in diff_plans(parse(old_text), parse(new_text))]


def canonical_text(text: str) -> str:
    return str(parse(text).to_text())


# --- snapshots ----------------------------------------------------------------------------------


def lookback_start(period: Period) -> date:
    return add_months(date(period.start.year, period.start.month, 1), -LOOKBACK_MONTHS)


def snapshot_bookings(start: date, end: date, since: date,
                      people: Collection[int] | None = None) -> pa.Table:
    """The order lines a run reads (module docstring); with `people`, only those owned by one
    of them or on an opportunity one of them holds a split of (a what-if estimate)."""
    in_period = (Q(invoiced_on__gte=start, invoiced_on__lt=end)
                 | Q(paid_on__gte=start, paid_on__lt=end)
                 | Q(cancelled_on__gte=start, cancelled_on__lt=end))
    lines = Booking.objects.filter(booked_on__lt=end).filter(Q(booked_on__gte=since) | in_period)
    if people is not None:
        lines = lines.filter(Q(owner_id__in=people) | Q(opportunity_id__in=OpportunitySplit
                                                        .objects.filter(person_id__in=people)
                                                        .values("opportunity_id")))
    rows = (lines.order_by("pk")
            .annotate(
                family=Coalesce("product__family", Value(""), output_field=CharField()),
                kind=Coalesce("opportunity__deal_type", Value(""), output_field=CharField()),
                seg=Coalesce("opportunity__segment", Value(""), output_field=CharField()),
                partner_flag=Case(When(opportunity__partner__gt="", then=Value(True)),
                                  default=Value(False), output_field=BooleanField()),
                net=Value(None, output_field=CharField()),
                years=Value(1, output_field=IntegerField()),
                amount_text=as_text("amount"),
                units=Cast("quantity", IntegerField()))
            .values_list("pk", "opportunity_id", "owner_id", "product_id", "family", "kind", "seg",
                         "partner_flag", "net", "years", "booked_on", "invoiced_on", "paid_on",
                         "cancelled_on", "amount_text", "currency", "units"))
    return snapshot(rows, comp_schemas.COMP_BOOKINGS)


SPLITS_BY_ID_LIMIT = 900  # SQLite allows 32,766 parameters in one statement


def snapshot_splits(bookings: pa.Table) -> pa.Table:
    """The splits of the opportunities of `bookings`: looked up by id for a few (a what-if
    estimate), else every split read at once and kept by Arrow. A whole company's run names
    hundreds of thousands of opportunities, more ids than one SQL statement may take: at
    10,000 reps the run failed on SQLite with "too many SQL variables"."""
    opportunity_ids = pc.unique(bookings.column("opportunity_id").drop_null())
    if not len(opportunity_ids):
        return comp_schemas.COMP_SPLITS.empty()
    splits = OpportunitySplit.objects.all()
    if len(opportunity_ids) <= SPLITS_BY_ID_LIMIT:
        splits = splits.filter(opportunity_id__in=opportunity_ids.to_pylist())
    rows = (splits.order_by("opportunity_id", "person_id", "kind")
            .annotate(percent_text=as_text("percent"))
            .values_list("opportunity_id", "person_id", "percent_text", "kind"))
    table = snapshot(rows, comp_schemas.COMP_SPLITS)
    return table.filter(pc.is_in(table.column("opportunity_id"), value_set=opportunity_ids))


def snapshot_assignments(since: date, end: date, start: date,
                         people: Collection[int] | None = None) -> pa.Table:
    team_on = lines_valid_on(start).filter(person=OuterRef("person_id")).order_by("-valid_from")
    assignments = PlanAssignment.objects.filter(valid_from__lt=end)
    if people is not None:
        assignments = assignments.filter(person_id__in=people)
    rows = (assignments.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=since)).order_by("pk")
            .annotate(target_text=as_text("target_incentive"),
                      team=Subquery(team_on.values("team_id")[:1]))
            .values_list("pk", "person_id", "version_id", "valid_from", "valid_to",
                         "target_text", "currency", "team"))
    return snapshot(rows, comp_schemas.COMP_ASSIGNMENTS)


def snapshot_manual_lines(start: date, end: date,
                          people: Collection[int] | None = None) -> pa.Table:
    entered = ManualLine.objects.filter(period__start__gte=start, period__start__lt=end)
    if people is not None:
        entered = entered.filter(person_id__in=people)
    rows = (entered.order_by("pk")
            .annotate(amount_text=as_text("amount"), earned_on=F("period__start"))
            .values_list("pk", "person_id", "component", "earned_on", "amount_text", "currency",
                         "note", "entered_by_id"))
    return snapshot(rows, comp_schemas.COMP_MANUAL_LINES)


def snapshot_periods(since: date, end: date) -> pa.Table:
    rows = (Period.objects.filter(start__lt=end, end__gt=since).order_by("pk")
            .values_list("pk", "kind", "start", "end"))
    return snapshot(rows, PERIODS)


def snapshot_prior_earnings(period: Period, since: date,
                            people: Collection[int] | None = None) -> pa.Table:
    """What the statement runs of earlier periods (same kind, inside the lookback window)
    earned per person (of `people`, all when None) and component, for plan-year caps."""
    from django.db.models import Sum

    from attain.compensation.queries import statement_run

    run_ids = []
    for earlier in Period.objects.filter(kind=period.kind, start__gte=since,
                                         end__lte=period.start):
        shown = statement_run(earlier)
        if shown is not None:
            run_ids.append(shown.pk)
    if not run_ids:
        return comp_schemas.COMP_PRIOR_EARNINGS.empty()
    lines = EarningLine.objects.filter(run_id__in=run_ids)
    if people is not None:
        lines = lines.filter(person_id__in=people)
    rows = (lines.values("person_id", "component", "period_start", "currency")
            .annotate(total=Sum("amount")).annotate(total_text=as_text("total"))
            .order_by("person_id", "component", "period_start", "currency")
            .values_list("person_id", "component", "period_start", "total_text", "currency"))
    return snapshot(rows, comp_schemas.COMP_PRIOR_EARNINGS)


def snapshot_inputs(period: Period, *, payees: Collection[int] | None = None,
                    credited: Collection[int] | None = None) -> dict[str, pa.Table]:
    """Every input table of a run of `period`, read in one transaction.

    With `payees` (a what-if estimate), only their pay is computed: the assignments, manual
    lines and prior earnings of `payees`, and the order lines, person quotas and reporting
    lines of `credited` (the payees and whoever their credit depends on: team members for a
    team figure, reports for roll-up credit)."""
    currency = str(settings.ATTAIN_COMPANY_CURRENCY)
    since = lookback_start(period)
    people = None if payees is None else sorted({*payees, *(credited or ())})
    with transaction.atomic():
        bookings = snapshot_bookings(period.start, period.end, since, people)
        tables = {
            comp_schemas.COMP_BOOKINGS.name: bookings,
            comp_schemas.COMP_SPLITS.name: snapshot_splits(bookings),
            comp_schemas.COMP_ASSIGNMENTS.name: snapshot_assignments(since, period.end,
                                                                     period.start, payees),
            comp_schemas.COMP_MANUAL_LINES.name: snapshot_manual_lines(period.start, period.end,
                                                                       payees),
            comp_schemas.COMP_PRIOR_EARNINGS.name: snapshot_prior_earnings(period, since,
                                                                           payees),
            "exchange_rates": with_company_currency(snapshot_exchange_rates(), currency, since,
                                                    period.end),
            "periods": snapshot_periods(since, period.end),
            "perf_quota_versions": snapshot_quota_versions(currency),
            "perf_reporting_lines": snapshot_reporting_lines(),
        }
    if people is not None:
        quotas, lines = tables["perf_quota_versions"], tables["perf_reporting_lines"]
        wanted = pa.array(people, pa.int64())
        tables["perf_quota_versions"] = quotas.filter(pc.or_(
            pc.equal(quotas.column("holder"), "team"),
            pc.is_in(quotas.column("holder_id"), value_set=wanted)))
        tables["perf_reporting_lines"] = lines.filter(
            pc.is_in(lines.column("person_id"), value_set=wanted))
    return tables


def plans_of(assignments: pa.Table, ledger: pa.Table | None = None) -> dict[int, Any]:
    """The engine `Plan` of every version the assignments (and the carried ledger) use."""
    ids = set(assignments.column("plan_version_id").to_pylist())
    if ledger is not None:
        ids |= set(ledger.column("plan_version_id").to_pylist())
    plans: dict[int, Any] = {}
    for version in PlanVersion.objects.filter(pk__in=sorted(ids)).select_related("plan"):
        try:
            plans[version.pk] = parse(version.text, f"{version.plan.name} v{version.number}")
        except PlanDefinitionError as error:
            raise RunRefused(f"{version.plan.name} v{version.number} no longer parses: "
                             f"{error.problems[0]}", field="version_id", value=version.pk,
                             problems=error.problems) from error
    return plans


# --- the run ------------------------------------------------------------------------------------


def _calc_version() -> str:
    from attain.engine.compensation import calculation

    return calculation.CALC_VERSION


def compute(backend: str, tables: Mapping[str, pa.Table], plans: Mapping[int, Any],
            period_start: date, period_end: date, as_of: date,
            spool: Spool | None = None) -> RunOutput:
    """The engine's `compute_compensation` on `backend`: one run from credits to payouts, with
    the carried state (balances, ledger, adjustments in `tables`) going in and the payout
    lines, payouts and closing balances and ledger coming out. With a `spool`, the credits,
    earning lines, payout lines and ledger go to its files as the engine reads them and the output
    reads them from there, a batch at a time: a run holds one batch of its lines, not all."""
    from attain.engine.compensation.calculation import compute_compensation

    with connect(backend) as engine:
        result = compute_compensation(engine, tables, plans, period_start, period_end, as_of,
                                      sink=None if spool is None else spool.write)
    if spool is None:
        return RunOutput(credits=result.credits, earning_lines=result.earning_lines,
                         payouts=result.payouts, payout_lines=result.payout_lines,
                         balances=result.balances, ledger=result.ledger)
    spool.close()
    return RunOutput(
        credits=spool.rows("credits", comp_schemas.COMP_CREDITS.schema),
        earning_lines=spool.rows("earning_lines", comp_schemas.COMP_EARNING_LINES.schema),
        payouts=result.payouts,
        payout_lines=spool.rows("payout_lines", payout_schemas.COMP_PAYOUT_LINES.schema),
        balances=result.balances,
        ledger=spool.rows("ledger", payout_schemas.COMP_PAYOUT_LEDGER.schema))


Rows = pa.Table | SpooledRows
"""A table of results, whole or read a batch at a time from the run's spool."""


@dataclass(frozen=True)
class RunOutput:
    """The engine's answer: the Arrow tables of `CompensationResult` that a run stores. The
    three with a row per credit or line may instead be read a batch at a time from the files
    the engine's `sink` wrote them to (`compute` with a spool: a run of millions of lines), and
    so may the closing ledger."""

    credits: Rows
    earning_lines: Rows
    payouts: pa.Table
    payout_lines: Rows
    balances: pa.Table
    ledger: Rows


def previous_state_run(period: Period) -> CompRun | None:
    """The run whose closing payout state opens `period`: the statement run of the period of
    the same kind that ends where `period` starts (closed run, else latest approved, else latest
    succeeded)."""
    from attain.compensation.queries import statement_run

    before = Period.objects.filter(kind=period.kind, end=period.start).first()
    return statement_run(before) if before is not None else None


def snapshot_state(period: Period) -> dict[str, pa.Table]:
    """Opening balances and ledger of `period` (empty when no earlier run exists)."""
    state_run = previous_state_run(period)
    if state_run is None:
        return {"comp_payout_balances": payout_schemas.COMP_PAYOUT_BALANCES.empty(),
                "comp_payout_ledger": payout_schemas.COMP_PAYOUT_LEDGER.empty()}
    balances = PayoutBalance.objects.filter(run=state_run)
    ledger = PayoutLedgerEntry.objects.filter(run=state_run)
    return {
        "comp_payout_balances": snapshot(
            balances.order_by("person_id").annotate(
                draw_text=as_text("draw_balance"), owed_text=as_text("owed_balance"))
            .values_list("person_id", "as_of", "currency", "draw_text", "owed_text"),
            payout_schemas.COMP_PAYOUT_BALANCES),
        "comp_payout_ledger": snapshot(
            ledger.order_by("pk").annotate(amount_text=as_text("amount"))
            .values_list("line_key", "part", "as_of", "person_id", "assignment_id",
                         "plan_version_id", "component", "booking_id", "earned_period_start",
                         "due", "status", "paid_period_start", "amount_text", "currency"),
            payout_schemas.COMP_PAYOUT_LEDGER),
    }


def unpaid_adjustments() -> pa.Table:
    """Prior-period adjustments to pay: those of the latest adjustment run of each closed
    period whose key no closed run has paid yet."""
    from attain.compensation.models import PeriodClose

    closed_runs = PeriodClose.objects.values("run_id")
    paid = PayoutLine.objects.filter(run_id__in=closed_runs, kind="adjustment").values(
        "source_line_key")
    latest: dict[int, int] = {}
    for run_id, period_id in (CompRun.objects.filter(
            adjusts__isnull=False, calc_run__status=CalcRun.Status.SUCCEEDED)
            .order_by("calc_run__created_at", "pk").values_list("pk", "period_id")):
        latest[period_id] = run_id
    if not latest:
        return payout_schemas.COMP_PAYOUT_ADJUSTMENTS.empty()
    rows = (PriorAdjustment.objects.filter(run_id__in=list(latest.values()))
            .exclude(adjustment_key__in=paid).order_by("run_id", "adjustment_key")
            .annotate(before_text=as_text("before_amount"), after_text=as_text("after_amount"),
                      amount_text=as_text("amount"))
            .values_list("adjustment_key", "person_id", "period_start", "component",
                         "booking_id", "kind", "change", "before_text", "after_text",
                         "amount_text", "currency", "reason"))
    return snapshot(rows, payout_schemas.COMP_PAYOUT_ADJUSTMENTS)


def run_lines(run: CompRun, person_ids: set[int] | None = None) -> pa.Table:
    """A stored run's earning lines (of `person_ids`, all when None) as the engine's table."""
    rows = EarningLine.objects.filter(run=run)
    if person_ids is not None:
        if not person_ids:
            return comp_schemas.COMP_EARNING_LINES.empty()
        rows = rows.filter(person_id__in=person_ids)
    stored_as = {"assignment_id": "assignment", "plan_version_id": "version",
                 "credit_kind": "kind_of_credit", "credited_amount": "credited_text",
                 "measure_value": "measure_text", "tier": "tier_number", "rate": "rate_text",
                 "amount": "amount_text", "trace": "trace_text"}
    rows = (rows.order_by("pk")  # type: ignore[assignment]
            .annotate(credited_text=as_text("credited_amount"),
                      measure_text=as_text("measure_value"), rate_text=as_text("rate"),
                      amount_text=as_text("amount"),
                      assignment=Coalesce("assignment_id", Value(0)),
                      version=Coalesce("plan_version_id", Value(0)),
                      kind_of_credit=Case(When(credit_kind="", then=Value(None)),
                                          default=F("credit_kind"), output_field=CharField()),
                      tier_number=Cast(Case(When(tier="", then=Value(None)), default=F("tier"),
                                            output_field=CharField()), IntegerField()),
                      trace_text=Cast("trace", CharField()))
            .values_list(*(stored_as.get(name, name)
                           for name in comp_schemas.COMP_EARNING_LINES.schema.names)))
    return snapshot(rows, comp_schemas.COMP_EARNING_LINES)


def adjustment_baseline(adjusts: CompRun) -> tuple[CompRun, str]:
    """What a re-run of a closed period is compared with, and the revision it gets: the latest
    earlier re-run whose adjustments a closed run has paid, else the locked run; the revision
    is one more than the re-runs so far (adjustment keys stay unique, none is paid twice)."""
    from attain.compensation.models import PeriodClose

    reruns = list(CompRun.objects.filter(adjusts=adjusts, calc_run__status=CalcRun.Status
                                         .SUCCEEDED).order_by("-calc_run__created_at", "-pk"))
    paid_keys = PayoutLine.objects.filter(
        run_id__in=PeriodClose.objects.values("run_id"), kind="adjustment").values(
        "source_line_key")
    baseline = next((r for r in reruns if PriorAdjustment.objects.filter(
        run=r, adjustment_key__in=paid_keys).exists()), adjusts)
    return baseline, str(len(reruns) + 1)


def diff_runs(old: CompRun, new: CompRun, person_ids: set[int] | None = None) -> pa.Table:
    """Every earning line added, removed or changed from `old` to `new` (the engine's
    `diff_lines`: amounts and traces), for `person_ids` (all when None)."""
    from attain.engine.compensation.payouts import diff_lines

    return diff_lines(run_lines(old, person_ids), run_lines(new, person_ids))


def compute_and_store(*, period: Period, as_of: date, backend: str, requested_by: Any,
                      run: CalcRun | None = None, adjusts: CompRun | None = None,
                      progress: Callable[[str], None] | None = None) -> CompRun:
    """Run compensation for `period` and store it as a new `CompRun` (continuing the queued
    `run` when given). Steps are timed into the run's `timings`; the run is saved as running
    first (pages show progress through `params["step"]`), and a refusal is kept as a failed run
    with the error text and no result rows.

    A run of a closed period (`adjusts`: its locked run) stores its lines and the prior-period
    adjustments against the locked run, and no payouts; a run of an open period starts from
    the payout state of the period before and pays the unpaid prior-period adjustments."""
    if run is None:
        run = CalcRun(kind=COMP_RUN_KIND, requested_by=requested_by)
    run.kind = COMP_RUN_KIND
    run.status = CalcRun.Status.RUNNING
    run.started_at = timezone.now()
    run.backend = backend
    run.params = {**(run.params or {}), "period_id": period.pk, "period": period.label,
                  "as_of": as_of.isoformat(), "adjusts": adjusts.pk if adjusts else None,
                  "step": "snapshot"}
    run.save()
    watch = RunClock()

    def step(name: str) -> None:
        run.params = {**run.params, "step": name}
        CalcRun.objects.filter(pk=run.pk).update(params=run.params)
        if progress is not None:
            progress(name)

    try:
        run.calc_version = _calc_version()

        def take_snapshot() -> dict[str, pa.Table]:
            with transaction.atomic():
                tables = snapshot_inputs(period)
                tables.update(snapshot_state(period))
                tables["comp_payout_adjustments"] = (
                    payout_schemas.COMP_PAYOUT_ADJUSTMENTS.empty() if adjusts is not None
                    else unpaid_adjustments())
            return tables

        tables: dict[str, pa.Table] = watch.time("snapshot", take_snapshot)
        plans = watch.time("plans", lambda: plans_of(
            tables[comp_schemas.COMP_ASSIGNMENTS.name], tables["comp_payout_ledger"]))
        if not plans:
            raise RunRefused(f"Nobody is assigned a plan in {period.label}; assign plans "
                             "first.", field="period_id", value=period.pk)
        run.input_rows = sum(table.num_rows for table in tables.values())
        hashed = {k: v for k, v in run.params.items() if k != "step"}
        hashed["plan_texts"] = {str(pk): text for pk, text in PlanVersion.objects.filter(
            pk__in=list(plans)).values_list("pk", "text")}
        run.inputs_hash = watch.time("hash", lambda: inputs_hash(tables, hashed))
        step("compute")
        with tempfile.TemporaryDirectory(prefix="attain-comp-run-") as folder:
            output: RunOutput = watch.time("compute", lambda: compute(
                backend, tables, plans, period.start, period.end, as_of, Spool(Path(folder))))
            adjustments = None
            if adjusts is not None:
                baseline, revision = adjustment_baseline(adjusts)
                run.params = {**run.params, "compared_with": baseline.pk, "revision": revision}
                adjustments = watch.time("adjustments", lambda: _adjustment_lines(
                    run_lines(baseline), _whole(output.earning_lines), revision=revision))
            step("store")
            with transaction.atomic():
                comp_run = CompRun.objects.create(calc_run=run, period=period, as_of=as_of,
                                                  plan_versions=sorted(plans), adjusts=adjusts)
                stored = watch.time("store", lambda: _store(comp_run, output, adjustments))
                refresh_statistics(STORED_RESULTS, vacuum=False)  # PostgreSQL: plan pages
                comp_run.currency_totals = _totals(comp_run)
                comp_run.save(update_fields=["currency_totals"])
                run.output_rows = stored
                run.params = {**run.params, "step": "done"}
                run.timings = watch.timings()
                finish_run(run, CalcRun.Status.SUCCEEDED, ["inputs_hash", "input_rows",
                                                           "output_rows", "timings", "params",
                                                           "calc_version"])
        return comp_run
    except PlanDefinitionError as error:
        _fail(run, watch, str(error))
        raise RunRefused(str(error), field="plan", problems=error.problems,
                         run_id=run.pk) from error
    except RunRefused as error:
        _fail(run, watch, str(error))
        error.run_id = run.pk
        raise
    except (EngineError, ValueError) as error:
        _fail(run, watch, str(error))
        raise RunRefused(str(error), field="inputs", run_id=run.pk) from error
    except Exception as error:
        _fail(run, watch, f"{type(error).__name__}: {error}")
        raise


def _adjustment_lines(paid: pa.Table, new: pa.Table, *, revision: str) -> pa.Table:
    from attain.engine.compensation.payouts import adjustment_lines

    return adjustment_lines(paid, new, reason="re-run of a closed period after it was paid",
                            revision=revision)


def _fail(run: CalcRun, watch: RunClock, message: str) -> None:
    run.params = {**run.params, "step": "failed"}
    fail_run(run, watch, message, ["params", "calc_version"])


def _rows(table: pa.Table | None) -> Iterator[dict[str, Any]]:
    """The rows of `table` as dicts, a batch at a time."""
    if table is None:
        return
    for batch in table.to_batches(max_chunksize=STORE_BATCH_SIZE):
        yield from batch.to_pylist()


def _bulk(model: Any, objects: Iterator[Any]) -> int:
    count = 0
    chunk: list[Any] = []
    for obj in objects:
        chunk.append(obj)
        if len(chunk) >= STORE_BATCH_SIZE:
            model.objects.bulk_create(chunk, batch_size=STORE_BATCH_SIZE)
            count, chunk = count + len(chunk), []
    if chunk:
        model.objects.bulk_create(chunk, batch_size=STORE_BATCH_SIZE)
        count += len(chunk)
    return count


STORED_RESULTS = (Credit, EarningLine, Payout, PayoutLine, PayoutBalance, PayoutLedgerEntry,
                  PriorAdjustment)
PAYOUT_FIELDS = ("earned", "payable_earnings", "deferred", "forfeited", "adjustments",
                 "clawbacks", "owed_recovered", "draw_recovered", "draw_paid", "guarantee_paid",
                 "carried_forward", "payout")


def _store(run: CompRun, output: RunOutput, adjustments: pa.Table | None) -> int:
    """Write the results of `run`; returns how many rows were written. An adjustment run stores
    its credits, lines and prior-period adjustments, not payouts or state.

    The tables with a row per credit or line (credits, earning lines, payout lines, ledger,
    balances) go through the fast write path (`core.bulk_write.write_arrow`: COPY on
    PostgreSQL, one executemany on SQLite), column by column as the ORM would store them (a
    missing text as "", a JSON field as the engine's JSON text). The ORM built a model instance
    per row: a run of 200,000 order lines spent 70 s storing 1.2 million rows, ten times its
    calculation."""
    company = str(settings.ATTAIN_COMPANY_CURRENCY)
    fixed = {"run_id": run.pk}
    stored = sum(write_arrow(Credit, _credit_rows(credits), {**fixed, "currency": company})
                 for credits in _pieces(output.credits))
    stored += sum(write_arrow(EarningLine, _earning_line_rows(lines), fixed)
                  for lines in _pieces(output.earning_lines))
    if adjustments is not None:
        return stored + _bulk(PriorAdjustment, (
            PriorAdjustment(run=run, adjustment_key=r["adjustment_key"],
                            person_id=r["person_id"], period_start=r["period_start"],
                            component=r.get("component") or "", booking_id=r.get("booking_id"),
                            kind=r.get("kind") or "", change=r.get("change") or "",
                            before_amount=r.get("before_amount"),
                            after_amount=r.get("after_amount"), amount=r["amount"],
                            currency=r["currency"], reason=r.get("reason") or "")
            for r in _rows(adjustments)))
    zero = Decimal("0.00")
    stored += _bulk(Payout, (
        Payout(run=run, person_id=r["person_id"], assignment_id=r.get("assignment_id"),
               plan_version_id=r.get("plan_version_id"), period_start=r["period_start"],
               period_end=r["period_end"], currency=r["currency"],
               **{name: r.get(name) if r.get(name) is not None else zero
                  for name in PAYOUT_FIELDS},
               detail={k: _json(v) for k, v in r.items()
                       if k not in PAYOUT_FIELDS and k not in (
                           "person_id", "assignment_id", "plan_version_id", "period_start",
                           "period_end", "currency")})
        for r in _rows(output.payouts)))
    stored += sum(write_arrow(PayoutLine, _payout_line_rows(paid), fixed)
                  for paid in _pieces(output.payout_lines))
    stored += write_arrow(PayoutBalance, output.balances.select(
        ["person_id", "as_of", "currency", "draw_balance", "owed_balance"]), fixed)
    stored += sum(write_arrow(PayoutLedgerEntry, entries.select(
        payout_schemas.COMP_PAYOUT_LEDGER.schema.names), fixed)
        for entries in _pieces(output.ledger))
    return stored


def _whole(rows: Rows) -> pa.Table:
    """`rows` as one table."""
    return rows if isinstance(rows, pa.Table) else rows.table()


def _pieces(rows: Rows) -> Iterator[pa.Table]:
    """`rows` as tables to write: the table itself, or one per batch."""
    if isinstance(rows, pa.Table):
        yield rows
        return
    for batch in rows:
        yield pa.Table.from_batches([batch])


def _credit_rows(credits: pa.Table) -> pa.Table:
    """Credits (COMP_CREDITS) as `Credit` columns."""
    return pa.table({
        "person_id": credits["person_id"], "booking_id": credits["booking_id"],
        "credit_date": credits["booked_on"], "rule": _text_or_blank(credits["credit_kind"]),
        "percent": credits["percent"], "amount": credits["credited_amount"],
        "detail": _json_objects("rule", _text_or_blank(credits["rule"]))})


def _earning_line_rows(lines: pa.Table) -> pa.Table:
    """Earning lines (COMP_EARNING_LINES) as `EarningLine` columns."""
    return pa.table({
        "line_key": lines["line_key"], "person_id": lines["person_id"],
        "assignment_id": _id_or_null(lines["assignment_id"]),
        "plan_version_id": _id_or_null(lines["plan_version_id"]),
        "period_start": lines["period_start"], "period_end": lines["period_end"],
        "component": _text_or_blank(lines["component"]), "line_kind": lines["line_kind"],
        "booking_id": lines["booking_id"], "credit_kind": _text_or_blank(lines["credit_kind"]),
        "credited_amount": lines["credited_amount"], "measure_value": lines["measure_value"],
        "tier": _text_or_blank(pc.cast(lines["tier"], pa.string())), "rate": lines["rate"],
        "amount": lines["amount"], "currency": lines["currency"],
        "trace": pc.fill_null(lines["trace"], "[]")})


def _payout_line_rows(paid: pa.Table) -> pa.Table:
    """Payout lines (COMP_PAYOUT_LINES) as `PayoutLine` columns."""
    zero = pa.scalar(Decimal("0.00"), paid["basis_amount"].type)
    return pa.table({
        "line_key": paid["line_key"], "person_id": paid["person_id"],
        "assignment_id": paid["assignment_id"], "plan_version_id": paid["plan_version_id"],
        "period_start": paid["period_start"], "period_end": paid["period_end"],
        "kind": paid["kind"], "component": _text_or_blank(paid["component"]),
        "booking_id": paid["booking_id"],
        "source_line_key": _text_or_blank(paid["source_line_key"]),
        "part": _text_or_blank(paid["part"]),
        "earned_period_start": paid["earned_period_start"],
        "basis_amount": pc.fill_null(paid["basis_amount"], zero),
        "amount": paid["amount"], "currency": paid["currency"],
        "trace": pc.fill_null(paid["trace"], "[]")})


def _text_or_blank(texts: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(texts, "")


def _id_or_null(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """An id column with 0 stored as null (no assignment or plan version has id 0)."""
    return pc.if_else(pc.equal(ids, 0), pa.scalar(None, ids.type), ids)


def _json_objects(key: str, texts: pa.ChunkedArray) -> pa.ChunkedArray:
    """`{"key": text}` per row as JSON text, as `json.dumps` would escape it (quotes and
    backslashes; a text with another control character is dumped by `json.dumps` itself)."""
    if pc.any(pc.match_substring_regex(texts, r"[\x00-\x1f]")).as_py():
        return pa.chunked_array([pa.array([json.dumps({key: text}) for text in
                                           texts.to_pylist()], pa.string())])
    escaped = pc.replace_substring(pc.replace_substring(texts, "\\", "\\\\"), '"', '\\"')
    return pc.binary_join_element_wise(f'{{{json.dumps(key)}: "', escaped, '"}', "")


def _json(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value)
    return value


def _trace(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        parsed = json.loads(value)
        return parsed if isinstance(parsed, list) else [parsed]
    return list(value)


def _totals(run: CompRun) -> dict[str, str]:
    from django.db.models import Sum

    if run.adjusts_id is not None:
        rows = PriorAdjustment.objects.filter(run=run)
        field_name = "amount"
    else:
        rows = Payout.objects.filter(run=run)
        field_name = "payout"
    return {currency: str(Decimal(total).quantize(CENT)) for currency, total in
            rows.values_list("currency").annotate(t=Sum(field_name)).order_by("currency")
            .values_list("currency", "t")}


# --- payroll --------------------------------------------------------------------------------


PAYROLL_HEADER = ("employee_id", "name", "period", "currency", "amount", "earned",
                  "payable_earnings", "deferred", "adjustments", "clawbacks", "owed_recovered",
                  "draw_recovered", "draw_paid", "guarantee_paid", "carried_forward",
                  "period_start", "period_end")


def payroll_rows(run: CompRun) -> list[tuple[Any, ...]]:
    """One row per person of a run: `PAYROLL_HEADER`, amounts exact; `amount` is the payout and
    the columns after it are its components."""
    return [
        (p.person.external_id, p.person.name, run.period.label, p.currency, p.payout,
         p.earned, p.payable_earnings, p.deferred, p.adjustments, p.clawbacks,
         p.owed_recovered, p.draw_recovered, p.draw_paid, p.guarantee_paid, p.carried_forward,
         p.period_start, p.period_end)
        for p in Payout.objects.filter(run=run).select_related("person")
        .order_by("person__external_id", "currency")]


# --- the plan document and its worked example ----------------------------------------------------

EXAMPLE_DEALS = (Decimal("40000.00"), Decimal("50000.00"), Decimal("30000.00"))
EXAMPLE_QUOTA = Decimal("100000.00")
EXAMPLE_TARGET_INCENTIVE = Decimal("40000.00")
EXAMPLE_PERIOD_START = {"month": date(2026, 1, 1), "quarter": date(2026, 1, 1),
                        "year": date(2026, 1, 1)}
EXAMPLE_PERIOD_END = {"month": date(2026, 2, 1), "quarter": date(2026, 4, 1),
                      "year": date(2027, 1, 1)}


def plan_document(plan: Any) -> list[dict[str, Any]]:
    from attain.compensation.plan_document import plan_document as document

    return document(plan)


def _example_tables(plan: Any) -> tuple[dict[str, pa.Table], date, date]:
    """One rep on `plan`: quota 100,000 for the first period of 2026, target incentive 40,000 a
    year, three new deals of 40,000 + 50,000 + 30,000 = 120,000 (120 % of quota) booked and paid
    inside the period, everything in the plan's currency."""
    start, end = EXAMPLE_PERIOD_START[plan.period], EXAMPLE_PERIOD_END[plan.period]
    currency = plan.currency
    family = ""
    for component in plan.components:
        families = getattr(getattr(component, "where", None), "product_families", ())
        if families:
            family = families[0]
            break
    days = [start + (end - start) * i // 4 for i in (1, 2, 3)]
    n = len(EXAMPLE_DEALS)
    tables = {
        comp_schemas.COMP_BOOKINGS.name: pa.table({
            "booking_id": list(range(1, n + 1)), "opportunity_id": list(range(1, n + 1)),
            "owner_id": [1] * n, "product_id": [None] * n, "product_family": [family] * n,
            "deal_type": ["new"] * n, "segment": [""] * n, "is_partner": [False] * n,
            "net_amount": [None] * n, "contract_years": [1] * n, "booked_on": days,
            "invoiced_on": days, "paid_on": days, "cancelled_on": [None] * n,
            "amount": list(EXAMPLE_DEALS), "currency": [currency] * n, "quantity": [1] * n,
        }, schema=comp_schemas.COMP_BOOKINGS.schema),
        comp_schemas.COMP_SPLITS.name: comp_schemas.COMP_SPLITS.empty(),
        comp_schemas.COMP_ASSIGNMENTS.name: pa.table({
            "assignment_id": [1], "person_id": [1], "plan_version_id": [1],
            "valid_from": [start], "valid_to": [None],
            "target_incentive": [EXAMPLE_TARGET_INCENTIVE], "currency": [currency],
            "team_id": [1]}, schema=comp_schemas.COMP_ASSIGNMENTS.schema),
        comp_schemas.COMP_MANUAL_LINES.name: comp_schemas.COMP_MANUAL_LINES.empty(),
        "exchange_rates": pa.table({
            "currency": [currency] * 12,
            "month_start": [add_months(start, i) for i in range(12)],
            "rate": [Decimal(1)] * 12}, schema=EXCHANGE_RATES.schema),
        "periods": pa.table({"period_id": [1], "kind": [plan.period], "start": [start],
                             "end": [end]}, schema=PERIODS.schema),
        "perf_quota_versions": pa.table({
            "version_id": [1, 2], "holder": ["person", "team"], "holder_id": [1, 1],
            "period_id": [1, 1], "valid_from": [date(2000, 1, 1)] * 2,
            "amount": [EXAMPLE_QUOTA] * 2}, schema=PERF_QUOTA_VERSIONS.schema),
        "perf_reporting_lines": pa.table({
            "person_id": [1], "manager_id": [None], "team_id": [1], "valid_from": [start],
            "valid_to": [None]}, schema=PERF_REPORTING_LINES.schema),
    }
    return tables, start, end


def worked_example(plan: Any) -> dict[str, Any] | None:
    """The plan applied by the engine to an example period (see `_example_tables`): the lines
    with their traces and the payout, JSON-ready (amounts as text). None when the engine cannot
    compute yet; an `error` key when the engine refused the example. Takes as long as a run
    (seconds), so pages show a stored example (`PlanVersion.example`) or compute one only when
    asked."""
    try:
        from attain.engine.compensation.calculation import compute_compensation  # noqa: F401
    except ImportError:
        return None
    tables, start, end = _example_tables(plan)
    deals = " + ".join(f"{d:,.0f}" for d in EXAMPLE_DEALS)
    setting = (f"A rep with a target incentive of {EXAMPLE_TARGET_INCENTIVE:,.0f} {plan.currency}"
               f" a year and a quota of {EXAMPLE_QUOTA:,.0f} for the {plan.period} starting "
               f"{start} books three new deals, {deals} = {sum(EXAMPLE_DEALS):,.0f} "
               f"{plan.currency} ({sum(EXAMPLE_DEALS) / EXAMPLE_QUOTA:.0%} of quota), all paid "
               "by the customer in the period. The team is the rep alone.")
    try:
        result = compute(str(settings.ATTAIN_ENGINE_BACKEND), tables, {1: plan}, start, end,
                         end - (end - start) // max((end - start).days, 1))
    except (EngineError, ValueError, KeyError) as error:
        return {"setting": setting, "error": str(error), "lines": [], "paid": [],
                "total": "0.00", "currency": plan.currency}
    lines = [{"component": row["component"], "line_kind": row["line_kind"],
              "amount": str(row["amount"]), "booking_id": row["booking_id"],
              "trace": _trace_words(row["trace"])}
             for row in result.earning_lines.to_pylist()]
    paid = [{"kind": row["kind"], "component": row["component"], "amount": str(row["amount"]),
             "trace": _trace_words(row["trace"])}
            for row in result.payout_lines.to_pylist()]
    total = sum((p["payout"] for p in result.payouts.to_pylist()), Decimal("0.00"))
    return {"setting": setting, "lines": lines, "paid": paid, "total": str(total),
            "currency": plan.currency}


def _trace_words(value: Any) -> list[str]:
    steps = []
    for step in _trace(value):
        if isinstance(step, dict):
            text = step.get("text") or step.get("explanation") or ", ".join(
                f"{k}: {v}" for k, v in step.items())
            steps.append(str(text))
        else:
            steps.append(str(step))
    return steps



# --- what-if estimates ---------------------------------------------------------------------------


ESTIMATE_CACHE_SECONDS = 600


def estimate_people(person_id: int, period: Period, plans: Mapping[int, Any]) -> set[int]:
    """Whose credit an estimate for `person_id` reads: the person; the members of their teams
    (reporting lines inside the lookback window) when a plan pays on a team figure (a team
    component or a team bonus); the people reporting to them when a plan rolls credit up."""
    from attain.engine.compensation.plans import Bonus, TeamComponent
    from attain.people.models import ReportingLine
    from attain.people.visibility import subtree_ids

    people = {person_id}
    components = [c for plan in plans.values() for c in plan.components]
    if any(isinstance(c, TeamComponent) or (isinstance(c, Bonus) and c.on == "team")
           for c in components):
        window = ReportingLine.objects.filter(valid_from__lt=period.end).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=lookback_start(period)))
        teams = window.filter(person_id=person_id, team_id__isnull=False).values("team_id")
        people |= set(window.filter(team_id__in=teams).values_list("person_id", flat=True))
    if any(plan.crediting.roll_up_levels for plan in plans.values()):
        people |= subtree_ids(person_id, period.start)
        people |= subtree_ids(person_id, period.end - timedelta(days=1))
    return people


def snapshot_deals(opportunity_ids: Collection[int], period: Period) -> pa.Table:
    """Open opportunities as the order lines they would book, for a what-if estimate: one line
    per deal, booking id minus the opportunity id (never a stored order line's), booked on the
    close date clamped into [period start, period end), at the opportunity's amount and
    currency, with its main product, deal type, segment and partner; not invoiced or paid."""
    if not opportunity_ids:
        return comp_schemas.COMP_BOOKINGS.empty()
    first, last = period.start, period.end - timedelta(days=1)
    rows = (Opportunity.objects.filter(pk__in=opportunity_ids).order_by("pk")
            .annotate(
                booking_id=-F("pk"), opp_id=F("pk"),
                family=Coalesce("product__family", Value(""), output_field=CharField()),
                partner_flag=Case(When(partner__gt="", then=Value(True)),
                                  default=Value(False), output_field=BooleanField()),
                net=Value(None, output_field=CharField()),
                years=Value(1, output_field=IntegerField()),
                booked=Least(Greatest(F("close_date"), Value(first, output_field=DateField())),
                             Value(last, output_field=DateField()), output_field=DateField()),
                no_day=Value(None, output_field=DateField()),
                amount_text=as_text("amount"), units=Value(1, output_field=IntegerField()))
            .values_list("booking_id", "opp_id", "owner_id", "product_id", "family",
                         "deal_type", "segment", "partner_flag", "net", "years", "booked",
                         "no_day", "no_day", "no_day", "amount_text", "currency", "units"))
    return snapshot(rows, comp_schemas.COMP_BOOKINGS)


@dataclass(frozen=True)
class Estimate:
    """Two runs of the engine for one person and period, without and with the deals: each
    side's `*_lines` (COMP_EARNING_LINES) and `*_measures` (COMP_MEASURES) of that person; the
    line-by-line difference (`changes`, the engine's `diff_lines`: added and changed amounts),
    the plans used (by version id), and `seconds` per step."""

    before_lines: pa.Table
    after_lines: pa.Table
    before_measures: pa.Table
    after_measures: pa.Table
    changes: pa.Table
    plans: Mapping[int, Any]
    seconds: Mapping[str, float]


def estimate(person_id: int, period: Period, opportunity_ids: Collection[int], *, as_of: date,
             backend: str | None = None) -> Estimate:
    """What `person_id` earns in `period` now and if the opportunities closed: the same engine
    and plan versions as a run (`compute_compensation` without the payout step), on inputs
    restricted to the person (`snapshot_inputs(payees=...)`), the deals added as order lines
    (`snapshot_deals`). Writes nothing. Raises `RunRefused` when the person has no plan in the
    period or the engine refuses the inputs."""
    from attain.engine.compensation.calculation import compute_compensation
    from attain.engine.compensation.payouts import diff_lines

    backend = backend or str(settings.ATTAIN_ENGINE_BACKEND)
    watch = RunClock()
    since = lookback_start(period)
    plans = watch.time("plans", lambda: plans_of(snapshot_assignments(
        since, period.end, period.start, [person_id])))
    if not plans:
        raise RunRefused(f"No plan is assigned to this person in {period.label}.",
                         field="person_id", value=person_id)

    def take_snapshot() -> dict[str, pa.Table]:
        with transaction.atomic():
            tables = snapshot_inputs(period, payees=[person_id],
                                     credited=estimate_people(person_id, period, plans))
            deals = snapshot_deals(opportunity_ids, period)
            with_deals = pa.concat_tables([tables[comp_schemas.COMP_BOOKINGS.name], deals])
            return {"before": tables, "after": {
                **tables, comp_schemas.COMP_BOOKINGS.name: with_deals,
                comp_schemas.COMP_SPLITS.name: snapshot_splits(with_deals)}}

    inputs = watch.time("snapshot", take_snapshot)

    params = {"period": f"{period.start}/{period.end}", "as_of": as_of.isoformat(),
              "backend": backend, "calc": _calc_version(),
              "plans": [(pk, str(plans[pk].to_text())) for pk in sorted(plans)],
              "person_id": person_id}

    def run(side: str) -> tuple[pa.Table, pa.Table]:
        """(earning lines, measures) of the person; the same inputs (by their hash) within
        `ESTIMATE_CACHE_SECONDS` are answered from the cache (re-ticking a deal is instant)."""
        key = f"attain:comp-estimate:{inputs_hash(inputs[side], params)}"
        cached = cache.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        with connect(backend) as engine:
            result = compute_compensation(engine, inputs[side], plans, period.start,
                                          period.end, as_of, with_payouts=False)
        own = (result.earning_lines.filter(pc.equal(result.earning_lines.column("person_id"),
                                                    person_id)),
               result.measures.filter(pc.equal(result.measures.column("person_id"),
                                               person_id)))
        cache.set(key, own, ESTIMATE_CACHE_SECONDS)
        return own

    try:
        before_lines, before_measures = watch.time("before", lambda: run("before"))
        after_lines, after_measures = watch.time("after", lambda: run("after"))
    except (EngineError, ValueError) as error:
        raise RunRefused(str(error), field="inputs") from error
    changes = diff_lines(before_lines, after_lines, include_trace_changes=False)
    return Estimate(before_lines=before_lines, after_lines=after_lines,
                    before_measures=before_measures, after_measures=after_measures,
                    changes=changes, plans=plans, seconds=dict(watch.seconds))


# --- plan modelling -----------------------------------------------------------------------------

MODEL_RUN_KIND = "comp_model"
PERSON_KEYED_INPUTS = (comp_schemas.COMP_ASSIGNMENTS.name, comp_schemas.COMP_MANUAL_LINES.name,
                       comp_schemas.COMP_PRIOR_EARNINGS.name, "comp_payout_balances",
                       "comp_payout_ledger")


def people_on_plan(assignments: pa.Table, version_ids: set[int], period: Period) -> list[int]:
    """Who has an assignment to one of `version_ids` overlapping [period.start, period.end)."""
    if not version_ids:
        return []
    on_plan = assignments.filter(pc.and_(
        pc.and_(pc.is_in(assignments.column("plan_version_id"),
                         value_set=pa.array(sorted(version_ids), pa.int64())),
                pc.less(assignments.column("valid_from"), pa.scalar(period.end, pa.date32()))),
        pc.fill_null(pc.greater(assignments.column("valid_to"),
                                pa.scalar(period.start, pa.date32())), True)))
    return sorted(pc.unique(on_plan.column("person_id")).to_pylist())


def _only_people(tables: dict[str, pa.Table], people: list[int]) -> dict[str, pa.Table]:
    """`tables` with the person-keyed inputs cut to `people` (credits, quotas, teams and
    reporting lines stay whole: team and roll-up figures need everyone's bookings)."""
    wanted = pa.array(people, pa.int64())
    return {name: (table.filter(pc.is_in(table.column("person_id"), value_set=wanted))
                   if name in PERSON_KEYED_INPUTS else table)
            for name, table in tables.items()}


def _model_inputs(period: Period) -> dict[str, pa.Table]:
    return {**snapshot_inputs(period), **snapshot_state(period)}


def model_plan(model_run: Any, draft_plan: Any, *, backend: str,
               progress: Callable[[str], None] | None = None) -> int:
    """Compute the modelling run `model_run` (a `PlanModelRun`, its `calc_run` running): for
    each of its periods, the inputs of a real run of that period (bookings, splits, quotas,
    manual lines, the opening payout state; prior-period corrections left out, as they do not
    depend on the plan) cut to the people assigned to the draft's plan in the period, run twice
    by the engine — once with the plans in force, once with `draft_plan` in place of every
    version of that plan — and compared person by person and line by line
    (`engine.compensation.modelling`). Stores the `PlanModelRow`s, `PlanModelLine`s and the
    summary on `model_run`; returns how many rows were written. Nothing else is written."""
    from attain.compensation.models import PlanModelLine, PlanModelRow
    from attain.engine.compensation.modelling import compare_lines, compare_pay, model_summary

    run: CalcRun = model_run.calc_run
    version = model_run.version
    plan_version_ids = set(PlanVersion.objects.filter(plan_id=version.plan_id)
                           .exclude(pk=version.pk).values_list("pk", flat=True))
    periods = list(model_run.periods.order_by("start", "kind"))
    watch = RunClock()

    def step(name: str) -> None:
        run.params = {**run.params, "step": name}
        CalcRun.objects.filter(pk=run.pk).update(params=run.params)
        if progress is not None:
            progress(name)

    pays: list[pa.Table] = []
    lines: list[pa.Table] = []
    hashes: dict[str, str] = {}
    by_start: dict[date, Period] = {}
    input_rows = 0
    for number, period in enumerate(periods, start=1):
        where = f"{period.label} ({number} of {len(periods)})"
        step(f"{where}: reading the inputs")
        tables: dict[str, pa.Table] = watch.time(f"{period.label} snapshot",
                                                 partial(_model_inputs, period))
        people = people_on_plan(tables[comp_schemas.COMP_ASSIGNMENTS.name], plan_version_ids,
                                period)
        if not people:
            continue
        tables = _only_people(tables, people)
        tables["comp_payout_adjustments"] = payout_schemas.COMP_PAYOUT_ADJUSTMENTS.empty()
        plans = plans_of(tables[comp_schemas.COMP_ASSIGNMENTS.name], tables["comp_payout_ledger"])
        drafted = {pk: draft_plan if pk in plan_version_ids else plan
                   for pk, plan in plans.items()}
        input_rows += sum(table.num_rows for table in tables.values())
        hashes[period.label] = inputs_hash(tables, {"period_id": period.pk})
        as_of = min(period.end - timedelta(days=1), timezone.localdate())
        step(f"{where}: pay under the plan in force")
        in_force: RunOutput = watch.time(f"{period.label} in force", partial(
            compute, backend, tables, plans, period.start, period.end, as_of))
        step(f"{where}: pay under the draft")
        draft: RunOutput = watch.time(f"{period.label} draft", partial(
            compute, backend, tables, drafted, period.start, period.end, as_of))
        pays.append(compare_pay(in_force.payouts, draft.payouts, people))
        lines.append(compare_lines(in_force.earning_lines, draft.earning_lines, people))
        by_start[period.start] = period
    step("storing the comparison")
    run.input_rows = input_rows
    run.inputs_hash = inputs_hash({}, {"periods": hashes, "draft_text": model_run.draft_text,
                                       "in_force": sorted(plan_version_ids)})
    pay = pa.concat_tables(pays) if pays else None
    hundred = Decimal(100)
    with transaction.atomic():
        stored = _bulk(PlanModelRow, (
            PlanModelRow(model_run=model_run, person_id=r["person_id"],
                         period=by_start[r["period_start"]], currency=r["currency"],
                         in_force_earned=r["in_force_earned"], draft_earned=r["draft_earned"],
                         change=r["change"],
                         change_pct=(r["change"] * hundred / r["in_force_earned"]).quantize(CENT)
                         if r["in_force_earned"] else None,
                         in_force_payout=r["in_force_payout"], draft_payout=r["draft_payout"])
            for r in _rows(pay)))
        for table in lines:
            stored += _bulk(PlanModelLine, (
                PlanModelLine(model_run=model_run, person_id=r["person_id"],
                              period=by_start[r["period_start"]], line_key=r["line_key"],
                              component=r["component"] or "", line_kind=r["line_kind"] or "",
                              booking_id=r["booking_id"], currency=r["currency"],
                              in_force_amount=r["in_force_amount"],
                              draft_amount=r["draft_amount"], change=r["change"],
                              in_force_trace=_trace(r["in_force_trace"]),
                              draft_trace=_trace(r["draft_trace"]))
                for r in _rows(table)))
        model_run.summary = {"totals": model_summary(pay) if pay is not None else [],
                             "periods": {p.start.isoformat(): p.label for p in periods},
                             "modelled": sorted(p.label for p in by_start.values())}
        model_run.save(update_fields=["summary"])
        run.output_rows = stored
        run.timings = watch.seconds
    return stored
