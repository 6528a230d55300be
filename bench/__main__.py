"""`make bench`: generation and snapshot throughput on SQLite and PostgreSQL, with baselines.

Each case runs in its own process (so peak memory is its own) against a fresh database. Figures are
printed as a table and saved as JSON under bench/results/. Sizes come from the environment:
BENCH_ROWS (comma-separated booking counts, default "1000000,10000000"), BENCH_FORECAST_SERIES
(series for the forecast case, default 10000), BENCH_REPS (reps for the
generator case, default 1000), BENCH_DATABASES (default "sqlite,postgres"; empty for no database
parts, e.g. the compensation engine alone), BENCH_IMPORT_ROWS
(rows of the generated opportunities export the import case reads, default 1000000),
BENCH_ORDER_LINES (lines of the generated Superstore-layout order-lines export imported with the
`superstore` mapping, default 10000000),
BENCH_ANALYTICS_REPS (reps of the organisation the analytics case generates, default 10000: about
1M opportunities), BENCH_ANALYTICS_REQUESTS (timed requests per dashboard, default 20),
BENCH_PG_DATABASE (the PostgreSQL database recreated for each case, default attain_bench),
BENCH_COMP_PEOPLE and BENCH_COMP_LINES (the compensation case: people and credited order lines,
default 10000 and 10000000), BENCH_COMP_REFERENCE_SAMPLE (the row-by-row reference runs on the
teams of every n-th first-line manager and its time is extrapolated by line count; default 10
above 1,000,000 lines, else 1: all of them), BENCH_COMP_ENGINE_MB (the memory DuckDB may hold in
the compensation run, ATTAIN_ENGINE_MEMORY_MB, default 1536: the 10,000,000-line run then peaks
under the issue's 4 GB), BENCH_COMP_FORCE (run the
compensation case even when its expected peak memory or the disk its results are streamed to
exceeds what the machine has available; without it the case is skipped with a message),
BENCH_COMP_RUN_REPS (reps of the demo company whose quarter the comp_run case runs through the
app end to end, default 10000), BENCH_WHAT_IF_REPS (reps of the demo organisation of the what-if
case, default 200),
BENCH_CASES (which cases to run, comma-separated, default all: generate, snapshot, import,
order_lines, analytics, forecast, compensation, comp_run, what_if). The
import is shown next to two baselines of the same run: the database's own bulk load of the same
file (COPY on PostgreSQL, executemany on SQLite) and the csv module reading it.

The compensation case (engine level) generates an organisation and its order lines
(bench/comp_data.py: AEs, SDRs and managers on the three example plans, splits, overlays,
roll-ups, four currencies, year-to-date measures), then times in separate processes a full Q2
run (`compute_compensation` on DuckDB, payouts included, its credits, earning and payout lines
and closing ledger streamed batch by batch to Arrow files on disk as the engine reads them),
the bare engine pass
over the same
lines (one grouped sum) and the row-by-row Python reference of the same plans
(bench/comp_reference.py), whose per-person totals must equal the engine's to the cent (checked
and printed; a mismatch fails the case). Then, per database, it stores the run's results the
way a run does (`compensation.engine_io._store`, reading those files a batch at a time, in a
transaction rolled back at the end), shown
next to the engine run that computed them. The load average is printed with the figures: the
machine may be shared.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
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


CASES = ("generate", "snapshot", "import", "order_lines", "analytics", "forecast", "compensation",
         "comp_run", "what_if")


def main() -> None:
    wanted = os.environ.get("BENCH_CASES", ",".join(CASES)).split(",")
    unknown = sorted(set(wanted) - set(CASES))
    if unknown:
        raise SystemExit(f"BENCH_CASES: unknown case(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(CASES)}")
    databases = [name for name in os.environ.get("BENCH_DATABASES", "sqlite,postgres").split(",")
                 if name]  # empty: no database parts
    if "postgres" in databases and not postgres_available():
        print("PostgreSQL not reachable: benchmarking SQLite only", file=sys.stderr)
        databases = [d for d in databases if d != "postgres"]
    folder = Path(tempfile.mkdtemp(prefix="attain-bench-"))
    # The generated exports (10M order lines: 1.8 GB) exceed the default import limit
    # (ATTAIN_IMPORT_MAX_MB, 512): the benchmark raises it, as an administrator would.
    os.environ.setdefault("ATTAIN_IMPORT_MAX_MB", "8192")
    rows: list[dict[str, Any]] = []
    for case in CASES:
        if case in wanted:
            rows.extend(BENCHES[case](databases, folder))
    print_table(rows)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps({"at": stamp, "machine": platform.platform(),
                               "cpus": os.cpu_count(), "results": rows}, indent=2))
    print(f"\nsaved {out}")


def bench_generate(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    reps = int(os.environ.get("BENCH_REPS", "1000"))
    rows = []
    for database in databases:
        print(f"[{database}] generating an organisation of {reps} reps …", file=sys.stderr)
        generated = run_case("generate", fresh_database_url(database), reps=reps)
        raw = run_case("raw_insert", fresh_database_url(database), rows=generated["rows"])
        rows.append(row(f"generate {reps} reps", database, generated,
                        "same rows, driver bulk insert", raw))
    return rows


def bench_snapshot(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    sizes = [int(n) for n in os.environ.get("BENCH_ROWS", "1000000,10000000").split(",")]
    rows = []
    for database in databases:
        for size in sizes:
            print(f"[{database}] snapshot of {size:,} bookings …", file=sys.stderr)
            url = fresh_database_url(database)
            run_case("fill", url, rows=size)
            parquet = str(folder / f"bookings-{database}-{size}.parquet")
            snapshot = run_case("snapshot", url, parquet_path=parquet)
            scan = run_case("parquet_scan", None, parquet_path=parquet)
            rows.append(row(f"snapshot {size:,} bookings → Arrow", database, snapshot,
                            "DuckDB reads same rows from Parquet", scan))
    return rows


def bench_import(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    import_rows = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
    export = str(folder / "opportunities.csv")
    print(f"writing a {import_rows:,}-row opportunities export …", file=sys.stderr)
    run_case("opportunities_csv", None, path=export, rows=import_rows)
    rows = []
    for database in databases:
        print(f"[{database}] import of {import_rows:,} opportunities …", file=sys.stderr)
        imported = run_case("import_opportunities", fresh_database_url(database), path=export,
                            rows=import_rows)
        loaded = run_case("copy_opportunities", fresh_database_url(database), path=export,
                          rows=import_rows)
        rows.append(row(f"import {import_rows:,} opportunities (CSV)", database, imported,
                        "database bulk load of the same file (COPY / executemany)", loaded))
        baseline = run_case("csv_read", None, path=export, rows=import_rows)
        rows.append(row(f"import {import_rows:,} opportunities (CSV)", database, imported,
                        "csv module reads the same file", baseline))
    return rows


def bench_order_lines(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    line_rows = int(os.environ.get("BENCH_ORDER_LINES", "10000000"))
    lines = str(folder / "order_lines.csv")
    print(f"writing a {line_rows:,}-line order-lines export …", file=sys.stderr)
    run_case("order_lines_csv", None, path=lines, rows=line_rows)
    rows = []
    for database in databases:
        print(f"[{database}] import of {line_rows:,} order lines …", file=sys.stderr)
        imported = run_case("import_order_lines", fresh_database_url(database), path=lines,
                            rows=line_rows)
        loaded = run_case("copy_order_lines", fresh_database_url(database), path=lines,
                          rows=line_rows)
        rows.append(row(f"import {line_rows:,} order lines (CSV, superstore mapping)", database,
                        imported, "database bulk load of the same file (COPY / executemany)",
                        loaded))
    return rows


def bench_analytics(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    analytics_reps = int(os.environ.get("BENCH_ANALYTICS_REPS", "10000"))
    analytics_requests = int(os.environ.get("BENCH_ANALYTICS_REQUESTS", "20"))
    rows = []
    for database in databases:
        print(f"[{database}] analytics on {analytics_reps:,} reps …", file=sys.stderr)
        rows.extend(analytics_rows(database, run_case(
            "analytics", fresh_database_url(database), reps=analytics_reps,
            requests=analytics_requests)))
    return rows


def bench_forecast(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    forecast_series = int(os.environ.get("BENCH_FORECAST_SERIES", "10000"))
    print(f"forecasting {forecast_series:,} series …", file=sys.stderr)
    default = run_case("forecast", None, series=forecast_series, method="default")
    naive = run_case("forecast", None, series=forecast_series, method="seasonal_naive")
    return [row(f"forecast {forecast_series:,} monthly series (default method set)", "-",
                default, "seasonal naive only, same run", naive)]


def bench_compensation(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    people = int(os.environ.get("BENCH_COMP_PEOPLE", "10000"))
    lines = int(os.environ.get("BENCH_COMP_LINES", "10000000"))
    every = int(os.environ.get("BENCH_COMP_REFERENCE_SAMPLE", "10" if lines > 1_000_000
                               else "1"))
    engine_mb = int(os.environ.get("BENCH_COMP_ENGINE_MB", "1536"))
    needed, available = engine_mb + COMP_MB_BASE + COMP_MB_PER_LINE * lines, available_mb()
    disk, free = COMP_DISK_MB_PER_LINE * lines, shutil.disk_usage(folder).free / 2**20
    if (needed > available or disk > free) and not os.environ.get("BENCH_COMP_FORCE"):
        print(f"compensation: SKIPPED at {lines:,} lines — the run needs about "
              f"{needed / 1024:,.1f} GB of memory (DuckDB's {engine_mb:,} MB, the inputs and "
              f"the carried state) and {disk / 1024:,.0f} GB of disk for its streamed results; "
              f"{available / 1024:,.1f} GB of memory and {free / 1024:,.0f} GB of disk are "
              "available: lower BENCH_COMP_LINES or set BENCH_COMP_FORCE=1", file=sys.stderr)
        return []
    os.environ["ATTAIN_ENGINE_MEMORY_MB"] = str(engine_mb)
    inputs = folder / "compensation"
    inputs.mkdir(exist_ok=True)
    print(f"compensation: generating {people:,} people and {lines:,} order lines …",
          file=sys.stderr)
    made = run_case("comp_inputs", None, folder=str(inputs), people=people, lines=lines)
    print(f"  inputs: {made['sizes']} ({made['input_mb']:,} MB)", file=sys.stderr)
    measured = {}
    for part in ("bare", "engine", "reference"):
        print(f"  {part} … (load average {load_average()})", file=sys.stderr, flush=True)
        measured[part] = run_case("compensation", None, folder=str(inputs), part=part,
                                  sample_every=every)
        shown = {k: v for k, v in measured[part].items() if k != "totals"}
        print(f"  {part}: {json.dumps(shown)}", file=sys.stderr, flush=True)
    engine, reference = measured["engine"], measured["reference"]
    wrong = sorted((int(p) for p, total in reference["totals"].items()
                    if engine["totals"].get(p, "0") != total
                    and Decimal(engine["totals"].get(p, "0")) != Decimal(total)))
    scope = (f"{reference['people']:,} people of every {every}th team, "
             f"{reference['lines_read']:,} lines, time x {lines / reference['lines_read']:.1f}"
             if reference["sampled"] else f"all {reference['people']:,} people")
    print(f"  cross-check (reference on {scope}): {len(wrong)} per-person totals differ"
          + (f", e.g. people {wrong[:10]}" if wrong else ", equal to the cent"),
          file=sys.stderr)
    if wrong:
        raise RuntimeError(f"compensation: the engine and the reference disagree for "
                           f"{len(wrong)} people, e.g. {wrong[:10]}")
    if all("cpu_seconds" in m for m in measured.values()):
        cpu = {part: m["cpu_seconds"] for part, m in measured.items()}
        print(f"  CPU seconds (less load-sensitive): engine {cpu['engine']}, bare pass "
              f"{cpu['bare']} (x{cpu['engine'] / max(cpu['bare'], 0.01):,.1f}), reference "
              f"{cpu['reference']} (engine x{cpu['engine'] / max(cpu['reference'], 0.01):.2f})",
              file=sys.stderr)
    name = f"compensation Q2 run, {people:,} people, {lines:,} order lines (DuckDB)"
    load = load_average()
    rows = [row(name, "-", engine, f"bare engine pass (one grouped sum), load {load}",
                measured["bare"]),
            row(name, "-", engine, "row-by-row Python reference, "
                + (f"sampled 1 team in {every}, extrapolated" if reference["sampled"]
                   else "all lines") + f", load {load}", reference)]
    for database in databases:
        print(f"  [{database}] storing the run's results … (load average {load_average()})",
              file=sys.stderr, flush=True)
        stored = run_case("comp_store", fresh_database_url(database), folder=str(inputs))
        print(f"  [{database}] stored: {json.dumps(stored)}", file=sys.stderr, flush=True)
        rows.append(row(f"storing that run's results ({stored['rows']:,} rows: credits, "
                        "earning and payout lines, payouts, state)", database, stored,
                        f"the engine run that computed them, load {load_average()}", engine))
    return rows


def bench_comp_run(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    """The app's compensation run of a demo company's quarter, end to end (bench/cases.py
    `case_comp_run`), next to the driver's bulk insert of as many rows; its run page and top
    statement next to the login page, all on a demo organisation of BENCH_COMP_RUN_REPS reps."""
    reps = int(os.environ.get("BENCH_COMP_RUN_REPS", "10000"))
    rows = []
    for database in databases:
        print(f"[{database}] compensation run of a {reps:,}-rep demo company … "
              f"(load average {load_average()})", file=sys.stderr, flush=True)
        url = fresh_database_url(database)
        run_case("generate", url, reps=reps)
        measured = run_case("comp_run", url)
        print(f"  [{database}] run: {json.dumps(measured)}", file=sys.stderr, flush=True)
        raw = run_case("raw_insert", fresh_database_url(database), rows=measured["rows"])
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in
                          measured["steps"].items() if name != "total")
        rows.append(row(f"compensation run, {reps:,}-rep demo company, last quarter "
                        f"({measured['input_rows']:,} rows in, {steps}; "
                        f"load {load_average()})", database, measured,
                        "same number of rows, driver bulk insert", raw))
        login = measured["pages"]["login page"]
        for name in ("run page", "top statement"):
            page = measured["pages"][name]
            label = (f"{measured['payouts']:,} payouts" if name == "run page"
                     else f"{measured['top_statement_lines']:,} lines")
            rows.append(row(f"{name} of that run ({label}; {page['kb']:,} KB), warm p50",
                            database, {"rows": 1, "seconds": page["p50_s"],
                                       "rows_per_s": 1 / page["p50_s"],
                                       "peak_rss_mb": measured["peak_rss_mb"]},
                            f"login page ({login['kb']:,} KB), same process",
                            {"seconds": login["p50_s"], "rows_per_s": 1 / login["p50_s"],
                             "peak_rss_mb": measured["peak_rss_mb"]}))
    return rows


def bench_what_if(databases: list[str], folder: Path) -> list[dict[str, Any]]:
    """The what-if estimator's request time (bench/cases.py `case_what_if`) against the bare
    engine scan of the same rep's snapshot, on a demo organisation of BENCH_WHAT_IF_REPS reps."""
    reps = int(os.environ.get("BENCH_WHAT_IF_REPS", "200"))
    rows = []
    for database in databases:
        print(f"[{database}] what-if on {reps:,} reps …", file=sys.stderr)
        measured = run_case("what_if", fresh_database_url(database), reps=reps)
        scan = measured["scan"]
        baseline = f"DuckDB scan of the rep's snapshot ({scan['rows']:,} rows), same run"
        for label, seconds in (("p50", measured["seconds"]),
                               ("worst", measured["worst_seconds"]),
                               ("same deals again (cached)", measured["cached_seconds"])):
            rows.append(row(f"what-if estimate, one more deal ticked, {label} "
                            f"(load {load_average()})", database,
                            {**measured, "seconds": seconds, "rows_per_s": 1 / seconds},
                            baseline, scan))
    return rows


