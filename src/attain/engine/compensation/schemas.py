"""Compensation schemas: the published JSON Schema of a plan definition and the logical tables
the compensation run reads and returns.

**One source.** `PLAN_JSON_SCHEMA` below is the schema; `plan.schema.json` beside this module is
generated from it (`python -m attain.engine.compensation.schemas` rewrites it, a test fails when
the two differ). The payout section (`payout:`) is described by comp-payouts'
`payouts.PAYOUT_JSON_SCHEMA` when that module defines one, else accepted as any mapping and checked
by `payouts.parse_payout_rules`.

Value formats used throughout the schema:
- a **percent** is a string with a `%` sign: `"6%"`, `"12.5%"` (never a bare 0.06 — no guessing
  whether 6 means 6% or 600%);
- an **amount** is a number or a numeric string in the plan's currency: `3000`, `"2500.50"`;
  numbers are read exactly (YAML floats become `Decimal` of the written digits);
- a **date** is `YYYY-MM-DD`; windows are half-open `[from, to)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from attain.engine.schemas import (
    EXCHANGE_RATES,
    MONEY,
    PERF_QUOTA_VERSIONS,
    PERF_REPORTING_LINES,
    PERIODS,
    RATE,
    LogicalTable,
    register_logical_tables,
)

PERCENT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?%$"
AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DEAL_TYPES = ("new", "expansion", "renewal")
CREDIT_KINDS = ("owner", "split", "overlay", "roll_up")
COMPONENT_KINDS = ("commission", "team", "bonus", "spiff", "mbo")

_PERCENT: dict[str, Any] = {"type": "string", "pattern": PERCENT_PATTERN}
_AMOUNT: dict[str, Any] = {"oneOf": [{"type": "number"},
                                     {"type": "string", "pattern": AMOUNT_PATTERN}]}
NON_NEGATIVE_AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_POSITIVE_AMOUNT: dict[str, Any] = {"oneOf": [
    {"type": "number", "minimum": 0},
    {"type": "string", "pattern": NON_NEGATIVE_AMOUNT_PATTERN}]}
_DATE: dict[str, Any] = {"type": "string", "pattern": DATE_PATTERN}
_NAMES: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1},
                          "minItems": 1, "uniqueItems": True}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


_WHERE = _object({
    "product_family": _NAMES,
    "deal_type": {"type": "array", "items": {"enum": list(DEAL_TYPES)}, "minItems": 1,
                  "uniqueItems": True},
    "segment": _NAMES,
    "partner": {"type": "boolean"},
})
_RATE_RULE = _object({
    "product_family": {"type": "string", "minLength": 1},
    "deal_type": {"enum": list(DEAL_TYPES)},
    "segment": {"type": "string", "minLength": 1},
    "rate": _PERCENT,
}, required=("rate",))
_BAND = _object({
    "from": {"oneOf": [_PERCENT, _AMOUNT]},
    "to": {"oneOf": [_PERCENT, _AMOUNT]},
    "rate": _PERCENT,
    "multiplier": _AMOUNT,
}, required=("from",))
_TIERS = _object({
    "basis": {"enum": ["attainment", "amount"]},
    "mode": {"enum": ["marginal", "retroactive"]},
    "bands": {"type": "array", "items": _BAND, "minItems": 1},
}, required=("basis", "mode", "bands"))
_CAPS = _object({
    "per_line": _POSITIVE_AMOUNT,
    "per_period": _POSITIVE_AMOUNT,
    "per_plan_year": _POSITIVE_AMOUNT,
})
_CREDITS = {"type": "array", "items": {"enum": list(CREDIT_KINDS)}, "minItems": 1,
            "uniqueItems": True}
_MEASUREMENT = {"enum": ["period", "ytd"]}
_COMMON = {"name": {"type": "string", "minLength": 1, "maxLength": 80},
           "kind": {"enum": list(COMPONENT_KINDS)},
           "description": {"type": "string"}}

_COMPONENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "commission": _object({
        **_COMMON,
        "credits": _CREDITS,
        "measurement": _MEASUREMENT,
        "where": _WHERE,
        "rate": _PERCENT,
        "share_of_target_incentive": _PERCENT,
        "rates": {"type": "array", "items": _RATE_RULE, "minItems": 1},
        "tiers": _TIERS,
        "threshold": _PERCENT,
        "caps": _CAPS,
    }, required=("name", "kind")),
    "team": _object({
        **_COMMON,
        "measurement": _MEASUREMENT,
        "share_of_target_incentive": _PERCENT,
        "tiers": _TIERS,
        "threshold": _PERCENT,
        "caps": _CAPS,
    }, required=("name", "kind", "share_of_target_incentive")),
    "bonus": _object({
        **_COMMON,
        "on": {"enum": ["individual", "team"]},
        "measurement": {"enum": ["period", "ytd", "plan_year"]},
        "step": {"type": "array", "minItems": 1, "items": _object({
            "at": _PERCENT, "amount": _POSITIVE_AMOUNT, "share_of_target_incentive": _PERCENT,
        }, required=("at",))},
        "linear": _object({
            "from": _object({"attainment": _PERCENT, "amount": _POSITIVE_AMOUNT},
                            required=("attainment", "amount")),
            "to": _object({"attainment": _PERCENT, "amount": _POSITIVE_AMOUNT},
                          required=("attainment", "amount")),
        }, required=("from", "to")),
    }, required=("name", "kind")),
    "spiff": _object({
        **_COMMON,
        "source": {"enum": ["bookings", "manual"]},
        "from": _DATE,
        "to": _DATE,
        "credits": _CREDITS,
        "where": _WHERE,
        "amount_per_deal": _POSITIVE_AMOUNT,
        "rate": _PERCENT,
        "caps": _CAPS,
    }, required=("name", "kind", "from", "to")),
    "mbo": _object({
        **_COMMON,
        "max_amount": _POSITIVE_AMOUNT,
        "share_of_target_incentive": _PERCENT,
    }, required=("name", "kind")),
}


def _payout_schema() -> dict[str, Any]:
    try:
        from attain.engine.compensation import payouts
    except ImportError:  # comp-payouts' module not there yet
        return {"type": "object"}
    schema = getattr(payouts, "PAYOUT_JSON_SCHEMA", None)
    return dict(schema) if isinstance(schema, dict) else {"type": "object"}


def build_plan_json_schema() -> dict[str, Any]:
    """The plan definition's JSON Schema (draft 2020-12), built from the parts above."""
    component: dict[str, Any] = {
        "type": "object",
        "required": ["name", "kind"],
        "properties": {"kind": {"enum": list(COMPONENT_KINDS)}},
        "allOf": [
            {"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
             "then": {"$ref": f"#/$defs/{kind}"}}
            for kind in COMPONENT_KINDS
        ],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://attain.example/schemas/compensation-plan.schema.json",
        "title": "Attain compensation plan",
        "description": "A versioned incentive compensation plan (see "
                       "attain.engine.compensation.plans for the format and an example).",
        **_object({
            "plan": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "period": {"enum": ["month", "quarter", "year"]},
            "plan_year_start_month": {"type": "integer", "minimum": 1, "maximum": 12},
            "rounding": _object({"mode": {"enum": ["half_even", "half_up"]}}),
            "proration": _object({"method": {"enum": ["days", "none"]}}),
            "crediting": _object({
                "owner": {"type": "boolean"},
                "splits": {"type": "boolean"},
                "roll_up": _object({"levels": {"type": "integer", "minimum": 1,
                                               "maximum": 8}}, required=("levels",)),
                "multi_year": _object({"year_percents": {"type": "array", "items": _PERCENT,
                                                         "minItems": 1, "maxItems": 10}},
                                      required=("year_percents",)),
                "partner": _object({"basis": {"enum": ["net", "gross"]}, "uplift": _PERCENT},
                                   required=("basis",)),
            }),
            "components": {"type": "array", "items": {"$ref": "#/$defs/component"},
                           "minItems": 1},
            "payout": _payout_schema(),
        }, required=("plan", "currency", "period", "components")),
        "$defs": {"component": component, **_COMPONENT_SCHEMAS},
    }


