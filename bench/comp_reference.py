"""A straightforward row-by-row Python reference of the compensation run, for the benchmark.

What a spreadsheet-minded engineer would write: look-up dictionaries for the small tables, then
one loop over the order lines in booking order (booking day, booking id) with `Decimal`
arithmetic — credit each line (owner or revenue splits, overlay splits, roll-up to the managers
on the booking day), value it in the company currency, and for each plan component that counts
the credit pay it on the spot: base rate or first matching rate rule or the rate from the target
incentive, marginal tiers on the running total, retroactive tiers at the band reached, per-line
caps, rounding each line to cents once. Afterwards, per assignment and component: thresholds,
retroactive true-ups, team components and bonuses on attainment, manager-entered lines, and
period / plan-year / objective caps. It reads the same Arrow inputs and the same `Plan`s as the
engine and returns each person's total pay in their currency, which the benchmark compares with
the engine's to the cent.

It covers the plan features the benchmark's plans use (see bench/comp_data.py): one assignment
per person in force for the whole plan year, no proration, no earlier locked periods (plan-year
caps start from zero). Intermediate products are held to 12 decimals as the engine's are
(rounded half away from zero, as DuckDB's decimal casts do); divisions at 60 digits.
Not part of the engine (nothing in `src/` may loop over rows like this).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

import pyarrow as pa

from attain.engine.compensation.plans import (
    Bonus,
    Commission,
    Mbo,
    Plan,
    Spiff,
    TeamComponent,
)

EXACT = Context(prec=60)
Q12 = Decimal("0.000000000001")
Q8 = Decimal("0.00000001")
CENT = Decimal("0.01")
ZERO = Decimal(0)
ONE = Decimal(1)
PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


LOOP = Context(prec=60, rounding=ROUND_HALF_UP)  # the loop's context (products stay exact)


def q12(value: Decimal) -> Decimal:
    """An intermediate product as the engine holds it: 12 decimals, half away from zero (in the
    loop's context, set by `Reference.run`: passing it per call costs three times as much)."""
    return value.quantize(Q12)


def cents(value: Decimal, half_even: bool) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN if half_even else ROUND_HALF_UP,
                          context=EXACT)


def divide(numerator: Decimal, denominator: Decimal) -> Decimal:
    return EXACT.divide(numerator, denominator)


@dataclass
class Part:
    """What one (assignment, component) gathers during the loop."""

    component: Any
    plan: Plan
    credited_period: Decimal = ZERO
    credited_prior: Decimal = ZERO
    running: Decimal = ZERO  # measured credit so far, in booking order
    paid_lines: Decimal = ZERO  # sum of the rounded credit lines (before the threshold)
    at_band: list[Decimal] = field(default_factory=list)  # retroactive: every credit per band
    prior_at_band: list[Decimal] = field(default_factory=list)
    manual: Decimal = ZERO
    # fixed before the loop
    quota_basis: Decimal | None = None
    share_rate: Decimal | None = None


@dataclass
class Assignment:
    assignment_id: int
    person_id: int
    plan: Plan
    target: Decimal
    currency: str
    team_id: int | None
    to_payee: Decimal = ZERO
    plan_to_payee: Decimal = ZERO
    all_period: Decimal = ZERO
    all_prior: Decimal = ZERO
    parts: dict[str, Part] = field(default_factory=dict)


