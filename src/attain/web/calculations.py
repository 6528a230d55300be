"""The web's door to starting calculations: the ops button asks for a bookings run here."""

from __future__ import annotations

from typing import Any

from attain.performance.actions import request_bookings_calculation


def request_bookings_run(user: Any) -> str:
    """Queue a bookings-by-person-period run for the task worker; say what happened.

    A request never computes: the run is queued, and the home page shows it as queued, then
    running, until the worker (`attain db_worker`) has stored its results.
    """
    run = request_bookings_calculation(user)
    return (f"Bookings run #{run.pk} is queued; the figures update when it has finished "
            "(the page shows its progress).")
