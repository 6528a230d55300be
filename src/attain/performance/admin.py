"""Django admin for quotas (ops only, audited), quota versions and run results (read-only: actions
and runs write them) and the performance settings."""

from __future__ import annotations

from django.contrib import admin

from attain.core.admin import AuditedModelAdmin, ReadOnlyModelAdmin
from attain.performance.models import (
    BookingsBreakdown,
    ManagerPeriodPerformance,
    PerformanceMedian,
    PerformanceSettings,
    PersonPeriodBookings,
    PersonPeriodPerformance,
    PersonStageConversion,
    Quota,
    QuotaVersion,
    TeamPeriodPerformance,
)


@admin.register(Quota)
class QuotaAdmin(AuditedModelAdmin):
    list_display = ["__str__", "person", "team", "period", "kind", "amount", "currency"]
    list_filter = ["kind", "period__kind", "currency", "team"]
    search_fields = ["person__name", "team__name", "period__label"]
    list_select_related = ["person", "team", "period"]
    raw_id_fields = ["person", "period"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        """A quota with versions changes only through `actions.set_quota` (the Quotas page),
        which keeps its history; its amount is read-only here."""
        if obj is not None and obj.versions.exists():
            return ["amount", "currency"]
        return []


@admin.register(PersonPeriodBookings)
class PersonPeriodBookingsAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "person", "period", "amount", "currency", "booking_count"]
    list_filter = ["period__kind", "currency"]
    search_fields = ["person__name", "period__label"]
    list_select_related = ["run", "person", "period"]


@admin.register(QuotaVersion)
class QuotaVersionAdmin(ReadOnlyModelAdmin):
    list_display = ["quota", "valid_from", "amount", "currency", "source", "method",
                    "recorded_at", "recorded_by"]
    list_filter = ["source", "method"]
    search_fields = ["quota__person__name", "quota__team__name", "reason"]
    list_select_related = ["quota", "recorded_by"]


@admin.register(PerformanceSettings)
class PerformanceSettingsAdmin(AuditedModelAdmin):
    list_display = ["__str__", "leaderboard_names", "updated_at"]


@admin.register(PersonPeriodPerformance)
class PersonPeriodPerformanceAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "person", "period", "team", "quota", "bookings", "attainment_pct",
                    "pace_pct", "coverage"]
    list_filter = ["period__kind"]
    search_fields = ["person__name", "period__label"]
    list_select_related = ["run", "person", "period", "team"]


@admin.register(TeamPeriodPerformance)
class TeamPeriodPerformanceAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "team", "period", "quota", "quota_source", "bookings",
                    "attainment_pct"]
    list_filter = ["period__kind", "quota_source"]
    list_select_related = ["run", "team", "period"]


@admin.register(ManagerPeriodPerformance)
class ManagerPeriodPerformanceAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "manager", "period", "quota", "quota_source", "bookings",
                    "attainment_pct"]
    list_filter = ["period__kind", "quota_source"]
    search_fields = ["manager__name"]
    list_select_related = ["run", "manager", "period"]


@admin.register(PersonStageConversion)
class PersonStageConversionAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "person", "period", "stage", "entered", "advanced", "conversion_pct"]
    list_filter = ["period__kind", "stage"]
    search_fields = ["person__name"]
    list_select_related = ["run", "person", "period", "stage"]


@admin.register(BookingsBreakdown)
class BookingsBreakdownAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "period", "dimension", "value", "amount", "currency",
                    "booking_count"]
    list_filter = ["dimension"]
    list_select_related = ["run", "period"]


@admin.register(PerformanceMedian)
class PerformanceMedianAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "period", "team", "measure", "stage", "median", "value_count"]
    list_filter = ["period__kind", "measure"]
    list_select_related = ["run", "period", "team", "stage"]
