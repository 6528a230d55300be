"""Compensation records: plans and their versions (plan text), assignments and acceptances,
manual lines (SPIFF / MBO / adjustments), compensation runs with their stored results (credits,
earning lines with traces, payouts), period closes, disputes, approvals and payroll exports.

Decisions (the issue is silent on these):
- A published `PlanVersion` is immutable: `actions.save_draft` refuses it; a change is a new
  version (`number` + 1) whose `changes` hold the readable diff against the version it replaces.
- A `CompRun` is one `CalcRun` (inputs hash, backend, timings) plus what compensation needs:
  the period, the plan versions used, the approval state (draft → submitted → approved or
  rejected) and, for a run of a closed period, the run it adjusts (`adjusts`). Results are never
  overwritten: every run keeps its own rows, so any two runs can be diffed line by line.
- A closed period (`PeriodClose`) points at the run that was paid. A later run of that period
  (`adjusts` = the locked run) stores its lines and the differences against the locked run as
  `PriorAdjustment`s; it pays nothing itself. The next run of an open period pays the
  adjustments of the latest adjustment run of each closed period that no closed run has paid
  yet (matched on the adjustment key), as explicit `adjustment` payout lines.
- Payout state (recoverable draw and owed balances, the ledger of deferred and clawback-exposed
  parts) is stored per run as of the period's end, and a run of period P starts from the state
  stored by the statement run of the period that ends where P starts.
- Approvals are per run (ops submits, finance approves or rejects with a reason); a manager may
  sign off the statements of their team (`StatementSignoff`) before finance approves.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from attain.core.models import CalcRun, Period
from attain.crm.models import currency_field, money_field
from attain.people.models import Person
from attain.people.visibility import VisibleQuerySet

RATE_FIELD = {"max_digits": 15, "decimal_places": 8}


def _user_fk(**kwargs):  # type: ignore[no-untyped-def]
    return models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+", **kwargs)


class CompPlan(models.Model):
    """A compensation plan (e.g. "AE 2026"): a name over a series of versions."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = _user_fk()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlanVersion(models.Model):
    """One version of a plan: the plan text (YAML) and the dates it is in force,
    half-open [effective_from, effective_to)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    plan = models.ForeignKey(CompPlan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    text = models.TextField(help_text="The plan definition (YAML, see plan.schema.json)")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Excluded")
    changes = models.JSONField(default=list, blank=True,
                               help_text="Readable changes against the version it replaces")
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    example = models.JSONField(null=True, blank=True,
                               help_text="The worked example the engine computed for this text")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = _user_fk()
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = _user_fk()

    class Meta:
        ordering = ["plan__name", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_version_unique_number"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_from__lt=F("effective_to")),
                name="plan_version_from_before_to"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.name} v{self.number} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class PlanAssignment(models.Model):
    """`person` is paid on `version` over [valid_from, valid_to), with a target incentive (the
    variable pay at 100 % attainment for a full year) in `currency`. No two assignments of one
    person overlap (checked by `actions.assign_plan`)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="plan_assignments")
    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="assignments")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Excluded")
    target_incentive = money_field()
    currency = currency_field()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = _user_fk()

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["person__name", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_from__lt=F("valid_to")),
                name="assignment_from_before_to"),
            models.CheckConstraint(condition=Q(target_incentive__gte=0),
                                   name="assignment_target_non_negative"),
            models.UniqueConstraint(fields=["person", "valid_from"],
                                    name="assignment_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.person} on {self.version} from {self.valid_from}"


class PlanAcceptance(models.Model):
    """`person` acknowledged having read `version` (the plan document) at `accepted_at`."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="plan_acceptances")
    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField()
    accepted_by = _user_fk()

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [models.UniqueConstraint(fields=["person", "version"],
                                               name="acceptance_unique_person_version")]


class ManualLine(models.Model):
    """A line entered by a person rather than computed: a SPIFF, an MBO payout or an adjustment
    (a dispute's resolution is one). Always with a reason (`note`)."""

    class Kind(models.TextChoices):
        SPIFF = "spiff", "SPIFF"
        MBO = "mbo", "MBO / objective"
        ADJUSTMENT = "adjustment", "Adjustment"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="comp_manual_lines")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    component = models.CharField(max_length=100, help_text="The plan component it pays (a "
                                 "SPIFF's or MBO's name), or the adjustment's title")
    amount = money_field()
    currency = currency_field()
    note = models.TextField()
    entered_by = _user_fk()
    entered_at = models.DateTimeField()

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["period__start", "person__name", "id"]
        constraints = [models.CheckConstraint(condition=~Q(note=""),
                                              name="manual_line_has_note")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} for {self.person}"


class CompRun(models.Model):
    """One compensation run of a period: the `CalcRun` record plus the period, the plan versions
    used, the approval state and — for a run of a closed period — the run it adjusts."""

    class Approval(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted to finance"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    calc_run = models.OneToOneField(CalcRun, on_delete=models.CASCADE, related_name="comp_run")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    as_of = models.DateField()
    plan_versions = models.JSONField(default=list, blank=True,
                                     help_text="Ids of the plan versions the run used")
    adjusts = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="adjusted_by",
                                help_text="The locked run of a closed period this run adjusts")
    approval = models.CharField(max_length=10, choices=Approval.choices, default=Approval.DRAFT)
    submitted_by = _user_fk()
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = _user_fk()
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    currency_totals = models.JSONField(default=dict, blank=True,
                                       help_text="Total payout per currency, as text")

    class Meta:
        ordering = ["-calc_run__created_at", "-id"]

    def __str__(self) -> str:
        return f"Compensation run #{self.pk} {self.period.label}"

    @property
    def is_adjustment(self) -> bool:
        return self.adjusts_id is not None


class PeriodClose(models.Model):
    """A closed (locked) compensation period and the run that was paid for it."""

    period = models.OneToOneField(Period, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(CompRun, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField()
    closed_by = _user_fk()

    class Meta:
        ordering = ["-period__start"]


class Credit(models.Model):
    """Who was credited how much of which order line, in a run (results: never edited)."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="credits")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    booking_id = models.BigIntegerField(null=True, blank=True)
    opportunity_id = models.BigIntegerField(null=True, blank=True)
    credit_date = models.DateField(null=True, blank=True)
    rule = models.CharField(max_length=64, blank=True)
    percent = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    amount = money_field()
    currency = currency_field()
    detail = models.JSONField(default=dict, blank=True)

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["run_id", "person_id", "booking_id", "id"]
        indexes = [models.Index(fields=["run", "person"])]


class EarningLine(models.Model):
    """One line of a statement: what was earned, on what, and why (`trace`, ordered steps)."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="lines")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    line_key = models.CharField(max_length=200, help_text="Stable key: the same line in two runs")
    assignment_id = models.BigIntegerField(null=True, blank=True)
    plan_version = models.ForeignKey(PlanVersion, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    component = models.CharField(max_length=100, blank=True)
    line_kind = models.CharField(max_length=40)
    booking_id = models.BigIntegerField(null=True, blank=True)
    credit_kind = models.CharField(max_length=16, blank=True,
                                   help_text="owner, split, overlay or roll_up")
    credited_amount = money_field(null=True, blank=True)
    measure_value = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    tier = models.CharField(max_length=64, blank=True)
    rate = models.DecimalField(**RATE_FIELD, null=True, blank=True)
    amount = money_field()
    currency = currency_field()
    trace = models.JSONField(default=list, blank=True)

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["run_id", "person_id", "period_start", "component", "line_key"]
        indexes = [models.Index(fields=["run", "person"])]

    def __str__(self) -> str:
        return f"{self.person_id} {self.component} {self.amount} {self.currency}"


class Payout(models.Model):
    """What a person is paid for a period in a run (the engine's COMP_PAYOUTS row); `payout`
    equals the sum of the person's payout lines to the cent."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="payouts")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    assignment_id = models.BigIntegerField(null=True, blank=True)
    plan_version = models.ForeignKey(PlanVersion, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    currency = currency_field()
    earned = money_field(default=0, help_text="Earning lines of the period")
    payable_earnings = money_field(default=0, help_text="Paid now, this period's or earlier")
    deferred = money_field(default=0, help_text="Earned now, payable on a later event")
    forfeited = money_field(default=0)
    adjustments = money_field(default=0, help_text="Prior-period corrections paid now")
    clawbacks = money_field(default=0)
    owed_recovered = money_field(default=0)
    draw_recovered = money_field(default=0)
    draw_paid = money_field(default=0)
    guarantee_paid = money_field(default=0)
    carried_forward = money_field(default=0)
    payout = money_field(default=0)
    detail = models.JSONField(default=dict, blank=True, help_text="Opening and closing balances")

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["run_id", "person__name"]
        constraints = [models.UniqueConstraint(fields=["run", "person", "period_start"],
                                               name="payout_unique_person_period")]


class PayoutLine(models.Model):
    """A line of what is paid (payable, deferred, forfeited, clawback, adjustment, recoveries,
    draw, guarantee, carry-forward), with its trace; a person's lines sum to their payout."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="payout_lines")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    line_key = models.CharField(max_length=300)
    assignment_id = models.BigIntegerField(null=True, blank=True)
    plan_version_id = models.BigIntegerField(null=True, blank=True)
    period_start = models.DateField()
    period_end = models.DateField()
    kind = models.CharField(max_length=20)
    component = models.CharField(max_length=100, blank=True)
    booking_id = models.BigIntegerField(null=True, blank=True)
    source_line_key = models.CharField(max_length=300, blank=True)
    part = models.CharField(max_length=10, blank=True)
    earned_period_start = models.DateField(null=True, blank=True)
    basis_amount = money_field(default=0)
    amount = money_field()
    currency = currency_field()
    trace = models.JSONField(default=list, blank=True)

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["run_id", "person_id", "kind", "component", "line_key"]
        indexes = [models.Index(fields=["run", "person"])]


class PayoutBalance(models.Model):
    """A person's closing balances after a run (recoverable draw not yet repaid, clawbacks and
    negative pay not yet recovered), as of the period's end: the next period's opening state."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="balances")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    currency = currency_field()
    draw_balance = money_field()
    owed_balance = money_field()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "person"],
                                               name="balance_unique_person")]


class PayoutLedgerEntry(models.Model):
    """A part of an earning line not paid yet (deferred) or paid and still exposed to a
    clawback, as of a run's period end: carried into the next period's run."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="ledger")
    line_key = models.CharField(max_length=300)
    part = models.CharField(max_length=10)
    as_of = models.DateField()
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    assignment_id = models.BigIntegerField()
    plan_version_id = models.BigIntegerField()
    component = models.CharField(max_length=100)
    booking_id = models.BigIntegerField()
    earned_period_start = models.DateField()
    due = models.CharField(max_length=16)
    status = models.CharField(max_length=10)
    paid_period_start = models.DateField(null=True, blank=True)
    amount = money_field()
    currency = currency_field()

    class Meta:
        indexes = [models.Index(fields=["run"])]


class PriorAdjustment(models.Model):
    """A correction of a closed period found by a later run of it (`run` adjusts the locked
    run): the line's amount before and after and the difference, paid by the next run of an
    open period."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="prior_adjustments")
    adjustment_key = models.CharField(max_length=300)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    component = models.CharField(max_length=100, blank=True)
    booking_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=40)
    change = models.CharField(max_length=10)
    before_amount = money_field(null=True, blank=True)
    after_amount = money_field(null=True, blank=True)
    amount = money_field()
    currency = currency_field()
    reason = models.TextField(blank=True)

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["run_id", "person_id", "adjustment_key"]
        constraints = [models.UniqueConstraint(fields=["run", "adjustment_key"],
                                               name="adjustment_unique_key")]


class Dispute(models.Model):
    """A rep questions a line (or their whole statement, `line` empty) of a run; a manager or ops
    decides with a note. An accepted dispute with an amount creates an adjustment `ManualLine`."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="comp_disputes")
    run = models.ForeignKey(CompRun, on_delete=models.PROTECT, related_name="disputes")
    line = models.ForeignKey(EarningLine, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="disputes")
    line_key = models.CharField(max_length=200, blank=True)
    comment = models.TextField()
    raised_by = _user_fk()
    raised_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = _user_fk()
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    adjustment = models.OneToOneField(ManualLine, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="dispute")

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(comment=""),
                                              name="dispute_has_comment")]


class StatementSignoff(models.Model):
    """A manager (or ops) signed off `person`'s statement of a run before finance approves."""

    run = models.ForeignKey(CompRun, on_delete=models.CASCADE, related_name="signoffs")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    signed_by = _user_fk()
    signed_at = models.DateTimeField()
    note = models.TextField(blank=True)

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "person"],
                                               name="signoff_unique_person")]


