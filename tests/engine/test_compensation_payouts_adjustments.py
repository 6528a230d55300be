"""Prior-period adjustments (explicit delta lines) and line-by-line diffs of two runs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from attain.engine.compensation.payouts import (
    COMP_PAYOUT_ADJUSTMENTS,
    COMP_PAYOUT_LINES,
    adjustment_lines,
    describe_change,
    diff_lines,
)
from attain.engine.compensation.schemas import COMP_EARNING_LINES
from attain.engine.errors import DuplicateKeyError, SchemaError

D = Decimal
DEC = date(2025, 12, 1)


def earning(key: str, amount: str, *, person: int = 1, booking: int | None = None,
            trace: str = '["5% of 20000.00"]', currency: str = "USD",
            period_start: date = DEC) -> dict[str, Any]:
    return {"line_key": key, "person_id": person, "assignment_id": 11, "plan_version_id": 1,
            "period_start": period_start, "period_end": date(2026, 1, 1),
            "component": "Commission", "line_kind": "commission", "booking_id": booking,
            "credited_amount": None, "measure_value": None, "tier": None, "rate": None,
            "amount": D(amount), "currency": currency, "trace": trace}


def table(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=COMP_EARNING_LINES.schema)


LOCKED = table(earning("c|7", "800.00", booking=7), earning("c|8", "300.00", booking=8),
               earning("c|9", "50.00", booking=9))
RERUN = table(earning("c|7", "1000.00", booking=7, trace='["5% of 20000.00 (split fixed)"]'),
              earning("c|9", "50.00", booking=9, trace='["rate 5%, credited 1000.00"]'),
              earning("c|10", "120.00", booking=10))


def test_adjustments_are_delta_lines_for_changed_added_and_removed_lines() -> None:
    """Locked: #7 800.00, #8 300.00, #9 50.00. Re-run: #7 1,000.00, #9 50.00 (same amount, new
    trace), #10 120.00. Deltas: #10 +120.00 (added), #7 +200.00 (changed), #8 -300.00
    (removed); #9 is no adjustment. Total change 1,170.00 - 1,150.00 = +20.00 =
    120.00 + 200.00 - 300.00."""
    result = adjustment_lines(LOCKED, RERUN, reason="split corrected", revision="r2")

    assert result.schema == COMP_PAYOUT_ADJUSTMENTS.schema
    assert [(r["adjustment_key"], r["booking_id"], r["change"], r["before_amount"],
             r["after_amount"], r["amount"], r["reason"]) for r in result.to_pylist()] == [
        ("r2|1|2025-12-01|c|10|USD", 10, "added", None, D("120.00"), D("120.00"),
         "split corrected"),
        ("r2|1|2025-12-01|c|7|USD", 7, "changed", D("800.00"), D("1000.00"), D("200.00"),
         "split corrected"),
        ("r2|1|2025-12-01|c|8|USD", 8, "removed", D("300.00"), None, D("-300.00"),
         "split corrected"),
    ]
    assert sum(r["amount"] for r in result.to_pylist()) == D("20.00")


def test_identical_runs_give_no_adjustment() -> None:
    assert adjustment_lines(LOCKED, LOCKED).num_rows == 0


def test_an_adjustment_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        adjustment_lines(LOCKED, RERUN, reason="  ")


def test_diff_shows_why_pay_changed_including_same_amount_new_trace() -> None:
    diff = diff_lines(LOCKED, RERUN)

    assert [(r["line_key"], r["change"], r["delta"]) for r in diff.to_pylist()] == [
        ("c|10", "added", D("120.00")), ("c|7", "changed", D("200.00")),
        ("c|8", "removed", D("-300.00")), ("c|9", "changed", D("0.00"))]
    nine = diff.to_pylist()[3]
    assert (nine["before_trace"], nine["after_trace"]) == (
        '["5% of 20000.00"]', '["rate 5%, credited 1000.00"]')
    assert [describe_change(r) for r in diff.to_pylist()] == [
        "Commission on booking #10: new line, 120.00 USD (+120.00)",
        "Commission on booking #7: 800.00 → 1000.00 USD (+200.00)",
        "Commission on booking #8: line removed, was 300.00 USD (-300.00)",
        "Commission on booking #9: 50.00 USD, the same amount reached another way",
    ]


def test_diff_without_trace_changes_lists_money_changes_only() -> None:
    diff = diff_lines(LOCKED, RERUN, include_trace_changes=False)

    assert [r["line_key"] for r in diff.to_pylist()] == ["c|10", "c|7", "c|8"]


def test_a_line_whose_currency_changed_is_removed_and_added() -> None:
    """800.00 USD became 740.00 EUR: -800.00 USD and +740.00 EUR, never a mixed delta."""
    result = adjustment_lines(table(earning("c|7", "800.00", booking=7)),
                              table(earning("c|7", "740.00", booking=7, currency="EUR")))

    assert [(r["change"], r["amount"], r["currency"]) for r in result.to_pylist()] == [
        ("added", D("740.00"), "EUR"), ("removed", D("-800.00"), "USD")]


def test_lines_of_different_people_and_periods_never_match() -> None:
    before = table(earning("k", "10.00", person=1))
    after = table(earning("k", "10.00", person=2), earning("k", "10.00", person=1,
                                                           period_start=date(2026, 1, 1)))

    changes = [(r["person_id"], r["period_start"], r["change"])
               for r in diff_lines(before, after).to_pylist()]
    assert changes == [(1, DEC, "removed"), (1, date(2026, 1, 1), "added"),
                       (2, DEC, "added")]


def test_payout_lines_can_be_compared_too() -> None:
    def line(amount: str) -> dict[str, Any]:
        return {"line_key": "draw|1|2025-12-01", "person_id": 1, "assignment_id": 11,
                "plan_version_id": 1, "period_start": DEC, "period_end": date(2026, 1, 1),
                "kind": "draw", "component": "", "booking_id": None, "source_line_key": None,
                "part": "", "earned_period_start": None, "basis_amount": D("3000.00"),
                "amount": D(amount), "currency": "USD", "trace": "[]"}

    before = pa.Table.from_pylist([line("2000.00")], schema=COMP_PAYOUT_LINES.schema)
    after = pa.Table.from_pylist([line("1500.00")], schema=COMP_PAYOUT_LINES.schema)

    assert [(r["kind"], r["delta"]) for r in diff_lines(before, after).to_pylist()] == [
        ("draw", D("-500.00"))]


def test_duplicate_line_keys_are_refused() -> None:
    with pytest.raises(DuplicateKeyError, match="after lines"):
        diff_lines(LOCKED, table(earning("c|7", "1.00"), earning("c|7", "2.00")))


def test_lines_without_the_key_columns_are_refused() -> None:
    with pytest.raises(SchemaError, match="no column 'line_key'"):
        diff_lines(LOCKED.drop_columns(["line_key"]), RERUN)
