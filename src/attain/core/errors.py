"""Errors for people, shared by every app's actions, and the two checks every action repeats.

An action refuses bad input by raising an `ActionError` (or an app's subclass of it) that names the
field and the value at fault, so the page, the API and the CLI can all show where the problem is.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from attain.engine.backends import BACKENDS


class ActionError(ValueError):
    """A request refused, with the field and the value that caused it."""

    def __init__(self, message: str, *, field: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def acting_user(actor: Any) -> Any:
    """The user to record as having asked, or None for the system (`None`, an anonymous user)."""
    return actor if getattr(actor, "pk", None) else None


def engine_backend(backend: str | None, error: type[ActionError] = ActionError) -> str:
    """The engine backend to run on: `backend`, else the configured default; refused (as `error`)
    when it is not one the engine has."""
    name = backend or str(settings.ATTAIN_ENGINE_BACKEND)
    if name not in BACKENDS:
        raise error(f"Unknown engine backend {name!r}; use one of {', '.join(BACKENDS)}.",
                    field="backend", value=name)
    return name
