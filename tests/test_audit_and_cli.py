from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from attain.cli import ATTAIN_COMMANDS, main
from attain.core.audit import model_state
from attain.core.models import AuditEvent
from attain.core.money import Money, round_money
from attain.people.actions import PeopleError, create_login
from attain.people.models import Person


def test_money_rounds_half_even_and_refuses_floats_and_mixed_currencies():
    assert round_money(Decimal("2.345")) == Decimal("2.34")
    assert round_money(Decimal("2.355")) == Decimal("2.36")
    assert Money(Decimal("1.10"), "EUR") + Money(Decimal("2.20"), "EUR") == Money(
        Decimal("3.30"), "EUR")
    with pytest.raises(ValueError, match="Cannot add USD to EUR"):
        Money(Decimal("1"), "EUR") + Money(Decimal("1"), "USD")
    with pytest.raises(TypeError, match="must be Decimal"):
        Money(1.1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="3-letter"):
        Money(Decimal("1"), "euro")


@pytest.mark.django_db
def test_create_login_is_audited_with_before_and_after():
    admin = get_user_model().objects.create_user(username="admin", password="x")
    person = Person.objects.create(external_id="P1", name="Ann", role="rep")
    create_login(admin, username="ann", password="s3cret-pw", role="manager", person=person)
    event = AuditEvent.objects.get(action="create_login")
    assert event.actor == admin
    assert event.object_type == "people.person" and event.object_id == str(person.pk)
    assert event.before["user_id"] is None and event.before["role"] == "rep"
    assert event.after == model_state(Person.objects.get(pk=person.pk))
    assert event.after["role"] == "manager"


@pytest.mark.django_db
def test_create_login_refuses_an_unknown_role_and_writes_nothing():
    with pytest.raises(PeopleError, match="Unknown role 'boss'") as error:
        create_login(None, username="bob", password="pw-123456", role="boss", name="Bob")
    assert error.value.field == "role"
    assert not get_user_model().objects.exists()
    assert not Person.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_createuser_command_links_a_person_and_refuses_duplicates(capsys):
    call_command("createuser", "fin", "--role", "finance", "--name", "Fiona",
                 "--password", "pw-fiona-1")
    assert Person.objects.get(user__username="fin").role == "finance"
    with pytest.raises(CommandError, match="already exists"):
        call_command("createuser", "fin", "--role", "rep", "--password", "pw-2")
    with pytest.raises(CommandError, match="No person with external id 'nobody'"):
        call_command("createuser", "x", "--role", "rep", "--person", "nobody", "--password", "p")


def test_attain_help_lists_the_commands(capsys):
    main(["attain", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: attain <command>")
    for name in ATTAIN_COMMANDS:
        assert f"  {name}" in out
