"""Prior-period adjustments and line-by-line diffs of two runs ("why did my pay change").

A closed period is locked: its lines never change. When it is re-run (late data, a plan fix),
`adjustment_lines(locked, rerun)` compares the two sets of lines on their stable key and returns
one explicit **delta line** per line that was added, removed or changed in amount (never a
silent change). The app pays them in the next open period by passing them to `compute_payouts`
as `comp_payout_adjustments`; each becomes an `adjustment` payout line with its own trace.

Which lines: compare *earning lines* (COMP_EARNING_LINES) — what the rep earned — so a
corrected commission is paid (or recovered) as a delta now; draws, guarantees and recoveries of
the closed period stay as they were paid. The functions accept payout lines (COMP_PAYOUT_LINES)
too, e.g. to show how a whole statement changed. A second re-run of the same period must be
compared with the lines as adjusted so far (the latest re-run whose adjustments were paid), and
given a new `revision`, so no delta is paid twice and every adjustment key stays unique.

The key of a line: (person_id, period_start, line_key, currency). The line key of an earning
line is stable across runs (comp-engine: assignment:component:kind:booking:credit kind); of a
payout line, kind|source line|part|earned period|period. A line whose currency changed is one
line removed and one added. Both functions are set-based (Arrow joins), with exact decimals.
"""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from attain.engine.compensation.payout_tables import COMP_PAYOUT_ADJUSTMENTS
from attain.engine.errors import SchemaError
from attain.engine.schemas import MONEY, require_unique

LINE_KEY = ("person_id", "period_start", "line_key", "currency")
_COMPARED = ("component", "booking_id", "kind", "amount", "trace")

LINE_DIFF = pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("period_start", pa.date32(), nullable=False),
    pa.field("line_key", pa.string(), nullable=False),
    pa.field("currency", pa.string(), nullable=False),
    pa.field("component", pa.string(), nullable=False),
    pa.field("booking_id", pa.int64()),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("change", pa.string(), nullable=False),  # added | removed | changed
    pa.field("before_amount", MONEY),  # null: added
    pa.field("after_amount", MONEY),  # null: removed
    pa.field("delta", MONEY, nullable=False),  # after - before (a missing side counts 0)
    pa.field("before_trace", pa.string()),
    pa.field("after_trace", pa.string()),
])


def _comparable(lines: pa.Table, side: str) -> pa.Table:
    """The key and compared columns of earning lines (`line_kind`) or payout lines (`kind`)."""
    kind = "kind" if "kind" in lines.column_names else "line_kind"
    needed = (*LINE_KEY, "component", "booking_id", kind, "amount", "trace")
    for name in needed:
        if name not in lines.column_names:
            raise SchemaError(
                f"The {side} lines have no column {name!r}; pass earning lines "
                "(comp_earning_lines) or payout lines (comp_payout_lines).",
                table=f"{side} lines", column=name)
    table = pa.table({
        "person_id": lines.column("person_id").cast(pa.int64()),
        "period_start": lines.column("period_start").cast(pa.date32()),
        "line_key": lines.column("line_key").cast(pa.string()),
        "currency": lines.column("currency").cast(pa.string()),
        "component": lines.column("component").cast(pa.string()),
        "booking_id": lines.column("booking_id").cast(pa.int64()),
        "kind": lines.column(kind).cast(pa.string()),
        "amount": lines.column("amount").cast(MONEY),
        "trace": lines.column("trace").cast(pa.string()),
    })
    require_unique(f"{side} lines", table, LINE_KEY)  # raises DuplicateKeyError
    return table


def _either(joined: pa.Table, name: str) -> pa.ChunkedArray:
    after, before = joined.column(f"{name}_after"), joined.column(f"{name}_before")
    return pc.if_else(pc.is_valid(joined.column("amount_after")), after, before)


