"""The fast write path: plain tuples into a model's table with the driver's fastest bulk insert
(and bulk update), in the caller's transaction. Used by the demo generator and by imports.

Django's `bulk_create` builds a model instance per row and prepares every value through its
field; for millions of rows that costs more than the database's own work. `TableWriter` skips it:
- SQLite: `executemany` on the raw `sqlite3` connection Django holds (so inside the same
  transaction as `transaction.atomic()`), values converted the way Django's SQLite backend stores
  them: aware datetimes made naive in the connection's time zone (UTC) and written as
  `str(datetime)` ("2026-01-05 09:30:00"), dates as ISO text, `Decimal` as `str` (the column's
  NUMERIC affinity stores it as Django's own insert would), booleans as 0/1.
- PostgreSQL: `COPY table (columns) FROM STDIN` with psycopg 3's `cursor.copy()` and
  `write_row`; psycopg adapts `Decimal`, aware datetimes, dates and booleans itself.
Column names come from the model's `_meta` (each field's db column), so a renamed column needs
no change here. `TableUpdater` sets columns of existing rows by id the same way (`executemany`
of one `UPDATE … WHERE id = ?` on SQLite; on PostgreSQL `COPY` into a temporary table, then one
`UPDATE … FROM` it). `ModelRows` turns dicts of field values into full rows, filling every
column the dict leaves out with the field's default as the ORM would (`default`, `db_default`
literals, `auto_now(_add)`).

Ids: a caller that needs ids either lets the database assign them (leave `id` out of `fields`)
and reads them back by a unique key — safe when other sessions write at the same time; imports
do this — or allocates them with `IdAllocator` (from the table's current largest id) and writes
them explicitly, which assumes nothing else writes to these tables meanwhile (the demo
generator). PostgreSQL's sequences do not move on explicit ids: `reset_sequences` sets them to
the largest id afterwards, so later ORM inserts continue after the generated rows (SQLite's
AUTOINCREMENT bookkeeping follows explicit ids by itself).

Rows are consumed as they are written, so a generator of rows keeps memory bounded however
many rows it yields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import NOT_PROVIDED, Max, Value
from django.utils import timezone

Row = Sequence[Any]


def _sqlite_datetime(tz: Any) -> Callable[[datetime], str]:
    def convert(value: datetime) -> str:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the fast write path needs aware ones")
        return str(value.astimezone(tz).replace(tzinfo=None))

    return convert


def _sqlite_date(value: date) -> str:
    return value.isoformat()


def _sqlite_decimal(value: Decimal) -> str:
    return str(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the fast write path needs aware ones")
    return value


class TableWriter:
    """Writes rows (tuples of Python values in the order of `fields`) into `model`'s table.

    `fields` are model field names (`"id"`, `"opportunity"` or `"opportunity_id"`, …). Example:

        writer = TableWriter(StageChange, ("id", "opportunity", "to_stage", "changed_at"))
        with transaction.atomic():
            writer.write([(1, 10, 3, datetime(2026, 1, 5, 9, 30, tzinfo=UTC))])  # -> 1
    """

    def __init__(self, model: type[models.Model], fields: Sequence[str],
                 using: str = DEFAULT_DB_ALIAS) -> None:
        self.model = model
        self.using = using
        self.fields = [model._meta.get_field(name) for name in fields]
        self.columns = [field.column for field in self.fields]  # type: ignore[union-attr]

    @property
    def connection(self) -> Any:
        return connections[self.using]

    def write(self, rows: Iterable[Row]) -> int:
        """Insert the rows in the current transaction; return how many were written."""
        connection = self.connection
        connection.ensure_connection()
        counted = _Counter(rows)
        if connection.vendor == "sqlite":
            self._write_sqlite(connection, counted)
        elif connection.vendor == "postgresql":
            self._write_postgresql(connection, counted)
        else:
            raise NotImplementedError(
                f"the fast write path supports SQLite and PostgreSQL, not {connection.vendor}")
        return counted.count

    def _table_and_columns(self, connection: Any) -> tuple[str, str]:
        quote = connection.ops.quote_name
        return (quote(self.model._meta.db_table),
                ", ".join(quote(column) for column in self.columns))

    def _write_sqlite(self, connection: Any, rows: Iterable[Row]) -> None:
        converters = self._sqlite_converters(connection)
        if converters:
            rows = (_convert(row, converters) for row in rows)
        self._insert_sqlite(connection, rows)

    def _insert_sqlite(self, connection: Any, rows: Iterable[Row]) -> None:
        """One executemany of rows already in the form SQLite stores."""
        table, columns = self._table_and_columns(connection)
        marks = ", ".join("?" * len(self.columns))
        connection.connection.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def _sqlite_converters(self, connection: Any) -> list[tuple[int, Callable[[Any], Any]]]:
        by_type: dict[str, Callable[[Any], Any]] = {
            "DateTimeField": _sqlite_datetime(connection.timezone),
            "DateField": _sqlite_date,
            "DecimalField": _sqlite_decimal,
        }
        return [(index, by_type[field.get_internal_type()])
                for index, field in enumerate(self.fields)
                if field.get_internal_type() in by_type]

    def _write_postgresql(self, connection: Any, rows: Iterable[Row]) -> None:
        table, columns = self._table_and_columns(connection)
        checked = [index for index, field in enumerate(self.fields)
                   if field.get_internal_type() == "DateTimeField"]
        with connection.connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN") as copy:
            write_row = copy.write_row
            for row in rows:
                for index in checked:
                    if row[index] is not None:
                        _aware(row[index])
                write_row(row)


class _Counter:
    """Passes rows through and counts them."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        for row in self.rows:
            self.count += 1
            yield row


