"""Django admin for imports: jobs (read-only: they are records of what happened) and mapping
profiles (edited on the mapping page, which checks them; shown here for reference)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from attain.ingest.models import ImportJob, MappingProfile, QualityFinding, QualityScore


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "original_name", "mapping_name", "dry_run", "status", "rows",
                    "error_count", "warning_count", "created_at", "requested_by"]
    list_filter = ["status", "dry_run", "mapping_name"]
    search_fields = ["original_name", "mapping_name"]


@admin.register(MappingProfile)
class MappingProfileAdmin(ReadOnlyAdmin):
    list_display = ["name", "entity", "description", "updated_at", "created_by"]
    search_fields = ["name", "description"]


# --- Data quality: findings and scores of data-quality runs (read-only records of a run) ---


@admin.register(QualityFinding)
class QualityFindingAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "check_name", "object_type", "object_id", "label", "group_key",
                    "number"]
    list_filter = ["check_name", "object_type"]
    search_fields = ["label", "group_key"]


@admin.register(QualityScore)
class QualityScoreAdmin(ReadOnlyAdmin):
    list_display = ["run", "category", "score", "flagged", "checked", "findings"]
    list_filter = ["category"]
