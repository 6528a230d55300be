"""Quota attainment and the per-rep measures of rep comparison, per person, team and manager
roll-up and period, in the company currency.

Definitions (each figure of a period P = [start, end), as of the run's business date `as_of`):

- **Reference day** ref(P) = min(as_of, end - 1 day): the day whose quota and reporting line
  count for P. A finished period uses its last day; the current one uses `as_of`.
- **Quota**: of every version of a quota with `valid_from <= ref(P)`, the one with the latest
  `valid_from` (then the highest `version_id`). A quota whose first version starts after ref(P)
  is not in force yet: no quota.
- **Bookings**: order lines booked in P, each converted at its month's rate, summed exactly and
  rounded once to cents, half to even (the same rule as `bookings.py`).
- **Won / lost**: opportunities whose `close_date` lies in P and which are closed won / closed not
  won. Win rate = won ÷ (won + lost) (counts). `won_amount` converts each deal at the rate of its
  close month; average deal size = won_amount ÷ won; cycle length = close_date - created_on in
  days, summed over won deals (`cycle_days_sum`; average = sum ÷ won).
- **Pipeline created**: opportunities created in P (any outcome), converted at the created month's
  rate.
- **Open pipeline**: opportunities open at snapshot time whose `close_date` lies in P, converted at
  the rate of the month of `as_of`. Coverage = open pipeline ÷ (quota - bookings) when positive.
- **Stage conversion** (quarters and years): of the opportunities that entered an open stage
  during P (by `changed_on`), how many later reached a higher, not-lost stage (any time up to the
  end of the data; deals still sitting in the stage count as not advanced — right-censored).
- **Team** figures: members are the people whose reporting line on ref(P) names the team; team
  quota = the team's own quota in force, else the sum of its members' quotas.
- **Manager roll-up**: a booking is credited to every manager above its owner on the booking day
  (effective-dated hierarchy, `MAX_DEPTH` levels) and to the owner's own roll-up; quota = the
  quota of the team on the manager's own line on ref(P), else the sum of the personal quotas of
  the subtree on ref(P). Open pipeline rolls up through the hierarchy as of `as_of`.

People listed per period: reps employed during P, anyone holding a quota for P, and anyone with
bookings or opportunity activity in P. Amounts without a rate make the run fail
(`MissingExchangeRateError`, `MissingOpportunityRateError`), never silently vanish. Ratios
(attainment, pacing, win rate, averages, coverage) are derived exactly from these sums with
`Decimal` by the functions at the end of this module, so every backend gives the same digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend
from attain.engine.calculations.bookings import missing_rates
from attain.engine.decimals import round_half_even
from attain.engine.errors import EngineError, MissingExchangeRateError, MissingRate
from attain.engine.schemas import MONEY, PERF_BOOKING_LINES, conform, require_unique

MAX_DEPTH = 8
FAR_FUTURE = date(9999, 12, 31)
EXACT = dt.Decimal(38, 10)
MONEY_TYPE = dt.Decimal(18, 2)
CONVERSION_PERIOD_KINDS = ("quarter", "year")
INPUT_TABLES = ("bookings", "exchange_rates", "periods", "perf_people", "perf_reporting_lines",
                "perf_quota_versions", "perf_opportunities", "perf_stage_changes")

_MEASURES = [
    pa.field("bookings", MONEY, nullable=False),
    pa.field("booking_count", pa.int64(), nullable=False),
    pa.field("won_count", pa.int64(), nullable=False),
    pa.field("lost_count", pa.int64(), nullable=False),
    pa.field("won_amount", MONEY, nullable=False),
    pa.field("cycle_days_sum", pa.int64(), nullable=False),
    pa.field("pipeline_created", MONEY, nullable=False),
    pa.field("pipeline_created_count", pa.int64(), nullable=False),
    pa.field("open_pipeline", MONEY, nullable=False),
    pa.field("open_count", pa.int64(), nullable=False),
]
PERSON_PERFORMANCE = pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("team_id", pa.int64()),
    pa.field("manager_id", pa.int64()),
    pa.field("quota", MONEY),
    *_MEASURES,
])
TEAM_PERFORMANCE = pa.schema([
    pa.field("team_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("quota", MONEY),
    pa.field("quota_source", pa.string(), nullable=False),  # "team", "members" or "none"
    pa.field("members", pa.int64(), nullable=False),
    *_MEASURES,
])
MANAGER_PERFORMANCE = pa.schema([
    pa.field("manager_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("team_id", pa.int64()),
    pa.field("quota", MONEY),
    pa.field("quota_source", pa.string(), nullable=False),  # "team", "subtree" or "none"
    pa.field("bookings", MONEY, nullable=False),
    pa.field("booking_count", pa.int64(), nullable=False),
    pa.field("open_pipeline", MONEY, nullable=False),
    pa.field("open_count", pa.int64(), nullable=False),
])
STAGE_CONVERSION = pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("stage_id", pa.int64(), nullable=False),
    pa.field("entered", pa.int64(), nullable=False),
    pa.field("advanced", pa.int64(), nullable=False),
])
RESULT_SCHEMAS: Mapping[str, pa.Schema] = {
    "person_performance": PERSON_PERFORMANCE,
    "team_performance": TEAM_PERFORMANCE,
    "manager_performance": MANAGER_PERFORMANCE,
    "stage_conversion": STAGE_CONVERSION,
}
_SUMS = ("bookings", "won_amount", "pipeline_created", "open_pipeline")
_COUNTS = ("booking_count", "won_count", "lost_count", "cycle_days_sum",
           "pipeline_created_count", "open_count")


class HierarchyTooDeepError(EngineError):
    """Reporting lines nest deeper than `MAX_DEPTH` levels (or form a loop)."""

    def __init__(self, person_id: int) -> None:
        self.person_id = person_id
        super().__init__(
            f"The reporting line above person #{person_id} is more than {MAX_DEPTH} levels deep "
            "or loops back on itself; fix the reporting lines (a manager may not report, "
            "directly or not, to someone who reports to them)."
        )


class MissingOpportunityRateError(EngineError):
    """Opportunity amounts in a currency and month without an exchange rate."""

    def __init__(self, missing: list[MissingRate]) -> None:
        self.missing = missing
        shown = "; ".join(
            f"{m.currency} in {m.month_start:%Y-%m} ({m.booking_count} opportunit"
            f"{'y' if m.booking_count == 1 else 'ies'})" for m in missing[:10])
        more = f"; and {len(missing) - 10} more" if len(missing) > 10 else ""
        super().__init__(
            f"No exchange rate for {shown}{more}. Opportunities convert at the rate of their "
            "close month (won), creation month (pipeline created) or the current month (open)."
        )


# --- building blocks --------------------------------------------------------------------------


def _lit_date(day: date) -> ir.DateScalar:
    return ibis.literal(day, type=dt.date)


def _zero() -> ir.DecimalScalar:
    return ibis.literal(Decimal(0), type=EXACT)


def _month(day: ir.DateValue) -> ir.DateValue:
    return day.truncate("M").cast(dt.date)


def with_reference_day(periods: ir.Table, as_of: date) -> ir.Table:
    """`periods` plus `ref`, the day whose quota and reporting line count: min(as_of, end - 1)."""
    last_day = (periods.end - ibis.interval(days=1)).cast(dt.date)
    return periods.mutate(ref=ibis.ifelse(_lit_date(as_of) < periods.end, _lit_date(as_of),
                                          last_day))


def quotas_in_force(versions: ir.Table, periods: ir.Table) -> ir.Table:
    """holder, holder_id, period_id, amount: the version in force on each period's `ref`."""
    joined = versions.join(periods.select("period_id", "ref"), "period_id")
    eligible = joined.filter(joined.valid_from <= joined.ref)
    order = ibis.window(group_by=["holder", "holder_id", "period_id"],
                        order_by=[ibis.desc("valid_from"), ibis.desc("version_id")])
    ranked = eligible.mutate(rank=ibis.row_number().over(order))
    return ranked.filter(ranked["rank"] == 0).select("holder", "holder_id", "period_id", "amount")


