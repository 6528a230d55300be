"""The payout run: worked examples for pay timing, advances, forfeits, clawbacks, draws,
guarantees, forgiveness, carried negative pay and adjustments — amounts computed by hand in
each test — on every backend. Every run also checks that a person's lines add up to the payout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from attain.engine.backends import Backend
from attain.engine.compensation.payouts import (
    COMP_CHURN,
    COMP_PAYOUT_ADJUSTMENTS,
    COMP_PAYOUT_BALANCES,
    LINE_KINDS,
    PayoutInputError,
    PayoutResult,
    compute_payouts,
    parse_payout_rules,
)
from attain.engine.compensation.plans import Plan
from attain.engine.compensation.schemas import (
    COMP_ASSIGNMENTS,
    COMP_BOOKINGS,
    COMP_EARNING_LINES,
)
from attain.engine.schemas import EXCHANGE_RATES

JAN = (date(2026, 1, 1), date(2026, 2, 1))
FEB = (date(2026, 2, 1), date(2026, 3, 1))
MAR = (date(2026, 3, 1), date(2026, 4, 1))
APR = (date(2026, 4, 1), date(2026, 5, 1))
DEC = (date(2026, 12, 1), date(2027, 1, 1))
D = Decimal


# --- factories ---------------------------------------------------------------------------------


def plan(payout: Mapping[str, Any] | None = None, *, currency: str = "USD",
         period: str = "month", year_start: int = 1, proration: str = "days") -> Plan:
    rules, problems = parse_payout_rules(payout, "payout")
    assert problems == []
    return Plan(name="Test plan", currency=currency, period=period,  # type: ignore[arg-type]
                components=(), payout=rules, plan_year_start_month=year_start,
                proration=proration)  # type: ignore[arg-type]


def earning(key: str, person: int, amount: str, *, booking: int | None = None,
            credited: str | None = None, period: tuple[date, date] = JAN,
            plan_version: int = 1, currency: str = "USD",
            component: str = "Commission") -> dict[str, Any]:
    return {"line_key": key, "person_id": person, "assignment_id": person * 10 + plan_version,
            "plan_version_id": plan_version, "period_start": period[0],
            "period_end": period[1], "component": component, "line_kind": "commission",
            "booking_id": booking, "credited_amount": None if credited is None else D(credited),
            "measure_value": None, "tier": None, "rate": None, "amount": D(amount),
            "currency": currency, "trace": '["earned"]'}


def booking(booking_id: int, booked_on: date, *, invoiced: date | None = None,
            paid: date | None = None, cancelled: date | None = None) -> dict[str, Any]:
    return {"booking_id": booking_id, "opportunity_id": booking_id, "owner_id": 1,
            "product_id": None, "product_family": "", "deal_type": "new", "segment": "",
            "is_partner": False, "net_amount": None, "contract_years": 1,
            "booked_on": booked_on, "invoiced_on": invoiced, "paid_on": paid,
            "cancelled_on": cancelled, "amount": D("10000.00"), "currency": "USD",
            "quantity": 1}


def assignment(person: int, valid_from: date, *, plan_version: int = 1,
               currency: str = "USD", valid_to: date | None = None) -> dict[str, Any]:
    return {"assignment_id": person * 10 + plan_version, "person_id": person,
            "plan_version_id": plan_version, "valid_from": valid_from, "valid_to": valid_to,
            "target_incentive": D("60000.00"), "currency": currency, "team_id": None}


def balance(person: int, as_of: date, *, draw: str = "0.00", owed: str = "0.00",
            currency: str = "USD") -> dict[str, Any]:
    return {"person_id": person, "as_of": as_of, "currency": currency,
            "draw_balance": D(draw), "owed_balance": D(owed)}


def ledger_row(key: str, person: int, amount: str, booking_id: int, *, status: str,
               as_of: date, earned: date, paid: date | None = None, due: str = "on_booking",
               part: str = "whole") -> dict[str, Any]:
    return {"line_key": key, "part": part, "as_of": as_of, "person_id": person,
            "assignment_id": person * 10 + 1, "plan_version_id": 1, "component": "Commission",
            "booking_id": booking_id, "earned_period_start": earned, "due": due,
            "status": status, "paid_period_start": paid, "amount": D(amount),
            "currency": "USD"}


def run(backend: Backend, lines: Iterable[dict[str, Any]] = (), *,
        plans: Mapping[int, Plan], period: tuple[date, date] = JAN,
        bookings: Iterable[dict[str, Any]] = (), assignments: Iterable[dict[str, Any]] = (),
        as_of: date | None = None, state: PayoutResult | None = None,
        balances: Iterable[dict[str, Any]] | None = None,
        ledger: Iterable[dict[str, Any]] | None = None,
        adjustments: Iterable[dict[str, Any]] = (), churn: Iterable[dict[str, Any]] = (),
        rates: Mapping[str, str] | None = None) -> PayoutResult:
    """One payout run; `state` (the result of the period before) supplies the opening
    balances and ledger. Checks that every person's lines add up to the payout."""
    start, end = period
    rate_rows = [{"currency": c, "month_start": start, "rate": D(r)}
                 for c, r in (rates or {"USD": "1"}).items()]
    tables: dict[str, pa.Table] = {
        "comp_bookings": pa.Table.from_pylist(list(bookings), schema=COMP_BOOKINGS.schema),
        "comp_assignments": pa.Table.from_pylist(list(assignments),
                                                 schema=COMP_ASSIGNMENTS.schema),
        "exchange_rates": pa.Table.from_pylist(rate_rows, schema=EXCHANGE_RATES.schema),
        "comp_payout_adjustments": pa.Table.from_pylist(
            list(adjustments), schema=COMP_PAYOUT_ADJUSTMENTS.schema),
        "comp_churn": pa.Table.from_pylist(list(churn), schema=COMP_CHURN.schema),
    }
    if state is not None:
        tables["comp_payout_balances"] = state.balances
        tables["comp_payout_ledger"] = state.ledger
    if balances is not None:
        tables["comp_payout_balances"] = pa.Table.from_pylist(
            list(balances), schema=COMP_PAYOUT_BALANCES.schema)
    if ledger is not None:
        from attain.engine.compensation.payouts import COMP_PAYOUT_LEDGER

        tables["comp_payout_ledger"] = pa.Table.from_pylist(list(ledger),
                                                            schema=COMP_PAYOUT_LEDGER.schema)
    earning_lines = pa.Table.from_pylist(list(lines), schema=COMP_EARNING_LINES.schema)
    result = compute_payouts(backend, earning_lines, tables, plans, start, end,
                             as_of or end + timedelta(days=2))
    check_lines_add_up(result)
    return result


