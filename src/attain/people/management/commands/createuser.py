"""`attain createuser`: a login with a role, linked to a person."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.people.actions import PeopleError, create_login
from attain.people.models import Person, Role


class Command(BaseCommand):
    help = "Create a login with a role; link it to an existing person with --person EXTERNAL_ID."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="", help="Full name for a new person")
        parser.add_argument("--person", default="", help="External id of an existing person")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default="", help="Prompted for when omitted")

    def handle(self, *args: Any, **options: Any) -> None:
        person = None
        if options["person"]:
            person = Person.objects.filter(external_id=options["person"]).first()
            if person is None:
                raise CommandError(f"No person with external id {options['person']!r}.")
        password = options["password"] or getpass.getpass("Password: ")
        try:
            created = create_login(
                None, username=options["username"], password=password, role=options["role"],
                name=options["name"], person=person, email=options["email"],
            )
        except PeopleError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Created login {options['username']!r} for {created.name} "
                          f"({created.get_role_display()}).")
