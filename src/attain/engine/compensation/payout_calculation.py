"""The payout calculation: from a period's earning lines, the bookings' dates and the state
carried in from the period before, what is paid now, what waits, what comes back — as Ibis
expressions, one set-based pass for every person.

**Parts.** Each earning line on a booking becomes one part (`whole`), or two for a large deal
with an advance (`advance`, due on booking: share x amount rounded half even to cents;
`remainder`, due on the advance's remainder timing: amount - advance, so the parts add up to the
line exactly). A part is due on its timing's event: `on_booking` → `booked_on`, `on_invoice` →
`invoiced_on`, `on_collection` → `paid_on`. Lines not tied to a booking (bonuses, team pay,
MBOs, manual lines) are due in the period they are earned. The run knows events up to its
cut-off, min(as_of, period end - 1 day).

For each part of this period's lines and each `deferred` part of the opening ledger:
- the booking is cancelled (by the cut-off) → **forfeited** (never paid; a cancelled deal's
  unpaid commission is not owed, whatever the clawback window);
- else its event has happened → **payable** now;
- else → **deferred**: stays in the ledger for a later period.

**Clawbacks.** A part paid earlier (ledger status `paid`) or payable now is clawed back when its
plan's clawback names an event (cancellation: `cancelled_on`; churn: `comp_churn.churned_on`)
known by the cut-off, at most `within_days` days after `booked_on`: the whole part (`full`) or
part x (within_days - days served) / within_days (`pro_rata`, exact integer arithmetic in cents,
rounded half even). A clawed-back part leaves the ledger (it is clawed back once); a paid part
stays in the ledger while its window is open (booked_on + within_days >= period end). An event
recorded late (dated in an earlier period) is acted on in the period it becomes known.

**Per person and period** (P = payable parts, A = prior-period adjustments paid now; balances
are the opening balances of `comp_payout_balances`, the rules those of the plan of the person's
governing assignment — the one in force in the period with the latest start):
1. gross G = P + A.
2. owed (opening owed balance + this period's clawbacks) is recovered from max(G, 0), at most
   the clawback's `max_per_period` and `max_share_of_earnings` x max(G, 0): R1; N1 = G - R1.
3. an opening draw balance is recovered from the earnings above this period's draw level
   (the draw amount while the draw runs, else 0): R2 = min(balance, share x max(N1 - level, 0)),
   share = the draw's recovery share (100% when the plan has none); N2 = N1 - R2.
4. while the draw runs (the first `periods` periods of the assignment, or always), the draw tops
   N2 up to the draw amount: D = max(amount - N2, 0); a recoverable draw adds D to the balance.
5. while the guarantee runs, it tops N2 + D up to its amount: T = max(amount - N2 - D, 0).
6. a negative result is not paid back by the person now: C = max(-(N2 + D + T), 0) is carried
   forward as owed (recovered as in step 2 later). payout = N2 + D + T + C >= 0.
7. at the end of a plan year, a recoverable draw with `forgive_at_year_end` writes off what is
   still owed on it (a line of amount 0 that records the write-off).

The lines of a person-period add up to its payout exactly: `payable` and `adjustment` lines
(their amounts), `owed_recovery` (-R1), `draw_recovery` (-R2), `draw` (D), `guarantee` (T),
`carry_forward` (C); `deferred`, `forfeited`, `clawback` and `draw_forgiven` lines carry amount 0
and the figure they are about in `basis_amount`. Every line has a trace in plain words (a JSON
list of steps). Draw and guarantee periods count from the period holding the start of the
person's unbroken run of assignments (period 1; `assignment_chains`), so a plan change mid-ramp
does not restart the ramp. Under a plan with `proration: days` (the default) a period only partly
covered by the person's assignments (a mid-period hire or leaver) gets the draw and guarantee
amounts x days covered / days in the period (exact, rounded half even to cents).

Rounding: the only roundings are the advance share, the recovery shares and the pro rata
clawback, each to cents half even; everything else adds and subtracts cents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Protocol

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from attain.engine.backends.base import Backend
from attain.engine.compensation.payout_rules import PayoutRules, percent_text
from attain.engine.compensation.payout_tables import (
    COMP_CHURN,
    COMP_PAYOUT_ADJUSTMENTS,
    COMP_PAYOUT_BALANCES,
    COMP_PAYOUT_LEDGER,
    COMP_PAYOUT_LINES,
    COMP_PAYOUT_RULES,
    COMP_PAYOUTS,
)
from attain.engine.decimals import round_half_even
from attain.engine.errors import EngineError
from attain.engine.schemas import (
    conform,
    logical_table,
    require_unique,
)

FAR_FUTURE = date(9999, 12, 31)
MONEY_TYPE = dt.Decimal(18, 2)
WORK_TYPE = dt.Decimal(28, 2)
CENTS = Decimal("0.01")
ONE = Decimal(1)
LINE_KINDS = ("payable", "deferred", "forfeited", "clawback", "adjustment", "owed_recovery",
              "draw_recovery", "draw", "guarantee", "carry_forward", "draw_forgiven")
LEDGER_PARTS = ("whole", "advance", "remainder")
LEDGER_DUES = ("on_booking", "on_invoice", "on_collection")
LEDGER_STATUSES = ("deferred", "paid")
OPTIONAL_INPUTS = ("comp_churn", "comp_payout_balances", "comp_payout_ledger",
                   "comp_payout_adjustments")
REQUIRED_INPUTS = ("comp_bookings", "comp_assignments")


Materialize = Callable[[str, ir.Table], ir.Table]
# `count(table, {name: condition})` -> {name: rows of `table` where the condition holds}
Count = Callable[[ir.Table, Mapping[str, ir.BooleanValue]], Mapping[str, int]]


class PayoutPlan(Protocol):
    """What the payout run needs of a plan (`plans.Plan` fits)."""

    @property
    def currency(self) -> str: ...

    @property
    def plan_year_start_month(self) -> int: ...

    @property
    def payout(self) -> PayoutRules: ...

    @property
    def proration(self) -> str: ...


class PayoutInputError(EngineError):
    """The carried-in state or the inputs do not fit the run; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """Arrow tables: `lines` (COMP_PAYOUT_LINES), `payouts` (COMP_PAYOUTS), and the closing
    state for the next period, `balances` (COMP_PAYOUT_BALANCES) and `ledger`
    (COMP_PAYOUT_LEDGER), both `as_of` the period's end."""

    lines: pa.Table
    payouts: pa.Table
    balances: pa.Table
    ledger: pa.Table


