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
from pathlib import Path
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


def case_import_opportunities(path: str, rows: int, profile: str = "") -> dict[str, Any]:
    """`attain import FILE --mapping salesforce-opportunities`: validation (streamed) and the
    write in one transaction, rows per second and peak memory of this process. With `profile`,
    a cProfile of the import is written to that path."""
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

    started = time.perf_counter()
    job = _profiled(profile, lambda: import_path(None, Path(path),
                                                 mapping_name="salesforce-opportunities"))
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


def case_copy_opportunities(path: str, rows: int) -> dict[str, Any]:
    """Baseline for the import: the database's own bulk load of the same file into a table of
    the same columns, typed — PostgreSQL `COPY … FROM STDIN (FORMAT csv, HEADER)` streaming the
    file, SQLite `executemany` of the csv module's rows in one transaction."""
    columns = ("id varchar(18), name varchar(200), account varchar(64), owner varchar(64), "
               "amount numeric(15,2), currency varchar(3), stage varchar(64), type varchar(64), "
               "source varchar(64), created {ts}, close_date date, is_closed boolean, "
               "is_won boolean")
    return _bulk_load(path, rows, "bench_opps", columns, 13)


def _bulk_load(path: str, rows: int, table: str, columns: str, width: int,
               sqlite_row: Callable[[list[str]], list[str]] | None = None,
               datestyle: str = "") -> dict[str, Any]:
    """The database's own bulk load of the CSV at `path` into a new `table` of `columns`
    (`{ts}` stands for the timestamp type): PostgreSQL `COPY` streaming the file (with
    `datestyle` when given), SQLite `executemany` of the csv module's rows (through
    `sqlite_row` when given) in one transaction."""
    import csv

    setup_django()
    from django.db import connection, transaction

    started = time.perf_counter()
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "postgresql":
        with raw.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {table} ({columns.format(ts='timestamptz')})")
            if datestyle:
                cursor.execute(f"SET datestyle TO '{datestyle}'")
            with open(path, "rb") as handle, cursor.copy(
                    f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while block := handle.read(1 << 20):
                    copy.write(block)
        raw.commit()
    else:
        with transaction.atomic():
            cursor = raw.cursor()
            cursor.execute(f"CREATE TABLE {table} ({columns.format(ts='datetime')})")
            with open(path, newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                next(reader)
                cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})",
                                   map(sqlite_row, reader) if sqlite_row else reader)
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


# --- imports: order lines in the Superstore layout (built-in mapping `superstore`) -------------

ORDER_LINE_HEADER = ["Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID",
                     "Customer Name", "Segment", "Country", "City", "State", "Postal Code",
                     "Region", "Product ID", "Category", "Sub-Category", "Product Name", "Sales",
                     "Quantity", "Discount", "Profit"]
ORDER_LINE_CUSTOMERS = 5_000
ORDER_LINE_PRODUCTS = 2_000
LINES_PER_ORDER = 4
SEGMENTS = ("Consumer", "Corporate", "Home Office")
REGIONS = ("East", "West", "Central", "South")
CATEGORIES = ("Furniture", "Office Supplies", "Technology")


def case_order_lines_csv(path: str, rows: int) -> dict[str, Any]:
    """Write a deterministic Superstore-layout order-lines file of `rows` lines to `path`: four
    lines per order, 5,000 customers, 2,000 products, m/d/yyyy dates."""
    import csv

    started = time.perf_counter()
    first_day = date(2020, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_LINE_HEADER)
        for i in range(rows):
            order = i // LINES_PER_ORDER
            customer = (order * 37) % ORDER_LINE_CUSTOMERS
            product = (i * 13) % ORDER_LINE_PRODUCTS
            day = first_day + timedelta(days=order % 1800)
            ship = day + timedelta(days=3)
            writer.writerow([
                i + 1, f"CA-{day.year}-{order:09d}", f"{day.month}/{day.day}/{day.year}",
                f"{ship.month}/{ship.day}/{ship.year}", "Standard Class", f"C-{customer:05d}",
                f"Customer {customer}", SEGMENTS[customer % 3], "United States", "Springfield",
                "Illinois", "62701", REGIONS[customer % 4], f"P-{product:06d}",
                CATEGORIES[product % 3], "Binders", f"Product {product}",
                f"{(i * 7919) % 5000}.{i % 100:02d}", 1 + i % 9, "0", "1.5",
            ])
    return {"rows": rows, "seconds": time.perf_counter() - started}


