"""Properties of the payout run (Hypothesis). Each example is one DuckDB run over several people
at once, each with random earnings, adjustments and opening balances under one random plan.

Checked for every person: the lines add up to the payout; the payout and the closing balances
are never negative; the balances move exactly by what the period recovered, paid and carried;
and the figures equal a plain Python reference of the documented steps (payout_calculation's
module docstring, steps 1-6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attain.engine.backends import connect
from tests.engine.test_compensation_payouts import (
    FEB,
    adjustment,
    assignment,
    balance,
    earning,
    payout,
    plan,
    run,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(min_value=low, max_value=high).map(lambda n: Decimal(n) / 100)


@dataclass(frozen=True)
class Person:
    earnings: tuple[Decimal, ...]
    adjustment: Decimal
    opening_draw: Decimal
    opening_owed: Decimal


@dataclass(frozen=True)
class Rules:
    draw: Decimal | None
    recoverable: bool
    recovery_share: Decimal  # percent, whole number
    guarantee: Decimal | None
    owed_cap: Decimal | None
    owed_share: Decimal | None  # percent, whole number


people_strategy = st.lists(st.builds(
    Person,
    earnings=st.lists(cents(0, 800_000), max_size=3).map(tuple),
    adjustment=cents(-300_000, 200_000),
    opening_draw=cents(0, 400_000),
    opening_owed=cents(0, 300_000),
), min_size=1, max_size=6)

rules_strategy = st.builds(
    Rules,
    draw=st.one_of(st.none(), cents(1, 500_000)),
    recoverable=st.booleans(),
    recovery_share=st.integers(min_value=1, max_value=100).map(Decimal),
    guarantee=st.one_of(st.none(), cents(1, 600_000)),
    owed_cap=st.one_of(st.none(), cents(1, 200_000)),
    owed_share=st.one_of(st.none(), st.integers(min_value=1, max_value=100).map(Decimal)),
)


def payout_section(rules: Rules) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if rules.draw is not None:
        draw: dict[str, Any] = {"kind": "recoverable" if rules.recoverable
                                else "non_recoverable", "amount": str(rules.draw)}
        if rules.recoverable:
            draw["recovery"] = {"max_share_of_earnings": f"{rules.recovery_share}%"}
        section["draw"] = draw
    if rules.guarantee is not None:
        section["guarantee"] = {"amount": str(rules.guarantee), "periods": 120}
    claw: dict[str, Any] = {}
    if rules.owed_cap is not None:
        claw["max_per_period"] = str(rules.owed_cap)
    if rules.owed_share is not None:
        claw["max_share_of_earnings"] = f"{rules.owed_share}%"
    if claw:
        section["clawback"] = {"within_days": 90, **claw}
    return section


def share(amount: Decimal, percent: Decimal) -> Decimal:
    return (amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_EVEN)


def reference(person: Person, rules: Rules) -> dict[str, Decimal]:
    """The documented steps, one person at a time, in plain Python."""
    gross = sum(person.earnings, ZERO) + person.adjustment
    available = max(gross, ZERO)
    cap = available
    if rules.owed_share is not None:
        cap = min(cap, share(available, rules.owed_share))
    if rules.owed_cap is not None:
        cap = min(cap, rules.owed_cap)
    owed_recovered = min(person.opening_owed, cap)
    net1 = gross - owed_recovered
    level = rules.draw if rules.draw is not None else ZERO
    recovery = rules.recovery_share if rules.draw is not None and rules.recoverable else (
        Decimal(100))
    draw_recovered = min(person.opening_draw, share(max(net1 - level, ZERO), recovery))
    net2 = net1 - draw_recovered
    draw_paid = max(level - net2, ZERO) if rules.draw is not None else ZERO
    guarantee_paid = (max(rules.guarantee - net2 - draw_paid, ZERO)
                      if rules.guarantee is not None else ZERO)
    net4 = net2 + draw_paid + guarantee_paid
    carried = max(-net4, ZERO)
    added = draw_paid if rules.draw is not None and rules.recoverable else ZERO
    return {"owed_recovered": owed_recovered, "draw_recovered": draw_recovered,
            "draw_paid": draw_paid, "guarantee_paid": guarantee_paid,
            "carried_forward": carried, "payout": net4 + carried,
            "closing_draw_balance": person.opening_draw - draw_recovered + added,
            "closing_owed_balance": person.opening_owed - owed_recovered + carried}


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(people=people_strategy, rules=rules_strategy)
def test_payouts_follow_the_documented_steps_and_conserve_money(
        people: list[Person], rules: Rules) -> None:
    ids = range(1, len(people) + 1)
    lines = [earning(f"e{pid}-{n}", pid, str(amount), period=FEB)
             for pid, person in zip(ids, people, strict=True)
             for n, amount in enumerate(person.earnings)]
    adjustments = [{**adjustment(f"a{pid}", str(person.adjustment), before=None,
                                 after=str(person.adjustment), change="added"),
                    "person_id": pid}
                   for pid, person in zip(ids, people, strict=True) if person.adjustment]
    balances = [balance(pid, FEB[0], draw=str(person.opening_draw),
                        owed=str(person.opening_owed))
                for pid, person in zip(ids, people, strict=True)
                if person.opening_draw or person.opening_owed]
    with connect("duckdb") as backend:
        result = run(backend, lines, plans={1: plan(payout_section(rules))}, period=FEB,
                     assignments=[assignment(pid, date(2025, 1, 1)) for pid in ids],
                     adjustments=adjustments, balances=balances)  # run() checks line sums

    for pid, person in zip(ids, people, strict=True):
        row = payout(result, pid)
        expected = reference(person, rules)
        assert {name: row[name] for name in expected} == expected
        assert row["payout"] >= 0
        assert row["closing_draw_balance"] >= 0 and row["closing_owed_balance"] >= 0
        assert row["payout"] == (row["payable_earnings"] + row["adjustments"]
                                 - row["owed_recovered"] - row["draw_recovered"]
                                 + row["draw_paid"] + row["guarantee_paid"]
                                 + row["carried_forward"])
