"""The data-quality page and API: ops only, findings from the stored run with links to their
records, the stale threshold in the URL, exports, and the fixes through confirmation pages."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from attain.core.models import CalcRun
from attain.crm.models import Account, Opportunity
from attain.ingest.quality import actions
from tests.quality.dirty import AS_OF, build_dirty

pytestmark = pytest.mark.django_db


@pytest.fixture
def dirty():
    data = build_dirty()
    data.run = actions.run_quality_check(None, as_of=AS_OF)
    return data


@pytest.mark.parametrize("who", ["ann", "mia", "fay", "eve"])
@pytest.mark.parametrize("url", ["/quality/", "/quality/stale_opportunity/", "/quality/merge/",
                                 "/quality/reassign/", "/quality/freshness/"])
def test_other_roles_may_not_open_data_quality(client_for, dirty, who, url):
    assert client_for(dirty.people[who]).get(url).status_code == 403


@pytest.mark.parametrize("who", ["ann", "fay"])
def test_other_roles_may_not_run_or_fix(client_for, dirty, who):
    client = client_for(dirty.people[who])
    acme, ltd = dirty.accounts[1], dirty.accounts[2]
    assert client.post("/quality/run/").status_code == 403
    assert client.post("/quality/merge/", {"survivor": acme.pk,
                                           "merged": [ltd.pk]}).status_code == 403
    assert Account.objects.filter(pk=ltd.pk).exists()
    api = client.post("/api/v1/quality/merge-accounts", {"survivor_id": acme.pk,
                                                         "merged_ids": [ltd.pk]},
                      content_type="application/json")
    assert api.status_code == 403
    assert client.get("/api/v1/quality/findings").status_code == 403
    assert Account.objects.filter(pk=ltd.pk).exists()


def test_ops_sees_scores_counts_and_the_nav_link(client_for, dirty):
    page = client_for(dirty.people["olga"]).get("/quality/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'href="/quality/"' in html  # the navigation link
    scores = dict(re.findall(r'data-testid="score-(\w+)".*?kpi-value">([\d.]+)<', html, re.S))
    assert scores == {"overall": "50.00", "accounts": "37.50", "opportunities": "25.00",
                      "bookings": "50.00", "names": "71.43"}
    counts = dict(re.findall(r'data-testid="findings-(\w+)">(\d+)<', html))
    assert counts["duplicate_account"] == "7" and counts["stale_opportunity"] == "1"
    assert counts["missing_owner"] == "1" and counts["booking_without_opportunity"] == "1"
    assert f"run #{dirty.run.pk}" in html
    assert 'id="quality-chart"' in html


def test_stale_threshold_comes_from_the_url(client_for, dirty):
    client = client_for(dirty.people["olga"])

    def stale(days):
        html = client.get(f"/quality/stale_opportunity/?stale_days={days}").content.decode()
        return set(re.findall(r'opportunity #(\d+)', html))

    late, backwards = (str(dirty.opportunities[i].pk) for i in (103, 106))
    assert stale(61) == {late}                 # 171 idle days ≥ 61; 60 < 61
    assert stale(60) == {late, backwards}
    assert stale(5) == {late, backwards}       # below the stored minimum: read as 30
    overview = client.get("/quality/?stale_days=60").content.decode()
    assert re.search(r'data-testid="findings-stale_opportunity">2<', overview)


def test_each_finding_links_to_its_record(client_for, dirty):
    client = client_for(dirty.people["olga"])
    html = client.get("/quality/missing_owner/").content.decode()
    assert f'href="/opportunities/{dirty.opportunities[105].pk}/"' in html
    html = client.get("/quality/duplicate_account/").content.decode()
    assert f'href="/admin/crm/account/{dirty.accounts[5].pk}/change/"' in html
    assert "Review merge" in html
    assert client.get("/quality/not_a_check/").status_code == 404
    assert client.get("/quality/?run=999999").status_code == 404


def test_findings_export_to_csv_and_xlsx_with_the_filters(client_for, dirty):
    client = client_for(dirty.people["olga"])
    csv_rows = client.get("/quality/stale_opportunity/?stale_days=61&format=csv"
                          ).content.decode().splitlines()
    assert csv_rows[0].startswith("check,group,record_type,record_id,record,owner,day,number")
    assert len(csv_rows) == 2 and ",Late deal,leo,2026-01-10,171," in csv_rows[1]
    response = client.get("/quality/stale_opportunity/?stale_days=60&format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3 and sorted(r[7] for r in rows[1:]) == [60, 171]


def test_merge_through_the_confirmation_page(client_for, dirty):
    client = client_for(dirty.people["olga"])
    confirm = client.get(f"/quality/merge/?group=name:acme&run={dirty.run.pk}")
    html = confirm.content.decode()
    assert all(name in html for name in ("Acme Inc", "ACME, Ltd.", "acme gmbh"))
    acme, ltd, gmbh = (dirty.accounts[i] for i in (1, 2, 3))
    done = client.post("/quality/merge/", {"survivor": acme.pk,
                                           "merged": [ltd.pk, gmbh.pk, acme.pk]}, follow=True)
    assert f"into #{acme.pk}" in done.content.decode()
    assert set(Account.objects.filter(pk__in=[acme.pk, ltd.pk, gmbh.pk])
               .values_list("pk", flat=True)) == {acme.pk}


def test_a_refused_merge_on_the_page_says_why_and_keeps_everything(client_for, dirty):
    client = client_for(dirty.people["olga"])
    acme = dirty.accounts[1]
    done = client.post("/quality/merge/", {"survivor": "999999", "merged": [acme.pk]},
                       follow=True)
    assert "Nothing was merged: Survivor account #999999 does not exist." in \
        done.content.decode()
    assert Account.objects.count() == 8


def test_reassign_through_the_confirmation_page(client_for, dirty):
    client = client_for(dirty.people["olga"])
    late = dirty.opportunities[103]
    confirm = client.get(f"/quality/reassign/?ids={late.pk}").content.decode()
    assert "Late deal" in confirm and "left 1 Jun 2026" in confirm
    # the choice offers only people employed today (leo and kim have left)
    assert ">leo (" not in confirm and ">ann (" in confirm
    refused = client.post("/quality/reassign/", {"ids": [late.pk],
                                                 "owner": dirty.people["leo"].pk}, follow=True)
    assert "Nothing was reassigned: leo is not employed on" in refused.content.decode()
    assert Opportunity.objects.get(pk=late.pk).owner == dirty.people["leo"]
    done = client.post("/quality/reassign/", {"ids": [late.pk], "owner": dirty.people["ann"].pk},
                       follow=True)
    assert "1 opportunity reassigned." in done.content.decode()
    assert Opportunity.objects.get(pk=late.pk).owner == dirty.people["ann"]


def test_the_run_button_queues_a_run(client_for, dirty):
    client = client_for(dirty.people["olga"])
    done = client.post("/quality/run/", {"stale_days": "60"}, follow=True)
    run = CalcRun.objects.filter(kind="data_quality").order_by("-id").first()
    assert run.status == "queued" and run.params == {"stale_days": 60}
    assert f"Data-quality run #{run.pk} is queued" in done.content.decode()


def test_api_lists_scores_findings_and_refuses_bad_fixes(client_for, dirty):
    client = client_for(dirty.people["olga"])
    latest = client.get("/api/v1/quality/latest").json()
    assert latest["run"]["id"] == dirty.run.pk
    assert {s["category"]: s["score"] for s in latest["scores"]}["overall"] == "50.00"
    page = client.get("/api/v1/quality/findings?check=missing_owner").json()
    assert page["count"] == 1
    assert page["items"][0]["object_id"] == dirty.opportunities[105].pk
    assert page["items"][0]["check"] == "missing_owner"
    assert client.get("/api/v1/quality/findings?check=nope").status_code == 422
    assert client.get("/api/v1/quality/findings?run_id=999999").status_code == 404
    assert len(client.get("/api/v1/quality/scores").json()) == 5
    acme = dirty.accounts[1]
    refused = client.post("/api/v1/quality/merge-accounts",
                          {"survivor_id": acme.pk, "merged_ids": [acme.pk]},
                          content_type="application/json")
    assert refused.status_code == 400
    assert refused.json() == {"detail": f"Account #{acme.pk} cannot be merged into itself; "
                                        "choose another survivor.",
                              "field": "merged", "value": acme.pk}
    moved = client.post("/api/v1/quality/reassign-opportunities",
                        {"opportunity_ids": [dirty.opportunities[105].pk],
                         "owner_id": dirty.people["ann"].pk}, content_type="application/json")
    assert moved.status_code == 200
    assert moved.json()["moved"] == {str(dirty.opportunities[105].pk): None}
    queued = client.post("/api/v1/quality/runs", {"stale_days": 45},
                         content_type="application/json")
    assert queued.status_code == 202 and queued.json()["status"] == "queued"


def test_a_category_score_links_to_its_checks(client_for, dirty):
    client = client_for(dirty.people["olga"])
    html = client.get("/quality/").content.decode()
    link = re.search(r'href="([^"]*)" data-testid="score-bookings"', html).group(1)
    assert link == "?stale_days=90&amp;category=bookings#checks-table"
    filtered = client.get("/quality/?stale_days=90&category=bookings").content.decode()
    assert re.findall(r'<tr data-check="(\w+)">', filtered) == ["booking_without_opportunity"]


def test_the_freshness_line_shows_a_queued_run_and_offers_a_reload(client_for, dirty):
    client = client_for(dirty.people["olga"])
    queued = actions.request_quality_run(None)
    html = client.get(f"/quality/freshness/?shown={dirty.run.pk}").content.decode()
    assert f"run #{dirty.run.pk}" in html and f"run #{queued.pk} queued" in html
    assert 'hx-trigger="every 5s"' in html and "newer findings" not in html
    assert "newer findings: reload" in client.get("/quality/freshness/?shown=0").content.decode()
