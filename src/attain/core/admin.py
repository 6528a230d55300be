"""Django admin for ops: the audited base every app's admin uses, and core records.

Admin is for ops only (staff logins; `createuser --role ops` makes one). Every save and delete made
through it records an AuditEvent with the row before and after, like the writes in actions.py.
Audit events and calculation runs are read-only: history is never edited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest

from attain.core.audit import model_state, record_event
from attain.core.models import AuditEvent, CalcRun, FiscalCalendar, Period


def is_ops_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff)


class AuditedModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A ModelAdmin for staff (ops) whose saves and deletes are audited with before/after.

    Staff need no per-model Django permissions: being ops is the permission.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_ops_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_ops_staff(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_ops_staff(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_ops_staff(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_ops_staff(request)

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        stored = type(obj)._default_manager.filter(pk=obj.pk).first() if change else None
        before = model_state(stored)
        super().save_model(request, obj, form, change)
        record_event(request.user, "admin_change" if change else "admin_add", obj,
                     before=before, after=model_state(obj))

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self._record_delete(request, obj)
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self._record_delete(request, obj)
        super().delete_queryset(request, queryset)

    @staticmethod
    def _record_delete(request: HttpRequest, obj: models.Model) -> None:
        record_event(request.user, "admin_delete", obj, before=model_state(obj), after=None)


class ReadOnlyModelAdmin(AuditedModelAdmin):
    """Viewable by ops, never edited: history and calculation results."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FiscalCalendar)
class FiscalCalendarAdmin(AuditedModelAdmin):
    list_display = ["id", "fiscal_year_start_month", "week_start_day"]


@admin.register(Period)
class PeriodAdmin(AuditedModelAdmin):
    list_display = ["label", "kind", "start", "end"]
    list_filter = ["kind"]
    search_fields = ["label"]
    date_hierarchy = "start"
    ordering = ["start", "kind"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_type", "object_id", "action", "actor__username"]
    list_select_related = ["actor"]
    date_hierarchy = "at"


@admin.register(CalcRun)
class CalcRunAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "kind", "status", "requested_by", "created_at", "finished_at",
                    "backend", "input_rows", "output_rows"]
    list_filter = ["kind", "status", "backend"]
    search_fields = ["kind", "inputs_hash", "calc_version"]
    list_select_related = ["requested_by"]
    date_hierarchy = "created_at"