def lines_on_reference_day(lines: ir.Table, periods: ir.Table) -> ir.Table:
    """person_id, period_id, team_id, manager_id of the line in force on each period's `ref`
    (the latest-starting line when two overlap)."""
    ends = lines.valid_to.coalesce(_lit_date(FAR_FUTURE))
    joined = lines.join(periods.select("period_id", "ref"),
                        [lines.valid_from <= periods.ref, ends > periods.ref])
    order = ibis.window(group_by=["person_id", "period_id"], order_by=[ibis.desc("valid_from")])
    ranked = joined.mutate(rank=ibis.row_number().over(order))
    return ranked.filter(ranked["rank"] == 0).select("person_id", "period_id", "team_id",
                                                     "manager_id")


def _closure_levels(lines: ir.Table, depth: int) -> list[ir.Table]:
    """Level k (1..depth): person_id, ancestor_id k levels above, over [valid_from, valid_to)."""
    edges = lines.filter(lines.manager_id.notnull()).select(
        person_id=lines.person_id.cast(dt.int64), ancestor_id=lines.manager_id.cast(dt.int64),
        valid_from=lines.valid_from,
        valid_to=lines.valid_to.coalesce(_lit_date(FAR_FUTURE)),
    )
    level = edges
    levels = [edges]
    for _ in range(depth - 1):
        up = edges.select(up_person=edges.person_id, up_ancestor=edges.ancestor_id,
                          up_from=edges.valid_from, up_to=edges.valid_to).view()
        level = level.view()
        joined = level.join(up, [level.ancestor_id == up.up_person,
                                 level.valid_from < up.up_to, up.up_from < level.valid_to])
        level = joined.select(
            person_id=joined.person_id, ancestor_id=joined.up_ancestor,
            valid_from=ibis.greatest(joined.valid_from, joined.up_from),
            valid_to=ibis.least(joined.valid_to, joined.up_to),
        )
        levels.append(level)
    return [part.select(person_id=part.person_id.cast(dt.int64),
                        ancestor_id=part.ancestor_id.cast(dt.int64),
                        valid_from=part.valid_from.cast(dt.date),
                        valid_to=part.valid_to.cast(dt.date)) for part in levels]