def check_lines_add_up(result: PayoutResult) -> None:
    totals: dict[int, Decimal] = {}
    for line in result.lines.to_pylist():
        assert line["kind"] in LINE_KINDS
        assert isinstance(json.loads(line["trace"]), list)
        totals[line["person_id"]] = totals.get(line["person_id"], D(0)) + line["amount"]
    for row in result.payouts.to_pylist():
        assert totals.get(row["person_id"], D("0.00")) == row["payout"], row["person_id"]
        assert row["payout"] >= 0


def payout(result: PayoutResult, person: int = 1) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [r for r in result.payouts.to_pylist()
                                  if r["person_id"] == person]
    assert len(rows) == 1
    return rows[0]


def lines(result: PayoutResult, person: int = 1) -> list[tuple[str, str, Decimal, Decimal]]:
    """(kind, part, basis_amount, amount) of a person's lines, in the result's order."""
    return [(r["kind"], r["part"], r["basis_amount"], r["amount"])
            for r in result.lines.to_pylist() if r["person_id"] == person]


def trace(result: PayoutResult, kind: str, person: int = 1) -> list[str]:
    found = [json.loads(r["trace"]) for r in result.lines.to_pylist()
             if r["person_id"] == person and r["kind"] == kind]
    assert len(found) == 1
    steps: list[str] = found[0]
    return steps


ANYONE = [assignment(1, date(2025, 1, 1))]


# --- pay timing --------------------------------------------------------------------------------


def test_on_booking_pays_deal_lines_booked_in_the_period(backend: Backend) -> None:
    """Line 1,000.00 on a deal booked 10 Jan, timing on_booking → 1,000.00 paid in January."""
    result = run(backend, [earning("L1", 1, "1000.00", booking=7)],
                 bookings=[booking(7, date(2026, 1, 10))], assignments=ANYONE,
                 plans={1: plan({"timing": "on_booking"})})

    assert lines(result) == [("payable", "whole", D("1000.00"), D("1000.00"))]
    assert payout(result)["payout"] == D("1000.00")
    assert trace(result, "payable") == [
        '"Commission" on booking #7, earned in the period from 2026-01-01',
        "Amount: 1000.00 USD", "Due on booking; booked on 2026-01-10",
        "Paid in this period: 1000.00 USD"]


def test_on_invoice_defers_until_the_invoice_then_pays(backend: Backend) -> None:
    """Earned 1,000.00 in January on a deal invoiced 2 February: January pays 0.00 and defers
    1,000.00; February (the ledger carried in) pays the 1,000.00."""
    plans = {1: plan({"timing": "on_invoice"})}
    deal = booking(7, date(2026, 1, 10), invoiced=date(2026, 2, 2))
    january = run(backend, [earning("L1", 1, "1000.00", booking=7)], bookings=[deal],
                  assignments=ANYONE, plans=plans)

    assert lines(january) == [("deferred", "whole", D("1000.00"), D("0.00"))]
    assert (payout(january)["payout"], payout(january)["deferred"],
            payout(january)["closing_deferred"]) == (D("0.00"), D("1000.00"), D("1000.00"))
    assert [(r["line_key"], r["status"], r["due"]) for r in january.ledger.to_pylist()] == [
        ("L1", "deferred", "on_invoice")]

    february = run(backend, [], bookings=[deal], assignments=ANYONE, plans=plans, period=FEB,
                   state=january)

    assert lines(february) == [("payable", "whole", D("1000.00"), D("1000.00"))]
    assert (payout(february)["earned"], payout(february)["payout"],
            payout(february)["closing_deferred"]) == (D("0.00"), D("1000.00"), D("0.00"))
    assert february.ledger.num_rows == 0