# --- logical tables of the compensation run --------------------------------------------------

# Reused from attain.engine.schemas: EXCHANGE_RATES (company-currency units per unit of a
# currency, per month), PERIODS, PERF_QUOTA_VERSIONS (quotas of people and teams per period, in
# the company currency), PERF_REPORTING_LINES (the effective-dated hierarchy, for roll-up credit
# and team membership).
REUSED_TABLES = (EXCHANGE_RATES, PERIODS, PERF_QUOTA_VERSIONS, PERF_REPORTING_LINES)

COMP_BOOKINGS = LogicalTable("comp_bookings", pa.schema([
    pa.field("booking_id", pa.int64(), nullable=False),
    pa.field("opportunity_id", pa.int64()),  # null: an order line without an opportunity
    pa.field("owner_id", pa.int64()),  # null: nobody's (only splits can credit it)
    pa.field("product_id", pa.int64()),
    pa.field("product_family", pa.string(), nullable=False),  # "" when unknown
    pa.field("deal_type", pa.string(), nullable=False),  # new | expansion | renewal | ""
    pa.field("segment", pa.string(), nullable=False),  # "" when unknown
    pa.field("is_partner", pa.bool_(), nullable=False),
    pa.field("net_amount", MONEY),  # partner deals: the amount net of the partner's margin
    pa.field("contract_years", pa.int64(), nullable=False),  # 1 for a one-year deal
    pa.field("booked_on", pa.date32(), nullable=False),
    pa.field("invoiced_on", pa.date32()),
    pa.field("paid_on", pa.date32()),
    pa.field("cancelled_on", pa.date32()),
    pa.field("amount", MONEY, nullable=False),  # total contract value, booking currency
    pa.field("currency", pa.string(), nullable=False),
    pa.field("quantity", pa.int64(), nullable=False),
]), key=("booking_id",))

