"""`attain quality`: run the data-quality checks now, store the run, print the scores."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.ingest.models import QualityScore
from attain.ingest.quality import queries
from attain.ingest.quality.actions import QualityActionError, run_quality_check
from attain.ingest.quality.engine_io import DEFAULT_STALE_DAYS, ENGINE_BACKENDS, MIN_STALE_DAYS


class Command(BaseCommand):
    help = ("Run the data-quality checks (duplicates, stale, incomplete and inconsistent "
            "records) and store the findings and scores as a new run.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stale-days", type=int, default=DEFAULT_STALE_DAYS,
                            help=f"Idle days that make an open deal stale in the score "
                                 f"(default {DEFAULT_STALE_DAYS}, at least {MIN_STALE_DAYS})")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                            help="Day the checks look from, YYYY-MM-DD (default today)")
        parser.add_argument("--backend", choices=ENGINE_BACKENDS, default=None,
                            help="Engine backend (default: ATTAIN_ENGINE_BACKEND, duckdb)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = run_quality_check(None, options["backend"], as_of=options["as_of"],
                                    stale_days=options["stale_days"])
        except QualityActionError as error:
            raise CommandError(str(error)) from error
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.pk} failed: {run.error}")
        self.stdout.write(f"Data-quality run #{run.pk} on {run.backend}: {run.output_rows:,} "
                          f"findings stored (stale from {run.params['stale_days']} days).")
        for score in queries.scores(run):
            assert isinstance(score, QualityScore)
            self.stdout.write(f"  {score.category:<14} {score.score:>6}  "
                              f"{score.flagged:,} of {score.checked:,} records flagged")
        for check in queries.check_summaries(run, run.params["stale_days"]):
            if check.findings:
                self.stdout.write(f"  {check.label}: {check.findings:,}")
