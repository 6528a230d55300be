"""A stored compensation run written row by row, for tests of pages, visibility and workflow
that do not exercise the engine (the engine's own numbers are tested in test_run_*)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from attain.compensation.models import CompRun, EarningLine, Payout, PayoutLine
from attain.core.actions import ensure_periods
from attain.core.models import CalcRun, Period


def quarter(start: date = date(2026, 1, 1)) -> Period:
    ensure_periods(start, start.replace(month=start.month + 2), ["quarter", "month"])
    return Period.objects.get(kind="quarter", start=start)


def stored_run(period: Period, amounts: dict[int, str], version_id: int | None = None
               ) -> CompRun:
    """A succeeded run paying each person id its amount: one commission line of 8 % on a
    credited amount of amount / 8 % (e.g. 800.00 on 10,000.00), one payable line."""
    calc = CalcRun.objects.create(kind="compensation", status=CalcRun.Status.SUCCEEDED,
                                  inputs_hash="ab" * 32, backend="duckdb")
    run = CompRun.objects.create(calc_run=calc, period=period, as_of=period.end,
                                 plan_versions=[version_id] if version_id else [])
    for person_id, text in amounts.items():
        amount = Decimal(text)
        key = f"commission|{person_id}|{period.start}|1"
        EarningLine.objects.create(
            run=run, person_id=person_id, line_key=key, plan_version_id=version_id,
            period_start=period.start, period_end=period.end, component="Commission",
            line_kind="commission", booking_id=person_id * 100,
            credited_amount=amount / Decimal("0.08"), rate=Decimal("0.08"), amount=amount,
            currency="USD", trace=[f"Order line {person_id * 100} credited "
                                   f"{amount / Decimal('0.08'):,.2f} USD to you as owner.",
                                   f"8% of it is {amount:,.2f} USD."])
        PayoutLine.objects.create(
            run=run, person_id=person_id, line_key=f"payable|{key}", period_start=period.start,
            period_end=period.end, kind="payable", component="Commission",
            booking_id=person_id * 100, source_line_key=key, part="whole",
            basis_amount=amount, amount=amount, currency="USD",
            trace=["The deal was booked, so the commission is paid now."])
        Payout.objects.create(run=run, person_id=person_id, period_start=period.start,
                              period_end=period.end, currency="USD", earned=amount,
                              payable_earnings=amount, payout=amount)
    return run