def case_import_order_lines(path: str, rows: int, profile: str = "") -> dict[str, Any]:
    """`attain import FILE --mapping superstore`: accounts, products, one won opportunity per
    order and one booking per line, checked and written in one transaction (ADR 0012). With
    `profile`, a cProfile of the import is written to that path."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0, run_syncdb=True)

    from attain.crm.models import ForecastCategory, Stage
    from attain.ingest.actions import import_path

    Stage.objects.create(name="Closed Won", order=1, probability=Decimal(100),
                         forecast_category=ForecastCategory.CLOSED, is_won=True)
    started = time.perf_counter()
    job = _profiled(profile, lambda: import_path(None, Path(path), mapping_name="superstore"))
    seconds = time.perf_counter() - started
    if job.status != "succeeded" or job.counts["booking"].get("created") != rows:
        raise RuntimeError(f"import {job.status}: {job.message} {job.problems[:3]}")
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_rss_mb": peak_rss_mb()}


def _profiled(path: str, run: Callable[[], Any]) -> Any:
    if not path:
        return run()
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(run)
    finally:
        profiler.dump_stats(path)


def case_copy_order_lines(path: str, rows: int) -> dict[str, Any]:
    """Baseline for the order-lines import: the database's own bulk load of the same file into
    one typed table of its columns (PostgreSQL `COPY`; SQLite `executemany` of the csv rows with
    the dates rewritten to ISO, which SQLite needs, in one transaction)."""
    columns = ("row_id integer, order_id varchar(32), order_date date, ship_date date, "
               "ship_mode varchar(32), customer_id varchar(32), customer_name varchar(200), "
               "segment varchar(32), country varchar(64), city varchar(64), state varchar(64), "
               "postal_code varchar(16), region varchar(32), product_id varchar(32), "
               "category varchar(64), sub_category varchar(64), product_name varchar(200), "
               "sales numeric(15,2), quantity integer, discount numeric(6,4), "
               "profit numeric(15,4)")

    def iso(text: str) -> str:
        month, day, year = text.split("/")
        return f"{year}-{int(month):02d}-{int(day):02d}"

    return _bulk_load(path, rows, "bench_lines", columns, 21,
                      lambda r: [r[0], r[1], iso(r[2]), iso(r[3]), *r[4:]], "ISO, MDY")


def case_forecast(series: int, method: str = "default", months: int = 36,
                  n_jobs: int = 2) -> dict[str, Any]:
    """Fit and forecast `series` synthetic monthly series (36 months: level, trend, yearly
    season, noise; deterministic) 12 months ahead with the default method set (ADR 0011: one
    series in a hundred is a team, forecast with every candidate chosen per series; the rest
    are people, forecast with the fast models chosen once for the level; calibrated
    intervals) or, as the baseline, seasonal naive only. Independent series (no
    reconciliation)."""
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
    teams = max(1, series // 100)
    levels = {sid: "team" if i < teams else "person" for i, sid in enumerate(histories)}
    config = (ForecastConfig(horizon=12, season_length=12, n_jobs=n_jobs) if method == "default"
              else ForecastConfig(horizon=12, season_length=12, n_jobs=n_jobs,
                                  candidates=("seasonal_naive",), ensemble_size=1,
                                  bulk_candidates=("seasonal_naive",), bulk_ensemble_size=1))

    def cpu() -> float:  # this process and its statsforecast worker processes
        return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                   for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))

    started, cpu_started = time.perf_counter(), cpu()
    result = forecast_set(histories, None, config, levels=levels)
    seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"rows": len(result.series), "seconds": seconds, "rows_per_s": series / seconds,
            "cpu_seconds": round(cpu() - cpu_started, 2), "peak_rss_mb": peak_rss_mb(),
            "peak_worker_rss_mb": round(children),
            "members": sorted({"+".join(s.members) for s in result.series})}


# --- analytics: the runs and the dashboards on a generated organisation ------------------------

ANALYTICS_PAGES = (("performance", "/performance/"), ("compare", "/performance/compare/"),
                   ("leaderboard", "/performance/leaderboard/"), ("pipeline", "/pipeline/"),
                   ("bookings breakdown", "/performance/bookings/"))


def _percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-int(share * 100) * len(ordered) // 100) - 1))]


def _bare_scan(tables: dict[str, Any]) -> float:
    """Seconds DuckDB takes to read every column of every snapshot table (in memory, Arrow):
    `SELECT count(*), min(c) … FROM t` per table — the floor of any calculation on the data."""
    import duckdb

    connection = duckdb.connect()
    started = time.perf_counter()
    for name, table in tables.items():
        connection.register(name, table)
        columns = ", ".join(f'min("{c}")' for c in table.column_names)
        connection.execute(f"SELECT count(*), {columns} FROM {name}").fetchall()
    return time.perf_counter() - started


def case_analytics(reps: int, requests: int = 20, warmup: int = 3) -> dict[str, Any]:
    """A demo organisation of `reps` reps, then the full analytics run (bookings per person and
    period + performance + pipeline, each as `attain demo` runs them) and the dashboards' server
    time (Django test client, warm: `warmup` untimed requests, then `requests` timed ones, p50
    and p95) for sales operations (the company) and a manager (their subtree); next to it, in
    the same process on the same data, the bare engine scan of the runs' snapshot tables.
    Sizes: BENCH_ANALYTICS_REPS (reps), BENCH_ANALYTICS_REQUESTS (timed requests a page)."""
    setup_django()
    from attain.crm.models import Opportunity
    from attain.demo.generator import generate
    from attain.performance import engine_io as perf_io
    from attain.performance.actions import run_bookings_calculation, run_performance_analytics
    from attain.pipeline import engine_io as pipeline_io
    from attain.pipeline.actions import run_pipeline_analytics

    generate(reps)
    opportunities = Opportunity.objects.count()
    runs = {}
    started = time.perf_counter()
    for name, work in (("bookings", run_bookings_calculation),
                       ("performance", run_performance_analytics),
                       ("pipeline", run_pipeline_analytics)):
        run = work(None)
        if run.status != "succeeded":
            raise RuntimeError(f"{name} run failed: {run.error}")
        runs[name] = run.timings
    seconds = time.perf_counter() - started
    from django.utils import timezone

    as_of = timezone.localdate()
    tables = {
        "bookings": perf_io.snapshot_bookings(),
        "opportunities": pipeline_io.snapshot_opportunities(),
        "stage_changes": pipeline_io.snapshot_stage_changes(),
        "leads": pipeline_io.snapshot_leads(),
        "booking_lines": perf_io.snapshot_booking_lines(),
        "scopes": pipeline_io.snapshot_scopes(as_of),
    }
    scan = _bare_scan(tables)
    pages = dashboard_times(requests, warmup)
    rows = sum(t.num_rows for t in tables.values())
    return {"rows": opportunities, "seconds": seconds, "rows_per_s": opportunities / seconds,
            "peak_rss_mb": peak_rss_mb(), "runs": runs, "pages": pages,
            "scan": {"rows": rows, "seconds": scan, "rows_per_s": rows / scan,
                     "peak_rss_mb": peak_rss_mb()}}


def dashboard_times(requests: int = 20, warmup: int = 3) -> dict[str, dict[str, float]]:
    """p50 and p95 server time of each dashboard for sales operations, a manager and a rep
    (Django test client, warm), on the database as it is: `case_analytics` calls it after its
    runs; `python -c "from bench.cases import dashboard_times; print(dashboard_times())"` with
    DATABASE_URL set measures a database kept from an earlier case."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from attain.demo.logins import ensure_demo_logins

    ensure_demo_logins()  # users "ops", "manager", "rep" (see attain.demo.logins)
    pages: dict[str, dict[str, float]] = {}
    for role in ("ops", "manager", "rep"):
        client = Client()
        client.force_login(get_user_model().objects.get(username=role))
        for name, url in ANALYTICS_PAGES:
            if role != "ops" and name == "bookings breakdown":
                continue  # company-wide roles only
            for _ in range(warmup):
                assert client.get(url).status_code == 200, url
            times = []
            for _ in range(requests):
                began = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - began)
                assert response.status_code == 200, url
            pages[f"{name} ({role})"] = {"p50_ms": round(_percentile(times, 0.5) * 1000, 1),
                                         "p95_ms": round(_percentile(times, 0.95) * 1000, 1)}
    return pages


