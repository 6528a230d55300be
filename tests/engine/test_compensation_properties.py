"""Properties of the compensation run (Hypothesis). Each example is one engine run over many
people at once, so a property is checked across many amounts per run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attain.engine.backends import connect
from attain.engine.compensation.calculation import compute_compensation
from attain.engine.compensation.plans import parse_plan
from tests.engine.compensation_factories import Q1, assignment, booking, quota, tables

AS_OF = date(2027, 3, 31)


def tiered(mode: str, cap: str = "") -> str:
    return f"""\
plan: Property plan
currency: USD
period: quarter
components:
  - name: C
    kind: commission
    tiers:
      basis: attainment
      mode: {mode}
      bands:
        - {{from: "0%", to: "50%", rate: "2%"}}
        - {{from: "50%", to: "100%", rate: "5%"}}
        - {{from: "100%", rate: "9%"}}
{cap}"""


amounts = st.lists(st.integers(min_value=1, max_value=90_000).map(lambda n: Decimal(n) / 4),
                   min_size=1, max_size=4)


def earnings(lines: list[dict], person: int) -> Decimal:
    return sum((r["amount"] for r in lines if r["person_id"] == person), Decimal(0))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deals=st.lists(amounts, min_size=1, max_size=5), extra=st.integers(1, 50_000))
def test_pay_never_falls_when_credit_rises_and_retroactive_pays_at_least_marginal(
        deals: list[list[Decimal]], extra: int) -> None:
    """For each generated list of deals, four people: marginal plan (p, and p + 1 with one more
    deal of `extra`), retroactive plan (q, q + 1 likewise). Rates rise with attainment and
    nothing decelerates, so: pay(p + 1) >= pay(p), pay(q + 1) >= pay(q), pay(q) >= pay(p) (to
    within the per-line rounding of the marginal lines)."""
    bookings, assignments, quotas = [], [], []
    next_id = iter(range(1, 10_000))
    for index, deal_list in enumerate(deals):
        base = 100 * index
        for offset, plan_id in ((0, 1), (1, 1), (2, 2), (3, 2)):
            person = base + offset
            assignments.append(assignment(person, person, plan_version_id=plan_id))
            quotas.append(quota(person, person, 1, "100000"))
            for day, value in enumerate(deal_list, start=1):
                bookings.append(booking(next(next_id), person, str(value), date(2027, 1, day)))
            if offset in (1, 3):
                bookings.append(booking(next(next_id), person, str(extra), date(2027, 3, 1)))
    plans = {1: parse_plan(tiered("marginal")), 2: parse_plan(tiered("retroactive"))}
    with connect("duckdb") as backend:
        result = compute_compensation(backend, tables(bookings, assignments, quotas=quotas),
                                      plans, *Q1, AS_OF, with_payouts=False)
    lines = result.earning_lines.to_pylist()
    for index in range(len(deals)):
        base = 100 * index
        marginal, marginal_more = earnings(lines, base), earnings(lines, base + 1)
        retro, retro_more = earnings(lines, base + 2), earnings(lines, base + 3)
        assert marginal_more >= marginal
        assert retro_more >= retro
        # each line is rounded once to cents: a person's marginal total may carry up to half
        # a cent per line; the retroactive total is the rounded exact total (true-up)
        slack = Decimal("0.005") * sum(1 for r in lines if r["person_id"] == base + 1)
        assert retro >= marginal - slack
        assert retro_more >= marginal_more - slack


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deals=st.lists(amounts, min_size=1, max_size=5),
       shares=st.lists(st.integers(1, 98), min_size=1, max_size=3))
def test_caps_hold_and_splits_conserve_credit(deals: list[list[Decimal]],
                                              shares: list[int]) -> None:
    """Every person's period earnings stay within the 3,000 period cap (and each line within
    the 1,000 line cap); the revenue split credits of a booking add up to its amount."""
    percents = [*shares, 100 - sum(shares)] if sum(shares) < 100 else [100]
    bookings, splits, assignments, quotas = [], [], [], []
    people = list(range(1, len(percents) + 1))
    for person in people:
        assignments.append(assignment(person, person))
        quotas.append(quota(person, person, 1, "100000"))
    booking_id = 0
    for deal_list in deals:
        for value in deal_list:
            booking_id += 1
            bookings.append(booking(booking_id, 1, str(value), date(2027, 2, 1)))
            splits += [{"opportunity_id": booking_id, "person_id": person,
                        "percent": str(percent), "kind": "revenue"}
                       for person, percent in zip(people, percents, strict=True)]
    plan = parse_plan(tiered("marginal", "    caps: {per_line: 1000, per_period: 3000}\n"))
    with connect("duckdb") as backend:
        result = compute_compensation(backend, tables(bookings, assignments, quotas=quotas,
                                                      splits=splits),
                                      {1: plan}, *Q1, AS_OF, with_payouts=False)
    lines = result.earning_lines.to_pylist()
    for person in people:
        assert earnings(lines, person) <= Decimal(3000)
    assert all(r["amount"] <= Decimal(1000) for r in lines)
    credits = result.credits.to_pylist()
    for row in bookings:
        credited = sum((c["credited_amount"] for c in credits
                        if c["booking_id"] == row["booking_id"]), Decimal(0))
        assert abs(credited - row["amount"]) <= Decimal("0.01") * len(people)
