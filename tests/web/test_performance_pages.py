"""Performance pages per role, on the organisation of `tests/performance/org.py` (figures by
hand there and in `tests/web/org.py`)."""

import csv
import html
import io
import re
from decimal import Decimal

import pytest

from attain.performance.actions import set_leaderboard_names
from attain.performance.models import Quota, QuotaVersion
from tests.performance.org import build_performance_org


@pytest.fixture
def org(db):
    return build_performance_org()


def words(response):
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).replace("\xa0", " ").split())


def csv_rows(response):
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_manager_sees_their_teams_attainment_pacing_and_rollup(client_for, org):
    response = client_for(org["mia"]).get(f"/performance/?period={org.quarter.pk}")

    page = words(response)
    assert "Attainment 80.0%" in page  # (1,500.50 + 2,500.00) / (3,000.00 + 2,000.00)
    assert "4,000.50 USD" in page and "5,000.00 USD" in page
    assert "1 of 2" in page  # bob at or above quota
    assert "ann" in page and "bob" in page and " cat " not in page
    assert f"run #{org.run.pk}" in page
    body = response.content.decode()
    assert f'/people/{org["ann"].pk}/?period={org.quarter.pk}' in body
    assert 'data-chart="band-chart"' in body and 'data-chart="trend-chart"' in body


def test_company_view_has_every_rep_the_histogram_and_the_rollups(client_for, org):
    page = words(client_for(org["olga"]).get(f"/performance/?period={org.quarter.pk}"))

    assert "Attainment 74.0%" in page  # 4,440.50 / 6,000.00
    assert "At or above quota 1 of 3" in page
    assert "≥ 120%: 1" in page and "< 50%: 1" in page  # bob 125.0%; cat 44.0%
    # mia's roll-up uses her team's own quota: 4,000.50 / 5,000.00
    assert re.search(r"mia East 5,000.00 USD team 4,000.50 USD 80.0%", page)
    # eve has no team: her subtree's quotas 6,000.00
    assert re.search(r"eve — 6,000.00 USD subtree 4,440.50 USD 74.0%", page)


def test_rollups_page_through_their_own_parameter(client_for, org, monkeypatch):
    """Three managers by name (eve, max, mia), one per page: the roll-ups turn pages with
    `rpage`, the people table (ann, bob, cat by attainment) with `page`, and the roll-ups'
    links land on the roll-ups."""
    monkeypatch.setattr("attain.web.performance_views.PAGE_SIZE", 1)
    client = client_for(org["olga"])

    first = client.get(f"/performance/?period={org.quarter.pk}")
    later = client.get(f"/performance/?period={org.quarter.pk}&page=2&rpage=3")

    people, rollups = words(first).split("Roll-ups through the hierarchy")
    assert "eve — 6,000.00 USD" in rollups and "mia East" not in rollups
    assert "Page 1 of 3 · 3 rows" in rollups and "Page 1 of 3 · 3 rows" in people
    assert f"?period={org.quarter.pk}&amp;rpage=2#rollups" in first.content.decode()
    people, rollups = words(later).split("Roll-ups through the hierarchy")
    assert "mia East 5,000.00 USD team 4,000.50 USD 80.0%" in rollups and "eve —" not in rollups
    assert "Page 3 of 3" in rollups
    assert "Page 2 of 3" in people and " ann " in people and " bob " not in people


def test_attainment_csv_and_band_filter_keep_the_url_filters(client_for, org):
    client = client_for(org["olga"])

    rows = csv_rows(client.get(f"/performance/?period={org.quarter.pk}&min=100&format=csv"))

    assert [(r["name"], r["bookings"], r["attainment_pct"]) for r in rows] == [
        ("bob", "2500.00", "125.0")]
    team = csv_rows(client.get(f"/performance/?period={org.quarter.pk}&team={org.west.pk}"
                               "&format=csv"))
    assert [(r["name"], r["team"]) for r in team] == [("cat", "West")]


def test_a_rep_gets_404_for_another_reps_detail_page(client_for, org):
    client = client_for(org["ann"])

    assert client.get(f"/people/{org['bob'].pk}/").status_code == 404
    assert client.get(f"/api/v1/performance/people/{org['bob'].pk}",
                      {"period_id": org.quarter.pk}).status_code == 404
    own = words(client.get(f"/performance/?period={org.quarter.pk}"))
    assert "ann" in own and "bob" not in own


