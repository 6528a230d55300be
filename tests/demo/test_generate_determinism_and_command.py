"""Same seed, same rows; refusal to generate twice; the `attain generate` command's errors."""

import hashlib
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from attain.crm.models import (
    Account,
    Booking,
    Contact,
    ExchangeRate,
    Lead,
    Opportunity,
    StageChange,
)
from attain.demo.generator import GenerationError, generate, parse_scale
from attain.people.models import Person, ReportingLine
from attain.performance.models import Quota
from tests.factories import make_person

END = date(2026, 11, 23)

pytestmark = pytest.mark.django_db


def fingerprint() -> str:
    """A hash of every generated row, with foreign keys written as natural keys (not ids)."""
    queries = [
        Person.objects.order_by("external_id").values_list(
            "external_id", "name", "email", "role", "title", "currency", "hired_on", "left_on",
            "ramp_months", "skill"),
        ReportingLine.objects.order_by("person__external_id", "valid_from").values_list(
            "person__external_id", "manager__external_id", "team__name", "valid_from",
            "valid_to"),
        Account.objects.order_by("external_id").values_list(
            "external_id", "name", "domain", "industry", "segment", "country",
            "owner__external_id", "created_at"),
        Contact.objects.order_by("external_id").values_list(
            "external_id", "account__external_id", "name", "email", "title", "created_at"),
        Lead.objects.order_by("external_id").values_list(
            "external_id", "name", "company", "source", "status", "owner__external_id",
            "created_at", "qualified_at", "converted_at", "converted_opportunity__external_id"),
        Opportunity.objects.order_by("external_id").values_list(
            "external_id", "name", "account__external_id", "owner__external_id", "amount",
            "currency", "stage__name", "forecast_category", "deal_type", "source", "segment",
            "created_at", "close_date", "is_closed", "is_won", "loss_reason"),
        StageChange.objects.order_by("opportunity__external_id", "changed_at").values_list(
            "opportunity__external_id", "from_stage__name", "to_stage__name", "changed_at",
            "amount", "close_date"),
        Booking.objects.order_by("external_id").values_list(
            "external_id", "opportunity__external_id", "owner__external_id", "team__name",
            "product__external_id", "quantity", "amount", "currency", "booked_on"),
        ExchangeRate.objects.order_by("currency", "month_start").values_list(
            "currency", "month_start", "rate"),
        Quota.objects.order_by("person__external_id", "team__name", "period__kind",
                               "period__start").values_list(
            "person__external_id", "team__name", "period__kind", "period__start", "amount",
            "currency"),
    ]
    digest = hashlib.sha256()
    for query in queries:
        for row in query:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_the_same_seed_gives_identical_rows_and_another_seed_does_not():
    first = generate("tiny", end=END)
    first_hash = fingerprint()
    again = generate("tiny", end=END, replace=True)
    assert fingerprint() == first_hash
    assert again.counts() == first.counts()
    generate("tiny", end=END, seed=8, replace=True)
    assert fingerprint() != first_hash


def test_generating_into_a_database_with_people_is_refused_without_replace():
    make_person("Existing", login=False)
    with pytest.raises(GenerationError, match=r"already holds an organisation \(1 people"):
        generate("tiny", end=END)
    assert Person.objects.count() == 1
    with pytest.raises(CommandError, match="pass replace=True"):
        call_command("generate", scale="tiny", end="2026-11-23", no_progress=True)


def test_scales_parse_to_rep_counts_and_bad_values_are_refused():
    assert parse_scale("tiny") == (8, 1)
    assert parse_scale("demo") == (120, 3)
    assert parse_scale("large") == (10_000, 3)
    assert parse_scale("250") == (250, 3)
    assert parse_scale(40) == (40, 3)
    for bad in ("huge", "0", "-5", "1", 1_000_000, "3.5", ""):
        with pytest.raises(GenerationError, match="use tiny, demo, large or a number of reps"):
            parse_scale(bad)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scale": "huge"}, "Unknown scale 'huge'"),
        ({"scale": "0"}, "Unknown scale '0'"),
        ({"scale": "tiny", "end": "23/11/2026"}, "--end must be a date as YYYY-MM-DD"),
    ],
)
def test_the_command_explains_bad_input_and_writes_nothing(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate", no_progress=True, **arguments)
    assert not Person.objects.exists()


def test_the_command_generates_and_prints_a_summary(capsys):
    call_command("generate", scale="tiny", end="2026-11-23", no_progress=True)
    output = capsys.readouterr().out
    assert output.startswith("Generated scale tiny (seed 7), 2025-10-01 .. 2026-11-23:")
    assert f"{Opportunity.objects.count():,} opportunities" in output
