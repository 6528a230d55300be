"""Win/loss and slices by product use the opportunity's own product (`Opportunity.product`),
falling back to its largest order line's product only when the deal names none.

The org of `tests.pipeline.org`, with products added (this quarter):
    X1 ann won  2,000.00 product Starter  (plus an order line of Pro 1,500.00: the deal's own
                                           product wins over its lines)
    X2 ann lost 1,000.00 product Starter
    X3 bob open 4,000.00 product Pro
    X4 cat open   500.00 no product, no order lines -> "" (none)
Win/loss by product (deals closed this quarter): Starter won 1 (2,000.00) lost 1 (1,000.00),
win rate 1 / (1 + 1) = 50.0 %; Pro: none closed, no row.
Product slices, created this quarter: Starter 2 deals, 2,000.00 + 1,000.00 = 3,000.00;
Pro 1 deal, 4,000.00; "" 1 deal, 500.00.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from attain.crm.models import Opportunity, Product
from attain.pipeline.engine_io import run_pipeline_analytics, snapshot_opportunities
from attain.pipeline.models import PipelineBreakdown, PipelineFacts
from tests.factories import make_booking
from tests.pipeline.test_run import quarter

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(org):
    starter = Product.objects.create(external_id="P-S", name="Starter", family="Platform",
                                     list_price=Decimal("6000"), currency="USD")
    pro = Product.objects.create(external_id="P-P", name="Pro", family="Platform",
                                 list_price=Decimal("24000"), currency="USD")
    Opportunity.objects.filter(pk__in=[org.deals["X1"].pk, org.deals["X2"].pk]).update(
        product=starter)
    Opportunity.objects.filter(pk=org.deals["X3"].pk).update(product=pro)
    make_booking(org["ann"], "1500.00", org.deals["X1"].close_date, opportunity=org.deals["X1"],
                 product=pro)
    make_booking(org["ann"], "500.00", org.deals["X1"].close_date, opportunity=org.deals["X1"],
                 product=starter)
    return {"starter": starter, "pro": pro}


@pytest.fixture
def product_run(products):
    result = run_pipeline_analytics(backend="duckdb")
    assert result.status == "succeeded", result.error
    return result


def test_snapshot_takes_the_deals_own_product_before_its_order_lines(org, products):
    by_id = {r["opportunity_id"]: r["product"] for r in snapshot_opportunities().to_pylist()}
    assert by_id[org.deals["X1"].pk] == "Starter"  # own product, not the larger Pro line
    assert by_id[org.deals["X2"].pk] == "Starter"  # lost: no lines, own product only
    assert by_id[org.deals["X4"].pk] == ""


def test_snapshot_falls_back_to_the_largest_order_line_without_a_deal_product(org, products):
    Opportunity.objects.filter(pk=org.deals["X1"].pk).update(product=None)
    by_id = {r["opportunity_id"]: r["product"] for r in snapshot_opportunities().to_pylist()}
    assert by_id[org.deals["X1"].pk] == "Pro"  # 1,500.00 line beats the 500.00 one


def test_win_loss_by_product_is_hand_computed(org, product_run):
    rows = {r.value: r for r in PipelineBreakdown.objects.filter(
        run=product_run, scope_kind="company", scope_id=0, period=quarter(org),
        dimension="product")}
    assert set(rows) == {"Starter"}
    starter = rows["Starter"]
    assert (starter.won_count, starter.won_amount, starter.lost_count, starter.lost_amount) == (
        1, Decimal("2000.00"), 1, Decimal("1000.00"))


def test_product_slices_hold_each_products_deals(org, product_run):
    sliced = {r.slice_value: (r.created_count, r.created_amount, r.won_count, r.lost_count)
              for r in PipelineFacts.objects.filter(
                  run=product_run, scope_kind="company", scope_id=0, period=quarter(org),
                  slice_dim="product")}
    assert sliced == {"Starter": (2, Decimal("3000.00"), 1, 1),
                      "Pro": (1, Decimal("4000.00"), 0, 0),
                      "": (1, Decimal("500.00"), 0, 0)}


def test_dashboard_product_filter_and_drill_down(org, product_run, client_for):
    client = client_for(org["olga"])
    q = quarter(org)
    page = client.get("/pipeline/", {"period": q.pk, "product": "Starter"})
    assert page.status_code == 200
    assert page.context["fig"].created_count == 2
    assert page.context["fig"].win_rate == Decimal("50.0")
    assert "product=Starter" in page.context["links"]["created"]
    # the drill-down lists exactly the two Starter deals created this quarter
    listed = client.get(page.context["links"]["created"])
    assert {o.pk for o in listed.context["page"]} == {org.deals["X1"].pk, org.deals["X2"].pk}
    # win/loss by product: Starter won 1, lost 1 -> 50.0 %, its links filter on the product
    by_product = dict((key, rows) for key, _, rows in page.context["winloss"])["product"]
    assert [(w["label"], w["win_rate"]) for w in by_product] == [("Starter", Decimal("50.0"))]
    won = client.get(by_product[0]["won_link"])
    assert [o.pk for o in won.context["page"]] == [org.deals["X1"].pk]


def test_api_gives_win_loss_by_product(org, product_run, client):
    from attain.people.actions import issue_api_token

    token = issue_api_token(None, org["olga"].user, "test")
    response = client.get("/api/v1/pipeline/breakdown",
                          {"period_id": quarter(org).pk, "dimension": "product"},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    # Starter: won 1 (2,000.00), lost 1 (1,000.00), win rate 1 / 2 = 50.0 %
    assert body["count"] == 1
    assert body["items"] == [{
        "dimension": "product", "value": "Starter", "won_count": 1, "won_amount": "2000.00",
        "lost_count": 1, "lost_amount": "1000.00", "win_rate_pct": "50.0", "open_count": 0,
        "open_amount": "0.00", "currency": "USD"}]
    refused = client.get("/api/v1/pipeline/breakdown",
                         {"period_id": quarter(org).pk, "dimension": "colour"},
                         headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 422 and "dimension='colour'" in refused.json()["detail"]
    rep = issue_api_token(None, org["ann"].user, "test")
    other = client.get("/api/v1/pipeline/breakdown",
                       {"period_id": quarter(org).pk, "person_id": org["bob"].pk},
                       headers={"Authorization": f"Bearer {rep}"})
    assert other.status_code == 404  # a rep never reads another rep's figures


def test_api_bottlenecks_are_scoped_like_the_page(org, product_run, client):
    from attain.people.actions import issue_api_token

    rep = issue_api_token(None, org["ann"].user, "test")
    mine = client.get("/api/v1/pipeline/bottlenecks", {"period_id": quarter(org).pk},
                      headers={"Authorization": f"Bearer {rep}"})
    assert mine.status_code == 200
    assert {r["scope_id"] for r in mine.json()["items"]} <= {org["ann"].pk}
    theirs = client.get("/api/v1/pipeline/bottlenecks",
                        {"period_id": quarter(org).pk, "person_id": org["bob"].pk},
                        headers={"Authorization": f"Bearer {rep}"})
    assert theirs.status_code == 404


def test_person_filter_of_a_large_company_offers_managers_and_the_chosen_person(
        org, product_run, client_for, settings, monkeypatch):
    from attain.web import pipeline_views

    monkeypatch.setattr(pipeline_views, "PERSON_CHOICES", 2)  # the org has 5 reps + managers
    client = client_for(org["olga"])
    page = client.get("/pipeline/", {"person": org["ann"].pk})
    offered = {label for _, label in page.context["form"].fields["person"].choices}
    assert offered == {"Everyone", "mia", "max", "ann"}  # managers + the person asked for
    assert page.context["fig"].created_count == 2  # ann: X1, X2 (the form stays valid)
    east = client.get("/pipeline/", {"team": org.teams["East"].pk})
    # East (mia, ann, bob) is 3 > 2 as well: managers only there too
    assert {label for _, label in east.context["form"].fields["person"].choices} == {
        "Everyone", "mia"}
