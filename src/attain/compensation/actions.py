"""Writes of the compensation app — plans and versions, assignments, acceptances, manual lines,
runs, period closes, disputes, approvals and payroll exports. Every function is atomic and
audited; pages, the API, tasks and the CLI call these and never `.save()` themselves.

Who may do what (DESIGN §1):
- ops writes plans, assignments, manual lines, starts runs, submits and closes periods;
- a manager enters SPIFF/MBO lines, signs off statements and decides disputes for their subtree
  (never their own);
- a rep accepts their plan and raises disputes on their own statement;
- finance approves or rejects a submitted run and exports payroll (ops may export too).
A person a caller may not see is answered like one that does not exist (`field="person_id"`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from attain.compensation import engine_io
from attain.compensation.models import (
    CompPlan,
    CompRun,
    Dispute,
    EarningLine,
    ManualLine,
    PayrollExport,
    PeriodClose,
    PlanAcceptance,
    PlanAssignment,
    PlanVersion,
    StatementSignoff,
)
from attain.core.audit import model_state, record_event
from attain.core.errors import ActionError, acting_user, engine_backend
from attain.core.models import CalcRun, Period
from attain.core.money import CENT, MONEY_DIGITS, MONEY_PLACES
from attain.people.models import COMPANY_WIDE_ROLES, Person, Role
from attain.people.visibility import visible_person_ids

LARGEST_AMOUNT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - CENT
Status = PlanVersion.Status


class CompensationError(ActionError):
    """A compensation write refused. `problems` lists plan problems (path, value, reason, line)
    when the plan text was at fault, so the editor can show each one where it belongs."""

    def __init__(self, message: str, *, field: str = "", value: Any = None,
                 problems: Iterable[engine_io.Problem] = ()) -> None:
        super().__init__(message, field=field, value=value)
        self.problems = list(problems)

    def as_dict(self) -> dict[str, Any]:
        return {"message": str(self), "field": self.field,
                "value": None if self.value is None else str(self.value),
                "problems": [engine_io.problem_dict(p) for p in self.problems]}


_user = acting_user


# --- who is asking -----------------------------------------------------------------------------


def _me(actor: Any) -> Person | None:
    return Person.objects.filter(user_id=getattr(actor, "pk", None)).first()


def _role(actor: Any) -> str:
    """The actor's role; `None` is the system (the CLI and the demo), which acts as ops."""
    if actor is None:
        return Role.OPS
    if getattr(actor, "is_superuser", False):
        me = _me(actor)
        return me.role if me is not None and me.role in COMPANY_WIDE_ROLES else Role.OPS
    me = _me(actor)
    return me.role if me is not None else ""


def _require(actor: Any, roles: Iterable[str], what: str) -> None:
    allowed = set(roles)
    if _role(actor) not in allowed:
        names = " or ".join(Role(r).label.lower() for r in sorted(allowed))
        raise CompensationError(f"Only {names} may {what}.", field="actor",
                                value=getattr(actor, "username", None))


def _visible_person(actor: Any, person_id: Any, day: date) -> Person:
    """The person `person_id` if `actor` may see them on `day`; refused like a missing one."""
    visible = None if actor is None else visible_person_ids(actor, day)
    person = (Person.objects.filter(pk=person_id).first()
              if str(person_id).lstrip("-").isdigit() else None)
    if person is None or (visible is not None and person.pk not in visible):
        raise CompensationError(f"No person #{person_id}.", field="person_id", value=person_id)
    return person


def _manages(actor: Any, person: Person, day: date) -> bool:
    """`actor` is ops/finance/superuser, or manages `person` (in their subtree, not themselves)."""
    role = _role(actor)
    if role in (Role.OPS, Role.FINANCE):
        return True
    me = _me(actor)
    if role != Role.MANAGER or me is None or me.pk == person.pk:
        return False
    visible = visible_person_ids(actor, day)
    return visible is None or person.pk in visible


# --- parsing input ----------------------------------------------------------------------------


def _amount(value: Any, field: str, *, allow_negative: bool = False) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CompensationError(f"{value!r} is not an amount; write it like 1250.00.",
                                field=field, value=value) from None
    if not amount.is_finite():
        raise CompensationError(f"{value!r} is not an amount.", field=field, value=value)
    if amount < 0 and not allow_negative:
        raise CompensationError(f"{field} cannot be negative (got {amount}).", field=field,
                                value=value)
    if amount != amount.quantize(CENT):
        raise CompensationError(f"{field} is in whole cents; {amount} has more than two "
                                "decimals.", field=field, value=value)
    if abs(amount) > LARGEST_AMOUNT:
        raise CompensationError(f"{amount} exceeds the largest storable amount.", field=field,
                                value=value)
    return amount.quantize(CENT)


