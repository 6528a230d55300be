from datetime import date
from decimal import Decimal

from django.test import RequestFactory

from attain.web.exports import csv_cell, csv_response, csv_url


def test_cells_that_a_spreadsheet_would_run_get_a_quote():
    assert [csv_cell(v) for v in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "plain"]] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "plain"]


def test_numbers_dates_and_empty_cells_stay_exact():
    assert csv_cell(Decimal("-1200.50")) == "-1200.50"
    assert csv_cell(date(2026, 11, 23)) == "2026-11-23"
    assert csv_cell(None) == ""


def test_csv_response_writes_header_and_rows():
    response = csv_response("x.csv", ["name", "amount"], [["=cmd", Decimal("1.00")]])
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response.content.decode().splitlines() == ["name,amount", "'=cmd,1.00"]


def test_csv_url_keeps_the_filters_and_drops_the_page():
    request = RequestFactory().get("/opportunities/", {"stage": "Proposal", "page": "3"})
    assert csv_url(request) == "/opportunities/?stage=Proposal&format=csv"
