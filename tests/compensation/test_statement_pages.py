"""A statement with more lines than a page shows (a top manager's roll-up has tens of
thousands): a page of each table, totals and exports over every line."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from attain.compensation.models import EarningLine, PayoutLine
from attain.web.compensation_views import STATEMENT_PAGE_SIZE
from tests.compensation.plans import org
from tests.compensation.stored import quarter, stored_run

pytestmark = pytest.mark.django_db


def test_a_long_statement_shows_a_page_of_lines_and_totals_of_all(client):
    """Ann has 1 line from the stored run plus 2 pages' worth more: 250 lines of 1.00 and
    one of 800.00 → earned 1,050.00 over 251 lines; the first page shows 200 of them."""
    people = org()
    period = quarter()
    ann = people["ann"]
    run = stored_run(period, {ann.pk: "800.00"})
    extra = STATEMENT_PAGE_SIZE + 50
    EarningLine.objects.bulk_create([
        EarningLine(run=run, person=ann, line_key=f"spiff|{i}", period_start=period.start,
                    period_end=period.end, component="SPIFF", line_kind="spiff",
                    booking_id=10_000 + i, amount=Decimal("1.00"), currency="USD",
                    trace=[f"SPIFF on order line {10_000 + i}."]) for i in range(extra)])
    PayoutLine.objects.bulk_create([
        PayoutLine(run=run, person=ann, line_key=f"payable|spiff|{i}",
                   period_start=period.start, period_end=period.end, kind="payable",
                   component="SPIFF", booking_id=10_000 + i, amount=Decimal("1.00"),
                   currency="USD", trace=["Paid now."]) for i in range(extra)])
    client.force_login(ann.user)
    url = f"/comp/statements/{run.pk}/{ann.pk}/"

    body = client.get(url).content.decode()
    assert body.count("<tr data-line=") == STATEMENT_PAGE_SIZE
    assert f"Page 1 of 2 · {extra + 1} rows" in body  # both tables: 251 lines each
    assert "lines_page=2" in body and "paid_page=2" in body
    assert 'data-testid="lines-total">1,050.00 USD' in body  # every payout line
    assert 'Earned</th><th class="num">1,050.00 USD' in body  # every earning line

    second = client.get(url, {"lines_page": 2}).content.decode()
    assert second.count("<tr data-line=") == extra + 1 - STATEMENT_PAGE_SIZE

    exported = client.get(url, {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert sum(1 for row in rows if row["section"] == "earned") == extra + 1
    assert sum(1 for row in rows if row["section"] == "paid") == extra + 1


def test_a_large_run_shows_a_page_of_payouts_a_search_and_exports_them_all(client):
    """101 payouts of 1.00 to 101.00 (person n is paid n): the run page shows 100 of them
    (names in order), the chart the largest (101.00 first); sorted by payout, the first page
    starts at 101.00 and the second holds 1.00 (the whole run is sorted, not the page); a search
    finds one person, and the CSV lists all 101."""
    from attain.people.models import Person
    from attain.web.compensation_views import RUN_PAGE_SIZE

    people = org()
    period = quarter()
    count = RUN_PAGE_SIZE + 1
    paid = Person.objects.bulk_create([Person(external_id=f"PAY{n:03}", name=f"Payee {n:03}")
                                       for n in range(1, count + 1)])
    run = stored_run(period, {person.pk: f"{n}.00" for n, person in enumerate(paid, start=1)})
    client.force_login(people["ops"].user)
    url = f"/comp/runs/{run.pk}/"

    body = client.get(url).content.decode()
    table = body.split('data-testid="payouts-table"')[1].split("</table>")[0]
    assert table.count("Payee ") == RUN_PAGE_SIZE
    assert "Payee 001" in table and "Payee 101" not in table  # by name, first page
    assert f"Page 1 of 2 · {count} rows" in body
    chart = body.split('id="run-payouts-chart"')[1]
    assert chart.index("Payee 101") < chart.index("Payee 100")  # largest first

    largest = client.get(url, {"sort": "-payout"}).content.decode()
    table = largest.split('data-testid="payouts-table"')[1].split("</table>")[0]
    assert table.index("Payee 101") < table.index("Payee 100") < table.index("Payee 002")
    assert "Payee 001" not in table  # the smallest is on page 2 of the whole run's order
    assert 'href="?sort=-payout&amp;page=2' in largest or 'href="?page=2&amp;sort=-payout' in (
        largest)
    rest = client.get(url, {"sort": "-payout", "page": 2}).content.decode()
    table = rest.split('data-testid="payouts-table"')[1].split("</table>")[0]
    assert table.count("Payee ") == 1 and "Payee 001" in table
    smallest = client.get(url, {"sort": "payout"}).content.decode()
    table = smallest.split('data-testid="payouts-table"')[1].split("</table>")[0]
    assert table.index("Payee 001") < table.index("Payee 002") and "Payee 101" not in table
    unknown = client.get(url, {"sort": "person__user__password"}).content.decode()
    assert "Payee 001" in unknown.split('data-testid="payouts-table"')[1].split("</table>")[0]

    found = client.get(url, {"q": "payee 042"}).content.decode()
    table = found.split('data-testid="payouts-table"')[1].split("</table>")[0]
    assert table.count("Payee ") == 1 and "Payee 042" in table

    exported = client.get(url, {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert len(rows) == count
    assert sum(Decimal(row["payout"]) for row in rows) == sum(Decimal(n) for n in range(1, 102))
