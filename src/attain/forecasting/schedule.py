"""Forecasts on a schedule, without cron: the task worker re-runs the forecast when the latest
one is older than `ATTAIN_FORECAST_EVERY_HOURS` (default 24; 0 turns the schedule off).

How: every forecast task, when it ends (succeeded or failed), enqueues a check deferred by
the interval (`django-tasks-db` keeps deferred tasks in the database, so a stopped worker picks
them up when it starts again). The check asks `forecast_due`: nothing queued or running, and
the newest forecast run (of any outcome: a failing one is retried once per interval, not in
a loop) finished at least the interval ago. If so it queues a run like the latest one (its
period kind; quarterly when there was none), which schedules the next check in turn. Imports
and the "Run forecast" button start the chain; `attain forecast schedule` starts it by hand
(or from an outside scheduler) and prints the decision.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from attain.core.models import CalcRun
from attain.forecasting.engine_io import FORECAST_RUN_KIND


def interval() -> timedelta:
    """The configured schedule (0 or less: off)."""
    return timedelta(hours=float(getattr(settings, "ATTAIN_FORECAST_EVERY_HOURS", 24)))


def forecast_due(now: datetime, latest_finished: datetime | None, pending: bool,
                 every: timedelta) -> bool:
    """Whether a scheduled forecast should be queued now.

    Off when `every` is not positive; never while a run is queued or running; otherwise when
    there is no finished run yet or the newest finished `every` or longer ago.
    """
    if every <= timedelta(0) or pending:
        return False
    return latest_finished is None or now - latest_finished >= every


def schedule_state() -> tuple[datetime | None, bool, str]:
    """(when the newest forecast run finished, whether one is queued or running, the period
    kind of the newest run)."""
    runs = CalcRun.objects.filter(kind=FORECAST_RUN_KIND)
    pending = runs.filter(status__in=[CalcRun.Status.QUEUED, CalcRun.Status.RUNNING]).exists()
    latest = (runs.exclude(finished_at=None).order_by("-finished_at", "-id")
              .values_list("finished_at", "params").first())
    kind = "quarter"
    if latest is not None and isinstance(latest[1], dict):
        kind = str(latest[1].get("period_kind") or kind)
    return (latest[0] if latest else None), pending, kind


def check(now: datetime | None = None) -> CalcRun | None:
    """Queue a forecast run if one is due (`forecast_due`); returns the queued run or None."""
    from attain.forecasting.actions import request_forecast

    latest, pending, kind = schedule_state()
    if not forecast_due(now or timezone.now(), latest, pending, interval()):
        return None
    return request_forecast(None, period_kind=kind if kind in ("month", "quarter")
                            else "quarter")


def schedule_next_check(task: Any, now: datetime | None = None) -> bool:
    """Enqueue `task` (the check) to run one interval from now, if the schedule is on and the
    task backend can defer work; returns whether it was enqueued."""
    every = interval()
    if every <= timedelta(0):
        return False
    deferred = task.using(run_after=(now or timezone.now()) + every)
    if not deferred.get_backend().supports_defer:
        return False
    deferred.enqueue()
    return True
