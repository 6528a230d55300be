"""Deterministic inputs of the compensation benchmark: an organisation of `people` people with a
realistic plan mix and `lines` credited order lines, as the engine's Arrow input tables.

The organisation (ids in this order): 1 % directors, 9 % first-line managers (each leads a
team), 20 % SDRs and 70 % account executives (AEs) reporting to the managers, the managers to
the directors. Plans (the shipped examples, `examples/*.yaml`):

- AEs (plan 1): `ae-quota-plan-75-25.yaml` — 75 % of target incentive on individual attainment
  with marginal accelerators (1x / 1.5x / 2x), a renewal rate rule, a 25 % threshold, per-line
  and plan-year caps, 25 % on team attainment (retroactive multipliers, period cap), a quarterly
  step bonus, multi-year and partner-net crediting; its SPIFF window moved to the benchmarked
  quarter (25 per Security new-business line) so that it pays;
- SDRs (plan 2): `sdr-plan.yaml` made quarterly (tiers and cap x 3): overlay credit on the deals
  they sourced, marginal tiers on amount; manager-entered meeting objectives (MBO, capped) and a
  manual SPIFF;
- managers and directors (plan 3): `manager-overlay-plan.yaml` — roll-up credit two levels up
  the hierarchy, year-to-date retroactive tiers against the annual quota with a decelerator,
  team component, team-goal bonus, objectives (MBO entered by managers, capped).

Order lines: four per opportunity, booked between 1 January and 30 June 2027 (the run is Q2
2027, so the first half feeds the year-to-date measures), owned by AEs with a skewed spread (5 %
ramping AEs sell little and stay below the threshold); 5 % of opportunities split 60/40 between
two AEs, 25 % with an SDR overlay split; currencies USD/EUR/GBP/AUD with monthly rates; payees in
USD, EUR or GBP; 8 % partner deals, 20 % multi-year. Quotas are set from what each AE sells
(x 0.7 to 1.4), so attainment spreads both sides of 100 %. Arrays are built with numpy: 10
million lines take seconds.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from attain.engine.compensation.examples import example_plan_texts
from attain.engine.compensation.plans import Plan, parse_plan
from attain.engine.compensation.schemas import (
    COMP_ASSIGNMENTS,
    COMP_BOOKINGS,
    COMP_MANUAL_LINES,
    COMP_SPLITS,
)
from attain.engine.schemas import EXCHANGE_RATES, PERF_QUOTA_VERSIONS, PERF_REPORTING_LINES, PERIODS
from tests.engine.compensation_factories import PERIOD_ROWS, Q2, YEAR, assignment, quota

PERIOD = Q2  # the benchmarked run: Q2 2027
AS_OF = date(2027, 6, 30)
FIRST_DAY = YEAR[0]
DAYS = (PERIOD[1] - FIRST_DAY).days  # bookings from 1 January to 30 June
LINES_PER_OPPORTUNITY = 4
CURRENCIES = ("USD", "EUR", "GBP", "AUD")
MONTHLY_RATES = {"EUR": ("1.0834", "0.0041"), "GBP": ("1.2710", "0.0029"),
                 "AUD": ("0.6612", "-0.0018")}  # first month's rate, change per month
FAMILIES = ("Core", "Security", "Analytics", "Services")
DEAL_TYPES = ("new", "expansion", "renewal")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
AE_PLAN, SDR_PLAN, MANAGER_PLAN = 1, 2, 3
EPOCH = date(1970, 1, 1)


def _edited(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        if old not in text:
            raise ValueError(f"example plan changed: {old!r} not found")
        text = text.replace(old, new)
    return text


def bench_plans() -> dict[int, Plan]:
    """The three plans by plan_version_id (see the module docstring)."""
    texts = example_plan_texts()
    ae = _edited(texts["ae-quota-plan-75-25.yaml"],
                 ("from: 2027-01-01\n    to: 2027-04-01", "from: 2027-04-01\n    to: 2027-07-01"),
                 ("amount_per_deal: 500", "amount_per_deal: 25"))
    sdr = _edited(texts["sdr-plan.yaml"], ("period: month", "period: quarter"),
                  ("{from: 0, to: 50000,", "{from: 0, to: 150000,"),
                  ("{from: 50000,", "{from: 150000,"), ("per_period: 6000", "per_period: 18000"),
                  ("from: 2027-03-01\n    to: 2027-04-01", "from: 2027-05-01\n    to: 2027-06-01"))
    return {AE_PLAN: parse_plan(ae), SDR_PLAN: parse_plan(sdr),
            MANAGER_PLAN: parse_plan(texts["manager-overlay-plan.yaml"])}


def _money(cents: np.ndarray) -> pa.Array:
    """int64 cents -> decimal128(18, 2) without a Python object per value."""
    words = np.empty((len(cents), 2), np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # the high word of the two's-complement 128-bit value
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])


def _dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    offset = (FIRST_DAY - EPOCH).days
    return pa.array(days.astype(np.int32) + offset, pa.int32(), mask=mask).cast(pa.date32())


def _round_to(values: np.ndarray, step: int) -> np.ndarray:
    return np.maximum(step, np.round(values / step) * step).astype(np.int64)


class Organisation:
    """Who is who: ids by role and each person's manager (numpy index arrays)."""

    def __init__(self, people: int) -> None:
        self.directors = max(1, people // 100)
        self.managers = max(1, people // 10 - self.directors)
        self.sdrs = people // 5
        self.aes = people - self.directors - self.managers - self.sdrs
        if self.aes < 2:
            raise ValueError(f"{people} people are too few for the plan mix (need 20 or more)")
        self.director_ids = np.arange(1, self.directors + 1)
        self.manager_ids = np.arange(self.directors + 1, self.directors + self.managers + 1)
        first_ae = self.directors + self.managers + 1
        self.ae_ids = np.arange(first_ae, first_ae + self.aes)
        self.sdr_ids = np.arange(first_ae + self.aes, first_ae + self.aes + self.sdrs)
        # AE a and SDR s report to manager a % managers (s % managers); manager m to director
        # m % directors; a manager's team id is the manager's person id
        self.ae_manager = self.manager_ids[np.arange(self.aes) % self.managers]
        self.sdr_manager = self.manager_ids[np.arange(self.sdrs) % self.managers]
        self.manager_director = self.director_ids[np.arange(self.managers) % self.directors]


def comp_inputs(people: int, lines: int, seed: int = 2027) -> dict[str, pa.Table]:
    """The engine's input tables (comp_bookings, comp_splits, comp_assignments,
    comp_manual_lines, exchange_rates, periods, perf_quota_versions, perf_reporting_lines)."""
    rng = np.random.default_rng(seed)
    org = Organisation(people)
    opportunities = -(-lines // LINES_PER_OPPORTUNITY)

    # --- opportunities, in booking order (booking ids grow with the booking day) ---
    opp_day = np.sort(rng.integers(0, DAYS, opportunities))
    weight = rng.lognormal(0.0, 0.5, org.aes)
    ramping = rng.random(org.aes) < 0.05
    weight[ramping] *= 0.15
    cumulative = np.cumsum(weight)
    opp_owner = np.searchsorted(cumulative, rng.random(opportunities) * cumulative[-1])
    opp_owner = np.minimum(opp_owner, org.aes - 1)  # index into org.ae_ids
    opp_currency = rng.choice(4, opportunities, p=[0.6, 0.2, 0.1, 0.1])
    opp_deal = rng.choice(3, opportunities, p=[0.5, 0.3, 0.2])
    opp_segment = rng.integers(0, 3, opportunities)
    opp_partner = rng.random(opportunities) < 0.08
    opp_years = rng.choice([1, 2, 3], opportunities, p=[0.8, 0.12, 0.08])

    # --- order lines ---
    opp = np.arange(lines) // LINES_PER_OPPORTUNITY
    day = opp_day[opp]
    cents = (rng.lognormal(7.3, 0.8, lines) * 100).astype(np.int64) + 100
    partner = opp_partner[opp]
    net_cents = np.round(cents * 0.8).astype(np.int64)
    invoiced = day + rng.integers(5, 30, lines)
    paid = invoiced + rng.integers(20, 60, lines)
    unpaid = rng.random(lines) < 0.2
    cancelled = rng.random(lines) < 0.003
    bookings = pa.table({
        "booking_id": pa.array(np.arange(1, lines + 1), pa.int64()),
        "opportunity_id": pa.array(opp + 1, pa.int64()),
        "owner_id": pa.array(org.ae_ids[opp_owner[opp]], pa.int64()),
        "product_id": pa.array(rng.integers(1, 501, lines), pa.int64()),
        "product_family": pa.DictionaryArray.from_arrays(
            pa.array(rng.choice(4, lines, p=[0.5, 0.2, 0.2, 0.1]).astype(np.int8)),
            pa.array(FAMILIES)).cast(pa.string()),
        "deal_type": pa.DictionaryArray.from_arrays(
            pa.array(opp_deal[opp].astype(np.int8)), pa.array(DEAL_TYPES)).cast(pa.string()),
        "segment": pa.DictionaryArray.from_arrays(
            pa.array(opp_segment[opp].astype(np.int8)), pa.array(SEGMENTS)).cast(pa.string()),
        "is_partner": pa.array(partner),
        "net_amount": pa.Array.from_buffers(
            pa.decimal128(18, 2), lines,
            [pa.array(partner).buffers()[1], _money(net_cents).buffers()[1]]),
        "contract_years": pa.array(opp_years[opp], pa.int64()),
        "booked_on": _dates(day),
        "invoiced_on": _dates(invoiced),
        "paid_on": _dates(paid, unpaid),
        "cancelled_on": _dates(day + 20, ~cancelled),
        "amount": _money(cents),
        "currency": pa.DictionaryArray.from_arrays(
            pa.array(opp_currency[opp].astype(np.int8)), pa.array(CURRENCIES)).cast(pa.string()),
        "quantity": pa.array(rng.integers(1, 6, lines), pa.int64()),
    }).cast(COMP_BOOKINGS.schema)

    # --- splits: 5 % of opportunities 60/40 between two AEs, 25 % with an SDR overlay ---
    split_opps = np.flatnonzero(rng.random(opportunities) < 0.05)
    other = (opp_owner[split_opps] + 1 + rng.integers(0, org.aes - 1, len(split_opps))) % org.aes
    overlay_opps = np.flatnonzero(rng.random(opportunities) < 0.25)
    team = opp_owner[overlay_opps] % org.managers  # the owner's manager (index)
    sdr = team + org.managers * rng.integers(0, max(1, org.sdrs // org.managers),
                                             len(overlay_opps))
    overlay_opps, sdr = overlay_opps[sdr < org.sdrs], sdr[sdr < org.sdrs]
    split_rows = len(split_opps)
    splits = pa.table({
        "opportunity_id": pa.array(np.concatenate([split_opps, split_opps, overlay_opps]) + 1,
                                   pa.int64()),
        "person_id": pa.array(np.concatenate([org.ae_ids[opp_owner[split_opps]],
                                              org.ae_ids[other], org.sdr_ids[sdr]]), pa.int64()),
        "percent": pa.array([Decimal(60)] * split_rows + [Decimal(40)] * split_rows
                            + [Decimal(100)] * len(overlay_opps), pa.decimal128(9, 4)),
        "kind": pa.array(["revenue"] * (2 * split_rows) + ["overlay"] * len(overlay_opps)),
    }).cast(COMP_SPLITS.schema)

    return {
        "comp_bookings": bookings,
        "comp_splits": splits,
        "comp_assignments": _assignments(org, rng),
        "comp_manual_lines": _manual_lines(org, rng),
        "exchange_rates": _rates(),
        "periods": pa.Table.from_pylist(PERIOD_ROWS, schema=PERIODS.schema),
        "perf_quota_versions": _quotas(org, rng, bookings),
        "perf_reporting_lines": _reporting_lines(org),
    }


def _assignments(org: Organisation, rng: np.random.Generator) -> pa.Table:
    payee = rng.choice(["USD", "EUR", "GBP"], org.aes + org.sdrs + org.managers + org.directors,
                       p=[0.7, 0.2, 0.1])
    rows = []
    for person in org.director_ids:
        rows.append(assignment(int(person), int(person), MANAGER_PLAN, "120000"))
    for person in org.manager_ids:
        rows.append(assignment(int(person), int(person), MANAGER_PLAN, "80000",
                               team_id=int(person)))
    targets = rng.choice(["40000", "50000", "60000", "80000"], org.aes)
    for person, target in zip(org.ae_ids, targets, strict=True):
        rows.append(assignment(int(person), int(person), AE_PLAN, str(target)))
    for person in org.sdr_ids:
        rows.append(assignment(int(person), int(person), SDR_PLAN, "24000"))
    for row in rows:
        row["currency"] = str(payee[row["person_id"] - 1])
    return pa.Table.from_pylist(rows, schema=COMP_ASSIGNMENTS.schema)


def _reporting_lines(org: Organisation) -> pa.Table:
    since = date(2026, 1, 1)
    rows: list[dict[str, Any]] = [
        {"person_id": int(p), "manager_id": None, "team_id": None, "valid_from": since,
         "valid_to": None} for p in org.director_ids]
    rows += [{"person_id": int(p), "manager_id": int(d), "team_id": None, "valid_from": since,
              "valid_to": None} for p, d in zip(org.manager_ids, org.manager_director,
                                                strict=True)]
    for ids, managers in ((org.ae_ids, org.ae_manager), (org.sdr_ids, org.sdr_manager)):
        rows += [{"person_id": int(p), "manager_id": int(m), "team_id": int(m),
                  "valid_from": since, "valid_to": None} for p, m in zip(ids, managers,
                                                                          strict=True)]
    return pa.Table.from_pylist(rows, schema=PERF_REPORTING_LINES.schema)


def _quotas(org: Organisation, rng: np.random.Generator, bookings: pa.Table) -> pa.Table:
    """Quarter quotas of AEs (Q1, Q2) from what they sell x 0.7..1.4 (ramping AEs get a typical
    quota), year quotas of AEs, managers and directors, quarter quotas of teams."""
    owner = bookings.column("owner_id").to_numpy() - org.ae_ids[0]
    booked = bookings.column("booked_on").cast(pa.int32()).to_numpy() - (FIRST_DAY - EPOCH).days
    value = np.asarray(bookings.column("amount").cast(pa.float64()))
    in_q2 = booked >= (PERIOD[0] - FIRST_DAY).days
    sold = {1: np.bincount(owner[~in_q2], value[~in_q2], org.aes),
            2: np.bincount(owner[in_q2], value[in_q2], org.aes)}
    typical = {q: np.median(s) for q, s in sold.items()}
    stretch = rng.uniform(0.7, 1.4, org.aes)
    ae_quota = {q: _round_to(np.where(s < typical[q] / 3, typical[q], s * stretch), 1000)
                for q, s in sold.items()}
    ae_year = ae_quota[1] + ae_quota[2] + 2 * _round_to(ae_quota[2] * 1.05, 1000)
    rows, version = [], 0

    def add(holder_id: int, period_id: int, amount: float, holder: str = "person") -> None:
        nonlocal version
        version += 1
        rows.append(quota(version, holder_id, period_id, f"{int(amount)}", holder))

    for index, person in enumerate(org.ae_ids):
        add(int(person), 1, ae_quota[1][index])
        add(int(person), 2, ae_quota[2][index])
        add(int(person), 10, ae_year[index])
    team_of_ae = org.ae_manager - org.manager_ids[0]
    manager_year = np.round(np.bincount(team_of_ae, ae_year, org.managers) * 0.85)
    for q in (1, 2):
        team_quota = np.bincount(team_of_ae, ae_quota[q], org.managers)
        for index, manager in enumerate(org.manager_ids):
            add(int(manager), q, team_quota[index], "team")
    for index, manager in enumerate(org.manager_ids):
        add(int(manager), 10, manager_year[index])
    director_of = org.manager_director - org.director_ids[0]
    director_year = np.bincount(director_of, manager_year, org.directors)
    for index, director in enumerate(org.director_ids):
        add(int(director), 10, director_year[index])
    return pa.Table.from_pylist(rows, schema=PERF_QUOTA_VERSIONS.schema)


def _rates() -> pa.Table:
    rows = []
    for month in range(1, 13):
        start = date(2027, month, 1)
        rows.append({"currency": "USD", "month_start": start, "rate": Decimal(1)})
        for currency, (first, step) in MONTHLY_RATES.items():
            rows.append({"currency": currency, "month_start": start,
                         "rate": Decimal(first) + Decimal(step) * (month - 1)})
    return pa.Table.from_pylist(rows, schema=EXCHANGE_RATES.schema)


def _manual_lines(org: Organisation, rng: np.random.Generator) -> pa.Table:
    """Manager-entered amounts of Q2 (USD): every SDR's meeting objectives (500..2,500, capped
    by the plan at 1,500), a manual SPIFF for one SDR in ten, every manager's and director's
    objectives (2,000..6,000, capped at 20 % of the quarter's target incentive)."""
    rows = []

    def add(person: int, component: str, earned_on: date, amount: int, entered_by: int) -> None:
        rows.append({"manual_line_id": len(rows) + 1, "person_id": person,
                     "component": component, "earned_on": earned_on,
                     "amount": Decimal(amount), "currency": "USD",
                     "reason": f"{component}: Q2 2027 review", "entered_by_id": entered_by})

    meetings = rng.integers(5, 26, org.sdrs) * 100
    blitz = rng.random(org.sdrs) < 0.1
    for index, person in enumerate(org.sdr_ids):
        manager = int(org.sdr_manager[index])
        add(int(person), "Qualified meetings", date(2027, 6, 15), int(meetings[index]), manager)
        if blitz[index]:
            add(int(person), "Outbound blitz", date(2027, 5, 20), 300, manager)
    objectives = rng.integers(20, 61, org.managers + org.directors) * 100
    leaders = np.concatenate([org.director_ids, org.manager_ids])
    for index, person in enumerate(leaders):
        add(int(person), "Objectives", date(2027, 6, 20), int(objectives[index]), 1)
    return pa.Table.from_pylist(rows, schema=COMP_MANUAL_LINES.schema)


__all__ = ["AS_OF", "PERIOD", "Organisation", "bench_plans", "comp_inputs"]
