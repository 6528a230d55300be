"""Quotas and the materialised results of performance calculations."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from attain.core.models import CalcRun, Period
from attain.crm.models import currency_field, money_field
from attain.people.models import Person, Team
from attain.people.visibility import VisibleQuerySet


class Quota(models.Model):
    """A target for one person or one team over one period."""

    class Kind(models.TextChoices):
        BOOKINGS = "bookings", "Bookings"

    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE)
    period = models.ForeignKey(Period, on_delete=models.PROTECT)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BOOKINGS)
    amount = money_field()
    currency = currency_field()

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(person__isnull=False) & Q(team__isnull=True))
                | (Q(person__isnull=True) & Q(team__isnull=False)),
                name="quota_person_xor_team",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_non_negative"),
            models.UniqueConstraint(
                fields=["person", "period", "kind"], name="quota_unique_person_period",
                condition=Q(person__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["team", "period", "kind"], name="quota_unique_team_period",
                condition=Q(team__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person or self.team} {self.period}: {self.amount} {self.currency}"


class PersonPeriodBookings(models.Model):
    """Result of the `bookings_by_person_period` run: bookings in company currency, per person."""

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    period = models.ForeignKey(Period, on_delete=models.CASCADE)
    amount = money_field()
    currency = currency_field()
    booking_count = models.PositiveIntegerField()

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "person", "period"], name="bookings_result_unique"
            )
        ]
