"""The accrual report (/comp/accrual/): earned, paid (exported to payroll by the as-of day) and
accrued per period, person and currency, with totals, CSV/XLSX export and drill-down to the
statement; finance and ops only."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from attain.compensation import actions
from attain.compensation import queries as cq
from attain.compensation.models import PayrollExport
from tests.compensation.plans import org
from tests.compensation.stored import quarter, stored_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def accrued():
    """Q1 2026 run: Ann earned 800.00, Bob 400.00; approved and exported to payroll on
    2026-04-05. Q2 2026 run: Ann earned 300.00, not approved."""
    people = org()
    q1, q2 = quarter(), quarter(date(2026, 4, 1))
    run1 = stored_run(q1, {people["ann"].pk: "800.00", people["bob"].pk: "400.00"})
    run2 = stored_run(q2, {people["ann"].pk: "300.00"})
    actions.submit_run(people["ops"].user, run1.pk)
    actions.decide_run(people["fin"].user, run1.pk, approve=True)
    export, _ = actions.export_payroll(people["fin"].user, run1.pk)
    PayrollExport.objects.filter(pk=export.pk).update(exported_at=datetime(
        2026, 4, 5, 12, 0, tzinfo=timezone.get_current_timezone()))
    return people, q1, q2, run1, run2


def _figures(rows):
    return {(r.run.period.label, r.person.name): (r.earned, r.paid, r.accrued) for r in rows}


def test_before_the_export_everything_earned_is_accrued(accrued):
    """As of 2026-04-04 nothing was exported: Q1 Ann 800.00 and Bob 400.00 and Q2 Ann 300.00
    are all accrued; totals 800 + 400 + 300 = 1,500.00 earned, 0.00 paid, 1,500.00 accrued."""
    people, q1, q2, _, _ = accrued
    rows = cq.accrual_rows(people["fin"].user, date(2026, 4, 4))
    assert _figures(rows) == {
        (q1.label, "ann"): (Decimal("800.00"), Decimal("0.00"), Decimal("800.00")),
        (q1.label, "bob"): (Decimal("400.00"), Decimal("0.00"), Decimal("400.00")),
        (q2.label, "ann"): (Decimal("300.00"), Decimal("0.00"), Decimal("300.00")),
    }
    [total] = cq.accrual_totals(rows)
    assert (total["currency"], total["earned_total"], total["paid_total"],
            total["accrued_total"]) == ("USD", Decimal("1500.00"), Decimal("0.00"),
                                        Decimal("1500.00"))


def test_from_the_export_day_the_exported_period_is_paid(accrued):
    """As of 2026-04-05 Q1 was exported: paid 800.00 + 400.00 = 1,200.00, accrued only Q2's
    300.00; per period Q1 accrued 0.00, Q2 300.00."""
    people, q1, q2, _, _ = accrued
    rows = cq.accrual_rows(people["ops"].user, date(2026, 4, 5))
    assert _figures(rows)[(q1.label, "ann")] == (Decimal("800.00"), Decimal("800.00"),
                                                 Decimal("0.00"))
    [total] = cq.accrual_totals(rows)
    assert (total["earned_total"], total["paid_total"], total["accrued_total"]) == (
        Decimal("1500.00"), Decimal("1200.00"), Decimal("300.00"))
    by_period = {p["run__period__label"]: p["accrued_total"] for p in cq.accrual_by_period(rows)}
    assert by_period == {q1.label: Decimal("0.00"), q2.label: Decimal("300.00")}


def test_periods_not_started_by_the_day_are_left_out(accrued):
    """As of 2026-03-31 Q2 (from 2026-04-01) has not started: 800 + 400 = 1,200.00 accrued."""
    people, q1, _, _, _ = accrued
    rows = cq.accrual_rows(people["fin"].user, date(2026, 3, 31))
    assert {key[0] for key in _figures(rows)} == {q1.label}
    assert cq.accrual_totals(rows)[0]["accrued_total"] == Decimal("1200.00")


def test_the_page_shows_totals_and_drills_down_to_statements(accrued, client):
    people, _q1, _, run1, _ = accrued
    client.force_login(people["fin"].user)
    page = client.get(reverse("comp-accrual"), {"as_of": "2026-04-05"})
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="accrual-total-USD"><strong>300.00 USD' in body
    assert reverse("comp-statement", args=[run1.pk, people["bob"].pk]) in body
    bad = client.get(reverse("comp-accrual"), {"as_of": "soon"})
    assert "as_of: “soon” is not a date" in bad.content.decode()


def test_csv_and_xlsx_exports_carry_exact_figures_and_neutralise_formulas(accrued, client):
    people, q1, _, run1, _ = accrued
    people["bob"].name = "=HYPERLINK(1)"
    people["bob"].save()
    client.force_login(people["ops"].user)
    csv = client.get(reverse("comp-accrual"), {"as_of": "2026-04-05", "format": "csv"})
    lines = csv.content.decode().splitlines()
    assert lines[0] == ("period,period_start,period_end,run,person,employee_id,currency,earned,"
                        "paid,accrued,exported_on")
    assert (f"{q1.label},2026-01-01,2026-04-01,{run1.pk},'=HYPERLINK(1),"
            f"{people['bob'].external_id},USD,400.00,400.00,0.00,2026-04-05") in lines
    xlsx = client.get(reverse("comp-accrual"), {"as_of": "2026-04-04", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][7:10] == ["earned", "paid", "accrued"]
    assert sum(Decimal(str(row[9])) for row in values[1:]) == Decimal("1500.00")
    assert "'=HYPERLINK(1)" in [row[4] for row in values[1:]]


def test_reps_and_managers_are_refused(accrued, client):
    people = accrued[0]
    for name in ("ann", "mgr"):
        client.force_login(people[name].user)
        assert client.get(reverse("comp-accrual")).status_code == 403
        assert client.get("/api/v1/comp/accrual").status_code == 403


def test_the_api_lists_accruals_for_finance(accrued, client):
    people, q1, _, _, _ = accrued
    client.force_login(people["fin"].user)
    items = client.get("/api/v1/comp/accrual", {"as_of": "2026-04-04"}).json()["items"]
    assert sorted((i["period"], i["person"], i["accrued"]) for i in items) == sorted([
        (q1.label, "ann", "800.00"), (q1.label, "bob", "400.00"),
        (quarter(date(2026, 4, 1)).label, "ann", "300.00")])
