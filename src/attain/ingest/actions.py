"""Writes of imports: uploading a file as an import job, running it (validate, then write
everything in one transaction), re-running it, saving mapping profiles, and the runs that
refresh results after an import. Every function here is audited.

All or nothing: `run_import` checks and writes the file in one streamed pass inside one
`transaction.atomic()` that also marks the job `succeeded`; a row with an error stops the writing,
the rest of the file is still checked (so the report lists every problem), and the transaction is
rolled back — nothing is written and the job is `rejected`. A dry run only checks (and compares
with the stored records), writing nothing. Killing the worker mid-write rolls the transaction
back, so the database is as it was and the job (still `running`) can be run again with
`rerun_import`. Rows reach the database through the fast write path (`attain.core.bulk_write`:
executemany on SQLite, COPY on PostgreSQL) inside that same transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from attain.core.audit import model_state, record_event
from attain.core.bulk_write import refresh_statistics
from attain.core.errors import ActionError, acting_user
from attain.ingest import loading, queries
from attain.ingest.entities import ENTITIES
from attain.ingest.mappings import MappingError, from_definition
from attain.ingest.models import ImportJob, MappingProfile
from attain.ingest.parsing import DateOrder
from attain.ingest.reading import FileRefused, check_upload_size, open_table
from attain.people.models import ReportingLine

OPTION_NAMES = ("sheet", "date_order", "decimal_separator", "currency", "exported_at")
PROGRESS_EVERY_SECONDS = 0.5


class ImportRequestError(ActionError):
    """An import request refused, naming the field and value at fault."""


_user = acting_user


def clean_options(options: dict[str, Any] | None) -> dict[str, str]:
    """The reading options of a job, checked: sheet, date order, decimal separator, currency,
    and the export's timestamp (ISO 8601 with an offset)."""
    cleaned: dict[str, str] = {}
    for name, value in (options or {}).items():
        if name not in OPTION_NAMES:
            raise ImportRequestError(f"Unknown option {name!r}; use {', '.join(OPTION_NAMES)}.",
                                     field=name, value=value)
        text = str(value or "").strip()
        if not text:
            continue
        if name == "date_order" and text not in set(DateOrder):
            raise ImportRequestError(f"date_order must be one of {', '.join(DateOrder)}.",
                                     field=name, value=text)
        if name == "decimal_separator" and text not in {"auto", ".", ","}:
            raise ImportRequestError("decimal_separator must be auto, '.' or ','.", field=name,
                                     value=text)
        if name == "currency" and (len(text) != 3 or not text.isalpha()):
            raise ImportRequestError(f"{text!r} is not a 3-letter currency code.", field=name,
                                     value=text)
        if name == "exported_at":
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ImportRequestError(f"exported_at {text!r} is not an ISO 8601 date and "
                                         "time.", field=name, value=text) from None
            if moment.tzinfo is None:
                raise ImportRequestError("exported_at needs a time zone offset (e.g. +00:00).",
                                         field=name, value=text)
        cleaned[name] = text.upper() if name == "currency" else text
    return cleaned


@transaction.atomic
def create_import_job(actor: Any, *, name: str, content: Any, size: int, mapping_name: str,
                      dry_run: bool = False, options: dict[str, Any] | None = None,
                      enqueue: bool = True) -> ImportJob:
    """Store an uploaded file as an import job (a dry run when `dry_run`) and queue it for the
    worker once this transaction commits. `content` is a Django `File` or an open binary file.

    Refuses a file over the upload limit and an unknown mapping before anything is stored.
    """
    check_upload_size(name, size)
    queries.mapping(mapping_name)  # raises MappingError for an unknown name
    job = ImportJob(original_name=name[:255], size=size, mapping_name=mapping_name,
                    dry_run=dry_run, options=clean_options(options),
                    requested_by=_user(actor))
    job.file.save(Path(name).name or "upload.csv",
                  content if isinstance(content, File) else File(content), save=False)
    job.save()
    record_event(actor, "create_import_job", job,
                 after={"file": job.original_name, "size": size, "mapping": mapping_name,
                        "dry_run": dry_run, "options": job.options})
    if enqueue:
        transaction.on_commit(lambda: enqueue_import(job.pk))
    return job


def enqueue_import(job_id: int) -> None:
    from attain.ingest.tasks import run_import_task

    run_import_task.enqueue(job_id)


