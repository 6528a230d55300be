"""Who is asking: the signed-in user's person record and role, resolved once per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from attain.people.models import COMPANY_WIDE_ROLES, Person, Role


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user as pages see them; a superuser without a person counts as "ops"."""

    user: Any
    person_id: int | None
    name: str
    role: str

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else self.role

    @property
    def is_company_wide(self) -> bool:
        return self.role in COMPANY_WIDE_ROLES

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_rep(self) -> bool:
        return self.role == Role.REP

    @property
    def is_ops(self) -> bool:
        return self.role == Role.OPS

    @property
    def is_finance(self) -> bool:
        return self.role == Role.FINANCE

    @property
    def can_run_calculations(self) -> bool:
        return self.is_ops

    @property
    def can_use_admin(self) -> bool:
        return bool(self.user.is_staff) and (self.is_ops or self.user.is_superuser)


def viewer_of(request: HttpRequest) -> Viewer | None:
    """The request's viewer (cached on the request), or None when nobody is signed in."""
    cached = getattr(request, "_attain_viewer", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    user = request.user
    viewer = None
    if user.is_authenticated:
        person = Person.objects.filter(user_id=user.pk).only("id", "name", "role").first()
        if person is not None:
            viewer = Viewer(user, person.pk, person.name, person.role)
        else:
            role = Role.OPS if user.is_superuser else ""
            viewer = Viewer(user, None, user.get_username(), role)
    request._attain_viewer = viewer  # type: ignore[attr-defined]
    return viewer