COMP_SPLITS = LogicalTable("comp_splits", pa.schema([
    pa.field("opportunity_id", pa.int64(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("percent", pa.decimal128(9, 4), nullable=False),  # 60.0000 means 60 %
    pa.field("kind", pa.string(), nullable=False),  # revenue | overlay
]), key=("opportunity_id", "person_id", "kind"))

COMP_ASSIGNMENTS = LogicalTable("comp_assignments", pa.schema([
    pa.field("assignment_id", pa.int64(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("valid_from", pa.date32(), nullable=False),
    pa.field("valid_to", pa.date32()),  # excluded; null: open-ended
    # target incentive for a full plan year, in `currency` (the payee's currency)
    pa.field("target_incentive", MONEY, nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("team_id", pa.int64()),  # the team whose attainment the team component uses
]), key=("assignment_id",))

COMP_MANUAL_LINES = LogicalTable("comp_manual_lines", pa.schema([
    pa.field("manual_line_id", pa.int64(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),  # the plan component's name
    pa.field("earned_on", pa.date32(), nullable=False),
    pa.field("amount", MONEY, nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("entered_by_id", pa.int64()),
]), key=("manual_line_id",))

COMP_PRIOR_EARNINGS = LogicalTable("comp_prior_earnings", pa.schema([
    # what locked runs of earlier periods of the plan year earned per component (for plan-year
    # caps); optional input, empty when none
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("period_start", pa.date32(), nullable=False),
    pa.field("amount", MONEY, nullable=False),
    pa.field("currency", pa.string(), nullable=False),
]), key=("person_id", "component", "period_start"))

COMP_CREDITS = LogicalTable("comp_credits", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("assignment_id", pa.int64(), nullable=False),
    pa.field("booking_id", pa.int64(), nullable=False),
    pa.field("credit_kind", pa.string(), nullable=False),  # owner | split | overlay | roll_up
    pa.field("booked_on", pa.date32(), nullable=False),
    pa.field("percent", pa.decimal128(9, 4), nullable=False),
    pa.field("credited_amount", MONEY, nullable=False),  # company currency, shown to the cent
    pa.field("rule", pa.string(), nullable=False),  # plain words: how the credit was derived
]), key=("assignment_id", "booking_id", "credit_kind"))

COMP_MEASURES = LogicalTable("comp_measures", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("assignment_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    # credited_period, credited_ytd (company currency), quota_basis, attainment (1 = 100 %),
    # team_credited, team_quota, team_attainment, target_incentive_period (payee currency)
    pa.field("measure", pa.string(), nullable=False),
    pa.field("value", pa.decimal128(28, 8), nullable=False),
]), key=("assignment_id", "component", "measure"))

COMP_EARNING_LINES = LogicalTable("comp_earning_lines", pa.schema([
    pa.field("line_key", pa.string(), nullable=False),  # stable across re-runs
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("assignment_id", pa.int64(), nullable=False),
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("period_start", pa.date32(), nullable=False),
    pa.field("period_end", pa.date32(), nullable=False),  # excluded
    pa.field("component", pa.string(), nullable=False),
    pa.field("line_kind", pa.string(), nullable=False),
    pa.field("booking_id", pa.int64()),
    pa.field("credit_kind", pa.string()),  # owner | split | overlay | roll_up; null: no credit
    pa.field("credited_amount", MONEY),  # company currency
    pa.field("measure_value", pa.decimal128(28, 8)),  # attainment (1 = 100 %) or amount
    pa.field("tier", pa.int64()),  # 1-based band; null when no tiers
    pa.field("rate", RATE),
    pa.field("amount", MONEY, nullable=False),  # payee currency, rounded once
    pa.field("currency", pa.string(), nullable=False),
    pa.field("trace", pa.string(), nullable=False),  # JSON list of plain-words steps
]), key=("line_key",))

# --- plan parameters as tables (built from `Plan`s by `calculation.plan_parameters`) ----------

PLAN_SETTINGS = LogicalTable("comp_plan_settings", pa.schema([
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("plan_currency", pa.string(), nullable=False),
    pa.field("period_kind", pa.string(), nullable=False),  # month | quarter | year
    pa.field("periods_per_year", pa.int64(), nullable=False),  # 12 | 4 | 1
    pa.field("year_start", pa.date32(), nullable=False),  # of the plan year holding the run
    pa.field("year_end", pa.date32(), nullable=False),
    pa.field("half_even", pa.bool_(), nullable=False),
    pa.field("prorate", pa.bool_(), nullable=False),
    pa.field("owner", pa.bool_(), nullable=False),
    pa.field("splits", pa.bool_(), nullable=False),
    pa.field("roll_up_levels", pa.int64(), nullable=False),
    pa.field("partner_net", pa.bool_(), nullable=False),
    pa.field("partner_uplift", RATE, nullable=False),
]), key=("plan_version_id",))

PLAN_MULTI_YEAR = LogicalTable("comp_plan_multi_year", pa.schema([
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("contract_years", pa.int64(), nullable=False),
    pa.field("percent_sum", RATE, nullable=False),  # sum of the year fractions credited
]), key=("plan_version_id", "contract_years"))

PLAN_COMPONENTS = LogicalTable("comp_plan_components", pa.schema([
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("position", pa.int64(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("measurement", pa.string(), nullable=False),  # period | ytd | plan_year
    pa.field("credit_kinds", pa.string(), nullable=False),  # ",owner,split,"
    pa.field("families", pa.string(), nullable=False),  # ",A,B," or "" for any
    pa.field("deal_types", pa.string(), nullable=False),
    pa.field("segments", pa.string(), nullable=False),
    pa.field("partner", pa.bool_()),
    pa.field("base_rate", RATE),
    pa.field("share", RATE),  # of the target incentive
    pa.field("threshold", RATE),
    pa.field("tier_basis", pa.string()),
    pa.field("tier_mode", pa.string()),
    pa.field("cap_line", MONEY),  # plan currency
    pa.field("cap_period", MONEY),
    pa.field("cap_year", MONEY),
    pa.field("window_from", pa.date32()),
    pa.field("window_to", pa.date32()),
    pa.field("per_deal", MONEY),
    pa.field("source", pa.string(), nullable=False),  # bookings | manual
    pa.field("subject", pa.string(), nullable=False),  # individual | team
    pa.field("linear_from_att", RATE),
    pa.field("linear_from_amount", MONEY),
    pa.field("linear_to_att", RATE),
    pa.field("linear_to_amount", MONEY),
    pa.field("max_amount", MONEY),
]), key=("plan_version_id", "component"))

PLAN_RATES = LogicalTable("comp_plan_rates", pa.schema([
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("priority", pa.int64(), nullable=False),
    pa.field("product_family", pa.string()),
    pa.field("deal_type", pa.string()),
    pa.field("segment", pa.string()),
    pa.field("rate", RATE, nullable=False),
]), key=("plan_version_id", "component", "priority"))

PLAN_BANDS = LogicalTable("comp_plan_bands", pa.schema([
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("band", pa.int64(), nullable=False),  # 1-based
    pa.field("lower", pa.decimal128(28, 8), nullable=False),
    pa.field("upper", pa.decimal128(28, 8)),
    pa.field("rate", RATE),
    pa.field("multiplier", RATE),
]), key=("plan_version_id", "component", "band"))

PLAN_STEPS = LogicalTable("comp_plan_steps", pa.schema([
    pa.field("plan_version_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("step", pa.int64(), nullable=False),
    pa.field("at", RATE, nullable=False),
    pa.field("amount", MONEY),
    pa.field("share", RATE),
]), key=("plan_version_id", "component", "step"))

# per assignment and component: the ratios of the run, computed exactly once (calculation.py)
COMP_FACTORS = LogicalTable("comp_factors", pa.schema([
    pa.field("assignment_id", pa.int64(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("quota_basis", pa.decimal128(28, 8)),  # the amount 100 % attainment stands for
    pa.field("inv_quota", pa.decimal128(18, 12)),  # 1 / quota_basis, for display
    pa.field("to_payee", pa.decimal128(18, 12), nullable=False),  # company -> payee currency
    pa.field("plan_to_payee", pa.decimal128(18, 12), nullable=False),
    pa.field("share_rate", pa.decimal128(18, 12)),  # payee per company unit, from the TI share
    pa.field("paying", pa.bool_(), nullable=False),  # threshold reached (or none)
    pa.field("hold_reason", pa.string(), nullable=False),  # why nothing is paid; "" if paying
    pa.field("final_band", pa.int64()),  # retroactive: the band reached at the period end
    pa.field("prior_band", pa.int64()),  # retroactive YTD: reached at the previous period end
    pa.field("payee_currency", pa.string(), nullable=False),
]), key=("assignment_id", "component"))

PLAN_TABLES = (COMP_FACTORS, PLAN_SETTINGS, PLAN_MULTI_YEAR, PLAN_COMPONENTS, PLAN_RATES,
               PLAN_BANDS,
               PLAN_STEPS)
INPUT_TABLES = (COMP_BOOKINGS, COMP_SPLITS, COMP_ASSIGNMENTS, COMP_MANUAL_LINES,
                COMP_PRIOR_EARNINGS, *REUSED_TABLES)
OUTPUT_TABLES = (COMP_CREDITS, COMP_MEASURES, COMP_EARNING_LINES)
register_logical_tables(*INPUT_TABLES, *OUTPUT_TABLES, *PLAN_TABLES)


# Built last, so `payouts` (which may import the tables above) can be imported from here.
PLAN_JSON_SCHEMA: dict[str, Any] = build_plan_json_schema()
PLAN_JSON_SCHEMA_PATH = Path(__file__).with_name("plan.schema.json")


def plan_json_schema_text() -> str:
    """The published file's exact text (sorted keys, two-space indent, final newline)."""
    return json.dumps(PLAN_JSON_SCHEMA, indent=2, sort_keys=True) + "\n"



def main() -> None:
    """Rewrite `plan.schema.json` from `PLAN_JSON_SCHEMA`."""
    PLAN_JSON_SCHEMA_PATH.write_text(plan_json_schema_text(), encoding="utf-8")


if __name__ == "__main__":
    main()
