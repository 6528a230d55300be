"""`attain import FILE --mapping NAME [--dry-run]`: import a CSV or XLSX file now, with a progress
bar, and print what was (or would be) created, updated and unchanged, and every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.ingest import actions, queries
from attain.ingest.mappings import MappingError
from attain.ingest.models import ImportJob
from attain.ingest.reading import FileRefused

SHOWN_PROBLEMS = 50


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = ("Import a CSV or XLSX file with a mapping (built-in or a saved profile). All or "
            "nothing: a file with errors writes nothing. --list-mappings shows the mappings.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="The CSV or XLSX file")
        parser.add_argument("--mapping", help="Mapping name (see --list-mappings)")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check the file and count what would change; write nothing")
        parser.add_argument("--sheet", default="", help="XLSX sheet (default: the first)")
        parser.add_argument("--date-order", default="", choices=["", "auto", "mdy", "dmy"],
                            help="How to read 03/04/2026: mdy, dmy, or auto (infer)")
        parser.add_argument("--decimal-separator", default="", choices=["", "auto", ".", ","])
        parser.add_argument("--currency", default="", help="Currency of amounts without one")
        parser.add_argument("--exported-at", default="",
                            help="When the export was taken (ISO 8601 with offset); stage "
                                 "changes without their own time get it")
        parser.add_argument("--user", default="", help="Username recorded as the importer")
        parser.add_argument("--list-mappings", action="store_true")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list_mappings"]:
            for mapping in queries.mappings():
                kind = "built-in" if mapping.builtin else "profile"
                self.stdout.write(f"{mapping.name:36} {kind:8} {', '.join(mapping.entities)}"
                                  f" — {mapping.label}")
            return
        if not options["file"] or not options["mapping"]:
            raise CommandError("Give a FILE and --mapping NAME (or --list-mappings).")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No login named {options['user']!r}.")
        reading = {"sheet": options["sheet"], "date_order": options["date_order"],
                   "decimal_separator": options["decimal_separator"],
                   "currency": options["currency"], "exported_at": options["exported_at"]}
        bar = None if options["no_progress"] else _Bar()
        try:
            job = actions.import_path(actor, path, mapping_name=options["mapping"],
                                      dry_run=options["dry_run"], options=reading,
                                      progress=bar)
        except (MappingError, FileRefused, actions.ImportRequestError) as error:
            raise CommandError(str(error)) from None
        finally:
            if bar is not None:
                bar.close()
        self._report(job)
        if job.status in {ImportJob.Status.REJECTED, ImportJob.Status.FAILED}:
            raise CommandError(f"Import #{job.pk} {job.status}: {job.message}")

    def _report(self, job: ImportJob) -> None:
        self.stdout.write(f"Import #{job.pk} of {job.original_name} with {job.mapping_name}: "
                          f"{job.status}. {job.message}")
        info = job.file_info
        if info:
            self.stdout.write(f"  {info.get('format', '')}; {job.rows} rows; dates "
                              f"{info.get('date_order', '')}, decimal separator "
                              f"{info.get('decimal_separator', '')!r}")
        verb = "would be " if job.dry_run or job.status == ImportJob.Status.REJECTED else ""
        for entity, counts in job.counts.items():
            shown = ", ".join(f"{n} {'' if k in {'valid', 'invalid'} else verb}{k}"
                              for k, n in counts.items())
            self.stdout.write(f"  {entity}: {shown}")
        if job.error_count or job.warning_count:
            self.stdout.write(f"  {job.error_count} error(s), {job.warning_count} warning(s):")
            for problem in job.problems[:SHOWN_PROBLEMS]:
                self.stdout.write(f"    {problem['severity']}: row {problem['row']}, column "
                                  f"{problem['column']!r}, value {problem['value']!r}: "
                                  f"{problem['reason']}")
            more = job.error_count + job.warning_count - min(len(job.problems), SHOWN_PROBLEMS)
            report = queries.report_path(job)
            if more > 0:
                self.stdout.write(f"    … and {more} more")
            if report is not None:
                self.stdout.write(f"  Every problem: {report}")


class _Bar:
    """A tqdm progress bar per phase."""

    def __init__(self) -> None:
        self.phase = ""
        self.bar: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = tqdm(total=total or None, desc=phase, unit="row", leave=False)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