# --- compensation: a full period run against the bare pass and a row-by-row reference ---------

def case_comp_inputs(folder: str, people: int, lines: int) -> dict[str, Any]:
    """Generate the compensation benchmark's inputs (bench/comp_data.py) once and write them to
    `folder` as Arrow IPC files, which each measured part maps back (zero copy)."""

    import pyarrow as pa

    from bench.comp_data import comp_inputs

    started = time.perf_counter()
    tables = comp_inputs(people, lines)
    for name, table in tables.items():
        with pa.OSFile(str(Path(folder) / f"{name}.arrow"), "wb") as sink, \
                pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    return {"rows": lines, "seconds": time.perf_counter() - started,
            "input_mb": round(sum(t.nbytes for t in tables.values()) / 2**20),
            "sizes": {name: t.num_rows for name, t in tables.items()}}


def _comp_tables(folder: str) -> dict[str, Any]:

    import pyarrow as pa

    return {path.stem: pa.ipc.open_file(pa.memory_map(str(path))).read_all()
            for path in sorted(Path(folder).glob("*.arrow"))}


def _cpu_seconds() -> float:
    """CPU time of this process, every thread (less sensitive than wall time to a shared
    machine's load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def case_compensation(folder: str, part: str, sample_every: int = 1) -> dict[str, Any]:
    """One part of the compensation benchmark on the inputs in `folder` (case_comp_inputs):
    `engine`, the full run of Q2 2027 (`compute_compensation` on DuckDB: credits, measures,
    earning lines with traces, payouts); `bare`, the bare engine pass over the same lines (the
    order lines bound on the same backend and one grouped sum, amount per owner); `reference`,
    the row-by-row Python reference (bench/comp_reference.py) — with `sample_every` > 1 on the
    teams of every n-th first-line manager only (the lines crediting them, their members and
    managers: people whose pay depends on those lines alone), its time extrapolated by line
    count. Returns per-person totals (engine, reference) for the cross-check."""
    tables = _comp_tables(folder)
    bookings = tables["comp_bookings"]
    lines = bookings.num_rows
    mapped_mb = _rss_mb()
    if part == "bare":
        import attain.engine.compensation.schemas  # noqa: F401  (registers comp_bookings)
        from attain.engine.backends import connect

        with connect("duckdb") as backend:
            started, cpu = time.perf_counter(), _cpu_seconds()
            bound = backend.table("comp_bookings", bookings)
            sums = backend.execute(bound.group_by("owner_id").aggregate(
                total=bound.amount.sum()))
            seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        return {"rows": lines, "seconds": seconds, "rows_per_s": lines / seconds,
                "cpu_seconds": round(cpu, 2), "peak_rss_mb": peak_rss_mb(),
                "inputs_rss_mb": mapped_mb, "groups": sums.num_rows}
    from bench.comp_data import AS_OF, PERIOD, bench_plans

    plans = bench_plans()
    if part == "engine":
        from attain.engine.backends import connect
        from attain.engine.compensation.calculation import compute_compensation

        results = _result_spool(folder)
        with connect("duckdb") as backend:
            started, cpu = time.perf_counter(), _cpu_seconds()
            result = compute_compensation(backend, tables, plans, *PERIOD, AS_OF,
                                          sink=results.write)
            results.close()
            for name in ("measures", "payouts", "balances"):
                results.put(name, getattr(result, name))
            seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        earning = results.table("earning_lines").select(["person_id", "amount"])
        totals = earning.group_by("person_id").aggregate([("amount", "sum")])
        return {"rows": lines, "seconds": seconds, "rows_per_s": lines / seconds,
                "cpu_seconds": round(cpu, 2), "peak_rss_mb": peak_rss_mb(),
                "inputs_rss_mb": mapped_mb, **results.counts,
                "output_mb": round(results.bytes() / 2**20),
                "totals": {str(p): str(t) for p, t in zip(
                    totals.column("person_id").to_pylist(),
                    totals.column("amount_sum").to_pylist(), strict=True)}}
    if part != "reference":
        raise ValueError(f"unknown part {part!r}: engine, bare or reference")
    import pyarrow.compute as pc

    from bench.comp_data import Organisation
    from bench.comp_reference import reference_totals

    people = tables["comp_assignments"].num_rows
    only = None
    if sample_every > 1:
        org = Organisation(people)
        teams = set(range(0, org.managers, sample_every))
        members = [int(p) for ids, managers in ((org.ae_ids, org.ae_manager),
                                                (org.sdr_ids, org.sdr_manager))
                   for p, m in zip(ids, managers, strict=True)
                   if int(m) - int(org.manager_ids[0]) in teams]
        only = set(members) | {int(org.manager_ids[m]) for m in teams}
        splits = tables["comp_splits"]
        split_opps = splits.filter(pc.is_in(splits.column("person_id"),
                                            _int64_array(sorted(only)))).column("opportunity_id")
        bookings = bookings.filter(pc.or_(
            pc.is_in(bookings.column("owner_id"), _int64_array(members)),
            pc.is_in(bookings.column("opportunity_id"), split_opps.unique())))
    started, cpu = time.perf_counter(), _cpu_seconds()
    totals = reference_totals({**tables, "comp_bookings": bookings}, plans, *PERIOD, AS_OF,
                              only)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    read = bookings.num_rows
    full = seconds * lines / read  # extrapolated by line count when sampled
    return {"rows": lines, "seconds": full, "rows_per_s": lines / full,
            "cpu_seconds": round(cpu * lines / read, 2), "peak_rss_mb": peak_rss_mb(),
            "inputs_rss_mb": mapped_mb,
            "sampled": sample_every > 1, "lines_read": read, "measured_seconds": seconds,
            "people": len(totals), "totals": {str(p): str(t) for p, t in totals.items()}}


def _result_spool(folder: str) -> Any:
    """Where the `engine` part streams the run's results and `comp_store` reads them."""
    from attain.engine.spool import Spool

    path = Path(folder) / "results"
    path.mkdir(exist_ok=True)
    return Spool(path)