def manager_closure(lines: ir.Table, depth: int = MAX_DEPTH) -> ir.Table:
    """person_id, ancestor_id, valid_from, valid_to: `ancestor_id` is above `person_id` (1 to
    `depth` levels) over [valid_from, valid_to), the intersection of the lines' ranges."""
    return ibis.union(*_closure_levels(lines, depth), distinct=False)


def _too_deep(lines: ir.Table) -> ir.Table:
    """A person with a manager MAX_DEPTH + 1 levels up: too deep, or a loop (which never ends)."""
    beyond = _closure_levels(lines, MAX_DEPTH + 1)[-1]
    return beyond.select("person_id").order_by("person_id").limit(1)


def _events(columns: Mapping[str, ir.Value], keys: Mapping[str, ir.Value]) -> dict[str, ir.Value]:
    """A full event row: the given measures, zero for every other one, exact types."""
    row: dict[str, ir.Value] = dict(keys)
    for name in _SUMS:
        row[name] = columns[name].cast(EXACT) if name in columns else _zero()
    for name in _COUNTS:
        row[name] = (columns[name].cast(dt.int64) if name in columns
                     else ibis.literal(0, type=dt.int64))
    return row


def _converted(table: ir.Table, rates: ir.Table, amount: ir.Value, month: ir.Value) -> ir.Table:
    tagged = table.mutate(_amount=amount, _month=month)
    joined = tagged.join(rates, [tagged.currency == rates.currency,
                                 tagged._month == rates.month_start])
    return joined.mutate(converted=(joined._amount * joined.rate).cast(EXACT))


def _opportunity_rate_needs(opportunities: ir.Table, as_of: date) -> ir.Table:
    owned = opportunities.filter(opportunities.person_id.notnull())
    won_or_lost = owned.filter(owned.is_closed).select(
        "opportunity_id", "currency", month_start=_month(owned.close_date))
    created = owned.select("opportunity_id", "currency", month_start=_month(owned.created_on))
    current = owned.filter(~owned.is_closed).select(
        "opportunity_id", "currency",
        month_start=ibis.literal(date(as_of.year, as_of.month, 1), type=dt.date))
    return ibis.union(won_or_lost, created, current, distinct=False)


def missing_opportunity_rates(opportunities: ir.Table, rates: ir.Table, as_of: date) -> ir.Table:
    """(currency, month_start, booking_count = opportunities) lacking a rate."""
    needs = _opportunity_rate_needs(opportunities, as_of)
    lacking = needs.anti_join(rates, ["currency", "month_start"])
    return lacking.group_by(["currency", "month_start"]).aggregate(
        booking_count=lacking.opportunity_id.nunique()).order_by(["currency", "month_start"])


