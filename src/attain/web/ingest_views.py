"""Import pages (sales operations only): upload a file with a mapping (dry run or import), follow
a job's progress and problems, download every problem as CSV, and build generic mapping profiles
(column → field pickers and a stage value map)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from attain.ingest import actions, loading, queries
from attain.ingest.entities import ENTITIES
from attain.ingest.mappings import MappingError, generic_definition, normalise
from attain.ingest.models import ImportJob, MappingProfile
from attain.ingest.reading import (
    FileRefused,
    check_upload_size,
    describe_size,
    max_upload_bytes,
    read_header,
)
from attain.web.exports import (
    FORMULA_PREFIXES,
    csv_url,
    export_format,
    export_response,
    wants_export,
)

DATE_ORDERS = [("", "As the mapping says"), ("auto", "Infer from the file"),
               ("mdy", "m/d/yyyy (US)"), ("dmy", "d/m/yyyy")]
SEPARATORS = [("", "As the mapping says"), ("auto", "Infer from the file"),
              (".", "Point: 1,234.50"), (",", "Comma: 1.234,50")]
SAMPLE_LIMIT = 5 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # the form fields and multipart boundaries around the file


def _require_ops(request: HttpRequest) -> None:
    if not queries.may_import(request.user):
        raise PermissionDenied("Imports are for sales operations.")


def _job_or_404(job_id: int) -> ImportJob:
    job = queries.job(job_id)
    if job is None:
        raise Http404("No such import")
    return job


class UploadForm(forms.Form):
    file = forms.FileField(label="File (CSV or XLSX)")
    mapping = forms.ChoiceField(label="Mapping")
    dry_run = forms.BooleanField(required=False, initial=True,
                                 label="Dry run (check only, write nothing)")
    sheet = forms.CharField(required=False, label="Sheet (XLSX; default the first)")
    date_order = forms.ChoiceField(choices=DATE_ORDERS, required=False, label="Dates")
    decimal_separator = forms.ChoiceField(choices=SEPARATORS, required=False,
                                          label="Decimal separator")
    currency = forms.CharField(required=False, max_length=3, label="Default currency")
    exported_at = forms.DateTimeField(
        required=False, label="Exported at (company time; dates the stage changes the file "
                              "implies — default: the upload time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"},
                                   format="%Y-%m-%dT%H:%M:%S"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                       "%Y-%m-%d %H:%M:%S"])

    def clean_exported_at(self) -> str:
        """The moment as ISO 8601 with the company's offset (a `datetime-local` input has no
        time zone: it is read in the company's); refused when it lies in the future."""
        moment = self.cleaned_data.get("exported_at")
        if moment is None:
            return ""
        moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        if moment > timezone.now():
            raise forms.ValidationError(
                f"{timezone.localtime(moment):%Y-%m-%d %H:%M} is in the future; an export "
                "cannot have been taken then.")
        return timezone.localtime(moment).isoformat()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["mapping"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(m.name, f"{m.label}" + ("" if m.builtin else " (saved profile)"))
                         for m in queries.mappings()]


@login_required
def import_list(request: HttpRequest) -> HttpResponseBase:
    """Past imports, and the upload form (POST starts a job and opens its page)."""
    _require_ops(request)
    refused = ""
    if request.method == "POST":
        # Refuse an oversize upload from its declared length, before Django reads the body.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        try:
            check_upload_size("The upload", max(length - FORM_OVERHEAD, 0))
        except FileRefused as error:
            refused = str(error)
    form = UploadForm(request.POST if request.method == "POST" and not refused else None,
                      request.FILES if request.method == "POST" and not refused else None,
                      initial={"mapping": request.GET.get("mapping", "")})
    if refused:
        form.add_error(None, refused)
    if request.method == "POST" and not refused and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            job = actions.create_import_job(
                request.user, name=upload.name, content=upload, size=upload.size,
                mapping_name=data["mapping"], dry_run=data["dry_run"],
                options={k: data.get(k) for k in ("sheet", "date_order", "decimal_separator",
                                                  "currency", "exported_at")})
        except (FileRefused, MappingError, actions.ImportRequestError) as error:
            form.add_error("file" if isinstance(error, FileRefused) else None, str(error))
        else:
            kind = "Dry run" if job.dry_run else "Import"
            messages.success(request, f"{kind} #{job.pk} of {job.original_name} is queued.")
            return HttpResponseRedirect(reverse("import-job", args=[job.pk]))
    status = request.GET.get("status") or None
    jobs = queries.jobs(status=status)
    if request.method == "GET" and wants_export(request):
        return export_response(
            request, f"imports{'-' + status if status else ''}",
            ["job", "file", "mapping", "kind", "status", "rows", "errors", "warnings",
             "created", "updated", "unchanged", "requested_at", "finished_at", "requested_by",
             "message"],
            ((job.pk, job.original_name, job.mapping_name,
              "dry run" if job.dry_run else "import", job.status, job.rows, job.error_count,
              job.warning_count, *_totals(job.counts), job.created_at, job.finished_at,
              job.requested_by.get_username() if job.requested_by else "system", job.message)
             for job in jobs.iterator()))
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    return render(request, "web/ingest/import_list.html", {
        "form": form, "page": page, "status": status or "",
        "statuses": ImportJob.Status.choices, "max_upload": describe_size(max_upload_bytes()),
        "csv_url": csv_url(request),
    })