# What the compensation run holds besides DuckDB's own limit (inputs, per-person state, the
# batch in flight), and the disk its streamed results take: at 10,000 people and 1,000,000
# lines, DuckDB limited to 1,500 MB, the run peaked at 2.5 GB and wrote 2,082 MB (ADR 0016).
# Used to refuse a size that would run the (shared) machine out of memory or disk.
COMP_MB_BASE = 300
COMP_MB_PER_LINE = 0.0008
COMP_DISK_MB_PER_LINE = 0.0022


def available_mb() -> float:
    with open("/proc/meminfo") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["MemAvailable"].split()[0]) / 1024


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def analytics_rows(database: str, measured: dict[str, Any]) -> list[dict[str, Any]]:
    """The analytics case as result lines: the full run against the bare engine scan of its
    snapshot tables, then each dashboard's p50/p95 server time (against the same scan)."""
    scan = measured["scan"]
    lines = [row(f"analytics run (bookings + performance + pipeline), {measured['rows']:,} "
                 "opportunities", database, measured,
                 f"DuckDB scan of the snapshot tables ({scan['rows']:,} rows), same run", scan)]
    for page, times in measured["pages"].items():
        for stat in ("p50", "p95"):
            seconds = times[f"{stat}_ms"] / 1000
            lines.append(row(f"dashboard {page} {stat}", database,
                             {"rows": 1, "seconds": seconds, "rows_per_s": 1 / seconds,
                              "peak_rss_mb": measured["peak_rss_mb"]},
                             "DuckDB scan of the snapshot tables, same run", scan))
    return lines


def print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no figures (every case asked for was skipped)")
        return
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


BENCHES = {"generate": bench_generate, "snapshot": bench_snapshot, "import": bench_import,
           "order_lines": bench_order_lines, "analytics": bench_analytics,
           "forecast": bench_forecast, "compensation": bench_compensation,
           "comp_run": bench_comp_run,
           "what_if": bench_what_if}


if __name__ == "__main__":
    main()
