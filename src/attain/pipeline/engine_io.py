"""The pipeline app's one door to `attain.engine`: snapshot opportunities, stage history, leads,
stages and the hierarchy to Arrow, run the pipeline analytics calculation, store its results
under a `CalcRun` of kind "pipeline_analytics".

Snapshots stream through a chunked cursor in batches (as the performance app's do) and read
decimals as text, so amounts never pass through a float. Instants become business dates in the
company's time zone (`business_day`: converted by Arrow as the snapshot reads them).

Scopes are decided here, as of the run's day (`as_of`, today by default): every person is a
scope of their own; a team holds the people whose reporting line on `as_of` names it; a manager
holds their reporting subtree on `as_of` (themselves included) — the same subtree the visibility
rules give them on that day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import models, transaction
from django.db.models import CharField, Max, Min, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from attain.core.actions import ensure_periods
from attain.core.bulk_write import refresh_statistics, write_arrow
from attain.core.engine_io import (
    RunClock,
    as_text,
    business_day,
    fail_run,
    finish_run,
    snapshot,
    start_run,
)
from attain.core.models import CalcRun, Period
from attain.core.periods import PeriodKind, add_months
from attain.crm.models import Booking, ExchangeRate, Lead, Opportunity, Stage, StageChange
from attain.engine.backends import BACKENDS, connect
from attain.engine.calculations.pipeline import PipelineResults, compute_pipeline_analytics
from attain.engine.errors import EngineError
from attain.engine.run import CALC_VERSIONS, PIPELINE_ANALYTICS, inputs_hash
from attain.engine.schemas import (
    EXCHANGE_RATES,
    PERIODS,
    PIPELINE_LEADS,
    PIPELINE_OPPORTUNITIES,
    PIPELINE_SCOPES,
    PIPELINE_STAGE_CHANGES,
    PIPELINE_STAGES,
)
from attain.people.models import Person, Role
from attain.people.visibility import lines_valid_on
from attain.pipeline.models import (
    PipelineBottleneck,
    PipelineBreakdown,
    PipelineFacts,
    PipelineFlow,
    PipelineStageFacts,
)

ENGINE_BACKENDS = BACKENDS
RUN_KIND = PIPELINE_ANALYTICS
SNAPSHOT_BATCH_SIZE = 50_000
RESULT_PERIOD_KINDS: tuple[PeriodKind, ...] = (PeriodKind.MONTH, PeriodKind.QUARTER,
                                               PeriodKind.YEAR)


class RunError(Exception):
    """A run refused for a reason found outside the engine."""


# --- snapshots ----------------------------------------------------------------------------------


_text = as_text


_day = business_day




def deal_product() -> Coalesce:
    """The expression of an opportunity's product name as pipeline analytics counts it (see
    `snapshot_opportunities`); the opportunities list filters on the same expression, so a
    "by product" figure drills down to exactly the deals behind it."""
    main_line = (Booking.objects.filter(opportunity=OuterRef("pk"), product__isnull=False)
                 .order_by("-amount", "pk").values("product__name")[:1])
    return Coalesce("product__name", Subquery(main_line), Value(""), output_field=CharField())


def snapshot_opportunities(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every opportunity; `product` is the name of the deal's own product
    (`Opportunity.product`, what the CRM or the import names as the deal's main product), else
    the product of its largest order line (older imports name products only on order lines),
    else "" (counted as "(none)"). A lost or open deal has no order lines, so only the deal's
    own product gives it a product: win rates by product need it."""
    rows = (Opportunity.objects.order_by("pk")
            .annotate(created_on=_day("created_at"), amount_text=_text("amount"),
                      product_name=deal_product())
            .values_list("pk", "owner_id", "created_on", "close_date", "is_closed", "is_won",
                         "amount_text", "currency", "stage_id", "segment", "source",
                         "deal_type", "loss_reason", "product_name"))
    return snapshot(rows, PIPELINE_OPPORTUNITIES, batch_size)


def snapshot_stages() -> pa.Table:
    rows = Stage.objects.order_by("pk").values_list("pk", "pipeline", "order", "is_won",
                                                    "is_lost")
    return snapshot(rows, PIPELINE_STAGES)


