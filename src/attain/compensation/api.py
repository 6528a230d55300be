"""The compensation router: plans and versions (read, import as text, publish), assignments,
runs (queue, read, approve), statements, disputes and the payroll export. Same visibility as the
pages: a statement you may not see answers 404, like one that does not exist. Writes go through
`attain.compensation.actions`; a refusal answers 422 naming the field, the value and, for plan
text, every problem with its path and line."""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from attain.compensation import actions, engine_io
from attain.compensation import queries as cq
from attain.core.api import DecimalText, Instant, as_of_or_today, caller, found, paginated

router = Router(tags=["compensation"])


class ProblemOut(Schema):
    path: str
    value: str
    reason: str
    line: int | None


class ErrorOut(Schema):
    detail: str
    field: str = ""
    value: Any = None
    problems: list[ProblemOut] = []


def _refused(error: actions.CompensationError) -> Status:
    if error.field in ("person_id", "run_id", "dispute_id") and "No " in str(error):
        raise HttpError(404, "Not Found")
    if error.field == "actor":
        raise HttpError(403, str(error))
    return Status(422, {"detail": str(error), "field": error.field,
                        "value": None if error.value is None else str(error.value),
                        "problems": [engine_io.problem_dict(p) for p in error.problems]})


class VersionOut(Schema):
    id: int
    plan_id: int
    plan: str = Field(alias="plan.name")
    number: int
    status: str
    effective_from: date
    effective_to: date | None = Field(description="Excluded")
    text: str
    changes: list[str]
    published_at: Instant | None


class PlanIn(Schema):
    name: str
    text: str = Field(description="The plan definition (YAML, plan.schema.json)")
    effective_from: date
    effective_to: date | None = None
    description: str = ""


class DraftIn(Schema):
    text: str
    effective_from: date | None = None
    effective_to: date | None = None


class AssignmentIn(Schema):
    person_id: int
    version_id: int
    valid_from: date
    valid_to: date | None = None
    target_incentive: DecimalText
    currency: str | None = None


class AssignmentOut(Schema):
    id: int
    person_id: int
    version_id: int
    valid_from: date
    valid_to: date | None
    target_incentive: DecimalText
    currency: str
    accepted: bool = False


class RunOut(Schema):
    id: int
    calc_run_id: int
    period_id: int
    period: str = Field(alias="period.label")
    status: str = Field(alias="calc_run.status")
    approval: str
    as_of: date
    inputs_hash: str = Field(alias="calc_run.inputs_hash")
    plan_versions: list[int]
    adjusts_id: int | None
    totals: dict[str, str] = Field(alias="currency_totals")
    finished_at: Instant | None = Field(alias="calc_run.finished_at")


class PayoutOut(Schema):
    person_id: int
    period_start: date
    period_end: date
    currency: str
    earned: DecimalText
    payable_earnings: DecimalText
    deferred: DecimalText
    adjustments: DecimalText
    clawbacks: DecimalText
    owed_recovered: DecimalText
    draw_recovered: DecimalText
    draw_paid: DecimalText
    guarantee_paid: DecimalText
    carried_forward: DecimalText
    payout: DecimalText


class LineOut(Schema):
    id: int
    line_key: str
    component: str
    line_kind: str
    booking_id: int | None
    credited_amount: DecimalText | None
    rate: DecimalText | None
    amount: DecimalText
    currency: str
    trace: list[Any]


class PayoutLineOut(Schema):
    line_key: str
    kind: str
    component: str
    booking_id: int | None
    amount: DecimalText
    currency: str
    trace: list[Any]


class StatementOut(Schema):
    person_id: int
    run: RunOut
    payouts: list[PayoutOut]
    lines: list[LineOut]
    payout_lines: list[PayoutLineOut]
    year_to_date: dict[str, DecimalText]


class DisputeIn(Schema):
    run_id: int
    comment: str
    line_id: int | None = None
    person_id: int | None = None


class DecisionIn(Schema):
    accept: bool
    note: str
    amount: DecimalText | None = None
    period_id: int | None = None


class DisputeOut(Schema):
    id: int
    person_id: int
    run_id: int
    line_id: int | None
    comment: str
    status: str
    raised_at: Instant
    decision_note: str
    adjustment_id: int | None


