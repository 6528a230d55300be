"""JSON shapes: money as strings with a currency, instants with an offset; OpenAPI and docs."""

from datetime import UTC, datetime
from decimal import Decimal

from attain.crm.models import StageChange


def test_money_is_a_string_decimal_with_its_currency(api, org):
    body = api.get("ops", f"/opportunities/{org.opportunities['A1'].pk}").json()

    assert (body["amount"], body["currency"]) == ("1200.50", "EUR")


def test_booking_amount_and_quantity_are_strings(api, org):
    body = api.get("ops", f"/bookings/{org.bookings['a-april'].pk}").json()

    assert (body["amount"], body["currency"], body["quantity"]) == ("99.99", "USD", "1.00")


def test_instants_are_iso_8601_with_offset(api, org):
    body = api.get("ops", f"/opportunities/{org.opportunities['A1'].pk}").json()

    assert body["created_at"] == "2026-01-10T00:00:00+00:00"
    assert body["close_date"] == "2026-03-31"


def test_opportunity_detail_carries_its_stage_history(api, org):
    deal = org.opportunities["A1"]
    discovery = org.opportunities["A2"].stage
    StageChange.objects.create(opportunity=deal, to_stage=discovery,
                               changed_at=datetime(2026, 1, 10, tzinfo=UTC),
                               amount=Decimal("1000.00"))
    StageChange.objects.create(opportunity=deal, from_stage=discovery, to_stage=deal.stage,
                               changed_at=datetime(2026, 3, 31, 15, 30, tzinfo=UTC))

    detail = api.get("a", f"/opportunities/{deal.pk}").json()
    history = api.get("a", f"/opportunities/{deal.pk}/stage-history").json()

    assert [(s["from_stage"], s["to_stage"], s["amount"]) for s in detail["stage_history"]] == [
        (None, "Discovery", "1000.00"), ("Discovery", "Closed Won", None)]
    assert history["count"] == 2
    assert history["items"][1]["changed_at"] == "2026-03-31T15:30:00+00:00"


def test_openapi_schema_lists_the_endpoints(client):
    schema = client.get("/api/v1/openapi.json").json()

    assert schema["info"]["title"] == "Attain API"
    assert {
        "/api/v1/people", "/api/v1/people/{person_id}", "/api/v1/teams", "/api/v1/accounts",
        "/api/v1/accounts/{account_id}", "/api/v1/opportunities",
        "/api/v1/opportunities/{opportunity_id}",
        "/api/v1/opportunities/{opportunity_id}/stage-history", "/api/v1/bookings",
        "/api/v1/quotas", "/api/v1/periods", "/api/v1/runs", "/api/v1/runs/{run_id}",
        "/api/v1/bookings-by-person-period",
    } <= set(schema["paths"])
    amount = schema["components"]["schemas"]["BookingOut"]["properties"]["amount"]
    assert amount["type"] == "string"


def test_docs_page_renders(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert b"openapi.json" in response.content
