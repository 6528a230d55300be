"""The compensation run: credits -> measures -> earning lines (-> payouts), as Ibis expressions.

`compute_compensation(backend, tables, plans, period_start, period_end, as_of)` computes one pay
period [period_start, period_end) for every assignment in force during it, with year-to-date
figures where a plan needs them, and returns Arrow tables `credits`, `measures`,
`earning_lines`, and the payout run's `payouts`, `payout_lines`, `balances` and `ledger`
(comp-payouts' `payouts.compute_payouts` on those lines, with the opening state —
comp_payout_balances, comp_payout_ledger, comp_payout_adjustments, comp_churn — taken from
`tables` as given).

**Credits.** A booking credits: its owner (100 %, `owner`) unless its opportunity has revenue
splits, then each split holder (`split`, the revenue splits must add up to 100 % per
opportunity); overlay splits credit on top (`overlay`); managers up to the plan's
`crediting.roll_up.levels` above each revenue credit holder on the booking day (effective-dated
`perf_reporting_lines`) get `roll_up` credit. The credited amount, in the company currency, is
`amount x rate(booking currency, booking month) x percent`, where for partner deals under
`partner: {basis: net}` the amount is `net_amount` (else `amount`) x (1 + uplift), and under
`multi_year` a booking's `amount` is its annual value and the credit is `amount x sum of the
year percents for its contract_years` (years beyond the list credit nothing); without
`multi_year` the annual value is credited once. A credit belongs to the assignment in force on
its booking day; year-to-date figures apply the current assignment's plan to every credit of the
person since the plan-year start.

`credits` lists the credits of the period (those of earlier periods only feed YTD measures).

**Measures** (per assignment and component, `measures`): credited amount of the period and year
to date (counting only the component's credit kinds and `where`), the quota basis (the person's
quota of the run period, prorated by days in force when `proration: days`, or for `measurement:
ytd` the annual quota: the quota of the period [year start, year end), else the sum of the
person's quotas of periods of the plan's period kind inside the plan year), attainment
(= measured credit / quota basis), the target incentive of the period (annual target x 1/12,
1/4 or 1 x days in force / days in the period) and for team components the team's credited
amount (revenue credits of people whose reporting line names the team on the booking day) and
quota (the team's quota of the period). Quota versions: the latest `valid_from` on or before
min(as_of, period end - 1 day), then the highest `version_id`.

**Earning lines** (one per credit per component, plus one per scalar component):
- commission: the credit's base rate is the first matching `rates` rule, else `rate`, else the
  target-incentive rate `share x target incentive of the period / quota basis`. Without tiers the
  line pays credited x base rate. With `marginal` tiers a line is split across bands by the
  cumulative credited amount *before and after it* (credits ordered by booking date, booking id,
  credit kind; year to date for `ytd`): each slice pays its band's rate (or multiplier x base
  rate). With `retroactive` tiers each line pays the rate of the band reached after it, and one
  `true_up` line per component brings the period (year to date for `ytd`) to the rate of the band
  finally reached — explicit, never folded into the lines. Below `threshold` attainment the
  lines pay 0 and say so.
- team: share x target incentive of the period x team attainment (x the band multiplier; marginal
  bands apply each multiplier to the slice of attainment inside them).
- bonus: the highest `step` reached, or the `linear` interpolation (nothing below `from`, the
  `to` amount above `to`); `measurement: plan_year` pays only in the run whose period ends the plan
  year, on annual attainment. Individual attainment counts every credit the plan's crediting
  produces; `on: team` uses team attainment (the team is the assignment's `team_id`, else the
  team on the person's reporting line on the reference day).
- spiff (bookings): each credit of the window matching `where` earns `amount_per_deal x credit
  percent` or `credited x rate`; manual spiffs and `mbo` components pay the manager-entered
  `comp_manual_lines` of the period (an MBO capped at `max_amount` or its share of the period's
  target incentive by a `cap` line). Manual lines naming no component of the plan become
  `manual_adjustment` lines.
- caps: `per_line` caps the line; `per_period` and `per_plan_year` (with `comp_prior_earnings`,
  what earlier locked periods of the plan year earned on the component) add one negative `cap`
  line so that the capped total is exact to the cent.

**Currencies and rounding (the one rounding point).** Credits and commission arithmetic are in
the company currency (`exchange_rates` gives company units per unit); amounts written in a plan
are in the plan's currency; every line is converted to the payee's currency (the assignment's)
at the rate of the period's first month and then rounded **once, per line, to cents** (half to
even by default, `rounding: {mode: half_up}` otherwise). True-up and cap lines are computed from
the already rounded lines, so the lines of a person and period add up to the cent.

**Exactness.** Per-credit arithmetic is set-based decimal SQL on the backend (amounts held to 8
decimals, factors to 12). Divisions (attainment, prorations, the target-incentive rate, the
conversion 1/rate) happen once per assignment and component, in Python `Decimal`, on the small
table of sums the backend returns (DuckDB divides decimals in floating point, so no division is
left to the backend). Same inputs and plans give identical output, ordered by person, period,
assignment, component position, line kind, booking id and credit kind.

Worked example (the issue's): marginal tiers on amount 6 % on [0, 3000), 8 % on [3000, 8000),
10 % above; one credit of 9,000 -> 3,000 x 6 % + 5,000 x 8 % + 1,000 x 10 % = 180 + 400 + 100
= 680. Quota 100,000, 5 % to 100 %, 6 % to 125 %, 7 % above, credits 150,000 -> 5,000 + 1,500 +
1,750 = 8,250.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend
from attain.engine.compensation.payouts import (
    COMP_PAYOUT_BALANCES,
    COMP_PAYOUT_LEDGER,
    COMP_PAYOUT_LINES,
    COMP_PAYOUTS,
    PayoutResult,
    compute_payouts,
)
from attain.engine.compensation.plans import (
    Bonus,
    Commission,
    Mbo,
    Plan,
    Spiff,
    TeamComponent,
    percent_text,
)
from attain.engine.compensation.schemas import (
    COMP_CREDITS,
    COMP_EARNING_LINES,
    COMP_FACTORS,
    COMP_MEASURES,
    PLAN_BANDS,
    PLAN_COMPONENTS,
    PLAN_MULTI_YEAR,
    PLAN_RATES,
    PLAN_SETTINGS,
    PLAN_STEPS,
)
from attain.engine.decimals import round_half_even
from attain.engine.errors import EngineError, MissingExchangeRateError, MissingRate
from attain.engine.memo import remembered
from attain.engine.schemas import (
    LogicalTable,
    conform,
    logical_table,
    register_logical_tables,
    require_unique,
)

CALC_VERSION = "compensation-2"
"""Recorded on every run. 2: the true-up of retroactive tiers on amount words the credited
amount and the band's lower bound as amounts (1 showed them as percentages) and carries the
credited amount as its measure value."""
MAX_DEPTH = 8
MAX_CONTRACT_YEARS = 10
FAR_FUTURE = date(9999, 12, 31)
WORK = dt.Decimal(26, 12)  # amounts while computing (dominates FACTOR: Ibis needs one)
FACTOR = dt.Decimal(20, 12)  # rates, multipliers, conversion factors
WIDE = dt.Decimal(38, 12)
MONEY_TYPE = dt.Decimal(18, 2)
PERCENT_TYPE = dt.Decimal(9, 4)
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}
EXACT = Context(prec=60)
Q8 = Decimal("0.00000001")
Q12 = Decimal("0.000000000001")
LINE_KIND_ORDER = {"commission": 1, "spiff": 2, "true_up": 3, "team": 4, "bonus": 5, "mbo": 6,
                   "manual_spiff": 7, "manual_adjustment": 8, "cap": 9}
INPUTS = ("comp_bookings", "comp_splits", "comp_assignments", "comp_manual_lines",
          "comp_prior_earnings", "exchange_rates", "periods", "perf_quota_versions",
          "perf_reporting_lines")
OPTIONAL_INPUTS = ("comp_manual_lines", "comp_prior_earnings", "perf_reporting_lines",
                   "perf_quota_versions", "comp_splits")


class CompensationInputError(EngineError):
    """The inputs cannot be computed (an unknown plan, overlapping assignments, splits that do
    not add up); `problems` lists each, in words."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"The compensation run cannot start:\n{shown}{more}")


@dataclass(frozen=True, slots=True)
class CompensationResult:
    """Arrow tables of one run: `credits` (COMP_CREDITS), `measures` (COMP_MEASURES),
    `earning_lines` (COMP_EARNING_LINES) and comp-payouts' `PayoutResult` of those lines:
    `payouts` (COMP_PAYOUTS), `payout_lines` (COMP_PAYOUT_LINES) and the closing state for the
    next period, `balances` (COMP_PAYOUT_BALANCES) and `ledger` (COMP_PAYOUT_LEDGER). Without
    the payout run (`with_payouts=False`) the last four are empty tables of their schemas."""

    credits: pa.Table
    measures: pa.Table
    earning_lines: pa.Table
    payouts: pa.Table
    payout_lines: pa.Table
    balances: pa.Table
    ledger: pa.Table


# --- plans as parameter tables -----------------------------------------------------------------

def plan_year(plan: Plan, period_start: date) -> tuple[date, date]:
    """[start, end) of the plan year holding `period_start`."""
    month = plan.plan_year_start_month
    year = period_start.year if period_start.month >= month else period_start.year - 1
    return date(year, month, 1), date(year + 1, month, 1)


def _listed(values: Sequence[str]) -> str:
    return "," + ",".join(values) + "," if values else ""