class _ProgressFile:
    """Live progress in a small JSON file beside the upload: the import's own transaction may
    hold SQLite's write lock for minutes, so progress cannot go through the database."""

    def __init__(self, job: ImportJob, echo: Callable[[str, int, int], None] | None) -> None:
        self.path = queries.progress_path(job)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.echo is not None:
            self.echo(phase, done, total)
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS and done < total:
            return
        self.last = now
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"phase": phase, "done": done, "total": total,
                                         "at": timezone.now().isoformat()}))
        temporary.replace(self.path)


def _save(job: ImportJob, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=list(fields))


def _exported_at(job: ImportJob) -> datetime:
    text = job.options.get("exported_at")
    return datetime.fromisoformat(text) if text else job.created_at


def _mapping_for(job: ImportJob) -> Any:
    mapping = queries.mapping(job.mapping_name)
    options = job.options
    if any(options.get(n) for n in ("date_order", "decimal_separator", "currency")):
        definition = queries.mapping_definition(job.mapping_name)
        for name in ("date_order", "decimal_separator", "currency"):
            if options.get(name):
                definition[name] = options[name]
        mapping = from_definition(mapping.name, definition, label=mapping.label,
                                  description=mapping.description, builtin=mapping.builtin)
    return mapping


def _finish_problems(job: ImportJob, log: loading.ProblemLog) -> dict[str, Any]:
    log.close()
    return {"error_count": log.errors, "warning_count": log.warnings,
            "problems": [p.as_dict() for p in sorted(log.preview, key=lambda p: p.row)],
            "problem_summary": dict(sorted(log.by_reason.items(),
                                           key=lambda item: -item[1]))}


def _file_summary(outcome: loading.Outcome) -> dict[str, Any]:
    return {"rows": outcome.rows, "date_order": outcome.date_order,
            "decimal_separator": outcome.decimal_separator,
            "skipped_rows": outcome.skipped_rows}


def _reject(job: ImportJob, outcome: loading.Outcome, log: loading.ProblemLog,
            report_name: str) -> None:
    _save(job, status=ImportJob.Status.REJECTED, phase="", rows=outcome.rows,
          counts=outcome.counts, finished_at=timezone.now(),
          message=f"{outcome.errors} error(s) found; nothing was written.",
          file_info=job.file_info | _file_summary(outcome),
          report=f"imports/reports/{report_name}", **_finish_problems(job, log))
    record_event(job.requested_by, "reject_import", job,
                 after={"errors": outcome.errors, "rows": outcome.rows})


def _dry_run(job: ImportJob, source: Any, mapping: Any, log: loading.ProblemLog,
             report_name: str, tracker: Callable[[str, int, int], None]) -> None:
    """Check every row and compare it with the stored records; nothing is written."""
    ctx = loading.Context(mapping, problems=log, exported_at=_exported_at(job))
    checked = loading.validate(source, mapping, ctx, tracker)
    if checked.errors:
        _reject(job, checked, log, report_name)
        return
    _save(job, status=ImportJob.Status.CHECKED, phase="", rows=checked.rows,
          counts=checked.counts, finished_at=timezone.now(),
          message="Dry run: no errors; nothing was written.",
          file_info=job.file_info | _file_summary(checked),
          report=f"imports/reports/{report_name}", **_finish_problems(job, log))
    record_event(job.requested_by, "check_import", job,
                 after={"rows": checked.rows, "counts": checked.counts})


