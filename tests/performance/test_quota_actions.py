"""Quota writes: effective-dated versions, top-down allocation worked by hand to the cent, clear
refusals that write nothing, and the performance run reading quotas as of its day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from attain.core.models import AuditEvent, CalcRun, Period
from attain.people.models import Role, Team
from attain.performance.actions import (
    QuotaError,
    allocate_team_quota,
    quota_as_of,
    run_performance_analytics,
    set_leaderboard_names,
    set_quota,
)
from attain.performance.allocation import Member, capacity, ramp_factor, split_to_cents
from attain.performance.models import (
    PersonPeriodBookings,
    PersonPeriodPerformance,
    Quota,
    QuotaVersion,
)
from tests.factories import make_booking, make_line, make_person

pytestmark = pytest.mark.django_db
D = Decimal
Q1 = (date(2026, 1, 1), date(2026, 4, 1))  # 31 + 28 + 31 = 90 days


@pytest.fixture
def team_org():
    """Team East: ann (veteran), bob (veteran), and nia hired 1 Jan 2026 with a 2-month ramp;
    manager mia; cal is a rep of another team."""
    q1 = Period.objects.create(kind="quarter", start=Q1[0], end=Q1[1], label="FY2026-Q1")
    q4 = Period.objects.create(kind="quarter", start=date(2025, 10, 1), end=Q1[0],
                               label="FY2025-Q4")
    east, west = Team.objects.create(name="East"), Team.objects.create(name="West")
    mia = make_person("mia", Role.MANAGER)
    ann = make_person("ann", hired_on=date(2020, 3, 1))
    bob = make_person("bob", hired_on=date(2021, 6, 1))
    nia = make_person("nia", hired_on=date(2026, 1, 1), ramp_months=2)
    cal = make_person("cal")
    for rep in (ann, bob, nia):
        make_line(rep, mia, date(2020, 1, 1), team=east)
    make_line(cal, None, date(2020, 1, 1), team=west)
    return {"q1": q1, "q4": q4, "east": east, "west": west, "mia": mia, "ann": ann, "bob": bob,
            "nia": nia, "cal": cal}


def shares(period):
    return dict(Quota.objects.filter(period=period, person__isnull=False)
                .values_list("person__name", "amount"))


def test_split_to_cents_gives_leftover_cents_to_the_largest_remainders():
    # 100.00 / 3 = 33.333…: three cuts of 33.33 leave 1 cent, to the first (equal remainders)
    assert split_to_cents(D("100.00"), [D(1)] * 3) == [D("33.34"), D("33.33"), D("33.33")]
    # 100.00 x 1/3 = 33.333 (remainder .003), x 2/3 = 66.666 (.006): the cent goes to the second
    assert split_to_cents(D("100.00"), [D(1), D(2)]) == [D("33.33"), D("66.67")]
    # 0.05 over 3: 0.0166… each → 0.01 each, 2 cents left to the first two
    assert split_to_cents(D("0.05"), [D(1)] * 3) == [D("0.02"), D("0.02"), D("0.01")]


def test_capacity_weighs_employed_days_by_ramp():
    veteran = Member(1, "a", hired_on=date(2020, 1, 1))
    new_hire = Member(2, "b", hired_on=date(2026, 1, 1), ramp_months=2)
    leaver = Member(3, "c", hired_on=date(2020, 1, 1), left_on=date(2026, 2, 15))

    assert capacity(veteran, *Q1) == D(1)
    # ramp 1/3 in January, 2/3 in February, 1 in March: (31/3 + 56/3 + 93/3) / 90 = 60/90
    assert ramp_factor(new_hire, date(2026, 2, 1)) == D(2) / D(3)
    assert round(capacity(new_hire, *Q1), 20) == round(D(2) / D(3), 20)
    # employed 1 Jan .. 14 Feb: 31 + 14 = 45 of 90 days
    assert capacity(leaver, *Q1) == D("0.5")


def test_even_allocation_adds_up_to_the_team_number(team_org):
    versions = allocate_team_quota(None, team_id=team_org["east"].pk,
                                   period_id=team_org["q1"].pk, amount="1000.00", method="even")

    # 333.333… each; the leftover cent to ann (first by name)
    assert shares(team_org["q1"]) == {"ann": D("333.34"), "bob": D("333.33"),
                                      "nia": D("333.33")}
    assert Quota.objects.get(team=team_org["east"], period=team_org["q1"]).amount == D("1000.00")
    assert len(versions) == 4
    assert {v.source for v in versions} == {"allocation"}
    event = AuditEvent.objects.get(action="allocate_team_quota")
    assert event.after["shares"][str(team_org["ann"].pk)] == "333.34"


def test_capacity_allocation_gives_a_ramping_hire_less(team_org):
    allocate_team_quota(None, team_id=team_org["east"].pk, period_id=team_org["q1"].pk,
                        amount="8000.01", method="capacity")

    # weights 1, 1, 2/3 (sum 8/3): 3000.00375, 3000.00375, 2000.0025 → cut 3000.00, 3000.00,
    # 2000.00; 1 cent left goes to the largest remainder (.00375, ann first by name)
    assert shares(team_org["q1"]) == {"ann": D("3000.01"), "bob": D("3000.00"),
                                      "nia": D("2000.00")}


def test_last_share_allocation_follows_last_quarters_bookings(team_org):
    run = CalcRun.objects.create(kind="bookings_by_person_period", status="succeeded")
    for who, amount in (("ann", "300.00"), ("bob", "600.00")):
        PersonPeriodBookings.objects.create(run=run, person=team_org[who],
                                            period=team_org["q4"], amount=D(amount),
                                            currency="USD", booking_count=1)

    allocate_team_quota(None, team_id=team_org["east"].pk, period_id=team_org["q1"].pk,
                        amount="100.00", method="last_share")

    # shares 300 : 600 : 0 → 33.333 (.003) and 66.666 (.006): the cent goes to bob
    assert shares(team_org["q1"]) == {"ann": D("33.33"), "bob": D("66.67"), "nia": D("0.00")}


def test_a_manual_allocation_must_match_the_team_number_to_the_cent(team_org):
    amounts = {team_org["ann"].pk: "500.00", team_org["bob"].pk: "400.00",
               team_org["nia"].pk: "99.99"}

    with pytest.raises(QuotaError, match=r"add up to 999.99, not the team's 1000.00 "
                                         r"\(difference 0.01\)") as refused:
        allocate_team_quota(None, team_id=team_org["east"].pk, period_id=team_org["q1"].pk,
                            amount="1000.00", method="manual", amounts=amounts)

    assert refused.value.field == "amounts"
    assert Quota.objects.count() == 0 and QuotaVersion.objects.count() == 0


def test_a_manual_allocation_to_someone_outside_the_team_is_refused(team_org):
    with pytest.raises(QuotaError, match="not a rep of the team") as refused:
        allocate_team_quota(None, team_id=team_org["east"].pk, period_id=team_org["q1"].pk,
                            amount="10.00", method="manual",
                            amounts={team_org["cal"].pk: "10.00"})
    assert refused.value.person_id == team_org["cal"].pk


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"amount": "-1.00"}, "amount", "cannot be negative"),
    ({"amount": "12.345"}, "amount", "more than two decimals"),
    ({"amount": "lots"}, "amount", "is not an amount"),
    ({"period_id": 999_999}, "period", "no period #999999"),
    ({"team_id": "TEAM"}, "team", "not both"),
    ({"currency": "EUR"}, "currency", "company currency USD"),
    ({"valid_from": date(2026, 4, 1)}, "valid_from", "after FY2026-Q1 ends"),
])
def test_a_bad_quota_names_the_field_and_writes_nothing(team_org, changes, field, message):
    values = {"period_id": team_org["q1"].pk, "amount": "100.00",
              "person_id": team_org["ann"].pk, **changes}
    if values.get("team_id") == "TEAM":
        values["team_id"] = team_org["east"].pk

    with pytest.raises(QuotaError, match=message) as refused:
        set_quota(None, **values)

    assert refused.value.field == field
    assert Quota.objects.count() == 0 and QuotaVersion.objects.count() == 0


def test_quota_changes_are_effective_dated_and_audited(team_org):
    ann = team_org["ann"]
    set_quota(None, period_id=team_org["q1"].pk, amount="3000.00", person_id=ann.pk)
    set_quota(None, period_id=team_org["q1"].pk, amount="2400.00", person_id=ann.pk,
              valid_from=date(2026, 3, 1), reason="territory moved")

    quota = Quota.objects.get(person=ann, period=team_org["q1"])
    assert quota_as_of(quota, date(2025, 12, 31)) is None  # before the first version
    assert quota_as_of(quota, date(2026, 2, 14)) == D("3000.00")
    assert quota_as_of(quota, date(2026, 3, 1)) == D("2400.00")
    assert quota.amount == D("2400.00")  # in force on the period's last day
    events = AuditEvent.objects.filter(action="set_quota", object_id=str(quota.pk))
    assert [e.after["version_amount"] for e in events.order_by("id")] == ["3000.00", "2400.00"]
    assert events.order_by("id").last().before["amount"] == "3000.00"


def test_the_run_reads_each_quota_as_of_its_reference_day(team_org):
    ann = team_org["ann"]
    set_quota(None, period_id=team_org["q1"].pk, amount="3000.00", person_id=ann.pk)
    set_quota(None, period_id=team_org["q1"].pk, amount="2400.00", person_id=ann.pk,
              valid_from=date(2026, 3, 1))
    make_booking(ann, "600.00", date(2026, 1, 20))

    february = run_performance_analytics(None, "duckdb", as_of=date(2026, 2, 14))
    march = run_performance_analytics(None, "duckdb", as_of=date(2026, 3, 20))

    def row(run):
        return PersonPeriodPerformance.objects.get(run=run, person=ann, period=team_org["q1"])

    # 600 / 3,000 = 20.0% on 14 Feb; 600 / 2,400 = 25.0% once the change is in force
    assert (row(february).quota, row(february).attainment_pct) == (D("3000.00"), D("20.0"))
    assert (row(march).quota, row(march).attainment_pct) == (D("2400.00"), D("25.0"))
    # pacing on 14 Feb: 3,000 x 45 / 90 = 1,500.00 expected; 600 / 1,500 = 40.0%
    assert (row(february).expected_to_date, row(february).pace_pct) == (D("1500.00"),
                                                                         D("40.0"))


def test_the_leaderboard_setting_accepts_only_known_choices(db):
    with pytest.raises(QuotaError, match="Unknown leaderboard setting 'hidden'"):
        set_leaderboard_names(None, "hidden")
    assert set_leaderboard_names(None, "anonymised").leaderboard_names == "anonymised"
