"""Sales operations opens the data-quality page in Chromium: scores, the score chart and the
findings of the stored run; follows duplicate accounts to the merge confirmation and merges."""

import pytest

from attain.crm.models import Account
from attain.ingest.quality import actions
from tests.browser.test_pages_in_chromium import SCREENSHOTS, charts_drawn, sign_in
from tests.quality.dirty import AS_OF, build_dirty

pytestmark = [pytest.mark.browser]


@pytest.fixture
def dirty(transactional_db):
    data = build_dirty()
    actions.run_quality_check(None, as_of=AS_OF)
    return data


def test_ops_reviews_findings_and_merges_duplicate_accounts(page, live_server, dirty):
    sign_in(page, live_server, "olga")
    page.click('nav a[href="/quality/"]')
    page.wait_for_url("**/quality/")
    assert page.locator('[data-testid="score-overall"] .kpi-value').inner_text() == "50.00"
    assert charts_drawn(page, 1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ops-data-quality.png"), full_page=True)
    page.click('[data-testid="findings-duplicate_account"]')
    page.wait_for_url("**/quality/duplicate_account/**")
    assert page.locator("#findings-table tbody tr").count() == 7
    page.locator('[data-testid="review-merge"]').first.click()
    page.wait_for_url("**/quality/merge/**")
    page.screenshot(path=str(SCREENSHOTS / "ops-data-quality-merge.png"), full_page=True)
    rows = page.locator("#merge-table tbody tr")
    assert rows.count() == 2  # domain:acme.com: "Acme Inc" and "acme gmbh"
    page.click('[data-testid="confirm-merge"]')
    page.wait_for_url("**/quality/duplicate_account/")
    assert "Merged account" in page.locator(".messages").inner_text()
    assert not Account.objects.filter(pk=dirty.accounts[3].pk).exists()


def test_ops_reassigns_deals_of_someone_who_left(page, live_server, dirty):
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/quality/inactive_owner/")
    page.check(f'input[name="ids"][value="{dirty.opportunities[103].pk}"]')
    page.click('[data-testid="reassign-selected"]')
    page.wait_for_url("**/quality/reassign/**")
    page.select_option('[data-testid="new-owner"]', label="ann (Sales rep)")
    page.click('[data-testid="confirm-reassign"]')
    page.wait_for_url(f"{live_server.url}/quality/")
    assert "1 opportunity reassigned." in page.locator(".messages").inner_text()


def test_a_rep_cannot_open_the_data_quality_page(page, live_server, dirty):
    sign_in(page, live_server, "ann")
    assert page.locator('nav a[href="/quality/"]').count() == 0
    response = page.goto(f"{live_server.url}/quality/")
    assert response.status == 403
