"""Forecasts on a schedule: the decision, the queued run, and the deferred next check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from attain.core.models import CalcRun
from attain.forecasting.schedule import check, forecast_due, schedule_next_check
from attain.forecasting.tasks import scheduled_forecast_check

DAY = timedelta(hours=24)
LATEST = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("now", "latest", "pending", "every", "due"), [
    # 23 h 59 min after the latest run: not yet; 24 h after: due
    (datetime(2026, 11, 23, 11, 59, tzinfo=UTC), LATEST, False, DAY, False),
    (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), LATEST, False, DAY, True),
    # a run queued or running: never a second one
    (datetime(2026, 11, 25, tzinfo=UTC), LATEST, True, DAY, False),
    # no forecast yet: due at once
    (datetime(2026, 11, 23, tzinfo=UTC), None, False, DAY, True),
    # schedule off
    (datetime(2026, 12, 31, tzinfo=UTC), LATEST, False, timedelta(0), False),
    # every 6 hours: 6 h 1 min after
    (datetime(2026, 11, 22, 18, 1, tzinfo=UTC), LATEST, False, timedelta(hours=6), True),
])
def test_forecast_due(now, latest, pending, every, due):
    assert forecast_due(now, latest, pending, every) is due


def finished_run(when: datetime, kind: str = "month") -> CalcRun:
    return CalcRun.objects.create(kind="forecast", status=CalcRun.Status.SUCCEEDED,
                                  finished_at=when, params={"period_kind": kind})


def test_check_queues_a_run_like_the_latest_when_it_is_old(db, settings,
                                                            django_capture_on_commit_callbacks):
    settings.ATTAIN_FORECAST_EVERY_HOURS = 24
    finished_run(LATEST, "month")
    # 23 hours later: nothing
    assert check(LATEST + timedelta(hours=23)) is None
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = check(LATEST + timedelta(hours=25))
    assert queued is not None and queued.status == CalcRun.Status.QUEUED
    assert queued.params == {"period_kind": "month"}
    assert len(callbacks) == 1  # the forecast task, enqueued on commit
    # the queued run is pending: a second check queues nothing
    assert check(LATEST + timedelta(hours=26)) is None


def test_check_does_nothing_when_the_schedule_is_off(db, settings):
    settings.ATTAIN_FORECAST_EVERY_HOURS = 0
    assert check(datetime(2030, 1, 1, tzinfo=UTC)) is None
    assert not CalcRun.objects.filter(kind="forecast").exists()


def test_next_check_is_deferred_by_the_interval(db, settings):
    from django_tasks_db.models import DBTaskResult

    settings.ATTAIN_FORECAST_EVERY_HOURS = 12
    assert schedule_next_check(scheduled_forecast_check, now=LATEST)
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("scheduled_forecast_check")
    assert task.run_after == LATEST + timedelta(hours=12)
    settings.ATTAIN_FORECAST_EVERY_HOURS = 0
    assert not schedule_next_check(scheduled_forecast_check, now=LATEST)
    assert DBTaskResult.objects.count() == 1