def test_lines_without_a_deal_are_paid_when_earned(backend: Backend) -> None:
    """A bonus line (no booking) of 750.00 under on_collection timing is paid in its period."""
    result = run(backend, [earning("B1", 1, "750.00", component="Quarter bonus")],
                 assignments=ANYONE, plans={1: plan({"timing": "on_collection"})})

    assert lines(result) == [("payable", "whole", D("750.00"), D("750.00"))]
    assert trace(result, "payable")[2] == "Not tied to a deal: payable in the period it is earned"


def test_event_after_the_run_date_is_not_known_yet(backend: Backend) -> None:
    """A mid-period run (as of 15 Jan) does not see a payment dated 20 Jan: 400.00 deferred."""
    result = run(backend, [earning("L1", 1, "400.00", booking=7)],
                 bookings=[booking(7, date(2026, 1, 5), paid=date(2026, 1, 20))],
                 assignments=ANYONE, plans={1: plan({"timing": "on_collection"})},
                 as_of=date(2026, 1, 15))

    assert lines(result) == [("deferred", "whole", D("400.00"), D("0.00"))]


# --- advances ------------------------------------------------------------------------------


def test_advance_on_a_large_deal_and_the_remainder_on_collection(backend: Backend) -> None:
    """Deal credited 120,000.00 >= 100,000.00: 50% of its line 2,345.67 = 1,172.835 → 1,172.84
    (half even: the tie goes to the even 4) on booking; remainder 2,345.67 - 1,172.84 =
    1,172.83 waits for collection. A deal credited 50,000.00 (below) pays its 400.00 on
    collection (paid 25 Jan). Payout 1,172.84 + 400.00 = 1,572.84."""
    plans = {1: plan({"timing": "on_collection",
                      "advance": {"deals_from": 100000, "share": "50%"}})}
    big = booking(7, date(2026, 1, 10))
    small = booking(8, date(2026, 1, 12), paid=date(2026, 1, 25))
    result = run(backend, [earning("L1", 1, "2345.67", booking=7, credited="120000.00"),
                           earning("L2", 1, "400.00", booking=8, credited="50000.00")],
                 bookings=[big, small], assignments=ANYONE, plans=plans)

    assert lines(result) == [
        ("deferred", "remainder", D("1172.83"), D("0.00")),
        ("payable", "advance", D("1172.84"), D("1172.84")),
        ("payable", "whole", D("400.00"), D("400.00")),
    ]
    assert payout(result)["payout"] == D("1572.84")
    advance_trace = next(json.loads(r["trace"]) for r in result.lines.to_pylist()
                         if r["part"] == "advance")
    assert advance_trace[1] == ("Advance: the deal is credited 120000.00 (advances from "
                                "100000.00), so 50% of the line, 1172.84 USD, is due on "
                                "booking")

    collected = booking(7, date(2026, 1, 10), paid=date(2026, 2, 14))
    february = run(backend, [], bookings=[collected, small], assignments=ANYONE, plans=plans,
                   period=FEB, state=result)
    assert lines(february) == [("payable", "remainder", D("1172.83"), D("1172.83"))]


def test_advance_threshold_converts_from_the_plan_currency(backend: Backend) -> None:
    """Plan in EUR, threshold 100,000 EUR; 1 EUR = 1.10 company units (USD) → 110,000.00 USD.
    A deal credited 105,000.00 USD is below it: no advance, its 500.00 waits for collection."""
    plans = {1: plan({"timing": "on_collection",
                      "advance": {"deals_from": 100000, "share": "50%"}}, currency="EUR")}
    result = run(backend, [earning("L1", 1, "500.00", booking=7, credited="105000.00")],
                 bookings=[booking(7, date(2026, 1, 10))], assignments=ANYONE, plans=plans,
                 rates={"USD": "1", "EUR": "1.10"})

    assert lines(result) == [("deferred", "whole", D("500.00"), D("0.00"))]


# --- cancellations and clawbacks ---------------------------------------------------------------


def test_cancelled_deal_forfeits_what_was_not_paid(backend: Backend) -> None:
    """On collection; the deal is cancelled 20 Jan before the customer paid: 500.00 is
    forfeited (never paid), nothing stays in the ledger."""
    result = run(backend, [earning("L1", 1, "500.00", booking=7)],
                 bookings=[booking(7, date(2026, 1, 5), cancelled=date(2026, 1, 20))],
                 assignments=ANYONE, plans={1: plan({"timing": "on_collection"})})

    assert lines(result) == [("forfeited", "whole", D("500.00"), D("0.00"))]
    assert (payout(result)["payout"], payout(result)["forfeited"]) == (D("0.00"), D("500.00"))
    assert result.ledger.num_rows == 0