def _convert(row: Row, converters: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for index, convert in converters:
        value = values[index]
        if value is not None:
            values[index] = convert(value)
    return values


class IdAllocator:
    """Hands out primary keys after the largest one in `model`'s table, without gaps.

    >>> ids = IdAllocator(Opportunity)   # the table's largest id is 41
    >>> ids.take(3)                      # ids 42, 43, 44 are now the caller's
    42
    """

    def __init__(self, model: type[models.Model], using: str = DEFAULT_DB_ALIAS) -> None:
        largest = model._base_manager.using(using).aggregate(largest=Max("pk"))["largest"]
        self.next = (largest or 0) + 1

    def take(self, count: int = 1) -> int:
        """Reserve `count` consecutive ids and return the first."""
        first = self.next
        self.next += count
        return first


def reset_sequences(model_list: Iterable[type[models.Model]],
                    using: str = DEFAULT_DB_ALIAS) -> None:
    """Point each table's id sequence at its largest id (PostgreSQL; nothing to do on SQLite)."""
    connection = connections[using]
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class ModelRows:
    """Full rows for `TableWriter(model, rows.fields)` from dicts of field values (attnames such
    as `owner_id`, or names): every concrete column but the primary key, a column the dict leaves
    out taking the field's default the way `Model.save()` would give it."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        concrete = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.fields = [f.attname for f in concrete]
        self._defaults: list[tuple[str, str, Callable[[], Any] | None, Any]] = []
        for f in concrete:
            maker: Callable[[], Any] | None = None
            constant: Any = None
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                maker = timezone.now
            elif f.has_default() and callable(f.default):
                maker = f.get_default
            elif f.has_default() or f.db_default is NOT_PROVIDED:
                constant = f.get_default()  # a plain default, None or "" (as the ORM gives)
            elif not f.has_default() and f.db_default is not NOT_PROVIDED:
                default = f.db_default
                if hasattr(default, "resolve_expression"):
                    if not isinstance(default, Value):
                        raise ValueError(f"{model.__name__}.{f.name}: a database default that "
                                         "is an expression cannot be written by the fast path")
                    default = default.value
                maker, constant = None, default
            self._defaults.append((f.attname, f.name, maker, constant))

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for attname, name, maker, constant in self._defaults:
            if attname in values:
                out.append(values[attname])
            elif name in values:
                out.append(values[name])
            else:
                out.append(maker() if maker is not None else constant)
        return tuple(out)


class TableUpdater:
    """Sets `fields` of existing rows of `model` by primary key; rows are `(pk, *values)`."""

    def __init__(self, model: type[models.Model], fields: Sequence[str],
                 using: str = DEFAULT_DB_ALIAS) -> None:
        self.writer = TableWriter(model, ["id", *fields], using)

    def update(self, rows: Iterable[Row]) -> int:
        """Update the rows in the current transaction; return how many were given."""
        writer = self.writer
        connection = writer.connection
        connection.ensure_connection()
        counted = _Counter(rows)
        quote = connection.ops.quote_name
        table = quote(writer.model._meta.db_table)
        pk, *columns = [quote(c) for c in writer.columns]
        if connection.vendor == "sqlite":
            converters = writer._sqlite_converters(connection)
            moved = ((*row[1:], row[0]) for row in counted)  # pk last, for the WHERE
            shifted = [((index - 1) % len(writer.columns), convert)
                       for index, convert in converters]
            sets = ", ".join(f"{c} = ?" for c in columns)
            connection.connection.executemany(
                f"UPDATE {table} SET {sets} WHERE {pk} = ?",
                (_convert(row, shifted) for row in moved) if shifted else moved)
        elif connection.vendor == "postgresql":
            with connection.connection.cursor() as cursor:
                cursor.execute("CREATE TEMPORARY TABLE attain_bulk_update ON COMMIT DROP AS "
                               f"SELECT {pk}, {', '.join(columns)} FROM {table} WITH NO DATA")
                with cursor.copy(f"COPY attain_bulk_update ({pk}, {', '.join(columns)}) "
                                 "FROM STDIN") as copy:
                    for row in counted:
                        copy.write_row(row)
                sets = ", ".join(f"{c} = u.{c}" for c in columns)
                cursor.execute(f"UPDATE {table} SET {sets} FROM attain_bulk_update u "
                               f"WHERE {table}.{pk} = u.{pk}")
                cursor.execute("DROP TABLE attain_bulk_update")
        else:
            raise NotImplementedError(
                f"the fast write path supports SQLite and PostgreSQL, not {connection.vendor}")
        return counted.count


def take_ids(model: type[models.Model], count: int, using: str = DEFAULT_DB_ALIAS) -> list[int]:
    """`count` new primary keys for `model` from its PostgreSQL sequence (identity column), in
    one query; safe while other sessions insert too. Rows written with these ids explicitly need
    no `reset_sequences`. PostgreSQL only (SQLite has no sequences: insert without ids and read
    them back by a unique key)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise NotImplementedError("take_ids needs PostgreSQL")
    if count <= 0:
        return []
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "FROM generate_series(1, %s)", [table, column, count])
        return [row[0] for row in cursor.fetchall()]