def plan_parameters(plans: Mapping[int, Plan], period_start: date) -> dict[str, pa.Table]:
    """The plans as small tables the expressions join to (one row per plan, component, rate
    rule, tier band, bonus step, contract length)."""
    settings, multi_year, components, rates, bands, steps = [], [], [], [], [], []
    for version_id, plan in sorted(plans.items()):
        year_start, year_end = plan_year(plan, period_start)
        credit = plan.crediting
        settings.append({
            "plan_version_id": version_id, "plan_currency": plan.currency,
            "period_kind": plan.period, "periods_per_year": PERIODS_PER_YEAR[plan.period],
            "year_start": year_start, "year_end": year_end,
            "half_even": plan.rounding == "half_even", "prorate": plan.proration == "days",
            "owner": credit.owner, "splits": credit.splits,
            "roll_up_levels": credit.roll_up_levels,
            "partner_net": credit.partner_basis == "net",
            "partner_uplift": credit.partner_uplift,
        })
        for years in range(1, MAX_CONTRACT_YEARS + 1):
            total = (sum(credit.multi_year_percents[:years], Decimal(0))
                     if credit.multi_year_percents else Decimal(1))
            multi_year.append({"plan_version_id": version_id, "contract_years": years,
                               "percent_sum": total})
        for position, component in enumerate(plan.components):
            row: dict[str, Any] = {
                "plan_version_id": version_id, "component": component.name,
                "position": position, "kind": component.kind, "measurement": "period",
                "credit_kinds": "", "families": "", "deal_types": "", "segments": "",
                "partner": None, "base_rate": None, "share": None, "threshold": None,
                "tier_basis": None, "tier_mode": None, "cap_line": None, "cap_period": None,
                "cap_year": None, "window_from": None, "window_to": None, "per_deal": None,
                "source": "bookings", "subject": "individual", "linear_from_att": None,
                "linear_from_amount": None, "linear_to_att": None, "linear_to_amount": None,
                "max_amount": None,
            }
            if isinstance(component, Commission | Spiff):
                row |= {"credit_kinds": _listed(component.credits),
                        "families": _listed(component.where.product_families),
                        "deal_types": _listed(component.where.deal_types),
                        "segments": _listed(component.where.segments),
                        "partner": component.where.partner, "base_rate": component.rate,
                        "cap_line": component.caps.per_line,
                        "cap_period": component.caps.per_period,
                        "cap_year": component.caps.per_plan_year}
            if isinstance(component, Commission):
                row |= {"measurement": component.measurement,
                        "share": component.share_of_target_incentive,
                        "threshold": component.threshold}
                for priority, rule in enumerate(component.rates):
                    rates.append({"plan_version_id": version_id, "component": component.name,
                                  "priority": priority, "product_family": rule.product_family,
                                  "deal_type": rule.deal_type, "segment": rule.segment,
                                  "rate": rule.rate})
            if isinstance(component, Commission | TeamComponent) and component.tiers:
                row |= {"tier_basis": component.tiers.basis, "tier_mode": component.tiers.mode}
                for number, band in enumerate(component.tiers.bands, start=1):
                    bands.append({"plan_version_id": version_id, "component": component.name,
                                  "band": number, "lower": band.lower, "upper": band.upper,
                                  "rate": band.rate, "multiplier": band.multiplier})
            if isinstance(component, TeamComponent):
                row |= {"measurement": component.measurement, "subject": "team",
                        "share": component.share_of_target_incentive,
                        "threshold": component.threshold,
                        "cap_period": component.caps.per_period,
                        "cap_year": component.caps.per_plan_year}
            if isinstance(component, Spiff):
                row |= {"window_from": component.starts_on, "window_to": component.ends_on,
                        "per_deal": component.amount_per_deal, "source": component.source}
            if isinstance(component, Bonus):
                row |= {"measurement": component.measurement, "subject": component.on}
                if component.linear:
                    start, end = component.linear
                    row |= {"linear_from_att": start.attainment,
                            "linear_from_amount": start.amount,
                            "linear_to_att": end.attainment, "linear_to_amount": end.amount}
                for number, step in enumerate(component.steps, start=1):
                    steps.append({"plan_version_id": version_id, "component": component.name,
                                  "step": number, "at": step.at, "amount": step.amount,
                                  "share": step.share_of_target_incentive})
            if isinstance(component, Mbo):
                row |= {"max_amount": component.max_amount,
                        "share": component.share_of_target_incentive}
            components.append(row)
    return {
        PLAN_SETTINGS.name: pa.Table.from_pylist(settings, schema=PLAN_SETTINGS.schema),
        PLAN_MULTI_YEAR.name: pa.Table.from_pylist(multi_year, schema=PLAN_MULTI_YEAR.schema),
        PLAN_COMPONENTS.name: pa.Table.from_pylist(components, schema=PLAN_COMPONENTS.schema),
        PLAN_RATES.name: pa.Table.from_pylist(rates, schema=PLAN_RATES.schema),
        PLAN_BANDS.name: pa.Table.from_pylist(bands, schema=PLAN_BANDS.schema),
        PLAN_STEPS.name: pa.Table.from_pylist(steps, schema=PLAN_STEPS.schema),
    }


# --- expression helpers -------------------------------------------------------------------------

def _lit(value: Decimal | int | str | date | None, dtype: dt.DataType | str) -> ir.Value:
    return ibis.literal(value, type=dtype)


def _mul(amount: ir.Value, factor: ir.Value) -> ir.DecimalValue:
    """amount x factor, exact to 8 decimals (operands narrowed so no backend drops scale).

    A factor of exactly 1 returns the amount as it is, the same value without the product:
    narrowing a product back to 12 decimals is a 128-bit division on DuckDB (about 0.3 µs a
    value, some 50 times the multiplication), and most factors of a run are 1 (credit of 100 %,
    pay in the company currency). Backends evaluate only the branch a row takes."""
    factor = factor.cast(FACTOR)
    # Ibis types the product as WORK and would drop a plain cast to WORK, leaving the backend's
    # wider scale in place; the detour through decimal(38, 12) makes the narrowing explicit.
    product = (amount.cast(WORK) * factor).cast(WIDE).cast(WORK)
    return ibis.ifelse(factor == 1, amount.cast(WORK), product)


def _fmul(left: ir.Value, right: ir.Value) -> ir.DecimalValue:
    """factor x factor, to 12 decimals (`right` exactly 1: `left`, as `_mul`)."""
    left, right = left.cast(FACTOR), right.cast(FACTOR)
    product = (left * right).cast(WIDE).cast(FACTOR)
    return ibis.ifelse(right == 1, left, product)


def _text(value: ir.Value) -> ir.StringValue:
    """A value as JSON-safe text (quotes and backslashes escaped)."""
    text: ir.StringValue = value.cast(dt.string)
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _money_text(value: ir.Value) -> ir.StringValue:
    return value.cast(MONEY_TYPE).cast(dt.string)


def _pct_text(fraction: ir.Value) -> ir.StringValue:
    """0.065 -> "6.50%" (display only). x 100 as a whole number keeps the 12 decimals exact,
    so only the display's rounding to 2 decimals narrows the value."""
    shown = (fraction.cast(WORK) * _lit(Decimal(100), dt.Decimal(3, 0))).cast(MONEY_TYPE)
    return shown.cast(dt.string) + "%"


def _contains(listed: ir.StringValue, value: ir.StringValue) -> ir.BooleanValue:
    return (listed == "") | listed.contains("," + value + ",")


def _round(value: ir.DecimalValue, half_even: ir.BooleanValue) -> ir.DecimalValue:
    return ibis.ifelse(half_even, round_half_even(value, 2),
                       value.round(2).cast(MONEY_TYPE))


def _month(value: ir.DateValue) -> ir.DateValue:
    return value.truncate("M").cast(dt.date)


# --- credits -------------------------------------------------------------------------------------

@remembered
def raw_credits(bookings: ir.Table, splits: ir.Table, lines: ir.Table, rates: ir.Table,
                since: date, until: date, depth: int = MAX_DEPTH) -> ir.Table:
    """Every (booking, person, credit kind) before plans apply: owner, split, overlay and
    roll_up (with its level, up to `depth` levels: the most any plan of the run rolls up), the
    company-currency value of the booking (`company_amount`, amount x rate; `company_net`,
    net amount for partner deals x rate)."""
    window = bookings.filter((bookings.booked_on >= since) & (bookings.booked_on < until))
    window = window.mutate(month_start=_month(window.booked_on))
    company_amount = _mul(window.amount, rates.rate)
    valued = window.join(rates, ["currency", "month_start"]).select(
        *[window[c] for c in ("booking_id", "opportunity_id", "owner_id", "product_family",
                              "deal_type", "segment", "is_partner", "contract_years",
                              "booked_on", "amount", "currency")],
        company_amount=company_amount,
        company_net=ibis.ifelse(window.is_partner & window.net_amount.notnull(),
                                _mul(window.net_amount, rates.rate), company_amount),
    )
    revenue = splits.view().filter(ibis._.kind == "revenue")
    split_opps = revenue.select("opportunity_id").distinct().mutate(has_splits=True)
    valued = valued.left_join(split_opps, "opportunity_id").select(
        valued, has_splits=split_opps.has_splits.coalesce(False))
    common = [valued[c] for c in valued.columns]
    owner = valued.filter(valued.owner_id.notnull()).select(
        *common, person_id=valued.owner_id, credit_kind=_lit("owner", dt.string),
        percent=_lit(Decimal(100), PERCENT_TYPE), level=_lit(0, dt.int64))
    held = splits.select(sp_opportunity=splits.opportunity_id, sp_person=splits.person_id,
                         sp_kind=splits.kind, sp_percent=splits.percent)
    split_rows = valued.join(held, valued.opportunity_id == held.sp_opportunity).select(
        *common, person_id=held.sp_person,
        credit_kind=ibis.ifelse(held.sp_kind == "revenue", "split", "overlay"),
        percent=held.sp_percent.cast(PERCENT_TYPE), level=_lit(0, dt.int64))
    holders = owner.filter(~owner.has_splits).union(
        split_rows.filter(split_rows.credit_kind == "split"))
    climb = holders.select("booking_id", "booked_on", "percent", "person_id")
    if depth < 1:  # no plan of the run credits managers: no climb (a smaller query)
        return ibis.union(owner, split_rows)
    levels = []
    for level in range(1, min(depth, MAX_DEPTH) + 1):
        line = lines.view().filter(ibis._.manager_id.notnull())
        climb = climb.join(line, [
            climb.person_id == line.person_id, line.valid_from <= climb.booked_on,
            line.valid_to.isnull() | (line.valid_to > climb.booked_on),
        ]).select(climb.booking_id, climb.booked_on, climb.percent,
                  person_id=line.manager_id)
        levels.append(climb.mutate(level=_lit(level, dt.int64)))
    rolled = ibis.union(*levels).group_by(["booking_id", "person_id"]).aggregate(
        percent=ibis._.percent.sum().cast(PERCENT_TYPE), level=ibis._.level.min())
    roll_rows = valued.join(rolled, "booking_id").select(
        *common, person_id=rolled.person_id, credit_kind=_lit("roll_up", dt.string),
        percent=rolled.percent, level=rolled.level)
    return ibis.union(owner, split_rows, roll_rows)