def _activity_events(inputs: Mapping[str, ir.Table], periods: ir.Table, as_of: date
                     ) -> ir.Table:
    """One row per booking / opportunity and period it counts in, keyed by person and period."""
    bookings, rates = inputs["bookings"], inputs["exchange_rates"]
    opportunities = inputs["perf_opportunities"]
    owned = bookings.filter(bookings.person_id.notnull())
    booked = _converted(owned, rates, owned.amount, _month(owned.booked_on))
    booked = booked.join(periods, [booked.booked_on >= periods.start,
                                   booked.booked_on < periods.end])
    parts = [booked.select(**_events(
        {"bookings": booked.converted, "booking_count": ibis.literal(1)},
        {"person_id": booked.person_id, "period_id": booked.period_id}))]

    opps = opportunities.filter(opportunities.person_id.notnull())
    amount = opps.amount.coalesce(ibis.literal(Decimal(0), type=MONEY_TYPE))
    closed = opps.filter(opps.is_closed)
    closed = _converted(closed, rates, closed.amount.coalesce(
        ibis.literal(Decimal(0), type=MONEY_TYPE)), _month(closed.close_date))
    closed = closed.join(periods, [closed.close_date >= periods.start,
                                   closed.close_date < periods.end])
    won = closed.is_won
    parts.append(closed.select(**_events(
        {"won_count": won.cast(dt.int64), "lost_count": (~won).cast(dt.int64),
         "won_amount": ibis.ifelse(won, closed.converted, _zero()),
         "cycle_days_sum": ibis.ifelse(won, closed.close_date.delta(closed.created_on,
                                                                    unit="day"), 0)},
        {"person_id": closed.person_id, "period_id": closed.period_id})))

    created = _converted(opps, rates, amount, _month(opps.created_on))
    created = created.join(periods, [created.created_on >= periods.start,
                                     created.created_on < periods.end])
    parts.append(created.select(**_events(
        {"pipeline_created": created.converted, "pipeline_created_count": ibis.literal(1)},
        {"person_id": created.person_id, "period_id": created.period_id})))

    still_open = opps.filter(~opps.is_closed)
    current_month = ibis.literal(date(as_of.year, as_of.month, 1), type=dt.date)
    still_open = _converted(still_open, rates, still_open.amount.coalesce(
        ibis.literal(Decimal(0), type=MONEY_TYPE)), current_month)
    still_open = still_open.join(periods, [still_open.close_date >= periods.start,
                                           still_open.close_date < periods.end])
    parts.append(still_open.select(**_events(
        {"open_pipeline": still_open.converted, "open_count": ibis.literal(1)},
        {"person_id": still_open.person_id, "period_id": still_open.period_id})))
    return ibis.union(*parts, distinct=False)



def _listed_people(inputs: Mapping[str, ir.Table], periods: ir.Table,
                   quotas: ir.Table) -> ir.Table:
    """Zero events for reps employed during each period and for personal quota holders."""
    people = inputs["perf_people"]
    reps = people.filter(people.role == "rep")
    employed = reps.cross_join(periods.select("period_id", "start", "end"))
    employed = employed.filter(
        (employed.hired_on.isnull() | (employed.hired_on < employed.end))
        & (employed.left_on.isnull() | (employed.left_on > employed.start)))
    holders = quotas.filter(quotas.holder == "person")
    return ibis.union(
        employed.select(**_events({}, {"person_id": employed.person_id,
                                       "period_id": employed.period_id})),
        holders.select(**_events({}, {"person_id": holders.holder_id,
                                      "period_id": holders.period_id})),
        distinct=False,
    )


def _sum_events(events: ir.Table, keys: list[str]) -> ir.Table:
    return events.group_by(keys).aggregate(
        **{name: events[name].sum() for name in (*_SUMS, *_COUNTS)})


def _rounded(table: ir.Table) -> dict[str, ir.Value]:
    return {
        **{name: round_half_even(table[name].cast(EXACT), 2, precision=18) for name in _SUMS},
        **{name: table[name].cast(dt.int64) for name in _COUNTS},
    }