class PayrollExport(models.Model):
    """An export of an approved run's payouts for payroll (who, when, what it contained)."""

    run = models.ForeignKey(CompRun, on_delete=models.PROTECT, related_name="exports")
    exported_by = _user_fk()
    exported_at = models.DateTimeField()
    file_format = models.CharField(max_length=4)
    rows = models.PositiveIntegerField()
    totals = models.JSONField(default=dict, help_text="Total per currency, as text")

    class Meta:
        ordering = ["-exported_at"]


class PlanModelRun(models.Model):
    """A modelling run of a draft plan version: the draft applied to the real inputs of past
    periods next to the plan in force, each person's pay under both (`PlanModelRow`), line by
    line (`PlanModelLine`), and the totals and distribution (`summary`, computed by the engine's
    `modelling.model_summary`). Writes nothing else: no `CompRun`, no payout or state change."""

    calc_run = models.OneToOneField(CalcRun, on_delete=models.CASCADE, related_name="plan_model")
    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="models")
    draft_text = models.TextField(help_text="The draft's text as modelled")
    periods = models.ManyToManyField(Period, related_name="+")
    summary = models.JSONField(default=dict, blank=True,
                               help_text="Totals, differences and percentiles per currency")

    class Meta:
        ordering = ["-calc_run__created_at", "-id"]

    def __str__(self) -> str:
        return f"Model #{self.pk} of {self.version}"


