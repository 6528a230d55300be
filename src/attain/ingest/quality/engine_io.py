"""The data-quality run's door to `attain.engine`: snapshot the CRM to Arrow, compute the findings,
store them with a score per category under a `CalcRun` of kind "data_quality".

Score (stored per run in `QualityScore`, shown over time):

    category score = 100 x (1 - flagged / checked), to two decimals, half to even
    overall        = 100 x (1 - sum of flagged / sum of checked) over the categories

`flagged` is the number of distinct records with at least one finding of the category, `checked`
the number of records the category looks at; a category with nothing to check scores 100.

    category       checks                                              records checked
    accounts       duplicate_account                                   accounts
    opportunities  duplicate_opportunity, past_close_date,             opportunities
                   stale_opportunity (idle ≥ the run's `stale_days`),
                   missing_amount, missing_owner, missing_account,
                   stage_regression, inactive_owner
    bookings       booking_without_opportunity                         order lines
    names          account_name_variant, product_name_variant          accounts, products and
                                                                       leads naming a company

Worked example: 200 opportunities of which 3 are stale and 1 of those also lacks an amount →
4 findings, 3 flagged records → 100 x (1 - 3/200) = 98.50. With 50 accounts (2 flagged), 10
order lines (0) and 70 names (2): overall = 100 x (1 - 7/330) = 97.88 (97.878…).

Stale findings are stored from `MIN_STALE_DAYS` idle days on, so a page may show any threshold
N ≥ `MIN_STALE_DAYS` from the stored rows; the score counts those with N ≥ the run's `stale_days`.
Snapshots read rows in batches (`iterator(chunk_size)`) straight into Arrow: memory holds the Arrow
tables and one batch of Python tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import transaction
from django.db.models import Manager, Q, QuerySet
from django.utils import timezone

from attain.core.engine_io import RunClock, fail_run, finish_run, start_run
from attain.core.models import CalcRun
from attain.crm.models import Account, Booking, Lead, Opportunity, Product, Stage, StageChange
from attain.engine.backends import BACKENDS, connect
from attain.engine.calculations.data_quality import CHECKS, compute_findings
from attain.engine.errors import EngineError
from attain.engine.run import CALC_VERSIONS, DATA_QUALITY, inputs_hash
from attain.engine.schemas import (
    DQ_ACCOUNTS,
    DQ_BOOKINGS,
    DQ_LEADS,
    DQ_OPPORTUNITIES,
    DQ_PEOPLE,
    DQ_PRODUCTS,
    DQ_STAGE_CHANGES,
    DQ_STAGES,
    LogicalTable,
)
from attain.ingest.models import QualityFinding, QualityScore
from attain.people.models import Person

RUN_KIND = DATA_QUALITY
ENGINE_BACKENDS = BACKENDS
MIN_STALE_DAYS = 30
DEFAULT_STALE_DAYS = 90
SNAPSHOT_BATCH_SIZE = 20_000
STORE_BATCH_SIZE = 5_000
HUNDRED = Decimal(100)
CENT = Decimal("0.01")

CATEGORIES: dict[str, tuple[str, ...]] = {
    "accounts": ("duplicate_account",),
    "opportunities": ("duplicate_opportunity", "past_close_date", "stale_opportunity",
                      "missing_amount", "missing_owner", "missing_account", "stage_regression",
                      "inactive_owner"),
    "bookings": ("booking_without_opportunity",),
    "names": ("account_name_variant", "product_name_variant"),
}
CATEGORY_OF: dict[str, str] = {check: category for category, checks in CATEGORIES.items()
                               for check in checks}
OVERALL = "overall"
assert set(CATEGORY_OF) == set(CHECKS), "every engine check belongs to one category"


# --- snapshots ----------------------------------------------------------------------------------


def _arrow(rows: Iterable[Sequence[Any]], logical: LogicalTable,
           convert: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
           batch_size: int = SNAPSHOT_BATCH_SIZE) -> pa.Table:
    """Rows (tuples in the logical table's column order) as Arrow, one batch at a time."""
    schema = logical.schema
    batches: list[pa.RecordBatch] = []
    batch: list[Sequence[Any]] = []

    def flush() -> None:
        columns = list(zip(*batch, strict=True))
        batches.append(pa.RecordBatch.from_arrays(
            [pa.array(values, type=field.type) for values, field in zip(columns, schema,
                                                                         strict=True)],
            schema=schema))
        batch.clear()

    for row in rows:
        batch.append(convert(row) if convert else row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return pa.Table.from_batches(batches, schema=schema)


def _stream(queryset: QuerySet[Any] | Manager[Any], *fields: str) -> Iterable[tuple[Any, ...]]:
    return queryset.order_by("pk").values_list(*fields).iterator(chunk_size=SNAPSHOT_BATCH_SIZE)


def _local_day(instant: datetime) -> date:
    return timezone.localtime(instant).date()


def _micros(instant: datetime) -> int:
    delta = instant.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def snapshot() -> dict[str, pa.Table]:
    """The CRM rows every check reads, as the engine's `dq_*` logical tables."""
    return {
        "dq_accounts": _arrow(_stream(Account.objects, "pk", "name", "domain"), DQ_ACCOUNTS),
        "dq_leads": _arrow(_stream(Lead.objects, "pk", "company"), DQ_LEADS),
        "dq_products": _arrow(_stream(Product.objects, "pk", "name"), DQ_PRODUCTS),
        "dq_people": _arrow(_stream(Person.objects, "pk", "name", "left_on"), DQ_PEOPLE),
        "dq_stages": _arrow(_stream(Stage.objects, "pk", "pipeline", "name", "order"),
                            DQ_STAGES),
        "dq_opportunities": _arrow(
            _stream(Opportunity.objects, "pk", "name", "account_id", "owner_id", "amount",
                    "currency", "stage_id", "is_closed", "close_date", "created_at"),
            DQ_OPPORTUNITIES, lambda r: (*r[:9], _local_day(r[9]))),
        "dq_stage_changes": _arrow(
            _stream(StageChange.objects, "pk", "opportunity_id", "to_stage_id", "changed_at"),
            DQ_STAGE_CHANGES, lambda r: (r[0], r[1], r[2], _local_day(r[3]), _micros(r[3]))),
        "dq_bookings": _arrow(
            _stream(Booking.objects, "pk", "external_id", "opportunity_id", "owner_id",
                    "booked_on"), DQ_BOOKINGS),
    }


def records_checked() -> dict[str, int]:
    """How many records each category looks at (the score's denominators)."""
    accounts, products = Account.objects.count(), Product.objects.count()
    leads = Lead.objects.exclude(Q(company="") | Q(company__isnull=True)).count()
    return {"accounts": accounts, "opportunities": Opportunity.objects.count(),
            "bookings": Booking.objects.count(), "names": accounts + products + leads}


# --- scores -------------------------------------------------------------------------------------


def score(flagged: int, checked: int) -> Decimal:
    """100 x (1 - flagged / checked) to cents, half to even; 100 with nothing checked.

    >>> score(3, 200), score(7, 330), score(0, 0)
    (Decimal('98.50'), Decimal('97.88'), Decimal('100.00'))
    """
    if checked <= 0:
        return HUNDRED.quantize(CENT)
    value = HUNDRED * (1 - Decimal(flagged) / Decimal(checked))
    return max(Decimal(0), value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def counted_findings(findings: pa.Table, stale_days: int) -> pa.Table:
    """The findings a score counts: stale ones only from `stale_days` idle days on."""
    is_stale = pc.equal(findings.column("check"), "stale_opportunity")
    too_fresh = pc.and_(is_stale, pc.less(pc.fill_null(findings.column("number"), 0),
                                          stale_days))
    return findings.filter(pc.invert(too_fresh))


def category_scores(findings: pa.Table, checked: dict[str, int],
                    stale_days: int) -> list[dict[str, Any]]:
    """One row per category and one "overall": checked, flagged, findings, score."""
    counted = counted_findings(findings, stale_days)
    rows, total_checked, total_flagged, total_findings = [], 0, 0, 0
    for category, checks in CATEGORIES.items():
        mine = counted.filter(pc.is_in(counted.column("check"), pa.array(checks)))
        flagged = mine.select(["object_type", "object_id"]).group_by(
            ["object_type", "object_id"]).aggregate([]).num_rows
        rows.append({"category": category, "checked": checked[category], "flagged": flagged,
                     "findings": mine.num_rows, "score": score(flagged, checked[category])})
        total_checked += checked[category]
        total_flagged += flagged
        total_findings += mine.num_rows
    rows.append({"category": OVERALL, "checked": total_checked, "flagged": total_flagged,
                 "findings": total_findings, "score": score(total_flagged, total_checked)})
    return rows


# --- the run ------------------------------------------------------------------------------------


def _store(run: CalcRun, findings: pa.Table, scores: list[dict[str, Any]]) -> int:
    stored = 0
    for batch in findings.to_batches(max_chunksize=STORE_BATCH_SIZE):
        objects = [
            QualityFinding(run=run, check_name=r["check"], category=CATEGORY_OF[r["check"]],
                           object_type=r["object_type"], object_id=r["object_id"],
                           group_key=r["group_key"][:255], label=(r["label"] or "")[:255],
                           owner_id=r["owner_id"], day=r["day"], number=r["number"],
                           note=(r["note"] or "")[:255])
            for r in batch.to_pylist()
        ]
        QualityFinding.objects.bulk_create(objects, batch_size=STORE_BATCH_SIZE)
        stored += len(objects)
    QualityScore.objects.bulk_create([QualityScore(run=run, **row) for row in scores])
    return stored


def run_data_quality(requested_by: Any = None, backend: str | None = None, *,
                     run: CalcRun | None = None, as_of: date | None = None,
                     stale_days: int = DEFAULT_STALE_DAYS) -> CalcRun:
    """Compute every finding and the scores on `backend` and store them as a new run (or as the
    queued `run`). Timed steps: `snapshot`, `hash`, `compute`, `store`. On an error the run is
    saved as failed with the message and no findings."""
    backend_name = backend or str(settings.ATTAIN_ENGINE_BACKEND)
    as_of = as_of or timezone.localdate()
    run = start_run(run, kind=RUN_KIND, requested_by=requested_by, backend=backend_name,
                    calc_version=CALC_VERSIONS[RUN_KIND],
                    params={"as_of": as_of.isoformat(), "stale_days": stale_days,
                            "min_stale_days": MIN_STALE_DAYS})
    clock = RunClock()
    try:
        if stale_days < MIN_STALE_DAYS:
            raise ValueError(f"stale_days must be at least {MIN_STALE_DAYS}, got {stale_days}")

        def take() -> tuple[dict[str, pa.Table], dict[str, int]]:
            with transaction.atomic():  # one read transaction for every table
                return snapshot(), records_checked()

        inputs, checked = clock.time("snapshot", take)
        run.input_rows = sum(table.num_rows for table in inputs.values())
        run.inputs_hash = clock.time("hash", lambda: inputs_hash(inputs, run.params))

        def compute() -> pa.Table:
            with connect(backend_name) as engine:
                return compute_findings(engine, inputs, as_of, MIN_STALE_DAYS)

        findings: pa.Table = clock.time("compute", compute)
        scores = category_scores(findings, checked, stale_days)

        def store() -> None:
            with transaction.atomic():
                run.output_rows = _store(run, findings, scores)
                run.timings = clock.timings()
                finish_run(run, CalcRun.Status.SUCCEEDED,
                           ["inputs_hash", "input_rows", "output_rows", "timings"])

        clock.time("store", store)
        run.timings = clock.timings()
        run.save(update_fields=["timings"])
    except (EngineError, ValueError) as error:
        fail_run(run, clock, str(error))
    except Exception as error:  # a bug or a database error: record it, then let it surface
        fail_run(run, clock, f"{type(error).__name__}: {error}")
        raise
    return run


