"""Materialised results of pipeline analytics runs (the sales process `Stage` lives in `crm`).

Every row points at its `CalcRun`; pages read the latest succeeded run. A scope is the company
(`scope_id` 0), a team, a manager's reporting subtree or a person (as decided when the run
snapshotted the hierarchy); a slice is everything (`slice_dim` "") or one segment, source or
product. Definitions of every figure: `attain.pipeline.metrics`.
"""

from __future__ import annotations

from django.db import models

from attain.core.models import CalcRun, Period
from attain.crm.models import money_field


class ScopeKind(models.TextChoices):
    COMPANY = "company", "Company"
    TEAM = "team", "Team"
    MANAGER = "manager", "Manager's team"
    PERSON = "person", "Person"


class _Scoped(models.Model):
    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    scope_kind = models.CharField(max_length=8, choices=ScopeKind.choices)
    scope_id = models.BigIntegerField(help_text="0 for the company")
    period = models.ForeignKey(Period, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")

    class Meta:
        abstract = True


class PipelineFacts(_Scoped):
    """Counts and amounts (company currency) of one scope, period and slice."""

    slice_dim = models.CharField(max_length=16, blank=True)
    slice_value = models.CharField(max_length=100, blank=True)
    created_count = models.IntegerField()
    created_amount = money_field()
    won_count = models.IntegerField()
    won_amount = money_field()
    lost_count = models.IntegerField()
    lost_amount = money_field()
    cycle_days_sum = models.BigIntegerField()
    cycle_days_median = models.DecimalField(max_digits=9, decimal_places=1, null=True)
    leads_created = models.IntegerField()
    leads_qualified = models.IntegerField()
    leads_converted = models.IntegerField()
    leads_won = models.IntegerField()
    slipped_count = models.IntegerField()
    push_count = models.IntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        indexes = [models.Index(fields=["run", "scope_kind", "scope_id", "slice_dim",
                                        "slice_value", "period"], name="pl_facts_lookup")]


class PipelineStageFacts(_Scoped):
    """Cohort reach, flow transitions and time in one funnel stage."""

    slice_dim = models.CharField(max_length=16, blank=True)
    slice_value = models.CharField(max_length=100, blank=True)
    stage_id = models.BigIntegerField()
    cohort_reached = models.IntegerField()
    cohort_open = models.IntegerField()
    flow_entered = models.IntegerField()
    flow_advanced = models.IntegerField()
    flow_lost = models.IntegerField()
    stay_count = models.IntegerField()
    stay_days_sum = models.BigIntegerField()
    stay_days_median = models.DecimalField(max_digits=9, decimal_places=1, null=True)

    class Meta:
        indexes = [models.Index(fields=["run", "scope_kind", "scope_id", "slice_dim",
                                        "slice_value", "period"], name="pl_stage_lookup")]


class PipelineFlow(_Scoped):
    """Transitions from one stage (0: created) to another within a period."""

    slice_dim = models.CharField(max_length=16, blank=True)
    slice_value = models.CharField(max_length=100, blank=True)
    from_stage_id = models.BigIntegerField(help_text="0: the deal was created in to_stage")
    to_stage_id = models.BigIntegerField()
    transitions = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["run", "scope_kind", "scope_id", "slice_dim",
                                        "slice_value", "period"], name="pl_flow_lookup")]


class PipelineBreakdown(_Scoped):
    """Closed deals of a period by one dimension; open deals by age (no period)."""

    dimension = models.CharField(max_length=16)
    value = models.CharField(max_length=100, blank=True)
    won_count = models.IntegerField()
    won_amount = money_field()
    lost_count = models.IntegerField()
    lost_amount = money_field()
    open_count = models.IntegerField()
    open_amount = money_field()
    currency = models.CharField(max_length=3)

    class Meta:
        indexes = [models.Index(fields=["run", "scope_kind", "scope_id", "period"],
                                name="pl_breakdown_lookup")]


class PipelineBottleneck(_Scoped):
    """One stage (or the lead-qualification row) of a person against their team, or of a team
    against the company."""

    benchmark_kind = models.CharField(max_length=8, choices=ScopeKind.choices)
    benchmark_id = models.BigIntegerField()
    kind = models.CharField(max_length=8, help_text='"stage" or "leads"')
    stage_id = models.BigIntegerField(help_text="0 for the leads row")
    conversion = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    benchmark_conversion = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    days = models.DecimalField(max_digits=9, decimal_places=1, null=True)
    benchmark_days = models.DecimalField(max_digits=9, decimal_places=1, null=True)
    conversion_gap = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    days_gap = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    score = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    is_worst = models.BooleanField()
    volume = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["run", "scope_kind", "scope_id", "period"],
                                name="pl_bottleneck_lookup")]