def test_clawback_after_cancellation_recovered_from_earnings(backend: Backend) -> None:
    """1,000.00 paid in December on a deal booked 10 Dec 2025; cancelled 15 Jan 2026, 36 days
    later (within 90) → clawed back in full: 1,000.00 owed. January earns 1,500.00 → 1,000.00
    recovered, payout 1,500.00 - 1,000.00 = 500.00, nothing left owed."""
    plans = {1: plan({"clawback": {"on": ["cancellation"], "within_days": 90}})}
    deal = booking(7, date(2025, 12, 10), cancelled=date(2026, 1, 15))
    paid_in_december = ledger_row("D7", 1, "1000.00", 7, status="paid", as_of=JAN[0],
                                  earned=date(2025, 12, 1), paid=date(2025, 12, 1))
    result = run(backend, [earning("L1", 1, "1500.00")], bookings=[deal], assignments=ANYONE,
                 plans=plans, ledger=[paid_in_december])

    assert lines(result) == [
        ("clawback", "whole", D("1000.00"), D("0.00")),
        ("owed_recovery", "", D("1000.00"), D("-1000.00")),
        ("payable", "whole", D("1500.00"), D("1500.00")),
    ]
    row = payout(result)
    assert (row["clawbacks"], row["owed_recovered"], row["payout"],
            row["closing_owed_balance"]) == (D("1000.00"), D("1000.00"), D("500.00"),
                                             D("0.00"))
    assert trace(result, "clawback") == [
        '"Commission" on booking #7, earned in the period from 2025-12-01',
        "Paid 1000.00 USD in the period from 2025-12-01",
        "The deal was cancelled on 2026-01-15, 36 days after booking on 2025-12-10 "
        "(clawback window: 90 days)",
        "Clawed back in full: 1000.00 USD",
        "Owed back; recovered from earnings (see the recovery line of the period)"]
    assert result.ledger.num_rows == 0  # clawed back once, gone from the ledger


def test_pro_rata_churn_clawback_capped_per_period(backend: Backend) -> None:
    """1,000.00 paid on a deal booked 1 Nov 2025; the customer churns 10 Jan 2026: 70 days
    served (30 Nov + 31 Dec + 9) of a 90-day window → 1,000.00 x 20 / 90 = 222.222… → 222.22
    clawed back. At most 150.00 per period: January (earning 1,000.00) recovers 150.00, pays
    850.00 and still owes 72.22; February (earning 100.00) recovers 72.22 and pays 27.78."""
    plans = {1: plan({"clawback": {"on": ["churn"], "within_days": 90, "method": "pro_rata",
                                   "max_per_period": 150}})}
    deal = booking(7, date(2025, 11, 1))
    paid = ledger_row("N7", 1, "1000.00", 7, status="paid", as_of=JAN[0],
                      earned=date(2025, 11, 1), paid=date(2025, 11, 1))
    churned = [{"booking_id": 7, "churned_on": date(2026, 1, 10)}]
    january = run(backend, [earning("L1", 1, "1000.00")], bookings=[deal], assignments=ANYONE,
                  plans=plans, ledger=[paid], churn=churned)

    row = payout(january)
    assert (row["clawbacks"], row["owed_recovered"], row["payout"],
            row["closing_owed_balance"]) == (D("222.22"), D("150.00"), D("850.00"), D("72.22"))
    assert trace(january, "clawback")[2:4] == [
        "The customer churned on 2026-01-10, 70 days after booking on 2025-11-01 "
        "(clawback window: 90 days)",
        "Pro rata for the days not served: 1000.00 USD x (90 - 70) / 90 = 222.22 USD"]

    february = run(backend, [earning("L2", 1, "100.00", period=FEB)], bookings=[deal],
                   assignments=ANYONE, plans=plans, period=FEB, state=january, churn=churned)

    row = payout(february)
    assert (row["opening_owed_balance"], row["clawbacks"], row["owed_recovered"],
            row["payout"], row["closing_owed_balance"]) == (
        D("72.22"), D("0.00"), D("72.22"), D("27.78"), D("0.00"))


def test_clawback_share_of_earnings_cap(backend: Backend) -> None:
    """Owed 600.00 (opening); at most 25% of earnings per period: January earns 1,000.00 →
    250.00 recovered, payout 750.00, 350.00 still owed."""
    plans = {1: plan({"clawback": {"within_days": 30, "max_share_of_earnings": "25%"}})}
    result = run(backend, [earning("L1", 1, "1000.00")], assignments=ANYONE, plans=plans,
                 balances=[balance(1, JAN[0], owed="600.00")])

    row = payout(result)
    assert (row["owed_recovered"], row["payout"], row["closing_owed_balance"]) == (
        D("250.00"), D("750.00"), D("350.00"))


def test_cancellation_outside_the_window_claws_nothing_back(backend: Backend) -> None:
    """Paid in October on a deal booked 1 Oct 2025, window 90 days (last day 30 Dec 2025);
    cancelled 5 Jan 2026 (96 days) → no clawback, and the paid part leaves the ledger."""
    plans = {1: plan({"clawback": {"within_days": 90}})}
    paid = ledger_row("O7", 1, "800.00", 7, status="paid", as_of=JAN[0],
                      earned=date(2025, 10, 1), paid=date(2025, 10, 1))
    result = run(backend, [earning("L1", 1, "100.00")],
                 bookings=[booking(7, date(2025, 10, 1), cancelled=date(2026, 1, 5))],
                 assignments=ANYONE, plans=plans, ledger=[paid])

    assert lines(result) == [("payable", "whole", D("100.00"), D("100.00"))]
    assert result.ledger.num_rows == 0


