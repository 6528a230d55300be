"""Pipeline pages for each role: the hand-computed figures of `tests/pipeline/org.py`, the scopes
each role may open (another rep's or team's figures answer 404), CSV exports, drill-down links,
and the sales-process page (ops edit, others read)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from attain.core.models import AuditEvent
from attain.crm.models import Stage

pytestmark = pytest.mark.django_db


def kpi(response, name):
    html = response.content.decode()
    start = html.index(f'data-testid="kpi-{name}"')
    value = html.index('class="kpi-value">', start) + len('class="kpi-value">')
    return html[value:html.index("</span>", value)]


@pytest.mark.parametrize(("name", "created", "won", "win_rate"), [
    ("olga", "7,500.00 USD", "2,000.00 USD", "50.0%"),   # company
    ("eve", "7,500.00 USD", "2,000.00 USD", "50.0%"),
    ("fay", "7,500.00 USD", "2,000.00 USD", "50.0%"),
    ("mia", "7,000.00 USD", "2,000.00 USD", "50.0%"),    # mia, ann, bob
    ("ann", "3,000.00 USD", "2,000.00 USD", "50.0%"),    # X1 won, X2 lost
    ("bob", "4,000.00 USD", "0.00 USD", "—"),            # X3 open, nothing closed
])
def test_each_role_sees_its_own_scope(org, run, client_for, name, created, won, win_rate):
    response = client_for(org[name]).get("/pipeline/")
    assert response.status_code == 200
    assert kpi(response, "created") == created
    assert kpi(response, "won") == won
    assert kpi(response, "win-rate") == win_rate
    assert f"run #{run.pk}" in response.content.decode()


def test_company_figures_cycle_velocity_and_slipped(org, run, client_for):
    response = client_for(org["olga"]).get("/pipeline/")
    # cycle of X1 = 20 days; velocity = 4 x 2,000.00 x 1 / (2 x 20) = 200.00 a day
    assert kpi(response, "cycle") == "20.0 d"
    assert kpi(response, "velocity") == "200.00 USD"
    assert kpi(response, "slipped") == "1"
    assert kpi(response, "deal-size") == "2,000.00 USD"


@pytest.mark.parametrize("query", ["person={bob}", "team={west}", "manager={mia}",
                                   "team={east}", "person=999999", "person=abc"])
def test_a_rep_cannot_open_anyone_elses_figures(org, run, client_for, query):
    values = {"bob": org["bob"].pk, "west": org.teams["West"].pk, "mia": org["mia"].pk,
              "east": org.teams["East"].pk}
    client = client_for(org["ann"])
    assert client.get(f"/pipeline/?{query.format(**values)}").status_code == 404
    assert client.get(f"/pipeline/bottlenecks/?{query.format(**values)}").status_code == 404


def test_a_manager_opens_their_people_and_team_but_not_others(org, run, client_for):
    client = client_for(org["mia"])
    ann = client.get(f"/pipeline/?person={org['ann'].pk}")
    assert kpi(ann, "created") == "3,000.00 USD"
    assert kpi(client.get(f"/pipeline/?team={org.teams['East'].pk}"), "created") == (
        "7,000.00 USD")
    assert client.get(f"/pipeline/?person={org['cat'].pk}").status_code == 404
    assert client.get(f"/pipeline/?team={org.teams['West'].pk}").status_code == 404


def test_ops_opens_any_team_and_a_slice(org, run, client_for):
    client = client_for(org["olga"])
    assert kpi(client.get(f"/pipeline/?team={org.teams['West'].pk}"), "created") == (
        "500.00 USD")
    smb = client.get("/pipeline/?segment=smb")  # X1, X2, X4
    assert kpi(smb, "created") == "3,500.00 USD"
    both = client.get("/pipeline/?segment=smb&source=Inbound")
    assert "one of segment, source or product at a time" in both.content.decode()


def test_a_persons_figures_are_not_sliced_and_say_so(org, run, client_for):
    response = client_for(org["ann"]).get("/pipeline/?segment=mid")
    assert kpi(response, "created") == "3,000.00 USD"
    assert "not split by segment" in response.content.decode()


def test_figures_link_to_the_deals_behind_them(org, run, client_for):
    client = client_for(org["mia"])
    response = client.get("/pipeline/")
    html = response.content.decode()
    href = re.search(r'href="([^"]*)" data-testid="kpi-created"', html).group(1).replace(
        "&amp;", "&")
    assert f"manager={org['mia'].pk}" in href and "created_from=" in href
    listed = client.get(href).content.decode()
    assert "X1 won" in listed and "X2 lost" in listed and "X3 open" in listed
    assert "X4 open" not in listed


def test_funnel_csv_has_the_cohort_counts(org, run, client_for):
    response = client_for(org["olga"]).get("/pipeline/?format=csv&table=funnel")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    reached = {row[0]: row[1] for row in rows[1:]}
    assert reached == {"Discovery": "4", "Proposal": "2", "Closed Won": "1"}
    # Discovery → Proposal: 2 of 4 = 50.0%
    assert rows[1][3] == "50.0"


def test_winloss_and_trend_exports(org, run, client_for):
    client = client_for(org["olga"])
    winloss = list(csv.reader(io.StringIO(
        client.get("/pipeline/?format=csv&table=winloss").content.decode())))
    assert ["loss_reason", "Price", "0", "0.00", "1", "1000.00", "0.0", "USD"] in winloss
    trend = client.get("/pipeline/?format=csv&table=trend")
    assert trend.status_code == 200
    assert client.get("/pipeline/?format=csv&table=nope").status_code == 404


def test_bottleneck_page_for_manager(org, run, client_for):
    response = client_for(org["mia"]).get("/pipeline/bottlenecks/")
    assert response.status_code == 200
    assert "Where deals get stuck" in response.content.decode()


def test_pages_before_any_run_say_so(org, client_for):
    response = client_for(org["olga"]).get("/pipeline/")
    assert response.status_code == 200
    assert "have not been calculated yet" in response.content.decode()


def test_only_ops_can_start_a_run(org, client_for, django_capture_on_commit_callbacks):
    assert client_for(org["mia"]).post("/runs/pipeline/").status_code == 403
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(org["olga"]).post("/runs/pipeline/")
    assert response.status_code == 302


def test_ops_edits_a_stage_and_it_is_audited(org, client_for):
    stage = org.stages["Proposal"]
    response = client_for(org["olga"]).post("/pipeline/process/", {
        "op": "update", "stage_id": stage.pk, "pipeline": "default", "name": "Proposal sent",
        "order": 3, "probability": "55.5", "forecast_category": "best_case"})
    assert response.status_code == 302
    stage.refresh_from_db()
    assert (stage.name, stage.probability, stage.forecast_category) == (
        "Proposal sent", Decimal("55.50"), "best_case")
    event = AuditEvent.objects.get(action="update_stage")
    assert (event.before["name"], event.after["name"]) == ("Proposal", "Proposal sent")


def test_bad_stage_input_names_the_field_and_changes_nothing(org, client_for):
    stage = org.stages["Proposal"]
    response = client_for(org["olga"]).post("/pipeline/process/", {
        "op": "update", "stage_id": stage.pk, "pipeline": "default", "name": "Proposal",
        "order": 3, "probability": "150", "forecast_category": "best_case"})
    assert response.status_code == 400
    assert "probability" in response.content.decode()
    stage.refresh_from_db()
    assert stage.probability == Decimal("50")


def test_won_flag_cannot_change_while_deals_sit_in_the_stage(org, client_for):
    stage = org.stages["Proposal"]  # X3 sits here
    response = client_for(org["olga"]).post("/pipeline/process/", {
        "op": "update", "stage_id": stage.pk, "pipeline": "default", "name": "Proposal",
        "order": 3, "probability": "50", "forecast_category": "best_case", "is_won": "on"})
    assert response.status_code == 400
    assert "holds 1 opportunity" in response.content.decode()
    assert not Stage.objects.get(pk=stage.pk).is_won


def test_others_read_the_sales_process_but_cannot_change_it(org, client_for):
    client = client_for(org["ann"])
    page = client.get("/pipeline/process/")
    assert page.status_code == 200 and "Proposal" in page.content.decode()
    assert 'name="op"' not in page.content.decode()
    response = client.post("/pipeline/process/", {"op": "delete",
                                                   "stage_id": org.stages["Proposal"].pk})
    assert response.status_code == 403


def test_ops_adds_and_reorders_stages(org, client_for):
    client = client_for(org["olga"])
    client.post("/pipeline/process/", {"op": "create", "pipeline": "default",
                                       "name": "Negotiation", "order": 5, "probability": "80",
                                       "forecast_category": "commit"})
    added = Stage.objects.get(name="Negotiation")
    client.post("/pipeline/process/", {"op": "move", "stage_id": added.pk,
                                       "direction": "up"})
    names = list(Stage.objects.filter(pipeline="default").order_by("order")
                 .values_list("name", flat=True))
    assert names == ["Discovery", "Negotiation", "Proposal", "Closed Won", "Closed Lost"]


def test_api_gives_the_same_figures_and_404_for_another_rep(org, run, client_for):
    from attain.core.models import Period

    period = Period.objects.get(kind="quarter", start=org.quarter_start)
    client = client_for(org["ann"])
    mine = client.get(f"/api/v1/pipeline/figures?period_id={period.pk}").json()
    assert (mine["scope"], mine["created_amount"], mine["win_rate_pct"]) == (
        "ann", "3000.00", "50.0")
    assert [(s["stage"], s["cohort_reached"]) for s in mine["funnel"]] == [
        ("Discovery", 2), ("Proposal", 1), ("Closed Won", 1)]
    other = client.get(f"/api/v1/pipeline/figures?period_id={period.pk}"
                       f"&person_id={org['bob'].pk}")
    assert other.status_code == 404
    company = client_for(org["olga"]).get(f"/api/v1/pipeline/figures?period_id={period.pk}")
    assert company.json()["velocity_per_day"] == "200.00"
    assert client.get("/api/v1/pipeline/stages").status_code == 200


def test_people_side_by_side_export_for_a_manager(org, run, client_for):
    response = client_for(org["mia"]).get("/pipeline/?format=csv&table=reps")
    rows = {r[0]: r for r in csv.reader(io.StringIO(response.content.decode()))}
    # ann: X1 won (2,000.00, 20 days) and X2 lost → 1 of 2 = 50.0%; bob: X3 open
    assert rows["ann"][1:10] == ["2", "3000.00", "1", "2000.00", "1", "50.0", "2000.00",
                                 "20.0", "USD"]
    assert rows["bob"][1:3] == ["1", "4000.00"]
    assert "cat" not in rows  # max's report: not mia's to see


def test_each_aging_band_links_to_exactly_its_open_deals(org, client_for):
    """Open deals as of the run's day: X3 (created d0+3) and X4 (d0+4) are as old as the
    quarter is; X5 created 100 days before today is 100 days old (band 91-180 d) and X6, created
    31 days ago at 10:00 UTC, is 31 days old (31-60 d). Each band's link lists the deals the band
    counts, and no other."""
    from django.utils import timezone

    from attain.pipeline.engine_io import run_pipeline_analytics
    from attain.pipeline.metrics import AGE_BAND_DAYS
    from tests.factories import make_opportunity
    from tests.pipeline.org import at

    today = timezone.localdate()
    proposal = org.stages["Proposal"]
    make_opportunity(org["ann"], "700.00", stage=proposal, name="X5 old",
                     created_at=at(today - timedelta(days=100)), close_date=today)
    make_opportunity(org["ann"], "300.00", stage=proposal, name="X6 month",
                     created_at=at(today - timedelta(days=31)), close_date=today)
    assert run_pipeline_analytics(backend="duckdb").status == "succeeded"
    client = client_for(org["olga"])
    html = client.get("/pipeline/").content.decode()
    links = re.findall(r'href="([^"]*)" data-testid="aging-link">(\d+)<', html)
    assert len(links) == len(AGE_BAND_DAYS)

    def age(day):
        return max((today - day).days, 0)

    open_deals = {"X3 open": age(org.quarter_start + timedelta(days=3)),
                  "X4 open": age(org.quarter_start + timedelta(days=4)),
                  "X5 old": 100, "X6 month": 31}
    for (label, low, high), (href, count) in zip(AGE_BAND_DAYS, links, strict=True):
        expected = {name for name, days in open_deals.items()
                    if days >= low and (high is None or days < high)}
        listed = client.get(href.replace("&amp;", "&")).content.decode()
        shown = {name for name in open_deals if name in listed}
        assert shown == expected, label
        assert int(count) == len(expected), label
        assert "X1 won" not in listed and "X2 lost" not in listed
