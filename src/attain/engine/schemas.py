"""Logical table schemas: the columns and exact types every calculation reads and returns.

A logical table is what a calculation sees, whatever the table came from (an OLTP snapshot, a
Parquet file, a Spark table). `conform` checks an Arrow table against its logical schema and casts
it safely, so a wrong or lossy column fails loudly before any calculation runs.

Money is `decimal(18, 2)`, exchange rates `decimal(18, 8)`: decimal end to end, never float.
Dates are `date32`; periods are half-open `[start, end)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from attain.engine.errors import DuplicateKeyError, SchemaError

MONEY = pa.decimal128(18, 2)
RATE = pa.decimal128(18, 8)


@dataclass(frozen=True, slots=True)
class LogicalTable:
    """A named table: its Arrow schema and the columns that order its rows canonically."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]

    @property
    def ibis_schema(self) -> ibis.Schema:
        return ibis.Schema.from_pyarrow(self.schema)

    def empty(self) -> pa.Table:
        return self.schema.empty_table()


BOOKINGS = LogicalTable(
    "bookings",
    pa.schema([
        pa.field("booking_id", pa.int64(), nullable=False),
        pa.field("person_id", pa.int64()),  # null: an order line nobody owns
        pa.field("booked_on", pa.date32(), nullable=False),
        pa.field("amount", MONEY, nullable=False),
        pa.field("currency", pa.string(), nullable=False),
    ]),
    key=("booking_id",),
)

EXCHANGE_RATES = LogicalTable(
    "exchange_rates",
    pa.schema([
        pa.field("currency", pa.string(), nullable=False),
        pa.field("month_start", pa.date32(), nullable=False),
        # company-currency units per unit of `currency`; the company currency itself is 1
        pa.field("rate", RATE, nullable=False),
    ]),
    key=("currency", "month_start"),
)

PERIODS = LogicalTable(
    "periods",
    pa.schema([
        pa.field("period_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("start", pa.date32(), nullable=False),
        pa.field("end", pa.date32(), nullable=False),  # excluded
    ]),
    key=("period_id",),
)

BOOKINGS_BY_PERSON_PERIOD = LogicalTable(
    "bookings_by_person_period",
    pa.schema([
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("period_id", pa.int64(), nullable=False),
        pa.field("amount", MONEY, nullable=False),  # company currency, rounded once
        pa.field("booking_count", pa.int64(), nullable=False),
    ]),
    key=("person_id", "period_id"),
)

# --- data quality (inputs and findings of `calculations/data_quality.py`) ---------------------

DQ_ACCOUNTS = LogicalTable("dq_accounts", pa.schema([
    pa.field("account_id", pa.int64(), nullable=False),
    pa.field("name", pa.string(), nullable=False),
    pa.field("domain", pa.string()),
]), key=("account_id",))

DQ_LEADS = LogicalTable("dq_leads", pa.schema([
    pa.field("lead_id", pa.int64(), nullable=False),
    pa.field("company", pa.string()),
]), key=("lead_id",))

DQ_PRODUCTS = LogicalTable("dq_products", pa.schema([
    pa.field("product_id", pa.int64(), nullable=False),
    pa.field("name", pa.string(), nullable=False),
]), key=("product_id",))

DQ_OPPORTUNITIES = LogicalTable("dq_opportunities", pa.schema([
    pa.field("opportunity_id", pa.int64(), nullable=False),
    pa.field("name", pa.string(), nullable=False),
    pa.field("account_id", pa.int64()),
    pa.field("owner_id", pa.int64()),
    pa.field("amount", MONEY),  # null: no amount entered
    pa.field("currency", pa.string(), nullable=False),
    pa.field("stage_id", pa.int64(), nullable=False),
    pa.field("is_closed", pa.bool_(), nullable=False),
    pa.field("close_date", pa.date32(), nullable=False),
    pa.field("created_on", pa.date32(), nullable=False),  # company time zone
]), key=("opportunity_id",))

DQ_STAGES = LogicalTable("dq_stages", pa.schema([
    pa.field("stage_id", pa.int64(), nullable=False),
    pa.field("pipeline", pa.string(), nullable=False),
    pa.field("name", pa.string(), nullable=False),
    pa.field("order", pa.int64(), nullable=False),
]), key=("stage_id",))

DQ_STAGE_CHANGES = LogicalTable("dq_stage_changes", pa.schema([
    pa.field("change_id", pa.int64(), nullable=False),
    pa.field("opportunity_id", pa.int64(), nullable=False),
    pa.field("to_stage_id", pa.int64(), nullable=False),
    pa.field("changed_on", pa.date32(), nullable=False),  # company time zone
    pa.field("changed_seq", pa.int64(), nullable=False),  # microseconds since 1970 (UTC)
]), key=("change_id",))

DQ_PEOPLE = LogicalTable("dq_people", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("name", pa.string(), nullable=False),
    pa.field("left_on", pa.date32()),  # first day no longer employed
]), key=("person_id",))

