"""Logical tables of the payout calculation: the state carried between periods (balances and the
ledger of deferred and clawback-exposed earnings), prior-period adjustments, churn events, and
the payout lines and per person-period payouts it returns.

Carried state makes a run reproducible: period P's run reads the balances and ledger *as of*
P's start (the closing state of the run of the period before, stored by the app) and returns
the closing state as of P's end. Re-running P with the same inputs gives the same lines, and the
state never depends on what happened to be in a database at the time.
"""

from __future__ import annotations

import pyarrow as pa

from attain.engine.schemas import MONEY, LogicalTable, register_logical_tables

# Opening (input) and closing (output) balances per person, in the payee currency.
COMP_PAYOUT_BALANCES = LogicalTable("comp_payout_balances", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("as_of", pa.date32(), nullable=False),  # the first day these balances hold for
    pa.field("currency", pa.string(), nullable=False),
    # recoverable draw paid and not yet repaid (>= 0)
    pa.field("draw_balance", MONEY, nullable=False),
    # clawbacks and negative pay not yet recovered from earnings (>= 0)
    pa.field("owed_balance", MONEY, nullable=False),
]), key=("person_id",))

# Opening and closing ledger: one row per part of an earning line on a booking that is either
# not paid yet (status "deferred") or paid and still exposed to a clawback (status "paid").
COMP_PAYOUT_LEDGER = LogicalTable("comp_payout_ledger", pa.schema([
    pa.field("line_key", pa.string(), nullable=False),  # the earning line's stable key
    pa.field("part", pa.string(), nullable=False),  # whole | advance | remainder
    pa.field("as_of", pa.date32(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("assignment_id", pa.int64(), nullable=False),
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("booking_id", pa.int64(), nullable=False),
    pa.field("earned_period_start", pa.date32(), nullable=False),
    pa.field("due", pa.string(), nullable=False),  # on_booking | on_invoice | on_collection
    pa.field("status", pa.string(), nullable=False),  # deferred | paid
    pa.field("paid_period_start", pa.date32()),  # null while deferred
    pa.field("amount", MONEY, nullable=False),
    pa.field("currency", pa.string(), nullable=False),
]), key=("line_key", "part", "earned_period_start"))

# Prior-period adjustments to pay in this period (the delta lines of `adjustment_lines`).
COMP_PAYOUT_ADJUSTMENTS = LogicalTable("comp_payout_adjustments", pa.schema([
    pa.field("adjustment_key", pa.string(), nullable=False),  # stable: line key + re-run
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_start", pa.date32(), nullable=False),  # the closed period it corrects
    pa.field("component", pa.string(), nullable=False),
    pa.field("booking_id", pa.int64()),
    pa.field("kind", pa.string(), nullable=False),  # the corrected line's kind
    pa.field("change", pa.string(), nullable=False),  # added | removed | changed
    pa.field("before_amount", MONEY),  # null: the line is new
    pa.field("after_amount", MONEY),  # null: the line is gone
    pa.field("amount", MONEY, nullable=False),  # after - before
    pa.field("currency", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
]), key=("adjustment_key",))

# Customer churn, per booking: the day the customer of the booking stopped being a customer.
COMP_CHURN = LogicalTable("comp_churn", pa.schema([
    pa.field("booking_id", pa.int64(), nullable=False),
    pa.field("churned_on", pa.date32(), nullable=False),
]), key=("booking_id",))

# Every line of a person's payout for the period. `amount` is the line's effect on the payout
# (the lines of a person-period sum to its payout to the cent); `basis_amount` is the figure the
# line is about (the deferred, forfeited or clawed-back amount, the draw or guarantee level, the
# balance before recovery), so informational lines carry `amount` 0.
COMP_PAYOUT_LINES = LogicalTable("comp_payout_lines", pa.schema([
    # stable: kind|source line|part|earned period|period, or kind|person|period
    pa.field("line_key", pa.string(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("assignment_id", pa.int64()),
    pa.field("plan_version_id", pa.int64()),
    pa.field("period_start", pa.date32(), nullable=False),
    pa.field("period_end", pa.date32(), nullable=False),  # excluded
    pa.field("kind", pa.string(), nullable=False),  # see payout_calculation.LINE_KINDS
    pa.field("component", pa.string(), nullable=False),  # "" for person-level lines
    pa.field("booking_id", pa.int64()),
    pa.field("source_line_key", pa.string()),  # the earning line (or adjustment) it comes from
    pa.field("part", pa.string(), nullable=False),  # whole | advance | remainder | ""
    pa.field("earned_period_start", pa.date32()),
    pa.field("basis_amount", MONEY, nullable=False),
    pa.field("amount", MONEY, nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("trace", pa.string(), nullable=False),  # JSON list of plain-words steps
]), key=("line_key",))

# One row per person and period: how the payout is made up, and the closing balances.
COMP_PAYOUTS = LogicalTable("comp_payouts", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("assignment_id", pa.int64()),  # the assignment whose plan governs the payout
    pa.field("plan_version_id", pa.int64()),
    pa.field("period_start", pa.date32(), nullable=False),
    pa.field("period_end", pa.date32(), nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("earned", MONEY, nullable=False),  # earning lines of the period
    pa.field("payable_earnings", MONEY, nullable=False),  # paid now, this period's or earlier
    pa.field("deferred", MONEY, nullable=False),  # earned now, payable later
    pa.field("forfeited", MONEY, nullable=False),  # deferred and voided by a cancellation
    pa.field("adjustments", MONEY, nullable=False),  # prior-period corrections paid now
    pa.field("clawbacks", MONEY, nullable=False),  # clawed back this period (owed)
    pa.field("owed_recovered", MONEY, nullable=False),  # clawbacks/negative pay recovered
    pa.field("draw_recovered", MONEY, nullable=False),
    pa.field("draw_paid", MONEY, nullable=False),
    pa.field("guarantee_paid", MONEY, nullable=False),
    pa.field("carried_forward", MONEY, nullable=False),  # negative pay turned into owed
    pa.field("payout", MONEY, nullable=False),  # >= 0; the sum of the person's lines
    pa.field("opening_draw_balance", MONEY, nullable=False),
    pa.field("closing_draw_balance", MONEY, nullable=False),
    pa.field("draw_forgiven", MONEY, nullable=False),
    pa.field("opening_owed_balance", MONEY, nullable=False),
    pa.field("closing_owed_balance", MONEY, nullable=False),
    pa.field("closing_deferred", MONEY, nullable=False),  # still to be paid on later events
]), key=("person_id", "period_start"))

# The payout rules of each plan version, flattened for the set-based run (built by
# `payout_calculation.rules_table` from the parsed plans): one row per plan version and payee
# currency, amounts converted from the plan currency (see `payout_rules`).
COMP_PAYOUT_RULES = LogicalTable("comp_payout_rules", pa.schema([
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("currency", pa.string(), nullable=False),  # the payee currency of the row
    pa.field("timing", pa.string(), nullable=False),
    pa.field("advance_from", MONEY),  # null: no advance; company currency
    pa.field("advance_share", pa.decimal128(9, 6)),
    pa.field("advance_share_text", pa.string()),  # "50%"
    pa.field("advance_remainder", pa.string()),
    pa.field("clawback_days", pa.int64()),  # null: no clawback
    pa.field("clawback_on_cancellation", pa.bool_(), nullable=False),
    pa.field("clawback_on_churn", pa.bool_(), nullable=False),
    pa.field("clawback_pro_rata", pa.bool_(), nullable=False),
    pa.field("owed_cap", MONEY),  # null: no cap per period
    pa.field("owed_share", pa.decimal128(9, 6)),  # null: up to all earnings
    pa.field("owed_share_text", pa.string()),
    pa.field("draw_amount", MONEY),  # null: no draw
    pa.field("draw_recoverable", pa.bool_(), nullable=False),
    pa.field("draw_periods", pa.int64()),  # null: every period
    pa.field("draw_recovery_share", pa.decimal128(9, 6), nullable=False),
    pa.field("draw_recovery_text", pa.string(), nullable=False),
    pa.field("forgive_now", pa.bool_(), nullable=False),  # the run's period ends a plan year
    pa.field("guarantee_amount", MONEY),  # null: no guarantee
    pa.field("guarantee_periods", pa.int64()),
    pa.field("months_per_period", pa.int64(), nullable=False),
    pa.field("prorate", pa.bool_(), nullable=False),  # plan proration "days"
]), key=("plan_version_id", "currency"))

PAYOUT_INPUT_TABLES = (COMP_PAYOUT_BALANCES, COMP_PAYOUT_LEDGER, COMP_PAYOUT_ADJUSTMENTS,
                       COMP_CHURN)
PAYOUT_OUTPUT_TABLES = (COMP_PAYOUT_LINES, COMP_PAYOUTS, COMP_PAYOUT_BALANCES,
                        COMP_PAYOUT_LEDGER)
PAYOUT_TABLES = (*PAYOUT_INPUT_TABLES, COMP_PAYOUT_LINES, COMP_PAYOUTS, COMP_PAYOUT_RULES)


register_logical_tables(*PAYOUT_TABLES)

__all__ = [
    "COMP_CHURN", "COMP_PAYOUTS", "COMP_PAYOUT_ADJUSTMENTS", "COMP_PAYOUT_BALANCES",
    "COMP_PAYOUT_LEDGER", "COMP_PAYOUT_LINES", "COMP_PAYOUT_RULES", "PAYOUT_INPUT_TABLES",
    "PAYOUT_OUTPUT_TABLES", "PAYOUT_TABLES",
]
