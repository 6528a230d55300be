"""`attain apitoken USERNAME --name NAME`: issue an API token and print it once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.people.actions import issue_api_token


class Command(BaseCommand):
    help = ("Issue an API token for a login and print it once; only its hash is kept. Scripts "
            "send it as `Authorization: Bearer <token>`.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for, e.g. 'BI sync'")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No login named {options['username']!r}; create one with "
                               "`attain createuser`.")
        if not user.is_active:
            raise CommandError(f"The login {options['username']!r} is deactivated.")
        token = issue_api_token(None, user, options["name"])
        self.stdout.write(token)
        self.stderr.write(f"Token {options['name']!r} for {user.get_username()}: store it now, "
                          "it is not shown again.")
