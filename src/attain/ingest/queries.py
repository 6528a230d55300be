"""Reads of imports for pages, the API and the CLI: mappings (built-in and saved profiles), import
jobs with their live progress and problems. Imports are an ops tool: `may_import` decides who
sees them (sales operations and superusers); the entry points check it and answer 404 otherwise.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from attain.ingest.mappings import BUILTIN_DEFINITIONS, BUILTINS, Mapping, MappingError
from attain.ingest.mappings import from_definition as _from_definition
from attain.ingest.models import ImportJob, MappingProfile
from attain.people.models import Person, Role

# A running job whose progress has not moved for this long is taken as interrupted.
STALLED_AFTER = timedelta(minutes=2)


def may_import(user: Any) -> bool:
    """Sales operations (and superusers) import files and manage mappings."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return Person.objects.filter(user_id=user.pk, role=Role.OPS).exists()


def mapping(name: str) -> Mapping:
    """The built-in mapping or saved profile called `name`."""
    if name in BUILTINS:
        return BUILTINS[name]
    profile = MappingProfile.objects.filter(name=name).first()
    if profile is None:
        known = ", ".join([*BUILTINS, *MappingProfile.objects.values_list("name", flat=True)])
        raise MappingError(f"Unknown mapping {name!r}; use one of: {known}.", field="mapping",
                           value=name)
    return _from_definition(profile.name, profile.definition, label=profile.name,
                            description=profile.description, builtin=False)


def mapping_definition(name: str) -> dict[str, Any]:
    """A copy of the JSON definition of mapping `name`."""
    if name in BUILTIN_DEFINITIONS:
        return {k: v for k, v in copy.deepcopy(BUILTIN_DEFINITIONS[name]).items()
                if k not in {"label", "description"}}
    profile = MappingProfile.objects.filter(name=name).first()
    if profile is None:
        raise MappingError(f"Unknown mapping {name!r}.", field="mapping", value=name)
    return copy.deepcopy(profile.definition)


def mappings() -> list[Mapping]:
    """Every mapping: the built-ins, then the saved profiles by name."""
    saved = [_from_definition(p.name, p.definition, label=p.name, description=p.description,
                              builtin=False) for p in MappingProfile.objects.order_by("name")]
    return [*BUILTINS.values(), *saved]


def profiles() -> QuerySet[MappingProfile]:
    return MappingProfile.objects.select_related("created_by").order_by("name")


def profile(profile_id: int) -> MappingProfile | None:
    return MappingProfile.objects.filter(pk=profile_id).first()


def profile_named(name: str) -> MappingProfile | None:
    return MappingProfile.objects.filter(name=name).first()


def jobs(*, status: str | None = None, mapping_name: str | None = None) -> QuerySet[ImportJob]:
    """Import jobs, newest first (callers check `may_import`)."""
    rows = ImportJob.objects.select_related("requested_by")
    if status:
        rows = rows.filter(status=status)
    if mapping_name:
        rows = rows.filter(mapping_name=mapping_name)
    return rows.order_by("-created_at", "-id")


def job(job_id: int) -> ImportJob | None:
    return jobs().filter(pk=job_id).first()


def progress_path(job: ImportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / "progress" / f"{job.pk}.json"


def progress(job: ImportJob) -> dict[str, Any]:
    """Live progress of a running job: phase, rows done, rows expected, percent, last update."""
    data: dict[str, Any] = {"phase": job.phase, "done": 0, "total": 0, "at": None}
    with contextlib.suppress(OSError, ValueError):
        data |= json.loads(progress_path(job).read_text())
    total = data.get("total") or 0
    data["percent"] = min(100, round(100 * data["done"] / total)) if total else None
    return data


def is_stalled(job: ImportJob, now: datetime | None = None) -> bool:
    """True for a running job whose progress has not moved for `STALLED_AFTER` (its worker
    was probably stopped; nothing it did was committed)."""
    if job.status != ImportJob.Status.RUNNING:
        return False
    now = now or timezone.now()
    at = progress(job).get("at")
    last = datetime.fromisoformat(at) if at else job.started_at
    return last is None or now - last > STALLED_AFTER


def report_path(job: ImportJob) -> Path | None:
    """The CSV report of every problem of `job`, if it was written."""
    if not job.report:
        return None
    path = Path(settings.MEDIA_ROOT) / str(job.report.name)
    return path if path.exists() else None
