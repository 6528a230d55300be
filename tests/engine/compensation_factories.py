"""Row factories for the compensation engine tests (tables in the logical schemas)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from attain.engine.compensation.schemas import (
    COMP_ASSIGNMENTS,
    COMP_BOOKINGS,
    COMP_MANUAL_LINES,
    COMP_PRIOR_EARNINGS,
    COMP_SPLITS,
)
from attain.engine.schemas import EXCHANGE_RATES, PERF_QUOTA_VERSIONS, PERF_REPORTING_LINES, PERIODS

Q1 = (date(2027, 1, 1), date(2027, 4, 1))
Q2 = (date(2027, 4, 1), date(2027, 7, 1))
YEAR = (date(2027, 1, 1), date(2028, 1, 1))


def booking(booking_id: int, owner_id: int | None, amount: str, booked_on: date,
            **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "booking_id": booking_id, "opportunity_id": booking_id, "owner_id": owner_id,
        "product_id": None, "product_family": "Core", "deal_type": "new", "segment": "SMB",
        "is_partner": False, "net_amount": None, "contract_years": 1, "booked_on": booked_on,
        "invoiced_on": None, "paid_on": None, "cancelled_on": None, "amount": Decimal(amount),
        "currency": "USD", "quantity": 1,
    }
    row.update(extra)
    if isinstance(row["net_amount"], str):
        row["net_amount"] = Decimal(row["net_amount"])
    return row


def assignment(assignment_id: int, person_id: int, plan_version_id: int = 1,
               target_incentive: str = "40000", valid_from: date = date(2027, 1, 1),
               valid_to: date | None = None, currency: str = "USD",
               team_id: int | None = None) -> dict[str, Any]:
    return {"assignment_id": assignment_id, "person_id": person_id,
            "plan_version_id": plan_version_id, "valid_from": valid_from, "valid_to": valid_to,
            "target_incentive": Decimal(target_incentive), "currency": currency,
            "team_id": team_id}


def quota(version_id: int, holder_id: int, period_id: int, amount: str,
          holder: str = "person") -> dict[str, Any]:
    return {"version_id": version_id, "holder": holder, "holder_id": holder_id,
            "period_id": period_id, "valid_from": date(2026, 12, 1), "amount": Decimal(amount)}


PERIOD_ROWS = [
    {"period_id": 1, "kind": "quarter", "start": Q1[0], "end": Q1[1]},
    {"period_id": 2, "kind": "quarter", "start": Q2[0], "end": Q2[1]},
    {"period_id": 10, "kind": "year", "start": YEAR[0], "end": YEAR[1]},
]


def usd_rates(*extra: tuple[str, date, str]) -> list[dict[str, Any]]:
    rows = [{"currency": "USD", "month_start": date(2027, month, 1), "rate": Decimal(1)}
            for month in range(1, 13)]
    rows += [{"currency": c, "month_start": m, "rate": Decimal(r)} for c, m, r in extra]
    return rows


def tables(bookings: list[dict[str, Any]], assignments: list[dict[str, Any]],
           quotas: list[dict[str, Any]] = (), splits: list[dict[str, Any]] = (),  # type: ignore[assignment]
           lines: list[dict[str, Any]] = (), manual: list[dict[str, Any]] = (),  # type: ignore[assignment]
           rates: list[dict[str, Any]] | None = None,
           prior: list[dict[str, Any]] = ()) -> dict[str, pa.Table]:  # type: ignore[assignment]
    return {
        "comp_bookings": pa.Table.from_pylist(bookings, schema=COMP_BOOKINGS.schema),
        "comp_assignments": pa.Table.from_pylist(assignments, schema=COMP_ASSIGNMENTS.schema),
        "perf_quota_versions": pa.Table.from_pylist(list(quotas),
                                                    schema=PERF_QUOTA_VERSIONS.schema),
        "comp_splits": pa.Table.from_pylist(
            [{**s, "percent": Decimal(s["percent"])} for s in splits],
            schema=COMP_SPLITS.schema),
        "perf_reporting_lines": pa.Table.from_pylist(list(lines),
                                                     schema=PERF_REPORTING_LINES.schema),
        "comp_manual_lines": pa.Table.from_pylist(
            [{**m, "amount": Decimal(m["amount"])} for m in manual],
            schema=COMP_MANUAL_LINES.schema),
        "comp_prior_earnings": pa.Table.from_pylist(
            [{**p, "amount": Decimal(p["amount"])} for p in prior],
            schema=COMP_PRIOR_EARNINGS.schema),
        "exchange_rates": pa.Table.from_pylist(rates if rates is not None else usd_rates(),
                                               schema=EXCHANGE_RATES.schema),
        "periods": pa.Table.from_pylist(PERIOD_ROWS, schema=PERIODS.schema),
    }


def lines_of(result_lines: pa.Table) -> list[tuple[Any, ...]]:
    """(person, component, line_kind, booking_id, amount) per earning line, in output order."""
    return [(r["person_id"], r["component"], r["line_kind"], r["booking_id"], r["amount"])
            for r in result_lines.to_pylist()]
