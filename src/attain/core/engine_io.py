"""The snapshot path shared by every app's `engine_io`: rows of a queryset → an Arrow table typed by
one of the engine's logical schemas (`attain.engine.schemas`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa
from django.db import connection
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from attain.core.models import CalcRun
from attain.engine.schemas import LogicalTable

SNAPSHOT_BATCH_SIZE = 50_000


def as_text(column: str) -> Cast:
    """A column read as text (decimals keep every digit on SQLite and PostgreSQL alike)."""
    return Cast(column, output_field=CharField())


def business_day(column: str) -> TruncDate:
    """A datetime column read as the company's calendar day (ATTAIN_TIME_ZONE)."""
    return TruncDate(column, tzinfo=timezone.get_current_timezone())


def snapshot(queryset: QuerySet[Any], logical: LogicalTable,
             batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """The rows of a `values_list` queryset (columns in the logical table's order) as Arrow.

    Rows stream from a server-side (chunked) cursor in batches; each column of a batch is built by
    Arrow from the driver's values and cast safely to its logical type: integers and text directly,
    0/1 to bool, text to decimal, ISO text (SQLite) or dates (PostgreSQL) to date32. A value that
    does not fit its type raises instead of being truncated.
    """
    sql, params = queryset.query.sql_with_params()
    schema = logical.schema
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
                    arrays.append(pa.array(values).cast(target.type, safe=True))
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


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
