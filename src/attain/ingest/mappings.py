"""Column mappings: which column of a file fills which field of which entity, with the value maps
and reading options the file needs. Built-in mappings cover the exports sales operations actually
has (Salesforce API names and report labels, HubSpot labels, Attain's own templates, the public
Superstore sample); a generic mapping built in the UI is stored as a `MappingProfile` in the same
shape (`definition`) and resolved by name like a built-in.

A definition is plain JSON:

    {"targets": [{"entity": "opportunity",
                  "columns": {"external_id": ["Id", "Opportunity ID"], ...},  # field → columns
                  "constants": {"currency": "USD"},           # field → fixed text
                  "value_maps": {"stage": {"Won": "Closed Won"}},  # field → {text → text}
                  "repeat": "unique" | "first" | "sum", "sum": ["amount"],
                  "filter": {"columns": ["Field"], "values": ["StageName"]}}],
     "date_order": "auto" | "mdy" | "dmy", "decimal_separator": "auto" | "." | ",",
     "currency": "USD"}

A target's `columns` lists, per field, the column names it may come from (the first present
wins; names compare case- and space-insensitively). `repeat` says what several rows with the same
key mean: an error (`unique`, the default), one record taken from the first row (`first`, e.g. the
customer repeated on every order line), or one record whose `sum` fields add up (`sum`, e.g. an
order whose amount is the sum of its lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from attain.core.errors import ActionError
from attain.ingest.entities import ENTITIES
from attain.ingest.parsing import DateOrder

REPEAT_MODES = ("unique", "first", "sum")


class MappingError(ActionError):
    """A mapping definition that cannot be used, with the field or name at fault."""


def normalise(column: str) -> str:
    return " ".join(column.replace("\ufeff", "").strip().lower().split())


@dataclass(frozen=True)
class Target:
    entity: str
    columns: dict[str, tuple[str, ...]]
    constants: dict[str, str] = field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    repeat: str = "unique"
    sum: tuple[str, ...] = ()
    filter_columns: tuple[str, ...] = ()
    filter_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    name: str
    label: str
    description: str
    targets: tuple[Target, ...]
    date_order: str = DateOrder.AUTO
    decimal_separator: str = "auto"
    currency: str = ""
    builtin: bool = True

    @property
    def entities(self) -> list[str]:
        return [t.entity for t in self.targets]


def _as_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


def from_definition(name: str, definition: dict[str, Any], *, label: str = "",
                    description: str = "", builtin: bool = False) -> Mapping:
    """A `Mapping` from its JSON definition, checked (entities, fields, options)."""
    targets = []
    raw_targets = definition.get("targets") or []
    if not raw_targets:
        raise MappingError(f"Mapping {name!r} has no target entity.", field="targets")
    for raw in raw_targets:
        entity_name = raw.get("entity", "")
        if entity_name not in ENTITIES:
            raise MappingError(f"Mapping {name!r}: unknown entity {entity_name!r}; use one of "
                               f"{', '.join(ENTITIES)}.", field="entity", value=entity_name)
        known = set(ENTITIES[entity_name].field_names)
        columns = {f: _as_list(c) for f, c in (raw.get("columns") or {}).items() if c}
        constants = {f: str(v) for f, v in (raw.get("constants") or {}).items() if v != ""}
        value_maps = {f: {normalise(k): str(v) for k, v in m.items() if str(k).strip()}
                      for f, m in (raw.get("value_maps") or {}).items() if m}
        for used in (*columns, *constants, *value_maps):
            if used not in known:
                raise MappingError(f"Mapping {name!r}: {entity_name} has no field {used!r}; its "
                                   f"fields are {', '.join(sorted(known))}.", field="columns",
                                   value=used)
        repeat = raw.get("repeat", "unique")
        if repeat not in REPEAT_MODES:
            raise MappingError(f"Mapping {name!r}: repeat must be one of {REPEAT_MODES}.",
                               field="repeat", value=repeat)
        filt = raw.get("filter") or {}
        targets.append(Target(entity_name, columns, constants, value_maps, repeat,
                              _as_list(raw.get("sum")), _as_list(filt.get("columns")),
                              _as_list(filt.get("values"))))
    date_order = definition.get("date_order", DateOrder.AUTO) or DateOrder.AUTO
    if date_order not in set(DateOrder):
        raise MappingError(f"date_order must be one of {', '.join(DateOrder)}.",
                           field="date_order", value=date_order)
    separator = definition.get("decimal_separator", "auto") or "auto"
    if separator not in {"auto", ".", ","}:
        raise MappingError("decimal_separator must be auto, '.' or ','.",
                           field="decimal_separator", value=separator)
    currency = (definition.get("currency") or "").upper()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        raise MappingError(f"{currency!r} is not a 3-letter currency code.", field="currency",
                           value=currency)
    return Mapping(name, label or name, description, tuple(targets), DateOrder(date_order),
                   separator, currency, builtin)


def generic_definition(entity: str, column_fields: dict[str, str], *,
                       value_maps: dict[str, dict[str, str]] | None = None,
                       constants: dict[str, str] | None = None, date_order: str = "auto",
                       decimal_separator: str = "auto", currency: str = "") -> dict[str, Any]:
    """The definition of a generic mapping built in the UI: `column_fields` maps each column of
    the file to a field of `entity` (a column left out is ignored)."""
    columns: dict[str, list[str]] = {}
    for column, field_name in column_fields.items():
        if field_name:
            columns.setdefault(field_name, []).append(column)
    return {"targets": [{"entity": entity, "columns": columns, "constants": constants or {},
                         "value_maps": value_maps or {}}],
            "date_order": date_order, "decimal_separator": decimal_separator,
            "currency": currency}


# --- built-in mappings --------------------------------------------------------------------------

SF_OWNER = ["OwnerId", "Owner.Email", "Owner.Name", "Opportunity Owner", "Owner Name",
            "Owner", "Owner Email", "Account Owner", "Lead Owner"]

HUBSPOT_STAGES = {
    "appointmentscheduled": "Prospecting", "appointment scheduled": "Prospecting",
    "qualifiedtobuy": "Qualification", "qualified to buy": "Qualification",
    "presentationscheduled": "Discovery", "presentation scheduled": "Discovery",
    "decisionmakerboughtin": "Proposal", "decision maker bought-in": "Proposal",
    "contractsent": "Negotiation", "contract sent": "Negotiation",
    "closedwon": "Closed Won", "closed won": "Closed Won",
    "closedlost": "Closed Lost", "closed lost": "Closed Lost",
}

BUILTIN_DEFINITIONS: dict[str, dict[str, Any]] = {
    "salesforce-opportunities": {
        "label": "Salesforce · Opportunities",
        "description": "An Opportunity export (Data Loader / Workbench API names such as "
                       "StageName, CloseDate, ForecastCategoryName, IsWon, IsClosed) or an "
                       "opportunity report export (labels such as Stage, Close Date, "
                       "Opportunity Owner).",
        "targets": [{"entity": "opportunity", "columns": {
            "external_id": ["Id", "Opportunity ID", "Opportunity Id", "Opportunity 18 Digit ID"],
            "name": ["Name", "Opportunity Name"],
            "account": ["AccountId", "Account ID", "Account.Name", "Account Name"],
            "owner": SF_OWNER,
            "amount": ["Amount", "Amount (converted)"],
            "currency": ["CurrencyIsoCode", "Opportunity Currency", "Amount Currency",
                         "Currency"],
            "stage": ["StageName", "Stage"],
            "forecast_category": ["ForecastCategoryName", "ForecastCategory",
                                  "Forecast Category"],
            "deal_type": ["Type", "Opportunity Type"],
            "source": ["LeadSource", "Lead Source"],
            "created_at": ["CreatedDate", "Created Date"],
            "close_date": ["CloseDate", "Close Date"],
            "is_closed": ["IsClosed", "Closed"],
            "is_won": ["IsWon", "Won"],
            "loss_reason": ["Loss_Reason__c", "Loss Reason"],
            "product": ["Product__c", "Primary_Product__c", "Product", "Primary Product",
                        "Product Name"],
            "partner": ["PartnerAccount.Name", "Partner Account",
                        "Partner Account: Account Name", "Partner"],
            "modified_at": ["LastModifiedDate", "SystemModstamp", "Last Modified Date",
                            "Last Stage Change Date"],
        }}],
    },
    "salesforce-opportunity-splits": {
        "label": "Salesforce · Opportunity splits",
        "description": "An OpportunitySplit export (OpportunityId, SplitOwnerId, "
                       "SplitPercentage, SplitType.MasterLabel or SplitType.DeveloperName) or an "
                       "'Opportunities with Opportunity Splits' report (Opportunity ID, Split "
                       "Owner, Split Percentage, Split Type). The file lists every split of the "
                       "opportunities it names: revenue splits must sum to 100 %; stored splits "
                       "missing from the file are removed. A bare SplitTypeId needs a value map "
                       "to revenue / overlay in a profile.",
        "targets": [{"entity": "opportunity_split", "columns": {
            "opportunity": ["OpportunityId", "Opportunity ID", "Opportunity Id"],
            "person": ["SplitOwnerId", "SplitOwner.Email", "Split Owner", "Split Owner ID",
                       "Split Owner: Full Name"],
            "percent": ["SplitPercentage", "Split Percentage", "Split %"],
            "kind": ["SplitType.DeveloperName", "SplitType.MasterLabel", "Split Type",
                     "Split Type Name", "SplitTypeId"],
        }, "value_maps": {"kind": {"Revenue": "revenue", "Overlay": "overlay",
                                   "Opportunity Revenue": "revenue",
                                   "Overlays": "overlay"}}}],
    },
    "salesforce-opportunity-history": {
        "label": "Salesforce · Opportunity history",
        "description": "OpportunityHistory (OpportunityId, StageName, CreatedDate, Amount, "
                       "CloseDate) or OpportunityFieldHistory (OpportunityId, Field, NewValue, "
                       "CreatedDate; only StageName rows are read), or the 'Opportunity History' "
                       "report (Opportunity ID, To Stage, Last Modified / Edit Date).",
        "targets": [{"entity": "stage_change", "columns": {
            "opportunity": ["OpportunityId", "Opportunity ID", "Opportunity Id"],
            "stage": ["StageName", "NewValue", "To Stage", "Stage", "New Value"],
            "from_stage": ["OldValue", "Old Value", "From Stage"],
            "changed_at": ["CreatedDate", "Edit Date", "Last Modified", "Created Date"],
            "amount": ["Amount"],
            "close_date": ["CloseDate", "Close Date"],
        }, "filter": {"columns": ["Field"], "values": ["StageName", "Stage", "opportunity.stage"
                                                       ]}}],
    },
    "salesforce-accounts": {
        "label": "Salesforce · Accounts",
        "description": "An Account export (Id, Name, Website, Industry, Type, BillingCountry, "
                       "OwnerId, CreatedDate) or an account report (Account ID, Account Name, "
                       "Account Owner …).",
        "targets": [{"entity": "account", "columns": {
            "external_id": ["Id", "Account ID", "Account Id"],
            "name": ["Name", "Account Name"],
            "domain": ["Website", "Domain"],
            "industry": ["Industry"],
            "customer_type": ["Type", "Account Type"],
            "country": ["BillingCountryCode", "BillingCountry", "Billing Country"],
            "owner": SF_OWNER,
            "created_at": ["CreatedDate", "Created Date"],
        }}],
    },
    "salesforce-users": {
        "label": "Salesforce · Users",
        "description": "A User export (Id, Name or FirstName/LastName, Email, Title, ManagerId, "
                       "CurrencyIsoCode) or a users report (User ID, Full Name, Manager …).",
        "targets": [{"entity": "person", "columns": {
            "external_id": ["Id", "User ID", "User Id"],
            "name": ["Name", "Full Name"],
            "first_name": ["FirstName", "First Name"],
            "last_name": ["LastName", "Last Name"],
            "email": ["Email"],
            "title": ["Title"],
            "role": ["Attain_Role__c", "Attain Role"],
            "currency": ["DefaultCurrencyIsoCode", "CurrencyIsoCode", "Currency"],
            "manager": ["ManagerId", "Manager.Email", "Manager", "Manager Name"],
            "hired_on": ["Hire_Date__c", "Hire Date", "StartDay"],
        }}],
    },
    "salesforce-leads": {
        "label": "Salesforce · Leads",
        "description": "A Lead export (Id, FirstName, LastName, Company, LeadSource, Status, "
                       "OwnerId, CreatedDate, ConvertedDate, ConvertedOpportunityId) or a leads "
                       "report (Lead ID, Lead Status, Lead Owner …).",
        "targets": [{"entity": "lead", "columns": {
            "external_id": ["Id", "Lead ID", "Lead Id"],
            "name": ["Name", "Full Name"],
            "first_name": ["FirstName", "First Name"],
            "last_name": ["LastName", "Last Name"],
            "company": ["Company", "Company / Account"],
            "source": ["LeadSource", "Lead Source"],
            "status": ["Status", "Lead Status"],
            "is_converted": ["IsConverted", "Converted"],
            "owner": SF_OWNER,
            "created_at": ["CreatedDate", "Create Date", "Created Date"],
            "converted_at": ["ConvertedDate", "Converted Date"],
            "converted_opportunity": ["ConvertedOpportunityId", "Converted Opportunity ID"],
        }}],
    },
    "hubspot-deals": {
        "label": "HubSpot · Deals",
        "description": "A deals export (Record ID, Deal Name, Deal Stage, Amount, Close Date, "
                       "Create Date, Deal owner …). HubSpot's default pipeline stages are mapped "
                       "to Attain's default stages; add others in a profile.",
        "targets": [{"entity": "opportunity", "columns": {
            "external_id": ["Record ID", "Deal ID", "hs_object_id"],
            "name": ["Deal Name", "dealname"],
            "account": ["Associated Company IDs (Primary)", "Associated Company ID",
                        "Associated Company", "Company name"],
            "owner": ["Deal owner", "Deal Owner", "hubspot_owner_id", "Owner"],
            "amount": ["Amount", "amount"],
            "currency": ["Currency", "deal_currency_code"],
            "stage": ["Deal Stage", "dealstage"],
            "forecast_category": ["Forecast category", "hs_manual_forecast_category"],
            "deal_type": ["Deal Type", "dealtype"],
            "source": ["Original Source Type", "Original Traffic Source", "Lead Source"],
            "created_at": ["Create Date", "createdate"],
            "close_date": ["Close Date", "closedate"],
            "loss_reason": ["Closed Lost Reason", "closed_lost_reason"],
            "modified_at": ["Last Modified Date", "hs_lastmodifieddate"],
        }, "value_maps": {"stage": HUBSPOT_STAGES}}],
    },
    "hubspot-companies": {
        "label": "HubSpot · Companies",
        "description": "A companies export (Record ID, Company name, Company Domain Name, "
                       "Industry, Type, Country/Region, Company owner, Create Date).",
        "targets": [{"entity": "account", "columns": {
            "external_id": ["Record ID", "Company ID", "hs_object_id"],
            "name": ["Company name", "Name"],
            "domain": ["Company Domain Name", "Website URL", "domain"],
            "industry": ["Industry"],
            "customer_type": ["Type", "Lifecycle Stage"],
            "country": ["Country/Region", "Country"],
            "owner": ["Company owner", "Company Owner", "hubspot_owner_id"],
            "created_at": ["Create Date", "createdate"],
        }}],
    },
    "hubspot-owners": {
        "label": "HubSpot · Owners (users)",
        "description": "An owners / users export (Owner ID or User ID, First Name, Last Name, "
                       "Email, Team).",
        "targets": [{"entity": "person", "columns": {
            "external_id": ["Owner ID", "User ID", "ID", "id"],
            "first_name": ["First Name", "firstName"],
            "last_name": ["Last Name", "lastName"],
            "name": ["Name", "Full Name"],
            "email": ["Email", "email"],
            "team": ["Team", "Primary Team", "Teams"],
        }}],
    },
    "hubspot-contacts": {
        "label": "HubSpot · Contacts",
        "description": "A contacts export (Record ID, First Name, Last Name, Email, Job Title, "
                       "Associated Company, Create Date).",
        "targets": [{"entity": "contact", "columns": {
            "external_id": ["Record ID", "Contact ID", "hs_object_id"],
            "first_name": ["First Name", "firstname"],
            "last_name": ["Last Name", "lastname"],
            "email": ["Email", "email"],
            "title": ["Job Title", "jobtitle"],
            "account": ["Associated Company IDs (Primary)", "Associated Company ID",
                        "Associated Company", "Company Name"],
            "created_at": ["Create Date", "createdate"],
        }}],
    },
    "superstore": {
        "label": "Sample - Superstore (order lines)",
        "description": "The public 'Sample - Superstore' order lines: customers become accounts "
                       "(with segment and region), products, one won opportunity per order "
                       "(amount = sum of its lines), one booking per order line. Dates m/d/yyyy.",
        "date_order": "mdy", "decimal_separator": ".", "currency": "USD",
        "targets": [
            {"entity": "account", "repeat": "first", "columns": {
                "external_id": ["Customer ID"], "name": ["Customer Name"],
                "customer_type": ["Segment"], "country": ["Country"]}},
            {"entity": "product", "repeat": "first", "columns": {
                "external_id": ["Product ID"], "name": ["Product Name"],
                "family": ["Category"]}},
            {"entity": "opportunity", "repeat": "sum", "sum": ["amount"], "columns": {
                "external_id": ["Order ID"], "name": ["Order ID"], "account": ["Customer ID"],
                "amount": ["Sales"], "region": ["Region"], "created_at": ["Order Date"],
                "close_date": ["Order Date"]},
             "constants": {"stage": "Closed Won"}},
            {"entity": "booking", "columns": {
                "external_id": ["Row ID"], "opportunity": ["Order ID"],
                "product": ["Product ID"], "quantity": ["Quantity"], "amount": ["Sales"],
                "booked_on": ["Order Date"]}},
        ],
    },
}

# Attain's own templates: a file whose columns are the entity's field names.
for _entity in ENTITIES.values():
    BUILTIN_DEFINITIONS[f"attain-{_entity.name.replace('_', '-')}"] = {
        "label": f"Attain template · {_entity.plural.capitalize()}",
        "description": f"A file whose columns are Attain's {_entity.label.lower()} field names: "
                       f"{', '.join(_entity.field_names)}.",
        "targets": [{"entity": _entity.name,
                     "columns": {f: [f, ENTITIES[_entity.name].field(f).label]
                                 for f in _entity.field_names}}],
    }


def builtin_mappings() -> dict[str, Mapping]:
    return {name: from_definition(name, {k: v for k, v in d.items()
                                         if k not in {"label", "description"}},
                                  label=d["label"], description=d["description"], builtin=True)
            for name, d in BUILTIN_DEFINITIONS.items()}


BUILTINS = builtin_mappings()
