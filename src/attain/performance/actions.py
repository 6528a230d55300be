"""Writes of the performance app: bookings calculation runs. Every function here is audited."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from attain.core.audit import record_event
from attain.core.models import CalcRun
from attain.performance import engine_io


class CalculationError(ValueError):
    """A calculation request refused, with the field and value that caused it."""

    def __init__(self, message: str, *, field: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _backend(backend: str | None) -> str:
    name = backend or str(settings.ATTAIN_ENGINE_BACKEND)
    if name not in engine_io.ENGINE_BACKENDS:
        raise CalculationError(
            f"Unknown engine backend {name!r}; use one of {', '.join(engine_io.ENGINE_BACKENDS)}.",
            field="backend", value=name,
        )
    return name


def _run_summary(run: CalcRun) -> dict[str, Any]:
    return {"status": run.status, "backend": run.backend, "calc_version": run.calc_version,
            "inputs_hash": run.inputs_hash, "input_rows": run.input_rows,
            "output_rows": run.output_rows, "error": run.error}


@transaction.atomic
def request_bookings_calculation(actor: Any, backend: str | None = None) -> CalcRun:
    """Queue a bookings-by-person-period run for the task worker; returns the queued run.

    For pages and the API: a request never computes, it queues (the run shows as queued, then
    running, on the page). The task is enqueued once this transaction commits.
    """
    from attain.performance.tasks import run_bookings_calculation_task

    name = _backend(backend)
    run = CalcRun.objects.create(kind=engine_io.BOOKINGS_RUN_KIND, status=CalcRun.Status.QUEUED,
                                 requested_by=_user(actor), backend=name)
    record_event(actor, "request_calculation", run,
                 after={"kind": run.kind, "backend": name, "status": run.status})
    transaction.on_commit(lambda: run_bookings_calculation_task.enqueue(run.pk))
    return run


def run_bookings_calculation(actor: Any, backend: str | None = None, *,
                             run: CalcRun | None = None) -> CalcRun:
    """Compute bookings per person and period now and store them as a new run (or as `run`,
    a queued one); returns the run, succeeded or failed, and audits it.

    Not one transaction on purpose: the run is saved as running first (so pages see it and a
    failure is kept), then its results and its final status are written together in one
    transaction (`engine_io.run_bookings_by_person_period`). A failed run has no result rows.
    """
    name = _backend(backend)
    run = engine_io.run_bookings_by_person_period(requested_by=_user(actor), backend=name,
                                                  run=run)
    record_event(actor, "run_calculation", run, after=_run_summary(run))
    return run
