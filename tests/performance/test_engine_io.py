"""The bookings run end to end: OLTP snapshot → engine → stored results and run record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tasks_db.models import DBTaskResult

from attain.core.models import AuditEvent, CalcRun, Period
from attain.crm.models import ExchangeRate
from attain.engine.schemas import BOOKINGS, EXCHANGE_RATES, PERIODS
from attain.performance.actions import (
    CalculationError,
    request_bookings_calculation,
    run_bookings_calculation,
)
from attain.performance.engine_io import (
    snapshot_bookings,
    snapshot_exchange_rates,
    snapshot_periods,
)
from attain.performance.models import PersonPeriodBookings
from attain.performance.tasks import run_bookings_calculation_task
from tests.conftest import require
from tests.factories import make_booking, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    """ann and bob, bookings in USD and EUR around the Q1/Q2 boundary, EUR rates for both months
    (no USD rows: the company currency converts at 1 by definition)."""
    ann = make_person("ann")
    bob = make_person("bob")
    make_booking(ann, "100.00", date(2026, 3, 31), "EUR")   # 108.00 USD
    make_booking(ann, "200.00", date(2026, 4, 1), "EUR")    # 220.00 USD
    make_booking(ann, "1000.50", date(2026, 3, 15), "USD")
    make_booking(bob, "99.99", date(2026, 4, 30), "USD")
    make_booking(bob, "33.33", date(2026, 4, 1), "EUR")     # 36.663 USD
    make_booking(None, "5.00", date(2026, 4, 2), "USD")     # nobody's: in no one's figures
    ExchangeRate.objects.create(currency="EUR", month_start=date(2026, 3, 1),
                                rate=Decimal("1.08"))
    ExchangeRate.objects.create(currency="EUR", month_start=date(2026, 4, 1),
                                rate=Decimal("1.10000000"))
    ops = get_user_model().objects.create_user(username="ops", password="pw-ops")
    return {"ann": ann, "bob": bob, "ops": ops}


EXPECTED = {
    ("ann", "2026-03"): (Decimal("1108.50"), 2),
    ("ann", "2026-04"): (Decimal("220.00"), 1),
    ("ann", "FY2026-Q1"): (Decimal("1108.50"), 2),
    ("ann", "FY2026-Q2"): (Decimal("220.00"), 1),
    ("ann", "FY2026"): (Decimal("1328.50"), 3),
    ("bob", "2026-04"): (Decimal("136.65"), 2),      # 99.99 + 36.663
    ("bob", "FY2026-Q2"): (Decimal("136.65"), 2),
    ("bob", "FY2026"): (Decimal("136.65"), 2),
}


def stored(run: CalcRun) -> dict[tuple[str, str], tuple[Decimal, int]]:
    rows = PersonPeriodBookings.objects.filter(run=run).select_related("person", "period")
    return {(r.person.name, r.period.label): (r.amount, r.booking_count) for r in rows}


def test_snapshot_bookings_keeps_exact_amounts_dates_and_unowned_rows(org):
    table = snapshot_bookings(batch_size=4)

    assert table.schema.equals(BOOKINGS.schema)
    assert len(table.to_batches()) == 2
    rows = sorted(table.to_pylist(), key=lambda r: r["booking_id"])
    assert [(r["person_id"], r["booked_on"], r["amount"], r["currency"]) for r in rows] == [
        (org["ann"].pk, date(2026, 3, 31), Decimal("100.00"), "EUR"),
        (org["ann"].pk, date(2026, 4, 1), Decimal("200.00"), "EUR"),
        (org["ann"].pk, date(2026, 3, 15), Decimal("1000.50"), "USD"),
        (org["bob"].pk, date(2026, 4, 30), Decimal("99.99"), "USD"),
        (org["bob"].pk, date(2026, 4, 1), Decimal("33.33"), "EUR"),
        (None, date(2026, 4, 2), Decimal("5.00"), "USD"),
    ]


def test_snapshot_of_rates_and_periods_keeps_their_types(org):
    ExchangeRate.objects.create(currency="JPY", month_start=date(2026, 3, 1),
                                rate=Decimal("0.00671234"))
    Period.objects.create(kind="month", start=date(2026, 3, 1), end=date(2026, 4, 1),
                          label="2026-03")
    Period.objects.create(kind="week", start=date(2026, 3, 30), end=date(2026, 4, 6),
                          label="W2026-03-30")

    rates = snapshot_exchange_rates()
    periods = snapshot_periods()

    assert rates.schema.equals(EXCHANGE_RATES.schema)
    assert rates.to_pylist() == [
        {"currency": "EUR", "month_start": date(2026, 3, 1), "rate": Decimal("1.08000000")},
        {"currency": "EUR", "month_start": date(2026, 4, 1), "rate": Decimal("1.10000000")},
        {"currency": "JPY", "month_start": date(2026, 3, 1), "rate": Decimal("0.00671234")},
    ]
    assert periods.schema.equals(PERIODS.schema)
    assert [(p["kind"], p["start"], p["end"]) for p in periods.to_pylist()] == [
        ("month", date(2026, 3, 1), date(2026, 4, 1))]


def test_a_run_stores_the_figures_and_its_record(org):
    run = run_bookings_calculation(org["ops"])

    run.refresh_from_db()
    assert run.status == CalcRun.Status.SUCCEEDED, run.error
    assert stored(run) == EXPECTED
    assert set(PersonPeriodBookings.objects.filter(run=run)
               .values_list("currency", flat=True)) == {"USD"}
    assert (run.kind, run.backend, run.calc_version) == ("bookings_by_person_period",
                                                         "duckdb", "1")
    assert run.requested_by == org["ops"]
    assert len(run.inputs_hash) == 64
    assert set(run.timings) == {"periods", "snapshot", "hash", "compute", "store", "total"}
    assert all(seconds >= 0 for seconds in run.timings.values())
    # 6 bookings + 4 rates (EUR and USD at 1, March and April) + 5 periods (2 months, 2
    # quarters, 1 year); 8 result rows
    assert (run.input_rows, run.output_rows) == (15, 8)
    assert run.params == {"company_currency": "USD", "period_kinds": ["month", "quarter", "year"]}
    assert run.started_at <= run.finished_at
    event = AuditEvent.objects.get(action="run_calculation")
    assert (event.actor, event.object_id) == (org["ops"], str(run.pk))
    assert event.after["status"] == "succeeded" and event.after["output_rows"] == 8


def test_a_run_creates_the_periods_it_needs(org):
    run_bookings_calculation(None)

    assert sorted(Period.objects.values_list("kind", "label")) == [
        ("month", "2026-03"), ("month", "2026-04"),
        ("quarter", "FY2026-Q1"), ("quarter", "FY2026-Q2"), ("year", "FY2026")]


def test_same_inputs_give_the_same_hash_and_identical_results(org):
    first = run_bookings_calculation(None)
    second = run_bookings_calculation(None)

    assert second.pk != first.pk
    assert second.inputs_hash == first.inputs_hash
    assert stored(second) == stored(first) == EXPECTED


def test_changed_inputs_change_the_hash(org):
    first = run_bookings_calculation(None)
    make_booking(org["bob"], "0.01", date(2026, 4, 3), "USD")

    second = run_bookings_calculation(None)

    assert second.inputs_hash != first.inputs_hash
    assert stored(second)[("bob", "2026-04")] == (Decimal("136.66"), 3)


def test_a_booking_without_a_rate_fails_the_run_and_stores_nothing(org):
    make_booking(org["bob"], "10.00", date(2026, 4, 20), "GBP")

    run = run_bookings_calculation(org["ops"])

    run.refresh_from_db()
    assert run.status == CalcRun.Status.FAILED
    assert run.error.startswith("No exchange rate for GBP in 2026-04 (1 booking).")
    assert run.output_rows == 0 and run.finished_at is not None
    assert not PersonPeriodBookings.objects.exists()
    assert AuditEvent.objects.get(action="run_calculation").after["status"] == "failed"


def test_a_company_currency_rate_other_than_one_fails_the_run(org):
    ExchangeRate.objects.create(currency="USD", month_start=date(2026, 4, 1),
                                rate=Decimal("1.5"))

    run = run_bookings_calculation(None)

    assert run.status == CalcRun.Status.FAILED
    assert run.error == ("The exchange rate of USD, the company currency, in 2026-04 is "
                         "1.50000000; it must be 1.")
    assert not PersonPeriodBookings.objects.exists()


def test_a_run_without_bookings_succeeds_empty():
    run = run_bookings_calculation(None)

    assert (run.status, run.input_rows, run.output_rows) == (CalcRun.Status.SUCCEEDED, 0, 0)


def test_an_unknown_backend_is_refused_before_any_run():
    with pytest.raises(CalculationError, match="Unknown engine backend 'oracle'"):
        run_bookings_calculation(None, "oracle")
    assert not CalcRun.objects.exists()


def test_calc_command_prints_the_run(org, capsys):
    call_command("calc", "bookings", "--backend", "duckdb")

    run = CalcRun.objects.get()
    out = capsys.readouterr().out
    assert f"Run #{run.pk} bookings_by_person_period on duckdb: succeeded." in out
    assert "15 input rows, 8 result rows." in out
    assert "Timings: periods" in out and run.inputs_hash in out


def test_calc_command_fails_with_the_runs_error(org):
    make_booking(org["bob"], "10.00", date(2026, 4, 20), "GBP")

    with pytest.raises(CommandError, match=r"failed: No exchange rate for GBP in 2026-04"):
        call_command("calc", "bookings")


def test_a_requested_run_is_queued_then_run_by_the_worker(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = request_bookings_calculation(org["ops"])
    assert CalcRun.objects.get(pk=run.pk).status == CalcRun.Status.QUEUED
    assert AuditEvent.objects.filter(action="request_calculation", object_id=str(run.pk)).exists()

    queued = DBTaskResult.objects.get()
    assert queued.task_path == "attain.performance.tasks.run_bookings_calculation_task"
    assert queued.args_kwargs == {"args": [run.pk], "kwargs": {}}

    # what the worker (`attain db_worker`) does with it
    outcome = run_bookings_calculation_task.call(run.pk)

    assert outcome == {"run_id": run.pk, "status": "succeeded", "output_rows": 8}
    run.refresh_from_db()
    assert run.status == CalcRun.Status.SUCCEEDED, run.error
    assert run.requested_by == org["ops"]
    assert stored(run) == EXPECTED


@pytest.mark.spark
def test_spark_stores_the_same_figures_and_hash_as_duckdb(org):
    try:
        from attain.engine.backends.spark import spark_session

        spark_session()
        problem = ""
    except Exception as error:
        problem = f"Spark cannot start here: {error}"
    require(not problem, problem)

    on_duckdb = run_bookings_calculation(None, "duckdb")
    on_spark = run_bookings_calculation(None, "spark")

    assert on_spark.status == CalcRun.Status.SUCCEEDED, on_spark.error
    assert on_spark.backend == "spark"
    assert on_spark.inputs_hash == on_duckdb.inputs_hash
    assert stored(on_spark) == stored(on_duckdb) == EXPECTED
