"""Engine backends by name: `connect("duckdb")` (the embedded default) or `connect("spark")`."""

from __future__ import annotations

from attain.engine.backends.base import Backend

BACKENDS = ("duckdb", "spark")


def connect(name: str) -> Backend:
    """A new backend connection; Spark is imported only when asked for."""
    if name == "duckdb":
        from attain.engine.backends.duckdb import DuckDBBackend

        return DuckDBBackend()
    if name == "spark":
        from attain.engine.backends.spark import SparkBackend

        return SparkBackend()
    raise ValueError(f"Unknown engine backend {name!r}; use one of: {', '.join(BACKENDS)}.")


__all__ = ["BACKENDS", "Backend", "connect"]