def person_performance(inputs: Mapping[str, ir.Table], as_of: date) -> dict[str, ir.Table]:
    """The Ibis expressions of every result table (see the module docstring)."""
    periods = with_reference_day(inputs["periods"], as_of)
    quotas = quotas_in_force(inputs["perf_quota_versions"], periods)
    lines = inputs["perf_reporting_lines"]
    events = ibis.union(_activity_events(inputs, periods, as_of),
                        _listed_people(inputs, periods, quotas), distinct=False)
    facts = _sum_events(events, ["person_id", "period_id"])
    placed = lines_on_reference_day(lines, periods)
    facts = facts.left_join(placed, ["person_id", "period_id"]).select(
        facts, placed.team_id, placed.manager_id)
    personal = quotas.filter(quotas.holder == "person")
    facts = facts.left_join(personal, [facts.person_id == personal.holder_id,
                                       facts.period_id == personal.period_id]).select(
        facts, quota=personal.amount)
    person = facts.select(
        person_id=facts.person_id.cast(dt.int64), period_id=facts.period_id.cast(dt.int64),
        team_id=facts.team_id.cast(dt.int64), manager_id=facts.manager_id.cast(dt.int64),
        quota=facts.quota.cast(MONEY_TYPE), **_rounded(facts),
    ).order_by(["person_id", "period_id"])

    in_team = facts.filter(facts.team_id.notnull())
    team_sums = in_team.group_by(["team_id", "period_id"]).aggregate(
        members=in_team.person_id.nunique(), member_quota=in_team.quota.sum(),
        **{name: in_team[name].sum() for name in (*_SUMS, *_COUNTS)})
    own = quotas.filter(quotas.holder == "team")
    team_joined = team_sums.left_join(own, [team_sums.team_id == own.holder_id,
                                            team_sums.period_id == own.period_id])
    team = team_joined.select(
        team_id=team_joined.team_id.cast(dt.int64),
        period_id=team_sums.period_id.cast(dt.int64),
        quota=team_joined.amount.coalesce(team_joined.member_quota).cast(MONEY_TYPE),
        quota_source=ibis.ifelse(team_joined.amount.notnull(), "team",
                                 ibis.ifelse(team_joined.member_quota.notnull(), "members",
                                             "none")),
        members=team_joined.members.cast(dt.int64),
        **_rounded(team_joined),
    ).order_by(["team_id", "period_id"])

    return {
        "person_performance": person,
        "team_performance": team,
        "manager_performance": manager_rollup(inputs, periods, quotas, as_of),
        "stage_conversion": stage_conversion(inputs, periods),
    }