def case_comp_store(folder: str) -> dict[str, Any]:
    """Storing a compensation run's results (`compensation.engine_io._store`: credits, earning
    lines, payouts, payout lines and closing state) in the empty database of DATABASE_URL,
    inside a transaction rolled back at the end (the inputs' people and plans are not in the
    database, so nothing may be committed). The results are the files the `engine` part
    streamed them to (`attain.engine.spool`), read a batch at a time as a run of the app would take
    them from the engine; that run is not timed here."""
    setup_django()
    from django.db import transaction

    from attain.compensation.engine_io import RunOutput, _store
    from attain.compensation.models import CompRun
    from attain.engine.compensation.payouts import COMP_PAYOUT_LEDGER, COMP_PAYOUT_LINES
    from attain.engine.compensation.schemas import COMP_CREDITS, COMP_EARNING_LINES

    results = _result_spool(folder)
    output = RunOutput(credits=results.rows("credits", COMP_CREDITS.schema),
                       earning_lines=results.rows("earning_lines", COMP_EARNING_LINES.schema),
                       payouts=results.table("payouts"),
                       payout_lines=results.rows("payout_lines", COMP_PAYOUT_LINES.schema),
                       balances=results.table("balances"),
                       ledger=results.rows("ledger", COMP_PAYOUT_LEDGER.schema))
    with transaction.atomic():
        started, cpu = time.perf_counter(), _cpu_seconds()
        stored = _store(CompRun(pk=1), output, None)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        transaction.set_rollback(True)
    return {"rows": stored, "seconds": seconds, "rows_per_s": stored / seconds,
            "cpu_seconds": round(cpu, 2), "peak_rss_mb": peak_rss_mb()}