def _credit_rule(credits: ir.Table) -> ir.StringValue:
    percent = credits.percent.cast(dt.Decimal(9, 2)).cast(dt.string) + "%"
    return ibis.cases(
        (credits.credit_kind == "owner", "owner of the booking: " + percent),
        (credits.credit_kind == "split", "revenue split of the opportunity: " + percent),
        (credits.credit_kind == "overlay", "overlay split (on top of revenue credit): "
         + percent),
        else_="roll-up to manager level " + credits.level.cast(dt.string)
        + " above the credited rep: " + percent,
    )


@remembered
def assignment_credits(raw: ir.Table, assignments: ir.Table, settings: ir.Table,
                       multi_year: ir.Table, period_start: date,
                       period_end: date) -> ir.Table:
    """Credits per assignment in force during the period: those of the period while it is in
    force (`in_period`) and the person's earlier credits of the plan year (for YTD measures),
    after the plan's crediting rules, with `credited` in the company currency."""
    live = assignments.filter(
        (assignments.valid_from < period_end)
        & (assignments.valid_to.isnull() | (assignments.valid_to > period_start)))
    live = live.join(settings, "plan_version_id")
    starts = ibis.greatest(live.valid_from, _lit(period_start, dt.date))
    ends = ibis.least(live.valid_to.coalesce(FAR_FUTURE), _lit(period_end, dt.date))
    live = live.mutate(run_start=starts, run_end=ends)
    joined = raw.join(live, [raw.person_id == live.person_id,
                             raw.booked_on >= live.year_start, raw.booked_on < live.run_end])
    kept = joined.filter(
        ((joined.credit_kind == "owner") & joined.owner & ~(joined.has_splits & joined.splits))
        | (joined.credit_kind.isin(["split", "overlay"]) & joined.splits)
        | ((joined.credit_kind == "roll_up") & (joined.level <= joined.roll_up_levels)))
    kept = kept.mutate(in_period=kept.booked_on >= kept.run_start)
    years = ibis.least(ibis.greatest(kept.contract_years, 1), MAX_CONTRACT_YEARS)
    kept = kept.mutate(years=years)
    with_years = kept.join(multi_year, [kept.plan_version_id == multi_year.plan_version_id,
                                        kept.years == multi_year.contract_years])
    net = with_years.is_partner & with_years.partner_net
    base = ibis.ifelse(net, _mul(with_years.company_net, 1 + with_years.partner_uplift),
                       with_years.company_amount)
    share = ibis.ifelse(with_years.percent == 100, _lit(Decimal(1), FACTOR),
                        _fmul(with_years.percent, _lit(Decimal("0.01"), FACTOR)))
    credited = _mul(_mul(base, with_years.percent_sum), share)
    return with_years.select(
        with_years.assignment_id, with_years.person_id, with_years.plan_version_id,
        with_years.booking_id, with_years.credit_kind, with_years.booked_on,
        with_years.percent, with_years.level, with_years.product_family,
        with_years.deal_type, with_years.segment, with_years.is_partner,
        with_years.amount, with_years.currency, with_years.in_period,
        with_years.half_even, with_years.plan_currency, credited=credited,
    )


@remembered
def component_credits(credits: ir.Table, components: ir.Table) -> ir.Table:
    """Credits counted by each commission or bookings-SPIFF component (its kinds, `where`,
    and for a SPIFF its window)."""
    parts = components.filter(components.kind.isin(["commission", "spiff"])
                              & (components.source == "bookings"))
    joined = credits.join(parts, "plan_version_id")
    matches = (
        joined.credit_kinds.contains("," + joined.credit_kind + ",")
        & _contains(joined.families, joined.product_family)
        & _contains(joined.deal_types, joined.deal_type)
        & _contains(joined.segments, joined.segment)
        & (joined.partner.isnull() | (joined.partner == joined.is_partner))
        & (joined.window_from.isnull() | (joined.booked_on >= joined.window_from))
        & (joined.window_to.isnull() | (joined.booked_on < joined.window_to))
    )
    # only the component's columns later steps read: this table has a row per credit and
    # component (3.4 million for a million order lines), so each column left out saves memory
    # and copying in every step that joins it
    kept = [*credits.columns, "component", "position", "kind", "measurement", "base_rate",
            "tier_basis", "tier_mode", "cap_line", "per_deal"]
    return joined.filter(matches).select(*kept)


# --- per assignment and component: sums, then exact ratios --------------------------------------

def _quota(quotas: ir.Table, periods: ir.Table, holder: str, ref: date) -> ir.Table:
    """(holder_id, start, end, kind, amount): the quota version in force on `ref` per period."""
    versions = quotas.filter((quotas.holder == holder) & (quotas.valid_from <= ref))
    ranked = versions.mutate(rank=ibis.row_number().over(ibis.window(
        group_by=[versions.holder_id, versions.period_id],
        order_by=[versions.valid_from.desc(), versions.version_id.desc()])))
    current = ranked.filter(ranked.rank == 0)
    return current.join(periods, "period_id").select(
        current.holder_id, periods.start, periods.end, periods.kind, current.amount)


@remembered
def component_sums(credits: ir.Table, counted: ir.Table, assignments: ir.Table,
                   settings: ir.Table, components: ir.Table, raw: ir.Table, lines: ir.Table,
                   quotas: ir.Table, periods: ir.Table, rates: ir.Table, period_start: date,
                   period_end: date, as_of: date) -> ir.Table:
    """One row per (assignment in force during the period, component of its plan): the sums
    and looked-up figures the ratios are made of (see the module docstring)."""
    ref = min(as_of, period_end - timedelta(days=1))
    live = assignments.filter(
        (assignments.valid_from < period_end)
        & (assignments.valid_to.isnull() | (assignments.valid_to > period_start)))
    live = live.join(settings, "plan_version_id").join(components, "plan_version_id")
    starts = ibis.greatest(live.valid_from, _lit(period_start, dt.date))
    ends = ibis.least(live.valid_to.coalesce(FAR_FUTURE), _lit(period_end, dt.date))
    live = live.mutate(days_in=(ends - starts).cast(dt.int64))

    own = counted.group_by(["assignment_id", "component"]).aggregate(
        credited_period=counted.credited.sum(where=counted.in_period),
        credited_prior=counted.credited.sum(where=~counted.in_period))
    plan_wide = credits.group_by("assignment_id").aggregate(
        all_period=credits.credited.sum(where=credits.in_period),
        all_prior=credits.credited.sum(where=~credits.in_period))

    person_quota = _quota(quotas, periods, "person", ref)
    period_quota = person_quota.filter((person_quota.start == period_start)
                                       & (person_quota.end == period_end)).select(
        quota_person=person_quota.holder_id, quota_period=person_quota.amount)
    in_year = person_quota.join(settings, [person_quota.start >= settings.year_start,
                                           person_quota.end <= settings.year_end])
    year_quota = in_year.group_by([in_year.holder_id, in_year.plan_version_id]).aggregate(
        quota_year=in_year.amount.max(where=(in_year.start == in_year.year_start)
                                      & (in_year.end == in_year.year_end)),
        quota_sum=in_year.amount.sum(where=in_year.kind == in_year.period_kind))

    team_quota = _quota(quotas, periods, "team", ref)
    team_in_year = team_quota.join(settings, [team_quota.start >= settings.year_start,
                                              team_quota.end <= settings.year_end])
    team_quotas = team_in_year.group_by([team_in_year.holder_id,
                                         team_in_year.plan_version_id]).aggregate(
        team_quota_period=team_in_year.amount.max(where=(team_in_year.start == period_start)
                                                  & (team_in_year.end == period_end)),
        team_quota_year=team_in_year.amount.max(
            where=(team_in_year.start == team_in_year.year_start)
            & (team_in_year.end == team_in_year.year_end)))

    revenue = raw.filter((raw.credit_kind == "split")
                         | ((raw.credit_kind == "owner") & ~raw.has_splits))
    member = revenue.join(lines, [
        revenue.person_id == lines.person_id, lines.team_id.notnull(),
        lines.valid_from <= revenue.booked_on,
        lines.valid_to.isnull() | (lines.valid_to > revenue.booked_on)])
    member = member.select(lines.team_id, revenue.booked_on, credited=_mul(
        revenue.company_amount, _fmul(revenue.percent, _lit(Decimal("0.01"), FACTOR))))
    member = member.join(settings, [member.booked_on >= settings.year_start])
    team_credit = member.group_by([member.team_id, member.plan_version_id]).aggregate(
        team_period=member.credited.sum(where=member.booked_on >= period_start),
        team_ytd=member.credited.sum())
    on_ref = lines.filter((lines.valid_from <= ref)
                          & (lines.valid_to.isnull() | (lines.valid_to > ref)))
    own_team = on_ref.select(team_person=on_ref.person_id, line_team_id=on_ref.team_id)

    month = _lit(date(period_start.year, period_start.month, 1), dt.date)
    payee_fx = rates.filter(rates.month_start == month).select(
        payee_currency=rates.currency, fx_payee=rates.rate)
    plan_fx = rates.filter(rates.month_start == month).select(
        fx_currency=rates.currency, fx_plan=rates.rate)

    # two join chains (one SQL join each) rather than a nested select per joined table: the
    # same rows, a much smaller expression to build and compile
    chain = live.left_join(own, [live.assignment_id == own.assignment_id,
                                 live.component == own.component]) \
        .left_join(plan_wide, live.assignment_id == plan_wide.assignment_id) \
        .left_join(period_quota, live.person_id == period_quota.quota_person) \
        .left_join(year_quota, [live.person_id == year_quota.holder_id,
                                live.plan_version_id == year_quota.plan_version_id]) \
        .left_join(own_team, live.person_id == own_team.team_person) \
        .left_join(payee_fx, live.currency == payee_fx.payee_currency) \
        .left_join(plan_fx, live.plan_currency == plan_fx.fx_currency)
    rows = chain.select(live, own.credited_period, own.credited_prior, plan_wide.all_period,
                        plan_wide.all_prior, period_quota.quota_period, year_quota.quota_year,
                        year_quota.quota_sum, own_team.line_team_id, payee_fx.fx_payee,
                        plan_fx.fx_plan)
    rows = rows.mutate(team_key=rows.team_id.coalesce(rows.line_team_id))
    rows = rows.left_join(team_quotas, [rows.team_key == team_quotas.holder_id,
                                        rows.plan_version_id == team_quotas.plan_version_id]) \
        .left_join(team_credit, [rows.team_key == team_credit.team_id,
                                 rows.plan_version_id == team_credit.plan_version_id]) \
        .select(rows, team_quotas.team_quota_period, team_quotas.team_quota_year,
                team_credit.team_period, team_credit.team_ytd)
    return rows.order_by(["assignment_id", "position"])