# --- the rules table (built from the parsed plans) ---------------------------------------------


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (a month period: 1, a quarter: 3)."""
    return (end.year - start.year) * 12 + end.month - start.month


def is_plan_year_end(period_end: date, plan_year_start_month: int) -> bool:
    """Does a period ending (excluded) on `period_end` close a plan year?"""
    return period_end.day == 1 and period_end.month == plan_year_start_month


def _rate(rates: Mapping[str, Decimal], currency: str, month: date) -> Decimal:
    if currency not in rates:
        raise PayoutInputError(
            f"No exchange rate for {currency} in {month:%Y-%m}: the payout rules' amounts "
            "(draw, guarantee, clawback cap, advance threshold) convert from the plan currency "
            "at the rate of the period's first month. Add the rate.")
    return rates[currency]


def rules_table(plans: Mapping[int, PayoutPlan], currencies: Mapping[int, set[str]],
                rates: Mapping[str, Decimal], period_start: date, period_end: date) -> pa.Table:
    """COMP_PAYOUT_RULES: one row per plan version and payee currency used with it.

    `rates` are company-currency units per unit of each currency for the period's first month.
    An amount converts from the plan currency to the payee's as amount x rate(plan) /
    rate(payee), rounded half even to cents (once, here); the advance threshold converts to the
    company currency: amount x rate(plan).
    """
    months = max(1, months_between(period_start, period_end))
    month = date(period_start.year, period_start.month, 1)
    rows = []
    for version_id in sorted(plans):
        plan = plans[version_id]
        rules = plan.payout

        def payee(amount: Decimal | None, currency: str, plan: PayoutPlan = plan
                  ) -> Decimal | None:
            if amount is None or currency == plan.currency:
                return amount
            converted = (amount * _rate(rates, plan.currency, month)
                         / _rate(rates, currency, month))
            return converted.quantize(CENTS)  # Decimal's default: half even

        for currency in sorted(currencies.get(version_id, set()) | {plan.currency}):
            advance, claw, draw, guarantee = (rules.advance, rules.clawback, rules.draw,
                                              rules.guarantee)
            advance_from = None
            if advance is not None:
                advance_from = (advance.deals_from * _rate(rates, plan.currency, month)
                                ).quantize(CENTS)
            rows.append({
                "plan_version_id": version_id,
                "currency": currency,
                "timing": rules.timing,
                "advance_from": advance_from,
                "advance_share": advance.share if advance else None,
                "advance_share_text": percent_text(advance.share) if advance else None,
                "advance_remainder": advance.remainder if advance else None,
                "clawback_days": claw.within_days if claw else None,
                "clawback_on_cancellation": bool(claw and "cancellation" in claw.on),
                "clawback_on_churn": bool(claw and "churn" in claw.on),
                "clawback_pro_rata": bool(claw and claw.method == "pro_rata"),
                "owed_cap": payee(claw.max_per_period, currency) if claw else None,
                "owed_share": claw.max_share_of_earnings if claw else None,
                "owed_share_text": (percent_text(claw.max_share_of_earnings)
                                    if claw and claw.max_share_of_earnings is not None
                                    else None),
                "draw_amount": payee(draw.amount, currency) if draw else None,
                "draw_recoverable": bool(draw and draw.recoverable),
                "draw_periods": draw.periods if draw else None,
                "draw_recovery_share": draw.max_recovery_share if draw else ONE,
                "draw_recovery_text": percent_text(draw.max_recovery_share if draw else ONE),
                "forgive_now": bool(draw and draw.recoverable and draw.forgive_at_year_end
                                    and is_plan_year_end(period_end,
                                                         plan.plan_year_start_month)),
                "guarantee_amount": payee(guarantee.amount, currency) if guarantee else None,
                "guarantee_periods": guarantee.periods if guarantee else None,
                "months_per_period": months,
                "prorate": plan.proration == "days",
            })
    return pa.Table.from_pylist(rows, schema=COMP_PAYOUT_RULES.schema)


# --- expression building blocks --------------------------------------------------------------


def _date(day: date) -> ir.DateScalar:
    return ibis.literal(day, type=dt.date)


def _money(value: ir.Value | Decimal | int) -> ir.DecimalValue:
    if isinstance(value, Decimal | int):
        return ibis.literal(Decimal(value).quantize(CENTS), type=MONEY_TYPE)
    return value.cast(MONEY_TYPE)


def _work(value: ir.Value) -> ir.DecimalValue:
    return value.cast(WORK_TYPE)


def _zero() -> ir.DecimalValue:
    return ibis.literal(Decimal("0.00"), type=WORK_TYPE)


def _str(value: ir.Value | str) -> ir.StringValue:
    if isinstance(value, str):
        return ibis.literal(value, type=dt.string)
    return value.cast(dt.string)


def _concat(*parts: ir.Value | str) -> ir.StringValue:
    """Text from pieces; a null piece reads as '?' (never a null trace)."""
    result: ir.StringValue = _str("")
    for part in parts:
        piece = _str(part)
        result = result.concat(piece if isinstance(part, str) else piece.coalesce("?"))
    return result


def _amount_text(amount: ir.Value, currency: ir.Value) -> ir.StringValue:
    return _concat(amount.cast(MONEY_TYPE), " ", currency)


def _escaped(text: ir.Value) -> ir.StringValue:
    """Free text (a component name, a reason) made safe inside a JSON string: backslash and
    double quote escaped. Everything else in a trace is written here or is a number, a date or
    a currency code, so only such text is escaped (escaping whole traces costs a lot of time
    on millions of lines)."""
    return _str(text).replace("\\", "\\\\").replace('"', '\\"')


def _json_steps(first: ir.StringValue, *optional: tuple[ir.BooleanValue, ir.StringValue]
                ) -> ir.StringValue:
    """A JSON list of step strings: `first`, then each (condition, step) whose condition holds.
    Steps never hold a newline; free text in them is passed through `_escaped`."""
    result = _concat('["', first, '"')
    for condition, step in optional:
        result = result.concat(ibis.ifelse(condition.fill_null(False),
                                           _concat(',"', step, '"'), _str("")))
    return result.concat("]")


def _exact_scaled(amount: ir.Value, numerator: ir.Value, denominator: ir.Value
                  ) -> ir.DecimalValue:
    """amount x numerator / denominator (non-negative integers), to cents half even, exactly.

    Worked in integer cents: n = cents x numerator; q = n // denominator (a floor computed by the
    backend through a double, then corrected by the remainder so it is exact whatever the
    backend), r = n - q x denominator; q + 1 when 2r > denominator, or 2r = denominator and q is
    odd. 1,000.00 x 60 / 90: n = 100,000 x 60 = 6,000,000; q = 66,666, r = 60 → 2r < 90 →
    666.66.
    """
    cents = (amount.cast(dt.Decimal(28, 2)) * 100).cast(dt.int64)
    sign = ibis.ifelse(cents < 0, -1, 1)
    n = cents.abs() * numerator.cast(dt.int64)
    d = denominator.cast(dt.int64)
    q0 = (n // d).cast(dt.int64)
    r0 = n - q0 * d
    q1 = ibis.cases((r0 < 0, q0 - 1), (r0 >= d, q0 + 1), else_=q0)
    r = n - q1 * d
    rounded = ibis.ifelse((r * 2 > d) | ((r * 2 == d) & (q1 % 2 == 1)), q1 + 1, q1)
    cent = ibis.literal(CENTS, type=dt.Decimal(18, 2))
    return _work((rounded * sign).cast(dt.Decimal(18, 0)) * cent)


def _share_of(amount: ir.Value, share: ir.Value) -> ir.DecimalValue:
    """amount x share (a fraction with up to six decimals), rounded half even to cents. The
    product is cast to its exact scale (2 + 6 decimals) before rounding, so nothing is cut."""
    product = amount.cast(MONEY_TYPE) * share.cast(dt.Decimal(18, 6))
    return _work(round_half_even(product.cast(dt.Decimal(28, 8)), 2))


def _union(*tables: ir.Table) -> ir.Table:
    """UNION ALL of tables with the same columns, whatever each column's nullability."""
    loose = [table.cast({name: dtype.copy(nullable=True)
                         for name, dtype in table.schema().items()}) for table in tables]
    return ibis.union(*loose, distinct=False)