# --- plans --------------------------------------------------------------------------------------


@router.get("/comp/plan-versions", response=list[VersionOut], summary="Plan versions")
@paginated
def list_versions(request: HttpRequest) -> Any:
    """Versions of the plans you may see (company-wide roles: all; others: assigned ones)."""
    from attain.compensation.models import PlanVersion

    ids = cq.plans(caller(request)).values("pk")
    return PlanVersion.objects.filter(plan_id__in=ids).select_related("plan").order_by(
        "plan__name", "-number")


@router.get("/comp/plan-versions/{version_id}", response=VersionOut,
            summary="One plan version with its text")
def get_version(request: HttpRequest, version_id: int) -> Any:
    return found(cq.version(caller(request), version_id))


@router.post("/comp/plans", response={201: VersionOut, 403: dict[str, str], 422: ErrorOut},
             summary="Create a plan from plan text (draft v1)")
def create_plan(request: HttpRequest, payload: PlanIn) -> Any:
    try:
        return Status(201, actions.create_plan(caller(request), **payload.dict()))
    except actions.CompensationError as error:
        return _refused(error)


@router.put("/comp/plan-versions/{version_id}", response={200: VersionOut, 422: ErrorOut},
            summary="Save a draft's text (published versions are immutable)")
def save_draft(request: HttpRequest, version_id: int, payload: DraftIn) -> Any:
    try:
        return actions.save_draft(caller(request), version_id, text=payload.text,
                                  effective_from=payload.effective_from,
                                  effective_to=payload.effective_to or "")
    except actions.CompensationError as error:
        return _refused(error)


@router.post("/comp/plan-versions/{version_id}/publish",
             response={200: VersionOut, 422: ErrorOut}, summary="Publish a draft version")
def publish(request: HttpRequest, version_id: int) -> Any:
    try:
        return actions.publish_version(caller(request), version_id)
    except actions.CompensationError as error:
        return _refused(error)


@router.post("/comp/plan-versions/{version_id}/accept", response={200: dict[str, Any],
                                                                   422: ErrorOut},
             summary="Accept the plan version you are assigned to")
def accept(request: HttpRequest, version_id: int) -> Any:
    try:
        acceptance = actions.accept_plan(caller(request), version_id)
    except actions.CompensationError as error:
        return _refused(error)
    return {"version_id": version_id, "accepted_at": acceptance.accepted_at.isoformat()}


@router.post("/comp/plans/check", response={200: dict[str, Any]},
             summary="Validate plan text without saving it")
def check(request: HttpRequest, payload: DraftIn) -> Any:
    checked = engine_io.check_plan(payload.text)
    return {"valid": not checked.problems,
            "problems": [engine_io.problem_dict(p) for p in checked.problems]}


# --- assignments --------------------------------------------------------------------------------


@router.get("/comp/assignments", response=list[AssignmentOut], summary="Plan assignments")
@paginated
def list_assignments(request: HttpRequest, version_id: int | None = None,
                     person_id: int | None = None, as_of: date | None = None) -> Any:
    return cq.assignments(caller(request), as_of_or_today(as_of), version_id=version_id,
                          person_id=person_id)


@router.post("/comp/assignments", response={201: AssignmentOut, 422: ErrorOut},
             summary="Assign a published plan version to a person")
def assign(request: HttpRequest, payload: AssignmentIn) -> Any:
    try:
        return Status(201, actions.assign_plan(caller(request), **payload.dict()))
    except actions.CompensationError as error:
        return _refused(error)


# --- runs and statements ------------------------------------------------------------------------


def _require_run_reader(request: HttpRequest) -> None:
    from attain.people.models import Role
    from attain.people.queries import sees_whole_company

    user = caller(request)
    if sees_whole_company(user):
        return
    from attain.people.models import Person

    if not Person.objects.filter(user_id=user.pk, role=Role.MANAGER).exists():
        raise HttpError(403, "Runs are visible to managers, ops, finance and executives; "
                             "read your statement at /comp/statements/{run_id}/{person_id}.")


