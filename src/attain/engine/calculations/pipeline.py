"""Pipeline analytics: funnel (cohort and flow), time in stage, cycle length, win/loss, pipeline
created, slipped deals, aging and bottlenecks, per scope (company, team, manager, person), fiscal
period and slice (everything, or one segment, source or product).

Definitions (the metric catalogue in `attain.pipeline.metrics` repeats them for the pages):

- Money: every opportunity amount is converted to the company currency once, at the exchange rate
  of the month it was created in, and rounded to cents half to even; sums add those cents. A
  missing amount counts as 0.00 (the deal still counts). A missing rate fails the run.
- Closed-won: the opportunity's `is_won` flag; closed-lost: `is_closed` and not `is_won`. Both
  count in the period containing the `close_date`.
- Cohort funnel: of the opportunities created in a period, how many reached each stage. Reached
  = the highest non-lost stage position the deal ever entered (its history or its current stage)
  is at or after the stage's position, in the deal's own pipeline; a won deal reached every stage.
  Deals still open at the end of the data are right-censored: they count where they are now, and
  `cohort_open` says how many of a stage's deals may still move on.
- Flow funnel: transitions whose change date lies in the period: `flow_entered` (into the
  stage), `flow_advanced` (out of it to a later non-lost stage), `flow_lost` (out of it to a lost
  stage). Flow conversion = advanced / (advanced + lost).
- Time in stage: a stay runs from entering an open stage to the next change of the deal, in whole
  days; it counts in the period in which it ended. Stays not ended by the end of the data are
  censored and left out.
- Sales cycle: close date minus creation date (days, at least 0) of deals won in the period.
- Slipped deals: a stage change in the period that recorded a later expected close date than the
  change before it (a push); `slipped_count` counts deals, `push_count` pushes.
- Leads (cohort): of the leads created in the period, how many were qualified, converted to an
  opportunity, and converted to an opportunity that was won, by the end of the data.

Scopes come from the `pipeline_scopes` table: a person scope holds that person, a team or manager
scope its members (as the app decides them); "company" holds every opportunity, owned or not.
Slices apply to opportunities of company, team and manager scopes (person scopes are not sliced);
leads have only a source, so segment and product slices hold no lead figures.

How it is computed: each deal, stage change and lead is counted once, for its owner (per period
and slice), and the owners' figures are added up to every scope holding them (`_roll_up`) — not
repeated once per scope. Counts and sums add up; a count of distinct deals does too (a deal has
one owner); medians are taken from histograms of whole days per owner added up per scope
(`_median_of_counts`), which give exactly the median of the listed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend
from attain.engine.decimals import round_half_even
from attain.engine.errors import EngineError
from attain.engine.schemas import (
    PIPELINE_BOTTLENECKS,
    PIPELINE_BREAKDOWN,
    PIPELINE_FACTS,
    PIPELINE_FLOWS,
    PIPELINE_STAGE_FACTS,
    LogicalTable,
    conform,
    register_logical_tables,
    require_unique,
)

SLICE_DIMENSIONS = ("segment", "source", "product")
KEY = ["scope_kind", "scope_id", "period_id", "slice_dim", "slice_value"]
BY = KEY[2:]  # the key below the scope: deals are computed per owner and BY, then rolled up
# Period kinds that get the detailed tables (stages, flows, breakdowns, bottlenecks); every
# period kind given gets the facts (months feed the trends).
DETAIL_KINDS = ("quarter", "year")
MONEY_TYPE = dt.Decimal(18, 2)
SUM_TYPE = dt.Decimal(38, 2)  # sums before the final cast back to money
WON_REACH = 1_000_000  # a won deal's reach: past every stage position

# Deal size bands (company currency) and cycle-length / age bands (days): (label, low, high).
DEAL_SIZE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("< 10k", 0, 10_000), ("10k-50k", 10_000, 50_000), ("50k-100k", 50_000, 100_000),
    ("100k-250k", 100_000, 250_000), ("≥ 250k", 250_000, None),
)
CYCLE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-14 d", 0, 15), ("15-30 d", 15, 31), ("31-60 d", 31, 61), ("61-90 d", 61, 91),
    ("91-180 d", 91, 181), ("181-365 d", 181, 366), ("> 365 d", 366, None),
)
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30 d", 0, 31), ("31-60 d", 31, 61), ("61-90 d", 61, 91), ("91-180 d", 91, 181),
    ("> 180 d", 181, None),
)
BREAKDOWN_DIMENSIONS = ("loss_reason", "source", "segment", "product", "deal_type",
                        "deal_size", "cycle_length")
# Bottlenecks: a stage needs this many exits (advanced + lost) and stays for its conversion and
# time to be compared; a lead red flag needs this many leads and a qualification rate below
# LEAD_FLAG_SHARE of the benchmark's.
MIN_EXITS = 5
MIN_STAYS = 5
LEAD_FLAG_MIN_LEADS = 10
LEAD_FLAG_SHARE = Decimal("0.5")


class MissingOpportunityRateError(EngineError):
    """Opportunities in a currency and month without an exchange rate: the run fails rather than
    leaving them out of every figure."""

    def __init__(self, missing: list[tuple[str, date, int]]) -> None:
        self.missing = missing
        shown = "; ".join(f"{c} in {m:%Y-%m} ({n} opportunit{'y' if n == 1 else 'ies'})"
                          for c, m, n in missing[:10])
        more = f"; and {len(missing) - 10} more" if len(missing) > 10 else ""
        super().__init__(f"No exchange rate for {shown}{more}. Add a rate for each currency and "
                         "month in which opportunities were created (the company currency at 1).")


def _zero_money() -> ir.DecimalScalar:
    return ibis.literal(Decimal("0.00"), type=MONEY_TYPE)


def _int(value: int) -> ir.IntegerScalar:
    return ibis.literal(value, type=dt.int64)


def _text(value: str) -> ir.StringScalar:
    return ibis.literal(value, type=dt.string)


def _band(value: ir.NumericValue, bands: tuple[tuple[str, int, int | None], ...]
          ) -> ir.StringValue:
    cases = [((value < high) if high is not None else (value >= low), label)
             for label, low, high in bands]
    first_label = bands[0][0]
    return ibis.cases(*cases, else_=_text(first_label))


def typed(table: ir.Table, logical: LogicalTable) -> ir.Table:
    """`table` with exactly the columns and types of `logical`, in order."""
    arrow = logical.ibis_schema
    return table.select(**{name: table[name].cast(arrow[name].copy(nullable=True))
                           for name in arrow.names})


# --- inputs ------------------------------------------------------------------------------------


def missing_opportunity_rates(opportunities: ir.Table, rates: ir.Table) -> ir.Table:
    """(currency, month_start, opportunity_count) that have no rate; empty when all convert."""
    needed = opportunities.mutate(
        month_start=opportunities.created_on.truncate("M").cast(dt.date)
    ).group_by(["currency", "month_start"]).aggregate(opportunity_count=ibis._.count())
    return needed.anti_join(rates, ["currency", "month_start"]).order_by(
        ["currency", "month_start"])


def converted_opportunities(opportunities: ir.Table, rates: ir.Table, stages: ir.Table
                            ) -> ir.Table:
    """Opportunities with `amount_cc` (company currency, cents) and their pipeline."""
    months = opportunities.mutate(
        month_start=opportunities.created_on.truncate("M").cast(dt.date))
    joined = months.join(rates, ["currency", "month_start"])
    exact = joined.amount.coalesce(_zero_money()) * joined.rate
    with_amount = joined.select(
        "opportunity_id", "owner_id", "created_on", "close_date", "is_closed", "is_won",
        "stage_id", "segment", "source", "deal_type", "loss_reason", "product",
        amount_cc=round_half_even(exact, 2, precision=18))
    return with_amount.join(stages.select("stage_id", "pipeline"), "stage_id")


def _slices(table: ir.Table, dimensions: tuple[str, ...] = SLICE_DIMENSIONS) -> ir.Table:
    """Each row once for the whole slice ("", "") and once per dimension in `dimensions`."""
    parts = [table.mutate(slice_dim=_text(""), slice_value=_text(""))]
    parts += [table.mutate(slice_dim=_text(d), slice_value=table[d].cast(dt.string))
              for d in dimensions]
    return ibis.union(*parts)


def _roll_up(grain: ir.Table, scopes: ir.Table, by: list[str], sums: list[str], *,
             sliced: bool = True, owner: str = "owner_id") -> ir.Table:
    """Scope figures from owner figures: `grain` holds additive figures `sums` per `owner` and
    `by` columns (each deal counted once, for its owner); each scope gets the sum over the
    people it holds, the company (scope id 0) the sum over every row (unowned deals too).
    With `sliced`, person scopes keep only the whole slice (their figures are not sliced, to
    keep the results small).

    Every deal has one owner, so a sum (or a count of distinct deals) over a scope's members
    equals the figure over the scope's deals: the deals are computed once, not once per scope
    and slice holding them."""
    members = scopes.select(s_person="person_id", s_kind="scope_kind", s_id="scope_id")
    owned = grain.join(members, grain[owner] == members.s_person)
    if sliced:
        owned = owned.filter((owned.s_kind != "person") | (owned.slice_dim == ""))
    owned = owned.select(**{"scope_kind": owned.s_kind, "scope_id": owned.s_id.cast(dt.int64),
                            **{c: owned[c] for c in (*by, *sums)}})
    company = grain.select(**{"scope_kind": _text("company"), "scope_id": _int(0),
                              **{c: grain[c] for c in (*by, *sums)}})
    both = owned.union(company)
    return both.group_by(["scope_kind", "scope_id", *by]).aggregate(
        **{c: both[c].sum() for c in sums})


def _median_of_counts(histogram: ir.Table, group: list[str], value: str, count: str
                      ) -> ir.Table:
    """(group..., median) from a histogram of whole numbers (`count` rows of each `value`):
    the middle value, or the mean of the two middle ones — the median of the values listed
    out (as DuckDB's `median` and Spark's `percentile(·, 0.5)` give it)."""
    upto = ibis.cumulative_window(group_by=group, order_by=value)
    rows = histogram.mutate(
        upto=histogram[count].sum().over(upto),
        total=histogram[count].sum().over(ibis.window(group_by=group)))
    low_at, high_at = (rows.total - 1) // 2, rows.total // 2  # 0-based positions
    middle = rows.group_by(group).aggregate(low=rows[value].min(where=rows.upto > low_at),
                                            high=rows[value].min(where=rows.upto > high_at))
    return middle.select(*group, median=(middle.low + middle.high).cast(dt.float64) / 2)


def _in_period(table: ir.Table, periods: ir.Table, day: str) -> ir.Table:
    """Each row once per period containing its `day`. `periods` is either the logical periods
    table (a range join) or `period_days(...)` of it (an equality join on the day: the run uses
    this, since the rows here are the deals repeated per slice and period kind, and a hash join
    on the day is far cheaper than a range join over them)."""
    if "period_day" in periods.columns:
        joined = table.join(periods, table[day] == periods.period_day)
        return joined.drop("kind", "period_day")
    joined = table.join(periods, [table[day] >= periods.start, table[day] < periods.end])
    return joined.drop("kind", "start", "end")


PERIOD_DAYS = LogicalTable("pipeline_period_days", pa.schema([
    pa.field("period_day", pa.date32(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("kind", pa.string(), nullable=False)]), key=("period_day", "period_id"))
register_logical_tables(PERIOD_DAYS)


def period_days(periods: pa.Table) -> pa.Table:
    """(period_day, period_id, kind): every day of every period (half-open [start, end)), so
    that a day finds its periods by equality. Months, quarters and years over a few years of
    data are a few thousand rows."""
    import numpy as np

    days, ids, kinds = [], [], []
    for row in periods.to_pylist():
        span = np.arange(np.datetime64(row["start"], "D"), np.datetime64(row["end"], "D"))
        days.append(span)
        ids.append(np.full(len(span), row["period_id"], dtype=np.int64))
        kinds.extend([row["kind"]] * len(span))
    if not days:
        return PERIOD_DAYS.empty()
    return pa.table({"period_day": pa.array(np.concatenate(days), type=pa.date32()),
                     "period_id": pa.array(np.concatenate(ids)), "kind": kinds},
                    schema=PERIOD_DAYS.schema)


def _detail(periods: ir.Table) -> ir.Table:
    return periods.filter(periods.kind.isin(list(DETAIL_KINDS)))


# --- facts -------------------------------------------------------------------------------------

_FACT_COUNTS = ("created_count", "won_count", "lost_count", "cycle_days_sum", "leads_created",
                "leads_qualified", "leads_converted", "leads_won", "slipped_count",
                "push_count")
_FACT_MONEY = ("created_amount", "won_amount", "lost_amount")


def _fact_part(grouped: ir.Table, **values: ir.Value) -> ir.Table:
    """One part of the facts union: the key, the given columns, zeros for the others."""
    columns: dict[str, ir.Value] = {}
    for name in PIPELINE_FACTS.schema.names:
        if name in KEY:
            continue
        if name in _FACT_MONEY:
            value = values.get(name, _zero_money())
            columns[name] = value.cast(SUM_TYPE)
        elif name == "cycle_days_median":
            columns[name] = values.get(name, ibis.null(dt.float64)).cast(dt.float64)
        else:
            columns[name] = values.get(name, _int(0)).cast(dt.int64)
    return grouped.select(*KEY, **columns)


def pipeline_facts(opportunities: ir.Table, changes: ir.Table, leads: ir.Table,
                   scopes: ir.Table, periods: ir.Table) -> ir.Table:
    """The additive figures of each scope, period and slice (see the module doc).

    `opportunities` is `converted_opportunities(...)`.
    """
    by, grain = BY, ["owner_id", *BY]
    sliced = _slices(opportunities)
    created = _in_period(sliced, periods, "created_on").group_by(grain).aggregate(
        n=ibis._.count(), amount=ibis._.amount_cc.sum())
    created = _roll_up(created, scopes, by, ["n", "amount"])
    closed = _in_period(sliced.filter(sliced.is_closed), periods, "close_date")
    closed = closed.mutate(cycle=ibis.greatest(
        closed.close_date.delta(closed.created_on, unit="day"), 0).cast(dt.int64))
    won, lost = closed.is_won, ~closed.is_won
    closes = _roll_up(closed.group_by(grain).aggregate(
        won_count=closed.count(where=won), lost_count=closed.count(where=lost),
        won_amount=closed.amount_cc.sum(where=won).coalesce(_zero_money()),
        lost_amount=closed.amount_cc.sum(where=lost).coalesce(_zero_money()),
        cycle_sum=closed.cycle.sum(where=won).coalesce(0),
    ), scopes, by, ["won_count", "lost_count", "won_amount", "lost_amount", "cycle_sum"])
    # the median of won cycles: a histogram of cycle days per owner, added up per scope
    cycles = _roll_up(closed.filter(won).group_by([*grain, "cycle"]).aggregate(
        n=ibis._.count()), scopes, [*by, "cycle"], ["n"])
    medians = _median_of_counts(cycles, KEY, "cycle", "n").rename(
        **{f"m_{k}": k for k in KEY})
    joined = closes.left_join(medians, [closes[k] == medians[f"m_{k}"] for k in KEY])
    closes = joined.select(*closes.columns, cycle_median=joined.median)

    won_ids = opportunities.select(won_opportunity_id="opportunity_id", won="is_won")
    lead_rows = leads.left_join(won_ids, leads.opportunity_id == won_ids.won_opportunity_id)
    lead_rows = lead_rows.select(
        "owner_id", "source", "created_on",
        qualified=lead_rows.qualified_on.notnull(),
        converted=lead_rows.opportunity_id.notnull() | lead_rows.converted_on.notnull(),
        won=lead_rows.won.coalesce(False))
    lead_cohort = _in_period(_slices(lead_rows, ("source",)), periods, "created_on")
    lead_counts = _roll_up(lead_cohort.group_by(grain).aggregate(
        n=ibis._.count(), qualified=lead_cohort.count(where=lead_cohort.qualified),
        converted=lead_cohort.count(where=lead_cohort.converted),
        won=lead_cohort.count(where=lead_cohort.won),
    ), scopes, by, ["n", "qualified", "converted", "won"])

    pushes = _pushes(changes)
    pushed = sliced.select("owner_id", "slice_dim", "slice_value",
                           push_opportunity="opportunity_id"
                           ).join(pushes, ibis._.push_opportunity == pushes.opportunity_id)
    pushed = _in_period(pushed, periods, "changed_on")
    # a deal has one owner: distinct deals per owner add up to distinct deals per scope
    push_counts = _roll_up(pushed.group_by(grain).aggregate(
        deals=pushed.opportunity_id.nunique(), pushes=pushed.count()),
        scopes, by, ["deals", "pushes"])

    union = ibis.union(
        _fact_part(created, created_count=created.n, created_amount=created.amount),
        _fact_part(closes, won_count=closes.won_count, lost_count=closes.lost_count,
                   won_amount=closes.won_amount, lost_amount=closes.lost_amount,
                   cycle_days_sum=closes.cycle_sum, cycle_days_median=closes.cycle_median),
        _fact_part(lead_counts, leads_created=lead_counts.n,
                   leads_qualified=lead_counts.qualified,
                   leads_converted=lead_counts.converted, leads_won=lead_counts.won),
        _fact_part(push_counts, slipped_count=push_counts.deals, push_count=push_counts.pushes),
    )
    totals = union.group_by(KEY).aggregate(
        **{name: union[name].sum() for name in (*_FACT_COUNTS, *_FACT_MONEY)},
        cycle_days_median=union.cycle_days_median.max())
    return typed(totals, PIPELINE_FACTS).order_by(KEY)


def _pushes(changes: ir.Table) -> ir.Table:
    """Stage changes that recorded a later expected close date than the change before them."""
    order = ibis.window(group_by="opportunity_id", order_by=["changed_seq", "change_id"])
    with_previous = changes.mutate(previous_close=changes.close_date.lag().over(order))
    return with_previous.filter(
        with_previous.close_date.notnull() & with_previous.previous_close.notnull()
        & (with_previous.close_date > with_previous.previous_close)
    ).select("opportunity_id", "changed_on")


# --- stages ------------------------------------------------------------------------------------

_STAGE_COUNTS = ("cohort_reached", "cohort_open", "flow_entered", "flow_advanced", "flow_lost",
                 "stay_count", "stay_days_sum")
STAGE_KEY = [*KEY, "stage_id"]


def _stage_part(grouped: ir.Table, **values: ir.Value) -> ir.Table:
    columns: dict[str, ir.Value] = {}
    for name in (*_STAGE_COUNTS, "stage_days_median"):
        if name == "stage_days_median":
            columns[name] = values.get(name, ibis.null(dt.float64)).cast(dt.float64)
        else:
            columns[name] = values.get(name, _int(0)).cast(dt.int64)
    return grouped.select(*STAGE_KEY, **columns)


def reach(opportunities: ir.Table, changes: ir.Table, stages: ir.Table) -> ir.Table:
    """(opportunity_id, reach): the highest non-lost stage position each deal entered, from its
    history and its current stage; WON_REACH for a won deal."""
    open_or_won = stages.filter(~stages.is_lost).select("stage_id", "position")
    history = changes.join(open_or_won, changes.to_stage_id == open_or_won.stage_id).select(
        "opportunity_id", "position")
    current = opportunities.join(open_or_won, "stage_id").select("opportunity_id", "position")
    highest = history.union(current).group_by("opportunity_id").aggregate(
        top=ibis._.position.max())
    won = opportunities.select("opportunity_id", "is_won")
    joined = won.left_join(highest, won.opportunity_id == highest.opportunity_id)
    return joined.select(
        opportunity_id=won.opportunity_id,
        reach=ibis.ifelse(joined.is_won, _int(WON_REACH), joined.top.coalesce(_int(0))))


def _deal_keys(opportunities: ir.Table) -> ir.Table:
    """(deal_id, deal_owner, slice_dim, slice_value): each deal once per slice."""
    deals = _slices(opportunities.select("opportunity_id", "owner_id", *SLICE_DIMENSIONS))
    return deals.select("slice_dim", "slice_value", deal_id="opportunity_id",
                        deal_owner="owner_id")


def stage_facts(opportunities: ir.Table, changes: ir.Table, stages: ir.Table, scopes: ir.Table,
                periods: ir.Table) -> ir.Table:
    """Cohort reach, flow transitions and time in stage per scope, period, slice and stage of
    the funnel (every stage that is not a lost stage)."""
    periods = _detail(periods)
    funnel = stages.filter(~stages.is_lost).select(
        funnel_stage="stage_id", funnel_pipeline="pipeline", funnel_position="position")
    by, grain = BY, ["owner_id", *BY]
    reached = opportunities.join(reach(opportunities, changes, stages), "opportunity_id")
    cohort = _in_period(_slices(reached), periods, "created_on")
    cohort_stage = cohort.join(funnel, [cohort.pipeline == funnel.funnel_pipeline,
                                        cohort.reach >= funnel.funnel_position])
    reached_counts = _roll_up(cohort_stage.group_by([*grain, "funnel_stage"]).aggregate(
        n=ibis._.count()), scopes, [*by, "funnel_stage"], ["n"]).rename(
        stage_id="funnel_stage")
    open_counts = _roll_up(cohort.filter(~cohort.is_closed).group_by([*grain, "stage_id"])
                           .aggregate(n=ibis._.count()), scopes, [*by, "stage_id"], ["n"])

    deal_keys = _deal_keys(opportunities)
    moves = changes.join(deal_keys, changes.opportunity_id == deal_keys.deal_id)
    moves = _in_period(moves, periods, "changed_on")
    moved = ["deal_owner", *by]
    entered = _roll_up(moves.group_by([*moved, "to_stage_id"]).aggregate(n=ibis._.count()),
                       scopes, [*by, "to_stage_id"], ["n"], owner="deal_owner").rename(
        stage_id="to_stage_id")
    to_info = stages.select(to_id="stage_id", to_position="position", to_lost="is_lost")
    from_info = stages.select(from_id="stage_id", from_position="position")
    exits = moves.filter(moves.from_stage_id.notnull())
    exits = exits.join(to_info, exits.to_stage_id == to_info.to_id).join(
        from_info, exits.from_stage_id == from_info.from_id)
    exit_counts = _roll_up(exits.group_by([*moved, "from_stage_id"]).aggregate(
        advanced=exits.count(where=~exits.to_lost & (exits.to_position > exits.from_position)),
        lost=exits.count(where=exits.to_lost),
    ), scopes, [*by, "from_stage_id"], ["advanced", "lost"], owner="deal_owner").rename(
        stage_id="from_stage_id")

    order = ibis.window(group_by="opportunity_id", order_by=["changed_seq", "change_id"])
    open_stages = stages.filter(~stages.is_won & ~stages.is_lost).select(open_id="stage_id")
    stays = changes.mutate(left_on=changes.changed_on.lead().over(order))
    stays = stays.filter(stays.left_on.notnull())
    stays = stays.join(open_stages, stays.to_stage_id == open_stages.open_id)
    stays = stays.select("opportunity_id", "to_stage_id", "left_on",
                         days=stays.left_on.delta(stays.changed_on, unit="day").cast(dt.int64))
    stays = stays.join(deal_keys, stays.opportunity_id == deal_keys.deal_id)
    stays = _in_period(stays, periods, "left_on")
    # a histogram of stay lengths per owner, added up per scope: counts, sums and medians
    stay_days = _roll_up(stays.group_by([*moved, "to_stage_id", "days"]).aggregate(
        n=ibis._.count()), scopes, [*by, "to_stage_id", "days"], ["n"], owner="deal_owner")
    stay_key = [*KEY, "to_stage_id"]
    stay_sums = stay_days.group_by(stay_key).aggregate(
        n=stay_days.n.sum(), days=(stay_days.days * stay_days.n).sum())
    stay_medians = _median_of_counts(stay_days, stay_key, "days", "n").rename(
        **{f"m_{k}": k for k in stay_key})
    joined = stay_sums.join(stay_medians,
                            [stay_sums[k] == stay_medians[f"m_{k}"] for k in stay_key])
    stay_counts = joined.select(*stay_sums.columns, median=joined.median).rename(
        stage_id="to_stage_id")

    union = ibis.union(
        _stage_part(reached_counts, cohort_reached=reached_counts.n),
        _stage_part(open_counts, cohort_open=open_counts.n),
        _stage_part(entered, flow_entered=entered.n),
        _stage_part(exit_counts, flow_advanced=exit_counts.advanced,
                    flow_lost=exit_counts.lost),
        _stage_part(stay_counts, stay_count=stay_counts.n, stay_days_sum=stay_counts.days,
                    stage_days_median=stay_counts.median),
    )
    totals = union.group_by(STAGE_KEY).aggregate(
        **{name: union[name].sum() for name in _STAGE_COUNTS},
        stay_days_median=union.stage_days_median.max())
    # only funnel stages (entering a lost stage is a loss, counted as flow_lost of its source)
    funnel_ids = stages.filter(~stages.is_lost).select(keep_id="stage_id")
    totals = totals.join(funnel_ids, totals.stage_id == funnel_ids.keep_id)
    return typed(totals, PIPELINE_STAGE_FACTS).order_by(STAGE_KEY)


def stage_flows(opportunities: ir.Table, changes: ir.Table, scopes: ir.Table,
                periods: ir.Table) -> ir.Table:
    """Transitions between stages (from 0 = created) per scope, period and slice."""
    deal_keys = _deal_keys(opportunities)
    moves = changes.join(deal_keys, changes.opportunity_id == deal_keys.deal_id)
    moves = _in_period(moves, _detail(periods), "changed_on")
    moves = moves.mutate(from_id=moves.from_stage_id.coalesce(_int(0)))
    flows = _roll_up(moves.group_by(["deal_owner", *BY, "from_id", "to_stage_id"]).aggregate(
        n=ibis._.count()), scopes, [*BY, "from_id", "to_stage_id"], ["n"], owner="deal_owner")
    flows = flows.rename(from_stage_id="from_id", transitions="n")
    return typed(flows, PIPELINE_FLOWS).order_by([*KEY, "from_stage_id", "to_stage_id"])


# --- breakdowns --------------------------------------------------------------------------------


def breakdowns(opportunities: ir.Table, scopes: ir.Table, periods: ir.Table, as_of: date
               ) -> ir.Table:
    """Closed deals of each period by loss reason, source, segment, product, deal type, deal
    size band and (won only) cycle-length band; and open deals at `as_of` (the end of the data)
    by age band, under period 0. Not sliced."""
    closed = _in_period(opportunities.filter(opportunities.is_closed), _detail(periods),
                        "close_date")
    cycle = ibis.greatest(closed.close_date.delta(closed.created_on, unit="day"), 0)
    values: dict[str, ir.StringValue] = {
        "loss_reason": closed.loss_reason, "source": closed.source, "segment": closed.segment,
        "product": closed.product, "deal_type": closed.deal_type,
        "deal_size": _band(closed.amount_cc, DEAL_SIZE_BANDS),
        "cycle_length": _band(cycle, CYCLE_BANDS),
    }
    parts = []
    for dimension in BREAKDOWN_DIMENSIONS:
        rows = closed.mutate(dimension=_text(dimension), value=values[dimension])
        if dimension == "cycle_length":
            rows = rows.filter(rows.is_won)
        if dimension == "loss_reason":
            rows = rows.filter(~rows.is_won)
        parts.append(rows.select("owner_id", "period_id", "dimension", "value", "is_won",
                                 "amount_cc"))
    won = ibis.union(*parts)
    by = ["period_id", "dimension", "value"]
    closed_totals = _roll_up(won.group_by(["owner_id", *by]).aggregate(
        won_count=won.count(where=won.is_won), lost_count=won.count(where=~won.is_won),
        won_amount=won.amount_cc.sum(where=won.is_won).coalesce(_zero_money()),
        lost_amount=won.amount_cc.sum(where=~won.is_won).coalesce(_zero_money()),
    ), scopes, by, ["won_count", "lost_count", "won_amount", "lost_amount"], sliced=False
    ).mutate(open_count=_int(0), open_amount=_zero_money())
    open_deals = opportunities.filter(~opportunities.is_closed)
    age = ibis.greatest(ibis.literal(as_of, type=dt.date).delta(open_deals.created_on,
                                                                 unit="day"), 0)
    aging = open_deals.mutate(period_id=_int(0), dimension=_text("age"),
                              value=_band(age, AGE_BANDS))
    aging_totals = _roll_up(aging.group_by(["owner_id", *by]).aggregate(
        open_count=aging.count(), open_amount=aging.amount_cc.sum(),
    ), scopes, by, ["open_count", "open_amount"], sliced=False).mutate(
        won_count=_int(0), won_amount=_zero_money(), lost_count=_int(0),
        lost_amount=_zero_money())
    money = ("won_amount", "lost_amount", "open_amount")
    both = ibis.union(*[
        part.select(**{c: part[c].cast(SUM_TYPE) if c in money else part[c]
                       for c in closed_totals.columns})
        for part in (closed_totals, aging_totals)])
    return typed(both, PIPELINE_BREAKDOWN).order_by(
        ["scope_kind", "scope_id", "period_id", "dimension", "value"])


# --- bottlenecks -------------------------------------------------------------------------------


def _ratio(numerator: ir.NumericValue, denominator: ir.NumericValue, *, ok: ir.BooleanValue
           ) -> ir.FloatingValue:
    value = numerator.cast(dt.float64) / denominator.cast(dt.float64)
    return ibis.ifelse(ok & (denominator > 0), value, ibis.null(dt.float64))


def _bench_key(kind: ir.StringValue, scope_id: ir.IntegerValue, period_id: ir.IntegerValue,
               stage_id: ir.IntegerValue) -> ir.StringValue:
    return (kind + _text(":") + scope_id.cast(dt.string) + _text(":")
            + period_id.cast(dt.string) + _text(":") + stage_id.cast(dt.string))


def bottlenecks(stage_facts: ir.Table, facts: ir.Table, scopes: ir.Table) -> ir.Table:
    """Where deals get stuck: each person against their team, each team against the company,
    per detailed period, on the unsliced figures.

    Per stage: flow conversion = advanced / (advanced + lost) (needs MIN_EXITS exits) and mean
    days in stage = stay_days_sum / stay_count (needs MIN_STAYS stays). Gaps are relative to the
    benchmark: conversion_gap = (benchmark - own) / benchmark, days_gap = (own - benchmark) /
    benchmark; score = the larger; the stage with the highest positive score is `is_worst`.
    Worked example: own 4 of 10 advance (0.4), team 0.5 → conversion_gap 0.2; own 12 days in
    stage, team 8 → days_gap 0.5; score 0.5.

    The "leads" row: qualification rate = leads_qualified / leads_created; flagged
    (`is_worst`) when at least LEAD_FLAG_MIN_LEADS leads arrived and the rate is below
    LEAD_FLAG_SHARE of the benchmark's rate ("many leads arrive but few qualify").
    """
    whole = stage_facts.filter(stage_facts.slice_dim == "")
    members = scopes.filter(scopes.scope_kind == "team").select(
        team_id="scope_id", member_id="person_id")
    person_bench = members.select(own_kind=_text("person"),
                                  own_id=members.member_id.cast(dt.int64),
                                  bench_kind=_text("team"), bench_id=members.team_id.cast(dt.int64))
    teams = whole.filter(whole.scope_kind == "team").select("scope_id").distinct()
    team_bench = teams.select(own_kind=_text("team"), own_id=teams.scope_id.cast(dt.int64),
                              bench_kind=_text("company"), bench_id=_int(0))
    pairs = person_bench.union(team_bench)

    def stage_measures(table: ir.Table, prefix: str) -> ir.Table:
        exits = table.flow_advanced + table.flow_lost
        return table.select(
            **{f"{prefix}kind": table.scope_kind, f"{prefix}id": table.scope_id,
               f"{prefix}period": table.period_id, f"{prefix}stage": table.stage_id,
               f"{prefix}conv": _ratio(table.flow_advanced, exits, ok=exits >= MIN_EXITS),
               f"{prefix}days": _ratio(table.stay_days_sum, table.stay_count,
                                       ok=table.stay_count >= MIN_STAYS),
               f"{prefix}volume": exits})

    own = stage_measures(whole, "o_")
    bench = stage_measures(whole, "b_")
    joined = own.join(pairs, [own.o_kind == pairs.own_kind, own.o_id == pairs.own_id])
    # one key made of the benchmark and the stage row: joined on the four columns, DuckDB
    # joined own and bench on period and stage alone first (45M rows at 500 reps)
    joined = joined.mutate(bench_key=_bench_key(joined.bench_kind, joined.bench_id,
                                                joined.o_period, joined.o_stage))
    bench = bench.mutate(b_key=_bench_key(bench.b_kind, bench.b_id, bench.b_period,
                                          bench.b_stage))
    joined = joined.join(bench, joined.bench_key == bench.b_key)
    conv_gap = ibis.ifelse(joined.b_conv > 0, (joined.b_conv - joined.o_conv) / joined.b_conv,
                           ibis.null(dt.float64))
    days_gap = ibis.ifelse(joined.b_days > 0, (joined.o_days - joined.b_days) / joined.b_days,
                           ibis.null(dt.float64))
    stage_rows = joined.select(
        scope_kind=joined.o_kind, scope_id=joined.o_id, period_id=joined.o_period,
        benchmark_kind=joined.bench_kind, benchmark_id=joined.bench_id, kind=_text("stage"),
        stage_id=joined.o_stage, conversion=joined.o_conv, benchmark_conversion=joined.b_conv,
        days=joined.o_days, benchmark_days=joined.b_days, conversion_gap=conv_gap,
        days_gap=days_gap, volume=joined.o_volume)
    stage_rows = stage_rows.mutate(score=ibis.cases(
        (stage_rows.conversion_gap.isnull(), stage_rows.days_gap),
        (stage_rows.days_gap.isnull(), stage_rows.conversion_gap),
        else_=ibis.greatest(stage_rows.conversion_gap, stage_rows.days_gap)))
    rank = ibis.window(group_by=["scope_kind", "scope_id", "period_id"],
                       order_by=[ibis.desc("score"), "stage_id"])
    stage_rows = stage_rows.mutate(place=ibis.row_number().over(rank))
    stage_rows = stage_rows.mutate(
        is_worst=(stage_rows.place == 0) & stage_rows.score.notnull() & (stage_rows.score > 0)
    ).drop("place")

    detail_periods = whole.select(detail_period="period_id").distinct()
    lead_facts = facts.filter(facts.slice_dim == "")
    lead_facts = lead_facts.semi_join(detail_periods,
                                      lead_facts.period_id == detail_periods.detail_period)
    own_leads = lead_facts.select(l_kind="scope_kind", l_id="scope_id", l_period="period_id",
                                  l_created="leads_created", l_qualified="leads_qualified")
    bench_leads = lead_facts.select(m_kind="scope_kind", m_id="scope_id", m_period="period_id",
                                    m_created="leads_created", m_qualified="leads_qualified")
    leads = own_leads.join(pairs, [own_leads.l_kind == pairs.own_kind,
                                   own_leads.l_id == pairs.own_id])
    leads = leads.join(bench_leads, [leads.bench_kind == bench_leads.m_kind,
                                     leads.bench_id == bench_leads.m_id,
                                     leads.l_period == bench_leads.m_period])
    rate = _ratio(leads.l_qualified, leads.l_created, ok=leads.l_created > 0)
    bench_rate = _ratio(leads.m_qualified, leads.m_created, ok=leads.m_created > 0)
    gap = ibis.ifelse(bench_rate > 0, (bench_rate - rate) / bench_rate, ibis.null(dt.float64))
    lead_rows = leads.select(
        scope_kind=leads.l_kind, scope_id=leads.l_id, period_id=leads.l_period,
        benchmark_kind=leads.bench_kind, benchmark_id=leads.bench_id, kind=_text("leads"),
        stage_id=_int(0), conversion=rate, benchmark_conversion=bench_rate,
        days=ibis.null(dt.float64), benchmark_days=ibis.null(dt.float64), conversion_gap=gap,
        days_gap=ibis.null(dt.float64), volume=leads.l_created, score=gap,
        is_worst=(leads.l_created >= LEAD_FLAG_MIN_LEADS) & rate.notnull()
        & bench_rate.notnull()
        & (rate < bench_rate * float(LEAD_FLAG_SHARE)))
    rows = stage_rows.union(lead_rows.select(*stage_rows.columns))
    rows = rows.mutate(
        conversion=rows.conversion.round(4),
        benchmark_conversion=rows.benchmark_conversion.round(4),
        days=rows.days.round(1), benchmark_days=rows.benchmark_days.round(1),
        conversion_gap=rows.conversion_gap.round(4), days_gap=rows.days_gap.round(4),
        score=rows.score.round(4), is_worst=rows.is_worst.coalesce(False))
    return typed(rows, PIPELINE_BOTTLENECKS).order_by(
        ["scope_kind", "scope_id", "period_id", "kind", "stage_id"])


# --- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PipelineResults:
    facts: pa.Table
    stage_facts: pa.Table
    flows: pa.Table
    breakdown: pa.Table
    bottlenecks: pa.Table

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in (self.facts, self.stage_facts, self.flows,
                                        self.breakdown, self.bottlenecks))


def compute_pipeline_analytics(backend: Backend, *, opportunities: pa.Table, stages: pa.Table,
                               changes: pa.Table, leads: pa.Table, scopes: pa.Table,
                               periods: pa.Table, rates: pa.Table, as_of: date
                               ) -> PipelineResults:
    """Run every pipeline calculation on `backend`; `as_of` is the end of the data (aging).

    Raises `SchemaError`/`DuplicateKeyError` for malformed inputs and
    `MissingOpportunityRateError` when an opportunity cannot be converted.
    """
    rates, periods = conform("exchange_rates", rates), conform("periods", periods)
    require_unique("exchange_rates", rates)
    require_unique("periods", periods)
    stages = conform("pipeline_stages", stages)
    require_unique("pipeline_stages", stages)
    bound_opps = backend.table("pipeline_opportunities", opportunities)
    bound_rates = backend.table("exchange_rates", rates)
    missing = backend.execute(missing_opportunity_rates(bound_opps, bound_rates))
    if missing.num_rows:
        raise MissingOpportunityRateError([
            (r["currency"], r["month_start"], int(r["opportunity_count"]))
            for r in missing.to_pylist()])
    bound_stages = backend.table("pipeline_stages", stages)
    bound_changes = backend.table("pipeline_stage_changes", changes)
    bound_leads = backend.table("pipeline_leads", leads)
    bound_scopes = backend.table("pipeline_scopes", scopes)
    bound_periods = backend.table("pipeline_period_days", period_days(periods))
    converted = converted_opportunities(bound_opps, bound_rates, bound_stages)
    facts = backend.execute(pipeline_facts(converted, bound_changes, bound_leads, bound_scopes,
                                           bound_periods)).cast(PIPELINE_FACTS.schema)
    stage_table = backend.execute(stage_facts(converted, bound_changes, bound_stages,
                                              bound_scopes, bound_periods)
                                  ).cast(PIPELINE_STAGE_FACTS.schema)
    flows = backend.execute(stage_flows(converted, bound_changes, bound_scopes, bound_periods)
                            ).cast(PIPELINE_FLOWS.schema)
    breakdown = backend.execute(breakdowns(converted, bound_scopes, bound_periods, as_of)
                                ).cast(PIPELINE_BREAKDOWN.schema)
    bound_stage_facts = backend.table("pipeline_stage_facts", stage_table)
    bound_facts = backend.table("pipeline_facts", facts)
    found = backend.execute(bottlenecks(bound_stage_facts, bound_facts, bound_scopes)
                            ).cast(PIPELINE_BOTTLENECKS.schema)
    return PipelineResults(facts, stage_table, flows, breakdown, found)


__all__ = [
    "PipelineResults",
    "bottlenecks",
    "breakdowns",
    "compute_pipeline_analytics",
    "pipeline_facts",
    "stage_facts",
    "stage_flows",
]