def test_leaderboard_ranks_and_moves_for_a_rep_with_names(client_for, org):
    response = client_for(org["ann"]).get(
        f"/performance/leaderboard/?period={org.quarter.pk}&metric=bookings")

    page = words(response)
    # previous quarter: cat 900, ann 100, bob 0 → now bob, ann, cat
    assert "1 ▲ 2 bob East 2,500.00" in page
    assert "2 \N{EN DASH} ann you East 1,500.50" in page
    assert "3 ▼ 2 cat West 440.00" in page
    body = response.content.decode()
    assert f'/people/{org["bob"].pk}/' not in body  # no way into another rep's detail
    assert f'/people/{org["ann"].pk}/' in body


def test_anonymised_leaderboard_hides_other_reps_names_from_reps_only(client_for, org):
    set_leaderboard_names(None, "anonymised")

    rep_page = words(client_for(org["ann"]).get(
        f"/performance/leaderboard/?period={org.quarter.pk}&metric=bookings"))
    assert "Rep #1" in rep_page and "Rep #3" in rep_page
    assert not re.search(r"\b(bob|cat)\b", rep_page)
    assert "2 \N{EN DASH} ann you East 1,500.50" in rep_page
    manager_page = words(client_for(org["mia"]).get(
        f"/performance/leaderboard/?period={org.quarter.pk}&metric=bookings"))
    assert "bob" in manager_page


def test_team_leaderboard_and_attainment_metric(client_for, org):
    client = client_for(org["ann"])

    rows = csv_rows(client.get(f"/performance/leaderboard/?period={org.quarter.pk}"
                               f"&metric=attainment_pct&team={org.east.pk}&format=csv"))

    assert [(r["rank"], r["name"], r["attainment_pct"]) for r in rows] == [
        ("1", "bob", "125.0"), ("2", "ann", "50.0")]


def test_comparison_shows_each_measure_against_the_team_median(client_for, org):
    rows = csv_rows(client_for(org["mia"]).get(
        f"/performance/compare/?period={org.quarter.pk}&team={org.east.pk}&format=csv"))

    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"ann", "bob"}
    # median of 1,500.50 and 2,500.00 = 2,000.25; bob beats 1 of 2 and ties himself → 75
    assert by_name["bob"]["bookings_team_median"] == "2000.25"
    assert (by_name["bob"]["bookings_percentile"], by_name["ann"]["bookings_percentile"]) == (
        "75", "25")
    assert by_name["ann"]["attainment_pct"] == "50.0"
    assert by_name["ann"]["coverage"] == "3.80"


def test_comparison_page_has_sparklines_heatmap_and_standouts(client_for, org):
    response = client_for(org["mia"]).get(
        f"/performance/compare/?period={org.quarter.pk}&team={org.east.pk}")

    body = response.content.decode()
    assert f'data-chart="spark-{org["ann"].pk}"' in body
    assert 'data-chart="heatmap-chart"' in body
    page = words(response)
    assert "Top performers bob 125.0%" in page


def test_a_rep_compares_only_themselves_against_the_team(client_for, org):
    rows = csv_rows(client_for(org["ann"]).get(
        f"/performance/compare/?period={org.quarter.pk}&team={org.east.pk}&format=csv"))

    assert [r["name"] for r in rows] == ["ann"]
    assert rows[0]["bookings_team_median"] == "2000.25"  # the team's median, not bob's figures
    assert client_for(org["ann"]).get(
        f"/performance/compare/?period={org.quarter.pk}&by=team").status_code == 403


def test_team_comparison_for_company_roles(client_for, org):
    rows = csv_rows(client_for(org["eve"]).get(
        f"/performance/compare/?period={org.quarter.pk}&by=team&format=csv"))

    assert [(r["team"], r["quota"], r["bookings"], r["attainment_pct"]) for r in rows] == [
        ("East", "5000.00", "4000.50", "80.0"), ("West", "1000.00", "440.00", "44.0")]


