"""XLSX and CSV exports: formulas neutralised in both formats, numbers kept as numbers (Decimal
exact, negatives included), the page's filters applied, and an XLSX link beside every CSV one."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import RequestFactory
from openpyxl import load_workbook

from attain.web.exports import (
    as_format,
    csv_cell,
    export_response,
    xlsx_response,
    xlsx_url,
    xlsx_value,
)

HOSTILE = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://x\")"]


def _workbook(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def _sheet_xml(response) -> str:
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_text_that_a_spreadsheet_would_run_gets_a_quote():
    assert [xlsx_value(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert xlsx_value("plain - text") == "plain - text"


def test_xlsx_cells_are_text_never_formulas():
    response = xlsx_response("x.xlsx", ["name"], [[v] for v in HOSTILE])
    sheet = _workbook(response).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    # (XML reads a carriage return back as a line feed)
    assert [c.value for c in cells] == ["'" + v.replace("\r", "\n") for v in HOSTILE]
    assert {c.data_type for c in cells} == {"s"}  # text, no "f" (formula) cell


def test_xlsx_numbers_stay_numbers_negative_and_exact():
    rows = [[Decimal("-1200.50"), -3, Decimal("0.10"), Decimal("1234567890123.45")]]
    response = xlsx_response("x.xlsx", ["a", "b", "c", "d"], rows)
    xml = _sheet_xml(response)
    # the stored digits are the Decimal's own, not a float's
    assert "<v>-1200.50</v>" in xml and "<v>1234567890123.45</v>" in xml
    response = xlsx_response("x.xlsx", ["a", "b", "c", "d"], rows)
    cells = next(_workbook(response).active.iter_rows(min_row=2))
    assert [c.data_type for c in cells] == ["n", "n", "n", "n"]
    assert cells[0].value == -1200.5 and cells[1].value == -3
    assert cells[0].number_format == "#,##0.00"


def test_xlsx_dates_are_dates_and_instants_are_local_and_naive():
    instant = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    response = xlsx_response("x.xlsx", ["day", "at", "flag", "none"],
                             [[date(2026, 3, 15), instant, True, None]])
    cells = next(_workbook(response).active.iter_rows(min_row=2))
    assert cells[0].value.isoformat() == "2026-03-15T00:00:00"  # read back as a datetime
    assert cells[0].number_format == "yyyy-mm-dd"
    assert cells[1].value.isoformat() == "2026-11-23T09:30:00"  # naive, TIME_ZONE is UTC
    assert cells[2].value is True and cells[3].value is None


def test_csv_keeps_negative_numbers_and_neutralises_negative_looking_text():
    assert csv_cell(Decimal("-5.00")) == "-5.00" and csv_cell(-3) == "-3"
    assert csv_cell("-5.00") == "'-5.00"  # text that looks like a formula start
    assert csv_cell("\rx") == "'\rx"


def test_export_response_follows_the_format_parameter():
    factory = RequestFactory()
    csv = export_response(factory.get("/x/", {"format": "csv"}), "deals", ["a"], [[1]])
    assert csv["Content-Disposition"] == 'attachment; filename="deals.csv"'
    xlsx = export_response(factory.get("/x/", {"format": "xlsx"}), "deals", ["a"], [[1]])
    assert xlsx["Content-Disposition"] == 'attachment; filename="deals.xlsx"'
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_export_urls_keep_the_filters():
    request = RequestFactory().get("/opportunities/", {"stage": "Proposal", "page": "3"})
    assert xlsx_url(request) == "/opportunities/?stage=Proposal&format=xlsx"
    assert as_format("/a/?x=1&format=csv&y=2", "xlsx") == "/a/?x=1&format=xlsx&y=2"
    assert as_format("/a/?format=csv", "xlsx") == "/a/?format=xlsx"


@pytest.mark.django_db
def test_opportunity_list_exports_xlsx_with_the_filters_applied(client_for, org):
    client = client_for(org["olga"])
    response = client.get("/opportunities/?stage=Proposal&format=xlsx")
    assert response["Content-Disposition"] == 'attachment; filename="opportunities.xlsx"'
    rows = list(_workbook(response).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "external_id", "name")
    names = sorted(r[2] for r in rows[1:])
    assert names == ["Beta expansion", "Bob deal", "Cat deal"]  # the three Proposal deals
    amounts = sorted(r[6] for r in rows[1:])
    assert amounts == [800, 900, 5000]


@pytest.mark.django_db
def test_a_hostile_deal_name_is_neutralised_in_both_formats(client_for, org):
    from attain.crm.models import Opportunity

    Opportunity.objects.filter(pk=org.opportunities["ann_open"].pk).update(
        name="=HYPERLINK(\"http://evil\",\"x\")")
    client = client_for(org["ann"])
    csv = client.get("/opportunities/?q=HYPERLINK&format=csv").content.decode()
    assert "'=HYPERLINK" in csv
    rows = list(_workbook(client.get("/opportunities/?q=HYPERLINK&format=xlsx")).active
                .iter_rows(values_only=True))
    assert rows[1][2] == "'=HYPERLINK(\"http://evil\",\"x\")"


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "url"), [
    ("olga", "/opportunities/"), ("olga", "/bookings/"),
    ("mia", "/"), ("olga", "/"), ("ann", "person"), ("ann", "opportunity"),
])
def test_every_csv_export_link_has_an_xlsx_twin(client_for, org, who, url):
    if url == "person":
        url = f"/people/{org['ann'].pk}/"
    if url == "opportunity":
        url = f"/opportunities/{org.opportunities['ann_won'].pk}/"
    html = client_for(org[who]).get(url).content.decode()
    csv_links = re.findall(r'href="([^"]*format=csv[^"]*)"', html)
    xlsx_links = re.findall(r'href="([^"]*format=xlsx[^"]*)"', html)
    assert csv_links
    assert [link.replace("format=csv", "format=xlsx") for link in csv_links] == xlsx_links


@pytest.mark.django_db
def test_every_xlsx_link_downloads_a_workbook(client_for, org):
    client = client_for(org["ann"])
    for url in (f"/people/{org['ann'].pk}/?format=xlsx", "/bookings/?format=xlsx",
                f"/opportunities/{org.opportunities['ann_won'].pk}/?format=xlsx"):
        response = client.get(url)
        assert response.status_code == 200, url
        rows = list(_workbook(response).active.iter_rows(values_only=True))
        assert rows[0][0] == "booked_on"
    rows = list(_workbook(client.get(f"/opportunities/{org.opportunities['ann_won'].pk}/"
                                     "?format=xlsx")).active.iter_rows(values_only=True))
    assert sorted(r[6] for r in rows[1:]) == [300.5, 1200]  # ann's two lines of the won deal
