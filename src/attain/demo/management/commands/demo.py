"""`attain demo`: migrate, load the demo organisation once, calculate, print the logins, serve."""

from __future__ import annotations

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from attain.people.models import Person


class Command(BaseCommand):
    help = ("Set up the embedded database with the demo organisation (first run only) and serve "
            "it on http://127.0.0.1:8000.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--scale", default="demo", help="tiny, demo, large or a rep count")
        parser.add_argument("--no-serve", action="store_true", help="Prepare the data only")

    def handle(self, *args: Any, **options: Any) -> None:
        from attain.demo.generator import generate
        from attain.demo.logins import ensure_demo_logins
        self.stdout.write("Migrating the database …")
        call_command("migrate", interactive=False, verbosity=0)
        if Person.objects.exists():
            self.stdout.write("Demo organisation already loaded: reusing it.")
        else:
            started = time.perf_counter()
            self.stdout.write(f"Generating the demo organisation (scale {options['scale']}) …")
            summary = generate(options["scale"], progress=True)
            self.stdout.write(f"  {summary}  ({time.perf_counter() - started:.1f} s)")
            self._calculate()
        logins = ensure_demo_logins()
        self.stdout.write("")
        self.stdout.write(f"Log in at http://127.0.0.1:{options['port']}/ with one of:")
        for username, password, role in logins:
            self.stdout.write(f"  {username:<10} password {password:<12} {role}")
        self.stdout.write("")
        if not options["no_serve"]:
            call_command("serve", port=options["port"])

    def _calculate(self) -> None:
        """Materialise what the pages read. The forecast takes minutes, so it is queued for the
        task worker that `serve` starts; its page says so until the run lands."""
        from attain.demo.compensation import set_up_compensation
        from attain.forecasting.actions import request_forecast
        from attain.ingest.quality.actions import run_quality_check
        from attain.performance.actions import run_bookings_calculation, run_performance_analytics
        from attain.pipeline.actions import run_pipeline_analytics

        steps = [("bookings per person and period", run_bookings_calculation),
                 ("performance: quotas, attainment, comparison", run_performance_analytics),
                 ("pipeline analytics", run_pipeline_analytics),
                 ("data quality", run_quality_check),
                 ("compensation: plans, assignments, last quarter", set_up_compensation)]
        for label, calculate in steps:
            started = time.perf_counter()
            self.stdout.write(f"Calculating {label} …")
            run = calculate(None)
            self.stdout.write(f"  run #{run.pk}: {run.status}, {run.output_rows:,} result rows "
                              f"({time.perf_counter() - started:.1f} s)")
        run = request_forecast(None, period_kind="quarter")
        self.stdout.write(f"Forecast run #{run.pk} queued: the worker computes it in the "
                          "background (a minute or two).")