DQ_BOOKINGS = LogicalTable("dq_bookings", pa.schema([
    pa.field("booking_id", pa.int64(), nullable=False),
    pa.field("external_id", pa.string(), nullable=False),
    pa.field("opportunity_id", pa.int64()),
    pa.field("owner_id", pa.int64()),
    pa.field("booked_on", pa.date32(), nullable=False),
]), key=("booking_id",))

DQ_FINDINGS = LogicalTable("dq_findings", pa.schema([
    pa.field("check", pa.string(), nullable=False),
    pa.field("object_type", pa.string(), nullable=False),
    pa.field("object_id", pa.int64(), nullable=False),
    pa.field("group_key", pa.string(), nullable=False),  # "" when the check has no groups
    pa.field("label", pa.string(), nullable=False),
    pa.field("owner_id", pa.int64()),
    pa.field("day", pa.date32()),
    pa.field("number", pa.int64()),
    pa.field("note", pa.string()),
]), key=("check", "group_key", "object_type", "object_id"))

DQ_TABLES = (DQ_ACCOUNTS, DQ_LEADS, DQ_PRODUCTS, DQ_OPPORTUNITIES, DQ_STAGES, DQ_STAGE_CHANGES,
             DQ_PEOPLE, DQ_BOOKINGS, DQ_FINDINGS)

LOGICAL_TABLES: Mapping[str, LogicalTable] = {
    table.name: table for table in (BOOKINGS, EXCHANGE_RATES, PERIODS, BOOKINGS_BY_PERSON_PERIOD)
} | {table.name: table for table in DQ_TABLES}


def logical_table(name: str) -> LogicalTable:
    try:
        return LOGICAL_TABLES[name]
    except KeyError:
        known = ", ".join(sorted(LOGICAL_TABLES))
        raise SchemaError(f"Unknown logical table {name!r}; known: {known}.", table=name) from None


