"""Exports of the import pages (past imports, a job's counts, its problems, the mappings) and of
the record lists' newer columns, as CSV and XLSX, with the page's filters applied and formula
cells neutralised."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from openpyxl import load_workbook

from attain.ingest.models import ImportJob
from tests.ingest.conftest import run_file


def csv_rows(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def xlsx_rows(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return [list(row) for row in load_workbook(io.BytesIO(body)).active.iter_rows(
        values_only=True)]


def test_past_imports_export_with_the_status_filter(client, crm):
    ok = run_file("sf_opportunities_api.csv", "salesforce-opportunities", actor=crm.ops)
    bad = run_file("sf_opportunities_nasty.csv", "salesforce-opportunities", actor=crm.ops)
    assert (ok.status, bad.status) == (ImportJob.Status.SUCCEEDED, ImportJob.Status.REJECTED)
    client.force_login(crm.ops)

    page = client.get("/imports/?status=rejected").content.decode()
    assert "/imports/?status=rejected&amp;format=csv" in page
    assert "/imports/?status=rejected&amp;format=xlsx" in page
    rows = csv_rows(client.get("/imports/?status=rejected&format=csv"))
    workbook = xlsx_rows(client.get("/imports/?status=rejected&format=xlsx"))

    assert rows[0][:8] == ["job", "file", "mapping", "kind", "status", "rows", "errors",
                           "warnings"]
    assert [r[:5] for r in rows[1:]] == [[str(bad.pk), "sf_opportunities_nasty.csv",
                                          "salesforce-opportunities", "import", "rejected"]]
    assert rows[1][6] == str(bad.error_count) and bad.error_count > 0
    assert [r[:5] for r in workbook[1:]] == [[bad.pk, "sf_opportunities_nasty.csv",
                                              "salesforce-opportunities", "import", "rejected"]]
    everything = csv_rows(client.get("/imports/?format=csv"))
    # the succeeded job: 5 opportunities + 5 first stage changes created
    assert [(r[0], r[4], r[8]) for r in everything[1:]] == [
        (str(bad.pk), "rejected", "0"), (str(ok.pk), "succeeded", "10")]


def test_a_jobs_counts_and_problems_export_as_csv_and_xlsx(client, crm, tmp_path):
    evil = tmp_path / "evil.csv"
    evil.write_text("Id,Name,AccountId,OwnerId,Amount,StageName,CloseDate\n"
                    "006X1,Deal one,001000000000001AAA,=HYPERLINK(\"x\"),10,Prospecting,"
                    "2030-01-31\n"
                    "006X2,Deal two,001000000000001AAA,005000000000001AAA,10,Prospecting,"
                    "2019-01-31\n")
    job = run_file("", "salesforce-opportunities", path=evil, dry_run=True)
    assert job.status == ImportJob.Status.REJECTED
    client.force_login(crm.ops)

    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert f"/imports/{job.pk}/problems.csv?format=xlsx" in page
    assert f"/imports/{job.pk}/?format=csv" in page
    counts = csv_rows(client.get(f"/imports/{job.pk}/?format=csv"))
    problems = xlsx_rows(client.get(f"/imports/{job.pk}/problems.csv?format=xlsx"))
    errors = xlsx_rows(client.get(f"/imports/{job.pk}/problems.csv?format=xlsx&severity=error"))
    plain = csv_rows(client.get(f"/imports/{job.pk}/problems.csv"))

    assert counts == [["records", "created", "updated", "unchanged", "deleted", "older",
                       "valid_rows", "invalid_rows"],
                      ["opportunity", "1", "0", "0", "0", "0", "0", "1"]]  # dry run: would
    # create the valid row
    assert problems[0] == ["severity", "row", "column", "value", "problem", "entity"]
    # row 2: the unknown owner, its formula value neutralised; row 3: a warning (close date past)
    assert [(p[0], p[1], p[2], p[3]) for p in problems[1:]] == [
        ("error", 2, "OwnerId", "'=HYPERLINK(\"x\")"), ("warning", 3, "CloseDate", "2019-01-31")]
    assert [(p[0], p[1]) for p in errors[1:]] == [("error", 2)]
    assert plain[1][3] == "'=HYPERLINK(\"x\")"


def test_mappings_export(client, crm):
    client.force_login(crm.ops)

    rows = csv_rows(client.get("/imports/mappings/?format=csv"))
    sheet = xlsx_rows(client.get("/imports/mappings/?format=xlsx"))

    assert rows[0] == ["name", "label", "kind", "entities", "description"]
    names = {r[0]: r for r in rows[1:]}
    assert names["salesforce-opportunity-splits"][2:4] == ["built-in", "opportunity_split"]
    assert len(sheet) == len(rows)


def test_a_rep_cannot_export_imports(client, crm):
    client.force_login(crm.rep)
    assert client.get("/imports/?format=csv").status_code == 403
    assert client.get("/imports/mappings/?format=xlsx").status_code == 403


def test_record_lists_export_the_imported_product_partner_and_payment_dates(client, crm):
    from attain.crm.models import Product

    Product.objects.create(external_id="01t000000000001AAA", name="Platform")
    Product.objects.create(external_id="01t000000000002AAA", name="Analytics Add-on")
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    run_file("sf_opportunities_products_partners.csv", "salesforce-opportunities")
    run_file("attain_bookings_dates.csv", "attain-booking")
    client.force_login(crm.ops)

    opportunities = csv_rows(client.get("/opportunities/?format=csv&q=Acme+platform"))
    bookings = xlsx_rows(client.get("/bookings/?format=xlsx"))

    header = opportunities[0]
    platform = [dict(zip(header, r, strict=True)) for r in opportunities[1:]
                if r[2] == "Acme platform"]
    assert [(r["product"], r["partner"]) for r in platform] == [("Platform",
                                                                 "Northwind Resellers")]
    by_id = {r[1]: dict(zip(bookings[0], r, strict=True)) for r in bookings[1:]}
    assert [(by_id["OL-1"][k]) for k in ("invoiced_on", "paid_on", "cancelled_on")] == [
        datetime(2026, 3, 31), datetime(2026, 4, 20), None]  # noqa: DTZ001 - XLSX dates
    assert by_id["OL-2"]["cancelled_on"] == datetime(2026, 9, 30)  # noqa: DTZ001


def test_an_opportunitys_stage_history_and_splits_export(client, crm):
    from attain.crm.models import Opportunity

    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    run_file("sf_opportunity_history.csv", "salesforce-opportunity-history")
    run_file("sf_opportunity_splits.csv", "salesforce-opportunity-splits")
    renewal = Opportunity.objects.get(external_id="006000000000001AAA")
    client.force_login(crm.ops)
    url = f"/opportunities/{renewal.pk}/"

    page = client.get(url).content.decode()
    history = csv_rows(client.get(f"{url}?table=history&format=csv"))
    splits = xlsx_rows(client.get(f"{url}?table=splits&format=xlsx"))

    assert f"{url}?table=history&amp;format=xlsx" in page and 'data-testid="splits"' in page
    assert history == [
        ["changed_at", "from_stage", "to_stage", "amount", "currency", "close_date"],
        ["2026-01-05T09:30:00+00:00", "", "Prospecting", "10000.00", "USD", "2026-03-31"],
        ["2026-02-02T14:00:00+00:00", "Prospecting", "Proposal", "12000.00", "USD",
         "2026-03-31"],
        ["2026-03-15T16:00:00+00:00", "Proposal", "Closed Won", "12000.00", "USD",
         "2026-03-15"]]
    # revenue 60 % Alice, 40 % Bob; overlay 10 % Mia
    assert splits == [["person", "kind", "percent"], ["Mia Manager", "overlay", 10],
                      ["Alice Able", "revenue", 60], ["Bob Baker", "revenue", 40]]