def _currency(value: Any, field: str = "currency") -> str:
    text = str(value or "").strip().upper()
    if len(text) != 3 or not text.isalpha():
        raise CompensationError(f"Currency must be a 3-letter ISO 4217 code, got {value!r}.",
                                field=field, value=value)
    return text


def _day(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise CompensationError(f"{field} must be a date like 2026-07-01, got {value!r}.",
                                field=field, value=value) from None


def _optional_day(value: Any, field: str) -> date | None:
    return None if value in (None, "") else _day(value, field)


def _range(start: date, end: date | None, field: str) -> None:
    if end is not None and end <= start:
        raise CompensationError(f"{field} {end} must come after the start {start} (the end "
                                "is excluded).", field=field, value=end)


def _period(period_id: Any) -> Period:
    period = Period.objects.filter(pk=period_id).first() if str(period_id).isdigit() else None
    if period is None:
        raise CompensationError(f"There is no period #{period_id}.", field="period_id",
                                value=period_id)
    return period


def _checked_plan(text: str, source: str) -> engine_io.CheckedPlan:
    """The plan text parsed and validated; refused with every problem when it is not valid."""
    checked = engine_io.check_plan(text, source)
    if checked.problems:
        first = checked.problems[0]
        more = f" (and {len(checked.problems) - 1} more)" if len(checked.problems) > 1 else ""
        raise CompensationError(f"The plan is not valid: {first.path or 'plan'}: "
                                f"{first.reason}{more}.", field="text",
                                value=first.value, problems=checked.problems)
    return checked


# --- plans -------------------------------------------------------------------------------------


@transaction.atomic
def create_plan(actor: Any, *, name: str, text: str, effective_from: Any,
                effective_to: Any = None, description: str = "") -> PlanVersion:
    """A new plan with its first version (a draft), from valid plan text. Ops only."""
    _require(actor, [Role.OPS], "create plans")
    name = (name or "").strip()
    if not name:
        raise CompensationError("A plan needs a name.", field="name", value=name)
    if CompPlan.objects.filter(name=name).exists():
        raise CompensationError(f"A plan named {name!r} exists; add a version to it instead.",
                                field="name", value=name)
    start = _day(effective_from, "effective_from")
    end = _optional_day(effective_to, "effective_to")
    _range(start, end, "effective_to")
    _checked_plan(text, name)
    plan = CompPlan.objects.create(name=name, description=description.strip(),
                                   created_by=_user(actor))
    version = PlanVersion.objects.create(plan=plan, number=1, text=text, effective_from=start,
                                         effective_to=end, created_by=_user(actor))
    record_event(actor, "create_plan", plan, after=model_state(plan))
    record_event(actor, "create_plan_version", version, after=model_state(version))
    return version


@transaction.atomic
def save_draft(actor: Any, version_id: int, *, text: str, effective_from: Any = None,
               effective_to: Any = "") -> PlanVersion:
    """Save a draft version's text and dates. A published or retired version is immutable:
    refused (make a new version with `new_version`). Invalid text writes nothing."""
    _require(actor, [Role.OPS], "edit plans")
    version = PlanVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None:
        raise CompensationError(f"No plan version #{version_id}.", field="version_id",
                                value=version_id)
    if not version.is_editable:
        raise CompensationError(
            f"{version.plan.name} v{version.number} is {version.status} and cannot change; "
            "start a new version from it.", field="version_id", value=version_id)
    before = model_state(version)
    start = _day(effective_from, "effective_from") if effective_from not in (None, "") \
        else version.effective_from
    end = version.effective_to if effective_to == "" else _optional_day(effective_to,
                                                                         "effective_to")
    _range(start, end, "effective_to")
    _checked_plan(text, version.plan.name)
    if text != version.text:
        version.example = None
    version.text, version.effective_from, version.effective_to = text, start, end
    version.save()
    record_event(actor, "save_plan_draft", version, before=before, after=model_state(version))
    return version


@transaction.atomic
def new_version(actor: Any, plan_id: int, *, effective_from: Any = None) -> PlanVersion:
    """A new draft of a plan, starting from its latest version's text (number + 1). If a draft
    exists already, that draft is returned: a plan has at most one draft at a time."""
    _require(actor, [Role.OPS], "edit plans")
    plan = CompPlan.objects.select_for_update().filter(pk=plan_id).first()
    if plan is None:
        raise CompensationError(f"No plan #{plan_id}.", field="plan_id", value=plan_id)
    draft = plan.versions.filter(status=Status.DRAFT).order_by("-number").first()
    if draft is not None:
        return draft
    latest = plan.versions.order_by("-number").first()
    assert latest is not None
    start = _day(effective_from, "effective_from") if effective_from else latest.effective_from
    version = PlanVersion.objects.create(
        plan=plan, number=latest.number + 1, text=latest.text, example=latest.example,
        effective_from=start,
        effective_to=latest.effective_to if latest.effective_to and latest.effective_to > start
        else None, based_on=latest, created_by=_user(actor))
    record_event(actor, "create_plan_version", version, after=model_state(version))
    return version


def _published_before(version: PlanVersion) -> PlanVersion | None:
    return (version.plan.versions.filter(status=Status.PUBLISHED, number__lt=version.number)
            .order_by("-number").first())


def compute_example(actor: Any, version_id: int) -> PlanVersion:
    """Compute and store the worked example of a version (the engine applied to an example
    period, see `engine_io.worked_example`); for the plan document. Ops only."""
    _require(actor, [Role.OPS], "compute plan examples")
    version = PlanVersion.objects.filter(pk=version_id).select_related("plan").first()
    if version is None:
        raise CompensationError(f"No plan version #{version_id}.", field="version_id",
                                value=version_id)
    checked = _checked_plan(version.text, version.plan.name)
    example = engine_io.worked_example(checked.plan)
    with transaction.atomic():
        stored = PlanVersion.objects.select_for_update().get(pk=version.pk)
        if stored.text != version.text:  # edited meanwhile: the example would not match
            raise CompensationError("The draft changed while its example was computed; "
                                    "compute it again.", field="version_id", value=version_id)
        stored.example = example
        stored.save(update_fields=["example"])
        record_event(actor, "compute_plan_example", stored,
                     after={"total": (example or {}).get("total"),
                            "error": (example or {}).get("error")})
    return stored


@transaction.atomic
def publish_version(actor: Any, version_id: int) -> PlanVersion:
    """Publish a draft: validated again, its readable diff against the published version it
    replaces stored in `changes`, and from then on immutable.

    The version it replaces keeps its text; if that one was in force past the new version's
    start, its effective range ends there (and it is retired when it would never be in force).
    """
    _require(actor, [Role.OPS], "publish plans")
    version = PlanVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None:
        raise CompensationError(f"No plan version #{version_id}.", field="version_id",
                                value=version_id)
    if version.status != Status.DRAFT:
        raise CompensationError(f"v{version.number} is already {version.status}.",
                                field="version_id", value=version_id)
    _checked_plan(version.text, version.plan.name)
    previous = _published_before(version)
    before = model_state(version)
    version.changes = (engine_io.plan_changes(previous.text, version.text)
                       if previous is not None else [])
    version.status = Status.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = _user(actor)
    version.save()
    record_event(actor, "publish_plan_version", version, before=before,
                 after=model_state(version))
    for older in version.plan.versions.filter(status=Status.PUBLISHED, number__lt=version.number):
        if older.effective_to is not None and older.effective_to <= version.effective_from:
            continue
        older_before = model_state(older)
        if older.effective_from >= version.effective_from:
            older.status = Status.RETIRED
        else:
            older.effective_to = version.effective_from
        older.save(update_fields=["status", "effective_to", "updated_at"])
        record_event(actor, "supersede_plan_version", older, before=older_before,
                     after=model_state(older))
    return version


# --- assignments and acceptance -----------------------------------------------------------------


@transaction.atomic
def assign_plan(actor: Any, *, person_id: Any, version_id: Any, valid_from: Any,
                valid_to: Any = None, target_incentive: Any, currency: Any = None
                ) -> PlanAssignment:
    """Put a person on a published plan version over [valid_from, valid_to) with a target
    incentive. Refused when it overlaps another assignment of the person, or falls outside the
    version's effective range. Ops only."""
    _require(actor, [Role.OPS], "assign plans")
    start = _day(valid_from, "valid_from")
    end = _optional_day(valid_to, "valid_to")
    _range(start, end, "valid_to")
    person = _visible_person(actor, person_id, start)
    version = (PlanVersion.objects.select_related("plan").filter(pk=version_id).first()
               if str(version_id).isdigit() else None)
    if version is None:
        raise CompensationError(f"No plan version #{version_id}.", field="version_id",
                                value=version_id)
    if version.status != Status.PUBLISHED:
        raise CompensationError(f"{version.plan.name} v{version.number} is {version.status}; "
                                "only a published version can be assigned.",
                                field="version_id", value=version_id)
    if start < version.effective_from or (
            version.effective_to is not None and (end is None or end > version.effective_to)):
        until = version.effective_to or "open-ended"
        raise CompensationError(
            f"The assignment [{start}, {end or 'open-ended'}) is outside the version's "
            f"effective range [{version.effective_from}, {until}).", field="valid_from",
            value=start)
    amount = _amount(target_incentive, "target_incentive")
    money = _currency(currency or person.currency)
    # Locked so two concurrent assignments of one person cannot both pass the overlap check.
    list(Person.objects.select_for_update().filter(pk=person.pk))
    overlap = PlanAssignment.objects.filter(person=person).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=start))
    if end is not None:
        overlap = overlap.filter(valid_from__lt=end)
    clash = overlap.select_related("version__plan").first()
    if clash is not None:
        raise CompensationError(
            f"{person.name} is already on {clash.version.plan.name} v{clash.version.number} "
            f"over [{clash.valid_from}, {clash.valid_to or 'open-ended'}), which overlaps "
            f"[{start}, {end or 'open-ended'}); end that assignment first.",
            field="valid_from", value=start)
    assignment = PlanAssignment.objects.create(
        person=person, version=version, valid_from=start, valid_to=end,
        target_incentive=amount, currency=money, created_by=_user(actor))
    record_event(actor, "assign_plan", assignment, after=model_state(assignment))
    return assignment