def _q(value: Decimal, places: Decimal = Q8) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_EVEN, context=EXACT)


def _div(numerator: Decimal, denominator: Decimal) -> Decimal:
    return EXACT.divide(numerator, denominator)


def _band_at(plan: Plan, name: str, position: Decimal | None,
             scale: Decimal | None) -> int | None:
    """1-based band of `name`'s tiers holding `position` (an amount) for retroactive tiers."""
    component = plan.component(name)
    tiers = getattr(component, "tiers", None)
    if tiers is None or position is None or scale is None:
        return None
    for number, band in enumerate(tiers.bands, start=1):
        if band.lower * scale <= position and (band.upper is None
                                               or position < band.upper * scale):
            return number
    return 1


def _money(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def component_factors(rows: list[dict[str, Any]], plans: Mapping[int, Plan],
                      period_days: int) -> list[dict[str, Any]]:
    """The exact ratios of each (assignment, component) row of `component_sums`, plus the
    measures shown to people; one Decimal computation per row (divisions live here only)."""
    out = []
    for row in rows:
        plan = plans[row["plan_version_id"]]
        prorate = (_div(Decimal(row["days_in"]), Decimal(period_days)) if row["prorate"]
                   else Decimal(1))
        ti_period = _div(Decimal(row["target_incentive"]) * prorate,
                         Decimal(row["periods_per_year"]))
        ytd = row["measurement"] in {"ytd", "plan_year"}
        team = row["subject"] == "team"
        if team:
            measured = _money(row["team_ytd"] if ytd else row["team_period"])
            quota = row["team_quota_year"] if ytd else row["team_quota_period"]
        elif row["kind"] == "bonus":
            measured = _money(row["all_period"]) + (_money(row["all_prior"]) if ytd else 0)
            quota = (row["quota_year"] or row["quota_sum"]) if ytd else row["quota_period"]
        else:
            measured = _money(row["credited_period"]) + (
                _money(row["credited_prior"]) if ytd else 0)
            quota = (row["quota_year"] or row["quota_sum"]) if ytd else row["quota_period"]
        quota_basis = None
        if quota is not None and Decimal(quota) > 0:
            # a person's period quota shrinks with the days in force; a team's does not
            quota_basis = Decimal(quota) * (prorate if not (ytd or team) else Decimal(1))
        attainment = _div(measured, quota_basis) if quota_basis else None
        fx_payee, fx_plan = row["fx_payee"], row["fx_plan"]
        to_payee = _div(Decimal(1), Decimal(fx_payee))
        plan_to_payee = _div(Decimal(fx_plan), Decimal(fx_payee))
        share = row["share"]
        share_rate = None
        if share is not None and quota_basis and row["kind"] == "commission":
            target = (Decimal(row["target_incentive"]) if ytd else ti_period)
            share_rate = _div(Decimal(share) * target, quota_basis)
        hold = ""
        uses_quota = row["kind"] in {"team", "bonus"} or row["tier_basis"] == "attainment" or (
            row["threshold"] is not None) or (share is not None and row["kind"] == "commission")
        if uses_quota and quota_basis is None:
            hold = ("no team quota for the period" if team else "no quota for the period") + (
                ": nothing is paid on attainment")
        elif row["threshold"] is not None and attainment is not None and (
                attainment < Decimal(row["threshold"])):
            hold = (f"attainment {percent_text(_q(attainment, Decimal('0.0001')))} is below "
                    f"the threshold {percent_text(Decimal(row['threshold']))}: nothing is paid")
        scale = (quota_basis if row["tier_basis"] == "attainment" else Decimal(1))
        final_band = prior_band = None
        if row["tier_mode"] == "retroactive" and row["kind"] == "commission":
            final_band = _band_at(plan, row["component"], measured, scale)
            prior_band = _band_at(plan, row["component"], _money(row["credited_prior"]), scale)
        out.append({
            **row, "prorate_factor": prorate, "ti_period": ti_period, "measured": measured,
            "quota_basis": quota_basis, "attainment": attainment,
            "factors": {
                "assignment_id": row["assignment_id"], "component": row["component"],
                "quota_basis": None if quota_basis is None else _q(quota_basis),
                "inv_quota": None if not quota_basis else _q(_div(Decimal(1), quota_basis), Q12),
                "to_payee": _q(to_payee, Q12), "plan_to_payee": _q(plan_to_payee, Q12),
                "share_rate": None if share_rate is None else _q(share_rate, Q12),
                "paying": hold == "", "hold_reason": hold, "final_band": final_band,
                "prior_band": prior_band, "payee_currency": row["currency"],
            },
        })
    return out


# --- earning lines on credits (set-based) --------------------------------------------------------

def _json_list(*steps: ir.StringValue) -> ir.StringValue:
    text: ir.StringValue = _lit('["', dt.string)
    for index, step in enumerate(steps):
        text = text + (step if index == 0 else '", "' + step)
    return text + '"]'


def _with_base_rate(c: ir.Table, rate_rules: ir.Table) -> ir.Table:
    """`c` (credits of components) with `rule_rate`: the rate of the first `rates` rule (lowest
    priority) matching the credit's product family, deal type and segment, else null."""
    key = ["assignment_id", "component", "booking_id", "credit_kind"]
    rules = c.join(rate_rules, [
        c.plan_version_id == rate_rules.plan_version_id, c.component == rate_rules.component,
        rate_rules.product_family.isnull() | (rate_rules.product_family == c.product_family),
        rate_rules.deal_type.isnull() | (rate_rules.deal_type == c.deal_type),
        rate_rules.segment.isnull() | (rate_rules.segment == c.segment),
    ]).select(*[c[k] for k in key], priority=rate_rules.priority, rule_rate=rate_rules.rate)
    rules = rules.mutate(rank=ibis.row_number().over(ibis.window(
        group_by=[rules[k] for k in key], order_by=rules.priority)))
    best = rules.filter(rules.rank == 0).drop("rank", "priority")
    return c.left_join(best, key).select(c, best.rule_rate)


@remembered
def placed_credits(counted: ir.Table, factors: ir.Table, rate_rules: ir.Table) -> ir.Table:
    """Per (assignment, component, credit of the period), keyed like `counted`: the measure
    before and after the credit (`cum_before`, `cum_after`: credits in booking order, year to
    date for `ytd`) and the rate of its first matching rate rule (`rule_rate`), with what the
    tier slices need of the credit (`credited`, `tier_mode`, `base_rate`). A narrow table,
    materialised once: the running sum over the key and order columns only costs a fraction of
    one over the wide rows, and `credit_line_amounts` reads it twice (for the lines, and alone
    for the slices of tiered credits, without the wide rows)."""
    key = ["assignment_id", "component", "booking_id", "credit_kind"]
    c = counted.join(factors, ["assignment_id", "component"])
    measured = c.in_period | (c.measurement == "ytd")
    narrow = c.select(*key, "in_period", "booked_on", measured_credit=ibis.ifelse(
        measured, c.credited, _lit(Decimal(0), WORK)))
    order = ibis.window(group_by=[narrow.assignment_id, narrow.component],
                        order_by=[narrow.in_period, narrow.booked_on, narrow.booking_id,
                                  narrow.credit_kind],
                        preceding=None, following=0)
    running = narrow.mutate(cum_after=narrow.measured_credit.sum().over(order).cast(WORK))
    running = running.filter(running.in_period)  # earlier credits only placed this period's
    running = running.select(*key, cum_after=running.cum_after, cum_before=(
        running.cum_after - running.measured_credit).cast(WORK))
    rated = c.filter(c.in_period).select(*key, "plan_version_id", "product_family",
                                         "deal_type", "segment", *SLICED)
    rated = _with_base_rate(rated, rate_rules)
    return running.join(rated, key).select(running, rated.rule_rate,
                                           *[rated[name] for name in SLICED])


SLICED = ("credited", "tier_mode", "base_rate")
"""The columns of a counted credit that `placed_credits` carries for the tier slices."""


def _factor_shapes(factors: ir.Table, assignments: ir.Table,
                   components: ir.Table) -> ir.Table:
    """`factors` (per assignment and component) with the component's plan definition."""
    shape = factors.join(assignments.select("assignment_id", "plan_version_id"),
                         "assignment_id")
    return shape.join(components, ["plan_version_id", "component"])


def _component_rates(factors: ir.Table, assignments: ir.Table,
                     components: ir.Table) -> ir.Table:
    """Per (assignment, component): the component's own rate in the payee currency
    (`base_payee_rate`: its `rate` x the conversion, else the rate from the target incentive)
    and its per-line cap in the payee currency (`line_cap_at`). A small table: no credit
    multiplies them again."""
    shape = _factor_shapes(factors, assignments, components)
    return shape.select(
        shape.assignment_id, shape.component,
        base_payee_rate=ibis.ifelse(shape.base_rate.notnull(),
                                    _fmul(shape.base_rate, shape.to_payee), shape.share_rate),
        line_cap_at=_mul(shape.cap_line, shape.plan_to_payee))


def _payee_rate(c: ir.Table) -> ir.DecimalValue:
    """A credit's rate in the payee currency: its rate rule's (`rule_rate`) converted, else
    the component's (`base_payee_rate` of `_component_rates`)."""
    return ibis.ifelse(c.rule_rate.notnull(), _fmul(c.rule_rate, c.to_payee),
                       c.base_payee_rate)


def _band_bounds(factors: ir.Table, bands: ir.Table, assignments: ir.Table,
                 components: ir.Table) -> ir.Table:
    """Per (assignment, component, band) of a tiered component: the band's bounds in the units
    of the measure (`lower_at`, `upper_at`: amounts, or attainment x the quota basis) and a
    fixed rate in the payee currency (`fixed_rate`; null for a multiplier band). A small table:
    no credit multiplies them again."""
    shape = _factor_shapes(factors, assignments, components)
    joined = shape.join(bands, ["plan_version_id", "component"])
    on_attainment = joined.tier_basis == "attainment"

    def at(bound: ir.DecimalValue) -> ir.DecimalValue:
        # an attainment bound is a fraction (a factor) of the quota basis; an amount bound is
        # the amount itself, whatever its size (a factor holds at most 8 integer digits)
        return ibis.ifelse(on_attainment, _mul(joined.quota_basis, bound), bound.cast(WORK))

    return joined.select(
        joined.assignment_id, joined.component, joined.band, joined.rate, joined.multiplier,
        has_upper=joined.upper.notnull(), lower_at=at(joined.lower), upper_at=at(joined.upper),
        fixed_rate=ibis.ifelse(joined.rate.notnull(), _fmul(joined.rate, joined.to_payee),
                               _lit(None, FACTOR)))


@remembered
def credit_line_amounts(counted: ir.Table, factors: ir.Table, placed: ir.Table,
                        bands: ir.Table, assignments: ir.Table,
                        components: ir.Table) -> ir.Table:
    """Per (assignment, component, credit of the period), the amount of its earning line:
    commission (rate rules, tiers, threshold, per-line cap) and bookings SPIFFs; `placed`
    is `placed_credits` of the same credits."""
    key = ["assignment_id", "component", "booking_id", "credit_kind"]
    period = counted.filter(counted.in_period)
    rates = _component_rates(factors, assignments, components)
    c = period.join(factors, ["assignment_id", "component"]).join(placed.drop(*SLICED), key)
    c = c.join(rates, ["assignment_id", "component"])
    c = c.mutate(company_rate=c.rule_rate.coalesce(c.base_rate), payee_rate=_payee_rate(c))
    scale = ibis.ifelse(c.tier_basis == "attainment", c.quota_basis,
                        _lit(Decimal(1), dt.Decimal(28, 8)))
    c = c.mutate(scale=scale)

    # the slices of tiered credits, from the narrow `placed` (not the wide rows of `c`)
    t = placed.filter(placed.tier_mode.notnull()).join(
        factors, ["assignment_id", "component"]).join(rates, ["assignment_id", "component"])
    t = t.mutate(company_rate=t.rule_rate.coalesce(t.base_rate), payee_rate=_payee_rate(t))
    b = _band_bounds(factors, bands, assignments, components)
    # a negative credit (a return) walks back down the bands it came up
    low = ibis.least(t.cum_before, t.cum_after)
    high = ibis.greatest(t.cum_before, t.cum_after)
    marginal = (t.tier_mode == "marginal") & (b.lower_at < high) & (
        ~b.has_upper | (b.upper_at > low))
    reached = (t.tier_mode == "retroactive") & (b.lower_at <= t.cum_after) & (
        ~b.has_upper | (b.upper_at > t.cum_after))
    sliced = t.join(b, [t.assignment_id == b.assignment_id, t.component == b.component,
                        marginal | reached])
    band_rate = ibis.ifelse(sliced.fixed_rate.notnull(), sliced.fixed_rate,
                            _fmul(sliced.payee_rate, sliced.multiplier))
    low = ibis.least(sliced.cum_before, sliced.cum_after)
    high = ibis.greatest(sliced.cum_before, sliced.cum_after)
    inside = (ibis.least(high, sliced.upper_at.coalesce(high))
              - ibis.greatest(low, sliced.lower_at)).cast(WORK)
    slice_amount = ibis.ifelse(
        sliced.tier_mode == "marginal",
        ibis.ifelse(sliced.credited < 0, (-inside).cast(WORK), inside),
        sliced.credited)
    paid_slice = _mul(slice_amount, band_rate)
    band_text = ("#" + sliced.band.cast(dt.string).lpad(2, "0") + " "
                 + _money_text(slice_amount) + " in band " + sliced.band.cast(dt.string)
                 + " at " + _pct_text(ibis.ifelse(sliced.rate.notnull(), sliced.rate,
                                                  _fmul(sliced.company_rate.coalesce(
                                                      sliced.payee_rate).coalesce(
                                                      _lit(Decimal(0), FACTOR)),
                                                      sliced.multiplier)))
                 + ibis.ifelse(sliced.multiplier.notnull(),
                               " (" + sliced.multiplier.cast(dt.Decimal(18, 4)).cast(dt.string)
                               + " x the base rate)", "")
                 + " = " + _money_text(paid_slice))
    sliced = sliced.mutate(slice_amount=paid_slice, band_text=band_text)
    key = ["assignment_id", "component", "booking_id", "credit_kind"]
    slices = sliced.group_by(key).aggregate(
        tiered_exact=sliced.slice_amount.sum(),
        tier=sliced.band.max(),
        band_texts=sliced.band_text.collect(),
    )
    lines = c.left_join(slices, key).select(c, slices.tiered_exact, slices.tier,
                                            slices.band_texts)
    plain = _mul(lines.credited, lines.payee_rate.coalesce(_lit(Decimal(0), FACTOR)))
    per_deal = _mul(_mul(lines.per_deal, lines.plan_to_payee),
                    _fmul(lines.percent, _lit(Decimal("0.01"), FACTOR)))
    exact = ibis.cases(
        (lines.per_deal.notnull(), per_deal),
        (lines.tier_mode.notnull(), lines.tiered_exact.coalesce(_lit(Decimal(0), WORK))),
        else_=plain)
    line_cap = lines.line_cap_at
    capped = ibis.ifelse(lines.cap_line.notnull() & (exact > line_cap), line_cap, exact)
    paid = ibis.ifelse(lines.paying, capped, _lit(Decimal(0), WORK))
    lines = lines.mutate(exact=exact, capped=capped, paid=paid, line_cap=line_cap,
                         band_text=lines.band_texts.sort().join("; ").re_replace(r"#\d\d ", ""))
    return lines.mutate(line_amount=_round(lines.paid.cast(WORK), lines.half_even)).drop(
        "band_texts")


def _attainment_after(lines: ir.Table) -> ir.DecimalValue:
    """Attainment after a credit: the measure (an amount, any size an amount may have) x
    1 / quota basis."""
    return _mul(lines.cum_after, lines.inv_quota.coalesce(_lit(Decimal(0), FACTOR)))


@remembered
def credit_line_output(lines: ir.Table) -> ir.Table:
    """The earning lines (with their traces) of the amounts `credit_line_amounts` computed
    (a separate, materialised step: the trace only refers to finished columns)."""
    amount = lines.line_amount
    line_cap = lines.line_cap
    # A credit lands in no band when there is nothing to place it on: tiers on attainment for a
    # person without a quota (e.g. a manager with roll-up credit but no personal quota; `scale`
    # is then null), or a measure outside every band (a return taking the total below zero).
    # The line then pays 0 and its trace says so instead of losing the step.
    no_band = ibis.ifelse(lines.scale.isnull(),
                          "no band applies (no quota, so no attainment to place this credit "
                          "on)", "no band applies (the measure is outside every band)")

    rate_step = ibis.cases(
        (lines.per_deal.notnull(), "SPIFF: " + _money_text(lines.per_deal) + " "
         + lines.plan_currency + " per deal x credit " + lines.percent.cast(
             dt.Decimal(9, 2)).cast(dt.string) + "%"),
        (lines.tier_mode.notnull(),
         "Tiers (" + lines.tier_mode + " on " + lines.tier_basis + "): "
         + lines.band_text.coalesce(no_band)),
        (lines.company_rate.notnull(), "Rate " + _pct_text(lines.company_rate)
         + ibis.ifelse(lines.rule_rate.notnull(), " (rate rule for this product family, "
                       "deal type or segment)", "")),
        else_="Rate from the target incentive: " + _pct_text(
            lines.payee_rate.coalesce(_lit(Decimal(0), FACTOR))) + " of credit",
    )
    position = ibis.ifelse(
        lines.tier_basis == "attainment",
        "Attainment after this credit ("
        + ibis.ifelse(lines.measurement == "ytd", "year to date", "this period") + "): "
        + _pct_text(_attainment_after(lines)),
        "Credited so far (" + ibis.ifelse(lines.measurement == "ytd", "year to date",
                                          "this period") + "): " + _money_text(lines.cum_after))
    notes = (ibis.ifelse(lines.cap_line.notnull() & (lines.exact > line_cap),
                         '", "Capped at ' + _money_text(line_cap) + " per line", "")
             + ibis.ifelse(~lines.paying, '", "' + _text(lines.hold_reason), ""))
    trace = _json_list(
        "Booking " + lines.booking_id.cast(dt.string) + " of "
        + lines.booked_on.cast(dt.string) + ": " + _money_text(lines.amount) + " "
        + _text(lines.currency) + " (" + _text(lines.product_family) + ", "
        + _text(lines.deal_type) + ", " + _text(lines.segment) + ")",
        "Credit rule: " + _text(_credit_rule(lines)),
        "Credited amount: " + _money_text(lines.credited) + " in the company currency",
        position,
        rate_step + notes,
        "Amount: " + _money_text(amount) + " " + lines.payee_currency,
    )
    return lines.select(
        person_id=lines.person_id, assignment_id=lines.assignment_id,
        plan_version_id=lines.plan_version_id, component=lines.component,
        position=lines.position,
        line_kind=ibis.ifelse(lines.kind == "spiff", "spiff", "commission"),
        booking_id=lines.booking_id, credit_kind=lines.credit_kind,
        credited_amount=lines.credited.cast(MONEY_TYPE),
        measure_value=ibis.ifelse(lines.tier_basis == "attainment",
                                  _attainment_after(lines).cast(dt.Decimal(28, 8)),
                                  lines.cum_after.cast(dt.Decimal(28, 8))),
        tier=lines.tier,
        rate=lines.company_rate.coalesce(lines.payee_rate).cast(dt.Decimal(18, 8)),
        amount=amount, currency=lines.payee_currency, trace=trace,
    )


@remembered
def credit_output(credits: ir.Table) -> ir.Table:
    """The credits of the period as `comp_credits` shows them, in key order (sorted by the
    backend, in parallel)."""
    period = credits.filter(credits.in_period)
    return period.select(
        "person_id", "assignment_id", "booking_id", "credit_kind", "booked_on", "percent",
        credited_amount=period.credited.cast(MONEY_TYPE), rule=_credit_rule(period),
    ).order_by(["person_id", "assignment_id", "booking_id", "credit_kind"])


@remembered
def retroactive_totals(counted: ir.Table, factors: ir.Table, rate_rules: ir.Table,
                       bands: ir.Table, assignments: ir.Table,
                       components: ir.Table) -> ir.Table:
    """Per (assignment, component) with retroactive tiers: the exact amount of every measured
    credit at the finally reached band (`final_exact`) and of the earlier credits of the year at
    the band reached at the previous period end (`prior_exact`), in the payee currency."""
    c = counted.join(factors, ["assignment_id", "component"])
    c = c.filter((c.tier_mode == "retroactive") & c.paying
                 & (c.in_period | (c.measurement == "ytd")))
    c = _with_base_rate(c, rate_rules)
    c = c.join(_component_rates(factors, assignments, components),
               ["assignment_id", "component"])
    c = c.mutate(payee_rate=_payee_rate(c))
    bounds = _band_bounds(factors, bands, assignments, components)

    def at_band(table: ir.Table, band_column: str) -> ir.Table:
        joined = table.join(bounds, [table.assignment_id == bounds.assignment_id,
                                     table.component == bounds.component,
                                     bounds.band == table[band_column]])
        rate = ibis.ifelse(joined.fixed_rate.notnull(), joined.fixed_rate,
                           _fmul(joined.payee_rate, joined.multiplier))
        return joined.select(joined.assignment_id, joined.component, joined.in_period,
                             value=_mul(joined.credited, rate))

    final = at_band(c, "final_band")
    prior = at_band(c.filter(~c.in_period), "prior_band")
    final_sums = final.group_by(["assignment_id", "component"]).aggregate(
        final_exact=final.value.sum())
    prior_sums = prior.group_by(["assignment_id", "component"]).aggregate(
        prior_exact=prior.value.sum())
    return final_sums.left_join(prior_sums, ["assignment_id", "component"]).select(
        final_sums.assignment_id, final_sums.component, final_sums.final_exact,
        prior_exact=prior_sums.prior_exact.coalesce(_lit(Decimal(0), WORK)))


@remembered
def manual_lines(manual: ir.Table, assignments: ir.Table, components: ir.Table,
                 payee: ir.Table, rates: ir.Table, period_start: date,
                 period_end: date) -> ir.Table:
    """Manager-entered amounts of the period (MBO, manual SPIFF, adjustments) as lines of the
    assignment in force on `earned_on`, converted to the payee currency."""
    live = assignments.join(payee, "assignment_id")
    ends = live.valid_to.coalesce(FAR_FUTURE)
    joined = manual.filter((manual.earned_on >= period_start)
                           & (manual.earned_on < period_end)).join(live, [
        manual.person_id == live.person_id, manual.earned_on >= live.valid_from,
        manual.earned_on < ends])
    month = _lit(date(period_start.year, period_start.month, 1), dt.date)
    fx = rates.filter(rates.month_start == month)
    joined = joined.join(fx, joined.currency == fx.currency).select(
        joined, fx_entered=fx.rate)
    joined = joined.left_join(components, [joined.plan_version_id == components.plan_version_id,
                                           joined.component == components.component]).select(
        joined, kind=components.kind, position=components.position,
        window_from=components.window_from, window_to=components.window_to)
    in_window = (joined.window_from.isnull() | (joined.earned_on >= joined.window_from)) & (
        joined.window_to.isnull() | (joined.earned_on < joined.window_to))
    line_kind = ibis.cases(
        ((joined.kind == "mbo"), "mbo"),
        ((joined.kind == "spiff") & in_window, "manual_spiff"),
        else_="manual_adjustment")
    exact = _mul(joined.amount, _fmul(joined.fx_entered, joined.to_payee))
    amount = _round(exact, joined.half_even)
    trace = _json_list(
        "Entered on " + joined.earned_on.cast(dt.string) + ": " + _money_text(joined.amount)
        + " " + _text(joined.currency) + " for " + _text(joined.component),
        "Reason: " + _text(joined.reason),
        "Amount: " + _money_text(amount) + " " + joined.payee_currency)
    return joined.select(
        person_id=joined.person_id, assignment_id=joined.assignment_id,
        plan_version_id=joined.plan_version_id, component=joined.component,
        position=joined.position.coalesce(999), line_kind=line_kind,
        booking_id=_lit(None, dt.int64), credit_kind=_lit(None, dt.string),
        credited_amount=_lit(None, MONEY_TYPE), measure_value=_lit(None, dt.Decimal(28, 8)),
        tier=_lit(None, dt.int64), rate=_lit(None, dt.Decimal(18, 8)), amount=amount,
        currency=joined.payee_currency, trace=trace)


# --- lines per assignment and component (few rows: one Decimal computation each) ---------------

def _rounded(value: Decimal, half_even: bool) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN if half_even
                          else ROUND_HALF_UP)


