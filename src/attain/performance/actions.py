"""Writes of the performance app: calculation runs (bookings, performance), quotas (set by hand
or allocated from a team number, effective-dated) and settings. Every function here is audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from attain.core.audit import model_state, record_event
from attain.core.errors import ActionError, acting_user, engine_backend
from attain.core.models import CalcRun, Period
from attain.core.money import CENT
from attain.people.models import Person, ReportingLine, Role, Team
from attain.performance import engine_io
from attain.performance.allocation import Member, capacity, split_to_cents
from attain.performance.models import (
    PerformanceSettings,
    PersonPeriodBookings,
    PersonPeriodPerformance,
    Quota,
    QuotaVersion,
)


class CalculationError(ActionError):
    """A calculation request refused, with the field and value that caused it."""


_user = acting_user


def _backend(backend: str | None) -> str:
    return engine_backend(backend, CalculationError)


def _run_summary(run: CalcRun) -> dict[str, Any]:
    return {"status": run.status, "backend": run.backend, "calc_version": run.calc_version,
            "inputs_hash": run.inputs_hash, "input_rows": run.input_rows,
            "output_rows": run.output_rows, "error": run.error}


@transaction.atomic
def request_bookings_calculation(actor: Any, backend: str | None = None) -> CalcRun:
    """Queue a bookings-by-person-period run for the task worker; returns the queued run.

    For pages and the API: a request never computes, it queues (the run shows as queued, then
    running, on the page). The task is enqueued once this transaction commits.
    """
    from attain.performance.tasks import run_bookings_calculation_task

    name = _backend(backend)
    run = CalcRun.objects.create(kind=engine_io.BOOKINGS_RUN_KIND, status=CalcRun.Status.QUEUED,
                                 requested_by=_user(actor), backend=name)
    record_event(actor, "request_calculation", run,
                 after={"kind": run.kind, "backend": name, "status": run.status})
    transaction.on_commit(lambda: run_bookings_calculation_task.enqueue(run.pk))
    return run


def run_bookings_calculation(actor: Any, backend: str | None = None, *,
                             run: CalcRun | None = None) -> CalcRun:
    """Compute bookings per person and period now and store them as a new run (or as `run`,
    a queued one); returns the run, succeeded or failed, and audits it.

    Not one transaction on purpose: the run is saved as running first (so pages see it and a
    failure is kept), then its results and its final status are written together in one
    transaction (`engine_io.run_bookings_by_person_period`). A failed run has no result rows.
    """
    name = _backend(backend)
    run = engine_io.run_bookings_by_person_period(requested_by=_user(actor), backend=name,
                                                  run=run)
    record_event(actor, "run_calculation", run, after=_run_summary(run))
    return run


# --- the performance run ------------------------------------------------------------------------


@transaction.atomic
def request_performance_analytics(actor: Any, backend: str | None = None) -> CalcRun:
    """Queue a `performance` run for the task worker (pages and the API never compute)."""
    from attain.performance.tasks import run_performance_analytics_task

    name = _backend(backend)
    run = CalcRun.objects.create(kind=engine_io.PERFORMANCE_RUN_KIND,
                                 status=CalcRun.Status.QUEUED, requested_by=_user(actor),
                                 backend=name)
    record_event(actor, "request_calculation", run,
                 after={"kind": run.kind, "backend": name, "status": run.status})
    transaction.on_commit(lambda: run_performance_analytics_task.enqueue(run.pk))
    return run


def run_performance_analytics(actor: Any, backend: str | None = None, *,
                              as_of: date | None = None, run: CalcRun | None = None) -> CalcRun:
    """Compute and store attainment, pacing, roll-ups, rep measures and stage conversion now (as
    of `as_of`, default today), as a new run or as the queued `run`; audited. See
    `engine_io.run_performance` for the steps and `engine.calculations.performance` for the
    definitions."""
    name = _backend(backend)
    run = engine_io.run_performance(requested_by=_user(actor), backend=name, as_of=as_of,
                                    run=run)
    record_event(actor, "run_calculation", run, after=_run_summary(run))
    return run


# --- quotas ---------------------------------------------------------------------------------------


class QuotaError(ValueError):
    """A quota write refused; `field` and `value` say what was wrong (`person_id` names the
    member of an allocation when the problem is theirs)."""

    def __init__(self, message: str, *, field: str = "", value: Any = None,
                 person_id: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.person_id = person_id

    def as_dict(self) -> dict[str, Any]:
        return {"message": str(self), "field": self.field,
                "value": None if self.value is None else str(self.value),
                "person_id": self.person_id}


def _amount(value: Any, field: str = "amount") -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise QuotaError(f"{value!r} is not an amount; write it like 12500.00.", field=field,
                         value=value) from None
    if not amount.is_finite():
        raise QuotaError(f"{value!r} is not an amount.", field=field, value=value)
    if amount < 0:
        raise QuotaError(f"A quota cannot be negative (got {amount}).", field=field,
                         value=value)
    if amount != amount.quantize(CENT):
        raise QuotaError(f"A quota is in whole cents; {amount} has more than two decimals.",
                         field=field, value=value)
    if amount > engine_io.LARGEST_STORED_AMOUNT:
        raise QuotaError(f"{amount} exceeds the largest storable amount "
                         f"({engine_io.LARGEST_STORED_AMOUNT}).", field=field, value=value)
    return amount.quantize(CENT)


def _period(period_id: Any) -> Period:
    period = Period.objects.filter(pk=period_id).first() if str(period_id).isdigit() else None
    if period is None:
        raise QuotaError(f"There is no period #{period_id}; pick one of the fiscal periods.",
                         field="period", value=period_id)
    return period


def _valid_from(valid_from: date | None, period: Period) -> date:
    day = valid_from or period.start
    if day >= period.end:
        raise QuotaError(
            f"A change effective on {day} comes after {period.label} ends ({period.end}, "
            "excluded); it would never count.", field="valid_from", value=day)
    return day


def quota_as_of(quota: Quota, day: date) -> Decimal | None:
    """The amount of `quota` in force on `day`: the version with the latest `valid_from` on or
    before `day` (then the highest id); the stored amount for a quota without versions; None
    before its first version."""
    versions = list(quota.versions.order_by("valid_from", "id").values_list("valid_from",
                                                                             "amount"))
    if not versions:
        return quota.amount
    in_force = [amount for start, amount in versions if start <= day]
    return in_force[-1] if in_force else None


@transaction.atomic
def set_quota(actor: Any, *, period_id: Any, amount: Any, person_id: int | None = None,
              team_id: int | None = None, valid_from: date | None = None, reason: str = "",
              currency: str | None = None, source: str = QuotaVersion.Source.SET,
              method: str = "") -> QuotaVersion:
    """Set the quota of one person or one team for a period from `valid_from` (default: the
    period's start, i.e. the whole period) on, as a new version; audited.

    Earlier versions are kept: reading "as of" a day before `valid_from` still gives the old
    amount. `Quota.amount` becomes the amount in force on the period's last day. The first change
    of a quota that has no versions yet (demo or old rows) first records its amount as a baseline
    version, so its history starts with what was there.
    """
    if person_id is not None and team_id is not None:
        raise QuotaError("A quota belongs to a person or to a team, not both.", field="team",
                         value=team_id)
    if person_id is None and team_id is None:
        raise QuotaError("Say whose quota this is: a person or a team.", field="person")
    company = str(settings.ATTAIN_COMPANY_CURRENCY)
    if currency is not None and currency != company:
        raise QuotaError(f"Quotas are in the company currency {company}, not {currency}.",
                         field="currency", value=currency)
    period = _period(period_id)
    value = _amount(amount)
    day = _valid_from(valid_from, period)
    holder: dict[str, Any]
    if person_id is not None:
        if not Person.objects.filter(pk=person_id).exists():
            raise QuotaError(f"There is no person #{person_id}.", field="person",
                             value=person_id)
        holder = {"person_id": person_id, "team_id": None}
    else:
        if not Team.objects.filter(pk=team_id).exists():
            raise QuotaError(f"There is no team #{team_id}.", field="team", value=team_id)
        holder = {"team_id": team_id, "person_id": None}
    quota = (Quota.objects.select_for_update()
             .filter(period=period, kind=Quota.Kind.BOOKINGS, **holder).first())
    before = model_state(quota)
    user = _user(actor)
    if quota is None:
        quota = Quota.objects.create(period=period, kind=Quota.Kind.BOOKINGS, amount=value,
                                     currency=company, **holder)
    elif not quota.versions.exists():
        QuotaVersion.objects.create(quota=quota, amount=quota.amount, currency=quota.currency,
                                    valid_from=min(period.start, day), recorded_by=user,
                                    reason="baseline: the amount before versions were kept")
    version = QuotaVersion.objects.create(quota=quota, amount=value, currency=company,
                                          valid_from=day, source=source, method=method,
                                          reason=reason[:200], recorded_by=user)
    latest = quota.versions.order_by("-valid_from", "-id").first()
    assert latest is not None
    quota.amount = latest.amount
    quota.save(update_fields=["amount"])
    record_event(actor, "set_quota", quota, before=before,
                 after={**(model_state(quota) or {}), "version_id": version.pk,
                        "version_amount": str(value), "valid_from": day.isoformat(),
                        "source": source, "method": method, "reason": reason})
    return version


class AllocationMethod:
    EVEN = "even"
    LAST_SHARE = "last_share"
    CAPACITY = "capacity"
    MANUAL = "manual"
    CHOICES = ((EVEN, "Evenly"), (LAST_SHARE, "By last period's share of bookings"),
               (CAPACITY, "By capacity, with ramp for new hires"), (MANUAL, "By hand"))


def team_members(team_id: int, period: Period) -> list[Member]:
    """The reps sharing a team number for `period`: reps with a reporting line in the team that
    overlaps the period and who are employed during it (someone who moves team mid-period is a
    member of both; use `manual` to decide otherwise), by name then id."""
    lines = ReportingLine.objects.filter(team_id=team_id, valid_from__lt=period.end).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=period.start))
    people = (Person.objects.filter(pk__in=lines.values("person_id"), role=Role.REP)
              .filter(Q(hired_on__isnull=True) | Q(hired_on__lt=period.end))
              .filter(Q(left_on__isnull=True) | Q(left_on__gt=period.start))
              .order_by("name", "id"))
    return [Member(p.pk, p.name, p.hired_on, p.left_on, p.ramp_months) for p in people]


def _previous_period(period: Period) -> Period | None:
    return Period.objects.filter(kind=period.kind, end=period.start).first()


def _last_period_bookings(period: Period, members: list[Member]) -> dict[int, Decimal]:
    """Members' credited bookings in the period before `period` (latest performance run, else
    the latest bookings run)."""
    previous = _previous_period(period)
    if previous is None:
        raise QuotaError(f"There is no stored period before {period.label} to take shares from.",
                         field="method", value=AllocationMethod.LAST_SHARE)
    ids = [m.person_id for m in members]
    for kind, model in ((engine_io.PERFORMANCE_RUN_KIND, PersonPeriodPerformance),
                        (engine_io.BOOKINGS_RUN_KIND, PersonPeriodBookings)):
        run = (CalcRun.objects.filter(kind=kind, status=CalcRun.Status.SUCCEEDED)
               .order_by("-finished_at", "-id").first())
        if run is not None:
            field = "bookings" if model is PersonPeriodPerformance else "amount"
            rows = model.objects.filter(run=run, period=previous, person_id__in=ids)
            return dict(rows.values_list("person_id", field))
    raise QuotaError("No bookings have been calculated yet, so there are no shares of "
                     f"{previous.label} to allocate by.", field="method",
                     value=AllocationMethod.LAST_SHARE)


@transaction.atomic
def allocate_team_quota(actor: Any, *, team_id: int, period_id: Any, amount: Any,
                        method: str, valid_from: date | None = None,
                        amounts: dict[int, Any] | None = None, reason: str = ""
                        ) -> list[QuotaVersion]:
    """Set the team's quota to `amount` and split it over the team's reps (`team_members`) by
    `method` (see `attain.performance.allocation` for the formulas and the cents rule): the
    personal quotas add up to the team number to the cent. Returns the versions written, the
    team's first. Nothing is written when anything is refused."""
    period = _period(period_id)
    total = _amount(amount)
    if not Team.objects.filter(pk=team_id).exists():
        raise QuotaError(f"There is no team #{team_id}.", field="team", value=team_id)
    members = team_members(team_id, period)
    if not members:
        raise QuotaError(f"The team has no reps during {period.label} to allocate to.",
                         field="team", value=team_id)
    if method == AllocationMethod.MANUAL:
        given = {int(k): _amount(v, field=f"amounts.{k}") for k, v in (amounts or {}).items()}
        member_ids = {m.person_id for m in members}
        strangers = sorted(set(given) - member_ids)
        if strangers:
            raise QuotaError(f"Person #{strangers[0]} is not a rep of the team in "
                             f"{period.label}.", field="amounts", value=strangers[0],
                             person_id=strangers[0])
        shares = [given.get(m.person_id, Decimal("0.00")) for m in members]
        added = sum(shares, Decimal("0.00"))
        if added != total:
            raise QuotaError(
                f"The personal quotas add up to {added}, not the team's {total} (difference "
                f"{total - added}); an allocation must match the team number to the cent.",
                field="amounts", value=added)
    else:
        if method == AllocationMethod.EVEN:
            weights = [Decimal(1)] * len(members)
        elif method == AllocationMethod.LAST_SHARE:
            booked = _last_period_bookings(period, members)
            weights = [booked.get(m.person_id) or Decimal(0) for m in members]
        elif method == AllocationMethod.CAPACITY:
            weights = [capacity(m, period.start, period.end) for m in members]
        else:
            raise QuotaError(f"Unknown allocation method {method!r}; use one of "
                             f"{', '.join(c for c, _ in AllocationMethod.CHOICES)}.",
                             field="method", value=method)
        if sum(weights, Decimal(0)) <= 0:
            raise QuotaError(f"Every member's weight is zero for the {method} method in "
                             f"{period.label}; allocate evenly or by hand instead.",
                             field="method", value=method)
        shares = split_to_cents(total, weights)
    written = [set_quota(actor, period_id=period.pk, amount=total, team_id=team_id,
                         valid_from=valid_from, reason=reason,
                         source=QuotaVersion.Source.ALLOCATION, method=method)]
    for member, share in zip(members, shares, strict=True):
        written.append(set_quota(actor, period_id=period.pk, amount=share,
                                 person_id=member.person_id, valid_from=valid_from,
                                 reason=reason, source=QuotaVersion.Source.ALLOCATION,
                                 method=method))
    record_event(actor, "allocate_team_quota", object_type="people.team", object_id=str(team_id),
                 after={"period": period.label, "amount": str(total), "method": method,
                        "shares": {str(m.person_id): str(s)
                                   for m, s in zip(members, shares, strict=True)}})
    return written


# --- settings -----------------------------------------------------------------------------------


def performance_settings() -> PerformanceSettings:
    """The company's performance settings (the row with pk=1, created with defaults)."""
    row, _ = PerformanceSettings.objects.get_or_create(pk=1)
    return row


@transaction.atomic
def set_leaderboard_names(actor: Any, mode: str) -> PerformanceSettings:
    """Whether reps see other reps' names on leaderboards ("names") or not ("anonymised")."""
    if mode not in PerformanceSettings.LeaderboardNames.values:
        raise QuotaError(f"Unknown leaderboard setting {mode!r}; use "
                         f"{' or '.join(PerformanceSettings.LeaderboardNames.values)}.",
                         field="leaderboard_names", value=mode)
    row = performance_settings()
    before = model_state(row)
    row.leaderboard_names = mode
    row.save()
    record_event(actor, "set_leaderboard_names", row, before=before, after=model_state(row))
    return row