@transaction.atomic
def end_assignment(actor: Any, assignment_id: int, *, valid_to: Any) -> PlanAssignment:
    """End an assignment on `valid_to` (excluded), e.g. before a plan change. Ops only."""
    _require(actor, [Role.OPS], "change assignments")
    assignment = PlanAssignment.objects.select_for_update().filter(pk=assignment_id).first()
    if assignment is None:
        raise CompensationError(f"No assignment #{assignment_id}.", field="assignment_id",
                                value=assignment_id)
    end = _day(valid_to, "valid_to")
    _range(assignment.valid_from, end, "valid_to")
    before = model_state(assignment)
    assignment.valid_to = end
    assignment.save(update_fields=["valid_to"])
    record_event(actor, "end_assignment", assignment, before=before,
                 after=model_state(assignment))
    return assignment


@transaction.atomic
def accept_plan(actor: Any, version_id: int) -> PlanAcceptance:
    """The signed-in person acknowledges the plan version they are assigned to (idempotent)."""
    me = _me(actor)
    if me is None:
        raise CompensationError("Only a person with a plan can accept it.", field="actor")
    if not PlanAssignment.objects.filter(person=me, version_id=version_id).exists():
        raise CompensationError(f"You are not assigned to plan version #{version_id}.",
                                field="version_id", value=version_id)
    acceptance, created = PlanAcceptance.objects.get_or_create(
        person=me, version_id=version_id,
        defaults={"accepted_at": timezone.now(), "accepted_by": _user(actor)})
    if created:
        record_event(actor, "accept_plan", acceptance, after=model_state(acceptance))
    return acceptance


