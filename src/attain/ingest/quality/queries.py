"""Reads of data quality for pages and the API: stored runs, scores over time, findings.

Findings name records of the whole company, so only sales operations (and superusers) may read
them: `may_use(user)` is the gate every entry point checks. Nothing here recomputes a finding;
everything comes from the latest succeeded "data_quality" run (or one named by id).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from attain.core.models import CalcRun
from attain.crm.models import Account, Opportunity
from attain.ingest.models import QualityFinding, QualityScore
from attain.ingest.quality.engine_io import (
    CATEGORIES,
    CATEGORY_OF,
    DEFAULT_STALE_DAYS,
    MIN_STALE_DAYS,
    OVERALL,
    RUN_KIND,
)
from attain.people.models import Person, Role

CHECK_LABELS: dict[str, str] = {
    "duplicate_account": "Duplicate accounts",
    "duplicate_opportunity": "Duplicate opportunities",
    "past_close_date": "Open deals with a close date in the past",
    "stale_opportunity": "Stale opportunities",
    "missing_amount": "Opportunities without an amount",
    "missing_owner": "Opportunities without an owner",
    "missing_account": "Opportunities without an account",
    "stage_regression": "Stage regressions",
    "inactive_owner": "Open deals owned by people who left",
    "booking_without_opportunity": "Order lines without an opportunity",
    "account_name_variant": "Account names spelled several ways",
    "product_name_variant": "Product names spelled several ways",
}
CATEGORY_LABELS = {"accounts": "Accounts", "opportunities": "Opportunities",
                   "bookings": "Order lines", "names": "Names", OVERALL: "Overall"}
GROUP_CHECKS = frozenset({"duplicate_account", "duplicate_opportunity", "account_name_variant",
                          "product_name_variant"})
OPPORTUNITY_CHECKS = frozenset(CATEGORIES["opportunities"])
CHECKS = tuple(CHECK_LABELS)
assert set(CHECKS) == set(CATEGORY_OF)


def may_use(user: Any) -> bool:
    """Sales operations and superusers read findings and fix them."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return Person.objects.filter(user_id=user.pk, role=Role.OPS).exists()


def latest_run() -> CalcRun | None:
    """The newest succeeded data-quality run: every figure on the page comes from it."""
    return (CalcRun.objects.filter(kind=RUN_KIND, status=CalcRun.Status.SUCCEEDED)
            .order_by("-finished_at", "-id").first())


def pending_run() -> CalcRun | None:
    return (CalcRun.objects.filter(kind=RUN_KIND,
                                   status__in=[CalcRun.Status.QUEUED, CalcRun.Status.RUNNING])
            .order_by("-created_at", "-id").first())


def succeeded_run(run_id: int | None) -> CalcRun | None:
    """The succeeded run `run_id`, or the latest one when `run_id` is None."""
    if run_id is None:
        return latest_run()
    return CalcRun.objects.filter(kind=RUN_KIND, status=CalcRun.Status.SUCCEEDED,
                                  pk=run_id).first()


def clamp_stale_days(value: Any) -> int:
    """The stale threshold asked for in a URL: a whole number of days, at least MIN_STALE_DAYS
    (the stored findings start there); the default when missing or unreadable."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_STALE_DAYS
    return max(MIN_STALE_DAYS, days)


def scores(run: CalcRun | None) -> list[QualityScore]:
    """The run's scores, overall first, then in category order."""
    if run is None:
        return []
    order = [OVERALL, *CATEGORIES]
    rows = list(QualityScore.objects.filter(run=run))
    return sorted(rows, key=lambda row: order.index(row.category) if row.category in order
                  else len(order))


@dataclass(frozen=True, slots=True)
class ScorePoint:
    run_id: int
    finished_at: Any
    category: str
    score: Decimal


def score_history(limit: int = 60) -> list[ScorePoint]:
    """Scores of the latest `limit` succeeded runs, oldest first (for the chart)."""
    runs = list(CalcRun.objects.filter(kind=RUN_KIND, status=CalcRun.Status.SUCCEEDED)
                .order_by("-finished_at", "-id").values_list("pk", "finished_at")[:limit])
    finished = dict(runs)
    rows = QualityScore.objects.filter(run_id__in=finished).values_list("run_id", "category",
                                                                         "score")
    points = [ScorePoint(run_id, finished[run_id], category, value)
              for run_id, category, value in rows]
    return sorted(points, key=lambda p: (p.finished_at, p.run_id, p.category))


@dataclass(frozen=True, slots=True)
class CheckSummary:
    check: str
    label: str
    category: str
    findings: int
    records: int


def findings(run: CalcRun | None, check: str | None = None, *,
             stale_days: int = DEFAULT_STALE_DAYS, q: str | None = None,
             owner_id: int | None = None) -> QuerySet[QualityFinding]:
    """Stored findings of `run` (none without a run), optionally of one check; stale ones only
    from `stale_days` idle days on. Ordered by check, group, record."""
    if run is None:
        return QualityFinding.objects.none()
    rows = QualityFinding.objects.filter(run=run)
    if check:
        rows = rows.filter(check_name=check)
    rows = rows.exclude(check_name="stale_opportunity", number__lt=stale_days)
    if q:
        rows = rows.filter(label__icontains=q)
    if owner_id is not None:
        rows = rows.filter(owner_id=owner_id)
    return rows.order_by("check_name", "group_key", "object_type", "object_id", "id")


def check_summaries(run: CalcRun | None, stale_days: int = DEFAULT_STALE_DAYS
                    ) -> list[CheckSummary]:
    """Findings and distinct records per check (every check listed, zero when clean)."""
    counts: dict[str, tuple[int, int]] = {}
    if run is not None:
        for row in (findings(run, stale_days=stale_days).order_by().values("check_name")
                    .annotate(n=Count("id"),
                              records=Count("object_id", distinct=True))):
            counts[row["check_name"]] = (row["n"], row["records"])
    return [CheckSummary(check, CHECK_LABELS[check], CATEGORY_OF[check],
                         *counts.get(check, (0, 0))) for check in CHECKS]


def group_accounts(run: CalcRun, group_key: str) -> QuerySet[Account]:
    """The accounts of one duplicate-account group that still exist, with their record counts."""
    ids = findings(run, "duplicate_account").filter(group_key=group_key).values("object_id")
    return (Account.objects.filter(pk__in=ids).select_related("owner")
            .annotate(opportunity_count=Count("opportunity", distinct=True),
                      contact_count=Count("contact", distinct=True))
            .order_by("pk"))


def accounts_by_ids(ids: list[int]) -> QuerySet[Account]:
    return (Account.objects.filter(pk__in=ids).select_related("owner")
            .annotate(opportunity_count=Count("opportunity", distinct=True),
                      contact_count=Count("contact", distinct=True)).order_by("pk"))


def opportunities_by_ids(ids: list[int]) -> QuerySet[Opportunity]:
    return (Opportunity.objects.filter(pk__in=ids).select_related("owner", "account", "stage")
            .order_by("pk"))


def active_people(as_of: Any) -> QuerySet[Person]:
    """People employed on `as_of`: the owners a reassignment may choose."""
    return (Person.objects.filter(Q(hired_on__isnull=True) | Q(hired_on__lte=as_of))
            .filter(Q(left_on__isnull=True) | Q(left_on__gt=as_of)).order_by("name", "id"))


def people_names(ids: set[int]) -> dict[int, str]:
    return dict(Person.objects.filter(pk__in=ids).values_list("pk", "name"))
