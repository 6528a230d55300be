"""People, their roles and teams, and effective-dated reporting lines."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from attain.people.visibility import VisibleQuerySet


class Role(models.TextChoices):
    REP = "rep", "Sales rep"
    MANAGER = "manager", "Manager"
    OPS = "ops", "Sales operations"
    FINANCE = "finance", "Finance"
    EXECUTIVE = "executive", "Executive"


# Roles that see every record of the company.
COMPANY_WIDE_ROLES = frozenset({Role.OPS, Role.FINANCE, Role.EXECUTIVE})


class Region(models.Model):
    name = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)
    segment = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """Someone in the sales organisation; a login (`user`) is optional."""

    external_id = models.CharField(max_length=64, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="person",
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REP)
    title = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    hired_on = models.DateField(null=True, blank=True)
    left_on = models.DateField(null=True, blank=True, help_text="First day no longer employed")
    ramp_months = models.PositiveSmallIntegerField(default=0)
    skill = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.00"),
        help_text="Relative selling skill (used by the demo generator)",
    )

    objects = VisibleQuerySet.owned_by("id")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"
        constraints = [
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(hired_on__isnull=True)
                | Q(hired_on__lt=F("left_on")),
                name="person_hired_before_left",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_active_on(self, day) -> bool:  # type: ignore[no-untyped-def]
        return (self.hired_on is None or self.hired_on <= day) and (
            self.left_on is None or day < self.left_on
        )


class ReportingLine(models.Model):
    """Who `person` reports to, in which team, over the half-open range [valid_from, valid_to)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="reporting_lines")
    manager = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="direct_report_lines"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["person_id", "valid_from"]
        indexes = [models.Index(fields=["valid_from", "valid_to"])]
        constraints = [
            models.UniqueConstraint(fields=["person", "valid_from"], name="line_unique_start"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_from__lt=F("valid_to")),
                name="line_from_before_to",
            ),
            models.CheckConstraint(
                condition=~Q(manager=F("person")), name="line_not_own_manager"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.manager} from {self.valid_from}"


class ApiToken(models.Model):
    """A bearer token for scripts; it acts with its user's visibility."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, help_text="sha256 of the token")
    key_prefix = models.CharField(max_length=8, help_text="First characters, to recognise it")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"
