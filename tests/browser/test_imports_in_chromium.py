"""Sales operations uploads an export in Chromium: a dry run first (its progress polled on the
page while the worker runs it), then the import itself; a rep is refused the page."""

import pytest
from django.core.management import call_command

from attain.crm.models import Opportunity
from tests.ingest.conftest import FIXTURES, build_crm

pytestmark = [pytest.mark.browser]


@pytest.fixture
def crm(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    return build_crm()


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def run_worker():
    call_command("db_worker", "--batch", verbosity=0)


def test_upload_dry_run_then_import(page, live_server, crm):
    sign_in(page, live_server, "olga")
    page.click('nav a[href="/imports/"]')
    page.set_input_files("#id_file", str(FIXTURES / "sf_opportunities_api.csv"))
    page.select_option("#id_mapping", "salesforce-opportunities")
    assert page.is_checked("#id_dry_run")
    page.click('[data-testid="upload"]')
    page.wait_for_url("**/imports/*/")
    assert page.locator('[data-testid="status"]').inner_text().lower() == "queued"

    run_worker()  # the background worker picks the job up; the page polls every 2 s
    page.locator('[data-testid="show-results"]').click()
    assert page.locator('[data-testid="status"]').inner_text().lower() == "checked (dry run)"
    assert "open deal with a close date in the past" in page.locator(
        "#problems-table").inner_text()
    assert "5" in page.locator("#counts-table tbody tr").first.inner_text()
    assert not Opportunity.objects.exists()

    page.click('[data-testid="confirm-import"]')
    page.wait_for_selector('[data-status="queued"]')
    run_worker()
    page.locator('[data-testid="show-results"]').click()
    assert page.locator('[data-testid="status"]').inner_text().lower() == "succeeded"
    assert Opportunity.objects.count() == 5
    page.click('nav a[href="/imports/"]')
    assert page.locator("#imports-table tbody tr").count() == 2


def test_a_file_with_errors_shows_each_problem_and_offers_the_csv(page, live_server, crm):
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server.url}/imports/")
    page.set_input_files("#id_file", str(FIXTURES / "sf_opportunities_nasty.csv"))
    page.select_option("#id_mapping", "salesforce-opportunities")
    page.click('[data-testid="upload"]')
    page.wait_for_url("**/imports/*/")
    run_worker()
    page.locator('[data-testid="show-results"]').click()

    assert page.locator('[data-testid="error-count"]').inner_text() == "6"
    assert page.locator("#problems-table tbody tr").count() == 6
    with page.expect_download() as download:
        page.click('[data-testid="problems-csv"]')
    assert download.value.suggested_filename.endswith("-problems.csv")


def test_a_rep_is_refused_the_import_page(page, live_server, crm):
    sign_in(page, live_server, "alice")
    assert page.locator('nav a[href="/imports/"]').count() == 0
    response = page.goto(f"{live_server.url}/imports/")
    assert response.status == 403