@router.get("/comp/runs", response=list[RunOut], summary="Compensation runs")
@paginated
def list_runs(request: HttpRequest, period_id: int | None = None) -> Any:
    _require_run_reader(request)
    return cq.runs(period_id=period_id)


@router.get("/comp/runs/{run_id}", response=RunOut, summary="One compensation run")
def get_run(request: HttpRequest, run_id: int) -> Any:
    _require_run_reader(request)
    return found(cq.run(run_id))


@router.get("/comp/runs/{run_id}/payouts", response=list[PayoutOut],
            summary="Payouts of a run you may see")
@paginated
def run_payouts(request: HttpRequest, run_id: int) -> Any:
    return cq.payouts(caller(request), found(cq.run(run_id)))


@router.post("/comp/runs", response={202: dict[str, Any], 403: dict[str, str], 422: ErrorOut},
             summary="Queue a compensation run of a period")
def queue_run(request: HttpRequest, period_id: int, as_of: date | None = None) -> Any:
    try:
        calc = actions.request_run(caller(request), period_id=period_id, as_of=as_of)
    except actions.CompensationError as error:
        return _refused(error)
    return Status(202, {"calc_run_id": calc.pk, "status": calc.status})


def _decide(request: HttpRequest, run_id: int, decision: str, note: str) -> Any:
    user = caller(request)
    try:
        if decision == "submit":
            return actions.submit_run(user, run_id)
        if decision == "close":
            return actions.close_period(user, run_id).run
        return actions.decide_run(user, run_id, approve=decision == "approve", note=note)
    except actions.CompensationError as error:
        return _refused(error)


@router.post("/comp/runs/{run_id}/submit", response={200: RunOut, 422: ErrorOut},
             summary="Submit a run to finance (ops)")
def submit_run(request: HttpRequest, run_id: int) -> Any:
    return _decide(request, run_id, "submit", "")


@router.post("/comp/runs/{run_id}/approve", response={200: RunOut, 422: ErrorOut},
             summary="Approve a submitted run (finance)")
def approve_run(request: HttpRequest, run_id: int, note: str = "") -> Any:
    return _decide(request, run_id, "approve", note)


@router.post("/comp/runs/{run_id}/reject", response={200: RunOut, 422: ErrorOut},
             summary="Reject a submitted run with a reason (finance)")
def reject_run(request: HttpRequest, run_id: int, note: str = "") -> Any:
    return _decide(request, run_id, "reject", note)


@router.post("/comp/runs/{run_id}/close", response={200: RunOut, 422: ErrorOut},
             summary="Close (lock) the run's period on this approved run")
def close_run_period(request: HttpRequest, run_id: int) -> Any:
    return _decide(request, run_id, "close", "")


@router.get("/comp/statements/{run_id}/{person_id}", response=StatementOut,
            summary="A person's statement of a run")
def get_statement(request: HttpRequest, run_id: int, person_id: int) -> Any:
    st = found(cq.statement(caller(request), person_id, found(cq.run(run_id))))
    return {"person_id": person_id, "run": st.run, "payouts": st.payouts, "lines": st.lines,
            "payout_lines": st.payout_lines, "year_to_date": st.ytd}


@router.get("/comp/runs/{run_id}/payroll", response={200: list[dict[str, Any]],
                                                     422: ErrorOut},
            summary="Payroll rows of an approved run (audited)")
def payroll(request: HttpRequest, run_id: int) -> Any:
    try:
        _, rows = actions.export_payroll(caller(request), run_id, "csv")
    except actions.CompensationError as error:
        return _refused(error)
    return [{name: str(value) for name, value in zip(engine_io.PAYROLL_HEADER, row,
                                                     strict=True)} for row in rows]


# --- disputes -----------------------------------------------------------------------------------


@router.get("/comp/disputes", response=list[DisputeOut], summary="Disputes you may see")
@paginated
def list_disputes(request: HttpRequest, status: str | None = None) -> Any:
    return cq.disputes(caller(request), status=status)


@router.post("/comp/disputes", response={201: DisputeOut, 422: ErrorOut},
             summary="Dispute a line of your statement (or the whole statement)")
def raise_dispute(request: HttpRequest, payload: DisputeIn) -> Any:
    try:
        return Status(201, actions.raise_dispute(caller(request), **payload.dict()))
    except actions.CompensationError as error:
        return _refused(error)