def test_paid_part_stays_exposed_while_its_window_is_open(backend: Backend) -> None:
    """Booked and paid 20 Jan, window 30 days → last day 19 Feb >= 1 Feb: the paid 300.00 stays
    in the ledger as `paid`; in February the deal is cancelled on 10 Feb (21 days) → 300.00
    clawed back from February's 1,000.00: payout 700.00."""
    plans = {1: plan({"clawback": {"within_days": 30}})}
    january = run(backend, [earning("L1", 1, "300.00", booking=7)],
                  bookings=[booking(7, date(2026, 1, 20))], assignments=ANYONE, plans=plans)

    assert [(r["status"], r["paid_period_start"], r["amount"])
            for r in january.ledger.to_pylist()] == [("paid", JAN[0], D("300.00"))]

    february = run(backend, [earning("L2", 1, "1000.00", period=FEB)],
                   bookings=[booking(7, date(2026, 1, 20), cancelled=date(2026, 2, 10))],
                   assignments=ANYONE, plans=plans, period=FEB, state=january)

    assert (payout(february)["clawbacks"], payout(february)["payout"]) == (
        D("300.00"), D("700.00"))


# --- draws ---------------------------------------------------------------------------------


def test_recoverable_draw_recovered_from_later_earnings(backend: Backend) -> None:
    """Draw 3,000.00 a month, recovered from at most 50% of the earnings above the draw.
    Jan: earns 1,000.00 → draw 2,000.00, payout 3,000.00, owes 2,000.00.
    Feb: earns 6,000.00 → (6,000.00 - 3,000.00) x 50% = 1,500.00 repaid, payout 4,500.00,
         owes 500.00.
    Mar: earns 5,000.00 → (5,000.00 - 3,000.00) x 50% = 1,000.00, but only 500.00 is owed →
         repaid 500.00, payout 4,500.00, owes 0.00."""
    plans = {1: plan({"draw": {"kind": "recoverable", "amount": 3000,
                               "recovery": {"max_share_of_earnings": "50%"}}})}
    hired = [assignment(1, date(2026, 1, 1))]
    january = run(backend, [earning("J", 1, "1000.00")], assignments=hired, plans=plans)
    february = run(backend, [earning("F", 1, "6000.00", period=FEB)], assignments=hired,
                   plans=plans, period=FEB, state=january)
    march = run(backend, [earning("M", 1, "5000.00", period=MAR)], assignments=hired,
                plans=plans, period=MAR, state=february)

    figures = [(payout(r)["draw_paid"], payout(r)["draw_recovered"], payout(r)["payout"],
                payout(r)["closing_draw_balance"]) for r in (january, february, march)]
    assert figures == [
        (D("2000.00"), D("0.00"), D("3000.00"), D("2000.00")),
        (D("0.00"), D("1500.00"), D("4500.00"), D("500.00")),
        (D("0.00"), D("500.00"), D("4500.00"), D("0.00")),
    ]
    assert lines(february) == [
        ("draw", "", D("3000.00"), D("0.00")),
        ("draw_recovery", "", D("2000.00"), D("-1500.00")),
        ("payable", "whole", D("6000.00"), D("6000.00")),
    ]
    assert trace(january, "draw") == [
        "Recoverable draw of 3000.00 USD per period (period 1 of the assignment)",
        "Pay before the draw: 1000.00 USD",
        "Top-up to the draw: max(3000.00 USD - 1000.00 USD, 0) = 2000.00 USD",
        "Owed back from later earnings: balance 0.00 USD + 2000.00 USD = 2000.00 USD"]
    assert march.balances.num_rows == 0


def test_non_recoverable_draw_for_the_first_periods_only(backend: Backend) -> None:
    """Assignment from 1 Jan; non-recoverable draw 1,000.00 for 3 periods. Mar (period 3)
    earns 400.00 → draw 600.00, payout 1,000.00, nothing owed; Apr (period 4) → 400.00."""
    plans = {1: plan({"draw": {"kind": "non_recoverable", "amount": 1000, "periods": 3}})}
    starts = [assignment(1, date(2026, 1, 1))]
    march = run(backend, [earning("M", 1, "400.00", period=MAR)], assignments=starts,
                plans=plans, period=MAR)
    april = run(backend, [earning("A", 1, "400.00", period=APR)], assignments=starts,
                plans=plans, period=APR)

    assert (payout(march)["draw_paid"], payout(march)["payout"],
            payout(march)["closing_draw_balance"]) == (D("600.00"), D("1000.00"), D("0.00"))
    assert trace(march, "draw")[0] == ("Non-recoverable draw of 1000.00 USD per period "
                                       "(period 3 of 3 of the assignment)")
    assert (payout(april)["draw_paid"], payout(april)["payout"]) == (D("0.00"), D("400.00"))
    assert [kind for kind, _, _, _ in lines(april)] == ["payable"]


def test_draw_converts_from_the_plan_currency_to_the_payee_currency(backend: Backend) -> None:
    """Draw 3,000.00 USD; the payee is paid in EUR at 1 EUR = 1.10 USD: 3,000.00 x 1 / 1.10 =
    2,727.2727… → 2,727.27 EUR; no earnings → draw 2,727.27 EUR."""
    plans = {1: plan({"draw": {"kind": "recoverable", "amount": 3000}})}
    result = run(backend, [], assignments=[assignment(1, date(2025, 1, 1), currency="EUR")],
                 plans=plans, rates={"USD": "1", "EUR": "1.10"})

    row = payout(result)
    assert (row["currency"], row["draw_paid"], row["payout"]) == ("EUR", D("2727.27"),
                                                                 D("2727.27"))


