"""The DuckDB backend: in-process, the embedded default.

Quirk handled here: with Ibis 12 and DuckDB 2, `create_table` from Arrow issues a malformed
`DROP VIEW`; Arrow tables are registered on the DuckDB connection directly instead (zero copy).
Results are read with DuckDB's own `to_arrow_table()` (Ibis 12 calls a method DuckDB 2
deprecates) and cast by `Backend.execute` to the declared schema. DuckDB's ROUND on decimals
rounds half away from zero; `attain.engine.decimals` corrects that portably, so nothing is
needed here.

Intermediate steps of a run (`materialise`) stay inside DuckDB as temporary tables, cast to the
expression's declared schema: nothing goes through Arrow and Python memory, and DuckDB can
spill them past its memory limit. A 1,000,000-line compensation run held about 7 GB of such
steps as Arrow tables before.

A result can be read a batch at a time (`batches`, DuckDB's streaming record batch reader), so
a run's million-line outputs go to storage without being held whole in memory.

Compiled SQL is kept per expression (`_compiled_sql`). Tables are bound under their logical
names, so a later run of the same shape (the same plans' structure, period and literals: a what-if
tick, the draft and in-force sides of plan modelling, a re-run) builds equal expressions, and
Ibis's compiler, about half of a small run's time, runs once. Expressions compare structurally,
so a hit is always the SQL that compiling would give.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend

_SQL_CACHE_SIZE = 512
_sql_cache: OrderedDict[ops.Node, str] = OrderedDict()
_sql_cache_lock = threading.Lock()


def _compiled_sql(backend: ibis.BaseBackend, expr: ir.Table) -> str:
    """`backend.compile(expr)` as text, from the cache when an equal expression was compiled."""
    node = expr.op()
    with _sql_cache_lock:
        sql = _sql_cache.get(node)
        if sql is not None:
            _sql_cache.move_to_end(node)
            return sql
    sql = str(backend.compile(expr))
    with _sql_cache_lock:
        _sql_cache[node] = sql
        if len(_sql_cache) > _SQL_CACHE_SIZE:
            _sql_cache.popitem(last=False)
    return sql


class DuckDBBackend(Backend):
    name = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit_mb: int | None = None,
                 temp_directory: str | None = None) -> None:
        self._ibis = ibis.duckdb.connect()
        if threads is not None:
            self._ibis.raw_sql(f"SET threads = {int(threads)}")
        if memory_limit_mb is not None:
            self._ibis.raw_sql(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
        if temp_directory is not None:
            self._ibis.con.execute("SET temp_directory = $1", [temp_directory])
        self._bound: list[str] = []

    def _bind(self, name: str, data: pa.Table) -> ir.Table:
        self._ibis.con.register(name, data)
        self._bound.append(name)
        return ibis.table(ibis.Schema.from_pyarrow(data.schema), name=name)

    def materialise(self, name: str, expr: ir.Table) -> ir.Table:
        schema = expr.schema()
        sql = _compiled_sql(self._ibis, expr.cast(schema))
        self._ibis.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
        return ibis.table(schema, name=name)

    def append(self, name: str, previous: ir.Table, expr: ir.Table) -> ir.Table:
        sql = _compiled_sql(self._ibis, expr.cast(previous.schema()))
        self._ibis.con.execute(f'INSERT INTO "{name}" {sql}')
        return previous

    def _to_arrow(self, expr: ir.Table) -> pa.Table:
        sql = _compiled_sql(self._ibis, expr)
        table: pa.Table = self._ibis.con.sql(sql).to_arrow_table()
        return table

    def _to_batches(self, expr: ir.Table, rows: int) -> Iterator[pa.RecordBatch]:
        reader = self._ibis.con.sql(_compiled_sql(self._ibis, expr)).to_arrow_reader(rows)
        yield from reader

    def close(self) -> None:
        for name in self._bound:
            self._ibis.con.unregister(name)
        self._bound.clear()
        self._ibis.disconnect()