def case_comp_run(requests: int = 5) -> dict[str, Any]:
    """The app's own compensation run of a demo company's last completed quarter, end to end
    (`compensation.actions.run_compensation`: snapshot of the database, engine, store), on the
    company the `generate` case made in this database (another process, so the peak memory
    is the run's), once the example plans are assigned as `make demo` assigns them. Then the
    run's page and the statement with the most lines (the top manager's), warm server time
    through the Django test client as the ops user, next to the login page (the same stack,
    no data, not logged in). Returns the run's seconds and rows, its steps' times and the
    pages' p50."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from attain.compensation import actions
    from attain.compensation.models import EarningLine
    from attain.core.actions import fiscal_calendar
    from attain.demo.compensation import assign_people, last_completed_quarter, publish_examples
    from attain.demo.logins import ensure_demo_logins

    quarter = last_completed_quarter(timezone.localdate())
    assign_people(publish_examples(fiscal_calendar().rules.year_start(quarter.start)),
                  fiscal_calendar().rules.year_start(quarter.start))
    started = time.perf_counter()
    run = actions.run_compensation(None, period_id=quarter.pk)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    calc = run.calc_run
    top = (EarningLine.objects.filter(run=run).values("person_id")
           .annotate(lines=Count("id")).order_by("-lines", "person_id").first())
    assert top is not None, "the run has no earning lines"
    ensure_demo_logins()
    ops = Client()
    ops.force_login(get_user_model().objects.get(username="ops"))
    pages = {}
    for name, client, url in (
            ("login page", Client(), "/login/"), ("run page", ops, f"/comp/runs/{run.pk}/"),
            ("top statement", ops, f"/comp/statements/{run.pk}/{top['person_id']}/")):
        times, size = [], 0
        for attempt in range(requests + 1):  # the first request warms the caches
            began = time.perf_counter()
            response = client.get(url)
            if attempt:
                times.append(time.perf_counter() - began)
            assert response.status_code == 200, (url, response.status_code)
            size = len(response.content)
        pages[name] = {"p50_s": round(_percentile(times, 0.5), 4), "kb": round(size / 1024)}
    return {"rows": calc.output_rows, "seconds": seconds,
            "rows_per_s": calc.output_rows / seconds, "peak_rss_mb": peak,
            "input_rows": calc.input_rows, "steps": calc.timings,
            "top_statement_lines": top["lines"], "payouts": run.payouts.count(), "pages": pages}


# --- the what-if estimator: one engine pass per ticked combination -----------------------------


def case_what_if(reps: int, requests: int = 5) -> dict[str, Any]:
    """The what-if estimator on a demo organisation of `reps` reps with the example plans
    assigned (as `attain demo` does, without storing a run): API requests
    (POST /api/v1/comp/what-if) for the demo rep, each ticking one more of their open deals of
    the current pay period, a combination not asked before, so one engine pass each (a first,
    untimed request computes and caches the figure without deals); p50 and worst; then the last
    request again (answered from the estimate cache). Baseline, same process and data: the bare
    engine scan (`_bare_scan`) of the rep's snapshot tables."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from attain.compensation import engine_io
    from attain.compensation import queries as cq
    from attain.core.actions import fiscal_calendar
    from attain.demo.compensation import assign_people, last_completed_quarter, publish_examples
    from attain.demo.generator import generate
    from attain.demo.logins import ensure_demo_logins
    from attain.people.models import Person

    generate(reps)
    today = timezone.localdate()
    year_start = fiscal_calendar().rules.year_start(last_completed_quarter(today).start)
    assign_people(publish_examples(year_start), year_start)
    ensure_demo_logins()
    rep = Person.objects.get(user__username="rep")
    period = cq.what_if_periods(rep.pk, today)[0]
    deals = [o.pk for o in cq.open_deals(rep.pk, period, today)][:requests]
    if not deals:
        raise RuntimeError(f"the demo rep has no open deal in {period.label}")
    client = Client()
    client.force_login(get_user_model().objects.get(username="rep"))

    def ask(ids: list[int]) -> float:
        began = time.perf_counter()
        response = client.post("/api/v1/comp/what-if", {"opportunity_ids": ids},
                               content_type="application/json")
        elapsed = time.perf_counter() - began
        assert response.status_code == 200, response.content
        return elapsed

    ask([])
    times = [ask(deals[:count]) for count in range(1, len(deals) + 1)]
    cached = [ask(deals) for _ in range(3)]
    plans = engine_io.plans_of(engine_io.snapshot_assignments(
        engine_io.lookback_start(period), period.end, period.start, [rep.pk]))
    tables = engine_io.snapshot_inputs(period, payees=[rep.pk], credited=engine_io
                                       .estimate_people(rep.pk, period, plans))
    scan = _bare_scan(tables)
    rows = sum(t.num_rows for t in tables.values())
    return {"rows": len(times), "seconds": _percentile(times, 0.5),
            "rows_per_s": 1 / _percentile(times, 0.5), "worst_seconds": max(times),
            "cached_seconds": _percentile(cached, 0.5), "peak_rss_mb": peak_rss_mb(),
            "scan": {"rows": rows, "seconds": scan, "rows_per_s": rows / scan,
                     "peak_rss_mb": peak_rss_mb()}}


def _int64_array(values: Any) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.int64())


CASES: dict[str, Callable[..., dict[str, Any]]] = {
    "forecast": case_forecast,
    "comp_inputs": case_comp_inputs,
    "compensation": case_compensation,
    "comp_store": case_comp_store,
    "what_if": case_what_if,
    "comp_run": case_comp_run,
    "opportunities_csv": case_opportunities_csv,
    "import_opportunities": case_import_opportunities,
    "csv_read": case_csv_read,
    "copy_opportunities": case_copy_opportunities,
    "order_lines_csv": case_order_lines_csv,
    "import_order_lines": case_import_order_lines,
    "copy_order_lines": case_copy_order_lines,
    "analytics": case_analytics,
    "fill": case_fill,
    "generate": case_generate,
    "raw_insert": case_raw_insert,
    "snapshot": case_snapshot,
    "parquet_scan": case_parquet_scan,
}

if __name__ == "__main__":
    result = CASES[sys.argv[1]](**json.loads(sys.argv[2]))
    print(json.dumps(result))
