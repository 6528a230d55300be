"""CRM records: accounts, contacts, products, leads, sales process stages, opportunities with their
stage history, bookings (order lines) and exchange rates."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from attain.core.money import MONEY_DIGITS, MONEY_PLACES, RATE_DIGITS, RATE_PLACES
from attain.people.models import Person, Team
from attain.people.visibility import VisibleQuerySet


def money_field(**kwargs):  # type: ignore[no-untyped-def]
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


def currency_field(**kwargs):  # type: ignore[no-untyped-def]
    return models.CharField(max_length=3, **kwargs)


def non_negative(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__gte": 0}), name=name)


class Segment(models.TextChoices):
    SMB = "smb", "SMB"
    MID_MARKET = "mid", "Mid-market"
    ENTERPRISE = "ent", "Enterprise"


class Account(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, db_index=True)
    domain = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    segment = models.CharField(max_length=8, choices=Segment.choices, blank=True)
    country = models.CharField(max_length=2, blank=True)
    # db_default: the demo generator's bulk path inserts rows without these columns
    region = models.CharField(max_length=100, blank=True, db_default="",
                              help_text="Sales region, as imported")
    customer_type = models.CharField(
        max_length=100, blank=True, db_default="",
        help_text="The CRM's account type or customer segment (e.g. Customer, Partner, Consumer)",
    )
    owner = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()

    objects = VisibleQuerySet.owned_by("owner")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    title = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    objects = VisibleQuerySet.owned_by("account__owner")

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=100, blank=True)
    list_price = money_field(null=True, blank=True)
    currency = currency_field(default="USD")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family", "name"]
        constraints = [non_negative("list_price", "product_list_price_non_negative")]

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    class Status(models.TextChoices):
        NEW = "new"
        WORKING = "working"
        QUALIFIED = "qualified"
        CONVERTED = "converted"
        DISQUALIFIED = "disqualified"

    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(db_index=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    converted_opportunity = models.ForeignKey(
        "Opportunity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = VisibleQuerySet.owned_by("owner")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(qualified_at__isnull=True) | Q(qualified_at__gte=F("created_at")),
                name="lead_qualified_after_created",
            ),
            models.CheckConstraint(
                condition=Q(converted_at__isnull=True) | Q(converted_at__gte=F("created_at")),
                name="lead_converted_after_created",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


class Stage(models.Model):
    """A step of the sales process. Lives here because every opportunity references one."""

    pipeline = models.CharField(max_length=64, default="default")
    name = models.CharField(max_length=64)
    order = models.PositiveSmallIntegerField()
    probability = models.DecimalField(max_digits=5, decimal_places=2, help_text="0..100 percent")
    forecast_category = models.CharField(max_length=16, choices=ForecastCategory.choices)
    is_won = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)

    class Meta:
        ordering = ["pipeline", "order"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name"),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="stage_probability_pct"
            ),
            models.CheckConstraint(
                condition=~Q(is_won=True, is_lost=True), name="stage_not_won_and_lost"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class DealType(models.TextChoices):
    NEW = "new", "New business"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"


class Opportunity(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT)
    owner = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT)
    amount = money_field(null=True, blank=True)
    currency = currency_field()
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT)
    forecast_category = models.CharField(max_length=16, choices=ForecastCategory.choices)
    deal_type = models.CharField(max_length=16, choices=DealType.choices, default=DealType.NEW)
    source = models.CharField(max_length=64, blank=True)
    segment = models.CharField(max_length=8, choices=Segment.choices, blank=True)
    region = models.CharField(max_length=100, blank=True, db_default="",
                              help_text="Sales region, as imported")
    created_at = models.DateTimeField(db_index=True)
    close_date = models.DateField(db_index=True)
    is_closed = models.BooleanField(default=False)
    is_won = models.BooleanField(default=False)
    loss_reason = models.CharField(max_length=64, blank=True)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The deal's main product, as imported (order lines name their own products)",
    )
    partner = models.CharField(max_length=200, blank=True, db_default="",
                               help_text="Partner (reseller) through which the deal was sold")

    objects = VisibleQuerySet.owned_by("owner")

    class Meta:
        verbose_name_plural = "opportunities"
        indexes = [models.Index(fields=["owner", "close_date"])]
        constraints = [
            non_negative("amount", "opportunity_amount_non_negative"),
            models.CheckConstraint(
                condition=~Q(is_won=True, is_closed=False), name="opportunity_won_is_closed"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StageChange(models.Model):
    """One move of an opportunity between stages; the first entry has no `from_stage`."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()
    amount = money_field(null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)

    objects = VisibleQuerySet.owned_by("opportunity__owner")

    class Meta:
        ordering = ["opportunity_id", "changed_at", "id"]
        indexes = [models.Index(fields=["opportunity", "changed_at"])]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class Booking(models.Model):
    """An order line of a won deal. `booked_on` is the business date in the company's time zone."""

    external_id = models.CharField(max_length=64, unique=True)
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings"
    )
    owner = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT)
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=1)
    amount = money_field()
    currency = currency_field()
    source_amount = models.DecimalField(
        max_digits=15, decimal_places=4, null=True, blank=True,
        help_text="The amount exactly as the imported file gave it (up to 4 decimal places); "
                  "`amount` is it rounded once to cents, half-even",
    )
    booked_on = models.DateField(db_index=True)
    invoiced_on = models.DateField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True, help_text="Day the customer paid (collected)")
    cancelled_on = models.DateField(
        null=True, blank=True, help_text="Day the order was cancelled or the customer churned")

    objects = VisibleQuerySet.owned_by("owner")

    class Meta:
        indexes = [models.Index(fields=["owner", "booked_on"])]
        constraints = [non_negative("quantity", "booking_quantity_non_negative")]

    def __str__(self) -> str:
        return self.external_id


class OpportunitySplit(models.Model):
    """A share of an opportunity's credit for one person (Salesforce's OpportunitySplit).

    Revenue splits of one opportunity sum to 100 %; overlay splits (specialists, partner managers)
    are on top and need not sum to anything. An opportunity without splits credits its owner.
    """

    class Kind(models.TextChoices):
        REVENUE = "revenue", "Revenue split"
        OVERLAY = "overlay", "Overlay"

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="splits")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    percent = models.DecimalField(max_digits=5, decimal_places=2, help_text="0..100")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REVENUE)

    objects = VisibleQuerySet.owned_by("opportunity__owner")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "person", "kind"],
                                    name="split_unique_person_kind"),
            models.CheckConstraint(condition=Q(percent__gt=0, percent__lte=100),
                                   name="split_percent_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.person_id} {self.percent}% {self.kind}"


class ExchangeRate(models.Model):
    """How many units of the company currency one unit of `currency` is worth in a month."""

    currency = currency_field()
    month_start = models.DateField(help_text="First day of the month the rate applies to")
    rate = models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES)

    class Meta:
        ordering = ["currency", "month_start"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "month_start"], name="rate_unique_month"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.month_start:%Y-%m} = {self.rate}"