def manager_rollup(inputs: Mapping[str, ir.Table], periods: ir.Table, quotas: ir.Table,
                   as_of: date) -> ir.Table:
    """manager_id, period_id, team_id, quota, quota_source, bookings, booking_count,
    open_pipeline, open_count (see the module docstring)."""
    lines, rates = inputs["perf_reporting_lines"], inputs["exchange_rates"]
    closure = manager_closure(lines)
    managers = closure.select(manager_id=closure.ancestor_id).distinct()
    # every manager's own figures count in their roll-up: a self pair for all time
    selves = managers.select(person_id=managers.manager_id, ancestor_id=managers.manager_id,
                             valid_from=_lit_date(date(1, 1, 1)),
                             valid_to=_lit_date(FAR_FUTURE))
    credit = ibis.union(closure, selves, distinct=False)

    bookings = inputs["bookings"]
    owned = bookings.filter(bookings.person_id.notnull())
    booked = _converted(owned, rates, owned.amount, _month(owned.booked_on))
    up = booked.join(credit, [booked.person_id == credit.person_id,
                              booked.booked_on >= credit.valid_from,
                              booked.booked_on < credit.valid_to])
    up = up.join(periods, [up.booked_on >= periods.start, up.booked_on < periods.end])
    booked_sums = up.group_by([up.ancestor_id, up.period_id]).aggregate(
        bookings=up.converted.sum(), booking_count=up.converted.count())

    opps = inputs["perf_opportunities"]
    still_open = opps.filter(opps.person_id.notnull() & ~opps.is_closed)
    still_open = _converted(still_open, rates, still_open.amount.coalesce(
        ibis.literal(Decimal(0), type=MONEY_TYPE)),
        ibis.literal(date(as_of.year, as_of.month, 1), type=dt.date))
    today = _lit_date(as_of)
    open_up = still_open.join(credit, [still_open.person_id == credit.person_id,
                                       credit.valid_from <= today, credit.valid_to > today])
    open_up = open_up.join(periods, [open_up.close_date >= periods.start,
                                     open_up.close_date < periods.end])
    open_sums = open_up.group_by([open_up.ancestor_id, open_up.period_id]).aggregate(
        open_pipeline=open_up.converted.sum(), open_count=open_up.converted.count())

    keys = ibis.union(booked_sums.select("ancestor_id", "period_id"),
                      open_sums.select("ancestor_id", "period_id"), distinct=True)
    rows = keys.left_join(booked_sums, ["ancestor_id", "period_id"]).select(
        "ancestor_id", "period_id", "bookings", "booking_count")
    rows = rows.left_join(open_sums, ["ancestor_id", "period_id"]).select(
        rows, open_sums.open_pipeline, open_sums.open_count)

    own_line = lines_on_reference_day(lines, periods)
    rows = rows.left_join(own_line, [rows.ancestor_id == own_line.person_id,
                                     rows.period_id == own_line.period_id]).select(
        rows, team_id=own_line.team_id)
    team_quota = quotas.filter(quotas.holder == "team")
    rows = rows.left_join(team_quota, [rows.team_id == team_quota.holder_id,
                                       rows.period_id == team_quota.period_id]).select(
        rows, team_quota=team_quota.amount)

    personal = quotas.filter(quotas.holder == "person")
    with_ref = credit.cross_join(periods.select(ref_period_id=periods.period_id,
                                                ref=periods.ref))
    members = with_ref.filter((with_ref.valid_from <= with_ref.ref)
                              & (with_ref.valid_to > with_ref.ref))
    subtree = members.join(personal, [members.person_id == personal.holder_id,
                                      members.ref_period_id == personal.period_id])
    subtree_quota = subtree.group_by(
        [subtree.ancestor_id, subtree.ref_period_id]).aggregate(quota=subtree.amount.sum())
    rows = rows.left_join(subtree_quota, [rows.ancestor_id == subtree_quota.ancestor_id,
                                          rows.period_id == subtree_quota.ref_period_id]).select(
        rows, subtree_quota=subtree_quota.quota)
    zero = _zero()
    return rows.select(
        manager_id=rows.ancestor_id.cast(dt.int64),
        period_id=rows.period_id.cast(dt.int64),
        team_id=rows.team_id.cast(dt.int64),
        quota=rows.team_quota.coalesce(rows.subtree_quota).cast(MONEY_TYPE),
        quota_source=ibis.ifelse(rows.team_quota.notnull(), "team",
                                 ibis.ifelse(rows.subtree_quota.notnull(), "subtree", "none")),
        bookings=round_half_even(rows.bookings.cast(EXACT).coalesce(zero), 2, precision=18),
        booking_count=rows.booking_count.coalesce(0).cast(dt.int64),
        open_pipeline=round_half_even(rows.open_pipeline.cast(EXACT).coalesce(zero), 2,
                                      precision=18),
        open_count=rows.open_count.coalesce(0).cast(dt.int64),
    ).order_by(["manager_id", "period_id"])


def stage_conversion(inputs: Mapping[str, ir.Table], periods: ir.Table) -> ir.Table:
    """person_id, period_id, stage_id, entered, advanced for quarters and years."""
    changes, opps = inputs["perf_stage_changes"], inputs["perf_opportunities"]
    owned = opps.filter(opps.person_id.notnull()).select("opportunity_id", "person_id")
    entries = changes.filter(~changes.is_won & ~changes.is_lost)
    entries = entries.join(owned, "opportunity_id")
    chosen = periods.filter(periods.kind.isin(CONVERSION_PERIOD_KINDS))
    entries = entries.join(chosen, [entries.changed_on >= chosen.start,
                                    entries.changed_on < chosen.end]).select(
        "change_id", "opportunity_id", "person_id", "stage_id", "stage_order", "changed_on",
        "period_id")
    later = changes.filter(~changes.is_lost).view()
    advanced = entries.semi_join(later, [entries.opportunity_id == later.opportunity_id,
                                         later.changed_on >= entries.changed_on,
                                         later.stage_order > entries.stage_order])
    keys = ["person_id", "period_id", "stage_id"]
    entered_counts = entries.group_by(keys).aggregate(entered=entries.opportunity_id.nunique())
    advanced_counts = advanced.group_by(keys).aggregate(
        advanced=advanced.opportunity_id.nunique())
    joined = entered_counts.left_join(advanced_counts, keys)
    return joined.select(
        person_id=entered_counts.person_id.cast(dt.int64),
        period_id=entered_counts.period_id.cast(dt.int64),
        stage_id=entered_counts.stage_id.cast(dt.int64),
        entered=entered_counts.entered.cast(dt.int64),
        advanced=joined.advanced.coalesce(0).cast(dt.int64),
    ).order_by(keys)


