"""Run records for reproducibility: calculation versions and the hash of a run's inputs.

A run stores `inputs_hash(tables, params)` next to the calculation's version and the backend, so
two runs can be compared: same hash and same version must give identical results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from attain.engine.schemas import canonical

# Bump a version whenever a change to a calculation can change its results.
BOOKINGS_BY_PERSON_PERIOD = "bookings_by_person_period"
DATA_QUALITY = "data_quality"
PIPELINE_ANALYTICS = "pipeline_analytics"
PERFORMANCE = "performance"
CALC_VERSIONS: Mapping[str, str] = {
    BOOKINGS_BY_PERSON_PERIOD: "1",
    DATA_QUALITY: "1",
    PIPELINE_ANALYTICS: "1",
    PERFORMANCE: "2",
}
HASH_FORMAT = b"attain-inputs/1\n"


class _HashSink:
    """A write-only file object that feeds a hash instead of storing bytes."""

    def __init__(self, digest: Any) -> None:
        self._digest = digest
        self.closed = False

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def inputs_hash(tables: Mapping[str, pa.Table], params: Mapping[str, Any] | None = None) -> str:
    """sha256 (hex) of the canonical content of logical `tables` and of `params`.

    Canonical content: each table conformed to its logical schema, rows sorted by its key (then
    every other column), written as CSV (decimals at their full scale, ISO dates, nulls empty),
    tables in name order. Unlike raw Arrow IPC bytes, this does not depend on how the rows were
    chunked or what bytes sit under a null, so the same rows always give the same hash:

        inputs_hash({"periods": periods}) == inputs_hash({"periods": periods.take([1, 0])})
    """
    digest = hashlib.sha256(HASH_FORMAT)
    for name in sorted(tables):
        table = canonical(name, tables[name])
        digest.update(f"table {name} rows {table.num_rows}\n".encode())
        digest.update(f"{table.schema}\n".encode())
        with pa.PythonFile(_HashSink(digest), mode="w") as stream:
            pacsv.write_csv(table, stream)
    for key in sorted(params or {}):
        digest.update(f"param {key}={(params or {})[key]!s}\n".encode())
    return digest.hexdigest()