def _totals(counts: dict[str, dict[str, int]]) -> tuple[int, int, int]:
    """Created, updated and unchanged records of a job, over its entities."""
    return tuple(sum(c.get(k, 0) for c in counts.values())  # type: ignore[return-value]
                 for k in ("created", "updated", "unchanged"))


def _job_context(job: ImportJob) -> dict[str, Any]:
    counts = [{"entity": name.replace("_", " "), **{k: c.get(k, 0) for k in (
        "created", "updated", "unchanged", "deleted", "older", "valid", "invalid")}}
        for name, c in job.counts.items()]
    return {"job": job, "counts": counts, "progress": queries.progress(job),
            "stalled": queries.is_stalled(job),
            "polling": job.status in {ImportJob.Status.QUEUED, ImportJob.Status.RUNNING},
            "has_report": queries.report_path(job) is not None,
            "more_problems": max(job.error_count + job.warning_count - len(job.problems), 0)}


@login_required
def import_job(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """One import: status and progress (polled while it runs), counts, problems."""
    _require_ops(request)
    job = _job_or_404(job_id)
    if wants_export(request):
        context = _job_context(job)
        return export_response(
            request, f"import-{job.pk}-counts",
            ["records", "created", "updated", "unchanged", "deleted", "older", "valid_rows",
             "invalid_rows"],
            ([c["entity"], c["created"], c["updated"], c["unchanged"], c["deleted"],
              c["older"], c["valid"], c["invalid"]] for c in context["counts"]))
    context = _job_context(job)
    context["csv_url"] = csv_url(request)
    context["problems_xlsx_url"] = reverse("import-problems-csv", args=[job.pk]) + "?format=xlsx"
    return render(request, "web/ingest/import_job.html", context)


@login_required
def import_job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    """The status block alone, polled by HTMX every two seconds while the job runs."""
    _require_ops(request)
    job = _job_or_404(job_id)
    context = _job_context(job)
    context["reload"] = request.GET.get("shown") != job.status and not context["polling"]
    return render(request, "web/ingest/_job_status.html", context)


@login_required
def import_problems_csv(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """Every problem of the job: severity, row, column, value, problem, entity — the CSV
    report as written (values already neutralised), or `?format=xlsx` as a workbook; the
    optional `severity` filter (error / warning) applies to both."""
    _require_ops(request)
    job = _job_or_404(job_id)
    path = queries.report_path(job)
    if path is None:
        raise Http404("This import has no problem report")
    severity = request.GET.get("severity", "")
    if not severity and export_format(request) in {None, "csv"}:
        return FileResponse(path.open("rb"), as_attachment=True,
                            filename=f"import-{job.pk}-problems.csv", content_type="text/csv")

    def rows() -> Iterator[list[Any]]:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for cells in reader:
                if severity and cells[0] != severity:
                    continue
                row: list[Any] = list(cells)
                row[1] = int(cells[1]) if cells[1].isdigit() else cells[1]
                if row[3].startswith("'") and row[3][1:].startswith(FORMULA_PREFIXES):
                    row[3] = row[3][1:]  # the report's neutralising quote; export adds its own
                yield row

    return export_response(request, f"import-{job.pk}-problems{'-' + severity if severity else ''}",
                           loading.REPORT_HEADER, rows())


@login_required
@require_POST
def import_job_confirm(request: HttpRequest, job_id: int) -> HttpResponse:
    """Import the file of a checked dry run for real (a new job with the same file)."""
    _require_ops(request)
    job = _job_or_404(job_id)
    try:
        new = actions.confirm_dry_run(request.user, job)
    except actions.ImportRequestError as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(reverse("import-job", args=[job.pk]))
    messages.success(request, f"Import #{new.pk} of {new.original_name} is queued.")
    return HttpResponseRedirect(reverse("import-job", args=[new.pk]))


@login_required
@require_POST
def import_job_rerun(request: HttpRequest, job_id: int) -> HttpResponse:
    _require_ops(request)
    job = _job_or_404(job_id)
    try:
        actions.rerun_import(request.user, job)
        messages.success(request, f"Import #{job.pk} is queued again.")
    except actions.ImportRequestError as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(reverse("import-job", args=[job.pk]))


# --- mapping profiles ---------------------------------------------------------------------------


@login_required
def mapping_list(request: HttpRequest) -> HttpResponseBase:
    _require_ops(request)
    mappings = queries.mappings()
    if wants_export(request):
        return export_response(
            request, "import-mappings",
            ["name", "label", "kind", "entities", "description"],
            ((m.name, m.label, "built-in" if m.builtin else "saved profile",
              ", ".join(m.entities), m.description) for m in mappings))
    return render(request, "web/ingest/mapping_list.html", {
        "mappings": mappings, "profiles": {p.name: p for p in queries.profiles()},
        "csv_url": csv_url(request),
    })


def _columns_from(request: HttpRequest, profile: MappingProfile | None) -> list[str]:
    """The file columns the editor offers: a sample file, a job's file, the form, the profile."""
    sample = request.FILES.get("sample")
    if sample is not None:
        check_upload_size(sample.name or "sample", min(sample.size or 0, SAMPLE_LIMIT))
        return read_header(sample.read(SAMPLE_LIMIT), sample.name or "sample.csv")
    job_id = request.GET.get("job", "")
    if job_id.isdigit():
        job = queries.job(int(job_id))
        if job is not None:
            return list(job.file_info.get("columns", []))
    posted = request.POST.getlist("column")
    if posted:
        return posted
    if profile is not None:
        target = profile.definition.get("targets", [{}])[0]
        return [c for columns in target.get("columns", {}).values() for c in columns]
    return []


def _stage_map_text(definition: dict[str, Any]) -> str:
    target = (definition.get("targets") or [{}])[0]
    stage_map = (target.get("value_maps") or {}).get("stage", {})
    return "\n".join(f"{source} = {stage}" for source, stage in stage_map.items())


def _parse_stage_map(text: str) -> dict[str, str]:
    """`source = stage` per line; blank lines ignored."""
    result: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        source, sep, stage = line.partition("=")
        if not sep or not source.strip() or not stage.strip():
            raise actions.ImportRequestError(
                f"Stage value map, line {number}: {line.strip()!r} is not 'file value = stage'.",
                field="stage_map", value=line)
        result[source.strip()] = stage.strip()
    return result


@login_required
def mapping_edit(request: HttpRequest, profile_id: int | None = None) -> HttpResponse:
    """The generic mapping editor: for each column of a sample file pick the field it fills,
    map unknown stage names to known stages, set the reading options, and save by name."""
    _require_ops(request)
    profile = None
    if profile_id is not None:
        profile = queries.profile(profile_id)
        if profile is None:
            raise Http404("No such mapping")
    definition = profile.definition if profile else {}
    target = (definition.get("targets") or [{}])[0]
    entity_name = request.POST.get("entity") or request.GET.get("entity") or target.get(
        "entity", "opportunity")
    if entity_name not in ENTITIES:
        entity_name = "opportunity"
    error = ""
    try:
        columns = _columns_from(request, profile)
    except FileRefused as refused:
        columns, error = [], str(refused)
    chosen = {normalise(c): f for f, cs in (target.get("columns") or {}).items() for c in cs}
    if request.method == "POST" and request.POST.get("action") == "save":
        column_fields = {c: request.POST.get(f"field-{i}", "") for i, c in enumerate(columns)}
        chosen = {normalise(c): f for c, f in column_fields.items()}
        try:
            stage_map = _parse_stage_map(request.POST.get("stage_map", ""))
            new_definition = generic_definition(
                entity_name, column_fields, value_maps={"stage": stage_map} if stage_map else {},
                date_order=request.POST.get("date_order") or "auto",
                decimal_separator=request.POST.get("decimal_separator") or "auto",
                currency=request.POST.get("currency", "").strip())
            saved = actions.save_mapping_profile(
                request.user, name=request.POST.get("name", ""), definition=new_definition,
                description=request.POST.get("description", ""), profile=profile)
        except (actions.ImportRequestError, MappingError) as refused:
            error = str(refused)
        else:
            messages.success(request, f"Mapping {saved.name!r} saved; choose it when you "
                             f"upload, or run `attain import FILE --mapping {saved.name}`.")
            return HttpResponseRedirect(reverse("import-mappings"))
    entity = ENTITIES[entity_name]
    rows = [{"index": i, "column": c, "field": chosen.get(normalise(c), "")}
            for i, c in enumerate(columns)]
    return render(request, "web/ingest/mapping_edit.html", {
        "profile": profile, "entity": entity, "entities": ENTITIES.values(), "rows": rows,
        "fields": entity.fields, "error": error,
        "name": request.POST.get("name", profile.name if profile else ""),
        "description": request.POST.get("description",
                                        profile.description if profile else ""),
        "stage_map": request.POST.get("stage_map", _stage_map_text(definition)),
        "date_order": request.POST.get("date_order", definition.get("date_order", "auto")),
        "decimal_separator": request.POST.get("decimal_separator",
                                              definition.get("decimal_separator", "auto")),
        "currency": request.POST.get("currency", definition.get("currency", "")),
        "date_orders": DATE_ORDERS[1:], "separators": SEPARATORS[1:],
        "stage_names": list(_stage_names()),
    })


def _stage_names() -> list[str]:
    from attain.crm.models import Stage

    return list(Stage.objects.order_by("pipeline", "order").values_list("name", flat=True))


@login_required
@require_POST
def mapping_delete(request: HttpRequest, profile_id: int) -> HttpResponse:
    _require_ops(request)
    profile = queries.profile(profile_id)
    if profile is None:
        raise Http404("No such mapping")
    actions.delete_mapping_profile(request.user, profile)
    messages.success(request, f"Mapping {profile.name!r} deleted.")
    return HttpResponseRedirect(reverse("import-mappings"))
