"""`attain calc bookings|performance|pipeline`: compute now, and store the run.

One command for the calculations whose results the pages read. It lives in the web app because it
reaches into two apps of the same layer (performance and pipeline), which may not import each
other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.core.errors import ActionError
from attain.core.models import CalcRun
from attain.engine.backends import BACKENDS
from attain.performance.actions import run_bookings_calculation, run_performance_analytics
from attain.pipeline.actions import run_pipeline_analytics

CALCULATIONS: dict[str, Callable[[str | None, date | None], CalcRun]] = {
    "bookings": lambda backend, as_of: run_bookings_calculation(None, backend),
    "performance": lambda backend, as_of: run_performance_analytics(None, backend, as_of=as_of),
    "pipeline": lambda backend, as_of: run_pipeline_analytics(None, backend),
}


class Command(BaseCommand):
    help = ("Run a calculation and store its results: `bookings` (bookings per person and "
            "period, in the company currency), `performance` (quotas in force, attainment, "
            "pacing, team and manager roll-ups, rep measures and stage conversion) or "
            "`pipeline` (funnel, velocity, win/loss, bottlenecks for every scope and period).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("calculation", choices=list(CALCULATIONS))
        parser.add_argument("--backend", choices=BACKENDS, default=None,
                            help="Engine backend (default: ATTAIN_ENGINE_BACKEND, duckdb)")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                            help="Business date of a performance run, YYYY-MM-DD (default "
                                 "today)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = CALCULATIONS[options["calculation"]](options["backend"], options["as_of"])
        except ActionError as error:
            raise CommandError(str(error)) from error
        timings = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in run.timings.items())
        self.stdout.write(
            f"Run #{run.pk} {run.kind} on {run.backend}: {run.status}. "
            f"{run.input_rows:,} input rows, {run.output_rows:,} result rows.\n"
            f"Timings: {timings}.\nInputs hash {run.inputs_hash or '-'}, "
            f"calculation version {run.calc_version}."
        )
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} failed: {run.error}")
