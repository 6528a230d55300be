"""Periods, quotas, calculation runs and the bookings-by-person-period results."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from attain.core.models import CalcRun, Period
from attain.performance.models import PersonPeriodBookings, Quota

KIND = "bookings_by_person_period"


@pytest.fixture
def periods(org):
    return {
        "Q1": Period.objects.create(kind="quarter", start=date(2026, 1, 1),
                                    end=date(2026, 4, 1), label="FY2026-Q1"),
        "Q2": Period.objects.create(kind="quarter", start=date(2026, 4, 1),
                                    end=date(2026, 7, 1), label="FY2026-Q2"),
        "2026-03": Period.objects.create(kind="month", start=date(2026, 3, 1),
                                         end=date(2026, 4, 1), label="2026-03"),
    }


@pytest.fixture
def quotas(org, periods):
    for name, amount in [("a", "10000.00"), ("b", "8000.00"), ("c", "9000.00")]:
        Quota.objects.create(person=org[name], period=periods["Q1"], amount=Decimal(amount),
                             currency="USD")
    Quota.objects.create(person=org["a"], period=periods["2026-03"], amount=Decimal("3000.00"),
                         currency="USD")
    Quota.objects.create(team=org.teams["East"], period=periods["Q1"],
                         amount=Decimal("18000.00"), currency="USD")


def make_run(status=CalcRun.Status.SUCCEEDED, finished=datetime(2026, 11, 1, tzinfo=UTC)):
    return CalcRun.objects.create(kind=KIND, status=status, finished_at=finished,
                                  backend="duckdb", inputs_hash="abc")


@pytest.fixture
def runs(org, periods):
    old = make_run(finished=datetime(2026, 10, 1, tzinfo=UTC))
    latest = make_run()
    failed = make_run(CalcRun.Status.FAILED, datetime(2026, 11, 2, tzinfo=UTC))
    for run, amount in [(old, "1.00"), (latest, "1300.49")]:
        PersonPeriodBookings.objects.create(run=run, person=org["a"], period=periods["Q1"],
                                            amount=Decimal(amount), currency="USD",
                                            booking_count=1)
    PersonPeriodBookings.objects.create(run=latest, person=org["b"], period=periods["Q1"],
                                        amount=Decimal("500.00"), currency="USD",
                                        booking_count=1)
    PersonPeriodBookings.objects.create(run=latest, person=org["a"], period=periods["2026-03"],
                                        amount=Decimal("1300.49"), currency="USD",
                                        booking_count=1)
    return {"old": old, "latest": latest, "failed": failed}


def test_periods_filter_by_kind_and_contained_date(api, periods):
    assert [p["label"] for p in api.items("a", "/periods", kind="quarter")] == [
        "FY2026-Q1", "FY2026-Q2"]
    # 2026-04-01 is the end of Q1 (excluded) and the start of Q2.
    assert [p["label"] for p in api.items("a", "/periods", contains="2026-04-01")] == [
        "FY2026-Q2"]


def test_quotas_follow_visibility(api, quotas):
    ops = api.items("ops", "/quotas")
    rep = api.items("a", "/quotas")

    assert len(ops) == 5  # four personal quotas and East's team quota
    assert [(q["person_name"], q["period"]["label"], q["amount"]) for q in rep] == [
        ("a", "FY2026-Q1", "10000.00"), ("a", "2026-03", "3000.00")]
    assert len(api.items("m1", "/quotas", as_of="2026-03-01")) == 3


def test_quota_filters(api, org, quotas, periods):
    assert len(api.items("ops", "/quotas", period_kind="month")) == 1
    assert len(api.items("ops", "/quotas", period_id=periods["Q1"].pk)) == 4
    assert len(api.items("ops", "/quotas", person_id=org["b"].pk)) == 1


def test_results_come_from_the_latest_succeeded_run(api, runs):
    items = api.items("ops", "/bookings-by-person-period")

    assert {item["run_id"] for item in items} == {runs["latest"].pk}
    assert [(i["person_name"], i["period"]["label"], i["amount"]) for i in items] == [
        ("a", "FY2026-Q1", "1300.49"), ("b", "FY2026-Q1", "500.00"),
        ("a", "2026-03", "1300.49")]


def test_results_of_a_named_run_and_filters(api, org, runs):
    old = api.items("ops", "/bookings-by-person-period", run_id=runs["old"].pk)
    months = api.items("ops", "/bookings-by-person-period", period_kind="month")
    of_b = api.items("ops", "/bookings-by-person-period", person_id=org["b"].pk)

    assert [i["amount"] for i in old] == ["1.00"]
    assert [i["period"]["label"] for i in months] == ["2026-03"]
    assert [i["person_name"] for i in of_b] == ["b"]


def test_results_follow_visibility(api, runs):
    assert {i["person_name"] for i in api.items("a", "/bookings-by-person-period")} == {"a"}
    assert {i["person_name"] for i in api.items("c", "/bookings-by-person-period")} == set()


def test_results_of_a_failed_or_unknown_run_are_404(api, runs):
    assert api.get("ops", "/bookings-by-person-period", run_id=runs["failed"].pk
                   ).status_code == 404
    assert api.get("ops", "/bookings-by-person-period", run_id=999999).status_code == 404


def test_no_run_yet_gives_an_empty_list(api):
    assert api.get("ops", "/bookings-by-person-period").json() == {"items": [], "count": 0}


@pytest.mark.parametrize("role", ["ops", "finance", "exec"])
def test_company_wide_roles_list_runs(api, runs, role):
    items = api.items(role, "/runs")

    assert [r["status"] for r in items] == ["failed", "succeeded", "succeeded"]
    assert items[1]["finished_at"] == "2026-11-01T00:00:00+00:00"


@pytest.mark.parametrize("role", ["a", "m1", "vp"])
def test_runs_are_forbidden_for_reps_and_managers(api, runs, role):
    assert api.get(role, "/runs").status_code == 403
    assert api.get(role, f"/runs/{runs['latest'].pk}").status_code == 403


def test_run_detail_and_missing_run(api, runs):
    body = api.get("ops", f"/runs/{runs['latest'].pk}").json()

    assert (body["kind"], body["status"], body["backend"]) == (KIND, "succeeded", "duckdb")
    assert api.get("ops", "/runs/999999").status_code == 404


def test_runs_filter_by_status(api, runs):
    assert len(api.items("ops", "/runs", status="failed")) == 1
    assert api.get("ops", "/runs", status="exploded").status_code == 422