def _known(day: ir.DateValue, cutoff: date) -> ir.BooleanValue:
    return day.notnull() & (day <= _date(cutoff))


def _unknown_counts(table: ir.Table, conditions: Mapping[str, ir.BooleanValue]
                    ) -> Mapping[str, int]:
    return dict.fromkeys(conditions, 1)  # "maybe some": every kind of line is built


def _present(branches: Mapping[str, tuple[ir.BooleanValue, Callable[[], ir.Table]]],
             table: ir.Table, count: Count) -> list[ir.Table]:
    """The line tables of the kinds that have rows (at least the first kind, so the union is
    never empty). A kind with no row is left out of the query altogether: every branch of the
    union costs compile and planning time even when it matches nothing, which dominates small
    runs; the output is the same."""
    found = count(table, {kind: condition for kind, (condition, _) in branches.items()})
    kinds = [kind for kind in branches if found.get(kind, 1)] or [next(iter(branches))]
    return [branches[kind][1]() for kind in kinds]


# --- parts and their fate ----------------------------------------------------------------------

def _new_parts(earning: ir.Table, rules: ir.Table, period_start: date) -> ir.Table:
    """This period's earning lines as parts (whole, or advance + remainder)."""
    lines = earning.filter(earning.period_start == _date(period_start))
    joined = lines.left_join(rules, [lines.plan_version_id == rules.plan_version_id,
                                     lines.currency == rules.currency])
    joined = joined.select(
        lines.line_key, lines.person_id, lines.assignment_id, lines.plan_version_id,
        lines.component, lines.booking_id, lines.period_start, lines.amount, lines.currency,
        lines.credited_amount, timing=rules.timing, advance_from=rules.advance_from,
        advance_share=rules.advance_share, advance_remainder=rules.advance_remainder)
    on_booking = joined.booking_id.notnull()
    has_advance = (on_booking & joined.advance_from.notnull()
                   & joined.credited_amount.notnull()
                   & (joined.credited_amount >= joined.advance_from)).fill_null(False)

    def part(table: ir.Table, name: str, due: ir.Value, amount: ir.Value) -> ir.Table:
        return table.select(
            line_key=table.line_key, part=_str(name), person_id=table.person_id,
            assignment_id=table.assignment_id, plan_version_id=table.plan_version_id,
            component=table.component, booking_id=table.booking_id,
            earned_period_start=table.period_start, due=_str(due), origin=_str("new"),
            paid_period_start=ibis.null(dt.date), amount=_work(amount),
            currency=table.currency, credited_amount=_work(table.credited_amount))

    whole_lines = joined.filter(~has_advance)
    whole = part(whole_lines, "whole",
                 ibis.ifelse(whole_lines.booking_id.notnull(),
                             whole_lines.timing.coalesce("on_booking"), "now"),
                 whole_lines.amount)
    split = joined.filter(has_advance)
    split_advance = _share_of(split.amount, split.advance_share)
    first = part(split, "advance", "on_booking", split_advance)
    rest = part(split, "remainder", split.advance_remainder, split.amount - split_advance)
    return _union(whole, first, rest)


def _ledger_parts(ledger: ir.Table) -> ir.Table:
    return ledger.select(
        line_key=ledger.line_key, part=ledger.part, person_id=ledger.person_id,
        assignment_id=ledger.assignment_id, plan_version_id=ledger.plan_version_id,
        component=ledger.component, booking_id=ledger.booking_id.cast(dt.int64),
        earned_period_start=ledger.earned_period_start, due=ledger.due, origin=ledger.status,
        paid_period_start=ledger.paid_period_start, amount=_work(ledger.amount),
        currency=ledger.currency, credited_amount=ibis.null(WORK_TYPE))


def _fates(parts: ir.Table, inputs: Mapping[str, ir.Table], rules: ir.Table,
           period_start: date, period_end: date, cutoff: date) -> ir.Table:
    """Each part with its booking's dates, its fate (payable, deferred, forfeited, paid) and
    whether and how much is clawed back now, and whether it stays in the ledger."""
    bookings, churn = inputs["comp_bookings"], inputs["comp_churn"]
    with_dates = parts.left_join(bookings, parts.booking_id == bookings.booking_id).select(
        parts, booked_on=bookings.booked_on, invoiced_on=bookings.invoiced_on,
        collected_on=bookings.paid_on, cancelled_on=bookings.cancelled_on)
    with_churn = with_dates.left_join(churn, with_dates.booking_id == churn.booking_id).select(
        with_dates, churned_on=churn.churned_on)
    t = with_churn.left_join(rules, [with_churn.plan_version_id == rules.plan_version_id,
                                     with_churn.currency == rules.currency]).select(
        with_churn, advance_from=rules.advance_from,
        advance_share_text=rules.advance_share_text, clawback_days=rules.clawback_days,
        on_cancellation=rules.clawback_on_cancellation.fill_null(False),
        on_churn=rules.clawback_on_churn.fill_null(False),
        pro_rata=rules.clawback_pro_rata.fill_null(False))

    due_on = ibis.cases(
        (t.due == "now", _date(period_start)),
        (t.due == "on_booking", t.booked_on),
        (t.due == "on_invoice", t.invoiced_on),
        (t.due == "on_collection", t.collected_on),
        else_=ibis.null(dt.date))
    on_booking = t.booking_id.notnull()
    cancelled = on_booking & _known(t.cancelled_on, cutoff)
    unpaid = t.origin.isin(["new", "deferred"])
    fate = ibis.cases(
        (~unpaid, _str("paid")),
        (cancelled, _str("forfeited")),
        (_known(due_on, cutoff), _str("payable")),
        else_=_str("deferred"))
    t = t.mutate(due_on=due_on, fate=fate)

    days = t.clawback_days
    served_cancel = t.cancelled_on.delta(t.booked_on, unit="day")
    served_churn = t.churned_on.delta(t.booked_on, unit="day")
    cancel_hit = (t.on_cancellation & _known(t.cancelled_on, cutoff) & (served_cancel >= 0)
                  & (served_cancel <= days)).fill_null(False)
    churn_hit = (t.on_churn & _known(t.churned_on, cutoff) & (served_churn >= 0)
                 & (served_churn <= days)).fill_null(False)
    event_kind = ibis.cases(
        (cancel_hit & churn_hit & (t.churned_on < t.cancelled_on), _str("churn")),
        (cancel_hit, _str("cancellation")),
        (churn_hit, _str("churn")),
        else_=ibis.null(dt.string))
    t = t.mutate(event_kind=event_kind)
    event_on = ibis.ifelse(t.event_kind == "churn", t.churned_on, t.cancelled_on)
    clawed = (on_booking & days.notnull() & t.fate.isin(["payable", "paid"])
              & t.event_kind.notnull()).fill_null(False)
    t = t.mutate(event_on=event_on, clawed=clawed)
    served = t.event_on.delta(t.booked_on, unit="day")
    t = t.mutate(days_served=served)
    clawback = ibis.ifelse(t.pro_rata, _exact_scaled(t.amount, days - t.days_served, days),
                           t.amount)
    window_open = (days.notnull()
                   & (_date(period_end).delta(t.booked_on, unit="day") <= days)).fill_null(False)
    keep = ((t.fate == "deferred")
            | (t.fate.isin(["payable", "paid"]) & ~t.clawed & window_open & on_booking))
    return t.mutate(
        clawback_amount=ibis.ifelse(t.clawed, _work(clawback), _zero()),
        keep=keep.fill_null(False),
    )


