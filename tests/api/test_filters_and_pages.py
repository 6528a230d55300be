"""Filters (half-open ranges), ordering, pagination and 422 answers that name the parameter."""

import pytest


def test_close_date_range_is_half_open(api):
    # A1 closes 2026-03-31 (inside), A2 on 2026-04-01 (exactly at _to: excluded).
    names = api.names("ops", "/opportunities", close_date_from="2026-03-31",
                      close_date_to="2026-04-01")

    assert names == ["A1"]


def test_booked_range_is_half_open(api):
    items = api.items("ops", "/bookings", booked_from="2026-03-31", booked_to="2026-04-01")

    assert [b["booked_on"] for b in items] == ["2026-03-31"]


def test_created_range_is_half_open_in_days(api):
    # A1 was created 2026-01-10, A2 2026-02-01, the others 2026-01-05.
    names = api.names("ops", "/opportunities", created_from="2026-01-10",
                      created_to="2026-02-01")

    assert names == ["A1"]


@pytest.mark.parametrize(("params", "expected"), [
    ({"stage": "Closed Won"}, ["A1", "B1", "C1"]),
    ({"is_closed": "false"}, ["A2", "B2", "Orphan"]),
    ({"is_won": "true"}, ["A1", "B1", "C1"]),
    ({"deal_type": "expansion"}, ["A2"]),
    ({"source": "web"}, ["A1"]),
    ({"segment": "ent"}, ["A2"]),
    ({"q": "orph"}, ["Orphan"]),
])
def test_opportunity_filters(api, params, expected):
    assert api.names("ops", "/opportunities", **params) == expected


def test_booking_filters_by_owner_and_currency(api, org):
    assert [b["amount"] for b in api.items("ops", "/bookings", currency="EUR")] == ["1200.50"]
    assert len(api.items("ops", "/bookings", owner_id=org["a"].pk)) == 2


def test_ordering_by_amount_descending(api):
    items = api.items("ops", "/opportunities", ordering="-amount")

    assert [o["name"] for o in items] == ["A1", "C1", "B2", "B1", "A2", "Orphan"]


def test_default_ordering_is_by_close_date(api):
    items = api.items("ops", "/opportunities")

    assert [o["close_date"] for o in items] == sorted(o["close_date"] for o in items)


def test_limit_and_offset_page_through_with_the_total_count(api):
    first = api.get("ops", "/opportunities", ordering="name", limit=4).json()
    second = api.get("ops", "/opportunities", ordering="name", limit=4, offset=4).json()

    assert first["count"] == second["count"] == 6
    assert [o["name"] for o in first["items"]] == ["A1", "A2", "B1", "B2"]
    assert [o["name"] for o in second["items"]] == ["C1", "Orphan"]


def test_page_size_above_the_maximum_is_422(api):
    response = api.get("ops", "/opportunities", limit=1001)

    assert response.status_code == 422
    assert response.json()["detail"][0]["param"] == "limit"


def test_bad_date_is_422_naming_parameter_and_value(api):
    response = api.get("ops", "/opportunities", close_date_from="2026-13-01")

    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert (error["param"], error["value"]) == ("close_date_from", "2026-13-01")
    assert error["message"].startswith("close_date_from='2026-13-01' is not accepted")


def test_unknown_ordering_is_422_naming_parameter_and_value(api):
    response = api.get("ops", "/opportunities", ordering="owner__user__password")

    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert (error["param"], error["value"]) == ("ordering", "owner__user__password")
    assert "close_date" in error["msg"]


def test_bad_as_of_is_422(api):
    response = api.get("a", "/people", as_of="yesterday")

    assert response.status_code == 422
    assert response.json()["detail"][0]["param"] == "as_of"


def test_bad_period_kind_is_422(api):
    response = api.get("ops", "/quotas", period_kind="fortnight")

    assert response.status_code == 422
    assert response.json()["detail"][0]["value"] == "fortnight"


def test_people_filters(api, org):
    assert api.names("ops", "/people", role="manager") == ["m1", "m2", "vp"]
    assert api.names("ops", "/people", team_id=org.teams["West"].pk, as_of="2026-08-01") == [
        "b", "c", "m2"]
    assert api.names("ops", "/people", q="fin") == ["finance"]


@pytest.mark.parametrize("path", ["/people", "/teams", "/accounts", "/opportunities",
                                  "/bookings", "/quotas", "/periods"])
def test_a_list_page_costs_a_fixed_number_of_queries(api, path, django_assert_max_num_queries):
    # token lookup and last-used note, the caller's person, the count, the page.
    with django_assert_max_num_queries(5):
        assert api.get("ops", path).status_code == 200


def test_bookings_credited_to_a_managers_rollup_follow_the_lines_of_the_booking_day(api, org):
    """b reports to m1 until 2026-07-01, then to m2: b's booking of 2026-02-10 counts for m1's
    roll-up, not m2's (though b is in m2's team today); vp's roll-up has every booking."""
    def booked(manager, **params):
        return sorted((b["owner_id"], b["booked_on"]) for b in api.items(
            "ops", "/bookings", manager_id=org[manager].pk, **params))

    a, b, c = org["a"].pk, org["b"].pk, org["c"].pk
    assert booked("m1") == [(a, "2026-03-31"), (a, "2026-04-01"), (b, "2026-02-10")]
    assert booked("m2") == [(c, "2026-05-05")]
    assert len(booked("vp")) == 4
    assert booked("m1", booked_from="2026-04-01") == [(a, "2026-04-01")]


def test_a_managers_rollup_never_widens_what_the_caller_may_see(api, org):
    """A rep asking for vp's roll-up gets only their own bookings (a's two). m2 asking for
    m1's gets the part m2 may see: b's February booking (b is in m2's team today, and was
    m1's in February), not a's; a manager id that is not a number is a 422 naming the
    parameter."""
    a = org["a"].pk
    assert sorted(b["owner_id"] for b in api.items("a", "/bookings",
                                                   manager_id=org["vp"].pk)) == [a, a]
    assert [(b["owner_id"], b["booked_on"]) for b in api.items(
        "m2", "/bookings", manager_id=org["m1"].pk)] == [(org["b"].pk, "2026-02-10")]
    response = api.get("ops", "/bookings", manager_id="m1")
    assert response.status_code == 422
    assert response.json()["detail"][0]["param"] == "manager_id"
