"""Forecast runs and their stored results (statistical series, pipeline forecasts, deal
probabilities), and forecast calls submitted by people."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from attain.core.models import CalcRun, Period
from attain.crm.models import Opportunity, currency_field, money_field
from attain.people.models import Person, Team
from attain.people.visibility import VisibleQuerySet


class ForecastRun(models.Model):
    """One forecast: the record of its calculation run (inputs hash, status, timings, who asked)
    plus what it forecast. Results point at the run and are never overwritten: any past
    forecast can be shown as it was."""

    calc_run = models.OneToOneField(CalcRun, on_delete=models.CASCADE, related_name="forecast")
    as_of = models.DateField(help_text="The day the forecast was made for")
    period_kind = models.CharField(max_length=10, help_text="month or quarter")
    history_start = models.DateField(null=True, blank=True)
    history_end = models.DateField(null=True, blank=True, help_text="Excluded: the first "
                                   "period forecast")
    horizon = models.PositiveSmallIntegerField()
    reconciliation = models.CharField(max_length=16, blank=True)
    quantiles = models.JSONField(default=dict, blank=True)
    win_model = models.JSONField(default=dict, blank=True)
    currency = currency_field()

    class Meta:
        ordering = ["-calc_run__created_at", "-id"]

    def __str__(self) -> str:
        return f"Forecast #{self.pk} ({self.period_kind}, as of {self.as_of})"


class SeriesLevel(models.TextChoices):
    COMPANY = "company", "Company"
    TEAM = "team", "Team"
    PERSON = "person", "Person"
    FAMILY = "family", "Product family"
    SEGMENT = "segment", "Segment"


class Measure(models.TextChoices):
    """What a series counts: bookings in the company currency, or booked units (quantity)."""

    AMOUNT = "amount", "Bookings amount"
    QUANTITY = "quantity", "Units"


class ForecastSeries(models.Model):
    """One forecast series of a run (the company, a team, a person in a team, a product
    family, a segment) of one measure (amount or units) and how it was forecast."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="series")
    measure = models.CharField(max_length=10, choices=Measure.choices, default=Measure.AMOUNT)
    key = models.CharField(max_length=200)
    level = models.CharField(max_length=10, choices=SeriesLevel.choices)
    label = models.CharField(max_length=200)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL)
    method = models.CharField(max_length=32)
    members = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    backtest_mase = models.JSONField(default=dict, blank=True)

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["run_id", "measure", "level", "label"]
        constraints = [models.UniqueConstraint(fields=["run", "measure", "key"],
                                               name="series_unique_measure_key")]

    def __str__(self) -> str:
        return self.label


class ForecastValue(models.Model):
    """A series' history (`is_forecast` false: the actual) or forecast for one period."""

    series = models.ForeignKey(ForecastSeries, on_delete=models.CASCADE, related_name="values")
    period = models.ForeignKey(Period, on_delete=models.PROTECT)
    is_forecast = models.BooleanField(default=True)
    point = money_field()
    low_80 = money_field(null=True, blank=True)
    high_80 = money_field(null=True, blank=True)
    low_95 = money_field(null=True, blank=True)
    high_95 = money_field(null=True, blank=True)

    class Meta:
        ordering = ["series_id", "period__start"]
        constraints = [models.UniqueConstraint(fields=["series", "period"],
                                               name="forecast_value_unique")]


class PipelineForecast(models.Model):
    """The pipeline forecast of a period for one person (or the company, `person` empty)."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="pipeline")
    period = models.ForeignKey(Period, on_delete=models.PROTECT)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL)
    closed_won = money_field()
    open_expected = money_field()
    created_expected = money_field()
    crm_baseline = money_field()
    open_amount = money_field()
    open_deals = models.PositiveIntegerField(default=0)
    currency = currency_field()

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["period__start", "person__name"]

    @property
    def total(self):  # type: ignore[no-untyped-def]
        return self.closed_won + self.open_expected + self.created_expected


class DealForecast(models.Model):
    """An open opportunity's probability of being won inside a period, as a run estimated it."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="deals")
    period = models.ForeignKey(Period, on_delete=models.PROTECT)
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL)
    probability = models.DecimalField(max_digits=5, decimal_places=4)
    crm_probability = models.DecimalField(max_digits=5, decimal_places=4)
    amount = money_field()
    expected = money_field()
    currency = currency_field()

    objects = VisibleQuerySet.owned_by("owner")

    class Meta:
        ordering = ["period__start", "-amount"]


class CallCategory(models.TextChoices):
    COMMIT = "commit", "Commit"
    BEST_CASE = "best_case", "Best case"
    PIPELINE = "pipeline", "Pipeline"


class ForecastCall(models.Model):
    """A forecast call: `person`'s number for `period` in one category. Never edited: a new
    submission (or a manager's adjustment, `adjusts` pointing at the call it replaces, with a
    note) is a new row, so every submission is kept."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="forecast_calls")
    period = models.ForeignKey(Period, on_delete=models.PROTECT)
    category = models.CharField(max_length=16, choices=CallCategory.choices)
    amount = money_field()
    currency = currency_field()
    note = models.TextField(blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    submitted_by_person = models.ForeignKey(Person, null=True, blank=True,
                                            on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(db_index=True)
    adjusts = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="adjustments")

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["person", "period", "category", "submitted_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="call_amount_non_negative"),
            models.CheckConstraint(condition=Q(adjusts__isnull=True) | ~Q(note=""),
                                   name="call_adjustment_has_note"),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.period} {self.category}: {self.amount} {self.currency}"