def _pct(value: Decimal | None) -> str:
    return "none" if value is None else percent_text(_q(value, Decimal("0.0001")))


def _team_factor(component: TeamComponent, attainment: Decimal) -> tuple[Decimal, int | None,
                                                                          list[str]]:
    """Attainment x multipliers: (factor, band, steps in words)."""
    if component.tiers is None:
        return attainment, None, []
    words, band_no = [], None
    if component.tiers.mode == "retroactive":
        for number, band in enumerate(component.tiers.bands, start=1):
            if band.lower <= attainment and (band.upper is None or attainment < band.upper):
                multiplier = band.multiplier or Decimal(0)
                return (attainment * multiplier, number,
                        [f"Band {number} reached: {_pct(attainment)} x {multiplier}"])
        return Decimal(0), None, []
    total = Decimal(0)
    for number, band in enumerate(component.tiers.bands, start=1):
        top = attainment if band.upper is None else min(attainment, band.upper)
        inside = top - band.lower
        if inside <= 0:
            continue
        multiplier = band.multiplier or Decimal(0)
        total += inside * multiplier
        band_no = number
        words.append(f"{_pct(inside)} of attainment in band {number} x {multiplier}")
    return total, band_no, words


def _bonus_amount(component: Bonus, attainment: Decimal, target: Decimal,
                  plan_to_payee: Decimal) -> tuple[Decimal, list[str]]:
    if component.linear is not None:
        start, end = component.linear
        if attainment < start.attainment:
            return Decimal(0), [f"Below {_pct(start.attainment)}: no bonus"]
        if attainment >= end.attainment:
            value = end.amount
        else:
            value = start.amount + _div((end.amount - start.amount)
                                        * (attainment - start.attainment),
                                        end.attainment - start.attainment)
        return value * plan_to_payee, [
            f"Linear from {start.amount} at {_pct(start.attainment)} to {end.amount} at "
            f"{_pct(end.attainment)}: {_q(value, Decimal('0.01'))} (plan currency)"]
    reached = [step for step in component.steps if attainment >= step.at]
    if not reached:
        return Decimal(0), [f"First step at {_pct(component.steps[0].at)} not reached"]
    step = reached[-1]
    if step.amount is not None:
        return step.amount * plan_to_payee, [
            f"Step at {_pct(step.at)} reached: {step.amount} (plan currency)"]
    share = step.share_of_target_incentive or Decimal(0)
    return share * target, [f"Step at {_pct(step.at)} reached: {_pct(share)} of the target "
                            f"incentive {_q(target, Decimal('0.01'))}"]


