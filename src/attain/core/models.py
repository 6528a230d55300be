"""Core records shared by every app: fiscal calendar and periods, audit events, calculation runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from attain.core.periods import FiscalCalendarRules, PeriodKind


class FiscalCalendar(models.Model):
    """The company's fiscal calendar (one row)."""

    fiscal_year_start_month = models.PositiveSmallIntegerField(default=1)
    week_start_day = models.PositiveSmallIntegerField(default=0, help_text="0 = Monday")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(fiscal_year_start_month__gte=1, fiscal_year_start_month__lte=12),
                name="fiscal_year_start_month_1_12",
            ),
            models.CheckConstraint(condition=Q(week_start_day__lte=6), name="week_start_day_0_6"),
        ]

    def __str__(self) -> str:
        return f"Fiscal year starts in month {self.fiscal_year_start_month}"

    @property
    def rules(self) -> FiscalCalendarRules:
        return FiscalCalendarRules(self.fiscal_year_start_month, self.week_start_day)


class Period(models.Model):
    """A fiscal period, half-open: `start` included, `end` excluded."""

    kind = models.CharField(max_length=10, choices=[(k.value, k.value) for k in PeriodKind])
    start = models.DateField()
    end = models.DateField()
    label = models.CharField(max_length=32)

    class Meta:
        ordering = ["start", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "start"], name="period_unique_kind_start"),
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="period_start_before_end"),
        ]

    def __str__(self) -> str:
        return self.label


class AuditEvent(models.Model):
    """Who changed what, when, with the values before and after."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"


class CalcRun(models.Model):
    """One run of a calculation: what went in, which code and backend, who asked, how long."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    inputs_hash = models.CharField(max_length=64, blank=True)
    calc_version = models.CharField(max_length=32, blank=True)
    backend = models.CharField(max_length=32, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    input_rows = models.BigIntegerField(default=0)
    output_rows = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} run #{self.pk} ({self.status})"
