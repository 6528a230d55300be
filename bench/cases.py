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
from datetime import UTC, date, datetime, timedelta
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
    from django.db import connection, transaction

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
    # Django keeps sqlite3 in autocommit: without one explicit transaction every row would be its
    # own commit (and fsync), which made 10M rows take hours.
    with transaction.atomic():
        cursor = raw.cursor()
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(str(v) if isinstance(v, Decimal) else v for v in row))
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)


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


# --- imports: a Salesforce Opportunity export of any size ---------------------------------------

IMPORT_PEOPLE = 1_000
IMPORT_ACCOUNTS = 10_000
IMPORT_STAGES = (("Prospecting", False, False), ("Qualification", False, False),
                 ("Discovery", False, False), ("Proposal", False, False),
                 ("Negotiation", False, False), ("Closed Won", True, False),
                 ("Closed Lost", False, True))
OPPORTUNITY_HEADER = ["Id", "Name", "AccountId", "OwnerId", "Amount", "CurrencyIsoCode",
                      "StageName", "Type", "LeadSource", "CreatedDate", "CloseDate", "IsClosed",
                      "IsWon"]


def case_opportunities_csv(path: str, rows: int) -> dict[str, Any]:
    """Write a deterministic Salesforce-style Opportunity export of `rows` rows to `path`."""
    import csv

    started = time.perf_counter()
    first_day = date(2020, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OPPORTUNITY_HEADER)
        for i in range(rows):
            stage, won, lost = IMPORT_STAGES[i % len(IMPORT_STAGES)]
            created = first_day + timedelta(days=i % 1800)
            writer.writerow([
                f"006B{i:014d}", f"Deal {i}", f"A{i % IMPORT_ACCOUNTS}",
                f"P{i % IMPORT_PEOPLE}", f"{(i * 7919) % 100000}.{i % 100:02d}",
                CURRENCIES[i % len(CURRENCIES)], stage, "New Business", "Web",
                f"{created.isoformat()}T09:30:00.000+0000",
                (created + timedelta(days=30 + i % 300)).isoformat(),
                "true" if won or lost else "false", "true" if won else "false",
            ])
    return {"rows": rows, "seconds": time.perf_counter() - started}


def case_import_opportunities(path: str, rows: int) -> dict[str, Any]:
    """`attain import FILE --mapping salesforce-opportunities`: validation (streamed) and the
    write in one transaction, rows per second and peak memory of this process."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0, run_syncdb=True)
    from attain.crm.models import Account, ForecastCategory, Stage
    from attain.ingest.actions import import_path
    from attain.people.models import Person

    for order, (name, won, lost) in enumerate(IMPORT_STAGES, start=1):
        Stage.objects.create(name=name, order=order, probability=Decimal(100 if won else 50),
                             forecast_category=ForecastCategory.CLOSED if won or lost
                             else ForecastCategory.PIPELINE, is_won=won, is_lost=lost)
    Person.objects.bulk_create([Person(external_id=f"P{i}", name=f"Person {i}")
                                for i in range(IMPORT_PEOPLE)], batch_size=5000)
    moment = datetime(2019, 1, 1, tzinfo=UTC)
    Account.objects.bulk_create([Account(external_id=f"A{i}", name=f"Account {i}",
                                         created_at=moment) for i in range(IMPORT_ACCOUNTS)],
                                batch_size=5000)
    from pathlib import Path

    started = time.perf_counter()
    job = import_path(None, Path(path), mapping_name="salesforce-opportunities")
    seconds = time.perf_counter() - started
    if job.status != "succeeded" or job.counts["opportunity"].get("created") != rows:
        raise RuntimeError(f"import {job.status}: {job.message} {job.problems[:3]}")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


def case_csv_read(path: str, rows: int) -> dict[str, Any]:
    """Baseline for the import: Python's csv module reading the same file, every field."""
    import csv

    started = time.perf_counter()
    count = 0
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for _ in reader:
            count += 1
    seconds = time.perf_counter() - started
    assert count == rows
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


def case_forecast(series: int, method: str = "default", months: int = 36,
                  n_jobs: int = 2) -> dict[str, Any]:
    """Fit and forecast `series` synthetic monthly series (36 months: level, trend, yearly
    season, noise; deterministic) 12 months ahead with the default method set (backtest
    selection, ensemble, calibrated intervals) or, as the baseline, seasonal naive only."""
    import numpy as np

    from attain.engine.forecasting.timeseries import ForecastConfig, forecast_set

    rng = np.random.default_rng(7)
    t = np.arange(months)
    histories = {
        f"s{i}": np.maximum(0.0, level * (1 + trend * t
                                          + 0.3 * np.sin(2 * np.pi * (t + phase) / 12))
                            + rng.normal(0, level * 0.15, months))
        for i, (level, trend, phase) in enumerate(zip(
            rng.uniform(1_000, 100_000, series), rng.uniform(-0.01, 0.03, series),
            rng.integers(0, 12, series), strict=True))
    }
    config = (ForecastConfig(horizon=12, season_length=12, n_jobs=n_jobs) if method == "default"
              else ForecastConfig(horizon=12, season_length=12, n_jobs=n_jobs,
                                  candidates=("seasonal_naive",), ensemble_size=1))
    started = time.perf_counter()
    result = forecast_set(histories, None, config)
    seconds = time.perf_counter() - started
    return {"rows": len(result.series), "seconds": seconds, "rows_per_s": series / seconds,
            "peak_rss_mb": peak_rss_mb()}


CASES: dict[str, Callable[..., dict[str, Any]]] = {
    "forecast": case_forecast,
    "opportunities_csv": case_opportunities_csv,
    "import_opportunities": case_import_opportunities,
    "csv_read": case_csv_read,
    "fill": case_fill,
    "generate": case_generate,
    "raw_insert": case_raw_insert,
    "snapshot": case_snapshot,
    "parquet_scan": case_parquet_scan,
}

if __name__ == "__main__":
    result = CASES[sys.argv[1]](**json.loads(sys.argv[2]))
    print(json.dumps(result))
