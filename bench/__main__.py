"""`make bench`: generation and snapshot throughput on SQLite and PostgreSQL, with baselines.

Each case runs in its own process (so peak memory is its own) against a fresh database. Figures are
printed as a table and saved as JSON under bench/results/. Sizes come from the environment:
BENCH_ROWS (comma-separated booking counts, default "1000000,10000000"), BENCH_FORECAST_SERIES
(series for the forecast case, default 10000), BENCH_REPS (reps for the
generator case, default 1000), BENCH_DATABASES (default "sqlite,postgres"), BENCH_IMPORT_ROWS
(rows of the generated opportunities export the import case reads, default 1000000).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.databases import fresh_database_url, postgres_available

RESULTS = Path(__file__).parent / "results"


def run_case(case: str, database_url: str | None, **params: Any) -> dict[str, Any]:
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
    env.setdefault("ATTAIN_VAR_DIR", tempfile.mkdtemp(prefix="attain-bench-var-"))
    completed = subprocess.run(
        [sys.executable, "-m", "bench.cases", case, json.dumps(params)],
        env=env, capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench case {case} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def row(name: str, database: str, measured: dict[str, Any], baseline_name: str,
        baseline: dict[str, Any]) -> dict[str, Any]:
    """One result line; also printed at once (stderr), so a run stopped early keeps its figures."""
    result = {
        "benchmark": name, "database": database, "rows": measured["rows"],
        "seconds": round(measured["seconds"], 3), "rows_per_s": round(measured["rows_per_s"]),
        "peak_rss_mb": round(measured["peak_rss_mb"]), "baseline": baseline_name,
        "baseline_seconds": round(baseline["seconds"], 3),
        "baseline_rows_per_s": round(baseline["rows_per_s"]),
        "baseline_peak_rss_mb": round(baseline["peak_rss_mb"]),
        "ratio_to_baseline": round(measured["seconds"] / baseline["seconds"], 1),
    }
    print(f"  measured: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def main() -> None:
    sizes = [int(n) for n in os.environ.get("BENCH_ROWS", "1000000,10000000").split(",")]
    reps = int(os.environ.get("BENCH_REPS", "1000"))
    databases = os.environ.get("BENCH_DATABASES", "sqlite,postgres").split(",")
    if "postgres" in databases and not postgres_available():
        print("PostgreSQL not reachable: benchmarking SQLite only", file=sys.stderr)
        databases = [d for d in databases if d != "postgres"]
    rows: list[dict[str, Any]] = []
    for database in databases:
        print(f"[{database}] generating an organisation of {reps} reps …", file=sys.stderr)
        generated = run_case("generate", fresh_database_url(database), reps=reps)
        raw = run_case("raw_insert", fresh_database_url(database), rows=generated["rows"])
        rows.append(row(f"generate {reps} reps", database, generated,
                        "same rows, driver bulk insert", raw))
        for size in sizes:
            print(f"[{database}] snapshot of {size:,} bookings …", file=sys.stderr)
            url = fresh_database_url(database)
            run_case("fill", url, rows=size)
            parquet = str(Path(tempfile.mkdtemp(prefix="attain-bench-pq-")) / "bookings.parquet")
            snapshot = run_case("snapshot", url, parquet_path=parquet)
            scan = run_case("parquet_scan", None, parquet_path=parquet)
            rows.append(row(f"snapshot {size:,} bookings → Arrow", database, snapshot,
                            "DuckDB reads same rows from Parquet", scan))
    import_rows = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
    folder = Path(tempfile.mkdtemp(prefix="attain-bench-import-"))
    export = str(folder / "opportunities.csv")
    print(f"writing a {import_rows:,}-row opportunities export …", file=sys.stderr)
    run_case("opportunities_csv", None, path=export, rows=import_rows)
    for database in databases:
        print(f"[{database}] import of {import_rows:,} opportunities …", file=sys.stderr)
        imported = run_case("import_opportunities", fresh_database_url(database), path=export,
                            rows=import_rows)
        baseline = run_case("csv_read", None, path=export, rows=import_rows)
        rows.append(row(f"import {import_rows:,} opportunities (CSV)", database, imported,
                        "csv module reads the same file", baseline))
    forecast_series = int(os.environ.get("BENCH_FORECAST_SERIES", "10000"))
    print(f"forecasting {forecast_series:,} series …", file=sys.stderr)
    default = run_case("forecast", None, series=forecast_series, method="default")
    naive = run_case("forecast", None, series=forecast_series, method="seasonal_naive")
    rows.append(row(f"forecast {forecast_series:,} monthly series (default method set)", "-",
                    default, "seasonal naive only, same run", naive))
    print_table(rows)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps({"at": stamp, "machine": platform.platform(),
                               "cpus": os.cpu_count(), "results": rows}, indent=2))
    print(f"\nsaved {out}")


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["benchmark", "database", "rows", "seconds", "rows_per_s", "peak_rss_mb",
               "baseline", "baseline_seconds", "baseline_rows_per_s", "baseline_peak_rss_mb",
               "ratio_to_baseline"]
    widths = {h: max(len(h), *(len(f"{r[h]:,}" if isinstance(r[h], int) else str(r[h]))
                                 for r in rows)) for h in headers}

    def cell(value: Any, header: str) -> str:
        text = f"{value:,}" if isinstance(value, int) else str(value)
        return text.rjust(widths[header]) if isinstance(value, int | float) else text.ljust(
            widths[header])

    print("  ".join(h.ljust(widths[h]) for h in headers))
    for r in rows:
        print("  ".join(cell(r[h], h) for h in headers))


if __name__ == "__main__":
    main()
