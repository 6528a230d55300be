"""Independent check on real data: the public 'Sample - Superstore' order lines, imported through
the app's own import path (the built-in "superstore" mapping, as a user would), then a
performance run; the bookings the pages and the API show by year, by region and by category
equal the figures SOURCE.md publishes (sums of `Sales` computed independently of our code).

SOURCE.md gives exact 4-decimal sums; the app shows money in cents, each figure the exact sum of
the imported amounts rounded once, half to even (e.g. 2019: 733,215.2552 -> 733,215.26). The
reference figures are read from SOURCE.md itself, so the test checks the published numbers.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from attain.core.models import Period
from attain.people.actions import issue_api_token
from attain.performance.actions import run_performance_analytics
from tests.conftest import require, shared_dataset
from tests.ingest.conftest import build_crm, run_file

SUPERSTORE = shared_dataset("superstore", "Sample - Superstore.csv")
SOURCE_MD = shared_dataset("superstore", "SOURCE.md")
CENT = Decimal("0.01")

pytestmark = pytest.mark.django_db


def published(label: str) -> dict[str, Decimal]:
    """{name: exact sum} from the SOURCE.md line starting with `- By <label>:`."""
    text = SOURCE_MD.read_text(encoding="utf-8")
    line = next(li for li in text.splitlines() if li.startswith(f"- By {label}:"))
    return {name: Decimal(amount.replace(",", "")) for name, amount in
            re.findall(r"([A-Z][A-Za-z ]*?|\d{4}) ([\d,]+\.\d{4})", line.split(":", 1)[1])}


def cents(exact: Decimal) -> Decimal:
    return exact.quantize(CENT, ROUND_HALF_EVEN)


@pytest.fixture(scope="module")
def reference():
    require(SUPERSTORE.exists() and SOURCE_MD.exists(),
            f"the Superstore sample is missing at {SUPERSTORE}")
    years, regions = published("order year"), published("region")
    categories = published("category")
    # what SOURCE.md says (guards the parsing): four years, four regions, three categories
    assert years["2019"] == Decimal("733215.2552") and len(years) == 4
    assert regions["West"] == Decimal("725457.8245") and len(regions) == 4
    assert categories["Office Supplies"] == Decimal("719047.0320") and len(categories) == 3
    return years, regions, categories


@pytest.fixture
def imported(reference):
    crm = build_crm()
    job = run_file("", "superstore", path=SUPERSTORE)
    assert job.status == "succeeded", job.message
    run = run_performance_analytics(None, "duckdb", as_of=date(2019, 12, 31))
    assert run.status == "succeeded", run.error
    return crm, run


def test_pages_show_the_published_totals_by_year_region_and_category(client, imported,
                                                                     reference):
    crm, _ = imported
    years, regions, categories = reference
    client.force_login(crm.ops)
    for dimension, expected in (("region", regions), ("category", categories)):
        page = client.get("/performance/bookings/", {"dimension": dimension})
        assert page.status_code == 200
        matrix = {line["label"]: line for line in page.context["matrix"]}
        # all years: each region's / category's total, and the grand total
        every = matrix["All years"]
        shown = {v: c["row"].amount for v, c in zip(page.context["values"], every["cells"],
                                                     strict=True)}
        assert shown == {name: cents(amount) for name, amount in expected.items()}
        # 2,297,200.8603 -> 2,297,200.86
        assert every["total"].amount == Decimal("2297200.86")
        assert every["total"].booking_count == 9994
        # each calendar (= fiscal, January start) year's total
        assert {label.removeprefix("FY"): line["total"].amount for label, line in matrix.items()
                if label != "All years"} == {y: cents(a) for y, a in years.items()}


def test_a_year_page_its_export_and_the_api_agree(client, imported, reference):
    crm, _ = imported
    years, _, _ = reference
    client.force_login(crm.ops)
    fy2019 = Period.objects.get(kind="year", start=date(2019, 1, 1))
    page = client.get("/performance/bookings/", {"dimension": "region", "period": fy2019.pk})
    assert page.context["total"].amount == cents(years["2019"])  # 733,215.26
    assert sum(r.amount for r, _ in page.context["rows"]) in (
        cents(years["2019"]) + d for d in (CENT * -2, -CENT, 0, CENT, CENT * 2))
    export = client.get("/performance/bookings/", {"dimension": "region",
                                                   "period": fy2019.pk, "format": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    assert export.content.decode().splitlines()[0] == (
        "period,region,amount,order_lines,share_pct,currency")
    token = issue_api_token(None, crm.ops, "test")
    api = client.get("/api/v1/performance/bookings-breakdown",
                     {"period_id": fy2019.pk, "dimension": "region"},
                     headers={"Authorization": f"Bearer {token}"}).json()
    assert [(r["value"], r["amount"]) for r in api["items"]] == [
        (r.value, str(r.amount)) for r, _ in page.context["rows"]]


def test_a_region_figure_drills_down_to_its_order_lines(client, imported, reference):
    crm, _ = imported
    _, regions, _ = reference
    client.force_login(crm.ops)
    page = client.get("/performance/bookings/", {"dimension": "region"})
    every = next(line for line in page.context["matrix"] if line["label"] == "All years")
    west = every["cells"][page.context["values"].index("West")]
    lines = client.get(west["link"])
    assert lines.status_code == 200
    # the list's totals are of the stored cents per line; the count is the same order lines
    assert lines.context["page"].paginator.count == west["row"].booking_count
    assert west["row"].amount == cents(regions["West"])


def test_the_breakdown_is_not_for_reps(client, imported):
    crm, _ = imported
    client.force_login(crm.rep)
    assert client.get("/performance/bookings/").status_code == 403
