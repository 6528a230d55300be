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

LOGICAL_TABLES: Mapping[str, LogicalTable] = {
    table.name: table for table in (BOOKINGS, EXCHANGE_RATES, PERIODS, BOOKINGS_BY_PERSON_PERIOD)
}


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
