"""Imports of real export formats: what is created, updated and left unchanged, the stage history
an import implies, and every kind of problem — with nothing written when a file has an error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from attain.crm.models import Opportunity, StageChange
from attain.ingest.models import ImportJob
from tests.ingest.conftest import database_state, run_file


def problems(job):
    return [(p["severity"], p["row"], p["column"], p["value"], p["reason"])
            for p in job.problems]


def test_salesforce_api_export_creates_opportunities_with_their_first_stage(crm):
    job = run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.counts["opportunity"] == {"created": 5}
    assert job.counts["stage_change"] == {"created": 5}
    renewal = Opportunity.objects.get(external_id="006000000000001AAA")
    assert renewal.amount == Decimal("12000.00")
    assert renewal.stage.name == "Closed Won" and renewal.is_won and renewal.is_closed
    assert renewal.owner == crm.people["alice"]
    assert renewal.account == crm.accounts["acme"]
    assert renewal.deal_type == "renewal" and renewal.forecast_category == "closed"
    assert renewal.created_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert renewal.close_date == date(2026, 3, 15)
    globex = Opportunity.objects.get(external_id="006000000000003AAA")
    assert (globex.currency, globex.amount, globex.deal_type) == ("EUR", Decimal("800.00"),
                                                                  "new")
    first = StageChange.objects.get(opportunity=renewal)
    assert first.from_stage is None and first.to_stage.name == "Closed Won"
    # the open deal closing in 2020 is a warning, not an error
    assert job.error_count == 0 and job.warning_count == 1
    assert problems(job) == [("warning", 6, "CloseDate", "2020-05-31",
                              "open deal with a close date in the past")]


def test_importing_the_same_file_twice_changes_nothing(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    before = database_state()

    again = run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    assert again.status == ImportJob.Status.SUCCEEDED
    assert again.counts["opportunity"] == {"unchanged": 5}
    assert again.counts.get("stage_change", {}).get("created", 0) == 0
    assert database_state() == before


def test_a_newer_export_updates_records_and_appends_the_stage_change(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    job = run_file("sf_opportunities_api_newer.csv", "salesforce-opportunities")

    assert job.counts["opportunity"] == {"updated": 1, "unchanged": 4}
    assert job.counts["stage_change"] == {"created": 1}
    deal = Opportunity.objects.get(external_id="006000000000002AAA")
    assert deal.stage.name == "Negotiation" and deal.amount == Decimal("5200.00")
    assert deal.forecast_category == "commit"
    history = [(c.from_stage.name if c.from_stage else None, c.to_stage.name, c.changed_at)
               for c in StageChange.objects.filter(opportunity=deal).order_by("changed_at")]
    assert history == [
        (None, "Proposal", datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ("Proposal", "Negotiation", datetime(2026, 4, 1, 12, tzinfo=UTC)),  # LastModifiedDate
    ]


def test_an_older_export_never_undoes_a_newer_one(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    run_file("sf_opportunities_api_newer.csv", "salesforce-opportunities")
    newer = database_state()

    older = run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    # row 2 was modified on 2026-02-20, before its stored stage change of 2026-04-01
    assert older.counts["opportunity"] == {"older": 1, "unchanged": 4}
    assert database_state() == newer
    assert Opportunity.objects.get(external_id="006000000000002AAA").stage.name == "Negotiation"


def test_a_file_with_errors_writes_nothing_and_lists_every_problem(crm):
    before = database_state()

    job = run_file("sf_opportunities_nasty.csv", "salesforce-opportunities")

    assert job.status == ImportJob.Status.REJECTED
    assert database_state() == before
    assert problems(job) == [
        ("error", 3, "OwnerId", "005999999999999AAA",
         "unknown owner '005999999999999AAA': no person has this id, email or name"),
        ("error", 4, "StageName", "Verbal commit",
         "unknown stage 'Verbal commit'; known stages: Prospecting, Qualification, Discovery, "
         "Proposal, Negotiation, Closed Won, Closed Lost. Map it to one of them in the "
         "mapping's stage value map"),
        ("error", 5, "Amount", "-250.00",
         "negative amount; an opportunity's amount must be 0 or more"),
        ("error", 6, "Amount", "(1,200.00)",
         "negative amount; an opportunity's amount must be 0 or more"),
        ("error", 7, "CloseDate", "2026-01-31", "close date before created date (2026-02-01)"),
        ("error", 8, "Id", "006000000000001AAA",
         "duplicate id '006000000000001AAA' in the file (first on row 2)"),
    ]
    assert job.error_count == 6
    assert job.counts["opportunity"] == {"valid": 1, "invalid": 6}


def test_a_missing_required_column_is_named_and_nothing_is_read(crm):
    before = database_state()

    job = run_file("sf_opportunities_missing_column.csv", "salesforce-opportunities")

    assert job.status == ImportJob.Status.REJECTED
    assert problems(job) == [("error", 1, "'CloseDate' / 'Close Date'", "",
                              "missing required column 'CloseDate' / 'Close Date' "
                              "(opportunity close_date)")]
    assert database_state() == before


def test_a_dry_run_counts_what_would_change_and_writes_nothing(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")
    before = database_state()

    job = run_file("sf_opportunities_api_newer.csv", "salesforce-opportunities", dry_run=True)

    assert job.status == ImportJob.Status.CHECKED
    assert job.counts["opportunity"] == {"updated": 1, "unchanged": 4}
    assert database_state() == before


def test_report_labels_with_bom_crlf_and_us_dates(crm):
    job = run_file("sf_opportunity_report.csv", "salesforce-opportunities")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    assert job.file_info["date_order"] == "mdy"
    pilot = Opportunity.objects.get(external_id="006000000000011AAA")
    assert pilot.owner == crm.people["alice"] and pilot.account == crm.accounts["acme"]
    assert (pilot.amount, pilot.currency) == (Decimal("1250.00"), "USD")
    assert pilot.close_date == date(2027, 9, 30)
    assert pilot.stage.name == "Qualification"
    addon = Opportunity.objects.get(external_id="006000000000012AAA")
    assert addon.owner == crm.people["bob"]  # found by email


def test_ambiguous_dates_are_refused_until_the_order_is_declared(crm):
    refused = run_file("report_ambiguous_dates.csv", "salesforce-opportunities")

    assert refused.status == ImportJob.Status.REJECTED
    assert problems(refused)[0] == (
        "error", 2, "Close Date", "03/04/2027",
        "ambiguous date: every date in the file fits both m/d/yyyy and d/m/yyyy; declare the "
        "date order (m/d/yyyy or d/m/yyyy) for this import")
    assert not Opportunity.objects.exists()

    declared = run_file("report_ambiguous_dates.csv", "salesforce-opportunities",
                        date_order="dmy")

    assert declared.status == ImportJob.Status.SUCCEEDED
    assert Opportunity.objects.get(external_id="006000000000031AAA").close_date == date(
        2027, 4, 3)


def test_semicolons_decimal_commas_and_windows_1252(crm):
    job = run_file("report_semicolon_decimal_comma_cp1252.csv", "salesforce-opportunities")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    assert job.file_info["format"] == "CSV, cp1252, semicolon-separated"
    assert (job.file_info["date_order"], job.file_info["decimal_separator"]) == ("dmy", ",")
    deal = Opportunity.objects.get(external_id="006000000000041AAA")
    assert deal.name == "Société Générale Müller"
    assert (deal.amount, deal.currency) == (Decimal("1234.56"), "EUR")  # "1.234,56 €"
    assert deal.close_date == date(2027, 3, 15)
    zero = Opportunity.objects.get(external_id="006000000000042AAA")
    assert zero.amount == Decimal("0.00")  # "(0,00)": a negative zero is zero


def test_utf16_tab_separated_unicode_text(crm):
    job = run_file("report_utf16_tabs.csv", "salesforce-opportunities")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    assert job.file_info["format"] == "CSV, utf-16, tab-separated"
    deal = Opportunity.objects.get(external_id="006000000000051AAA")
    assert deal.name == "Zürich 東京 deal" and deal.amount == Decimal("2500.75")


def test_xlsx_named_sheet(crm):
    job = run_file("report_opportunities.xlsx", "salesforce-opportunities", sheet="Export")

    assert job.status == ImportJob.Status.SUCCEEDED, (job.message, job.problems)
    deal = Opportunity.objects.get(external_id="006000000000061AAA")
    assert deal.amount == Decimal("4321.50") and deal.close_date == date(2027, 9, 30)
    won = Opportunity.objects.get(external_id="006000000000062AAA")
    assert won.is_won and won.amount == Decimal("99.00")


def test_xlsx_first_sheet_by_default_names_the_missing_columns(crm):
    job = run_file("report_opportunities.xlsx", "salesforce-opportunities")

    assert job.status == ImportJob.Status.REJECTED
    assert "missing required column 'Id' / 'Opportunity ID'" in problems(job)[0][4]


@pytest.mark.parametrize(("name", "reason"), [
    ("bomb_dimensions.xlsx", "declares 1,048,576 rows x 16,384 columns"),
    ("bomb_ratio.xlsx", "more than 100x is refused as a likely spreadsheet bomb"),
])
def test_spreadsheet_bombs_are_refused_before_parsing(crm, name, reason):
    before = database_state()

    job = run_file(name, "salesforce-opportunities")

    assert job.status == ImportJob.Status.FAILED
    assert reason in job.message
    assert database_state() == before


def test_an_oversize_file_is_refused_with_the_limit(crm, settings, tmp_path):
    settings.ATTAIN_IMPORT_MAX_BYTES = 1024
    big = tmp_path / "big.csv"
    big.write_text("Id,Name\n" + "x,y\n" * 600)

    with pytest.raises(Exception, match=r"big.csv is 2.4 KB; uploads are limited to 1.0 KB"):
        run_file("", "salesforce-opportunities", path=big)
    assert not ImportJob.objects.exists()


def test_opportunity_history_and_field_history_build_the_stage_chain(crm):
    run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    history = run_file("sf_opportunity_history.csv", "salesforce-opportunity-history")
    fields = run_file("sf_opportunity_field_history.csv", "salesforce-opportunity-history")

    assert history.status == fields.status == ImportJob.Status.SUCCEEDED
    # the first history row is the stage change the opportunity import made (same time)
    assert history.counts["stage_change"] == {"created": 2, "updated": 1}
    # 3 rows: the Amount change is skipped, the two StageName changes are new
    assert fields.counts["stage_change"] == {"created": 2}
    assert fields.file_info["skipped_rows"] == 1
    renewal = Opportunity.objects.get(external_id="006000000000001AAA")
    chain = [(c.from_stage.name if c.from_stage else None, c.to_stage.name, c.amount)
             for c in StageChange.objects.filter(opportunity=renewal).order_by("changed_at")]
    assert chain == [(None, "Prospecting", Decimal("10000.00")),
                     ("Prospecting", "Proposal", Decimal("12000.00")),
                     ("Proposal", "Closed Won", Decimal("12000.00"))]
    again = run_file("sf_opportunity_history.csv", "salesforce-opportunity-history")
    assert again.counts["stage_change"] == {"unchanged": 3}


def test_an_import_leaves_postgresql_the_statistics_of_the_tables_it_wrote(crm):
    """PostgreSQL plans by its statistics: after an import the opportunity and stage-change
    tables' row estimates (`pg_class.reltuples`, set by ANALYZE) are the rows written, not
    what autovacuum may or may not have sampled yet (it is off on some servers). The file has
    5 opportunities, each with its first stage change. SQLite keeps no such estimates."""
    from django.db import connection

    job = run_file("sf_opportunities_api.csv", "salesforce-opportunities")

    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname IN "
                       "('crm_opportunity', 'crm_stagechange') ORDER BY relname")
        assert cursor.fetchall() == [("crm_opportunity", 5.0), ("crm_stagechange", 5.0)]
