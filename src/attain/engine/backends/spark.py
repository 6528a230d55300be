"""The Apache Spark backend: the same Ibis expressions, run by PySpark (local mode by default).

Quirks handled here, and only here:
- A JVM start costs seconds, so one `SparkSession` is shared by the whole process
  (`spark_session()`); a backend object binds its tables as uniquely named temporary views and
  drops them on `close()`, leaving the session up for the next run.
- Workers must start this interpreter (`PYSPARK_PYTHON=sys.executable`) and everything binds to
  loopback; no UI; few shuffle partitions; session time zone UTC.
- `spark.sql.decimalOperations.allowPrecisionLoss=false`: Spark would otherwise cut the scale of
  wide decimal results to 6 places; money must be exact or fail (ANSI mode, Spark 4's default,
  makes an overflow an error, as on DuckDB).
- Ibis's PySpark `to_pyarrow` goes through pandas (Decimal objects per row); results are read with
  Spark's own `DataFrame.toArrow()` instead, and `Backend.execute` casts them to the declared
  schema (Spark returns `DATE_TRUNC` as a timestamp, for example).
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend

SPARK_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}

_lock = threading.Lock()
_session: Any = None


def spark_session() -> Any:
    """The process's one SparkSession, started on first use (local mode unless
    `ATTAIN_SPARK_MASTER` names a cluster)."""
    global _session
    with _lock:
        if _session is None:
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.master(
                os.environ.get("ATTAIN_SPARK_MASTER", "local[2]")
            ).appName("attain-engine")
            for key, value in SPARK_CONF.items():
                builder = builder.config(key, value)
            _session = builder.getOrCreate()
            _session.sparkContext.setLogLevel("ERROR")
        return _session


def stop_spark_session() -> None:
    """Stop the shared session (end of a test session or of a process)."""
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


class SparkBackend(Backend):
    name = "spark"

    def __init__(self) -> None:
        self._session = spark_session()
        self._ibis = ibis.pyspark.connect(self._session)
        self._token = uuid.uuid4().hex[:12]
        self._views: list[str] = []

    def _bind(self, name: str, data: pa.Table) -> ir.Table:
        view = f"{name}_{self._token}"
        frame = self._session.createDataFrame(data)
        frame.createOrReplaceTempView(view)
        self._views.append(view)
        return ibis.table(ibis.Schema.from_pyarrow(data.schema), name=view)

    def _to_arrow(self, expr: ir.Table) -> pa.Table:
        sql = str(self._ibis.compile(expr))
        table: pa.Table = self._session.sql(sql).toArrow()
        return table

    def close(self) -> None:
        for view in self._views:
            self._session.catalog.dropTempView(view)
        self._views.clear()
