"""Everything between earnings and money paid: the payout rules of a plan (timing, advances,
clawbacks, draws, guarantees), the payout calculation and prior-period adjustments.

This module is the public face; the work lives in its `payout_*` siblings:
- `payout_rules`: `PayoutRules`, `parse_payout_rules(data, path)`, `PAYOUT_JSON_SCHEMA` (the
  `payout:` section of a plan; the format is documented there).
- `payout_tables`: the logical tables (carried state, adjustments, churn, lines, payouts).
- `payout_calculation`: `compute_payouts(...)` (the rules of the calculation are documented there).
- `payout_adjustments`: `adjustment_lines(locked, rerun)` (prior-period delta lines) and
  `diff_lines(before, after)` ("why did my pay change").

How a period flows (what the app stores and passes on):

    opening state (as_of = period start)          this period
    comp_payout_balances  ─┐                      comp_earning_lines, comp_bookings,
    comp_payout_ledger    ─┼─ compute_payouts ──▶ comp_assignments, comp_churn,
    comp_payout_adjustments┘        │             exchange_rates, plans
                                    ▼
        PayoutResult: lines (COMP_PAYOUT_LINES), payouts (COMP_PAYOUTS),
                      balances + ledger = the closing state (as_of = period end),
                      which is the opening state of the next period's run.

A run with the same inputs gives identical results (the carried state is an input, never read
from a database behind the run's back). When a closed period is re-run, `adjustment_lines`
turns the differences into delta lines that the next open period's run pays as
`comp_payout_adjustments`.
"""

from __future__ import annotations

from attain.engine.compensation.payout_adjustments import (
    LINE_DIFF,
    adjustment_lines,
    describe_change,
    diff_lines,
)
from attain.engine.compensation.payout_calculation import (
    LINE_KINDS,
    PayoutInputError,
    PayoutResult,
    compute_payouts,
    payout_expressions,
)
from attain.engine.compensation.payout_rules import (
    PAYOUT_JSON_SCHEMA,
    Advance,
    Clawback,
    Draw,
    Guarantee,
    PayoutRules,
    PayTiming,
    parse_payout_rules,
)
from attain.engine.compensation.payout_tables import (
    COMP_CHURN,
    COMP_PAYOUT_ADJUSTMENTS,
    COMP_PAYOUT_BALANCES,
    COMP_PAYOUT_LEDGER,
    COMP_PAYOUT_LINES,
    COMP_PAYOUTS,
)

__all__ = [
    "COMP_CHURN", "COMP_PAYOUTS", "COMP_PAYOUT_ADJUSTMENTS", "COMP_PAYOUT_BALANCES",
    "COMP_PAYOUT_LEDGER", "COMP_PAYOUT_LINES", "LINE_DIFF", "LINE_KINDS", "PAYOUT_JSON_SCHEMA",
    "Advance", "Clawback", "Draw", "Guarantee", "PayTiming", "PayoutInputError", "PayoutResult",
    "PayoutRules", "adjustment_lines", "compute_payouts", "describe_change", "diff_lines",
    "parse_payout_rules", "payout_expressions",
]