# --- manual lines -----------------------------------------------------------------------------


@transaction.atomic
def add_manual_line(actor: Any, *, person_id: Any, period_id: Any, kind: str, component: str,
                    amount: Any, note: str, currency: Any = None) -> ManualLine:
    """A SPIFF, MBO payout or adjustment for a person and period, with a reason. Entered by the
    person's manager or ops; refused for a closed period's own run (it goes to the next run as
    an adjustment instead, because a later run of a closed period produces delta lines)."""
    period = _period(period_id)
    person = _visible_person(actor, person_id, period.start)
    if not _manages(actor, person, period.start):
        raise CompensationError("Only the person's manager or ops may enter pay for them.",
                                field="person_id", value=person_id)
    if kind not in ManualLine.Kind.values:
        raise CompensationError(f"kind must be one of {', '.join(ManualLine.Kind.values)}, "
                                f"got {kind!r}.", field="kind", value=kind)
    note = (note or "").strip()
    if not note:
        raise CompensationError("A manual line needs a reason (note).", field="note", value="")
    line = ManualLine.objects.create(
        person=person, period=period, kind=kind, component=(component or "").strip() or
        ManualLine.Kind(kind).label, amount=_amount(amount, "amount", allow_negative=True),
        currency=_currency(currency or person.currency), note=note, entered_by=_user(actor),
        entered_at=timezone.now())
    record_event(actor, "add_manual_line", line, after=model_state(line))
    return line


# --- runs ---------------------------------------------------------------------------------------


def _backend(backend: str | None) -> str:
    return engine_backend(backend, CompensationError)


def _run_period(period_id: Any) -> Period:
    period = _period(period_id)
    if period.kind not in ("month", "quarter", "year"):
        raise CompensationError(f"Compensation runs are per month, quarter or year, not per "
                                f"{period.kind}.", field="period_id", value=period_id)
    return period