def compute_performance(backend: Backend, tables: Mapping[str, pa.Table], as_of: date
                        ) -> dict[str, pa.Table]:
    """Run every performance calculation on `backend` for the business date `as_of`.

    `tables` holds the logical tables named in `INPUT_TABLES`. Raises `SchemaError` or
    `DuplicateKeyError` for malformed inputs, `MissingExchangeRateError` /
    `MissingOpportunityRateError` for amounts that cannot be converted and
    `HierarchyTooDeepError` for reporting lines deeper than `MAX_DEPTH` (or looping).
    """
    for name in ("exchange_rates", "periods", "perf_quota_versions"):
        require_unique(name, conform(name, tables[name]))
    require_unique("perf_reporting_lines", conform("perf_reporting_lines",
                                                   tables["perf_reporting_lines"]))
    bound = {name: backend.table(name, tables[name]) for name in INPUT_TABLES}
    missing = backend.execute(missing_rates(bound["bookings"], bound["exchange_rates"]))
    if missing.num_rows:
        raise MissingExchangeRateError([
            MissingRate(row["currency"], row["month_start"], int(row["booking_count"]))
            for row in missing.to_pylist()])
    missing = backend.execute(missing_opportunity_rates(bound["perf_opportunities"],
                                                        bound["exchange_rates"], as_of))
    if missing.num_rows:
        raise MissingOpportunityRateError([
            MissingRate(row["currency"], row["month_start"], int(row["booking_count"]))
            for row in missing.to_pylist()])
    too_deep = backend.execute(_too_deep(bound["perf_reporting_lines"]))
    if too_deep.num_rows:
        raise HierarchyTooDeepError(int(too_deep.column("person_id")[0].as_py()))
    expressions = person_performance(bound, as_of)
    return {name: backend.execute(expr).select(RESULT_SCHEMAS[name].names)
            .cast(RESULT_SCHEMAS[name]) for name, expr in expressions.items()}


# --- exact ratios, derived from the stored sums -------------------------------------------------

TENTH = Decimal("0.1")
CENT = Decimal("0.01")


def ratio_pct(numerator: Decimal | int, denominator: Decimal | int | None) -> Decimal | None:
    """numerator ÷ denominator as a percentage to one decimal (half up); None without a positive
    denominator. `ratio_pct(Decimal("1500.50"), Decimal("3000.00")) == Decimal("50.0")`."""
    if denominator is None or denominator <= 0:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(TENTH,
                                                                      rounding=ROUND_HALF_UP)


def elapsed_days(start: date, end: date, as_of: date) -> int:
    """Days of [start, end) up to and including `as_of` (0 before, all after the period)."""
    return max(0, min((as_of - start).days + 1, (end - start).days))


def expected_to_date(quota: Decimal | None, start: date, end: date, as_of: date
                     ) -> Decimal | None:
    """Linear pacing: quota x elapsed days ÷ days of the period, rounded to cents half even.

    Worked example: quota 9,000.00 for a 90-day quarter, as of its 30th day →
    9,000.00 x 30 ÷ 90 = 3,000.00 expected by then.
    """
    if quota is None:
        return None
    exact = quota * elapsed_days(start, end, as_of) / (end - start).days
    return exact.quantize(CENT)  # Decimal's default rounding is half even


def average(total: Decimal | int, count: int, places: Decimal = CENT) -> Decimal | None:
    """total ÷ count rounded to `places` (half even); None for no items."""
    if count <= 0:
        return None
    return (Decimal(total) / count).quantize(places)


def coverage_ratio(open_pipeline: Decimal, quota: Decimal | None, bookings: Decimal
                   ) -> Decimal | None:
    """Open pipeline ÷ remaining quota (quota - bookings), to two decimals (e.g. 3.25); None
    when nothing remains. 5,700.25 ÷ (3,000.00 - 1,500.50) = 3.80."""
    if quota is None or quota - bookings <= 0:
        return None
    return (open_pipeline / (quota - bookings)).quantize(CENT)


# --- bookings by region and category -------------------------------------------------------------

