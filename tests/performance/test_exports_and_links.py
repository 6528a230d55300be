"""Every table of the performance and pipeline pages exports CSV and XLSX with the page's
filters, and the figures behind "pipeline created" drill down to deals created in the period.

Figures by hand in `tests/performance/org.py` (ann 50.0 %, bob 125.0 %, cat 44.0 % this
quarter; the East team's quarter quota 5,000.00) and `tests/pipeline/org.py`."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from urllib.parse import urljoin

import pytest
from openpyxl import load_workbook

from attain.pipeline.engine_io import run_pipeline_analytics
from tests.performance.org import build_performance_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(db):
    return build_performance_org()


@pytest.fixture
def client_for(client):
    def sign_in(person):
        client.force_login(person.user)
        return client

    return sign_in


def workbook_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(book.active.iter_rows(values_only=True))


def export_links(html):
    csv_links = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*format=csv[^"]*)"',
                                                            html)]
    xlsx_links = [h.replace("&amp;", "&") for h in re.findall(
        r'href="([^"]*format=xlsx[^"]*)"', html)]
    return csv_links, xlsx_links


@pytest.mark.parametrize("page", [
    "/performance/?period={q}", "/performance/compare/?period={q}",
    "/performance/compare/?period={q}&by=team", "/performance/leaderboard/?period={q}",
    "/performance/quotas/?period={q}", "/performance/bookings/?period={q}",
    "/pipeline/", "/pipeline/bottlenecks/",
])
def test_every_csv_link_has_an_xlsx_twin_that_downloads(client_for, org, page):
    run = run_pipeline_analytics(backend="duckdb")
    assert run.status == "succeeded", run.error
    client = client_for(org["olga"])
    url = page.format(q=org.quarter.pk)
    html = client.get(url).content.decode()
    csv_links, xlsx_links = (
        [urljoin(url, link) for link in links] for links in export_links(html))
    assert csv_links, page
    assert [link.replace("format=csv", "format=xlsx") for link in csv_links] == xlsx_links
    for link in csv_links:
        assert client.get(link)["Content-Type"].startswith("text/csv"), link
    for link in xlsx_links:
        assert workbook_rows(client.get(link))[0], link  # a header row at least


def test_attainment_xlsx_keeps_the_band_filter_and_exact_numbers(client_for, org):
    rows = workbook_rows(client_for(org["olga"]).get(
        f"/performance/?period={org.quarter.pk}&min=100&format=xlsx"))
    header, *body = rows
    assert [dict(zip(header, r, strict=True))["name"] for r in body] == ["bob"]
    bob = dict(zip(header, body[0], strict=True))
    # 2,500.00 / 2,000.00 = 125.0 %, written as numbers, not text
    assert (bob["bookings"], bob["quota"], bob["attainment_pct"]) == (
        Decimal("2500.00"), Decimal("2000.00"), Decimal("125.0"))


def test_manager_rollups_export(client_for, org):
    response = client_for(org["olga"]).get(
        f"/performance/?period={org.quarter.pk}&table=rollups&format=csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("manager_id,manager,team,quota,")
    managers = {line.split(",")[1] for line in lines[1:]}
    assert {"mia", "max"} <= managers


def test_pipeline_created_drills_down_to_deals_created_in_the_period(client_for, org):
    page = client_for(org["mia"]).get(f"/performance/compare/?period={org.quarter.pk}")
    bob = next(r for r in page.context["rows"] if r["item"].row.person_id == org["bob"].pk)
    created = bob["links"]["created"]
    assert f"created_from={org.quarter.start.isoformat()}" in created
    assert f"created_to={org.quarter.end.isoformat()}" in created
    assert f"owner={org['bob'].pk}" in created
