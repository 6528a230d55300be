"""Compensation pages in Chromium, one test per role on a stored run (`tests/compensation/
stored.py`): a rep reads their statement and disputes a line; their manager resolves it with an
adjustment; finance approves the run and downloads the payroll file; ops sorts the run by payout
and exports it in that order; a rep cannot open another rep's statement; ops sees the live
preview name a plan's problems while typing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from attain.compensation import actions
from attain.compensation.models import Dispute, ManualLine, PayrollExport
from tests.compensation.plans import org
from tests.compensation.stored import quarter, stored_run

pytestmark = [pytest.mark.browser]


@pytest.fixture
def world(transactional_db):
    people = org()
    period = quarter()
    run = stored_run(period, {people["ann"].pk: "800.00", people["bob"].pk: "1200.00",
                              people["cid"].pk: "400.00"})
    return people, period, run


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_rep_reads_their_statement_and_disputes_a_line(page, live_server, world):
    people, _, run = world
    sign_in(page, live_server, "ann")
    page.click("nav >> text=Compensation")
    page.click('[data-testid="comp-subnav"] >> text=My statement')
    page.wait_for_url(f"{live_server.url}/comp/statements/{run.pk}/{people['ann'].pk}/")
    assert page.inner_text('[data-testid="statement-payout"]') == "800.00 USD"
    assert page.inner_text('[data-testid="lines-total"]').strip() == "800.00 USD"
    assert "8% of it is 800.00 USD." in page.inner_text('[data-testid="statement-lines"]')
    page.click('[data-testid="dispute-line"]')
    page.fill('[data-testid="statement-lines"] textarea[name=comment]',
              "The deal was 12,000, not 10,000.")
    page.click('[data-testid="send-dispute"]')
    page.wait_for_selector(".messages")
    assert page.inner_text('[data-testid="dispute-status"]') == "Open"
    assert Dispute.objects.get().comment == "The deal was 12,000, not 10,000."


def test_manager_resolves_a_dispute_with_an_adjustment(page, live_server, world):
    people, period, run = world
    actions.raise_dispute(people["ann"].user, run_id=run.pk, comment="Missing 2,000 of credit.",
                          line_id=run.lines.get(person=people["ann"]).pk)
    sign_in(page, live_server, "mia")
    page.goto(f"{live_server.url}/comp/disputes/")
    page.click('#disputes-table >> text=ann')
    form = page.locator('[data-testid="decide-form"]')
    form.locator("select[name=decision]").select_option("accept")
    form.locator("input[name=amount]").fill("160.00")
    form.locator("select[name=period_id]").select_option(str(period.pk))
    form.locator("input[name=note]").fill("Amount corrected in the CRM.")
    form.locator('[data-testid="decide-dispute"]').click()
    page.wait_for_selector(".messages")
    assert page.inner_text('[data-testid="dispute-status"]') == "Accepted"
    assert "adjustment 160.00 USD" in page.inner_text('[data-testid="statement-disputes"]')
    line = ManualLine.objects.get()
    assert (str(line.amount), line.note) == ("160.00", "Amount corrected in the CRM.")


def test_finance_approves_and_exports_payroll(page, live_server, world, tmp_path: Path):
    people, _, run = world
    actions.submit_run(people["ops"].user, run.pk)
    sign_in(page, live_server, "fiona")
    page.click("nav >> text=Compensation")
    page.click('[data-testid="comp-subnav"] >> text=Runs')
    page.click(f"#runs-table >> text=#{run.pk}")
    page.click('[data-testid="approve-run"]')
    page.wait_for_selector(".messages")
    assert page.inner_text('[data-testid="run-approval"]') == "Approved"
    with page.expect_download() as download:
        page.click('[data-testid="payroll-csv"]')
    target = tmp_path / "payroll.csv"
    download.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    # 800.00 + 1,200.00 + 400.00
    assert sorted(r["amount"] for r in rows) == ["1200.00", "400.00", "800.00"]
    assert PayrollExport.objects.get().totals == {"USD": "2400.00"}
    page.click("#payouts-table >> text=cid")
    assert page.inner_text('[data-testid="statement-payout"]') == "400.00 USD"
    assert "Approved" in page.inner_text('[data-testid="statement-facts"]')


def test_ops_sorts_a_run_by_payout_and_exports_it_in_that_order(page, live_server, world,
                                                              tmp_path: Path):
    """The run page lists payouts by name; ops picks "Payout, largest first" and the table,
    then the CSV export, follow that order: Bob 1,200.00, Ann 800.00, Cid 400.00."""
    from django.urls import reverse

    people, _, run = world
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}{reverse('comp-run', args=[run.pk])}")

    def shown() -> list[str]:
        return page.locator("#payouts-table tbody tr td:first-child").all_inner_texts()

    by_name = sorted(people[k].name for k in ("ann", "bob", "cid"))
    assert shown() == by_name
    page.select_option('[data-testid="payouts-sort"]', "-payout")
    page.click('[data-testid="payouts-search"] button[type=submit]')
    page.wait_for_url("**sort=-payout**")
    by_payout = [people[k].name for k in ("bob", "ann", "cid")]
    assert shown() == by_payout
    with page.expect_download() as download:
        page.click('[data-testid="csv-export"]')
    target = tmp_path / "run.csv"
    download.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [(r["person"], r["payout"]) for r in rows] == list(zip(
        by_payout, ["1200.00", "800.00", "400.00"], strict=True))


def test_rep_cannot_open_another_reps_statement(page, live_server, world):
    people, _, run = world
    sign_in(page, live_server, "ann")
    response = page.goto(f"{live_server.url}/comp/statements/{run.pk}/{people['bob'].pk}/")
    assert response.status == 404
    api = page.goto(f"{live_server.url}/api/v1/comp/statements/{run.pk}/{people['bob'].pk}")
    assert api.status == 404


def test_ops_sees_plan_problems_in_the_live_preview(page, live_server, world):
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/comp/plans/new/")
    page.fill('[data-testid="plan-text"]', (
        "plan: AE\ncurrency: USD\nperiod: quarter\ncomponents:\n"
        "  - name: Commission\n    kind: commission\n    rate: \"eight\"\n"))
    page.wait_for_selector('[data-testid="plan-problems"]')
    assert "components[0].rate" in page.inner_text('[data-testid="plan-problems"]')
    page.click('[data-snippet="team"]')
    page.fill('[data-testid="plan-text"]', (
        "plan: AE\ncurrency: USD\nperiod: quarter\ncomponents:\n"
        "  - name: Commission\n    kind: commission\n    rate: \"8%\"\n"))
    page.wait_for_selector('[data-testid="plan-valid"]')
