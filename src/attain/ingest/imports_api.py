"""The import endpoints (mounted under /api/v1/imports by `attain.ingest.api`): upload a file for
a dry run or an import (run by the worker), follow a job, read its problems, re-run it, and manage
the saved mapping profiles. Sales operations only (403 for every other role), like the pages."""

from __future__ import annotations

import csv
from itertools import islice
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from attain.core.api import Instant, caller, found
from attain.ingest import actions, queries
from attain.ingest.mappings import MappingError
from attain.ingest.models import ImportJob
from attain.ingest.reading import FileRefused

router = Router(tags=["imports"])


def _require_ops(request: HttpRequest) -> Any:
    user = caller(request)
    if not queries.may_import(user):
        raise HttpError(403, "Imports are for sales operations.")
    return user


class RefusedOut(Schema):
    detail: str
    field: str = ""
    value: Any = None


def _refused(error: Exception) -> Status[Any]:
    return Status(400, {"detail": str(error), "field": getattr(error, "field", ""),
                        "value": getattr(error, "value", None)})


class ProblemOut(Schema):
    severity: str
    row: int
    column: str
    value: str
    reason: str
    entity: str = ""


class ProgressOut(Schema):
    phase: str
    done: int
    total: int
    percent: int | None


class ImportJobOut(Schema):
    id: int
    file: str = Field(alias="original_name")
    size: int
    mapping: str = Field(alias="mapping_name")
    dry_run: bool
    status: str
    message: str
    options: dict[str, Any]
    file_info: dict[str, Any]
    rows: int
    counts: dict[str, dict[str, int]] = Field(
        description="Per entity: created / updated / unchanged / invalid")
    error_count: int
    warning_count: int
    problem_summary: dict[str, int]
    follow_up: list[dict[str, Any]]
    requested_by: str | None = None
    created_at: Instant
    started_at: Instant | None
    finished_at: Instant | None
    progress: ProgressOut | None = None

    @staticmethod
    def resolve_requested_by(job: ImportJob) -> str | None:
        return job.requested_by.get_username() if job.requested_by else None

    @staticmethod
    def resolve_progress(job: ImportJob) -> dict[str, Any] | None:
        return queries.progress(job) if job.status == ImportJob.Status.RUNNING else None


class ProblemPage(Schema):
    items: list[ProblemOut]
    count: int


class MappingOut(Schema):
    name: str
    label: str
    description: str
    builtin: bool
    entities: list[str]


class MappingDetailOut(MappingOut):
    definition: dict[str, Any]


class MappingIn(Schema):
    name: str = Field(description="Letters, digits and dashes; not a built-in name")
    description: str = ""
    definition: dict[str, Any] = Field(
        description="{targets: [{entity, columns: {field: [column, …]}, value_maps: "
                    "{field: {text: value}}, constants: {field: text}}], date_order, "
                    "decimal_separator, currency}")


def _mapping_out(name: str) -> dict[str, Any]:
    mapping = queries.mapping(name)
    return {"name": mapping.name, "label": mapping.label, "description": mapping.description,
            "builtin": mapping.builtin, "entities": mapping.entities,
            "definition": queries.mapping_definition(name)}


@router.get("/mappings", response=list[MappingOut], summary="Mappings")
def list_mappings(request: HttpRequest) -> Any:
    """Built-in mappings (Salesforce, HubSpot, Attain templates, Superstore) and saved
    profiles."""
    _require_ops(request)
    return [{"name": m.name, "label": m.label, "description": m.description,
             "builtin": m.builtin, "entities": m.entities} for m in queries.mappings()]


@router.get("/mappings/{name}", response=MappingDetailOut, summary="One mapping")
def get_mapping(request: HttpRequest, name: str) -> Any:
    _require_ops(request)
    try:
        return _mapping_out(name)
    except MappingError:
        return found(None)


@router.post("/mappings", response={201: MappingDetailOut, 400: RefusedOut},
             summary="Save a mapping profile")
def create_mapping(request: HttpRequest, payload: MappingIn) -> Any:
    user = _require_ops(request)
    try:
        profile = actions.save_mapping_profile(user, name=payload.name,
                                               definition=payload.definition,
                                               description=payload.description)
    except (actions.ImportRequestError, MappingError) as error:
        return _refused(error)
    return Status(201, _mapping_out(profile.name))


