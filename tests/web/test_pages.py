"""Pages per role show the hand-computed figures of `tests/web/org.py`, and nothing more."""

import csv
import io
import re

import pytest
from django.urls import reverse

from attain.people.models import Role
from tests.factories import make_opportunity, make_person


def words(page):
    """The page's visible text, tags removed and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).replace("\xa0", " ").split())


def text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    for url in ["/", "/opportunities/", "/bookings/", "/attainment/", "/people/1/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={url}"


def test_login_page_signs_in_and_lands_on_home(client, org):
    page = text(client.get("/login/"))
    assert 'name="username"' in page
    response = client.post("/login/", {"username": "ann", "password": "pw-ann"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "ann" in text(client.get("/"))


def test_logout_is_a_post_and_ends_the_session(client_for, org):
    client = client_for(org["ann"])
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_rep_home_shows_quarter_bookings_quota_and_attainment(client_for, org):
    page = text(client_for(org["ann"]).get("/"))
    assert "1,500.50 USD" in page  # 1,200.00 + 300.50 from the latest run's month rows
    assert "3,000.00 USD" in page
    assert "50.0%" in page
    assert "9,999.00" not in page  # the older run is never read
    assert "5,700.25 USD" in page  # open pipeline: 5,000.00 + 700.25
    assert "2 deals" in page
    assert "Acme renewal" in page  # recent won deal, linked to its page
    assert reverse("opportunity", args=[org.opportunities["ann_won"].pk]) in page
    assert f"Bookings calculated 3 minutes ago , run #{org.run.pk}" in words(page)
    assert 'data-chart="trend-chart"' in page and 'id="trend-chart"' in page
    assert "Bob deal" not in page and ">bob<" not in page


def test_rep_navigation_has_no_admin_and_no_attainment_table(client_for, org):
    page = text(client_for(org["ann"]).get("/"))
    assert "/admin/" not in page
    assert 'href="/attainment/"' not in page
    assert "Sales rep" in page  # the role shown next to the signed-in name


def test_manager_home_shows_the_team_for_the_quarter(client_for, org):
    page = text(client_for(org["mia"]).get("/"))
    assert "4,000.50 USD" in page  # ann 1,500.50 + bob 2,500.00
    assert "5,000.00 USD" in page
    assert "80.0%" in page
    assert "125.0%" in page and "50.0%" in page
    assert "1 of 2 at or above quota" in page
    assert ">cat<" not in page  # another manager's rep
    assert f"/people/{org['bob'].pk}/?period={org.quarter.pk}" in page


def test_ops_home_shows_company_figures_runs_and_admin(client_for, org):
    page = text(client_for(org["olga"]).get("/"))
    assert "4,440.50 USD" in page  # 1,500.50 + 2,500.00 + 440.00
    assert "6,000.00 USD" in page
    assert "74.0%" in page
    assert "1 of 3" in page
    assert 'href="/admin/"' in page
    assert 'data-testid="run-bookings"' in page
    assert f"#{org.run.pk}" in page  # runs list
    assert "Opportunities" in page and "Stage changes" in page  # record counts
    # Top reps ordered by attainment: bob (125.0%), ann (50.0%), cat (44.0%).
    assert page.index(">bob<") < page.index(">ann<") < page.index(">cat<")


def test_executive_home_shows_last_year_next_to_this_year(client_for, org):
    page = text(client_for(org["eve"]).get("/"))
    assert "4,440.50 USD" in page
    assert "1,000.00 USD" in page  # last fiscal year's total
    assert 'data-testid="run-bookings"' not in page
    assert 'href="/admin/"' not in page


def test_finance_home_shows_bookings_by_currency(client_for, org):
    page = text(client_for(org["fay"]).get("/"))
    assert "4,000.50 USD" in page  # order lines in USD: 1,200.00 + 300.50 + 2,500.00
    assert "400.00 EUR" in page
    assert "Bookings by currency" in page


@pytest.mark.parametrize("viewer", ["ann", "mia", "olga"])
def test_person_page_lists_the_bookings_behind_the_figure(client_for, org, viewer):
    page = text(client_for(org[viewer]).get(
        f"/people/{org['ann'].pk}/?period={org.quarter.pk}"))
    assert "1,500.50 USD" in page and "3,000.00 USD" in page and "50.0%" in page
    assert "1,200.00 USD" in page and "300.50 USD" in page  # the order lines
    assert "Beta expansion" in page and "Gamma pilot" in page  # open opportunities


def test_person_page_for_one_month_uses_that_months_rows(client_for, org):
    page = text(client_for(org["ann"]).get(
        f"/people/{org['ann'].pk}/?period={org.months[0].pk}"))
    assert "1,200.00 USD" in page
    assert "300.50" not in page


def test_rep_cannot_see_another_reps_pages(client_for, org):
    client = client_for(org["ann"])
    assert client.get(f"/people/{org['bob'].pk}/").status_code == 404
    assert client.get(f"/opportunities/{org.opportunities['bob_open'].pk}/").status_code == 404
    assert client.get(f"/people/{org['ann'].pk}/").status_code == 200


def test_manager_cannot_see_outside_their_subtree(client_for, org):
    client = client_for(org["mia"])
    assert client.get(f"/people/{org['cat'].pk}/").status_code == 404
    assert client.get(f"/opportunities/{org.opportunities['cat_open'].pk}/").status_code == 404
    assert client.get(f"/people/{org['bob'].pk}/").status_code == 200


def test_opportunity_page_shows_the_stage_history(client_for, org):
    page = text(client_for(org["ann"]).get(
        f"/opportunities/{org.opportunities['ann_won'].pk}/"))
    assert "Acme renewal" in page and "1,200.00 USD" in page
    history = page[page.index('data-testid="stage-history"'):]
    assert history.index("Discovery") < history.index("Proposal") < history.index("Closed Won")


def test_opportunity_list_filters_by_stage_and_status(client_for, org):
    page = text(client_for(org["olga"]).get("/opportunities/?stage=Proposal&status=open"))
    assert "Beta expansion" in page and "Bob deal" in page and "Cat deal" in page
    assert "Gamma pilot" not in page and "Acme renewal" not in page
    assert "6,700.00 USD" in page  # 5,000.00 + 800.00 + 900.00


def test_a_large_companys_owner_filter_offers_managers_and_the_owner_asked_for(
        client_for, org, monkeypatch):
    """With more visible people than the filter lists (here 1), only the managers (max, mia)
    and the owner asked for (ann) are options, and filtering by that owner still works."""
    monkeypatch.setattr("attain.web.forms.PERSON_CHOICES", 1)
    response = client_for(org["olga"]).get(f"/opportunities/?owner={org['ann'].pk}")

    body = response.content.decode()
    owner_select = body.split('<select name="owner"')[1].split("</select>")[0]
    names = re.findall(r'<option value="\d+"(?: selected)?>([^<]+)</option>', owner_select)
    assert sorted(names) == ["ann", "max", "mia"]
    assert f'<option value="{org["ann"].pk}" selected>ann</option>' in owner_select
    assert "Managers only" in body
    assert "bob" not in text(response).split("Apply")[1]  # only ann's deals are listed


def test_opportunity_list_shows_a_rep_only_their_own(client_for, org):
    page = text(client_for(org["ann"]).get("/opportunities/"))
    assert "Beta expansion" in page and "Bob deal" not in page


def test_opportunity_csv_keeps_filters_and_neutralises_formulas(client_for, org):
    make_opportunity(org["ann"], "10.00", name="=HYPERLINK(\"http://x\")",
                     stage=org.opportunities["ann_open"].stage)
    response = client_for(org["ann"]).get("/opportunities/?status=open&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["name"] for r in rows) == [
        "'=HYPERLINK(\"http://x\")", "Beta expansion", "Gamma pilot"]
    assert {r["amount"] for r in rows} == {"10.00", "5000.00", "700.25"}


def test_the_old_attainment_page_is_the_performance_dashboard(client_for, org):
    # one attainment page, not two: /attainment/ (bookmarks, exported links) redirects with its
    # filters to /performance/, where the same names mean the same
    for who in ("mia", "olga", "ann"):
        response = client_for(org[who]).get(
            f"/attainment/?period={org.quarter.pk}&min=100&format=csv")
        assert response.status_code == 302
        assert response["Location"] == f"/performance/?period={org.quarter.pk}&min=100&format=csv"
    assert client_for(org["olga"]).get("/attainment/")["Location"] == "/performance/"


def test_bookings_list_filters_by_currency_and_exports(client_for, org):
    client = client_for(org["fay"])
    page = text(client.get("/bookings/?currency=EUR"))
    assert "400.00 EUR" in page and "2,500.00 USD" not in page
    rows = list(csv.DictReader(io.StringIO(
        client.get("/bookings/?currency=EUR&format=csv").content.decode())))
    assert [(r["owner"], r["amount"], r["currency"]) for r in rows] == [("cat", "400.00", "EUR")]


def test_only_ops_can_ask_for_a_bookings_run(client_for, org, monkeypatch):
    asked = []
    monkeypatch.setattr("attain.web.calculations.request_bookings_run",
                        lambda user: asked.append(user.username) or "Bookings run #99: queued.")
    assert client_for(org["ann"]).post("/runs/bookings/").status_code == 403
    client = client_for(org["olga"])
    assert client.get("/runs/bookings/").status_code == 405
    response = client.post("/runs/bookings/", follow=True)
    assert asked == ["olga"]
    assert "Bookings run #99: queued." in text(response)


def test_home_without_a_calculation_says_so(client_for, db):
    rep = make_person("solo", Role.REP)
    page = text(client_for(rep).get("/"))
    assert "Bookings have not been calculated yet" in page
    assert "0.00 USD" in page


def test_login_without_a_person_gets_an_explanation(client, db, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="nobody", password="x"))
    assert "not linked to a person" in text(client.get("/"))


def test_rep_pipeline_is_converted_at_this_months_rate_and_unrated_amounts_are_named(
        client_for, org):
    from datetime import date
    from decimal import Decimal

    from django.utils import timezone

    from attain.crm.models import ExchangeRate

    today = timezone.localdate()
    ExchangeRate.objects.create(currency="EUR", month_start=date(today.year, today.month, 1),
                                rate=Decimal("1.10000000"))
    proposal = org.opportunities["ann_open"].stage
    make_opportunity(org["ann"], "100.00", "EUR", stage=proposal, name="Euro deal")
    make_opportunity(org["ann"], "50.00", "CHF", stage=proposal, name="Franc deal")
    page = words(text(client_for(org["ann"]).get("/")))
    assert "5,810.25 USD" in page  # 5,000.00 + 700.25 + 100.00 EUR x 1.10
    assert "+ 50.00 CHF (no rate)" in page
    assert "4 deals" in page


def test_the_ops_button_queues_a_run_and_the_page_shows_it_pending(client_for, org):
    from attain.core.models import CalcRun

    client = client_for(org["olga"])
    page = words(text(client.post("/runs/bookings/", follow=True)))
    queued = CalcRun.objects.get(status="queued")
    assert (queued.kind, queued.requested_by.username) == ("bookings_by_person_period", "olga")
    assert f"Bookings run #{queued.pk} is queued" in page
    assert f"run #{queued.pk} queued" in page  # the freshness line's badge
    assert f"run #{org.run.pk}" in page  # figures still from the latest succeeded run


def test_the_freshness_line_offers_newer_figures_once_a_run_has_finished(client_for, org):
    client = client_for(org["ann"])
    same = words(text(client.get(f"/runs/bookings/freshness/?shown={org.run.pk}")))
    assert f"run #{org.run.pk}" in same and "newer figures" not in same
    older = words(text(client.get(f"/runs/bookings/freshness/?shown={org.run.pk - 1}")))
    assert "newer figures: reload" in older
