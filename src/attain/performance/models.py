"""Quotas (effective-dated versions), performance settings and the materialised results of
performance calculations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from attain.core.models import CalcRun, Period
from attain.crm.models import Stage, currency_field, money_field
from attain.engine.calculations.performance_ranks import PERSON_RANKS
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


class QuotaVersion(models.Model):
    """One effective-dated value of a quota: from `valid_from` on, the quota is `amount` (until a
    version with a later `valid_from`). Versions are never changed or deleted; `Quota.amount`
    mirrors the version in force on the period's last day (see `actions.set_quota`).

    Reading "as of" a day: the version with the latest `valid_from` on or before that day (the
    highest id when two share a day). A quota row without versions (written by the demo generator
    or an old import) counts as one version valid since forever.
    """

    class Source(models.TextChoices):
        SET = "set", "Set by hand"
        ALLOCATION = "allocation", "Allocated from a team number"
        IMPORT = "import", "Imported"

    quota = models.ForeignKey(Quota, on_delete=models.CASCADE, related_name="versions")
    amount = money_field()
    currency = currency_field()
    valid_from = models.DateField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SET)
    method = models.CharField(max_length=32, blank=True, help_text="Allocation method, if any")
    reason = models.CharField(max_length=200, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = VisibleQuerySet.owned_by("quota__person")

    class Meta:
        ordering = ["quota_id", "valid_from", "id"]
        indexes = [models.Index(fields=["quota", "valid_from"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_version_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quota_id} from {self.valid_from}: {self.amount} {self.currency}"


class PerformanceSettings(models.Model):
    """Company-wide choices of the performance pages (one row, edited by sales operations)."""

    class LeaderboardNames(models.TextChoices):
        NAMES = "names", "Show names"
        ANONYMISED = "anonymised", "Anonymise other reps"

    leaderboard_names = models.CharField(max_length=16, choices=LeaderboardNames.choices,
                                         default=LeaderboardNames.NAMES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "performance settings"

    def __str__(self) -> str:
        return f"Leaderboards: {self.get_leaderboard_names_display()}"


def _pct_field() -> models.DecimalField:
    return models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)


class _Measures(models.Model):
    """Sums a performance run stores per period (company currency) and what derives from them."""

    quota = money_field(null=True, blank=True)
    bookings = money_field()
    booking_count = models.PositiveIntegerField(default=0)
    won_count = models.PositiveIntegerField(default=0)
    lost_count = models.PositiveIntegerField(default=0)
    won_amount = money_field(default=0)
    cycle_days_sum = models.BigIntegerField(default=0)
    pipeline_created = money_field(default=0)
    pipeline_created_count = models.PositiveIntegerField(default=0)
    open_pipeline = money_field(default=0)
    open_count = models.PositiveIntegerField(default=0)
    currency = currency_field()
    # derived exactly from the sums above when stored (engine.calculations.performance)
    attainment_pct = _pct_field()
    expected_to_date = money_field(null=True, blank=True)
    pace_pct = _pct_field()
    win_rate_pct = _pct_field()
    avg_deal_size = money_field(null=True, blank=True)
    avg_cycle_days = _pct_field()
    coverage = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        abstract = True


class PersonPeriodPerformance(_Measures):
    """Result of a `performance` run: one person's figures in one period, with the team and
    manager of their reporting line on the period's reference day."""

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    period = models.ForeignKey(Period, on_delete=models.CASCADE)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    manager = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        # the second index covers the trend's and the totals' sums (an index-only scan: the
        # rows are wide, and reading them was most of a 10,000-rep dashboard's time). The
        # people table's order (queries.ATTAINMENT_ORDER) has its own index, written per
        # database by migration 0006 (SQLite refuses NULLS LAST in an index, and needs none).
        indexes = [models.Index(fields=["run", "period", "team"]),
                   models.Index(fields=["run", "period", "person", "team", "quota", "bookings"],
                                name="person_performance_sums")]
        constraints = [models.UniqueConstraint(fields=["run", "person", "period"],
                                               name="person_performance_unique")]


