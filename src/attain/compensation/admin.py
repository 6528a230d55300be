"""Django admin for compensation (ops only): everything is read-only here. Plans change through
the plan editor (a published version is immutable), assignments, disputes and approvals through
their pages, results only through runs — each an audited action."""

from __future__ import annotations

from django.contrib import admin

from attain.compensation.models import (
    CompPlan,
    CompRun,
    Dispute,
    EarningLine,
    ManualLine,
    Payout,
    PayrollExport,
    PeriodClose,
    PlanAcceptance,
    PlanAssignment,
    PlanVersion,
    PriorAdjustment,
)
from attain.core.admin import ReadOnlyModelAdmin


@admin.register(CompPlan)
class CompPlanAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(PlanVersion)
class PlanVersionAdmin(ReadOnlyModelAdmin):
    list_display = ["plan", "number", "status", "effective_from", "effective_to", "published_at"]
    list_filter = ["status"]
    search_fields = ["plan__name"]
    list_select_related = ["plan"]


@admin.register(PlanAssignment)
class PlanAssignmentAdmin(ReadOnlyModelAdmin):
    list_display = ["person", "version", "valid_from", "valid_to", "target_incentive",
                    "currency"]
    search_fields = ["person__name", "version__plan__name"]
    list_select_related = ["person", "version__plan"]


@admin.register(PlanAcceptance)
class PlanAcceptanceAdmin(ReadOnlyModelAdmin):
    list_display = ["person", "version", "accepted_at"]
    list_select_related = ["person", "version__plan"]


@admin.register(ManualLine)
class ManualLineAdmin(ReadOnlyModelAdmin):
    list_display = ["person", "period", "kind", "component", "amount", "currency", "entered_by"]
    list_filter = ["kind"]
    list_select_related = ["person", "period", "entered_by"]


@admin.register(CompRun)
class CompRunAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "period", "approval", "adjusts", "as_of"]
    list_filter = ["approval"]
    list_select_related = ["period", "calc_run"]


@admin.register(PeriodClose)
class PeriodCloseAdmin(ReadOnlyModelAdmin):
    list_display = ["period", "run", "closed_at", "closed_by"]


@admin.register(EarningLine)
class EarningLineAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "person", "component", "line_kind", "booking_id", "amount",
                    "currency"]
    list_filter = ["line_kind"]
    search_fields = ["person__name", "line_key"]
    list_select_related = ["person"]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "person", "period_start", "earned", "payout", "currency"]
    search_fields = ["person__name"]
    list_select_related = ["person"]


@admin.register(PriorAdjustment)
class PriorAdjustmentAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "person", "period_start", "component", "change", "amount",
                    "currency"]
    list_select_related = ["person"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "person", "run", "status", "raised_at", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["person"]


@admin.register(PayrollExport)
class PayrollExportAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "exported_at", "exported_by", "file_format", "rows"]
