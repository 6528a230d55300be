"""Each role sees through the API exactly what the visibility scope allows, as of a date."""

import pytest

EVERYONE = ["a", "b", "c", "exec", "finance", "m1", "m2", "ops", "vp"]
ALL_DEALS = ["A1", "A2", "B1", "B2", "C1", "Orphan"]


@pytest.mark.parametrize("role", ["ops", "finance", "exec"])
def test_company_wide_roles_see_everyone_and_every_deal(api, role):
    assert api.names(role, "/people", as_of="2026-08-01") == EVERYONE
    assert api.names(role, "/opportunities", as_of="2026-08-01") == ALL_DEALS
    assert len(api.items(role, "/bookings", as_of="2026-08-01")) == 4
    assert api.names(role, "/accounts", as_of="2026-08-01") == ["Acme", "Zeta"]
    assert api.names(role, "/teams", as_of="2026-08-01") == ["East", "West"]


def test_rep_sees_only_their_own_records(api):
    assert api.names("a", "/people", as_of="2026-08-01") == ["a"]
    assert api.names("a", "/opportunities", as_of="2026-08-01") == ["A1", "A2"]
    assert sorted(b["amount"] for b in api.items("a", "/bookings", as_of="2026-08-01")) == [
        "1200.50", "99.99"]
    assert api.names("a", "/accounts", as_of="2026-08-01") == ["Acme"]
    assert api.names("a", "/teams", as_of="2026-08-01") == ["East"]


def test_senior_manager_sees_the_whole_subtree_but_not_orphans(api):
    assert api.names("vp", "/people", as_of="2026-08-01") == ["a", "b", "c", "m1", "m2", "vp"]
    assert api.names("vp", "/opportunities", as_of="2026-08-01") == ["A1", "A2", "B1", "B2",
                                                                     "C1"]


def test_manager_sees_subtree_as_of_the_date_before_a_move(api):
    assert api.names("m1", "/people", as_of="2026-06-30") == ["a", "b", "m1"]
    assert api.names("m1", "/opportunities", as_of="2026-06-30") == ["A1", "A2", "B1", "B2"]
    assert len(api.items("m1", "/bookings", as_of="2026-06-30")) == 3


def test_manager_loses_a_report_on_the_day_they_move(api):
    assert api.names("m1", "/people", as_of="2026-07-01") == ["a", "m1"]
    assert api.names("m1", "/opportunities", as_of="2026-07-01") == ["A1", "A2"]
    assert api.names("m2", "/people", as_of="2026-07-01") == ["b", "c", "m2"]
    assert api.names("m2", "/teams", as_of="2026-07-01") == ["West"]


def test_person_detail_shows_manager_and_team_as_of_the_date(api, org):
    before = api.get("ops", f"/people/{org['b'].pk}", as_of="2026-06-30").json()
    after = api.get("ops", f"/people/{org['b'].pk}", as_of="2026-07-01").json()

    assert (before["manager_name"], before["team_name"]) == ("m1", "East")
    assert (after["manager_id"], after["manager_name"], after["team_name"]) == (
        org["m2"].pk, "m2", "West")


def test_rep_asking_for_another_reps_ids_gets_404_like_a_missing_id(api, org):
    missing = api.get("a", "/people/999999").json()
    for path in [f"/people/{org['b'].pk}",
                 f"/opportunities/{org.opportunities['B1'].pk}",
                 f"/opportunities/{org.opportunities['B1'].pk}/stage-history",
                 f"/bookings/{org.bookings['b-feb'].pk}",
                 f"/accounts/{org.accounts['Zeta'].pk}"]:
        response = api.get("a", path)
        assert (path, response.status_code, response.json()) == (path, 404, missing)


def test_rep_can_open_their_own_ids(api, org):
    for path in [f"/people/{org['a'].pk}", f"/opportunities/{org.opportunities['A1'].pk}",
                 f"/bookings/{org.bookings['a-march'].pk}",
                 f"/accounts/{org.accounts['Acme'].pk}"]:
        assert api.get("a", path).status_code == 200


def test_manager_gets_404_for_a_moved_report_after_the_move(api, org):
    path = f"/opportunities/{org.opportunities['B1'].pk}"

    assert api.get("m1", path, as_of="2026-06-30").status_code == 200
    assert api.get("m1", path, as_of="2026-07-01").status_code == 404


def test_unowned_records_are_for_company_wide_roles_only(api, org):
    path = f"/opportunities/{org.opportunities['Orphan'].pk}"

    assert api.get("vp", path).status_code == 404
    assert api.get("exec", path).status_code == 200


def test_ops_filtering_by_another_owner_still_sees_them_but_a_rep_does_not(api, org):
    assert api.names("ops", "/opportunities", owner_id=org["b"].pk) == ["B1", "B2"]
    assert api.names("a", "/opportunities", owner_id=org["b"].pk) == []