BOOKING_LINES = PERF_BOOKING_LINES.schema
BREAKDOWN_DIMENSIONS = ("region", "category")
ALL_TIME = 0  # the breakdown's period id for every order line of the data
BOOKINGS_BREAKDOWN = pa.schema([
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("dimension", pa.string(), nullable=False),  # "" = every order line of the period
    pa.field("value", pa.string(), nullable=False),
    pa.field("amount", MONEY, nullable=False),
    pa.field("booking_count", pa.int64(), nullable=False),
])


def _line_months(lines: ir.Table) -> ir.Table:
    return lines.mutate(month_start=lines.booked_on.truncate("M").cast(dt.date))


def missing_line_rates(lines: ir.Table, rates: ir.Table) -> ir.Table:
    """(currency, month_start, booking_count) of order lines that cannot be converted."""
    needed = _line_months(lines).group_by(["currency", "month_start"]).aggregate(
        booking_count=ibis._.count())
    return needed.anti_join(rates, ["currency", "month_start"]).order_by(
        ["currency", "month_start"])


def bookings_breakdown(lines: ir.Table, rates: ir.Table, periods: ir.Table) -> ir.Table:
    """Every order line (owned or not) of each period, and of all the data (period ALL_TIME), in
    total (dimension "") and by region and by category: the exact amounts converted at the rate
    of the booking's month, summed exactly, rounded once to cents half to even; and how many
    lines.

    Worked example (USD company, EUR 1.10 in March 2026): lines 100.0050 EUR West/Tech on
    2026-03-02 and 20.0049 USD East/Tech on 2026-03-09 give March: total 110.00550 + 20.0049 =
    130.01040 -> 130.01 (2 lines); West 110.00550 -> 110.01 (past the half cent, so up);
    East 20.0049 -> 20.00; Tech 130.01 (2 lines). Rounding once matters: three lines of
    0.0050 USD are 0.0150 -> 0.02 together, where rounding each (0.00, half to even) gives 0.00.
    """
    months = _line_months(lines)
    converted = months.join(rates, ["currency", "month_start"]).select(
        # (19, 4) and (18, 8) have no common type: widen the amount to (23, 8) first
        "booked_on", "region", "category",
        exact=months.amount.cast(dt.Decimal(23, 8)) * rates.rate)
    in_period = converted.join(periods, [converted.booked_on >= periods.start,
                                         converted.booked_on < periods.end])
    columns = ("period_id", "region", "category", "exact")
    in_period = ibis.union(in_period.select(*columns), converted.mutate(
        period_id=ibis.literal(ALL_TIME, type=dt.int64)).select(*columns))
    parts = [in_period.select("period_id", "exact", dimension=ibis.literal("", type=dt.string),
                              value=ibis.literal("", type=dt.string))]
    parts += [in_period.select("period_id", "exact", dimension=ibis.literal(d, type=dt.string),
                               value=in_period[d]) for d in BREAKDOWN_DIMENSIONS]
    rows = ibis.union(*parts)
    totals = rows.group_by(["period_id", "dimension", "value"]).aggregate(
        total=rows.exact.sum(), booking_count=rows.exact.count())
    return totals.select(
        totals.period_id.cast(dt.int64), "dimension", "value",
        amount=round_half_even(totals.total, 2, precision=18),
        booking_count=totals.booking_count.cast(dt.int64),
    ).order_by(["period_id", "dimension", "value"])


def compute_bookings_breakdown(backend: Backend, lines: pa.Table, rates: pa.Table,
                               periods: pa.Table) -> pa.Table:
    """Run `bookings_breakdown` on `backend`; raises `MissingExchangeRateError` for order lines
    that cannot be converted (none is left out of a total)."""
    rates, periods = conform("exchange_rates", rates), conform("periods", periods)
    require_unique("exchange_rates", rates)
    require_unique("periods", periods)
    bound_lines = backend.table("perf_booking_lines", conform("perf_booking_lines", lines))
    bound_rates = backend.table("exchange_rates", rates)
    missing = backend.execute(missing_line_rates(bound_lines, bound_rates))
    if missing.num_rows:
        raise MissingExchangeRateError([
            MissingRate(row["currency"], row["month_start"], int(row["booking_count"]))
            for row in missing.to_pylist()])
    result = backend.execute(bookings_breakdown(bound_lines, bound_rates,
                                                backend.table("periods", periods)))
    return result.select(BOOKINGS_BREAKDOWN.names).cast(BOOKINGS_BREAKDOWN)


__all__ = ["compute_bookings_breakdown", "compute_performance", "person_performance",
           "quotas_in_force", "ratio_pct"]
