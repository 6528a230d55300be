"""Imports of the newer CRM fields: an opportunity's main product and partner, an order line's
invoice / payment / cancellation dates, opportunity splits (Salesforce OpportunitySplit), quotas
as effective-dated versions, and the first stage an opportunity's history proves — each with the
bad inputs that must be refused (naming row, column, value and reason) and write nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from attain.core.models import AuditEvent
from attain.crm.models import Booking, Opportunity, OpportunitySplit, Product, StageChange
from attain.ingest.models import ImportJob
from attain.performance.actions import quota_as_of
from attain.performance.models import Quota, QuotaVersion
from tests.ingest.conftest import ALICE, BOB, MIA, database_state, run_file

SUCCEEDED, REJECTED = ImportJob.Status.SUCCEEDED, ImportJob.Status.REJECTED


def problems(job):
    return [(p["severity"], p["row"], p["column"], p["value"], p["reason"])
            for p in job.problems]


def errors(job):
    return [p for p in problems(job) if p[0] == "error"]


@pytest.fixture
def products(crm):
    return {
        "platform": Product.objects.create(external_id="01t000000000001AAA", name="Platform"),
        "addon": Product.objects.create(external_id="01t000000000002AAA",
                                        name="Analytics Add-on"),
    }


# --- opportunity product and partner ------------------------------------------------------------


def test_salesforce_opportunities_set_main_product_by_id_or_name_and_partner(crm, products):
    job = run_file("sf_opportunities_products_partners.csv", "salesforce-opportunities")

    assert job.status == SUCCEEDED, job.message
    platform = Opportunity.objects.get(external_id="006000000000011AAA")
    addon = Opportunity.objects.get(external_id="006000000000012AAA")
    assert (platform.product, platform.partner) == (products["platform"], "Northwind Resellers")
    assert (addon.product, addon.partner) == (products["addon"], "")  # by name; no partner
    again = run_file("sf_opportunities_products_partners.csv", "salesforce-opportunities")
    assert again.counts["opportunity"] == {"unchanged": 2}


def test_an_unknown_product_is_an_error_naming_row_column_and_value(crm, products):
    before = database_state()

    job = run_file("sf_opportunities_unknown_product.csv", "salesforce-opportunities")

    assert job.status == REJECTED
    assert errors(job) == [("error", 3, "Product__c", "Quantum Widget",
                            "unknown product 'Quantum Widget': no product has this id or name")]
    assert database_state() == before  # the valid first row was not written either


# --- order-line dates ---------------------------------------------------------------------------


def test_bookings_import_invoice_payment_and_cancellation_dates(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    job = run_file("attain_bookings_dates.csv", "attain-booking")

    assert job.status == SUCCEEDED, job.message
    one, two = (Booking.objects.get(external_id=f"OL-{n}") for n in (1, 2))
    assert (one.invoiced_on, one.paid_on, one.cancelled_on) == (
        date(2026, 3, 31), date(2026, 4, 20), None)
    assert (two.paid_on, two.cancelled_on) == (None, date(2026, 9, 30))
    # OL-3 was invoiced (3/10) and paid (3/1) before it was booked (3/15): a prepayment is
    # possible, so these are warnings — and the payment before the booking is the one named
    assert [p for p in problems(job) if p[1] == 4] == [
        ("warning", 4, "invoiced_on", "2026-03-10",
         "invoiced before the order was booked (2026-03-15)"),
        ("warning", 4, "paid_on", "2026-03-01", "paid before the order was booked (2026-03-15)"),
    ]


def test_impossible_order_line_dates_are_errors_and_nothing_is_written(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    before = database_state()

    job = run_file("attain_bookings_bad_dates.csv", "attain-booking",
                   exported_at="2026-11-01T00:00:00+00:00")

    assert job.status == REJECTED
    assert [(row, column, value) for _, row, column, value, _ in errors(job)] == [
        (3, "cancelled_on", "2026-03-01"), (4, "paid_on", "2099-01-01"),
        (5, "invoiced_on", "not a date")]
    reasons = {row: reason for _, row, _, _, reason in errors(job)}
    assert reasons[3] == "cancelled before the order was booked (2026-03-15)"
    assert reasons[4] == ("paid on a day after the export (2026-11-01): a payment date cannot "
                          "be in the future")
    assert database_state() == before
    assert not Booking.objects.exists()


# --- opportunity splits -------------------------------------------------------------------------


def splits(external_id):
    rows = OpportunitySplit.objects.filter(opportunity__external_id=external_id)
    return sorted((s.person.external_id, s.kind, s.percent) for s in rows.select_related("person"))


def test_salesforce_opportunity_splits_import_and_a_resplit_replaces_them(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    job = run_file("sf_opportunity_splits.csv", "salesforce-opportunity-splits")

    assert job.status == SUCCEEDED, job.message
    assert job.counts["opportunity_split"] == {"created": 4}
    # revenue 60 + 40 = 100; the overlay is on top of it
    assert splits("006000000000001AAA") == [(ALICE, "revenue", Decimal("60.00")),
                                            (BOB, "revenue", Decimal("40.00")),
                                            (MIA, "overlay", Decimal("10.00"))]
    assert run_file("sf_opportunity_splits.csv", "salesforce-opportunity-splits").counts[
        "opportunity_split"] == {"unchanged": 4}

    resplit = run_file("sf_opportunity_splits_resplit.csv", "salesforce-opportunity-splits")

    # Alice 60 → 75 (updated), Mia 25 (created), overlay unchanged, Bob's 40 is gone (deleted)
    assert resplit.counts["opportunity_split"] == {"updated": 1, "created": 1, "unchanged": 1,
                                                   "deleted": 1}
    assert splits("006000000000001AAA") == [(ALICE, "revenue", Decimal("75.00")),
                                            (MIA, "overlay", Decimal("10.00")),
                                            (MIA, "revenue", Decimal("25.00"))]
    assert splits("006000000000002AAA") == [(ALICE, "revenue", Decimal("100.00"))]  # untouched


def test_revenue_splits_not_summing_to_100_are_errors_on_each_row(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    before = database_state()

    job = run_file("sf_opportunity_splits_bad.csv", "salesforce-opportunity-splits")

    assert job.status == REJECTED
    assert sorted(errors(job)) == [
        # 60 + 30 = 90
        ("error", 2, "SplitPercentage", "60.00", "the revenue splits of opportunity "
         "'006000000000001AAA' sum to 90 % (rows 2, 3); they must sum to 100 %"),
        ("error", 3, "SplitPercentage", "30.00", "the revenue splits of opportunity "
         "'006000000000001AAA' sum to 90 % (rows 2, 3); they must sum to 100 %"),
        ("error", 5, "SplitPercentage", "0",
         "a split percentage must be more than 0 and at most 100"),
        ("error", 6, "SplitType.DeveloperName", "1490M000000XyzQAE",
         "'1490M000000XyzQAE' is not one of overlay, revenue"),
    ]
    assert database_state() == before


def test_splits_of_an_unknown_opportunity_or_owner_are_refused(crm, tmp_path):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    bad = tmp_path / "splits.csv"
    bad.write_text("OpportunityId,SplitOwnerId,SplitPercentage\n"
                   "006000000000999AAA,005000000000001AAA,100\n"
                   "006000000000002AAA,005000000000999AAA,100\n")

    job = run_file("", "salesforce-opportunity-splits", path=bad)

    assert job.status == REJECTED
    assert [(row, column, value) for _, row, column, value, _ in errors(job)] == [
        (2, "OpportunityId", "006000000000999AAA"), (3, "SplitOwnerId", "005000000000999AAA")]
    assert not OpportunitySplit.objects.exists()


# --- quotas as effective-dated versions ---------------------------------------------------------


def quota(person, start):
    return Quota.objects.get(person=person, period__start=start, period__kind="quarter")


def test_quota_import_writes_versions_through_set_quota(crm):
    job = run_file("attain_quotas.csv", "attain-quota", actor=crm.ops)

    assert job.status == SUCCEEDED, job.message
    assert job.counts["quota"] == {"created": 3}
    q1 = quota(crm.people["alice"], date(2026, 1, 1))
    assert q1.amount == Decimal("150000.00")
    assert list(q1.versions.values_list("amount", "valid_from", "source")) == [
        (Decimal("150000.00"), date(2026, 1, 1), QuotaVersion.Source.IMPORT)]
    assert q1.versions.get().reason == f"import #{job.pk}: attain_quotas.csv"
    assert quota(crm.people["bob"], date(2026, 1, 1)).amount == Decimal("120000.00")
    assert AuditEvent.objects.filter(action="set_quota").count() == 3

    again = run_file("attain_quotas.csv", "attain-quota", actor=crm.ops)
    assert again.counts["quota"] == {"unchanged": 3}
    assert QuotaVersion.objects.count() == 3


def test_a_mid_quarter_change_adds_a_version_and_keeps_the_old_amount(crm):
    run_file("attain_quotas.csv", "attain-quota", actor=crm.ops)

    job = run_file("attain_quotas_midquarter.csv", "attain-quota", actor=crm.ops)

    assert job.status == SUCCEEDED, job.message
    assert job.counts["quota"] == {"unchanged": 1, "updated": 1}
    q1 = quota(crm.people["alice"], date(2026, 1, 1))
    assert quota_as_of(q1, date(2026, 2, 14)) == Decimal("150000.00")
    assert quota_as_of(q1, date(2026, 2, 15)) == Decimal("180000.00")
    assert q1.amount == Decimal("180000.00")  # in force on the quarter's last day
    assert q1.versions.count() == 2


def test_bad_quota_rows_are_refused_and_nothing_is_written(crm):
    before = database_state()

    job = run_file("attain_quotas_bad.csv", "attain-quota")

    assert job.status == REJECTED
    assert errors(job) == [
        ("error", 2, "currency", "EUR", "quotas are in the company currency USD, not EUR"),
        ("error", 3, "amount", "120000.005",
         "a quota is in whole cents; this amount has more than two decimals"),
        ("error", 4, "valid_from", "2026-07-01",
         "effective from a day outside the quarter [2026-04-01, 2026-07-01)"),
        ("error", 5, "person", "nobody@example.com",
         "unknown person 'nobody@example.com': no person has this id, email or name"),
    ]
    assert database_state() == before


# --- the first stage an opportunity's history proves --------------------------------------------


def chain(external_id):
    return [(c.from_stage.name if c.from_stage else None, c.to_stage.name, c.changed_at)
            for c in StageChange.objects.filter(opportunity__external_id=external_id)
            .select_related("from_stage", "to_stage").order_by("changed_at")]


def test_field_history_old_value_corrects_the_first_stage(crm):
    # The opportunity export shows 'Acme expansion' in Proposal, created 2026-02-01 10:00: the
    # import records its first stage as Proposal, the only stage it knows.
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    created = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    assert chain("006000000000002AAA") == [(None, "Proposal", created)]

    job = run_file("sf_opportunity_field_history_first_stage.csv",
                   "salesforce-opportunity-history")

    # Field history: Prospecting → Discovery (2/8), Discovery → Proposal (2/20); the Amount row is
    # skipped. The first change left Prospecting, so the deal was created in Prospecting.
    assert job.status == SUCCEEDED, job.message
    assert job.counts["stage_change"] == {"created": 2}
    assert chain("006000000000002AAA") == [
        (None, "Prospecting", created),
        ("Prospecting", "Discovery", datetime(2026, 2, 8, 9, 0, tzinfo=UTC)),
        ("Discovery", "Proposal", datetime(2026, 2, 20, 11, 0, tzinfo=UTC))]
    again = run_file("sf_opportunity_field_history_first_stage.csv",
                     "salesforce-opportunity-history")
    assert again.counts["stage_change"] == {"unchanged": 2}
    assert len(chain("006000000000002AAA")) == 3


def test_opportunity_history_row_seconds_after_creation_is_the_creation(crm):
    # 'Globex new' was exported in Discovery, created 2026-02-10 08:00:00; OpportunityHistory
    # wrote its creation row 2 seconds later in Qualification, then Discovery on 2/12.
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    job = run_file("sf_opportunity_history_creation_later.csv", "salesforce-opportunity-history")

    assert job.status == SUCCEEDED, job.message
    assert job.counts["stage_change"] == {"updated": 1, "created": 1}
    assert chain("006000000000003AAA") == [
        (None, "Qualification", datetime(2026, 2, 10, 8, 0, 2, tzinfo=UTC)),
        ("Qualification", "Discovery", datetime(2026, 2, 12, 10, 0, tzinfo=UTC))]
    again = run_file("sf_opportunity_history_creation_later.csv",
                     "salesforce-opportunity-history")
    assert again.counts["stage_change"] == {"unchanged": 2}


def test_field_history_with_an_unknown_stage_is_refused(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    before = database_state()

    job = run_file("sf_opportunity_field_history_unknown_stage.csv",
                   "salesforce-opportunity-history")

    assert job.status == REJECTED
    assert [(row, column, value) for _, row, column, value, _ in errors(job)] == [
        (3, "NewValue", "Contracting")]
    assert errors(job)[0][4].startswith("unknown stage 'Contracting'; known stages: Prospecting")
    assert database_state() == before


# --- targets written in dependency order ---------------------------------------------------------


def test_a_mapping_listing_order_lines_before_their_orders_still_imports(crm, tmp_path):
    # One file, two targets given in the "wrong" order: order lines (which reference the order)
    # before the orders. The import writes the orders first, as the dry run expects.
    from attain.ingest import loading
    from attain.ingest.mappings import from_definition
    from attain.ingest.reading import open_table

    path = tmp_path / "orders.csv"
    path.write_text("Order,Line,Amount,Day\nSO-1,L-1,100.00,2026-03-02\n"
                    "SO-1,L-2,50.00,2026-03-02\nSO-2,L-3,70.00,2026-03-03\n")
    mapping = from_definition("orders", {"targets": [
        {"entity": "booking", "columns": {"external_id": ["Line"], "opportunity": ["Order"],
                                          "amount": ["Amount"], "booked_on": ["Day"]}},
        {"entity": "opportunity", "repeat": "sum", "sum": ["amount"], "columns": {
            "external_id": ["Order"], "name": ["Order"], "amount": ["Amount"],
            "close_date": ["Day"]}, "constants": {"stage": "Closed Won"}},
    ], "currency": "USD"})
    exported = datetime(2026, 3, 4, tzinfo=UTC)
    dry = loading.Context(mapping, problems=loading.ProblemLog(), exported_at=exported)
    assert loading.validate(open_table(path), mapping, dry).errors == 0

    ctx = loading.Context(mapping, problems=loading.ProblemLog(), exported_at=exported,
                          writing=True)
    written = loading.write(open_table(path), mapping, ctx)

    assert written.counts["opportunity"] == {"created": 2}
    assert written.counts["booking"] == {"created": 3}
    # SO-1 = 100.00 + 50.00 = 150.00, its two lines point at it
    assert Opportunity.objects.get(external_id="SO-1").amount == Decimal("150.00")
    assert sorted(Booking.objects.filter(opportunity__external_id="SO-1")
                  .values_list("external_id", flat=True)) == ["L-1", "L-2"]


def test_a_rejected_import_reports_exactly_what_its_dry_run_reports(crm, tmp_path):
    # Row 2's order has an impossible close date. Writing stops there, so order SO-2 is never
    # written — its order line (row 3) must still not be reported as naming an unknown order.
    from attain.ingest import loading
    from attain.ingest.mappings import from_definition
    from attain.ingest.reading import open_table

    path = tmp_path / "orders.csv"
    path.write_text("Order,Line,Amount,Day,Close\nSO-1,L-1,100.00,2026-03-02,2026-02-30\n"
                    "SO-2,L-2,70.00,2026-03-03,2026-03-31\n")
    mapping = from_definition("orders", {"targets": [
        {"entity": "opportunity", "columns": {
            "external_id": ["Order"], "name": ["Order"], "amount": ["Amount"],
            "close_date": ["Close"]}, "constants": {"stage": "Closed Won"}},
        {"entity": "booking", "columns": {"external_id": ["Line"], "opportunity": ["Order"],
                                          "amount": ["Amount"], "booked_on": ["Day"]}},
    ], "currency": "USD"})
    exported = datetime(2026, 4, 1, tzinfo=UTC)
    dry = loading.Context(mapping, problems=loading.ProblemLog(), exported_at=exported)
    loading.validate(open_table(path), mapping, dry)
    ctx = loading.Context(mapping, problems=loading.ProblemLog(), exported_at=exported,
                          writing=True)

    with pytest.raises(loading.Rejected):
        loading.write(open_table(path), mapping, ctx)

    def listed(log):
        return sorted((p.row, p.column, p.value, p.reason) for p in log.preview)

    assert listed(ctx.problems) == listed(dry.problems) == [
        (2, "Close", "2026-02-30", "'2026-02-30' is not a calendar date"),
        (2, "Order", "SO-1", "unknown opportunity 'SO-1': no opportunity has this id")]
