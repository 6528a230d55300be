"""Writes for people, logins, reporting lines and API tokens. Every function here is audited."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from attain.core.audit import model_state, record_event
from attain.people.models import ApiToken, Person, Role


class PeopleError(ValueError):
    """A write refused, with the field and value that caused it."""

    def __init__(self, message: str, *, field: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


@transaction.atomic
def create_login(
    actor: Any,
    *,
    username: str,
    password: str,
    role: str,
    name: str = "",
    person: Person | None = None,
    email: str = "",
    superuser: bool = False,
) -> Person:
    """Create a login for `person` (or a new person named `name`) with `role`.

    `superuser=True` also opens the Django admin to it (is_staff and is_superuser).
    """
    if role not in Role.values:
        raise PeopleError(
            f"Unknown role {role!r}; use one of {', '.join(Role.values)}.", field="role", value=role
        )
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise PeopleError(f"A login named {username!r} already exists.", field="username",
                          value=username)
    user = user_model.objects.create_user(
        username=username, password=password, email=email,
        is_staff=role == Role.OPS or superuser, is_superuser=superuser,
    )
    if person is None:
        person = Person.objects.create(
            external_id=f"user:{username}", name=name or username, email=email, role=role,
            hired_on=date.today(),  # noqa: DTZ011 - a business date, not an instant
        )
    before = model_state(person)
    person.user = user
    person.role = role
    person.save(update_fields=["user", "role"])
    record_event(actor, "create_login", person, before=before, after=model_state(person))
    return person


@transaction.atomic
def issue_api_token(actor: Any, user: Any, name: str) -> str:
    """Create an API token for `user`; the plain token is returned once and only its hash kept."""
    plain = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hashlib.sha256(plain.encode()).hexdigest(),
        key_prefix=plain[:8],
    )
    record_event(actor, "issue_api_token", token, after={"user": user.pk, "name": name})
    return plain