def snapshot_stage_changes(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Every stage change; `changed_seq` is its place in the history ordered by instant, so
    changes on one day keep their order."""
    rows = (StageChange.objects.order_by("changed_at", "pk")
            .annotate(changed_on=_day("changed_at"), seq=Value(0))
            .values_list("pk", "opportunity_id", "from_stage_id", "to_stage_id", "changed_on",
                         "seq", "close_date"))
    table = snapshot(rows, PIPELINE_STAGE_CHANGES, batch_size)
    position = table.schema.get_field_index("changed_seq")
    return table.set_column(position, PIPELINE_STAGE_CHANGES.schema.field("changed_seq"),
                            pa.array(range(table.num_rows), type=pa.int64()))


def snapshot_leads(batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    rows = (Lead.objects.order_by("pk")
            .annotate(created_on=_day("created_at"), qualified_on=_day("qualified_at"),
                      converted_on=_day("converted_at"))
            .values_list("pk", "owner_id", "source", "created_on", "qualified_on",
                         "converted_on", "converted_opportunity_id"))
    return snapshot(rows, PIPELINE_LEADS, batch_size)


def scope_members(as_of: date) -> list[tuple[str, int, int]]:
    """(scope_kind, scope_id, person_id) of every person, team and manager scope on `as_of`."""
    members: list[tuple[str, int, int]] = [
        ("person", pk, pk) for pk in Person.objects.order_by("pk").values_list("pk", flat=True)]
    reports: dict[int, list[int]] = defaultdict(list)
    for person_id, manager_id, team_id in lines_valid_on(as_of).order_by(
            "person_id", "valid_from").values_list("person_id", "manager_id", "team_id"):
        if team_id is not None:
            members.append(("team", team_id, person_id))
        if manager_id is not None:
            reports[manager_id].append(person_id)
    managers = Person.objects.filter(role=Role.MANAGER).values_list("pk", flat=True)
    for manager_id in sorted(set(managers) | set(reports)):
        seen, frontier = {manager_id}, [manager_id]
        while frontier:
            frontier = [p for m in frontier for p in reports.get(m, ()) if p not in seen]
            seen.update(frontier)
        members.extend(("manager", manager_id, p) for p in sorted(seen))
    return sorted(set(members))


def snapshot_scopes(as_of: date) -> pa.Table:
    rows = scope_members(as_of)
    return pa.table({"scope_kind": [r[0] for r in rows], "scope_id": [r[1] for r in rows],
                     "person_id": [r[2] for r in rows]}, schema=PIPELINE_SCOPES.schema)


def snapshot_periods(start: date, end: date,
                     kinds: Iterable[PeriodKind] = RESULT_PERIOD_KINDS) -> pa.Table:
    rows = (Period.objects.filter(kind__in=[k.value for k in kinds], end__gt=start,
                                  start__lt=end)
            .order_by("pk").values_list("pk", "kind", "start", "end"))
    return snapshot(rows, PERIODS)


def snapshot_rates(currency: str, start: date, end: date) -> pa.Table:
    """Every stored rate, plus rate 1 for the company currency in each month of [start, end)
    without one; a stored company-currency rate other than 1 is refused."""
    rows = (ExchangeRate.objects.order_by("currency", "month_start")
            .annotate(rate_text=_text("rate")).values_list("currency", "month_start",
                                                           "rate_text"))
    rates = snapshot(rows, EXCHANGE_RATES)
    own = rates.filter(pc.equal(rates.column("currency"), currency))
    for row in own.to_pylist():
        if row["rate"] != Decimal(1):
            raise RunError(f"The exchange rate of {currency}, the company currency, in "
                           f"{row['month_start']:%Y-%m} is {row['rate']}; it must be 1.")
    have = set(own.column("month_start").to_pylist())
    months, month = [], date(start.year, start.month, 1)
    while month < end:
        if month not in have:
            months.append(month)
        month = add_months(month, 1)
    identity = pa.table({"currency": [currency] * len(months), "month_start": months,
                         "rate": [Decimal(1)] * len(months)}, schema=EXCHANGE_RATES.schema)
    return pa.concat_tables([rates, identity])


def data_range(as_of: date) -> tuple[date, date] | None:
    """[first month with an opportunity or lead, the month after `as_of` or after the latest
    close date of a closed deal, whichever is later) or None without data."""
    firsts = [Opportunity.objects.aggregate(day=Min("created_at"))["day"],
              Lead.objects.aggregate(day=Min("created_at"))["day"]]
    days = [timezone.localtime(d).date() for d in firsts if d is not None]
    if not days:
        return None
    last_close = Opportunity.objects.filter(is_closed=True).aggregate(
        day=Max("close_date"))["day"]
    end_day = max(as_of, last_close) if last_close is not None else as_of
    first = min(days)
    return date(first.year, first.month, 1), add_months(date(end_day.year, end_day.month, 1), 1)


# --- storing results -----------------------------------------------------------------------------


def _store(model: type[models.Model], run: CalcRun, table: pa.Table,
           extra: dict[str, Any] | None = None) -> int:
    """Write one result table of `run` through the fast write path (`write_arrow`: COPY on
    PostgreSQL, one executemany on SQLite); period_id 0 is stored as no period."""
    period_ids = table.column("period_id")
    table = table.set_column(table.column_names.index("period_id"), "period_id", pc.if_else(
        pc.equal(period_ids, 0), pa.scalar(None, period_ids.type), period_ids))
    return write_arrow(model, table, {"run_id": run.pk, **(extra or {})})


PIPELINE_RESULTS = (PipelineFacts, PipelineStageFacts, PipelineFlow, PipelineBreakdown,
                    PipelineBottleneck)


def store_results(run: CalcRun, results: PipelineResults, currency: str) -> int:
    money = {"currency": currency}
    return (_store(PipelineFacts, run, results.facts, money)
            + _store(PipelineStageFacts, run, results.stage_facts)
            + _store(PipelineFlow, run, results.flows)
            + _store(PipelineBreakdown, run, results.breakdown, money)
            + _store(PipelineBottleneck, run, results.bottlenecks))


# --- the run --------------------------------------------------------------------------------------


def run_pipeline_analytics(requested_by: Any = None, backend: str | None = None, *,
                           run: CalcRun | None = None, as_of: date | None = None) -> CalcRun:
    """Compute every pipeline figure on `backend` and store it as a new run (or as `run`, a
    queued one). `as_of` (default today) is the end of the data and the day whose hierarchy
    decides team and manager scopes.

    Steps, timed into `run.timings`: `periods` (month, quarter and year rows for the data's
    range), `snapshot`, `hash`, `compute`, `store` (results and the succeeded status in one
    transaction). On an error the run is saved as failed with the message and no result rows.
    """
    backend_name = backend or str(settings.ATTAIN_ENGINE_BACKEND)
    currency = str(settings.ATTAIN_COMPANY_CURRENCY)
    as_of = as_of or timezone.localdate()
    run = start_run(run, kind=RUN_KIND, requested_by=requested_by, backend=backend_name,
                    calc_version=CALC_VERSIONS[RUN_KIND],
                    params={"company_currency": currency, "as_of": as_of.isoformat(),
                            "period_kinds": [k.value for k in RESULT_PERIOD_KINDS]})
    clock = RunClock()
    try:
        span = data_range(as_of)
        if span is None:
            span = (date(as_of.year, as_of.month, 1),
                    add_months(date(as_of.year, as_of.month, 1), 1))
        clock.time("periods", lambda: ensure_periods(span[0], span[1], RESULT_PERIOD_KINDS))

        def take_snapshot() -> dict[str, pa.Table]:
            return {
                "pipeline_opportunities": snapshot_opportunities(),
                "pipeline_stages": snapshot_stages(),
                "pipeline_stage_changes": snapshot_stage_changes(),
                "pipeline_leads": snapshot_leads(),
                "pipeline_scopes": snapshot_scopes(as_of),
                "periods": snapshot_periods(*span),
                "exchange_rates": snapshot_rates(currency, *span),
            }

        with transaction.atomic():
            inputs: dict[str, pa.Table] = clock.time("snapshot", take_snapshot)
        run.input_rows = sum(t.num_rows for t in inputs.values())
        run.inputs_hash = clock.time("hash", lambda: inputs_hash(inputs, run.params))

        def compute() -> PipelineResults:
            with connect(backend_name) as engine:
                return compute_pipeline_analytics(
                    engine, opportunities=inputs["pipeline_opportunities"],
                    stages=inputs["pipeline_stages"],
                    changes=inputs["pipeline_stage_changes"], leads=inputs["pipeline_leads"],
                    scopes=inputs["pipeline_scopes"], periods=inputs["periods"],
                    rates=inputs["exchange_rates"], as_of=as_of)

        results: PipelineResults = clock.time("compute", compute)

        def store() -> None:
            with transaction.atomic():
                run.output_rows = store_results(run, results, currency)
                run.timings = clock.timings()
                finish_run(run, CalcRun.Status.SUCCEEDED,
                           ["inputs_hash", "input_rows", "output_rows", "timings"])
            refresh_statistics(PIPELINE_RESULTS)

        clock.time("store", store)
        run.timings = clock.timings()
        run.save(update_fields=["timings"])
    except (EngineError, RunError, ValueError) as error:
        fail_run(run, clock, str(error))
    except Exception as error:
        fail_run(run, clock, f"{type(error).__name__}: {error}")
        raise
    return run
