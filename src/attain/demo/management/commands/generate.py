"""`attain generate`: write a deterministic demo organisation of a given scale."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.demo.generator import GenerationError, generate, parse_scale


class Command(BaseCommand):
    help = ("Generate a sales organisation: --scale tiny (8 reps, 1 year), demo (120 reps, "
            "3 years), large (10,000 reps) or a number of reps.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", default="demo", help="tiny, demo, large or a rep count")
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7)")
        parser.add_argument("--end", help="Last day of the history, YYYY-MM-DD (default today)")
        parser.add_argument("--years", type=int, help="Years of history (default by scale)")
        parser.add_argument("--replace", action="store_true",
                            help="Delete the organisation already in the database first")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            parse_scale(options["scale"])
        except GenerationError as error:
            raise CommandError(str(error)) from error
        end = None
        if options["end"]:
            try:
                end = date.fromisoformat(options["end"])
            except ValueError as error:
                raise CommandError(
                    f"--end must be a date as YYYY-MM-DD, got {options['end']!r}.") from error
        try:
            summary = generate(options["scale"], seed=options["seed"], end=end,
                               years=options["years"], replace=options["replace"],
                               progress=not options["no_progress"])
        except GenerationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Generated {summary}")