@transaction.atomic
def request_run(actor: Any, *, period_id: Any, as_of: Any = None,
                backend: str | None = None) -> CalcRun:
    """Queue a compensation run of a period for the task worker; returns the queued run."""
    from attain.compensation.tasks import run_compensation_task

    _require(actor, [Role.OPS], "start compensation runs")
    period = _run_period(period_id)
    name = _backend(backend)
    params: dict[str, Any] = {"period_id": period.pk}
    if as_of not in (None, ""):
        params["as_of"] = _day(as_of, "as_of").isoformat()
    run = CalcRun.objects.create(kind=engine_io.COMP_RUN_KIND, status=CalcRun.Status.QUEUED,
                                 requested_by=_user(actor), backend=name, params=params)
    record_event(actor, "request_compensation_run", run, after={"kind": run.kind, **params})
    transaction.on_commit(lambda: run_compensation_task.enqueue(run.pk))
    return run


def run_compensation(actor: Any, *, period_id: Any, as_of: Any = None,
                     backend: str | None = None, run: CalcRun | None = None,
                     **_ignored: Any) -> CompRun:
    """Compute a period now: snapshot the inputs, run the engine, store credits, lines and
    payouts as a new run (never over an older one). For a closed period the stored lines are the
    delta against the paid run (`prior_period_adjustment` lines). Refused (and kept as a failed
    run) when the inputs are not usable. `as_of` defaults to the period's last day or today."""
    if run is None:
        _require(actor, [Role.OPS], "start compensation runs")
    period = _run_period(period_id)
    last_day = period.end.toordinal() - 1
    day = (_day(as_of, "as_of") if as_of not in (None, "")
           else min(date.fromordinal(last_day), timezone.localdate()))
    name = _backend(backend)
    closed = PeriodClose.objects.filter(period=period).select_related("run").first()
    try:
        comp_run = engine_io.compute_and_store(
            period=period, as_of=day, backend=name, requested_by=_user(actor), run=run,
            adjusts=closed.run if closed is not None else None)
    except engine_io.RunRefused as error:
        record_event(actor, "run_compensation_failed", object_type="core.calcrun",
                     object_id=str(error.run_id or ""),
                     after={"error": str(error), "period": period.label})
        raise CompensationError(str(error), field=error.field, value=error.value,
                                problems=error.problems) from error
    calc = comp_run.calc_run
    record_event(actor, "run_compensation", comp_run, after={
        "period": period.label, "status": calc.status, "inputs_hash": calc.inputs_hash,
        "backend": calc.backend, "output_rows": calc.output_rows,
        "plan_versions": comp_run.plan_versions, "adjusts": comp_run.adjusts_id,
        "totals": comp_run.currency_totals})
    return comp_run


