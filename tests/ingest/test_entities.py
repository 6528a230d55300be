"""The other entities and mappings: accounts, users with reporting lines, leads, HubSpot exports,
a generic mapping profile with a stage value map, and Attain's templates for teams, products,
bookings, quotas and exchange rates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from attain.core.models import Period
from attain.crm.models import Account, Booking, Contact, ExchangeRate, Lead, Opportunity, Product
from attain.ingest import actions
from attain.ingest.mappings import generic_definition
from attain.ingest.models import ImportJob
from attain.people.models import Person, ReportingLine, Team
from attain.performance.models import Quota
from tests.ingest.conftest import ALICE, GLOBEX, MIA, database_state, run_file


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_salesforce_accounts_update_the_stored_ones(crm):
    job = run_file("sf_accounts.csv", "salesforce-accounts")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    assert job.counts["account"] == {"updated": 2}
    acme = Account.objects.get(external_id="001000000000001AAA")
    assert (acme.domain, acme.industry, acme.customer_type, acme.country) == (
        "acme.example", "Manufacturing", "Customer - Direct", "US")
    assert acme.created_at == datetime(2025, 6, 1, tzinfo=UTC)
    assert Account.objects.get(external_id=GLOBEX).country == "DE"


def test_salesforce_users_open_reporting_lines_to_their_manager(crm):
    job = run_file("sf_users.csv", "salesforce-users")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    assert job.counts["person"] == {"updated": 3}
    assert job.counts["reporting_line"] == {"created": 2}
    line = ReportingLine.objects.get(person__external_id=ALICE)
    assert line.manager.external_id == MIA and line.valid_to is None
    assert Person.objects.get(external_id=ALICE).title == "Account Executive"
    again = run_file("sf_users.csv", "salesforce-users")
    assert again.counts == {"person": {"unchanged": 3}}


def test_salesforce_leads_with_status_and_conversion(crm):
    job = run_file("sf_leads.csv", "salesforce-leads")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    converted = Lead.objects.get(external_id="00Q000000000002AAA")
    assert (converted.name, converted.status, converted.company) == (
        "Carl Convert", "converted", "Acme Corp")
    assert converted.converted_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert Lead.objects.get(external_id="00Q000000000001AAA").status == "new"


def test_hubspot_deals_map_hubspot_stages_and_dollar_amounts(crm):
    job = run_file("hubspot_deals.csv", "hubspot-deals")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    hooli = Opportunity.objects.get(external_id="9001")
    assert hooli.stage.name == "Negotiation"  # "Contract Sent"
    assert hooli.amount == Decimal("24000.00") and hooli.owner == crm.people["bob"]
    assert hooli.created_at == datetime(2026, 9, 1, 14, 23, tzinfo=UTC)  # company zone UTC
    assert Opportunity.objects.get(external_id="9002").stage.name == "Prospecting"


def test_hubspot_companies_contacts_and_owners(crm):
    assert run_file("hubspot_companies.csv", "hubspot-companies").status == "succeeded"
    assert run_file("hubspot_contacts.csv", "hubspot-contacts").status == "succeeded"
    owners = run_file("hubspot_owners.csv", "hubspot-owners")

    assert owners.status == "succeeded", owners.problems
    assert Account.objects.get(external_id="5001").owner == crm.people["bob"]
    gavin = Contact.objects.get(external_id="7001")
    assert (gavin.name, gavin.account) == ("Gavin Belson", crm.accounts["acme"])
    olga = Person.objects.get(external_id="301")
    assert olga.name == "Olga Owner"
    assert ReportingLine.objects.get(person=olga).team == Team.objects.get(name="West")


def test_a_saved_generic_mapping_with_a_stage_value_map(crm):
    definition = generic_definition(
        "opportunity", {"Deal": "external_id", "Title": "name", "Rep": "owner",
                        "Value": "amount", "Phase": "stage", "Expected close": "close_date"},
        value_maps={"stage": {"Demo": "Discovery", "Won": "Closed Won"}}, currency="GBP")
    actions.save_mapping_profile(crm.ops, name="custom-deals", definition=definition)

    job = run_file("custom_deals.csv", "custom-deals")
    refused = run_file("custom_deals_unmapped.csv", "custom-deals")

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    one = Opportunity.objects.get(external_id="D-1")
    assert (one.stage.name, one.currency, one.amount) == ("Discovery", "GBP", Decimal("1000.00"))
    assert Opportunity.objects.get(external_id="D-2").is_won
    assert refused.status == ImportJob.Status.REJECTED
    assert refused.problems[0]["value"] == "Legal review"
    assert refused.problems[0]["reason"].startswith(
        "unknown stage 'Legal review'; known stages: Prospecting, Qualification")


def test_attain_templates_for_teams_products_bookings_quotas_and_rates(crm, tmp_path):
    teams = write(tmp_path, "teams.csv", "name,region,segment\nEast,North America,smb\n")
    products = write(tmp_path, "products.csv",
                     "external_id,name,family,list_price,currency\nP-1,Widget,Hardware,"
                     "\"1,000.00\",USD\n")
    bookings = write(tmp_path, "bookings.csv",
                     "external_id,owner,product,quantity,amount,currency,booked_on\n"
                     "B-1,alice@example.com,P-1,2,2000.005,USD,2026-03-31\n")
    quotas = write(tmp_path, "quotas.csv",
                   "person,period_kind,period,amount,currency\n"
                   f"{ALICE},quarter,2026-01-01,\"30,000\",USD\nEast,,2026-02-15,1,USD\n")
    rates = write(tmp_path, "rates.csv", "currency,month,rate\nEUR,2026-03-17,1.08123456\n")

    assert run_file("", "attain-team", path=teams).status == "succeeded"
    assert run_file("", "attain-product", path=products).status == "succeeded"
    booked = run_file("", "attain-booking", path=bookings)
    quota_job = run_file("", "attain-quota", path=quotas)
    rate_job = run_file("", "attain-exchange-rate", path=rates)

    assert Team.objects.get(name="East").region.name == "North America"
    assert Product.objects.get(external_id="P-1").list_price == Decimal("1000.00")
    assert booked.status == "succeeded", booked.problems
    line = Booking.objects.get(external_id="B-1")
    # 2000.005 rounds half-even to 2000.00; the exact value is kept beside it
    assert (line.amount, line.source_amount) == (Decimal("2000.00"), Decimal("2000.0050"))
    assert line.owner == crm.people["alice"] and line.quantity == Decimal("2.00")
    # the second quota row names a person column value "East" that is no person
    assert quota_job.status == "rejected"
    assert quota_job.problems[0]["reason"].startswith("unknown person 'East'")
    assert rate_job.status == "succeeded", rate_job.problems
    rate = ExchangeRate.objects.get(currency="EUR", month_start=date(2026, 3, 1))
    assert rate.rate == Decimal("1.08123456")


def test_quotas_for_people_and_teams(crm, tmp_path):
    Team.objects.create(name="East")
    quotas = write(tmp_path, "quotas.csv",
                   "person,team,period_kind,period,amount,currency\n"
                   f"{ALICE},,quarter,2026-02-15,\"30,000\",USD\n,East,year,2026-01-01,90000,USD\n")

    job = run_file("", "attain-quota", path=quotas)

    assert job.status == "succeeded", job.problems
    alice = Quota.objects.get(person=crm.people["alice"])
    assert (alice.period.kind, alice.period.start, alice.amount) == (
        "quarter", date(2026, 1, 1), Decimal("30000.00"))
    assert Quota.objects.get(team__name="East").period.start == date(2026, 1, 1)
    assert Period.objects.filter(kind="year", start=date(2026, 1, 1)).exists()
    assert run_file("", "attain-quota", path=quotas).counts == {"quota": {"unchanged": 2}}


def test_a_manager_in_the_same_file_is_found_even_later_in_it(crm, tmp_path):
    people = write(tmp_path, "people.csv",
                   "external_id,name,email,manager,team,lines_from\n"
                   "P-2,Rita Rep,rita@example.com,P-1,West,2026-01-01\n"
                   "P-1,Vic Boss,vic@example.com,,West,2026-01-01\n")
    before = database_state()
    cyclic = write(tmp_path, "self.csv", "external_id,name,manager\nP-9,Self Made,P-9\n")
    refused = run_file("", "attain-person", path=cyclic)
    assert refused.problems[0]["reason"] == "a person cannot be their own manager"
    assert database_state() == before

    job = run_file("", "attain-person", path=people)

    assert job.status == "succeeded", job.problems
    line = ReportingLine.objects.get(person__external_id="P-2")
    assert (line.manager.external_id, line.team.name, line.valid_from) == (
        "P-1", "West", date(2026, 1, 1))
