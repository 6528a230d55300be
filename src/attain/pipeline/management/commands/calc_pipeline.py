"""`attain calc_pipeline`: compute pipeline analytics now and store the run (`attain calc
bookings` is the performance app's command; this is the pipeline app's own)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.pipeline.actions import CalculationError, run_pipeline_analytics
from attain.pipeline.engine_io import ENGINE_BACKENDS


class Command(BaseCommand):
    help = ("Compute pipeline analytics (funnel, velocity, win/loss, bottlenecks) for every "
            "scope and period, and store them as a new run.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--backend", choices=ENGINE_BACKENDS, default=None,
                            help="Engine backend (default: ATTAIN_ENGINE_BACKEND, duckdb)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = run_pipeline_analytics(None, options["backend"])
        except CalculationError as error:
            raise CommandError(str(error)) from error
        timings = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in run.timings.items())
        self.stdout.write(
            f"Run #{run.pk} {run.kind} on {run.backend}: {run.status}. "
            f"{run.input_rows:,} input rows, {run.output_rows:,} result rows.\n"
            f"Timings: {timings}.\nInputs hash {run.inputs_hash or '-'}, "
            f"calculation version {run.calc_version}.")
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} failed: {run.error}")