def diff_lines(before: pa.Table, after: pa.Table, *, include_trace_changes: bool = True
               ) -> pa.Table:
    """LINE_DIFF: every line added, removed or changed between two runs, ordered by person,
    period and line key. `changed` means a different amount or (with `include_trace_changes`)
    the same amount reached another way (a different trace, e.g. a new rate and a new credit
    that cancel out).

    Worked example: before {A: 100.00, B: 50.00}, after {A: 120.00, C: 30.00} → A changed
    (+20.00), B removed (-50.00), C added (+30.00); the deltas add up to the change in total pay,
    150.00 → 150.00 + 20.00 - 50.00 + 30.00 = 150.00.
    """
    old = _comparable(before, "before")
    new = _comparable(after, "after")
    rename_old = old.rename_columns([c if c in LINE_KEY else f"{c}_before"
                                     for c in old.column_names])
    rename_new = new.rename_columns([c if c in LINE_KEY else f"{c}_after"
                                     for c in new.column_names])
    joined = rename_old.join(rename_new, keys=list(LINE_KEY), join_type="full outer")
    before_amount = joined.column("amount_before")
    after_amount = joined.column("amount_after")
    added = pc.is_null(before_amount)
    removed = pc.is_null(after_amount)
    amount_changed = pc.fill_null(pc.not_equal(before_amount, after_amount), False)
    different = amount_changed
    if include_trace_changes:
        trace_changed = pc.fill_null(pc.not_equal(joined.column("trace_before"),
                                                  joined.column("trace_after")), False)
        different = pc.or_(different, trace_changed)
    change = pc.if_else(added, "added", pc.if_else(removed, "removed", "changed"))
    keep = pc.or_(pc.or_(added, removed), different)
    zero = pa.scalar(Decimal("0.00"), type=MONEY)
    delta = pc.subtract(pc.fill_null(after_amount, zero), pc.fill_null(before_amount, zero))
    result = pa.table({
        "person_id": joined.column("person_id"),
        "period_start": joined.column("period_start"),
        "line_key": joined.column("line_key"),
        "currency": joined.column("currency"),
        "component": _either(joined, "component"),
        "booking_id": _either(joined, "booking_id"),
        "kind": _either(joined, "kind"),
        "change": change,
        "before_amount": before_amount,
        "after_amount": after_amount,
        "delta": delta.cast(MONEY),
        "before_trace": joined.column("trace_before"),
        "after_trace": joined.column("trace_after"),
    }).filter(keep)
    result = result.sort_by([(name, "ascending") for name in LINE_KEY])
    return result.cast(LINE_DIFF)


def adjustment_lines(locked_lines: pa.Table, new_lines: pa.Table, *,
                     reason: str = "re-run of a closed period", revision: str = "1"
                     ) -> pa.Table:
    """COMP_PAYOUT_ADJUSTMENTS: one delta line per line whose amount differs between the locked
    run and the re-run of a closed period (added, removed or changed; a line whose amount is the
    same is not an adjustment, even if its trace changed).

    `adjustment_key` = `revision` | person | period | line key | currency: stable, so storing the
    same re-run twice is caught by the key, and distinct for each revision.

    Worked example: locked commission on booking #7 = 800.00, re-run with a corrected split
    = 1,000.00 → one `changed` line, amount = 1,000.00 - 800.00 = +200.00, paid in the next open
    period; a line only in the locked run (a booking credited by mistake, 300.00) → `removed`,
    amount -300.00, recovered from the next payouts.
    """
    if not reason.strip():
        raise ValueError("An adjustment needs a reason (why the closed period was re-run).")
    diff = diff_lines(locked_lines, new_lines, include_trace_changes=False)
    keys = pc.binary_join_element_wise(
        pa.array([revision] * diff.num_rows, pa.string()),
        pc.cast(diff.column("person_id"), pa.string()),
        pc.cast(diff.column("period_start"), pa.string()),
        diff.column("line_key"), diff.column("currency"), "|")
    table = pa.table({
        "adjustment_key": keys,
        "person_id": diff.column("person_id"),
        "period_start": diff.column("period_start"),
        "component": diff.column("component"),
        "booking_id": diff.column("booking_id"),
        "kind": diff.column("kind"),
        "change": diff.column("change"),
        "before_amount": diff.column("before_amount"),
        "after_amount": diff.column("after_amount"),
        "amount": diff.column("delta"),
        "currency": diff.column("currency"),
        "reason": pa.array([reason] * diff.num_rows, pa.string()),
    })
    return table.cast(COMP_PAYOUT_ADJUSTMENTS.schema)


def describe_change(row: dict[str, object]) -> str:
    """One diff or adjustment row in plain words, e.g. `Commission on booking #7: 800.00 →
    1000.00 USD (+200.00)`."""
    what = f"{row['component']}" + (f" on booking #{row['booking_id']}"
                                    if row.get("booking_id") is not None else "")
    currency = row["currency"]
    before, after = row["before_amount"], row["after_amount"]
    delta = row.get("delta", row.get("amount"))
    sign = "+" if isinstance(delta, Decimal) and delta > 0 else ""
    if before is None:
        return f"{what}: new line, {after} {currency} ({sign}{delta})"
    if after is None:
        return f"{what}: line removed, was {before} {currency} ({delta})"
    if before == after:
        return f"{what}: {after} {currency}, the same amount reached another way"
    return f"{what}: {before} → {after} {currency} ({sign}{delta})"


__all__ = ["LINE_DIFF", "LINE_KEY", "adjustment_lines", "describe_change", "diff_lines"]
