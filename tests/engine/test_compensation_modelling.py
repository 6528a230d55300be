"""Plan modelling's comparison of two runs (engine.compensation.modelling): person by person,
line by line, totals and percentiles, with figures computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from attain.engine.compensation.modelling import (
    compare_lines,
    compare_pay,
    model_summary,
    percentile,
)
from attain.engine.compensation.payout_tables import COMP_PAYOUTS
from attain.engine.compensation.schemas import COMP_EARNING_LINES

Q1 = date(2026, 1, 1)
Q2 = date(2026, 4, 1)
D = Decimal


def payouts(rows: list[tuple[int, date, str]]) -> pa.Table:
    zero = {f.name: D("0.00") for f in COMP_PAYOUTS.schema if pa.types.is_decimal(f.type)}
    return pa.Table.from_pylist([
        {**zero, "person_id": person, "assignment_id": person, "plan_version_id": 1,
         "period_start": start, "period_end": date(start.year, start.month + 3, 1),
         "currency": "USD", "earned": D(amount), "payable_earnings": D(amount),
         "payout": D(amount)} for person, start, amount in rows], schema=COMP_PAYOUTS.schema)


def lines(rows: list[tuple[int, str, str, str]]) -> pa.Table:
    return pa.Table.from_pylist([
        {"line_key": key, "person_id": person, "assignment_id": person, "plan_version_id": 1,
         "period_start": Q1, "period_end": Q2, "component": "Commission", "line_kind": kind,
         "booking_id": None, "credit_kind": None, "credited_amount": None,
         "measure_value": None, "tier": None, "rate": None, "amount": D(amount),
         "currency": "USD", "trace": f'["{kind} {amount}"]'}
        for person, key, kind, amount in rows], schema=COMP_EARNING_LINES.schema)


@pytest.mark.parametrize(("p", "expected"), [
    ("0", "100.00"), ("0.10", "130.00"), ("0.25", "175.00"), ("0.50", "300.00"),
    ("0.75", "500.00"), ("0.90", "680.00"), ("1", "800.00")])
def test_percentiles_are_linear_between_closest_ranks(p, expected):
    """[100, 200, 400, 800], h = 3 x p: p10 h=0.3 → 100 + 0.3 x 100 = 130; p25 h=0.75 → 175;
    p50 h=1.5 → 200 + 0.5 x 200 = 300; p75 h=2.25 → 400 + 0.25 x 400 = 500; p90 h=2.7 →
    400 + 0.7 x 400 = 680."""
    assert percentile([D(100), D(200), D(400), D(800)], D(p)) == D(expected)


def test_percentile_rounds_once_half_to_even():
    """[0.02, 0.03], p50: 0.02 + 0.5 x 0.01 = 0.025 → 0.02 (half to even, not 0.03)."""
    assert percentile([D("0.02"), D("0.03")], D("0.50")) == D("0.02")


def test_compare_pay_pairs_people_and_fills_a_missing_side_with_zero():
    """Ann 7,500 → 9,000 (+1,500); Bob only in force 1,000 → 0 (-1,000); Cid only under the
    draft 0 → 250 (+250); Dan is not a modelled person."""
    in_force = payouts([(1, Q1, "7500.00"), (2, Q1, "1000.00"), (4, Q1, "50.00")])
    draft = payouts([(1, Q1, "9000.00"), (3, Q1, "250.00"), (4, Q1, "60.00")])
    pay = compare_pay(in_force, draft, [1, 2, 3])
    assert [(r["person_id"], r["in_force_earned"], r["draft_earned"], r["change"])
            for r in pay.to_pylist()] == [
        (1, D("7500.00"), D("9000.00"), D("1500.00")),
        (2, D("1000.00"), D("0.00"), D("-1000.00")),
        (3, D("0.00"), D("250.00"), D("250.00"))]


def test_compare_lines_matches_on_the_line_key():
    """A: 7,500.00 → 9,000.00 (+1,500); T only under the draft (+100); R only in force (-20)."""
    in_force = lines([(1, "1:C:commission::", "commission", "7500.00"),
                      (1, "1:C:cap::", "cap", "20.00")])
    draft = lines([(1, "1:C:commission::", "commission", "9000.00"),
                   (1, "1:C:true_up::", "true_up", "100.00")])
    compared = {r["line_key"]: (r["in_force_amount"], r["draft_amount"], r["change"])
                for r in compare_lines(in_force, draft).to_pylist()}
    assert compared == {
        "1:C:commission::": (D("7500.00"), D("9000.00"), D("1500.00")),
        "1:C:cap::": (D("20.00"), None, D("-20.00")),
        "1:C:true_up::": (None, D("100.00"), D("100.00"))}


def test_summary_per_period_and_over_all_periods():
    """Q1: Ann 1,000 → 1,200, Bob 3,000 → 2,700; Q2: Ann 2,000 → 2,600.
    Q1 totals 4,000 → 3,900 (-100.00, -2.50 %), 1 gains, 1 loses.
    All periods: 6,000 → 6,500 (+500.00 = +8.33 %), three person-periods; in force
    [1,000, 2,000, 3,000]: p25 h=0.5 → 1,500.00, p90 h=1.8 → 2,000 + 0.8 x 1,000 = 2,800.00;
    draft [1,200, 2,600, 2,700]: p50 2,600.00, p10 h=0.2 → 1,200 + 0.2 x 1,400 = 1,480.00."""
    pay = compare_pay(payouts([(1, Q1, "1000.00"), (2, Q1, "3000.00"), (1, Q2, "2000.00")]),
                      payouts([(1, Q1, "1200.00"), (2, Q1, "2700.00"), (1, Q2, "2600.00")]))
    summary = {s["scope"]: s for s in model_summary(pay)}
    assert set(summary) == {"2026-01-01", "2026-04-01", "all"}
    q1 = summary["2026-01-01"]
    assert (q1["in_force"], q1["draft"], q1["change"], q1["change_pct"], q1["gainers"],
            q1["losers"]) == ("4000.00", "3900.00", "-100.00", "-2.50", 1, 1)
    overall = summary["all"]
    assert (overall["in_force"], overall["draft"], overall["change"], overall["change_pct"],
            overall["rows"]) == ("6000.00", "6500.00", "500.00", "8.33", 3)
    assert (overall["in_force_distribution"]["p25"], overall["in_force_distribution"]["p90"],
            overall["draft_distribution"]["p50"], overall["draft_distribution"]["p10"]) == (
        "1500.00", "2800.00", "2600.00", "1480.00")


def test_summary_of_nothing_is_empty():
    assert model_summary(compare_pay(payouts([]), payouts([]))) == []
