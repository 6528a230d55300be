"""The performance run's figures through the API, with the pages' visibility (figures by hand in
`tests/performance/org.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from attain.people.actions import issue_api_token
from attain.performance.actions import set_leaderboard_names
from tests.performance.org import build_performance_org


@pytest.fixture
def org(db: Any) -> Any:
    return build_performance_org()


def get(client: Client, org: Any, who: str, path: str, **params: Any) -> Any:
    token = issue_api_token(None, org[who].user, "test")
    return client.get(f"/api/v1{path}", params, headers={"Authorization": f"Bearer {token}"})


def test_people_performance_is_scoped_like_the_pages(client, org):
    response = get(client, org, "mia", "/performance/people", period_id=org.quarter.pk)

    assert response.status_code == 200
    assert response.json()["count"] == 2  # paginated like every list: items and count
    rows = {r["person_name"]: r for r in response.json()["items"]}
    assert set(rows) == {"ann", "bob"}  # mia booked nothing and holds no quota
    assert (rows["ann"]["bookings"], rows["ann"]["quota"], rows["ann"]["attainment_pct"],
            rows["ann"]["coverage"]) == ("1500.50", "3000.00", "50.0", "3.80")
    assert rows["bob"]["team_name"] == "East"


def test_a_rep_gets_404_for_another_reps_figures(client, org):
    mine = get(client, org, "ann", f"/performance/people/{org['ann'].pk}",
               period_id=org.quarter.pk)
    theirs = get(client, org, "ann", f"/performance/people/{org['bob'].pk}",
                 period_id=org.quarter.pk)

    assert mine.status_code == 200 and mine.json()["attainment_pct"] == "50.0"
    assert theirs.status_code == 404


def test_leaderboard_is_anonymised_for_reps_when_the_company_says_so(client, org):
    set_leaderboard_names(None, "anonymised")

    rep = get(client, org, "ann", "/performance/leaderboard", period_id=org.quarter.pk
              ).json()["items"]
    ops = get(client, org, "olga", "/performance/leaderboard", period_id=org.quarter.pk
              ).json()["items"]

    assert [(e["rank"], e["name"], e["person_id"], e["movement"]) for e in rep] == [
        (1, "Rep #1", None, 2), (2, "ann", org["ann"].pk, 0), (3, "Rep #3", None, -2)]
    assert [e["name"] for e in ops] == ["bob", "ann", "cat"]
    assert ops[0]["value"] == "2500.00"


def test_comparison_and_team_figures(client, org):
    rows = get(client, org, "mia", "/performance/comparison", period_id=org.quarter.pk,
               team_id=org.east.pk).json()["items"]
    bob = next(r for r in rows if r["name"] == "bob")
    bookings = next(c for c in bob["measures"] if c["measure"] == "bookings")
    assert bookings == {"measure": "bookings", "value": "2500.00", "team_median": "2000.25",
                        "percentile": 75}

    teams = get(client, org, "eve", "/performance/teams", period_id=org.quarter.pk
                ).json()["items"]
    assert [(t["team_name"], t["attainment_pct"], t["quota_source"]) for t in teams] == [
        ("East", "80.0", "team"), ("West", "44.0", "members")]


def test_an_unknown_metric_is_refused_by_name(client, org):
    response = get(client, org, "ann", "/performance/leaderboard", period_id=org.quarter.pk,
                   metric="karma")
    assert response.status_code == 422
    assert "metric='karma' is not accepted" in response.json()["detail"]


def test_people_list_pages_with_limit_and_offset(client, org):
    # mia sees ann and bob, ordered by attainment: ann 50.0 %, then bob (no quota)
    everyone = get(client, org, "mia", "/performance/people", period_id=org.quarter.pk).json()
    first = get(client, org, "mia", "/performance/people", period_id=org.quarter.pk,
                limit=1).json()
    second = get(client, org, "mia", "/performance/people", period_id=org.quarter.pk,
                 limit=1, offset=1).json()

    assert (first["count"], second["count"]) == (2, 2)
    assert [r["person_name"] for r in first["items"] + second["items"]] == [
        r["person_name"] for r in everyone["items"]]
    assert len(first["items"]) == 1