def _part_lines(fates: ir.Table, period_start: date, period_end: date,
                count: Count = _unknown_counts) -> list[ir.Table]:
    """Payout lines of the parts: payable, deferred (new only), forfeited, clawback (one table
    per kind that has rows)."""
    t = fates
    booking = _concat("booking #", t.booking_id)
    about = ibis.ifelse(
        t.booking_id.notnull(),
        _concat('\\"', _escaped(t.component), '\\" on ', booking,
                ", earned in the period from ",
                t.earned_period_start),
        _concat('\\"', _escaped(t.component), '\\", earned in the period from ',
                t.earned_period_start))
    part_step = ibis.cases(
        (t.part == "advance",
         _concat("Advance: the deal is credited ", t.credited_amount.cast(MONEY_TYPE),
                 " (advances from ", t.advance_from, "), so ",
                 t.advance_share_text.coalesce("part"), " of the line, ",
                 _amount_text(t.amount, t.currency), ", is due on booking")),
        (t.part == "remainder",
         _concat("Remainder after the advance paid on booking: ",
                 _amount_text(t.amount, t.currency))),
        else_=_concat("Amount: ", _amount_text(t.amount, t.currency)))
    due_step = ibis.cases(
        (t.due == "now", _str("Not tied to a deal: payable in the period it is earned")),
        (t.due == "on_booking", _concat("Due on booking; booked on ", t.booked_on)),
        (t.due == "on_invoice",
         ibis.ifelse(t.invoiced_on.notnull(), _concat("Due on invoice; invoiced on ",
                                                      t.invoiced_on),
                     _str("Due on invoice; not invoiced yet"))),
        (t.due == "on_collection",
         ibis.ifelse(t.collected_on.notnull(),
                     _concat("Due when the customer pays; paid on ", t.collected_on),
                     _str("Due when the customer pays; not paid yet"))),
        else_=_concat("Due: ", _escaped(t.due)))
    amount_text = _amount_text(t.amount, t.currency)

    def lines(kind: str, table: ir.Table, amount: ir.Value, basis: ir.Value,
              trace: ir.StringValue) -> ir.Table:
        return table.select(
            line_key=_concat(kind, "|", table.line_key, "|", table.part, "|",
                             table.earned_period_start, "|", _date(period_start)),
            person_id=table.person_id, assignment_id=table.assignment_id,
            plan_version_id=table.plan_version_id, period_start=_date(period_start),
            period_end=_date(period_end), kind=_str(kind), component=table.component,
            booking_id=table.booking_id, source_line_key=table.line_key, part=table.part,
            earned_period_start=table.earned_period_start, basis_amount=_money(basis),
            amount=_money(amount), currency=table.currency, trace=trace)

    conditions = {"payable": t.fate == "payable",
                  "deferred": (t.fate == "deferred") & (t.origin == "new"),
                  "forfeited": t.fate == "forfeited", "clawback": t.clawed}
    payable = t.filter(conditions["payable"])
    deferred = t.filter(conditions["deferred"])
    forfeited = t.filter(conditions["forfeited"])
    clawed = t.filter(conditions["clawback"])
    event_words = ibis.ifelse(
        t.event_kind == "churn", _concat("The customer churned on ", t.event_on),
        _concat("The deal was cancelled on ", t.event_on))
    claw_how = ibis.ifelse(
        t.pro_rata,
        _concat("Pro rata for the days not served: ", amount_text, " x (",
                t.clawback_days, " - ", t.days_served, ") / ", t.clawback_days, " = ",
                _amount_text(t.clawback_amount, t.currency)),
        _concat("Clawed back in full: ", _amount_text(t.clawback_amount, t.currency)))
    paid_when = ibis.ifelse(t.fate == "payable", _str("this period"),
                            _concat("the period from ", t.paid_period_start))
    branches: dict[str, tuple[ir.BooleanValue, Callable[[], ir.Table]]] = {
        "payable": (conditions["payable"], lambda: lines(
            "payable", payable, payable.amount, payable.amount, _json_steps(
                about, (ibis.literal(True), part_step), (ibis.literal(True), due_step),
                (ibis.literal(True), _concat("Paid in this period: ", amount_text))))),
        "deferred": (conditions["deferred"], lambda: lines(
            "deferred", deferred, _zero(), deferred.amount, _json_steps(
            about, (ibis.literal(True), part_step), (ibis.literal(True), due_step),
            (ibis.literal(True), _concat("Not payable yet: ", amount_text,
                                         " waits for that event and is paid in the period "
                                         "it happens"))))),
        "forfeited": (conditions["forfeited"], lambda: lines(
            "forfeited", forfeited, _zero(), forfeited.amount, _json_steps(
            about, (ibis.literal(True), part_step), (ibis.literal(True), due_step),
            (ibis.literal(True), _concat("The deal was cancelled on ", t.cancelled_on,
                                         " before this became payable: ", amount_text,
                                         " will not be paid"))))),
        "clawback": (conditions["clawback"], lambda: lines(
            "clawback", clawed, _zero(), clawed.clawback_amount, _json_steps(
            about, (ibis.literal(True), _concat("Paid ", amount_text, " in ", paid_when)),
            (ibis.literal(True), _concat(event_words, ", ", t.days_served,
                                         " days after booking on ", t.booked_on,
                                         " (clawback window: ", t.clawback_days, " days)")),
            (ibis.literal(True), claw_how),
            (ibis.literal(True), _str("Owed back; recovered from earnings (see the "
                                      "recovery line of the period)"))))),
    }
    return _present(branches, t, count)


def _closing_ledger(fates: ir.Table, period_start: date, period_end: date) -> ir.Table:
    kept = fates.filter(fates.keep)
    status = ibis.ifelse(kept.fate == "deferred", "deferred", "paid")
    paid_from = ibis.cases((kept.fate == "payable", _date(period_start)),
                           (kept.fate == "paid", kept.paid_period_start),
                           else_=ibis.null(dt.date))
    return kept.select(
        line_key=kept.line_key, part=kept.part, as_of=_date(period_end),
        person_id=kept.person_id, assignment_id=kept.assignment_id,
        plan_version_id=kept.plan_version_id, component=kept.component,
        booking_id=kept.booking_id, earned_period_start=kept.earned_period_start,
        due=kept.due, status=_str(status), paid_period_start=paid_from,
        amount=_money(kept.amount), currency=kept.currency,
    ).order_by(["person_id", "line_key", "part"])


# --- per person and period ---------------------------------------------------------------------


def assignment_chains(assignments: ir.Table) -> ir.Table:
    """assignment_id, chain_start: the start of the unbroken run of the person's assignments the
    assignment belongs to (a plan change that starts the day the old assignment ends continues
    the run; a gap starts a new one). Draw and guarantee periods count from it, so moving a
    ramping hire to a new plan version does not restart the ramp.

    Gaps and islands: an assignment starts a new run when it starts after the latest end of the
    person's earlier assignments (open-ended counts as never ending); runs are numbered by a
    running count of starts."""
    far = _date(FAR_FUTURE)
    order = ["valid_from", "assignment_id"]
    before = ibis.window(group_by="person_id", order_by=order, rows=(None, -1))
    so_far = ibis.window(group_by="person_id", order_by=order, rows=(None, 0))
    marked = assignments.mutate(
        previous_end=assignments.valid_to.coalesce(far).max().over(before))
    marked = marked.mutate(starts=(marked.previous_end.isnull()
                                   | (marked.valid_from > marked.previous_end)).cast(dt.int64))
    marked = marked.mutate(run=marked.starts.sum().over(so_far))
    chains = marked.mutate(chain_start=marked.valid_from.min().over(
        ibis.window(group_by=["person_id", "run"])))
    return chains.select("assignment_id", "chain_start")


