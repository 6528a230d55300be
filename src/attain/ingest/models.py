"""Records of the ingest app: import jobs and mappings (Imports), data-quality findings and scores
(Data quality)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from attain.core.models import CalcRun

# Imports


class MappingProfile(models.Model):
    """A generic mapping built once in the UI (column → field, value maps, reading options),
    reusable by name from the pages, the API and `attain import --mapping NAME`.
    `definition` has the shape documented in `attain.ingest.mappings`."""

    name = models.SlugField(max_length=100, unique=True)
    entity = models.CharField(max_length=32)
    description = models.CharField(max_length=300, blank=True)
    definition = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One import (or dry run) of one file with one mapping: its status, progress, counts and
    problems. The data it writes commits in one transaction together with status `succeeded`."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        CHECKED = "checked", "checked (dry run)"
        REJECTED = "rejected", "rejected (errors)"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    FINISHED = (Status.CHECKED, Status.REJECTED, Status.SUCCEEDED, Status.FAILED)

    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    mapping_name = models.CharField(max_length=100)
    options = models.JSONField(default=dict, blank=True,
                               help_text="sheet, date_order, decimal_separator, currency")
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    phase = models.CharField(max_length=60, blank=True)
    file_info = models.JSONField(default=dict, blank=True)
    rows = models.BigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error_count = models.BigIntegerField(default=0)
    warning_count = models.BigIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="The first problems found")
    problem_summary = models.JSONField(default=dict, blank=True)
    report = models.FileField(upload_to="imports/reports/", max_length=300, blank=True)
    message = models.TextField(blank=True)
    follow_up = models.JSONField(default=list, blank=True, help_text="Runs requested after it")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        kind = "dry run" if self.dry_run else "import"
        return f"{kind} #{self.pk} of {self.original_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


# Data quality


class QualityFinding(models.Model):
    """One record flagged by one check of a data-quality run (`CalcRun` kind "data_quality").

    Group checks (duplicates, name variants) give every record of a group a row with the same
    `group_key`. `day`, `number` and `note` hold the check's detail (see
    `attain.engine.calculations.data_quality`), e.g. the idle days of a stale opportunity.
    """

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    check_name = models.CharField(max_length=40, help_text="The check that flagged the record")
    category = models.CharField(max_length=20)
    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    group_key = models.CharField(max_length=255, blank=True)
    label = models.CharField(max_length=255, blank=True)
    owner_id = models.BigIntegerField(null=True, blank=True, help_text="Owning person's id")
    day = models.DateField(null=True, blank=True)
    number = models.BigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["run", "check_name", "group_key", "object_type", "object_id"]
        indexes = [models.Index(fields=["run", "check_name", "group_key"]),
                   models.Index(fields=["run", "object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.check_name}: {self.object_type}#{self.object_id}"


class QualityScore(models.Model):
    """The score of one category (or "overall") in one data-quality run, 0-100.

    score = 100 x (1 - flagged / checked), two decimals, half to even; 100 when nothing was
    checked. `flagged` counts distinct records with at least one finding of the category.
    """

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=20)
    checked = models.BigIntegerField()
    flagged = models.BigIntegerField()
    findings = models.BigIntegerField()
    score = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["run", "category"]
        constraints = [
            models.UniqueConstraint(fields=["run", "category"], name="quality_score_unique"),
            models.CheckConstraint(condition=models.Q(score__gte=0, score__lte=100),
                                   name="quality_score_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.score} (run #{self.run_id})"