# What the run ranks (engine.calculations.performance_ranks): per measure of the comparison the
# rep's percentile company-wide (`pctl_<measure>`) and in their team (`team_pctl_<measure>`); per
# leaderboard metric the rank and the previous period's rank, company-wide and in the team
# (`rank_`, `prev_rank_`, `team_rank_`, `team_prev_rank_<metric>`). Empty for people who are not
# reps and for a measure without a value.
RANK_FIELDS = tuple(name for name in PERSON_RANKS.names if name not in ("person_id",
                                                                        "period_id"))
for _name in RANK_FIELDS:
    models.PositiveIntegerField(null=True, blank=True).contribute_to_class(
        PersonPeriodPerformance, _name)


class TeamPeriodPerformance(_Measures):
    """Result of a `performance` run: a team's figures (its members on the reference day)."""

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    period = models.ForeignKey(Period, on_delete=models.CASCADE)
    quota_source = models.CharField(max_length=16)
    members = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "team", "period"],
                                               name="team_performance_unique")]


class ManagerPeriodPerformance(models.Model):
    """Result of a `performance` run: a manager's roll-up through the effective-dated hierarchy."""

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    manager = models.ForeignKey(Person, on_delete=models.CASCADE)
    period = models.ForeignKey(Period, on_delete=models.CASCADE)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    quota = money_field(null=True, blank=True)
    quota_source = models.CharField(max_length=16)
    bookings = money_field()
    booking_count = models.PositiveIntegerField(default=0)
    open_pipeline = money_field(default=0)
    open_count = models.PositiveIntegerField(default=0)
    currency = currency_field()
    attainment_pct = _pct_field()
    expected_to_date = money_field(null=True, blank=True)
    pace_pct = _pct_field()
    coverage = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    objects = VisibleQuerySet.owned_by("manager")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "manager", "period"],
                                               name="manager_performance_unique")]


class PersonStageConversion(models.Model):
    """Result of a `performance` run: of one person's deals that entered `stage` in `period`,
    how many later reached a higher stage that is not lost."""

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    period = models.ForeignKey(Period, on_delete=models.CASCADE)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    entered = models.PositiveIntegerField()
    advanced = models.PositiveIntegerField()
    conversion_pct = _pct_field()
    pctl = models.PositiveIntegerField(null=True, blank=True,
                                       help_text="Percentile among every rep's conversion")
    team_pctl = models.PositiveIntegerField(null=True, blank=True,
                                            help_text="Percentile in the rep's team")

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        indexes = [models.Index(fields=["run", "period"])]
        constraints = [models.UniqueConstraint(fields=["run", "person", "period", "stage"],
                                               name="stage_conversion_unique")]


class PerformanceMedian(models.Model):
    """Result of a `performance` run: the median of one measure over the reps of the company
    (`team` empty) or of one team in `period` — of a stage's conversion when `stage` is set —
    and how many values it is the median of (engine.calculations.performance_ranks)."""

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    measure = models.CharField(max_length=32)
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+")
    median = models.DecimalField(max_digits=20, decimal_places=2)
    value_count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["run", "period", "team"], name="perf_median_lookup")]


class BookingsBreakdown(models.Model):
    """Result of a `performance` run: every order line booked in `period` (no period: all the
    data) (owned or not), in
    total (`dimension` "") or by "region" (the deal's sales region, else its account's) or
    "category" (the product's family); `value` "" = unknown. Amounts in the company currency,
    each the exact sum of the converted lines rounded once to cents."""

    run = models.ForeignKey(CalcRun, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(Period, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+", help_text="None: every order line of the data")
    dimension = models.CharField(max_length=16, blank=True)
    value = models.CharField(max_length=100, blank=True)
    amount = money_field()
    booking_count = models.PositiveIntegerField()
    currency = currency_field()

    class Meta:
        indexes = [models.Index(fields=["run", "period", "dimension"],
                                name="perf_breakdown_lookup")]
        constraints = [models.UniqueConstraint(fields=["run", "period", "dimension", "value"],
                                               name="bookings_breakdown_unique")]