def governing_assignments(assignments: ir.Table, period_start: date, period_end: date
                          ) -> ir.Table:
    """person_id, assignment_id, plan_version_id, valid_from, currency of the assignment in
    force during [start, end) with the latest `valid_from` (then the highest id); chain_start
    (`assignment_chains`); active_from, active_to: the part of the period covered by any of the
    person's assignments (from the earliest start to the latest end, clipped to the period)."""
    active = assignments.filter((assignments.valid_from < _date(period_end))
                                & (assignments.valid_to.isnull()
                                   | (assignments.valid_to > _date(period_start))))
    order = ibis.window(group_by="person_id",
                        order_by=[ibis.desc("valid_from"), ibis.desc("assignment_id")])
    ranked = active.mutate(rank=ibis.row_number().over(order))
    chosen = ranked.filter(ranked["rank"] == 0).select(
        "person_id", "assignment_id", "plan_version_id", "valid_from", "currency")
    span = active.group_by("person_id").aggregate(
        active_from=ibis.greatest(active.valid_from.min(), _date(period_start)),
        active_to=ibis.least(active.valid_to.coalesce(_date(period_end)).max(),
                             _date(period_end)))
    chains = assignment_chains(assignments.filter(assignments.valid_from < _date(period_end)))
    with_span = chosen.join(span, "person_id").select(
        chosen.person_id, chosen.assignment_id, chosen.plan_version_id, chosen.valid_from,
        chosen.currency, span.active_from, span.active_to)
    return with_span.join(chains, "assignment_id").select(with_span, chains.chain_start)


def _sum_by_person(table: ir.Table, value: ir.Value, name: str) -> ir.Table:
    return table.group_by("person_id").aggregate(**{name: _work(value).sum()})


def _as_is(name: str, expr: ir.Table) -> ir.Table:
    return expr