@router.post("/comp/disputes/{dispute_id}/decision", response={200: DisputeOut, 422: ErrorOut},
             summary="Decide a dispute (the person's manager or ops)")
def decide_dispute(request: HttpRequest, dispute_id: int, payload: DecisionIn) -> Any:
    found(cq.dispute(caller(request), dispute_id))
    try:
        return actions.decide_dispute(caller(request), dispute_id, **payload.dict())
    except actions.CompensationError as error:
        return _refused(error)


# --- what-if estimates --------------------------------------------------------------------------


class WhatIfIn(Schema):
    opportunity_ids: list[int] = Field(description="Open deals of the person assumed to close")
    person_id: int | None = Field(None, description="Whose pay (default: you)")
    period_id: int | None = Field(None, description="The pay period (default: the current one "
                                                    "of the person's plan)")


class WhatIfComponentOut(Schema):
    name: str
    kind: str
    earned_before: DecimalText
    earned_after: DecimalText
    difference: DecimalText
    attainment_before: DecimalText | None = Field(description="1 = 100 % of quota")
    attainment_after: DecimalText | None
    band_before: int | None
    band_after: int | None
    band_before_text: str
    band_after_text: str


class WhatIfLineOut(Schema):
    line_key: str
    component: str
    line_kind: str
    opportunity_id: int | None = Field(description="The deal of a line it would add")
    booking_id: int | None = Field(description="The stored order line of a line it changes")
    deal: str
    change: str
    before: DecimalText | None
    after: DecimalText | None
    delta: DecimalText
    currency: str
    trace: list[Any]


class WhatIfOut(Schema):
    person_id: int
    period_id: int
    period: str
    as_of: date
    opportunity_ids: list[int]
    earned_before: dict[str, DecimalText] = Field(description="Earned so far, per currency")
    earned_after: dict[str, DecimalText] = Field(description="If the deals closed")
    difference: dict[str, DecimalText]
    components: list[WhatIfComponentOut]
    lines: list[WhatIfLineOut]
    latest_run_id: int | None
    seconds: dict[str, float]


@router.post("/comp/what-if", response={200: WhatIfOut, 400: ErrorOut, 404: ErrorOut},
             summary="Estimate pay if some open deals closed (nothing is saved)")
def what_if(request: HttpRequest, payload: WhatIfIn) -> Any:
    """The compensation engine on the person's plan and today's bookings plus each deal as an
    order line (amount and currency of the opportunity, booked on its close date clamped into
    the period, credited by its splits). A rep estimates for themselves; a manager for their
    reports; ops, finance and executives for anyone. A person you may not see, or a deal that
    is not one of theirs, answers 404; a closed deal or one closing outside the period 400."""
    from attain.people.models import Person

    user = caller(request)
    person_id = payload.person_id or Person.objects.filter(user_id=user.pk).values_list(
        "pk", flat=True).first()
    day = as_of_or_today(None)
    if person_id is None or not cq.may_see(user, person_id, day):
        raise HttpError(404, "Not Found")
    period, _ = cq.what_if_period(person_id, payload.period_id, day)
    if period is None:
        return Status(400, {"detail": "No pay period to estimate: the person has no plan in "
                                      "force today, or period_id is not a period of the plan.",
                            "field": "period_id", "value": payload.period_id})
    try:
        found_estimate = found(cq.what_if(user, person_id, period, payload.opportunity_ids,
                                          day=day))
    except cq.WhatIfRefused as error:
        return Status(error.status, {"detail": str(error), "field": error.field,
                                     "value": None if error.value is None else str(error.value)})
    return {
        "person_id": person_id, "period_id": period.pk, "period": period.label,
        "as_of": found_estimate.as_of, "opportunity_ids": [o.pk for o in found_estimate.deals],
        "earned_before": found_estimate.earned_before,
        "earned_after": found_estimate.earned_after, "difference": found_estimate.difference,
        "components": found_estimate.components, "lines": found_estimate.lines,
        "latest_run_id": found_estimate.latest_run[0].pk if found_estimate.latest_run else None,
        "seconds": found_estimate.seconds}