class PlanModelRow(models.Model):
    """One person's pay in one modelled period and currency: earned and paid under the plan in
    force and under the draft (same inputs), and the change of what is earned."""

    model_run = models.ForeignKey(PlanModelRun, on_delete=models.CASCADE, related_name="rows")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="+")
    currency = currency_field()
    in_force_earned = money_field()
    draft_earned = money_field()
    change = money_field(help_text="draft_earned - in_force_earned")
    change_pct = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                     help_text="change / in_force_earned x 100; none from 0")
    in_force_payout = money_field()
    draft_payout = money_field()

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["model_run_id", "period__start", "person__name", "currency"]
        constraints = [models.UniqueConstraint(fields=["model_run", "person", "period",
                                                       "currency"],
                                               name="plan_model_row_unique")]


class PlanModelLine(models.Model):
    """One earning line of a modelled period under the plan in force and under the draft,
    matched on the engine's stable line key (either side empty when only one plan pays it)."""

    model_run = models.ForeignKey(PlanModelRun, on_delete=models.CASCADE, related_name="lines")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="+")
    line_key = models.CharField(max_length=200)
    component = models.CharField(max_length=100, blank=True)
    line_kind = models.CharField(max_length=40)
    booking_id = models.BigIntegerField(null=True, blank=True)
    currency = currency_field()
    in_force_amount = money_field(null=True, blank=True)
    draft_amount = money_field(null=True, blank=True)
    change = money_field()
    in_force_trace = models.JSONField(default=list, blank=True)
    draft_trace = models.JSONField(default=list, blank=True)

    objects = VisibleQuerySet.owned_by("person")

    class Meta:
        ordering = ["model_run_id", "person_id", "period__start", "component", "line_key"]
        indexes = [models.Index(fields=["model_run", "person"])]