ARROW_BATCH_ROWS = 50_000


def write_arrow(model: type[models.Model], table: Any, constants: dict[str, Any] | None = None,
                using: str = DEFAULT_DB_ALIAS) -> int:
    """Insert an Arrow table (columns named after `model`'s fields, e.g. `person_id`) plus
    `constants` (the same value on every row, e.g. `{"run_id": 7}`) into `model`'s table, in the
    current transaction; returns how many rows. Calculation results go this way.

    PostgreSQL: Arrow writes the rows as CSV in C and `COPY … (FORMAT csv)` loads them (an empty
    unquoted field is NULL; text is always quoted, so "" stays an empty string). SQLite: each
    column becomes Python values at once (decimals as their exact text, which the column's
    NUMERIC affinity stores as Django's own insert would) for one `executemany`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    constants = constants or {}
    count = table.num_rows
    if not count:
        return 0
    connection = connections[using]
    connection.ensure_connection()
    names = [*constants, *table.column_names]
    writer = TableWriter(model, names, using)
    if connection.vendor == "postgresql":
        quoted, columns = writer._table_and_columns(connection)
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with connection.connection.cursor() as cursor, cursor.copy(
                f"COPY {quoted} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for batch in table.to_batches(max_chunksize=ARROW_BATCH_ROWS):
                fixed = [pa.array([value] * batch.num_rows) if value is not None
                         else pa.nulls(batch.num_rows) for value in constants.values()]
                buffer = pa.BufferOutputStream()
                pacsv.write_csv(pa.RecordBatch.from_arrays([*fixed, *batch.columns],
                                                           names=names), buffer, options)
                copy.write(memoryview(buffer.getvalue()))
        return count

    stored = _sqlite_datetime(connection.timezone)
    fixed = _convert(list(constants.values()), [
        (index, convert) for index, convert in writer._sqlite_converters(connection)
        if index < len(constants)])

    def values(column: Any) -> list[Any]:
        """A column as the values Django's SQLite backend stores: decimals and dates as their
        text (cast by Arrow), datetimes as naive UTC text, the rest as Python values."""
        if pa.types.is_decimal(column.type) or pa.types.is_date(column.type):
            return column.cast(pa.string()).to_pylist()  # type: ignore[no-any-return]
        if pa.types.is_timestamp(column.type):
            return [None if value is None else stored(value) for value in column.to_pylist()]
        return column.to_pylist()  # type: ignore[no-any-return]

    def rows() -> Iterator[tuple[Any, ...]]:
        for batch in table.to_batches(max_chunksize=ARROW_BATCH_ROWS):
            yield from zip(*([value] * batch.num_rows for value in fixed),
                           *(values(column) for column in batch.columns), strict=True)

    writer._insert_sqlite(connection, rows())
    return count


def refresh_statistics(written: Iterable[type[models.Model]],
                       using: str = DEFAULT_DB_ALIAS, *, vacuum: bool = True) -> None:
    """After a bulk write: PostgreSQL's planner statistics and visibility map of the `written`
    tables, at once rather than when autovacuum comes by (or never, where it is off). Without
    them the pages' first queries on a fresh run's rows were planned for a hundred rows instead
    of a hundred thousand and could not use index-only scans (the 10,000-rep trend: 155 ms,
    then 32 ms after `VACUUM`); on a freshly generated company the attainment page's people
    were read by 18,876 index look-ups (203 ms) instead of a sorted index scan (47 ms).
    `VACUUM (ANALYZE)` outside a transaction; inside one, where VACUUM cannot run, or with
    `vacuum=False` (statistics only: a sample, not a read of the whole table), `ANALYZE`.
    Nothing on SQLite, whose planner needs no statistics for these queries."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    command = ("ANALYZE" if connection.in_atomic_block or not vacuum
               else "VACUUM (ANALYZE)")
    with connection.cursor() as cursor:
        for model in written:
            cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
