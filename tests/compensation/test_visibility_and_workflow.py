"""Who sees which pay, and the dispute → decision → approval → payroll workflow, on a stored run
(pages and actions; the engine is not involved)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from attain.compensation import actions
from attain.compensation.actions import CompensationError
from attain.compensation.models import Dispute, ManualLine, PayrollExport
from attain.core.models import AuditEvent
from tests.compensation.plans import org
from tests.compensation.stored import quarter, stored_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    people = org()
    period = quarter()
    # Ann 800.00, Bob 1,200.00, Cid 400.00 (another manager's team)
    run = stored_run(period, {people["ann"].pk: "800.00", people["bob"].pk: "1200.00",
                              people["cid"].pk: "400.00"})
    return people, period, run


def login(client, person):
    client.force_login(person.user)
    return client


def test_a_rep_reads_their_own_statement(client, world):
    people, _, run = world
    page = login(client, people["ann"]).get(reverse("comp-statement",
                                                    args=[run.pk, people["ann"].pk]))
    assert page.status_code == 200
    assert "800.00 USD" in page.content.decode()
    assert "8% of it is 800.00 USD." in page.content.decode()


def test_a_rep_cannot_open_another_reps_statement_by_url(client, world):
    people, _, run = world
    login(client, people["ann"])
    for view in ("comp-statement", "comp-statement-pdf"):
        assert client.get(reverse(view, args=[run.pk, people["bob"].pk])).status_code == 404


def test_a_rep_cannot_export_another_reps_statement_as_csv(client, world):
    people, _, run = world
    page = login(client, people["ann"]).get(
        reverse("comp-statement", args=[run.pk, people["bob"].pk]) + "?format=csv")
    assert page.status_code == 404


def test_a_manager_sees_their_team_but_not_another_team(client, world):
    people, _, run = world
    login(client, people["mgr"])
    assert client.get(reverse("comp-statement",
                              args=[run.pk, people["bob"].pk])).status_code == 200
    assert client.get(reverse("comp-statement",
                              args=[run.pk, people["cid"].pk])).status_code == 404
    listing = client.get(reverse("comp-run", args=[run.pk])).content.decode()
    assert "ann" in listing and "bob" in listing and "cid" not in listing


def test_finance_sees_everyone_in_the_run(client, world):
    people, _, run = world
    page = login(client, people["fin"]).get(reverse("comp-run", args=[run.pk]) + "?format=csv")
    rows = list(csv.DictReader(io.StringIO(page.content.decode())))
    assert sorted((r["person"], r["payout"]) for r in rows) == [
        ("ann", "800.00"), ("bob", "1200.00"), ("cid", "400.00")]


def test_statement_pdf_is_a_pdf(client, world):
    people, _, run = world
    page = login(client, people["ann"]).get(reverse("comp-statement-pdf",
                                                    args=[run.pk, people["ann"].pk]))
    assert page.status_code == 200 and page["Content-Type"] == "application/pdf"
    assert page.content.startswith(b"%PDF")


def test_dispute_accepted_with_an_amount_creates_an_audited_adjustment(world):
    # given Ann disputes her commission line
    people, period, run = world
    line = run.lines.get(person=people["ann"])
    dispute = actions.raise_dispute(people["ann"].user, run_id=run.pk, line_id=line.pk,
                                    comment="The deal was 12,000, not 10,000.")
    # when her manager accepts it with +160.00 (8 % of the missing 2,000)
    decided = actions.decide_dispute(people["mgr"].user, dispute.pk, accept=True,
                                     note="Amount corrected in the CRM.", amount="160.00",
                                     period_id=period.pk)
    # then an adjustment line of 160.00 USD with the note exists and both steps are audited
    adjustment = ManualLine.objects.get()
    assert decided.status == Dispute.Status.ACCEPTED and decided.adjustment == adjustment
    assert (adjustment.kind, adjustment.amount, adjustment.currency, adjustment.note) == (
        "adjustment", Decimal("160.00"), "USD", "Amount corrected in the CRM.")
    assert {"raise_dispute", "decide_dispute", "add_manual_line"} <= set(
        AuditEvent.objects.values_list("action", flat=True))


def test_a_rep_cannot_decide_their_own_dispute_nor_another_managers_team(world):
    people, _, run = world
    dispute = actions.raise_dispute(people["ann"].user, run_id=run.pk, comment="Too low.")
    with pytest.raises(CompensationError):
        actions.decide_dispute(people["ann"].user, dispute.pk, accept=False, note="no")
    with pytest.raises(CompensationError):
        actions.decide_dispute(people["other_mgr"].user, dispute.pk, accept=False, note="no")
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN


def test_a_rep_cannot_dispute_another_reps_line(world):
    people, _, run = world
    bobs = run.lines.get(person=people["bob"])
    with pytest.raises(CompensationError) as refused:
        actions.raise_dispute(people["ann"].user, run_id=run.pk, line_id=bobs.pk,
                              comment="mine?")
    assert refused.value.field == "person_id"
    assert Dispute.objects.count() == 0


def test_only_an_approved_run_is_exported_and_the_export_is_audited(world):
    people, _, run = world
    fin, ops = people["fin"].user, people["ops"].user
    with pytest.raises(CompensationError, match="only approved runs"):
        actions.export_payroll(fin, run.pk)
    actions.submit_run(ops, run.pk)
    with pytest.raises(CompensationError, match="Only finance"):
        actions.decide_run(ops, run.pk, approve=True)
    actions.decide_run(fin, run.pk, approve=True)
    export, rows = actions.export_payroll(fin, run.pk, "csv")
    # 800.00 + 1,200.00 + 400.00 = 2,400.00
    assert export.totals == {"USD": "2400.00"} and export.rows == 3
    assert sorted(r[4] for r in rows) == [Decimal("400.00"), Decimal("800.00"),
                                          Decimal("1200.00")]
    assert AuditEvent.objects.filter(action="export_payroll").count() == 1


def test_approval_is_refused_while_a_dispute_is_open_and_rejection_needs_a_reason(world):
    people, _, run = world
    actions.raise_dispute(people["ann"].user, run_id=run.pk, comment="Too low.")
    actions.submit_run(people["ops"].user, run.pk)
    with pytest.raises(CompensationError, match="open disputes"):
        actions.decide_run(people["fin"].user, run.pk, approve=True)
    with pytest.raises(CompensationError, match="needs a reason"):
        actions.decide_run(people["fin"].user, run.pk, approve=False, note=" ")
    rejected = actions.decide_run(people["fin"].user, run.pk, approve=False,
                                  note="Resolve Ann's dispute first.")
    assert rejected.approval == "rejected"


def test_payroll_page_is_refused_to_a_rep(client, world):
    people, _, run = world
    assert login(client, people["ann"]).get(
        reverse("comp-payroll", args=[run.pk])).status_code == 403
    assert PayrollExport.objects.count() == 0


def test_payroll_csv_for_finance(client, world):
    people, _, run = world
    actions.submit_run(people["ops"].user, run.pk)
    actions.decide_run(people["fin"].user, run.pk, approve=True)
    page = login(client, people["fin"]).get(reverse("comp-payroll", args=[run.pk]))
    rows = list(csv.DictReader(io.StringIO(page.content.decode())))
    assert sorted((r["name"], r["currency"], r["amount"], r["period"]) for r in rows) == [
        ("ann", "USD", "800.00", "FY2026-Q1"), ("bob", "USD", "1200.00", "FY2026-Q1"),
        ("cid", "USD", "400.00", "FY2026-Q1")]


def test_close_period_needs_an_approved_run_and_locks_the_period_once(world):
    people, period, run = world
    ops, fin = people["ops"].user, people["fin"].user
    with pytest.raises(CompensationError, match="only an approved run"):
        actions.close_period(ops, run.pk)
    actions.submit_run(ops, run.pk)
    actions.decide_run(fin, run.pk, approve=True)
    close = actions.close_period(fin, run.pk)
    assert (close.period, close.run) == (period, run)
    with pytest.raises(CompensationError, match="closed already"):
        actions.close_period(ops, run.pk)


def test_a_manager_signs_off_a_statement_of_their_team_only(world):
    people, _, run = world
    signoff = actions.approve_statement(people["mgr"].user, run.pk, people["ann"].pk)
    assert signoff.signed_by == people["mgr"].user
    with pytest.raises(CompensationError):
        actions.approve_statement(people["mgr"].user, run.pk, people["cid"].pk)
    with pytest.raises(CompensationError):
        actions.approve_statement(people["ann"].user, run.pk, people["ann"].pk)


def test_a_manual_line_needs_a_reason_and_the_persons_manager(world):
    people, period, _ = world
    with pytest.raises(CompensationError, match="needs a reason"):
        actions.add_manual_line(people["mgr"].user, person_id=people["ann"].pk,
                                period_id=period.pk, kind="spiff", component="Q1 SPIFF",
                                amount="500.00", note="  ")
    with pytest.raises(CompensationError, match="No person"):
        actions.add_manual_line(people["mgr"].user, person_id=people["cid"].pk,
                                period_id=period.pk, kind="spiff", component="Q1 SPIFF",
                                amount="500.00", note="Won the contest")
    line = actions.add_manual_line(people["mgr"].user, person_id=people["ann"].pk,
                                   period_id=period.pk, kind="mbo", component="Objectives",
                                   amount="1250.50", note="3 of 4 objectives met")
    assert (line.amount, line.currency, line.component) == (Decimal("1250.50"), "USD",
                                                            "Objectives")
    assert ManualLine.objects.count() == 1


def test_payroll_xlsx_for_finance_is_a_workbook_with_exact_amounts(client, world):
    from openpyxl import load_workbook

    people, _, run = world
    actions.submit_run(people["ops"].user, run.pk)
    actions.decide_run(people["fin"].user, run.pk, approve=True)
    page = login(client, people["fin"]).get(reverse("comp-payroll", args=[run.pk])
                                            + "?format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(page.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("employee_id", "name", "period", "currency", "amount")
    assert sorted(float(r[4]) for r in rows[1:]) == [400.0, 800.0, 1200.0]
    assert PayrollExport.objects.get().file_format == "xlsx"