def test_ops_sets_a_quota_from_a_date_and_sees_its_history(client_for, org):
    client = client_for(org["olga"])
    change_day = org.quarter.start.replace(day=15)

    response = client.post("/performance/quotas/set/", {
        "period": org.quarter.pk, "person": org["ann"].pk, "amount": "2400.00",
        "valid_from": change_day.isoformat(), "reason": "territory change"})

    assert response.status_code == 302
    quota = Quota.objects.get(person=org["ann"], period=org.quarter)
    assert quota.amount == Decimal("2400.00")
    versions = list(quota.versions.values_list("valid_from", "amount"))
    # the demo-style row had no versions: its 3,000.00 is kept as the baseline
    assert versions == [(org.quarter.start, Decimal("3000.00")),
                        (change_day, Decimal("2400.00"))]
    page = words(client.get(f"/performance/quotas/{quota.pk}/"))
    assert "territory change" in page and "olga" in page


def test_a_bad_quota_is_refused_with_the_reason_and_nothing_is_written(client_for, org):
    client = client_for(org["olga"])
    before = QuotaVersion.objects.count()

    client.post("/performance/quotas/set/", {
        "period": org.quarter.pk, "person": org["ann"].pk, "amount": "-5"})

    assert QuotaVersion.objects.count() == before
    page = words(client.get(f"/performance/quotas/?period={org.quarter.pk}"))
    assert "Not saved: A quota cannot be negative (got -5)." in page


def test_ops_allocates_a_team_number_evenly(client_for, org):
    client = client_for(org["olga"])

    client.post("/performance/quotas/allocate/", {
        "period": org.quarter.pk, "team_id": org.east.pk, "amount": "1000.01",
        "method": "even"})

    shares = dict(Quota.objects.filter(period=org.quarter, person__isnull=False,
                                       person__in=[org["ann"], org["bob"]])
                  .values_list("person__name", "amount"))
    # 500.005 each: cut to 500.00; the cent left goes to ann (equal remainders: name order)
    assert shares == {"ann": Decimal("500.01"), "bob": Decimal("500.00")}


def test_reps_and_managers_cannot_manage_quotas(client_for, org):
    for who in ("ann", "mia"):
        client = client_for(org[who])
        assert client.get("/performance/quotas/").status_code == 403
        assert client.post("/performance/quotas/set/", {
            "period": org.quarter.pk, "person": org[who].pk, "amount": "1"}).status_code == 403
        assert client.post("/runs/performance/").status_code == 403
    assert client_for(org["eve"]).post("/performance/settings/leaderboard/", {
        "leaderboard_names": "anonymised"}).status_code == 403


def test_ops_queues_a_performance_run_from_the_page(client_for, org):
    response = client_for(org["olga"]).post("/runs/performance/", {"next": "/performance/"})

    assert response.status_code == 302
    page = words(client_for(org["olga"]).get("/performance/"))
    assert "queued" in page


def test_company_comparison_is_paged_and_ranked_by_the_database(client_for, org):
    from django.utils import timezone

    from attain.performance import queries as perf

    # company-wide (olga): the peers are ann 1,500.50, bob 2,500.00, cat 440.00 →
    # bookings median 1,500.50; bob beats 2 of 3 and ties himself: (2 + 0.5) x 100 / 3 = 83.3
    # → p83; ann (1 + 0.5) x 100 / 3 = 50 → p50; cat 0.5 x 100 / 3 = 16.7 → p17
    page = words(client_for(org["olga"]).get(f"/performance/compare/?period={org.quarter.pk}"))
    assert "2,500.00 med 1,500.50 · p83" in page
    assert "1,500.50 med 1,500.50 · p50" in page
    assert "440.00 med 1,500.50 · p17" in page
    assert "Top performers bob 125.0%" in page

    # the same figures as the in-memory comparison, page by page, for every path
    today = timezone.localdate()
    run = perf.latest_performance_run()
    for person, team in ((org["olga"], None), (org["olga"], org.east.pk), (org["mia"], None),
                         (org["ann"], None)):
        full = perf.comparison(person.user, today, run, org.quarter, team)["rows"]
        paged = [row for number in (1, 2, 3)
                 for row in perf.comparison_page(person.user, today, run, org.quarter, team,
                                                 number, 1)["rows"][:1]]
        paged = paged[:len(full)]  # past the last page a paginator repeats the last one
        assert [(r.row.person_id, r.cells, r.conversions, r.sparkline) for r in paged] == [
            (r.row.person_id, r.cells, r.conversions, r.sparkline) for r in full], person
        first = perf.comparison_page(person.user, today, run, org.quarter, team, 1, 50)
        assert first["peers"] == len(full)
        assert [r.row.person_id for r in first["top"]] == [r.row.person_id for r in full[:3]]