class Reference:
    def __init__(self, tables: Mapping[str, pa.Table], plans: Mapping[int, Plan],
                 period_start: date, period_end: date, as_of: date) -> None:
        self.start, self.end = period_start, period_end
        self.ref = min(as_of, period_end - timedelta(days=1))
        self.plans = plans
        self.year_start = {v: date(period_start.year if period_start.month
                                   >= p.plan_year_start_month else period_start.year - 1,
                                   p.plan_year_start_month, 1) for v, p in plans.items()}
        self.since = min(self.year_start.values())
        self.rates = {(r["currency"], r["month_start"]): r["rate"]
                      for r in tables["exchange_rates"].to_pylist()}
        self.lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in tables["perf_reporting_lines"].to_pylist():
            self.lines[r["person_id"]].append(r)
        self.revenue: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
        self.overlay: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
        for r in tables["comp_splits"].to_pylist():
            (self.revenue if r["kind"] == "revenue" else self.overlay)[r["opportunity_id"]] \
                .append((r["person_id"], r["percent"]))
        self.quotas = self._quotas(tables)
        self.periods = {r["period_id"]: r for r in tables["periods"].to_pylist()}
        self.depth = max(p.crediting.roll_up_levels for p in plans.values())
        self.team_period: dict[int, Decimal] = defaultdict(Decimal)
        self.team_ytd: dict[int, Decimal] = defaultdict(Decimal)
        month = date(period_start.year, period_start.month, 1)
        self.assignments: dict[int, Assignment] = {}
        for r in tables["comp_assignments"].to_pylist():
            if r["valid_from"] >= period_end or (r["valid_to"] and r["valid_to"] <= period_start):
                continue
            plan = plans[r["plan_version_id"]]
            a = Assignment(r["assignment_id"], r["person_id"], plan, r["target_incentive"],
                           r["currency"], r["team_id"])
            fx_payee = self.rates[(a.currency, month)]
            a.to_payee = divide(ONE, fx_payee).quantize(Q12, ROUND_HALF_EVEN, EXACT)
            a.plan_to_payee = divide(self.rates[(plan.currency, month)], fx_payee).quantize(
                Q12, ROUND_HALF_EVEN, EXACT)
            for component in plan.components:
                a.parts[component.name] = self._part(a, component)
            if a.person_id in self.assignments:
                raise ValueError(f"person {a.person_id}: one assignment a period, please")
            self.assignments[a.person_id] = a
        self.manual = tables["comp_manual_lines"].to_pylist()

    # --- look-ups ---

    def _quotas(self, tables: Mapping[str, pa.Table]) -> dict[tuple[str, int, int], Decimal]:
        """(holder, holder id, period id) -> amount of the version in force on the ref day."""
        best: dict[tuple[str, int, int], tuple[date, int, Decimal]] = {}
        for r in tables["perf_quota_versions"].to_pylist():
            if r["valid_from"] > self.ref:
                continue
            key = (r["holder"], r["holder_id"], r["period_id"])
            rank = (r["valid_from"], r["version_id"], r["amount"])
            if key not in best or rank[:2] > best[key][:2]:
                best[key] = rank
        return {key: value[2] for key, value in best.items()}

    def quota_of(self, holder: str, holder_id: int | None, start: date,
                 end: date) -> Decimal | None:
        for period_id, p in self.periods.items():
            if p["start"] == start and p["end"] == end:
                found = self.quotas.get((holder, holder_id or 0, period_id))
                if found is not None:
                    return found
        return None

    def line_on(self, person: int, day: date) -> dict[str, Any] | None:
        for line in self.lines.get(person, ()):
            if line["valid_from"] <= day and (line["valid_to"] is None or line["valid_to"] > day):
                return line
        return None

    def _part(self, a: Assignment, component: Any) -> Part:
        part = Part(component, a.plan)
        year_start = self.year_start[self._version(a)]
        year_end = date(year_start.year + 1, year_start.month, 1)
        ytd = getattr(component, "measurement", "period") in {"ytd", "plan_year"}
        if isinstance(component, TeamComponent) or (isinstance(component, Bonus)
                                                     and component.on == "team"):
            team = a.team_id if a.team_id is not None else (
                (self.line_on(a.person_id, self.ref) or {}).get("team_id"))
            a.team_id = team
            quota = self.quota_of("team", team, year_start, year_end) if ytd else \
                self.quota_of("team", team, self.start, self.end)
        elif ytd:
            quota = self.quota_of("person", a.person_id, year_start, year_end)
            if quota is None:
                quota = self._quota_sum(a, year_start, year_end)
        else:
            quota = self.quota_of("person", a.person_id, self.start, self.end)
        if quota is not None and quota > 0:
            part.quota_basis = quota
        if isinstance(component, Commission) and component.share_of_target_incentive \
                is not None and part.quota_basis:
            target = a.target if ytd else self.period_target(a)
            part.share_rate = divide(component.share_of_target_incentive * target,
                                     part.quota_basis).quantize(Q12, ROUND_HALF_EVEN, EXACT)
        tiers = getattr(component, "tiers", None)
        if tiers is not None and tiers.mode == "retroactive":
            part.at_band = [ZERO] * len(tiers.bands)
            part.prior_at_band = [ZERO] * len(tiers.bands)
        return part

    def _quota_sum(self, a: Assignment, year_start: date, year_end: date) -> Decimal | None:
        found = [amount for (holder, holder_id, period_id), amount in self.quotas.items()
                 if holder == "person" and holder_id == a.person_id
                 and self.periods[period_id]["kind"] == a.plan.period
                 and self.periods[period_id]["start"] >= year_start
                 and self.periods[period_id]["end"] <= year_end]
        return sum(found, ZERO) if found else None

    def _version(self, a: Assignment) -> int:
        return next(v for v, p in self.plans.items() if p is a.plan)

    def period_target(self, a: Assignment) -> Decimal:
        return divide(a.target, Decimal(PER_YEAR[a.plan.period]))

    # --- the loop over order lines ---

    def run(self, bookings: pa.Table, only: set[int] | None = None) -> dict[int, Decimal]:
        """Each person's total pay of the period (payee currency); with `only`, the lines are
        still all read and credited (team totals need them) but paid for those people only."""
        order = bookings.sort_by([("booked_on", "ascending"), ("booking_id", "ascending")])
        names = ["booking_id", "opportunity_id", "owner_id", "product_family", "deal_type",
                 "segment", "is_partner", "net_amount", "contract_years", "booked_on", "amount",
                 "currency"]
        with localcontext(LOOP):
            for batch in order.select(names).to_batches(max_chunksize=100_000):
                for row in zip(*(batch.column(n).to_pylist() for n in names), strict=True):
                    if self.since <= row[9] < self.end:
                        self.book(*row, only=only)
            self.enter_manual(only)
        return {a.person_id: self.finish(a) for a in self.assignments.values()
                if only is None or a.person_id in only}

    def book(self, booking_id: int, opportunity_id: int | None, owner_id: int | None,
             family: str, deal_type: str, segment: str, is_partner: bool,
             net_amount: Decimal | None, contract_years: int, booked_on: date,
             amount: Decimal, currency: str, only: set[int] | None) -> None:
        rate = self.rates[(currency, date(booked_on.year, booked_on.month, 1))]
        company_amount = q12(amount * rate)
        company_net = q12((net_amount if net_amount is not None else amount) * rate)
        splits = self.revenue.get(opportunity_id, []) if opportunity_id is not None else []
        owner = [(owner_id, Decimal(100), "owner")] if owner_id is not None else []
        split = [(p, pct, "split") for p, pct in splits]
        holders = split or owner  # who holds the revenue credit (teams, roll-up)
        credits = [(p, pct, kind, 0) for p, pct, kind in owner + split]
        credits += [(p, pct, "overlay", 0) for p, pct in self.overlay.get(opportunity_id, [])]
        rolled: dict[int, list[Any]] = {}
        for person, pct, _kind in holders:
            line = self.line_on(person, booked_on)
            if line is not None and line["team_id"] is not None:
                credit = q12(company_amount * q12(pct * CENT))
                self.team_ytd[line["team_id"]] += credit
                if booked_on >= self.start:
                    self.team_period[line["team_id"]] += credit
            for level in range(1, self.depth + 1):
                if line is None or line["manager_id"] is None:
                    break
                manager = line["manager_id"]
                if manager in rolled:
                    rolled[manager][0] += pct
                    rolled[manager][1] = min(rolled[manager][1], level)
                else:
                    rolled[manager] = [pct, level]
                line = self.line_on(manager, booked_on)
        credits += [(p, pct, "roll_up", level) for p, (pct, level) in rolled.items()]
        credits.sort(key=lambda c: c[2])
        in_period = booked_on >= self.start
        for person, pct, kind, level in credits:
            a = self.assignments.get(person)
            if a is None:
                continue
            crediting = a.plan.crediting
            if kind == "owner":
                kept = crediting.owner and not (splits and crediting.splits)
            elif kind in ("split", "overlay"):
                kept = crediting.splits
            else:
                kept = level <= crediting.roll_up_levels
            if not kept:
                continue
            if is_partner and crediting.partner_basis == "net":
                base = q12(company_net * (ONE + crediting.partner_uplift))
            else:
                base = company_amount
            years = min(max(contract_years, 1), 10)
            percents = crediting.multi_year_percents
            percent_sum = sum(percents[:years], ZERO) if percents else ONE
            credited = q12(q12(base * percent_sum) * q12(pct * CENT))
            if in_period:
                a.all_period += credited
            else:
                a.all_prior += credited
            if only is not None and person not in only:
                continue
            for component in a.plan.components:
                if isinstance(component, Commission) or (
                        isinstance(component, Spiff) and component.source == "bookings"):
                    if kind not in component.credits:
                        continue
                    where = component.where
                    if (where.product_families and family not in where.product_families) or (
                            where.deal_types and deal_type not in where.deal_types) or (
                            where.segments and segment not in where.segments) or (
                            where.partner is not None and where.partner != is_partner):
                        continue
                    if isinstance(component, Spiff) and not (
                            component.starts_on <= booked_on < component.ends_on):
                        continue
                    self.pay(a, a.parts[component.name], credited, pct, in_period, family,
                             deal_type, segment)

    def pay(self, a: Assignment, part: Part, credited: Decimal, pct: Decimal, in_period: bool,
            family: str, deal_type: str, segment: str) -> None:
        """One credit of one component: its line, at once (threshold applied at the end)."""
        component = part.component
        ytd = getattr(component, "measurement", "period") == "ytd"
        if in_period:
            part.credited_period += credited
        else:
            part.credited_prior += credited
        if not (in_period or ytd):
            return
        before = part.running
        part.running = after = before + credited
        tiers = getattr(component, "tiers", None)
        rate = component.rate
        for rule in getattr(component, "rates", ()):
            if (rule.product_family in (None, family) and rule.deal_type in (None, deal_type)
                    and rule.segment in (None, segment)):
                rate = rule.rate
                break
        payee_rate = q12(rate * a.to_payee) if rate is not None else part.share_rate
        scale = part.quota_basis if tiers is not None and tiers.basis == "attainment" else ONE
        if tiers is not None and tiers.mode == "retroactive" and scale is not None:
            for index, band in enumerate(tiers.bands):
                band_rate = (q12(band.rate * a.to_payee) if band.rate is not None
                             else None if payee_rate is None else q12(band.multiplier
                                                                      * payee_rate))
                value = q12(credited * band_rate) if band_rate is not None else ZERO
                part.at_band[index] += value
                if not in_period:
                    part.prior_at_band[index] += value
        if not in_period:
            return
        if isinstance(component, Spiff) and component.amount_per_deal is not None:
            exact = q12(q12(component.amount_per_deal * a.plan_to_payee) * q12(pct * CENT))
        elif tiers is not None:
            exact = ZERO
            low, high = min(before, after), max(before, after)
            for band in (tiers.bands if scale is not None else ()):
                lower = q12(scale * band.lower)
                upper = None if band.upper is None else q12(scale * band.upper)
                band_rate = (q12(band.rate * a.to_payee) if band.rate is not None
                             else None if payee_rate is None else q12(band.multiplier
                                                                      * payee_rate))
                if tiers.mode == "marginal":
                    if not (lower < high and (upper is None or upper > low)):
                        continue
                    inside = min(high, high if upper is None else upper) - max(low, lower)
                    piece = -inside if credited < 0 else inside
                else:
                    if not (lower <= after and (upper is None or upper > after)):
                        continue
                    piece = credited
                if band_rate is not None:
                    exact += q12(piece * band_rate)
        else:
            exact = q12(credited * (payee_rate if payee_rate is not None else ZERO))
        cap = component.caps.per_line
        if cap is not None and exact > q12(cap * a.plan_to_payee):
            exact = q12(cap * a.plan_to_payee)
        part.paid_lines += cents(exact, a.plan.rounding == "half_even")

    def enter_manual(self, only: set[int] | None) -> None:
        month = date(self.start.year, self.start.month, 1)
        for r in self.manual:
            a = self.assignments.get(r["person_id"])
            if a is None or not (self.start <= r["earned_on"] < self.end) or (
                    only is not None and a.person_id not in only):
                continue
            fx = q12(self.rates[(r["currency"], month)] * a.to_payee)
            amount = cents(q12(r["amount"] * fx), a.plan.rounding == "half_even")
            if r["component"] not in a.parts:  # a manual adjustment: its own line
                a.parts[r["component"]] = Part(None, a.plan)
            a.parts[r["component"]].manual += amount

    # --- per assignment and component, after the loop ---

    def finish(self, a: Assignment) -> Decimal:
        half_even = a.plan.rounding == "half_even"
        total = ZERO
        for part in a.parts.values():
            component = part.component
            if component is None:
                total += part.manual
                continue
            ytd = getattr(component, "measurement", "period") in {"ytd", "plan_year"}
            team = isinstance(component, TeamComponent) or (isinstance(component, Bonus)
                                                            and component.on == "team")
            if team:
                measured = self.team_ytd.get(a.team_id, ZERO) if ytd else \
                    self.team_period.get(a.team_id, ZERO)
            elif isinstance(component, Bonus):
                measured = a.all_period + (a.all_prior if ytd else ZERO)
            else:
                measured = part.credited_period + (part.credited_prior if ytd else ZERO)
            attainment = divide(measured, part.quota_basis) if part.quota_basis else None
            tiers = getattr(component, "tiers", None)
            threshold = getattr(component, "threshold", None)
            share = getattr(component, "share_of_target_incentive", None)
            uses_quota = isinstance(component, TeamComponent | Bonus) or (
                tiers is not None and tiers.basis == "attainment") or threshold is not None or (
                share is not None and isinstance(component, Commission))
            paying = not ((uses_quota and part.quota_basis is None) or (
                threshold is not None and attainment is not None and attainment < threshold))
            earned = part.manual
            if isinstance(component, Commission | Spiff) and paying:
                earned += part.paid_lines
                if tiers is not None and tiers.mode == "retroactive":
                    scale = part.quota_basis if tiers.basis == "attainment" else ONE
                    final = self.band_at(tiers, measured, scale)
                    prior = self.band_at(tiers, part.credited_prior, scale)
                    # the lines at the band reached after each, then the true-up to the
                    # final band: together, every credit at the final band's rate
                    earned = (cents(part.at_band[final - 1], half_even)
                              - cents(part.prior_at_band[prior - 1], half_even))
            elif isinstance(component, TeamComponent) and paying and attainment is not None:
                earned += cents(component.share_of_target_incentive * self.period_target(a)
                                * self.team_factor(component, attainment), half_even)
            elif isinstance(component, Bonus) and paying and attainment is not None:
                if component.measurement == "plan_year" and self.end != date(
                        self.year_start[self._version(a)].year + 1,
                        self.year_start[self._version(a)].month, 1):
                    continue
                earned += cents(self.bonus(a, component, attainment), half_even)
            total += self.capped(a, component, earned, half_even)
        return total

    @staticmethod
    def band_at(tiers: Any, position: Decimal, scale: Decimal) -> int:
        for number, band in enumerate(tiers.bands, start=1):
            if band.lower * scale <= position and (band.upper is None
                                                   or position < band.upper * scale):
                return number
        return 1

    @staticmethod
    def team_factor(component: TeamComponent, attainment: Decimal) -> Decimal:
        if component.tiers is None:
            return attainment
        if component.tiers.mode == "retroactive":
            for band in component.tiers.bands:
                if band.lower <= attainment and (band.upper is None or attainment < band.upper):
                    return attainment * (band.multiplier or ZERO)
            return ZERO
        total = ZERO
        for band in component.tiers.bands:
            inside = (attainment if band.upper is None else min(attainment, band.upper)) \
                - band.lower
            if inside > 0:
                total += inside * (band.multiplier or ZERO)
        return total

    def bonus(self, a: Assignment, component: Bonus, attainment: Decimal) -> Decimal:
        target = a.target if component.measurement != "period" else self.period_target(a)
        if component.linear is not None:
            start, end = component.linear
            if attainment < start.attainment:
                return ZERO
            value = end.amount if attainment >= end.attainment else start.amount + divide(
                (end.amount - start.amount) * (attainment - start.attainment),
                end.attainment - start.attainment)
            return value * a.plan_to_payee
        reached = [step for step in component.steps if attainment >= step.at]
        if not reached:
            return ZERO
        if reached[-1].amount is not None:
            return reached[-1].amount * a.plan_to_payee
        return (reached[-1].share_of_target_incentive or ZERO) * target

    def capped(self, a: Assignment, component: Any, earned: Decimal, half_even: bool) -> Decimal:
        caps = getattr(component, "caps", None)
        limit = None
        if caps is not None and caps.per_period is not None:
            limit = cents(caps.per_period * a.plan_to_payee, half_even)
        if caps is not None and caps.per_plan_year is not None:
            room = max(cents(caps.per_plan_year * a.plan_to_payee, half_even), ZERO)
            limit = room if limit is None else min(limit, room)
        if isinstance(component, Mbo) and (component.max_amount is not None
                                           or component.share_of_target_incentive is not None):
            most = (cents(component.max_amount * a.plan_to_payee, half_even)
                    if component.max_amount is not None else
                    cents(component.share_of_target_incentive * self.period_target(a),
                          half_even))
            limit = most if limit is None else min(limit, most)
        return limit if limit is not None and earned > limit else earned


def reference_totals(tables: Mapping[str, pa.Table], plans: Mapping[int, Plan],
                     period_start: date, period_end: date, as_of: date,
                     only: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Each person's total pay of [period_start, period_end), computed row by row."""
    reference = Reference(tables, plans, period_start, period_end, as_of)
    return reference.run(tables["comp_bookings"], None if only is None else set(only))


__all__ = ["Reference", "reference_totals"]
