"""The what-if estimator: "if these open deals close, I earn X" — the same engine and plan as a
run, on the person's own inputs plus the ticked deals as order lines, nothing written; a rep
estimates only for themselves, a manager for their reports."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps

from attain.compensation import actions
from attain.people.models import Role, Team
from attain.performance.models import Quota
from tests.compensation.plans import FLAT_8, MARGINAL, org, published
from tests.compensation.stored import quarter
from tests.factories import make_booking, make_line, make_opportunity, make_person, make_stage

pytestmark = pytest.mark.django_db

TEAM_PLAN = """plan: AE team
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "8%"
  - name: Team
    kind: team
    share_of_target_incentive: "25%"
"""


def _open_stage():  # type: ignore[no-untyped-def]
    return make_stage("Proposal", 3, won=False, probability="60")


def _assigned(people, text: str):  # type: ignore[no-untyped-def]
    ops = people["ops"].user
    version = published(ops, text)
    for name in ("ann", "bob"):
        actions.assign_plan(ops, person_id=people[name].pk, version_id=version.pk,
                            valid_from="2026-01-01", target_incentive="40000.00")
    return quarter()


def _estimate(client, period, deal_ids, person_id=None):  # type: ignore[no-untyped-def]
    body = {"opportunity_ids": deal_ids, "period_id": period.pk}
    if person_id is not None:
        body["person_id"] = person_id
    return client.post("/api/v1/comp/what-if", body, content_type="application/json")


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_ticking_a_deal_on_a_flat_rate_adds_its_commission(client):
    """Flat 8 %: Ann booked 10,000 in 2026-Q1 → 800.00 so far; a 5,000 deal closing on
    2026-03-20 → (10,000 + 5,000) x 8 % = 1,200.00, a difference of 400.00."""
    people = org()
    period = _assigned(people, FLAT_8)
    make_booking(people["ann"], "10000.00", date(2026, 2, 10))
    deal = make_opportunity(people["ann"], "5000.00", stage=_open_stage(),
                            close_date=date(2026, 3, 20), name="Globex renewal")
    client.force_login(people["ann"].user)

    answer = _estimate(client, period, [deal.pk])

    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert (data["earned_before"], data["earned_after"], data["difference"]) == (
        {"USD": "800.00"}, {"USD": "1200.00"}, {"USD": "400.00"})
    added = [line for line in data["lines"] if line["opportunity_id"] == deal.pk]
    assert [(line["change"], line["after"]) for line in added] == [("added", "400.00")]
    assert added[0]["trace"][0].startswith("Globex renewal, if it closes, booked on 2026-03-20")


def test_marginal_tiers_show_the_band_the_deal_reaches(client):
    """The issue's tiers, 6 % to 3,000, 8 % to 8,000, 10 % above. Booked 2,000 → 2,000 x 6 % =
    120.00 (band 1). A 7,000 deal takes the period to 9,000: 1,000 x 6 % + 5,000 x 8 % +
    1,000 x 10 % = 60 + 400 + 100 = 560.00 more, 680.00 in all, reaching band 3."""
    people = org()
    period = _assigned(people, MARGINAL)
    make_booking(people["ann"], "2000.00", date(2026, 2, 10))
    deal = make_opportunity(people["ann"], "7000.00", stage=_open_stage(),
                            close_date=date(2026, 3, 20))
    client.force_login(people["ann"].user)

    data = _estimate(client, period, [deal.pk]).json()

    assert (data["earned_before"], data["earned_after"]) == ({"USD": "120.00"},
                                                             {"USD": "680.00"})
    [component] = data["components"]
    assert (component["band_before"], component["band_after"]) == (1, 3)
    assert component["band_after_text"] == "band 3: 8,000.00 USD and above at 10.00%"
    [line] = data["lines"]
    assert any("1000.00 in band 1 at 6.00% = 60.00; 5000.00 in band 2 at 8.00% = 400.00; "
               "1000.00 in band 3 at 10.00% = 100.00" in step for step in line["trace"])


def test_a_split_deal_credits_only_the_reps_share(client):
    """A 10,000 deal split 60 % Ann / 40 % Bob: Ann is credited 6,000 x 8 % = 480.00; nothing
    booked before, so 0.00 → 480.00."""
    from attain.crm.models import OpportunitySplit

    people = org()
    period = _assigned(people, FLAT_8)
    deal = make_opportunity(people["ann"], "10000.00", stage=_open_stage(),
                            close_date=date(2026, 2, 1))
    OpportunitySplit.objects.create(opportunity=deal, person=people["ann"], percent=60)
    OpportunitySplit.objects.create(opportunity=deal, person=people["bob"], percent=40)
    client.force_login(people["ann"].user)

    data = _estimate(client, period, [deal.pk]).json()

    assert (data["earned_before"], data["earned_after"]) == ({}, {"USD": "480.00"})


def test_a_team_component_counts_team_mates_bookings(client):
    """Commission 8 % plus 25 % of the quarterly target incentive (40,000 / 4 = 10,000 → 2,500)
    on team attainment; team quota 100,000. Ann booked 10,000, her team mate Bob 20,000: so far
    800.00 + 2,500 x 30 % = 750.00 → 1,550.00. Ann's 10,000 deal: 1,600.00 + 2,500 x 40 % =
    1,000.00 → 2,600.00 (Bob's bookings are read because the team figure needs them)."""
    ops = make_person("olga", Role.OPS)
    north = Team.objects.create(name="North")
    ann, bob = make_person("ann"), make_person("bob")
    make_line(ann, None, date(2025, 1, 1), team=north)
    make_line(bob, None, date(2025, 1, 1), team=north)
    period = _assigned({"ops": ops, "ann": ann, "bob": bob}, TEAM_PLAN)
    Quota.objects.create(team=north, period=period, amount=Decimal("100000.00"), currency="USD")
    make_booking(ann, "10000.00", date(2026, 1, 20))
    make_booking(bob, "20000.00", date(2026, 2, 20))
    deal = make_opportunity(ann, "10000.00", stage=_open_stage(), close_date=date(2026, 3, 1))
    client.force_login(ann.user)

    data = _estimate(client, period, [deal.pk]).json()

    assert (data["earned_before"], data["earned_after"]) == ({"USD": "1550.00"},
                                                             {"USD": "2600.00"})
    team = next(c for c in data["components"] if c["name"] == "Team")
    assert (team["earned_before"], team["earned_after"]) == ("750.00", "1000.00")


def test_the_page_shows_the_estimate_and_writes_nothing(client):
    """The page without JavaScript (the form's ticked boxes in the URL) and the HTMX panel give
    the same figures as the API: 800.00 → 1,200.00; no row of any table changes."""
    people = org()
    period = _assigned(people, FLAT_8)
    make_booking(people["ann"], "10000.00", date(2026, 2, 10))
    deal = make_opportunity(people["ann"], "5000.00", stage=_open_stage(),
                            close_date=date(2026, 3, 20), name="Globex renewal")
    client.force_login(people["ann"].user)
    before = _row_counts()

    page = client.get(f"/comp/what-if/?period={period.pk}&deal={deal.pk}").content.decode()
    panel = client.get(f"/comp/what-if/estimate/?period={period.pk}&deal={deal.pk}")

    assert 'data-testid="what-if-before">800.00 USD' in page
    assert 'data-testid="what-if-after">1,200.00 USD' in page
    assert "Globex renewal" in page and f'value="{deal.pk}" class="deal-box"' in page
    assert panel.status_code == 200
    assert 'data-testid="what-if-difference">+400.00 USD' in panel.content.decode()
    assert _row_counts() == before
    exported = client.get(f"/comp/what-if/?period={period.pk}&deal={deal.pk}&format=csv")
    assert f"{deal.pk},Globex renewal,,Proposal,60.00,2026-03-20,5000.00,USD,100,True" in \
        exported.content.decode()


def test_a_rep_cannot_estimate_for_another_rep_by_url_or_api(client):
    people = org()
    period = _assigned(people, FLAT_8)
    bobs = make_opportunity(people["bob"], "5000.00", stage=_open_stage(),
                            close_date=date(2026, 3, 20))
    client.force_login(people["ann"].user)

    by_url = client.get(f"/comp/what-if/?person={people['bob'].pk}&period={period.pk}")
    panel = client.get(f"/comp/what-if/estimate/?person={people['bob'].pk}&period={period.pk}")
    by_api = _estimate(client, period, [bobs.pk], person_id=people["bob"].pk)

    assert (by_url.status_code, panel.status_code, by_api.status_code) == (404, 404, 404)
    assert by_api.json() == {"detail": "Not Found"}


def test_someone_elses_or_unknown_deal_ids_are_refused_and_nothing_is_computed(client):
    """Bob's deal in Ann's request, or an id nobody has, answers 404 naming the id; the engine
    never runs (no timing comes back, nothing is written)."""
    people = org()
    period = _assigned(people, FLAT_8)
    own = make_opportunity(people["ann"], "5000.00", stage=_open_stage(),
                           close_date=date(2026, 3, 20))
    bobs = make_opportunity(people["bob"], "5000.00", stage=_open_stage(),
                            close_date=date(2026, 3, 20))
    client.force_login(people["ann"].user)
    before = _row_counts()

    foreign = _estimate(client, period, [own.pk, bobs.pk])
    unknown = _estimate(client, period, [999999])
    panel = client.get(f"/comp/what-if/estimate/?period={period.pk}&deal={bobs.pk}")
    garbage = client.get(f"/comp/what-if/estimate/?period={period.pk}&deal=1%3B2")

    assert foreign.status_code == 404 and foreign.json()["value"] == str(bobs.pk)
    assert foreign.json()["detail"] == f"No deal of ann has the id {bobs.pk}."
    assert unknown.status_code == 404 and unknown.json()["field"] == "opportunity_ids"
    assert panel.status_code == 404 and "Not estimated" in panel.content.decode()
    assert garbage.status_code == 400 and "is not an opportunity id" in garbage.content.decode()
    assert _row_counts() == before


def test_closed_deals_and_deals_of_other_periods_are_refused_with_the_reason(client):
    people = org()
    period = _assigned(people, FLAT_8)
    won = make_opportunity(people["ann"], "5000.00", close_date=date(2026, 3, 20))
    later = make_opportunity(people["ann"], "5000.00", stage=_open_stage(),
                             close_date=date(2026, 5, 4))
    client.force_login(people["ann"].user)

    closed = _estimate(client, period, [won.pk])
    outside = _estimate(client, period, [later.pk])

    assert closed.status_code == 400 and "is closed" in closed.json()["detail"]
    assert outside.status_code == 400
    assert "closes on 2026-05-04, outside FY2026-Q1" in outside.json()["detail"]


def test_a_manager_estimates_for_a_report_but_not_for_another_team(client):
    """Mia manages Ann: she sees Ann's estimate (10,000 x 8 % = 800.00 so far); Max does not."""
    people = org()
    period = _assigned(people, FLAT_8)
    make_booking(people["ann"], "10000.00", date(2026, 2, 10))
    client.force_login(people["mgr"].user)
    mine = _estimate(client, period, [], person_id=people["ann"].pk)
    page = client.get(f"/comp/what-if/?person={people['ann'].pk}&period={period.pk}")
    client.force_login(people["other_mgr"].user)
    other = _estimate(client, period, [], person_id=people["ann"].pk)

    assert mine.status_code == 200 and mine.json()["earned_before"] == {"USD": "800.00"}
    assert page.status_code == 200 and 'data-testid="what-if-who">ann' in page.content.decode()
    assert other.status_code == 404


def test_the_reps_pages_link_to_the_estimator(client):
    people = org()
    _assigned(people, FLAT_8)
    client.force_login(people["ann"].user)

    home = client.get("/").content.decode()
    overview = client.get("/comp/").content.decode()

    assert 'href="/comp/what-if/" data-testid="kpi-what-if"' in home
    assert 'data-testid="nav-what-if"' in overview
