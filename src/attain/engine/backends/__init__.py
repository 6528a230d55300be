"""Engine backends by name: `connect("duckdb")` (the embedded default) or `connect("spark")`."""

from __future__ import annotations

import os
import tempfile

from attain.engine.backends.base import Backend

BACKENDS = ("duckdb", "spark")


def connect(name: str) -> Backend:
    """A new backend connection; Spark is imported only when asked for.

    DuckDB holds at most ATTAIN_ENGINE_MEMORY_MB when that is set (else its own default, 80% of
    the machine's memory) and spills past it to ATTAIN_ENGINE_TEMP_DIR (default `attain-engine`
    in the system's temporary directory). Not every step spills: a 10,000-rep pipeline run
    peaked at 18.7 GB under the default and failed "Out of Memory" at 4,096 MB."""
    if name == "duckdb":
        from attain.engine.backends.duckdb import DuckDBBackend

        limit = os.environ.get("ATTAIN_ENGINE_MEMORY_MB", "").strip()
        return DuckDBBackend(
            memory_limit_mb=int(limit) if limit else None,
            temp_directory=os.environ.get("ATTAIN_ENGINE_TEMP_DIR")
            or os.path.join(tempfile.gettempdir(), "attain-engine"))
    if name == "spark":
        from attain.engine.backends.spark import SparkBackend

        return SparkBackend()
    raise ValueError(f"Unknown engine backend {name!r}; use one of: {', '.join(BACKENDS)}.")


__all__ = ["BACKENDS", "Backend", "connect"]