def conform(name: str, data: pa.Table) -> pa.Table:
    """`data` with exactly the columns of logical table `name`, in order, safely cast.

    Extra columns are dropped; a missing column, a lossy cast (e.g. 0.125 into cents) or a null
    in a required column raises `SchemaError` naming the column.
    """
    logical = logical_table(name)
    columns = []
    for field in logical.schema:
        if field.name not in data.column_names:
            raise SchemaError(
                f"Table {name!r} has no column {field.name!r} (expected {field.type}).",
                table=name, column=field.name,
            )
        column = data.column(field.name)
        try:
            column = column.cast(field.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise SchemaError(
                f"Column {name}.{field.name} of type {column.type} cannot be read as "
                f"{field.type} without loss: {error}",
                table=name, column=field.name,
            ) from error
        if not field.nullable and column.null_count:
            raise SchemaError(
                f"Column {name}.{field.name} has {column.null_count} empty value(s); "
                "every row needs one.",
                table=name, column=field.name,
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=logical.schema)


def canonical(name: str, data: pa.Table) -> pa.Table:
    """`data` conformed and sorted by its key columns, then by every other column."""
    logical = logical_table(name)
    table = conform(name, data)
    order = [*logical.key, *(c for c in logical.schema.names if c not in logical.key)]
    if table.num_rows == 0:
        return table
    return table.sort_by([(column, "ascending") for column in order])


def require_unique(name: str, data: pa.Table, key: tuple[str, ...] | None = None) -> None:
    """Raise `DuplicateKeyError` when two rows of `data` share a key (default: the table's)."""
    key = key or logical_table(name).key
    counts = data.group_by(list(key)).aggregate([([], "count_all")])
    duplicated = counts.filter(pc.greater(counts.column("count_all"), 1))
    if duplicated.num_rows:
        first = duplicated.slice(0, 1).to_pylist()[0]
        count = int(first.pop("count_all"))
        raise DuplicateKeyError(name, key, first, count)


# --- inputs of the performance run (attain.engine.calculations.performance) ------------------

PERF_PEOPLE = LogicalTable(
    "perf_people",
    pa.schema([
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("hired_on", pa.date32()),  # null: employed since before the data
        pa.field("left_on", pa.date32()),  # null: still employed; else the first day gone
    ]),
    key=("person_id",),
)

PERF_REPORTING_LINES = LogicalTable(
    "perf_reporting_lines",
    pa.schema([
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("manager_id", pa.int64()),
        pa.field("team_id", pa.int64()),
        pa.field("valid_from", pa.date32(), nullable=False),
        pa.field("valid_to", pa.date32()),  # excluded; null: open-ended
    ]),
    key=("person_id", "valid_from"),
)

PERF_QUOTA_VERSIONS = LogicalTable(
    "perf_quota_versions",
    pa.schema([
        pa.field("version_id", pa.int64(), nullable=False),
        pa.field("holder", pa.string(), nullable=False),  # "person" or "team"
        pa.field("holder_id", pa.int64(), nullable=False),
        pa.field("period_id", pa.int64(), nullable=False),
        pa.field("valid_from", pa.date32(), nullable=False),
        pa.field("amount", MONEY, nullable=False),  # company currency
    ]),
    key=("version_id",),
)

PERF_OPPORTUNITIES = LogicalTable(
    "perf_opportunities",
    pa.schema([
        pa.field("opportunity_id", pa.int64(), nullable=False),
        pa.field("person_id", pa.int64()),  # the owner; null: nobody's
        pa.field("amount", MONEY),  # null: no amount yet (counts as 0)
        pa.field("currency", pa.string(), nullable=False),
        pa.field("created_on", pa.date32(), nullable=False),
        pa.field("close_date", pa.date32(), nullable=False),
        pa.field("is_closed", pa.bool_(), nullable=False),
        pa.field("is_won", pa.bool_(), nullable=False),
    ]),
    key=("opportunity_id",),
)

PERF_STAGE_CHANGES = LogicalTable(
    "perf_stage_changes",
    pa.schema([
        pa.field("change_id", pa.int64(), nullable=False),
        pa.field("opportunity_id", pa.int64(), nullable=False),
        pa.field("stage_id", pa.int64(), nullable=False),  # the stage moved to
        pa.field("stage_order", pa.int64(), nullable=False),
        pa.field("is_won", pa.bool_(), nullable=False),
        pa.field("is_lost", pa.bool_(), nullable=False),
        pa.field("changed_on", pa.date32(), nullable=False),
    ]),
    key=("change_id",),
)

# One order line for the bookings breakdown: its exact amount (as imported, up to 4 decimal
# places; else its cents), the deal's (or its account's) sales region and the product's family
# ("" when unknown).
PERF_BOOKING_LINES = LogicalTable(
    "perf_booking_lines",
    pa.schema([
        pa.field("booking_id", pa.int64(), nullable=False),
        pa.field("booked_on", pa.date32(), nullable=False),
        pa.field("amount", pa.decimal128(19, 4), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
    ]),
    key=("booking_id",),
)

LOGICAL_TABLES = {
    **LOGICAL_TABLES,
    **{table.name: table for table in (PERF_PEOPLE, PERF_REPORTING_LINES, PERF_QUOTA_VERSIONS,
                                       PERF_OPPORTUNITIES, PERF_STAGE_CHANGES,
                                       PERF_BOOKING_LINES)},
}


# --- pipeline analytics (attain.engine.calculations.pipeline) ----------------------------------

PIPELINE_OPPORTUNITIES = LogicalTable("pipeline_opportunities", pa.schema([
    pa.field("opportunity_id", pa.int64(), nullable=False),
    pa.field("owner_id", pa.int64()),  # null: nobody's (company figures only)
    pa.field("created_on", pa.date32(), nullable=False),  # company time zone
    pa.field("close_date", pa.date32(), nullable=False),
    pa.field("is_closed", pa.bool_(), nullable=False),
    pa.field("is_won", pa.bool_(), nullable=False),
    pa.field("amount", MONEY),  # null: no amount yet (counts as 0)
    pa.field("currency", pa.string(), nullable=False),
    pa.field("stage_id", pa.int64(), nullable=False),  # the current stage
    pa.field("segment", pa.string(), nullable=False),  # "" when unknown
    pa.field("source", pa.string(), nullable=False),
    pa.field("deal_type", pa.string(), nullable=False),
    pa.field("loss_reason", pa.string(), nullable=False),
    pa.field("product", pa.string(), nullable=False),  # main product; "" when unknown
]), key=("opportunity_id",))

PIPELINE_STAGES = LogicalTable("pipeline_stages", pa.schema([
    pa.field("stage_id", pa.int64(), nullable=False),
    pa.field("pipeline", pa.string(), nullable=False),
    pa.field("position", pa.int64(), nullable=False),
    pa.field("is_won", pa.bool_(), nullable=False),
    pa.field("is_lost", pa.bool_(), nullable=False),
]), key=("stage_id",))

PIPELINE_STAGE_CHANGES = LogicalTable("pipeline_stage_changes", pa.schema([
    pa.field("change_id", pa.int64(), nullable=False),
    pa.field("opportunity_id", pa.int64(), nullable=False),
    pa.field("from_stage_id", pa.int64()),  # null: the opportunity's first stage
    pa.field("to_stage_id", pa.int64(), nullable=False),
    pa.field("changed_on", pa.date32(), nullable=False),  # company time zone
    pa.field("changed_seq", pa.int64(), nullable=False),  # orders changes of one opportunity
    pa.field("close_date", pa.date32()),  # the expected close date recorded with the change
]), key=("change_id",))

PIPELINE_LEADS = LogicalTable("pipeline_leads", pa.schema([
    pa.field("lead_id", pa.int64(), nullable=False),
    pa.field("owner_id", pa.int64()),
    pa.field("source", pa.string(), nullable=False),
    pa.field("created_on", pa.date32(), nullable=False),
    pa.field("qualified_on", pa.date32()),
    pa.field("converted_on", pa.date32()),
    pa.field("opportunity_id", pa.int64()),  # the opportunity it became
]), key=("lead_id",))

PIPELINE_SCOPES = LogicalTable("pipeline_scopes", pa.schema([
    pa.field("scope_kind", pa.string(), nullable=False),  # "person", "team" or "manager"
    pa.field("scope_id", pa.int64(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),  # a member of the scope
]), key=("scope_kind", "scope_id", "person_id"))

_SLICE_KEY = [
    pa.field("scope_kind", pa.string(), nullable=False),  # "company", "team", "manager", "person"
    pa.field("scope_id", pa.int64(), nullable=False),  # 0 for the company
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("slice_dim", pa.string(), nullable=False),  # "" (everything), segment/source/product
    pa.field("slice_value", pa.string(), nullable=False),
]
DAYS = pa.decimal128(9, 1)
RATIO = pa.decimal128(9, 4)

PIPELINE_FACTS = LogicalTable("pipeline_facts", pa.schema([
    *_SLICE_KEY,
    pa.field("created_count", pa.int64(), nullable=False),
    pa.field("created_amount", MONEY, nullable=False),
    pa.field("won_count", pa.int64(), nullable=False),
    pa.field("won_amount", MONEY, nullable=False),
    pa.field("lost_count", pa.int64(), nullable=False),
    pa.field("lost_amount", MONEY, nullable=False),
    pa.field("cycle_days_sum", pa.int64(), nullable=False),
    pa.field("cycle_days_median", DAYS),
    pa.field("leads_created", pa.int64(), nullable=False),
    pa.field("leads_qualified", pa.int64(), nullable=False),
    pa.field("leads_converted", pa.int64(), nullable=False),
    pa.field("leads_won", pa.int64(), nullable=False),
    pa.field("slipped_count", pa.int64(), nullable=False),
    pa.field("push_count", pa.int64(), nullable=False),
]), key=("scope_kind", "scope_id", "period_id", "slice_dim", "slice_value"))

PIPELINE_STAGE_FACTS = LogicalTable("pipeline_stage_facts", pa.schema([
    *_SLICE_KEY,
    pa.field("stage_id", pa.int64(), nullable=False),
    pa.field("cohort_reached", pa.int64(), nullable=False),
    pa.field("cohort_open", pa.int64(), nullable=False),
    pa.field("flow_entered", pa.int64(), nullable=False),
    pa.field("flow_advanced", pa.int64(), nullable=False),
    pa.field("flow_lost", pa.int64(), nullable=False),
    pa.field("stay_count", pa.int64(), nullable=False),
    pa.field("stay_days_sum", pa.int64(), nullable=False),
    pa.field("stay_days_median", DAYS),
]), key=("scope_kind", "scope_id", "period_id", "slice_dim", "slice_value", "stage_id"))

PIPELINE_FLOWS = LogicalTable("pipeline_flows", pa.schema([
    *_SLICE_KEY,
    pa.field("from_stage_id", pa.int64(), nullable=False),  # 0: created
    pa.field("to_stage_id", pa.int64(), nullable=False),
    pa.field("transitions", pa.int64(), nullable=False),
]), key=("scope_kind", "scope_id", "period_id", "slice_dim", "slice_value", "from_stage_id",
         "to_stage_id"))

PIPELINE_BREAKDOWN = LogicalTable("pipeline_breakdown", pa.schema([
    pa.field("scope_kind", pa.string(), nullable=False),
    pa.field("scope_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),  # 0: open deals at the end of the data
    pa.field("dimension", pa.string(), nullable=False),
    pa.field("value", pa.string(), nullable=False),
    pa.field("won_count", pa.int64(), nullable=False),
    pa.field("won_amount", MONEY, nullable=False),
    pa.field("lost_count", pa.int64(), nullable=False),
    pa.field("lost_amount", MONEY, nullable=False),
    pa.field("open_count", pa.int64(), nullable=False),
    pa.field("open_amount", MONEY, nullable=False),
]), key=("scope_kind", "scope_id", "period_id", "dimension", "value"))

PIPELINE_BOTTLENECKS = LogicalTable("pipeline_bottlenecks", pa.schema([
    pa.field("scope_kind", pa.string(), nullable=False),  # "person" (vs team), "team" (vs company)
    pa.field("scope_id", pa.int64(), nullable=False),
    pa.field("period_id", pa.int64(), nullable=False),
    pa.field("benchmark_kind", pa.string(), nullable=False),
    pa.field("benchmark_id", pa.int64(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),  # "stage" or "leads"
    pa.field("stage_id", pa.int64(), nullable=False),  # 0 for the "leads" row
    pa.field("conversion", RATIO),
    pa.field("benchmark_conversion", RATIO),
    pa.field("days", DAYS),
    pa.field("benchmark_days", DAYS),
    pa.field("conversion_gap", RATIO),  # (benchmark - own) / benchmark: > 0 converts worse
    pa.field("days_gap", RATIO),  # (own - benchmark) / benchmark: > 0 is slower
    pa.field("score", RATIO),  # the larger gap
    pa.field("is_worst", pa.bool_(), nullable=False),  # the stage furthest from the benchmark
    pa.field("volume", pa.int64(), nullable=False),  # exits of the stage / leads created
]), key=("scope_kind", "scope_id", "period_id", "kind", "stage_id"))

PIPELINE_TABLES = (PIPELINE_OPPORTUNITIES, PIPELINE_STAGES, PIPELINE_STAGE_CHANGES, PIPELINE_LEADS,
                   PIPELINE_SCOPES, PIPELINE_FACTS, PIPELINE_STAGE_FACTS, PIPELINE_FLOWS,
                   PIPELINE_BREAKDOWN, PIPELINE_BOTTLENECKS)
LOGICAL_TABLES = {**LOGICAL_TABLES, **{table.name: table for table in PIPELINE_TABLES}}


def register_logical_tables(*tables: LogicalTable) -> None:
    """Make tables defined beside their calculation (e.g. `attain.engine.compensation.schemas`)
    known to `logical_table`, `conform` and `Backend.table`."""
    global LOGICAL_TABLES
    LOGICAL_TABLES = {**LOGICAL_TABLES, **{table.name: table for table in tables}}
