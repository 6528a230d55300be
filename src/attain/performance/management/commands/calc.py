"""`attain calc bookings|performance`: compute now, and store the run."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.performance.actions import (
    CalculationError,
    run_bookings_calculation,
    run_performance_analytics,
)
from attain.performance.engine_io import ENGINE_BACKENDS


class Command(BaseCommand):
    help = ("Run a calculation and store its results: `bookings` (bookings per person and "
            "period, in the company currency) or `performance` (quotas in force, attainment, "
            "pacing, team and manager roll-ups, rep measures and stage conversion).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("calculation", choices=["bookings", "performance"])
        parser.add_argument("--backend", choices=ENGINE_BACKENDS, default=None,
                            help="Engine backend (default: ATTAIN_ENGINE_BACKEND, duckdb)")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                            help="Business date of a performance run, YYYY-MM-DD (default "
                                 "today)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["calculation"] == "performance":
                run = run_performance_analytics(None, options["backend"],
                                                as_of=options["as_of"])
            else:
                run = run_bookings_calculation(None, options["backend"])
        except CalculationError as error:
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