def test_recoverable_draw_forgiven_at_plan_year_end(backend: Backend) -> None:
    """December closes the plan year. Owed 800.00 on the draw; draw 1,000.00; December earns
    300.00 → draw 700.00, payout 1,000.00; balance 800.00 + 700.00 = 1,500.00 is forgiven →
    closing balance 0.00."""
    plans = {1: plan({"draw": {"kind": "recoverable", "amount": 1000,
                               "forgive_at_year_end": True}})}
    result = run(backend, [earning("D", 1, "300.00", period=DEC)], assignments=ANYONE,
                 plans=plans, period=DEC, balances=[balance(1, DEC[0], draw="800.00")])

    row = payout(result)
    assert (row["draw_paid"], row["payout"], row["draw_forgiven"],
            row["closing_draw_balance"]) == (D("700.00"), D("1000.00"), D("1500.00"),
                                             D("0.00"))
    assert ("draw_forgiven", "", D("1500.00"), D("0.00")) in lines(result)
    assert result.balances.num_rows == 0


def test_draw_is_not_forgiven_before_the_plan_year_ends(backend: Backend) -> None:
    """Plan year from April: January does not close it; owed 800.00 stays owed."""
    plans = {1: plan({"draw": {"kind": "recoverable", "amount": 1000,
                               "forgive_at_year_end": True}}, year_start=4)}
    result = run(backend, [earning("J", 1, "1000.00")], assignments=ANYONE, plans=plans,
                 balances=[balance(1, JAN[0], draw="800.00")])

    assert (payout(result)["draw_forgiven"], payout(result)["closing_draw_balance"]) == (
        D("0.00"), D("800.00"))


# --- guarantees ----------------------------------------------------------------------------


def test_guarantee_tops_up_a_ramping_hire(backend: Backend) -> None:
    """Hired 1 Jan (period 1 = January), guarantee 5,000.00 for 2 periods. January earns
    1,200.00 → top-up 3,800.00, payout 5,000.00 (never owed back). March (period 3) earns
    1,200.00 → no guarantee, payout 1,200.00."""
    plans = {1: plan({"guarantee": {"amount": 5000, "periods": 2}})}
    hired = [assignment(1, date(2026, 1, 1))]
    january = run(backend, [earning("J", 1, "1200.00")], assignments=hired, plans=plans)
    march = run(backend, [earning("M", 1, "1200.00", period=MAR)], assignments=hired,
                plans=plans, period=MAR)

    assert (payout(january)["guarantee_paid"], payout(january)["payout"],
            payout(january)["closing_draw_balance"]) == (D("3800.00"), D("5000.00"), D("0.00"))
    assert trace(january, "guarantee") == [
        "Guaranteed minimum pay of 5000.00 USD (period 1 of 2 of the assignment)",
        "Pay before the guarantee: 1200.00 USD",
        "Top-up: max(5000.00 USD - 1200.00 USD, 0) = 3800.00 USD; never owed back"]
    assert (payout(march)["guarantee_paid"], payout(march)["payout"]) == (
        D("0.00"), D("1200.00"))


def test_guarantee_prorated_for_a_mid_period_hire(backend: Backend) -> None:
    """Hired 15 Jan: 17 of January's 31 days (15th to 31st). Guarantee 5,000.00 x 17 / 31 =
    2,741.935… → 2,741.94; earns 1,200.00 → top-up 1,541.94, payout 2,741.94. Without
    proration (`proration: none`) the full 5,000.00 applies: top-up 3,800.00."""
    hired = [assignment(1, date(2026, 1, 15))]
    prorated = run(backend, [earning("J", 1, "1200.00")], assignments=hired,
                   plans={1: plan({"guarantee": {"amount": 5000, "periods": 2}})})
    whole = run(backend, [earning("J", 1, "1200.00")], assignments=hired,
                plans={1: plan({"guarantee": {"amount": 5000, "periods": 2}},
                               proration="none")})

    assert (payout(prorated)["guarantee_paid"], payout(prorated)["payout"]) == (
        D("1541.94"), D("2741.94"))
    assert trace(prorated, "guarantee")[1] == (
        "Prorated for the 17 of 31 days of the period under the plan: 2741.94 USD")
    assert (payout(whole)["guarantee_paid"], payout(whole)["payout"]) == (
        D("3800.00"), D("5000.00"))