def payout_expressions(inputs: Mapping[str, ir.Table], period_start: date, period_end: date,
                       as_of: date, materialize: Materialize = _as_is,
                       count: Count = _unknown_counts) -> dict[str, ir.Table]:
    """The payout run as expressions over bound tables: `lines`, `payouts`, `balances`,
    `ledger` (see the module docstring). `inputs` holds comp_earning_lines, comp_bookings,
    comp_assignments, comp_churn, comp_payout_balances, comp_payout_ledger,
    comp_payout_adjustments and comp_payout_rules, and may hold comp_payout_governing (the
    `governing_assignments` of the period, already computed).

    `materialize(name, expr)` may run an intermediate stage (parts; people; their figures) and
    return it as a bound table: one SQL statement per stage stays small, where the expression
    as a whole compiles to SQL that repeats every stage in each place it is used.
    `count(table, conditions)` may count the rows of a materialised stage per condition; kinds
    of line with none are then left out of the `lines` query (same result, less SQL)."""
    cutoff = min(as_of, period_end - timedelta(days=1))
    rules = inputs["comp_payout_rules"]
    earning = inputs["comp_earning_lines"]
    ledger = inputs["comp_payout_ledger"]
    parts = _union(_new_parts(earning, rules, period_start), _ledger_parts(ledger))
    fates = materialize("comp_payout_stage_parts",
                        _fates(parts, inputs, rules, period_start, period_end, cutoff))
    part_lines = _part_lines(fates, period_start, period_end, count)

    adjustments = inputs["comp_payout_adjustments"]
    adjustment_lines = adjustments.select(
        line_key=_concat("adjustment|", adjustments.adjustment_key),
        person_id=adjustments.person_id, assignment_id=ibis.null(dt.int64),
        plan_version_id=ibis.null(dt.int64), period_start=_date(period_start),
        period_end=_date(period_end), kind=_str("adjustment"),
        component=adjustments.component, booking_id=adjustments.booking_id,
        source_line_key=adjustments.adjustment_key, part=_str(""),
        earned_period_start=adjustments.period_start,
        basis_amount=_money(adjustments.amount), amount=_money(adjustments.amount),
        currency=adjustments.currency,
        trace=_json_steps(
            _concat("Correction to the closed period from ", adjustments.period_start, ": ",
                    _escaped(adjustments.kind), ' line of \\"',
                    _escaped(adjustments.component), '\\"',
                    ibis.ifelse(adjustments.booking_id.notnull(),
                                _concat(" on booking #", adjustments.booking_id), _str("")),
                    " was ", _escaped(adjustments.change)),
            (ibis.literal(True), _concat(
                "Before: ", ibis.ifelse(adjustments.before_amount.notnull(),
                                        _amount_text(adjustments.before_amount,
                                                     adjustments.currency), _str("no line")),
                "; after: ", ibis.ifelse(adjustments.after_amount.notnull(),
                                         _amount_text(adjustments.after_amount,
                                                      adjustments.currency),
                                         _str("no line")))),
            (ibis.literal(True), _concat("Paid now: ", _amount_text(adjustments.amount,
                                                                    adjustments.currency))),
            (ibis.literal(True), _concat("Why: ", _escaped(adjustments.reason))),
        ))

    governing = (inputs["comp_payout_governing"] if "comp_payout_governing" in inputs
                 else governing_assignments(inputs["comp_assignments"], period_start,
                                            period_end))
    balances = inputs["comp_payout_balances"]
    this_period = earning.filter(earning.period_start == _date(period_start))
    people = _union(
        this_period.select("person_id", "currency"),
        fates.select("person_id", "currency"),
        adjustments.select("person_id", "currency"),
        balances.select("person_id", "currency"),
        governing.select("person_id", "currency"),
    ).distinct()
    people = people.group_by("person_id").aggregate(any_currency=people.currency.max())

    # the parts' sums in one pass over the parts (one join, not five)
    amount = _work(fates.amount)
    part_sums = fates.group_by("person_id").aggregate(
        payable=amount.sum(where=fates.fate == "payable"),
        deferred=amount.sum(where=(fates.fate == "deferred") & (fates.origin == "new")),
        forfeited=amount.sum(where=fates.fate == "forfeited"),
        clawbacks=_work(fates.clawback_amount).sum(where=fates.clawed),
        closing_deferred=amount.sum(where=fates.keep & (fates.fate == "deferred")))
    sums = [
        _sum_by_person(this_period, this_period.amount, "earned"),
        part_sums,
        _sum_by_person(adjustments, adjustments.amount, "adjustments"),
    ]
    # one join chain (a single SQL join) rather than a nested select per joined table
    names = [c for part in sums for c in part.columns if c != "person_id"]
    chain = people
    for part in sums:
        chain = chain.left_join(part, people.person_id == part.person_id)
    chain = chain.left_join(governing, people.person_id == governing.person_id) \
        .left_join(balances, people.person_id == balances.person_id)
    t = chain.select(
        people, *[part[c] for part in sums for c in part.columns if c != "person_id"],
        assignment_id=governing.assignment_id, plan_version_id=governing.plan_version_id,
        valid_from=governing.chain_start, governing_currency=governing.currency,
        active_from=governing.active_from, active_to=governing.active_to,
        opening_draw=balances.draw_balance, opening_owed=balances.owed_balance,
        balance_currency=balances.currency)
    t = t.mutate(currency=t.governing_currency.coalesce(t.balance_currency, t.any_currency))
    t = t.left_join(rules, [t.plan_version_id == rules.plan_version_id,
                            t.currency == rules.currency]).select(
        t, owed_cap=rules.owed_cap, owed_share=rules.owed_share,
        owed_share_text=rules.owed_share_text, draw_amount=rules.draw_amount,
        draw_recoverable=rules.draw_recoverable.fill_null(False),
        draw_periods=rules.draw_periods,
        draw_recovery_share=rules.draw_recovery_share.coalesce(ONE),
        draw_recovery_text=rules.draw_recovery_text.coalesce("100%"),
        forgive_now=rules.forgive_now.fill_null(False), guarantee_amount=rules.guarantee_amount,
        guarantee_periods=rules.guarantee_periods,
        months_per_period=rules.months_per_period, prorate=rules.prorate.fill_null(False))
    t = t.mutate(**{name: t[name].coalesce(_zero()).cast(WORK_TYPE) for name in names},
                 opening_draw=_work(t.opening_draw.coalesce(_zero())),
                 opening_owed=_work(t.opening_owed.coalesce(_zero())))

    start_months = period_start.year * 12 + period_start.month
    months = t.months_per_period.coalesce(1)
    index = ((start_months - (t.valid_from.year() * 12 + t.valid_from.month()) + months - 1)
             // months).cast(dt.int64)  # 0 for the period holding valid_from
    t = t.mutate(period_index=index)
    draw_runs = (t.draw_amount.notnull() & t.assignment_id.notnull()
                 & (t.draw_periods.isnull() | (t.period_index < t.draw_periods))).fill_null(False)
    guarantee_runs = (t.guarantee_amount.notnull() & t.assignment_id.notnull()
                      & (t.period_index < t.guarantee_periods)).fill_null(False)
    days_total = (period_end - period_start).days
    days_active = t.active_to.delta(t.active_from, unit="day")
    prorated = (t.prorate & (days_active < days_total)).fill_null(False)

    def per_period(amount: ir.Value) -> ir.DecimalValue:
        whole_days = ibis.literal(days_total, type=dt.int64)
        return _work(ibis.ifelse(prorated, _exact_scaled(amount, days_active, whole_days),
                                 amount))

    t = materialize("comp_payout_stage_people", t.mutate(
        draw_runs=draw_runs, guarantee_runs=guarantee_runs, prorated=prorated,
        days_active=days_active.cast(dt.int64), days_total=ibis.literal(days_total, dt.int64),
        draw_for_period=per_period(t.draw_amount),
        guarantee_for_period=per_period(t.guarantee_amount)))

    gross = _work(t.payable + t.adjustments)
    owed = _work(t.opening_owed + t.clawbacks)
    available = ibis.greatest(gross, _zero())
    share_cap = ibis.ifelse(t.owed_share.notnull(),
                            _share_of(available, t.owed_share.coalesce(ONE)),
                            available)
    cap = ibis.least(available, share_cap, t.owed_cap.coalesce(available))
    t = t.mutate(gross=gross, owed=owed, owed_recovered=_work(ibis.least(owed, cap)))
    net1 = _work(t.gross - t.owed_recovered)
    level = ibis.ifelse(t.draw_runs, _work(t.draw_for_period), _zero())
    above = ibis.greatest(net1 - level, _zero())
    t = t.mutate(net1=net1, draw_level=level, draw_recovered=_work(ibis.least(
        t.opening_draw, _share_of(above, t.draw_recovery_share))))
    net2 = _work(t.net1 - t.draw_recovered)
    draw_paid = ibis.ifelse(t.draw_runs, ibis.greatest(t.draw_level - net2, _zero()), _zero())
    t = t.mutate(net2=net2, draw_paid=_work(draw_paid))
    guarantee_paid = ibis.ifelse(
        t.guarantee_runs,
        ibis.greatest(_work(t.guarantee_for_period) - t.net2 - t.draw_paid, _zero()),
        _zero())
    t = t.mutate(guarantee_paid=_work(guarantee_paid))
    net4 = _work(t.net2 + t.draw_paid + t.guarantee_paid)
    t = t.mutate(net4=net4, carried=_work(ibis.greatest(-net4, _zero())))
    draw_before = _work(t.opening_draw - t.draw_recovered
                        + ibis.ifelse(t.draw_recoverable, t.draw_paid, _zero()))
    t = t.mutate(
        payout=_work(t.net4 + t.carried),
        draw_before_forgiving=draw_before,
        draw_forgiven=ibis.ifelse(t.forgive_now, draw_before, _zero()),
        closing_owed=_work(t.owed - t.owed_recovered + t.carried),
    )
    t = materialize("comp_payout_stage_figures",
                    t.mutate(closing_draw=_work(t.draw_before_forgiving - t.draw_forgiven)))

    payouts = t.select(
        person_id=t.person_id, assignment_id=t.assignment_id,
        plan_version_id=t.plan_version_id, period_start=_date(period_start),
        period_end=_date(period_end), currency=t.currency, earned=_money(t.earned),
        payable_earnings=_money(t.payable), deferred=_money(t.deferred),
        forfeited=_money(t.forfeited), adjustments=_money(t.adjustments),
        clawbacks=_money(t.clawbacks), owed_recovered=_money(t.owed_recovered),
        draw_recovered=_money(t.draw_recovered), draw_paid=_money(t.draw_paid),
        guarantee_paid=_money(t.guarantee_paid), carried_forward=_money(t.carried),
        payout=_money(t.payout), opening_draw_balance=_money(t.opening_draw),
        closing_draw_balance=_money(t.closing_draw), draw_forgiven=_money(t.draw_forgiven),
        opening_owed_balance=_money(t.opening_owed),
        closing_owed_balance=_money(t.closing_owed),
        closing_deferred=_money(t.closing_deferred),
    ).order_by("person_id")

    person_lines = _person_lines(t, period_start, period_end, count)
    closing_balances = t.filter((t.closing_draw != 0) | (t.closing_owed != 0)).select(
        person_id=t.person_id, as_of=_date(period_end), currency=t.currency,
        draw_balance=_money(t.closing_draw), owed_balance=_money(t.closing_owed),
    ).order_by("person_id")
    with_adjustments = count(adjustments, {"adjustment": adjustments.person_id.notnull()})
    all_lines = _union(*part_lines,
                       *([adjustment_lines] if with_adjustments.get("adjustment", 1) else []),
                       *person_lines)
    return {
        "lines": all_lines.order_by(["person_id", "kind", "line_key"]),
        "payouts": payouts,
        "balances": closing_balances,
        "ledger": _closing_ledger(fates, period_start, period_end),
    }


def _person_lines(t: ir.Table, period_start: date, period_end: date,
                  count: Count = _unknown_counts) -> list[ir.Table]:
    """owed_recovery, draw_recovery, draw, guarantee, carry_forward and draw_forgiven lines
    (one table per kind that has rows)."""
    ccy = t.currency

    def money(value: ir.Value) -> ir.StringValue:
        return _amount_text(value, ccy)

    def lines(kind: str, keep: ir.BooleanValue, amount: ir.Value, basis: ir.Value,
              trace: ir.StringValue) -> ir.Table:
        rows = t.mutate(_amount=_money(amount), _basis=_money(basis), _trace=trace)
        rows = rows.filter(keep)
        return rows.select(
            line_key=_concat(kind, "|", rows.person_id, "|", _date(period_start)),
            person_id=rows.person_id, assignment_id=rows.assignment_id,
            plan_version_id=rows.plan_version_id, period_start=_date(period_start),
            period_end=_date(period_end), kind=_str(kind), component=_str(""),
            booking_id=ibis.null(dt.int64), source_line_key=ibis.null(dt.string),
            part=_str(""), earned_period_start=ibis.null(dt.date),
            basis_amount=rows._basis, amount=rows._amount, currency=rows.currency,
            trace=rows._trace)

    always = ibis.literal(True)
    limits = _concat(
        "Recovered from this period's earnings ", money(ibis.greatest(t.gross, _zero())),
        ibis.ifelse(t.owed_cap.notnull(), _concat(", at most ", money(t.owed_cap)), _str("")),
        ibis.ifelse(t.owed_share_text.notnull(),
                    _concat(", at most ", t.owed_share_text, " of earnings"), _str("")),
        ": ", money(t.owed_recovered))
    owed = partial(lines, "owed_recovery", t.owed > 0, -t.owed_recovered, t.owed, _json_steps(
        _concat("Owed at the start of the period (clawbacks and negative pay not yet "
                "recovered): ", money(t.opening_owed)),
        (always, _concat("Clawed back this period: ", money(t.clawbacks),
                         "; owed in all: ", money(t.owed))),
        (always, limits),
        (always, _concat("Still owed after this period: ", money(t.owed - t.owed_recovered),
                         " (before any carried-forward negative pay)")),
    ))
    draw_recovery = partial(lines, "draw_recovery", t.opening_draw > 0, -t.draw_recovered,
                          t.opening_draw, _json_steps(
        _concat("Draw paid earlier and not yet repaid: ", money(t.opening_draw)),
        (always, _concat("Earnings after recoveries: ", money(t.net1),
                         ibis.ifelse(t.draw_runs,
                                     _concat("; above this period's draw of ",
                                             money(t.draw_level), ": "),
                                     _str("; all of it counts: ")),
                         money(ibis.greatest(t.net1 - t.draw_level, _zero())))),
        (always, _concat("Repaid now: at most ", t.draw_recovery_text, " of that, and no more "
                         "than the balance: ", money(t.draw_recovered))),
    ))
    period_word = _concat("period ", t.period_index + 1,
                          ibis.ifelse(t.draw_periods.notnull(),
                                      _concat(" of ", t.draw_periods), _str("")),
                          " of the assignment")
    def prorated(amount: ir.Value) -> ir.StringValue:
        return _concat("Prorated for the ", t.days_active, " of ", t.days_total,
                       " days of the period under the plan: ", money(amount))

    draw = partial(lines, "draw", t.draw_runs, t.draw_paid, t.draw_level, _json_steps(
        _concat(ibis.ifelse(t.draw_recoverable, _str("Recoverable"),
                            _str("Non-recoverable")),
                " draw of ", money(t.draw_amount), " per period (", period_word, ")"),
        (t.prorated, prorated(t.draw_level)),
        (always, _concat("Pay before the draw: ", money(t.net2))),
        (always, _concat("Top-up to the draw: max(", money(t.draw_level), " - ", money(t.net2),
                         ", 0) = ", money(t.draw_paid))),
        (t.draw_recoverable, _concat("Owed back from later earnings: balance ",
                                     money(t.opening_draw - t.draw_recovered), " + ",
                                     money(t.draw_paid), " = ",
                                     money(t.draw_before_forgiving))),
    ))
    guarantee = partial(lines, "guarantee", t.guarantee_runs, t.guarantee_paid,
                        t.guarantee_for_period, _json_steps(
        _concat("Guaranteed minimum pay of ", money(t.guarantee_amount), " (period ",
                t.period_index + 1, " of ", t.guarantee_periods, " of the assignment)"),
        (t.prorated, prorated(t.guarantee_for_period)),
        (always, _concat("Pay before the guarantee: ", money(t.net2 + t.draw_paid))),
        (always, _concat("Top-up: max(", money(t.guarantee_for_period), " - ",
                         money(t.net2 + t.draw_paid), ", 0) = ", money(t.guarantee_paid),
                         "; never owed back")),
    ))
    carry = partial(lines, "carry_forward", t.carried > 0, t.carried, t.carried, _json_steps(
        _concat("Pay for the period would be ", money(t.net4), "; nothing is taken back from "
                "the person now"),
        (always, _concat(money(t.carried), " is carried forward as owed and recovered from "
                         "later earnings")),
    ))
    forgiven = partial(lines, "draw_forgiven", t.draw_forgiven > 0, _zero(), t.draw_forgiven,
                     _json_steps(
        _concat("The plan year ends with this period; draw still owed: ",
                money(t.draw_forgiven)),
        (always, _str("Forgiven under the plan: the balance is written off and no longer "
                      "owed")),
    ))
    return _present({
        "owed_recovery": (t.owed > 0, owed), "draw_recovery": (t.opening_draw > 0, draw_recovery),
        "draw": (t.draw_runs, draw), "guarantee": (t.guarantee_runs, guarantee),
        "carry_forward": (t.carried > 0, carry), "draw_forgiven": (t.draw_forgiven > 0, forgiven),
    }, t, count)


# --- running it ----------------------------------------------------------------------------


def _currencies_by_plan(tables: Mapping[str, pa.Table], earning_lines: pa.Table
                        ) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    sources = [tables["comp_assignments"], earning_lines]
    if "comp_payout_ledger" in tables:
        sources.append(tables["comp_payout_ledger"])
    for source in sources:
        pairs = source.select(["plan_version_id", "currency"]).group_by(
            ["plan_version_id", "currency"]).aggregate([])
        for row in pairs.to_pylist():
            found.setdefault(int(row["plan_version_id"]), set()).add(str(row["currency"]))
    return found


def _month_rates(tables: Mapping[str, pa.Table], period_start: date) -> dict[str, Decimal]:
    if "exchange_rates" not in tables:
        return {}
    month = date(period_start.year, period_start.month, 1)
    rates = conform("exchange_rates", tables["exchange_rates"]).to_pylist()
    return {str(r["currency"]): r["rate"] for r in rates if r["month_start"] == month}


def _optional(name: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    if name in tables:
        return conform(name, tables[name])
    return logical_table(name).empty()


def _check_state(tables: Mapping[str, pa.Table], period_start: date) -> None:
    for logical in (COMP_PAYOUT_BALANCES, COMP_PAYOUT_LEDGER):
        table = tables[logical.name]
        require_unique(logical.name, table)
        stale = {day for day in table.column("as_of").to_pylist() if day != period_start}
        if stale:
            shown = ", ".join(str(day) for day in sorted(stale))
            raise PayoutInputError(
                f"The opening {logical.name} are as of {shown}, but the run starts on "
                f"{period_start}: pass the closing state of the run of the period that ends "
                f"on {period_start} (or no state for the first period).")
    ledger = tables[COMP_PAYOUT_LEDGER.name]
    for column, allowed in (("part", LEDGER_PARTS), ("due", LEDGER_DUES),
                            ("status", LEDGER_STATUSES)):
        wrong = sorted(set(ledger.column(column).to_pylist()) - set(allowed))
        if wrong:
            raise PayoutInputError(
                f"Column comp_payout_ledger.{column} holds {', '.join(map(repr, wrong))}; "
                f"accepted: {', '.join(allowed)}.")
    require_unique(COMP_PAYOUT_ADJUSTMENTS.name, tables[COMP_PAYOUT_ADJUSTMENTS.name])
    require_unique(COMP_CHURN.name, tables[COMP_CHURN.name])
    balances = tables[COMP_PAYOUT_BALANCES.name].to_pylist()
    for row in balances:
        if row["draw_balance"] < 0 or row["owed_balance"] < 0:
            raise PayoutInputError(
                f"Opening balance of person #{row['person_id']} is negative "
                f"(draw {row['draw_balance']}, owed {row['owed_balance']}); balances are "
                "amounts owed by the person and are never below 0.")


def _check_currencies(backend: Backend, inputs: Mapping[str, ir.Table], period_start: date,
                      governing: ir.Table) -> None:
    earning = inputs["comp_earning_lines"]
    this_period = earning.filter(earning.period_start == _date(period_start))
    every = _union(
        this_period.select("person_id", "currency"),
        inputs["comp_payout_ledger"].select("person_id", "currency"),
        inputs["comp_payout_adjustments"].select("person_id", "currency"),
        inputs["comp_payout_balances"].select("person_id", "currency"),
        governing.select("person_id", "currency"),
    ).distinct()
    mixed = every.group_by("person_id").aggregate(
        currencies=every.currency.nunique(), first=every.currency.min(),
        last=every.currency.max())
    mixed = mixed.filter(mixed.currencies > 1).order_by("person_id").limit(5)
    found = backend.execute(mixed).to_pylist()
    if found:
        shown = "; ".join(f"person #{r['person_id']}: {r['first']} and {r['last']}"
                          for r in found)
        raise PayoutInputError(
            f"Pay in more than one currency for one person in a period ({shown}). A person's "
            "earning lines, balances, ledger, adjustments and assignment must share the payee "
            "currency; convert before the payout run.")


def compute_payouts(backend: Backend, earning_lines: pa.Table | ir.Table,
                    tables: Mapping[str, pa.Table], plans: Mapping[int, PayoutPlan],
                    period_start: date, period_end: date, as_of: date, *,
                    sink: Callable[[str, pa.RecordBatch], None] | None = None) -> PayoutResult:
    """Pay for [period_start, period_end) as of `as_of`: what is paid now, what waits, what
    comes back (module docstring), and the closing state for the next period.

    `earning_lines`: COMP_EARNING_LINES (Arrow, or an expression bound on `backend`); lines of
    other periods are ignored. `tables`: comp_bookings and comp_assignments (required);
    comp_churn, comp_payout_balances, comp_payout_ledger (the opening state, `as_of`
    period_start), comp_payout_adjustments and exchange_rates (optional). `plans`: the plan of
    every plan version in the lines, the ledger and the assignments, by plan_version_id.
    With a `sink` (see `calculation.compute_compensation`), the payout lines and the closing
    ledger (a row per part still open: millions in a large run) are handed to it as
    `sink("payout_lines", batch)` and `sink("ledger", batch)`, in their canonical order, and
    `lines` and `ledger` come back empty.

    Worked example (monthly plan, on_booking, recoverable draw 3,000.00, nothing owed):
    January earnings 1,000.00 → the draw tops up 2,000.00, payout 3,000.00, balance 2,000.00;
    February earnings 6,000.00 → 3,000.00 above the draw, 2,000.00 of it repays the balance,
    payout 4,000.00, balance 0.00.
    """
    # imported here, not at the top: `compensation.schemas` builds the plan JSON Schema from
    # `payouts` when first imported, so importing it while `payouts` loads would see it half-made
    from attain.engine.compensation.schemas import COMP_EARNING_LINES  # registers comp_* tables

    for name in REQUIRED_INPUTS:
        if name not in tables:
            raise PayoutInputError(f"The payout run needs the table {name!r}.")
    state = {name: _optional(name, tables) for name in OPTIONAL_INPUTS}
    _check_state(state, period_start)
    if isinstance(earning_lines, pa.Table):
        arrow_lines = earning_lines
    else:  # an expression: only its (plan version, currency) pairs are needed here
        arrow_lines = backend.execute(
            earning_lines.select("plan_version_id", "currency").distinct())
    assignments = conform("comp_assignments", tables["comp_assignments"])
    in_force = assignments.filter(pc.and_(
        pc.less(assignments.column("valid_from"), pa.scalar(period_end, pa.date32())),
        pc.or_kleene(pc.is_null(assignments.column("valid_to")),
                     pc.greater(assignments.column("valid_to"),
                                pa.scalar(period_start, pa.date32())))))
    currencies = _currencies_by_plan(
        {**tables, **state, "comp_assignments": in_force}, arrow_lines)
    missing_plans = sorted(set(currencies) - set(plans))
    if missing_plans:
        raise PayoutInputError(
            "No plan given for plan version(s) "
            f"{', '.join(f'#{v}' for v in missing_plans)} used by the assignments in force in "
            "the period, the earning lines or the ledger.")
    rules = rules_table(plans, currencies, _month_rates(tables, period_start), period_start,
                        period_end)
    bound = {name: backend.table(name, tables[name]) for name in REQUIRED_INPUTS}
    bound |= {name: backend.table(name, table) for name, table in state.items()}
    bound["comp_payout_rules"] = backend.table("comp_payout_rules", rules)
    bound["comp_earning_lines"] = (backend.table(COMP_EARNING_LINES.name, earning_lines)
                                   if isinstance(earning_lines, pa.Table) else earning_lines)

    # the governing assignment per person, computed once (the currency check and the run use it)
    bound["comp_payout_governing"] = backend.materialise("comp_payout_stage_governing",
                                                 governing_assignments(bound["comp_assignments"],
                                                                       period_start, period_end))
    _check_currencies(backend, bound, period_start, bound["comp_payout_governing"])

    def count(table: ir.Table, conditions: Mapping[str, ir.BooleanValue]) -> Mapping[str, int]:
        counted = backend.execute(table.aggregate(**{
            name: condition.fill_null(False).cast(dt.int64).sum().coalesce(0)
            for name, condition in conditions.items()}))
        return {name: int(counted.column(name)[0].as_py() or 0) for name in conditions}

    expressions = payout_expressions(bound, period_start, period_end, as_of,
                                     backend.materialise, count)
    schemas = {"lines": COMP_PAYOUT_LINES, "payouts": COMP_PAYOUTS,
               "balances": COMP_PAYOUT_BALANCES, "ledger": COMP_PAYOUT_LEDGER}
    streamed = {} if sink is None else {"lines": "payout_lines", "ledger": "ledger"}
    results = {name: backend.execute(expr).select(schemas[name].schema.names)
               .cast(schemas[name].schema) for name, expr in expressions.items()
               if name not in streamed}
    for name, sunk in streamed.items():
        assert sink is not None
        for batch in backend.batches(expressions[name], schema=schemas[name].schema):
            sink(sunk, batch)
        results[name] = schemas[name].empty()
    return PayoutResult(**results)


__all__ = [
    "LINE_KINDS", "PayoutInputError", "PayoutPlan", "PayoutResult", "compute_payouts",
    "governing_assignments", "payout_expressions", "rules_table",
]