def run_import(job: ImportJob, *, progress: Callable[[str, int, int], None] | None = None
               ) -> ImportJob:
    """Run `job` now: a dry run checks every row and writes nothing; an import checks and writes
    every row in one transaction, rolled back when any row has an error. Returns the job,
    finished.

    Statuses: `checked` (dry run without errors), `rejected` (errors: nothing written, see the
    problems), `succeeded` (written), `failed` (the file could not be read, or a bug).
    """
    job.attempts += 1
    _save(job, status=ImportJob.Status.RUNNING, phase="reading", started_at=timezone.now(),
          finished_at=None, message="", attempts=job.attempts)
    tracker = _ProgressFile(job, progress)
    report_name = f"import-{job.pk}-problems.csv"
    report_path = Path(settings.MEDIA_ROOT) / "imports" / "reports" / report_name
    log = loading.ProblemLog(report_path)
    try:
        mapping = _mapping_for(job)
        source = open_table(job.file.path, job.original_name, sheet=job.options.get("sheet", ""))
        _save(job, file_info={"format": source.describe(), "columns": source.header,
                              "estimated_rows": source.estimated_rows},
              phase="validating")
        if job.dry_run:
            _dry_run(job, source, mapping, log, report_name, tracker)
            return job
        _save(job, phase="writing")
        ctx = loading.Context(mapping, problems=log, exported_at=_exported_at(job),
                              writing=True, actor=job.requested_by,
                              reason=f"import #{job.pk}: {job.original_name}")
        try:
            with transaction.atomic():
                written = loading.write(source, mapping, ctx, tracker)
                _save(job, status=ImportJob.Status.SUCCEEDED, phase="", rows=written.rows,
                      counts=written.counts, finished_at=timezone.now(),
                      message=_summary(written.counts),
                      file_info=job.file_info | _file_summary(written),
                      report=f"imports/reports/{report_name}", **_finish_problems(job, log))
                record_event(job.requested_by, "import_file", job,
                             after={"file": job.original_name, "mapping": job.mapping_name,
                                    "rows": written.rows, "counts": written.counts})
        except loading.Rejected as rejected:  # rolled back: nothing was written
            _reject(job, rejected.outcome, log, report_name)
            return job
        if _changed_anything(written.counts):
            refresh_statistics(_written_models(written.counts), vacuum=False)
            _save(job, follow_up=refresh_after_import(job.requested_by, job))
    except (FileRefused, MappingError, loading.ImportRefused) as error:
        log.close()
        _save(job, status=ImportJob.Status.FAILED, phase="", finished_at=timezone.now(),
              message=str(error))
        record_event(job.requested_by, "fail_import", job, after={"error": str(error)})
    except Exception as error:  # a bug or a database error: record it, then let it surface
        log.close()
        _save(job, status=ImportJob.Status.FAILED, phase="", finished_at=timezone.now(),
              message=f"{type(error).__name__}: {error}")
        raise
    finally:
        queries.progress_path(job).unlink(missing_ok=True)
    return job


def _changed_anything(counts: dict[str, dict[str, int]]) -> bool:
    return any(c.get("created") or c.get("updated") for c in counts.values())


def _written_models(counts: dict[str, dict[str, int]]) -> list[type[Model]]:
    """The tables an import created or updated rows in (counted per entity, and for the stage
    changes and reporting lines written on the way), for the planner's statistics."""
    tables: dict[str, type[Model]] = {name: e.model for name, e in ENTITIES.items()}
    tables["reporting_line"] = ReportingLine
    return [tables[name] for name, c in counts.items()
            if name in tables and (c.get("created") or c.get("updated"))]


def _summary(counts: dict[str, dict[str, int]]) -> str:
    parts = []
    for name, outcome in counts.items():
        shown = ", ".join(f"{n} {k}" for k, n in outcome.items() if n and k != "invalid")
        if shown:
            parts.append(f"{name.replace('_', ' ')}: {shown}")
    return "Imported. " + "; ".join(parts) if parts else "Imported; nothing changed."


@transaction.atomic
def rerun_import(actor: Any, job: ImportJob, *, enqueue: bool = True) -> ImportJob:
    """Queue `job` again: one that failed, was rejected or interrupted (a worker killed while
    it ran leaves it `running` with nothing written). A succeeded job is not re-run (importing
    the same file again would change nothing): upload it again instead."""
    if job.status == ImportJob.Status.SUCCEEDED:
        raise ImportRequestError(f"Import #{job.pk} has succeeded; upload the file again to "
                                 "import it again.", field="status", value=job.status)
    if job.status == ImportJob.Status.RUNNING and not queries.is_stalled(job):
        raise ImportRequestError(f"Import #{job.pk} is running.", field="status",
                                 value=job.status)
    before = {"status": job.status}
    _save(job, status=ImportJob.Status.QUEUED, phase="", message="")
    record_event(actor, "rerun_import", job, before=before, after={"status": job.status})
    if enqueue:
        transaction.on_commit(lambda: enqueue_import(job.pk))
    return job


@transaction.atomic
def confirm_dry_run(actor: Any, job: ImportJob, *, enqueue: bool = True) -> ImportJob:
    """Import the file of a dry run that found no errors: a new job, same file and options."""
    if not job.dry_run or job.status != ImportJob.Status.CHECKED:
        raise ImportRequestError(f"Import #{job.pk} is not a dry run that passed its checks.",
                                 field="status", value=job.status)
    new = ImportJob.objects.create(
        file=job.file.name, original_name=job.original_name, size=job.size,
        mapping_name=job.mapping_name, options=job.options, dry_run=False,
        requested_by=_user(actor))
    record_event(actor, "create_import_job", new,
                 after={"file": new.original_name, "from_dry_run": job.pk,
                        "mapping": new.mapping_name})
    if enqueue:
        transaction.on_commit(lambda: enqueue_import(new.pk))
    return new