def _scalar_line(row: Mapping[str, Any], kind: str, amount: Decimal,
                 steps: list[str], measure: Decimal | None = None,
                 tier: int | None = None) -> dict[str, Any]:
    return {"person_id": row["person_id"], "assignment_id": row["assignment_id"],
            "plan_version_id": row["plan_version_id"], "component": row["component"],
            "position": row["position"], "line_kind": kind, "booking_id": None,
            "credit_kind": None, "credited_amount": None,
            "measure_value": None if measure is None else _q(measure),
            "tier": tier, "rate": None, "amount": amount, "currency": row["currency"],
            "trace": json.dumps([*steps, f"Amount: {amount} {row['currency']}"],
                                ensure_ascii=False)}


def component_lines(rows: list[dict[str, Any]], plans: Mapping[int, Plan],
                    totals: Mapping[tuple[int, str], Decimal],
                    retro: Mapping[tuple[int, str], tuple[Decimal, Decimal]],
                    prior_earnings: Mapping[tuple[int, str], Decimal],
                    period_end: date) -> list[dict[str, Any]]:
    """Team, bonus, retroactive true-up and cap lines, one computation per (assignment,
    component) row from `component_factors`."""
    out = []
    for row in rows:
        plan = plans[row["plan_version_id"]]
        component = plan.component(row["component"])
        factors = row["factors"]
        half_even = bool(row["half_even"])
        key = (row["assignment_id"], row["component"])
        attainment = row["attainment"]
        plan_to_payee = factors["plan_to_payee"]
        paid = totals.get(key, Decimal(0))
        if isinstance(component, Commission) and key in retro and factors["paying"]:
            final_exact, prior_exact = retro[key]
            true_up = (_rounded(final_exact, half_even) - _rounded(prior_exact, half_even)
                       - paid)
            band = factors["final_band"]
            bands = component.tiers.bands if component.tiers else ()
            # tiers on attainment place the measure as a share of quota; tiers on amount place
            # the credited amount itself (their bounds are amounts, not percentages)
            if component.tiers is not None and component.tiers.basis == "amount":
                scope = "year to date" if row["measurement"] == "ytd" else "this period"
                measure = row["measured"]
                reached = f"{_q(measure, Decimal('0.01'))} credited {scope}"
                lowest = (f"{_q(bands[band - 1].lower, Decimal('0.01'))} and above"
                          if band else "")
            else:
                measure = attainment
                reached = f"attainment {_pct(attainment)}"
                lowest = f"{_pct(bands[band - 1].lower)} and above" if band else ""
            steps = [f"Retroactive tiers: {reached} reached band {band}"
                     + (f" ({lowest})" if lowest else ""),
                     f"Every credit of the {'year' if row['measurement'] == 'ytd' else 'period'}"
                     f" at band {band}'s rate: {_rounded(final_exact, half_even)}",
                     f"Already paid on them: {_rounded(prior_exact, half_even) + paid}"]
            out.append(_scalar_line(row, "true_up", true_up, steps, measure, band))
            paid += true_up
        if isinstance(component, TeamComponent):
            steps = [f"Team {row['team_key']}: credited {_q(row['measured'], Decimal('0.01'))}"
                     f" of quota {row['quota_basis']} = {_pct(attainment)} attainment",
                     f"Target incentive for the period: {_q(row['ti_period'], Decimal('0.01'))}"
                     f" {row['currency']} x share {_pct(component.share_of_target_incentive)}"]
            amount = Decimal(0)
            band = None
            if factors["paying"] and attainment is not None:
                factor, band, words = _team_factor(component, attainment)
                steps += words
                amount = _rounded(component.share_of_target_incentive * row["ti_period"]
                                  * factor, half_even)
            else:
                steps.append(factors["hold_reason"])
            out.append(_scalar_line(row, "team", amount, steps, attainment, band))
            paid += amount
        if isinstance(component, Bonus):
            if component.measurement == "plan_year" and period_end != row["year_end"]:
                continue
            who = "Team" if component.on == "team" else "Individual"
            steps = [f"{who} attainment ({component.measurement.replace('_', ' ')}): "
                     f"{_pct(attainment)}"]
            amount = Decimal(0)
            if factors["paying"] and attainment is not None:
                target = (Decimal(row["target_incentive"]) if component.measurement != "period"
                          else row["ti_period"])
                value, words = _bonus_amount(component, attainment, target, plan_to_payee)
                steps += words
                amount = _rounded(value, half_even)
            else:
                steps.append(factors["hold_reason"])
            out.append(_scalar_line(row, "bonus", amount, steps, attainment))
            paid += amount
        caps = getattr(component, "caps", None)
        limit: Decimal | None = None
        words = []
        if caps is not None and caps.per_period is not None:
            limit = _rounded(caps.per_period * plan_to_payee, half_even)
            words.append(f"Cap per period: {limit} {row['currency']}")
        if caps is not None and caps.per_plan_year is not None:
            before = prior_earnings.get((row["person_id"], row["component"]), Decimal(0))
            room = max(_rounded(caps.per_plan_year * plan_to_payee, half_even) - before,
                       Decimal(0))
            words.append(f"Cap per plan year: {caps.per_plan_year} (plan currency), "
                         f"{before} earned earlier this year, room {room}")
            limit = room if limit is None else min(limit, room)
        if isinstance(component, Mbo) and (component.max_amount is not None
                                           or component.share_of_target_incentive is not None):
            mbo_cap = (_rounded(component.max_amount * plan_to_payee, half_even)
                       if component.max_amount is not None else
                       _rounded((component.share_of_target_incentive or Decimal(0))
                                * row["ti_period"], half_even))
            words.append(f"Most an objective pays this period: {mbo_cap}")
            limit = mbo_cap if limit is None else min(limit, mbo_cap)
        if limit is not None and paid > limit:
            out.append(_scalar_line(row, "cap", limit - paid,
                                    [f"Earned on {row['component']}: {paid}", *words]))
    return out


