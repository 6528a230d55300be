"""Attainment inputs, per-rep measures, team and manager roll-ups and stage conversion, worked by
hand on a small organisation, on every backend.

As of Saturday 14 February 2026 (Q1 reference day; January's is 31 January).

    people   1 ann rep     2 bob rep (hired 1 Feb 2026)   3 mia manager   4 vp (no line)
             5 cat rep who left on 1 Dec 2025 (never listed in 2026)
    lines    mia → vp, team 100, from 2020;  ann → mia, team 100, 2020 .. 1 Mar 2026;
             ann → vp, no team, from 1 Mar 2026;  bob → mia, team 100, from 1 Feb 2026
    quotas   ann Q1 3,000.00 from 1 Dec 2025, changed to 2,400.00 from 1 Mar 2026 (not yet
             in force on 14 Feb); ann January 1,000.00; bob Q1 1,000.00 from 1 Feb;
             team 100 Q1 5,000.00
    rates    EUR: Dec 1.05, Jan 1.10, Feb 1.20, Mar 1.25 (USD 1)
    bookings ann 10 Jan 1,000.00 USD; ann 5 Feb 500.00 EUR = 600.00; bob 10 Feb 250.00 USD;
             mia 20 Jan 100.00 USD
    deals    o1 ann 1,000 USD created 2 Jan, won 10 Jan (8 days)
             o2 ann 500 EUR created 20 Dec, won 5 Feb (47 days) = 600.00 at February's rate
             o3 ann 300 USD created 15 Jan, lost 1 Feb
             o4 ann 2,000 USD created 1 Feb, open, closes 20 Mar
             o5 bob 250 USD created 2 Feb, won 10 Feb (8 days)
             o6 bob 800 EUR created 3 Feb, open, closes 15 May = 960.00 at February's rate
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from attain.engine.calculations.performance import (
    HierarchyTooDeepError,
    MissingOpportunityRateError,
    compute_performance,
    coverage_ratio,
    elapsed_days,
    expected_to_date,
    ratio_pct,
)
from attain.engine.schemas import (
    PERF_OPPORTUNITIES,
    PERF_PEOPLE,
    PERF_QUOTA_VERSIONS,
    PERF_REPORTING_LINES,
    PERF_STAGE_CHANGES,
)
from tests.engine.conftest import bookings_table, periods_table, rates_table

AS_OF = date(2026, 2, 14)
M_JAN, M_FEB, M_MAR, Q1, Q2, FY = 1, 2, 3, 11, 12, 21
ANN, BOB, MIA, VP, CAT = 1, 2, 3, 4, 5
TEAM = 100
D = Decimal


def table(logical: Any, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=logical.schema)


def inputs(**overrides: pa.Table) -> dict[str, pa.Table]:
    tables = {
        "periods": periods_table(
            (M_JAN, "month", date(2026, 1, 1), date(2026, 2, 1)),
            (M_FEB, "month", date(2026, 2, 1), date(2026, 3, 1)),
            (M_MAR, "month", date(2026, 3, 1), date(2026, 4, 1)),
            (Q1, "quarter", date(2026, 1, 1), date(2026, 4, 1)),
            (Q2, "quarter", date(2026, 4, 1), date(2026, 7, 1)),
            (FY, "year", date(2026, 1, 1), date(2027, 1, 1)),
        ),
        "exchange_rates": rates_table(
            ("USD", date(2025, 12, 1), "1"), ("USD", date(2026, 1, 1), "1"),
            ("USD", date(2026, 2, 1), "1"), ("USD", date(2026, 3, 1), "1"),
            ("EUR", date(2025, 12, 1), "1.05"), ("EUR", date(2026, 1, 1), "1.10"),
            ("EUR", date(2026, 2, 1), "1.20"), ("EUR", date(2026, 3, 1), "1.25"),
        ),
        "bookings": bookings_table(
            (1, ANN, date(2026, 1, 10), "1000.00", "USD"),
            (2, ANN, date(2026, 2, 5), "500.00", "EUR"),
            (3, BOB, date(2026, 2, 10), "250.00", "USD"),
            (4, MIA, date(2026, 1, 20), "100.00", "USD"),
        ),
        "perf_people": table(PERF_PEOPLE, [
            {"person_id": ANN, "role": "rep", "hired_on": date(2019, 5, 1), "left_on": None},
            {"person_id": BOB, "role": "rep", "hired_on": date(2026, 2, 1), "left_on": None},
            {"person_id": MIA, "role": "manager", "hired_on": None, "left_on": None},
            {"person_id": VP, "role": "manager", "hired_on": None, "left_on": None},
            {"person_id": CAT, "role": "rep", "hired_on": None, "left_on": date(2025, 12, 1)},
        ]),
        "perf_reporting_lines": table(PERF_REPORTING_LINES, [
            {"person_id": MIA, "manager_id": VP, "team_id": TEAM,
             "valid_from": date(2020, 1, 1), "valid_to": None},
            {"person_id": ANN, "manager_id": MIA, "team_id": TEAM,
             "valid_from": date(2020, 1, 1), "valid_to": date(2026, 3, 1)},
            {"person_id": ANN, "manager_id": VP, "team_id": None,
             "valid_from": date(2026, 3, 1), "valid_to": None},
            {"person_id": BOB, "manager_id": MIA, "team_id": TEAM,
             "valid_from": date(2026, 2, 1), "valid_to": None},
        ]),
        "perf_quota_versions": table(PERF_QUOTA_VERSIONS, [
            {"version_id": 1, "holder": "person", "holder_id": ANN, "period_id": Q1,
             "valid_from": date(2025, 12, 1), "amount": D("3000.00")},
            {"version_id": 2, "holder": "person", "holder_id": ANN, "period_id": Q1,
             "valid_from": date(2026, 3, 1), "amount": D("2400.00")},
            {"version_id": 3, "holder": "person", "holder_id": BOB, "period_id": Q1,
             "valid_from": date(2026, 2, 1), "amount": D("1000.00")},
            {"version_id": 4, "holder": "team", "holder_id": TEAM, "period_id": Q1,
             "valid_from": date(2025, 12, 1), "amount": D("5000.00")},
            {"version_id": 5, "holder": "person", "holder_id": ANN, "period_id": M_JAN,
             "valid_from": date(2025, 12, 1), "amount": D("1000.00")},
        ]),
        "perf_opportunities": table(PERF_OPPORTUNITIES, [
            opp(1, ANN, "1000.00", "USD", date(2026, 1, 2), date(2026, 1, 10), "won"),
            opp(2, ANN, "500.00", "EUR", date(2025, 12, 20), date(2026, 2, 5), "won"),
            opp(3, ANN, "300.00", "USD", date(2026, 1, 15), date(2026, 2, 1), "lost"),
            opp(4, ANN, "2000.00", "USD", date(2026, 2, 1), date(2026, 3, 20), "open"),
            opp(5, BOB, "250.00", "USD", date(2026, 2, 2), date(2026, 2, 10), "won"),
            opp(6, BOB, "800.00", "EUR", date(2026, 2, 3), date(2026, 5, 15), "open"),
        ]),
        "perf_stage_changes": table(PERF_STAGE_CHANGES, [
            change(1, 1, DISCOVERY, date(2026, 1, 2)), change(2, 1, PROPOSAL, date(2026, 1, 5)),
            change(3, 1, WON, date(2026, 1, 10)),
            change(4, 3, DISCOVERY, date(2026, 1, 15)), change(5, 3, LOST, date(2026, 2, 1)),
            change(6, 4, DISCOVERY, date(2026, 2, 1)), change(7, 4, PROPOSAL, date(2026, 2, 10)),
            change(8, 5, DISCOVERY, date(2026, 2, 2)), change(9, 5, WON, date(2026, 2, 10)),
        ]),
    }
    tables.update(overrides)
    return tables


DISCOVERY, PROPOSAL, WON, LOST = (10, 1, False, False), (20, 2, False, False), \
    (30, 9, True, False), (40, 10, False, True)


def opp(oid: int, owner: int, amount: str, currency: str, created: date, close: date,
        status: str) -> dict[str, Any]:
    return {"opportunity_id": oid, "person_id": owner, "amount": D(amount), "currency": currency,
            "created_on": created, "close_date": close, "is_closed": status != "open",
            "is_won": status == "won"}


def change(cid: int, oid: int, stage: tuple[int, int, bool, bool], on: date) -> dict[str, Any]:
    stage_id, order, won, lost = stage
    return {"change_id": cid, "opportunity_id": oid, "stage_id": stage_id, "stage_order": order,
            "is_won": won, "is_lost": lost, "changed_on": on}


_COMPUTED: dict[str, dict[str, pa.Table]] = {}


@pytest.fixture
def computed(backend) -> dict[str, pa.Table]:
    """The results of the worked example on `backend`, computed once per backend (a Spark run of
    this calculation takes tens of seconds; the tests below only read its output)."""
    if backend.name not in _COMPUTED:
        _COMPUTED[backend.name] = compute_performance(backend, inputs(), AS_OF)
    return _COMPUTED[backend.name]


def keyed(result: pa.Table, *key: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row.pop(k) for k in key): row for row in result.to_pylist()}


MEASURES = ("bookings", "booking_count", "won_count", "lost_count", "won_amount",
            "cycle_days_sum", "pipeline_created", "pipeline_created_count", "open_pipeline",
            "open_count")


def measures(*values: Any) -> dict[str, Any]:
    return dict(zip(MEASURES, [D(v) if isinstance(v, str) else v for v in values], strict=True))


def test_person_figures_per_period_by_hand(computed):
    result = computed["person_performance"]

    rows = keyed(result, "person_id", "period_id")
    line = {"team_id": TEAM, "manager_id": MIA}
    assert rows == {
        # quota 3,000.00: the 2,400.00 version starts on 1 Mar, after the reference day
        (ANN, Q1): {**line, "quota": D("3000.00"),
                    **measures("1600.00", 2, 2, 1, "1600.00", 55, "3300.00", 3, "2000.00", 1)},
        (ANN, M_JAN): {**line, "quota": D("1000.00"),
                       **measures("1000.00", 1, 1, 0, "1000.00", 8, "1300.00", 2, "0.00", 0)},
        (ANN, M_FEB): {**line, "quota": None,
                       **measures("600.00", 1, 1, 1, "600.00", 47, "2000.00", 1, "0.00", 0)},
        (ANN, M_MAR): {**line, "quota": None,
                       **measures("0.00", 0, 0, 0, "0.00", 0, "0.00", 0, "2000.00", 1)},
        (ANN, Q2): {**line, "quota": None, **measures("0.00", 0, 0, 0, "0.00", 0, "0.00", 0,
                                                      "0.00", 0)},
        (ANN, FY): {**line, "quota": None,
                    **measures("1600.00", 2, 2, 1, "1600.00", 55, "3300.00", 3, "2000.00", 1)},
        # bob, hired 1 Feb, is not listed in January; o6 800 EUR x 1.20 = 960.00
        (BOB, Q1): {**line, "quota": D("1000.00"),
                    **measures("250.00", 1, 1, 0, "250.00", 8, "1210.00", 2, "0.00", 0)},
        (BOB, M_FEB): {**line, "quota": None,
                       **measures("250.00", 1, 1, 0, "250.00", 8, "1210.00", 2, "0.00", 0)},
        (BOB, M_MAR): {**line, "quota": None, **measures("0.00", 0, 0, 0, "0.00", 0, "0.00", 0,
                                                         "0.00", 0)},
        (BOB, Q2): {**line, "quota": None,
                    **measures("0.00", 0, 0, 0, "0.00", 0, "0.00", 0, "960.00", 1)},
        (BOB, FY): {**line, "quota": None,
                    **measures("250.00", 1, 1, 0, "250.00", 8, "1210.00", 2, "960.00", 1)},
        # the manager is listed only where she booked
        (MIA, M_JAN): {"team_id": TEAM, "manager_id": VP, "quota": None,
                       **measures("100.00", 1, 0, 0, "0.00", 0, "0.00", 0, "0.00", 0)},
        (MIA, Q1): {"team_id": TEAM, "manager_id": VP, "quota": None,
                    **measures("100.00", 1, 0, 0, "0.00", 0, "0.00", 0, "0.00", 0)},
        (MIA, FY): {"team_id": TEAM, "manager_id": VP, "quota": None,
                    **measures("100.00", 1, 0, 0, "0.00", 0, "0.00", 0, "0.00", 0)},
    }


def test_team_figures_sum_the_members_on_the_reference_day(computed):
    result = computed["team_performance"]

    rows = keyed(result, "team_id", "period_id")
    assert rows[(TEAM, Q1)] == {
        "quota": D("5000.00"), "quota_source": "team", "members": 3,  # ann, bob, mia
        # 1,600 + 250 + 100; won 3 of 4 closed; cycles 8 + 47 + 8; created 3,300 + 1,210
        **measures("1950.00", 4, 3, 1, "1850.00", 63, "4510.00", 5, "2000.00", 1),
    }
    # no team quota for January: the members' quotas (ann's 1,000.00) stand in
    assert rows[(TEAM, M_JAN)] == {
        "quota": D("1000.00"), "quota_source": "members", "members": 2,
        **measures("1100.00", 2, 1, 0, "1000.00", 8, "1300.00", 2, "0.00", 0),
    }
    assert rows[(TEAM, M_FEB)]["quota_source"] == "none"
    assert rows[(TEAM, M_FEB)]["quota"] is None
    assert rows[(TEAM, M_FEB)]["members"] == 2
    assert rows[(TEAM, Q2)]["open_pipeline"] == D("960.00")
    assert set(rows) == {(TEAM, p) for p in (M_JAN, M_FEB, M_MAR, Q1, Q2, FY)}


def test_manager_rollups_follow_the_effective_dated_hierarchy(computed):
    result = computed["manager_performance"]

    rows = keyed(result, "manager_id", "period_id")
    assert rows[(MIA, Q1)] == {"team_id": TEAM, "quota": D("5000.00"), "quota_source": "team",
                               "bookings": D("1950.00"), "booking_count": 4,
                               "open_pipeline": D("2000.00"), "open_count": 1}
    # January: no team quota, so the subtree's personal quotas on 31 Jan (ann 1,000.00)
    assert rows[(MIA, M_JAN)] == {"team_id": TEAM, "quota": D("1000.00"),
                                  "quota_source": "subtree", "bookings": D("1100.00"),
                                  "booking_count": 2, "open_pipeline": D("0.00"),
                                  "open_count": 0}
    assert rows[(MIA, FY)]["open_pipeline"] == D("2960.00")  # 2,000.00 + 960.00
    # the VP has no line (no team): subtree quotas on 14 Feb are ann 3,000 + bob 1,000
    assert rows[(VP, Q1)] == {"team_id": None, "quota": D("4000.00"), "quota_source": "subtree",
                              "bookings": D("1950.00"), "booking_count": 4,
                              "open_pipeline": D("2000.00"), "open_count": 1}
    assert set(rows) == {(m, p) for m in (MIA, VP) for p in (M_JAN, M_FEB, M_MAR, Q1, Q2, FY)}


def test_a_booking_after_a_move_rolls_up_to_the_new_manager_only(backend):
    moved = inputs(bookings=bookings_table((1, ANN, date(2026, 3, 5), "70.00", "USD")))

    result = compute_performance(backend, moved, date(2026, 3, 20))["manager_performance"]

    rows = keyed(result, "manager_id", "period_id")
    assert rows[(VP, M_MAR)]["bookings"] == D("70.00")
    assert rows.get((MIA, M_MAR), {}).get("bookings", D("0.00")) == D("0.00")


def test_stage_conversion_counts_later_higher_not_lost_stages(computed):
    result = computed["stage_conversion"]

    rows = {(r["person_id"], r["period_id"], r["stage_id"]): (r["entered"], r["advanced"])
            for r in result.to_pylist()}
    assert rows == {
        # o1, o3, o4 entered Discovery; o1 and o4 moved on, o3 was lost
        (ANN, Q1, 10): (3, 2), (ANN, FY, 10): (3, 2),
        # o1 and o4 entered Proposal; o1 was won, o4 is still there (right-censored)
        (ANN, Q1, 20): (2, 1), (ANN, FY, 20): (2, 1),
        (BOB, Q1, 10): (1, 1), (BOB, FY, 10): (1, 1),
    }


def test_an_opportunity_without_a_rate_fails_the_run(backend):
    no_march = inputs(exchange_rates=rates_table(
        ("USD", date(2025, 12, 1), "1"), ("USD", date(2026, 1, 1), "1"),
        ("USD", date(2026, 2, 1), "1"), ("EUR", date(2025, 12, 1), "1.05"),
        ("EUR", date(2026, 1, 1), "1.10"), ("EUR", date(2026, 2, 1), "1.20")))

    # as of March, open deals convert at March's rate: o6 (EUR) and o4 (USD) have none
    with pytest.raises(MissingOpportunityRateError, match=r"EUR in 2026-03 \(1 opportunity\)"):
        compute_performance(backend, no_march, date(2026, 3, 2))


def test_a_reporting_loop_is_refused(backend):
    loop = inputs(perf_reporting_lines=table(PERF_REPORTING_LINES, [
        {"person_id": ANN, "manager_id": BOB, "team_id": None, "valid_from": date(2026, 1, 1),
         "valid_to": None},
        {"person_id": BOB, "manager_id": ANN, "team_id": None, "valid_from": date(2026, 1, 1),
         "valid_to": None},
    ]))

    with pytest.raises(HierarchyTooDeepError, match="loops back"):
        compute_performance(backend, loop, AS_OF)


def test_pacing_and_ratios_by_hand():
    # Q1 2026 has 90 days; 14 Feb is day 45 → 3,000.00 x 45 / 90 = 1,500.00 expected
    assert elapsed_days(date(2026, 1, 1), date(2026, 4, 1), AS_OF) == 45
    assert expected_to_date(D("3000.00"), date(2026, 1, 1), date(2026, 4, 1), AS_OF) == \
        D("1500.00")
    assert expected_to_date(D("3000.00"), date(2026, 4, 1), date(2026, 7, 1), AS_OF) == \
        D("0.00")
    assert expected_to_date(D("1000.00"), date(2026, 1, 1), date(2026, 2, 1), AS_OF) == \
        D("1000.00")
    # 100.00 x 1 / 3 = 33.333… → 33.33
    assert expected_to_date(D("100.00"), date(2026, 1, 1), date(2026, 1, 4),
                            date(2026, 1, 1)) == D("33.33")
    assert ratio_pct(D("1600.00"), D("3000.00")) == D("53.3")  # 53.333…
    assert ratio_pct(2, 3) == D("66.7")
    assert ratio_pct(D("5"), D("0")) is None
    # 2,000.00 open ÷ (3,000.00 - 1,600.00) = 1.4285… → 1.43
    assert coverage_ratio(D("2000.00"), D("3000.00"), D("1600.00")) == D("1.43")
    assert coverage_ratio(D("2000.00"), D("1000.00"), D("1600.00")) is None
