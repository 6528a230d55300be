"""Plan modelling: what a draft plan version would have paid next to the plan in force, from
two runs of `compute_compensation` over the same inputs — person by person, line by line, and as
totals and a distribution (percentiles) per currency.

The two runs themselves are ordinary runs (the caller substitutes the draft's `Plan` for the
in-force versions of the plan); this module only compares their Arrow results, with Arrow
compute (joins, group-bys, sorts), never a loop over rows.

Percentiles are "linear between closest ranks" (Excel's PERCENTILE.INC, NumPy's default): for n
sorted amounts x[0..n-1] and p in [0, 1], h = (n - 1) x p and the percentile is
x[floor h] + (h - floor h) x (x[floor h + 1] - x[floor h]), exact in Decimal and rounded once,
half to even, to cents. Worked example: amounts 100, 200, 400, 800 → p25: h = 0.75, 100 + 0.75 x
100 = 175.00; p50: h = 1.5, 200 + 0.5 x 200 = 300.00; p90: h = 2.7, 400 + 0.7 x 400 = 680.00.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from attain.engine.schemas import MONEY, LogicalTable

CENT = Decimal("0.01")
PERCENTILES = (("p10", Decimal("0.10")), ("p25", Decimal("0.25")), ("p50", Decimal("0.50")),
               ("p75", Decimal("0.75")), ("p90", Decimal("0.90")))
ALL_PERIODS = "all"

# One person's pay in a period and currency under the plan in force and under the draft.
MODEL_PAY = LogicalTable("comp_model_pay", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_start", pa.date32(), nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("in_force_earned", MONEY, nullable=False),
    pa.field("draft_earned", MONEY, nullable=False),
    pa.field("change", MONEY, nullable=False),  # draft - in force, earned
    pa.field("in_force_payout", MONEY, nullable=False),
    pa.field("draft_payout", MONEY, nullable=False),
]), key=("person_id", "period_start", "currency"))

# One earning line under both plans, matched on the run's stable line key.
MODEL_LINES = LogicalTable("comp_model_lines", pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_start", pa.date32(), nullable=False),
    pa.field("line_key", pa.string(), nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("component", pa.string()),
    pa.field("line_kind", pa.string()),
    pa.field("booking_id", pa.int64()),
    pa.field("in_force_amount", MONEY),  # null: the plan in force has no such line
    pa.field("draft_amount", MONEY),  # null: the draft has no such line
    pa.field("change", MONEY, nullable=False),
    pa.field("in_force_trace", pa.string()),
    pa.field("draft_trace", pa.string()),
]), key=("person_id", "period_start", "line_key", "currency"))

_ZERO = pa.scalar(Decimal("0.00"), type=MONEY)


def _either(joined: pa.Table, name: str) -> pa.ChunkedArray:
    return pc.coalesce(joined.column(f"{name}_in_force"), joined.column(f"{name}_draft"))


def compare_lines(in_force: pa.Table, draft: pa.Table, people: Sequence[int] | None = None
                  ) -> pa.Table:
    """MODEL_LINES: the earning lines (COMP_EARNING_LINES) of the run under the plan in force
    and of the run under the draft, full outer joined on (person, period, line key, currency);
    `people` keeps only those people (all when None).

    Worked example: in force {A: 7,500.00}, draft {A: 8,250.00, T: 100.00} → A 7,500.00 →
    8,250.00 (+750.00), T none → 100.00 (+100.00)."""
    key = ["person_id", "period_start", "line_key", "currency"]
    columns = [*key, "component", "line_kind", "booking_id", "amount", "trace"]
    sides = []
    for table, suffix in ((in_force, "in_force"), (draft, "draft")):
        chosen = table.select(columns)
        if people is not None:
            chosen = chosen.filter(pc.is_in(chosen.column("person_id"),
                                            value_set=pa.array(list(people), pa.int64())))
        sides.append(chosen.rename_columns([c if c in key else f"{c}_{suffix}"
                                            for c in columns]))
    joined = sides[0].join(sides[1], keys=key, join_type="full outer")
    before, after = joined.column("amount_in_force"), joined.column("amount_draft")
    change = pc.subtract(pc.fill_null(after, _ZERO), pc.fill_null(before, _ZERO))
    result = pa.table({
        **{name: joined.column(name) for name in key},
        "component": _either(joined, "component"), "line_kind": _either(joined, "line_kind"),
        "booking_id": _either(joined, "booking_id"), "in_force_amount": before,
        "draft_amount": after, "change": change,
        "in_force_trace": joined.column("trace_in_force"),
        "draft_trace": joined.column("trace_draft"),
    })
    result = result.cast(MODEL_LINES.schema)
    return result.sort_by([(name, "ascending") for name in key])


def compare_pay(in_force: pa.Table, draft: pa.Table, people: Sequence[int] | None = None
                ) -> pa.Table:
    """MODEL_PAY: each person's earned and payout (COMP_PAYOUTS) under both plans, one row per
    person, period and currency; a person missing on one side has 0.00 there.

    Worked example: in force earned 7,500.00, draft 8,250.00 → change +750.00."""
    key = ["person_id", "period_start", "currency"]
    sides = []
    for table, suffix in ((in_force, "in_force"), (draft, "draft")):
        grouped = table.group_by(key).aggregate([("earned", "sum"), ("payout", "sum")])
        if people is not None:
            grouped = grouped.filter(pc.is_in(grouped.column("person_id"),
                                              value_set=pa.array(list(people), pa.int64())))
        sides.append(grouped.rename_columns([
            c if c in key else f"{c.removesuffix('_sum')}_{suffix}" for c in grouped.column_names]))
    joined = sides[0].join(sides[1], keys=key, join_type="full outer")

    def money(name: str) -> pa.ChunkedArray:
        return pc.fill_null(joined.column(name).cast(MONEY), _ZERO)

    result = pa.table({
        **{name: joined.column(name) for name in key},
        "in_force_earned": money("earned_in_force"), "draft_earned": money("earned_draft"),
        "change": pc.subtract(money("earned_draft"), money("earned_in_force")),
        "in_force_payout": money("payout_in_force"), "draft_payout": money("payout_draft"),
    }).cast(MODEL_PAY.schema)
    return result.sort_by([(name, "ascending") for name in key])


def percentile(ordered: Sequence[Decimal], p: Decimal) -> Decimal:
    """The p-th percentile (0 <= p <= 1) of amounts sorted ascending, linear between closest
    ranks (module docstring), to cents. [100, 200, 400, 800], 0.25 → 175.00."""
    h = (len(ordered) - 1) * p
    low = int(h)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (h - low) * (ordered[high] - ordered[low])
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _distribution(amounts: pa.ChunkedArray | pa.Array) -> dict[str, str]:
    ordered: list[Decimal] = pc.take(amounts, pc.sort_indices(amounts)).to_pylist()
    if not ordered:
        return {}
    stats = {"min": ordered[0], **{name: percentile(ordered, p) for name, p in PERCENTILES},
             "max": ordered[-1]}
    return {name: str(value.quantize(CENT)) for name, value in stats.items()}


def _group_summary(rows: pa.Table, scope: str, currency: str) -> dict[str, Any]:
    earned_in_force = rows.column("in_force_earned")
    earned_draft = rows.column("draft_earned")
    total_in_force = pc.sum(earned_in_force).as_py() or Decimal("0.00")
    total_draft = pc.sum(earned_draft).as_py() or Decimal("0.00")
    change = total_draft - total_in_force
    changes = rows.column("change")
    return {
        "scope": scope, "currency": currency, "rows": rows.num_rows,
        "in_force": str(total_in_force.quantize(CENT)), "draft": str(total_draft.quantize(CENT)),
        "change": str(change.quantize(CENT)),
        "change_pct": (str((change * 100 / total_in_force).quantize(CENT))
                       if total_in_force else None),
        "in_force_payout": str((pc.sum(rows.column("in_force_payout")).as_py()
                                or Decimal("0.00")).quantize(CENT)),
        "draft_payout": str((pc.sum(rows.column("draft_payout")).as_py()
                             or Decimal("0.00")).quantize(CENT)),
        "gainers": pc.sum(pc.greater(changes, _ZERO).cast(pa.int64())).as_py() or 0,
        "losers": pc.sum(pc.less(changes, _ZERO).cast(pa.int64())).as_py() or 0,
        "in_force_distribution": _distribution(earned_in_force),
        "draft_distribution": _distribution(earned_draft),
    }


def model_summary(pay: pa.Table) -> list[dict[str, Any]]:
    """Totals and distributions of MODEL_PAY rows, JSON-ready (amounts as text): one entry per
    currency and period (`scope` = the period start, ISO) and per currency over every period
    (`scope` = "all"; each person-period row is one value of the distribution). Each entry:
    rows (people of a period; person-periods for "all"), total earned in force and under the
    draft, the change (and in % of the total in force), payouts, how many rows gain or lose,
    and min/p10/p25/p50/p75/p90/max of what each person earns under each plan.

    Worked example: two people earning 7,500.00 and 2,000.00 in force, 8,250.00 and 1,800.00
    under the draft → totals 9,500.00 and 10,050.00, change +550.00 (+5.79 %), 1 gainer,
    1 loser; in force p50 = 2,000 + 0.5 x 5,500 = 4,750.00."""
    summary: list[dict[str, Any]] = []
    if pay.num_rows == 0:
        return summary
    groups = pay.group_by(["currency", "period_start"]).aggregate([]).sort_by(
        [("currency", "ascending"), ("period_start", "ascending")])
    for currency in pc.unique(groups.column("currency")).to_pylist():
        of_currency = pay.filter(pc.equal(pay.column("currency"), currency))
        starts: list[date] = groups.filter(pc.equal(groups.column("currency"), currency)) \
            .column("period_start").to_pylist()
        for start in starts:
            summary.append(_group_summary(
                of_currency.filter(pc.equal(of_currency.column("period_start"),
                                            pa.scalar(start, pa.date32()))),
                start.isoformat(), currency))
        summary.append(_group_summary(of_currency, ALL_PERIODS, currency))
    return summary


__all__ = ["ALL_PERIODS", "MODEL_LINES", "MODEL_PAY", "PERCENTILES", "compare_lines",
           "compare_pay", "model_summary", "percentile"]
