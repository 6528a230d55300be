"""Django admin for CRM records (ops only, audited)."""

from __future__ import annotations

from django.contrib import admin

from attain.core.admin import AuditedModelAdmin
from attain.crm.models import (
    Account,
    Booking,
    Contact,
    ExchangeRate,
    Lead,
    Opportunity,
    OpportunitySplit,
    Product,
    Stage,
    StageChange,
)


@admin.register(Account)
class AccountAdmin(AuditedModelAdmin):
    list_display = ["name", "external_id", "segment", "industry", "country", "owner", "created_at"]
    list_filter = ["segment", "country", "industry"]
    search_fields = ["name", "external_id", "domain"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]


@admin.register(Contact)
class ContactAdmin(AuditedModelAdmin):
    list_display = ["name", "external_id", "account", "email", "title", "created_at"]
    search_fields = ["name", "external_id", "email", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Product)
class ProductAdmin(AuditedModelAdmin):
    list_display = ["name", "external_id", "family", "list_price", "currency", "active"]
    list_filter = ["family", "currency", "active"]
    search_fields = ["name", "external_id"]


@admin.register(Lead)
class LeadAdmin(AuditedModelAdmin):
    list_display = ["name", "external_id", "company", "source", "status", "owner", "created_at"]
    list_filter = ["status", "source"]
    search_fields = ["name", "external_id", "company"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner", "converted_opportunity"]
    date_hierarchy = "created_at"


@admin.register(Stage)
class StageAdmin(AuditedModelAdmin):
    list_display = ["name", "pipeline", "order", "probability", "forecast_category", "is_won",
                    "is_lost"]
    list_filter = ["pipeline", "forecast_category", "is_won", "is_lost"]
    search_fields = ["name"]


@admin.register(Opportunity)
class OpportunityAdmin(AuditedModelAdmin):
    list_display = ["name", "external_id", "account", "owner", "amount", "currency", "stage",
                    "close_date", "is_closed", "is_won"]
    list_filter = ["stage", "is_closed", "is_won", "deal_type", "forecast_category", "segment",
                   "source", "currency"]
    search_fields = ["name", "external_id", "account__name", "owner__name"]
    list_select_related = ["account", "owner", "stage"]
    raw_id_fields = ["account", "owner"]
    date_hierarchy = "close_date"


@admin.register(StageChange)
class StageChangeAdmin(AuditedModelAdmin):
    list_display = ["opportunity", "from_stage", "to_stage", "changed_at", "amount", "close_date"]
    list_filter = ["to_stage"]
    search_fields = ["opportunity__name", "opportunity__external_id"]
    list_select_related = ["opportunity", "from_stage", "to_stage"]
    raw_id_fields = ["opportunity"]
    date_hierarchy = "changed_at"


@admin.register(Booking)
class BookingAdmin(AuditedModelAdmin):
    list_display = ["external_id", "booked_on", "owner", "team", "product", "quantity", "amount",
                    "currency"]
    list_filter = ["currency", "team", "product__family"]
    search_fields = ["external_id", "owner__name", "opportunity__name", "opportunity__external_id"]
    list_select_related = ["owner", "team", "product"]
    raw_id_fields = ["opportunity", "owner", "product"]
    date_hierarchy = "booked_on"


@admin.register(OpportunitySplit)
class OpportunitySplitAdmin(AuditedModelAdmin):
    list_display = ["opportunity", "person", "kind", "percent"]
    list_filter = ["kind"]
    search_fields = ["opportunity__external_id", "opportunity__name", "person__name"]
    list_select_related = ["opportunity", "person"]
    raw_id_fields = ["opportunity", "person"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(AuditedModelAdmin):
    list_display = ["currency", "month_start", "rate"]
    list_filter = ["currency"]
    search_fields = ["currency"]
    date_hierarchy = "month_start"
