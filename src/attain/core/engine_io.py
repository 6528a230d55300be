"""The snapshot path shared by every app's `engine_io`: rows of a queryset → an Arrow table typed by
one of the engine's logical schemas (`attain.engine.schemas`)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection
from django.db.models import CharField, F, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from attain.core.models import CalcRun
from attain.engine.schemas import LogicalTable

SNAPSHOT_BATCH_SIZE = 50_000


def as_text(column: str) -> Cast:
    """A column read as text (decimals keep every digit on SQLite and PostgreSQL alike)."""
    return Cast(column, output_field=CharField())


def business_day(column: str) -> F:
    """A datetime column read into a date column of a snapshot: `snapshot` turns its instants
    into the company's calendar day (ATTAIN_TIME_ZONE) with Arrow, vectorised. (The database's
    own conversion is a Python function per row on SQLite, six times slower than the read.)"""
    return F(column)


def _local_days(instants: pa.Array) -> pa.Array:
    """Instants (naive values are UTC, as Django stores them) → the company's calendar days."""
    if instants.type.tz is None:
        instants = pc.assume_timezone(instants, "UTC")
    zone = str(timezone.get_current_timezone())
    local = pc.local_timestamp(instants.cast(pa.timestamp(instants.type.unit, tz=zone)))
    return local.cast(pa.date32())


def snapshot(queryset: QuerySet[Any], logical: LogicalTable,
             batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """The rows of a `values_list` queryset (columns in the logical table's order) as Arrow.

    Rows stream from a server-side (chunked) cursor in batches; each column of a batch is built by
    Arrow from the driver's values and cast safely to its logical type: integers and text directly,
    0/1 to bool, text to decimal, ISO text (SQLite) or dates (PostgreSQL) to date32, datetimes to
    the company's calendar day (`business_day`). A value that does not fit its type raises
    instead of being truncated.
    """
    sql, params = queryset.query.sql_with_params()
    schema = logical.schema
    if connection.vendor == "postgresql":
        table = _snapshot_by_copy(sql, params, schema)
        return pa.Table.from_batches(table.to_batches(max_chunksize=batch_size), schema=schema)
    batches = []
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch_size):
            arrays = []
            for values, target in zip(zip(*rows, strict=True), schema, strict=True):
                if pa.types.is_integer(target.type) or pa.types.is_string(target.type):
                    arrays.append(pa.array(values, type=target.type))
                elif pa.types.is_boolean(target.type):
                    arrays.append(pa.array([None if v is None else bool(v) for v in values],
                                           type=target.type))
                else:
                    array = pa.array(values)
                    if pa.types.is_timestamp(array.type) and pa.types.is_date(target.type):
                        array = _local_days(array)
                    arrays.append(array.cast(target.type, safe=True))
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _snapshot_by_copy(sql: str, params: Any, schema: pa.Schema) -> pa.Table:
    """PostgreSQL: the query's rows as CSV through `COPY … TO STDOUT`, spooled to a temporary
    file and parsed by Arrow (in C); psycopg making a Python object of every value was most of
    a large snapshot's time. Every column is read as text (an empty unquoted field is NULL, a
    quoted "" an empty string) and cast safely to its logical type: t/f to bool, text to
    integers and decimals, dates directly, instants (rendered in UTC, the session's time zone
    under Django) to the company's calendar day."""
    import pyarrow.csv as pacsv

    names = [f"c{index}" for index in range(len(schema))]
    connection.ensure_connection()
    with tempfile.TemporaryFile() as spool:
        with connection.connection.cursor() as cursor:
            query = cursor.mogrify(sql, params)
            with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
                for chunk in copy:
                    spool.write(chunk)
        if not spool.tell():
            return schema.empty_table()
        spool.seek(0)
        table = pacsv.read_csv(
            spool, read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
                quoted_strings_can_be_null=False))
    arrays = []
    for column, target in zip(table.columns, schema, strict=True):
        if pa.types.is_boolean(target.type):
            arrays.append(pc.equal(column, "t"))
        elif pa.types.is_date(target.type) and (pc.max(pc.utf8_length(column)).as_py() or 0) > 10:
            arrays.append(_local_days(_utc_instants(column)))
        else:
            arrays.append(column.cast(target.type, safe=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def _utc_instants(texts: Any) -> pa.Array:
    """PostgreSQL's text of timestamps in UTC ("2026-03-29 22:30:00.25+00") → naive UTC
    timestamps (seconds: a business day needs no less)."""
    if not pc.all(pc.ends_with(texts, "+00")).as_py():
        raise ValueError("instants must come from a session in UTC (as Django sets it up)")
    seconds = pc.utf8_slice_codeunits(texts, 0, 19)
    return pc.strptime(seconds, format="%Y-%m-%d %H:%M:%S", unit="s").combine_chunks()


def start_run(run: CalcRun | None, *, kind: str, requested_by: Any, backend: str,
              calc_version: str, params: dict[str, Any]) -> CalcRun:
    """Save `run` (a queued one) or a new run of `kind` as running with these settings."""
    if run is None:
        run = CalcRun(kind=kind, requested_by=requested_by)
    run.status = CalcRun.Status.RUNNING
    run.started_at = timezone.now()
    run.backend = backend
    run.calc_version = calc_version
    run.params = params
    run.save()
    return run


@dataclass
class RunClock:
    """Times a run's steps (seconds per step) and its total, for `CalcRun.timings`."""

    started: float = field(default_factory=time.perf_counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def time(self, step: str, work: Callable[[], Any]) -> Any:
        """`work()`, its duration recorded as `step` even when it raises."""
        begun = time.perf_counter()
        try:
            return work()
        finally:
            self.seconds[step] = round(time.perf_counter() - begun, 4)

    def timings(self) -> dict[str, float]:
        return {**self.seconds, "total": round(time.perf_counter() - self.started, 4)}


def fail_run(run: CalcRun, clock: RunClock, message: str, fields: Iterable[str] = ()) -> None:
    """Save `run` as failed with `message`, no result rows, and the steps timed so far (and any
    other `fields` set)."""
    run.error = message
    run.output_rows = 0
    run.timings = clock.timings()
    finish_run(run, CalcRun.Status.FAILED,
               ["error", "inputs_hash", "input_rows", "output_rows", "timings", *fields])


def finish_run(run: CalcRun, status: str, fields: Iterable[str] = ()) -> None:
    """Stamp `run` finished with `status`, saving those two fields and any other `fields` set."""
    run.status = status
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at", *fields])


def run_queued(run_id: int, work: Callable[[CalcRun], CalcRun]) -> dict[str, Any]:
    """The body of a calculation task: run the queued run `run_id` with `work` and summarise it.

    A run that is no longer queued (a second worker took it, or it already ran) is left alone.
    """
    run = CalcRun.objects.select_related("requested_by").get(pk=run_id)
    if run.status != CalcRun.Status.QUEUED:
        return {"run_id": run.pk, "status": run.status, "skipped": "not queued"}
    run = work(run)
    return {"run_id": run.pk, "status": run.status, "output_rows": run.output_rows}
