"""The data-quality endpoints (mounted under /api/v1/quality by `attain.ingest.api`): scores,
findings of the latest or a chosen run, queueing a run, and the fixes. Sales operations only
(403 for every other role), like the page."""

from datetime import date
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from attain.core.api import CalcRunOut, DecimalText, Instant, caller, found, paginated
from attain.ingest.quality import actions, queries
from attain.ingest.quality.engine_io import DEFAULT_STALE_DAYS, MIN_STALE_DAYS

router = Router(tags=["data quality"])


def _require_ops(request: HttpRequest) -> None:
    if not queries.may_use(caller(request)):
        raise HttpError(403, "Data quality is for sales operations.")


def _refused(error: actions.QualityActionError) -> Status[dict[str, Any]]:
    return Status(400, {"detail": str(error), "field": error.field, "value": error.value})


class RefusedOut(Schema):
    detail: str
    field: str
    value: Any = None


class ScoreOut(Schema):
    run_id: int
    category: str
    checked: int
    flagged: int
    findings: int
    score: DecimalText = Field(description="0-100: 100 x (1 - flagged / checked)")


class ScorePointOut(Schema):
    run_id: int
    finished_at: Instant
    category: str
    score: DecimalText


class CheckOut(Schema):
    check: str
    label: str
    category: str
    findings: int
    records: int


class LatestOut(Schema):
    run: CalcRunOut | None
    scores: list[ScoreOut]
    checks: list[CheckOut]


class FindingOut(Schema):
    id: int
    run_id: int
    check: str = Field(alias="check_name")
    category: str
    object_type: str
    object_id: int
    group_key: str
    label: str
    owner_id: int | None
    day: date | None
    number: int | None
    note: str


class FindingFilters(Schema):
    check: str | None = Field(None, description="One check, e.g. stale_opportunity")
    run_id: int | None = Field(None, description="A succeeded run; default the latest")
    stale_days: int = Field(DEFAULT_STALE_DAYS, ge=MIN_STALE_DAYS,
                            description="Stale findings from this many idle days on")
    q: str | None = Field(None, description="Part of the record's name")
    owner_id: int | None = None


class RunIn(Schema):
    stale_days: int = Field(DEFAULT_STALE_DAYS, ge=MIN_STALE_DAYS)
    backend: str | None = None


class MergeIn(Schema):
    survivor_id: int
    merged_ids: list[int]


class MergeOut(Schema):
    survivor_id: int
    merged_ids: list[int]
    contact_ids: list[int]
    opportunity_ids: list[int]
    lead_ids: list[int]
    other: dict[str, list[int]] = Field(description="Other records moved, by model label")


class ReassignIn(Schema):
    opportunity_ids: list[int]
    owner_id: int


class ReassignOut(Schema):
    owner_id: int
    moved: dict[int, int | None] = Field(description="opportunity id: previous owner id")
    unchanged: list[int]


@router.get("/latest", response=LatestOut, summary="Scores and checks of the latest run")
def latest(request: HttpRequest, stale_days: int = DEFAULT_STALE_DAYS) -> Any:
    """The latest succeeded run, its scores (overall first) and the findings per check."""
    _require_ops(request)
    run = queries.latest_run()
    return {"run": run, "scores": queries.scores(run),
            "checks": queries.check_summaries(run, queries.clamp_stale_days(stale_days))}


@router.get("/scores", response=list[ScorePointOut], summary="Scores over time")
def score_history(request: HttpRequest) -> Any:
    """Every category's score in the latest 60 succeeded runs, oldest first."""
    _require_ops(request)
    return queries.score_history()


@router.get("/findings", response=list[FindingOut], summary="Findings")
@paginated
def list_findings(request: HttpRequest, filters: Query[FindingFilters]) -> Any:
    """Findings of the latest succeeded run (or `run_id`: 404 when unknown), by check, group
    and record. `object_type` and `object_id` name the record (e.g. opportunity 42)."""
    _require_ops(request)
    params = filters.dict()
    if params["check"] is not None and params["check"] not in queries.CHECK_LABELS:
        raise HttpError(422, f"check={params['check']!r} is not accepted: use one of "
                             f"{', '.join(queries.CHECKS)}.")
    run = queries.succeeded_run(params["run_id"])
    if params["run_id"] is not None:
        found(run)
    return queries.findings(run, params["check"], stale_days=params["stale_days"],
                            q=params["q"], owner_id=params["owner_id"])


@router.post("/runs", response={202: CalcRunOut, 400: RefusedOut},
             summary="Queue a data-quality run")
def queue_run(request: HttpRequest, payload: RunIn) -> Any:
    _require_ops(request)
    try:
        run = actions.request_quality_run(caller(request), payload.backend, payload.stale_days)
    except actions.QualityActionError as error:
        return _refused(error)
    return Status(202, run)


@router.post("/merge-accounts", response={200: MergeOut, 400: RefusedOut},
             summary="Merge duplicate accounts")
def merge_accounts(request: HttpRequest, payload: MergeIn) -> Any:
    """Merge `merged_ids` into `survivor_id` (all or nothing, audited). 400 names the refused
    field and value: a missing account, the survivor among the merged, nothing to merge."""
    _require_ops(request)
    try:
        return actions.merge_accounts(caller(request), payload.survivor_id, payload.merged_ids)
    except actions.QualityActionError as error:
        return _refused(error)


@router.post("/reassign-opportunities", response={200: ReassignOut, 400: RefusedOut},
             summary="Reassign opportunities to another owner")
def reassign(request: HttpRequest, payload: ReassignIn) -> Any:
    """Give `opportunity_ids` to `owner_id` (all or nothing, audited). 400 when an opportunity
    or the owner does not exist, or the owner is not employed today."""
    _require_ops(request)
    try:
        return actions.reassign_opportunities(caller(request), payload.opportunity_ids,
                                              payload.owner_id)
    except actions.QualityActionError as error:
        return _refused(error)
