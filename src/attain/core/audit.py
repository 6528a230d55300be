"""The audit trail: every write in an `actions.py` records who, what, when, before and after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models

from attain.core.models import AuditEvent


def json_value(value: Any) -> Any:
    """A JSON-safe form that keeps Decimals and dates exact (as strings)."""
    if isinstance(value, Decimal | date | datetime):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value


def model_state(instance: models.Model | None) -> dict[str, Any] | None:
    """The concrete field values of a row, JSON-safe (foreign keys as ids)."""
    if instance is None:
        return None
    return {
        field.attname: json_value(getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
    }


def record_event(
    actor: Any,
    action: str,
    instance: models.Model | None = None,
    *,
    object_type: str = "",
    object_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event; `actor` is a user or None for the system."""
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_id = object_id or str(instance.pk)
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
