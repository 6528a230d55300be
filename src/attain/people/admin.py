"""Django admin for people, teams, reporting lines and API tokens (ops only, audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from attain.core.admin import AuditedModelAdmin
from attain.people.models import ApiToken, Person, Region, ReportingLine, Team


@admin.register(Region)
class RegionAdmin(AuditedModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["name", "region", "segment"]
    list_filter = ["region", "segment"]
    search_fields = ["name"]
    list_select_related = ["region"]


@admin.register(Person)
class PersonAdmin(AuditedModelAdmin):
    list_display = ["name", "external_id", "role", "title", "email", "user", "hired_on",
                    "left_on", "currency"]
    list_filter = ["role", "currency", "hired_on", "left_on"]
    search_fields = ["name", "external_id", "email", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


@admin.register(ReportingLine)
class ReportingLineAdmin(AuditedModelAdmin):
    list_display = ["person", "manager", "team", "valid_from", "valid_to"]
    list_filter = ["team", "valid_from", "valid_to"]
    search_fields = ["person__name", "person__external_id", "manager__name"]
    list_select_related = ["person", "manager", "team"]
    raw_id_fields = ["person", "manager"]
    date_hierarchy = "valid_from"


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    """Tokens are issued with `attain apitoken` (the plain token is shown once); here ops can see
    and revoke (delete) them."""

    list_display = ["name", "user", "key_prefix", "created_at", "last_used_at"]
    search_fields = ["name", "user__username", "key_prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "key_hash", "key_prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
