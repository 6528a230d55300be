"""Fresh, empty databases for one benchmark case: a new SQLite file or a recreated PostgreSQL db."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "attain_bench")


def postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3).close()
    except Exception:
        return False
    return True


def fresh_database_url(kind: str) -> str:
    """A DATABASE_URL pointing at an empty database of `kind` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="attain-bench-"))
        return f"sqlite:///{directory / 'bench.sqlite3'}"
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {PG_DATABASE}")
    return f"{PG_SERVER}/{PG_DATABASE}"