def _comp_run(run_id: Any, *, lock: bool = False) -> CompRun:
    rows = CompRun.objects.select_related("calc_run", "period")
    if lock:
        rows = rows.select_for_update(of=("self",))
    run = rows.filter(pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise CompensationError(f"No compensation run #{run_id}.", field="run_id",
                                value=run_id)
    return run


def _approval(actor: Any, run: CompRun, action: str, before: dict[str, Any] | None) -> None:
    record_event(actor, action, run, before=before, after=model_state(run))


@transaction.atomic
def submit_run(actor: Any, run_id: Any) -> CompRun:
    """Ops submits a succeeded run to finance for approval."""
    _require(actor, [Role.OPS], "submit runs")
    run = _comp_run(run_id, lock=True)
    if run.calc_run.status != CalcRun.Status.SUCCEEDED:
        raise CompensationError(f"Run #{run.pk} has not succeeded ({run.calc_run.status}).",
                                field="run_id", value=run_id)
    if run.approval not in (CompRun.Approval.DRAFT, CompRun.Approval.REJECTED):
        raise CompensationError(f"Run #{run.pk} is already {run.get_approval_display()}.",
                                field="run_id", value=run_id)
    before = model_state(run)
    run.approval = CompRun.Approval.SUBMITTED
    run.submitted_by, run.submitted_at = _user(actor), timezone.now()
    run.decided_by, run.decided_at, run.decision_note = None, None, ""
    run.save()
    _approval(actor, run, "submit_compensation_run", before)
    return run


@transaction.atomic
def decide_run(actor: Any, run_id: Any, *, approve: bool, note: str = "") -> CompRun:
    """Finance approves a submitted run, or rejects it with a reason."""
    _require(actor, [Role.FINANCE], "approve or reject runs")
    run = _comp_run(run_id, lock=True)
    if run.approval != CompRun.Approval.SUBMITTED:
        raise CompensationError(f"Run #{run.pk} is {run.get_approval_display()}, not "
                                "submitted.", field="run_id", value=run_id)
    note = (note or "").strip()
    if not approve and not note:
        raise CompensationError("A rejection needs a reason.", field="note", value="")
    if approve and Dispute.objects.filter(run=run, status=Dispute.Status.OPEN).exists():
        raise CompensationError(f"Run #{run.pk} has open disputes; decide them first.",
                                field="run_id", value=run_id)
    before = model_state(run)
    run.approval = CompRun.Approval.APPROVED if approve else CompRun.Approval.REJECTED
    run.decided_by, run.decided_at, run.decision_note = _user(actor), timezone.now(), note
    run.save()
    _approval(actor, run, "approve_compensation_run" if approve
              else "reject_compensation_run", before)
    return run


@transaction.atomic
def approve_statement(actor: Any, run_id: Any, person_id: Any, note: str = ""
                      ) -> StatementSignoff:
    """A manager (or ops) signs off one person's statement of a run, before finance approves."""
    run = _comp_run(run_id)
    person = _visible_person(actor, person_id, run.period.start)
    if not _manages(actor, person, run.period.start):
        raise CompensationError("Only the person's manager or ops may sign off a statement.",
                                field="person_id", value=person_id)
    signoff, created = StatementSignoff.objects.get_or_create(
        run=run, person=person, defaults={"signed_by": _user(actor),
                                          "signed_at": timezone.now(), "note": note.strip()})
    if created:
        record_event(actor, "approve_statement", signoff, after=model_state(signoff))
    return signoff


@transaction.atomic
def close_period(actor: Any, run_id: Any) -> PeriodClose:
    """Lock a period on its approved run: the run becomes what was paid. A later run of the period
    stores only delta lines against it (prior-period adjustments). Ops or finance."""
    _require(actor, [Role.OPS, Role.FINANCE], "close periods")
    run = _comp_run(run_id, lock=True)
    if run.approval != CompRun.Approval.APPROVED:
        raise CompensationError(f"Run #{run.pk} is {run.get_approval_display()}; only an "
                                "approved run can close its period.", field="run_id",
                                value=run_id)
    if run.is_adjustment:
        raise CompensationError("An adjustment run cannot close a period: it is closed "
                                "already.", field="run_id", value=run_id)
    if PeriodClose.objects.filter(period=run.period).exists():
        raise CompensationError(f"{run.period.label} is closed already.", field="run_id",
                                value=run_id)
    close = PeriodClose.objects.create(period=run.period, run=run, closed_at=timezone.now(),
                                       closed_by=_user(actor))
    record_event(actor, "close_period", close, after=model_state(close))
    return close


# --- disputes ---------------------------------------------------------------------------------


@transaction.atomic
def raise_dispute(actor: Any, *, run_id: Any, comment: str, line_id: Any = None,
                  person_id: Any = None) -> Dispute:
    """A rep disputes a line of their statement (or the statement as a whole) with a comment."""
    run = _comp_run(run_id)
    comment = (comment or "").strip()
    if not comment:
        raise CompensationError("Say what is wrong: a dispute needs a comment.",
                                field="comment", value="")
    line = None
    if line_id not in (None, ""):
        line = (EarningLine.objects.filter(pk=line_id, run=run).first()
                if str(line_id).isdigit() else None)
        if line is None:
            raise CompensationError(f"No line #{line_id} in run #{run.pk}.", field="line_id",
                                    value=line_id)
        person_id = line.person_id
    me = _me(actor)
    if person_id in (None, ""):
        person_id = me.pk if me is not None else None
    person = _visible_person(actor, person_id, run.period.start)
    if me is None or (me.pk != person.pk and not _manages(actor, person, run.period.start)):
        raise CompensationError("Only the person paid (or their manager) may dispute a "
                                "statement.", field="person_id", value=person_id)
    dispute = Dispute.objects.create(person=person, run=run, line=line,
                                     line_key=line.line_key if line else "", comment=comment,
                                     raised_by=_user(actor), raised_at=timezone.now())
    record_event(actor, "raise_dispute", dispute, after=model_state(dispute))
    return dispute


@transaction.atomic
def decide_dispute(actor: Any, dispute_id: Any, *, accept: bool, note: str,
                   amount: Any = None, period_id: Any = None) -> Dispute:
    """The person's manager or ops decides a dispute with a note. Accepting it with an `amount`
    creates an audited adjustment line for the person in `period_id` (default: the disputed
    run's period if it is still open, else the first open period after it)."""
    dispute = (Dispute.objects.select_for_update(of=("self",))
               .select_related("run__period", "person").filter(pk=dispute_id).first()
               if str(dispute_id).isdigit() else None)
    if dispute is None:
        raise CompensationError(f"No dispute #{dispute_id}.", field="dispute_id",
                                value=dispute_id)
    day = dispute.run.period.start
    _visible_person(actor, dispute.person_id, day)
    if not _manages(actor, dispute.person, day):
        raise CompensationError("Only the person's manager or ops may decide their dispute.",
                                field="dispute_id", value=dispute_id)
    if dispute.status != Dispute.Status.OPEN:
        raise CompensationError(f"Dispute #{dispute.pk} is {dispute.status} already.",
                                field="dispute_id", value=dispute_id)
    note = (note or "").strip()
    if not note:
        raise CompensationError("A decision needs a note for the rep.", field="note",
                                value="")
    before = model_state(dispute)
    if accept and amount not in (None, ""):
        value = _amount(amount, "amount", allow_negative=True)
        period = _period(period_id) if period_id not in (None, "") else _open_period_from(
            dispute.run.period)
        dispute.adjustment = ManualLine.objects.create(
            person=dispute.person, period=period, kind=ManualLine.Kind.ADJUSTMENT,
            component=f"Dispute #{dispute.pk}", amount=value,
            currency=_line_currency(dispute), note=note, entered_by=_user(actor),
            entered_at=timezone.now())
        record_event(actor, "add_manual_line", dispute.adjustment,
                     after=model_state(dispute.adjustment))
    dispute.status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REJECTED
    dispute.decided_by, dispute.decided_at = _user(actor), timezone.now()
    dispute.decision_note = note
    dispute.save()
    record_event(actor, "decide_dispute", dispute, before=before, after=model_state(dispute))
    return dispute


def _line_currency(dispute: Dispute) -> str:
    if dispute.line is not None:
        return dispute.line.currency
    payout = dispute.run.payouts.filter(person=dispute.person).first()
    return payout.currency if payout is not None else dispute.person.currency


def _open_period_from(period: Period) -> Period:
    """`period` if not closed, else the first later period of the same kind that is open."""
    closed = set(PeriodClose.objects.values_list("period_id", flat=True))
    candidates = Period.objects.filter(kind=period.kind, start__gte=period.start)
    for candidate in candidates.order_by("start"):
        if candidate.pk not in closed:
            return candidate
    raise CompensationError(f"No open {period.kind} after {period.label}; create the next "
                            "periods first.", field="period_id", value=period.pk)


# --- payroll ------------------------------------------------------------------------------------


@transaction.atomic
def export_payroll(actor: Any, run_id: Any, file_format: str = "csv"
                   ) -> tuple[PayrollExport, list[tuple[Any, ...]]]:
    """The payroll rows of an approved run (one per person and currency: employee id, name,
    period, currency, amount, then the components), recorded as an audited export.
    Finance or ops; refused for a run that is not approved."""
    _require(actor, [Role.FINANCE, Role.OPS], "export payroll")
    run = _comp_run(run_id, lock=True)
    if run.approval != CompRun.Approval.APPROVED:
        raise CompensationError(f"Run #{run.pk} is {run.get_approval_display()}; only approved "
                                "runs can be exported.", field="run_id", value=run_id)
    if file_format not in ("csv", "xlsx"):
        raise CompensationError(f"format must be csv or xlsx, got {file_format!r}.",
                                field="format", value=file_format)
    rows = engine_io.payroll_rows(run)
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row[3]] = totals.get(row[3], Decimal("0.00")) + row[4]
    export = PayrollExport.objects.create(
        run=run, exported_by=_user(actor), exported_at=timezone.now(), file_format=file_format,
        rows=len(rows), totals={k: str(v.quantize(CENT)) for k, v in sorted(totals.items())})
    record_event(actor, "export_payroll", export, after=model_state(export))
    return export, rows