@router.put("/mappings/{name}", response={200: MappingDetailOut, 400: RefusedOut},
            summary="Replace a mapping profile")
def update_mapping(request: HttpRequest, name: str, payload: MappingIn) -> Any:
    user = _require_ops(request)
    profile = found(queries.profile_named(name))
    try:
        profile = actions.save_mapping_profile(user, name=payload.name,
                                               definition=payload.definition,
                                               description=payload.description, profile=profile)
    except (actions.ImportRequestError, MappingError) as error:
        return _refused(error)
    return _mapping_out(profile.name)


@router.delete("/mappings/{name}", response={204: None}, summary="Delete a mapping profile")
def delete_mapping(request: HttpRequest, name: str) -> Any:
    user = _require_ops(request)
    actions.delete_mapping_profile(user, found(queries.profile_named(name)))
    return Status(204, None)


@router.post("", response={202: ImportJobOut, 400: RefusedOut, 413: RefusedOut},
             summary="Upload a file: a dry run or an import")
def create_import(
    request: HttpRequest, file: File[UploadedFile], mapping: Form[str],
    dry_run: Form[bool] = False, sheet: Form[str] = "", date_order: Form[str] = "",
    decimal_separator: Form[str] = "", currency: Form[str] = "", exported_at: Form[str] = "",
) -> Any:
    """Store the file as an import job and queue it for the worker (answers 202 at once).
    Follow it with GET /imports/{id}; a dry run writes nothing. All or nothing: a file with
    any error writes nothing (status `rejected`, see /imports/{id}/problems)."""
    user = _require_ops(request)
    options = {"sheet": sheet, "date_order": date_order,
               "decimal_separator": decimal_separator, "currency": currency,
               "exported_at": exported_at}
    try:
        job = actions.create_import_job(user, name=file.name or "upload", content=file,
                                        size=file.size or 0, mapping_name=mapping,
                                        dry_run=dry_run, options=options)
    except FileRefused as error:
        return Status(413, {"detail": str(error), "field": "file", "value": file.name})
    except (actions.ImportRequestError, MappingError) as error:
        return _refused(error)
    return Status(202, job)


@router.get("", response=list[ImportJobOut], summary="Import jobs")
def list_imports(request: HttpRequest, status: str | None = None, limit: int = 50) -> Any:
    """Import jobs, newest first (at most `limit`, 1..500)."""
    _require_ops(request)
    return list(queries.jobs(status=status)[: max(1, min(limit, 500))])


@router.get("/{job_id}", response=ImportJobOut, summary="One import job with its progress")
def get_import(request: HttpRequest, job_id: int) -> Any:
    _require_ops(request)
    return found(queries.job(job_id))


@router.get("/{job_id}/problems", response=ProblemPage, summary="Every problem of a job")
def list_problems(request: HttpRequest, job_id: int, severity: str | None = None,
                  limit: int = 100, offset: int = 0) -> Any:
    """Problems in the order found (row, column, value, reason), `limit` (1..1000) from
    `offset`; `severity` is error or warning."""
    _require_ops(request)
    job = found(queries.job(job_id))
    limit = max(1, min(limit, 1000))
    path = queries.report_path(job)
    if path is None:
        rows: list[dict[str, Any]] = [p for p in job.problems
                                      if severity in (None, p["severity"])]
        return {"items": rows[offset:offset + limit], "count": len(rows)}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = (r for r in csv.DictReader(handle) if severity in (None, r["severity"]))
        items = [{"severity": r["severity"], "row": int(r["row"]), "column": r["column"],
                  "value": r["value"], "reason": r["problem"], "entity": r["entity"]}
                 for r in islice(reader, offset, offset + limit)]
    count = {None: job.error_count + job.warning_count, "error": job.error_count,
             "warning": job.warning_count}.get(severity, 0)
    return {"items": items, "count": count}


@router.post("/{job_id}/rerun", response={202: ImportJobOut, 400: RefusedOut},
             summary="Run a failed, rejected or interrupted job again")
def rerun(request: HttpRequest, job_id: int) -> Any:
    user = _require_ops(request)
    job = found(queries.job(job_id))
    try:
        with transaction.atomic():
            job = actions.rerun_import(user, job)
    except actions.ImportRequestError as error:
        return _refused(error)
    return Status(202, job)
