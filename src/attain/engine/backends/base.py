"""The backend interface: bind logical tables, execute Ibis expressions, hand back Arrow.

A calculation never knows which backend runs it. Everything a backend does differently (how it
takes Arrow in, how it returns decimals, its SQL settings) lives in that backend's module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.schemas import LogicalTable, conform, register_logical_tables


class Backend(ABC):
    """One engine connection. Use as a context manager, or call `close()`.

    >>> from attain.engine.backends import connect
    >>> with connect("duckdb") as backend:                    # doctest: +SKIP
    ...     bookings = backend.table("bookings", arrow_bookings)
    ...     result = backend.execute(bookings.count().as_table())
    """

    name: str

    def table(self, name: str, data: pa.Table) -> ir.Table:
        """Bind `data` as logical table `name` (checked and cast by `schemas.conform`)."""
        return self._bind(name, conform(name, data))

    def execute(self, expr: ir.Table) -> pa.Table:
        """Run `expr`; the Arrow result has exactly the types `expr.schema()` declares."""
        expected = expr.schema().to_pyarrow()
        result = self._to_arrow(expr)
        if result.schema.equals(expected):
            return result
        return result.select(expected.names).cast(expected, safe=True)

    def batches(self, expr: ir.Table, rows: int = 100_000,
                schema: pa.Schema | None = None) -> Iterator[pa.RecordBatch]:
        """Run `expr` and hand its rows over at most `rows` at a time, in the order the
        expression gives, each batch with exactly the types `expr.schema()` declares (or the
        columns and types of `schema`, a safe cast). A result read this way is never held whole
        where the backend can stream it (DuckDB); by default it is executed and then cut.
        Consume the batches before running anything else on this connection."""
        expected = schema if schema is not None else expr.schema().to_pyarrow()
        for batch in self._to_batches(expr, rows):
            if not batch.schema.equals(expected):
                batch = batch.select(expected.names).cast(expected, safe=True)
            yield batch

    def _to_batches(self, expr: ir.Table, rows: int) -> Iterator[pa.RecordBatch]:
        yield from self._to_arrow(expr).to_batches(max_chunksize=rows)

    def materialise(self, name: str, expr: ir.Table) -> ir.Table:
        """Run `expr` once and return a table of its rows under `name` with `expr`'s schema, so
        later steps reuse the rows instead of recomputing them (and their SQL stays small).
        By default the rows come back as Arrow and are bound again; a backend that can keep
        them where they are (DuckDB: a temporary table) overrides this."""
        data = self.execute(expr)
        register_logical_tables(LogicalTable(name, data.schema, ()))
        return self.table(name, data)

    def append(self, name: str, previous: ir.Table, expr: ir.Table) -> ir.Table:
        """`materialise` of `previous` (what `materialise(name, …)` returned) followed by the
        rows of `expr` (the same columns and types): a step computed a part at a time. By
        default both are read and bound again; DuckDB inserts into its temporary table."""
        return self.materialise(name, ibis.union(previous, expr.cast(previous.schema())))

    @abstractmethod
    def _bind(self, name: str, data: pa.Table) -> ir.Table:
        """Make `data` queryable under logical name `name` for this connection; return a table
        expression with the logical schema (an unbound `ibis.table`, since every backend here
        executes by compiling to its SQL dialect)."""

    @abstractmethod
    def _to_arrow(self, expr: ir.Table) -> pa.Table:
        """Execute `expr` and return its rows as Arrow (types may still need a safe cast)."""

    @abstractmethod
    def close(self) -> None:
        """Release what this connection holds."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
