"""How API callers authenticate: a bearer token for scripts, the session for the docs page.

Both set `request.auth_user`, the user whose visibility every endpoint applies. A token that is
presented but unknown (never issued, or deleted to revoke it) is refused outright, without
falling back to the session, so a script never silently acts as whoever is signed in.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from attain.people.models import ApiToken

# `last_used_at` is refreshed at most this often, so a busy script does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_user(plain: str) -> Any:
    """The active user owning the token `plain`, or None. Looks the token up by its sha256 hash
    (the only form stored) and notes when it was last used.

    Noting use is bookkeeping, not a business write, so it is a direct UPDATE of one column
    rather than an audited action: auditing every API call would drown the audit log.
    """
    key_hash = hashlib.sha256(plain.encode()).hexdigest()
    token = ApiToken.objects.select_related("user").filter(key_hash=key_hash).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`, a token from `attain apitoken USERNAME --name NAME`."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_user(token.strip())
        if user is None:
            raise AuthenticationError(401, "Invalid or revoked API token.")
        request.auth_user = user  # type: ignore[attr-defined]
        return user


class SessionAuth(NinjaSessionAuth):
    """The signed-in browser session (used by the docs page); CSRF-checked for unsafe methods."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is not None:
            request.auth_user = user  # type: ignore[attr-defined]
        return user
