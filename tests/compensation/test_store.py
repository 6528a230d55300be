"""A run's results stored through the fast write path (`engine_io._store`) read back through the
ORM exactly as the engine gave them: blanks for missing texts, JSON fields from the engine's
JSON text (quotes, backslashes and non-ASCII words included), decimals to their scale."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from attain.compensation import engine_io
from attain.compensation.models import (
    CompRun,
    Credit,
    EarningLine,
    Payout,
    PayoutBalance,
    PayoutLedgerEntry,
    PayoutLine,
)
from attain.core.models import CalcRun
from attain.engine.compensation import payout_tables
from attain.engine.compensation.schemas import COMP_CREDITS, COMP_EARNING_LINES
from tests.compensation.plans import org, published
from tests.compensation.stored import quarter

pytestmark = pytest.mark.django_db

D = Decimal
Q2_START, Q2_END = date(2026, 1, 1), date(2026, 4, 1)
RULE = 'roll-up to manager level 1 above the credited rep: 100.00% ("Ann\'s \\ team")'
TRACE = json.dumps(["Booking 7 of 2026-02-10: 9000.00 USD (Core, new, SMB)",
                    'Credit rule: a "quoted" rule \\ with ünïcode — €'], ensure_ascii=False)


def table(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture
def stored():
    people = org()
    version = published(people["ops"].user)
    period = quarter()
    calc = CalcRun.objects.create(kind="compensation", status=CalcRun.Status.SUCCEEDED,
                                  inputs_hash="cd" * 32, backend="duckdb")
    run = CompRun.objects.create(calc_run=calc, period=period, as_of=period.end,
                                 plan_versions=[version.pk])
    ann, mia = people["ann"].pk, people["mgr"].pk
    output = engine_io.RunOutput(
        credits=table(COMP_CREDITS.schema, [
            {"person_id": mia, "assignment_id": 3, "booking_id": 7, "credit_kind": "roll_up",
             "booked_on": date(2026, 2, 10), "percent": D("100.0000"),
             "credited_amount": D("9000.00"), "rule": RULE}]),
        earning_lines=table(COMP_EARNING_LINES.schema, [
            {"line_key": "3:Commission:commission:7:owner", "person_id": ann,
             "assignment_id": 3, "plan_version_id": version.pk, "period_start": Q2_START,
             "period_end": Q2_END, "component": "Commission", "position": 1,
             "line_kind": "commission", "booking_id": 7, "credit_kind": "owner",
             "credited_amount": D("9000.00"), "measure_value": D("0.12345678"), "tier": 3,
             "rate": D("0.06000000"), "amount": D("680.00"), "currency": "USD",
             "trace": TRACE},
            {"line_key": "0:Adjustment:manual_adjustment::", "person_id": ann,
             "assignment_id": 0, "plan_version_id": 0, "period_start": Q2_START,
             "period_end": Q2_END, "component": "", "position": 9,
             "line_kind": "manual_adjustment", "booking_id": None, "credit_kind": None,
             "credited_amount": None, "measure_value": None, "tier": None, "rate": None,
             "amount": D("-12.50"), "currency": "USD", "trace": "[]"}]),
        payouts=table(payout_tables.COMP_PAYOUTS.schema, []),
        payout_lines=table(payout_tables.COMP_PAYOUT_LINES.schema, [
            {"line_key": "payable|3:Commission:commission:7:owner", "person_id": ann,
             "assignment_id": 3, "plan_version_id": version.pk, "period_start": Q2_START,
             "period_end": Q2_END, "kind": "payable", "component": "Commission",
             "booking_id": 7, "source_line_key": None, "part": "whole",
             "earned_period_start": Q2_START, "basis_amount": D("680.00"),
             "amount": D("680.00"), "currency": "USD", "trace": '["Paid on booking."]'}]),
        balances=table(payout_tables.COMP_PAYOUT_BALANCES.schema, [
            {"person_id": ann, "as_of": Q2_END, "currency": "USD",
             "draw_balance": D("1500.00"), "owed_balance": D("0.00")}]),
        ledger=table(payout_tables.COMP_PAYOUT_LEDGER.schema, [
            {"line_key": "3:Commission:commission:7:owner", "part": "remainder",
             "as_of": Q2_END, "person_id": ann, "assignment_id": 3,
             "plan_version_id": version.pk, "component": "Commission", "booking_id": 7,
             "earned_period_start": Q2_START, "due": "on_collection", "status": "deferred",
             "paid_period_start": None, "amount": D("340.00"), "currency": "EUR"}]))
    written = engine_io._store(run, output, None)
    return run, people, version, written


def test_every_row_is_written_and_read_back_as_the_engine_gave_it(stored):
    run, people, version, written = stored
    assert written == 6  # 1 credit, 2 earning lines, 0 payouts, 1 payout line, 1 + 1 state

    credit = Credit.objects.get(run=run)
    assert (credit.person_id, credit.booking_id, credit.opportunity_id, credit.credit_date,
            credit.rule, credit.percent, credit.amount, credit.currency) == (
        people["mgr"].pk, 7, None, date(2026, 2, 10), "roll_up", D("100.0000"),
        D("9000.00"), "USD")
    assert credit.detail == {"rule": RULE}

    line, manual = EarningLine.objects.filter(run=run).order_by("id")
    assert (line.line_key, line.person_id, line.assignment_id, line.plan_version_id,
            line.period_start, line.period_end, line.component, line.line_kind,
            line.booking_id, line.credit_kind, line.credited_amount, line.measure_value,
            line.tier, line.rate, line.amount, line.currency) == (
        "3:Commission:commission:7:owner", people["ann"].pk, 3, version.pk, Q2_START, Q2_END,
        "Commission", "commission", 7, "owner", D("9000.00"), D("0.12345678"), "3",
        D("0.06000000"), D("680.00"), "USD")
    assert line.trace == json.loads(TRACE)
    # missing texts are blank, ids of 0 and missing numbers are null, as the ORM stored them
    assert (manual.assignment_id, manual.plan_version_id, manual.component,
            manual.credit_kind, manual.tier, manual.booking_id, manual.credited_amount,
            manual.rate, manual.amount, manual.trace) == (
        None, None, "", "", "", None, None, None, D("-12.50"), [])

    paid = PayoutLine.objects.get(run=run)
    assert (paid.kind, paid.component, paid.source_line_key, paid.part,
            paid.earned_period_start, paid.basis_amount, paid.amount, paid.trace) == (
        "payable", "Commission", "", "whole", Q2_START, D("680.00"), D("680.00"),
        ["Paid on booking."])
    balance = PayoutBalance.objects.get(run=run)
    assert (balance.person_id, balance.as_of, balance.draw_balance, balance.owed_balance) == (
        people["ann"].pk, Q2_END, D("1500.00"), D("0.00"))
    entry = PayoutLedgerEntry.objects.get(run=run)
    assert (entry.part, entry.due, entry.status, entry.paid_period_start, entry.amount,
            entry.currency) == ("remainder", "on_collection", "deferred", None, D("340.00"),
                                "EUR")
    assert not Payout.objects.filter(run=run).exists()


def test_splits_of_a_whole_company_are_read_at_once_and_kept_by_opportunity(monkeypatch):
    """More opportunities than one SQL statement may name (SQLite: 32,766 parameters) are not
    looked up by id: every split is read and those of the run's opportunities kept. Both ways
    give the same rows in the same order; a split of an opportunity outside the run is left
    out."""
    from attain.crm.models import OpportunitySplit
    from tests.factories import make_booking, make_opportunity

    people = org()
    ann, bob = people["ann"], people["bob"]
    deals = [make_opportunity(ann) for _ in range(3)]
    outside = make_opportunity(bob)
    for deal in (deals[2], deals[0], outside):
        OpportunitySplit.objects.create(opportunity=deal, person=ann, percent=60)
        OpportunitySplit.objects.create(opportunity=deal, person=bob, percent=40)
    for deal in deals:
        make_booking(ann, "100.00", date(2026, 2, 1), opportunity=deal)
    bookings = engine_io.snapshot_bookings(Q2_START, Q2_END, Q2_START, None)

    by_id = engine_io.snapshot_splits(bookings)
    monkeypatch.setattr(engine_io, "SPLITS_BY_ID_LIMIT", 1)
    read_at_once = engine_io.snapshot_splits(bookings)

    assert read_at_once.equals(by_id)
    assert read_at_once.select(["opportunity_id", "person_id", "percent"]).to_pylist() == [
        {"opportunity_id": deal.pk, "person_id": person.pk, "percent": D(share)}
        for deal in (deals[0], deals[2]) for person, share in ((ann, "60"), (bob, "40"))]