# --- plan modelling -----------------------------------------------------------------------------


def _model_periods(period_ids: Any) -> list[Period]:
    """The periods to model: each must exist and have been run (or closed)."""
    from attain.compensation.queries import statement_run

    ids = [period_ids] if isinstance(period_ids, str | int) else list(period_ids or [])
    if not ids:
        raise CompensationError("Choose at least one past period to model the draft on.",
                                field="period_ids", value="")
    periods: list[Period] = []
    for period_id in dict.fromkeys(str(i) for i in ids):
        period = _run_period(period_id)
        if statement_run(period) is None:
            raise CompensationError(
                f"{period.label} has no compensation run yet; a draft is modelled on periods "
                "that were run (or closed).", field="period_ids", value=period_id)
        periods.append(period)
    return sorted(periods, key=lambda p: (p.start, p.kind))


def _draft(version_id: Any) -> PlanVersion:
    version = (PlanVersion.objects.filter(pk=version_id).select_related("plan").first()
               if str(version_id).isdigit() else None)
    if version is None:
        raise CompensationError(f"No plan version #{version_id}.", field="version_id",
                                value=version_id)
    if version.status != Status.DRAFT:
        raise CompensationError(
            f"{version.plan.name} v{version.number} is {version.status}; only a draft is "
            "modelled (start a new version to model a change).", field="version_id",
            value=version_id)
    return version


