"""The performance run end to end on the page organisation: snapshot → engine → stored rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from attain.core.models import AuditEvent, CalcRun
from attain.performance.models import (
    ManagerPeriodPerformance,
    PersonPeriodPerformance,
    PersonStageConversion,
    TeamPeriodPerformance,
)
from tests.performance.org import build_performance_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return build_performance_org()


def quarter_row(org, name):
    return PersonPeriodPerformance.objects.get(run=org.run, period=org.quarter,
                                               person=org[name])


def test_the_run_stores_attainment_per_person_as_computed_by_hand(org):
    ann, bob, cat = (quarter_row(org, n) for n in ("ann", "bob", "cat"))

    assert (ann.quota, ann.bookings, ann.attainment_pct) == (
        Decimal("3000.00"), Decimal("1500.50"), Decimal("50.0"))
    assert (bob.quota, bob.bookings, bob.attainment_pct) == (
        Decimal("2000.00"), Decimal("2500.00"), Decimal("125.0"))
    assert (cat.quota, cat.bookings, cat.attainment_pct) == (
        Decimal("1000.00"), Decimal("440.00"), Decimal("44.0"))  # 400.00 EUR x 1.10
    assert ann.team == org.east and cat.team == org.west
    assert ann.manager == org["mia"]
    # ann's open deals closing this quarter: 5,000.00 + 700.25; remaining 3,000 - 1,500.50
    assert ann.open_pipeline == Decimal("5700.25")
    assert ann.coverage == Decimal("3.80")  # 5,700.25 / 1,499.50 = 3.8014
    assert org.run.kind == "performance" and org.run.inputs_hash


def test_pacing_is_linear_in_the_days_of_the_period(org):
    ann = quarter_row(org, "ann")
    span = org.quarter
    today = timezone.localdate()
    elapsed = (today - span.start).days + 1  # today counts as elapsed
    days = (span.end - span.start).days

    expected = (Decimal("3000.00") * elapsed / days).quantize(Decimal("0.01"))
    assert ann.expected_to_date == expected
    assert ann.pace_pct == (Decimal("1500.50") * 100 / expected).quantize(Decimal("0.1"))


def test_team_and_manager_rollups(org):
    east = TeamPeriodPerformance.objects.get(run=org.run, period=org.quarter, team=org.east)
    # ann 1,500.50 + bob 2,500.00 (mia booked nothing) of the team's own 5,000.00
    assert (east.quota, east.quota_source, east.bookings, east.attainment_pct) == (
        Decimal("5000.00"), "team", Decimal("4000.50"), Decimal("80.0"))
    mia = ManagerPeriodPerformance.objects.get(run=org.run, period=org.quarter,
                                               manager=org["mia"])
    assert (mia.quota, mia.bookings) == (Decimal("5000.00"), Decimal("4000.50"))
    eve = ManagerPeriodPerformance.objects.get(run=org.run, period=org.quarter,
                                               manager=org["eve"])
    # eve has no team: her subtree's personal quotas 3,000 + 2,000 + 1,000
    assert (eve.quota, eve.quota_source, eve.bookings, eve.attainment_pct) == (
        Decimal("6000.00"), "subtree", Decimal("4440.50"), Decimal("74.0"))


def test_stage_conversion_of_the_won_deal(org):
    rows = {(r.stage.name, r.period.kind): (r.entered, r.advanced, r.conversion_pct)
            for r in PersonStageConversion.objects.filter(run=org.run, person=org["ann"])}
    # Acme renewal went Discovery → Proposal → Closed Won in January 2026
    assert rows[("Discovery", "year")] == (1, 1, Decimal("100.0"))
    assert rows[("Proposal", "year")] == (1, 1, Decimal("100.0"))


def test_the_run_is_audited_and_reproducible(org):
    from attain.performance.actions import run_performance_analytics

    again = run_performance_analytics(None, "duckdb", as_of=timezone.localdate())
    assert again.inputs_hash == org.run.inputs_hash
    assert again.output_rows == org.run.output_rows
    assert AuditEvent.objects.filter(action="run_calculation", object_id=str(again.pk)).exists()
    assert CalcRun.objects.filter(kind="performance", status="succeeded").count() == 2


def test_the_run_stores_percentiles_ranks_and_medians(org):
    """Quarter bookings ann 1,500.50, bob 2,500.00, cat 440.00 (the previous quarter: cat
    900.00, ann 100.00, bob nothing). Company-wide bob beats 2 of 3 and ties himself:
    floor((100 x (2 x 2 + 1) + 3) / 6) = 83; ann 303 // 6 = 50; cat 103 // 6 = 17. In East
    (ann, bob): bob 302 // 4 = 75, ann 102 // 4 = 25. Ranks 1, 2, 3 after 3, 2, 1."""
    from attain.performance.models import PerformanceMedian

    ann, bob, cat = (quarter_row(org, n) for n in ("ann", "bob", "cat"))

    assert (bob.pctl_bookings, ann.pctl_bookings, cat.pctl_bookings) == (83, 50, 17)
    assert (bob.team_pctl_bookings, ann.team_pctl_bookings, cat.team_pctl_bookings) == (
        75, 25, 50)
    assert [(r.rank_bookings, r.prev_rank_bookings) for r in (bob, ann, cat)] == [
        (1, 3), (2, 2), (3, 1)]
    assert (bob.team_rank_attainment_pct, ann.team_rank_attainment_pct) == (1, 2)
    medians = {(m.team_id, m.measure): (m.median, m.value_count)
               for m in PerformanceMedian.objects.filter(run=org.run, period=org.quarter,
                                                         stage__isnull=True)}
    assert medians[(None, "bookings")] == (Decimal("1500.50"), 3)
    # East: (1,500.50 + 2,500.00) / 2 = 2,000.25; West: cat alone
    assert medians[(org.east.pk, "bookings")] == (Decimal("2000.25"), 2)
    assert medians[(org.west.pk, "bookings")] == (Decimal("440.00"), 1)
    others = PersonPeriodPerformance.objects.filter(run=org.run).exclude(person__role="rep")
    assert not others.filter(rank_bookings__isnull=False).exists()  # only reps are ranked
