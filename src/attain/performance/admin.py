"""Django admin for quotas (ops only, audited) and bookings results (read-only: runs write them)."""

from __future__ import annotations

from django.contrib import admin

from attain.core.admin import AuditedModelAdmin, ReadOnlyModelAdmin
from attain.performance.models import PersonPeriodBookings, Quota


@admin.register(Quota)
class QuotaAdmin(AuditedModelAdmin):
    list_display = ["__str__", "person", "team", "period", "kind", "amount", "currency"]
    list_filter = ["kind", "period__kind", "currency", "team"]
    search_fields = ["person__name", "team__name", "period__label"]
    list_select_related = ["person", "team", "period"]
    raw_id_fields = ["person", "period"]


@admin.register(PersonPeriodBookings)
class PersonPeriodBookingsAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "person", "period", "amount", "currency", "booking_count"]
    list_filter = ["period__kind", "currency"]
    search_fields = ["person__name", "period__label"]
    list_select_related = ["run", "person", "period"]