@pytest.mark.parametrize("names_for_everyone", [True, False])
def test_leaderboard_pages_match_the_whole_leaderboard(org, names_for_everyone):
    from django.utils import timezone

    from attain.performance import queries as perf

    today, run, ann = timezone.localdate(), perf.latest_performance_run(), org["ann"]
    for metric, team in (("bookings", None), ("attainment_pct", org.east.pk),
                         ("won_count", None)):
        whole = perf.leaderboard(ann.user, today, run, org.quarter, metric, team,
                                 viewer_person_id=ann.pk, names_for_everyone=names_for_everyone)
        pages = [perf.leaderboard_page(ann.user, today, run, org.quarter, metric, team,
                                       viewer_person_id=ann.pk,
                                       names_for_everyone=names_for_everyone,
                                       page_number=n, page_size=1)
                 for n in range(1, len(whole) + 1)]
        assert [e for p in pages for e in p["entries"]] == whole, metric
        mine = next((i for i, e in enumerate(whole) if e.is_viewer), None)
        assert pages[0]["viewer_page"] == (None if mine is None else mine + 1)
        assert pages[0]["top"] == whole[:15]
    # bookings: bob 2,500.00 (was 3rd), ann 1,500.50 (was 2nd), cat 440.00 (was 1st)
    first = perf.leaderboard_page(ann.user, today, run, org.quarter, "bookings", None,
                                  viewer_person_id=ann.pk, names_for_everyone=True,
                                  page_number=1, page_size=50)
    assert [(e.name, e.rank, e.movement) for e in first["entries"]] == [
        ("bob", 1, 2), ("ann", 2, 0), ("cat", 3, -2)]


def test_a_rollups_bookings_open_the_bookings_it_credits_on_their_booking_days(client_for, org):
    """On the second month's first day bob moves from mia to max and cat from max to mia.
    Bookings count for the manager above their owner on the booking day: mia's roll-up keeps
    ann's 1,200.00 and 300.50 (bob's 2,500.00 is booked after his move, cat's 400.00 EUR
    before hers); max's gets cat's 440.00 USD and bob's 2,500.00 = 2,940.00. The roll-up's
    link lists exactly those order lines."""
    from attain.people.models import ReportingLine
    from attain.performance.actions import run_performance_analytics
    from attain.performance.models import ManagerPeriodPerformance
    from tests.factories import make_line

    moved_on = org.base.months[1].start
    for who, new_boss in (("bob", "max"), ("cat", "mia")):
        ReportingLine.objects.filter(person=org[who]).update(valid_to=moved_on)
        make_line(org[who], org[new_boss], moved_on)
    run = run_performance_analytics(None, "duckdb")
    client = client_for(org["olga"])
    page = client.get(f"/performance/?period={org.quarter.pk}").content.decode()
    rollups = {r.manager.name: r for r in ManagerPeriodPerformance.objects.filter(
        run=run, period=org.quarter).select_related("manager")}
    assert (rollups["mia"].bookings, rollups["mia"].booking_count) == (Decimal("1500.50"), 2)
    assert (rollups["max"].bookings, rollups["max"].booking_count) == (Decimal("2940.00"), 2)
    for manager, owners in (("mia", ["ann", "ann"]), ("max", ["cat", "bob"])):
        link = html.unescape(re.search(
            rf'href="(/bookings/\?[^"]*manager={org[manager].pk}[^"]*)"', page).group(1))
        listed = client.get(link)
        assert f"Credited to {manager}" in words(listed)
        exported = csv_rows(client.get(link + "&format=csv"))
        assert [r["owner"] for r in exported] == owners, manager
