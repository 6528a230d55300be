"""One benchmark case per process, so each reports its own peak memory.

Run as `python -m bench.cases CASE JSON_PARAMS`; prints one JSON object on the last line.
DATABASE_URL must point at the database the case works on (see bench/databases.py).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attain.settings")
CURRENCIES = ("USD", "EUR", "GBP", "AUD")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def synthetic_bookings(rows: int, people: list[int], start: int = 0) -> Iterator[tuple[Any, ...]]:
    """Deterministic booking rows: (external_id, owner_id, amount, currency, booked_on, qty)."""
    first_day = date(2020, 1, 1)
    for i in range(start, start + rows):
        yield (
            f"B{i}", people[i % len(people)], Decimal(f"{(i * 7919) % 100000}.{i % 100:02d}"),
            CURRENCIES[i % len(CURRENCIES)], first_day + timedelta(days=i % 2190), Decimal("1"),
        )


def bulk_fill(table: str, columns: list[str], rows: Iterator[tuple[Any, ...]],
              chunk: int = 50_000) -> None:
    """Insert rows with the driver's fastest path: COPY on PostgreSQL, executemany on SQLite."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "postgresql":
        with raw.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
        return
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    cursor = raw.cursor()
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(tuple(str(v) if isinstance(v, Decimal) else v for v in row))
        if len(batch) >= chunk:
            cursor.executemany(sql, batch)
            batch.clear()
    if batch:
        cursor.executemany(sql, batch)
    raw.commit()


def case_fill(rows: int, people: int = 10_000) -> dict[str, Any]:
    """Load `rows` bookings owned by `people` people (set-up for the snapshot case)."""
    setup_django()
    from attain.crm.models import Booking
    from attain.people.models import Person

    started = time.perf_counter()
    Person.objects.bulk_create(
        [Person(external_id=f"P{i}", name=f"Person {i}") for i in range(people)], batch_size=5000
    )
    ids = list(Person.objects.order_by("id").values_list("id", flat=True))
    bulk_fill(Booking._meta.db_table,
              ["external_id", "owner_id", "amount", "currency", "booked_on", "quantity"],
              synthetic_bookings(rows, ids))
    return {"rows": rows, "seconds": time.perf_counter() - started}


def case_generate(reps: int) -> dict[str, Any]:
    """The demo generator at `reps` reps: rows written per second."""
    setup_django()
    from django.apps import apps

    from attain.demo.generator import generate

    started = time.perf_counter()
    generate(reps)
    seconds = time.perf_counter() - started
    rows = sum(model.objects.count() for model in apps.get_models()
               if model._meta.app_label in {"people", "crm", "performance", "core"})
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


def case_raw_insert(rows: int) -> dict[str, Any]:
    """Baseline for generation: the same number of plain rows through the driver's fastest path."""
    setup_django()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_raw (external_id varchar(64), owner_id bigint, "
                       "amount numeric(15,2), currency varchar(3), booked_on date, "
                       "quantity numeric(12,2))")
    started = time.perf_counter()
    bulk_fill("bench_raw", ["external_id", "owner_id", "amount", "currency", "booked_on",
                            "quantity"], synthetic_bookings(rows, [1, 2, 3]))
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


def case_snapshot(parquet_path: str) -> dict[str, Any]:
    """OLTP → Arrow through the snapshot path; saves the result as Parquet for the baseline."""
    import django

    django.setup()
    import pyarrow.parquet as pq

    from attain.performance.engine_io import snapshot_bookings

    started = time.perf_counter()
    table = snapshot_bookings()
    seconds = time.perf_counter() - started
    pq.write_table(table, parquet_path)
    return {"rows": table.num_rows, "seconds": seconds, "rows_per_s": table.num_rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


def case_parquet_scan(parquet_path: str) -> dict[str, Any]:
    """Baseline for the snapshot: DuckDB reading the same rows from Parquet into Arrow."""
    import duckdb

    started = time.perf_counter()
    table = duckdb.connect().read_parquet(parquet_path).fetch_arrow_table()
    seconds = time.perf_counter() - started
    return {"rows": table.num_rows, "seconds": seconds, "rows_per_s": table.num_rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


CASES: dict[str, Callable[..., dict[str, Any]]] = {
    "fill": case_fill,
    "generate": case_generate,
    "raw_insert": case_raw_insert,
    "snapshot": case_snapshot,
    "parquet_scan": case_parquet_scan,
}

if __name__ == "__main__":
    result = CASES[sys.argv[1]](**json.loads(sys.argv[2]))
    print(json.dumps(result))