def test_guarantee_periods_count_quarters_from_the_hire(backend: Backend) -> None:
    """Quarterly pay, hired 10 Feb 2026 → Q1 is period 1, Q2 period 2; guarantee 9,000.00 for
    1 period. Q1 is covered from 10 Feb: 19 days of February + 31 of March = 50 of Q1's 90
    days → 9,000.00 x 50 / 90 = 5,000.00; Q1 earning 2,000.00 pays 5,000.00; Q2 earning
    2,000.00 pays 2,000.00."""
    plans = {1: plan({"guarantee": {"amount": 9000, "periods": 1}}, period="quarter")}
    hired = [assignment(1, date(2026, 2, 10))]
    q1 = (date(2026, 1, 1), date(2026, 4, 1))
    q2 = (date(2026, 4, 1), date(2026, 7, 1))
    first = run(backend, [earning("Q1", 1, "2000.00", period=q1)], assignments=hired,
                plans=plans, period=q1)
    second = run(backend, [earning("Q2", 1, "2000.00", period=q2)], assignments=hired,
                 plans=plans, period=q2)

    assert payout(first)["payout"] == D("5000.00")
    assert payout(second)["payout"] == D("2000.00")


def test_plan_change_mid_ramp_does_not_restart_the_guarantee(backend: Backend) -> None:
    """Hired 1 Jan on plan version 1, moved to version 2 on 1 Mar (the day version 1 ends):
    one unbroken run from January, so March is period 3 and a 2-period guarantee no longer
    applies: March earns 1,000.00 and pays 1,000.00. After a gap (version 1 ended 1 Feb,
    version 2 from 1 Mar) March starts a new run: period 1, guarantee 5,000.00 applies."""
    plans = {1: plan({"guarantee": {"amount": 5000, "periods": 2}}),
             2: plan({"guarantee": {"amount": 5000, "periods": 2}})}
    lines = [earning("M", 1, "1000.00", period=MAR, plan_version=2)]
    unbroken = run(backend, lines, plans=plans, period=MAR, assignments=[
        assignment(1, date(2026, 1, 1), valid_to=date(2026, 3, 1)),
        assignment(1, date(2026, 3, 1), plan_version=2)])
    after_gap = run(backend, lines, plans=plans, period=MAR, assignments=[
        assignment(1, date(2026, 1, 1), valid_to=date(2026, 2, 1)),
        assignment(1, date(2026, 3, 1), plan_version=2)])

    assert (payout(unbroken)["plan_version_id"], payout(unbroken)["payout"]) == (
        2, D("1000.00"))
    assert payout(after_gap)["payout"] == D("5000.00")
    assert trace(after_gap, "guarantee")[0] == (
        "Guaranteed minimum pay of 5000.00 USD (period 1 of 2 of the assignment)")


def test_guarantee_and_draw_together(backend: Backend) -> None:
    """Recoverable draw 2,000.00 and guarantee 3,000.00 in period 1; earns 500.00 → draw
    1,500.00 (owed back), guarantee 3,000.00 - 2,000.00 = 1,000.00 (not owed), payout
    3,000.00."""
    plans = {1: plan({"draw": {"kind": "recoverable", "amount": 2000},
                      "guarantee": {"amount": 3000, "periods": 1}})}
    result = run(backend, [earning("J", 1, "500.00")],
                 assignments=[assignment(1, date(2026, 1, 1))], plans=plans)

    row = payout(result)
    assert (row["draw_paid"], row["guarantee_paid"], row["payout"],
            row["closing_draw_balance"]) == (D("1500.00"), D("1000.00"), D("3000.00"),
                                             D("1500.00"))


# --- adjustments and negative pay -----------------------------------------------------------


def adjustment(key: str, amount: str, *, before: str | None, after: str | None,
               change: str) -> dict[str, Any]:
    return {"adjustment_key": key, "person_id": 1, "period_start": date(2025, 12, 1),
            "component": "Commission", "booking_id": 7, "kind": "commission",
            "change": change, "before_amount": None if before is None else D(before),
            "after_amount": None if after is None else D(after), "amount": D(amount),
            "currency": "USD", "reason": "late booking data"}


def test_prior_period_adjustment_is_paid_as_its_own_line(backend: Backend) -> None:
    """December's commission on booking #7 was 800.00, the re-run says 1,000.00: +200.00 paid
    in January next to January's 1,000.00 → payout 1,200.00."""
    result = run(backend, [earning("J", 1, "1000.00")], assignments=ANYONE, plans={1: plan()},
                 adjustments=[adjustment("r1|7", "200.00", before="800.00", after="1000.00",
                                         change="changed")])

    assert ("adjustment", "", D("200.00"), D("200.00")) in lines(result)
    assert (payout(result)["adjustments"], payout(result)["payout"]) == (
        D("200.00"), D("1200.00"))
    assert trace(result, "adjustment") == [
        'Correction to the closed period from 2025-12-01: commission line of "Commission" on '
        "booking #7 was changed",
        "Before: 800.00 USD; after: 1000.00 USD", "Paid now: 200.00 USD",
        "Why: late booking data"]


def test_negative_pay_is_carried_forward_as_owed(backend: Backend) -> None:
    """A removed December line (-500.00) and January earnings 200.00 → -300.00: payout 0.00,
    300.00 carried forward as owed; February earns 1,000.00 → 300.00 recovered, payout
    700.00."""
    plans = {1: plan()}
    january = run(backend, [earning("J", 1, "200.00")], assignments=ANYONE, plans=plans,
                  adjustments=[adjustment("r1|7", "-500.00", before="500.00", after=None,
                                          change="removed")])

    row = payout(january)
    assert (row["payout"], row["carried_forward"], row["closing_owed_balance"]) == (
        D("0.00"), D("300.00"), D("300.00"))
    assert ("carry_forward", "", D("300.00"), D("300.00")) in lines(january)

    february = run(backend, [earning("F", 1, "1000.00", period=FEB)], assignments=ANYONE,
                   plans=plans, period=FEB, state=january)
    assert (payout(february)["owed_recovered"], payout(february)["payout"]) == (
        D("300.00"), D("700.00"))


