"""The public 'Sample - Superstore' order lines import with zero errors, and the stored figures
equal those SOURCE.md publishes (computed independently of our code)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from attain.crm.models import Account, Booking, Opportunity, Product, StageChange
from attain.ingest.models import ImportJob
from tests.conftest import require, shared_dataset
from tests.ingest.conftest import database_state, run_file

SUPERSTORE = shared_dataset("superstore", "Sample - Superstore.csv")


@pytest.fixture
def superstore(crm):
    require(SUPERSTORE.exists(), f"the Superstore sample is missing at {SUPERSTORE}")
    return SUPERSTORE


def exact_total(rows) -> Decimal:
    return sum((amount for amount in rows.values_list("source_amount", flat=True)), Decimal(0))


def test_superstore_imports_with_zero_errors_and_its_published_figures(superstore):
    job = run_file("", "superstore", path=superstore)

    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.error_count == 0
    assert job.rows == 9994
    # SOURCE.md: 9,994 order lines, 5,009 orders, 793 customers, total sales 2,297,200.8603
    assert Booking.objects.count() == 9994
    assert Opportunity.objects.filter(is_won=True).count() == 5009
    assert Account.objects.filter(customer_type__in=["Consumer", "Corporate", "Home Office"]
                                  ).count() == 793
    assert exact_total(Booking.objects.all()) == Decimal("2297200.8603")
    # by order year and by region, as SOURCE.md lists them
    assert exact_total(Booking.objects.filter(booked_on__year=2019)) == Decimal("733215.2552")
    assert exact_total(Booking.objects.filter(opportunity__region="West")) == Decimal(
        "725457.8245")
    # every order is one won opportunity whose amount is its lines' sum, rounded once
    order = Opportunity.objects.get(external_id="CA-2018-152156")  # lines 261.96 + 731.94
    assert order.amount == Decimal("993.90") and order.stage.name == "Closed Won"
    assert StageChange.objects.count() == 5009
    # Superstore reuses a few product ids for two names: kept as warnings, never errors
    assert job.counts["product"] == {"created": 1862}
    assert Product.objects.filter(family__in=["Furniture", "Office Supplies", "Technology"]
                                  ).count() == 1862
    assert job.warning_count > 0
    assert all(p["severity"] == "warning" for p in job.problems)


def test_superstore_imported_twice_changes_nothing(superstore):
    run_file("", "superstore", path=superstore)
    before = database_state()

    again = run_file("", "superstore", path=superstore)

    assert again.counts == {"account": {"unchanged": 793}, "product": {"unchanged": 1862},
                            "opportunity": {"unchanged": 5009},
                            "booking": {"unchanged": 9994}}
    assert database_state() == before
