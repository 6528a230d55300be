"""The DuckDB backend: in-process, the embedded default.

Quirk handled here: with Ibis 12 and DuckDB 2, `create_table` from Arrow issues a malformed
`DROP VIEW`; Arrow tables are registered on the DuckDB connection directly instead (zero copy).
Results are read with DuckDB's own `to_arrow_table()` (Ibis 12 calls a method DuckDB 2
deprecates) and cast by `Backend.execute` to the declared schema. DuckDB's ROUND on decimals
rounds half away from zero; `attain.engine.decimals` corrects that portably, so nothing is
needed here.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend


class DuckDBBackend(Backend):
    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self._ibis = ibis.duckdb.connect()
        if threads is not None:
            self._ibis.raw_sql(f"SET threads = {int(threads)}")
        self._bound: list[str] = []

    def _bind(self, name: str, data: pa.Table) -> ir.Table:
        self._ibis.con.register(name, data)
        self._bound.append(name)
        return ibis.table(ibis.Schema.from_pyarrow(data.schema), name=name)

    def _to_arrow(self, expr: ir.Table) -> pa.Table:
        sql = str(self._ibis.compile(expr))
        table: pa.Table = self._ibis.con.sql(sql).to_arrow_table()
        return table

    def close(self) -> None:
        for name in self._bound:
            self._ibis.con.unregister(name)
        self._bound.clear()
        self._ibis.disconnect()