# --- people, determinism, refusals ------------------------------------------------------------


def test_person_with_an_assignment_and_nothing_earned_gets_a_zero_row(backend: Backend) -> None:
    result = run(backend, [], assignments=[assignment(2, date(2025, 1, 1))], plans={1: plan()})

    assert payout(result, 2)["payout"] == D("0.00")
    assert lines(result, 2) == []


def test_component_names_are_escaped_in_the_json_trace(backend: Backend) -> None:
    result = run(backend, [earning("Q", 1, "10.00", component='The "Big" \\ one')],
                 assignments=ANYONE, plans={1: plan()})

    assert trace(result, "payable")[0] == ('"The "Big" \\ one", earned in the period from '
                                           "2026-01-01")


def test_same_inputs_give_identical_results(backend: Backend) -> None:
    def once() -> PayoutResult:
        return run(backend, [earning("L1", 1, "2345.67", booking=7, credited="120000.00"),
                             earning("L2", 2, "99.99")],
                   bookings=[booking(7, date(2026, 1, 10))],
                   assignments=[*ANYONE, assignment(2, date(2026, 1, 1))],
                   plans={1: plan({"timing": "on_collection",
                                   "advance": {"deals_from": 1000, "share": "33.3%"},
                                   "draw": {"kind": "recoverable", "amount": 500}})})

    first, second = once(), once()
    assert first.lines.equals(second.lines)
    assert first.payouts.equals(second.payouts)
    assert first.ledger.equals(second.ledger)
    assert first.balances.equals(second.balances)


def test_opening_state_of_another_date_is_refused(backend: Backend) -> None:
    with pytest.raises(PayoutInputError, match="opening comp_payout_balances are as of "
                                               "2026-01-01, but the run starts on 2026-02-01"):
        run(backend, [], assignments=ANYONE, plans={1: plan()}, period=FEB,
            balances=[balance(1, JAN[0], draw="10.00")])


def test_negative_opening_balance_is_refused(backend: Backend) -> None:
    with pytest.raises(PayoutInputError, match="person #1 is negative"):
        run(backend, [], assignments=ANYONE, plans={1: plan()},
            balances=[balance(1, JAN[0], owed="-1.00")])


def test_pay_in_two_currencies_for_one_person_is_refused(backend: Backend) -> None:
    with pytest.raises(PayoutInputError, match="person #1: EUR and USD"):
        run(backend, [earning("J", 1, "10.00", currency="EUR")], assignments=ANYONE,
            plans={1: plan()}, rates={"USD": "1", "EUR": "1.1"})


def test_missing_plan_version_is_refused(backend: Backend) -> None:
    with pytest.raises(PayoutInputError, match="No plan given for plan version"):
        run(backend, [earning("J", 1, "10.00", plan_version=2)], assignments=ANYONE,
            plans={1: plan()})


def test_missing_rate_for_a_conversion_is_refused(backend: Backend) -> None:
    with pytest.raises(PayoutInputError, match="No exchange rate for EUR in 2026-01"):
        run(backend, [], assignments=[assignment(1, date(2025, 1, 1), currency="EUR")],
            plans={1: plan({"draw": {"kind": "recoverable", "amount": 3000}})})


def test_ledger_rows_with_unknown_values_are_refused(backend: Backend) -> None:
    row = ledger_row("L", 1, "10.00", 7, status="paid", as_of=JAN[0], earned=date(2025, 12, 1),
                     paid=date(2025, 12, 1), due="on_signature")
    with pytest.raises(PayoutInputError, match=r"comp_payout_ledger\.due holds 'on_signature'"):
        run(backend, [], assignments=ANYONE, plans={1: plan()}, ledger=[row])


def test_old_assignments_need_no_plan_and_lines_may_come_as_an_expression(
        backend: Backend) -> None:
    """An assignment that ended last year on plan version 9 (not given) does not matter; the
    earning lines are passed as an expression bound on the backend: 10.00 paid."""
    lines = pa.Table.from_pylist([earning("J", 1, "10.00")], schema=COMP_EARNING_LINES.schema)
    tables = {
        "comp_bookings": COMP_BOOKINGS.empty(),
        "comp_assignments": pa.Table.from_pylist(
            [*ANYONE, assignment(1, date(2024, 1, 1), plan_version=9,
                                 valid_to=date(2025, 1, 1))], schema=COMP_ASSIGNMENTS.schema),
        "exchange_rates": pa.Table.from_pylist(
            [{"currency": "USD", "month_start": JAN[0], "rate": D(1)}],
            schema=EXCHANGE_RATES.schema),
    }
    result = compute_payouts(backend, backend.table("comp_earning_lines", lines), tables,
                             {1: plan()}, *JAN, date(2026, 2, 3))

    assert payout(result)["payout"] == D("10.00")