# --- runs after an import -----------------------------------------------------------------------


def _request_bookings(actor: Any) -> dict[str, Any]:
    from attain.performance.actions import request_bookings_calculation

    run = request_bookings_calculation(actor)
    return {"kind": run.kind, "run_id": run.pk}


def _request_pipeline(actor: Any) -> dict[str, Any]:
    from attain.pipeline.actions import request_pipeline_analytics

    run = request_pipeline_analytics(actor)
    return {"kind": run.kind, "run_id": run.pk}


def _request_performance(actor: Any) -> dict[str, Any]:
    from attain.performance.actions import request_performance_analytics

    run = request_performance_analytics(actor)
    return {"kind": run.kind, "run_id": run.pk}


def _request_quality(actor: Any) -> dict[str, Any]:
    from attain.ingest.quality.actions import request_quality_run

    run = request_quality_run(actor)
    return {"kind": run.kind, "run_id": run.pk}


def _request_forecast(actor: Any) -> dict[str, Any]:
    from attain.forecasting.actions import request_forecast

    run = request_forecast(actor, period_kind="quarter")
    return {"kind": run.kind, "run_id": run.pk}


# The runs that refresh results after a successful import; add a request function here when a
# new calculation reads imported records. Each returns what it queued.
FOLLOW_UP_RUNS: list[Callable[[Any], dict[str, Any]]] = [
    _request_bookings, _request_pipeline, _request_performance, _request_quality,
    _request_forecast,
]


def refresh_after_import(actor: Any, job: ImportJob | None = None) -> list[dict[str, Any]]:
    """Queue every follow-up run (`FOLLOW_UP_RUNS`) so pages show the imported records."""
    return [request(actor) for request in FOLLOW_UP_RUNS]


# --- mapping profiles ---------------------------------------------------------------------------


@transaction.atomic
def save_mapping_profile(actor: Any, *, name: str, definition: dict[str, Any],
                         description: str = "", profile: MappingProfile | None = None
                         ) -> MappingProfile:
    """Create or update the generic mapping profile `name`; the definition is checked first."""
    from django.utils.text import slugify

    from attain.ingest.mappings import BUILTINS

    slug = slugify(name)
    if not slug:
        raise ImportRequestError("A mapping needs a name.", field="name", value=name)
    if slug in BUILTINS:
        raise ImportRequestError(f"{slug!r} is the name of a built-in mapping; choose another.",
                                 field="name", value=slug)
    mapping = from_definition(slug, definition)
    if len(mapping.targets) != 1:
        raise ImportRequestError("A generic mapping fills one entity.", field="definition")
    clash = MappingProfile.objects.filter(name=slug)
    if profile is not None:
        clash = clash.exclude(pk=profile.pk)
    if clash.exists():
        raise ImportRequestError(f"A mapping named {slug!r} exists.", field="name", value=slug)
    before = model_state(profile) if profile is not None else None
    profile = profile or MappingProfile(created_by=_user(actor))
    profile.name = slug
    profile.entity = mapping.targets[0].entity
    profile.description = description[:300]
    profile.definition = definition
    profile.save()
    record_event(actor, "save_mapping_profile", profile, before=before,
                 after=model_state(profile))
    return profile


@transaction.atomic
def delete_mapping_profile(actor: Any, profile: MappingProfile) -> None:
    before = model_state(profile)
    pk = profile.pk
    profile.delete()
    record_event(actor, "delete_mapping_profile", object_type="ingest.mappingprofile",
                 object_id=str(pk), before=before)


def import_path(actor: Any, path: Path, *, mapping_name: str, dry_run: bool = False,
                options: dict[str, Any] | None = None,
                progress: Callable[[str, int, int], None] | None = None) -> ImportJob:
    """Import a file from disk now (the CLI): store it as a job and run it in this process."""
    with path.open("rb") as handle:
        job = create_import_job(actor, name=path.name, content=File(handle, name=path.name),
                                size=path.stat().st_size, mapping_name=mapping_name,
                                dry_run=dry_run, options=options, enqueue=False)
    return run_import(job, progress=progress)


def store_bytes(actor: Any, name: str, data: bytes, **kwargs: Any) -> ImportJob:
    """`create_import_job` for content held in memory (tests, small API uploads)."""
    return create_import_job(actor, name=name, content=ContentFile(data, name=name),
                             size=len(data), **kwargs)