# --- the run -------------------------------------------------------------------------------------

def _checked_inputs(tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    inputs = {}
    for name in INPUTS:
        if name in tables:
            inputs[name] = conform(name, tables[name])
        elif name in OPTIONAL_INPUTS:
            inputs[name] = logical_table(name).empty()
        else:
            raise CompensationInputError([f"the table {name!r} is missing"])
    for name in ("comp_bookings", "comp_assignments", "exchange_rates", "periods",
                 "comp_manual_lines"):
        require_unique(name, inputs[name])
    return inputs


def _input_problems(backend: Backend, bound: Mapping[str, ir.Table],
                    plans: Mapping[int, Plan]) -> list[str]:
    problems = []
    assignments = bound["comp_assignments"]
    unknown = backend.execute(assignments.filter(
        ~assignments.plan_version_id.isin(sorted(plans)) if plans else ibis.literal(True)
    ).select("assignment_id", "plan_version_id").order_by("assignment_id"))
    problems += [f"assignment {r['assignment_id']} uses plan version {r['plan_version_id']}, "
                 "which was not given to the run" for r in unknown.to_pylist()]
    a, b = assignments, assignments.view()
    overlap = a.join(b, [a.person_id == b.person_id, a.assignment_id < b.assignment_id,
                         a.valid_from < b.valid_to.coalesce(FAR_FUTURE),
                         b.valid_from < a.valid_to.coalesce(FAR_FUTURE)]).select(
        person_id=a.person_id, first=a.assignment_id, second=b.assignment_id)
    problems += [f"person {r['person_id']} has assignments {r['first']} and {r['second']} "
                 "for overlapping dates; end one before the other starts"
                 for r in backend.execute(overlap.order_by(["person_id", "first", "second"]))
                 .to_pylist()]
    splits = bound["comp_splits"]
    revenue = splits.filter(splits.kind == "revenue").group_by("opportunity_id").aggregate(
        total=splits.percent.sum())
    wrong = revenue.filter(revenue.total != 100).order_by("opportunity_id")
    problems += [f"opportunity {r['opportunity_id']}: revenue splits add up to "
                 f"{r['total'].normalize():f}%, not 100% (declare extra credit as overlay)"
                 for r in backend.execute(wrong).to_pylist()]
    kinds = backend.execute(splits.filter(~splits.kind.isin(["revenue", "overlay"]))
                            .select("opportunity_id", "kind").order_by("opportunity_id"))
    problems += [f"opportunity {r['opportunity_id']}: split kind {r['kind']!r}; accepted: "
                 "revenue, overlay" for r in kinds.to_pylist()]
    return problems


def _missing_rates(backend: Backend, bound: Mapping[str, ir.Table], since: date,
                   period_start: date, period_end: date) -> None:
    bookings = bound["comp_bookings"]
    rates = bound["exchange_rates"]
    window = bookings.filter((bookings.booked_on >= since) & (bookings.booked_on < period_end))
    needed = window.group_by([window.currency, _month(window.booked_on).name("month_start")]) \
        .aggregate(booking_count=ibis._.count())
    month = date(period_start.year, period_start.month, 1)
    assignments = bound["comp_assignments"]
    settings = bound["comp_plan_settings"]
    payee = assignments.select(currency=assignments.currency.cast(dt.string)).union(
        settings.select(currency=settings.plan_currency.cast(dt.string)))
    payee = payee.distinct().mutate(month_start=_lit(month, dt.date),
                                    booking_count=_lit(0, dt.int64))
    needed = needed.select(currency=needed.currency.cast(dt.string),
                           month_start=needed.month_start,
                           booking_count=needed.booking_count.cast(dt.int64))
    missing = needed.union(payee).anti_join(rates, ["currency", "month_start"])
    found = backend.execute(missing.order_by(["currency", "month_start"])).to_pylist()
    if found:
        raise MissingExchangeRateError([MissingRate(r["currency"], r["month_start"],
                                                    int(r["booking_count"])) for r in found])


def compute_compensation(backend: Backend, tables: Mapping[str, pa.Table],
                         plans: Mapping[int, Plan], period_start: date, period_end: date,
                         as_of: date, *, with_payouts: bool = True,
                         sink: Sink | None = None) -> CompensationResult:
    """Credits, measures and earning lines of [period_start, period_end) (module docstring),
    then the payouts (comp-payouts' `compute_payouts`).

    `tables`: comp_bookings, comp_assignments, exchange_rates, periods (required);
    comp_splits, comp_manual_lines, comp_prior_earnings, perf_quota_versions,
    perf_reporting_lines (optional, empty when left out); for the payout run also the opening
    state comp_payout_balances, comp_payout_ledger (as of period_start), comp_payout_adjustments
    and comp_churn (optional). `plans`: every plan version the assignments use, by
    plan_version_id. Raises `SchemaError`/`DuplicateKeyError` for malformed tables,
    `CompensationInputError` (unknown plan versions, overlapping assignments, revenue splits not
    adding up to 100 %), `MissingExchangeRateError`, `PayoutInputError`. `with_payouts=False`
    skips the payout run (its four tables are then empty), e.g. for what-if estimates.

    With a `sink`, the four tables with a row per credit or line (credits, earning lines,
    payout lines: about 2 KB a line with their traces; the closing ledger, a row per part
    still open) are handed to it a batch at a time as the backend reads them, and come back
    empty: a run of millions of lines is stored without being held whole in memory. Without
    one they are collected and returned.
    """
    if period_end <= period_start:
        raise CompensationInputError([f"the period [{period_start}, {period_end}) is empty"])
    inputs = _checked_inputs(tables)
    params = plan_parameters(plans, period_start)
    bound = {name: backend.table(name, table) for name, table in {**inputs, **params}.items()}
    problems = _input_problems(backend, bound, plans)
    if problems:
        raise CompensationInputError(problems)
    since = min((plan_year(plan, period_start)[0] for plan in plans.values()),
                default=period_start)
    _missing_rates(backend, bound, since, period_start, period_end)

    # Only what the plans of the run use is built: each part of the expression costs time to
    # compile and plan even when it matches no row, and that fixed cost dominates small runs.
    depth = max((plan.crediting.roll_up_levels for plan in plans.values()), default=0)
    raw = raw_credits(bound["comp_bookings"], bound["comp_splits"],
                      bound["perf_reporting_lines"], bound["exchange_rates"], since, period_end,
                      depth)
    raw = backend.materialise("comp_work_raw_credits", raw)
    credits = backend.materialise("comp_work_credits", assignment_credits(
        raw, bound["comp_assignments"], bound["comp_plan_settings"],
        bound["comp_plan_multi_year"], period_start, period_end))
    # The credits each component counts: one table when the run's lines are computed in one
    # group; for a run computed a group of assignments at a time, each group's part is made
    # straight from the credits (the steps that read every group, the sums per component and
    # the retroactive totals, read through the expression: a join with the small table of
    # components and a filter), not copied out of a table of them all.
    counting = component_credits(credits, bound["comp_plan_components"])
    groups = assignment_groups(backend, counting, LINE_GROUP_ROWS)
    counted = (backend.materialise("comp_work_counted", counting) if len(groups) == 1
               else counting)
    sums = component_sums(credits, counted, bound["comp_assignments"],
                          bound["comp_plan_settings"], bound["comp_plan_components"], raw,
                          bound["perf_reporting_lines"], bound["perf_quota_versions"],
                          bound["periods"], bound["exchange_rates"], period_start, period_end,
                          as_of)
    rows = component_factors(backend.execute(sums).to_pylist(), plans,
                             (period_end - period_start).days)
    factors = backend.table(COMP_FACTORS.name, pa.Table.from_pylist(
        [row["factors"] for row in rows], schema=COMP_FACTORS.schema))
    per_assignment = factors.group_by("assignment_id").aggregate(
        to_payee=factors.to_payee.max(), payee_currency=factors.payee_currency.max())
    payee_expr = per_assignment.join(bound["comp_assignments"], "assignment_id").join(
        bound["comp_plan_settings"], "plan_version_id").select(
        "assignment_id", "to_payee", "payee_currency", "half_even")

    # The credit lines of a group of assignments at a time (each assignment's running sums
    # and bands need only its own credits): the windows and sorts of a group fit in the
    # engine's memory where those of a whole large run spill to disk.
    credit_lines: ir.Table | None = None
    # the totals of retroactive tiers per (assignment, component), each from its group's credits
    retro: dict[tuple[int, str], tuple[Decimal, Decimal]] = {}
    with_retro = any(isinstance(component, Commission) and component.tiers is not None
                     and component.tiers.mode == "retroactive"
                     for plan in plans.values() for component in plan.components)
    for low, high in groups:
        part = counted if len(groups) == 1 else backend.materialise(
            "comp_work_counted_part", counting.filter(counting.assignment_id.between(low, high)))
        placed = backend.materialise("comp_work_placed", placed_credits(
            part, factors, bound["comp_plan_rates"]))
        amounts = backend.materialise("comp_work_line_amounts", credit_line_amounts(
            part, factors, placed, bound["comp_plan_bands"], bound["comp_assignments"],
            bound["comp_plan_components"]))
        lines = credit_line_output(amounts)
        if with_retro:
            retro |= {(r["assignment_id"], r["component"]): (r["final_exact"], r["prior_exact"])
                      for r in backend.execute(retroactive_totals(
                          part, factors, bound["comp_plan_rates"], bound["comp_plan_bands"],
                          bound["comp_assignments"], bound["comp_plan_components"]))
                      .to_pylist()}
        credit_lines = (backend.materialise(CREDIT_LINES, lines) if credit_lines is None
                        else backend.append(CREDIT_LINES, credit_lines, lines))
    assert credit_lines is not None  # at least one group, maybe of no rows
    line_schema = credit_lines.schema().to_pyarrow()
    sums = backend.execute(line_sums(credit_lines))
    totals: dict[tuple[int, str], Decimal] = {
        (r["assignment_id"], r["component"]): r["amount"] for r in sums.to_pylist()}
    entered = pa.Table.from_pylist([], schema=line_schema)
    if inputs["comp_manual_lines"].num_rows:
        entered = backend.execute(manual_lines(bound["comp_manual_lines"],
                                               bound["comp_assignments"],
                                               bound["comp_plan_components"], payee_expr,
                                               bound["exchange_rates"], period_start,
                                               period_end)).cast(line_schema)
        for r in entered.select(["assignment_id", "component", "amount"]).to_pylist():
            key = (r["assignment_id"], r["component"])
            totals[key] = totals.get(key, Decimal(0)) + r["amount"]
    prior = inputs["comp_prior_earnings"]
    prior_grouped = prior.group_by(["person_id", "component"]).aggregate([("amount", "sum")])
    prior_earnings = {(r["person_id"], r["component"]): r["amount_sum"]
                      for r in prior_grouped.to_pylist()}
    scalar = pa.Table.from_pylist(
        component_lines(rows, plans, totals, retro, prior_earnings, period_end),
        schema=line_schema)
    register_logical_tables(LogicalTable(EXTRA_LINES, line_schema, ()))
    extra = backend.table(EXTRA_LINES, pa.concat_tables([entered, scalar]))
    earning = backend.materialise(EARNING_LINES, finished_lines(
        credit_lines, extra, period_start, period_end))
    _check_traces(backend, earning)
    collected = _Collected()  # stays empty when a sink takes the rows
    out = collected if sink is None else sink
    for name, expr, schema in (("credits", credit_output(credits), COMP_CREDITS.schema),
                               ("earning_lines", earning, COMP_EARNING_LINES.schema)):
        for batch in backend.batches(expr, schema=schema):
            out(name, batch)
    measures = _measures(rows)
    paid = (compute_payouts(backend, earning, {**tables, **inputs}, plans, period_start,
                            period_end, as_of, sink=out)
            if with_payouts else _no_payouts())
    return CompensationResult(credits=collected.table("credits", COMP_CREDITS.schema),
                              measures=measures,
                              earning_lines=collected.table("earning_lines",
                                                            COMP_EARNING_LINES.schema),
                              payouts=paid.payouts,
                              payout_lines=collected.table("payout_lines",
                                                           COMP_PAYOUT_LINES.schema),
                              balances=paid.balances,
                              ledger=collected.table("ledger", COMP_PAYOUT_LEDGER.schema))


Sink = Callable[[str, pa.RecordBatch], None]
"""Where a run's four tables of a row per credit or line go, a batch at a time, in their
canonical order: `sink("credits" | "earning_lines" | "payout_lines" | "ledger", batch)`."""


class _Collected:
    """The sink of a run that returns its tables whole: the batches, kept by table."""

    def __init__(self) -> None:
        self.batches: dict[str, list[pa.RecordBatch]] = {}

    def __call__(self, name: str, batch: pa.RecordBatch) -> None:
        self.batches.setdefault(name, []).append(batch)

    def table(self, name: str, schema: pa.Schema) -> pa.Table:
        return pa.Table.from_batches(self.batches.get(name, []), schema=schema)


EXTRA_LINES = "comp_work_extra_lines"  # manual and per-component lines, made in Python
CREDIT_LINES = "comp_work_credit_lines"  # the lines of credits, all groups of assignments
LINE_GROUP_ROWS = 4_000_000
"""Counted credits (a row per credit and component; about 3.4 per order line) whose lines are
computed together. A run of 1,000,000 order lines is one group; 10,000,000 are about nine."""


def assignment_groups(backend: Backend, counted: ir.Table, limit: int) -> list[tuple[int, int]]:
    """Ranges [low, high] of assignment ids, in order, each holding about `limit` rows of
    `counted` (one assignment with more is a group of its own); one range covering every
    assignment when all fit in one."""
    sizes = backend.execute(counted.group_by("assignment_id").aggregate(
        rows=counted.count()).order_by("assignment_id")).to_pylist()
    if sum(size["rows"] for size in sizes) <= limit:
        return [(sizes[0]["assignment_id"], sizes[-1]["assignment_id"])] if sizes else [(0, 0)]
    groups: list[tuple[int, int]] = []
    low, held = sizes[0]["assignment_id"], 0
    for index, size in enumerate(sizes):
        if held and held + size["rows"] > limit:
            groups.append((low, sizes[index - 1]["assignment_id"]))
            low, held = size["assignment_id"], 0
        held += size["rows"]
    groups.append((low, sizes[-1]["assignment_id"]))
    return groups
EARNING_LINES = "comp_work_earning_lines"  # the run's earning lines, read by the payout run


@remembered
def line_sums(lines: ir.Table) -> ir.Table:
    """The amount of the lines per (assignment, component)."""
    return lines.group_by(["assignment_id", "component"]).aggregate(
        amount=lines.amount.sum())


@remembered
def finished_lines(credit_lines: ir.Table, extra: ir.Table, period_start: date,
                   period_end: date) -> ir.Table:
    """All earning lines of the period (`credit_lines` and the `extra` lines made in Python)
    with their stable `line_key` (assignment:component:line kind:booking:credit kind), in the
    canonical order, sorted by the backend."""
    lines = ibis.union(credit_lines, extra.cast(credit_lines.schema()))
    kind_order = ibis.cases(*[(lines.line_kind == kind, index)
                              for index, kind in enumerate(LINE_KIND_ORDER)],
                            else_=_lit(None, dt.int64))
    line_key = (lines.assignment_id.cast(dt.string) + ":" + lines.component + ":"
                + lines.line_kind + ":" + lines.booking_id.cast(dt.string).coalesce("") + ":"
                + lines.credit_kind.coalesce(""))
    lines = lines.mutate(kind_order=kind_order, line_key=line_key,
                         period_start=_lit(period_start, dt.date),
                         period_end=_lit(period_end, dt.date))
    order = ["person_id", "assignment_id", "position", "kind_order", "booking_id",
             "credit_kind", "line_key"]
    return lines.order_by([ibis.asc(column, nulls_first=False) for column in order]).select(
        COMP_EARNING_LINES.schema.names)


def _check_traces(backend: Backend, lines: ir.Table) -> None:
    """An engine fault when an earning line has no trace (every piece of a trace is
    coalesced; say which lines if not)."""
    untraced = lines.filter(lines.trace.isnull())
    count = backend.execute(untraced.count().name("lines").as_table()).column(0)[0].as_py()
    if count:
        missing = backend.execute(untraced.limit(5)).to_pylist()
        shown = "; ".join(f"person {r['person_id']}, {r['component']} {r['line_kind']} line"
                          + (f" on booking {r['booking_id']}" if r["booking_id"] else "")
                          for r in missing)
        raise EngineError(f"{count} earning lines have no trace "
                          f"(an engine fault, please report it): {shown}")


def _measures(rows: list[dict[str, Any]]) -> pa.Table:
    out = []
    for row in rows:
        values = {"credited_period": row["credited_period"] if row["kind"] != "bonus"
                  else row["all_period"],
                  "measured": row["measured"], "quota_basis": row["quota_basis"],
                  "attainment": row["attainment"],
                  "target_incentive_period": row["ti_period"]}
        if row["subject"] == "team":
            values |= {"team_credited": row["team_ytd"] if row["measurement"] != "period"
                       else row["team_period"]}
        out += [{"person_id": row["person_id"], "assignment_id": row["assignment_id"],
                 "component": row["component"], "measure": name, "value": _q(Decimal(value))}
                for name, value in values.items() if value is not None]
    table = pa.Table.from_pylist(out, schema=COMP_MEASURES.schema)
    return table.sort_by([("person_id", "ascending"), ("assignment_id", "ascending"),
                          ("component", "ascending"), ("measure", "ascending")])


def _no_payouts() -> PayoutResult:
    return PayoutResult(lines=COMP_PAYOUT_LINES.empty(), payouts=COMP_PAYOUTS.empty(),
                        balances=COMP_PAYOUT_BALANCES.empty(), ledger=COMP_PAYOUT_LEDGER.empty())


__all__ = [
    "CompensationInputError", "CompensationResult", "component_factors", "component_lines",
    "component_sums", "compute_compensation", "credit_line_amounts", "credit_line_output",
    "placed_credits", "plan_parameters", "plan_year",
    "raw_credits",
]