@transaction.atomic
def request_plan_model(actor: Any, *, version_id: Any, period_ids: Any,
                       backend: str | None = None) -> Any:
    """Queue a modelling run of a draft version on past periods (`PlanModelRun`): the draft
    against the plan in force, for everyone assigned to the plan in those periods. Ops or
    finance. Refused, writing nothing, when the draft's text is not valid (every problem
    listed), a period was never run, or nobody is assigned to the plan in those periods."""
    from attain.compensation.models import PlanModelRun
    from attain.compensation.tasks import model_plan_task

    _require(actor, [Role.OPS, Role.FINANCE], "model plans")
    version = _draft(version_id)
    _checked_plan(version.text, version.plan.name)
    periods = _model_periods(period_ids)
    overlapping = Q()
    for period in periods:
        overlapping |= Q(valid_from__lt=period.end) & (Q(valid_to__isnull=True)
                                                       | Q(valid_to__gt=period.start))
    assigned = PlanAssignment.objects.filter(version__plan_id=version.plan_id).exclude(
        version=version).filter(overlapping)
    if not assigned.exists():
        labels = ", ".join(p.label for p in periods)
        raise CompensationError(f"Nobody is assigned to {version.plan.name} in {labels}; "
                                "there is nothing to compare.", field="period_ids",
                                value=",".join(str(p.pk) for p in periods))
    name = _backend(backend)
    params = {"version_id": version.pk, "period_ids": [p.pk for p in periods],
              "period": ", ".join(p.label for p in periods),
              "plan": f"{version.plan.name} v{version.number} (draft)"}
    calc = CalcRun.objects.create(kind=engine_io.MODEL_RUN_KIND, status=CalcRun.Status.QUEUED,
                                  requested_by=_user(actor), backend=name, params=params)
    model = PlanModelRun.objects.create(calc_run=calc, version=version, draft_text=version.text)
    model.periods.set(periods)
    record_event(actor, "request_plan_model", model, after=params)
    transaction.on_commit(lambda: model_plan_task.enqueue(model.pk))
    return model


def run_plan_model(model_id: Any) -> Any:
    """Compute the queued modelling run `model_id` (the task worker's part): the draft text as
    it was when modelling was asked for, against the plan in force (`engine_io.model_plan`).
    A failure is kept on the run with its reason and no result rows."""
    import time

    from attain.compensation.models import PlanModelRun
    from attain.core.engine_io import finish_run

    model = (PlanModelRun.objects.select_related("calc_run", "version__plan")
             .filter(pk=model_id).first() if str(model_id).isdigit() else None)
    if model is None:
        raise CompensationError(f"No modelling run #{model_id}.", field="model_id",
                                value=model_id)
    run = model.calc_run
    if run.status != CalcRun.Status.QUEUED:
        return model
    run.status, run.started_at = CalcRun.Status.RUNNING, timezone.now()
    run.calc_version = engine_io._calc_version()
    run.save(update_fields=["status", "started_at", "calc_version"])
    started = time.perf_counter()
    try:
        checked = engine_io.check_plan(model.draft_text, model.version.plan.name)
        if checked.problems:
            raise engine_io.RunRefused(f"The draft is not valid: {checked.problems[0]}",
                                       field="text", problems=checked.problems)
        engine_io.model_plan(model, checked.plan, backend=run.backend or _backend(None))
    except Exception as error:  # kept on the run, shown on the page
        run.error = (str(error) if isinstance(error, engine_io.RunRefused | ValueError)
                     else f"{type(error).__name__}: {error}")
        run.params = {**run.params, "step": "failed"}
        run.timings = {**(run.timings or {}), "total": round(time.perf_counter() - started, 4)}
        finish_run(run, CalcRun.Status.FAILED, ["error", "params", "timings"])
        record_event(None, "plan_model_failed", model, after={"error": run.error})
        return model
    run.params = {**run.params, "step": "done"}
    run.timings = {**(run.timings or {}), "total": round(time.perf_counter() - started, 4)}
    finish_run(run, CalcRun.Status.SUCCEEDED, ["params", "timings", "inputs_hash",
                                               "input_rows", "output_rows"])
    record_event(None, "plan_model_done", model, after={
        "totals": [t for t in model.summary.get("totals", []) if t["scope"] == "all"]})
    return model


def model_plan_now(actor: Any, *, version_id: Any, period_ids: Any,
                   backend: str | None = None) -> Any:
    """`request_plan_model` and compute it at once (the CLI, tests): the finished run."""
    model = request_plan_model(actor, version_id=version_id, period_ids=period_ids,
                               backend=backend)
    return run_plan_model(model.pk)