# --- plan modelling and accrual (ops and finance) ---------------------------------------------


class ModelIn(Schema):
    period_ids: list[int] = Field(description="Past periods (run or closed) to model the draft on")


class ModelOut(Schema):
    id: int
    version_id: int
    calc_run_id: int
    status: str = Field(alias="calc_run.status")
    step: str | None = Field(None, alias="calc_run.params.step")
    error: str = Field(alias="calc_run.error")
    inputs_hash: str = Field(alias="calc_run.inputs_hash")
    period_ids: list[int]
    summary: dict[str, Any] = Field(description="Totals, changes and percentiles per currency "
                                                "and period (scope) and over all periods "
                                                "(scope \"all\"); amounts as text")

    @staticmethod
    def resolve_period_ids(model: Any) -> list[int]:
        return sorted(model.periods.values_list("pk", flat=True))


class ModelRowOut(Schema):
    person_id: int
    person: str = Field(alias="person.name")
    employee_id: str = Field(alias="person.external_id")
    period_id: int
    period: str = Field(alias="period.label")
    currency: str
    in_force_earned: DecimalText
    draft_earned: DecimalText
    change: DecimalText
    change_pct: DecimalText | None
    in_force_payout: DecimalText
    draft_payout: DecimalText


class AccrualOut(Schema):
    run_id: int
    period: str = Field(alias="run.period.label")
    period_start: date
    period_end: date
    person_id: int
    person: str = Field(alias="person.name")
    employee_id: str = Field(alias="person.external_id")
    currency: str
    earned: DecimalText
    paid: DecimalText
    accrued: DecimalText

    @staticmethod
    def resolve_paid(row: Any) -> Any:
        from attain.core.money import CENT

        return row.paid.quantize(CENT)  # computed by the database: SQLite drops the scale

    @staticmethod
    def resolve_accrued(row: Any) -> Any:
        from attain.core.money import CENT

        return row.accrued.quantize(CENT)


def _require_modeller(request: HttpRequest) -> Any:
    from attain.people.models import Person, Role

    user = caller(request)
    if not (user.is_superuser or Person.objects.filter(
            user_id=user.pk, role__in=[Role.OPS, Role.FINANCE]).exists()):
        raise HttpError(403, "Plan modelling and accruals are for sales operations and finance.")
    return user


@router.post("/comp/plan-versions/{version_id}/models",
             response={202: ModelOut, 403: dict[str, str], 422: ErrorOut},
             summary="Model a draft plan version on past periods (queued)")
def queue_model(request: HttpRequest, version_id: int, payload: ModelIn) -> Any:
    """The draft against the plan in force for everyone assigned to the plan in the periods;
    nothing but the modelling run is written. An invalid draft answers 422 with every problem."""
    user = _require_modeller(request)
    try:
        model = actions.request_plan_model(user, version_id=version_id,
                                           period_ids=payload.period_ids)
    except actions.CompensationError as error:
        if error.field == "version_id" and "No " in str(error):
            raise HttpError(404, "Not Found") from error
        return _refused(error)
    return Status(202, model)


@router.get("/comp/models/{model_id}", response=ModelOut, summary="One modelling run")
def get_model(request: HttpRequest, model_id: int) -> Any:
    _require_modeller(request)
    return found(cq.model_run(model_id))


@router.get("/comp/models/{model_id}/rows", response=list[ModelRowOut],
            summary="Each person's pay in force and under the draft")
@paginated
def model_rows(request: HttpRequest, model_id: int, period_id: int | None = None,
               q: str = "", sort: str = "change", descending: bool = True) -> Any:
    user = _require_modeller(request)
    return cq.model_rows(user, found(cq.model_run(model_id)), period_id=period_id, search=q,
                         order=sort, descending=descending)


@router.get("/comp/accrual", response=list[AccrualOut],
            summary="Earned, paid and accrued per period and person as of a day")
@paginated
def accrual_report(request: HttpRequest, as_of: date | None = None,
                   period_id: int | None = None, q: str = "") -> Any:
    user = _require_modeller(request)
    return cq.accrual_rows(user, as_of_or_today(as_of), period_id=period_id, search=q)
